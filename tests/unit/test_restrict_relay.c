/*
 * test_restrict_relay.c - the open-relay battery: known address tricks,
 * sent by an unauthenticated client outside mynetworks, through the
 * address parser (smtp/address.c, as RCPT TO would) and the restrictions
 * with the default Postfix-like relay policy. Each must be refused (a
 * syntax error, a 4xx/5xx) or stay local; none may be accepted for
 * another domain. Postfix's resolver rules: ADDRESS_REWRITING_README,
 * postconf(5) allow_percent_hack, swap_bangpath, resolve_dequoted_address,
 * allow_untrusted_routing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "restrict_test_util.h"
#include "smtp/address.h"
#include "smtp/restrict-private.h"

enum expect { REFUSED, LOCAL };

struct trick {
	const char *rcpt;  /* the RCPT TO argument as a client sends it */
	enum expect expect;
};

static const struct trick tricks[] = {
	{ "<user%other.example@example.com>", REFUSED },
	{ "<other.example!user@example.com>", REFUSED },
	{ "<@example.com:user@other.example>", REFUSED },
	{ "<@example.com,@mail.example.com:user@other.example>", REFUSED },
	{ "<\"user@other.example\"@example.com>", REFUSED },
	{ "<\"user%other.example\"@example.com>", REFUSED },
	{ "<\"other.example!user\"@example.com>", REFUSED },
	{ "<user@other.example@example.com>", REFUSED },
	{ "<user@[192.0.2.1]>", REFUSED },
	{ "<user@[127.0.0.1]>", REFUSED },
	{ "<user@[IPv6:2001:db8::1]>", REFUSED },
	{ "<user@other.example.>", REFUSED },
	{ "< user@other.example >", REFUSED },
	{ "<USER@OTHER.EXAMPLE>", REFUSED },
	{ "<user%other.example%example.com@example.com>", REFUSED },
	{ "<other.example!user%example.com@example.com>", REFUSED },
	{ "<user%other.example@relay.example>", REFUSED },
	{ "<other.example!user@relay.example>", REFUSED },
	{ "<\"user@other.example\"@relay.example>", REFUSED },
	{ "<\"user@other.example\">", REFUSED },
	{ "<user\\@other.example@example.com>", REFUSED },
	{ "<user@example.com.other.example>", REFUSED },
	{ "<user@localhost.other.example>", REFUSED },
	{ "<user@sub.example.com>", REFUSED },
	{ "<user@other.example%example.com>", REFUSED },
	{ "<user@example.com@other.example>", REFUSED },
	{ "user@other.example", REFUSED },
	{ "<\"user\"@other.example>", REFUSED },
	{ "<user%other.example@EXAMPLE.COM.>", REFUSED },
	{ "<bob%example.com@example.com>", LOCAL },
	{ "<bob@example.com.>", LOCAL },
	{ "<BOB@EXAMPLE.COM>", LOCAL },
	{ "<mail.example.com!bob@example.com>", LOCAL },
	{ "<@other.example:bob@example.com>", LOCAL },
	{ "<\"bob\"@example.com>", LOCAL },
};

static void run_battery(const char *config)
{
	struct config *cfg = NULL;
	char *err = NULL;
	struct restrictions *r = rt_new(&cfg, config, &err);

	if (r == NULL)
		fail_msg("%s", err);
	for (size_t i = 0; i < sizeof(tricks) / sizeof(tricks[0]); i++) {
		const struct trick *t = &tricks[i];
		struct smtp_address a;
		const char *reply;
		struct restrict_facts f;
		struct rt_outcome o;
		char *text;
		bool accepted;

		if (smtp_address_parse(t->rcpt, strlen(t->rcpt), SMTP_ADDR_RCPT, &a, &reply) < 0) {
			if (t->expect == LOCAL)
				fail_msg("trick %zu %s: refused by the parser: %s", i, t->rcpt, reply);
			continue;
		}
		text = smtp_address_text(&a);
		rt_default_facts(&f);
		f.recipient = text;
		f.recipient_addr = &a;
		rt_run(r, RESTRICT_RCPT, &f, &o);
		accepted = strcmp(o.text, "accept") == 0;
		if (t->expect == REFUSED && accepted) {
			struct addr_resolved res;

			/* Accepted is fine only when it resolves to our own user. */
			assert_int_equal(restrict_resolve(r, text, &res), 0);
			fail_msg("trick %zu %s (%s) was accepted (class %d, %s@%s)", i, t->rcpt, text,
				 res.cls, res.local, res.domain);
		}
		if (t->expect == REFUSED && o.text[0] != '4' && o.text[0] != '5')
			fail_msg("trick %zu %s: %s", i, t->rcpt, o.text);
		if (t->expect == LOCAL) {
			struct addr_resolved res;

			if (!accepted)
				fail_msg("trick %zu %s (%s): %s", i, t->rcpt, text, o.text);
			assert_int_equal(restrict_resolve(r, text, &res), 0);
			assert_int_equal(res.cls, ADDR_LOCAL);
		}
		free(text);
		smtp_address_free(&a);
	}
	restrictions_free(&r);
	config_free(&cfg);
}

/* Postfix >= 2.10 default: defer_unauth_destination. */
static void test_default_policy(void **state)
{
	(void)state;
	run_battery("");
}

static void test_reject_policy(void **state)
{
	(void)state;
	run_battery("smtpd_relay_restrictions = permit_mynetworks, permit_sasl_authenticated, "
		    "reject_unauth_destination\n");
}

/* Old-style configuration: everything in smtpd_recipient_restrictions. */
static void test_recipient_policy(void **state)
{
	(void)state;
	run_battery("smtpd_relay_restrictions =\n"
		    "smtpd_recipient_restrictions = permit_mynetworks, reject_unauth_destination\n");
}

/* The resolver turns the tricks into the domain Postfix would route to. */
static void test_resolve(void **state)
{
	struct config *cfg = NULL;
	char *err = NULL;
	struct restrictions *r = rt_new(&cfg, "", &err);
	struct addr_resolved res;

	(void)state;
	assert_non_null(r);
	assert_int_equal(restrict_resolve(r, "user%other.example@example.com", &res), 0);
	assert_string_equal(res.local, "user");
	assert_string_equal(res.domain, "other.example");
	assert_true(res.routed);
	assert_int_equal(res.cls, ADDR_DEFAULT);
	assert_int_equal(restrict_resolve(r, "other.example!user@example.com", &res), 0);
	assert_string_equal(res.domain, "other.example");
	assert_string_equal(res.local, "user");
	assert_int_equal(restrict_resolve(r, "\"user@other.example\"@example.com", &res), 0);
	assert_string_equal(res.domain, "other.example");
	assert_int_equal(restrict_resolve(r, "user%other.example@relay.example", &res), 0);
	assert_int_equal(res.cls, ADDR_RELAY);
	assert_true(res.routed);
	assert_int_equal(restrict_resolve(r, "postmaster", &res), 0);
	assert_string_equal(res.domain, "example.com");
	assert_int_equal(res.cls, ADDR_LOCAL);
	restrictions_free(&r);
	config_free(&cfg);
}

static int teardown(void **state)
{
	(void)state;
	if (rt_base)
		event_base_free(rt_base);
	rt_base = NULL;
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_default_policy),
		cmocka_unit_test(test_reject_policy),
		cmocka_unit_test(test_recipient_policy),
		cmocka_unit_test(test_resolve),
	};

	log_init("test", 0);
	return cmocka_run_group_tests(tests, NULL, teardown);
}
