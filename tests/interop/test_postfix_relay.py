"""test_postfix_relay.py - a real Postfix (Debian's) relays a message to
Postern's mx listener, with opportunistic STARTTLS, and Postern accepts
it: the issue's interop check for the SMTP server. Postfix is the private
instance of test_postfix_sasl.py, configured here with relayhost = the
mx listener. Skipped like that file when Postfix is missing or not root.
"""
import os
import re
import smtplib
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from smtp_helpers import parse_queue_file, read_queue_file, start_smtp  # noqa: E402
from test_postfix_sasl import Postfix, pytestmark  # noqa: E402,F401


def test_postfix_relays_to_postern_mx(instance):
    start_smtp(instance, ("local_recipient_maps=",))
    pf = Postfix("/nonexistent")
    try:
        with open(os.path.join(pf.cfg, "main.cf")) as f:
            lines = [l for l in f.read().splitlines() if not l.startswith("smtpd_sasl")
                     and not l.startswith("smtpd_relay_restrictions")]
        lines += ["relayhost = [127.0.0.1]:%d" % instance.ports["mx"],
                  "mynetworks = 127.0.0.0/8",
                  "smtpd_relay_restrictions = permit_mynetworks, reject",
                  "smtp_tls_security_level = may",
                  "smtp_helo_name = postfix.example.test", ""]
        with open(os.path.join(pf.cfg, "main.cf"), "w") as f:
            f.write("\n".join(lines))
        with open(os.path.join(pf.cfg, "master.cf"), "a") as f:
            f.write("tlsmgr    unix  -       -       n       1000?   1       tlsmgr\n")
        pf.start()
        with smtplib.SMTP("127.0.0.1", pf.port, timeout=30) as s:
            assert s.sendmail("a@postfix.example.test", ["u@mail.example.test"],
                              b"Subject: via postfix\r\n\r\nrelayed\r\n") == {}
        pf.wait_log("status=sent (250 2.0.0 Ok: queued as ")
        m = re.search(r"status=sent \(250 2\.0\.0 Ok: queued as ([0-9A-F]+)\)", pf.log_text())
        qid = m.group(1)
        records, msg = parse_queue_file(read_queue_file(instance, qid))
        rec = dict(records)
        assert rec["sender"] == b"a@postfix.example.test"
        assert rec["helo"] == b"postfix.example.test"
        assert rec["proto"] == b"ESMTPS"     # Postfix took the offered STARTTLS
        assert msg.startswith(b"Received: from postfix.example.test (unknown [127.0.0.1])\r\n\t(using TLSv1.")
        assert msg.endswith(b"\r\n\r\nrelayed\r\n")
    finally:
        assert pf.stop() == []
