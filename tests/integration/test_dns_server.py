"""test_dns_server.py - the test DNS server itself (tests/dns_server.py):
each answer kind over UDP and TCP, the truncation that sends resolvers to
TCP, and overrides. dnslib's own client asks; posternd is not involved."""
import socket

import pytest
from dnslib import QTYPE, RCODE, DNSRecord

from dns_server import DNSServer


def ask(server, name, rtype, tcp=False, timeout=2):
    q = DNSRecord.question(name, rtype)
    return DNSRecord.parse(q.send(server.address, server.port, tcp=tcp, timeout=timeout))


@pytest.fixture
def srv():
    s = DNSServer()
    s.add("mail.example", "A", "192.0.2.1")
    s.add("mail.example", "AAAA", "2001:db8::1")
    s.add("example", "MX", (10, "mail.example"))
    s.add("null.example", "MX", "0 .")
    s.add("example", "NS", "ns1.example")
    s.add("1.2.0.192.in-addr.arpa", "PTR", "mail.example")
    s.add("2.0.0.127.zen.example", "TXT", ["part one ", "part two"])
    s.add("a.b.deep.example", "A", "192.0.2.9")
    yield s
    s.stop()


@pytest.mark.parametrize("tcp", [False, True])
def test_answer_kinds(srv, tcp):
    r = ask(srv, "MAIL.example.", "A", tcp)
    assert r.header.rcode == RCODE.NOERROR and r.header.aa == 1
    assert [str(a.rdata) for a in r.rr] == ["192.0.2.1"]
    assert [str(a.rdata) for a in ask(srv, "mail.example", "AAAA", tcp).rr] == ["2001:db8::1"]
    mx = ask(srv, "example", "MX", tcp).rr[0].rdata
    assert (mx.preference, str(mx.label)) == (10, "mail.example.")
    assert str(ask(srv, "null.example", "MX", tcp).rr[0].rdata.label) == "."
    assert str(ask(srv, "example", "NS", tcp).rr[0].rdata) == "ns1.example."
    assert str(ask(srv, "1.2.0.192.in-addr.arpa", "PTR", tcp).rr[0].rdata) == "mail.example."
    txt = ask(srv, "2.0.0.127.zen.example", "TXT", tcp).rr[0].rdata.data
    assert txt == [b"part one ", b"part two"]
    nodata = ask(srv, "mail.example", "MX", tcp)
    assert nodata.header.rcode == RCODE.NOERROR and nodata.rr == []
    # an empty non-terminal exists (NODATA), a sibling does not (NXDOMAIN)
    assert ask(srv, "b.deep.example", "A", tcp).header.rcode == RCODE.NOERROR
    assert ask(srv, "nothere.example", "A", tcp).header.rcode == RCODE.NXDOMAIN
    assert srv.asked("mail.example", "A") == 1
    assert srv.queries[0] == ("mail.example", "A", "tcp" if tcp else "udp")


def test_overrides(srv):
    srv.servfail("mail.example", "A")
    assert ask(srv, "mail.example", "A").header.rcode == RCODE.SERVFAIL
    assert ask(srv, "mail.example", "AAAA").header.rcode == RCODE.NOERROR
    srv.nxdomain("example")
    assert ask(srv, "example", "MX").header.rcode == RCODE.NXDOMAIN
    srv.timeout("slow.example")
    with pytest.raises(socket.timeout):
        ask(srv, "slow.example", "A", timeout=0.5)
    srv.clear()
    assert ask(srv, "mail.example", "A").header.rcode == RCODE.NXDOMAIN


def test_long_answer_is_truncated_over_udp_and_whole_over_tcp(srv):
    for i in range(10):
        srv.add("big.example", "TXT", "x" * 200 + str(i))
    udp = ask(srv, "big.example", "TXT")
    assert udp.header.tc == 1 and udp.rr == []
    tcp = ask(srv, "big.example", "TXT", tcp=True)
    assert tcp.header.tc == 0 and len(tcp.rr) == 10


def test_bad_record_fails_in_the_test():
    s = DNSServer()
    try:
        with pytest.raises(ValueError):
            s.add("x.example", "SRV", "whatever")
        with pytest.raises(ValueError):
            s.add("x.example", "A", "not an address")
    finally:
        s.stop()
