"""test_smtp_limits.py - timeouts, the error sleep, early talkers,
connection limits, HELO required, VRFY when enabled; each with its own
configuration."""
import time

from smtp_helpers import Client, start_smtp


def test_timeout(instance):
    start_smtp(instance, ("smtpd_timeout=1s",))
    c = Client(instance.ports["mx"])
    time.sleep(1.5)
    assert c.reply() == "421 4.4.2 mail.example.test Error: timeout exceeded"
    assert c.closed()
    instance.wait_log("timeout after CONNECT from unknown[127.0.0.1]")


def test_error_sleep_after_soft_limit(instance):
    start_smtp(instance, ("smtpd_soft_error_limit=2", "smtpd_error_sleep_time=1s",
                          "smtpd_hard_error_limit=5"))
    c = Client(instance.ports["mx"])
    t0 = time.time()
    assert c.cmd("FROB") == "502 5.5.2 Error: command not recognized"
    assert time.time() - t0 < 0.8
    t0 = time.time()
    assert c.cmd("FROB") == "502 5.5.2 Error: command not recognized"
    assert time.time() - t0 >= 0.9
    c.cmd("QUIT")


def test_early_talker(instance):
    start_smtp(instance, ("smtpd_greet_pause=1s",))
    c = Client(instance.ports["mx"], greet=False)
    c.send(b"EHLO early.example\r\n")
    assert c.reply() == "220 mail.example.test ESMTP Postern"
    assert c.reply().startswith("250-mail.example.test")
    instance.wait_log("improper command pipelining after CONNECT from unknown[127.0.0.1]: EHLO early.example")
    c.cmd("QUIT")


def test_client_connection_limit(instance):
    start_smtp(instance, ("mx/client_connection_limit=2",))
    a = Client(instance.ports["mx"])
    b = Client(instance.ports["mx"])
    c = Client(instance.ports["mx"], greet=False)
    assert c.reply() == "421 4.7.0 mail.example.test Error: too many connections from 127.0.0.1"
    assert c.closed()
    a.cmd("QUIT")
    b.cmd("QUIT")


def test_connection_rate_limit(instance):
    start_smtp(instance, ("smtpd_client_connection_rate_limit=2",))
    for _ in range(2):
        Client(instance.ports["mx"]).cmd("QUIT")
    c = Client(instance.ports["mx"], greet=False)
    assert c.reply() == "421 4.7.0 mail.example.test Error: too many connections from 127.0.0.1"
    instance.wait_log("Connection rate limit exceeded: 3 from unknown[127.0.0.1] for service mx")


def test_helo_required_and_vrfy_enabled(instance):
    start_smtp(instance, ("smtpd_helo_required=yes", "disable_vrfy_command=no"))
    c = Client(instance.ports["mx"])
    assert c.cmd("MAIL FROM:<a@b.example>") == "503 5.5.1 Error: send HELO/EHLO first"
    assert "250-VRFY" in c.cmd("EHLO client.example").split("\n")
    assert c.cmd("VRFY") == "501 5.5.4 Syntax: VRFY address"
    assert c.cmd("VRFY someone") == "252 2.0.0 someone"
    c.cmd("QUIT")
