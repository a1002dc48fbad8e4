/*
 * dns.c - asynchronous DNS look-ups with c-ares on a libevent loop (see
 * dns.h). c-ares tells us which sockets it wants watched through its
 * socket-state callback; each gets a persistent libevent event that calls
 * ares_process_fd(); one timer follows ares_timeout() for retries.
 *
 * Results are reduced to the three outcomes of dns.h. RFC 1035 4.1.1
 * RCODEs: NXDOMAIN -> NOTFOUND (nxdomain), NOERROR with no answer of the
 * type (NODATA, RFC 2308 2.2) -> NOTFOUND, SERVFAIL / REFUSED / timeout /
 * unreachable server -> TEMPFAIL.
 *
 * Callers: see dns.h. Shared with lib/dns-fake.c and lib/dns-client-name.c
 * through dns-private.h.
 */
#include <arpa/inet.h>
#include <ares.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns-private.h"
#include "log.h"
#include "util.h"

/* Records kept from one answer: more is never needed by a mail server and
 * bounds what a hostile resolver can make us allocate. */
#define DNS_MAX_RRS 64
#define DNS_MAX_TXT 4096

struct dns_watch {
	ares_socket_t fd;
	struct event *ev;
	struct dns_watch *next;
};

const char *dns_type_name(enum dns_type type)
{
	switch (type) {
	case DNS_A: return "A";
	case DNS_AAAA: return "AAAA";
	case DNS_MX: return "MX";
	case DNS_TXT: return "TXT";
	case DNS_PTR: return "PTR";
	case DNS_NS: return "NS";
	}
	return "?";
}

static int dns_type_code(enum dns_type type)
{
	switch (type) {
	case DNS_A: return 1;
	case DNS_AAAA: return 28;
	case DNS_MX: return 15;
	case DNS_TXT: return 16;
	case DNS_PTR: return 12;
	case DNS_NS: return 2;
	}
	return 1;
}

/* Could name be sent as a DNS query? Host names, RBL names with digits,
 * underscores (SRV/DKIM style) - but no blanks, control bytes, escapes or
 * 8-bit bytes (IDNs travel as A-labels). RFC 1035 2.3.4 limits. */
bool dns_name_valid(const char *name)
{
	size_t len = strlen(name), label = 0;

	if (len > 0 && name[len - 1] == '.')
		len--;
	if (len == 0 || len > 253)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];

		if (c == '.') {
			if (label == 0)
				return false;
			label = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '-' || c == '_'))
			return false;
		if (++label > 63)
			return false;
	}
	return true;
}

int dns_reverse_name(const char *addr, char *buf, size_t size)
{
	unsigned char b[16];
	struct strbuf sb;
	int ret = 0;

	strbuf_init(&sb, size > 0 ? size - 1 : 1);
	if (inet_pton(AF_INET, addr, b) == 1) {
		ret = strbuf_printf(&sb, "%u.%u.%u.%u.in-addr.arpa", b[3], b[2], b[1], b[0]);
	} else if (inet_pton(AF_INET6, addr, b) == 1) {
		static const unsigned char mapped[12] = { 0,0,0,0,0,0,0,0,0,0,0xff,0xff };

		if (memcmp(b, mapped, sizeof(mapped)) == 0) {
			ret = strbuf_printf(&sb, "%u.%u.%u.%u.in-addr.arpa", b[15], b[14], b[13], b[12]);
		} else {
			for (int i = 15; i >= 0 && ret == 0; i--)
				ret = strbuf_printf(&sb, "%x.%x.", b[i] & 0xf, b[i] >> 4);
			if (ret == 0)
				ret = strbuf_puts(&sb, "ip6.arpa");
		}
	} else {
		ret = -1;
	}
	if (ret == 0 && sb.len < size)
		memcpy(buf, sb.data, sb.len + 1);
	else
		ret = -1;
	strbuf_free(&sb);
	return ret;
}

/* ---- the query list ---- */

static void query_unlink(struct dns *d, struct dns_query *q)
{
	for (struct dns_query **pp = &d->queries; *pp; pp = &(*pp)->next)
		if (*pp == q) {
			*pp = q->next;
			d->outstanding--;
			return;
		}
}

static void query_free(struct dns_query *q)
{
	if (q->ev)
		event_free(q->ev);
	free(q->name);
	free(q);
}

/* Deliver a and forget q. */
void dns_query_finish(struct dns_query *q, const struct dns_answer *a)
{
	struct dns *d = q->dns;
	dns_cb *cb = q->cb;
	void *ctx = q->ctx;

	query_unlink(d, q);
	q->cb = NULL;
	q->done = true;
	/* a may point into q (its name): free q only after the callback. */
	if (cb)
		cb(ctx, a);
	/* While c-ares still holds a pointer, ares_cb frees it later. */
	if (!q->in_ares)
		query_free(q);
}

/* An answer decided without asking (invalid name, limit, fake resolver):
 * delivered from the loop so that callers never see re-entrance. */
static void immediate_cb(evutil_socket_t fd, short what, void *arg)
{
	struct dns_query *q = arg;
	struct dns_answer a = q->immediate;

	(void)fd;
	(void)what;
	a.name = q->name;
	a.type = q->type;
	if (q->dns->fake_fn && !q->fake_skip) {
		struct dns_answer f = { .status = DNS_NOTFOUND };

		q->dns->fake_fn(q->dns->fake_ctx, q->name, q->type, &f);
		f.name = q->name;
		f.type = q->type;
		if (f.status == DNS_FOUND && f.n == 0)
			f.status = DNS_NOTFOUND;
		dns_query_finish(q, &f);
		return;
	}
	dns_query_finish(q, &a);
}

static struct dns_query *query_new(struct dns *d, const char *name, enum dns_type type,
				   dns_cb *cb, void *ctx)
{
	struct dns_query *q = calloc(1, sizeof(*q));

	if (q == NULL)
		return NULL;
	q->name = strdup(name);
	if (q->name == NULL) {
		free(q);
		return NULL;
	}
	q->dns = d;
	q->type = type;
	q->cb = cb;
	q->ctx = ctx;
	q->next = d->queries;
	d->queries = q;
	d->outstanding++;
	return q;
}

static int query_immediate(struct dns_query *q)
{
	static const struct timeval zero = { 0, 0 };

	q->ev = evtimer_new(q->dns->base, immediate_cb, q);
	if (q->ev == NULL || evtimer_add(q->ev, &zero) < 0)
		return -1;
	return 0;
}

/* ---- c-ares glue ---- */

static void watch_cb(evutil_socket_t fd, short what, void *arg)
{
	struct dns *d = arg;

	ares_process_fd(d->channel, (what & EV_READ) ? fd : ARES_SOCKET_BAD,
			(what & EV_WRITE) ? fd : ARES_SOCKET_BAD);
	dns_timer_update(d);
}

static void sock_state_cb(void *data, ares_socket_t fd, int readable, int writable)
{
	struct dns *d = data;
	struct dns_watch **pp, *w;
	short what = (short)((readable ? EV_READ : 0) | (writable ? EV_WRITE : 0) | EV_PERSIST);

	for (pp = &d->watches; *pp && (*pp)->fd != fd; pp = &(*pp)->next)
		;
	w = *pp;
	if (w) {
		event_free(w->ev);
		w->ev = NULL;
		if (!readable && !writable) {
			*pp = w->next;
			free(w);
			return;
		}
	} else {
		if (!readable && !writable)
			return;
		w = calloc(1, sizeof(*w));
		if (w == NULL) {
			log_error("dns: out of memory watching a resolver socket");
			return;
		}
		w->fd = fd;
		w->next = d->watches;
		d->watches = w;
	}
	w->ev = event_new(d->base, fd, what, watch_cb, d);
	if (w->ev == NULL || event_add(w->ev, NULL) < 0)
		log_error("dns: cannot watch resolver socket %d", (int)fd);
}

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct dns *d = arg;

	(void)fd;
	(void)what;
	ares_process_fd(d->channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
	dns_timer_update(d);
}

void dns_timer_update(struct dns *d)
{
	struct timeval max = { 1, 0 }, tv, *t;

	if (d->timer == NULL)
		return;
	/* An idle resolver keeps no timer: no wake-ups while nothing waits. */
	if (d->ares_pending == 0) {
		evtimer_del(d->timer);
		return;
	}
	t = ares_timeout(d->channel, &max, &tv);
	evtimer_add(d->timer, t);
}

/* Reduce a parsed answer into struct dns_answer. */
struct rrset {
	struct dns_rr rr[DNS_MAX_RRS];
	char *text[DNS_MAX_RRS];
	size_t n;
};

static void rrset_add(struct rrset *s, char *text, unsigned pref, unsigned ttl)
{
	if (text == NULL)
		return;
	if (s->n >= DNS_MAX_RRS) {
		free(text);
		return;
	}
	s->text[s->n] = text;
	s->rr[s->n].text = text;
	s->rr[s->n].pref = pref;
	s->rr[s->n].ttl = ttl;
	s->n++;
}

static void rrset_free(struct rrset *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->text[i]);
}

static char *strip_dot(const char *name)
{
	size_t n = strlen(name);
	char *s;

	if (n > 0 && name[n - 1] == '.')
		n--;
	s = strndup(name, n);
	return s ? str_lower(s) : NULL;
}

static int parse_answer(enum dns_type type, const unsigned char *abuf, int alen, struct rrset *s)
{
	int st;

	switch (type) {
	case DNS_A: {
		struct ares_addrttl ttls[DNS_MAX_RRS];
		int n = DNS_MAX_RRS;
		char txt[INET_ADDRSTRLEN];

		st = ares_parse_a_reply(abuf, alen, NULL, ttls, &n);
		for (int i = 0; st == ARES_SUCCESS && i < n; i++)
			if (inet_ntop(AF_INET, &ttls[i].ipaddr, txt, sizeof(txt)))
				rrset_add(s, strdup(txt), 0, (unsigned)ttls[i].ttl);
		return st;
	}
	case DNS_AAAA: {
		struct ares_addr6ttl ttls[DNS_MAX_RRS];
		int n = DNS_MAX_RRS;
		char txt[INET6_ADDRSTRLEN];

		st = ares_parse_aaaa_reply(abuf, alen, NULL, ttls, &n);
		for (int i = 0; st == ARES_SUCCESS && i < n; i++)
			if (inet_ntop(AF_INET6, &ttls[i].ip6addr, txt, sizeof(txt)))
				rrset_add(s, strdup(txt), 0, (unsigned)ttls[i].ttl);
		return st;
	}
	case DNS_MX: {
		struct ares_mx_reply *mx = NULL;

		st = ares_parse_mx_reply(abuf, alen, &mx);
		for (struct ares_mx_reply *m = mx; st == ARES_SUCCESS && m; m = m->next)
			rrset_add(s, strip_dot(m->host), m->priority, 0);
		if (mx)
			ares_free_data(mx);
		return st;
	}
	case DNS_TXT: {
		struct ares_txt_ext *txt = NULL;
		struct strbuf sb;

		st = ares_parse_txt_reply_ext(abuf, alen, &txt);
		strbuf_init(&sb, DNS_MAX_TXT);
		for (struct ares_txt_ext *t = txt; st == ARES_SUCCESS && t; t = t->next) {
			if (t->record_start && t != txt)
				rrset_add(s, strbuf_steal(&sb), 0, 0);
			/* Over-long records are cut, never grown without bound. */
			(void)strbuf_append(&sb, t->txt, t->length);
		}
		if (st == ARES_SUCCESS && txt)
			rrset_add(s, strbuf_steal(&sb), 0, 0);
		strbuf_free(&sb);
		if (txt)
			ares_free_data(txt);
		return st;
	}
	case DNS_PTR: {
		struct hostent *h = NULL;
		unsigned char dummy[4] = { 0 };

		st = ares_parse_ptr_reply(abuf, alen, dummy, sizeof(dummy), AF_INET, &h);
		if (st == ARES_SUCCESS && h) {
			if (h->h_name)
				rrset_add(s, strip_dot(h->h_name), 0, 0);
			for (char **al = h->h_aliases; al && *al; al++)
				rrset_add(s, strip_dot(*al), 0, 0);
		}
		if (h)
			ares_free_hostent(h);
		return st;
	}
	case DNS_NS: {
		struct hostent *h = NULL;

		st = ares_parse_ns_reply(abuf, alen, &h);
		if (st == ARES_SUCCESS && h)
			for (char **al = h->h_aliases; al && *al; al++)
				rrset_add(s, strip_dot(*al), 0, 0);
		if (h)
			ares_free_hostent(h);
		return st;
	}
	}
	return ARES_EBADRESP;
}

static void ares_cb(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
	struct dns_query *q = arg;
	struct dns_answer a = { .name = q->name, .type = q->type };
	struct rrset s = { .n = 0 };

	(void)timeouts;
	q->in_ares = false;
	q->dns->ares_pending--;
	if (q->done || q->cb == NULL || status == ARES_EDESTRUCTION) {
		/* Cancelled or finished: c-ares's reference was the last one. */
		if (!q->done && status == ARES_EDESTRUCTION)
			query_unlink(q->dns, q);
		query_free(q);
		return;
	}
	if (q->dns->in_lookup) {
		/* c-ares failed inside ares_query() (no servers, out of memory):
		 * deliver from the loop, as dns.h promises. */
		q->immediate.status = status == ARES_ENOTFOUND || status == ARES_ENODATA ||
			status == ARES_EBADNAME ? DNS_NOTFOUND : DNS_TEMPFAIL;
		q->immediate.error = ares_strerror(status);
		q->fake_skip = true;
		if (query_immediate(q) < 0)
			log_error("dns: out of memory; query for %s lost", q->name);
		return;
	}
	if (status == ARES_SUCCESS) {
		status = parse_answer(q->type, abuf, alen, &s);
		if (status == ARES_SUCCESS && s.n == 0)
			status = ARES_ENODATA;
	}
	switch (status) {
	case ARES_SUCCESS:
		a.status = DNS_FOUND;
		a.rrs = s.rr;
		a.n = s.n;
		break;
	case ARES_ENOTFOUND:
		a.status = DNS_NOTFOUND;
		a.nxdomain = true;
		a.error = "host not found (NXDOMAIN)";
		break;
	case ARES_ENODATA:
		a.status = DNS_NOTFOUND;
		a.error = "no data of the requested type";
		break;
	default:
		a.status = DNS_TEMPFAIL;
		a.error = ares_strerror(status);
		break;
	}
	dns_query_finish(q, &a);
	rrset_free(&s);
}

struct dns *dns_new(struct event_base *base, const struct dns_options *opts, char **error_r)
{
	static bool lib_ready;
	struct ares_options ao;
	int mask = ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES, st;
	struct dns *d;

	if (!lib_ready) {
		st = ares_library_init(ARES_LIB_INIT_ALL);
		if (st != ARES_SUCCESS) {
			*error_r = must_asprintf("dns: c-ares: %s", ares_strerror(st));
			return NULL;
		}
		lib_ready = true;
	}
	d = must_calloc(1, sizeof(*d));
	d->base = base;
	d->max_queries = opts && opts->max_queries > 0 ? opts->max_queries : 1000;
	memset(&ao, 0, sizeof(ao));
	ao.sock_state_cb = sock_state_cb;
	ao.sock_state_cb_data = d;
	ao.timeout = opts && opts->timeout_ms > 0 ? opts->timeout_ms : 2000;
	ao.tries = opts && opts->tries > 0 ? opts->tries : 2;
	st = ares_init_options(&d->channel, &ao, mask);
	if (st != ARES_SUCCESS) {
		*error_r = must_asprintf("dns: cannot start the resolver: %s; check /etc/resolv.conf",
					 ares_strerror(st));
		free(d);
		return NULL;
	}
	d->have_channel = true;
	if (opts && opts->servers && opts->servers[0]) {
		st = ares_set_servers_ports_csv(d->channel, opts->servers);
		if (st != ARES_SUCCESS) {
			*error_r = must_asprintf("dns_nameservers: \"%s\": %s; write address[:port] "
						 "items separated by commas, IPv6 as [addr]:port",
						 opts->servers, ares_strerror(st));
			ares_destroy(d->channel);
			free(d);
			return NULL;
		}
	}
	d->timer = evtimer_new(base, timer_cb, d);
	if (d->timer == NULL) {
		*error_r = must_asprintf("dns: out of memory");
		ares_destroy(d->channel);
		free(d);
		return NULL;
	}
	return d;
}

struct dns *dns_new_fake(struct event_base *base, dns_fake_fn *fn, void *ctx)
{
	struct dns *d = calloc(1, sizeof(*d));

	if (d == NULL)
		return NULL;
	d->base = base;
	d->fake_fn = fn;
	d->fake_ctx = ctx;
	d->max_queries = 1000;
	return d;
}

struct dns_query *dns_lookup(struct dns *d, const char *name, enum dns_type type,
			     dns_cb *cb, void *ctx)
{
	bool over = d->outstanding >= d->max_queries;
	struct dns_query *q = query_new(d, name, type, cb, ctx);

	if (q == NULL)
		return NULL;
	if (!dns_name_valid(name) || over || d->fake_fn) {
		q->immediate.status = over ? DNS_TEMPFAIL : DNS_NOTFOUND;
		q->immediate.error = over ? "too many DNS queries at once (dns_max_queries)"
					  : "not a valid DNS name";
		q->fake_skip = !dns_name_valid(name) || over;
		if (query_immediate(q) < 0) {
			query_unlink(d, q);
			query_free(q);
			return NULL;
		}
		return q;
	}
	q->in_ares = true;
	d->ares_pending++;
	d->in_lookup = true;
	ares_query(d->channel, name, 1 /* C_IN */, dns_type_code(type), ares_cb, q);
	d->in_lookup = false;
	dns_timer_update(d);
	return q;
}

void dns_cancel(struct dns_query **qp)
{
	struct dns_query *q = *qp;

	if (q == NULL)
		return;
	*qp = NULL;
	query_unlink(q->dns, q);
	if (q->in_ares) {
		q->cb = NULL;
		q->done = true;
	} else {
		query_free(q);
	}
}

void dns_free(struct dns **dp)
{
	struct dns *d = *dp;

	if (d == NULL)
		return;
	*dp = NULL;
	while (d->queries) {
		struct dns_query *q = d->queries;

		dns_cancel(&q);
	}
	if (d->have_channel)
		ares_destroy(d->channel); /* frees the cancelled in_ares queries */
	while (d->watches) {
		struct dns_watch *w = d->watches;

		d->watches = w->next;
		if (w->ev)
			event_free(w->ev);
		free(w);
	}
	if (d->timer)
		event_free(d->timer);
	free(d);
}
