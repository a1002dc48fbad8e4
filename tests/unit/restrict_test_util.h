/*
 * restrict_test_util.h - shared by tests/unit/test_restrict*.c: a config
 * from text, a fake resolver (lib/dns.h dns_new_fake) with a fixed zone,
 * a fake auth userdb answering from the event loop, and check() that runs
 * restrict_check to completion and returns the outcome as one string:
 * the reply line for REJECT/DEFER, "accept", "DISCARD", "HOLD" or
 * "REDIRECT addr".
 */
#ifndef RESTRICT_TEST_UTIL_H
#define RESTRICT_TEST_UTIL_H

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "dns.h"
#include "log.h"
#include "smtp/restrict.h"
#include "util.h"

static const char rt_base_config[] =
	"myhostname = mail.example.com\n"
	"mydomain = example.com\n"
	"myorigin = example.com\n"
	"mydestination = example.com, mail.example.com, localhost\n"
	"mynetworks = 192.168.0.0/16, [2001:db8::]/32\n"
	"relay_domains = relay.example\n"
	"virtual_alias_domains = valias.example\n"
	"virtual_alias_maps = inline:{ info@valias.example=bob, alias@example.com=bob }\n"
	"virtual_mailbox_domains = vmail.example\n"
	"local_recipient_maps = auth:userdb\n"
	"smtpd_sender_login_maps = inline:{ boss@example.com=alice, { shared@example.com = alice bob } }\n";

/* ---- fake DNS ---- */
struct rt_rr { const char *name; enum dns_type type; enum dns_status st; const char *text[3]; };

static const struct rt_rr rt_zone[] = {
	{ "9.113.0.203.zen.example", DNS_A, DNS_FOUND, { "127.0.0.2" } },
	{ "9.113.0.203.zen.example", DNS_TXT, DNS_FOUND, { "Blocked: see https://zen.example/q?203.0.113.9" } },
	{ "9.113.0.203.temp.example", DNS_A, DNS_TEMPFAIL, { NULL } },
	{ "9.113.0.203.multi.example", DNS_A, DNS_FOUND, { "127.0.0.4" } },
	{ "9.113.0.203.multi.example", DNS_TXT, DNS_FOUND, { "first", "second" } },
	{ "good.example", DNS_A, DNS_FOUND, { "192.0.2.10" } },
	{ "good.example", DNS_MX, DNS_FOUND, { "mx.good.example" } },
	{ "tempfail.example", DNS_A, DNS_TEMPFAIL, { NULL } },
	{ "tempfail.example", DNS_AAAA, DNS_TEMPFAIL, { NULL } },
	{ "tempfail.example", DNS_MX, DNS_TEMPFAIL, { NULL } },
	{ "tempdom.example", DNS_MX, DNS_TEMPFAIL, { NULL } },
	{ "nullmx.example", DNS_MX, DNS_FOUND, { "" } },
	{ "aonly.example", DNS_A, DNS_FOUND, { "192.0.2.11" } },
	{ "spam.example.dbl.example", DNS_A, DNS_FOUND, { "127.0.1.2" } },
	{ "host.spam.example.dbl.example", DNS_A, DNS_FOUND, { "127.0.1.2" } },
	/* check_*_{a,mx,ns}_access (test_restrict_more.c) */
	{ "mx.good.example", DNS_A, DNS_FOUND, { "192.0.2.20" } },
	{ "good.example", DNS_NS, DNS_FOUND, { "ns1.good.example", "ns2.good.example" } },
	{ "ns2.good.example", DNS_AAAA, DNS_FOUND, { "2001:db8::53" } },
	{ NULL, DNS_A, DNS_NOTFOUND, { NULL } },
};
static unsigned rt_dns_queries;

static void rt_fake_dns(void *ctx, const char *name, enum dns_type type, struct dns_answer *a)
{
	static struct dns_rr rrs[3];

	(void)ctx;
	rt_dns_queries++;
	for (const struct rt_rr *z = rt_zone; z->name; z++) {
		if (strcasecmp(z->name, name) != 0 || z->type != type)
			continue;
		a->status = z->st;
		a->n = 0;
		for (int i = 0; i < 3 && z->text[i]; i++) {
			rrs[i].text = z->text[i];
			a->n++;
		}
		a->rrs = rrs;
		return;
	}
	a->status = DNS_NOTFOUND;
	a->nxdomain = true;
}

/* ---- fake userdb ---- */
struct rt_call {
	struct event *ev;
	char what[16], user[128];
	restrict_userdb_done_fn *done;
	void *req_ctx;
	unsigned id;
	struct rt_call *next;
};
static struct rt_call *rt_calls;
static unsigned rt_next_id = 1;
static struct event_base *rt_base;

static void rt_unlink(struct rt_call *c)
{
	for (struct rt_call **pp = &rt_calls; *pp; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			return;
		}
}

static void rt_userdb_fire(evutil_socket_t fd, short what, void *arg)
{
	struct rt_call *c = arg;
	static const char *const alice_senders[] = { "alice@example.com", "@alice.example" };
	static const char *const bob_senders[] = { "bob@example.com" };
	enum restrict_userdb_status st = RESTRICT_USERDB_NOTFOUND;
	const char *const *fields = NULL;
	size_t n = 0;

	(void)fd;
	(void)what;
	rt_unlink(c);
	if (strcmp(c->what, "USER") == 0) {
		if (strcmp(c->user, "bob") == 0 || strcmp(c->user, "alice") == 0 ||
		    strcmp(c->user, "carol@vmail.example") == 0 ||
		    strcmp(c->user, "dora@example.com") == 0)
			st = RESTRICT_USERDB_FOUND;
		else if (strcmp(c->user, "tempuser") == 0 ||
			 strcmp(c->user, "tempuser@example.com") == 0)
			st = RESTRICT_USERDB_TEMPFAIL;
	} else if (strcmp(c->what, "SENDERS") == 0) {
		if (strcmp(c->user, "alice") == 0) {
			st = RESTRICT_USERDB_FOUND;
			fields = alice_senders;
			n = 2;
		} else if (strcmp(c->user, "bob") == 0) {
			st = RESTRICT_USERDB_FOUND;
			fields = bob_senders;
			n = 1;
		}
	}
	c->done(c->req_ctx, st, fields, n);
	event_free(c->ev);
	free(c);
}

static unsigned rt_userdb_lookup(void *ctx, const char *what, const char *user,
				 restrict_userdb_done_fn *done, void *req_ctx)
{
	struct rt_call *c = calloc(1, sizeof(*c));
	struct timeval zero = { 0, 0 };

	(void)ctx;
	str_copy(c->what, what, sizeof(c->what));
	str_copy(c->user, user, sizeof(c->user));
	c->done = done;
	c->req_ctx = req_ctx;
	c->id = rt_next_id++;
	c->ev = evtimer_new(rt_base, rt_userdb_fire, c);
	evtimer_add(c->ev, &zero);
	c->next = rt_calls;
	rt_calls = c;
	return c->id;
}

static void rt_userdb_cancel(void *ctx, unsigned id)
{
	(void)ctx;
	for (struct rt_call *c = rt_calls; c; c = c->next)
		if (c->id == id) {
			rt_unlink(c);
			event_free(c->ev);
			free(c);
			return;
		}
}

/* ---- running a check ---- */
static char rt_errors[4096];

static void rt_report(enum config_level level, const char *msg, void *ctx)
{
	size_t n = strlen(rt_errors);

	(void)ctx;
	if (level == CONFIG_ERROR)
		snprintf(rt_errors + n, sizeof(rt_errors) - n, "%s\n", msg);
}

static struct config *rt_config(const char *extra)
{
	char *text = must_asprintf("%s%s", rt_base_config, extra ? extra : "");
	struct config *cfg;

	rt_errors[0] = '\0';
	cfg = config_parse("t.cf", text, strlen(text), rt_report, NULL);
	free(text);
	if (cfg == NULL)
		fprintf(stderr, "config errors:\n%s", rt_errors);
	return cfg;
}

/* restrictions for extra config lines; *error_r gets the restrictions_new
 * error (new memory) when it fails. */
static struct restrictions *rt_new(struct config **cfg_r, const char *extra, char **error_r)
{
	struct restrictions *r;

	if (rt_base == NULL)
		rt_base = event_base_new();
	*cfg_r = rt_config(extra);
	if (*cfg_r == NULL)
		return NULL;
	r = restrictions_new(*cfg_r, rt_base, error_r);
	if (r == NULL)
		return NULL;
	restrictions_set_dns(r, dns_new_fake(rt_base, rt_fake_dns, NULL));
	restrictions_set_userdb(r, rt_userdb_lookup, rt_userdb_cancel, NULL);
	return r;
}

struct rt_outcome {
	bool done;
	char text[600];
	char log[600];
	bool warn_only;
};

static void rt_done(void *ctx, const struct restrict_result *res)
{
	struct rt_outcome *o = ctx;

	o->done = true;
	o->warn_only = res->warn_only;
	str_copy(o->log, res->log, sizeof(o->log));
	switch (res->action) {
	case RESTRICT_REJECT:
	case RESTRICT_DEFER:
		str_copy(o->text, res->reply, sizeof(o->text));
		break;
	case RESTRICT_CONTINUE:
	case RESTRICT_OK:
		str_copy(o->text, "accept", sizeof(o->text));
		break;
	case RESTRICT_DISCARD:
		str_copy(o->text, "DISCARD", sizeof(o->text));
		break;
	case RESTRICT_HOLD:
		str_copy(o->text, "HOLD", sizeof(o->text));
		break;
	case RESTRICT_REDIRECT:
		snprintf(o->text, sizeof(o->text), "REDIRECT %s", res->redirect);
		break;
	}
}

static void rt_run(struct restrictions *r, enum restrict_stage stage,
		   const struct restrict_facts *f, struct rt_outcome *o)
{
	struct restrict_req *req;

	memset(o, 0, sizeof(*o));
	req = restrict_check(r, stage, f, rt_done, o);
	if (req == NULL) {
		str_copy(o->text, "OOM", sizeof(o->text));
		return;
	}
	for (int i = 0; i < 1000 && !o->done; i++)
		event_base_loop(rt_base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
	if (!o->done) {
		restrict_cancel(&req);
		str_copy(o->text, "NOT DONE", sizeof(o->text));
	}
}

static void rt_default_facts(struct restrict_facts *f)
{
	memset(f, 0, sizeof(*f));
	f->client_addr = "203.0.113.9";
	f->client_name = "unknown";
	f->reverse_client_name = "unknown";
	f->helo = "good.example";
	f->sender = "s@good.example";
	f->recipient = "bob@example.com";
	f->esmtp = true;
}

#endif
