"""test_imap_sync.py - what the selected mailbox's sync tells the client
(imap/imap-sync.c) and what CAPABILITY promises, over the wire:

- a STORE that adds a keyword new to the mailbox announces it with FLAGS
  and PERMANENTFLAGS before the FETCH showing it, exactly once, and a
  second session with the mailbox selected gets the new FLAGS too
  (RFC 3501 7.2.6);
- \\Recent for mail arriving while a mailbox is selected belongs to that
  session only: a session opening the mailbox later does not see it
  (RFC 3501 2.3.2);
- the advertised CREATE-SPECIAL-USE (RFC 6154 3) and STATUS=SIZE
  (RFC 8438) work as advertised.

Raw clients (imap_helpers.Raw) so the order of the untagged lines can be
checked.
"""
import re
import time

from imap_helpers import (PASSWORD, Raw, deliver, fresh_user, imap_instance, message,  # noqa: F401
                          set_maildir_flags)

SYSTEM = "\\Answered \\Flagged \\Deleted \\Seen \\Draft"


def session(inst, user, mailbox="INBOX"):
    r = Raw(inst)
    r.login(user, PASSWORD)
    untagged, tagged = r.cmd("s", "SELECT " + mailbox)
    assert tagged.startswith("s OK [READ-WRITE]"), tagged
    return r, untagged


def test_store_new_keyword_announced(imap_instance):
    user = fresh_user(imap_instance, "kw")
    for i in range(2):
        deliver(imap_instance, user, message("kw %d" % i))
    a, _ = session(imap_instance, user)
    b, _ = session(imap_instance, user)

    untagged, tagged = a.cmd("k1", "STORE 1 +FLAGS (newkw)")
    assert tagged == "k1 OK STORE completed", tagged
    flags = "* FLAGS (%s newkw)" % SYSTEM
    perm = "* OK [PERMANENTFLAGS (%s newkw \\*)] Flags permitted." % SYSTEM
    assert untagged.count(flags) == 1, untagged
    assert untagged.count(perm) == 1, untagged
    fetch = [i for i, line in enumerate(untagged) if " FETCH " in line]
    assert len(fetch) == 1, untagged
    assert untagged.index(flags) < untagged.index(perm) < fetch[0], untagged
    # the STORE's own reply: no UID without UID STORE (RFC 3501 6.4.8)
    assert untagged[fetch[0]] == "* 1 FETCH (FLAGS (\\Recent newkw))", untagged

    # known now: a second STORE with it announces nothing
    untagged, tagged = a.cmd("k2", "STORE 2 +FLAGS (newkw)")
    assert tagged == "k2 OK STORE completed", tagged
    assert untagged == ["* 2 FETCH (FLAGS (\\Recent newkw))"], untagged

    # .SILENT with another new keyword: FLAGS still, no FETCH
    untagged, tagged = a.cmd("k3", "STORE 1 +FLAGS.SILENT (other)")
    assert tagged == "k3 OK STORE completed", tagged
    assert untagged == ["* FLAGS (%s newkw other)" % SYSTEM,
                        "* OK [PERMANENTFLAGS (%s newkw other \\*)] Flags permitted." % SYSTEM], untagged

    # the other session: new FLAGS before the FETCHes that use them
    untagged, tagged = b.cmd("n", "NOOP")
    assert tagged == "n OK NOOP completed.", tagged
    flags_lines = [line for line in untagged if line.startswith("* FLAGS ")]
    assert flags_lines == ["* FLAGS (%s newkw other)" % SYSTEM], untagged
    assert untagged[0] == "* FLAGS (%s newkw other)" % SYSTEM, untagged
    assert "* 1 FETCH (UID 1 FLAGS (newkw other))" in untagged, untagged
    assert "* 2 FETCH (UID 2 FLAGS (newkw))" in untagged, untagged
    a.close()
    b.close()


# ---- CAPABILITY: what is advertised works --------------------------------

def test_create_special_use_and_status_size_advertised(imap_instance):
    user = fresh_user(imap_instance, "cap")
    for i in range(3):
        deliver(imap_instance, user, message("size %d" % i, body="x" * (100 * i) + "\r\n"))
    r = Raw(imap_instance)
    r.login(user, PASSWORD)
    caps = r.cmd("c", "CAPABILITY")[0][0].split()
    for cap in ("CREATE-SPECIAL-USE", "STATUS=SIZE", "SPECIAL-USE", "LIST-EXTENDED"):
        assert cap in caps, caps

    # RFC 6154 3: CREATE with a USE list; the attribute shows in LIST
    assert r.cmd("c1", "CREATE Outbox (USE (\\Sent))")[1] == "c1 OK Create completed."
    untagged, tagged = r.cmd("c2", 'LIST "" Outbox')
    assert tagged.startswith("c2 OK"), tagged
    assert untagged == ['* LIST (\\HasNoChildren \\Sent) "/" "Outbox"'], untagged
    untagged, tagged = r.cmd("c3", 'LIST (SPECIAL-USE) "" "*"')
    assert '* LIST (\\HasNoChildren \\Sent) "/" "Outbox"' in untagged, untagged
    # an attribute the server does not know: NO [USEATTR], nothing created
    untagged, tagged = r.cmd("c4", "CREATE Odd (USE (\\Bogus))")
    assert tagged.startswith("c4 NO [USEATTR] "), tagged
    assert r.cmd("c5", 'LIST "" Odd')[0] == []

    # RFC 8438: SIZE is the sum of the messages' RFC822.SIZE
    untagged, tagged = r.cmd("s1", "EXAMINE INBOX")
    untagged, tagged = r.cmd("s2", "FETCH 1:* RFC822.SIZE")
    sizes = [int(m.group(1)) for m in (re.search(r"RFC822\.SIZE (\d+)", x) for x in untagged) if m]
    assert len(sizes) == 3, untagged
    untagged, tagged = r.cmd("s3", "STATUS Outbox (SIZE MESSAGES)")
    assert untagged == ['* STATUS "Outbox" (SIZE 0 MESSAGES 0)'], untagged
    untagged, tagged = r.cmd("s4", "STATUS INBOX (MESSAGES SIZE)")
    assert tagged.startswith("s4 OK"), tagged
    assert untagged == ['* STATUS "INBOX" (MESSAGES 3 SIZE %d)' % sum(sizes)], untagged
    r.close()


# ---- \Recent goes to one session (RFC 3501 2.3.2) --------------------------

def test_recent_arriving_while_selected_is_one_sessions(imap_instance):
    user = fresh_user(imap_instance, "rec")
    deliver(imap_instance, user, message("before"))
    a, untagged = session(imap_instance, user)
    assert "* 1 RECENT" in untagged, untagged      # A took the first one at SELECT

    deliver(imap_instance, user, message("while selected"))
    untagged, tagged = a.cmd("n1", "NOOP")
    assert untagged == ["* 2 EXISTS", "* 2 RECENT"], untagged
    untagged, _ = a.cmd("f1", "FETCH 1:2 FLAGS")
    assert untagged == ["* 1 FETCH (FLAGS (\\Recent))", "* 2 FETCH (FLAGS (\\Recent))"], untagged

    # a session opening the mailbox later is not told again
    b, untagged = session(imap_instance, user)
    assert "* 0 RECENT" in untagged, untagged
    untagged, _ = b.cmd("f2", "FETCH 1:2 FLAGS")
    assert untagged == ["* 1 FETCH (FLAGS ())", "* 2 FETCH (FLAGS ())"], untagged
    c = Raw(imap_instance)
    c.login(user, PASSWORD)
    assert c.cmd("st", "STATUS INBOX (RECENT)")[0] == ['* STATUS "INBOX" (RECENT 0)']

    # mail arriving while both have it selected: the first to report it
    # holds it, the other sees it without \Recent
    deliver(imap_instance, user, message("both selected"))
    untagged, _ = b.cmd("n2", "NOOP")
    assert untagged == ["* 3 EXISTS", "* 1 RECENT"], untagged
    untagged, _ = a.cmd("n3", "NOOP")
    assert untagged == ["* 3 EXISTS", "* 2 RECENT"], untagged
    assert b.cmd("f3", "FETCH 3 FLAGS")[0] == ["* 3 FETCH (FLAGS (\\Recent))"]
    assert a.cmd("f4", "FETCH 3 FLAGS")[0] == ["* 3 FETCH (FLAGS ())"]
    # EXAMINE never takes \Recent, nor does it get it for new mail
    e = Raw(imap_instance)
    e.login(user, PASSWORD)
    assert e.cmd("x", "EXAMINE INBOX")[1].startswith("x OK [READ-ONLY]")
    deliver(imap_instance, user, message("examined"))
    assert e.cmd("n4", "NOOP")[0] == ["* 4 EXISTS", "* 0 RECENT"]
    untagged, _ = a.cmd("n5", "NOOP")
    assert untagged == ["* 4 EXISTS", "* 3 RECENT"], untagged
    for r in (a, b, c, e):
        r.close()


def test_reselect_same_mailbox_sees_every_change(imap_instance):
    """A re-SELECT of the selected mailbox keeps the store's mailbox and
    its change notification (imap-sync.c, parked mailbox): what other
    sessions, deliveries and other programs did in between shows, \\Recent
    is taken again as on a fresh open, EXAMINE after SELECT is read-only
    and another mailbox in between drops the parked one."""
    user = fresh_user(imap_instance, "resel")
    for i in range(3):
        deliver(imap_instance, user, message("r %d" % i))
    a, untagged = session(imap_instance, user)
    assert "* 3 EXISTS" in untagged and "* 3 RECENT" in untagged, untagged
    b, _ = session(imap_instance, user)
    assert b.cmd("b1", "STORE 1 +FLAGS (\\Seen)")[1].startswith("b1 OK")
    deliver(imap_instance, user, message("r 3"))
    # another program marks message 2 read by renaming its file
    set_maildir_flags(imap_instance, user, 2, "S")
    untagged, tagged = a.cmd("s2", "SELECT INBOX")
    assert tagged.startswith("s2 OK [READ-WRITE]"), tagged
    assert "* 4 EXISTS" in untagged, untagged
    # UID 4 arrived after b's open took \Recent for 1-3: a's again now
    assert "* 1 RECENT" in untagged, untagged
    assert "* OK [UNSEEN 3] First unseen." in untagged, untagged
    untagged, tagged = a.cmd("f", "FETCH 1:4 (FLAGS)")
    assert tagged.startswith("f OK"), tagged
    flags = {int(m.group(1)): m.group(2) for m in
             (re.match(r"\* (\d+) FETCH \(FLAGS \((.*)\)\)", ln) for ln in untagged) if m}
    assert "\\Seen" in flags[1] and "\\Seen" in flags[2], flags
    assert "\\Seen" not in flags[3] and "\\Seen" not in flags[4], flags
    untagged, tagged = a.cmd("u", "SEARCH UNSEEN")
    assert "* SEARCH 3 4" in untagged, untagged
    # a change while it is selected still arrives after the re-SELECT
    assert b.cmd("b2", "STORE 3 +FLAGS (\\Seen)")[1].startswith("b2 OK")
    deadline = time.time() + 5
    seen = False
    while time.time() < deadline and not seen:
        untagged, _ = a.cmd("n", "NOOP")
        seen = any(ln.startswith("* 3 FETCH") and "\\Seen" in ln for ln in untagged)
        time.sleep(0.05)
    assert seen, untagged
    untagged, tagged = a.cmd("e", "EXAMINE INBOX")
    assert tagged.startswith("e OK [READ-ONLY]"), tagged
    untagged, tagged = a.cmd("x", "STORE 4 +FLAGS (\\Seen)")
    assert tagged.startswith("x NO") or tagged.startswith("x BAD"), tagged
    untagged, tagged = a.cmd("s3", "SELECT INBOX")
    assert tagged.startswith("s3 OK [READ-WRITE]"), tagged
    assert "* 0 RECENT" in untagged, untagged
    untagged, tagged = a.cmd("s4", "SELECT Nonexistent")
    assert tagged.startswith("s4 NO"), tagged
    untagged, tagged = a.cmd("s5", "SELECT INBOX")
    assert tagged.startswith("s5 OK [READ-WRITE]"), tagged
    assert "* 4 EXISTS" in untagged, untagged
    a.cmd("l", "LOGOUT")
    b.cmd("l", "LOGOUT")
