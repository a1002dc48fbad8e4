"""test_postfix_queue.py - Postern's queue role relays to a real Postfix
(Debian's) on loopback with STARTTLS, and Postfix's log shows the TLS
connection (issue 7, "Interop"). Postfix is the private instance of
test_postfix_sasl.py, configured as a relay for remote.test whose
transports discard what they get, so nothing leaves the machine; Postern
sends through relayhost = [127.0.0.1]:PORT with smtp_tls_security_level
= encrypt (a clear-text fallback would fail the delivery instead).
Skipped like that file when Postfix is missing or not root.
"""
import os
import re
import shutil
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from queue_helpers import DOMAIN, send, start_queue  # noqa: E402
from test_postfix_sasl import Postfix, pytestmark  # noqa: E402,F401


def test_postern_relays_to_postfix_with_starttls(instance):
    pf = Postfix("/nonexistent")
    try:
        cert = os.path.join(pf.dir, "cert.pem")
        key = os.path.join(pf.dir, "key.pem")
        shutil.copy(os.path.join(instance.dir, "tls", "cert.pem"), cert)
        shutil.copy(os.path.join(instance.dir, "tls", "key.pem"), key)
        os.chmod(key, 0o600)
        with open(os.path.join(pf.cfg, "main.cf")) as f:
            lines = [l for l in f.read().splitlines() if not l.startswith("smtpd_sasl")
                     and not l.startswith("smtpd_relay_restrictions")]
        lines += ["mynetworks = 127.0.0.0/8",
                  "smtpd_relay_restrictions = permit_mynetworks, reject",
                  "relay_domains = remote.test",
                  "relay_transport = discard:relayed by the interop test",
                  "default_transport = discard:relayed by the interop test",
                  "smtpd_tls_security_level = may",
                  "smtpd_tls_cert_file = %s" % cert,
                  "smtpd_tls_key_file = %s" % key,
                  "smtpd_tls_loglevel = 1", ""]
        with open(os.path.join(pf.cfg, "main.cf"), "w") as f:
            f.write("\n".join(lines))
        with open(os.path.join(pf.cfg, "master.cf"), "a") as f:
            f.write("tlsmgr    unix  -       -       n       1000?   1       tlsmgr\n")
        pf.start()
        start_queue(instance, users=["alice@" + DOMAIN], conf=[
            "relayhost = [127.0.0.1]:%d" % pf.port, "smtp_tls_security_level = encrypt"])
        qid = send(instance, "alice@" + DOMAIN, "bob@remote.test", subject="to postfix over tls")
        instance.wait_log("%s: removed" % qid)
        assert re.search(r"%s: to=<bob@remote\.test>, relay=127\.0\.0\.1\[127\.0\.0\.1\]:%d, delay=[0-9.]+, "
                         r"dsn=2\.0\.0, status=sent \(250 2\.0\.0 Ok: queued as " % (qid, pf.port),
                         instance.log_text()), instance.log_text()[-3000:]
        pf.wait_log("TLS connection established from localhost[127.0.0.1]")
        pf.wait_log("to=<bob@remote.test>, relay=none")
        assert "status=sent (relayed by the interop test)" in pf.log_text()
    finally:
        assert pf.stop() == []
