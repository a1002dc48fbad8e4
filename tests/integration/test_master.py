"""test_master.py - posternd's master, `postern init` and the control commands.

Each test names the behaviour it pins down. The "selftest" role (enabled by
POSTERN_SELFTEST_ROLE=1, see master/roles.c) stands in for real roles: it
serves no protocol, so these tests exercise supervision without pretending
any mail protocol works.
"""
import os
import re
import signal
import socket
import stat
import subprocess
import time

import pytest

from harness import BIN, TIMEOUT, group_alive, make_instance

FILE_LINE = re.compile(r"\S+\.conf:\d+: ")


def process_alive(pid):
    """True while pid exists and is not a zombie (the daemon's parent is
    init, or whatever subreaper the test runs under)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


# --- postern init -----------------------------------------------------------

def test_init_creates_tree_with_modes(instance):
    d = instance.dir
    for sub in ("queue/incoming", "queue/active", "queue/deferred", "queue/hold",
                "queue/corrupt", "mail", "data"):
        assert mode(os.path.join(d, sub)) == 0o700, sub
    for sub in ("run", "log"):
        assert mode(os.path.join(d, sub)) == 0o750, sub
    assert mode(os.path.join(d, "tls", "key.pem")) == 0o600
    assert os.path.getsize(os.path.join(d, "tls", "cert.pem")) > 0
    owner = "postern" if os.geteuid() == 0 else None
    if owner:
        import pwd
        uid = pwd.getpwnam(owner).pw_uid
        assert os.stat(os.path.join(d, "queue")).st_uid == uid
        assert os.stat(os.path.join(d, "tls", "key.pem")).st_uid == uid


def test_init_config_lists_every_choice(instance):
    text = instance.read_conf()
    d = instance.dir
    for line in ("myhostname = mail.example.test", "mydomain = example.test",
                 "queue_directory = %s/queue" % d, "data_directory = %s/data" % d,
                 "run_directory = %s/run" % d, "mail_location = maildir:%s/mail/%%d/%%n" % d,
                 "maillog_file = %s/log/postern.log" % d,
                 "tls_cert_file = %s/tls/cert.pem" % d, "tls_key_file = %s/tls/key.pem" % d):
        assert line + "\n" in text, line
    assert re.search(r"^mail_owner = \S+$", text, re.M)
    # Listeners of built roles (smtp, imap, pop3) are enabled, the others
    # are there commented out, at the chosen port base, saying why.
    built = ("mx", "submission", "smtps", "imap", "imaps", "pop3", "pop3s")
    for name, port in instance.ports.items():
        prefix = "" if name in built else "#"
        assert re.search(r"^%s%s/listen = \S+ 127\.0\.0\.1:%d tls=" % (prefix, name, port), text, re.M), name
    if "#web/listen" in text:
        assert "# (the web role is not built yet)" in text
    assert "submission/smtpd_tls_security_level = encrypt\n" in text


def test_config_n_shows_what_init_set(instance):
    r = instance.run("config", "-n")
    assert r.returncode == 0, r.stderr
    assert "queue_directory = %s/queue" % instance.dir in r.stdout
    assert "myhostname = mail.example.test" in r.stdout


def test_init_refuses_to_overwrite(instance):
    before = instance.read_conf()
    r = subprocess.run([os.path.join(BIN, "postern"), "init", instance.dir],
                       capture_output=True, text=True, timeout=TIMEOUT)
    assert r.returncode == 1
    assert "already exists; not overwriting it" in r.stderr
    assert instance.read_conf() == before


# --- posternd start-up ------------------------------------------------------

def test_start_status_shows_master_roles_listeners(running):
    st = running.status()
    assert int(st["master"]["pid"]) == running.proc.pid
    roles = {r["name"]: r for r in st["roles"]}
    assert roles["selftest"]["state"] == "running"
    assert int(roles["selftest"]["pid"]) > 0
    r = running.run("status")
    assert r.returncode == 0, r.stderr
    assert "the mail system is running: PID: %d" % running.proc.pid in r.stdout
    assert re.search(r"^selftest\s+\d+\s+running\s+0", r.stdout, re.M), r.stdout
    running.wait_log("selftest role ready")


def test_status_without_listener_roles(tmp_root):
    """An instance without enabled listeners (the SMTP and POP3 ones commented out):
    only the always-started auth and queue roles run next to the master, and
    status lists exactly those instead of inventing rows."""
    inst = make_instance(tmp_root)
    inst.write_conf(re.sub(r"^(mx|submission|smtps|imap|imaps|pop3|pop3s)/", r"#\1/", inst.read_conf(), flags=re.M))
    inst.start()
    try:
        r = inst.run("status")
        assert r.returncode == 0
        assert re.search(r"^auth\s+\d+\s+running\s+0", r.stdout, re.M), r.stdout
        assert "(no listeners configured)" in r.stdout
        assert re.search(r"^queue\s+\d+\s+running\s+0", r.stdout, re.M), r.stdout
        assert [ro["name"] for ro in inst.status()["roles"]] == ["auth", "queue"]
    finally:
        assert inst.stop() == 0


def test_check_is_silent_when_all_is_well(instance):
    r = instance.run("check")
    assert (r.returncode, r.stdout, r.stderr) == (0, "", "")


def test_second_posternd_refused_with_pid(running):
    r = running.posternd("-c", running.conf, "-f")
    assert r.returncode != 0
    pidfile = os.path.join(running.run_dir, "master.pid")
    assert ("posternd is already running with pid %d (%s); stop it with postern stop"
            % (running.proc.pid, pidfile)) in r.stderr
    assert running.proc.poll() is None


def test_bad_value_one_file_line_error(instance):
    instance.append_conf("master_restart_delay = banana")
    line = instance.conf_line_of("master_restart_delay = banana")
    r = instance.posternd("-c", instance.conf, "-f")
    assert r.returncode != 0
    hits = [l for l in r.stderr.splitlines() if FILE_LINE.search(l)]
    assert len(hits) == 1, r.stderr
    assert "%s:%d: master_restart_delay" % (instance.conf, line) in hits[0]
    assert not os.path.exists(os.path.join(instance.run_dir, "master.sock"))


def test_missing_config_is_clear(tmp_root):
    missing = os.path.join(tmp_root, "nope", "postern.conf")
    r = subprocess.run([os.path.join(BIN, "posternd"), "-c", missing, "-f"],
                       capture_output=True, text=True, timeout=TIMEOUT)
    assert r.returncode == 1
    assert "cannot read configuration file %s: No such file or directory" % missing in r.stderr
    assert "postern init" in r.stderr


def test_unbuilt_protocol_refused(instance):
    # The web role is the last to be built: its listener is written
    # commented out until then.
    if "#web/listen" not in instance.read_conf():
        pytest.skip("every protocol's role is built")
    text = instance.read_conf().replace("#web/listen", "web/listen")
    instance.write_conf(text)
    line = instance.conf_line_of("web/listen")
    r = instance.posternd("-c", instance.conf, "-f")
    assert r.returncode == 1
    assert ("%s:%d: web/listen: protocol web is not built into this posternd yet; "
            "comment the line out" % (instance.conf, line)) in r.stderr
    # Nothing was bound, not even the listeners of built roles.
    # SO_REUSEADDR: a listener still makes bind fail, a TIME_WAIT
    # connection of an earlier test on the same port number does not.
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind(("127.0.0.1", instance.ports["mx"]))
    finally:
        s.close()


# --- signals and supervision ------------------------------------------------

def test_sighup_with_broken_config_keeps_running(running):
    # The fixture returns once the master answers; the role may still be
    # starting, so wait for it before remembering its pid.
    pid_before = running.wait_for(lambda: running.role_pid("selftest"), "selftest running")
    running.append_conf("master_stop_timeout = forever")
    running.signal(signal.SIGHUP)
    running.wait_log("warning: reload failed, keeping the running configuration")
    assert "master_stop_timeout" in running.log_text()
    assert running.proc.poll() is None
    assert running.status()["master"]["reloads"] == "0"
    assert running.role_pid("selftest") == pid_before


def test_sighup_with_valid_change_applies_it(running):
    old_pid = running.wait_for(lambda: running.role_pid("selftest"), "selftest running")
    other = os.path.join(running.dir, "log", "other.log")
    running.extra_logs.append(other)
    running.append_conf("maillog_file = %s" % other)
    running.signal(signal.SIGHUP)
    running.wait_for(lambda: os.path.exists(other) and "configuration reloaded" in open(other).read(),
                     "reload logged to the new maillog_file")
    assert running.status()["master"]["reloads"] == "1"
    new_pid = running.wait_for(lambda: running.role_pid("selftest") not in (None, old_pid) and
                               running.role_pid("selftest"), "a new selftest process")
    assert new_pid != old_pid
    # The old process was stopped gracefully.
    running.wait_for(lambda: not process_alive(old_pid), "old role gone")


def test_reload_command_refuses_invalid_config(running):
    running.append_conf("master_restart_delay = soon")
    r = running.run("reload")
    assert r.returncode == 1
    assert "master_restart_delay" in r.stderr
    assert "not reloading" in r.stderr
    assert running.status()["master"]["reloads"] == "0"


def test_reload_command_applies(running):
    r = running.run("reload")
    assert r.returncode == 0, r.stderr
    assert running.status()["master"]["reloads"] == "1"


def test_role_restart_after_crash(running):
    pid = running.wait_for(lambda: running.role_pid("selftest"), "selftest running")
    running.wait_log("selftest role ready")
    os.kill(pid, signal.SIGUSR1)
    running.wait_log("warning: process posternd/selftest pid %d exit status 3" % pid)
    new = running.wait_for(lambda: running.role_pid("selftest") not in (None, pid) and
                           running.role_pid("selftest"), "restarted selftest")
    roles = {r["name"]: r for r in running.status()["roles"]}
    assert roles["selftest"]["restarts"] == "1"
    os.kill(new, signal.SIGKILL)
    running.wait_log("warning: process posternd/selftest pid %d killed by signal 9" % new)


def test_role_restarted_after_a_refused_edit_runs_the_validated_config(running):
    """The file holds an edit the master refused; a role that crashes now
    must come back with the configuration the master runs (passed in
    memory), not fail on the file in a restart loop."""
    pid = running.wait_for(lambda: running.role_pid("selftest"), "selftest running")
    running.wait_log("selftest role ready")
    running.append_conf("master_stop_timeout = forever")
    running.signal(signal.SIGHUP)
    running.wait_log("warning: reload failed, keeping the running configuration")
    refusals = running.log_text().count("is not a valid time")
    os.kill(pid, signal.SIGKILL)
    running.wait_log("warning: process posternd/selftest pid %d killed by signal 9" % pid)
    new = running.wait_for(lambda: running.role_pid("selftest") not in (None, pid) and
                           running.role_pid("selftest"), "restarted selftest")
    running.wait_for(lambda: running.log_text().count("selftest role ready") >= 2,
                     "the restarted selftest role ready")
    # The restarted role did not trip over the refused line.
    assert running.log_text().count("is not a valid time") == refusals
    assert running.role_pid("selftest") == new


def test_roles_drop_privileges(running):
    if os.geteuid() != 0:
        return
    import pwd
    pid = running.wait_for(lambda: running.role_pid("selftest"), "selftest running")
    uid = pwd.getpwnam("postern").pw_uid
    with open("/proc/%d/status" % pid) as f:
        fields = dict(line.split(":", 1) for line in f if ":" in line)
    assert fields["Uid"].split() == [str(uid)] * 4
    running.wait_log("selftest role ready: uid=%d" % uid)
    # The master itself stays root to bind and restart.
    with open("/proc/%d/status" % running.proc.pid) as f:
        assert any(l.startswith("Uid:\t0\t") for l in f)


def test_sigterm_stops_cleanly(running):
    pgid = running.proc.pid
    running.wait_log("selftest role ready")
    running.signal(signal.SIGTERM)
    assert running.proc.wait(timeout=TIMEOUT) == 0
    assert not group_alive(pgid)
    assert not os.path.exists(os.path.join(running.run_dir, "master.pid"))
    assert not os.path.exists(os.path.join(running.run_dir, "master.sock"))
    assert "process posternd/selftest pid" in running.log_text()


def test_sigint_stops_like_sigterm(running):
    running.signal(signal.SIGINT)
    assert running.proc.wait(timeout=TIMEOUT) == 0


def test_control_socket_is_private_and_answers_errors(running):
    sock = os.path.join(running.run_dir, "master.sock")
    assert mode(sock) == 0o600
    assert running.control("FROB") == ['ERR unknown command "FROB"; use STATUS, RELOAD or STOP']


# --- the control commands ---------------------------------------------------

def test_stop_when_not_running(instance):
    r = instance.run("stop")
    assert r.returncode == 1
    assert "the mail system is not running" in r.stderr
    r = instance.run("status")
    assert r.returncode == 1
    assert "the mail system is not running" in r.stderr


def test_start_and_stop_in_background(instance):
    r = instance.run("start")
    try:
        assert r.returncode == 0, r.stderr
        st = instance.status()
        assert st is not None
        pid = int(st["master"]["pid"])
        r2 = instance.run("start")
        assert r2.returncode == 1 and "already running" in r2.stderr
    finally:
        r = instance.run("stop")
    assert r.returncode == 0, r.stderr
    instance.wait_for(lambda: not process_alive(pid), "the daemon to exit")
    assert instance.run("status").returncode == 1


# --- sendmail ---------------------------------------------------------------

def test_sendmail_without_posternd_exits_tempfail(instance):
    # Nobody serves the pickup socket: 75 tells cron and PHP to keep the
    # message and retry; the text says what to do.
    r = subprocess.run([os.path.join(BIN, "sendmail"), "-C", instance.conf, "-t", "-i"],
                       input="To: a@example.test\n\nhello\n", capture_output=True, text=True,
                       timeout=TIMEOUT)
    assert r.returncode == 75
    assert "sendmail: fatal: cannot submit mail: cannot connect to the queue role at " in r.stderr
    assert "is posternd running? (postern start)" in r.stderr


def test_check_reports_each_problem_with_its_fix(instance):
    data = os.path.join(instance.dir, "data")
    os.chmod(data, 0o770)
    os.rmdir(os.path.join(instance.dir, "queue", "hold"))
    r = instance.run("check")
    assert r.returncode == 1
    lines = r.stderr.splitlines()
    assert any("data_directory %s is writable by its group (mode 0770); fix: chmod go-w %s"
               % (data, data) in l for l in lines), r.stderr
    assert any("queue/hold" in l and "create it: mkdir" in l for l in lines), r.stderr
    assert r.stdout == ""


def test_check_rejects_a_key_that_does_not_match(instance, tmp_root):
    other = make_instance(tmp_root, name="other")
    text = instance.read_conf().replace(
        "tls_key_file = %s/tls/key.pem" % instance.dir,
        "tls_key_file = %s/tls/key.pem" % other.dir)
    instance.write_conf(text)
    r = instance.run("check")
    assert r.returncode == 1
    assert "tls_cert_file" in r.stderr
