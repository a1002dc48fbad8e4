/*
 * fuzz_restrict_eval.c - libFuzzer harness for restriction evaluation
 * (smtp/restrict-eval.c and the rules): the input gives the SMTP facts
 * (client address, client name, HELO, sender, recipient, separated by
 * newlines; the first byte picks stage and flags) and runs them through a
 * configuration that uses every rule (but check_policy_service, which would
 * need a server), with a fake resolver that answers
 * from a hash of the name and a fake userdb. Checks that done runs exactly
 * once and that a reject is a 4xx/5xx line. Built by `make fuzz`; seeds
 * in tests/fuzz/corpus/fuzz_restrict_eval/.
 */
#include <event2/event.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "dns.h"
#include "log.h"
#include "smtp/restrict.h"
#include "util.h"

static struct event_base *base;
static struct config *cfg;
static struct restrictions *restr;

static void fake_dns(void *ctx, const char *name, enum dns_type type, struct dns_answer *a)
{
	static struct dns_rr rr[2];
	unsigned h = 5381;

	(void)ctx;
	for (const char *p = name; *p; p++)
		h = h * 33 + (unsigned char)*p;
	h += (unsigned)type;
	a->status = (enum dns_status)(h % 3);
	rr[0].text = type == DNS_A ? "127.0.0.2" : type == DNS_AAAA ? "::1" : "x.example";
	rr[1].text = (h & 8) ? "" : "second";
	a->rrs = rr;
	a->n = (h & 4) ? 2 : 1;
}

/* Answers from inside the call are allowed by restrict-eval (it re-runs the
 * rule); the fuzzer uses that path, the unit tests the asynchronous one. */
static unsigned fake_userdb(void *ctx, const char *what, const char *user,
			    restrict_userdb_done_fn *done, void *req_ctx)
{
	static const char *const senders[] = { "a@example.com", "@example.org" };
	static unsigned id;
	size_t n = strlen(user);

	(void)ctx;
	(void)what;
	done(req_ctx, (enum restrict_userdb_status)(n % 3), senders, 2);
	return ++id ? id : ++id;
}

static void no_cancel(void *ctx, unsigned id)
{
	(void)ctx;
	(void)id;
}

static void setup(void)
{
	static const char text[] =
		"myhostname = mail.example.com\nmydomain = example.com\nmyorigin = example.com\n"
		"mydestination = example.com, localhost\nmynetworks = 192.0.2.0/24, [2001:db8::]/32\n"
		"relay_domains = relay.example\nvirtual_alias_domains = alias.example\n"
		"virtual_alias_maps = inline:{ a@alias.example=b, @catch.example=c }\n"
		"virtual_mailbox_domains = vmail.example\n"
		"smtpd_sender_login_maps = inline:{ boss@example.com=alice }\n"
		"smtpd_restriction_classes = c1\nc1 = reject_unknown_sender_domain, permit\n"
		"smtpd_client_restrictions = check_client_access inline:{ 192.0.2.9=REJECT, { 10 = HOLD }, "
		"{ bad.example = c1 }, { x.example = DEFER_IF_REJECT } }, reject_unknown_client_hostname, "
		"reject_unknown_reverse_client_hostname, reject_rbl_client zen.example=127.0.0.[2..9], "
		"reject_rhsbl_client dbl.example, warn_if_reject reject_unauth_pipelining\n"
		"smtpd_helo_restrictions = reject_invalid_helo_hostname, reject_non_fqdn_helo_hostname, "
		"reject_unknown_helo_hostname, reject_rhsbl_helo dbl.example, "
		"check_helo_access inline:{ { h.example = REDIRECT r@example.com } }, "
		"check_helo_a_access inline:{ 127.0.0.2=DUNNO }, check_client_mx_access "
		"inline:{ x.example=REJECT }, check_reverse_client_hostname_ns_access "
		"inline:{ x.example=OK }\n"
		"rbl_reply_maps = inline:{ { zen.example = 450 $$rbl_what $${rbl_reason?{$$client}:{x}} } }\n"
		"smtpd_sender_restrictions = reject_non_fqdn_sender, reject_unknown_sender_domain, "
		"reject_sender_login_mismatch, reject_unlisted_sender, reject_rhsbl_sender dbl.example, "
		"check_sender_access inline:{ { <> = DISCARD }, { s.example = defer_if_permit } }, "
		"check_sender_mx_access inline:{ x.example=REJECT }, check_sender_ns_access "
		"inline:{ 127.0.0.2=DEFER }, check_recipient_a_access inline:{ ::1=REJECT }, "
		"check_sasl_access inline:{ alice=c1 }\n"
		"relay_recipient_maps = inline:{ r@relay.example=x }\n"
		"smtpd_relay_restrictions = permit_mynetworks, permit_sasl_authenticated, "
		"check_recipient_access inline:{ example.com=OK }, reject_unauth_destination\n"
		"smtpd_recipient_restrictions = reject_non_fqdn_recipient, reject_unknown_recipient_domain, "
		"reject_unlisted_recipient, reject_multi_recipient_bounce, reject_rhsbl_recipient dbl.example, "
		"permit_auth_destination, defer_if_reject, reject\n"
		"smtpd_data_restrictions = reject_unauth_pipelining, reject_multi_recipient_bounce\n";
	char *err = NULL;

	log_init("fuzz", 0);
	base = event_base_new();
	cfg = config_parse("fuzz.cf", text, sizeof(text) - 1, NULL, NULL);
	if (cfg == NULL)
		abort();
	restr = restrictions_new(cfg, base, &err);
	if (restr == NULL) {
		fprintf(stderr, "fuzz_restrict_eval: %s\n", err);
		abort();
	}
	restrictions_set_dns(restr, dns_new_fake(base, fake_dns, NULL));
	restrictions_set_userdb(restr, fake_userdb, no_cancel, NULL);
}

struct outcome {
	int calls;
};

static void done(void *ctx, const struct restrict_result *r)
{
	struct outcome *o = ctx;

	o->calls++;
	if (getenv("FUZZ_DEBUG"))
		fprintf(stderr, "action %d reply [%s]\n", r->action, r->reply);
	if ((r->action == RESTRICT_REJECT && r->reply[0] != '5') ||
	    (r->action == RESTRICT_DEFER && r->reply[0] != '4'))
		abort();
	if (strchr(r->reply, '\r') || strchr(r->reply, '\n'))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *copy, *fields[5] = { NULL, NULL, NULL, NULL, NULL };
	struct restrict_facts f;
	struct outcome o = { 0 };
	struct restrict_req *req;
	size_t nf = 0;

	if (base == NULL)
		setup();
	if (size < 1 || size > 2000)
		return 0;
	copy = must_strndup((const char *)data + 1, size - 1);
	for (char *p = copy, *nl; nf < 5; p = nl + 1) {
		fields[nf++] = p;
		nl = strchr(p, '\n');
		if (nl == NULL)
			break;
		*nl = '\0';
	}
	memset(&f, 0, sizeof(f));
	f.client_addr = fields[0];
	f.client_name = fields[1] ? fields[1] : "unknown";
	f.reverse_client_name = f.client_name;
	f.helo = fields[2];
	f.sender = fields[3];
	f.recipient = fields[4];
	f.sasl_username = (data[0] & 0x10) ? "alice" : NULL;
	f.pipelining_violation = data[0] & 0x20;
	f.client_name_tempfail = data[0] & 0x40;
	f.rcpt_count = data[0] >> 7;
	f.esmtp = true;
	req = restrict_check(restr, (enum restrict_stage)(data[0] % 6), &f, done, &o);
	for (int i = 0; i < 200 && o.calls == 0; i++)
		event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
	if (o.calls == 0)
		restrict_cancel(&req); /* never expected: report as a hang below */
	free(copy);
	if (o.calls != 1)
		abort();
	return 0;
}
