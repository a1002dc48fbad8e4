"""test_imap_search.py - SEARCH and UID SEARCH (RFC 3501 6.4.4, 6.4.8)
against a real posternd, on a Maildir of crafted messages written before
the user's first login (flags in the Maildir info, INTERNALDATE in the
file name's leading seconds, as the store reads them):

  1 plain text, \\Seen, Date 1 Feb 2026 +0000, INTERNALDATE 1 Feb 2026
  2 encoded-word From and Subject (ISO-8859-1 Q, UTF-8 B), \\Flagged,
    Date 15 Mar 2026 23:30 -0500 (16 Mar in UTC)
  3 quoted-printable UTF-8 body ("Müller"), Cc, \\Answered
  4 base64 UTF-8 body in Cyrillic, Bcc, \\Draft
  5 multipart/alternative (QP text + base64 HTML), X-Spam-Flag, \\Deleted,
    the largest
  6 no Date header, in new/ (so \\Recent for the first session)

Each key alone, combined with OR / NOT / parentheses, CHARSET UTF-8 with
a literal ("Müller"), BADCHARSET, syntax errors with their exact texts and
a surviving session, the depth limit, UID SEARCH, sequence sets with '*',
no EXPUNGE during a sequence-number SEARCH (RFC 3501 7.4.1), and a
mailbox big enough that a body search yields between slices.
"""
import base64
import os
import socket

import pytest

from imap_helpers import Raw, add_user, imap_instance, login  # noqa: F401 (fixture)

DOMAIN = "example.test"
_users = iter(range(1, 1000))


def qp(text):
    import quopri
    return quopri.encodestring(text.encode()).decode().replace("\n", "\r\n")


def b64(text):
    return base64.encodebytes(text.encode()).decode().replace("\n", "\r\n")


MESSAGES = [
    # (flags, internaldate, folder, text)
    ("S", 1769947200, "cur",  # 2026-02-01 12:00 UTC
     "From: Alice Example <alice@example.org>\r\n"
     "To: Bob <bob@example.net>\r\n"
     "Subject: Quarterly report\r\n"
     "Date: Sun, 1 Feb 2026 10:00:00 +0000\r\n"
     "Message-ID: <m1@example.org>\r\n"
     "\r\n"
     "The budget numbers are attached.\r\n"),
    ("F", 1773637200, "cur",  # 2026-03-16 05:00 UTC
     "From: =?ISO-8859-1?Q?J=FCrgen_M=FCller?= <jm@example.de>\r\n"
     "To: team@example.de\r\n"
     "Subject: =?UTF-8?B?" + base64.b64encode("Grüße aus München".encode()).decode() + "?=\r\n"
     "Date: Sun, 15 Mar 2026 23:30:00 -0500\r\n"
     "\r\n"
     "Servus!\r\n"),
    ("R", 1774000000, "cur",  # 2026-03-20
     "From: carol@example.com\r\n"
     "To: bob@example.net\r\n"
     "Cc: Carol Copy <carol.copy@example.com>\r\n"
     "Subject: Termin\r\n"
     "Date: Fri, 20 Mar 2026 09:00:00 +0100\r\n"
     "MIME-Version: 1.0\r\n"
     "Content-Type: text/plain; charset=utf-8\r\n"
     "Content-Transfer-Encoding: quoted-printable\r\n"
     "\r\n" + qp("Das Treffen mit Herrn Müller ist am Montag.\r\n")),
    ("D", 1775000000, "cur",  # 2026-03-31/04-01
     "From: ivan@example.ru\r\n"
     "To: bob@example.net\r\n"
     "Bcc: dave@example.net\r\n"
     "Subject: draft\r\n"
     "Date: Wed, 1 Apr 2026 08:00:00 +0300\r\n"
     "MIME-Version: 1.0\r\n"
     "Content-Type: text/plain; charset=utf-8\r\n"
     "Content-Transfer-Encoding: base64\r\n"
     "\r\n" + b64("Секретный пароль: swordfish\r\n")),
    ("T", 1776000000, "cur",
     "From: news@example.com\r\n"
     "To: bob@example.net\r\n"
     "Subject: Newsletter\r\n"
     "Date: Sun, 12 Apr 2026 12:00:00 +0000\r\n"
     "X-Spam-Flag: YES\r\n"
     "MIME-Version: 1.0\r\n"
     "Content-Type: multipart/alternative; boundary=\"bb\"\r\n"
     "\r\n"
     "--bb\r\n"
     "Content-Type: text/plain; charset=utf-8\r\n"
     "Content-Transfer-Encoding: quoted-printable\r\n"
     "\r\n" + qp("Unsubscribe here. " + "filler " * 3000 + "\r\n") +
     "--bb\r\n"
     "Content-Type: text/html; charset=utf-8\r\n"
     "Content-Transfer-Encoding: base64\r\n"
     "\r\n" + b64("<p>Ελληνικά νέα</p>\r\n") +
     "--bb--\r\n"),
    ("", 1777000000, "new",
     "From: bot@example.com\r\n"
     "To: bob@example.net\r\n"
     "Subject: no date\r\n"
     "\r\n"
     "tiny\r\n"),
]


def write_maildir(inst, local, messages, first_index=1):
    """Write messages into the user's Maildir (owned by mail_owner)."""
    mail_root = os.path.join(inst.dir, "mail")
    st = os.stat(mail_root)
    root = os.path.join(mail_root, DOMAIN, local)
    for d in (os.path.join(mail_root, DOMAIN), root, root + "/cur", root + "/new", root + "/tmp"):
        os.makedirs(d, exist_ok=True)
        os.chown(d, st.st_uid, st.st_gid)
        os.chmod(d, 0o700)
    for i, (flags, idate, folder, text) in enumerate(messages, first_index):
        name = "%d.M%dP99.test" % (idate, i)
        if folder == "cur":
            name += ":2," + flags
        path = os.path.join(root, folder, name)
        with open(path, "w", newline="") as f:
            f.write(text)
        os.chown(path, st.st_uid, st.st_gid)
        os.utime(path, (idate, idate))
    return root


def mailbox_user(inst, messages=MESSAGES):
    local = "s%d" % next(_users)
    user = add_user(inst, "%s@%s" % (local, DOMAIN))
    root = write_maildir(inst, local, messages)
    return user, root


@pytest.fixture(scope="module")
def searcher(imap_instance):
    """One session with the six messages selected (module scope: read-only
    tests). Messages 1-5 are seen by an earlier session, so only message 6,
    written afterwards, is \\Recent."""
    user, root = mailbox_user(imap_instance, MESSAGES[:5])
    first = Raw(imap_instance)
    first.login(user)
    _, tagged = first.cmd("F1", "SELECT INBOX")
    assert tagged.startswith("F1 OK"), tagged
    first.cmd("F2", "LOGOUT")
    first.close()
    write_maildir(imap_instance, os.path.basename(root), [MESSAGES[5]], first_index=6)
    r = Raw(imap_instance)
    r.login(user)
    untagged, tagged = r.cmd("S1", "SELECT INBOX")
    assert tagged.startswith("S1 OK"), tagged
    assert "* 6 EXISTS" in untagged
    yield r
    r.close()


_tags = iter(range(1, 100000))


def search(r, text, uid=False):
    """The numbers of '* SEARCH' (one line required) and the tagged line."""
    tag = "Q%d" % next(_tags)
    untagged, tagged = r.cmd(tag, ("UID SEARCH " if uid else "SEARCH ") + text)
    assert tagged.startswith(tag + " OK"), "%s -> %s" % (text, tagged)
    hits = [ln for ln in untagged if ln.startswith("* SEARCH")]
    assert len(hits) == 1, untagged
    return [int(x) for x in hits[0].split()[2:]]


def test_flag_keys(searcher):
    r = searcher
    assert search(r, "ALL") == [1, 2, 3, 4, 5, 6]
    assert search(r, "SEEN") == [1]
    assert search(r, "UNSEEN") == [2, 3, 4, 5, 6]
    assert search(r, "FLAGGED") == [2]
    assert search(r, "UNFLAGGED") == [1, 3, 4, 5, 6]
    assert search(r, "ANSWERED") == [3]
    assert search(r, "UNANSWERED") == [1, 2, 4, 5, 6]
    assert search(r, "DRAFT") == [4]
    assert search(r, "UNDRAFT") == [1, 2, 3, 5, 6]
    assert search(r, "DELETED") == [5]
    assert search(r, "UNDELETED") == [1, 2, 3, 4, 6]
    assert search(r, "RECENT") == [6]
    assert search(r, "NEW") == [6]
    assert search(r, "OLD") == [1, 2, 3, 4, 5]
    assert search(r, "KEYWORD $Junk") == []
    assert search(r, "UNKEYWORD $Junk") == [1, 2, 3, 4, 5, 6]


def test_size_and_dates(searcher):
    r = searcher
    assert search(r, "LARGER 10000") == [5]
    assert search(r, "SMALLER 100") == [6]
    assert search(r, "NOT SMALLER 100 NOT LARGER 10000") == [1, 2, 3, 4]
    # INTERNALDATE, date part in the server's zone (UTC here)
    assert search(r, "ON 1-Feb-2026") == [1]
    assert search(r, "BEFORE 16-Mar-2026") == [1]
    assert search(r, "SINCE 16-Mar-2026") == [2, 3, 4, 5, 6]
    assert search(r, "SINCE 17-Mar-2026 BEFORE 1-Apr-2026") == [3, 4]
    # the Date header in its own zone: 15 Mar 23:30 -0500
    assert search(r, "SENTON 15-Mar-2026") == [2]
    assert search(r, "SENTON 16-Mar-2026") == []
    assert search(r, "SENTBEFORE 15-Mar-2026") == [1]
    assert search(r, "SENTSINCE 1-Apr-2026") == [4, 5]
    # message 6 has no Date header: no SENT* key matches it
    assert search(r, "NOT SENTBEFORE 1-Jan-2100") == [6]


def test_header_keys(searcher):
    r = searcher
    assert search(r, "FROM alice") == [1]
    assert search(r, "FROM \"EXAMPLE.ORG\"") == [1]
    assert search(r, "TO team@") == [2]
    assert search(r, "CC carol.copy") == [3]
    assert search(r, "BCC dave") == [4]
    assert search(r, "SUBJECT report") == [1]
    assert search(r, "HEADER X-Spam-Flag yes") == [5]
    assert search(r, "HEADER X-Spam-Flag \"\"") == [5]
    assert search(r, "HEADER Message-ID \"\"") == [1]
    assert search(r, "SUBJECT nonexistent") == []


def literal_search(r, prefix, word, uid=False):
    """SEARCH with a synchronizing literal for the last argument."""
    data = word.encode()
    tag = "L%d" % next(_tags)
    r.send("%s %sSEARCH %s {%d}\r\n" % (tag, "UID " if uid else "", prefix, len(data)))
    cont = r.line()
    assert cont.startswith("+"), cont
    r.send(data + b"\r\n")
    lines = r.until_tagged(tag)
    assert lines[-1].startswith(tag + " OK"), lines
    hits = [ln for ln in lines if ln.startswith("* SEARCH")]
    return [int(x) for x in hits[0].split()[2:]]


def test_encoded_words_and_charset_literal(searcher):
    r = searcher
    # decoded encoded words, case-folded: Grüße / GRÜSSE is not folding (ß)
    assert literal_search(r, "CHARSET UTF-8 SUBJECT", "grüße") == [2]
    assert literal_search(r, "CHARSET UTF-8 SUBJECT", "MÜNCHEN") == [2]
    assert literal_search(r, "CHARSET UTF-8 FROM", "Müller") == [2]
    assert literal_search(r, "CHARSET US-ASCII FROM", "jm@example") == [2]
    # LITERAL+ form
    data = "müller".encode()
    r.send(b"P1 SEARCH CHARSET UTF-8 TEXT {%d+}\r\n%s\r\n" % (len(data), data))
    lines = r.until_tagged("P1")
    assert lines[-1].startswith("P1 OK"), lines
    assert lines[-2] == "* SEARCH 2 3"


def test_body_decoding(searcher):
    r = searcher
    assert literal_search(r, "CHARSET UTF-8 BODY", "Herrn Müller") == [3]
    assert literal_search(r, "CHARSET UTF-8 BODY", "пароль") == [4]
    assert literal_search(r, "CHARSET UTF-8 BODY", "ΕΛΛΗΝΙΚ") == [5]
    assert literal_search(r, "CHARSET UTF-8 BODY", "ελληνικά") == [5]
    assert search(r, "BODY swordfish") == [4]
    assert search(r, "BODY budget") == [1]
    assert search(r, "BODY Servus") == [2]
    # TEXT also looks at the header; BODY does not
    assert literal_search(r, "CHARSET UTF-8 BODY", "Jürgen") == []
    assert literal_search(r, "CHARSET UTF-8 TEXT", "Jürgen") == [2]
    assert search(r, "TEXT unsubscribe") == [5]
    assert search(r, "BODY \"not anywhere at all\"") == []


def test_combinations(searcher):
    r = searcher
    assert search(r, "OR SEEN FLAGGED") == [1, 2]
    assert search(r, "NOT SEEN") == [2, 3, 4, 5, 6]
    assert search(r, "OR (SEEN FROM alice) (FLAGGED SUBJECT nothing)") == [1]
    assert search(r, "NOT (OR SEEN FLAGGED)") == [3, 4, 5, 6]
    assert search(r, "OR OR FROM carol TO team BCC dave") == [2, 3, 4]
    assert search(r, "UNDELETED NOT BODY budget LARGER 100") == [2, 3, 4]
    assert search(r, "(OR BODY swordfish BODY Servus) UNDRAFT") == [2]
    assert search(r, "NOT NOT NOT ALL") == []


def test_sequence_sets(searcher):
    r = searcher
    assert search(r, "1") == [1]
    assert search(r, "5:*") == [5, 6]
    assert search(r, "*:4") == [4, 5, 6]
    assert search(r, "*") == [6]
    assert search(r, "2,4:3,6") == [2, 3, 4, 6]
    assert search(r, "9:*") == [6]
    assert search(r, "1:3 UNSEEN") == [2, 3]
    assert search(r, "NOT 2:5") == [1, 6]


def test_uid_search(searcher):
    r = searcher
    uids = search(r, "ALL", uid=True)
    assert len(uids) == 6 and uids == sorted(uids)
    assert search(r, "SEEN", uid=True) == [uids[0]]
    assert search(r, "UID %d:*" % uids[4], uid=True) == uids[4:]
    assert search(r, "UID *", uid=True) == [uids[5]]
    assert search(r, "UID %d,%d" % (uids[1], uids[3])) == [2, 4]
    assert search(r, "2:3", uid=True) == uids[1:3]
    assert search(r, "UID 99999:*", uid=True) == [uids[5]]
    assert literal_search(r, "CHARSET UTF-8 BODY", "пароль", uid=True) == [uids[3]]


def test_errors_and_session_survives(searcher):
    r = searcher
    _, t = r.cmd("E1", "SEARCH CHARSET KOI8-R ALL")
    assert t == "E1 NO [BADCHARSET (UTF-8 US-ASCII)] Unsupported charset; use UTF-8 or US-ASCII"
    _, t = r.cmd("E2", "SEARCH FOO")
    assert t == "E2 BAD Unknown search key: FOO"
    _, t = r.cmd("E3", "SEARCH SUBJECT")
    assert t == "E3 BAD Missing argument for search key: SUBJECT"
    _, t = r.cmd("E4", "SEARCH BEFORE 2026-02-01")
    assert t == "E4 BAD Invalid date (want d-Mon-yyyy, e.g. 1-Feb-2026) for: BEFORE"
    _, t = r.cmd("E5", "SEARCH")
    assert t == "E5 BAD Empty search program"
    _, t = r.cmd("E6", "SEARCH " + "NOT " * 5000 + "ALL")
    assert t == "E6 BAD Search program nested too deeply (limit 64)"
    _, t = r.cmd("E7", "SEARCH " + "OR ALL " * 3000 + "ALL")
    assert t == "E7 BAD Search program nested too deeply (limit 64)"
    _, t = r.cmd("E8", "SEARCH LARGER abc")
    assert t == "E8 BAD Invalid number for: LARGER"
    _, t = r.cmd("E9", "SEARCH UID 1:x")
    assert t == "E9 BAD Invalid sequence set in search: 1:x"
    # still alive and answering
    assert search(r, "SEEN") == [1]


def test_not_selected(imap_instance):
    r = Raw(imap_instance)
    user, _ = mailbox_user(imap_instance, MESSAGES[:1])
    r.login(user)
    _, t = r.cmd("N1", "SEARCH ALL")
    assert t.startswith("N1 BAD"), t
    _, t = r.cmd("N2", "NOOP")
    assert t.startswith("N2 OK"), t
    r.close()


def test_no_expunge_during_search(imap_instance):
    """Another session expunges message 5 (\\Deleted): SEARCH must not
    report it (RFC 3501 7.4.1), UID SEARCH and NOOP may."""
    user, _ = mailbox_user(imap_instance)
    a, b = Raw(imap_instance), Raw(imap_instance)
    a.login(user)
    b.login(user)
    _, t = a.cmd("A1", "SELECT INBOX")
    assert t.startswith("A1 OK")
    _, t = b.cmd("B1", "SELECT INBOX")
    assert t.startswith("B1 OK")
    untagged, t = b.cmd("B2", "EXPUNGE")
    assert t.startswith("B2 OK"), t
    assert "* 5 EXPUNGE" in untagged
    untagged, t = a.cmd("A2", "SEARCH ALL")
    assert t.startswith("A2 OK"), t
    assert not [ln for ln in untagged if ln.endswith("EXPUNGE")], untagged
    # message 5 is gone from the store: not reported as a match
    assert "* SEARCH 1 2 3 4 6" in untagged
    untagged, t = a.cmd("A3", "NOOP")
    assert "* 5 EXPUNGE" in untagged, untagged
    a.close()
    b.close()


def test_big_mailbox_body_search_yields(imap_instance):
    """450 messages need three slices of file reads; the answer is whole,
    and a second session is served while the first searches."""
    msgs = []
    for i in range(450):
        body = "line %d of filler text\r\n" % i * 40
        if i in (7, 222, 449):
            body += "the hidden needle zanzibar\r\n"
        msgs.append(("S", 1770000000 + i, "cur",
                      "From: x%d@example.org\r\nSubject: msg %d\r\n\r\n%s" % (i, i, body)))
    user, _ = mailbox_user(imap_instance, msgs)
    a = Raw(imap_instance)
    a.login(user)
    _, t = a.cmd("A1", "SELECT INBOX")
    assert t.startswith("A1 OK"), t
    other = Raw(imap_instance)
    a.send("A2 SEARCH BODY zanzibar\r\n")
    _, t = other.cmd("O1", "NOOP")
    assert t.startswith("O1 OK"), t
    lines = a.until_tagged("A2")
    assert lines[-1].startswith("A2 OK"), lines
    assert "* SEARCH 8 223 450" in lines
    assert search(a, "SEEN BODY zanzibar", uid=False) == [8, 223, 450]
    assert search(a, "UNSEEN BODY zanzibar") == []
    a.close()
    other.close()


def test_mbox_mailbox(imap_instance):
    """In an mbox the messages sit at offsets inside one file: header and
    body keys read the right bytes (parsed in place at the message's
    offset), FETCH BODY[] sends exactly the 2nd and 3rd message's bytes,
    and the messages are numbered in the file's order."""
    local = "mb%d" % next(_users)
    mail_root = os.path.join(imap_instance.dir, "mail")
    st = os.stat(mail_root)
    folder = os.path.join(mail_root, "mbox-" + local)
    os.makedirs(folder)
    inbox = os.path.join(folder, "inbox")
    messages = []
    with open(inbox, "w", newline="", encoding="utf-8") as f:
        for i, (subject, body) in enumerate((("first", "apple pie\n"),
                                              ("second", "Herr Müller\n"),
                                              ("third", "banana split\n"))):
            messages.append("From: sender@example.org\nSubject: %s\n"
                            "Content-Type: text/plain; charset=utf-8\n\n%s" % (subject, body))
            f.write("From sender@example.org Wed Nov 25 10:00:0%d 2026\n%s\n" % (i, messages[-1]))
    for p in (folder, inbox):
        os.chown(p, st.st_uid, st.st_gid)
    user = "%s@%s" % (local, DOMAIN)
    r = imap_instance.run("user", "add", user, "--password-stdin", "--mail",
                          "mbox:%s:INBOX=%s" % (folder, inbox), input="correct horse battery\n")
    assert r.returncode == 0, r.stderr
    c = Raw(imap_instance)
    c.login(user)
    untagged, t = c.cmd("M1", "SELECT INBOX")
    assert t.startswith("M1 OK"), t
    assert "* 3 EXISTS" in untagged
    # numbered in the file's order (RFC 3501 2.3.1.1; mutt's order too)
    first, second, third = (search(c, "SUBJECT " + w) for w in ("first", "second", "third"))
    assert (first, second, third) == ([1], [2], [3])
    assert search(c, "BODY banana") == third
    assert search(c, "BODY apple") == first
    assert literal_search(c, "CHARSET UTF-8 BODY", "müller") == second
    assert search(c, "FROM sender@example.org") == [1, 2, 3]
    assert search(c, "OR SUBJECT first BODY split") == sorted(first + third)
    assert search(c, "HEADER Subject third") == third
    c.close()
    # FETCH: each message's bytes exactly, none of its neighbour's
    im = login(imap_instance, user, "correct horse battery")
    im.select("INBOX", readonly=True)
    for seq in (2, 3, 1):
        typ, data = im.fetch(str(seq), "(BODY.PEEK[] BODY.PEEK[TEXT] RFC822.SIZE)")
        assert typ == "OK", data
        want = messages[seq - 1].replace("\n", "\r\n").encode()
        assert data[0][1] == want, (seq, data)
        assert data[1][1] == want.split(b"\r\n\r\n", 1)[1], (seq, data)
        assert b"RFC822.SIZE %d" % len(want) in data[1][0] + data[2], (seq, data)
    im.logout()
