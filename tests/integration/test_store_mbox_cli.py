"""test_store_mbox_cli.py - an mbox mail_location works through the real
binaries (`postern deliver`, `postern mailbox`), not only in unit tests
that link the mbox backend in by hand (issue "Store": mbox at
/var/mail/%u with From_ quoting)."""
import os


def test_deliver_into_mbox_and_read_status(instance):
    # Both under the instance's mail directory, which mail_owner owns.
    mail = os.path.join(instance.dir, "mail")
    spool = os.path.join(mail, "spool")
    os.makedirs(spool)
    if os.geteuid() == 0:
        import pwd
        pw = pwd.getpwnam("postern")
        os.chown(spool, pw.pw_uid, pw.pw_gid)
    r = instance.run("config", "-e",
                     "mail_location=mbox:%s/mbox/%%d/%%n:INBOX=%s/%%n" % (mail, spool))
    assert r.returncode == 0, r.stderr
    r = instance.run("domain", "add", "example.org")
    assert r.returncode == 0, r.stderr
    r = instance.run("user", "add", "ann@example.org", "--password-stdin", input="pw-1\n")
    assert r.returncode == 0, r.stderr
    r = instance.run("deliver", "-f", "x@example.net", "ann@example.org",
                     input="From: x@example.net\nSubject: hi\n\nFrom the start\nbody\n")
    assert r.returncode == 0, r.stderr
    with open(os.path.join(spool, "ann")) as f:
        text = f.read()
    assert text.startswith("From x@example.net ")
    assert "\n>From the start\n" in text          # mboxrd quoting on disk
    assert "Delivered-To: ann@example.org\n" in text
    r = instance.run("mailbox", "status", "ann@example.org", "INBOX")
    assert r.returncode == 0, r.stderr
    st = dict(kv.split("=") for kv in r.stdout.split())
    assert st["messages"] == "1"
