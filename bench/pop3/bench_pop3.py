"""bench_pop3.py - the POP3 benchmark driver behind bench/pop3/run.sh.

Builds one Maildir of N small messages plus one big message, gives an
identical copy to a fresh Postern instance and to a private Dovecot
(dovecot -c CONF -F on a loopback high port, passwd-file auth: the system
Dovecot is never touched), then times, for each server, over plaintext on
loopback (TLS costs the same library work for both and would hide the
servers' own cost):

  - first login + STAT (each server builds its index from the files),
  - warm login + STAT (median and fastest of 21) for the full mailbox
    and for an empty one; both verify the same argon2id hash
    (Postern's parameters), so the password check costs the same; the
    bare libsodium verification of that hash, timed in this process
    between the logins, shows how much of a login is the hash,
  - UIDL of every message,
  - RETR of the big message (best of 3, MB/s of wire bytes) with a Python
    client and with curl (C; the login excluded),
  - 2000 small RETRs on one connection,
  - how much the Postern pop3 role's RSS grows while it sends the big
    message (sampled every 5 ms), and its RSS at the end.

Then, login + STAT only (one login after the restart, "cache-cold",
then 21 interleaved rounds, "cache-warm"), in two configurations on the
same files and indexes: both servers with their defaults (no auth cache),
then both restarted with auth_cache_size = 10M (Postern's and Dovecot's
setting of the same name). Dovecot 2.3's passwd-file passdb sets no cache
key (the file is held in memory), so its cache is not consulted here; with
a cached passdb it would still verify the argon2id hash on every hit.
BENCH_POP3_AUTH_DEBUG=1 turns on Dovecot's auth_debug in the cached
configuration and prints how many "cache hit" lines its log has.
BENCH_POP3_LOGIN_ONLY=1 skips the first part (UIDL, RETR, RSS).

Both servers run at the same time and the measurements alternate between
them, so other load on the machine falls on both alike.

Prints "name value" lines and a markdown table. Run as root (mail files
belong to mail_owner "postern", Dovecot drops to it too).
"""
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time

N = int(sys.argv[1]) if len(sys.argv) > 1 else 50000
BIG_MB = int(sys.argv[2]) if len(sys.argv) > 2 else 50
DIR = sys.argv[3] if len(sys.argv) > 3 else "/dev/shm/postern-pop3-bench"
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.join(ROOT, "bin")
USER, PASSWORD = "bench@example.test", "bench password 1"
ROUNDS = 21   # logins per user and server
CACHE_SIZE = "10M"   # auth_cache_size of the second configuration, both servers
EMPTY = "empty@example.test"   # same password, no mail: the login cost alone


def argon2id_hash(password):
    """The hash Postern's auth role makes (libsodium, OPSLIMIT/MEMLIMIT
    INTERACTIVE: t=2, m=64 MiB), so both servers verify the same hash at
    the same cost; Dovecot 2.3 reads {ARGON2ID} through libsodium too."""
    import ctypes
    import ctypes.util
    so = ctypes.CDLL(ctypes.util.find_library("sodium") or "libsodium.so.23")
    assert so.sodium_init() >= 0
    out = ctypes.create_string_buffer(128)
    pw = password.encode()
    so.crypto_pwhash_str.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulonglong,
                                     ctypes.c_ulonglong, ctypes.c_size_t]
    if so.crypto_pwhash_str(out, pw, len(pw), 2, 67108864) != 0:
        raise SystemExit("crypto_pwhash_str failed")
    return "{ARGON2ID}" + out.value.decode()


HASH = argon2id_hash(PASSWORD)


def argon2id_verify_s():
    """One bare crypto_pwhash_str_verify of HASH in this process (the
    same libsodium call both servers make), in seconds: the part of a
    login that no server can avoid without weakening the hash."""
    import ctypes
    import ctypes.util
    so = ctypes.CDLL(ctypes.util.find_library("sodium") or "libsodium.so.23")
    h = HASH[len("{ARGON2ID}"):].encode()
    pw = PASSWORD.encode()
    so.crypto_pwhash_str_verify.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulonglong]
    t = time.perf_counter()
    if so.crypto_pwhash_str_verify(h, pw, len(pw)) != 0:
        raise SystemExit("crypto_pwhash_str_verify failed")
    return time.perf_counter() - t


def free_base():
    for base in range(41000, 65000, 1000):
        ok = True
        for p in (25, 587, 465, 143, 993, 110, 995, 443):
            s = socket.socket()
            try:
                s.bind(("127.0.0.1", base + p))
            except OSError:
                ok = False
            finally:
                s.close()
        if ok:
            return base
    raise SystemExit("no free port base")


def make_maildir(d):
    for sub in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(d, sub))
    body = ("This is line %d of a small message, long enough to look like mail.\n" * 25)
    for i in range(N):
        msg = ("Return-Path: <s%d@example.net>\nDelivered-To: bench@example.test\n"
               "From: sender%d@example.net\nTo: bench@example.test\nSubject: message %d\n"
               "Message-ID: <%d@bench>\nDate: Mon, 23 Nov 2026 10:00:00 +0000\n\n"
               % (i, i % 100, i, i)) + body % tuple(range(25))
        with open(os.path.join(d, "cur", "1795600000.M%dP1Q%d.bench:2,S" % (i, i)), "w") as f:
            f.write(msg)
    line = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789\n"
    with open(os.path.join(d, "cur", "1795700000.M1P1Q1.bench:2,"), "wb") as f:
        f.write(b"From: big@example.net\nSubject: big\n\n")
        chunk = line * 1000
        for _ in range(BIG_MB * 1024 * 1024 // len(chunk)):
            f.write(chunk)


class Client:
    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=600)
        self.buf = b""
        self.line()

    def line(self):
        while b"\r\n" not in self.buf:
            c = self.s.recv(1 << 20)
            if not c:
                raise EOFError(self.buf)
            self.buf += c
        l, _, self.buf = self.buf.partition(b"\r\n")
        return l

    def cmd(self, c):
        self.s.sendall(c.encode() + b"\r\n")
        r = self.line()
        if not r.startswith(b"+OK"):
            raise RuntimeError("%s: %r" % (c, r))
        return r

    def multi(self, c):
        """Send c, read the multi-line body; returns its wire length."""
        self.cmd(c)
        total = len(self.buf)
        tail = self.buf[-5:]
        if b"\r\n.\r\n" in b"\r\n" + self.buf:
            n = (b"\r\n" + self.buf).index(b"\r\n.\r\n")
            self.buf = self.buf[n + 3:] if n else self.buf[3:]
            return n
        chunks = 0
        while True:
            c2 = self.s.recv(1 << 20)
            if not c2:
                raise EOFError
            total += len(c2)
            chunks += 1
            tail = (tail + c2)[-5:]
            if tail == b"\r\n.\r\n":
                self.buf = b""
                return total

    def close(self):
        try:
            self.cmd("QUIT")
        finally:
            self.s.close()


def login_stat(port, user=USER):
    t = time.perf_counter()
    c = Client(port)
    c.cmd("USER " + user)
    c.cmd("PASS " + PASSWORD)
    st = c.cmd("STAT")
    dt = time.perf_counter() - t
    c.close()
    return dt, st


def rss_kb(pid, field="VmRSS"):
    try:
        with open("/proc/%d/status" % pid) as f:
            for l in f:
                if l.startswith(field):
                    return int(l.split()[1])
    except (OSError, TypeError):
        pass
    return 0


def curl_retr(port, n):
    """RETR n three times on one connection with curl (a C client, so the
    client is not the bottleneck); MB/s of the 2nd and 3rd transfers
    (the first includes the login)."""
    if not shutil.which("curl"):
        return 0.0
    url = "pop3://127.0.0.1:%d/%d" % (port, n)
    r = subprocess.run(["curl", "-s", "--user", "%s:%s" % (USER, PASSWORD),
                        "-w", "%{size_download} %{time_total}\n"] + ["-o", "/dev/null", url] * 3,
                       capture_output=True, text=True, timeout=600)
    rates = []
    for line in r.stdout.split("\n")[1:]:
        if line.strip():
            size, t = line.split()
            rates.append(float(size) / float(t) / 1e6)
    return max(rates) if rates else 0.0


def measure(servers):
    """servers: name -> (port, pid_fn). Interleaved, so load from other
    work on the machine hits both alike."""
    res = {name: {} for name in servers}
    for name, (port, _) in servers.items():
        dt, st = login_stat(port)
        res[name]["first_login_stat_s"] = dt
        assert st.split()[1] == str(N + 1).encode(), st
        login_stat(port, EMPTY)
    warm = {name: [] for name in servers}
    empty = {name: [] for name in servers}
    bare = []
    for _ in range(ROUNDS):
        for name, (port, _) in servers.items():
            warm[name].append(login_stat(port)[0])
            empty[name].append(login_stat(port, EMPTY)[0])
        bare.append(argon2id_verify_s())
    for name in servers:
        r = res[name]
        r["warm_login_stat_ms"] = statistics.median(warm[name]) * 1000
        r["empty_login_stat_ms"] = statistics.median(empty[name]) * 1000
        r["warm_login_stat_min_ms"] = min(warm[name]) * 1000
        r["empty_login_stat_min_ms"] = min(empty[name]) * 1000
        # what the 50,000 messages add to a login (maildrop open +
        # snapshot): the difference of the fastest logins, which other
        # load on the machine disturbs least
        r["maildrop_open_ms"] = r["warm_login_stat_min_ms"] - r["empty_login_stat_min_ms"]
        # the same hash checked in this process, interleaved with the
        # logins: what an empty-mailbox login costs beyond it is the
        # server's own login path (network, auth round trips, open)
        r["argon2id_verify_min_ms"] = min(bare) * 1000
        r["login_beyond_argon2id_ms"] = r["empty_login_stat_min_ms"] - r["argon2id_verify_min_ms"]
    clients = {}
    for name, (port, _) in servers.items():
        c = Client(port)
        c.cmd("USER " + USER)
        c.cmd("PASS " + PASSWORD)
        clients[name] = c
        t = time.perf_counter()
        c.multi("UIDL")
        res[name]["uidl_all_ms"] = (time.perf_counter() - t) * 1000
    for _ in range(3):
        for name, (port, pid_fn) in servers.items():
            pid = pid_fn() if pid_fn else None
            before = rss_kb(pid)
            peak = [before]
            done = []

            def sample():
                while not done:
                    peak[0] = max(peak[0], rss_kb(pid))
                    time.sleep(0.005)
            import threading
            th = threading.Thread(target=sample) if pid else None
            if th:
                th.start()
            t = time.perf_counter()
            n = clients[name].multi("RETR %d" % (N + 1))
            mbs = n / (time.perf_counter() - t) / 1e6
            done.append(1)
            if th:
                th.join()
                res[name]["retr_rss_growth_MB"] = max(res[name].get("retr_rss_growth_MB", 0),
                                                      (peak[0] - before) / 1024)
            res[name]["retr_big_MBps"] = max(res[name].get("retr_big_MBps", 0), mbs)
    for name, c in clients.items():
        t = time.perf_counter()
        for i in range(1, 2001):
            c.multi("RETR %d" % i)
        res[name]["retr_small_per_s"] = 2000 / (time.perf_counter() - t)
        c.close()
    for name, (port, pid_fn) in servers.items():
        res[name]["retr_big_curl_MBps"] = curl_retr(port, N + 1)
        if pid_fn:
            res[name]["role_rss_MB"] = rss_kb(pid_fn()) / 1024
    for name, r in res.items():
        for k, v in r.items():
            print("%s %s %.3f" % (name, k, v), flush=True)
    return res


def login_measure(servers):
    """Login + STAT only, for the auth cache comparison: one login per
    user and server first (after a restart: cache-cold, index warm; it
    fills the cache where one is on), then ROUNDS interleaved rounds
    (cache-warm). Returns name -> {measure: value}."""
    res = {name: {} for name in servers}
    for name, (port, _) in servers.items():
        res[name]["cold_cache_login_stat_ms"] = login_stat(port)[0] * 1000
        login_stat(port, EMPTY)
    warm = {name: [] for name in servers}
    empty = {name: [] for name in servers}
    bare = []
    for _ in range(ROUNDS):
        for name, (port, _) in servers.items():
            warm[name].append(login_stat(port)[0])
            empty[name].append(login_stat(port, EMPTY)[0])
        bare.append(argon2id_verify_s())
    for name in servers:
        r = res[name]
        r["warm_login_stat_ms"] = statistics.median(warm[name]) * 1000
        r["warm_login_stat_min_ms"] = min(warm[name]) * 1000
        r["empty_login_stat_ms"] = statistics.median(empty[name]) * 1000
        r["empty_login_stat_min_ms"] = min(empty[name]) * 1000
        r["argon2id_verify_min_ms"] = min(bare) * 1000
    for name, r in res.items():
        for k, v in r.items():
            print("%s cache %s %.3f" % (name, k, v), flush=True)
    return res


def pop3_role_pid(conf):
    for e in os.listdir("/proc"):
        if not e.isdigit():
            continue
        try:
            args = open("/proc/%s/cmdline" % e, "rb").read().split(b"\0")
        except OSError:
            continue
        if conf.encode() in args and b"pop3" in args and b"--role" in args:
            return int(e)
    return None


def wait_port(port, proc):
    for _ in range(400):
        if proc.poll() is not None:
            raise SystemExit("server exited during start-up")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit("port %d never answered" % port)


def start_postern(conf, port):
    proc = subprocess.Popen([os.path.join(BIN, "posternd"), "-c", conf, "-f"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    wait_port(port, proc)
    return proc


def run_postern(src):
    d = os.path.join(DIR, "postern")
    base = free_base()
    subprocess.run([os.path.join(BIN, "postern"), "init", d, "--port-base", str(base),
                    "--listen", "127.0.0.1", "--hostname", "bench.example.test"],
                   check=True, capture_output=True)
    conf = os.path.join(d, "postern.conf")
    for u in (USER, EMPTY):
        subprocess.run([os.path.join(BIN, "postern"), "-c", conf, "user", "add", u,
                        "--password-hash", HASH], text=True, check=True,
                       capture_output=True)
    mail = os.path.join(d, "mail", "example.test", "bench")
    os.makedirs(os.path.dirname(mail), exist_ok=True)
    shutil.copytree(src, mail)
    subprocess.run(["chown", "-R", "postern:postern", os.path.join(d, "mail")], check=True)
    proc = start_postern(conf, base + 110)
    return base + 110, (lambda: pop3_role_pid(conf)), proc, conf


def restart_postern_cached(conf, port):
    """The same instance (same Maildir and index) with the cache on."""
    with open(conf, "a") as f:
        f.write("auth_cache_size = %s\n" % CACHE_SIZE)
    return start_postern(conf, port)


def run_dovecot(src):
    d = os.path.join(DIR, "dovecot")
    os.makedirs(os.path.join(d, "run"))
    users = os.path.join(d, "users")
    mail = os.path.join(users, "bench")
    shutil.copytree(src, mail)
    os.makedirs(os.path.join(users, "empty"))
    subprocess.run(["chown", "-R", "postern:postern", users], check=True)
    port = free_base() + 110
    with open(os.path.join(d, "passwd"), "w") as f:
        f.write("%s:%s::::::\n%s:%s::::::\n" % (USER, HASH, EMPTY, HASH))
    conf = os.path.join(d, "dovecot.conf")
    write_dovecot_conf(conf, d, users, port, "")
    proc = start_dovecot(conf, port)
    return port, None, proc, (conf, d, users)


def start_dovecot(conf, port):
    proc = subprocess.Popen(["dovecot", "-c", conf, "-F"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    wait_port(port, proc)
    return proc


def restart_dovecot_cached(state, port):
    """The same instance (same Maildir and index) with Dovecot's own
    cache at the same size."""
    conf, d, users = state
    extra = "auth_cache_size = %s\n" % CACHE_SIZE
    if os.environ.get("BENCH_POP3_AUTH_DEBUG"):
        # to check from Dovecot's own log that its cache answers (it
        # logs "cache hit" and still runs the password scheme)
        extra += "auth_debug = yes\n"
    write_dovecot_conf(conf, d, users, port, extra)
    return start_dovecot(conf, port)


def dovecot_cache_log_summary():
    """With BENCH_POP3_AUTH_DEBUG: how often Dovecot's auth log says cache
    hit / miss, and one hit's lines, before the scratch dir goes."""
    path = os.path.join(DIR, "dovecot", "dovecot.log")
    if not os.environ.get("BENCH_POP3_AUTH_DEBUG") or not os.path.exists(path):
        return
    with open(path, errors="replace") as f:
        lines = f.read().splitlines()
    hits = [l for l in lines if "cache hit" in l]
    print("dovecot auth log: %d 'cache hit', %d 'cache miss' lines"
          % (len(hits), sum("cache miss" in l for l in lines)))
    for l in hits[:1]:
        print("  " + l)


def write_dovecot_conf(conf, d, users, port, extra):
    with open(conf, "w") as f:
        f.write(extra + """base_dir = %(d)s/run
state_dir = %(d)s/run
protocols = pop3
listen = 127.0.0.1
log_path = %(d)s/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain
mail_location = maildir:%(users)s/%%n
pop3_uidl_format = %%08Xu%%08Xv
first_valid_uid = 1
passdb {
  driver = passwd-file
  args = username_format=%%u %(d)s/passwd
}
userdb {
  driver = static
  args = uid=postern gid=postern home=%(users)s/%%n
}
default_internal_user = postern
default_login_user = dovenull
service pop3-login {
  inet_listener pop3 {
    address = 127.0.0.1
    port = %(port)d
  }
  inet_listener pop3s {
    port = 0
  }
}
""" % {"d": d, "users": users, "port": port})


def main():
    if os.geteuid() != 0:
        raise SystemExit("run as root (mail belongs to mail_owner postern)")
    shutil.rmtree(DIR, ignore_errors=True)
    os.makedirs(DIR)
    os.chmod(DIR, 0o755)
    src = os.path.join(DIR, "src")
    t = time.time()
    make_maildir(src)
    print("generated %d messages + one of %d MB in %.1f s" % (N, BIG_MB, time.time() - t), flush=True)
    servers, procs = {}, {}
    try:
        port, pid_fn, proc, pconf = run_postern(src)
        procs["postern"] = proc
        servers["postern"] = (port, pid_fn)
        if shutil.which("dovecot"):
            port, pid_fn, proc, dstate = run_dovecot(src)
            procs["dovecot"] = proc
            servers["dovecot"] = (port, pid_fn)
        res = None if os.environ.get("BENCH_POP3_LOGIN_ONLY") else measure(servers)
        # First configuration of the cache comparison: no cache (both
        # defaults), measured the same way as the second.
        nres = login_measure(servers)
        # Second configuration: both servers restarted on the same files
        # with auth_cache_size = CACHE_SIZE (Postern's and Dovecot's
        # setting of the same name and value).
        stop(procs)
        procs["postern"] = restart_postern_cached(pconf, servers["postern"][0])
        if "dovecot" in servers:
            procs["dovecot"] = restart_dovecot_cached(dstate, servers["dovecot"][0])
        cres = login_measure(servers)
    finally:
        stop(procs)
    print_tables(res, nres, cres)
    dovecot_cache_log_summary()
    shutil.rmtree(DIR, ignore_errors=True)


def stop(procs):
    for name in list(procs):
        procs[name].send_signal(signal.SIGTERM)
        procs[name].wait(timeout=60)
        del procs[name]


def print_tables(res, nres, cres):
    if res:
        print_main_table(res["postern"], res.get("dovecot"))
    print()
    print("Login + STAT, auth_cache_size = 0 (default) vs %s on both servers" % CACHE_SIZE)
    print()
    print_cache_table(nres["postern"], nres.get("dovecot") or {},
                      cres["postern"], cres.get("dovecot") or {})


def print_main_table(p, d):
    print()
    print("| measure | Postern | Dovecot | Postern/Dovecot |")
    print("|---|---|---|---|")
    for k in ("first_login_stat_s", "warm_login_stat_ms", "empty_login_stat_ms",
              "warm_login_stat_min_ms", "empty_login_stat_min_ms",
              "argon2id_verify_min_ms", "login_beyond_argon2id_ms",
              "maildrop_open_ms", "uidl_all_ms", "retr_big_MBps", "retr_big_curl_MBps",
              "retr_small_per_s", "retr_rss_growth_MB", "role_rss_MB"):
        pv = p.get(k)
        dv = d.get(k) if d else None
        ratio = "%.2f" % (pv / dv) if pv and dv else "-"
        print("| %s | %s | %s | %s |" % (k, "%.2f" % pv if pv is not None else "-",
                                         "%.2f" % dv if dv is not None else "-", ratio))


def print_cache_table(p, d, cp, cd):
    print("| measure | Postern no cache | Dovecot no cache | ratio | Postern cache | "
          "Dovecot cache | ratio |")
    print("|---|---|---|---|---|---|---|")
    for k in ("cold_cache_login_stat_ms", "warm_login_stat_ms", "warm_login_stat_min_ms",
              "empty_login_stat_ms", "empty_login_stat_min_ms", "argon2id_verify_min_ms"):
        row = []
        for a, b in ((p, d), (cp, cd)):
            av, bv = a.get(k), b.get(k)
            row += ["%.2f" % av if av is not None else "-", "%.2f" % bv if bv is not None else "-",
                    "%.2f" % (av / bv) if av and bv else "-"]
        print("| %s | %s |" % (k, " | ".join(row)))


main()
