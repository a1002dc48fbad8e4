"""test_queue_local.py - the queue role's local delivery (issue 7, "Done
when": a message to a local user arrives in the store; aliases and
virtual aliases route as configured; an unknown user gets a DSN).

Mail goes in through the mx listener (127.0.0.1 is in mynetworks), the
queue role expands and routes it (smtp/resolve), and store_deliver puts
it into the Maildir under mail/DOMAIN/USER. The DSN for an unknown user
is itself a queue file from <> delivered to the sender's mailbox.
"""
import os
import re
import smtplib
import socket

import pytest

from queue_helpers import DOMAIN, LOCAL, mailbox, pickup, queue_files, send, start_queue, wait_mailbox

ALICE = "alice@" + DOMAIN
CAROL = "carol@" + DOMAIN


def test_virtual_user_gets_the_message(instance):
    # queue_run_delay = 1h: only the wake-up FIFO can bring the message
    # to the queue role in time (issue 7: "at once, no polling delay").
    start_queue(instance, users=[ALICE], conf=["queue_run_delay = 1h"])
    qid = send(instance, "someone@client.example.net", ALICE, subject="hello alice")
    msgs = wait_mailbox(instance, ALICE, 1)
    assert b"Subject: hello alice" in msgs[0]
    assert re.search(rb"(?im)^Delivered-To: <?alice@example\.test>?\r?$", msgs[0]), msgs[0][:400]
    assert re.search(rb"(?im)^Return-Path: <someone@client\.example\.net>", msgs[0]), msgs[0][:400]
    instance.wait_log("%s: removed" % qid)
    log = instance.log_text()
    assert "%s: from=<someone@client.example.net>, size=" % qid in log
    assert re.search(r"%s: to=<alice@example\.test>, relay=local, delay=[0-9.e-]+, dsn=2\.0\.0, status=sent \(delivered to maildir\)"
                     % qid, log), log[-3000:]
    assert queue_files(instance, "active") == []
    assert queue_files(instance, "deferred") == []


def test_two_users_one_message(instance):
    start_queue(instance, users=[ALICE, CAROL])
    qid = send(instance, "someone@client.example.net", [ALICE, CAROL], subject="to both")
    wait_mailbox(instance, ALICE, 1)
    wait_mailbox(instance, CAROL, 1)
    instance.wait_log("%s: removed" % qid)
    assert len(mailbox(instance, ALICE)) == 1


def test_unknown_local_user_gets_a_dsn(instance):
    # An empty local_recipient_maps makes the SMTP role accept any local
    # part of mydestination, so the queue role is the one to say 5.1.1.
    start_queue(instance, users=[ALICE], conf=["local_recipient_maps ="])
    qid = send(instance, ALICE, "nobody@" + LOCAL, subject="to nobody")
    msgs = wait_mailbox(instance, ALICE, 1)
    dsn = msgs[0]
    assert re.search(rb"(?im)^Return-Path: <>", dsn), dsn[:400]
    assert b"multipart/report" in dsn
    assert re.search(rb"(?im)^Action: failed", dsn), dsn
    assert re.search(rb"(?im)^Status: 5\.1\.1", dsn), dsn
    assert b"nobody@" + LOCAL.encode() in dsn
    instance.wait_log("%s: removed" % qid)
    assert "status=bounced" in instance.log_text()


def test_virtual_alias_one_and_many(instance):
    start_queue(instance, users=[ALICE, CAROL],
                conf=["virtual_alias_maps = inline:{ info@example.test=alice@example.test, "
                      "{ team@example.test = alice@example.test, carol@example.test } }"])
    qid = send(instance, "someone@client.example.net", "info@" + DOMAIN, subject="via alias")
    msgs = wait_mailbox(instance, ALICE, 1)
    assert b"Subject: via alias" in msgs[0]
    instance.wait_log("%s: removed" % qid)
    assert re.search(r"%s: to=<alice@example\.test>, orig_to=<info@example\.test>, relay=local" % qid,
                     instance.log_text())
    qid = send(instance, "someone@client.example.net", "team@" + DOMAIN, subject="one to many")
    wait_mailbox(instance, ALICE, 2)
    wait_mailbox(instance, CAROL, 1)
    instance.wait_log("%s: removed" % qid)


def test_local_user_of_mydestination(instance):
    # myhostname is in mydestination; a userdb user of that domain is a
    # local user (the resolver asks the userdb for user@domain, then user).
    bob = "bob@" + LOCAL
    start_queue(instance, domains=[LOCAL], users=[bob])
    qid = send(instance, "someone@client.example.net", bob, subject="hello local bob")
    msgs = wait_mailbox(instance, bob, 1)
    assert b"Subject: hello local bob" in msgs[0]
    instance.wait_log("%s: removed" % qid)


def test_local_alias_to_virtual_users(instance):
    start_queue(instance, users=[ALICE, CAROL],
                conf=["alias_maps = inline:{ postmaster=alice@example.test, "
                      "{ sales = carol@example.test, alice@example.test } }"])
    qid = send(instance, "someone@client.example.net", "sales@" + LOCAL, subject="to sales")
    wait_mailbox(instance, ALICE, 1)
    wait_mailbox(instance, CAROL, 1)
    instance.wait_log("%s: removed" % qid)
    assert re.search(r"%s: to=<carol@example\.test>, orig_to=<sales@mail\.example\.test>" % qid,
                     instance.log_text())


def test_aliases_file_built_by_postern_aliases(instance):
    aliases = os.path.join(instance.dir, "aliases")
    with open(aliases, "w") as f:
        f.write("# test aliases\npostmaster: alice@example.test\n"
                "sales: carol@example.test,\n  alice@example.test\n")
    for line in ("alias_maps = lmdb:%s" % aliases, "alias_database = lmdb:%s" % aliases):
        instance.append_conf(line)
    r = instance.run("aliases")
    if r.returncode != 0 and "aliases" in (r.stderr + r.stdout) and "unknown" in (r.stderr + r.stdout).lower():
        pytest.skip("needs `postern aliases`")
    assert r.returncode == 0, r.stdout + r.stderr
    start_queue(instance, users=[ALICE, CAROL])
    qid = send(instance, "someone@client.example.net", "sales@" + LOCAL, subject="to sales via file")
    wait_mailbox(instance, ALICE, 1)
    wait_mailbox(instance, CAROL, 1)
    instance.wait_log("%s: removed" % qid)


def test_corrupt_queue_file_moved_to_corrupt(instance):
    start_queue(instance, users=[ALICE])
    active = os.path.join(instance.dir, "queue", "active")
    owner = os.stat(active)
    bad = "ABCDEF012345"
    path = os.path.join(active, bad)
    with open(path, "wb") as f:
        f.write(b"POSTERN-QUEUE 1\nsender 99999:cut short")
    os.chown(path, owner.st_uid, owner.st_gid)
    # A new message wakes the queue role, which scans active/.
    qid = send(instance, "someone@client.example.net", ALICE, subject="after the corrupt one")
    wait_mailbox(instance, ALICE, 1)
    instance.wait_log("%s: removed" % qid)
    instance.wait_log("warning: %s: corrupt queue file moved to corrupt/: " % bad)
    assert queue_files(instance, "corrupt") == [bad]
    assert bad not in queue_files(instance, "active")
    assert "posternd/queue" in instance.log_text() and "exit status" not in instance.log_text()


def test_pickup_socket_submission_is_delivered_at_once(instance):
    # What sendmail(1) does through pickup_submit() (smtp/queue/pickup.h),
    # spoken directly: the queue role queues it and schedules it at once.
    start_queue(instance, users=[ALICE], conf=["queue_run_delay = 1h"])
    body = b"Subject: from sendmail\n\nhello from a script\n"
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(30)
    s.connect(os.path.join(instance.run_dir, "pickup"))
    s.sendall(b"SENDER cron@example.test\nRCPT %s\nDATA %d\n%s" % (ALICE.encode(), len(body), body))
    answer = b""
    while not answer.endswith(b"\n"):
        chunk = s.recv(4096)
        if not chunk:
            break
        answer += chunk
    s.close()
    m = re.match(rb"OK ([0-9A-F]{12})\n$", answer)
    assert m, answer
    qid = m.group(1).decode()
    msgs = wait_mailbox(instance, ALICE, 1)
    assert b"Subject: from sendmail" in msgs[0]
    instance.wait_log("%s: removed" % qid)


def test_notify_success_gets_a_delivery_report(instance):
    start_queue(instance, users=[ALICE, CAROL])
    s = smtplib.SMTP("127.0.0.1", instance.ports["mx"], timeout=30)
    s.ehlo("client.example.net")
    assert s.mail(CAROL)[0] == 250
    code, reply = s.rcpt(ALICE, ["NOTIFY=SUCCESS", "ORCPT=rfc822;" + ALICE])
    assert code == 250, reply
    code, reply = s.data(b"Subject: report please\r\nMessage-ID: <dsn.success@client.example.net>\r\n\r\nhi\r\n")
    assert code == 250, reply
    s.quit()
    wait_mailbox(instance, ALICE, 1)
    report = wait_mailbox(instance, CAROL, 1)[0]
    assert re.search(rb"(?im)^Action: delivered", report), report
    assert re.search(rb"(?im)^Status: 2\.0\.0", report), report


def test_alias_to_command_and_file(instance):
    out = os.path.join(instance.dir, "alias-out")
    os.mkdir(out)
    os.chmod(out, 0o777)
    pipe_out = os.path.join(out, "pipe.txt")
    mbox = os.path.join(out, "mbox")
    start_queue(instance, conf=[
        "alias_database =",
        'alias_maps = inline:{ { runner = "|/usr/bin/tee -a %s >/dev/null" }, { keeper = %s } }' % (pipe_out, mbox)])
    qid = send(instance, "someone@client.example.net", ["runner@" + LOCAL, "keeper@" + LOCAL], subject="to programs")
    instance.wait_log("%s: removed" % qid)
    with open(pipe_out, "rb") as f:
        assert b"Subject: to programs" in f.read()
    with open(mbox, "rb") as f:
        data = f.read()
    assert data.startswith(b"From someone@client.example.net "), data[:200]
    assert b"Subject: to programs" in data


def test_catch_all_extension_relocated_luser_relay(instance):
    # issue 7: "aliases, virtual aliases, catch-all, relocated, luser_relay
    # and +extension each route as configured", end to end.
    start_queue(instance, users=[ALICE, CAROL], conf=[
        "virtual_alias_domains = lists.example.test",
        "virtual_alias_maps = inline:{ @lists.example.test=carol@example.test }",
        "relocated_maps = inline:{ { old@mail.example.test = new@elsewhere.example } }",
        "luser_relay = alice@example.test",
        "local_recipient_maps =",
        "recipient_delimiter = +"])
    # catch-all of a virtual alias domain
    qid = send(instance, "someone@client.example.net", "anything@lists.example.test", subject="catch all")
    assert b"Subject: catch all" in wait_mailbox(instance, CAROL, 1)[0]
    instance.wait_log("%s: removed" % qid)
    # luser_relay: an unknown local user's mail goes to alice
    qid = send(instance, "someone@client.example.net", "stranger@" + LOCAL, subject="to a stranger")
    msgs = wait_mailbox(instance, ALICE, 1)
    instance.wait_log("%s: removed" % qid)
    assert any(b"Subject: to a stranger" in m for m in msgs)
    # relocated: the sender (carol) learns the new address, 5.1.6
    qid = send(instance, CAROL, "old@" + LOCAL, subject="to the old address")
    notices = wait_mailbox(instance, CAROL, 2)
    instance.wait_log("%s: removed" % qid)
    dsn = [m for m in notices if b"multipart/report" in m][0]
    assert re.search(rb"(?im)^Status: 5\.1\.6", dsn), dsn
    assert b"new@elsewhere.example" in dsn


def test_extension_to_virtual_user_over_smtp(instance):
    # virtual(5): the RCPT check looks user+ext@domain up again as
    # user@domain; an unknown user with an extension is still refused.
    start_queue(instance, users=[ALICE], conf=["recipient_delimiter = +"])
    qid = send(instance, "someone@client.example.net", "alice+lists@" + DOMAIN, subject="plus over smtp")
    msgs = wait_mailbox(instance, ALICE, 1)
    assert b"Subject: plus over smtp" in msgs[0]
    instance.wait_log("%s: removed" % qid)
    s = smtplib.SMTP("127.0.0.1", instance.ports["mx"], timeout=30)
    try:
        s.ehlo("client.example.net")
        assert s.mail("someone@client.example.net")[0] == 250
        code, reply = s.rcpt("nobody+lists@" + DOMAIN)
        assert code == 550 and b"User unknown in virtual mailbox table" in reply, (code, reply)
        s.quit()
    finally:
        s.close()


def test_extension_to_virtual_user(instance):
    # The same through pickup (sendmail), which has no RCPT check.
    start_queue(instance, users=[ALICE], conf=["recipient_delimiter = +"])
    qid = pickup(instance, "someone@client.example.net", "alice+news@" + DOMAIN,
                 b"Subject: with extension\n\nhi\n")
    msgs = wait_mailbox(instance, ALICE, 1)
    assert b"Subject: with extension" in msgs[0]
    assert re.search(rb"(?im)^Delivered-To: <?alice\+news@example\.test>?\r?$", msgs[0]), msgs[0][:300]
    instance.wait_log("%s: removed" % qid)
    assert re.search(r"%s: to=<alice\+news@example\.test>, relay=local, .*status=sent" % qid, instance.log_text())


def test_check_reports_a_broken_alias_file(instance):
    # queue_role_check_config (resolve_check_config) runs in `postern check`
    # and at posternd's start: an alias file with a syntax error is named
    # with its line, and posternd refuses to start on it.
    aliases = os.path.join(instance.dir, "aliases")
    with open(aliases, "w") as f:
        f.write("postmaster: alice@example.test\n")
    instance.append_conf("alias_maps = lmdb:%s\nalias_database = lmdb:%s\n" % (aliases, aliases))
    r = instance.run("aliases")
    assert r.returncode == 0, r.stderr
    # the database is built; then someone edits the source badly
    with open(aliases, "a") as f:
        f.write("this line has no colon\n")
    r = instance.run("check")
    assert r.returncode != 0
    assert "%s:2:" % aliases in r.stderr, r.stderr
    r = instance.posternd("-c", instance.conf, "-f")
    assert r.returncode != 0
    assert "%s:2:" % aliases in r.stderr, r.stderr


def test_over_quota_bounces_or_defers(instance):
    # mailbox_message_limit = 1: the second message is over quota. With
    # quota_full_tempfail = no (the default) it bounces; the sender (carol)
    # gets the notice in her own mailbox, which has no such limit problem
    # because she has no messages yet.
    start_queue(instance, users=[ALICE, CAROL], conf=["mailbox_message_limit = 1"])
    send(instance, "someone@client.example.net", ALICE, subject="first")
    wait_mailbox(instance, ALICE, 1)
    qid = send(instance, CAROL, ALICE, subject="second")
    dsn = wait_mailbox(instance, CAROL, 1)[0]
    assert re.search(rb"(?im)^Status: 5\.2\.2", dsn), dsn
    instance.wait_log("%s: removed" % qid)
    assert re.search(r"%s: to=<alice@example\.test>, relay=local, .*dsn=5\.2\.2, status=bounced \(cannot deliver: "
                     % qid, instance.log_text())
    assert len(mailbox(instance, ALICE)) == 1


def test_over_quota_defers_with_quota_full_tempfail(instance):
    start_queue(instance, users=[ALICE], conf=["mailbox_message_limit = 1", "quota_full_tempfail = yes",
                                               "minimal_backoff_time = 1h", "maximal_backoff_time = 1h"])
    send(instance, "someone@client.example.net", ALICE, subject="first")
    wait_mailbox(instance, ALICE, 1)
    qid = send(instance, "someone@client.example.net", ALICE, subject="second")
    instance.wait_for(lambda: qid in queue_files(instance, "deferred"), "%s deferred" % qid)
    assert re.search(r"%s: to=<alice@example\.test>, relay=local, .*dsn=4\.2\.2, status=deferred \(cannot deliver: "
                     % qid, instance.log_text())

