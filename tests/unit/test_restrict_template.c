/*
 * test_restrict_template.c - the pure parts of the newer restriction
 * features: default_rbl_reply / rbl_reply_maps template expansion and the
 * "CODE D.D.D text" split (smtp/restrict-template.c, postconf(5)
 * default_rbl_reply), and the check_policy_service address syntax
 * (smtp/restrict-policy.c), with the exact error texts.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "smtp/restrict-private.h"

static const char *vars(void *ctx, const char *name)
{
	static const char *const kv[][2] = {
		{ "rbl_code", "554" },
		{ "rbl_class", "Client host" },
		{ "rbl_what", "1.2.3.4" },
		{ "rbl_domain", "zen.example" },
		{ "rbl_reason", "see http://zen.example/1.2.3.4" },
		{ "empty", "" },
		{ "evil", "$rbl_code ${rbl_domain}" },
	};

	(void)ctx;
	for (size_t i = 0; i < sizeof(kv) / sizeof(kv[0]); i++)
		if (strcmp(kv[i][0], name) == 0)
			return kv[i][1];
	return NULL;
}

static void expect(const char *tmpl, const char *want)
{
	char out[512];

	restrict_template_expand(tmpl, vars, NULL, out, sizeof(out));
	assert_string_equal(out, want);
}

static void test_default_template(void **state)
{
	(void)state;
	expect("$rbl_code Service unavailable; $rbl_class [$rbl_what] blocked using "
	       "$rbl_domain${rbl_reason?; $rbl_reason}",
	       "554 Service unavailable; Client host [1.2.3.4] blocked using zen.example; "
	       "see http://zen.example/1.2.3.4");
	expect("x${empty?; $rbl_reason}y", "xy");
}

static void test_template_forms(void **state)
{
	(void)state;
	expect("${rbl_code} $(rbl_domain)", "554 zen.example");
	expect("${empty:none} ${rbl_code:none}", "none ");
	expect("${rbl_reason?{yes}:{no}} ${empty?{yes}:{no}}", "yes no");
	expect("${empty?{a}} ${rbl_code?{b $rbl_what}}", " b 1.2.3.4");
	expect("$unknown_name|${unknown}|", "||");
	/* values are inserted literally, never expanded again */
	expect("$evil", "$rbl_code ${rbl_domain}");
	/* malformed pieces stay as they are */
	expect("50$ off ${rbl_code", "50$ off ${rbl_code");
	expect("${a?{b}", "");
}

static void test_template_bounded(void **state)
{
	char small[8];
	char *big = malloc(5000);

	(void)state;
	restrict_template_expand("$rbl_domain and more", vars, NULL, small, sizeof(small));
	assert_string_equal(small, "zen.exa");
	/* deep nesting stops at a fixed depth, without recursion without end */
	memset(big, 0, 5000);
	for (int i = 0; i < 400; i++)
		strcat(big, "${rbl_code?{");
	restrict_template_expand(big, vars, NULL, small, sizeof(small));
	free(big);
}

static void test_reply_split(void **state)
{
	char dsn[16];
	const char *text;
	int code;

	(void)state;
	assert_int_equal(restrict_reply_split("554 5.7.1 Go away", &code, dsn, sizeof(dsn), &text), 0);
	assert_int_equal(code, 554);
	assert_string_equal(dsn, "5.7.1");
	assert_string_equal(text, "Go away");
	assert_int_equal(restrict_reply_split("450 Try later", &code, dsn, sizeof(dsn), &text), 0);
	assert_int_equal(code, 450);
	assert_string_equal(dsn, "");
	assert_string_equal(text, "Try later");
	/* the DSN class follows the code */
	assert_int_equal(restrict_reply_split("451 5.7.1 x", &code, dsn, sizeof(dsn), &text), 0);
	assert_string_equal(dsn, "4.7.1");
	assert_int_equal(restrict_reply_split("250 fine", &code, dsn, sizeof(dsn), &text), -1);
	assert_int_equal(restrict_reply_split("Service unavailable", &code, dsn, sizeof(dsn), &text), -1);
	assert_int_equal(restrict_reply_split("5544 x", &code, dsn, sizeof(dsn), &text), -1);
}

static void test_policy_spec(void **state)
{
	char *err = NULL;

	(void)state;
	assert_int_equal(restrict_policy_spec_check("inet:127.0.0.1:10023", &err), 0);
	assert_int_equal(restrict_policy_spec_check("inet:[::1]:10023", &err), 0);
	assert_int_equal(restrict_policy_spec_check("inet:localhost:10023", &err), 0);
	assert_int_equal(restrict_policy_spec_check("unix:/run/policy", &err), 0);
	assert_int_equal(restrict_policy_spec_check("inet:127.0.0.1", &err), -1);
	assert_string_equal(err, "policy service \"inet:127.0.0.1\": expected inet:host:port, "
				 "e.g. inet:127.0.0.1:10023");
	free(err);
	assert_int_equal(restrict_policy_spec_check("inet:h:99999", &err), -1);
	free(err);
	assert_int_equal(restrict_policy_spec_check("tcp:h:1", &err), -1);
	assert_string_equal(err, "policy service \"tcp:h:1\": expected inet:host:port or unix:/path");
	free(err);
	assert_int_equal(restrict_policy_spec_check("unix:", &err), -1);
	free(err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_default_template),
		cmocka_unit_test(test_template_forms),
		cmocka_unit_test(test_template_bounded),
		cmocka_unit_test(test_reply_split),
		cmocka_unit_test(test_policy_spec),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
