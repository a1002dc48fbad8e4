"""test_sendmail.py - bin/sendmail as cron, PHP's mail() and scripts call it.

Two halves:

- Against a fake queue role: a unix socket server in this process speaks
  the pickup protocol (smtp/queue/pickup.h) on queue_pickup_socket, records
  what sendmail sent and answers as told. This pins sendmail's side
  exactly (options -> request lines, the lone-dot rule, -bs unstuffing,
  exit statuses and texts) without depending on the queue role.
- Against a running posternd with the queue role: the message really
  lands in the queue (skipped until the queue role is built).
"""
import os
import socket
import subprocess
import threading

import pytest

from harness import BIN, ROOT, TIMEOUT

SENDMAIL = os.path.join(BIN, "sendmail")
QUEUE_ROLE_BUILT = os.path.exists(os.path.join(ROOT, "smtp", "queue", "queue-role.c"))


class FakePickup:
    """Serves the pickup protocol: request lines up to "DATA N", N bytes,
    then self.answer. Each submission is recorded as (lines, message)."""

    def __init__(self, path):
        self.path = path
        self.answer = "OK 0123456789AB"
        self.got = []
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.stopping = False
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        while not self.stopping:
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with conn:
                conn.settimeout(TIMEOUT)
                self.one(conn)

    def one(self, conn):
        buf = b""
        lines = []
        while True:
            while b"\n" not in buf:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                buf += chunk
            line, buf = buf.split(b"\n", 1)
            lines.append(line.decode())
            if line.startswith(b"DATA "):
                size = int(line[5:])
                while len(buf) < size:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    buf += chunk
                self.got.append((lines, buf[:size]))
                conn.sendall(self.answer.encode() + b"\n")
                return

    def stop(self):
        self.stopping = True
        self.thread.join(TIMEOUT)
        self.sock.close()


@pytest.fixture
def fake(instance):
    path = os.path.join(instance.dir, "run", "fake-pickup")
    instance.append_conf("queue_pickup_socket = %s" % path)
    server = FakePickup(path)
    server.instance = instance
    yield server
    server.stop()


def sendmail(instance, *args, input="", argv0=None):
    """Run bin/sendmail (as argv0, e.g. "mailq", when given) with -C CONF."""
    cmd = [argv0 or SENDMAIL, "-C", instance.conf] + list(args)
    return subprocess.run(cmd, input=input.encode(), capture_output=True, timeout=TIMEOUT,
                          executable=SENDMAIL, env=instance.env)


CRON_MESSAGE = ("To: root\nSubject: Cron <root@host> /usr/local/bin/backup\n"
                "Content-Type: text/plain; charset=UTF-8\n\nbackup done\n")


def test_cron_style_t_i(fake):
    # cron: sendmail -FCronDaemon -i -B8BITMIME -oem root  (Debian) or -t -i
    r = sendmail(fake.instance, "-t", "-i", input=CRON_MESSAGE)
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"" and r.stderr == b""
    lines, msg = fake.got[0]
    assert lines == ["EXTRACT", "DATA %d" % len(CRON_MESSAGE)]
    assert msg == CRON_MESSAGE.encode()


def test_debian_cron_options(fake):
    r = sendmail(fake.instance, "-FCronDaemon", "-i", "-B8BITMIME", "-oem", "root", input=CRON_MESSAGE)
    assert r.returncode == 0, r.stderr
    lines, msg = fake.got[0]
    assert lines == ["FULLNAME CronDaemon", "RCPT root", "DATA %d" % len(CRON_MESSAGE)]


def test_php_mail_style(fake):
    # PHP's mail(): sendmail_path = "/usr/sbin/sendmail -t -i", plus -f with
    # the fifth argument; CR LF line ends pass through unchanged.
    msg = "To: bob@example.net\r\nSubject: php\r\nFrom: web@example.org\r\n\r\n.hidden line?\r\n.\r\nstill body\r\n"
    r = sendmail(fake.instance, "-t", "-i", "-fweb@example.org", input=msg)
    assert r.returncode == 0, r.stderr
    lines, got = fake.got[0]
    assert lines == ["SENDER web@example.org", "EXTRACT", "DATA %d" % len(msg)]
    assert got == msg.encode()   # -i: a lone "." is content


def test_recipient_arguments_and_lone_dot(fake):
    msg = "Subject: x\n\nfirst\n..two dots\n.\nnot sent\n"
    r = sendmail(fake.instance, "bob@example.net", "carol@example.net, Dave <dave@example.net>",
                 input=msg)
    assert r.returncode == 0, r.stderr
    lines, got = fake.got[0]
    assert lines[:3] == ["RCPT bob@example.net", "RCPT carol@example.net", "RCPT Dave <dave@example.net>"]
    # Without -i a lone "." ends the message; no dot-unstuffing otherwise.
    assert got == b"Subject: x\n\nfirst\n..two dots\n"
    assert lines[3] == "DATA %d" % len(got)


def test_sender_name_and_dsn_options(fake):
    r = sendmail(fake.instance, "-f", "<>", "-F", "Build Robot", "-N", "failure,delay", "-R", "hdrs",
                 "-V", "id+1 x", "-v", "ops@example.net", input="x\n")
    assert r.returncode == 0, r.stderr
    assert r.stderr == b"sendmail: queued as 0123456789AB\n"
    lines, _ = fake.got[0]
    assert lines == ["SENDER <>", "FULLNAME Build Robot", "RCPT ops@example.net", "NOTIFY failure,delay",
                     "RET hdrs", "ENVID id+2B1+20x", "DATA 2"]


@pytest.mark.parametrize("answer,status", [
    ("ERR 5.1.3 bad recipient address \"x@@y\": bad address syntax", 67),
    ("ERR 5.3.4 message file too big: 9 bytes; message_size_limit is 1 bytes", 65),
    ("ERR 5.7.1 no login name for user id 4242 in the password file; give the sender with -f", 69),
    ("ERR 4.3.0 queue file write error; see the mail log", 75),
])
def test_refusals_are_printed_with_sysexits(fake, answer, status):
    fake.answer = answer
    r = sendmail(fake.instance, "bob@example.net", input="x\n")
    assert r.returncode == status
    assert r.stderr.decode() == "sendmail: fatal: %s\n" % answer.split(" ", 2)[2]


def test_no_answer_is_tempfail(fake):
    fake.answer = ""   # closes after an empty line: not an answer
    r = sendmail(fake.instance, "bob@example.net", input="x\n")
    assert r.returncode == 75
    assert b"sendmail: fatal: cannot submit mail: unexpected answer" in r.stderr or \
        b"without an answer" in r.stderr


def test_no_queue_role_is_tempfail(instance):
    r = sendmail(instance, "-t", "-i", input=CRON_MESSAGE)
    assert r.returncode == 75
    assert b"sendmail: fatal: cannot submit mail: cannot connect to the queue role at " in r.stderr
    assert r.stderr.endswith(b"is posternd running? (postern start)\n")


def test_usage_errors(instance):
    r = sendmail(instance, input="x\n")
    assert r.returncode == 64
    assert r.stderr.startswith(b"sendmail: fatal: no recipients specified; give them as arguments or use -t\n")
    r = sendmail(instance, "-bz")
    assert r.returncode == 64
    assert b"unsupported mode \"-bz\"" in r.stderr


def test_bs_dialogue(fake):
    dialogue = ("EHLO client.example\r\nMAIL FROM:<alice@example.org> ENVID=a+2Bb RET=HDRS\r\nRCPT TO:<bob@example.net>\r\n"
                "RCPT TO:<carol@example.net> NOTIFY=SUCCESS\r\nDATA\r\nSubject: bs\r\n\r\n..dot\r\nbody\r\n.\r\n"
                "QUIT\r\n")
    r = sendmail(fake.instance, "-bs", input=dialogue)
    assert r.returncode == 0, r.stderr
    out = r.stdout.decode().split("\r\n")
    assert out[0] == "220 mail.example.test ESMTP Postern"
    assert out[1] == "250-mail.example.test"
    assert "250-PIPELINING" in out and "250-DSN" in out
    i = out.index("250 SMTPUTF8")
    assert out[i + 1:] == ["250 2.1.0 Ok", "250 2.1.5 Ok", "250 2.1.5 Ok",
                           "354 End data with <CR><LF>.<CR><LF>",
                           "250 2.0.0 Ok: queued as 0123456789AB", "221 2.0.0 Bye", ""]
    lines, msg = fake.got[0]
    assert lines == ["SENDER alice@example.org", "RCPT bob@example.net", "RCPT carol@example.net",
                     "NOTIFY success", "RET hdrs", "ENVID a+2Bb", "DATA %d" % len(msg)]
    assert msg == b"Subject: bs\r\n\r\n.dot\r\nbody\r\n"


def test_bs_errors(fake):
    dialogue = ("MAIL FROM:<a@b.c>\r\nHELO x\r\nRCPT TO:<b@c.d>\r\nMAIL FROM:a@b@c\r\nDATA\r\n"
                "MAIL FROM:<a@b.c>\r\nMAIL FROM:<a@b.c>\r\nDATA\r\nFROB\r\nVRFY x\r\n" + "x" * 3000 + "\r\n"
                "RSET\r\nNOOP\r\nQUIT\r\n")
    r = sendmail(fake.instance, "-bs", input=dialogue)
    assert r.returncode == 0
    assert r.stdout.decode().split("\r\n")[1:] == [
        "503 5.5.1 Error: send HELO/EHLO first",
        "250 mail.example.test",
        "503 5.5.1 Error: need MAIL command",
        "501 5.1.7 Bad sender address syntax",
        "503 5.5.1 Error: need RCPT command",
        "250 2.1.0 Ok",
        "503 5.5.1 Error: nested MAIL command",
        "503 5.5.1 Error: need RCPT command",
        "502 5.5.2 Error: command not recognized",
        "502 5.5.1 VRFY command is disabled",
        "500 5.5.0 Error: line too long",
        "250 2.0.0 Ok",
        "250 2.0.0 Ok",
        "221 2.0.0 Bye",
        "",
    ]
    assert fake.got == []


def test_bs_queue_down_is_451(instance):
    r = sendmail(instance, "-bs", input="HELO x\r\nMAIL FROM:<>\r\nRCPT TO:<b@c.d>\r\nDATA\r\nx\r\n.\r\nQUIT\r\n")
    out = r.stdout.decode().split("\r\n")
    assert out[4] == "354 End data with <CR><LF>.<CR><LF>"
    assert out[5].startswith("451 4.3.0 Error: cannot submit mail: cannot connect to the queue role")
    assert out[6] == "221 2.0.0 Bye"


def test_mailq_and_flush_without_posternd(instance):
    r = sendmail(instance, "-bp")
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"Mail queue is empty\n"
    r = sendmail(instance, argv0="mailq")
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"Mail queue is empty\n"
    r = sendmail(instance, "-q")
    assert r.returncode == 75
    assert r.stderr.startswith(b"sendmail: fatal: cannot flush the mail queue: the queue role is not running")
    r = sendmail(instance, "-q1h")
    assert r.returncode == 0


def test_newaliases(instance):
    aliases = os.path.join(instance.dir, "aliases")
    with open(aliases, "w") as f:
        f.write("# system aliases\npostmaster: root\nroot: admin@example.net,\n  ops@example.net\n")
    instance.append_conf("alias_maps = lmdb:%s" % aliases)
    r = sendmail(instance, argv0="newaliases")
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"" and r.stderr == b""   # silent, as Postfix's
    assert os.path.exists(aliases + ".lmdb")
    r = sendmail(instance, "-bi", "-v")
    assert r.returncode == 0, r.stderr
    assert r.stdout.decode() == "%s: 2 aliases\n" % aliases
    with open(aliases, "a") as f:
        f.write("broken line without colon\n")
    r = sendmail(instance, "-bi")
    assert r.returncode == 65
    assert r.stderr.decode() == ("sendmail: fatal: %s:5: missing ':' after the alias name; "
                                 "write NAME: ADDRESS, ...\n" % aliases)


def test_bv_prints_what_becomes_of_each_address(instance):
    aliases = os.path.join(instance.dir, "aliases")
    with open(aliases, "w") as f:
        f.write("postmaster: admin@example.net, |/bin/cat\n")
    instance.append_conf("alias_maps = lmdb:%s" % aliases)
    assert sendmail(instance, "-bi").returncode == 0
    r = sendmail(instance, "-bv", "bob@example.net, postmaster")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.decode().splitlines()
    assert lines[0] == "bob@example.net: deliverable: smtp to example.net"
    assert lines[1] == "postmaster -> admin@example.net: deliverable: smtp to example.net"
    assert lines[2].startswith("postmaster: deliverable: command \"/bin/cat\" as ")
    # A local user needs the auth role's userdb: without posternd, 75.
    r = sendmail(instance, "-bv", "nobody@mail.example.test")
    assert r.returncode == 75
    assert b"sendmail: fatal: cannot verify the addresses now: " in r.stderr
    r = sendmail(instance, "-bv")
    assert r.returncode == 64


# --- with the real queue role ---------------------------------------------

@pytest.mark.skipif(not QUEUE_ROLE_BUILT, reason="queue role not built")
def test_sendmail_t_i_is_queued_by_posternd(instance):
    instance.start()
    r = sendmail(instance, "-t", "-i", "-v", input=CRON_MESSAGE.replace("root", "root@example.net", 1))
    assert r.returncode == 0, r.stderr
    text = r.stderr.decode()
    assert text.startswith("sendmail: queued as ")
    qid = text.split()[-1]
    instance.wait_log("%s: uid=%d from=<" % (qid, os.getuid()))


@pytest.mark.skipif(not QUEUE_ROLE_BUILT, reason="queue role not built")
def test_sendmail_refusal_from_posternd(instance):
    instance.start()
    r = sendmail(instance, "bad@@address", input="x\n")
    assert r.returncode == 67
    assert r.stderr.decode() == ("sendmail: fatal: bad recipient address \"bad@@address\": bad address syntax; "
                                 "write it as user@example.com\n")
