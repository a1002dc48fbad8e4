"""test_imap_fetch.py - FETCH, STORE, COPY and MOVE (and their UID forms)
over the wire, against a real posternd with one IMAP worker.

The ENVELOPE / BODY / BODYSTRUCTURE expectations for the messages in
data/imap-mime/ were written by hand from RFC 3501 7.4.2 and the formal
syntax in section 9 (body-type-mpart = 1*body SP media-subtype ...;
body-type-msg = ... envelope SP body SP body-fld-lines; groups in address
lists as (NIL NIL "name" NIL) ... (NIL NIL NIL NIL); Sender and Reply-To
default to From), sizes counted in CRLF octets of the stored bytes; the
server's conventions that the grammar leaves open are: parameter names
upper-cased, RFC 2231 parameters joined as "NAME*" with their raw
charset'lang'%XX value, one Content-Language as a string, CHARSET
us-ascii added to text parts without one, raw (undecoded) header values.

Sections and partials are compared with the stored file's bytes (found in
the Maildir), bare LF converted to CRLF as the server sends them.

A raw socket client is used throughout so that every byte of a response
(literals inside ENVELOPE, the exact FETCH item order) can be checked.
"""
import glob
import os
import re
import socket
import time

import pytest

import shutil
import tempfile

from harness import TIMEOUT, make_instance
from imap_helpers import PASSWORD, deliver, fresh_user, start_imap, stop_and_check

DATA = os.path.join(os.path.dirname(__file__), "data", "imap-mime")


# ---- a raw IMAP client -------------------------------------------------

class RawL:
    """Bytes-level IMAP client: responses with their literals inline."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        self.buf = b""
        self.n = 0
        self.greeting = self.response()

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def _fill(self):
        chunk = self.sock.recv(1 << 20)
        if not chunk:
            raise EOFError("connection closed; got %r" % self.buf[:200])
        self.buf += chunk

    def _line(self):
        while True:
            i = self.buf.find(b"\r\n")
            if i >= 0:
                line, self.buf = self.buf[:i + 2], self.buf[i + 2:]
                return line
            self._fill()

    def _bytes(self, n):
        parts, have = [self.buf], len(self.buf)
        while have < n:
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                raise EOFError("connection closed inside a literal")
            parts.append(chunk)
            have += len(chunk)
        data = b"".join(parts)
        data, self.buf = data[:n], data[n:]
        return data

    def response(self):
        """One response without its final CRLF; literals kept inline as
        {n}\\r\\n<bytes>."""
        out = b""
        while True:
            line = self._line()
            out += line
            m = re.search(rb"\{(\d+)\}\r\n$", line)
            if not m:
                return out[:-2]
            out += self._bytes(int(m.group(1)))

    def cmd(self, text):
        """Send 'TAG text'; return (untagged responses, tagged line)."""
        self.n += 1
        tag = "t%d" % self.n
        self.send("%s %s\r\n" % (tag, text))
        return self.collect(tag)

    def collect(self, tag):
        untagged = []
        while True:
            r = self.response()
            if r.startswith(tag.encode() + b" "):
                return untagged, r[len(tag) + 1:].decode("utf-8", "replace")
            untagged.append(r)

    def ok(self, text):
        untagged, tagged = self.cmd(text)
        assert tagged.startswith("OK"), (text, tagged, untagged)
        return untagged

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def fetches(untagged):
    """{seq: body of the FETCH response} for '* n FETCH (...)' responses."""
    out = {}
    for r in untagged:
        m = re.match(rb"\* (\d+) FETCH \((.*)\)$", r, re.S)
        if m:
            out[int(m.group(1))] = m.group(2)
    return out


def crlf(data):
    """Bytes as the server sends them: bare LF -> CRLF."""
    return re.sub(rb"(?<!\r)\n", b"\r\n", data)


def literal(data):
    return b"{%d}\r\n" % len(data) + data


# ---- the server --------------------------------------------------------

@pytest.fixture(scope="module")
def inst():
    """One instance for the module, with ONE worker so that two sessions of
    a test share a process (the big-FETCH test needs that)."""
    d = tempfile.mkdtemp(prefix="postern-imapfetch-")
    os.chmod(d, 0o755)
    i = make_instance(d)
    try:
        start_imap(i, params=("imap_processes=1",), users=())
        yield i
    finally:
        problems, text = stop_and_check(i)
        shutil.rmtree(d, ignore_errors=True)
        if problems:
            pytest.fail("; ".join(problems) + "\n--- log:\n" + text[-8000:])


class Env:
    """The instance and this test's own user (an empty INBOX)."""

    def __init__(self, inst):
        self.inst = inst
        self.user = fresh_user(inst, "fetch")

    def deliver(self, path_or_bytes, mailbox=None):
        if isinstance(path_or_bytes, bytes):
            data = path_or_bytes
        else:
            with open(path_or_bytes, "rb") as f:
                data = f.read()
        deliver(self.inst, self.user, data, mailbox)

    def stored_file(self, needle):
        with open(self.stored_path(needle), "rb") as f:
            return f.read()

    def stored_path(self, needle):
        """The one stored message file of this user containing needle."""
        local, domain = self.user.split("@")
        hits = []
        for path in glob.glob(os.path.join(self.inst.dir, "mail", domain, local, "**", "*"),
                              recursive=True):
            if not os.path.isfile(path) or ("/cur/" not in path and "/new/" not in path):
                continue
            with open(path, "rb") as f:
                data = f.read()
            if needle in data:
                hits.append(path)
        assert len(hits) == 1, (needle, len(hits))
        return hits[0]

    def login(self, mailbox="INBOX", examine=False):
        c = RawL(self.inst.ports["imap"])
        assert c.greeting.startswith(b"* OK"), c.greeting
        c.ok('LOGIN "%s" "%s"' % (self.user, PASSWORD))
        if mailbox:
            c.ok('%s "%s"' % ("EXAMINE" if examine else "SELECT", mailbox))
        return c

    def create_mailbox(self, name):
        r = self.inst.run("mailbox", "create", self.user, name)
        assert r.returncode == 0, r.stderr


@pytest.fixture
def env(inst):
    return Env(inst)


# ---- expectations written by hand (see the file comment) ---------------

ADDR_JOHN = b'(("Doe, John" NIL "john" "example.com"))'
INNER = b'((NIL NIL "inner" "example.org"))'
NESTED_INNER_ENV = b'(NIL "inner" ' + INNER + b' ' + INNER + b' ' + INNER + b' NIL NIL NIL NIL NIL)'

CORPUS = {
    "nested.eml": dict(
        envelope=(b'("Mon, 2 Mar 2026 09:15:00 +0100" "Nested test" '
                  + ADDR_JOHN + b' ' + ADDR_JOHN + b' ' + ADDR_JOHN + b' '
                  b'(("Mary" NIL "mary" "example.org")(NIL NIL "team" NIL)'
                  b'(NIL NIL "a" "example.net")(NIL NIL "b" "example.net")(NIL NIL NIL NIL)) '
                  b'((NIL NIL "undisclosed-recipients" NIL)(NIL NIL NIL NIL)) '
                  b'NIL "<parent@example.com>" "<nested-1@example.com>")'),
        bodystructure=(
            b'('
            b'(("TEXT" "PLAIN" ("CHARSET" "utf-8") NIL NIL "QUOTED-PRINTABLE" 12 1 NIL NIL NIL NIL)'
            b'("TEXT" "HTML" ("CHARSET" "utf-8") NIL NIL "7BIT" 12 1 NIL NIL NIL NIL)'
            b' "ALTERNATIVE" ("BOUNDARY" "alt") NIL NIL NIL)'
            b'("APPLICATION" "OCTET-STREAM" ("NAME" "data.bin") "<data@example.com>" "some data" '
            b'"BASE64" 8 NIL ("ATTACHMENT" ("FILENAME*" "utf-8\'\'r%C3%A9sum%C3%A9.bin")) "en" NIL)'
            b'("MESSAGE" "RFC822" NIL NIL NIL "7BIT" 213 ' + NESTED_INNER_ENV + b' '
            b'(("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 10 1 NIL NIL NIL NIL)'
            b'("IMAGE" "GIF" NIL NIL NIL "BASE64" 4 NIL NIL NIL NIL) "MIXED" ("BOUNDARY" "in") NIL NIL NIL)'
            b' 14 NIL NIL NIL NIL)'
            b' "MIXED" ("BOUNDARY" "outer") NIL NIL NIL)'),
        body=(
            b'((("TEXT" "PLAIN" ("CHARSET" "utf-8") NIL NIL "QUOTED-PRINTABLE" 12 1)'
            b'("TEXT" "HTML" ("CHARSET" "utf-8") NIL NIL "7BIT" 12 1) "ALTERNATIVE")'
            b'("APPLICATION" "OCTET-STREAM" ("NAME" "data.bin") "<data@example.com>" "some data" '
            b'"BASE64" 8)'
            b'("MESSAGE" "RFC822" NIL NIL NIL "7BIT" 213 ' + NESTED_INNER_ENV + b' '
            b'(("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 10 1)'
            b'("IMAGE" "GIF" NIL NIL NIL "BASE64" 4) "MIXED") 14) "MIXED")'),
    ),
    "encoded-words.eml": dict(
        envelope=(b'("3 Mar 2026 10:00 GMT" "=?UTF-8?Q?Caf=C3=A9?= and =?UTF-8?B?w6k=?=" '
                  b'(("=?ISO-8859-1?Q?Andr=E9?= Pirard" NIL "PIRARD" "vm1.ulg.ac.be")) '
                  b'((NIL NIL "list-bounces" "example.com")) ((NIL NIL "replies" "example.com")) '
                  b'(("=?UTF-8?B?w4lsb2TDrWU=?=" NIL "elodie" "example.fr")) NIL NIL NIL NIL)'),
        bodystructure=b'("TEXT" "PLAIN" ("CHARSET" "iso-8859-1") NIL NIL "7BIT" 11 1 NIL NIL NIL NIL)',
        body=b'("TEXT" "PLAIN" ("CHARSET" "iso-8859-1") NIL NIL "7BIT" 11 1)',
    ),
    "rfc2231.eml": dict(
        envelope=(b'(NIL "2231" ((NIL NIL "a" "example.com")) ((NIL NIL "a" "example.com")) '
                  b'((NIL NIL "a" "example.com")) NIL NIL NIL NIL NIL)'),
        bodystructure=(b'("APPLICATION" "PDF" ("NAME" "longname.pdf") NIL NIL "BASE64" 10 NIL '
                       b'("ATTACHMENT" ("FILENAME*" "us-ascii\'en\'This%20is%20long.pdf")) NIL NIL)'),
        body=b'("APPLICATION" "PDF" ("NAME" "longname.pdf") NIL NIL "BASE64" 10)',
    ),
    "no-content-type.eml": dict(
        envelope=(b'(NIL "plain" ((NIL NIL "plain" "example.com")) ((NIL NIL "plain" "example.com")) '
                  b'((NIL NIL "plain" "example.com")) ((NIL NIL "you" "example.com")) NIL NIL NIL NIL)'),
        bodystructure=b'("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 22 2 NIL NIL NIL NIL)',
        body=b'("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 22 2)',
    ),
    "8bit-garbage.eml": dict(
        # 8-bit bytes cannot be a quoted string: a literal (RFC 3501 4.3)
        envelope=(b'(NIL ' + literal(b"caf\xe9 \xff\xfe") + b' (("=?bogus?Q?x?=" NIL "g" "example.com")) '
                  b'(("=?bogus?Q?x?=" NIL "g" "example.com")) (("=?bogus?Q?x?=" NIL "g" "example.com")) '
                  b'NIL NIL NIL NIL NIL)'),
        bodystructure=b'("TEXT" "PLAIN" ("CHARSET" "unknown-8bit") NIL NIL "8BIT" 5 1 NIL NIL NIL NIL)',
        body=b'("TEXT" "PLAIN" ("CHARSET" "unknown-8bit") NIL NIL "8BIT" 5 1)',
    ),
}
ORDER = ["nested.eml", "encoded-words.eml", "rfc2231.eml", "no-content-type.eml", "8bit-garbage.eml"]


@pytest.fixture
def corpus(env):
    for name in ORDER:
        env.deliver(os.path.join(DATA, name))
    return env


# ---- FETCH -------------------------------------------------------------

def test_envelope_bodystructure_corpus(corpus):
    c = corpus.login()
    for attempt in ("computed", "cached"):
        for seq, name in enumerate(ORDER, 1):
            want = CORPUS[name]
            got = fetches(c.ok("FETCH %d (ENVELOPE)" % seq))[seq]
            assert got == b"ENVELOPE " + want["envelope"], (attempt, name, got)
            got = fetches(c.ok("FETCH %d (BODYSTRUCTURE)" % seq))[seq]
            assert got == b"BODYSTRUCTURE " + want["bodystructure"], (attempt, name, got)
            got = fetches(c.ok("FETCH %d BODY" % seq))[seq]
            assert got == b"BODY " + want["body"], (attempt, name, got)
    # the second round came from the index cache that the first filled: a
    # file changed behind the store's back (same size) shows it
    path = corpus.stored_path(b"<nested-1@example.com>")
    with open(path, "r+b") as f:
        data = f.read()
        f.seek(0)
        f.write(data.replace(b"Subject: Nested test", b"Subject: Nested TEST"))
    got = fetches(c.ok("FETCH 1 (ENVELOPE BODYSTRUCTURE BODY.PEEK[HEADER.FIELDS (Subject)])"))[1]
    assert got.startswith(b"ENVELOPE " + CORPUS["nested.eml"]["envelope"] + b" BODYSTRUCTURE "
                          + CORPUS["nested.eml"]["bodystructure"]), got
    assert got.endswith(b"Subject: Nested TEST\r\n\r\n"), got
    # the macros, in their order (RFC 3501 6.4.5), no \Seen set
    got = fetches(c.ok("FETCH 4 FULL"))[4]
    size = len(crlf(corpus.stored_file(b"Subject: plain\n")))
    m = re.match(rb'FLAGS \(\\Recent\) INTERNALDATE "([ \d]\d-[A-Z][a-z]{2}-\d{4} \d\d:\d\d:\d\d [+-]\d{4})" '
                 rb'RFC822.SIZE (\d+) ENVELOPE (.*) BODY (.*)$', got)
    assert m, got
    assert int(m.group(2)) == size
    assert m.group(3) == CORPUS["no-content-type.eml"]["envelope"]
    assert m.group(4) == CORPUS["no-content-type.eml"]["body"]
    got = fetches(c.ok("FETCH 4 FAST"))[4]
    assert re.match(rb'FLAGS \(\\Recent\) INTERNALDATE "[^"]+" RFC822.SIZE %d$' % size, got), got
    got = fetches(c.ok("FETCH 4 ALL"))[4]
    assert got.endswith(b" ENVELOPE " + CORPUS["no-content-type.eml"]["envelope"]), got
    c.close()


def test_sections_and_partials(corpus):
    c = corpus.login()
    raw = crlf(corpus.stored_file(b"<nested-1@example.com>"))
    hdr_end = raw.index(b"\r\n\r\n") + 4

    def one(item, label=None):
        got = fetches(c.ok("FETCH 1 (%s)" % item))[1]
        label = label or item.replace(".PEEK", "")
        assert got.startswith(label.encode() + b" "), (item, got)
        val = got[len(label) + 1:]
        if val == b'""':
            return b""
        m = re.match(rb"\{(\d+)\}\r\n", val)
        assert m, (item, val)
        data = val[m.end():]
        assert len(data) == int(m.group(1)), item
        return data

    assert one("BODY.PEEK[]") == raw
    assert one("RFC822.HEADER") == raw[:hdr_end]
    assert one("BODY.PEEK[HEADER]") == raw[:hdr_end]
    assert one("BODY.PEEK[TEXT]") == raw[hdr_end:]
    assert one("BODY.PEEK[1.1]") == b"Hello =C3=A9"
    assert one("BODY.PEEK[1.2]") == b"<p>Hello</p>"
    assert one("BODY.PEEK[2]") == b"AAECAw=="
    assert one("BODY.PEEK[2.MIME]") == (
        b"Content-Type: application/octet-stream; name=\"data.bin\"\r\n"
        b"Content-Disposition: attachment; filename*=utf-8''r%C3%A9sum%C3%A9.bin\r\n"
        b"Content-Transfer-Encoding: base64\r\nContent-Language: en\r\n"
        b"Content-Description: some data\r\nContent-ID: <data@example.com>\r\n\r\n")
    assert one("BODY.PEEK[3.HEADER]") == (b"From: inner@example.org\r\nSubject: inner\r\n"
                                          b"Content-Type: multipart/mixed; boundary=in\r\n\r\n")
    assert one("BODY.PEEK[3.1]") == b"inner text"
    assert one("BODY.PEEK[3.2]") == b"R0lG"
    inner = raw[raw.index(b"From: inner"):raw.index(b"\r\n--outer--")]
    assert one("BODY.PEEK[3]") == inner
    assert len(inner) == 213
    assert one("BODY.PEEK[3.TEXT]") == inner[inner.index(b"\r\n\r\n") + 4:]
    assert one("BODY.PEEK[HEADER.FIELDS (Subject from)]",
               "BODY[HEADER.FIELDS (SUBJECT FROM)]") == (
        b'From: "Doe, John" <john@example.com>\r\nSubject: Nested test\r\n\r\n')
    assert one("BODY.PEEK[HEADER.FIELDS.NOT (From To Cc Subject Date Message-ID In-Reply-To)]",
               "BODY[HEADER.FIELDS.NOT (FROM TO CC SUBJECT DATE MESSAGE-ID IN-REPLY-TO)]").endswith(
        b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"outer\"\r\n\r\n")
    # partials: bytes as sent, the response names the origin only
    assert one("BODY.PEEK[]<10.20>", "BODY[]<10>") == raw[10:30]
    assert one("BODY.PEEK[]<0.1>", "BODY[]<0>") == raw[:1]
    assert one("BODY.PEEK[TEXT]<5.100000>", "BODY[TEXT]<5>") == raw[hdr_end + 5:]
    assert one("BODY.PEEK[]<%d.5>" % len(raw), "BODY[]<%d>" % len(raw)) == b""
    assert one("BODY.PEEK[1.1]<6.3>", "BODY[1.1]<6>") == b"=C3"
    # sections that do not exist: an empty string
    assert one("BODY.PEEK[9]") == b""
    assert one("BODY.PEEK[2.1]") == b""
    assert one("BODY.PEEK[1.1.HEADER]") == b""
    # nothing above set \Seen
    assert fetches(c.ok("FETCH 1 FLAGS"))[1] == b"FLAGS (\\Recent)"

    # bare-LF stored message: sizes and bytes with CRLF
    raw4 = corpus.stored_file(b"Subject: plain\n")
    assert b"\r\n" not in raw4
    assert one_seq(c, 4, "BODY.PEEK[]") == crlf(raw4)
    assert one_seq(c, 4, "BODY.PEEK[TEXT]") == b"just text\r\ntwo lines\r\n"
    assert fetches(c.ok("FETCH 4 RFC822.SIZE"))[4] == b"RFC822.SIZE %d" % len(crlf(raw4))
    c.close()


def one_seq(c, seq, item):
    got = fetches(c.ok("FETCH %d (%s)" % (seq, item)))[seq]
    m = re.match(rb"[^{]*\{(\d+)\}\r\n", got)
    assert m, got
    return got[m.end():m.end() + int(m.group(1))]


def test_seen_flag(corpus):
    c = corpus.login()
    assert fetches(c.ok("FETCH 2 (BODY.PEEK[TEXT] FLAGS)"))[2] == (
        b"BODY[TEXT] {11}\r\nbody line\r\n FLAGS (\\Recent)")
    # BODY[] sets \Seen and the response carries FLAGS unasked (6.4.5)
    assert fetches(c.ok("FETCH 2 BODY[TEXT]"))[2] == (
        b"BODY[TEXT] {11}\r\nbody line\r\n FLAGS (\\Seen \\Recent)")
    # already seen: no FLAGS added
    assert fetches(c.ok("FETCH 2 BODY[TEXT]"))[2] == b"BODY[TEXT] {11}\r\nbody line\r\n"
    got = fetches(c.ok("FETCH 3 RFC822.TEXT"))[3]
    assert got.startswith(b"RFC822.TEXT {10}\r\nJVBERg==\r\n") and got.endswith(b" FLAGS (\\Seen \\Recent)"), got
    got = fetches(c.ok("FETCH 5 RFC822"))[5]
    assert got.startswith(b"RFC822 {") and got.endswith(b" FLAGS (\\Seen \\Recent)"), got
    # RFC822.HEADER is a PEEK
    assert fetches(c.ok("FETCH 4 (RFC822.HEADER)"))[4].startswith(b"RFC822.HEADER {")
    assert fetches(c.ok("FETCH 4 FLAGS"))[4] == b"FLAGS (\\Recent)"
    c.ok("LOGOUT")
    c.close()
    # read-only: BODY[] does not set \Seen
    c = corpus.login(examine=True)
    got = fetches(c.ok("FETCH 4 BODY[TEXT]"))[4]
    assert got == b"BODY[TEXT] {22}\r\njust text\r\ntwo lines\r\n", got
    assert fetches(c.ok("FETCH 4 FLAGS"))[4] == b"FLAGS ()"
    assert fetches(c.ok("FETCH 2 FLAGS"))[2] == b"FLAGS (\\Seen)"
    c.close()


def test_uid_fetch_and_errors(corpus):
    c = corpus.login()
    u = c.ok("UID FETCH 1:* (FLAGS)")
    f = fetches(u)
    assert sorted(f) == [1, 2, 3, 4, 5]
    uids = []
    for seq in range(1, 6):
        m = re.match(rb"UID (\d+) FLAGS \(", f[seq])  # UID first even when not asked (6.4.8)
        assert m, f[seq]
        uids.append(int(m.group(1)))
    assert uids == sorted(uids)
    got = fetches(c.ok("UID FETCH %d (UID RFC822.SIZE)" % uids[1]))
    assert list(got) == [2] and re.match(rb"UID %d RFC822.SIZE \d+$" % uids[1], got[2]), got
    # what Thunderbird asks for new mail
    got = fetches(c.ok("UID FETCH %d:* (UID RFC822.SIZE FLAGS BODY.PEEK[HEADER.FIELDS (From To Cc Bcc "
                       "Subject Date Message-ID Priority X-Priority References Newsgroups In-Reply-To "
                       "Content-Type Reply-To)])" % uids[3]))
    assert sorted(got) == [4, 5], got
    hdr = b"From: plain@example.com\r\nTo: you@example.com\r\nSubject: plain\r\n\r\n"
    size = len(crlf(corpus.stored_file(b"Subject: plain\n")))
    assert got[4] == (b"UID %d RFC822.SIZE %d FLAGS (\\Recent) BODY[HEADER.FIELDS (FROM TO CC BCC SUBJECT "
                      b"DATE MESSAGE-ID PRIORITY X-PRIORITY REFERENCES NEWSGROUPS IN-REPLY-TO CONTENT-TYPE "
                      b"REPLY-TO)] {%d}\r\n" % (uids[3], size, len(hdr)) + hdr), got[4]
    # UIDs that do not exist: nothing, OK
    untagged, tagged = c.cmd("UID FETCH %d:%d (FLAGS)" % (uids[-1] + 10, uids[-1] + 20))
    assert tagged.startswith("OK") and fetches(untagged) == {}, (untagged, tagged)
    # "*" in UID FETCH is the highest UID even above the range
    assert list(fetches(c.ok("UID FETCH %d:* FLAGS" % (uids[-1] + 100)))) == [5]
    # sequence numbers out of range: BAD
    for text in ("FETCH 6 FLAGS", "FETCH 1:9 FLAGS", "FETCH 0 FLAGS"):
        untagged, tagged = c.cmd(text)
        assert tagged.startswith("BAD"), (text, tagged)
    # malformed attributes: BAD with the reason, session goes on
    for text, reason in (("FETCH 1 (FLAGS FOO)", "Unknown FETCH attribute"),
                         ("FETCH 1 BODY[", None),
                         ("FETCH 1 BODY[]<5.>", "Invalid partial <origin.count>"),
                         ("FETCH 1 BODY[MIME]", "MIME needs a part number"),
                         ("FETCH 1 (FLAGS ALL)", "ALL, FAST and FULL cannot be inside a list"),
                         ("FETCH 1 ()", "Empty FETCH attribute list"),
                         ("FETCH 1", None),
                         ("FETCH 1 FLAGS EXTRA", None)):
        untagged, tagged = c.cmd(text)
        assert tagged.startswith("BAD"), (text, tagged)
        if reason:
            assert reason in tagged, (text, tagged)
    assert fetches(c.ok("FETCH 1 UID"))
    c.close()


def test_fetch_expunged_by_other_session(corpus):
    a = corpus.login()
    b = corpus.login()
    b.ok("STORE 2 +FLAGS.SILENT (\\Deleted)")
    b.ok("EXPUNGE")
    # a still knows 5 messages; 2 vanished (RFC 2180 4.1): the others are
    # sent, the reply says EXPUNGEISSUED, and no EXPUNGE during FETCH
    untagged, tagged = a.cmd("FETCH 1:3 (UID)")
    assert tagged.startswith("NO [EXPUNGEISSUED]"), (untagged, tagged)
    assert sorted(fetches(untagged)) == [1, 3], untagged
    assert not any(b"EXPUNGE" in r for r in untagged), untagged
    # the next command that may report it does
    untagged = a.ok("NOOP")
    assert b"* 2 EXPUNGE" in untagged, untagged
    a.close()
    b.close()


def test_uid_fetch_and_store_of_expunged_uids_are_ok(corpus):
    # mbsync failed its sync ("UID FETCH 1:416 (UID FLAGS) returned an
    # error: NO [EXPUNGEISSUED]") when another client expunged meanwhile:
    # a UID that no longer exists is ignored without an error (RFC 3501
    # 6.4.8); the EXPUNGE comes before the tagged OK (7.4.1 allows it for
    # UID commands)
    a = corpus.login()
    b = corpus.login()
    uids = [int(re.search(rb"UID (\d+)", v).group(1)) for _, v in
            sorted(fetches(a.ok("FETCH 1:* (UID)")).items())]
    b.ok("STORE 2 +FLAGS.SILENT (\\Deleted)")
    b.ok("EXPUNGE")
    untagged, tagged = a.cmd("UID FETCH 1:* (UID FLAGS)")
    assert tagged == "OK UID FETCH completed", (untagged, tagged)
    f = fetches(untagged)
    assert sorted(f) == [1, 3, 4, 5], untagged
    assert untagged[-1] == b"* 2 EXPUNGE", untagged
    b.ok("STORE 3 +FLAGS.SILENT (\\Deleted)")
    b.ok("EXPUNGE")   # a's view: 1 2 3 4 = uids[0], uids[2], uids[3], uids[4]; uids[3] goes
    untagged, tagged = a.cmd("UID STORE %d:* +FLAGS (\\Flagged)" % uids[2])
    assert tagged == "OK UID STORE completed", (untagged, tagged)
    assert sorted(fetches(untagged)) == [2, 4], untagged
    assert untagged[-1] == b"* 3 EXPUNGE", untagged
    # by sequence number it stays NO [EXPUNGEISSUED] (RFC 2180 4.1.2, 4.2.1)
    b.ok("STORE 1 +FLAGS.SILENT (\\Deleted)")
    b.ok("EXPUNGE")
    untagged, tagged = a.cmd("FETCH 1:* (UID)")
    assert tagged.startswith("NO [EXPUNGEISSUED]"), (untagged, tagged)
    untagged, tagged = a.cmd("STORE 1 +FLAGS (\\Seen)")
    assert tagged.startswith("NO [EXPUNGEISSUED]"), (untagged, tagged)
    a.close()
    b.close()


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS for %d" % pid)


def test_big_fetch_does_not_stall_others(env):
    # 30 MB message; session A asks for it and reads slowly, B is answered
    line = b"x" * 76 + b"\n"
    body = line * (30 * 1024 * 1024 // len(line))
    msg = b"Subject: big\nMessage-ID: <big@example.test>\n\n" + body
    env.deliver(msg)
    env.deliver(os.path.join(DATA, "no-content-type.eml"))
    stored = crlf(env.stored_file(b"<big@example.test>"))
    a = env.login()
    b = env.login()
    pid = env.inst.role_pid("imap")
    rss_before = rss_kb(pid)
    a.send("big FETCH 1 BODY[]\r\n")
    # read only the start of A's answer: the server must not hold the rest
    a.sock.settimeout(TIMEOUT)
    head = a.sock.recv(4096)
    assert head.startswith(b"* 1 FETCH (BODY[] {%d}\r\n" % len(stored)), head[:100]
    a.buf = head
    t0 = time.time()
    got = fetches(b.ok("FETCH 2 (FLAGS RFC822.SIZE)"))
    assert 2 in got, got
    assert b.ok("NOOP") is not None
    # and the worker did not load the 30 MB message into memory for A
    time.sleep(0.5)
    grown = rss_kb(pid) - rss_before
    assert grown < 12 * 1024, "imap worker grew by %d KiB during the paused FETCH" % grown
    # A's FETCH is still going: most of it has not been read
    untagged, tagged = a.collect("big")
    assert tagged.startswith("OK"), tagged
    data = fetches(untagged)[1]
    prefix = b"BODY[] {%d}\r\n" % len(stored)
    assert data.startswith(prefix)
    # \Seen was set by BODY[]: FLAGS follows the 30 MB literal
    assert data[len(prefix):len(prefix) + len(stored)] == stored
    assert data[len(prefix) + len(stored):] == b" FLAGS (\\Seen \\Recent)", data[-100:]
    assert time.time() - t0 < 300
    a.close()
    b.close()


# ---- STORE -------------------------------------------------------------

def test_store(corpus):
    c = corpus.login()
    untagged = c.ok("STORE 1 +FLAGS (\\Flagged $Work)")
    assert re.match(rb"(UID \d+ )?FLAGS \(\\Flagged \\Recent \$Work\)$", fetches(untagged)[1]), untagged
    # a new keyword is announced before the FETCH that uses it (RFC 3501 7.2.6)
    assert untagged[0].startswith(b"* FLAGS (") and b" $Work)" in untagged[0], untagged
    assert untagged[-1].startswith(b"* 1 FETCH "), untagged
    assert len([r for r in untagged if b"FETCH" in r]) == 1, untagged
    assert fetches(c.ok("STORE 1 +FLAGS \\Seen"))[1] == b"FLAGS (\\Flagged \\Seen \\Recent $Work)"
    assert fetches(c.ok("STORE 1 -FLAGS ($work \\Flagged)"))[1] == b"FLAGS (\\Seen \\Recent)"
    # (Junk is new too: FLAGS first, then STORE's own FETCH)
    got = fetches(c.ok("STORE 1 FLAGS (\\Answered \\Draft Junk)"))[1]
    assert re.sub(rb"^UID \d+ ", b"", got) == b"FLAGS (\\Answered \\Draft \\Recent Junk)", got
    assert fetches(c.ok("STORE 1 FLAGS ()"))[1] == b"FLAGS (\\Recent)"
    # several messages, several flags without parentheses
    f = fetches(c.ok("STORE 2:3 +FLAGS \\Deleted \\Seen"))
    assert f == {2: b"FLAGS (\\Deleted \\Seen \\Recent)", 3: b"FLAGS (\\Deleted \\Seen \\Recent)"}, f
    # .SILENT: no FETCH
    untagged = c.ok("STORE 2 -FLAGS.SILENT (\\Deleted)")
    assert fetches(untagged) == {}, untagged
    assert fetches(c.ok("FETCH 2 FLAGS"))[2] == b"FLAGS (\\Seen \\Recent)"
    # UID STORE: UID in each FETCH (6.4.8)
    uid = int(re.match(rb"UID (\d+)", fetches(c.ok("FETCH 4 UID"))[4]).group(1))
    f = fetches(c.ok("UID STORE %d +FLAGS (\\Flagged)" % uid))
    assert f == {4: b"UID %d FLAGS (\\Flagged \\Recent)" % uid}, f
    untagged, tagged = c.cmd("UID STORE %d +FLAGS (\\Flagged)" % (uid + 1000))
    assert tagged.startswith("OK") and fetches(untagged) == {}, (untagged, tagged)
    # errors
    for text, reason in (("STORE 1 +FLAGS (\\Recent)", "\\Recent"),
                         ("STORE 1 +FLAGS (\\Bogus)", "Unknown system flag"),
                         ("STORE 1 FLAGZ (\\Seen)", "Unknown STORE item"),
                         ("STORE 9 +FLAGS (\\Seen)", "out of range"),
                         ("STORE 1 +FLAGS", None)):
        untagged, tagged = c.cmd(text)
        assert tagged.startswith("BAD"), (text, tagged)
        if reason:
            assert reason in tagged, (text, tagged)
    c.close()
    c = corpus.login(examine=True)
    untagged, tagged = c.cmd("STORE 1 +FLAGS (\\Seen)")
    assert tagged.startswith("NO"), tagged
    assert fetches(c.ok("FETCH 1 FLAGS"))[1] == b"FLAGS ()"
    c.close()


def test_store_silent_over_many_messages(env):
    # mutt's "UID STORE 4,6:9,33:99,326:400 +FLAGS.SILENT (Old)" and
    # mbsync's flag pushes cover hundreds of messages: .SILENT must stay
    # silent past the 256 own changes the sync remembers one by one (it
    # used to echo a FETCH for every message beyond them)
    n = 300
    c = env.login(mailbox=None)
    batch = b""
    for i in range(n):
        m = b"From: a@example.test\r\nSubject: many %d\r\n\r\nbody\r\n" % i
        batch += b"a%d APPEND INBOX {%d+}\r\n" % (i, len(m)) + m + b"\r\n"
    c.send(batch)
    for i in range(n):
        _, tagged = c.collect("a%d" % i)
        assert tagged.startswith("OK"), tagged
    c.ok('SELECT "INBOX"')
    for text in ("UID STORE 1:* +FLAGS.SILENT (\\Seen)", "STORE 1:* -FLAGS.SILENT (\\Seen)",
                 "STORE 1:* +FLAGS.SILENT (Kwmany)", "UID STORE 1:* FLAGS.SILENT (\\Flagged)"):
        untagged = c.ok(text)
        f = fetches(untagged)
        assert f == {}, (text, len(f), untagged[:3])
        if "Kwmany" in text:
            # a new keyword is announced all the same (RFC 3501 7.2.6)
            assert untagged[0].startswith(b"* FLAGS (") and b" Kwmany)" in untagged[0], untagged[:3]
    f = fetches(c.ok("FETCH 1:* FLAGS"))
    assert len(f) == n and set(f.values()) == {b"FLAGS (\\Flagged \\Recent)"}, set(f.values())
    c.close()


# ---- COPY / MOVE ---------------------------------------------------------

def test_copy(corpus):
    corpus.create_mailbox("Target")
    c = corpus.login()
    c.ok("STORE 2 +FLAGS.SILENT (\\Flagged $Work)")
    f = fetches(c.ok("FETCH 1:5 UID"))
    uids = [int(re.match(rb"UID (\d+)", f[i]).group(1)) for i in range(1, 6)]
    untagged, tagged = c.cmd("COPY 2:3 Target")
    m = re.match(r"OK \[COPYUID (\d+) (\S+) (\S+)\]", tagged)
    assert m, tagged
    assert m.group(2) == "%d:%d" % (uids[1], uids[2])
    assert m.group(3) == "1:2"
    untagged, tagged = c.cmd("UID COPY %d,%d Target" % (uids[4], uids[0]))
    m2 = re.match(r"OK \[COPYUID (\d+) (\S+) (\S+)\]", tagged)
    assert m2 and m2.group(1) == m.group(1), tagged
    assert m2.group(2) == "%d,%d" % (uids[0], uids[4]) and m2.group(3) == "3:4", tagged
    # UIDs that do not exist: nothing copied, OK without COPYUID
    untagged, tagged = c.cmd("UID COPY %d Target" % (uids[-1] + 50))
    assert tagged.startswith("OK") and "COPYUID" not in tagged, tagged
    untagged, tagged = c.cmd("COPY 1 Nowhere")
    assert tagged.startswith("NO [TRYCREATE]"), tagged
    untagged, tagged = c.cmd("COPY 7 Target")
    assert tagged.startswith("BAD"), tagged
    # source unchanged, copies have the flags (and the bytes)
    assert sorted(fetches(c.ok("FETCH 1:* FLAGS"))) == [1, 2, 3, 4, 5]
    sel = c.ok('SELECT "Target"')
    assert b"* OK [UIDVALIDITY %s]" % m.group(1).encode() in b"\n".join(sel), sel
    f = fetches(c.ok("FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (Subject)])"))
    assert sorted(f) == [1, 2, 3, 4]
    assert f[1].startswith(b"FLAGS (\\Flagged \\Recent $Work) BODY[HEADER.FIELDS (SUBJECT)] "), f[1]
    assert b"Subject: =?UTF-8?Q?Caf=C3=A9?= and\r\n =?UTF-8?B?w6k=?=" in f[1]
    assert b"Subject: 2231" in f[2] and b"Subject: Nested test" in f[3], f
    c.close()


def apply_expunges(view, responses):
    view = list(view)
    for r in responses:
        m = re.match(rb"\* (\d+) EXPUNGE$", r)
        assert m, r
        del view[int(m.group(1)) - 1]
    return view


def test_move(corpus):
    corpus.create_mailbox("Archive2")
    c = corpus.login()
    f = fetches(c.ok("FETCH 1:5 UID"))
    uids = [int(re.match(rb"UID (\d+)", f[i]).group(1)) for i in range(1, 6)]
    untagged, tagged = c.cmd("MOVE 2,4 Archive2")
    assert tagged.startswith("OK"), tagged
    assert untagged[0].startswith(b"* OK [COPYUID "), untagged
    m = re.match(rb"\* OK \[COPYUID \d+ (\S+) (\S+)\]", untagged[0])
    assert m.group(1) == b"%d,%d" % (uids[1], uids[3]) and m.group(2) == b"1:2", untagged
    # one EXPUNGE per moved message, each number right when it arrives
    # (RFC 3501 7.4.1): applying them to the client's view leaves 1, 3, 5
    # (a "* n RECENT" may follow: \Recent messages went away)
    expunges = [r for r in untagged if r.endswith(b" EXPUNGE")]
    assert len(expunges) == 2 and untagged[1:3] == expunges, untagged
    assert apply_expunges(uids, expunges) == [uids[0], uids[2], uids[4]], untagged
    f = fetches(c.ok("FETCH 1:* UID"))
    assert [int(re.match(rb"UID (\d+)", f[i]).group(1)) for i in sorted(f)] == [uids[0], uids[2], uids[4]]
    # UID MOVE of UIDs that are gone: OK, nothing happens
    untagged, tagged = c.cmd("UID MOVE %d Archive2" % uids[1])
    assert tagged.startswith("OK") and not untagged, (untagged, tagged)
    untagged, tagged = c.cmd("UID MOVE %d Archive2" % uids[4])
    assert tagged.startswith("OK"), tagged
    assert untagged[0].startswith(b"* OK [COPYUID "), untagged
    assert untagged[1] == b"* 3 EXPUNGE", untagged
    assert [r for r in untagged if b"EXPUNGE" in r] == [b"* 3 EXPUNGE"], untagged
    untagged, tagged = c.cmd("MOVE 1 Nowhere")
    assert tagged.startswith("NO [TRYCREATE]"), tagged
    untagged, tagged = c.cmd("MOVE 5 Archive2")
    assert tagged.startswith("BAD"), tagged
    c.ok('EXAMINE "Archive2"')
    assert sorted(fetches(c.ok("FETCH 1:* UID"))) == [1, 2, 3]
    untagged, tagged = c.cmd("MOVE 1 INBOX")
    assert tagged.startswith("NO"), tagged
    c.close()


def test_copy_over_quota_is_all_or_nothing(inst):
    # 5 messages of ~1.1 KB under an 8 KiB quota: COPY of all of them
    # fails on the third copy; the two made are removed again
    user = fresh_user(inst, "quota")
    r = inst.run("user", "del", user)
    assert r.returncode == 0, r.stderr
    r = inst.run("user", "add", user, "--password-stdin", "--quota", "8k", input=PASSWORD + "\n")
    assert r.returncode == 0, r.stderr
    env = Env.__new__(Env)
    env.inst, env.user = inst, user
    for i in range(5):
        env.deliver(b"Subject: q%d\n\n" % i + b"y" * 1000 + b"\n")
    env.create_mailbox("Full")
    c = env.login()
    untagged, tagged = c.cmd("COPY 1:5 Full")
    assert tagged.startswith("NO [OVERQUOTA]"), tagged
    c.ok('EXAMINE "Full"')
    _, tagged = c.cmd("FETCH 1 UID")
    assert tagged.startswith("BAD"), tagged     # no message 1: nothing was left behind
    r = inst.run("mailbox", "status", user, "Full")
    assert r.returncode == 0, r.stderr
    st = dict(kv.split("=") for kv in r.stdout.split())
    assert st["messages"] == "0", r.stdout
    c.close()


def test_fetch_from_mbox(inst):
    # an mbox user: messages sit inside one file (offset > 0), and a body
    # line starting with "From " is stored quoted; FETCH sends the message
    # as it was delivered
    mail = os.path.join(inst.dir, "mail")
    spool = os.path.join(mail, "spool-fetch")
    os.makedirs(spool, exist_ok=True)
    if os.geteuid() == 0:
        import pwd
        pw = pwd.getpwnam("postern")
        os.chown(spool, pw.pw_uid, pw.pw_gid)
    user = "mboxfetch@example.test"
    r = inst.run("user", "add", user, "--password-stdin", "--mail",
                 "mbox:%s/mbox-fetch/%%d/%%n:INBOX=%s/%%n" % (mail, spool), input=PASSWORD + "\n")
    assert r.returncode == 0, r.stderr
    env = Env.__new__(Env)
    env.inst, env.user = inst, user
    env.deliver(b"Subject: first\n\nFrom the start\nbody\n")
    env.deliver(os.path.join(DATA, "nested.eml"))
    with open(os.path.join(spool, "mboxfetch")) as f:
        assert "\n>From the start\n" in f.read()
    c = env.login()
    with open(os.path.join(DATA, "nested.eml"), "rb") as f:
        nested = f.read()
    got = fetches(c.ok("FETCH 2 (ENVELOPE BODYSTRUCTURE)"))[2]
    assert got == (b"ENVELOPE " + CORPUS["nested.eml"]["envelope"] + b" BODYSTRUCTURE "
                   + CORPUS["nested.eml"]["bodystructure"]), got
    body = one_seq(c, 2, "BODY.PEEK[]")
    assert body.endswith(crlf(nested)), body[-200:]
    assert one_seq(c, 2, "BODY.PEEK[3.1]") == b"inner text"
    # header-only requests parse (and copy out of the mbox) just the header
    got = fetches(c.ok("FETCH 1:2 (BODY.PEEK[HEADER.FIELDS (Subject)] ENVELOPE)"))
    assert got[1] == (b"BODY[HEADER.FIELDS (SUBJECT)] {18}\r\nSubject: first\r\n\r\n "
                      b"ENVELOPE (NIL \"first\" NIL NIL NIL NIL NIL NIL NIL NIL)"), got
    assert got[2] == (b"BODY[HEADER.FIELDS (SUBJECT)] {24}\r\nSubject: Nested test\r\n\r\n ENVELOPE "
                      + CORPUS["nested.eml"]["envelope"]), got
    assert one_seq(c, 1, "BODY.PEEK[TEXT]") == b"From the start\r\nbody\r\n"
    assert one_seq(c, 1, "BODY.PEEK[TEXT]<5.9>") == b"the start"
    c.close()


def test_with_imaplib(corpus):
    # Python's imaplib as a well-behaved client: it parses the literals
    # inside FETCH responses and the response codes
    import imaplib
    c = imaplib.IMAP4("127.0.0.1", corpus.inst.ports["imap"], timeout=TIMEOUT)
    c.login(corpus.user, PASSWORD)
    typ, data = c.select("INBOX")
    assert typ == "OK" and data == [b"5"], (typ, data)
    typ, data = c.fetch("1:2", "(UID RFC822.SIZE BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    assert typ == "OK", data
    assert data[0][1] == b"Subject: Nested test\r\n\r\n"
    assert data[2][1] == b"Subject: =?UTF-8?Q?Caf=C3=A9?= and\r\n =?UTF-8?B?w6k=?=\r\n\r\n"
    uid1 = int(re.search(rb"UID (\d+)", data[0][0]).group(1))
    typ, data = c.uid("FETCH", str(uid1), "(RFC822)")
    assert typ == "OK" and data[0][1] == crlf(corpus.stored_file(b"<nested-1@example.com>")), data[0][0]
    assert data[1] == b" FLAGS (\\Seen \\Recent))", data[1]   # \Seen set by RFC822
    typ, data = c.store("3", "+FLAGS", "(\\Flagged)")
    assert typ == "OK" and b"FLAGS (\\Flagged \\Recent)" in data[0], data
    corpus.create_mailbox("Kept")
    typ, data = c.copy("1:2", "Kept")
    assert typ == "OK" and re.match(rb"\[COPYUID \d+ \d+:\d+ 1:2\] ", data[0]), data
    typ, data = c.uid("MOVE", str(uid1), "Kept")
    assert typ == "OK", data
    moved = [r for r in c.untagged_responses.get("OK", []) if r.startswith(b"[COPYUID ")]
    assert moved and re.match(rb"\[COPYUID \d+ " + str(uid1).encode() + rb" 3\] ", moved[-1]), moved
    typ, data = c.select("INBOX")
    assert data == [b"4"], data
    typ, data = c.select("Kept", readonly=True)
    assert data == [b"3"], data
    c.logout()


# ---- real clients --------------------------------------------------------

def test_curl_fetches_by_uid(corpus):
    import shutil as sh
    import subprocess
    if sh.which("curl") is None:
        pytest.skip("curl is not installed")
    c = corpus.login()
    uid = int(re.match(rb"UID (\d+)", fetches(c.ok("FETCH 1 UID"))[1]).group(1))
    c.close()
    url = "imap://127.0.0.1:%d/INBOX;UID=%d" % (corpus.inst.ports["imap"], uid)
    r = subprocess.run(["curl", "-sS", "--max-time", "60", "-u", "%s:%s" % (corpus.user, PASSWORD), url],
                       capture_output=True, timeout=TIMEOUT)
    assert r.returncode == 0, r.stderr
    assert r.stdout == crlf(corpus.stored_file(b"<nested-1@example.com>")), r.stdout[:300]


def test_fetchmail_downloads_and_deletes(corpus, tmp_path):
    # fetchmail: FETCH RFC822.SIZE / RFC822.HEADER / BODY.PEEK[TEXT],
    # STORE +FLAGS (\Seen \Deleted), EXPUNGE
    import shutil as sh
    import subprocess
    if sh.which("fetchmail") is None:
        pytest.skip("fetchmail is not installed")
    out = tmp_path / "out"
    out.mkdir()
    rc = tmp_path / "fetchmailrc"
    rc.write_text('poll 127.0.0.1 protocol IMAP port %d auth password\n'
                  '  user "%s" password "%s" is root here\n'
                  '  sslproto "" no sslcertck\n'
                  '  mda "/bin/sh -c \'cat > %s/msg.$$\'"\n'
                  '  fetchall nokeep\n' % (corpus.inst.ports["imap"], corpus.user, PASSWORD, out))
    rc.chmod(0o600)
    env = dict(os.environ, HOME=str(tmp_path), FETCHMAILHOME=str(tmp_path))
    # as root fetchmail locks /run/fetchmail.pid whatever FETCHMAILHOME
    # says: a lock of our own, or a concurrent run elsewhere fails this
    r = subprocess.run(["fetchmail", "-f", str(rc), "--pidfile", str(tmp_path / "fetchmail.pid"),
                        "--nodetach", "--nosyslog", "-v"],
                       capture_output=True, text=True, env=env, timeout=TIMEOUT)
    assert r.returncode == 0, r.stdout + r.stderr
    got = sorted(p.read_bytes() for p in out.iterdir())
    assert len(got) == 5, r.stdout
    assert any(b"<nested-1@example.com>" in g and b"R0lG" in g for g in got), got
    c = corpus.login()
    untagged, tagged = c.cmd("FETCH 1 UID")
    assert tagged.startswith("BAD"), (untagged, tagged)   # INBOX is empty now
    c.close()
