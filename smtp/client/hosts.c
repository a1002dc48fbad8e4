/*
 * hosts.c - where one nexthop's mail goes: the nexthop syntax, the MX
 * look-up and the address look-ups, as a list of addresses to try in
 * order.
 *
 * Called by client.c at the start of each delivery. RFC 5321 5.1 (MX
 * records in preference order, random among equal preferences, the
 * domain's own address records when it has no MX), RFC 7505 (a null MX:
 * the domain takes no mail; bounced with 5.1.10), Postfix smtp(8)
 * ("[host]" means no MX look-up, "host:port"), postconf(5)
 * smtp_mx_address_limit and smtp_address_preference. Texts are
 * Postfix's: "Host or domain name not found. Name service error for
 * name=N type=T: Host not found[, try again]" (5.4.4 / 4.4.3) and
 * "Domain D does not accept mail (nullMX)".
 *
 * Limitations: smtp_host_lookup = native (getaddrinfo, /etc/hosts) is not
 * done; every name is looked up in the DNS (a numeric [addr] needs none).
 * With smtp_address_preference = any, IPv4 comes before IPv6 for one host.
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "dns.h"
#include "smtp/client/client-private.h"

struct mx_name {
	char *name;
	unsigned pref;
	unsigned rnd;
};

struct smtpc_hosts_req {
	struct smtpc *c;
	smtpc_hosts_cb *cb;
	void *ctx;
	struct smtpc_nexthop nh;
	int port;
	struct dns_query *q;
	struct event *ev;           /* answers that need no look-up */
	struct mx_name *mx;
	size_t n_mx, mx_i;
	int phase;                  /* 0: first family, 1: second family of mx[mx_i] */
	bool any_tempfail;
	char last_name[256];
	enum dns_type last_type;
	struct smtpc_host *hosts;
	size_t n_hosts, cap_hosts;
	struct smtpc_why why;       /* a failure decided without a look-up */
	bool failed;
};

int smtpc_nexthop_parse(const char *nexthop, struct smtpc_nexthop *n, const char **error_r)
{
	const char *host = nexthop, *end, *colon = NULL;
	size_t len;
	char buf[256];
	unsigned char tmp[16];

	memset(n, 0, sizeof(*n));
	if (nexthop == NULL || *nexthop == '\0') {
		*error_r = "empty nexthop";
		return -1;
	}
	if (*host == '[') {
		end = strchr(host, ']');
		if (end == NULL) {
			*error_r = "nexthop has '[' without ']'";
			return -1;
		}
		host++;
		len = (size_t)(end - host);
		n->no_mx = true;
		if (end[1] == ':')
			colon = end + 1;
		else if (end[1] != '\0') {
			*error_r = "text after ']' in nexthop; write [host] or [host]:port";
			return -1;
		}
	} else {
		colon = strrchr(host, ':');
		len = colon != NULL ? (size_t)(colon - host) : strlen(host);
	}
	if (colon != NULL) {
		n->port = parse_port(colon + 1);
		if (n->port < 0) {
			*error_r = "nexthop port is not a number from 1 to 65535";
			return -1;
		}
	}
	if (len == 0 || len >= sizeof(buf)) {
		*error_r = "nexthop host name is empty or too long";
		return -1;
	}
	memcpy(buf, host, len);
	buf[len] = '\0';
	if (n->no_mx && strncasecmp(buf, "IPv6:", 5) == 0) {
		memmove(buf, buf + 5, len - 4);
		if (inet_pton(AF_INET6, buf, tmp) != 1) {
			*error_r = "nexthop [IPv6:...] is not an IPv6 address";
			return -1;
		}
		n->numeric = true;
	} else if (n->no_mx && (inet_pton(AF_INET, buf, tmp) == 1 || inet_pton(AF_INET6, buf, tmp) == 1)) {
		n->numeric = true;
	}
	n->host = strdup(buf);
	if (n->host == NULL) {
		*error_r = "out of memory";
		return -1;
	}
	return 0;
}

void smtpc_hosts_free(struct smtpc_host *hosts, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(hosts[i].name);
		free(hosts[i].addr);
	}
	free(hosts);
}

static void req_free(struct smtpc_hosts_req *r)
{
	size_t i;

	dns_cancel(&r->q);
	if (r->ev != NULL)
		event_free(r->ev);
	for (i = 0; i < r->n_mx; i++)
		free(r->mx[i].name);
	free(r->mx);
	free(r->nh.host);
	smtpc_hosts_free(r->hosts, r->n_hosts);
	smtpc_why_clear(&r->why);
	free(r);
}

void smtpc_hosts_cancel(struct smtpc_hosts_req **rp)
{
	if (*rp == NULL)
		return;
	req_free(*rp);
	*rp = NULL;
}

/* finish - hand the list (or the failure) over; r is freed. */
static void finish(struct smtpc_hosts_req *r)
{
	struct smtpc_host *hosts = r->hosts;
	size_t n = r->n_hosts;

	if (!r->failed && n > 0) {
		r->hosts = NULL;
		r->n_hosts = 0;
		r->cb(r->ctx, hosts, n, NULL);
	} else {
		if (!r->failed) {
			/* every name had no address */
			if (r->any_tempfail)
				smtpc_why_set(&r->why, QDEST_DEFERRED, "4.4.3", "none", "",
					      "Host or domain name not found. Name service error for "
					      "name=%s type=%s: Host not found, try again",
					      r->last_name, dns_type_name(r->last_type));
			else
				smtpc_why_set(&r->why, QDEST_BOUNCED, "5.4.4", "none", "",
					      "Host or domain name not found. Name service error for "
					      "name=%s type=%s: Host not found",
					      r->last_name, dns_type_name(r->last_type));
		}
		r->cb(r->ctx, NULL, 0, &r->why);
	}
	req_free(r);
}

static void finish_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	finish(arg);
}

static int add_host(struct smtpc_hosts_req *r, const char *name, const char *addr)
{
	struct smtpc_host *h;
	size_t i;

	for (i = 0; i < r->n_hosts; i++)
		if (strcmp(r->hosts[i].addr, addr) == 0)
			return 0;   /* the same address under two MX names: once is enough */
	if (r->c->set.mx_address_limit > 0 && r->n_hosts >= (size_t)r->c->set.mx_address_limit)
		return 0;
	if (r->n_hosts == r->cap_hosts) {
		size_t cap = r->cap_hosts ? r->cap_hosts * 2 : 4;

		h = realloc(r->hosts, cap * sizeof(*h));
		if (h == NULL)
			return -1;
		r->hosts = h;
		r->cap_hosts = cap;
	}
	h = &r->hosts[r->n_hosts];
	h->name = strdup(name);
	h->addr = strdup(addr);
	h->port = r->port;
	if (h->name == NULL || h->addr == NULL) {
		free(h->name);
		free(h->addr);
		return -1;
	}
	r->n_hosts++;
	return 0;
}

static enum dns_type family_type(const struct smtpc_hosts_req *r, int phase)
{
	bool v6_first = r->c->set.addr_pref == 6;

	return (phase == 0) == v6_first ? DNS_AAAA : DNS_A;
}

static void addr_cb(void *ctx, const struct dns_answer *a);

/* next_lookup - the next address look-up, or finish. */
static void next_lookup(struct smtpc_hosts_req *r)
{
	while (r->mx_i < r->n_mx) {
		if (r->c->set.mx_address_limit > 0 && r->n_hosts >= (size_t)r->c->set.mx_address_limit)
			break;
		if (r->phase < 2) {
			enum dns_type t = family_type(r, r->phase);

			r->q = dns_lookup(r->c->dns, r->mx[r->mx_i].name, t, addr_cb, r);
			if (r->q == NULL) {
				r->failed = true;
				smtpc_why_set(&r->why, QDEST_DEFERRED, "4.3.0", "none", "",
					      "out of memory for a DNS look-up");
				break;
			}
			return;
		}
		r->phase = 0;
		r->mx_i++;
	}
	finish(r);
}

static void addr_cb(void *ctx, const struct dns_answer *a)
{
	struct smtpc_hosts_req *r = ctx;
	size_t i;

	r->q = NULL;
	if (a->status == DNS_FOUND) {
		for (i = 0; i < a->n; i++) {
			if (add_host(r, r->mx[r->mx_i].name, a->rrs[i].text) < 0) {
				r->failed = true;
				smtpc_why_set(&r->why, QDEST_DEFERRED, "4.3.0", "none", "",
					      "out of memory for the host list");
				finish(r);
				return;
			}
		}
	} else {
		if (a->status == DNS_TEMPFAIL)
			r->any_tempfail = true;
		str_copy(r->last_name, r->mx[r->mx_i].name, sizeof(r->last_name));
		r->last_type = family_type(r, r->phase);
		/* "A" is the type Postfix names when neither family exists */
		if (r->phase == 1 && a->status == DNS_NOTFOUND)
			r->last_type = DNS_A;
	}
	r->phase++;
	next_lookup(r);
}

static int mx_cmp(const void *a, const void *b)
{
	const struct mx_name *x = a, *y = b;

	if (x->pref != y->pref)
		return x->pref < y->pref ? -1 : 1;
	return x->rnd < y->rnd ? -1 : x->rnd > y->rnd;
}

static int set_names_one(struct smtpc_hosts_req *r, const char *name)
{
	r->mx = calloc(1, sizeof(*r->mx));
	if (r->mx == NULL || (r->mx[0].name = strdup(name)) == NULL)
		return -1;
	r->n_mx = 1;
	return 0;
}

static void mx_cb(void *ctx, const struct dns_answer *a)
{
	struct smtpc_hosts_req *r = ctx;
	size_t i;

	r->q = NULL;
	if (a->status == DNS_TEMPFAIL) {
		r->failed = true;
		smtpc_why_set(&r->why, QDEST_DEFERRED, "4.4.3", "none", "",
			      "Host or domain name not found. Name service error for name=%s "
			      "type=MX: Host not found, try again", r->nh.host);
		finish(r);
		return;
	}
	if (a->status == DNS_NOTFOUND && a->nxdomain) {
		r->failed = true;
		smtpc_why_set(&r->why, QDEST_BOUNCED, "5.4.4", "none", "",
			      "Host or domain name not found. Name service error for name=%s "
			      "type=MX: Host not found", r->nh.host);
		finish(r);
		return;
	}
	if (a->status == DNS_NOTFOUND) {
		/* no MX: the domain's own addresses (RFC 5321 5.1) */
		if (set_names_one(r, r->nh.host) < 0)
			goto nomem;
		next_lookup(r);
		return;
	}
	/* RFC 7505 3: a null MX is the only MX record, "." with preference 0 */
	for (i = 0; i < a->n; i++) {
		if (a->rrs[i].text[0] == '\0' || strcmp(a->rrs[i].text, ".") == 0) {
			r->failed = true;
			smtpc_why_set(&r->why, QDEST_BOUNCED, "5.1.10", "none", "",
				      "Domain %s does not accept mail (nullMX)", r->nh.host);
			finish(r);
			return;
		}
	}
	r->mx = calloc(a->n, sizeof(*r->mx));
	if (r->mx == NULL)
		goto nomem;
	for (i = 0; i < a->n; i++) {
		r->mx[i].name = strdup(a->rrs[i].text);
		if (r->mx[i].name == NULL)
			goto nomem;
		r->mx[i].pref = a->rrs[i].pref;
		r->mx[i].rnd = arc4random();   /* the order among equals must differ between runs */
		r->n_mx++;
	}
	qsort(r->mx, r->n_mx, sizeof(*r->mx), mx_cmp);
	next_lookup(r);
	return;
nomem:
	r->failed = true;
	smtpc_why_set(&r->why, QDEST_DEFERRED, "4.3.0", "none", "", "out of memory for the MX list");
	finish(r);
}

struct smtpc_hosts_req *smtpc_hosts_find(struct smtpc *c, const char *nexthop,
					 smtpc_hosts_cb *cb, void *ctx)
{
	struct smtpc_hosts_req *r = calloc(1, sizeof(*r));
	const char *error = NULL;

	if (r == NULL)
		return NULL;
	r->c = c;
	r->cb = cb;
	r->ctx = ctx;
	r->ev = event_new(c->base, -1, 0, finish_cb, r);
	if (r->ev == NULL) {
		free(r);
		return NULL;
	}
	if (smtpc_nexthop_parse(nexthop, &r->nh, &error) < 0) {
		r->failed = true;
		if (smtpc_why_set(&r->why, QDEST_DEFERRED, "4.3.5", "none", "",
				  "bad nexthop \"%s\": %s", nexthop, error) < 0)
			goto fail;
		event_active(r->ev, 0, 0);
		return r;
	}
	r->port = r->nh.port > 0 ? r->nh.port : c->set.tcp_port;
	if (r->nh.numeric) {
		if (add_host(r, r->nh.host, r->nh.host) < 0)
			goto fail;
		event_active(r->ev, 0, 0);
		return r;
	}
	if (r->nh.no_mx) {
		if (set_names_one(r, r->nh.host) < 0)
			goto fail;
		r->q = dns_lookup(c->dns, r->nh.host, family_type(r, 0), addr_cb, r);
		if (r->q == NULL)
			goto fail;
		return r;
	}
	r->q = dns_lookup(c->dns, r->nh.host, DNS_MX, mx_cb, r);
	if (r->q == NULL)
		goto fail;
	return r;
fail:
	req_free(r);
	return NULL;
}
