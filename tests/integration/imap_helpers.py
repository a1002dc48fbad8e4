"""imap_helpers.py - start-up helpers and clients for the IMAP integration
tests (test_imap_*.py).

Fixture `imap_instance` (module scope): one Postern instance per test
module with the imap (143 + port base, STARTTLS) and imaps (993 + port
base, implicit TLS) listeners, imap_processes = 2, virtual users USERS
with their passwords, started and ready. Tests that need a clean mailbox
use their own user (`add_user`) or `fresh_user()`.

Clients:
  imap(inst)              imaplib.IMAP4 on the plaintext listener (loopback,
                          so LOGIN is allowed without TLS)
  imaps(inst)             imaplib.IMAP4_SSL on imaps, no certificate check
  login(inst, user)       imap() + LOGIN
  Raw(inst, ...)          a byte-exact client on a socket: send() bytes,
                          line() / until_tagged(tag) to read, for malformed
                          input and exact response checks
Delivery: deliver(inst, user, message_bytes) runs `postern deliver USER`.

Module scope keeps the suite fast (one start per file); the instance is
stopped and checked like the harness's `instance` fixture (no sanitizer
report, no process left).
"""
import imaplib
import itertools
import os
import shutil
import socket
import ssl
import tempfile
import time

import pytest

from harness import BAD_MARKERS, TIMEOUT, make_instance, reap_leftovers

PASSWORD = "correct horse battery"
USERS = ("alice@example.test", "bob@example.test")

_counter = itertools.count(1)


def client_context():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def add_user(inst, user, password=PASSWORD):
    r = inst.run("user", "add", user, "--password-stdin", input=password + "\n")
    assert r.returncode == 0, r.stderr
    return user


def fresh_user(inst, prefix="u"):
    """A new virtual user with PASSWORD and an empty mailbox."""
    return add_user(inst, "%s%d@example.test" % (prefix, next(_counter)))


def start_imap(inst, params=(), users=USERS):
    """Apply NAME=VALUE edits, add users, start posternd, wait for imap."""
    for p in params:
        r = inst.run("config", "-e", p)
        assert r.returncode == 0, r.stderr
    for u in users:
        add_user(inst, u)
    inst.start()
    inst.wait_log("imap: ready")
    return inst


def stop_and_check(inst):
    problems = []
    if inst.proc is not None and inst.proc.returncode is None:
        try:
            inst.stop()
        except AssertionError as e:
            problems.append(str(e))
    left = reap_leftovers(inst.conf)
    if left:
        problems.append("processes left behind and killed: %s" % left)
    text = inst.log_text()
    for marker in BAD_MARKERS:
        if marker in text:
            problems.append("%s in posternd output" % marker)
    return problems, text


@pytest.fixture(scope="module")
def imap_instance():
    d = tempfile.mkdtemp(prefix="postern-imap-")
    os.chmod(d, 0o755)
    inst = make_instance(d)
    try:
        start_imap(inst, params=("imap_processes=2", "auth_failure_delay=0"))
        yield inst
    finally:
        problems, text = stop_and_check(inst)
        shutil.rmtree(d, ignore_errors=True)
        if problems:
            pytest.fail("; ".join(problems) + "\n--- log:\n" + text[-8000:])


def deliver(inst, user, message, mailbox=None):
    """Deliver message (bytes or str) to user with `postern deliver`."""
    if isinstance(message, str):
        message = message.encode()
    args = ["deliver"] + (["-m", mailbox] if mailbox else []) + [user]
    import subprocess
    r = subprocess.run([inst.bin("postern"), "-c", inst.conf] + args, input=message,
                       capture_output=True, env=inst.env, timeout=TIMEOUT)
    assert r.returncode == 0, r.stderr.decode(errors="replace")


def message(subject="test", body="hello\r\n", sender="carol@example.org", to="alice@example.test"):
    return ("From: %s\r\nTo: %s\r\nSubject: %s\r\nDate: Wed, 25 Nov 2026 10:00:00 +0000\r\n"
            "Message-ID: <%d.%f@example.org>\r\n\r\n%s" % (sender, to, subject, next(_counter),
                                                          time.time(), body))


def imap(inst):
    c = imaplib.IMAP4("127.0.0.1", inst.ports["imap"], timeout=TIMEOUT)
    return c


def imaps(inst):
    return imaplib.IMAP4_SSL("127.0.0.1", inst.ports["imaps"], ssl_context=client_context(),
                             timeout=TIMEOUT)


def login(inst, user=USERS[0], password=PASSWORD):
    c = imap(inst)
    typ, _ = c.login(user, password)
    assert typ == "OK"
    return c


class Raw:
    """A byte-level IMAP client: what a broken or hostile client sends."""

    def __init__(self, inst, tls=False, port=None, host="127.0.0.1", greet=True):
        port = port or inst.ports["imaps" if tls else "imap"]
        self.sock = socket.create_connection((host, port), timeout=TIMEOUT)
        if tls:
            self.sock = client_context().wrap_socket(self.sock)
        self.buf = b""
        self.greeting = self.line() if greet else None

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def line(self):
        """One response line without CRLF (str; bytes kept as latin-1)."""
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("connection closed; got %r" % self.buf)
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\r\n")
        return line.decode("latin-1")

    def until_tagged(self, tag):
        """Lines up to and including the tagged response of tag."""
        lines = []
        while True:
            line = self.line()
            lines.append(line)
            if line.startswith(tag + " "):
                return lines

    def cmd(self, tag, text):
        """Send 'tag text' and return (untagged lines, tagged line)."""
        self.send("%s %s\r\n" % (tag, text))
        lines = self.until_tagged(tag)
        return lines[:-1], lines[-1]

    def login(self, user=USERS[0], password=PASSWORD, tag="L1"):
        _, t = self.cmd(tag, 'LOGIN "%s" "%s"' % (user, password))
        assert t.startswith(tag + " OK"), t
        return t

    def starttls(self, tag="T1"):
        _, t = self.cmd(tag, "STARTTLS")
        assert t == tag + " OK Begin TLS negotiation now.", t
        self.sock = client_context().wrap_socket(self.sock)
        return t

    def closed(self, timeout=None):
        """True when the server closed the connection in time."""
        self.sock.settimeout(timeout or TIMEOUT)
        try:
            while True:
                data = self.sock.recv(65536)
                if not data:
                    return True
                self.buf += data
        except (ConnectionResetError, BrokenPipeError, ssl.SSLError):
            return True
        except socket.timeout:
            return False

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def role_worker_pids(inst):
    """PIDs of the imap role's worker processes (children of the role)."""
    role = inst.role_pid("imap")
    if role is None:
        return []
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == role and fields[0] != "Z":
            pids.append(int(entry))
    return pids


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0
