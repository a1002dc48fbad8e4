"""dns_server.py - a small authoritative DNS server for tests (python3-dnslib).

Used by the SMTP restriction tests (integration/test_smtp_dns.py: RBLs,
client names, unknown domains, HELO names) and meant for the queue's MX
tests too. It answers from zones a test gives it, on a free loopback port,
over UDP and TCP (the same port), in threads of the pytest process, so
nothing is left running when the fixture ends. Point posternd at it with
`dns_nameservers = 127.0.0.1:PORT` (`server.nameservers`).

    from dns_server import dns_server            # the fixture (conftest imports it)

    def test_x(dns_server):
        dns_server.add("mail.example", "A", "192.0.2.1")
        dns_server.add("example", "MX", (10, "mail.example"))
        dns_server.add("4.3.2.1.zen.example", "TXT", "listed, see https://...")
        dns_server.add("1.2.0.192.in-addr.arpa", "PTR", "host.example")
        dns_server.servfail("broken.example")        # SERVFAIL for every type
        dns_server.timeout("slow.example")           # never answered
        dns_server.nxdomain("gone.example")          # NXDOMAIN even if records exist
        dns_server.nameservers                       # "127.0.0.1:PORT"
        dns_server.queries                           # [("mail.example", "A", "udp"), ...]

Answers (RFC 1035, RFC 2308):
- a name with records of the asked type: NOERROR with them (authoritative);
- a name that exists (has records of any type, or is an ancestor of one
  that does: an "empty non-terminal") without that type: NOERROR, no
  answer (NODATA);
- any other name: NXDOMAIN;
- servfail(name) / timeout(name) / nxdomain(name) override all of that for
  the exact name (any type), or only for the types given.
Names are case-insensitive and may be given with or without a final dot.
Record values: A/AAAA an address string; MX (preference, host) or
"10 host" (host "." is a null MX, RFC 7505); TXT a string or a list of
strings (one record with several character-strings, each at most 255
bytes); PTR, NS, CNAME a host name.

A UDP answer longer than 512 bytes (or the client's EDNS0 size) is sent
truncated with TC set, so that resolvers repeat the question over TCP
(RFC 7766): add a long TXT record to test that path.

Run by hand for manual tests: `/usr/bin/python3 tests/dns_server.py
zone.txt` with lines "NAME TYPE VALUE" (prints the port, stops on ^C).
"""
import socket
import struct
import threading

import pytest
from dnslib import AAAA, CNAME, MX, NS, PTR, QTYPE, RCODE, RR, TXT, A, DNSRecord

_TYPES = {"A": QTYPE.A, "AAAA": QTYPE.AAAA, "MX": QTYPE.MX, "TXT": QTYPE.TXT,
          "PTR": QTYPE.PTR, "NS": QTYPE.NS, "CNAME": QTYPE.CNAME}


def _norm(name):
    return str(name).rstrip(".").lower()


def _rdata(rtype, value):
    if rtype == "A":
        return A(value)
    if rtype == "AAAA":
        return AAAA(value)
    if rtype == "MX":
        if isinstance(value, str):
            pref, host = value.split(None, 1)
        else:
            pref, host = value
        return MX(host if host != "." else ".", int(pref))
    if rtype == "TXT":
        parts = [value] if isinstance(value, (str, bytes)) else list(value)
        return TXT([p.encode() if isinstance(p, str) else p for p in parts])
    if rtype == "PTR":
        return PTR(value)
    if rtype == "NS":
        return NS(value)
    if rtype == "CNAME":
        return CNAME(value)
    raise ValueError("unsupported record type %r; use one of %s" % (rtype, sorted(_TYPES)))


class DNSServer:
    """An authoritative test server on 127.0.0.1:port (UDP and TCP)."""

    def __init__(self, address="127.0.0.1"):
        self.address = address
        self.records = {}        # name -> list of (type, value, ttl)
        self.overrides = {}      # name -> {type or None: "servfail"|"timeout"|"nxdomain"}
        self.queries = []        # (name, type, "udp"|"tcp") in arrival order
        self.lock = threading.Lock()
        self._stop = threading.Event()
        self._bind()
        self._threads = [threading.Thread(target=self._serve_udp, daemon=True),
                         threading.Thread(target=self._serve_tcp, daemon=True)]
        for t in self._threads:
            t.start()

    # --- zone data -------------------------------------------------------

    def add(self, name, rtype, value, ttl=60):
        """Add one record (see the module comment for value forms)."""
        rtype = rtype.upper()
        _rdata(rtype, value)  # fail in the test, not in the server thread
        with self.lock:
            self.records.setdefault(_norm(name), []).append((rtype, value, ttl))

    def remove(self, name, rtype=None):
        """Forget the records of name (all, or only of rtype)."""
        with self.lock:
            keep = [r for r in self.records.get(_norm(name), [])
                    if rtype is not None and r[0] != rtype.upper()]
            if keep:
                self.records[_norm(name)] = keep
            else:
                self.records.pop(_norm(name), None)

    def _override(self, name, what, types):
        with self.lock:
            o = self.overrides.setdefault(_norm(name), {})
            for t in (types or [None]):
                o[t.upper() if t else None] = what

    def servfail(self, name, *types):
        """Answer SERVFAIL for name (every type, or only types)."""
        self._override(name, "servfail", types)

    def timeout(self, name, *types):
        """Never answer questions for name (the resolver times out)."""
        self._override(name, "timeout", types)

    def nxdomain(self, name, *types):
        """Answer NXDOMAIN for name even if it has records."""
        self._override(name, "nxdomain", types)

    def clear(self):
        """Forget every record, override and logged query."""
        with self.lock:
            self.records.clear()
            self.overrides.clear()
            self.queries.clear()

    @property
    def nameservers(self):
        """The value for dns_nameservers."""
        return "%s:%d" % (self.address, self.port)

    def asked(self, name, rtype=None):
        """How many questions for name (and rtype) arrived so far."""
        with self.lock:
            return sum(1 for n, t, _ in self.queries
                       if n == _norm(name) and (rtype is None or t == rtype.upper()))

    # --- answering -------------------------------------------------------

    def answer(self, data, proto):
        """The reply bytes for a query, or None to stay silent."""
        try:
            req = DNSRecord.parse(data)
        except Exception:  # noqa: BLE001 - garbage gets no answer
            return None
        if not req.questions:
            return None
        q = req.q
        name = _norm(q.qname)
        rtype = QTYPE.get(q.qtype)
        reply = req.reply()  # QR, RD copied, AA set
        with self.lock:
            self.queries.append((name, rtype, proto))
            o = self.overrides.get(name, {})
            action = o.get(rtype, o.get(None))
            recs = list(self.records.get(name, []))
            exists = bool(recs) or any(n.endswith("." + name) for n in self.records)
        if action == "timeout":
            return None
        if action == "servfail":
            reply.header.rcode = RCODE.SERVFAIL
            reply.header.aa = 0
            return reply.pack()
        if action == "nxdomain" or not exists:
            reply.header.rcode = RCODE.NXDOMAIN
            return reply.pack()
        for t, value, ttl in recs:
            if t == rtype or (t == "CNAME" and rtype != "CNAME"):
                reply.add_answer(RR(q.qname, _TYPES[t], rdata=_rdata(t, value), ttl=ttl))
        out = reply.pack()
        limit = 512
        for rr in req.ar:
            if rr.rtype == QTYPE.OPT:
                limit = max(512, rr.rclass)
        if proto == "udp" and len(out) > limit:
            trunc = req.reply()
            trunc.header.tc = 1
            out = trunc.pack()
        return out

    # --- sockets ---------------------------------------------------------

    def _bind(self):
        # UDP and TCP on the same free port: take a UDP port from the
        # kernel, then try TCP on it; a few tries for the rare collision.
        for _ in range(50):
            u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            u.bind((self.address, 0))
            port = u.getsockname()[1]
            t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                t.bind((self.address, port))
            except OSError:
                u.close()
                t.close()
                continue
            t.listen(16)
            u.settimeout(0.1)
            t.settimeout(0.1)
            self.udp, self.tcp, self.port = u, t, port
            return
        raise RuntimeError("no free port for both UDP and TCP on %s" % self.address)

    def _serve_udp(self):
        while not self._stop.is_set():
            try:
                data, peer = self.udp.recvfrom(65535)
            except socket.timeout:
                continue
            except OSError:
                return
            out = self.answer(data, "udp")
            if out is not None:
                try:
                    self.udp.sendto(out, peer)
                except OSError:
                    pass

    def _serve_tcp(self):
        while not self._stop.is_set():
            try:
                conn, _ = self.tcp.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            threading.Thread(target=self._tcp_conn, args=(conn,), daemon=True).start()

    def _recv_exact(self, conn, n):
        buf = b""
        while len(buf) < n and not self._stop.is_set():
            try:
                chunk = conn.recv(n - len(buf))
            except socket.timeout:
                continue
            if not chunk:
                return None
            buf += chunk
        return buf if len(buf) == n else None

    def _tcp_conn(self, conn):
        # RFC 7766: several length-prefixed queries per connection.
        conn.settimeout(0.2)
        try:
            while not self._stop.is_set():
                head = self._recv_exact(conn, 2)
                if head is None:
                    return
                data = self._recv_exact(conn, struct.unpack("!H", head)[0])
                if data is None:
                    return
                out = self.answer(data, "tcp")
                if out is not None:
                    conn.sendall(struct.pack("!H", len(out)) + out)
        except OSError:
            pass
        finally:
            conn.close()

    def stop(self):
        """Stop the threads and close the sockets (idempotent)."""
        self._stop.set()
        for t in self._threads:
            t.join(5)
        self.udp.close()
        self.tcp.close()


@pytest.fixture
def dns_server():
    """A fresh DNSServer for one test, stopped afterwards."""
    s = DNSServer()
    yield s
    s.stop()


@pytest.fixture(scope="module")
def module_dns_server():
    """One DNSServer for a test file (tests call .clear() or use own names)."""
    s = DNSServer()
    yield s
    s.stop()


def main(argv):
    import time
    s = DNSServer()
    if len(argv) > 1:
        with open(argv[1]) as f:
            for line in f:
                line = line.strip()
                if line and not line.startswith("#"):
                    name, rtype, value = line.split(None, 2)
                    s.add(name, rtype, value)
    print("dns_nameservers = %s" % s.nameservers, flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        s.stop()


if __name__ == "__main__":
    import sys
    main(sys.argv)
