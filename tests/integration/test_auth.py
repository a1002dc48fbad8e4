"""test_auth.py - the auth role under posternd: the Dovecot auth client
protocol on its socket (as Postfix's smtpd_sasl_type = dovecot and
Postern's own roles speak it), the virtual user database written by
`postern user`, PAM for system users, failure delay and brute-force
penalty, and `postern auth test`.

Each test names the behaviour it pins down. The Python client below is a
minimal, independent implementation of the protocol (and of the SCRAM
client side, RFC 5802), so these tests do not reuse the C client library.
"""
import base64
import hashlib
import hmac
import os
import socket
import subprocess
import time
import uuid

import pytest

from harness import TIMEOUT

DOMAIN = "example.test"
USER = "alice@" + DOMAIN
PASSWORD = "correct horse 1"


def b64(data):
    return base64.b64encode(data).decode()


class AuthConn:
    """One connection to the auth socket, Dovecot auth client protocol 1.x."""

    def __init__(self, path, handshake=True):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(TIMEOUT)
        self.s.connect(path)
        self.buf = b""
        self.greeting = []
        if handshake:
            while True:
                line = self.readline()
                self.greeting.append(line)
                if line == "DONE":
                    break
            self.send("VERSION\t1\t2")
            self.send("CPID\t%d" % os.getpid())

    def send(self, line):
        self.s.sendall(line.encode() + b"\n")

    def readline(self):
        while b"\n" not in self.buf:
            chunk = self.s.recv(65536)
            if not chunk:
                raise EOFError("auth socket closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line.decode()

    def closed(self):
        """True when the server closed the connection (after any pending lines)."""
        try:
            while True:
                self.readline()
        except EOFError:
            return True
        except socket.timeout:
            return False

    def auth(self, rid, mech, resp=None, extra=("service=smtp",)):
        line = "AUTH\t%d\t%s\t%s" % (rid, mech, "\t".join(extra))
        if resp is not None:
            line += "\tresp=" + b64(resp)
        self.send(line)
        return self.readline().split("\t")

    def cont(self, rid, data):
        self.send("CONT\t%d\t%s" % (rid, b64(data)))
        return self.readline().split("\t")

    def close(self):
        self.s.close()


def plain(user, password):
    return b"\0" + user.encode() + b"\0" + password.encode()


@pytest.fixture
def auth(instance):
    """Running instance with a short failure delay and penalty, and alice."""
    instance.append_conf("auth_failure_delay = 1s\nauth_penalty_limit = 3\nauth_penalty_time = 3s\n")
    r = instance.run("user", "add", USER, "--password-stdin", input=PASSWORD + "\n")
    assert r.returncode == 0, r.stderr
    instance.start()
    instance.sock = os.path.join(instance.run_dir, "auth")
    instance.wait_for(lambda: os.path.exists(instance.sock), "auth socket")
    return instance


def test_auth_role_is_started_and_listed(auth):
    st = auth.status()
    assert any(r["name"] == "auth" and r["state"] == "running" for r in st["roles"])
    r = auth.run("status")
    assert "auth" in r.stdout


def test_handshake_lists_mechanisms_then_done(auth):
    c = AuthConn(auth.sock)
    g = c.greeting
    assert g[0] == "VERSION\t1\t2"
    assert "MECH\tPLAIN\tplaintext" in g
    assert "MECH\tLOGIN\tplaintext" in g
    assert "MECH\tSCRAM-SHA-256" in g
    assert any(l.startswith("SPID\t") for l in g)
    assert any(l.startswith("CUID\t") for l in g)
    assert any(l.startswith("COOKIE\t") and len(l) == 7 + 32 for l in g)
    c.close()


def test_plain_ok_and_wrong_password_fails_after_delay(auth):
    c = AuthConn(auth.sock)
    assert c.auth(1, "PLAIN", plain(USER, PASSWORD)) == ["OK", "1", "user=" + USER]
    # Upper case is folded (auth_username_format = lowercase).
    assert c.auth(2, "PLAIN", plain("Alice@Example.Test", PASSWORD))[0] == "OK"
    t = time.time()
    r = c.auth(3, "PLAIN", plain(USER, "wrong"))
    assert r[:3] == ["FAIL", "3", "reason=authentication failed"]
    assert time.time() - t >= 0.9, "auth_failure_delay not applied"
    auth.wait_log("login failed: service=smtp, user=<%s>, rip=local, mech=PLAIN" % USER)
    c.close()


def test_failure_delay_does_not_block_other_clients(auth):
    a = AuthConn(auth.sock)
    b = AuthConn(auth.sock)
    a.send("AUTH\t1\tPLAIN\tservice=smtp\tresp=" + b64(plain(USER, "bad")))
    t = time.time()
    assert b.auth(1, "PLAIN", plain(USER, PASSWORD))[0] == "OK"
    assert time.time() - t < 0.9, "a delayed failure held up another client"
    assert a.readline().startswith("FAIL\t1")
    a.close()
    b.close()


def test_login_mechanism_ok(auth):
    c = AuthConn(auth.sock)
    r = c.auth(7, "LOGIN")
    assert r[:2] == ["CONT", "7"] and base64.b64decode(r[2]) == b"Username:"
    r = c.cont(7, USER.encode())
    assert base64.b64decode(r[2]) == b"Password:"
    assert c.cont(7, PASSWORD.encode()) == ["OK", "7", "user=" + USER]
    c.close()


def scram_login(c, rid, user, password):
    cnonce = b64(os.urandom(18))
    first_bare = "n=%s,r=%s" % (user, cnonce)
    r = c.auth(rid, "SCRAM-SHA-256", ("n,," + first_bare).encode())
    if r[0] != "CONT":
        return r
    server_first = base64.b64decode(r[2]).decode()
    attrs = dict(kv.split("=", 1) for kv in server_first.split(","))
    assert attrs["r"].startswith(cnonce)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), base64.b64decode(attrs["s"]),
                                 int(attrs["i"]))
    client_key = hmac.new(salted, b"Client Key", "sha256").digest()
    stored_key = hashlib.sha256(client_key).digest()
    without_proof = "c=biws,r=" + attrs["r"]
    auth_msg = ",".join([first_bare, server_first, without_proof]).encode()
    sig = hmac.new(stored_key, auth_msg, "sha256").digest()
    proof = bytes(a ^ b for a, b in zip(client_key, sig))
    r = c.cont(rid, (without_proof + ",p=" + b64(proof)).encode())
    if r[0] == "OK":
        server_key = hmac.new(salted, b"Server Key", "sha256").digest()
        expect = "v=" + b64(hmac.new(server_key, auth_msg, "sha256").digest())
        resp = [f for f in r if f.startswith("resp=")]
        assert resp and base64.b64decode(resp[0][5:]).decode() == expect
    return r


def test_scram_sha256_ok_and_wrong_password(auth):
    c = AuthConn(auth.sock)
    assert scram_login(c, 1, USER, PASSWORD)[:3] == ["OK", "1", "user=" + USER]
    assert scram_login(c, 2, USER, "nope")[:3] == ["FAIL", "2", "reason=authentication failed"]
    c.close()


def test_plaintext_refused_without_tls_from_remote_address(auth):
    c = AuthConn(auth.sock)
    r = c.auth(1, "PLAIN", plain(USER, PASSWORD), extra=("service=smtp", "rip=192.0.2.10"))
    assert r[:2] == ["FAIL", "1"]
    assert r[2].startswith("reason=plaintext authentication disallowed")
    # secured (TLS) or loopback is fine
    assert c.auth(2, "PLAIN", plain(USER, PASSWORD),
                  extra=("service=smtp", "secured", "rip=192.0.2.10"))[0] == "OK"
    assert c.auth(3, "PLAIN", plain(USER, PASSWORD),
                  extra=("service=smtp", "rip=127.0.0.1"))[0] == "OK"
    c.close()


def test_user_add_takes_effect_without_reload(auth):
    c = AuthConn(auth.sock)
    assert c.auth(1, "PLAIN", plain("bob@" + DOMAIN, "pw-bob"))[0] == "FAIL"
    r = auth.run("user", "add", "bob@" + DOMAIN, "--password-stdin", input="pw-bob\n")
    assert r.returncode == 0, r.stderr
    assert c.auth(2, "PLAIN", plain("bob@" + DOMAIN, "pw-bob"))[0] == "OK"
    c.close()


def test_disabled_user_fails_like_a_wrong_password(auth):
    assert auth.run("user", "disable", USER).returncode == 0
    c = AuthConn(auth.sock)
    r = c.auth(1, "PLAIN", plain(USER, PASSWORD))
    assert r[:3] == ["FAIL", "1", "reason=authentication failed"]
    auth.wait_log("reason=user disabled")
    assert auth.run("user", "enable", USER).returncode == 0
    assert c.auth(2, "PLAIN", plain(USER, PASSWORD))[0] == "OK"
    c.close()


def test_postern_auth_test(auth):
    r = auth.run("auth", "test", USER, PASSWORD)
    assert r.returncode == 0
    assert "passdb: %s auth succeeded" % USER in r.stdout
    r = auth.run("auth", "test", USER, "bad")
    assert r.returncode == 1
    assert "passdb: %s auth failed" % USER in r.stdout


def test_imported_hash_is_upgraded_on_login(auth):
    h = "{SHA512-CRYPT}$6$saltsalt$zM85MwF7wzNFxhHekCkSASe1NaC/xUx1S2eoXlbcx1w6LkHRO4n1DK7q.d/HKoYFUjJ10GWDs5jLq2A53OAzU1"
    r = auth.run("user", "add", "carol@" + DOMAIN, "--password-hash", h)
    assert r.returncode == 0, r.stderr
    assert "SHA512-CRYPT" in auth.run("user", "show", "carol@" + DOMAIN).stdout
    c = AuthConn(auth.sock)
    assert c.auth(1, "PLAIN", plain("carol@" + DOMAIN, "secret pw"))[0] == "OK"
    auth.wait_log("password hash upgraded to argon2id")
    out = auth.run("user", "show", "carol@" + DOMAIN).stdout
    assert "password scheme: ARGON2ID\n" in out and "scram-sha-256: yes" in out
    assert scram_login(c, 2, "carol@" + DOMAIN, "secret pw")[0] == "OK"
    c.close()


def test_penalty_refuses_right_password_until_cooling_off(auth):
    c = AuthConn(auth.sock)
    rip = ("service=smtp", "secured", "rip=198.51.100.7")
    # Three failures at once (each answered after the 1 s failure delay).
    for i in range(3):
        c.send("AUTH\t%d\tPLAIN\t%s\tresp=%s" % (10 + i, "\t".join(rip), b64(plain(USER, "guess%d" % i))))
    for i in range(3):
        assert c.readline().startswith("FAIL\t")
    r = c.auth(20, "PLAIN", plain(USER, PASSWORD), extra=rip)
    assert r[:3] == ["FAIL", "20", "reason=too many failed logins, try again later"]
    # Loopback is an exception: the user is not locked out locally.
    assert c.auth(21, "PLAIN", plain(USER, PASSWORD),
                  extra=("service=smtp", "rip=127.0.0.1"))[0] == "OK"
    time.sleep(3.2)
    assert c.auth(22, "PLAIN", plain(USER, PASSWORD), extra=rip)[0] == "OK"
    with open(auth.log_path, errors="replace") as f:   # maillog_file only: stderr repeats it
        log = f.read()
    assert log.count("login failed: service=smtp, user=<%s>, rip=198.51.100.7" % USER) == 4
    assert "reason=too many failed logins (penalty)" in log
    c.close()


@pytest.mark.parametrize("line", [
    "HELLO\tworld",                      # unknown command
    "AUTH\t1\tPLAIN\tservice=smtp",      # AUTH before VERSION
    "VERSION\t2\t0",                     # wrong major version
    "VERSION\t1\t0\nAUTH\t1\tPLAIN\tservice=smtp",   # AUTH before CPID
    "VERSION\t1\t0\nCPID\t1\nAUTH\tx\tPLAIN\tservice=smtp",  # bad id
    "VERSION\t1\t0\nCPID\t1\nAUTH\t1\tPLAIN",                # no service
    "A" * 9000,                          # overlong line
])
def test_protocol_errors_close_the_connection_and_server_survives(auth, line):
    c = AuthConn(auth.sock, handshake=False)
    c.send(line)
    assert c.closed()
    c.close()
    d = AuthConn(auth.sock)
    assert d.auth(1, "PLAIN", plain(USER, PASSWORD))[0] == "OK"
    d.close()


def test_bad_input_gets_fail_with_reason(auth):
    c = AuthConn(auth.sock)
    assert c.auth(1, "CRAM-MD5")[:3] == ["FAIL", "1", "reason=unsupported authentication mechanism"]
    c.send("AUTH\t2\tPLAIN\tservice=smtp\tresp=%%%%")
    assert c.readline().startswith("FAIL\t2\treason=invalid base64")
    assert c.auth(3, "PLAIN", b"\0al\0ice\0pw")[:2] == ["FAIL", "3"]
    assert c.auth(4, "PLAIN", plain("nobody@" + DOMAIN, "x"))[:3] == \
        ["FAIL", "4", "reason=authentication failed"]
    # duplicate id of a request in progress: protocol error
    c.send("AUTH\t5\tLOGIN\tservice=smtp")
    assert c.readline().startswith("CONT\t5")
    c.send("AUTH\t5\tLOGIN\tservice=smtp")
    assert c.closed()


def test_userdb_socket_lookups(auth):
    r = auth.run("user", "add", "dave@" + DOMAIN, "--password-stdin", "--quota", "10M",
                 "--alias", "postmaster@" + DOMAIN, input="pw\n")
    assert r.returncode == 0, r.stderr
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(TIMEOUT)
    s.connect(os.path.join(auth.run_dir, "auth-userdb"))
    s.sendall(b"VERSION\t1\t0\nUSER\t1\tDave@example.test\tservice=imap\n"
              b"SENDERS\t2\tdave@example.test\nUSER\t3\tnobody@example.test\n")
    data = b""
    while data.count(b"\n") < 5:
        data += s.recv(65536)
    lines = data.decode().splitlines()
    assert "USER\t1\tdave@example.test\tbackend=virtual\tquota_bytes=10485760" in lines
    assert "SENDERS\t2\tdave@example.test\tpostmaster@example.test" in lines
    assert "NOTFOUND\t3" in lines
    s.close()


@pytest.mark.skipif(os.geteuid() != 0, reason="PAM with pam_unix needs root")
def test_system_user_logs_in_through_pam(instance):
    name = "pt" + uuid.uuid4().hex[:8]
    service = "postern-test-" + name
    pam_file = "/etc/pam.d/" + service
    with open(pam_file, "w") as f:
        f.write("@include common-auth\n@include common-account\n")
    subprocess.run(["useradd", "-M", "-s", "/usr/sbin/nologin", name], check=True)
    try:
        subprocess.run(["chpasswd"], input="%s:pam-secret-9\n" % name, text=True, check=True)
        # System accounts are the addresses of local domains (mydestination).
        instance.append_conf("auth_backends = virtual pam\nauth_pam_service = %s\n"
                             "auth_failure_delay = 0\n"
                             "mydestination = $myhostname, %s, localhost\n" % (service, DOMAIN))
        instance.start()
        sock = os.path.join(instance.run_dir, "auth")
        instance.wait_for(lambda: os.path.exists(sock), "auth socket")
        st = instance.status()
        assert any(r["name"] == "auth" and r.get("user") == "root" for r in st["roles"]), st
        c = AuthConn(sock)
        assert c.auth(1, "PLAIN", plain(name + "@" + DOMAIN, "pam-secret-9")) == \
            ["OK", "1", "user=%s@%s" % (name, DOMAIN)]
        assert c.auth(2, "PLAIN", plain(name, "wrong"))[0] == "FAIL"
        # The same local part in a domain that is not local is not the
        # system account, even with its password.
        assert c.auth(3, "PLAIN", plain(name + "@elsewhere.example", "pam-secret-9"))[0] == "FAIL"
        instance.wait_log("backend=pam")
        c.close()
    finally:
        subprocess.run(["userdel", name])
        os.unlink(pam_file)
