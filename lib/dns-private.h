/*
 * dns-private.h - what dns.c and dns-client-name.c share. Nothing outside
 * lib/dns*.c includes it (the public contract is dns.h).
 */
#ifndef POSTERN_DNS_PRIVATE_H
#define POSTERN_DNS_PRIVATE_H

#include <ares.h>
#include <stdbool.h>

#include "dns.h"

struct event;
struct dns_watch;

struct dns {
	struct event_base *base;
	ares_channel channel;
	bool have_channel;
	bool in_lookup;              /* inside ares_query() */
	int ares_pending;            /* queries c-ares still holds */
	struct dns_watch *watches;
	struct event *timer;
	struct dns_query *queries;   /* outstanding, for dns_free */
	int outstanding, max_queries;
	dns_fake_fn *fake_fn;        /* dns_new_fake */
	void *fake_ctx;
};

struct dns_query {
	struct dns *dns;
	char *name;
	enum dns_type type;
	dns_cb *cb;                  /* NULL once cancelled */
	void *ctx;
	struct event *ev;            /* immediate answers */
	struct dns_answer immediate;
	bool fake_skip;              /* immediate answer is final, no fake_fn */
	bool in_ares;                /* c-ares holds a pointer to it */
	bool done;                   /* delivered or cancelled while in_ares */
	struct dns_query *next;
};

/* dns_name_valid - can name be asked for (RFC 1035 2.3.4)? */
bool dns_name_valid(const char *name);
/* dns_query_finish - unlink q, call its callback with a, free or mark it. */
void dns_query_finish(struct dns_query *q, const struct dns_answer *a);
/* dns_timer_update - re-arm the retry timer after c-ares did work. */
void dns_timer_update(struct dns *d);

#endif
