"""test_postfix_sasl.py - a real Postfix from Debian authenticates SMTP
clients through Postern's auth socket (smtpd_sasl_type = dovecot), the
migration path for users who keep Postfix for a while (issue 4).

The test starts its own Postfix as root on a loopback high port, with its
own config directory, queue and data directories in a temporary
directory, and logs to stdout (maillog_file = /dev/stdout through
postlogd) into a file the test reads. Postern runs with
auth_socket_group = postfix, so Postfix's smtpd (user postfix) can connect
to a socket that posternd (root) created for the auth role (mail_owner).
Clients are Python's smtplib: AUTH PLAIN and AUTH LOGIN with the right
password get 235, a wrong one 535, and Postfix logs sasl_username.

Skipped, with the reason, when Postfix is not installed (a developer
machine: `mk/deps.sh ci` installs it) or the tests do not run as root.
"""
import os
import shutil
import signal
import smtplib
import socket
import subprocess
import tempfile
import time

import pytest

from harness import TIMEOUT

POSTFIX = "/usr/sbin/postfix"
USER = "alice@example.test"
PASSWORD = "Postfix-to-Postern 7"

pytestmark = [
    pytest.mark.skipif(not os.path.exists(POSTFIX),
                       reason="postfix is not installed (CI installs it: sh mk/deps.sh ci)"),
    pytest.mark.skipif(os.geteuid() != 0, reason="starting Postfix needs root"),
]

MASTER_CF_SERVICES = """\
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def session_members(sid):
    """PIDs of processes in session sid (Postfix's master calls setsid)."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # after "pid (comm)": state ppid pgrp session ...
        if int(fields[3]) == sid:
            pids.append(int(entry))
    return pids


class Postfix:
    """A private Postfix instance under a temporary directory."""

    def __init__(self, sasl_path):
        self.dir = tempfile.mkdtemp(prefix="postern-postfix-")
        os.chmod(self.dir, 0o755)
        self.cfg = os.path.join(self.dir, "cfg")
        self.spool = os.path.join(self.dir, "spool")
        self.log_path = os.path.join(self.dir, "postfix.log")
        self.port = free_port()
        self.proc = None
        self.master_pid = None
        os.mkdir(self.cfg)
        # postfix check creates the queue's subdirectories, not the queue.
        os.mkdir(self.spool, 0o755)
        with open(os.path.join(self.cfg, "main.cf"), "w") as f:
            f.write("\n".join([
                "compatibility_level = 3.6",
                "queue_directory = %s" % self.spool,
                "data_directory = %s" % os.path.join(self.dir, "data"),
                "mail_owner = postfix",
                "setgid_group = postdrop",
                "myhostname = postfix.example.test",
                "mydestination =",
                "alias_maps =",
                "alias_database =",
                "inet_interfaces = 127.0.0.1",
                "inet_protocols = ipv4",
                "maillog_file = /dev/stdout",
                "smtpd_sasl_auth_enable = yes",
                "smtpd_sasl_type = dovecot",
                "smtpd_sasl_path = %s" % sasl_path,
                "smtpd_relay_restrictions = permit_sasl_authenticated, reject",
                "",
            ]))
        with open(os.path.join(self.cfg, "master.cf"), "w") as f:
            f.write("127.0.0.1:%d inet n - n - - smtpd\n" % self.port)
            f.write(MASTER_CF_SERVICES)

    def postfix(self, *args):
        return subprocess.run([POSTFIX, "-c", self.cfg] + list(args), capture_output=True,
                              text=True, timeout=TIMEOUT * 3)

    def start(self):
        r = self.postfix("check")
        assert r.returncode == 0, "postfix check failed:\n" + r.stdout + r.stderr
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([POSTFIX, "-c", self.cfg, "start-fg"],
                                     stdin=subprocess.DEVNULL, stdout=self.log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.time() + TIMEOUT * 3
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("postfix start-fg exited with %s:\n%s"
                                     % (self.proc.returncode, self.log_text()))
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        else:
            raise AssertionError("Postfix did not listen on port %d:\n%s"
                                 % (self.port, self.log_text()))
        pid_file = os.path.join(self.spool, "pid", "master.pid")
        with open(pid_file) as f:
            self.master_pid = int(f.read().strip())

    def log_text(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def wait_log(self, needle):
        deadline = time.time() + TIMEOUT
        while time.time() < deadline:
            if needle in self.log_text():
                return
            time.sleep(0.1)
        raise AssertionError("%r not in Postfix's log:\n%s" % (needle, self.log_text()[-4000:]))

    def stop(self):
        """postfix stop, then make sure nothing of it is left; returns
        the PIDs that had to be killed."""
        left = []
        if self.proc is not None:
            if self.proc.poll() is None:
                self.postfix("stop")
                try:
                    self.proc.wait(timeout=TIMEOUT)
                except subprocess.TimeoutExpired:
                    pass
            groups = [self.proc.pid] + ([self.master_pid] if self.master_pid else [])
            deadline = time.time() + TIMEOUT
            while time.time() < deadline and any(session_members(g) for g in groups):
                time.sleep(0.1)
            for g in groups:
                for pid in session_members(g):
                    left.append(pid)
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait(timeout=TIMEOUT)
            self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)
        return left


@pytest.fixture
def postern(instance, tmp_root):
    """Postern with a virtual user and its auth socket group postfix, in a
    directory the master creates (0755) so that user postfix can reach it."""
    sasl = os.path.join(tmp_root, "sasl", "auth")
    instance.append_conf("auth_socket_path = %s\nauth_socket_group = postfix\n"
                         "auth_socket_mode = 0660\nauth_failure_delay = 0\n" % sasl)
    r = instance.run("user", "add", USER, "--password-stdin", input=PASSWORD + "\n")
    assert r.returncode == 0, r.stderr
    r = instance.run("check")
    assert r.returncode == 0, r.stderr
    instance.start()
    instance.wait_for(lambda: instance.role_pid("auth"), "auth role running")
    instance.wait_log("auth: ready")
    instance.sasl_path = sasl
    return instance


@pytest.fixture
def postfix(postern):
    pf = Postfix(postern.sasl_path)
    try:
        pf.start()
    except BaseException:
        pf.stop()
        raise
    yield pf
    left = pf.stop()
    if left:
        pytest.fail("Postfix processes left behind and killed: %s" % left)


def smtp(pf):
    s = smtplib.SMTP("127.0.0.1", pf.port, timeout=TIMEOUT)
    s.ehlo("client.example.test")
    return s


def test_auth_socket_is_reachable_by_postfix(postern):
    st = os.lstat(postern.sasl_path)
    import grp
    assert st.st_gid == grp.getgrnam("postfix").gr_gid
    # What Postfix's smtpd needs: user postfix can connect.
    r = subprocess.run(["setpriv", "--reuid=postfix", "--regid=postfix", "--init-groups",
                        "/usr/bin/python3", "-c",
                        "import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); "
                        "print(s.recv(100).split(b'\\n')[0].decode())", postern.sasl_path],
                       capture_output=True, text=True, timeout=TIMEOUT)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "VERSION\t1\t2"


def test_postfix_offers_postern_mechanisms(postfix):
    s = smtp(postfix)
    mechs = s.esmtp_features.get("auth", "").upper().split()
    assert "PLAIN" in mechs and "LOGIN" in mechs, s.esmtp_features
    s.quit()


@pytest.mark.parametrize("mech", ["PLAIN", "LOGIN"])
def test_auth_through_postfix_succeeds(postern, postfix, mech):
    s = smtp(postfix)
    s.user, s.password = USER, PASSWORD
    method = s.auth_plain if mech == "PLAIN" else s.auth_login
    code, text = s.auth(mech, method, initial_response_ok=(mech == "PLAIN"))
    assert code == 235, text
    # Postfix logs sasl_username with the transaction, once a recipient
    # is accepted; relaying is allowed only because we authenticated.
    assert s.mail(USER)[0] == 250
    assert s.rcpt("bob@example.org")[0] == 250
    s.rset()
    s.quit()
    postfix.wait_log("sasl_method=%s, sasl_username=%s" % (mech, USER))
    postern.wait_log("login: service=smtp, user=<%s>, rip=127.0.0.1" % USER)


def test_wrong_password_through_postfix_fails(postern, postfix):
    s = smtp(postfix)
    s.user, s.password = USER, "not the password"
    with pytest.raises(smtplib.SMTPAuthenticationError) as e:
        s.auth("PLAIN", s.auth_plain)
    assert e.value.smtp_code == 535
    # Not authenticated: relaying is refused.
    assert s.mail(USER)[0] == 250
    assert s.rcpt("bob@example.org")[0] == 554
    s.quit()
    postfix.wait_log("SASL PLAIN authentication failed")
    postern.wait_log("login failed: service=smtp, user=<%s>, rip=127.0.0.1" % USER)
