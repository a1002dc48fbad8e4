"""test_smtp_tls_auth.py - STARTTLS (RFC 3207, with the plaintext
injection test), implicit TLS on smtps, AUTH PLAIN/LOGIN (RFC 4954)
through the auth role with a virtual user, and the submission listener's
safe defaults: TLS before AUTH, AUTH before sending."""
import base64
import smtplib
import ssl

import pytest

from smtp_helpers import (PASSWORD, USER, Client, client_context, module_instance,
                          parse_queue_file, queued_id, read_queue_file)


@pytest.fixture(scope="module")
def smtp():
    yield from module_instance(params=("auth_failure_delay=0", "local_recipient_maps="),
                               users=((USER, PASSWORD),))


def b64(data):
    return base64.b64encode(data).decode()


def plain():
    return b64(b"\0" + USER.encode() + b"\0" + PASSWORD.encode())


def test_starttls_resets_state_and_ehlo_changes(smtp):
    c = Client(smtp.ports["mx"])
    c.cmd("EHLO client.example")
    assert c.cmd("MAIL FROM:<a@b.example>") == "250 2.1.0 Ok"
    assert c.cmd("STARTTLS now") == "501 5.5.4 Syntax: STARTTLS"
    c.starttls()
    # RFC 3207 4.2: the transaction and HELO are forgotten
    assert c.cmd("RCPT TO:<u@mail.example.test>") == "503 5.5.1 Error: need MAIL command"
    ehlo = c.cmd("EHLO client.example").split("\n")
    assert "250-STARTTLS" not in ehlo
    assert c.cmd("STARTTLS") == "554 5.5.1 Error: TLS already active"
    assert c.cmd("QUIT") == "221 2.0.0 Bye"
    smtp.wait_log("Anonymous TLS connection established from unknown[127.0.0.1]: TLSv1.")


def test_starttls_plaintext_injection_is_discarded(smtp):
    """CVE-2011-0411: commands sent in plaintext after STARTTLS must not
    be executed inside the TLS session."""
    c = Client(smtp.ports["mx"])
    c.cmd("EHLO client.example")
    c.send(b"STARTTLS\r\nRSET\r\n")
    assert c.reply() == "220 2.0.0 Ready to start TLS"
    c.sock = client_context().wrap_socket(c.sock)
    assert c.cmd("NOOP") == "250 2.0.0 Ok"   # the first reply is NOOP's, not RSET's
    c.cmd("QUIT")


def test_tls_received_header_and_proto(smtp):
    c = Client(smtp.ports["mx"])
    c.cmd("EHLO client.example")
    c.starttls()
    c.cmd("EHLO client.example")
    c.cmd("MAIL FROM:<a@b.example>")
    c.cmd("RCPT TO:<u@mail.example.test>")
    c.cmd("DATA")
    c.send(b"Subject: tls\r\n\r\nx\r\n.\r\n")
    qid = queued_id(c.reply())
    records, msg = parse_queue_file(read_queue_file(smtp, qid))
    assert dict(records)["proto"] == b"ESMTPS"
    lines = msg.split(b"\r\n")
    assert lines[1].startswith(b"\t(using TLSv1.")
    assert b"with cipher" in lines[1]
    assert lines[2] == b"\tby mail.example.test (Postern) with ESMTPS id " + qid.encode()
    c.cmd("QUIT")


def test_mx_has_no_auth(smtp):
    c = Client(smtp.ports["mx"])
    c.cmd("EHLO client.example")
    assert c.cmd("AUTH PLAIN " + plain()) == "503 5.5.1 Error: authentication not enabled"
    c.cmd("QUIT")


def test_submission_requires_tls_then_auth(smtp):
    c = Client(smtp.ports["submission"])
    ehlo = c.cmd("EHLO client.example").split("\n")
    assert "250-STARTTLS" in ehlo
    assert not any(l.startswith("250-AUTH") for l in ehlo)
    assert c.cmd("AUTH PLAIN " + plain()) == "530 5.7.0 Must issue a STARTTLS command first"
    assert c.cmd("MAIL FROM:<a@b.example>") == "530 5.7.0 Must issue a STARTTLS command first"
    c.starttls()
    ehlo = c.cmd("EHLO client.example").split("\n")
    assert "250-AUTH PLAIN LOGIN SCRAM-SHA-256" in ehlo
    assert c.cmd("AUTH") == "501 5.5.4 Syntax: AUTH mechanism"
    assert c.cmd("AUTH CRAM-MD5") == "504 5.5.4 Unsupported authentication mechanism"
    assert c.cmd("AUTH PLAIN " + b64(b"\0" + USER.encode() + b"\0wrong")).startswith(
        "535 5.7.8 Error: authentication failed:")
    assert c.cmd("AUTH PLAIN " + plain()) == "235 2.7.0 Authentication successful"
    assert c.cmd("AUTH PLAIN " + plain()) == "503 5.5.1 Error: already authenticated"
    assert c.cmd("MAIL FROM:<%s>" % USER) == "250 2.1.0 Ok"
    assert c.cmd("RCPT TO:<someone@elsewhere.example>") == "250 2.1.5 Ok"
    assert c.cmd("DATA").startswith("354")
    c.send(b"Subject: sub\r\n\r\nx\r\n.\r\n")
    qid = queued_id(c.reply())
    rec = dict(parse_queue_file(read_queue_file(smtp, qid))[0])
    assert rec["sasl_username"] == USER.encode() and rec["sasl_method"] == b"PLAIN"
    assert rec["proto"] == b"ESMTPSA"
    smtp.wait_log("%s: client=unknown[127.0.0.1], sasl_method=PLAIN, sasl_username=%s" % (qid, USER))
    c.cmd("QUIT")


def test_auth_login_with_challenges_and_cancel(smtp):
    c = Client(smtp.ports["submission"])
    c.cmd("EHLO client.example")
    c.starttls()
    c.cmd("EHLO client.example")
    assert c.cmd("AUTH LOGIN") == "334 VXNlcm5hbWU6"
    assert c.cmd("*") == "501 5.7.0 Authentication aborted"
    assert c.cmd("AUTH LOGIN") == "334 VXNlcm5hbWU6"
    assert c.cmd(b64(USER.encode())) == "334 UGFzc3dvcmQ6"
    assert c.cmd(b64(PASSWORD.encode())) == "235 2.7.0 Authentication successful"
    c.cmd("QUIT")


def test_auth_not_during_transaction_and_not_before_ehlo(smtp):
    c = Client(smtp.ports["smtps"], tls=True)
    assert c.greeting == "220 mail.example.test ESMTP Postern"
    assert c.cmd("AUTH PLAIN " + plain()) == "503 5.5.1 Error: send HELO/EHLO first"
    ehlo = c.cmd("EHLO client.example").split("\n")
    assert "250-STARTTLS" not in ehlo and "250-AUTH PLAIN LOGIN SCRAM-SHA-256" in ehlo
    assert c.cmd("MAIL FROM:<a@b.example>") == "250 2.1.0 Ok"
    assert c.cmd("AUTH PLAIN " + plain()) == "503 5.5.1 Error: MAIL transaction in progress"
    c.cmd("RSET")
    assert c.cmd("AUTH PLAIN =") .startswith("535 5.7.8 Error: authentication failed")
    c.cmd("QUIT")


def test_smtplib_submission_starttls_login(smtp):
    with smtplib.SMTP("127.0.0.1", smtp.ports["submission"], timeout=20) as s:
        s.starttls(context=client_context())
        s.login(USER, PASSWORD)
        assert s.sendmail(USER, ["bob@elsewhere.example"], b"Subject: x\r\n\r\nhi\r\n") == {}


def test_smtplib_smtps_implicit_tls(smtp):
    with smtplib.SMTP_SSL("127.0.0.1", smtp.ports["smtps"], timeout=20, context=client_context()) as s:
        s.login(USER, PASSWORD)
        assert s.sendmail(USER, ["bob@elsewhere.example"], b"Subject: y\r\n\r\nhi\r\n") == {}


def test_auth_only_over_tls_on_a_plain_listener(instance):
    from smtp_helpers import start_smtp
    start_smtp(instance, ("mx/smtpd_sasl_auth_enable=yes",), users=((USER, PASSWORD),))
    c = Client(instance.ports["mx"])
    ehlo = c.cmd("EHLO client.example").split("\n")
    assert not any(l.startswith("250-AUTH") for l in ehlo)
    assert c.cmd("AUTH PLAIN " + plain()) == "538 5.7.11 Encryption required for requested authentication mechanism"
    c.cmd("QUIT")


def test_tls_handshake_failure_is_logged_and_role_survives(smtp):
    import socket
    s = socket.create_connection(("127.0.0.1", smtp.ports["smtps"]), timeout=10)
    s.sendall(b"this is not a TLS client hello\r\n" * 10)
    try:
        s.recv(100)
    except OSError:
        pass
    s.close()
    smtp.wait_log("SSL_accept error from unknown[127.0.0.1]")
    c = Client(smtp.ports["smtps"], tls=True)
    assert c.cmd("NOOP") == "250 2.0.0 Ok"
    c.cmd("QUIT")


def test_submission_refuses_unauthenticated_and_foreign_senders(smtp):
    """postern init's submission overrides: smtpd_client_restrictions =
    permit_sasl_authenticated, reject and reject_sender_login_mismatch."""
    c = Client(smtp.ports["submission"])
    c.cmd("EHLO client.example")
    c.starttls()
    c.cmd("EHLO client.example")
    assert c.cmd("MAIL FROM:<%s>" % USER) == "250 2.1.0 Ok"
    r = c.cmd("RCPT TO:<bob@elsewhere.example>")
    assert r.startswith("554 5.7.1 ") and "Client host rejected: Access denied" in r, r
    c.cmd("RSET")
    assert c.cmd("AUTH PLAIN " + plain()) == "235 2.7.0 Authentication successful"
    assert c.cmd("MAIL FROM:<boss@example.test>") == "250 2.1.0 Ok"
    assert c.cmd("RCPT TO:<bob@elsewhere.example>") == (
        "553 5.7.1 <boss@example.test>: Sender address rejected: not owned by user %s" % USER)
    smtp.wait_log("reject: RCPT from unknown[127.0.0.1]: 553 5.7.1 <boss@example.test>: "
                  "Sender address rejected: not owned by user %s; from=<boss@example.test> "
                  "to=<bob@elsewhere.example> proto=ESMTP helo=<client.example>" % USER)
    c.cmd("QUIT")
