"""test_queue_admin.py - what the queue tools do to a running queue
(issue 7, "Done when": mailq, flush, delete, hold/release and requeue do
what Postfix's tools do). `postern queue list|flush|hold|release|delete|
requeue` talk to the queue role over its control socket
(queue_control_socket, protocol in smtp/queue/queue-admin.h); the
protocol's own answers are checked on the socket directly.

A deferred message is made by a fake MTA that answers 450 until the test
lets it accept; minimal_backoff_time and queue_run_delay are long, so
only a flush (or release/requeue) brings the message back early.
"""
import os
import re
import socket
import subprocess

import pytest

from harness import TIMEOUT
from queue_helpers import DOMAIN, FakeSMTP, queue_files, send, start_queue

ALICE = "alice@" + DOMAIN


def control(instance, line):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(TIMEOUT)
    s.connect(os.path.join(instance.run_dir, "queue"))
    s.sendall(line.encode() + b"\n")
    data = b""
    while True:
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
    s.close()
    return data.decode().strip()


class Gate:
    def __init__(self):
        self.open = False

    def rcpt(self, addr):
        return "250 2.1.5 Ok" if self.open else "450 4.2.0 <%s>: greylisted, try later" % addr


@pytest.fixture
def setup(instance, dns_server):
    gate = Gate()
    mta = FakeSMTP(rcpt_reply=gate.rcpt)
    dns_server.add("remote.test", "MX", (10, "mx1.remote.test"))
    dns_server.add("mx1.remote.test", "A", "127.0.0.1")
    start_queue(instance, users=[ALICE], conf=[
        "dns_nameservers = %s" % dns_server.nameservers, "smtp_tcp_port = %d" % mta.port,
        "smtp_tls_security_level = none", "minimal_backoff_time = 1h", "maximal_backoff_time = 2h",
        "queue_run_delay = 1h"])
    yield instance, mta, gate
    mta.close()


def deferred_message(instance, subject):
    qid = send(instance, ALICE, "bob@remote.test", subject=subject)
    instance.wait_for(lambda: qid in queue_files(instance, "deferred"), "%s in deferred/" % qid)
    return qid


def test_flush_delivers_a_deferred_message(setup):
    instance, mta, gate = setup
    qid = deferred_message(instance, "flush me")
    assert "status=deferred (host mx1.remote.test[127.0.0.1] said: 450 4.2.0" in instance.log_text()
    r = instance.run("queue", "list")
    if r.returncode == 0:
        assert qid in r.stdout and "greylisted" in r.stdout and "bob@remote.test" in r.stdout, r.stdout
    gate.open = True
    assert control(instance, "FLUSH") == "OK 1"
    mta.wait_messages(1)
    instance.wait_log("%s: removed" % qid)


def test_flush_one_id(setup):
    instance, mta, gate = setup
    qid = deferred_message(instance, "flush one")
    gate.open = True
    assert control(instance, "FLUSH " + qid) == "OK 1"
    mta.wait_messages(1)
    instance.wait_log("%s: removed" % qid)
    assert control(instance, "FLUSH " + qid).startswith("ERR %s: no such message" % qid)


def test_hold_and_release(setup):
    instance, mta, gate = setup
    qid = deferred_message(instance, "hold me")
    assert control(instance, "HOLD " + qid) == "OK 1"
    assert qid in queue_files(instance, "hold")
    gate.open = True
    assert control(instance, "FLUSH") == "OK 0"
    assert control(instance, "FLUSH " + qid).startswith("ERR")
    assert mta.messages == []
    assert control(instance, "RELEASE " + qid) == "OK 1"
    mta.wait_messages(1)
    instance.wait_log("%s: removed" % qid)


def test_delete(setup):
    instance, mta, gate = setup
    qid = deferred_message(instance, "delete me")
    assert control(instance, "DELETE " + qid) == "OK 1"
    assert qid not in queue_files(instance, "deferred")
    assert control(instance, "DELETE " + qid).startswith("ERR")
    assert control(instance, "DELETE NOTANID").startswith("ERR")


def test_requeue(setup):
    instance, mta, gate = setup
    qid = deferred_message(instance, "requeue me")
    gate.open = True
    assert control(instance, "REQUEUE " + qid) == "OK 1"
    mta.wait_messages(1)
    instance.wait_log("%s: removed" % qid)


def test_bad_requests(setup):
    instance, _, _ = setup
    assert control(instance, "FROB").startswith("ERR unknown request")
    assert control(instance, "HOLD").startswith("ERR")
    assert control(instance, "HOLD ALL nosuchqueue").startswith("ERR unknown queue")


def postern_queue(instance, *args):
    r = instance.run("queue", *args)
    return r.returncode, r.stdout, r.stderr


def test_tools_mailq_flush_hold_release_delete_requeue(setup):
    instance, mta, gate = setup
    qid = deferred_message(instance, "with the tools")
    rc, out, err = postern_queue(instance, "list")
    assert rc == 0, err
    assert re.search(r"^%s\s+\d+ \w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d\s+alice@example\.test$" % qid, out, re.M), out
    assert "(host mx1.remote.test[127.0.0.1] said: 450 4.2.0 <bob@remote.test>: greylisted, try later" in out, out
    assert re.search(r"^\s+bob@remote\.test$", out, re.M), out
    assert "-- 0 Kbytes in 1 Request." in out or "-- 1 Kbytes in 1 Request." in out, out
    # hold: mailq marks it with '!', flush leaves it alone
    rc, out, err = postern_queue(instance, "hold", qid)
    assert rc == 0 and err == "postsuper: %s: placed on hold\npostsuper: Placed on hold: 1 message\n" % qid, err
    rc, out, err = postern_queue(instance, "list")
    assert re.search(r"^%s!" % qid, out, re.M), out
    gate.open = True
    assert postern_queue(instance, "flush")[0] == 0
    assert qid in queue_files(instance, "hold")
    assert mta.messages == []
    rc, out, err = postern_queue(instance, "release", qid)
    assert rc == 0 and err == "postsuper: %s: released from hold\npostsuper: Released from hold: 1 message\n" % qid, err
    mta.wait_messages(1)
    instance.wait_log("%s: removed" % qid)
    rc, out, err = postern_queue(instance, "list")
    assert "Mail queue is empty" in out, out
    # delete
    gate.open = False
    qid = deferred_message(instance, "delete with the tool")
    rc, out, err = postern_queue(instance, "delete", qid)
    assert rc == 0 and err == "postsuper: %s: removed\npostsuper: Deleted: 1 message\n" % qid, err
    assert queue_files(instance, "deferred") == []
    # requeue, then flush by id
    qid = deferred_message(instance, "requeue with the tool")
    rc, out, err = postern_queue(instance, "requeue", qid)
    assert rc == 0 and err == "postsuper: %s: requeued\npostsuper: Requeued: 1 message\n" % qid, err
    instance.wait_for(lambda: qid in queue_files(instance, "deferred"), "%s deferred again" % qid)
    gate.open = True
    assert postern_queue(instance, "flush", qid)[0] == 0
    mta.wait_messages(2)
    instance.wait_log("%s: removed" % qid)


def test_delete_while_in_delivery_applies_when_the_attempt_ends(instance, dns_server):
    # The control socket leaves a message in delivery alone (its file is
    # open and appended to) and applies the request when the attempt ends.
    mta = FakeSMTP(delay=2, data_reply=lambda n: "451 4.3.0 try again later")
    try:
        dns_server.add("remote.test", "MX", (10, "mx1.remote.test"))
        dns_server.add("mx1.remote.test", "A", "127.0.0.1")
        start_queue(instance, users=[ALICE], conf=[
            "dns_nameservers = %s" % dns_server.nameservers, "smtp_tcp_port = %d" % mta.port,
            "smtp_tls_security_level = none", "minimal_backoff_time = 1h", "maximal_backoff_time = 1h"])
        qid = send(instance, ALICE, "bob@remote.test", subject="delete me in flight")
        instance.wait_for(lambda: mta.sessions >= 1, "the SMTP session")
        assert control(instance, "DELETE " + qid) == "OK 1"
        assert qid in queue_files(instance, "active")        # not yet: in delivery
        instance.wait_log("%s: to=<bob@remote.test>" % qid)
        instance.wait_for(lambda: qid not in queue_files(instance, "active") + queue_files(instance, "deferred"),
                          "%s deleted after its attempt" % qid)
    finally:
        mta.close()
