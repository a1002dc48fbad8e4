"""test_store_crash.py - `postern deliver` processes killed with SIGKILL at
random moments (issue "Store": a process killed at any instant leaves a
consistent store; every delivery that reported success is there once).

Each delivery carries a unique Message-ID and is big enough (256 KiB) that
kills land inside the copy, the fsync, the link and the index update. After
the massacre the mailbox must open cleanly (`postern mailbox status`), hold
every message whose delivery exited 0 exactly once, agree with the files,
and keep working (one more delivery gets the next UID).
"""
import os
import random
import re
import signal
import subprocess
import time


def maildir_files(root):
    out = []
    for sub in ("cur", "new"):
        d = os.path.join(root, sub)
        for name in os.listdir(d):
            if not name.startswith("."):
                out.append(os.path.join(d, name))
    return out


def message_ids(paths):
    ids = []
    for p in paths:
        with open(p, "rb") as f:
            head = f.read(4096).decode("ascii", "replace")
        m = re.search(r"^Message-ID: <([^>]+)>", head, re.M)
        ids.append(m.group(1) if m else None)
    return ids


def test_deliveries_killed_at_random(instance, tmp_path):
    rnd = random.Random(20261125)
    body = ("x" * 76 + "\n") * 3400  # ~256 KiB
    ok = []
    n_total = 60
    procs = []
    for i in range(n_total):
        msg = tmp_path / ("m%d" % i)
        msg.write_text("Message-ID: <crash-%d@test>\nSubject: %d\n\n%s" % (i, i, body))
        f = open(msg, "rb")
        p = subprocess.Popen([instance.bin("postern"), "-c", instance.conf, "deliver",
                              "-f", "s@example.net", "bob@example.org"],
                             stdin=f, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                             env=instance.env)
        f.close()
        procs.append((i, p))
        if rnd.random() < 0.6:
            time.sleep(rnd.random() * 0.004)
            p.send_signal(signal.SIGKILL)
        if len(procs) >= 6:
            j, q = procs.pop(0)
            q.wait(timeout=60)
            if q.returncode == 0:
                ok.append(j)
    for j, q in procs:
        q.wait(timeout=60)
        if q.returncode == 0:
            ok.append(j)
        else:
            assert q.returncode in (-signal.SIGKILL, 75), q.stderr.read()

    assert ok, "no delivery survived; the test proves nothing"
    r = instance.run("mailbox", "status", "bob@example.org", "INBOX")
    assert r.returncode == 0, r.stderr
    st = dict(kv.split("=") for kv in r.stdout.split())

    root = os.path.join(instance.dir, "mail", "example.org", "bob")
    files = maildir_files(root)
    ids = message_ids(files)
    for j in ok:
        assert ids.count("crash-%d@test" % j) == 1, "delivery %d reported success" % j
    assert len(ids) == len(set(ids)), "a message is there twice"
    # After the sync of `mailbox status` the index and the files agree one
    # to one: every file was picked up (moved to cur/ with its UID in the
    # name), no two files share a UID, and every UID is below UIDNEXT.
    names = sorted(os.path.relpath(p, root) for p in files)
    assert all(n.startswith("cur/") for n in names), names
    file_uids = []
    for n in names:
        m = re.search(r",U=(\d+)", n)
        assert m, "file without its UID after the sync: %s" % n
        file_uids.append(int(m.group(1)))
    assert len(file_uids) == len(set(file_uids)), "two files carry one UID: %r" % names
    assert max(file_uids) < int(st["uidnext"]), (file_uids, st)
    assert int(st["messages"]) == len(files), (st, names)
    # nothing half-written is visible: every file is a complete message
    for p in files:
        assert os.path.getsize(p) > len(body)

    # and the store keeps working
    r = subprocess.run([instance.bin("postern"), "-c", instance.conf, "deliver",
                        "bob@example.org"], input=b"Subject: after\n\nok\n",
                       capture_output=True, env=instance.env, timeout=60)
    assert r.returncode == 0, r.stderr
    r = instance.run("mailbox", "status", "bob@example.org", "INBOX")
    st2 = dict(kv.split("=") for kv in r.stdout.split())
    assert int(st2["messages"]) == len(files) + 1
    assert int(st2["uidnext"]) > int(st["uidnext"]) - 1
