"""test_smtp_crash.py - the smtp role killed with SIGKILL during a flood
(issue 6: "250 2.0.0 Ok: queued as ID" only once the message is safely
on disk). Eight smtplib clients send messages with unique Message-IDs as
fast as they can; the smtp role is killed mid-flood, the master restarts
it. Then every message that got 250 must be in queue/active/ under the
id of its reply, complete (magic, records, the size field equal to the
bytes after it, its own Message-ID inside); every file in active/ must
be complete (a commit killed half-way never shows there); and the
restarted role takes mail again.

SIGKILL tests the ordering against a process dying at any instant (the
kernel keeps what was written); power loss needs the fsyncs as well,
which bench/smtp-syscalls shows are made (and unit tests cannot).
"""
import os
import re
import signal
import smtplib
import threading
import time

from harness import TIMEOUT
from smtp_helpers import start_smtp

CLIENTS = 8
BODY = "line of text to make the message a few kilobytes long\r\n" * 60


def parse_queue_file(path):
    """The envelope records and the message of a queue file, or raise
    ValueError naming what is wrong (docs/ARCHITECTURE.md "Queue file")."""
    with open(path, "rb") as f:
        data = f.read()
    magic = b"POSTERN-QUEUE 1\n"
    if not data.startswith(magic):
        raise ValueError("no magic")
    pos = len(magic)
    records = {}
    while True:
        if data.startswith(b"message ", pos):
            m = re.match(rb"message (\d{15})\n", data[pos:pos + 24])
            if not m:
                raise ValueError("bad size field")
            size = int(m.group(1))
            body = data[pos + 24:]
            if size == 0 or len(body) != size:
                raise ValueError("size %d, %d bytes follow" % (size, len(body)))
            return records, body
        m = re.match(rb"([a-z_]+) (\d+):", data[pos:pos + 64])
        if not m:
            raise ValueError("bad record at %d" % pos)
        start = pos + m.end()
        end = start + int(m.group(2))
        if data[end:end + 1] != b"\n":
            raise ValueError("record %s not ended" % m.group(1).decode())
        records.setdefault(m.group(1).decode(), []).append(data[start:end])
        pos = end + 1


def flood(port, tag, stop, accepted, errors):
    n = 0
    while not stop.is_set():
        msgid = "%s.%d@crash.test" % (tag, n)
        n += 1
        msg = ("From: a@example.net\r\nTo: u@example.test\r\nMessage-ID: <%s>\r\n"
               "Subject: crash %s\r\n\r\n%s" % (msgid, msgid, BODY))
        try:
            s = smtplib.SMTP("127.0.0.1", port, timeout=TIMEOUT)
            s.ehlo("client.example.net")
            s.mail("a@example.net")
            s.rcpt("u@mail.example.test")
            code, reply = s.data(msg)
            if code == 250:
                m = re.search(rb"queued as ([0-9A-F]+)", reply)
                accepted.append((msgid, m.group(1).decode() if m else None))
            try:
                s.quit()
            except (smtplib.SMTPException, OSError):
                pass
        except (smtplib.SMTPException, OSError) as e:
            errors.append(repr(e))
            time.sleep(0.01)


def test_smtp_role_killed_during_flood(instance):
    start_smtp(instance, ("local_recipient_maps=", "smtpd_peername_lookup=no",
                          "client_connection_limit=100"))
    port = instance.ports["mx"]
    pid = instance.role_pid("smtp")
    assert pid
    stop = threading.Event()
    accepted, errors = [], []
    threads = [threading.Thread(target=flood, args=(port, "c%d" % i, stop, accepted, errors))
               for i in range(CLIENTS)]
    for t in threads:
        t.start()
    try:
        deadline = time.time() + TIMEOUT
        while len(accepted) < 100 and time.time() < deadline:
            time.sleep(0.01)
        os.kill(pid, signal.SIGKILL)
        killed_at = len(accepted)
        time.sleep(0.3)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=TIMEOUT * 2)
    assert killed_at >= 100, "the flood did not get going: %s" % errors[-3:]
    assert errors, "the kill went unnoticed by every client: it hit nothing"

    active = os.path.join(instance.dir, "queue", "active")
    files = set(os.listdir(active))
    for name in files:
        try:
            parse_queue_file(os.path.join(active, name))
        except ValueError as e:
            raise AssertionError("active/%s is incomplete: %s" % (name, e))
    for msgid, qid in accepted:
        assert qid, "250 without a queue id for %s" % msgid
        assert qid in files, "%s got 250 (queued as %s) but is not in active/" % (msgid, qid)
        records, body = parse_queue_file(os.path.join(active, qid))
        assert ("Message-ID: <%s>" % msgid).encode() in body, qid
        assert records["rcpt"] == [b"u@mail.example.test"]
        assert records["id"] == [qid.encode()]

    # The master restarts the role; it takes mail again.
    instance.wait_for(lambda: (instance.role_pid("smtp") or pid) != pid, "smtp role restarted")
    deadline = time.time() + TIMEOUT
    while True:
        try:
            s = smtplib.SMTP("127.0.0.1", port, timeout=TIMEOUT)
            break
        except OSError:
            assert time.time() < deadline, "the restarted smtp role does not answer"
            time.sleep(0.1)
    s.ehlo("client.example.net")
    s.mail("a@example.net")
    s.rcpt("u@mail.example.test")
    code, reply = s.data("Subject: after\r\n\r\nafter the crash\r\n")
    assert code == 250, reply
    s.quit()
