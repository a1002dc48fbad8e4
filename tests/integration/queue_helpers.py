"""queue_helpers.py - shared pieces of the queue role's integration tests
(test_queue_*.py): a small SMTP server on loopback that stands in for
remote MTAs (threads of the pytest process, no aiosmtpd), start-up of an
instance with the queue's settings, sending through the mx listener, and
reading a user's Maildir.
"""
import base64
import glob
import os
import smtplib
import socket
import threading
import time

import pytest

from harness import TIMEOUT

DOMAIN = "example.test"          # the userdb domain postern init creates
LOCAL = "mail.example.test"      # myhostname: in mydestination
PASSWORD = "correct horse battery"


class FakeSMTP:
    """A line-based SMTP server on 127.0.0.1 that records what it gets.

    rcpt_reply(addr) -> reply line for RCPT (default "250 2.1.5 Ok");
    data_reply(n) -> reply for the n-th (0-based) DATA (default 250);
    auth=(user, password) advertises AUTH PLAIN LOGIN and requires it;
    delay: seconds to sleep before answering each DATA (a slow MTA);
    greeting: the first line (None: say nothing, a server that hangs).
    messages: list of dicts {mail_from, rcpts, data, auth}.
    """

    def __init__(self, port=0, host="127.0.0.1", rcpt_reply=None, data_reply=None,
                 auth=None, delay=0.0, greeting="220 fake.example ESMTP"):
        self.rcpt_reply = rcpt_reply or (lambda addr: "250 2.1.5 Ok")
        self.data_reply = data_reply or (lambda n: "250 2.0.0 Ok: queued")
        self.auth = auth
        self.delay = delay
        self.greeting = greeting
        self.messages = []
        self.rcpt_attempts = []
        self.sessions = 0
        self.active = 0
        self.max_active = 0       # most sessions open at once
        self.lock = threading.Lock()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, port))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.stopping = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def close(self):
        self.stopping = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        self.thread.join(timeout=5)

    def _serve(self):
        while not self.stopping:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._session, args=(conn,), daemon=True).start()

    def _session(self, conn):
        with self.lock:
            self.sessions += 1
            self.active += 1
            self.max_active = max(self.max_active, self.active)
        conn.settimeout(TIMEOUT)
        f = conn.makefile("rb")

        def say(line):
            conn.sendall(line.encode() + b"\r\n")

        try:
            if self.greeting is None:        # a server that never answers
                while f.readline(8192):
                    pass
                return
            say(self.greeting)
            if not self.greeting.startswith("220"):
                return
            mail_from, rcpts, authed = None, [], None
            while True:
                raw = f.readline(8192)
                if not raw:
                    return
                line = raw.decode("utf-8", "replace").rstrip("\r\n")
                verb = line.split(" ", 1)[0].upper()
                if verb in ("EHLO", "HELO"):
                    ext = ["fake.example", "PIPELINING", "8BITMIME", "SIZE 10240000"]
                    if self.auth:
                        ext.append("AUTH PLAIN LOGIN")
                    if verb == "HELO":
                        ext = ext[:1]
                    for e in ext[:-1]:
                        say("250-" + e)
                    say("250 " + ext[-1])
                elif verb == "AUTH":
                    authed = self._auth(line, f, say)
                elif verb == "MAIL":
                    if self.auth and not authed:
                        say("530 5.7.0 Authentication required")
                        continue
                    mail_from = line[10:].split(">", 1)[0].lstrip("<")
                    rcpts = []
                    say("250 2.1.0 Ok")
                elif verb == "RCPT":
                    addr = line[8:].split(">", 1)[0].lstrip("<")
                    reply = self.rcpt_reply(addr)
                    with self.lock:
                        self.rcpt_attempts.append((addr, reply))
                    if reply.startswith("2"):
                        rcpts.append(addr)
                    say(reply)
                elif verb == "DATA":
                    if not rcpts:
                        say("554 5.5.1 No valid recipients")
                        continue
                    say("354 End data with <CR><LF>.<CR><LF>")
                    data = b""
                    while True:
                        chunk = f.readline(1 << 20)
                        if not chunk:
                            return
                        if chunk in (b".\r\n", b".\n"):
                            break
                        if chunk.startswith(b".."):
                            chunk = chunk[1:]
                        data += chunk
                    if self.delay:
                        time.sleep(self.delay)
                    with self.lock:
                        n = len(self.messages)
                        reply = self.data_reply(n)
                        if reply.startswith("2"):
                            self.messages.append({"mail_from": mail_from, "rcpts": list(rcpts),
                                                  "data": data, "auth": authed})
                    say(reply)
                elif verb == "RSET":
                    mail_from, rcpts = None, []
                    say("250 2.0.0 Ok")
                elif verb == "NOOP":
                    say("250 2.0.0 Ok")
                elif verb == "QUIT":
                    say("221 2.0.0 Bye")
                    return
                else:
                    say("502 5.5.2 Error: command not recognized")
        except OSError:
            pass
        finally:
            with self.lock:
                self.active -= 1
            try:
                conn.close()
            except OSError:
                pass

    def _auth(self, line, f, say):
        parts = line.split()
        mech = parts[1].upper() if len(parts) > 1 else ""
        if mech == "PLAIN":
            if len(parts) > 2:
                blob = parts[2]
            else:
                say("334 ")
                blob = f.readline().decode().strip()
            try:
                _, user, password = base64.b64decode(blob).decode().split("\0")
            except (ValueError, UnicodeDecodeError):
                say("501 5.5.2 Bad PLAIN data")
                return None
        elif mech == "LOGIN":
            say("334 VXNlcm5hbWU6")
            user = base64.b64decode(f.readline().decode().strip()).decode()
            say("334 UGFzc3dvcmQ6")
            password = base64.b64decode(f.readline().decode().strip()).decode()
        else:
            say("504 5.5.4 Unrecognized authentication type")
            return None
        if self.auth and (user, password) == tuple(self.auth):
            say("235 2.7.0 Authentication successful")
            return user
        say("535 5.7.8 Authentication failed")
        return None

    def wait_messages(self, count, timeout=None, what="messages at the fake server"):
        deadline = time.time() + (timeout or TIMEOUT)
        while time.time() < deadline:
            with self.lock:
                if len(self.messages) >= count:
                    return list(self.messages)
            time.sleep(0.05)
        raise AssertionError("timed out waiting for %d %s; got %d" % (count, what, len(self.messages)))


def start_queue(instance, conf=(), users=(), domains=()):
    """Append conf lines, add domains and virtual users, start posternd and
    wait for the smtp and queue roles. The userdb's domain (example.test)
    is made a virtual mailbox domain: postern init does not list it in
    virtual_mailbox_domains, and without that its mail is relayed."""
    conf = ["virtual_mailbox_domains = " + " ".join([DOMAIN] + list(domains))] + list(conf)
    for d in domains:
        r = instance.run("domain", "add", d)
        assert r.returncode == 0, r.stderr
    for u in users:
        r = instance.run("user", "add", u, "--password-stdin", input=PASSWORD + "\n")
        assert r.returncode == 0, r.stderr
    for line in conf:
        instance.append_conf(line)
    instance.start()
    instance.wait_log("smtp: ready")
    st = instance.status()
    if not any(r.get("name") == "queue" for r in (st or {}).get("roles", [])):
        pytest.skip("needs the queue role in master/roles.c (it waits for qmsg, resolve, bounce, "
                    "pickup and the SMTP client on main)")
    instance.wait_log("queue: ready")
    return instance


def send(instance, sender, rcpts, subject="test", body="hello\r\n", msgid=None, headers=""):
    """One message through the mx listener; returns the queue id."""
    msgid = msgid or "<%s.%f@client.example.net>" % (subject.replace(" ", "-"), time.time())
    if isinstance(rcpts, str):
        rcpts = [rcpts]
    msg = ("From: <%s>\r\nTo: %s\r\nSubject: %s\r\nMessage-ID: %s\r\n%s\r\n%s"
           % (sender or "MAILER-DAEMON", ", ".join("<%s>" % r for r in rcpts), subject, msgid, headers, body))
    s = smtplib.SMTP("127.0.0.1", instance.ports["mx"], timeout=TIMEOUT)
    try:
        s.ehlo("client.example.net")
        code, reply = s.mail(sender)
        assert code == 250, reply
        for r in rcpts:
            code, reply = s.rcpt(r)
            assert code == 250, (r, code, reply)
        code, reply = s.data(msg.encode())
        assert code == 250, reply
        s.quit()
    finally:
        s.close()
    return reply.decode().rsplit(" ", 1)[-1]


def mailbox(instance, addr):
    """The messages (bytes) in the Maildir INBOX of a user of a virtual
    domain (mail_location = maildir:DIR/mail/%d/%n), oldest first."""
    local, _, domain = addr.partition("@")
    root = os.path.join(instance.dir, "mail", domain, local)
    files = glob.glob(os.path.join(root, "new", "*")) + glob.glob(os.path.join(root, "cur", "*"))
    out = []
    for path in sorted(files, key=lambda p: os.stat(p).st_mtime):
        with open(path, "rb") as f:
            out.append(f.read())
    return out


def wait_mailbox(instance, addr, count, timeout=None):
    return instance.wait_for(lambda: (lambda m: m if len(m) >= count else None)(mailbox(instance, addr)),
                             "%d message(s) in %s's mailbox" % (count, addr), timeout)


def queue_files(instance, qdir):
    return sorted(os.listdir(os.path.join(instance.dir, "queue", qdir)))


def pickup(instance, sender, rcpts, message):
    """Submit message (bytes) through the pickup socket as sendmail does
    (smtp/queue/pickup.h); returns the queue id."""
    if isinstance(rcpts, str):
        rcpts = [rcpts]
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(TIMEOUT)
    s.connect(os.path.join(instance.run_dir, "pickup"))
    req = b"SENDER %s\n" % sender.encode()
    for r in rcpts:
        req += b"RCPT %s\n" % r.encode()
    s.sendall(req + b"DATA %d\n" % len(message) + message)
    answer = b""
    while not answer.endswith(b"\n"):
        chunk = s.recv(4096)
        if not chunk:
            break
        answer += chunk
    s.close()
    assert answer.startswith(b"OK ") and len(answer) == 16, answer
    return answer[3:15].decode()
