"""test_smtp_policy.py - the session applying the restrictions and the
header/body checks (smtp/restrict.h, content-checks.h) end to end: relay
refused from outside mynetworks, access-table HOLD / DISCARD / REDIRECT
changing where the message goes, header_checks and body_checks acting
while DATA streams in. The rules themselves are tested by the
restrictions' own suites; these check the session's side."""
import pytest

from smtp_helpers import (Client, module_instance, parse_queue_file, queue_files,
                          queued_id, read_queue_file)


@pytest.fixture(scope="module")
def smtp():
    files = {
        "header_checks": "/^Subject: .*viagra/ REJECT no spam here\n"
                         "/^X-Drop-Me:/ IGNORE\n"
                         "/^X-Old: (.*)/ REPLACE X-New: $1\n",
        "body_checks": "/^forbidden body line$/ REJECT body says no\n",
    }
    yield from module_instance(files=files, params=(
        "mynetworks=192.0.2.0/24", "local_recipient_maps=",
        "header_checks=regexp:{dir}/header_checks", "body_checks=regexp:{dir}/body_checks",
        "smtpd_recipient_restrictions=check_recipient_access "
        "inline:{ hold@mail.example.test=HOLD, gone@mail.example.test=DISCARD, "
        "{ moved@mail.example.test = REDIRECT new@mail.example.test } }",
    ))


def start(c, rcpt):
    c.cmd("EHLO client.example")
    assert c.cmd("MAIL FROM:<a@b.example>") == "250 2.1.0 Ok"
    return c.cmd("RCPT TO:<%s>" % rcpt)


def data(c, body):
    assert c.cmd("DATA").startswith("354")
    c.send(body)
    return c.reply()


def test_relay_refused_from_outside_mynetworks(smtp):
    c = Client(smtp.ports["mx"])
    r = start(c, "victim@elsewhere.example")
    # defer_unauth_destination (Postfix's default relay rule) answers 4xx
    assert r.startswith("45") and r.endswith(" 4.7.1 <victim@elsewhere.example>: Relay access denied"), r
    smtp.wait_log("NOQUEUE: reject: RCPT from unknown[127.0.0.1]: %s; from=<a@b.example> "
                  "to=<victim@elsewhere.example> proto=ESMTP helo=<client.example>" % r)
    for trick in ('"victim@elsewhere.example"@mail.example.test',
                  "victim%elsewhere.example@mail.example.test",
                  "elsewhere.example!victim@mail.example.test",
                  "@mail.example.test:victim@elsewhere.example"):
        r = c.cmd("RCPT TO:<%s>" % trick)
        assert not r.startswith("250"), (trick, r)
    assert c.cmd("DATA") == "554 5.5.1 Error: no valid recipients"
    c.cmd("QUIT")


def test_hold_goes_to_the_hold_queue(smtp):
    c = Client(smtp.ports["mx"])
    assert start(c, "hold@mail.example.test") == "250 2.1.5 Ok"
    qid = queued_id(data(c, b"Subject: h\r\n\r\nx\r\n.\r\n"))
    assert qid in queue_files(smtp, "hold") and qid not in queue_files(smtp)
    smtp.wait_log("%s: from=<a@b.example>, size=" % qid)
    c.cmd("QUIT")


def test_discard_answers_queued_but_keeps_nothing(smtp):
    c = Client(smtp.ports["mx"])
    before = queue_files(smtp)
    assert start(c, "gone@mail.example.test") == "250 2.1.5 Ok"
    qid = queued_id(data(c, b"Subject: d\r\n\r\nx\r\n.\r\n"))
    assert queue_files(smtp) == before and queue_files(smtp, "incoming") == []
    smtp.wait_log("%s: discard:" % qid)
    c.cmd("QUIT")


def test_redirect_replaces_the_recipient(smtp):
    c = Client(smtp.ports["mx"])
    assert start(c, "moved@mail.example.test") == "250 2.1.5 Ok"
    qid = queued_id(data(c, b"Subject: r\r\n\r\nx\r\n.\r\n"))
    records, _ = parse_queue_file(read_queue_file(smtp, qid))
    assert [v for n, v in records if n == "rcpt"] == [b"new@mail.example.test"]
    c.cmd("QUIT")


def test_header_checks_reject_ignore_replace(smtp):
    c = Client(smtp.ports["mx"])
    assert start(c, "u@mail.example.test") == "250 2.1.5 Ok"
    before = queue_files(smtp)
    r = data(c, b"Subject: cheap\r\n viagra\r\n\r\nbody\r\n.\r\n")
    assert r.startswith("5") and "no spam here" in r, r
    assert queue_files(smtp) == before and queue_files(smtp, "incoming") == []
    # the session goes on; IGNORE and REPLACE edit the stored header
    assert c.cmd("MAIL FROM:<a@b.example>") == "250 2.1.0 Ok"
    assert c.cmd("RCPT TO:<u@mail.example.test>") == "250 2.1.5 Ok"
    qid = queued_id(data(c, b"X-Drop-Me: yes\r\nX-Old: value\r\nSubject: ok\r\n\r\nbody\r\n.\r\n"))
    _, msg = parse_queue_file(read_queue_file(smtp, qid))
    head = msg.split(b"\r\n\r\n")[0]
    assert b"X-Drop-Me" not in head
    assert b"\r\nX-New: value\r\n" in head and b"X-Old" not in head
    c.cmd("QUIT")


def test_body_checks_reject(smtp):
    c = Client(smtp.ports["mx"])
    assert start(c, "u@mail.example.test") == "250 2.1.5 Ok"
    r = data(c, b"Subject: b\r\n\r\nfine\r\nforbidden body line\r\nmore\r\n.\r\n")
    assert r.startswith("5") and "body says no" in r, r
    c.cmd("QUIT")


def test_unknown_rule_refuses_to_start(tmp_root):
    """An unknown rule name is an error at start, not at run time: posternd
    exits before starting any role, naming the file, the line and a fix."""
    from harness import make_instance
    i = make_instance(tmp_root)
    i.append_conf("smtpd_recipient_restrictions = permit_mynetworks, reject_unknwon_sender_domain")
    line = i.conf_line_of("smtpd_recipient_restrictions")
    r = i.posternd("-c", i.conf, "-f")
    assert r.returncode != 0
    assert ('%s:%d: smtpd_recipient_restrictions: unknown rule "reject_unknwon_sender_domain"'
            % (i.conf, line)) in r.stderr, r.stderr
    assert "did you mean reject_unknown_sender_domain?" in r.stderr, r.stderr
