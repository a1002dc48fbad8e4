"""test_imap_core.py - the core of the IMAP role (issue 9): greeting,
capabilities by state, STARTTLS, LOGIN / AUTHENTICATE (SASL-IR, cancel),
LOGINDISABLED off loopback, SELECT/EXAMINE responses byte for byte,
CLOSE/UNSELECT/EXPUNGE/UID EXPUNGE, IDLE woken by a delivery, updates
between two sessions, malformed input with the session surviving, a client
that never reads, implicit TLS, workers, timeouts, shutdown.

Most tests share one instance (module fixture imap_instance); those that
need other settings start their own with the harness's `instance`.
"""
import base64
import hashlib
import hmac
import os
import re
import signal
import socket
import threading
import time

import pytest

from harness import SAN, TIMEOUT, free_port
from imap_helpers import (PASSWORD, USERS, Raw, add_user, deliver, fresh_user, imap,  # noqa: F401
                          imap_instance, imaps, login, message, role_worker_pids, rss_kb,
                          set_maildir_flags, start_imap)

CAPS = ("IMAP4rev1 SASL-IR LITERAL+ ID ENABLE IDLE NAMESPACE UNSELECT CHILDREN "
        "SPECIAL-USE CREATE-SPECIAL-USE LIST-EXTENDED UIDPLUS MOVE STATUS=SIZE")
PRE_LOGIN = CAPS + " STARTTLS AUTH=PLAIN AUTH=LOGIN AUTH=SCRAM-SHA-256"


# ---- greeting, capabilities, login --------------------------------------

def test_greeting_and_capability(imap_instance):
    r = Raw(imap_instance)
    assert r.greeting == "* OK [CAPABILITY %s] Postern ready." % PRE_LOGIN
    assert r.cmd("a1", "CAPABILITY") == (["* CAPABILITY " + PRE_LOGIN], "a1 OK Capability completed.")
    assert r.cmd("a2", "NOOP") == ([], "a2 OK NOOP completed.")
    assert r.cmd("a3", "ID NIL") == (['* ID ("name" "Postern")'], "a3 OK ID completed.")
    assert r.cmd("a4", 'ID ("name" "Thunderbird" "version" "115.0")') == \
        (['* ID ("name" "Postern")'], "a4 OK ID completed.")
    assert r.cmd("a5", "LOGOUT") == (["* BYE Logging out"], "a5 OK Logout completed.")
    assert r.closed()


def test_capability_after_starttls_and_login(imap_instance):
    r = Raw(imap_instance)
    r.starttls()
    # RFC 3501 6.2.1: no STARTTLS any more
    assert r.cmd("c", "CAPABILITY")[0] == ["* CAPABILITY " + CAPS + " AUTH=PLAIN AUTH=LOGIN AUTH=SCRAM-SHA-256"]
    t = r.login()
    assert t == "L1 OK [CAPABILITY %s] Logged in" % CAPS
    assert r.cmd("d", "CAPABILITY")[0] == ["* CAPABILITY " + CAPS]
    _, t = r.cmd("e", "STARTTLS")
    assert t == "e BAD Command not valid in this state: already logged in"
    imap_instance.wait_log("imap-login: Login: user=<alice@example.test>, method=PLAIN, rip=127.0.0.1, lip=127.0.0.1, TLS")


def test_starttls_discards_pipelined_plaintext(imap_instance):
    """RFC 3501 6.2.1 / the STARTTLS injection attack: a command sent in
    the same packet after STARTTLS must not run inside the TLS session."""
    r = Raw(imap_instance)
    r.send("t STARTTLS\r\nx CAPABILITY\r\n")
    assert r.line() == "t OK Begin TLS negotiation now."
    from imap_helpers import client_context
    r.sock = client_context().wrap_socket(r.sock)
    assert r.cmd("y", "NOOP") == ([], "y OK NOOP completed.")
    r.close()


def test_literal_plus_login(imap_instance):
    r = Raw(imap_instance)
    r.send("a LOGIN {%d+}\r\n%s {%d+}\r\n%s\r\n" % (len(USERS[0]), USERS[0], len(PASSWORD), PASSWORD))
    assert r.until_tagged("a")[-1].startswith("a OK [CAPABILITY")
    r.close()


def test_login_good_and_bad(imap_instance):
    c = imap(imap_instance)
    typ, data = c.login(USERS[0], PASSWORD)
    assert typ == "OK"
    assert data[0].decode() == "[CAPABILITY %s] Logged in" % CAPS
    c.logout()
    r = Raw(imap_instance)
    _, t = r.cmd("b1", 'LOGIN alice@example.test "wrong password"')
    assert t == "b1 NO [AUTHENTICATIONFAILED] Authentication failed."
    _, t = r.cmd("b2", "LOGIN nosuchuser@example.test x")
    assert t == "b2 NO [AUTHENTICATIONFAILED] Authentication failed."
    _, t = r.cmd("b3", "LOGIN onlyone")
    assert t == "b3 BAD Usage: LOGIN user password"
    # the session survives failures; a literal password works
    r.send("b4 LOGIN alice@example.test {%d}\r\n" % len(PASSWORD))
    assert r.line() == "+ OK"
    r.send(PASSWORD + "\r\n")
    assert r.until_tagged("b4")[-1].startswith("b4 OK [CAPABILITY")
    r.send('b5 LOGOUT\r\n')
    r.until_tagged("b5")
    r.close()
    imap_instance.wait_log("Disconnected: Logged out in=")
    # a session that never logs in is logged with its failures
    r = Raw(imap_instance)
    r.cmd("c1", 'LOGIN bob@example.test "wrong password"')
    r.cmd("c2", 'LOGIN bob@example.test "wrong again"')
    r.close()
    imap_instance.wait_log("imap-login: Disconnected: Connection closed (auth failed, 2 attempts in ")
    imap_instance.wait_log("user=<bob@example.test>, method=PLAIN, rip=127.0.0.1, lip=127.0.0.1, session=<")


def test_authenticate_plain(imap_instance):
    ir = base64.b64encode(b"\0alice@example.test\0" + PASSWORD.encode()).decode()
    # SASL-IR (RFC 4959)
    r = Raw(imap_instance)
    _, t = r.cmd("a", "AUTHENTICATE PLAIN " + ir)
    assert t == "a OK [CAPABILITY %s] Logged in" % CAPS
    r.close()
    # without: an empty challenge first
    r = Raw(imap_instance)
    r.send("b AUTHENTICATE PLAIN\r\n")
    assert r.line() == "+ "
    r.send(ir + "\r\n")
    assert r.until_tagged("b")[-1].startswith("b OK [CAPABILITY")
    r.close()
    # cancel with '*'
    r = Raw(imap_instance)
    r.send("c AUTHENTICATE PLAIN\r\n")
    assert r.line() == "+ "
    r.send("*\r\n")
    assert r.until_tagged("c") == ["c BAD Authentication aborted by client."]
    # garbage instead of base64
    r.send("d AUTHENTICATE PLAIN\r\n")
    assert r.line() == "+ "
    r.send("!!!\r\n")
    assert r.until_tagged("d") == ["d BAD Invalid base64 data in the response."]
    # wrong password through SASL
    bad = base64.b64encode(b"\0alice@example.test\0nope").decode()
    assert r.cmd("e", "AUTHENTICATE PLAIN " + bad)[1] == "e NO [AUTHENTICATIONFAILED] Authentication failed."
    assert r.cmd("f", "AUTHENTICATE CRAM-MD5")[1] == "f NO [CANNOT] Unsupported authentication mechanism."
    assert r.cmd("g", "NOOP")[1] == "g OK NOOP completed."
    r.close()


def test_authenticate_login_mechanism_and_imaplib(imap_instance):
    r = Raw(imap_instance)
    r.send("a AUTHENTICATE LOGIN\r\n")
    assert r.line().startswith("+ ")
    r.send(base64.b64encode(USERS[0].encode()).decode() + "\r\n")
    assert r.line().startswith("+ ")
    r.send(base64.b64encode(PASSWORD.encode()).decode() + "\r\n")
    assert r.until_tagged("a")[-1].startswith("a OK [CAPABILITY")
    r.close()
    c = imap(imap_instance)
    typ, _ = c.authenticate("PLAIN", lambda _: b"\0" + USERS[1].encode() + b"\0" + PASSWORD.encode())
    assert typ == "OK"
    c.logout()


def b64(data):
    return base64.b64encode(data if isinstance(data, bytes) else data.encode()).decode()


def test_authenticate_scram_sha256(imap_instance):
    """SCRAM through IMAP: the server's final message comes as one more
    continuation, answered by an empty line (RFC 4422 5)."""
    r = Raw(imap_instance)
    cnonce = b64(os.urandom(18))
    first_bare = "n=%s,r=%s" % (USERS[0], cnonce)
    r.send("s AUTHENTICATE SCRAM-SHA-256 %s\r\n" % b64("n,," + first_bare))
    line = r.line()
    assert line.startswith("+ "), line
    server_first = base64.b64decode(line[2:]).decode()
    attrs = dict(kv.split("=", 1) for kv in server_first.split(","))
    assert attrs["r"].startswith(cnonce)
    salted = hashlib.pbkdf2_hmac("sha256", PASSWORD.encode(), base64.b64decode(attrs["s"]),
                                 int(attrs["i"]))
    client_key = hmac.new(salted, b"Client Key", "sha256").digest()
    stored_key = hashlib.sha256(client_key).digest()
    without_proof = "c=biws,r=" + attrs["r"]
    auth_msg = ",".join([first_bare, server_first, without_proof]).encode()
    sig = hmac.new(stored_key, auth_msg, "sha256").digest()
    proof = bytes(a ^ b for a, b in zip(client_key, sig))
    r.send(b64(without_proof + ",p=" + b64(proof)) + "\r\n")
    line = r.line()
    assert line.startswith("+ "), line
    server_key = hmac.new(salted, b"Server Key", "sha256").digest()
    assert base64.b64decode(line[2:]).decode() == \
        "v=" + b64(hmac.new(server_key, auth_msg, "sha256").digest())
    r.send("\r\n")
    assert r.until_tagged("s") == ["s OK [CAPABILITY %s] Logged in" % CAPS]
    r.close()


def test_quota_alert_at_login(imap_instance):
    inst = imap_instance
    user = "quota%d@example.test" % os.getpid()
    r = inst.run("user", "add", user, "--password-stdin", "--quota", "4k", input=PASSWORD + "\n")
    assert r.returncode == 0, r.stderr
    deliver(inst, user, message(body="x" * 3500 + "\r\n"))
    r = Raw(inst)
    untagged, t = r.cmd("a", 'LOGIN %s "%s"' % (user, PASSWORD))
    assert t.startswith("a OK [CAPABILITY")
    assert len(untagged) == 1 and re.match(r"\* OK \[ALERT\] Your mailbox is \d+% full; delete or archive some mail\.$",
                                           untagged[0]), untagged
    r.close()
    # below the mark: nothing
    r = Raw(inst)
    assert r.cmd("b", 'LOGIN %s "%s"' % (USERS[1], PASSWORD))[0] == []
    r.close()


def test_implicit_tls(imap_instance):
    c = imaps(imap_instance)
    assert "STARTTLS" not in c.capabilities
    assert "AUTH=PLAIN" in c.capabilities
    typ, _ = c.login(USERS[0], PASSWORD)
    assert typ == "OK"
    typ, data = c.select("INBOX")
    assert typ == "OK"
    c.logout()


def test_enable_and_id(imap_instance):
    r = Raw(imap_instance)
    assert r.cmd("a", "ENABLE CONDSTORE")[1] == "a BAD Command not valid in this state: log in first"
    r.login()
    assert r.cmd("b", "ENABLE CONDSTORE QRESYNC") == (["* ENABLED"], "b OK ENABLE completed.")
    assert r.cmd("c", "ENABLE")[1] == "c BAD Usage: ENABLE capability ..."
    assert r.cmd("d", 'ID ("name")')[1] == "d BAD ID list must hold at most 30 field/value pairs"
    r.close()


# ---- SELECT / EXAMINE / CLOSE / UNSELECT / EXPUNGE -----------------------

def select_lines(r, tag, cmd):
    untagged, t = r.cmd(tag, cmd)
    text = "\n".join(untagged)
    text = re.sub(r"UIDVALIDITY \d+", "UIDVALIDITY V", text)
    return text.split("\n"), t


def test_select_examine_exact(imap_instance):
    user = fresh_user(imap_instance)
    for i in range(3):
        deliver(imap_instance, user, message("m%d" % i))
    r = Raw(imap_instance)
    r.login(user)
    lines, t = select_lines(r, "s1", "SELECT INBOX")
    assert lines == [
        "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)",
        "* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft \\*)] Flags permitted.",
        "* 3 EXISTS",
        "* 3 RECENT",
        "* OK [UNSEEN 1] First unseen.",
        "* OK [UIDVALIDITY V] UIDs valid",
        "* OK [UIDNEXT 4] Predicted next UID",
        "* OK [HIGHESTMODSEQ %s] Highest" % re.search(r"HIGHESTMODSEQ (\d+)", "\n".join(lines)).group(1),
    ], lines
    assert t == "s1 OK [READ-WRITE] Select completed."
    # a second session: \Recent went to the first one
    r2 = Raw(imap_instance)
    r2.login(user)
    lines, t = select_lines(r2, "e1", "EXAMINE inbox")
    assert lines[0] == "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)"
    assert lines[1] == "* OK [PERMANENTFLAGS ()] Read-only mailbox."
    assert lines[2:4] == ["* 3 EXISTS", "* 0 RECENT"]
    assert t == "e1 OK [READ-ONLY] Examine completed."
    assert r2.cmd("e2", "EXPUNGE")[1] == "e2 NO [READ-ONLY] Mailbox is read-only."
    # a failed SELECT leaves the session unselected
    assert r2.cmd("e3", "SELECT nosuchbox")[1].startswith("e3 NO [NONEXISTENT] ")
    assert r2.cmd("e4", "CLOSE")[1] == "e4 BAD Command not valid in this state: no mailbox selected"
    assert r2.cmd("e5", "SELECT")[1] == "e5 BAD Usage: SELECT mailbox"
    r.close()
    r2.close()


def test_select_with_imaplib(imap_instance):
    user = fresh_user(imap_instance)
    deliver(imap_instance, user, message())
    c = login(imap_instance, user)
    typ, data = c.select("INBOX")
    assert (typ, data) == ("OK", [b"1"])
    assert c.untagged_responses.get("UIDNEXT") == [b"2"]
    typ, data = c.select("INBOX", readonly=True)
    assert typ == "OK"
    assert c.untagged_responses.get("READ-ONLY") == [b""]
    c.logout()


def test_expunge_close_unselect(imap_instance):
    inst = imap_instance
    user = fresh_user(inst)
    for i in range(5):
        deliver(inst, user, message("m%d" % i))
    r = Raw(inst)
    r.login(user)
    r.cmd("s", "SELECT INBOX")
    # \Deleted on UIDs 2 and 4, set by "another MUA"
    set_maildir_flags(inst, user, 2, "T")
    set_maildir_flags(inst, user, 4, "T")
    untagged, t = r.cmd("n", "NOOP")
    assert sorted(untagged) == ["* 2 FETCH (UID 2 FLAGS (\\Deleted \\Recent))",
                                "* 4 FETCH (UID 4 FLAGS (\\Deleted \\Recent))"]
    # EXPUNGE: from the highest sequence number down
    assert r.cmd("x", "EXPUNGE") == (["* 4 EXPUNGE", "* 2 EXPUNGE"], "x OK Expunge completed.")
    # UID EXPUNGE only removes the named \Deleted messages (RFC 4315)
    set_maildir_flags(inst, user, 1, "T")
    set_maildir_flags(inst, user, 5, "T")
    r.cmd("n2", "NOOP")
    assert r.cmd("u", "UID EXPUNGE 5") == (["* 3 EXPUNGE"], "u OK Expunge completed.")
    assert r.cmd("u2", "UID EXPUNGE 1:*")[0] == ["* 1 EXPUNGE"]
    assert r.cmd("u3", "UID EXPUNGE x")[1] == "u3 BAD Invalid sequence set"
    # UNSELECT does not expunge, CLOSE does (silently)
    set_maildir_flags(inst, user, 3, "T")
    assert r.cmd("un", "UNSELECT") == ([], "un OK Unselect completed.")
    untagged, _ = r.cmd("s2", "SELECT INBOX")
    assert "* 1 EXISTS" in untagged
    assert r.cmd("cl", "CLOSE") == ([], "cl OK Close completed.")
    untagged, _ = r.cmd("s3", "SELECT INBOX")
    assert "* 0 EXISTS" in untagged
    assert r.cmd("ck", "CHECK") == ([], "ck OK Check completed.")
    r.close()


def test_two_sessions_see_each_other(imap_instance):
    inst = imap_instance
    user = fresh_user(inst)
    for i in range(3):
        deliver(inst, user, message("m%d" % i))
    a = Raw(inst)
    a.login(user)
    a.cmd("s", "SELECT INBOX")
    b = Raw(inst)
    b.login(user)
    b.cmd("s", "SELECT INBOX")
    set_maildir_flags(inst, user, 2, "ST")
    a.cmd("n", "NOOP")
    assert a.cmd("x", "EXPUNGE") == (["* 2 EXPUNGE"], "x OK Expunge completed.")
    # the other session learns it on its next command
    assert b.cmd("n", "NOOP") == (["* 2 EXPUNGE"], "n OK NOOP completed.")
    # new mail shows as EXISTS (+ RECENT) in both
    deliver(inst, user, message("new"))
    assert b.cmd("n2", "NOOP")[0] == ["* 3 EXISTS", "* 1 RECENT"]
    untagged = a.cmd("n2", "NOOP")[0]
    assert untagged[0] == "* 3 EXISTS"
    a.close()
    b.close()


def test_idle_wakes_on_delivery(imap_instance):
    inst = imap_instance
    user = fresh_user(inst)
    deliver(inst, user, message())
    r = Raw(inst)
    r.login(user)
    r.cmd("s", "SELECT INBOX")
    r.send("i IDLE\r\n")
    assert r.line() == "+ idling"
    t0 = time.time()
    deliver(inst, user, message("wake up"))
    delivered = time.time()
    assert r.line() == "* 2 EXISTS"
    assert time.time() - delivered < 1.0, "IDLE took %.2fs" % (time.time() - delivered)
    assert r.line() == "* 2 RECENT"
    assert time.time() - t0 < TIMEOUT
    r.send("DONE\r\n")
    assert r.until_tagged("i") == ["i OK Idle completed."]
    # anything but DONE ends IDLE with BAD
    r.send("j IDLE\r\n")
    assert r.line() == "+ idling"
    r.send("NOOP\r\n")
    assert r.until_tagged("j") == ["j BAD Expected DONE."]
    assert r.cmd("k", "NOOP")[1] == "k OK NOOP completed."
    r.close()


def test_idle_with_imaplib_style_flow_and_expunge(imap_instance):
    inst = imap_instance
    user = fresh_user(inst)
    for i in range(2):
        deliver(inst, user, message())
    r = Raw(inst)
    r.login(user)
    r.cmd("s", "SELECT INBOX")
    other = Raw(inst)
    other.login(user)
    other.cmd("s", "SELECT INBOX")
    r.send("i IDLE\r\n")
    assert r.line() == "+ idling"
    set_maildir_flags(inst, user, 1, "T")
    other.cmd("n", "NOOP")
    other.cmd("x", "EXPUNGE")
    # the idle session is told of the flag change or directly the expunge
    seen = []
    deadline = time.time() + 5
    while "* 1 EXPUNGE" not in seen and time.time() < deadline:
        seen.append(r.line())
    assert "* 1 EXPUNGE" in seen, seen
    r.send("DONE\r\n")
    r.until_tagged("i")
    r.close()
    other.close()


# ---- bad input -----------------------------------------------------------

def test_bad_input_session_survives(imap_instance):
    r = Raw(imap_instance)
    assert r.cmd("a", "FROBNICATE")[1] == "a BAD Unknown command"
    r.send("+bad NOOP\r\n")
    assert r.line() == "* BAD Invalid tag"
    r.send("a*b NOOP\r\n")
    assert r.line() == "* BAD Invalid tag"
    assert r.cmd("b", "SELECT INBOX")[1] == "b BAD Command not valid in this state: log in first"
    assert r.cmd("c", "UID FETCH 1 FLAGS")[1] in ("c BAD Command not valid in this state: log in first",
                                                  "c BAD Unknown command")
    assert r.cmd("d", 'ID ("name" "x"')[1] == "d BAD [CLIENTBUG] Missing ')'"
    assert r.cmd("e", 'ID "name" "x")')[1] == "e BAD [CLIENTBUG] Unexpected ')'"
    deep = "(" * 10000 + ")" * 10000
    assert r.cmd("f", "ID " + deep)[1] == "f BAD [CLIENTBUG] Too deep nesting"
    # a synchronizing literal that is too big: NO, no continuation
    r.send("g LOGIN {300000}\r\n")
    assert r.line() == "g NO [TOOBIG] Literal too big (at most 262144 bytes per command here)"
    # LITERAL+ too big: still read and thrown away, then the answer
    r.send("h LOGIN {300000+}\r\n" + "x" * 300000 + " y\r\n")
    assert r.line() == "h NO [TOOBIG] Literal too big (at most 262144 bytes per command here)"
    # a line longer than imap_max_line_length
    r.send("i NOOP " + "x" * 70000 + "\r\n")
    assert r.line() == "* BAD [TOOBIG] Command line too long"
    assert r.cmd("j", "NOOP") == ([], "j OK NOOP completed.")
    assert r.cmd("k", "AUTHENTICATE")[1] == "k BAD Usage: AUTHENTICATE mechanism [initial-response]"
    assert r.cmd("l", 'LOGIN "a\\qb" x')[1] == \
        'l BAD Invalid escape in a quoted string (only \\\\ and \\" are allowed)'
    r.send("\r\n")   # an empty line is ignored
    assert r.cmd("m", "NOOP") == ([], "m OK NOOP completed.")
    r.login()
    assert r.cmd("n", "CLOSE")[1] == "n BAD Command not valid in this state: no mailbox selected"
    assert r.cmd("o", "LOGIN a b")[1] == "o BAD Command not valid in this state: already logged in"
    r.cmd("s", "SELECT INBOX")
    assert r.cmd("p", "UID EXPUNGE 0")[1] == "p BAD Invalid sequence set"
    assert r.cmd("q", "NOOP extra")[1] == "q BAD NOOP takes no arguments"
    r.close()


def test_client_that_never_reads_is_cut_off(imap_instance):
    inst = imap_instance
    workers = role_worker_pids(inst)
    assert len(workers) == 2
    before = {p: rss_kb(p) for p in workers}
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.settimeout(TIMEOUT)
    s.connect(("127.0.0.1", inst.ports["imap"]))
    chunk = b"a CAPABILITY\r\n" * 2000
    sent = 0
    closed = False
    deadline = time.time() + TIMEOUT
    try:
        while sent < 20 * 1024 * 1024 and time.time() < deadline:
            s.sendall(chunk)
            sent += len(chunk)
    except (ConnectionResetError, BrokenPipeError, socket.timeout):
        closed = True
    if not closed:
        # the server may have closed without our send noticing yet
        s.settimeout(2)
        try:
            s.sendall(chunk)
            s.sendall(chunk)
        except (ConnectionResetError, BrokenPipeError, socket.timeout):
            closed = True
    s.close()
    assert closed, "sent %d bytes without being cut off" % sent
    inst.wait_log("Client does not read its output (output limit reached)")
    after = {p: rss_kb(p) for p in workers if os.path.exists("/proc/%d" % p)}
    # the output limit is 8 MiB; ASan keeps freed memory in quarantine
    limit = (256 if SAN else 40) * 1024
    for p, kb in after.items():
        assert kb - before[p] < limit, "worker %d grew from %d to %d kB" % (p, before[p], kb)
    # and the role still serves
    c = login(inst)
    c.logout()


# ---- workers -------------------------------------------------------------

def test_worker_restarted_after_crash(imap_instance):
    inst = imap_instance
    workers = role_worker_pids(inst)
    assert len(workers) == 2
    os.kill(workers[0], signal.SIGKILL)
    inst.wait_log("pid %d killed by signal 9; restarting it" % workers[0])
    inst.wait_for(lambda: len(role_worker_pids(inst)) == 2 and workers[0] not in role_worker_pids(inst),
                  "a new worker")
    for _ in range(4):
        c = login(inst)
        c.logout()


# ---- settings of their own ------------------------------------------------

def non_loopback_address():
    for line in os.popen("ip -4 -o addr show 2>/dev/null").read().splitlines():
        addr = line.split()[3].split("/")[0]
        if not addr.startswith("127."):
            return addr
    return None


def test_logindisabled_off_loopback(instance):
    addr = non_loopback_address()
    if addr is None:
        pytest.skip("no non-loopback IPv4 address on this machine to connect from")
    port = free_port(addr)
    instance.append_conf("lan/listen = imap %s:%d tls=starttls" % (addr, port))
    start_imap(instance, users=(USERS[0],))
    r = Raw(instance, host=addr, port=port)
    pre = CAPS + " STARTTLS LOGINDISABLED AUTH=SCRAM-SHA-256"
    assert r.greeting == "* OK [CAPABILITY %s] Postern ready." % pre
    assert r.cmd("a", 'LOGIN alice@example.test "%s"' % PASSWORD)[1] == \
        "a NO [PRIVACYREQUIRED] Plaintext authentication disallowed on non-secure connections; use STARTTLS first."
    assert r.cmd("b", "AUTHENTICATE PLAIN AGEAYg==")[1] == \
        "b NO [PRIVACYREQUIRED] Plaintext authentication disallowed on non-secure connections; use STARTTLS first."
    r.starttls()
    assert r.cmd("c", "CAPABILITY")[0] == ["* CAPABILITY " + CAPS + " AUTH=PLAIN AUTH=LOGIN AUTH=SCRAM-SHA-256"]
    assert r.login().startswith("L1 OK")
    r.close()


def test_allow_plaintext_auth(instance):
    addr = non_loopback_address()
    if addr is None:
        pytest.skip("no non-loopback IPv4 address on this machine to connect from")
    port = free_port(addr)
    instance.append_conf("lan/listen = imap %s:%d tls=starttls" % (addr, port))
    instance.append_conf("lan/imap_allow_plaintext_auth = yes")
    instance.append_conf("lan/disable_plaintext_auth = no")
    start_imap(instance, users=(USERS[0],))
    r = Raw(instance, host=addr, port=port)
    assert "LOGINDISABLED" not in r.greeting
    assert r.login().startswith("L1 OK")
    r.close()


def test_timeouts_limits_and_shutdown(instance):
    start_imap(instance, params=("imap_login_timeout=5", "imap_processes=1",
                                 "imap_idle_notify_interval=10",
                                 "mail_max_userip_connections=1"), users=(USERS[0],))
    idle = Raw(instance)
    first = Raw(instance)
    first.login()
    second = Raw(instance)
    assert second.cmd("a", 'LOGIN alice@example.test "%s"' % PASSWORD)[1] == \
        "a NO [LIMIT] Maximum number of connections from user+IP exceeded (mail_max_userip_connections=1)"
    first.cmd("s", "SELECT INBOX")
    first.send("i IDLE\r\n")
    assert first.line() == "+ idling"
    t_idle = time.time()
    # no login within imap_login_timeout
    t0 = time.time()
    assert idle.line() == "* BYE Disconnected for inactivity."
    assert 4 <= time.time() - t0 < 9
    assert idle.closed()
    # an idling session hears from us every imap_idle_notify_interval
    assert first.line() == "* OK Still here"
    assert 9 <= time.time() - t_idle < 15
    # SIGTERM: every session is told, also one in IDLE
    instance.signal(signal.SIGTERM)
    assert first.line() == "* BYE Server shutting down."
    assert first.closed()
    instance.proc.wait(timeout=TIMEOUT)
    assert instance.proc.returncode == 0
    instance.wait_log("process posternd/imap pid")


def test_role_killed_leaves_no_workers(instance):
    start_imap(instance, params=("imap_processes=3",), users=(USERS[0],))
    role = instance.role_pid("imap")
    workers = instance.wait_for(lambda: len(role_worker_pids(instance)) == 3 and role_worker_pids(instance),
                                "three workers")
    os.kill(role, signal.SIGKILL)
    instance.wait_log("process posternd/imap pid %d killed by signal 9" % role)

    def gone():
        for p in workers:
            try:
                with open("/proc/%d/stat" % p) as f:
                    if f.read().rsplit(")", 1)[1].split()[0] != "Z":
                        return False
            except OSError:
                pass
        return True
    instance.wait_for(gone, "the old workers to die with their role")
    # the master restarts the role, which serves again
    instance.wait_for(lambda: instance.role_pid("imap") not in (None, role), "a new imap role")
    instance.wait_for(lambda: len(role_worker_pids(instance)) == 3, "new workers")
    c = login(instance)
    c.logout()
