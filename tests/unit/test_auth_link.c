/*
 * test_auth_link.c - auth/auth-link.h without an auth role: the mechanism
 * list helpers the three network roles share, the base64 check, and the
 * request bookkeeping when nothing can be reached (a socket path where no
 * one listens), which must leave the request idle and log, not crash.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "auth/auth-link.h"
#include "config.h"
#include "util.h"

static void test_mech_listed(void **state)
{
	(void)state;
	assert_true(auth_link_mech_listed("PLAIN LOGIN SCRAM-SHA-256", "PLAIN"));
	assert_true(auth_link_mech_listed("PLAIN LOGIN SCRAM-SHA-256", "login"));
	assert_true(auth_link_mech_listed("PLAIN LOGIN SCRAM-SHA-256", "SCRAM-SHA-256"));
	assert_true(auth_link_mech_listed("PLAIN  LOGIN", "LOGIN"));
	assert_false(auth_link_mech_listed("PLAIN LOGIN SCRAM-SHA-256", "SCRAM-SHA-1"));
	assert_false(auth_link_mech_listed("PLAIN LOGIN SCRAM-SHA-256", "SCRAM"));
	assert_false(auth_link_mech_listed("PLAIN LOGIN", "PLAI"));
	assert_false(auth_link_mech_listed("PLAIN LOGIN", ""));
	assert_false(auth_link_mech_listed("", "PLAIN"));
}

static void test_mech_plaintext(void **state)
{
	(void)state;
	assert_true(auth_link_mech_plaintext("PLAIN"));
	assert_true(auth_link_mech_plaintext("LOGIN"));
	assert_false(auth_link_mech_plaintext("SCRAM-SHA-256"));
	assert_false(auth_link_mech_plaintext("PLAINX"));
}

static void test_base64_ok(void **state)
{
	(void)state;
	assert_true(auth_link_base64_ok("AGFsaWNlAHNlY3JldA==", 20));
	assert_true(auth_link_base64_ok("", 0));
	assert_true(auth_link_base64_ok("a+/=", 4));
	assert_false(auth_link_base64_ok("abc def", 7));
	assert_false(auth_link_base64_ok("abc\r", 4));
	assert_false(auth_link_base64_ok("ab\0c", 4));
	assert_false(auth_link_base64_ok("*", 1));
}

static void test_mechs_from_config(void **state)
{
	char dir[] = "/tmp/test_auth_link.XXXXXX";
	char *conf, buf[256], small[8];
	FILE *fp;
	struct config *cfg;

	(void)state;
	assert_non_null(mkdtemp(dir));
	conf = must_asprintf("%s/postern.conf", dir);
	fp = fopen(conf, "w");
	assert_non_null(fp);
	fprintf(fp, "run_directory = %s/run\ndata_directory = %s/data\nqueue_directory = %s/queue\n"
		"auth_mechanisms = plain login scram-sha-256\n", dir, dir, dir);
	fclose(fp);
	cfg = config_load(conf, NULL, NULL);
	assert_non_null(cfg);
	auth_link_mechs(cfg, buf, sizeof(buf));
	assert_string_equal(buf, "PLAIN LOGIN SCRAM-SHA-256");
	auth_link_mechs(cfg, small, sizeof(small));
	assert_string_equal(small, "PLAIN L");
	config_free(&cfg);
	unlink(conf);
	free(conf);
	rmdir(dir);
}

static void never_called(void *ctx, const struct auth_client_reply *rep)
{
	(void)ctx;
	(void)rep;
	fail_msg("callback of a request that never started");
}

/* Nobody listens: start returns 0, the request stays idle, and answers,
 * cancels and broken reports on it are harmless. */
static void test_unreachable(void **state)
{
	struct event_base *base = event_base_new();
	struct auth_link link;
	struct auth_link_req req;
	struct auth_client_params p = { .service = "smtp", .rip = "192.0.2.1", .lip = "192.0.2.2" };

	(void)state;
	assert_non_null(base);
	auth_link_init(&link, base, "test");
	memset(&req, 0xff, sizeof(req));
	assert_int_equal(auth_link_start(&link, &req, "/nonexistent/auth", "PLAIN", &p, "AGEAYg==",
					 never_called, NULL), 0);
	assert_null(req.client);
	assert_int_equal(req.id, 0);
	assert_int_equal(req.waiting, 0);
	assert_null(link.sasl);
	assert_null(auth_link_userdb(&link, "/nonexistent/userdb"));

	assert_int_equal(auth_link_answer(&link, &req, "*", 1), AUTH_LINK_ABORTED);
	assert_int_equal(auth_link_answer(&link, &req, "a b", 3), AUTH_LINK_BAD_BASE64);
	/* idle: nothing to answer, so a valid line is refused the same way */
	assert_int_equal(auth_link_answer(&link, &req, "AGEAYg==", 8), AUTH_LINK_BAD_BASE64);
	auth_link_cancel(&req);
	auth_link_broken(&link, NULL);
	auth_link_broken(&link, (struct auth_client *)&link);   /* not one of ours: ignored */
	assert_int_equal(link.n_broken, 0);

	struct auth_client_reply rep = { .status = AUTH_CLIENT_CONTINUE, .id = 7 };
	auth_link_reply(&req, &rep);
	assert_int_equal(req.waiting, 7);
	assert_int_equal(req.id, 0);
	rep.status = AUTH_CLIENT_FAIL;
	auth_link_reply(&req, &rep);
	assert_int_equal(req.waiting, 0);
	assert_int_equal(req.id, 0);

	auth_link_free(&link);
	event_base_free(base);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mech_listed),
		cmocka_unit_test(test_mech_plaintext),
		cmocka_unit_test(test_base64_ok),
		cmocka_unit_test(test_mechs_from_config),
		cmocka_unit_test(test_unreachable),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
