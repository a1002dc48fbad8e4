"""pop3_helpers.py - a raw POP3 client, message delivery and the stored
bytes of a message, for tests/integration/test_pop3.py and
tests/interop/test_pop3_clients.py. The raw client speaks bytes so tests
can compare exactly what goes over the wire (CRLF, dot-stuffing) and send
what a broken client would; poplib is used where a well-behaved client is
the point.
"""
import os
import re
import socket
import ssl
import subprocess

from harness import TIMEOUT

PASSWORD = "pop3 secret pass"


def client_context():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def add_users(instance, users):
    for user in users:
        r = instance.run("user", "add", user, "--password-stdin", input=PASSWORD + "\n")
        assert r.returncode == 0, r.stderr


def deliver(instance, user, data):
    """Deliver bytes to user's INBOX through `postern deliver`."""
    r = subprocess.run([instance.bin("postern"), "-c", instance.conf, "deliver", user],
                       input=data, capture_output=True, env=instance.env, timeout=TIMEOUT)
    assert r.returncode == 0, r.stderr


def maildir(instance, user):
    local, domain = user.split("@")
    return os.path.join(instance.dir, "mail", domain, local)


def _uid_of(path):
    """The UID the store wrote into a Maildir name (",U=<uid>"), so files
    sort in delivery order: the names' M<microseconds> part is not zero
    padded, so sorting the names as text is not."""
    m = re.search(r",U=(\d+)", os.path.basename(path))
    return (0, int(m.group(1)), "") if m else (1, 0, os.path.basename(path))


def stored_files(instance, user):
    """Paths of the user's INBOX message files, in UID (= delivery) order."""
    d = maildir(instance, user)
    out = []
    for sub in ("cur", "new"):
        p = os.path.join(d, sub)
        if os.path.isdir(p):
            out += [os.path.join(p, n) for n in os.listdir(p)]
    return sorted(out, key=_uid_of)


def stored_message(instance, user, marker):
    """The stored bytes of the one message containing marker."""
    for path in stored_files(instance, user):
        with open(path, "rb") as f:
            data = f.read()
        if marker in data:
            return data
    raise AssertionError("no stored message contains %r" % marker)


def crlf(data):
    """What RETR must send (before dot-stuffing): every bare LF as CRLF."""
    out = bytearray()
    prev = None
    for b in data:
        if b == 0x0A and prev != 0x0D:
            out += b"\r"
        out.append(b)
        prev = b
    return bytes(out)


class Client:
    """A line-level POP3 client on a raw socket (optionally TLS)."""

    def __init__(self, port, tls=False, greet=True, host="127.0.0.1", source=None):
        self.sock = socket.create_connection((host, port), timeout=TIMEOUT,
                                             source_address=(source, 0) if source else None)
        self.buf = b""
        if tls:
            self.sock = client_context().wrap_socket(self.sock)
        self.greeting = self.line() if greet else None

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("connection closed; got %r" % self.buf)
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\r\n")
        return line.decode("utf-8", "replace")

    def cmd(self, line):
        self.send(line + "\r\n")
        return self.line()

    def multi_raw(self):
        """The raw bytes of a multi-line body up to and without CRLF.CRLF
        (still dot-stuffed), after the status line was read."""
        end = b"\r\n.\r\n"
        while True:
            if self.buf.startswith(b".\r\n"):
                self.buf = self.buf[3:]
                return b""
            i = self.buf.find(end)
            if i >= 0:
                body = self.buf[:i + 2]
                self.buf = self.buf[i + len(end):]
                return body
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                raise EOFError("connection closed inside a multi-line reply")
            self.buf += chunk

    def multi(self, line):
        """Send a command; return (status line, un-dot-stuffed body bytes)."""
        status = self.cmd(line)
        if not status.startswith("+OK"):
            return status, None
        raw = self.multi_raw()
        return status, unstuff(raw)

    def login(self, user, password=PASSWORD):
        r = self.cmd("USER " + user)
        assert r.startswith("+OK"), r
        r = self.cmd("PASS " + password)
        assert r.startswith("+OK"), r
        return r

    def stls(self):
        r = self.cmd("STLS")
        assert r.startswith("+OK"), r
        self.sock = client_context().wrap_socket(self.sock)
        return r

    def closed(self, timeout=None):
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

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def unstuff(raw):
    """Undo RFC 1939 dot-stuffing of a body ending in CRLF."""
    lines = raw.split(b"\r\n")
    return b"\r\n".join(l[1:] if l.startswith(b".") else l for l in lines)
