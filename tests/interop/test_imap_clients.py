"""test_imap_clients.py - Debian's IMAP clients against Postern's imaps
listener (993 + port base, implicit TLS) and the imap listener (STARTTLS):
issue 9's interop proof.

  mbsync (isync 1.4)  a two-way sync with a local Maildir: pull every
                      folder (bytes and \\Seen/\\Flagged/\\Answered as
                      S/F/R), push local flag changes, a new message and a
                      new (nested) folder, pull server-side changes, a local
                      deletion expunged on the server (Expunge Both), and a
                      last round that changes nothing on either side; a
                      STARTTLS sync; five syncs while another client flags,
                      expunges and appends (each must succeed), then both
                      sides agree
  mutt                reads (copies a folder to a local mbox through a pty:
                      mutt is a curses program), writes (deletes, flags,
                      syncs) and, in real batch mode (-s, stdin not a tty),
                      APPENDs its Fcc copy to Sent
  curl                imaps:// LIST, UID fetch (whole, ;SECTION=TEXT,
                      ;PARTIAL=), EXAMINE (-X), SEARCH (?query), upload
                      (-T = APPEND); STARTTLS with --ssl-reqd
  fetchmail           protocol IMAP over implicit TLS: keep (messages intact,
                      \\Seen set after) and nokeep (deleted + expunged);
                      `idle` (RFC 2177): a delivery reaches it within seconds

Server state is read back through imaplib (UID FETCH BODY.PEEK[]), so
every comparison is against the bytes the server hands out; those are the
stored bytes (curl's fetch is compared with the Maildir file too).
Client logs (mbsync -V, curl -v, fetchmail -v, mutt's screen) are in the
assertion messages. Each test skips when its client is not installed.
By hand:
  POSTERN_BIN=$PWD/bin /usr/bin/python3 -m pytest -q tests/interop/test_imap_clients.py
"""
import fcntl
import imaplib
import mailbox
import os
import pty
import re
import select
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import termios
import time

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from imap_helpers import (PASSWORD, client_context, deliver, fresh_user,  # noqa: E402
                          imap_instance, maildir, message)  # noqa: F401

TIMEOUT = 120


# --- helpers ---------------------------------------------------------------

def lf(data):
    return data.replace(b"\r\n", b"\n")


def crlf(data):
    return lf(data).replace(b"\n", b"\r\n")


@pytest.fixture
def workdir():
    d = tempfile.mkdtemp(prefix="postern-imapc-")
    os.chmod(d, 0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def run(cmd, workdir, input=None, env=None):
    e = dict(os.environ, HOME=workdir, LC_ALL="C.UTF-8")
    e.update(env or {})
    return subprocess.run(cmd, input=input, capture_output=True, timeout=TIMEOUT, env=e, cwd=workdir)


def log_of(r):
    return "\n--- exit %s\n--- stdout:\n%s\n--- stderr:\n%s" % (
        r.returncode, r.stdout.decode(errors="replace")[-6000:],
        r.stderr.decode(errors="replace")[-6000:])


class Server:
    """The server side as a test reads it: imaplib over imaps."""

    def __init__(self, inst, user):
        self.c = imaplib.IMAP4_SSL("127.0.0.1", inst.ports["imaps"], ssl_context=client_context(),
                                   timeout=60)
        typ, _ = self.c.login(user, PASSWORD)
        assert typ == "OK"

    def folders(self):
        typ, data = self.c.list('""', "*")
        assert typ == "OK", data
        names = []
        for line in data:
            m = re.match(rb'\(([^)]*)\) "(.)" (.*)$', line)
            assert m, line
            names.append(m.group(3).strip(b'"').decode())
        return names

    def messages(self, folder="INBOX"):
        """{uid: (set of flags without \\Recent, bytes)} read without
        changing \\Seen."""
        typ, data = self.c.select('"%s"' % folder, readonly=True)
        assert typ == "OK", (folder, data)
        out = {}
        if int(data[0]) == 0:
            return out
        typ, data = self.c.uid("FETCH", "1:*", "(UID FLAGS BODY.PEEK[])")
        assert typ == "OK", data
        for item in data:
            if not isinstance(item, tuple):
                continue
            head = item[0].decode()
            uid = int(re.search(r"UID (\d+)", head).group(1))
            flags = set(re.search(r"FLAGS \(([^)]*)\)", head).group(1).split()) - {"\\Recent"}
            out[uid] = (flags, item[1])
        return out

    def by_subject(self, folder="INBOX"):
        res = {}
        for uid, (flags, data) in self.messages(folder).items():
            m = re.search(rb"^Subject: (.*?)\r?$", data, re.M)
            res[m.group(1).decode() if m else ""] = (uid, flags, data)
        return res

    def store(self, folder, uid, op, flags):
        typ, data = self.c.select('"%s"' % folder)
        assert typ == "OK", data
        typ, data = self.c.uid("STORE", str(uid), op, flags)
        assert typ == "OK", data

    def append(self, folder, flags, data):
        typ, resp = self.c.append('"%s"' % folder, flags, None, data)
        assert typ == "OK", resp

    def close(self):
        try:
            self.c.logout()
        except (imaplib.IMAP4.error, OSError):
            pass


def msg(subject, body):
    return message(subject=subject, body=body).encode()


# --- mbsync ----------------------------------------------------------------

MAILDIR_LETTERS = {"D": "\\Draft", "F": "\\Flagged", "R": "\\Answered", "S": "\\Seen", "T": "\\Deleted"}


def mbsync_rc(inst, workdir, user, starttls=False):
    local = os.path.join(workdir, "local")
    os.makedirs(local, exist_ok=True)
    rc = os.path.join(workdir, "mbsyncrc")
    with open(rc, "w") as f:
        f.write("IMAPAccount postern\n"
                "Host 127.0.0.1\n"
                "Port %d\n"
                "User %s\n"
                'Pass "%s"\n'
                "SSLType %s\n"
                "CertificateFile %s\n"
                "\n"
                "IMAPStore far\n"
                "Account postern\n"
                "\n"
                "MaildirStore near\n"
                "Path %s/\n"
                "Inbox %s/INBOX\n"
                "SubFolders Verbatim\n"
                "\n"
                "Channel sync\n"
                "Far :far:\n"
                "Near :near:\n"
                "Patterns *\n"
                "Create Both\n"
                "Expunge Both\n"
                "SyncState *\n"
                % (inst.ports["imap" if starttls else "imaps"], user, PASSWORD,
                   "STARTTLS" if starttls else "IMAPS", os.path.join(inst.dir, "tls", "cert.pem"),
                   local, local))
    return rc, local


def mbsync(rc, workdir, what="-a"):
    r = run(["mbsync", "-V", "-c", rc, what], workdir)
    assert r.returncode == 0, "mbsync failed" + log_of(r)
    return r


def local_folder(local, folder):
    """{subject: (path, set of flags, bytes)} of a near-side Maildir."""
    root = os.path.join(local, folder)
    out = {}
    for sub in ("new", "cur"):
        d = os.path.join(root, sub)
        if not os.path.isdir(d):
            continue
        for name in os.listdir(d):
            path = os.path.join(d, name)
            with open(path, "rb") as f:
                data = f.read()
            letters = name.split(":2,", 1)[1] if ":2," in name else ""
            m = re.search(rb"^Subject: (.*?)\r?$", data, re.M)
            out[m.group(1).decode()] = (path, {MAILDIR_LETTERS[c] for c in letters
                                               if c in MAILDIR_LETTERS}, data)
    return out


def set_local_flags(path, letters):
    """Rename a near-side file to carry exactly these Maildir flags (what a
    local MUA does); returns the new path."""
    d = os.path.dirname(os.path.dirname(path))
    base = os.path.basename(path).split(":2,")[0]
    new = os.path.join(d, "cur", base + ":2," + "".join(sorted(letters)))
    os.rename(path, new)
    return new


def without_tuid(data):
    """mbsync 1.4 adds an X-TUID: header to every message it propagates
    (to find it again when a store cannot report the new UID); the rest
    must be byte for byte what the other side holds."""
    return re.sub(rb"^X-TUID: [^\r\n]*\r?\n", b"", data, flags=re.M)


def snapshot(local, srv):
    near = {}
    for dirpath, _, files in os.walk(local):
        for name in files:
            p = os.path.join(dirpath, name)
            with open(p, "rb") as f:
                near[os.path.relpath(p, local)] = f.read()
    far = {folder: srv.messages(folder) for folder in srv.folders()}
    return near, far


@pytest.mark.skipif(shutil.which("mbsync") is None, reason="isync (mbsync) is not installed")
def test_mbsync_both_ways(imap_instance, workdir):
    inst = imap_instance
    user = fresh_user(inst, "mbs")
    deliver(inst, user, msg("one", "first body\r\n.\r\n..dots\r\n" + "y" * 2000 + "\r\n"))
    deliver(inst, user, msg("two", "second body\r\n"))
    deliver(inst, user, msg("three", "third body\r\n\r\n"))
    srv = Server(inst, user)
    try:
        # flags set server-side, through IMAP
        inbox = srv.by_subject()
        srv.store("INBOX", inbox["one"][0], "+FLAGS", "(\\Seen)")
        srv.store("INBOX", inbox["two"][0], "+FLAGS", "(\\Seen \\Flagged)")
        typ, data = srv.c.create('"Lists/postern"')
        assert typ == "OK", data
        srv.append("Lists/postern", "(\\Seen \\Answered)", msg("listmail", "from a list\r\n"))

        rc, local = mbsync_rc(inst, workdir, user)
        r = mbsync(rc, workdir)
        log = log_of(r)

        # 1. pull: every folder, the bytes (LF on the Maildir side), the flags
        far = srv.by_subject()
        near = local_folder(local, "INBOX")
        assert sorted(near) == ["one", "three", "two"], log
        for subj, (uid, flags, data) in far.items():
            path, lflags, ldata = near[subj]
            assert without_tuid(ldata) == lf(data), (subj, log)
            assert lflags == flags, (subj, path, flags, log)
        assert near["one"][1] == {"\\Seen"} and near["two"][1] == {"\\Seen", "\\Flagged"}
        assert near["three"][1] == set()
        for special in ("Sent", "Drafts", "Trash", "Junk", "Archive"):
            assert os.path.isdir(os.path.join(local, special, "cur")), (special, log)
        lists = local_folder(local, "Lists/postern")
        assert list(lists) == ["listmail"], log
        assert lists["listmail"][1] == {"\\Seen", "\\Answered"}
        assert without_tuid(lists["listmail"][2]) == lf(srv.by_subject("Lists/postern")["listmail"][2])

        # 2. push: flags changed locally, a new message, a new nested folder
        set_local_flags(near["one"][0], "")
        set_local_flags(near["three"][0], "FS")
        new_msg = (b"From: me@example.test\nTo: " + user.encode() + b"\nSubject: written here\n"
                   b"Message-ID: <local-1@example.test>\n\nlocal body\n.\nend\n")
        with open(os.path.join(local, "INBOX", "new", "100.local.host"), "wb") as f:
            f.write(new_msg)
        sub = os.path.join(local, "Projects", "Sub 2026")
        for s in ("cur", "new", "tmp"):
            os.makedirs(os.path.join(sub, s))
        folder_msg = b"From: me@example.test\nSubject: filed\n\nin a new folder\n"
        with open(os.path.join(sub, "cur", "101.local.host:2,S"), "wb") as f:
            f.write(folder_msg)
        r = mbsync(rc, workdir)
        log = log_of(r)
        far = srv.by_subject()
        assert far["one"][1] == set(), log
        assert far["two"][1] == {"\\Seen", "\\Flagged"}, log
        assert far["three"][1] == {"\\Seen", "\\Flagged"}, log
        assert "written here" in far, log
        assert without_tuid(far["written here"][2]) == crlf(new_msg), log
        assert "Projects/Sub 2026" in srv.folders(), log
        filed = srv.by_subject("Projects/Sub 2026")
        assert list(filed) == ["filed"], log
        assert filed["filed"][1] == {"\\Seen"}
        assert without_tuid(filed["filed"][2]) == crlf(folder_msg)

        # 3. back: server-side changes reach the Maildir
        srv.store("INBOX", far["two"][0], "-FLAGS", "(\\Flagged)")
        deliver(inst, user, msg("four", "delivered later\r\n"))
        r = mbsync(rc, workdir)
        log = log_of(r)
        near = local_folder(local, "INBOX")
        assert sorted(near) == ["four", "one", "three", "two", "written here"], log
        assert near["two"][1] == {"\\Seen"}, log
        assert near["three"][1] == {"\\Seen", "\\Flagged"}, log
        assert without_tuid(near["four"][2]) == lf(srv.by_subject()["four"][2]), log

        # 4. a local deletion is expunged on the server (Expunge Both)
        gone_uid = srv.by_subject()["one"][0]
        os.unlink(near["one"][0])
        r = mbsync(rc, workdir)
        log = log_of(r)
        far = srv.by_subject()
        assert "one" not in far and gone_uid not in srv.messages(), log
        files = os.listdir(os.path.join(maildir(inst, user), "cur")) + \
            os.listdir(os.path.join(maildir(inst, user), "new"))
        assert not [n for n in files if re.search(r",U=%d(:|,|$)" % gone_uid, n)], files
        assert sorted(far) == ["four", "three", "two", "written here"], log

        # 5. nothing changed: another round leaves both sides as they are
        before = snapshot(local, srv)
        r = mbsync(rc, workdir)
        after = snapshot(local, srv)
        assert after[1] == before[1], "server changed" + log_of(r)
        changed = [p for p in set(before[0]) | set(after[0])
                   if before[0].get(p) != after[0].get(p) and not p.endswith(".mbsyncstate")
                   and ".mbsyncstate." not in p]
        assert not changed, (changed, log_of(r))
    finally:
        srv.close()


@pytest.mark.skipif(shutil.which("mbsync") is None, reason="isync (mbsync) is not installed")
def test_mbsync_starttls(imap_instance, workdir):
    inst = imap_instance
    user = fresh_user(inst, "mbt")
    deliver(inst, user, msg("over starttls", "plain port\r\n"))
    rc, local = mbsync_rc(inst, workdir, user, starttls=True)
    r = mbsync(rc, workdir, "sync:INBOX")
    assert "Connection is now encrypted" in r.stdout.decode() + r.stderr.decode(), log_of(r)
    near = local_folder(local, "INBOX")
    assert list(near) == ["over starttls"], log_of(r)
    srv = Server(inst, user)
    try:
        assert without_tuid(near["over starttls"][2]) == lf(srv.by_subject()["over starttls"][2])
    finally:
        srv.close()


@pytest.mark.skipif(shutil.which("mbsync") is None, reason="isync (mbsync) is not installed")
def test_mbsync_while_another_client_expunges(imap_instance, workdir):
    """mbsync runs while another session flags, expunges and appends: every
    run must succeed (a UID expunged under it is not an error, RFC 3501
    6.4.8), and a last quiet run leaves both sides with the same messages
    and flags."""
    import random
    import threading
    inst = imap_instance
    user = fresh_user(inst, "mbc")
    for i in range(60):
        deliver(inst, user, msg("c%02d" % i, "churn %d\r\n" % i))
    rc, local = mbsync_rc(inst, workdir, user)
    mbsync(rc, workdir, "sync:INBOX")
    stop = threading.Event()
    errors = []

    def churn():
        rnd = random.Random(9)
        other = Server(inst, user)
        try:
            other.c.select("INBOX")
            n = 0
            while not stop.is_set():
                typ, data = other.c.search(None, "ALL")
                ids = data[0].split()
                if len(ids) < 10:
                    other.c.append("INBOX", None, None, msg("late%d" % n, "x\r\n"))
                    n += 1
                    continue
                seq = rnd.choice(ids).decode()
                other.c.store(seq, rnd.choice(["+FLAGS", "-FLAGS"]),
                              rnd.choice(["(\\Seen)", "(\\Flagged)", "(\\Answered)"]))
                if rnd.random() < 0.3:
                    other.c.store(seq, "+FLAGS.SILENT", "(\\Deleted)")
                    other.c.expunge()
                if rnd.random() < 0.2:
                    other.c.append("INBOX", None, None, msg("late%d" % n, "x\r\n"))
                    n += 1
        except Exception as e:  # reported by the test, not lost in the thread
            errors.append(repr(e))
        finally:
            other.close()

    t = threading.Thread(target=churn)
    t.start()
    try:
        for _ in range(5):
            r = run(["mbsync", "-V", "-c", rc, "sync:INBOX"], workdir)
            assert r.returncode == 0, "mbsync failed under concurrent changes" + log_of(r)
    finally:
        stop.set()
        t.join(60)
    assert not errors, errors
    r = mbsync(rc, workdir, "sync:INBOX")
    srv = Server(inst, user)
    try:
        far = srv.by_subject()
    finally:
        srv.close()
    near = local_folder(local, "INBOX")
    assert sorted(near) == sorted(far), log_of(r)
    for subj, (uid, flags, data) in far.items():
        assert near[subj][1] == flags - {"\\Deleted"}, (subj, near[subj][1], flags, log_of(r))


# --- mutt ------------------------------------------------------------------

def mutt_rc(inst, workdir, user, extra=""):
    rc = os.path.join(workdir, "muttrc")
    with open(rc, "w") as f:
        f.write('set imap_user="%s"\n'
                'set imap_pass="%s"\n'
                'set certificate_file="%s"\n'
                "set ssl_verify_host=no\n"
                "set folder=\"imaps://127.0.0.1:%d/\"\n"
                "set header_cache=\"\"\n"
                "set message_cachedir=\"\"\n"
                "set confirmcreate=no\n"
                "set confirmappend=no\n"
                "set move=no\n"
                "set quit=yes\n"
                "set mbox_type=mbox\n"
                "set sort=date-sent\n"
                "set mail_check=0\n"
                "set timeout=1\n"
                "set hostname=example.test\n"
                % (user, PASSWORD, os.path.join(inst.dir, "tls", "cert.pem"), inst.ports["imaps"]))
        f.write(extra)
    return rc


def run_pty(cmd, workdir, timeout=TIMEOUT):
    """Run a curses program on a pseudo-terminal; returns (exit status,
    what it drew, control sequences stripped roughly)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 132, 0, 0))
    env = dict(os.environ, HOME=workdir, TERM="vt100", LC_ALL="C.UTF-8")
    p = subprocess.Popen(cmd, stdin=slave, stdout=slave, stderr=slave, env=env, cwd=workdir,
                         start_new_session=True)
    os.close(slave)
    out = b""
    deadline = time.time() + timeout
    try:
        while time.time() < deadline:
            ready, _, _ = select.select([master], [], [], 0.5)
            if ready:
                try:
                    data = os.read(master, 65536)
                except OSError:  # EIO: the program ended, the pty is closed
                    break
                if not data:
                    break
                out += data
            elif p.poll() is not None:
                break
        else:
            os.killpg(p.pid, signal.SIGKILL)
        status = p.wait(timeout=10)
    finally:
        os.close(master)
    screen = re.sub(rb"\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][0-9A-B]|\x1b[=>78]|\x0f|\x0e", b" ", out)
    return status, screen.decode(errors="replace")[-6000:]


MUTT_ADDED = re.compile(rb"^(Status|X-Status|Content-Length|Lines): [^\n]*\n", re.M)


@pytest.mark.skipif(shutil.which("mutt") is None, reason="mutt is not installed")
def test_mutt_reads_and_writes(imap_instance, workdir):
    inst = imap_instance
    user = fresh_user(inst, "mutt")
    for s in ("alpha", "bravo", "charlie"):
        deliver(inst, user, msg(s, "body of %s\r\nsecond line\r\n" % s))
    srv = Server(inst, user)
    try:
        far = srv.by_subject()
        srv.store("INBOX", far["bravo"][0], "+FLAGS", "(\\Seen \\Flagged)")
        far = srv.by_subject()

        # read: copy every message of the IMAP INBOX to a local mbox
        saved = os.path.join(workdir, "saved.mbox")
        rc = mutt_rc(inst, workdir, user)
        status, screen = run_pty(
            ["mutt", "-n", "-F", rc, "-f", "imaps://127.0.0.1:%d/INBOX" % inst.ports["imaps"],
             "-e", 'push "<tag-pattern>~A<enter><tag-prefix><copy-message>%s<enter><quit>"' % saved],
            workdir)
        assert status == 0, screen
        assert os.path.exists(saved), screen
        got = {}
        for m in mailbox.mbox(saved):
            got[m["Subject"]] = m
        assert sorted(got) == ["alpha", "bravo", "charlie"], screen
        with open(saved, "rb") as f:
            raw = f.read()
        for part in re.split(rb"(?:^|\n)From [^\n]*\n", raw)[1:]:
            subj = re.search(rb"^Subject: (.*)$", part, re.M).group(1).decode()
            # mutt adds its own Status/X-Status/Content-Length/Lines headers
            # and a separating blank line; the rest is what the server sent
            assert MUTT_ADDED.sub(b"", part).rstrip(b"\n") == lf(far[subj][2]).rstrip(b"\n"), subj
        # the flags mutt read from the server
        assert "R" in (got["bravo"]["Status"] or "") and "F" in (got["bravo"]["X-Status"] or "")
        assert "F" not in (got["alpha"]["X-Status"] or "")

        # write: delete bravo, flag charlie, sync the mailbox, quit
        rc = mutt_rc(inst, workdir, user, "set delete=yes\n")
        status, screen = run_pty(
            ["mutt", "-n", "-F", rc, "-f", "imaps://127.0.0.1:%d/INBOX" % inst.ports["imaps"],
             "-e", 'push "<tag-pattern>~s bravo<enter><tag-prefix><delete-message>'
                   '<untag-pattern>~A<enter><tag-pattern>~s charlie<enter><tag-prefix><flag-message>'
                   '<sync-mailbox><quit>"'],
            workdir)
        assert status == 0, screen
        after = srv.by_subject()
        assert sorted(after) == ["alpha", "charlie"], (after.keys(), screen)
        assert "\\Flagged" in after["charlie"][1], (after["charlie"][1], screen)
        assert "\\Flagged" not in after["alpha"][1]
        assert after["alpha"][2] == far["alpha"][2]
    finally:
        srv.close()


@pytest.mark.skipif(shutil.which("mutt") is None, reason="mutt is not installed")
def test_mutt_batch_send_fcc_appends(imap_instance, workdir):
    """`mutt -s` with stdin not a terminal is mutt's batch mode; its Fcc
    (record) to an imaps:// folder is an IMAP APPEND."""
    inst = imap_instance
    user = fresh_user(inst, "muttb")
    sent = os.path.join(workdir, "sent.eml")
    stub = os.path.join(workdir, "sendmail-stub")
    with open(stub, "w") as f:
        f.write("#!/bin/sh\ncat > '%s'\n" % sent)
    os.chmod(stub, 0o755)
    rc = mutt_rc(inst, workdir, user,
                 'set sendmail="%s"\nset from="%s"\nset use_from=yes\nset copy=yes\n'
                 'set record="imaps://127.0.0.1:%d/Sent"\n' % (stub, user, inst.ports["imaps"]))
    r = run(["mutt", "-n", "-F", rc, "-s", "batch report", "someone@example.org"], workdir,
            input=b"line one\n.\nline three\n")
    assert r.returncode == 0, log_of(r)
    with open(sent, "rb") as f:
        handed = f.read()
    assert b"Subject: batch report\n" in handed
    srv = Server(inst, user)
    try:
        box = srv.by_subject("Sent")
        assert list(box) == ["batch report"], log_of(r)
        _, flags, data = box["batch report"]
        # mutt writes the Fcc copy apart from the one it hands sendmail:
        # the Date: may be a second later; every other byte is the same
        undated = re.compile(rb"^Date: [^\r\n]*\r?\n", re.M)
        assert undated.sub(b"", data) == undated.sub(b"", crlf(handed)), log_of(r)
        assert "\\Seen" in flags
    finally:
        srv.close()


# --- curl ------------------------------------------------------------------

def curl(inst, user, url_path, *args, scheme="imaps", port_name="imaps", workdir="/"):
    url = "%s://127.0.0.1:%d/%s" % (scheme, inst.ports[port_name], url_path)
    r = run(["curl", "-sS", "-v", "-k", "--max-time", "60", "-u", "%s:%s" % (user, PASSWORD)]
            + list(args) + [url], workdir)
    assert r.returncode == 0, "curl %s" % url + log_of(r)
    return r


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_curl_imaps(imap_instance, workdir):
    inst = imap_instance
    user = fresh_user(inst, "curl")
    deliver(inst, user, msg("first", "one\r\n"))
    deliver(inst, user, msg("second", "two\r\n" + "z" * 3000 + "\r\n.\r\n"))
    srv = Server(inst, user)
    try:
        far = srv.messages()
        # LIST: the top level, as imaplib sees it
        r = curl(inst, user, "")
        lines = r.stdout.decode().split("\r\n")
        assert lines[-1] == ""
        names = [re.match(r'\* LIST \([^)]*\) "/" "?([^"]*)"?$', l).group(1) for l in lines[:-1]]
        assert names == srv.folders(), log_of(r)
        assert '* LIST (\\HasNoChildren \\Sent) "/" "Sent"' in lines, log_of(r)

        # fetch by UID: the stored bytes, exactly
        stored = {}
        for sub in ("cur", "new"):
            d = os.path.join(maildir(inst, user), sub)
            for n in os.listdir(d):
                with open(os.path.join(d, n), "rb") as f:
                    stored[int(re.search(r",U=(\d+)", n).group(1))] = f.read()
        for uid, (flags, data) in far.items():
            r = curl(inst, user, "INBOX/;UID=%d" % uid)
            assert r.stdout == data == stored[uid], log_of(r)
        # curl fetches with BODY[] (not PEEK): \Seen is set now
        assert all("\\Seen" in f for f, _ in srv.messages().values())
        uid2 = max(far)
        r = curl(inst, user, "INBOX/;UID=%d/;SECTION=TEXT" % uid2)
        assert r.stdout == far[uid2][1].split(b"\r\n\r\n", 1)[1], log_of(r)
        r = curl(inst, user, "INBOX/;UID=%d/;PARTIAL=5.20" % uid2)
        assert r.stdout == far[uid2][1][5:25], log_of(r)

        # EXAMINE through a custom request, and SEARCH through the query
        r = curl(inst, user, "", "-X", "EXAMINE INBOX")
        out = r.stdout.decode()
        assert "* 2 EXISTS\r\n" in out and "[PERMANENTFLAGS ()]" in out, log_of(r)
        typ, data = srv.c.status("INBOX", "(UIDVALIDITY)")
        uv = re.search(rb"UIDVALIDITY (\d+)", data[0]).group(1).decode()
        assert "* OK [UIDVALIDITY %s]" % uv in out, log_of(r)
        r = curl(inst, user, "INBOX?SUBJECT%20second")
        assert r.stdout == b"* SEARCH 2\r\n", log_of(r)

        # upload: APPEND to Drafts, the bytes kept, \Seen as curl asks
        up = os.path.join(workdir, "draft.eml")
        body = b"From: c@example.test\r\nSubject: uploaded draft\r\n\r\nkeep these bytes\r\n.\r\n"
        with open(up, "wb") as f:
            f.write(body)
        r = curl(inst, user, "Drafts", "-T", up)
        drafts = srv.messages("Drafts")
        assert [d for _, d in drafts.values()] == [body], log_of(r)
        assert "\\Seen" in list(drafts.values())[0][0]

        # the STARTTLS listener with --ssl-reqd
        r = curl(inst, user, "INBOX/;UID=%d" % min(far), "--ssl-reqd", scheme="imap",
                 port_name="imap")
        assert r.stdout == far[min(far)][1], log_of(r)
        assert "STARTTLS" in r.stderr.decode(), log_of(r)
    finally:
        srv.close()


# --- fetchmail ---------------------------------------------------------------

# As root, fetchmail's lock is /var/run/fetchmail.pid: another fetchmail on
# the machine (another test, another worktree) would make ours give up, so
# every run names its own --pidfile.
def fetchmail(inst, workdir, user, keep):
    out = os.path.join(workdir, "fetched-%s" % ("keep" if keep else "nokeep"))
    os.makedirs(out)
    saver = os.path.join(workdir, "save.py")
    with open(saver, "w") as f:
        f.write("import sys, os\n"
                "d = sys.argv[1]\n"
                "n = len(os.listdir(d))\n"
                "open(os.path.join(d, '%03d' % n), 'wb').write(sys.stdin.buffer.read())\n")
    rc = os.path.join(workdir, "fetchmailrc")
    with open(rc, "w") as f:
        f.write('set no bouncemail\n'
                'poll 127.0.0.1 with protocol IMAP port %d and options no dns\n'
                '  user "%s" there with password "%s" is root here\n'
                '  ssl no sslcertck %s fetchall no rewrite\n'
                '  mda "/usr/bin/python3 %s %s"\n'
                % (inst.ports["imaps"], user, PASSWORD, "keep" if keep else "no keep", saver, out))
    os.chmod(rc, 0o600)
    r = run(["fetchmail", "-f", rc, "--idfile", os.path.join(workdir, "fetchids"),
             "--pidfile", os.path.join(workdir, "fetchmail.pid"),
             "--nosyslog", "--invisible", "-v"], workdir)
    assert r.returncode == 0, log_of(r)
    got = []
    for n in sorted(os.listdir(out)):
        with open(os.path.join(out, n), "rb") as f:
            got.append(f.read())
    return got, r


@pytest.mark.skipif(shutil.which("fetchmail") is None, reason="fetchmail is not installed")
def test_fetchmail_imap_keep_and_nokeep(imap_instance, workdir):
    inst = imap_instance
    user = fresh_user(inst, "fm")
    deliver(inst, user, msg("m1", "first\r\n.\r\n"))
    deliver(inst, user, msg("m2", "second\r\n" + "w" * 4000 + "\r\n"))
    deliver(inst, user, msg("m3", "third\r\n\r\n\r\n"))
    srv = Server(inst, user)
    try:
        srv.store("INBOX", 2, "+FLAGS", "(\\Seen)")
        far = srv.messages()
        got, r = fetchmail(inst, workdir, user, keep=True)
        assert sorted(got) == sorted(lf(d) for _, d in far.values()), log_of(r)
        after = srv.messages()
        assert sorted(after) == sorted(far), log_of(r)
        for uid, (flags, data) in after.items():
            assert "\\Seen" in flags, (uid, flags, log_of(r))
            assert data == far[uid][1]

        got, r = fetchmail(inst, workdir, user, keep=False)
        assert sorted(got) == sorted(lf(d) for _, d in far.values()), log_of(r)
        assert srv.messages() == {}, log_of(r)
        root = maildir(inst, user)
        assert os.listdir(os.path.join(root, "cur")) + os.listdir(os.path.join(root, "new")) == []
    finally:
        srv.close()


@pytest.mark.skipif(shutil.which("fetchmail") is None, reason="fetchmail is not installed")
def test_fetchmail_imap_idle_wakes_on_delivery(imap_instance, workdir):
    """fetchmail's `idle` option (RFC 2177): after the first poll it waits
    in IDLE; a delivery must reach its MDA within seconds, not at the next
    poll (-d 300)."""
    inst = imap_instance
    user = fresh_user(inst, "fmi")
    deliver(inst, user, msg("before idle", "already here\r\n"))
    out = os.path.join(workdir, "fetched")
    os.makedirs(out)
    saver = os.path.join(workdir, "save.py")
    with open(saver, "w") as f:
        f.write("import sys, os\n"
                "d = sys.argv[1]\n"
                "n = len(os.listdir(d))\n"
                "open(os.path.join(d, '.tmp%03d' % n), 'wb').write(sys.stdin.buffer.read())\n"
                "os.rename(os.path.join(d, '.tmp%03d' % n), os.path.join(d, '%03d' % n))\n")
    rc = os.path.join(workdir, "fetchmailrc")
    with open(rc, "w") as f:
        f.write('set no bouncemail\n'
                'poll 127.0.0.1 with protocol IMAP port %d and options no dns\n'
                '  user "%s" there with password "%s" is root here\n'
                '  ssl no sslcertck keep idle no rewrite\n'
                '  mda "/usr/bin/python3 %s %s"\n' % (inst.ports["imaps"], user, PASSWORD, saver, out))
    os.chmod(rc, 0o600)
    log = os.path.join(workdir, "fetchmail.log")
    with open(log, "wb") as logf:
        p = subprocess.Popen(["fetchmail", "-f", rc, "--nosyslog", "--invisible", "-v", "--nodetach",
                              "-d", "300", "--pidfile", os.path.join(workdir, "fetchmail.pid")],
                             stdout=logf, stderr=logf, cwd=workdir,
                             env=dict(os.environ, HOME=workdir), start_new_session=True)

    def fetched(n, timeout):
        deadline = time.time() + timeout
        while time.time() < deadline:
            names = sorted(x for x in os.listdir(out) if not x.startswith("."))
            if len(names) >= n:
                return names
            time.sleep(0.05)
        return sorted(x for x in os.listdir(out) if not x.startswith("."))

    def text():
        with open(log, "rb") as f:
            return f.read().decode(errors="replace")[-6000:]

    try:
        assert len(fetched(1, 30)) == 1, text()
        deadline = time.time() + 30
        while "+ idling" not in text() and time.time() < deadline:
            time.sleep(0.05)
        assert "+ idling" in text(), text()
        t0 = time.time()
        deliver(inst, user, msg("during idle", "wake up\r\n"))
        names = fetched(2, 10)
        took = time.time() - t0
        assert len(names) == 2, text()
        assert took < 5, "IDLE took %.1f s\n%s" % (took, text())
        with open(os.path.join(out, names[1]), "rb") as f:
            got = f.read()
        srv = Server(inst, user)
        try:
            assert got == lf(srv.by_subject()["during idle"][2]), text()
        finally:
            srv.close()
    finally:
        p.terminate()
        try:
            p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
