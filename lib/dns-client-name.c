/*
 * dns-client-name.c - forward-confirmed reverse DNS for the SMTP client
 * (Postfix's reverse_client_name vs client_name, postconf(5)
 * reject_unknown_client_hostname / reject_unknown_reverse_client_hostname):
 * PTR of the address, then A (IPv4) or AAAA (IPv6) of up to
 * DNS_CLIENT_NAME_MAX_PTR of the names; the first name whose addresses
 * contain the client address is the client name.
 *
 * Called by the SMTP session at connect time (dns.h dns_client_name()).
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "dns-private.h"
#include "util.h"

#define DNS_CLIENT_NAME_MAX_PTR 5

struct dns_client_name_req {
	struct dns *dns;
	char addr[INET6_ADDRSTRLEN];
	unsigned char bin[16];
	int family;
	char *ptr[DNS_CLIENT_NAME_MAX_PTR];
	size_t nptr, next;
	bool fwd_tempfail;
	struct dns_query *q;
	dns_client_name_cb *cb;
	void *ctx;
};

static void req_free(struct dns_client_name_req *r)
{
	for (size_t i = 0; i < r->nptr; i++)
		free(r->ptr[i]);
	free(r);
}

static void finish(struct dns_client_name_req *r, const char *name, bool name_temp,
		   const char *rev, bool rev_temp)
{
	struct dns_client_name res = { .name = name, .reverse_name = rev,
				       .name_tempfail = name_temp, .reverse_name_tempfail = rev_temp };

	r->cb(r->ctx, &res);
	req_free(r);
}

static void forward_next(struct dns_client_name_req *r);

static void forward_cb(void *ctx, const struct dns_answer *a)
{
	struct dns_client_name_req *r = ctx;
	const char *name = r->ptr[r->next];

	r->q = NULL;
	if (a->status == DNS_TEMPFAIL)
		r->fwd_tempfail = true;
	for (size_t i = 0; a->status == DNS_FOUND && i < a->n; i++) {
		unsigned char b[16];

		if (inet_pton(r->family, a->rrs[i].text, b) == 1 &&
		    memcmp(b, r->bin, r->family == AF_INET ? 4 : 16) == 0) {
			finish(r, name, false, r->ptr[0], false);
			return;
		}
	}
	r->next++;
	forward_next(r);
}

static void forward_next(struct dns_client_name_req *r)
{
	if (r->next >= r->nptr) {
		finish(r, "unknown", r->fwd_tempfail, r->ptr[0], false);
		return;
	}
	r->q = dns_lookup(r->dns, r->ptr[r->next], r->family == AF_INET ? DNS_A : DNS_AAAA,
			  forward_cb, r);
	if (r->q == NULL)
		finish(r, "unknown", true, r->ptr[0], false);
}

static void ptr_cb(void *ctx, const struct dns_answer *a)
{
	struct dns_client_name_req *r = ctx;

	r->q = NULL;
	if (a->status != DNS_FOUND) {
		bool temp = a->status == DNS_TEMPFAIL;

		finish(r, "unknown", temp, "unknown", temp);
		return;
	}
	for (size_t i = 0; i < a->n && r->nptr < DNS_CLIENT_NAME_MAX_PTR; i++) {
		/* A PTR that is not a host name ("1.2.3.4", garbage) is ignored,
		 * as Postfix's valid_hostname() check does. */
		if (!dns_name_valid(a->rrs[i].text) ||
		    strspn(a->rrs[i].text, "0123456789.") == strlen(a->rrs[i].text))
			continue;
		r->ptr[r->nptr] = strdup(a->rrs[i].text);
		if (r->ptr[r->nptr])
			r->nptr++;
	}
	if (r->nptr == 0) {
		finish(r, "unknown", false, "unknown", false);
		return;
	}
	forward_next(r);
}

struct dns_client_name_req *dns_client_name(struct dns *d, const char *addr,
					    dns_client_name_cb *cb, void *ctx)
{
	struct dns_client_name_req *r = calloc(1, sizeof(*r));
	char rev[80];

	if (r == NULL)
		return NULL;
	r->dns = d;
	r->cb = cb;
	r->ctx = ctx;
	str_copy(r->addr, addr, sizeof(r->addr));
	if (inet_pton(AF_INET, addr, r->bin) == 1) {
		r->family = AF_INET;
	} else if (inet_pton(AF_INET6, addr, r->bin) == 1) {
		r->family = AF_INET6;
	}
	/* Not an address: the PTR name is invalid, dns_lookup answers
	 * NOTFOUND from the loop, so the name is "unknown". */
	if (r->family == 0 || dns_reverse_name(addr, rev, sizeof(rev)) < 0)
		str_copy(rev, "invalid..", sizeof(rev));
	r->q = dns_lookup(d, rev, DNS_PTR, ptr_cb, r);
	if (r->q == NULL) {
		free(r);
		return NULL;
	}
	return r;
}

void dns_client_name_cancel(struct dns_client_name_req **rp)
{
	struct dns_client_name_req *r = *rp;

	if (r == NULL)
		return;
	*rp = NULL;
	dns_cancel(&r->q);
	req_free(r);
}
