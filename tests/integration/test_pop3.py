"""test_pop3.py - the POP3 role (pop3/, issue 8) against Python's poplib
and a raw client: every command over plaintext, STLS and implicit TLS;
the UPDATE state (DELE + QUIT deletes, DELE + a dropped connection or
RSET does not); the session lock ([IN-USE]); UIDLs stable across sessions
and flag changes made by another program; RETR's bytes compared with the
stored message (bare LF, leading dots, long lines); TOP; bad input
answered with -ERR and the session going on; a client leaving in the
middle of a big RETR; the plaintext rule for non-loopback clients; APOP
refused in the configuration.

One instance serves the module (start-up costs a second); each test uses
its own users so their maildrops do not meet.
"""
import os
import poplib
import re
import shutil
import socket
import tempfile
import time

import pytest

from harness import BAD_MARKERS, TIMEOUT, free_port, make_instance, reap_leftovers
from pop3_helpers import (PASSWORD, Client, add_users, client_context, crlf, deliver,
                          stored_files, stored_message)

USERS = ["u%d@example.test" % i for i in range(1, 31)]
MBOX_USER = "mb@example.test"


def local_nonloopback_addr():
    """An address of this machine that is not loopback, or None."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.connect(("192.0.2.123", 9))
        addr = s.getsockname()[0]
    except OSError:
        return None
    finally:
        s.close()
    return None if addr.startswith("127.") else addr


@pytest.fixture(scope="module")
def inst():
    d = tempfile.mkdtemp(prefix="postern-it-")
    os.chmod(d, 0o755)
    i = make_instance(d)
    i.lan = local_nonloopback_addr()
    if i.lan:
        i.lan_port = free_port(i.lan)
        i.append_conf("pop3lan/listen = pop3 %s:%d tls=starttls" % (i.lan, i.lan_port))
    add_users(i, USERS)
    # an mbox user: mail in one file, From_ lines, the mbox backend's locks
    mbox_dir = os.path.join(i.dir, "mbox")
    os.makedirs(mbox_dir)
    shutil.chown(mbox_dir, "postern", "postern")
    r = i.run("user", "add", MBOX_USER, "--password-stdin", "--mail",
              "mbox:%s/mb:INBOX=%s/mb/inbox" % (mbox_dir, mbox_dir), input=PASSWORD + "\n")
    assert r.returncode == 0, r.stderr
    i.mbox_inbox = os.path.join(mbox_dir, "mb", "inbox")
    i.start()
    i.wait_log("pop3: ready")
    yield i
    problems = []
    try:
        i.stop()
    except AssertionError as e:
        problems.append(str(e))
    left = reap_leftovers(i.conf)
    if left:
        problems.append("processes left behind: %s" % left)
    text = i.log_text()
    for marker in BAD_MARKERS:
        if marker in text:
            problems.append("%s in posternd output" % marker)
    shutil.rmtree(d, ignore_errors=True)
    assert not problems, "; ".join(problems) + "\n--- log:\n" + text[-8000:]


def msg(n, extra=b""):
    return b"From: a@example.test\nSubject: message %d\n\nbody of message %d\n%s" % (n, n, extra)


def connect(inst, mode):
    """A logged-out poplib client over plaintext, STLS or implicit TLS."""
    if mode == "pop3s":
        return poplib.POP3_SSL("127.0.0.1", inst.ports["pop3s"], context=client_context(),
                               timeout=TIMEOUT)
    p = poplib.POP3("127.0.0.1", inst.ports["pop3"], timeout=TIMEOUT)
    if mode == "stls":
        p.stls(client_context())
    return p


# --- greeting, CAPA, every command with poplib ----------------------------

def test_greeting_and_capa(inst):
    c = Client(inst.ports["pop3"])
    assert c.greeting == "+OK mail.example.test POP3 server ready."
    p = connect(inst, "plain")
    caps = p.capa()
    for cap in ("TOP", "UIDL", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING", "USER", "STLS",
                "IMPLEMENTATION"):
        assert cap in caps, caps
    assert caps["EXPIRE"] == ["NEVER"]
    assert "LOGIN-DELAY" not in caps        # pop3_login_delay = 0
    assert "PLAIN" in caps["SASL"] and "LOGIN" in caps["SASL"]
    p.quit()
    # after TLS there is no STLS any more
    p = connect(inst, "pop3s")
    assert "STLS" not in p.capa()
    p.quit()


@pytest.mark.parametrize("mode,user", [("plain", USERS[0]), ("stls", USERS[1]),
                                       ("pop3s", USERS[2])])
def test_every_command(inst, mode, user):
    for n in range(1, 4):
        deliver(inst, user, msg(n))
    p = connect(inst, mode)
    assert p.user(user).startswith(b"+OK")
    assert p.pass_(PASSWORD) == b"+OK Logged in."
    count, size = p.stat()
    assert count == 3
    resp, listing, _ = p.list()
    sizes = [int(l.split()[1]) for l in listing]
    assert [int(l.split()[0]) for l in listing] == [1, 2, 3]
    assert sum(sizes) == size
    assert p.list(2) == b"+OK 2 %d" % sizes[1]
    resp, uidls, _ = p.uidl()
    assert len(uidls) == 3 and len(set(u.split()[1] for u in uidls)) == 3
    assert p.uidl(3) == b"+OK " + uidls[2]
    resp, lines, octets = p.retr(1)
    assert resp == b"+OK %d octets" % sizes[0]
    assert b"Subject: message 1" in lines and b"body of message 1" in lines
    resp, lines, _ = p.top(2, 0)
    assert b"Subject: message 2" in lines and b"body of message 2" not in lines
    assert p.noop() == b"+OK"
    assert p.dele(3).startswith(b"+OK")
    assert p.stat() == (2, size - sizes[2])
    assert p.rset().startswith(b"+OK")
    assert p.stat() == (3, size)
    assert p.dele(1).startswith(b"+OK")
    assert p.quit().startswith(b"+OK")
    p = connect(inst, mode)
    p.user(user)
    p.pass_(PASSWORD)
    assert p.stat()[0] == 2
    p.quit()
    log = inst.wait_log("pop3(%s): Disconnected: Logged out top=1/" % user)
    assert "retr=1/%d, del=1/3" % sizes[0] in inst.log_text()
    assert re.search(r"pop3-login: Login: user=<%s>, method=PLAIN, rip=127\.0\.0\.1, lip=127\.0\.0\.1%s"
                     % (re.escape(user), ", TLS" if mode != "plain" else "$"),
                     inst.log_text(), re.M)


def test_sizes_are_what_retr_sends(inst):
    """LIST/STAT sizes equal the octets of RETR before dot-stuffing."""
    user = USERS[3]
    deliver(inst, user, b"Subject: s\n\n.leading dot\nbare lf\r\ncrlf\n..two\n")
    c = Client(inst.ports["pop3"])
    c.login(user)
    listed = int(c.cmd("LIST 1").split()[2])
    status, body = c.multi("RETR 1")
    assert status == "+OK %d octets" % listed
    assert len(body) == listed
    c.cmd("QUIT")


# --- SASL -----------------------------------------------------------------

def b64(s):
    import base64
    return base64.b64encode(s.encode()).decode()


def test_auth_plain_initial_response(inst):
    c = Client(inst.ports["pop3"])
    r = c.cmd("AUTH PLAIN " + b64("\0%s\0%s" % (USERS[4], PASSWORD)))
    assert r == "+OK Logged in."
    assert c.cmd("STAT").startswith("+OK 0 0")
    c.cmd("QUIT")


def test_auth_plain_continuation_and_login(inst):
    c = Client(inst.ports["pop3"])
    assert c.cmd("AUTH PLAIN") == "+ "
    assert c.cmd(b64("\0%s\0%s" % (USERS[5], PASSWORD))) == "+OK Logged in."
    c.cmd("QUIT")
    c = Client(inst.ports["pop3"])
    r = c.cmd("AUTH LOGIN")
    assert r.startswith("+ ")
    r = c.cmd(b64(USERS[5]))
    assert r.startswith("+ ")
    assert c.cmd(b64(PASSWORD)) == "+OK Logged in."
    c.cmd("QUIT")


def test_auth_list_cancel_and_unknown(inst):
    c = Client(inst.ports["pop3"])
    assert c.cmd("AUTH") == "+OK Supported mechanisms follow."
    mechs = c.multi_raw().split()
    assert b"PLAIN" in mechs and b"LOGIN" in mechs
    assert c.cmd("AUTH PLAIN") == "+ "
    assert c.cmd("*") == "-ERR Authentication aborted by client."
    assert c.cmd("AUTH CRAM-MD5") == "-ERR Unsupported authentication mechanism."
    assert c.cmd("AUTH PLAIN !!!") == "-ERR Invalid base64 data in the initial response."
    assert c.cmd("NOOP").startswith("-ERR")      # still in AUTHORIZATION
    c.cmd("QUIT")


def test_bad_password_and_pass_before_user(inst):
    c = Client(inst.ports["pop3"])
    assert c.cmd("PASS whatever") == "-ERR No user name given; send USER first."
    c.cmd("USER " + USERS[6])
    t = time.time()
    assert c.cmd("PASS wrong") == "-ERR [AUTH] Authentication failed."
    assert time.time() - t >= 1.5          # the auth role's auth_failure_delay (2s)
    # RFC 1939: a failed PASS goes back to USER
    assert c.cmd("PASS " + PASSWORD) == "-ERR No user name given; send USER first."
    c.login(USERS[6])
    c.cmd("QUIT")
    assert "Aborted login (auth failed" in inst.log_text()


# --- wrong state, unknown commands, bad arguments ---------------------------

def test_bad_input_gets_err_and_session_goes_on(inst):
    user = USERS[7]
    deliver(inst, user, msg(1))
    deliver(inst, user, msg(2))
    c = Client(inst.ports["pop3"])
    assert c.cmd("STAT") == "-ERR STAT is only valid after logging in."
    assert c.cmd("RETR 1") == "-ERR RETR is only valid after logging in."
    assert c.cmd("FOOBAR") == "-ERR Unknown command."
    assert c.cmd("USER " + "x" * 300) == "-ERR Command line too long (255 octets at most)."
    assert c.cmd("APOP " + user + " 0123456789abcdef").startswith("-ERR APOP is not supported")
    c.login(user)
    assert c.cmd("USER " + user) == "-ERR USER is only valid before logging in."
    assert c.cmd("STLS") == "-ERR STLS is only valid before logging in."
    assert c.cmd("XYZZY 1") == "-ERR Unknown command."
    assert c.cmd("RETR 3") == "-ERR There's no message 3."
    assert c.cmd("RETR 0") == "-ERR There's no message 0."
    assert c.cmd("LIST 99999999999") == "-ERR Invalid message number: 99999999999"
    assert c.cmd("DELE -1") == "-ERR Invalid message number: -1"
    assert c.cmd("DELE abc") == "-ERR Invalid message number: abc"
    assert c.cmd("RETR") == "-ERR Usage: RETR message-number"
    assert c.cmd("RETR 1 2") == "-ERR Usage: RETR message-number"
    assert c.cmd("TOP 1") == "-ERR Usage: TOP message-number lines"
    assert c.cmd("TOP 1 x") == "-ERR Invalid number of lines: TOP message-number lines"
    assert c.cmd("STAT now") == "-ERR STAT takes no arguments."
    assert c.cmd("DELE 1").startswith("+OK")
    assert c.cmd("DELE 1") == "-ERR Message 1 is deleted."
    assert c.cmd("RETR 1") == "-ERR Message 1 is deleted."
    assert c.cmd("LIST 1") == "-ERR Message 1 is deleted."
    assert c.cmd("UIDL 1") == "-ERR Message 1 is deleted."
    size2 = c.cmd("LIST 2").split()[2]
    assert c.cmd("LIST") == "+OK 1 messages (%s octets)" % size2
    assert c.multi_raw() == b"2 %s\r\n" % size2.encode()
    assert c.cmd("x" * 20000) == "-ERR Line too long."
    assert c.cmd("STAT").startswith("+OK 1 ")
    assert c.cmd("RSET").startswith("+OK 2 messages")
    c.cmd("QUIT")
    # nothing was deleted: RSET came before QUIT
    c = Client(inst.ports["pop3"])
    c.login(user)
    assert c.cmd("STAT").startswith("+OK 2 ")
    c.cmd("QUIT")


def test_too_many_bad_commands_disconnects(inst):
    c = Client(inst.ports["pop3"])
    for _ in range(19):
        assert c.cmd("BOGUS") == "-ERR Unknown command."
    assert c.cmd("BOGUS") == "-ERR Unknown command."
    assert c.line() == "-ERR Too many bad commands, closing the connection."
    assert c.closed()


def test_pipelining(inst):
    user = USERS[8]
    deliver(inst, user, msg(1))
    c = Client(inst.ports["pop3"])
    c.send("USER %s\r\nPASS %s\r\nSTAT\r\nRETR 1\r\nNOOP\r\nQUIT\r\n" % (user, PASSWORD))
    assert c.line().startswith("+OK")
    assert c.line() == "+OK Logged in."
    assert c.line().startswith("+OK 1 ")
    assert c.line().startswith("+OK ") and b"body of message 1" in c.multi_raw()
    assert c.line() == "+OK"
    assert c.line().startswith("+OK Logging out")


# --- UPDATE state -----------------------------------------------------------

def test_dele_then_drop_deletes_nothing(inst):
    user = USERS[9]
    deliver(inst, user, msg(1))
    deliver(inst, user, msg(2))
    c = Client(inst.ports["pop3"])
    c.login(user)
    assert c.cmd("DELE 1").startswith("+OK")
    assert c.cmd("DELE 2").startswith("+OK")
    c.close()                                  # no QUIT
    inst.wait_log("pop3(%s): Disconnected: Connection closed" % user)
    assert len(stored_files(inst, user)) == 2
    c = Client(inst.ports["pop3"])
    c.login(user)
    assert c.cmd("STAT").startswith("+OK 2 ")
    assert c.cmd("DELE 2").startswith("+OK")
    assert c.cmd("QUIT") == "+OK Logging out, messages deleted."
    assert c.closed()
    files = stored_files(inst, user)
    assert len(files) == 1
    assert b"message 1" in open(files[0], "rb").read()


def test_retr_sets_seen_at_quit_only(inst):
    user = USERS[10]
    deliver(inst, user, msg(1))
    c = Client(inst.ports["pop3"])
    c.login(user)
    c.multi("RETR 1")
    c.close()
    inst.wait_log("pop3(%s): Disconnected: Connection closed" % user)
    st = inst.run("mailbox", "status", user, "INBOX").stdout
    assert "unseen=1" in st, st
    c = Client(inst.ports["pop3"])
    c.login(user)
    c.multi("RETR 1")
    c.cmd("QUIT")
    assert c.closed()
    st = inst.run("mailbox", "status", user, "INBOX").stdout
    assert "unseen=0" in st, st


def test_lock_in_use(inst):
    user = USERS[11]
    a = Client(inst.ports["pop3"])
    a.login(user)
    b = Client(inst.ports["pop3s"], tls=True)
    b.cmd("USER " + user)
    assert b.cmd("PASS " + PASSWORD) == "-ERR [IN-USE] Mailbox is locked by another POP3 session."
    assert a.cmd("QUIT").startswith("+OK")
    assert a.closed()
    b.cmd("USER " + user)
    assert b.cmd("PASS " + PASSWORD) == "+OK Logged in."
    b.cmd("QUIT")


# --- UIDL ------------------------------------------------------------------

def uidls(inst, user):
    c = Client(inst.ports["pop3"])
    c.login(user)
    c.cmd("UIDL")
    out = c.multi_raw().decode().split("\r\n")
    c.cmd("QUIT")
    c.closed()
    return [l.split()[1] for l in out if l]


def test_uidl_stable_across_sessions_and_flag_changes(inst):
    user = USERS[12]
    for n in range(1, 4):
        deliver(inst, user, msg(n))
    first = uidls(inst, user)
    assert len(first) == 3 and all(re.fullmatch(r"[0-9A-F]{16}", u) for u in first)
    assert uidls(inst, user) == first
    # another program (an IMAP client through the files, mutt) flags a
    # message: the Maildir file is renamed with new info letters
    path = stored_files(inst, user)[1]
    base = path.split(":2,")[0]
    os.rename(path, base + ":2,FS")
    assert uidls(inst, user) == first
    # a downloaded message becomes \Seen at QUIT: still the same UIDLs
    c = Client(inst.ports["pop3"])
    c.login(user)
    c.multi("RETR 1")
    c.cmd("QUIT")
    c.closed()
    assert uidls(inst, user) == first
    # deleting one keeps the others' UIDLs
    c = Client(inst.ports["pop3"])
    c.login(user)
    c.cmd("DELE 2")
    c.cmd("QUIT")
    c.closed()
    assert uidls(inst, user) == [first[0], first[2]]


# --- exact bytes ------------------------------------------------------------

def test_retr_bytes_exact(inst):
    user = USERS[13]
    long_line = b"L" * 20000
    bodies = {
        b"bare-lf": b"Subject: bare-lf\n\nline one\nline two\n",
        b"dots": b"Subject: dots\r\n\r\n.\r\n..\r\n.hidden\r\n...three\r\nend.\r\n",
        b"long": b"Subject: long\n\n" + long_line + b"\n" + long_line + b"\r\n",
        b"mixed": b"Subject: mixed\r\n\r\ncr only\rhere\nx\r\n.\n",
    }
    for data in bodies.values():
        deliver(inst, user, data)
    c = Client(inst.ports["pop3"])
    c.login(user)
    for n, marker in enumerate(bodies, 1):
        stored = stored_message(inst, user, b"Subject: " + marker)
        status, body = c.multi("RETR %d" % n)
        assert body == crlf(stored), marker
        assert status == "+OK %d octets" % len(body)
    # on the wire: dots stuffed
    c.send("RETR 2\r\n")
    c.line()
    raw = c.multi_raw()
    assert b"\r\n..\r\n...\r\n..hidden\r\n....three\r\nend.\r\n" in raw
    c.cmd("QUIT")


def test_top(inst):
    user = USERS[14]
    deliver(inst, user, b"Subject: top\n\n1\n.2\n3\n4\n")
    c = Client(inst.ports["pop3"])
    c.login(user)
    stored = crlf(stored_message(inst, user, b"Subject: top"))
    head, _, body = stored.partition(b"\r\n\r\n")
    status, got = c.multi("TOP 1 0")
    assert status == "+OK Top of message 1 follows."
    assert got == head + b"\r\n\r\n"
    status, got = c.multi("TOP 1 2")
    assert got == head + b"\r\n\r\n1\r\n.2\r\n"
    status, got = c.multi("TOP 1 100")
    assert got == stored
    c.cmd("QUIT")


def test_disconnect_during_big_retr(inst):
    user = USERS[15]
    line = b"0123456789" * 99 + b"\n"
    big = b"Subject: big\n\n" + line * 20000            # ~20 MB
    deliver(inst, user, big)
    c = Client(inst.ports["pop3"])
    c.login(user)
    c.send("RETR 1\r\n")
    got = b""
    while len(got) < 1 << 20:
        got += c.sock.recv(65536)
    c.close()
    inst.wait_log("pop3(%s): Disconnected: Connection closed during RETR" % user)
    # the process goes on serving, the message is still there
    c = Client(inst.ports["pop3"])
    c.login(user)
    assert c.cmd("STAT") == "+OK 1 %d" % len(crlf(stored_message(inst, user, b"Subject: big")))
    status, body = c.multi("RETR 1")
    assert len(body) == int(status.split()[1])
    c.cmd("QUIT")


def test_big_retr_does_not_stall_other_sessions(inst):
    user, other = USERS[16], USERS[17]
    deliver(inst, user, b"Subject: big2\n\n" + (b"x" * 999 + b"\n") * 10000)
    deliver(inst, other, msg(1))
    slow = Client(inst.ports["pop3"])
    slow.login(user)
    slow.send("RETR 1\r\n")          # and do not read
    time.sleep(0.3)
    c = Client(inst.ports["pop3"])
    t = time.time()
    c.login(other)
    assert c.cmd("STAT").startswith("+OK 1 ")
    assert time.time() - t < 5
    c.cmd("QUIT")
    slow.close()


# --- plaintext rule, APOP --------------------------------------------------

def test_plaintext_refused_from_lan_before_tls(inst):
    if not inst.lan:
        pytest.skip("this machine has no non-loopback IPv4 address")
    c = Client(inst.lan_port, host=inst.lan, source=inst.lan)
    c.cmd("CAPA")
    caps = c.multi_raw()
    assert b"USER" not in caps and b"PLAIN" not in caps and b"STLS" in caps
    refusal = "-ERR [AUTH] Plaintext authentication is not allowed without TLS; use STLS first (or port 995)."
    assert c.cmd("USER " + USERS[18]) == refusal
    assert c.cmd("AUTH PLAIN " + b64("\0%s\0%s" % (USERS[18], PASSWORD))) == refusal
    c.stls()
    c.cmd("CAPA")
    assert b"USER" in c.multi_raw()
    c.login(USERS[18])
    c.cmd("QUIT")


def test_apop_enabled_is_a_config_error(tmp_root):
    """A bad config never starts half a server: posternd refuses before it
    starts any role, and `postern check` names the same file and line."""
    i = make_instance(tmp_root)
    i.append_conf("pop3_enable_apop = yes")
    line = i.conf_line_of("pop3_enable_apop")
    want = "%s:%d: pop3_enable_apop: APOP needs plaintext-equivalent passwords" % (i.conf, line)
    r = i.posternd("-c", i.conf, "-f")
    assert r.returncode != 0
    assert want in r.stderr, r.stderr
    r = i.run("check")
    assert r.returncode == 1
    assert want in r.stderr, r.stderr


def test_mbox_user(inst):
    """The same semantics on an mbox INBOX: sizes, exact bytes (a body line
    starting with "From " is quoted in the file, not on the wire), DELE +
    QUIT rewrites the file without the message."""
    deliver(inst, MBOX_USER, b"Subject: mb1\n\nFrom here on\n.dot\nend\n")
    deliver(inst, MBOX_USER, b"Subject: mb2\n\nsecond\n")
    c = Client(inst.ports["pop3"])
    c.login(MBOX_USER)
    assert c.cmd("STAT").startswith("+OK 2 ")
    status, body = c.multi("RETR 1")
    assert status == "+OK %d octets" % len(body)
    assert body.endswith(b"Subject: mb1\r\n\r\nFrom here on\r\n.dot\r\nend\r\n")
    assert c.cmd("LIST 1") == "+OK 1 %d" % len(body)
    assert c.cmd("DELE 1").startswith("+OK")
    assert c.cmd("QUIT") == "+OK Logging out, messages deleted."
    assert c.closed()
    with open(inst.mbox_inbox, "rb") as f:
        data = f.read()
    assert b"Subject: mb1" not in data and b"Subject: mb2" in data
    c = Client(inst.ports["pop3"])
    c.login(MBOX_USER)
    assert c.cmd("STAT").startswith("+OK 1 ")
    c.cmd("QUIT")


def test_login_delay_and_file_name_uidls(tmp_root):
    """pop3_login_delay announced in CAPA and enforced per user with
    [LOGIN-DELAY]; pop3_uidl_format = %f gives a taken-over Maildir's file
    names (without Postern's ,U= and the :2, info) as UIDLs."""
    i = make_instance(tmp_root)
    i.append_conf("pop3_login_delay = 30s\npop3_uidl_format = %f")
    user = "mig@example.test"
    add_users(i, [user])
    # a Maildir written by another server: Dovecot-style names in cur/
    md = os.path.join(i.dir, "mail", "example.test", "mig")
    for sub in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(md, sub))
    names = ["1700000000.M1P10.old,S=60,W=62", "1700000001.M2P10.old,S=60,W=62"]
    for n, name in enumerate(names):
        with open(os.path.join(md, "cur", name + ":2,S"), "wb") as f:
            f.write(b"Subject: old %d\n\nmigrated body %d\n" % (n, n))
    for dirpath, _, files in os.walk(os.path.join(i.dir, "mail")):
        shutil.chown(dirpath, "postern", "postern")
        for f in files:
            shutil.chown(os.path.join(dirpath, f), "postern", "postern")
    try:
        i.start()
        i.wait_log("pop3: ready")
        c = Client(i.ports["pop3"])
        c.cmd("CAPA")
        assert b"LOGIN-DELAY 30\r\n" in c.multi_raw()
        c.login(user)
        c.cmd("UIDL")
        got = [l.split()[1] for l in c.multi_raw().decode().split("\r\n") if l]
        assert got == names
        assert c.cmd("QUIT").startswith("+OK")
        # the files now carry ,U= (the takeover), the UIDLs do not change
        assert all(",U=" in n for n in os.listdir(os.path.join(md, "cur")))
        c = Client(i.ports["pop3"])
        c.cmd("USER " + user)
        assert c.cmd("PASS " + PASSWORD) == \
            "-ERR [LOGIN-DELAY] Logged in too recently; wait and try again."
    finally:
        i.stop()


def test_stls_discards_pipelined_plaintext(inst):
    """Commands pipelined behind STLS in plaintext are thrown away (RFC
    2595 4; the STARTTLS command injection): the USER sent before the
    handshake must not count after it."""
    c = Client(inst.ports["pop3"])
    c.send("STLS\r\nUSER %s\r\n" % USERS[19])
    assert c.line() == "+OK Begin TLS negotiation now."
    c.sock = client_context().wrap_socket(c.sock)
    assert c.cmd("PASS " + PASSWORD) == "-ERR No user name given; send USER first."
    assert c.cmd("STLS") == "-ERR TLS is already active."
    c.login(USERS[19])
    c.cmd("QUIT")


def test_temporary_and_store_failures(tmp_root):
    """The auth role unreachable (its socket removed before the first
    login; the role connects lazily) answers [SYS/TEMP] and the session
    goes on; a user whose mail location cannot be opened gets [SYS/TEMP]
    or [SYS/PERM], never a crash, and the log names the problem."""
    i = make_instance(tmp_root)
    add_users(i, [USERS[20]])
    r = i.run("user", "add", "broken@example.test", "--password-stdin", "--mail",
              "maildir:/proc/1/postern-cannot-be-here", input=PASSWORD + "\n")
    assert r.returncode == 0, r.stderr
    try:
        i.start()
        i.wait_log("pop3: ready")
        sock = os.path.join(i.run_dir, "auth")
        os.rename(sock, sock + ".away")
        c = Client(i.ports["pop3s"], tls=True)
        c.cmd("USER " + USERS[20])
        assert c.cmd("PASS " + PASSWORD) == \
            "-ERR [SYS/TEMP] Temporary authentication failure, try again later."
        assert c.cmd("CAPA").startswith("+OK")       # still there
        c.multi_raw()
        os.rename(sock + ".away", sock)               # back: the next login reconnects
        c.cmd("USER " + USERS[20])
        assert c.cmd("PASS " + PASSWORD) == "+OK Logged in."
        c.cmd("QUIT")
        c = Client(i.ports["pop3"])
        c.cmd("USER broken@example.test")
        r = c.cmd("PASS " + PASSWORD)
        assert re.match(r"-ERR \[SYS/(TEMP|PERM)\] ", r), r
        c.login(USERS[20])                            # the session goes on
        c.cmd("QUIT")
        i.wait_log("pop3-login: Aborted login (")
    finally:
        i.stop()
