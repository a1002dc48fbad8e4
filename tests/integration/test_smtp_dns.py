"""test_smtp_dns.py - the DNS-driven SMTP restrictions on the wire, through
the test DNS server (tests/dns_server.py) that posternd reaches with
dns_nameservers: reject_rbl_client (with and without a result filter),
reject_rhsbl_{client,reverse_client,sender,helo,recipient}, permit_dnswl_client,
reject_unknown_{client,reverse_client}_hostname, reject_unknown_{sender,
recipient}_domain (no records, NXDOMAIN, null MX, SERVFAIL, timeout),
reject_unknown_helo_hostname, and the client name look-up
(smtpd_peername_lookup), check_*_{a,mx,ns}_access and rbl_reply_maps.
Every reply is compared with Postfix's wording
(postconf(5) default_rbl_reply, smtpd_check.c texts as Postfix logs them).

One posternd serves the file. Each test picks the rule under test by its
HELO name: smtpd_relay_restrictions starts with check_helo_access, whose
inline table maps a HELO domain to a restriction class holding that rule.
The client address is chosen per test by binding the client socket to a
127.0.0.0/8 address (all loopback on Linux), so RBL and PTR look-ups see
a different address for each case.
"""
import socket

import pytest

from dns_server import DNSServer
from harness import TIMEOUT
from smtp_helpers import Client, module_instance

CLASSES = {
    "c_rbl": "reject_rbl_client zen.example",
    "c_rblf": "reject_rbl_client zenf.example=127.0.0.[2..3]",
    "c_rhsc": "reject_rhsbl_client dbl.example",
    "c_rhsrc": "reject_rhsbl_reverse_client dbl.example",
    "c_rhss": "reject_rhsbl_sender dbl.example",
    "c_rhsh": "reject_rhsbl_helo dbl.example",
    "c_rhsr": "reject_rhsbl_recipient dbl.example",
    "c_wl": "permit_dnswl_client wl.example, reject",
    "c_unkc": "reject_unknown_client_hostname",
    "c_unkrc": "reject_unknown_reverse_client_hostname",
    "c_unks": "reject_unknown_sender_domain",
    "c_unkr": "reject_unknown_recipient_domain",
    "c_unkh": "reject_unknown_helo_hostname",
    "c_smx": "check_sender_mx_access texthash:{dir}/server",
    "c_sns": "check_sender_ns_access texthash:{dir}/server",
    "c_sa": "check_sender_a_access texthash:{dir}/server",
    "c_ha": "check_helo_a_access texthash:{dir}/server",
    "c_rmx": "check_recipient_mx_access texthash:{dir}/server",
    "c_cmx": "check_client_mx_access texthash:{dir}/server",
    "c_rbl2": "reject_rbl_client zen2.example",
    "c_rbl3": "reject_rbl_client zen3.example",
}
SERVER_TABLE = """mx.badhost.example   REJECT bad mail host
192.0.2.66           REJECT bad mail address
ns.badns.example     REJECT bad name server
192.0.2.77           REJECT bad helo address
mx.ok.example        OK
"""
RBL_REPLIES = """zen2.example  $rbl_code Go away $client_address; see ${rbl_reason?{$rbl_reason}:{no reason}}
zen3.example  450 4.7.1 Try later, $rbl_class [$rbl_what] listed (${sender_domain})
"""
SELECT = {"rbl.sel": "c_rbl", "rblf.sel": "c_rblf", "rhsc.sel": "c_rhsc",
          "rhsrc.sel": "c_rhsrc", "rhss.sel": "c_rhss", "rhsh.sel": "c_rhsh", "rhsr.sel": "c_rhsr",
          "wl.sel": "c_wl", "unkc.sel": "c_unkc", "unkrc.sel": "c_unkrc",
          "unks.sel": "c_unks", "unkr.sel": "c_unkr", "unkh.sel": "c_unkh",
          "smx.sel": "c_smx", "sns.sel": "c_sns", "sa.sel": "c_sa", "ha.sel": "c_ha",
          "rmx.sel": "c_rmx", "cmx.sel": "c_cmx", "rbl2.sel": "c_rbl2", "rbl3.sel": "c_rbl3"}
LOCAL = "user@mail.example.test"


@pytest.fixture(scope="module")
def dns():
    s = DNSServer()
    z = s.add
    # reject_rbl_client: 127.0.0.2 listed with a reason, 127.0.0.3 not listed
    z("2.0.0.127.zen.example", "A", "127.0.0.2")
    z("2.0.0.127.zen.example", "TXT", "Listed, see https://zen.example/q/127.0.0.2")
    # result filter =127.0.0.[2..3]: .4 answers 127.0.0.10 (filtered out), .5 answers .3
    z("4.0.0.127.zenf.example", "A", "127.0.0.10")
    z("5.0.0.127.zenf.example", "A", "127.0.0.3")
    # forward-confirmed name (rhsbl_client), unconfirmed PTR (rhsbl_reverse_client)
    z("6.0.0.127.in-addr.arpa", "PTR", "host6.bad.example")
    z("host6.bad.example", "A", "127.0.0.6")
    z("host6.bad.example.dbl.example", "A", "127.0.1.2")
    z("7.0.0.127.in-addr.arpa", "PTR", "host7.bad.example")
    z("host7.bad.example.dbl.example", "A", "127.0.1.2")
    z("host7.bad.example.dbl.example", "TXT", "bad host")
    z("spam.example.dbl.example", "A", "127.0.1.2")
    z("spam.example", "MX", "10 mx.spam.example")
    z("x.rhsh.sel.dbl.example", "A", "127.0.1.2")
    # permit_dnswl_client
    z("8.0.0.127.wl.example", "A", "127.0.10.1")
    # client names: .10 no PTR, .11 PTR not confirmed, .12 PTR SERVFAIL
    z("11.0.0.127.in-addr.arpa", "PTR", "h11.example")
    z("h11.example", "A", "192.0.2.99")
    s.servfail("12.0.0.127.in-addr.arpa")
    z("13.0.0.127.in-addr.arpa", "PTR", "h13.example")
    z("h13.example", "A", "127.0.0.13")
    # domains
    z("ok.example", "MX", (10, "mx.ok.example"))
    z("aonly.example", "A", "192.0.2.7")
    z("txtonly.example", "TXT", "v=spf1 -all")
    z("nullmx.example", "MX", (0, "."))
    s.servfail("broken.example")
    s.timeout("slow.example")
    z("y.unkh.sel", "A", "192.0.2.8")
    # a long TXT reason (over 512 bytes: truncated over UDP, fetched over TCP)
    z("9.0.0.127.zen.example", "A", "127.0.0.2")
    for i in range(6):
        z("9.0.0.127.zen.example", "TXT", "reason %d %s" % (i, "r" * 100))
    s.timeout("14.0.0.127.zen.example")
    # check_*_{a,mx,ns}_access
    z("badhost.example", "MX", (10, "mx.badhost.example"))
    z("viaip.example", "MX", (10, "mx.viaip.example"))
    z("mx.viaip.example", "A", "192.0.2.66")
    z("noMX.example", "A", "192.0.2.66")
    z("badns.example", "NS", "ns.badns.example")
    z("sub.badns.example", "A", "192.0.2.5")
    z("x.ha.sel", "A", "192.0.2.77")
    z("tempmx.example", "A", "192.0.2.5")
    s.servfail("tempmx.example", "MX")
    z("h13.example", "MX", (10, "mx.badhost.example"))
    # rbl_reply_maps
    z("2.0.0.127.zen2.example", "A", "127.0.0.2")
    z("2.0.0.127.zen3.example", "A", "127.0.0.2")
    yield s
    s.stop()


@pytest.fixture(scope="module")
def smtp(dns):
    table = ", ".join("%s=%s" % kv for kv in SELECT.items())
    params = [
        "mynetworks=192.0.2.0/24", "local_recipient_maps=",
        "dns_nameservers=" + dns.nameservers, "dns_timeout=1s", "dns_tries=1",
        "unknown_client_reject_code=550",
        "smtpd_restriction_classes=" + " ".join(CLASSES),
        "smtpd_relay_restrictions=check_helo_access inline:{ %s }, permit_mynetworks, "
        "reject_unauth_destination" % table,
    ]
    params.append("rbl_reply_maps=texthash:{dir}/rbl_replies")
    conf = "".join("%s = %s\n" % kv for kv in CLASSES.items())
    yield from module_instance(params=params, extra_conf=conf,
                               files={"server": SERVER_TABLE, "rbl_replies": RBL_REPLIES})


def connect(smtp, source):
    """A client whose address is source (any 127.0.0.0/8 address)."""
    c = Client.__new__(Client)
    c.sock = socket.create_connection(("127.0.0.1", smtp.ports["mx"]), timeout=TIMEOUT,
                                      source_address=(source, 0))
    c.buf = b""
    c.greeting = c.reply()
    assert c.greeting.startswith("220 "), c.greeting
    return c


def rcpt(smtp, source, helo, sender="a@ok.example", rcpt=LOCAL):
    c = connect(smtp, source)
    assert c.cmd("EHLO " + helo).startswith("250")
    r = c.cmd("MAIL FROM:<%s>" % sender)
    assert r == "250 2.1.0 Ok", r
    r = c.cmd("RCPT TO:<%s>" % rcpt)
    c.cmd("QUIT")
    c.close()
    return r


def test_rbl_client_listed_with_reason(smtp, dns):
    r = rcpt(smtp, "127.0.0.2", "rbl.sel")
    assert r == ("554 5.7.1 Service unavailable; Client host [127.0.0.2] blocked using "
                 "zen.example; Listed, see https://zen.example/q/127.0.0.2")
    smtp.wait_log("NOQUEUE: reject: RCPT from unknown[127.0.0.2]: %s; from=<a@ok.example> "
                  "to=<%s> proto=ESMTP helo=<rbl.sel>" % (r, LOCAL))
    assert dns.asked("2.0.0.127.zen.example", "A") >= 1
    assert rcpt(smtp, "127.0.0.3", "rbl.sel") == "250 2.1.5 Ok"


def test_rbl_client_result_filter(smtp):
    # listed, but with a result outside the filter: not blocked
    assert rcpt(smtp, "127.0.0.4", "rblf.sel") == "250 2.1.5 Ok"
    # inside the filter, no TXT record: no "; reason" part
    assert rcpt(smtp, "127.0.0.5", "rblf.sel") == (
        "554 5.7.1 Service unavailable; Client host [127.0.0.5] blocked using zenf.example")


def test_rbl_long_reason_comes_over_tcp(smtp, dns):
    r = rcpt(smtp, "127.0.0.9", "rbl.sel")
    assert r.startswith("554 5.7.1 Service unavailable; Client host [127.0.0.9] blocked "
                        "using zen.example; reason "), r
    assert len(r) <= 512
    assert any(q == ("9.0.0.127.zen.example", "TXT", "tcp") for q in dns.queries)


def test_rbl_timeout_is_not_listed(smtp):
    # Postfix gives the client the benefit of the doubt on DNSBL failures
    assert rcpt(smtp, "127.0.0.14", "rbl.sel") == "250 2.1.5 Ok"


def test_rhsbl_client_and_reverse_client(smtp):
    r = rcpt(smtp, "127.0.0.6", "rhsc.sel")
    assert r == ("554 5.7.1 Service unavailable; Client host [host6.bad.example] blocked "
                 "using dbl.example")
    smtp.wait_log("connect from host6.bad.example[127.0.0.6]")
    # .7's PTR is not confirmed: the client name is unknown, the reverse name is not
    assert rcpt(smtp, "127.0.0.7", "rhsc.sel") == "250 2.1.5 Ok"
    assert rcpt(smtp, "127.0.0.7", "rhsrc.sel") == (
        "554 5.7.1 Service unavailable; Client host [host7.bad.example] blocked using "
        "dbl.example; bad host")


def test_rhsbl_sender_and_helo(smtp):
    assert rcpt(smtp, "127.0.0.3", "rhss.sel", sender="eve@spam.example") == (
        "554 5.7.1 Service unavailable; Sender address [spam.example] blocked using "
        "dbl.example")
    assert rcpt(smtp, "127.0.0.3", "rhss.sel") == "250 2.1.5 Ok"
    assert rcpt(smtp, "127.0.0.3", "x.rhsh.sel") == (
        "554 5.7.1 Service unavailable; Helo command [x.rhsh.sel] blocked using dbl.example")


def test_rhsbl_recipient(smtp):
    assert rcpt(smtp, "127.0.0.3", "rhsr.sel", rcpt="b@spam.example") == (
        "554 5.7.1 Service unavailable; Recipient address [spam.example] blocked using "
        "dbl.example")
    assert rcpt(smtp, "127.0.0.3", "rhsr.sel") == "250 2.1.5 Ok"


def test_permit_dnswl_client(smtp):
    assert rcpt(smtp, "127.0.0.8", "wl.sel") == "250 2.1.5 Ok"
    # the class runs as the result of check_helo_access, so a reject in it
    # names the HELO (Postfix passes the table's reply name on)
    assert rcpt(smtp, "127.0.0.3", "wl.sel") == (
        "554 5.7.1 <wl.sel>: Helo command rejected: Access denied")


def test_unknown_client_hostname(smtp):
    # no PTR; unknown_client_reject_code = 550 in this instance
    assert rcpt(smtp, "127.0.0.10", "unkc.sel") == (
        "550 5.7.25 Client host rejected: cannot find your hostname, [127.0.0.10]")
    smtp.wait_log("connect from unknown[127.0.0.10]")
    # PTR whose name does not point back
    assert rcpt(smtp, "127.0.0.11", "unkc.sel") == (
        "550 5.7.25 Client host rejected: cannot find your hostname, [127.0.0.11]")
    # a temporary failure is always 450
    assert rcpt(smtp, "127.0.0.12", "unkc.sel") == (
        "450 4.7.25 Client host rejected: cannot find your hostname, [127.0.0.12]")
    assert rcpt(smtp, "127.0.0.13", "unkc.sel") == "250 2.1.5 Ok"
    smtp.wait_log("connect from h13.example[127.0.0.13]")


def test_unknown_reverse_client_hostname(smtp):
    assert rcpt(smtp, "127.0.0.10", "unkrc.sel") == (
        "550 5.7.1 Client host rejected: cannot find your reverse hostname, [127.0.0.10]")
    assert rcpt(smtp, "127.0.0.12", "unkrc.sel") == (
        "450 4.7.1 Client host rejected: cannot find your reverse hostname, [127.0.0.12]")
    assert rcpt(smtp, "127.0.0.11", "unkrc.sel") == "250 2.1.5 Ok"


@pytest.mark.parametrize("sender,reply", [
    ("a@ok.example", "250 2.1.5 Ok"),
    ("a@aonly.example", "250 2.1.5 Ok"),
    # no such domain and a domain without A/MX: unknown_address_reject_code (450)
    ("a@nxdomain.example", "450 4.1.8 <a@nxdomain.example>: Sender address rejected: "
                           "Domain not found"),
    ("a@txtonly.example", "450 4.1.8 <a@txtonly.example>: Sender address rejected: "
                          "Domain not found"),
    ("a@nullmx.example", "550 5.7.27 <a@nullmx.example>: Sender address rejected: "
                         "Domain nullmx.example does not accept mail (nullMX)"),
    ("a@broken.example", "450 4.1.8 <a@broken.example>: Sender address rejected: "
                         "Domain not found"),
    ("a@slow.example", "450 4.1.8 <a@slow.example>: Sender address rejected: "
                       "Domain not found"),
])
def test_unknown_sender_domain(smtp, sender, reply):
    assert rcpt(smtp, "127.0.0.3", "unks.sel", sender=sender) == reply


def test_unknown_recipient_domain(smtp):
    r = rcpt(smtp, "127.0.0.3", "unkr.sel", rcpt="b@nxdomain.example")
    assert r == "450 4.1.2 <b@nxdomain.example>: Recipient address rejected: Domain not found"
    r = rcpt(smtp, "127.0.0.3", "unkr.sel", rcpt="b@nullmx.example")
    assert r == ("556 5.1.10 <b@nullmx.example>: Recipient address rejected: Domain "
                 "nullmx.example does not accept mail (nullMX)")
    # a domain that exists passes this rule and meets the relay check
    r = rcpt(smtp, "127.0.0.3", "unkr.sel", rcpt="b@ok.example")
    assert r == "554 5.7.1 <b@ok.example>: Relay access denied"
    assert rcpt(smtp, "127.0.0.3", "unkr.sel") == "250 2.1.5 Ok"


def test_unknown_helo_hostname(smtp):
    assert rcpt(smtp, "127.0.0.3", "x.unkh.sel") == (
        "450 4.7.1 <x.unkh.sel>: Helo command rejected: Host not found")
    assert rcpt(smtp, "127.0.0.3", "y.unkh.sel") == "250 2.1.5 Ok"


def test_client_name_timeout_gives_4xx(smtp, dns):
    dns.timeout("15.0.0.127.in-addr.arpa")
    assert rcpt(smtp, "127.0.0.15", "unkc.sel") == (
        "450 4.7.25 Client host rejected: cannot find your hostname, [127.0.0.15]")
    smtp.wait_log("connect from unknown[127.0.0.15]")


def test_sender_mx_ns_a_access(smtp):
    assert rcpt(smtp, "127.0.0.3", "smx.sel", sender="a@badhost.example") == (
        "554 5.7.1 <a@badhost.example>: Sender address rejected: bad mail host")
    # the MX host's address is looked up too
    assert rcpt(smtp, "127.0.0.3", "smx.sel", sender="a@viaip.example") == (
        "554 5.7.1 <a@viaip.example>: Sender address rejected: bad mail address")
    # no MX: the domain itself is the mail host
    assert rcpt(smtp, "127.0.0.3", "smx.sel", sender="a@nomx.example") == (
        "554 5.7.1 <a@nomx.example>: Sender address rejected: bad mail address")
    # OK is not allowed for MX hosts (logged, treated as DUNNO); the rest passes
    assert rcpt(smtp, "127.0.0.3", "smx.sel", sender="a@ok.example") == "250 2.1.5 Ok"
    smtp.wait_log("OK is not allowed for MX host look-ups")
    # a failed MX look-up skips the table (Postfix logs a warning)
    assert rcpt(smtp, "127.0.0.3", "smx.sel", sender="a@tempmx.example") == "250 2.1.5 Ok"
    smtp.wait_log("unable to look up MX host for tempmx.example: temporary DNS failure")
    # NS: a name without NS records uses its parent zone's
    assert rcpt(smtp, "127.0.0.3", "sns.sel", sender="a@sub.badns.example") == (
        "554 5.7.1 <a@sub.badns.example>: Sender address rejected: bad name server")
    assert rcpt(smtp, "127.0.0.3", "sa.sel", sender="a@nomx.example") == (
        "554 5.7.1 <a@nomx.example>: Sender address rejected: bad mail address")
    assert rcpt(smtp, "127.0.0.3", "sa.sel", sender="a@badhost.example") == "250 2.1.5 Ok"


def test_helo_recipient_client_server_access(smtp):
    assert rcpt(smtp, "127.0.0.3", "x.ha.sel") == (
        "554 5.7.1 <x.ha.sel>: Helo command rejected: bad helo address")
    assert rcpt(smtp, "127.0.0.3", "rmx.sel", rcpt="b@badhost.example") == (
        "554 5.7.1 <b@badhost.example>: Recipient address rejected: bad mail host")
    # the client name h13.example (forward-confirmed) has a bad MX host
    assert rcpt(smtp, "127.0.0.13", "cmx.sel") == (
        "554 5.7.1 <h13.example[127.0.0.13]>: Client host rejected: bad mail host")
    assert rcpt(smtp, "127.0.0.3", "cmx.sel") == "250 2.1.5 Ok"


def test_rbl_reply_maps(smtp):
    assert rcpt(smtp, "127.0.0.2", "rbl2.sel") == "554 5.7.1 Go away 127.0.0.2; see no reason"
    assert rcpt(smtp, "127.0.0.2", "rbl3.sel", sender="a@ok.example") == (
        "450 4.7.1 Try later, Client host [127.0.0.2] listed (ok.example)")


def test_peername_lookup_off(instance, dns_server):
    """smtpd_peername_lookup = no: no PTR query, every client is unknown."""
    from smtp_helpers import start_smtp
    dns_server.add("16.0.0.127.in-addr.arpa", "PTR", "h16.example")
    dns_server.add("h16.example", "A", "127.0.0.16")
    start_smtp(instance, ["dns_nameservers=" + dns_server.nameservers,
                          "smtpd_peername_lookup=no"])
    c = connect(instance, "127.0.0.16")
    assert c.cmd("EHLO x.example").startswith("250")
    c.cmd("QUIT")
    instance.wait_log("connect from unknown[127.0.0.16]")
    assert dns_server.asked("16.0.0.127.in-addr.arpa") == 0
