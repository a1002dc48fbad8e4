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

from imap_helpers import PASSWORD, Raw, deliver, fresh_user, imap_instance, message  # noqa: F401

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
