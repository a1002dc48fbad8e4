"""harness.py - the test harness: real Postern instances for pytest.

Shared by tests/integration/ and tests/interop/: each directory's
conftest.py puts tests/ on sys.path and imports the fixtures from here
(pytest registers fixtures imported into a conftest), and test files
import helpers with `from harness import TIMEOUT, ...`.

Every test gets a fresh instance made by `postern init TMP --port-base N
--listen 127.0.0.1` on a free port base (fixture `instance`), and can start
posternd in the foreground in its own process group (`instance.start()`,
or the fixture `running` which does it and waits until the master answers
on its control socket). Clients are Python's stdlib only (socket, smtplib,
imaplib, poplib, ssl) so that what the tests speak is what real clients
speak.

On teardown the master gets SIGTERM, then after a grace period the whole
process group gets SIGKILL; the test fails if any process of the group
was still there, or if the master's stderr or the maillog_file mention a
sanitizer report or a panic.

Environment:
  POSTERN_BIN   directory with posternd, postern, sendmail (default ./bin)
  POSTERN_SAN   1 when those are ASan/UBSan builds: longer timeouts, and
                sanitizer options for every process started here.
"""
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.abspath(os.environ.get("POSTERN_BIN", os.path.join(ROOT, "bin")))
SAN = os.environ.get("POSTERN_SAN") == "1"
TIMEOUT = 60 if SAN else 20

# The standard listeners of `postern init` and their ports (cli/instance.c).
STANDARD_PORTS = {"mx": 25, "submission": 587, "smtps": 465, "imap": 143,
                  "imaps": 993, "pop3": 110, "pop3s": 995, "web": 443}

BAD_MARKERS = ("AddressSanitizer", "runtime error:", "LeakSanitizer", "panic:")


def base_env():
    env = dict(os.environ)
    env.pop("POSTERN_CONF", None)
    if SAN:
        # Leak detection stays on: the master and every role free what they
        # allocated before a clean exit, and a leak there is a bug. Processes
        # that leave with _exit() (the daemonizing parents, a failed exec)
        # are not checked by LeakSanitizer at all.
        env["ASAN_OPTIONS"] = "detect_leaks=1:abort_on_error=0:log_path=stderr"
        env["UBSAN_OPTIONS"] = "print_stacktrace=1:halt_on_error=1"
    return env


def ports_free(base, address="127.0.0.1"):
    socks = []
    try:
        for port in STANDARD_PORTS.values():
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            socks.append(s)
            # As posternd binds (SO_REUSEADDR): a port whose last
            # connections linger in TIME_WAIT is free for it too.
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((address, base + port))
        return True
    except OSError:
        return False
    finally:
        for s in socks:
            s.close()


# Bases stay below the kernel's ephemeral range (32768 and up by default):
# between the check here and posternd's bind, an outgoing connection of any
# test client (curl, fetchmail, the auth client) may take a free ephemeral
# port, which made a start fail with "Address already in use".
_BASE_FIRST, _BASE_LAST = 2000, 31000
_next_base = [_BASE_FIRST + (os.getpid() % 30) * 1000]


def free_port_base():
    """A base N such that N + every standard port is free on 127.0.0.1."""
    for _ in range(48):
        base = _next_base[0]
        _next_base[0] = _BASE_FIRST if base >= _BASE_LAST else base + 1000
        if ports_free(base):
            return base
    raise RuntimeError("no free port base found")


_next_single = [31500 + os.getpid() % 1000]


def free_port(address="127.0.0.1"):
    """A single free TCP port on address, below the ephemeral range (see
    free_port_base), for a listener a test adds on another address."""
    for _ in range(1000):
        port = _next_single[0]
        _next_single[0] = 31500 if port >= 32499 else port + 1
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((address, port))
            return port
        except OSError:
            continue
        finally:
            s.close()
    raise RuntimeError("no free port found on %s" % address)


class Instance:
    """One Postern instance in a temporary directory."""

    def __init__(self, directory, port_base):
        self.dir = directory
        self.conf = os.path.join(directory, "postern.conf")
        self.port_base = port_base
        self.ports = {name: port_base + p for name, p in STANDARD_PORTS.items()}
        self.env = base_env()
        self.proc = None
        self.stderr_path = os.path.join(os.path.dirname(directory), "posternd.stderr")
        self.log_path = os.path.join(directory, "log", "postern.log")
        self.run_dir = os.path.join(directory, "run")
        self.extra_logs = []

    # --- commands -------------------------------------------------------
    def bin(self, name):
        return os.path.join(BIN, name)

    def run(self, *args, input=None, env=None, timeout=None):
        """Run `postern -c CONF ARGS...`; returns CompletedProcess (text)."""
        return subprocess.run([self.bin("postern"), "-c", self.conf] + list(args),
                              input=input, capture_output=True, text=True,
                              env=env or self.env, timeout=timeout or TIMEOUT)

    def posternd(self, *args, env=None, timeout=None):
        """Run posternd to completion (for start-up failures)."""
        return subprocess.run([self.bin("posternd")] + list(args), capture_output=True,
                              text=True, env=env or self.env, timeout=timeout or TIMEOUT)

    # --- configuration --------------------------------------------------
    def read_conf(self):
        with open(self.conf) as f:
            return f.read()

    def write_conf(self, text):
        with open(self.conf, "w") as f:
            f.write(text)

    def append_conf(self, text):
        with open(self.conf, "a") as f:
            f.write(text if text.endswith("\n") else text + "\n")

    def conf_line_of(self, needle):
        for i, line in enumerate(self.read_conf().splitlines(), 1):
            if needle in line:
                return i
        raise KeyError(needle)

    # --- the daemon -----------------------------------------------------
    def start(self, extra_env=None, wait=True):
        """Start `posternd -c CONF -f` in its own process group."""
        env = dict(self.env)
        env.update(extra_env or {})
        self.stderr_file = open(self.stderr_path, "ab")
        self.proc = subprocess.Popen([self.bin("posternd"), "-c", self.conf, "-f"],
                                     stdin=subprocess.DEVNULL, stdout=self.stderr_file,
                                     stderr=self.stderr_file, env=env,
                                     start_new_session=True)
        if wait:
            self.wait_ready()
        return self.proc

    def wait_ready(self):
        deadline = time.time() + TIMEOUT
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("posternd exited with %s during start-up:\n%s"
                                     % (self.proc.returncode, self.stderr_text()))
            if self.control("STATUS") is not None:
                return
            time.sleep(0.05)
        raise AssertionError("posternd did not become ready:\n" + self.stderr_text())

    def control(self, command):
        """One command on the control socket; the answer's lines, or None."""
        path = os.path.join(self.run_dir, "master.sock")
        try:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(TIMEOUT)
            s.connect(path)
        except OSError:
            return None
        data = b""
        try:
            s.sendall(command.encode() + b"\n")
            while not (data == b".\n" or data.endswith(b"\n.\n")):
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        except OSError:
            return None
        finally:
            s.close()
        if not (data == b".\n" or data.endswith(b"\n.\n")):
            return None
        return data.decode(errors="replace").splitlines()[:-1]

    def status(self):
        """Parsed STATUS: {'master': {...}, 'roles': [{...}], 'listeners': [{...}]}."""
        lines = self.control("STATUS")
        if lines is None:
            return None
        out = {"master": None, "roles": [], "listeners": []}
        for line in lines:
            kind, _, rest = line.partition(" ")
            fields = {}
            for m in re.finditer(r"(\w+)=(\S*)", rest):
                fields.setdefault(m.group(1), m.group(2))
            if kind == "master":
                out["master"] = fields
            elif kind == "role":
                out["roles"].append(fields)
            elif kind == "listener":
                out["listeners"].append(fields)
        return out

    def role_pid(self, name):
        st = self.status()
        for r in st["roles"] if st else []:
            if r["name"] == name and r.get("state") == "running" and "generation" not in r:
                return int(r["pid"])
        return None

    def wait_for(self, predicate, what, timeout=None):
        deadline = time.time() + (timeout or TIMEOUT)
        while time.time() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(0.05)
        raise AssertionError("timed out waiting for %s\n--- log:\n%s" % (what, self.log_text()))

    def wait_log(self, needle, timeout=None):
        return self.wait_for(lambda: needle in self.log_text(), repr(needle), timeout)

    def signal(self, sig):
        os.kill(self.proc.pid, sig)

    def stop(self, check=True):
        """SIGTERM the master, wait; SIGKILL the group if it hangs.
        Returns the master's exit status."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            try:
                self.proc.send_signal(signal.SIGTERM)
                self.proc.wait(timeout=TIMEOUT)
            except subprocess.TimeoutExpired:
                pass
        pgid = self.proc.pid
        leftovers = group_alive(pgid)
        if leftovers or self.proc.poll() is None:
            try:
                os.killpg(pgid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(timeout=TIMEOUT)
        rc = self.proc.returncode
        self.stderr_file.close()
        if check:
            assert not leftovers, "processes of posternd's group still running after stop"
        return rc

    # --- output ---------------------------------------------------------
    def stderr_text(self):
        try:
            with open(self.stderr_path, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def log_text(self):
        text = self.stderr_text()
        for path in [self.log_path] + self.extra_logs:
            try:
                with open(path, errors="replace") as f:
                    text += f.read()
            except FileNotFoundError:
                pass
        return text


def group_alive(pgid):
    """True when some process of process group pgid still runs. Zombies do
    not count: a role's short-lived child (under SAN, LeakSanitizer's
    tracer) can be reparented to init when the role exits, and this
    machine's init reaps it only a little later; it is dead already."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # after "pid (comm)": state ppid pgrp ...
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


def make_instance(tmp_root, name="inst", extra_args=()):
    base = free_port_base()
    directory = os.path.join(tmp_root, name)
    cmd = [os.path.join(BIN, "postern"), "init", directory, "--port-base", str(base),
           "--listen", "127.0.0.1", "--hostname", "mail.example.test"] + list(extra_args)
    proc = subprocess.run(cmd, capture_output=True, text=True, env=base_env(), timeout=TIMEOUT)
    assert proc.returncode == 0, "postern init failed:\n" + proc.stdout + proc.stderr
    inst = Instance(directory, base)
    inst.init_output = proc.stdout + proc.stderr
    return inst


@pytest.fixture
def tmp_root():
    # Not pytest's tmp_path: its parents are 0700 root-only, and the roles
    # run as mail_owner must be able to reach the instance directory.
    d = tempfile.mkdtemp(prefix="postern-it-")
    os.chmod(d, 0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def instance_processes(conf):
    """PIDs of every process whose command line names this instance's
    config: the foreground master, a daemonized one (postern start puts it
    in its own session, out of reach of killpg) and their roles."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open("/proc/%s/cmdline" % entry, "rb") as f:
                args = f.read().split(b"\0")
        except OSError:
            continue
        if conf.encode() in args:
            pids.append(int(entry))
    return pids


def reap_leftovers(conf):
    """Kill whatever still runs for this instance; return what was found,
    so the test that left it behind fails instead of leaking it."""
    left = instance_processes(conf)
    for pid in left:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return left


@pytest.fixture
def instance(tmp_root):
    inst = make_instance(tmp_root)
    yield inst
    problems = []
    if inst.proc is not None and inst.proc.returncode is None:
        try:
            inst.stop()
        except AssertionError as e:
            problems.append(str(e))
    left = reap_leftovers(inst.conf)
    if left:
        problems.append("processes left behind and killed: %s" % left)
    text = inst.log_text()
    for marker in BAD_MARKERS:
        if marker in text:
            problems.append("%s in posternd output" % marker)
    if problems:
        pytest.fail("; ".join(problems) + "\n--- log:\n" + text[-8000:])


@pytest.fixture
def running(instance):
    """An instance whose posternd runs in the foreground with the test-only
    selftest role enabled, so there is a role process to supervise."""
    instance.start(extra_env={"POSTERN_SELFTEST_ROLE": "1"})
    return instance
