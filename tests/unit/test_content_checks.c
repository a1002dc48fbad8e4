/*
 * test_content_checks.c - smtp/content-checks.c: header_checks and
 * body_checks with regexp: and pcre: tables, every action
 * (header_checks(5)): REJECT [text], DISCARD, HOLD, IGNORE, WARN,
 * REPLACE, PREPEND, DUNNO, and a table that cannot be opened.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "log.h"
#include "smtp/restrict.h"
#include "util.h"

#define HDR_FILE "/tmp/postern-test-header-checks.regexp"
#define BODY_FILE "/tmp/postern-test-body-checks.pcre"

static int setup(void **state)
{
	FILE *h = fopen(HDR_FILE, "w"), *b = fopen(BODY_FILE, "w");

	(void)state;
	log_init("test", 0);
	if (h == NULL || b == NULL)
		return -1;
	fputs("/^Subject:.*viagra/ REJECT No spam here\n"
	      "/^Subject:.*plain-reject/ REJECT\n"
	      "/^Subject:.*dsn-reject/ REJECT 5.7.0 With code\n"
	      "/^X-Discard:/ DISCARD bye\n"
	      "/^X-Hold:/ HOLD look at this\n"
	      "/^X-Secret:/ IGNORE\n"
	      "/^X-Watch:/ WARN watched header\n"
	      "/^Received: from (\\S+)/ REPLACE X-Original-Relay: $1\n"
	      "/^Subject: (hello)/ PREPEND X-Greeting: $1\n"
	      "/^X-Ok:/ DUNNO\n", h);
	fputs("/^click here now/ REJECT Body spam\n"
	      "/^secret: .*/ IGNORE\n", b);
	fclose(h);
	fclose(b);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	unlink(HDR_FILE);
	unlink(BODY_FILE);
	return 0;
}

static struct config *load(const char *extra)
{
	char *text = must_asprintf("myhostname = mail.example.com\n%s", extra);
	struct config *cfg = config_parse("t.cf", text, strlen(text), NULL, NULL);

	free(text);
	return cfg;
}

struct hcase {
	const char *line;
	int ret;
	enum restrict_action action;
	const char *reply_or_text;
};

static void test_header_actions(void **state)
{
	static const struct hcase cases[] = {
		{ "Subject: buy viagra", CONTENT_LINE_KEEP, RESTRICT_REJECT, "550 5.7.1 No spam here" },
		{ "Subject: plain-reject", CONTENT_LINE_KEEP, RESTRICT_REJECT, "550 5.7.1 Message content rejected" },
		{ "Subject: dsn-reject", CONTENT_LINE_KEEP, RESTRICT_REJECT, "550 5.7.0 With code" },
		{ "X-Discard: 1", CONTENT_LINE_KEEP, RESTRICT_DISCARD, NULL },
		{ "X-Hold: 1", CONTENT_LINE_KEEP, RESTRICT_HOLD, NULL },
		{ "X-Secret: 42", CONTENT_LINE_IGNORE, RESTRICT_CONTINUE, NULL },
		{ "X-Watch: 1", CONTENT_LINE_KEEP, RESTRICT_CONTINUE, NULL },
		{ "Received: from relay.example by x", CONTENT_LINE_REPLACE, RESTRICT_CONTINUE,
		  "X-Original-Relay: relay.example" },
		{ "Subject: hello world", CONTENT_LINE_PREPEND, RESTRICT_CONTINUE, "X-Greeting: hello" },
		{ "X-Ok: 1", CONTENT_LINE_KEEP, RESTRICT_CONTINUE, NULL },
		{ "Subject: nothing special", CONTENT_LINE_KEEP, RESTRICT_CONTINUE, NULL },
		/* a folded header is checked as one logical line */
		{ "Subject: folded\r\n\tviagra", CONTENT_LINE_KEEP, RESTRICT_REJECT, "550 5.7.1 No spam here" },
	};
	struct config *cfg = load("header_checks = regexp:" HDR_FILE "\nbody_checks = pcre:" BODY_FILE "\n");
	char *err = NULL;
	struct content_checks *cc;

	(void)state;
	assert_non_null(cfg);
	cc = content_checks_new(cfg, &err);
	assert_non_null(cc);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct restrict_result out;
		const char *text = NULL;
		int ret = content_checks_header(cc, cases[i].line, strlen(cases[i].line), &out, &text);

		if (ret != cases[i].ret || out.action != cases[i].action)
			fail_msg("case %zu %s: ret %d action %d", i, cases[i].line, ret, out.action);
		if (cases[i].reply_or_text && out.action == RESTRICT_REJECT)
			assert_string_equal(out.reply, cases[i].reply_or_text);
		else if (cases[i].reply_or_text)
			assert_string_equal(text, cases[i].reply_or_text);
		if (strncmp(cases[i].line, "X-Watch", 7) == 0) {
			assert_true(out.warn_only);
			assert_non_null(strstr(out.log, "warning: header X-Watch: 1: watched header"));
		}
		if (strncmp(cases[i].line, "X-Hold", 6) == 0)
			assert_non_null(strstr(out.log, "hold: header X-Hold: 1: look at this"));
	}
	{
		struct restrict_result out;
		const char *text;
		const char *body = "click here now!";

		assert_int_equal(content_checks_body_line(cc, body, strlen(body), &out, &text),
				 CONTENT_LINE_KEEP);
		assert_int_equal(out.action, RESTRICT_REJECT);
		assert_string_equal(out.reply, "550 5.7.1 Body spam");
		assert_int_equal(content_checks_body_line(cc, "secret: x", 9, &out, &text),
				 CONTENT_LINE_IGNORE);
		assert_int_equal(content_checks_body_line(cc, "hello", 5, &out, &text), CONTENT_LINE_KEEP);
		assert_int_equal(out.action, RESTRICT_CONTINUE);
		/* bytes that are not text do not break the lookup */
		assert_int_equal(content_checks_body_line(cc, "a\0b\x01\xff", 5, &out, &text),
				 CONTENT_LINE_KEEP);
	}
	content_checks_free(&cc);
	assert_null(cc);
	config_free(&cfg);
}

static void test_empty_and_errors(void **state)
{
	struct config *cfg = load("");
	char *err = NULL;
	struct content_checks *cc = content_checks_new(cfg, &err);
	struct restrict_result out;
	const char *text;

	(void)state;
	assert_non_null(cc);
	assert_int_equal(content_checks_header(cc, "Subject: x", 10, &out, &text), CONTENT_LINE_KEEP);
	content_checks_free(&cc);
	config_free(&cfg);
	cfg = load("header_checks = regexp:/nonexistent/postern/hc\n");
	assert_non_null(cfg);
	assert_null(content_checks_new(cfg, &err));
	assert_non_null(strstr(err, "t.cf:2: header_checks: "));
	free(err);
	config_free(&cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_header_actions),
		cmocka_unit_test(test_empty_and_errors),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
