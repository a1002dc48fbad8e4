"""smtp_helpers.py - a raw SMTP client and start-up helpers for the SMTP
integration tests (test_smtp_*.py). The raw client speaks bytes on a
socket so that tests can send exactly what a broken or hostile client
would (bare LF, NUL, pipelined groups, oversized lines); smtplib is used
where a well-behaved client is the point.
"""
import os
import socket
import ssl
import time

from harness import TIMEOUT

USER = "alice@example.test"
PASSWORD = "correct horse battery"


def start_smtp(instance, params=(), users=(), queue_role=False):
    """Apply NAME=VALUE edits, add virtual users, start posternd, wait for
    the smtp role to listen. Without queue_role=True the queue role is not
    started (POSTERN_TEST_SKIP_ROLES=queue), so that the files the SMTP
    role writes stay in active/ for the test to read; tests of delivery
    pass queue_role=True."""
    if not queue_role:
        instance.env["POSTERN_TEST_SKIP_ROLES"] = "queue"
    for p in params:
        r = instance.run("config", "-e", p)
        assert r.returncode == 0, r.stderr
    for user, password in users:
        r = instance.run("user", "add", user, "--password-stdin", input=password + "\n")
        assert r.returncode == 0, r.stderr
    instance.start()
    instance.wait_log("smtp: ready")
    return instance


class Client:
    """A line-level SMTP client on a raw socket (optionally TLS)."""

    def __init__(self, port, tls=False, greet=True, host="127.0.0.1"):
        self.sock = socket.create_connection((host, port), timeout=TIMEOUT)
        self.buf = b""
        if tls:
            self.sock = client_context().wrap_socket(self.sock)
        self.greeting = self.reply() if greet else None

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def cmd(self, line):
        """Send one command, return its reply (all lines joined by \\n)."""
        self.send(line + "\r\n")
        return self.reply()

    def readline(self):
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("connection closed; got %r" % self.buf)
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\n")
        return line.rstrip(b"\r").decode("utf-8", "replace")

    def reply(self):
        lines = []
        while True:
            line = self.readline()
            lines.append(line)
            if len(line) < 4 or line[3] != "-":
                return "\n".join(lines)

    def closed(self, timeout=None):
        """True when the server closed the connection (EOF) in time."""
        self.sock.settimeout(timeout or TIMEOUT)
        try:
            while True:
                data = self.sock.recv(65536)
                if not data:
                    return True
                self.buf += data
        except (ConnectionResetError, ssl.SSLError):
            return True
        except socket.timeout:
            return False

    def starttls(self):
        r = self.cmd("STARTTLS")
        assert r == "220 2.0.0 Ready to start TLS", r
        self.sock = client_context().wrap_socket(self.sock)
        return r

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def client_context():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def queue_files(instance, sub="active"):
    d = os.path.join(instance.dir, "queue", sub)
    return sorted(os.listdir(d))


def read_queue_file(instance, qid, sub="active"):
    with open(os.path.join(instance.dir, "queue", sub, qid), "rb") as f:
        return f.read()


def parse_queue_file(data):
    """(records as a list of (name, value bytes), message bytes)."""
    magic = b"POSTERN-QUEUE 1\n"
    assert data.startswith(magic), data[:40]
    pos = len(magic)
    records = []
    while True:
        sp = data.index(b" ", pos)
        name = data[pos:sp].decode()
        if name == "message":
            nl = data.index(b"\n", sp)
            size = int(data[sp + 1:nl])
            body = data[nl + 1:]
            assert len(body) == size, (len(body), size)
            return records, body
        colon = data.index(b":", sp)
        n = int(data[sp + 1:colon])
        value = data[colon + 1:colon + 1 + n]
        assert data[colon + 1 + n:colon + 2 + n] == b"\n"
        records.append((name, value))
        pos = colon + 2 + n


def queued_id(reply):
    assert reply.startswith("250 2.0.0 Ok: queued as "), reply
    return reply.rsplit(" ", 1)[1]


def wait_until(pred, what, timeout=None):
    deadline = time.time() + (timeout or TIMEOUT)
    while time.time() < deadline:
        if pred():
            return True
        time.sleep(0.05)
    raise AssertionError("timed out waiting for " + what)


def module_instance(params=(), users=(), files=None, extra_conf=""):
    """A generator for module-scoped fixtures: one running instance shared
    by the tests of a file (start-up costs a second), checked on teardown
    like the function-scoped `instance` fixture. files: name -> text
    written into the instance directory first; "{dir}" in params is that
    directory. extra_conf: lines appended to postern.conf as they are
    (restriction class definitions, which `config -e` refuses)."""
    import shutil
    import tempfile
    from harness import BAD_MARKERS, make_instance, reap_leftovers
    d = tempfile.mkdtemp(prefix="postern-it-")
    os.chmod(d, 0o755)
    inst = make_instance(d)
    for name, text in (files or {}).items():
        with open(os.path.join(inst.dir, name), "w") as f:
            f.write(text)
        os.chmod(os.path.join(inst.dir, name), 0o644)
    if extra_conf:
        inst.append_conf(extra_conf.replace("{dir}", inst.dir))
    start_smtp(inst, [p.replace("{dir}", inst.dir) for p in params], users)
    yield inst
    problems = []
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
    shutil.rmtree(d, ignore_errors=True)
    assert not problems, "; ".join(problems) + "\n--- log:\n" + text[-8000:]
