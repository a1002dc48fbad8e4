"""test_queue_cli.py - `postern queue` (mailq, postsuper, postcat, postqueue
-f) through the real binary on an instance whose posternd is not running,
with queue files made by hand in the documented format (docs/ARCHITECTURE.md
"Queue file", "Queue manager section"): the direct path of issue #7's
"mailq, flush, delete, hold/release and requeue do what Postfix's tools
do", with Postfix's wording."""
import os

ID_A = "3F2A9C01B7E4"
ID_B = "0000000000B1"
ID_C = "ABCDEF012345"


def record(name, value):
    value = value.encode() if isinstance(value, str) else value
    return b"%s %d:%s\n" % (name.encode(), len(value), value)


def queue_file(qid, arrival, sender, rcpts, body, manager=b""):
    out = b"POSTERN-QUEUE 1\n"
    out += record("id", qid) + record("arrival", "%d.000000" % arrival)
    out += record("sender", sender) + record("client_name", "unknown")
    out += record("client_addr", "192.0.2.1") + record("proto", "ESMTP")
    for r in rcpts:
        out += record("rcpt", r)
    out += b"message %015d\n" % len(body) + body
    return out + manager


def queue_dir(instance):
    r = instance.run("config", "queue_directory")
    assert r.returncode == 0, r.stderr
    d = r.stdout.strip().split(" = ", 1)[1]
    for sub in ("incoming", "active", "deferred", "hold", "corrupt"):
        os.makedirs(os.path.join(d, sub), exist_ok=True)
    return d


def put(qdir, where, qid, data):
    with open(os.path.join(qdir, where, qid), "wb") as f:
        f.write(data)


def fill(qdir):
    reason = "host mx.example.net[192.0.2.7] said: 450 4.2.0 try later (in reply to RCPT TO command)"
    manager = (record("dest", "0\taddr\t-\tbob@example.net") + record("expanded", "")
               + record("status", "0\tdeferred\t4.2.0\t1764083000\tmx.example.net[192.0.2.7]:25\t"
                        "smtp; 450 4.2.0 try later\t" + reason)
               + record("deferred", "1764083000\t1764083300"))
    put(qdir, "deferred", ID_A, queue_file(ID_A, 1764082801, "alice@example.org",
                                           ["bob@example.net"], b"Subject: a\r\n\r\n" + b"x" * 1220, manager))
    put(qdir, "active", ID_B, queue_file(ID_B, 1764000000, "", ["carol@example.org", "dave@example.org"],
                                         b"Subject: b\r\n\r\nbody\r\n"))
    put(qdir, "hold", ID_C, queue_file(ID_C, 1764090000, "henry@example.net", ["erin@example.com"],
                                       b"Subject: c\r\n\r\n" + b"y" * 3000))


def run(instance, *args):
    env = dict(instance.env, TZ="UTC")
    return instance.run("queue", *args, env=env)


def test_list_empty_and_full(instance):
    qdir = queue_dir(instance)
    r = run(instance, "list")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "Mail queue is empty\n"
    fill(qdir)
    r = run(instance, "list")
    assert r.returncode == 0, r.stderr
    assert r.stdout == (
        "-Queue ID-  --Size-- ----Arrival Time---- -Sender/Recipient-------\n"
        "0000000000B1*      20 Mon Nov 24 16:00:00  MAILER-DAEMON\n"
        "                                         carol@example.org\n"
        "                                         dave@example.org\n"
        "\n"
        "3F2A9C01B7E4     1234 Tue Nov 25 15:00:01  alice@example.org\n"
        "(host mx.example.net[192.0.2.7] said: 450 4.2.0 try later (in reply to RCPT TO command))\n"
        "                                         bob@example.net\n"
        "\n"
        "ABCDEF012345!    3014 Tue Nov 25 17:00:00  henry@example.net\n"
        "                                         erin@example.com\n"
        "\n"
        "-- 4 Kbytes in 3 Requests.\n")


def test_corrupt_file_is_named_and_skipped(instance):
    qdir = queue_dir(instance)
    fill(qdir)
    put(qdir, "deferred", "0123456789AB", b"POSTERN-QUEUE 1\nsender 3x:a@b\n")
    r = run(instance, "list")
    assert r.returncode == 0, r.stderr
    assert "-- 4 Kbytes in 3 Requests.\n" in r.stdout
    assert ("deferred/0123456789AB: corrupt queue file: record at byte 16: bad length; skipped"
            in r.stderr)


def test_cat(instance):
    qdir = queue_dir(instance)
    fill(qdir)
    r = run(instance, "cat", ID_B)
    assert r.returncode == 0, r.stderr
    assert r.stdout == (
        "*** ENVELOPE RECORDS active/0000000000B1 ***\n"
        "message_size: 20\n"
        "id: 0000000000B1\n"
        "message_arrival_time: Mon Nov 24 16:00:00 2025\n"
        "arrival: 1764000000.000000\n"
        "sender: \n"
        "client_name: unknown\n"
        "client_addr: 192.0.2.1\n"
        "proto: ESMTP\n"
        "rcpt: carol@example.org\n"
        "rcpt: dave@example.org\n"
        "*** MESSAGE CONTENTS active/0000000000B1 ***\n"
        "Subject: b\n"
        "\n"
        "body\n"
        "*** HEADER EXTRACTED active/0000000000B1 ***\n"
        "*** MESSAGE FILE END active/0000000000B1 ***\n")
    r = run(instance, "cat", "0123456789AB")
    assert r.returncode == 1
    assert r.stderr == "postern queue cat: 0123456789AB: no such message in the queue\n"


def test_postsuper_operations(instance):
    qdir = queue_dir(instance)
    fill(qdir)
    r = run(instance, "hold", ID_A)
    assert r.returncode == 0, r.stderr
    assert r.stderr == "postsuper: 3F2A9C01B7E4: placed on hold\npostsuper: Placed on hold: 1 message\n"
    assert os.path.exists(os.path.join(qdir, "hold", ID_A))
    r = run(instance, "release", "ALL")
    assert r.returncode == 0, r.stderr
    assert r.stderr == "postsuper: Released from hold: 2 messages\n"
    assert sorted(os.listdir(os.path.join(qdir, "deferred"))) == [ID_A, ID_C]
    r = run(instance, "requeue", "ALL", "deferred")
    assert r.returncode == 0, r.stderr
    assert r.stderr == "postsuper: Requeued: 2 messages\n"
    assert sorted(os.listdir(os.path.join(qdir, "active"))) == [ID_B, ID_A, ID_C]
    with open(os.path.join(qdir, "active", ID_A), "rb") as f:
        assert b"\nrequeued 10:" in f.read()
    r = run(instance, "delete", ID_B)
    assert r.returncode == 0, r.stderr
    assert r.stderr == "postsuper: 0000000000B1: removed\npostsuper: Deleted: 1 message\n"
    r = run(instance, "delete", ID_B)
    assert r.returncode == 1
    assert r.stderr == "postern queue delete: 0000000000B1: no such message in the queue\n"
    r = run(instance, "delete", "ALL")
    assert r.returncode == 0, r.stderr
    assert r.stderr == "postsuper: Deleted: 2 messages\n"
    r = run(instance, "delete", "ALL")
    assert r.returncode == 0 and r.stderr == ""
    assert run(instance, "list").stdout == "Mail queue is empty\n"


def test_ids_from_stdin(instance):
    """postsuper -d - : ids one per line; bad ones warned about, missing
    ones skipped quietly, one total at the end."""
    qdir = queue_dir(instance)
    fill(qdir)
    env = dict(instance.env, TZ="UTC")
    r = instance.run("queue", "hold", "-", env=env,
                     input="%s\nnot-an-id\n%s\n0123456789AB\n\n" % (ID_A, ID_B))
    assert r.returncode == 0, r.stderr
    assert r.stderr == ("postsuper: 3F2A9C01B7E4: placed on hold\n"
                        "postsuper: warning: invalid mail queue id: not-an-id\n"
                        "postsuper: 0000000000B1: placed on hold\n"
                        "postsuper: Placed on hold: 2 messages\n")
    assert sorted(os.listdir(os.path.join(qdir, "hold"))) == [ID_B, ID_A, ID_C]
    r = instance.run("queue", "delete", "-", env=env, input="%s\n%s\n" % (ID_C, ID_C))
    assert r.returncode == 0, r.stderr
    assert r.stderr == "postsuper: ABCDEF012345: removed\npostsuper: Deleted: 1 message\n"


def test_flush_needs_the_queue_role(instance):
    queue_dir(instance)
    r = run(instance, "flush")
    assert r.returncode == 75
    assert r.stderr == "postern queue flush: the queue role is not running (start posternd)\n"


def test_usage_errors(instance):
    queue_dir(instance)
    r = run(instance)
    assert r.returncode == 2 and "usage: postern queue list | cat ID" in r.stderr
    r = run(instance, "delete", "nope")
    assert r.returncode == 2
    assert r.stderr == "postern queue delete: nope: not a queue id (12 upper-case hex digits, ALL or -)\n"
    r = run(instance, "delete", "ALL", "mailbox")
    assert r.returncode == 2
    assert "mailbox: unknown queue; use active, deferred, hold or incoming" in r.stderr
    r = run(instance, "release", "ALL", "hold")
    assert r.returncode == 2
    r = run(instance, "frobnicate")
    assert r.returncode == 2


class FakeQueueRole:
    """A stand-in for the queue role's control socket: records each request
    line and answers with the next canned reply, then closes."""

    def __init__(self, path, replies):
        import socket
        import threading
        self.requests = []
        self.replies = list(replies)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(4)
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        while self.replies:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                data = b""
                while not data.endswith(b"\n"):
                    chunk = conn.recv(1024)
                    if not chunk:
                        break
                    data += chunk
                self.requests.append(data.decode())
                conn.sendall(self.replies.pop(0).encode())

    def close(self):
        self.sock.close()
        self.thread.join(timeout=5)


def test_changes_go_to_a_running_queue_role(instance):
    qdir = queue_dir(instance)
    fill(qdir)
    # queue_control_socket = $run_directory/queue (the default)
    path = os.path.join(instance.run_dir, "queue")
    os.makedirs(instance.run_dir, exist_ok=True)
    role = FakeQueueRole(path, ["OK 2\n", "OK 1\n", "ERR 3F2A9C01B7E4: in delivery, try again\n",
                                "OK 0\n", "OK 1\n"])
    try:
        r = run(instance, "delete", "ALL", "deferred")
        assert r.returncode == 0, r.stderr
        assert r.stderr == "postsuper: Deleted: 2 messages\n"
        r = run(instance, "hold", ID_A)
        assert r.stderr == "postsuper: 3F2A9C01B7E4: placed on hold\npostsuper: Placed on hold: 1 message\n"
        r = run(instance, "requeue", ID_A)
        assert r.returncode == 1
        assert r.stderr == "postern queue requeue: 3F2A9C01B7E4: in delivery, try again\n"
        r = run(instance, "flush")
        assert r.returncode == 0 and r.stderr == "" and r.stdout == ""
        r = run(instance, "flush", ID_B)
        assert r.returncode == 0
    finally:
        role.close()
    assert role.requests == ["DELETE ALL deferred\n", "HOLD 3F2A9C01B7E4\n", "REQUEUE 3F2A9C01B7E4\n",
                             "FLUSH\n", "FLUSH 0000000000B1\n"]
    # The role did the work: the files were not touched by the CLI.
    assert os.path.exists(os.path.join(qdir, "deferred", ID_A))
