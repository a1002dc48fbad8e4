"""test_swaks.py - Debian's swaks (the SMTP test tool the seeds use)
against Postern's SMTP listeners: submission with STARTTLS + AUTH LOGIN,
and smtps with implicit TLS. Run by `make test` (tests/run_all.py runs
tests/interop/ after tests/integration/); by hand:
  POSTERN_BIN=$PWD/bin /usr/bin/python3 -m pytest -q tests/interop/test_swaks.py
Skipped when swaks is not installed (mk/deps.sh installs it).
"""
import os
import shutil
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from smtp_helpers import PASSWORD, USER, parse_queue_file, read_queue_file, start_smtp  # noqa: E402

pytestmark = pytest.mark.skipif(shutil.which("swaks") is None, reason="swaks is not installed")


def swaks(*args):
    return subprocess.run(["swaks", "--to", "bob@elsewhere.example", "--from", USER,
                           "--auth-user", USER, "--auth-password", PASSWORD,
                           "--header", "Subject: swaks test", "--timeout", "20"] + list(args),
                          capture_output=True, text=True, timeout=60)


def queued(output):
    for line in output.splitlines():
        if "250 2.0.0 Ok: queued as " in line:
            return line.rsplit(" ", 1)[1]
    raise AssertionError("not queued:\n" + output)


def test_swaks_starttls_auth_login(instance):
    start_smtp(instance, users=((USER, PASSWORD),))
    r = swaks("--server", "127.0.0.1:%d" % instance.ports["submission"], "--tls", "--auth", "LOGIN")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "<~  235 2.7.0 Authentication successful" in r.stdout
    qid = queued(r.stdout)
    rec = dict(parse_queue_file(read_queue_file(instance, qid))[0])
    assert rec["sasl_method"] == b"LOGIN" and rec["proto"] == b"ESMTPSA"


def test_swaks_implicit_tls(instance):
    start_smtp(instance, users=((USER, PASSWORD),))
    r = swaks("--server", "127.0.0.1:%d" % instance.ports["smtps"], "--tls-on-connect", "--auth", "PLAIN")
    assert r.returncode == 0, r.stdout + r.stderr
    qid = queued(r.stdout)
    rec = dict(parse_queue_file(read_queue_file(instance, qid))[0])
    assert rec["sasl_method"] == b"PLAIN"
