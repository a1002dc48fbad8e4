/*
 * dns.h - asynchronous DNS look-ups (c-ares) on the libevent loop.
 *
 * Callers: the SMTP restrictions (smtp/restrict*.c: rbl/rhsbl, unknown
 * domains and hostnames), the SMTP session (dns_client_name() for the
 * client's name), later the queue's SMTP client (MX) and SPF (TXT).
 * Implementation: lib/dns.c (c-ares), lib/dns-fake.c (test resolver),
 * lib/dns-client-name.c (forward-confirmed reverse DNS).
 *
 * Three outcomes, as everywhere in Postern (DESIGN, STYLE 8): FOUND (one
 * or more records), NOTFOUND (NXDOMAIN or NODATA: the name or the type
 * does not exist, a permanent answer) and TEMPFAIL (SERVFAIL, REFUSED,
 * timeout, no server, out of memory: try later; the caller answers 4xx).
 *
 * Every callback runs from the event loop, never inside dns_lookup() or
 * dns_client_name(). The number of outstanding queries is bounded
 * (dns_max_queries): beyond it a look-up answers TEMPFAIL at once
 * (asynchronously), so a flood of sessions cannot grow memory without
 * bound. RFC 1035 (messages), RFC 3596 (AAAA), RFC 1034 3.5 (PTR names).
 */
#ifndef POSTERN_DNS_H
#define POSTERN_DNS_H

#include <stdbool.h>
#include <stddef.h>

struct event_base;
struct dns;
struct dns_query;

enum dns_type { DNS_A, DNS_AAAA, DNS_MX, DNS_TXT, DNS_PTR, DNS_NS };

enum dns_status { DNS_FOUND, DNS_NOTFOUND, DNS_TEMPFAIL };

struct dns_rr {
	/* A/AAAA: the address as text ("192.0.2.1", "2001:db8::1"); MX, PTR, NS:
	 * the host name without trailing dot; TXT: the strings of one record
	 * joined without separator (RFC 7208 3.3). */
	const char *text;
	unsigned pref;  /* MX preference */
	unsigned ttl;
};

struct dns_answer {
	enum dns_status status;
	enum dns_type type;
	const char *name;         /* the name that was asked for */
	const struct dns_rr *rrs; /* FOUND: n >= 1 records; else NULL */
	size_t n;
	bool nxdomain;            /* NOTFOUND because the name does not exist */
	const char *error;        /* NOTFOUND/TEMPFAIL: short reason for logs */
};

/* The answer and everything it points to is valid only during the call. */
typedef void dns_cb(void *ctx, const struct dns_answer *a);

struct dns_options {
	/* "" or NULL: /etc/resolv.conf. Otherwise ares_set_servers_ports_csv
	 * syntax: "127.0.0.1:5353,[::1]:5353" (dns_nameservers parameter). */
	const char *servers;
	int timeout_ms;    /* per try; 0: 2000 */
	int tries;         /* 0: 2 */
	int max_queries;   /* outstanding at once; 0: 1000 */
};

/*
 * dns_new - a resolver on base. NULL with *error_r (new memory, caller
 * frees) when c-ares cannot start or servers is malformed.
 */
struct dns *dns_new(struct event_base *base, const struct dns_options *opts, char **error_r);

/*
 * Test resolver: fn answers every query synchronously by filling *a (the
 * strings it points to must live until the next call of fn); the answer
 * is then delivered from the event loop like a real one. Used by the
 * restriction unit tests. Returns NULL when out of memory.
 */
typedef void dns_fake_fn(void *ctx, const char *name, enum dns_type type,
			 struct dns_answer *a);
struct dns *dns_new_fake(struct event_base *base, dns_fake_fn *fn, void *ctx);

/* dns_free - cancel every pending query (callbacks not called), free; *d = NULL. */
void dns_free(struct dns **d);

/*
 * dns_lookup - ask for name/type. Returns the query handle (owned by d; it
 * becomes invalid when cb has run) or NULL when out of memory (cb not
 * called). A name that cannot be a DNS name (empty, over 253 octets, a
 * label over 63, bytes DNS cannot carry) answers NOTFOUND.
 */
struct dns_query *dns_lookup(struct dns *d, const char *name, enum dns_type type,
			     dns_cb *cb, void *ctx);

/* dns_cancel - the callback will not run; *q = NULL; NULL is ignored. */
void dns_cancel(struct dns_query **q);

/* dns_reverse_name - "4.3.2.1.in-addr.arpa" / ip6.arpa nibbles for addr
 * into buf. 0, or -1 if addr is not an IP address or buf too small. */
int dns_reverse_name(const char *addr, char *buf, size_t size);

/* dns_type_name - "A", "AAAA", "MX", "TXT", "PTR", "NS" (static). */
const char *dns_type_name(enum dns_type type);

/*
 * Client name, as Postfix's smtpd computes it (postconf(5) "reverse_client
 * name" vs "client name"): reverse_name is the PTR name, or "unknown";
 * name is the PTR name only when a forward look-up (A for IPv4, AAAA for
 * IPv6) of it gives the client address back, else "unknown". *_tempfail
 * says that "unknown" is because of a temporary failure. Several PTR
 * records: the first one that confirms wins (at most 5 are tried).
 */
struct dns_client_name {
	const char *name;
	const char *reverse_name;
	bool name_tempfail;
	bool reverse_name_tempfail;
};
typedef void dns_client_name_cb(void *ctx, const struct dns_client_name *r);
/* Returns a handle for dns_client_name_cancel, or NULL when out of memory
 * (cb not called). cb always runs from the event loop. */
struct dns_client_name_req *dns_client_name(struct dns *d, const char *addr,
					    dns_client_name_cb *cb, void *ctx);
void dns_client_name_cancel(struct dns_client_name_req **req);

#endif
