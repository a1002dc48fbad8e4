"""test_auth_cache.py - the authentication cache (auth_cache_size,
auth/auth-cache.c) seen from POP3 and IMAP clients: a second login is
answered from the cache (the auth log says cache=hit), `postern user
passwd` and `postern user disable` take effect at the very next login, a
wrong password still fails (also when it is the cached failure), and the
brute-force penalty still counts cached failures; SCRAM-SHA-256 is not
affected; PAM results are cached and a password changed with chpasswd or
an account locked with usermod -L takes effect at once.

One instance with auth_cache_size = 1M serves the module; each test uses
its own user so cache entries do not meet.
"""
import imaplib
import os
import shutil
import subprocess
import tempfile
import time
import uuid

import pytest

from harness import BAD_MARKERS, TIMEOUT, make_instance, reap_leftovers
from pop3_helpers import PASSWORD, Client, add_users
from test_auth import AuthConn, plain, scram_login

USERS = ["c%d@example.test" % i for i in range(1, 8)]


@pytest.fixture(scope="module")
def inst():
    d = tempfile.mkdtemp(prefix="postern-it-")
    os.chmod(d, 0o755)
    i = start_instance(d, "auth_cache_size = 1M\nauth_failure_delay = 0\n")
    yield i
    finish_instance(i, d)


def start_instance(d, conf):
    i = make_instance(d)
    i.append_conf(conf)
    add_users(i, USERS)
    i.start()
    i.wait_log("pop3: ready")
    i.wait_log("auth: cache of ")
    return i


def finish_instance(i, d):
    problems = []
    try:
        i.stop()
    except AssertionError as e:
        problems.append(str(e))
    left = reap_leftovers(i.conf)
    if left:
        problems.append("processes left behind: %s" % left)
    text = i.log_text()
    for marker in BAD_MARKERS:
        if marker in text:
            problems.append("%s in posternd output" % marker)
    shutil.rmtree(d, ignore_errors=True)
    assert not problems, "; ".join(problems) + "\n--- log:\n" + text[-8000:]


def pop3_login(inst, user, password):
    """USER/PASS over plaintext POP3 on loopback; the PASS reply line."""
    c = Client(inst.ports["pop3"])
    assert c.cmd("USER " + user).startswith("+OK")
    reply = c.cmd("PASS " + password)
    if reply.startswith("+OK"):
        assert c.cmd("STAT").startswith("+OK")
    c.cmd("QUIT")
    return reply


def auth_lines(inst, user):
    """The auth role's login/login failed lines for user, in order."""
    # One source only: posternd -f may write each line to stderr and to
    # the log file, and log_text() joins both.
    try:
        with open(inst.log_path, errors="replace") as f:
            text = f.read()
    except FileNotFoundError:
        text = inst.stderr_text()
    return [l for l in text.splitlines()
            if "/auth[" in l and ("login: " in l or "login failed: " in l)
            and "user=<%s>" % user in l]


def wait_lines(inst, user, n):
    inst.wait_for(lambda: len(auth_lines(inst, user)) >= n, "%d auth log lines for %s" % (n, user))
    return auth_lines(inst, user)


def test_second_login_is_cached_pop3_and_imap(inst):
    user = USERS[0]
    assert pop3_login(inst, user, PASSWORD).startswith("+OK")
    assert pop3_login(inst, user, PASSWORD).startswith("+OK")
    c = imaplib.IMAP4("127.0.0.1", inst.ports["imap"], timeout=TIMEOUT)
    assert c.login(user, PASSWORD)[0] == "OK"
    c.logout()
    lines = wait_lines(inst, user, 3)
    assert "backend=virtual" in lines[0] and "cache=hit" not in lines[0], lines
    assert "service=pop3" in lines[1] and "backend=virtual, cache=hit" in lines[1], lines
    assert "service=imap" in lines[2] and "backend=virtual, cache=hit" in lines[2], lines


def test_changed_password_takes_effect_at_once(inst):
    user = USERS[1]
    assert pop3_login(inst, user, PASSWORD).startswith("+OK")
    assert pop3_login(inst, user, PASSWORD).startswith("+OK")
    assert "cache=hit" in wait_lines(inst, user, 2)[1]
    r = inst.run("user", "passwd", user, "--password-stdin", input="brand new pass\n")
    assert r.returncode == 0, r.stderr
    # the old password, cached a moment ago, is refused at the next login
    assert pop3_login(inst, user, PASSWORD).startswith("-ERR")
    assert pop3_login(inst, user, "brand new pass").startswith("+OK")
    assert pop3_login(inst, user, "brand new pass").startswith("+OK")
    lines = wait_lines(inst, user, 5)
    assert "login failed" in lines[2] and "cache=hit" not in lines[2], lines
    assert "cache=hit" not in lines[3] and "cache=hit" in lines[4], lines


def test_wrong_password_still_fails(inst):
    user = USERS[2]
    assert pop3_login(inst, user, PASSWORD).startswith("+OK")
    assert pop3_login(inst, user, PASSWORD).startswith("+OK")
    # wrong once (verified), wrong again (the cached failure), wrong with
    # another password (verified): never accepted by the cached success
    assert pop3_login(inst, user, "not the password").startswith("-ERR")
    assert pop3_login(inst, user, "not the password").startswith("-ERR")
    assert pop3_login(inst, user, PASSWORD + "x").startswith("-ERR")
    assert pop3_login(inst, user, PASSWORD).startswith("+OK")
    c = imaplib.IMAP4("127.0.0.1", inst.ports["imap"], timeout=TIMEOUT)
    with pytest.raises(imaplib.IMAP4.error):
        c.login(user, "not the password")
    c.logout()
    lines = wait_lines(inst, user, 7)
    assert "login failed" in lines[2] and "cache=hit" not in lines[2], lines
    assert "login failed" in lines[3] and "cache=hit" in lines[3], lines
    assert "login failed" in lines[4] and "cache=hit" not in lines[4], lines
    assert "login: " in lines[5] and "cache=hit" in lines[5], lines
    assert "login failed" in lines[6] and "service=imap" in lines[6], lines


def test_disabled_user_refused_at_once(inst):
    user = USERS[3]
    assert pop3_login(inst, user, PASSWORD).startswith("+OK")
    assert pop3_login(inst, user, PASSWORD).startswith("+OK")
    r = inst.run("user", "disable", user)
    assert r.returncode == 0, r.stderr
    assert pop3_login(inst, user, PASSWORD).startswith("-ERR")
    r = inst.run("user", "enable", user)
    assert r.returncode == 0, r.stderr
    assert pop3_login(inst, user, PASSWORD).startswith("+OK")
    lines = wait_lines(inst, user, 4)
    assert "user disabled" in lines[2], lines
    # the stored hash did not change, so the entry from before still holds
    assert "cache=hit" in lines[3], lines


def test_penalty_counts_cached_failures():
    # Loopback is never counted by the default exceptions, so this
    # instance counts it; its own instance, so the other tests' logins
    # from 127.0.0.1 are not refused.
    d = tempfile.mkdtemp(prefix="postern-it-")
    os.chmod(d, 0o755)
    inst = start_instance(d, "auth_cache_size = 1M\nauth_failure_delay = 0\n"
                          "auth_penalty_limit = 3\nauth_penalty_time = 30s\n"
                          "auth_penalty_exceptions = 192.0.2.0/24\n")
    try:
        penalty_counts_cached_failures(inst)
    finally:
        finish_instance(inst, d)


def penalty_counts_cached_failures(inst):
    user = USERS[4]
    assert pop3_login(inst, user, PASSWORD).startswith("+OK")
    # three failures with the same wrong password: two of them cached
    for _ in range(3):
        assert pop3_login(inst, user, "guess").startswith("-ERR")
    # the limit (3) is reached: even the right, cached password is refused
    assert pop3_login(inst, user, PASSWORD).startswith("-ERR")
    lines = wait_lines(inst, user, 5)
    assert sum("cache=hit" in l for l in lines[1:4]) == 2, lines
    assert "too many failed logins" in lines[4], lines


def test_reload_empties_the_cache(inst):
    user = USERS[5]
    assert pop3_login(inst, user, PASSWORD).startswith("+OK")
    assert pop3_login(inst, user, PASSWORD).startswith("+OK")
    assert "cache=hit" in wait_lines(inst, user, 2)[1]
    pid = inst.role_pid("auth")
    r = inst.run("reload")
    assert r.returncode == 0, r.stderr + r.stdout
    inst.wait_for(lambda: inst.role_pid("auth") not in (None, pid), "a new auth role")
    inst.wait_log("auth: cache hits=")
    deadline = time.time() + TIMEOUT
    while True:
        reply = pop3_login(inst, user, PASSWORD)
        if reply.startswith("+OK") or time.time() > deadline:
            break
        time.sleep(0.2)
    assert reply.startswith("+OK")
    lines = wait_lines(inst, user, 3)
    assert "cache=hit" not in lines[-1], lines


def test_scram_unaffected_by_the_cache(inst):
    user = USERS[6]
    sock = os.path.join(inst.run_dir, "auth")
    c = AuthConn(sock)
    assert c.auth(1, "PLAIN", plain(user, PASSWORD))[0] == "OK"
    assert c.auth(2, "PLAIN", plain(user, PASSWORD))[0] == "OK"
    assert scram_login(c, 3, user, PASSWORD)[:3] == ["OK", "3", "user=" + user]
    assert scram_login(c, 4, user, "wrong")[:2] == ["FAIL", "4"]
    c.close()
    lines = wait_lines(inst, user, 4)
    assert "cache=hit" in lines[1], lines
    assert "mech=SCRAM-SHA-256" in lines[2] and "cache=hit" not in lines[2], lines


@pytest.mark.skipif(os.geteuid() != 0, reason="PAM with pam_unix needs root")
def test_pam_results_cached_and_shadow_changes_seen(instance):
    name = "pc" + uuid.uuid4().hex[:8]
    service = "postern-test-" + name
    pam_file = "/etc/pam.d/" + service
    with open(pam_file, "w") as f:
        f.write("@include common-auth\n@include common-account\n")
    subprocess.run(["useradd", "-M", "-s", "/usr/sbin/nologin", name], check=True)
    try:
        subprocess.run(["chpasswd"], input="%s:pam-secret-1\n" % name, text=True, check=True)
        instance.append_conf("auth_backends = pam\nauth_pam_service = %s\n"
                             "auth_failure_delay = 0\nauth_cache_size = 1M\n" % service)
        instance.start()
        sock = os.path.join(instance.run_dir, "auth")
        instance.wait_for(lambda: os.path.exists(sock), "auth socket")
        c = AuthConn(sock)
        assert c.auth(1, "PLAIN", plain(name, "pam-secret-1"))[0] == "OK"
        assert c.auth(2, "PLAIN", plain(name, "pam-secret-1"))[0] == "OK"
        assert c.auth(3, "PLAIN", plain(name, "wrong"))[0] == "FAIL"
        assert c.auth(4, "PLAIN", plain(name, "wrong"))[0] == "FAIL"
        # chpasswd rewrites /etc/shadow: the cached success no longer holds
        subprocess.run(["chpasswd"], input="%s:pam-secret-2\n" % name, text=True, check=True)
        assert c.auth(5, "PLAIN", plain(name, "pam-secret-1"))[0] == "FAIL"
        assert c.auth(6, "PLAIN", plain(name, "pam-secret-2"))[0] == "OK"
        assert c.auth(7, "PLAIN", plain(name, "pam-secret-2"))[0] == "OK"
        # a locked account is refused at once although its password is cached
        subprocess.run(["usermod", "-L", name], check=True)
        assert c.auth(8, "PLAIN", plain(name, "pam-secret-2"))[0] == "FAIL"
        c.close()
        lines = wait_lines(instance, name, 8)
        hits = ["cache=hit" in l for l in lines]
        assert hits == [False, True, False, True, False, False, True, False], lines
        assert all("backend=pam" in l for l in (lines[0], lines[1], lines[5], lines[6])), lines
    finally:
        subprocess.run(["userdel", name])
        os.unlink(pam_file)
