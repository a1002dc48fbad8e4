"""test_pop3_clients.py - Debian's POP3 clients against Postern's pop3s
listener (995, implicit TLS) and the pop3 listener: fetchmail (to an MDA
that writes one file per message), getmail6 (SimplePOP3SSLRetriever into
a Maildir) and curl (pop3s:// LIST and RETR). Every message must arrive
intact: the bytes the store holds, with the line ends the client uses
(fetchmail and getmail hand LF to the local side, curl shows CRLF).

The messages include bare LF line ends, lines that start with dots and
a long line, so dot-stuffing and CRLF conversion are exercised by real
parsers. Run by `make test`; by hand:
  POSTERN_BIN=$PWD/bin /usr/bin/python3 -m pytest -q tests/interop/test_pop3_clients.py
Each test skips when its client is not installed (mk/deps.sh installs them).
"""
import os
import shutil
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from pop3_helpers import (PASSWORD, add_users, crlf, deliver, stored_files)  # noqa: E402

USER = "pop@example.test"

MESSAGES = [
    b"From: a@example.test\nSubject: one\n\nplain body\n",
    b"From: a@example.test\r\nSubject: two\r\n\r\n.leading dot\r\n..two dots\r\n.\r\nafter\r\n",
    b"From: a@example.test\nSubject: three\n\n" + b"x" * 5000 + b"\n" + b"tail\n",
]


def start(instance):
    add_users(instance, [USER])
    for m in MESSAGES:
        deliver(instance, USER, m)
    instance.start()
    instance.wait_log("pop3: ready")
    stored = []
    for path in stored_files(instance, USER):
        with open(path, "rb") as f:
            stored.append(f.read())
    assert len(stored) == len(MESSAGES)
    return stored


def lf(data):
    return data.replace(b"\r\n", b"\n")


def body_of(data, marker=b"Subject: "):
    """From the first Subject: line on: clients add their own trace headers
    (Received:, X-...) above what the server sent."""
    i = data.find(marker)
    assert i >= 0, data[:300]
    return data[i:]


@pytest.mark.skipif(shutil.which("fetchmail") is None, reason="fetchmail is not installed")
def test_fetchmail_pop3s(instance, tmp_root):
    stored = start(instance)
    out = os.path.join(tmp_root, "fetched")
    os.makedirs(out)
    saver = os.path.join(tmp_root, "save.py")
    with open(saver, "w") as f:
        f.write("import sys, os, time\n"
                "d = sys.argv[1]\n"
                "n = len(os.listdir(d))\n"
                "open(os.path.join(d, '%03d' % n), 'wb').write(sys.stdin.buffer.read())\n")
    rc = os.path.join(tmp_root, "fetchmailrc")
    with open(rc, "w") as f:
        f.write('set no bouncemail\n'
                'poll 127.0.0.1 with protocol POP3 port %d and options no dns\n'
                '  user "%s" there with password "%s" is root here\n'
                '  ssl no sslcertck keep fetchall\n'
                '  mda "/usr/bin/python3 %s %s"\n'
                % (instance.ports["pop3s"], USER, PASSWORD, saver, out))
    os.chmod(rc, 0o600)
    # Own pid file: as root fetchmail locks /run/fetchmail.pid whatever
    # FETCHMAILHOME says, so a concurrent fetchmail would block this one.
    r = subprocess.run(["fetchmail", "-f", rc, "--idfile", os.path.join(tmp_root, "fetchids"),
                        "--pidfile", os.path.join(tmp_root, "fetchmail.pid"),
                        "--nosyslog", "--invisible", "-v"],
                       capture_output=True, text=True, timeout=120,
                       env=dict(os.environ, HOME=tmp_root))
    assert r.returncode == 0, r.stdout + r.stderr
    got = [open(os.path.join(out, n), "rb").read() for n in sorted(os.listdir(out))]
    assert len(got) == len(stored), r.stdout
    for g, s in zip(got, stored):
        assert lf(body_of(g)) == lf(body_of(s))
    # keep: nothing deleted on the server
    assert len(stored_files(instance, USER)) == len(MESSAGES)


@pytest.mark.skipif(shutil.which("getmail") is None, reason="getmail6 is not installed")
def test_getmail_pop3s_maildir(instance, tmp_root):
    stored = start(instance)
    md = os.path.join(tmp_root, "Maildir")
    for sub in ("tmp", "new", "cur"):
        os.makedirs(os.path.join(md, sub))
    as_user = ""
    if os.geteuid() == 0:
        # getmail refuses to deliver as root: its destination drops to a user
        import pwd
        nobody = pwd.getpwnam("nobody")
        for dirpath, _, _ in os.walk(md):
            os.chown(dirpath, nobody.pw_uid, nobody.pw_gid)
        as_user = "user = nobody\n"
    gdir = os.path.join(tmp_root, "getmail")
    os.makedirs(gdir)
    rc = os.path.join(gdir, "getmailrc")
    with open(rc, "w") as f:
        f.write("[retriever]\n"
                "type = SimplePOP3SSLRetriever\n"
                "server = 127.0.0.1\n"
                "port = %d\n"
                "username = %s\n"
                "password = %s\n"
                "[destination]\n"
                "type = Maildir\n"
                "path = %s/\n"
                "%s"
                "[options]\n"
                "read_all = true\n"
                "delete = false\n"
                "received = false\n"
                "delivered_to = false\n"
                "verbose = 2\n" % (instance.ports["pop3s"], USER, PASSWORD, md, as_user))
    r = subprocess.run(["getmail", "--rcfile", rc, "--getmaildir", gdir],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    names = sorted(os.listdir(os.path.join(md, "new")))
    got = [open(os.path.join(md, "new", n), "rb").read() for n in names]
    assert len(got) == len(stored), r.stdout
    # getmail names files by time; match by subject
    for s in stored:
        subj = body_of(s).split(b"\n", 1)[0].rstrip(b"\r")
        match = [g for g in got if subj in g]
        assert len(match) == 1, subj
        assert lf(body_of(match[0])) == lf(body_of(s))


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_curl_pop3s_list_and_retr(instance):
    stored = start(instance)
    url = "pop3s://127.0.0.1:%d/" % instance.ports["pop3s"]
    r = subprocess.run(["curl", "-sS", "-k", "--user", "%s:%s" % (USER, PASSWORD), url],
                       capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr
    listing = r.stdout.decode().split("\r\n")
    sizes = [int(l.split()[1]) for l in listing if l]
    assert sizes == [len(crlf(s)) for s in stored]
    for n, s in enumerate(stored, 1):
        r = subprocess.run(["curl", "-sS", "-k", "--user", "%s:%s" % (USER, PASSWORD),
                            url + str(n)], capture_output=True, timeout=60)
        assert r.returncode == 0, r.stderr
        assert r.stdout == crlf(s)
    # STLS on the 110 listener too (curl's --ssl-reqd)
    r = subprocess.run(["curl", "-sS", "-k", "--ssl-reqd", "--user", "%s:%s" % (USER, PASSWORD),
                        "pop3://127.0.0.1:%d/1" % instance.ports["pop3"]],
                       capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout == crlf(stored[0])
