"""test_queue_remote.py - the queue role's SMTP deliveries (issue 7, "Done
when": a message to a remote domain goes to a test SMTP server on
loopback found through the test DNS server's MX records; with a
lower-preference MX down the next one is used; a 4xx is retried and then
delivered; a 5xx produces a correct DSN to the sender; a relayhost with
AUTH works).

The fake MTAs are queue_helpers.FakeSMTP on 127.0.0.1; smtp_tcp_port
points the client at their port, and an MX host on 127.0.0.2 (where
nothing listens) stands for a server that is down.
"""
import os
import re

import pytest

from queue_helpers import DOMAIN, FakeSMTP, queue_files, send, start_queue, wait_mailbox

ALICE = "alice@" + DOMAIN


@pytest.fixture
def fake():
    servers = []

    def make(**kw):
        s = FakeSMTP(**kw)
        servers.append(s)
        return s
    yield make
    for s in servers:
        s.close()


def remote_conf(dns_server, port, extra=()):
    return ["dns_nameservers = %s" % dns_server.nameservers, "smtp_tcp_port = %d" % port,
            "smtp_tls_security_level = none"] + list(extra)


def test_mx_delivery(instance, dns_server, fake):
    mta = fake()
    dns_server.add("remote.test", "MX", (10, "mx1.remote.test"))
    dns_server.add("mx1.remote.test", "A", "127.0.0.1")
    start_queue(instance, users=[ALICE], conf=remote_conf(dns_server, mta.port))
    qid = send(instance, ALICE, "bob@remote.test", subject="to the world")
    msgs = mta.wait_messages(1)
    assert msgs[0]["mail_from"] == ALICE
    assert msgs[0]["rcpts"] == ["bob@remote.test"]
    assert b"Subject: to the world" in msgs[0]["data"]
    instance.wait_log("%s: removed" % qid)
    assert re.search(r"%s: to=<bob@remote\.test>, relay=mx1\.remote\.test\[127\.0\.0\.1\]:%d, delay=[0-9.e-]+, "
                     r"dsn=2\.\d\.\d, status=sent" % (qid, mta.port), instance.log_text())


def test_lower_preference_mx_down_next_used(instance, dns_server, fake):
    mta = fake()
    dns_server.add("remote.test", "MX", (10, "mx0.remote.test"))
    dns_server.add("remote.test", "MX", (20, "mx1.remote.test"))
    dns_server.add("mx0.remote.test", "A", "127.0.0.2")   # nothing listens there
    dns_server.add("mx1.remote.test", "A", "127.0.0.1")
    start_queue(instance, users=[ALICE], conf=remote_conf(dns_server, mta.port))
    qid = send(instance, ALICE, "bob@remote.test", subject="second mx")
    mta.wait_messages(1)
    instance.wait_log("%s: removed" % qid)
    assert re.search(r"%s: to=<bob@remote\.test>, relay=mx1\.remote\.test\[127\.0\.0\.1\]" % qid,
                     instance.log_text())


def test_4xx_is_retried_then_delivered(instance, dns_server, fake):
    tries = []

    def rcpt(addr):
        tries.append(addr)
        return "450 4.2.0 <%s>: try again later" % addr if len(tries) == 1 else "250 2.1.5 Ok"
    mta = fake(rcpt_reply=rcpt)
    dns_server.add("remote.test", "MX", (10, "mx1.remote.test"))
    dns_server.add("mx1.remote.test", "A", "127.0.0.1")
    start_queue(instance, users=[ALICE], conf=remote_conf(dns_server, mta.port, [
        "minimal_backoff_time = 1s", "maximal_backoff_time = 2s", "queue_run_delay = 1s"]))
    qid = send(instance, ALICE, "bob@remote.test", subject="retry me")
    instance.wait_log("%s: to=<bob@remote.test>" % qid)
    mta.wait_messages(1, timeout=60)
    instance.wait_log("%s: removed" % qid)
    log = instance.log_text()
    assert re.search(r"%s: to=<bob@remote\.test>, relay=mx1\.remote\.test\[127\.0\.0\.1\]:\d+, delay=[0-9.e-]+, "
                     r"dsn=4\.2\.0, status=deferred \(host mx1\.remote\.test\[127\.0\.0\.1\] said: 450 4\.2\.0"
                     % qid, log), log[-3000:]
    assert re.search(r"%s: to=<bob@remote\.test>.*status=sent" % qid, log)
    assert len(tries) >= 2
    assert queue_files(instance, "deferred") == []


def test_5xx_gives_the_sender_a_dsn(instance, dns_server, fake):
    mta = fake(rcpt_reply=lambda addr: "550 5.1.1 <%s>: Recipient address rejected: User unknown" % addr)
    dns_server.add("remote.test", "MX", (10, "mx1.remote.test"))
    dns_server.add("mx1.remote.test", "A", "127.0.0.1")
    start_queue(instance, users=[ALICE], conf=remote_conf(dns_server, mta.port))
    qid = send(instance, ALICE, "nobody@remote.test", subject="will bounce")
    dsn = wait_mailbox(instance, ALICE, 1)[0]
    assert b"multipart/report" in dsn and b"report-type=delivery-status" in dsn
    assert re.search(rb"(?im)^Final-Recipient: rfc822; ?nobody@remote\.test", dsn), dsn
    assert re.search(rb"(?im)^Action: failed", dsn), dsn
    assert re.search(rb"(?im)^Status: 5\.1\.1", dsn), dsn
    assert re.search(rb"(?im)^Diagnostic-Code: smtp; 550 5\.1\.1", dsn), dsn
    assert b"Subject: will bounce" in dsn
    instance.wait_log("%s: removed" % qid)
    assert mta.messages == []


def test_relayhost_with_auth(instance, fake):
    mta = fake(auth=("relayuser", "s3cret pass"))
    maps = os.path.join(instance.dir, "sasl_passwd")
    with open(maps, "w") as f:
        f.write("[127.0.0.1]:%d relayuser:s3cret pass\n" % mta.port)
    start_queue(instance, users=[ALICE], conf=[
        "relayhost = [127.0.0.1]:%d" % mta.port, "smtp_tls_security_level = none",
        "smtp_sasl_auth_enable = yes", "smtp_sasl_password_maps = texthash:%s" % maps,
        "smtp_sasl_security_options = noanonymous"])
    qid = send(instance, ALICE, "bob@elsewhere.example", subject="via relayhost")
    msgs = mta.wait_messages(1)
    assert msgs[0]["auth"] == "relayuser"
    assert msgs[0]["rcpts"] == ["bob@elsewhere.example"]
    instance.wait_log("%s: removed" % qid)
    assert re.search(r"%s: to=<bob@elsewhere\.example>, relay=127\.0\.0\.1\[127\.0\.0\.1\]:%d" % (qid, mta.port),
                     instance.log_text())


def test_lifetime_over_bounces_with_the_last_reason(instance, dns_server, fake):
    # maximal_queue_lifetime = 0: one attempt only (postconf(5)); the 4xx
    # becomes a 5xx in the notice, as Postfix's qmgr does.
    mta = fake(rcpt_reply=lambda addr: "450 4.2.0 <%s>: mailbox busy" % addr)
    dns_server.add("remote.test", "MX", (10, "mx1.remote.test"))
    dns_server.add("mx1.remote.test", "A", "127.0.0.1")
    start_queue(instance, users=[ALICE], conf=remote_conf(dns_server, mta.port, ["maximal_queue_lifetime = 0"]))
    qid = send(instance, ALICE, "bob@remote.test", subject="short life")
    dsn = wait_mailbox(instance, ALICE, 1)[0]
    assert re.search(rb"(?im)^Action: failed", dsn), dsn
    assert re.search(rb"(?im)^Status: 5\.2\.0", dsn), dsn
    assert b"mailbox busy" in dsn
    instance.wait_log("%s: removed" % qid)
    assert "%s: from=<alice@example.test>, status=expired, returned to sender" % qid in instance.log_text()


def test_delay_warning_then_delivery(instance, dns_server, fake):
    state = {"open": False}
    mta = fake(rcpt_reply=lambda addr: "250 2.1.5 Ok" if state["open"] else "450 4.2.0 <%s>: busy" % addr)
    dns_server.add("remote.test", "MX", (10, "mx1.remote.test"))
    dns_server.add("mx1.remote.test", "A", "127.0.0.1")
    start_queue(instance, users=[ALICE], conf=remote_conf(dns_server, mta.port, [
        "delay_warning_time = 1s", "minimal_backoff_time = 1s", "maximal_backoff_time = 1s",
        "queue_run_delay = 1s"]))
    qid = send(instance, ALICE, "bob@remote.test", subject="slow one")
    notice = wait_mailbox(instance, ALICE, 1, timeout=60)[0]
    assert re.search(rb"(?im)^Action: delayed", notice), notice
    assert re.search(rb"(?im)^Status: 4\.2\.0", notice), notice
    state["open"] = True
    mta.wait_messages(1, timeout=60)
    instance.wait_log("%s: removed" % qid)
    assert len(wait_mailbox(instance, ALICE, 1)) == 1   # one warning only


@pytest.mark.parametrize("greeting,reason", [
    ("HELLO THERE, NOT SMTP", r"mx1\.remote\.test\[127\.0\.0\.1\]"),
    (None, r"mx1\.remote\.test\[127\.0\.0\.1\].*timed out"),
])
def test_broken_server_defers_naming_the_host(instance, dns_server, fake, greeting, reason):
    # issue 7, "Bad input and faults": a server that answers garbage or
    # hangs; the message is deferred with a log line naming the host.
    mta = fake(greeting=greeting)
    dns_server.add("remote.test", "MX", (10, "mx1.remote.test"))
    dns_server.add("mx1.remote.test", "A", "127.0.0.1")
    start_queue(instance, users=[ALICE], conf=remote_conf(dns_server, mta.port, [
        "smtp_helo_timeout = 2s", "smtp_connect_timeout = 2s", "minimal_backoff_time = 1h",
        "maximal_backoff_time = 1h"]))
    qid = send(instance, ALICE, "bob@remote.test", subject="to a broken server")
    instance.wait_for(lambda: qid in queue_files(instance, "deferred"), "%s deferred" % qid, timeout=60)
    line = [l for l in instance.log_text().splitlines() if "%s: to=<bob@remote.test>" % qid in l][0]
    assert "status=deferred" in line and re.search(reason, line), line


def test_recipients_grouped_per_nexthop_within_the_limit(instance, dns_server, fake):
    # One message to 12 recipients of one domain and 2 of another:
    # smtp_destination_recipient_limit = 5 makes 5+5+2 transactions to the
    # first nexthop and one to the second.
    mta = fake()
    for d in ("remote.test", "other.test"):
        dns_server.add(d, "MX", (10, "mx." + d))
        dns_server.add("mx." + d, "A", "127.0.0.1")
    start_queue(instance, users=[ALICE], conf=remote_conf(dns_server, mta.port, [
        "smtp_destination_recipient_limit = 5"]))
    rcpts = ["r%02d@remote.test" % i for i in range(12)] + ["a@other.test", "b@other.test"]
    qid = send(instance, ALICE, rcpts, subject="many recipients")
    msgs = mta.wait_messages(4)
    instance.wait_log("%s: removed" % qid)
    sizes = sorted(len(m["rcpts"]) for m in msgs)
    assert sizes == [2, 2, 5, 5], sizes
    got = sorted(r for m in msgs for r in m["rcpts"])
    assert got == sorted(rcpts)
    for m in msgs:
        assert len({r.split("@")[1] for r in m["rcpts"]}) == 1, m["rcpts"]


def test_active_limit_rescans_as_messages_finish(instance, dns_server, fake):
    # qmgr_message_active_limit = 2 with a slow MTA: at most two messages
    # are in memory, the others wait on disk and are found by the scans
    # made as room frees up, long before queue_run_delay.
    mta = fake(delay=0.3)
    dns_server.add("remote.test", "MX", (10, "mx1.remote.test"))
    dns_server.add("mx1.remote.test", "A", "127.0.0.1")
    start_queue(instance, users=[ALICE], conf=remote_conf(dns_server, mta.port, [
        "qmgr_message_active_limit = 2", "queue_run_delay = 1h"]))
    qids = [send(instance, ALICE, "bob@remote.test", subject="limited %d" % i) for i in range(8)]
    mta.wait_messages(8, timeout=60)
    for qid in qids:
        instance.wait_log("%s: removed" % qid)
    assert mta.max_active <= 2, mta.max_active


def test_destination_concurrency_limit(instance, dns_server, fake):
    mta = fake(delay=0.3)
    dns_server.add("remote.test", "MX", (10, "mx1.remote.test"))
    dns_server.add("mx1.remote.test", "A", "127.0.0.1")
    start_queue(instance, users=[ALICE], conf=remote_conf(dns_server, mta.port, [
        "smtp_destination_concurrency_limit = 1"]))
    qids = [send(instance, ALICE, "bob@remote.test", subject="one at a time %d" % i) for i in range(4)]
    mta.wait_messages(4, timeout=60)
    for qid in qids:
        instance.wait_log("%s: removed" % qid)
    assert mta.max_active == 1, mta.max_active
