"""test_smtp_open_relay.py - the open-relay battery over the wire (issue
"SMTP server": at least 20 known tricks, sent by an unauthenticated client
from outside mynetworks, relay nothing).

The client is 127.0.0.1 and mynetworks is set to a network it is not in.
local_recipient_maps is emptied so that every local address is accepted:
that is the hardest case, since a trick that is mis-parsed as local would
then be queued. A trick passes when its RCPT is refused, or when it is
accepted and the queued envelope recipient is a plain address in a local
domain (the message would be delivered here, not relayed). The rules are
also tested one by one in tests/unit/test_restrict_relay.c.
"""
import re

import pytest

from smtp_helpers import Client, module_instance, parse_queue_file, queued_id, read_queue_file

LOCAL_DOMAINS = ("mail.example.test", "localhost.example.test", "localhost")
VICTIM = "victim@elsewhere.example"

TRICKS = [
    "victim@elsewhere.example",                      # plain relay attempt
    "VICTIM@ELSEWHERE.EXAMPLE",                      # case
    "victim@elsewhere.example.",                     # trailing dot
    "victim%elsewhere.example@mail.example.test",    # percent hack
    "victim%elsewhere.example@[127.0.0.1]",          # percent hack + IP literal
    "elsewhere.example!victim@mail.example.test",    # bang path
    "elsewhere.example!victim",                      # bare bang path
    "@mail.example.test:victim@elsewhere.example",   # source route
    "@mail.example.test,@x.example:victim@elsewhere.example",  # two-hop route
    '"victim@elsewhere.example"@mail.example.test',  # quoted local part with @
    '"victim%elsewhere.example"@mail.example.test',  # quoted percent
    '"victim@elsewhere.example"',                    # quoted, no domain
    "victim@elsewhere.example@mail.example.test",    # two @
    "victim@[192.0.2.1]",                            # foreign IP literal
    "victim@[IPv6:2001:db8::1]",                     # foreign IPv6 literal
    "victim@[127.0.0.1]",                            # our own IP literal
    "victim@mail.example.test@elsewhere.example",    # local first, foreign last
    "victim%elsewhere.example%mail.example.test@mail.example.test",  # double percent
    "victim@elsewhere.example%mail.example.test",    # percent in the domain
    "victim@mail.example.test.elsewhere.example",    # local as a prefix
    "victim@elsewhere.example\\@mail.example.test",  # backslash-escaped @
    "victim@elsewhere.example (mail.example.test)",  # comment
    "victim@elsewhere.example>,<local@mail.example.test",  # path injection
    "victim@ELSEWHERE.example.:25",                  # port suffix
]


@pytest.fixture(scope="module")
def smtp():
    yield from module_instance(params=("mynetworks=192.0.2.0/24", "local_recipient_maps="))


def local_plain(rcpt):
    local, sep, domain = rcpt.rpartition("@")
    return (sep == "@" and domain.lower() in LOCAL_DOMAINS
            and not re.search(r'[%!@:"\\\[\]]', local))


@pytest.mark.parametrize("trick", TRICKS)
def test_trick_relays_nothing(smtp, trick):
    c = Client(smtp.ports["mx"])
    c.cmd("EHLO attacker.example")
    assert c.cmd("MAIL FROM:<spammer@attacker.example>") == "250 2.1.0 Ok"
    r = c.cmd("RCPT TO:<%s>" % trick)
    if not r.startswith("250"):
        assert r[:1] in "45", (trick, r)
        c.cmd("QUIT")
        return
    # Accepted: it must be a local delivery, never one for elsewhere.
    assert c.cmd("DATA").startswith("354")
    c.send("Subject: relay test\r\n\r\nhello\r\n.\r\n")
    qid = queued_id(c.reply())
    c.cmd("QUIT")
    records, _ = parse_queue_file(read_queue_file(smtp, qid))
    rcpts = [v.decode() for n, v in records if n == "rcpt"]
    assert rcpts, records
    for rcpt in rcpts:
        assert local_plain(rcpt), (trick, rcpt)
        assert "elsewhere" not in rcpt.lower(), (trick, rcpt)
