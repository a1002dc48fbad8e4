/*
 * test_dns.c - lib/dns.c and lib/dns-client-name.c against a tiny UDP DNS
 * responder on 127.0.0.1 (a thread in this test; RFC 1035 4.1 messages):
 * A, AAAA, MX, TXT, PTR, NS answers, NXDOMAIN, NODATA, SERVFAIL, a timeout,
 * the outstanding-query limit, cancellation and forward-confirmed
 * reverse DNS.
 */
#include <arpa/inet.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "dns.h"
#include "log.h"
#include "util.h"

static int srv_fd = -1;
static int srv_port;
static pthread_t srv_thread;

/* Append a name in label form (no compression). */
static size_t put_name(unsigned char *p, const char *name)
{
	size_t o = 0;

	while (*name) {
		size_t n = strcspn(name, ".");

		p[o++] = (unsigned char)n;
		memcpy(p + o, name, n);
		o += n;
		name += n;
		if (*name == '.')
			name++;
	}
	p[o++] = 0;
	return o;
}

struct rec { const char *name; int type; const char *data; int pref; };

static const struct rec zone[] = {
	{ "a.test", 1, "192.0.2.1", 0 },
	{ "a.test", 1, "192.0.2.2", 0 },
	{ "a.test", 28, "2001:db8::1", 0 },
	{ "a.test", 15, "mx1.a.test", 10 },
	{ "a.test", 15, "mx2.a.test", 20 },
	{ "a.test", 16, "v=spf1 |-all", 0 },       /* '|' splits character-strings */
	{ "a.test", 2, "ns1.a.test", 0 },
	{ "a.test", 2, "NS2.A.test", 0 },
	{ "1.2.0.192.in-addr.arpa", 12, "host.test", 0 },
	{ "host.test", 1, "192.0.2.1", 0 },
	{ "2.2.0.192.in-addr.arpa", 12, "liar.test", 0 },
	{ "liar.test", 1, "192.0.2.99", 0 },
	{ "3.2.0.192.in-addr.arpa", 12, "tmp.test", 0 },
	{ "tmp.test", 1, "SERVFAIL", 0 },
	{ "4.2.0.192.in-addr.arpa", 12, "SERVFAIL", 0 },
	{ "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa", 12, "six.test", 0 },
	{ "six.test", 28, "2001:db8::1", 0 },
	{ "fail.test", 1, "SERVFAIL", 0 },
	{ "nodata.test", 15, "mx.nodata.test", 10 },
	{ NULL, 0, NULL, 0 },
};

static void *server_main(void *arg)
{
	(void)arg;
	for (;;) {
		unsigned char q[512], r[1024];
		struct sockaddr_storage from;
		socklen_t fl = sizeof(from);
		ssize_t n = recvfrom(srv_fd, q, sizeof(q), 0, (struct sockaddr *)&from, &fl);
		char name[256];
		size_t o = 12, no = 0, rl;
		int type, rcode = 0, an = 0;
		bool known = false, servfail = false;

		if (n < 17)
			return NULL;
		while (o < (size_t)n && q[o]) {
			size_t l = q[o++];

			if (no)
				name[no++] = '.';
			memcpy(name + no, q + o, l);
			no += l;
			o += l;
		}
		name[no] = '\0';
		o++;
		type = q[o] << 8 | q[o + 1];
		o += 4;
		if (strcmp(name, "quit.test") == 0)
			return NULL;
		if (strcmp(name, "slow.test") == 0)
			continue;
		memcpy(r, q, o);
		rl = o;
		for (const struct rec *z = zone; z->name; z++) {
			unsigned char *rd;
			size_t len = 0;

			if (strcasecmp(z->name, name) != 0)
				continue;
			known = true;
			if (strcmp(z->data, "SERVFAIL") == 0)
				servfail = true;
			if (z->type != type || servfail)
				continue;
			r[rl++] = 0xc0;
			r[rl++] = 12;
			r[rl++] = 0;
			r[rl++] = (unsigned char)type;
			r[rl++] = 0;
			r[rl++] = 1;
			r[rl++] = 0; r[rl++] = 0; r[rl++] = 0; r[rl++] = 60;
			rd = r + rl + 2;
			if (type == 1) {
				inet_pton(AF_INET, z->data, rd);
				len = 4;
			} else if (type == 28) {
				inet_pton(AF_INET6, z->data, rd);
				len = 16;
			} else if (type == 15) {
				rd[0] = 0;
				rd[1] = (unsigned char)z->pref;
				len = 2 + put_name(rd + 2, z->data);
			} else if (type == 12 || type == 2) {
				len = put_name(rd, z->data);
			} else if (type == 16) {
				const char *s = z->data;

				while (*s) {
					size_t k = strcspn(s, "|");

					rd[len++] = (unsigned char)k;
					memcpy(rd + len, s, k);
					len += k;
					s += k;
					if (*s == '|')
						s++;
				}
			}
			r[rl++] = (unsigned char)(len >> 8);
			r[rl++] = (unsigned char)len;
			rl += len;
			an++;
		}
		if (servfail)
			rcode = 2, an = 0, rl = o;
		else if (!known)
			rcode = 3;
		r[2] = 0x80 | (q[2] & 0x01);
		r[3] = 0x80 | (unsigned char)rcode;
		r[6] = 0;
		r[7] = (unsigned char)an;
		r[8] = r[9] = r[10] = r[11] = 0;
		sendto(srv_fd, r, rl, 0, (struct sockaddr *)&from, fl);
	}
}

static int setup(void **state)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sin);

	(void)state;
	log_init("test", 0);
	srv_fd = socket(AF_INET, SOCK_DGRAM, 0);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (srv_fd < 0 || bind(srv_fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
	    getsockname(srv_fd, (struct sockaddr *)&sin, &sl) < 0)
		return -1;
	srv_port = ntohs(sin.sin_port);
	return pthread_create(&srv_thread, NULL, server_main, NULL);
}

static int teardown(void **state)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	unsigned char q[64] = { 0x12, 0x34, 0x01, 0, 0, 1, 0, 0, 0, 0, 0, 0 };
	size_t o = 12;

	(void)state;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons((uint16_t)srv_port);
	o += put_name(q + o, "quit.test");
	q[o++] = 0; q[o++] = 1; q[o++] = 0; q[o++] = 1;
	sendto(srv_fd, q, o, 0, (struct sockaddr *)&sin, sizeof(sin));
	pthread_join(srv_thread, NULL);
	close(srv_fd);
	return 0;
}

struct got {
	bool done;
	enum dns_status status;
	bool nxdomain;
	char rr[8][128];
	unsigned pref[8];
	size_t n;
};

static void got_cb(void *ctx, const struct dns_answer *a)
{
	struct got *g = ctx;

	g->done = true;
	g->status = a->status;
	g->nxdomain = a->nxdomain;
	g->n = a->n < 8 ? a->n : 8;
	for (size_t i = 0; i < g->n; i++) {
		str_copy(g->rr[i], a->rrs[i].text, sizeof(g->rr[i]));
		g->pref[i] = a->rrs[i].pref;
	}
}

static struct dns *new_resolver(struct event_base *base, int timeout_ms, int max)
{
	char servers[64], *err = NULL;
	struct dns_options o = { .servers = servers, .timeout_ms = timeout_ms, .tries = 1,
				 .max_queries = max };
	struct dns *d;

	snprintf(servers, sizeof(servers), "127.0.0.1:%d", srv_port);
	d = dns_new(base, &o, &err);
	if (d == NULL)
		fail_msg("%s", err);
	return d;
}

/* Run the loop until *done, at most 5 s. */
static void wait_for(struct event_base *base, const bool *done)
{
	time_t end = time(NULL) + 5;

	while (!*done && time(NULL) < end)
		event_base_loop(base, EVLOOP_ONCE);
}

static void lookup(struct dns *d, struct event_base *base, const char *name, enum dns_type t,
		   struct got *g)
{
	memset(g, 0, sizeof(*g));
	assert_non_null(dns_lookup(d, name, t, got_cb, g));
	assert_false(g->done); /* never inside dns_lookup */
	wait_for(base, &g->done);
	if (!g->done)
		fail_msg("no answer for %s %s", name, dns_type_name(t));
}

static void test_records(void **state)
{
	struct event_base *base = event_base_new();
	struct dns *d = new_resolver(base, 1000, 0);
	struct got g;

	(void)state;
	lookup(d, base, "a.test", DNS_A, &g);
	assert_int_equal(g.status, DNS_FOUND);
	assert_int_equal(g.n, 2);
	assert_string_equal(g.rr[0], "192.0.2.1");
	assert_string_equal(g.rr[1], "192.0.2.2");
	lookup(d, base, "a.test", DNS_AAAA, &g);
	assert_int_equal(g.status, DNS_FOUND);
	assert_string_equal(g.rr[0], "2001:db8::1");
	lookup(d, base, "a.test", DNS_MX, &g);
	assert_int_equal(g.status, DNS_FOUND);
	assert_int_equal(g.n, 2);
	assert_true((strcmp(g.rr[0], "mx1.a.test") == 0 && g.pref[0] == 10) ||
		    (strcmp(g.rr[1], "mx1.a.test") == 0 && g.pref[1] == 10));
	lookup(d, base, "a.test", DNS_TXT, &g);
	assert_int_equal(g.status, DNS_FOUND);
	assert_int_equal(g.n, 1);
	assert_string_equal(g.rr[0], "v=spf1 -all");
	lookup(d, base, "1.2.0.192.in-addr.arpa", DNS_PTR, &g);
	assert_int_equal(g.status, DNS_FOUND);
	assert_string_equal(g.rr[0], "host.test");
	/* NS: names in lower case, without the final dot */
	lookup(d, base, "a.test", DNS_NS, &g);
	assert_int_equal(g.status, DNS_FOUND);
	assert_int_equal(g.n, 2);
	assert_string_equal(g.rr[0], "ns1.a.test");
	assert_string_equal(g.rr[1], "ns2.a.test");
	lookup(d, base, "host.test", DNS_NS, &g);
	assert_int_equal(g.status, DNS_NOTFOUND);
	assert_string_equal(dns_type_name(DNS_NS), "NS");
	dns_free(&d);
	assert_null(d);
	event_base_free(base);
}

static void test_failures(void **state)
{
	struct event_base *base = event_base_new();
	struct dns *d = new_resolver(base, 300, 0);
	struct got g;

	(void)state;
	lookup(d, base, "nx.test", DNS_A, &g);
	assert_int_equal(g.status, DNS_NOTFOUND);
	assert_true(g.nxdomain);
	lookup(d, base, "nodata.test", DNS_A, &g);
	assert_int_equal(g.status, DNS_NOTFOUND);
	assert_false(g.nxdomain);
	lookup(d, base, "fail.test", DNS_A, &g);
	assert_int_equal(g.status, DNS_TEMPFAIL);
	lookup(d, base, "slow.test", DNS_A, &g);
	assert_int_equal(g.status, DNS_TEMPFAIL);
	/* names DNS cannot carry: answered NOTFOUND without asking */
	lookup(d, base, "bad name.test", DNS_A, &g);
	assert_int_equal(g.status, DNS_NOTFOUND);
	lookup(d, base, "", DNS_A, &g);
	assert_int_equal(g.status, DNS_NOTFOUND);
	dns_free(&d);
	event_base_free(base);
}

static void test_limit_and_cancel(void **state)
{
	struct event_base *base = event_base_new();
	struct dns *d = new_resolver(base, 300, 1);
	struct got g1 = { 0 }, g2 = { 0 }, g3 = { 0 };
	struct dns_query *q;

	(void)state;
	assert_non_null(dns_lookup(d, "slow.test", DNS_A, got_cb, &g1));
	assert_non_null(dns_lookup(d, "a.test", DNS_A, got_cb, &g2));
	wait_for(base, &g2.done);
	assert_int_equal(g2.status, DNS_TEMPFAIL); /* over dns_max_queries */
	wait_for(base, &g1.done);
	q = dns_lookup(d, "a.test", DNS_A, got_cb, &g3);
	assert_non_null(q);
	dns_cancel(&q);
	assert_null(q);
	for (int i = 0; i < 20; i++)
		event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
	assert_false(g3.done);
	/* freeing with a query in flight calls nothing */
	assert_non_null(dns_lookup(d, "slow.test", DNS_A, got_cb, &g3));
	dns_free(&d);
	assert_false(g3.done);
	event_base_free(base);
}

struct name_got {
	bool done;
	char name[128], rev[128];
	bool name_temp, rev_temp;
};

static void name_cb(void *ctx, const struct dns_client_name *r)
{
	struct name_got *g = ctx;

	g->done = true;
	str_copy(g->name, r->name, sizeof(g->name));
	str_copy(g->rev, r->reverse_name, sizeof(g->rev));
	g->name_temp = r->name_tempfail;
	g->rev_temp = r->reverse_name_tempfail;
}

static void client_name(struct dns *d, struct event_base *base, const char *addr, struct name_got *g)
{
	memset(g, 0, sizeof(*g));
	assert_non_null(dns_client_name(d, addr, name_cb, g));
	assert_false(g->done);
	wait_for(base, &g->done);
	assert_true(g->done);
}

static void test_client_name(void **state)
{
	struct event_base *base = event_base_new();
	struct dns *d = new_resolver(base, 300, 0);
	struct name_got g;
	struct dns_client_name_req *req;

	(void)state;
	client_name(d, base, "192.0.2.1", &g);
	assert_string_equal(g.name, "host.test");
	assert_string_equal(g.rev, "host.test");
	client_name(d, base, "192.0.2.2", &g);         /* PTR does not confirm */
	assert_string_equal(g.name, "unknown");
	assert_string_equal(g.rev, "liar.test");
	assert_false(g.name_temp);
	client_name(d, base, "192.0.2.3", &g);         /* forward SERVFAIL */
	assert_string_equal(g.name, "unknown");
	assert_string_equal(g.rev, "tmp.test");
	assert_true(g.name_temp);
	client_name(d, base, "192.0.2.4", &g);         /* PTR SERVFAIL */
	assert_string_equal(g.rev, "unknown");
	assert_true(g.rev_temp);
	assert_true(g.name_temp);
	client_name(d, base, "192.0.2.5", &g);         /* no PTR */
	assert_string_equal(g.rev, "unknown");
	assert_false(g.rev_temp);
	client_name(d, base, "2001:db8::1", &g);
	assert_string_equal(g.name, "six.test");
	req = dns_client_name(d, "192.0.2.1", name_cb, &g);
	g.done = false;
	dns_client_name_cancel(&req);
	assert_null(req);
	for (int i = 0; i < 20; i++)
		event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
	assert_false(g.done);
	dns_free(&d);
	event_base_free(base);
}

static void test_reverse_name(void **state)
{
	char buf[80];

	(void)state;
	assert_int_equal(dns_reverse_name("192.0.2.1", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "1.2.0.192.in-addr.arpa");
	assert_int_equal(dns_reverse_name("2001:db8::1", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa");
	assert_int_equal(dns_reverse_name("::ffff:192.0.2.7", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "7.2.0.192.in-addr.arpa");
	assert_int_equal(dns_reverse_name("not-an-ip", buf, sizeof(buf)), -1);
	assert_int_equal(dns_reverse_name("192.0.2.1", buf, 10), -1);
}

static void test_bad_servers(void **state)
{
	struct event_base *base = event_base_new();
	struct dns_options o = { .servers = "300.1.1.1:x" };
	char *err = NULL;

	(void)state;
	assert_null(dns_new(base, &o, &err));
	assert_non_null(strstr(err, "dns_nameservers: \"300.1.1.1:x\""));
	free(err);
	event_base_free(base);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_records),
		cmocka_unit_test(test_failures),
		cmocka_unit_test(test_limit_and_cancel),
		cmocka_unit_test(test_client_name),
		cmocka_unit_test(test_reverse_name),
		cmocka_unit_test(test_bad_servers),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
