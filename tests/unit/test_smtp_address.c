/*
 * test_smtp_address.c - smtp/address.c: RFC 5321 paths, table-driven:
 * input and flags in, local part / domain or the exact error reply out.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <stdlib.h>

#include <cmocka.h>

#include "smtp/address.h"

/* The tables below name only the flags that are set. */
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

struct ok_case {
	const char *in;
	unsigned flags;
	const char *local, *domain;
	bool null, quoted, route, literal, utf8;
};

static const struct ok_case ok_cases[] = {
	{ "<user@example.com>", 0, "user", "example.com" },
	{ "user@example.com", 0, "user", "example.com" },           /* lenient: no brackets */
	{ "  <User@EXAMPLE.Com>  ", 0, "User", "example.com" },     /* domain folded, local kept */
	{ "<>", SMTP_ADDR_ALLOW_NULL, "", "", .null = true },
	{ "<postmaster>", 0, "postmaster", "" },
	{ "<user@example.com.>", 0, "user", "example.com" },         /* root dot stripped */
	{ "<@a.example,@b.example:user@c.example>", 0, "user", "c.example", .route = true },
	{ "<user%other@example.com>", 0, "user%other", "example.com" },
	{ "<other!user@example.com>", 0, "other!user", "example.com" },
	{ "<\"john.doe\"@example.com>", 0, "john.doe", "example.com" },
	{ "<\"user@other\"@example.com>", 0, "\"user@other\"", "example.com", .quoted = true },
	{ "<\"a b\"@example.com>", 0, "\"a b\"", "example.com", .quoted = true },
	{ "<user@[192.0.2.1]>", 0, "user", "[192.0.2.1]", .literal = true },
	{ "<user@[IPv6:2001:db8::1]>", 0, "user", "[ipv6:2001:db8::1]", .literal = true },
	{ "<j\xc3\xb6rg@b\xc3\xbc" "cher.example>", SMTP_ADDR_SMTPUTF8, "j\xc3\xb6rg",
	  "b\xc3\xbc" "cher.example", .utf8 = true },
	{ "<a+tag@sub.example.org>", SMTP_ADDR_STRICT, "a+tag", "sub.example.org" },
	{ "<john..doe@example.com>", 0, "john..doe", "example.com" }, /* lenient like Postfix */
};

struct bad_case {
	const char *in;
	unsigned flags;
	const char *reply;
};

static const struct bad_case bad_cases[] = {
	{ "<>", 0, "501 5.1.7 Bad sender address syntax" },
	{ "<>", SMTP_ADDR_RCPT, "501 5.1.3 Bad recipient address syntax" },
	{ "user@example.com", SMTP_ADDR_STRICT, "501 5.1.7 Bad sender address syntax" },
	{ "<user@example.com", 0, "501 5.1.7 Bad sender address syntax" },
	{ "<user@other@example.com>", SMTP_ADDR_RCPT, "501 5.1.3 Bad recipient address syntax" },
	{ "<user@exa mple.com>", 0, "501 5.1.7 Bad sender address syntax" },
	{ "<user@example..com>", 0, "501 5.1.7 Bad sender address syntax" },
	{ "<user@.example.com>", 0, "501 5.1.7 Bad sender address syntax" },
	{ "<user@>", 0, "501 5.1.7 Bad sender address syntax" },
	{ "<@example.com>", 0, "501 5.1.7 Bad sender address syntax" },
	{ "<@a.example:>", 0, "501 5.1.7 Bad sender address syntax" },
	{ "<user@[1.2.3.999]>", 0, "501 5.1.7 Bad sender address syntax" },
	{ "<user@[tag:stuff]>", 0, "501 5.1.7 Bad sender address syntax" },
	{ "<\"unterminated@example.com>", 0, "501 5.1.7 Bad sender address syntax" },
	{ "<us\x01" "er@example.com>", 0, "501 5.1.7 Bad sender address syntax" },
	{ "<j\xc3\xb6rg@example.com>", 0, "553 5.6.7 Must declare SMTPUTF8 to send unicode address" },
	{ "<j\xff" "rg@example.com>", SMTP_ADDR_SMTPUTF8, "501 5.1.7 Bad sender address syntax" },
	{ "<john..doe@example.com>", SMTP_ADDR_STRICT, "501 5.1.7 Bad sender address syntax" },
	{ "<user@exam_ple.com\\>", 0, "501 5.1.7 Bad sender address syntax" },
};

static void test_ok(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(ok_cases) / sizeof(ok_cases[0]); i++) {
		const struct ok_case *c = &ok_cases[i];
		struct smtp_address a;
		const char *reply = NULL;
		int ret = smtp_address_parse(c->in, strlen(c->in), c->flags, &a, &reply);

		if (ret != 0)
			fail_msg("case %zu \"%s\": %s", i, c->in, reply);
		assert_string_equal(a.local, c->local);
		assert_string_equal(a.domain, c->domain);
		assert_int_equal(a.null, c->null);
		assert_int_equal(a.quoted_local, c->quoted);
		assert_int_equal(a.had_route, c->route);
		assert_int_equal(a.ip_literal, c->literal);
		assert_int_equal(a.utf8, c->utf8);
		smtp_address_free(&a);
	}
}

static void test_bad(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const struct bad_case *c = &bad_cases[i];
		struct smtp_address a;
		const char *reply = NULL;

		if (smtp_address_parse(c->in, strlen(c->in), c->flags, &a, &reply) == 0)
			fail_msg("case %zu \"%s\" accepted as %s@%s", i, c->in, a.local, a.domain);
		assert_string_equal(reply, c->reply);
		assert_null(a.local);
	}
}

static void test_limits(void **state)
{
	char buf[400];
	struct smtp_address a;
	const char *reply;

	(void)state;
	/* local part of 64 is fine, 65 is not (RFC 5321 4.5.3.1.1) */
	memset(buf, 0, sizeof(buf));
	buf[0] = '<';
	memset(buf + 1, 'a', 64);
	strcat(buf, "@example.com>");
	assert_int_equal(smtp_address_parse(buf, strlen(buf), 0, &a, &reply), 0);
	smtp_address_free(&a);
	memset(buf, 0, sizeof(buf));
	buf[0] = '<';
	memset(buf + 1, 'a', 65);
	strcat(buf, "@example.com>");
	assert_int_equal(smtp_address_parse(buf, strlen(buf), SMTP_ADDR_RCPT, &a, &reply), -1);
	assert_string_equal(reply, "553 5.1.3 Recipient address too long");
	/* whole path over 256 */
	memset(buf, 0, sizeof(buf));
	strcpy(buf, "<a@");
	for (int i = 0; i < 5; i++)
		strcat(buf, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.");
	strcat(buf, "example>");
	assert_int_equal(smtp_address_parse(buf, strlen(buf), 0, &a, &reply), -1);
	assert_string_equal(reply, "553 5.1.7 Sender address too long");
	/* a label over 63 */
	memset(buf, 0, sizeof(buf));
	strcpy(buf, "<a@");
	memset(buf + 3, 'b', 64);
	strcat(buf, ".example>");
	assert_int_equal(smtp_address_parse(buf, strlen(buf), 0, &a, &reply), -1);
	/* embedded NUL: length-delimited, so it is a bad byte, not a terminator */
	assert_int_equal(smtp_address_parse("<a\0b@c.d>", 9, 0, &a, &reply), -1);
}

static void test_text(void **state)
{
	struct smtp_address a;
	const char *reply;
	char *t;

	(void)state;
	assert_int_equal(smtp_address_parse("<U@Example.COM>", 15, 0, &a, &reply), 0);
	t = smtp_address_text(&a);
	assert_string_equal(t, "U@example.com");
	free(t);
	smtp_address_free(&a);
	assert_int_equal(smtp_address_parse("<>", 2, SMTP_ADDR_ALLOW_NULL, &a, &reply), 0);
	t = smtp_address_text(&a);
	assert_string_equal(t, "");
	free(t);
	smtp_address_free(&a);
	smtp_address_free(&a); /* twice is harmless */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ok),
		cmocka_unit_test(test_bad),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_text),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
