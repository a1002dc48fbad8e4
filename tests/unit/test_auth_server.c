/*
 * test_auth_server.c - the Dovecot auth protocol server (auth/auth-server.c)
 * without sockets: greeting, AUTH/CONT flows against a stub passdb, and the
 * protocol errors that must close the connection (bad lines, unknown
 * command, duplicate id, overlong line), plus the penalty (auth/penalty.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth-server.h"
#include "auth/penalty.h"
#include "util.h"

static struct strbuf out;

static void capture(void *ctx, const char *data, size_t len)
{
	(void)ctx;
	strbuf_append(&out, data, len);
}

/* Stub backend: alice/secret ok, bob disabled, anything else unknown. */
static void stub_verify(struct passdb *db, const char *user, const char *password,
			passdb_done_fn *done, void *ctx)
{
	if (strcmp(user, "alice@example.org") == 0)
		done(ctx, strcmp(password, "secret") == 0 ? PASSDB_OK : PASSDB_MISMATCH);
	else if (strcmp(user, "bob@example.org") == 0)
		done(ctx, PASSDB_DISABLED);
	else
		done(ctx, PASSDB_UNKNOWN);
}

static struct passdb stub = { .name = "stub", .verify = stub_verify };
static struct passdb *stubs[] = { &stub };

static struct auth_server *make_server(struct penalty *pen)
{
	struct auth_settings set = { .disable_plaintext_auth = true, .username_lowercase = true,
				     .default_realm = "example.org" };
	set.mechs[set.n_mechs++] = &mech_plain;
	set.mechs[set.n_mechs++] = &mech_login;
	return auth_server_new(&set, stubs, 1, pen, NULL);
}

static int feed(struct auth_server_conn *c, const char *line)
{
	strbuf_reset(&out);
	return auth_server_conn_line(c, line, strlen(line));
}

static struct auth_server_conn *ready_conn(struct auth_server *srv)
{
	struct auth_server_conn *c = auth_server_conn_new(srv, capture, NULL);
	assert_non_null(c);
	assert_int_equal(feed(c, "VERSION\t1\t0"), 0);
	assert_int_equal(feed(c, "CPID\t123"), 0);
	return c;
}

static void test_greeting(void **state)
{
	struct auth_server *srv = make_server(NULL);
	struct auth_server_conn *c;

	strbuf_init(&out, 0);
	c = auth_server_conn_new(srv, capture, NULL);
	assert_true(str_has_prefix(out.data, "VERSION\t1\t2\nMECH\tPLAIN\tplaintext\nMECH\tLOGIN\tplaintext\nSPID\t"));
	assert_non_null(strstr(out.data, "\nCUID\t1\nCOOKIE\t"));
	assert_true(out.len > 5 && strcmp(out.data + out.len - 5, "DONE\n") == 0);
	auth_server_conn_free(&c);
	assert_null(c);
	auth_server_free(&srv);
	strbuf_free(&out);
}

static void test_plain_flow(void **state)
{
	struct auth_server *srv = make_server(NULL);
	struct auth_server_conn *c;

	strbuf_init(&out, 0);
	c = ready_conn(srv);
	/* "\0alice\0secret": bare name gets the realm, case folded */
	assert_int_equal(feed(c, "AUTH\t1\tPLAIN\tservice=smtp\tresp=AEFsaWNlAHNlY3JldA=="), 0);
	assert_string_equal(out.data, "OK\t1\tuser=alice@example.org\n");
	assert_int_equal(feed(c, "AUTH\t2\tPLAIN\tservice=smtp\tresp=AGFsaWNlAHdyb25n"), 0);
	assert_string_equal(out.data, "FAIL\t2\treason=authentication failed\tuser=alice@example.org\n");
	assert_int_equal(feed(c, "AUTH\t3\tPLAIN\tservice=smtp\tresp=AGJvYgB4"), 0);
	assert_string_equal(out.data, "FAIL\t3\treason=authentication failed\tuser=bob@example.org\n");
	/* no initial response: empty CONT, then CONT from the client */
	assert_int_equal(feed(c, "AUTH\t4\tPLAIN\tservice=imap"), 0);
	assert_string_equal(out.data, "CONT\t4\t\n");
	assert_int_equal(feed(c, "CONT\t4\tAGFsaWNlAHNlY3JldA=="), 0);
	assert_string_equal(out.data, "OK\t4\tuser=alice@example.org\n");
	/* unknown mechanism, bad base64, CONT of an unknown id: FAIL, stays open */
	assert_int_equal(feed(c, "AUTH\t5\tCRAM-MD5\tservice=smtp"), 0);
	assert_string_equal(out.data, "FAIL\t5\treason=unsupported authentication mechanism\n");
	assert_int_equal(feed(c, "AUTH\t6\tPLAIN\tservice=smtp\tresp=AG=="), 0);
	assert_string_equal(out.data, "FAIL\t6\treason=invalid base64 data in the response\n");
	assert_int_equal(feed(c, "CONT\t99\tAA=="), 0);
	assert_string_equal(out.data, "FAIL\t99\treason=unknown or expired request id\n");
	/* plaintext from a remote address without TLS */
	assert_int_equal(feed(c, "AUTH\t7\tPLAIN\tservice=smtp\trip=192.0.2.1\tresp=AGFsaWNlAHNlY3JldA=="), 0);
	assert_true(str_has_prefix(out.data, "FAIL\t7\treason=plaintext authentication disallowed"));
	assert_int_equal(feed(c, "AUTH\t8\tPLAIN\tservice=smtp\trip=192.0.2.1\tsecured\tresp=AGFsaWNlAHNlY3JldA=="), 0);
	assert_string_equal(out.data, "OK\t8\tuser=alice@example.org\n");
	assert_int_equal(feed(c, "AUTH\t9\tPLAIN\tservice=smtp\trip=::1\tresp=AGFsaWNlAHNlY3JldA=="), 0);
	assert_string_equal(out.data, "OK\t9\tuser=alice@example.org\n");
	auth_server_conn_free(&c);
	auth_server_free(&srv);
	strbuf_free(&out);
}

static void test_protocol_errors(void **state)
{
	static const char *const bad[] = {
		"HELLO",
		"AUTH\t1\tPLAIN\tservice=smtp",       /* before VERSION */
		"CPID\t1",                              /* before VERSION */
		"VERSION\t2\t0",
		"VERSION",
	};
	static const char *const bad_after_handshake[] = {
		"AUTH\tabc\tPLAIN\tservice=smtp",
		"AUTH\t99999999999\tPLAIN\tservice=smtp",
		"AUTH\t1\tPLAIN",
		"AUTH\t1\tPLAIN\tservice=sm\x01tp",
		"AUTH\t1\tPLAIN\tservice=",
		"VERSION\t1\t0",
		"CPID\t2",
		"CONT",
		"CONT\tx\tAA==",
		"FOO\tbar",
		"",
	};
	struct auth_server *srv = make_server(NULL);
	struct auth_server_conn *c;

	strbuf_init(&out, 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		c = auth_server_conn_new(srv, capture, NULL);
		assert_int_equal(feed(c, bad[i]), -1);
		auth_server_conn_free(&c);
	}
	c = auth_server_conn_new(srv, capture, NULL);
	assert_int_equal(feed(c, "VERSION\t1\t0"), 0);
	assert_int_equal(feed(c, "AUTH\t1\tPLAIN\tservice=smtp"), -1);  /* before CPID */
	auth_server_conn_free(&c);
	for (size_t i = 0; i < sizeof(bad_after_handshake) / sizeof(bad_after_handshake[0]); i++) {
		c = ready_conn(srv);
		assert_int_equal(feed(c, bad_after_handshake[i]), -1);
		auth_server_conn_free(&c);
	}
	/* duplicate id of a request in progress */
	c = ready_conn(srv);
	assert_int_equal(feed(c, "AUTH\t5\tLOGIN\tservice=smtp"), 0);
	assert_string_equal(out.data, "CONT\t5\tVXNlcm5hbWU6\n");
	assert_int_equal(feed(c, "AUTH\t5\tLOGIN\tservice=smtp"), -1);
	auth_server_conn_free(&c);   /* frees the waiting request */
	/* NUL byte, overlong line, too many fields */
	c = ready_conn(srv);
	assert_int_equal(auth_server_conn_line(c, "AUTH\t1\0x", 8), -1);
	auth_server_conn_free(&c);
	char *big = malloc(AUTH_LINE_MAX + 10);
	memset(big, 'A', AUTH_LINE_MAX + 9);
	big[AUTH_LINE_MAX + 9] = '\0';
	c = ready_conn(srv);
	assert_int_equal(feed(c, big), -1);
	auth_server_conn_free(&c);
	free(big);
	struct strbuf many;
	strbuf_init(&many, 0);
	strbuf_puts(&many, "AUTH\t1\tPLAIN\tservice=smtp");
	for (int i = 0; i < AUTH_FIELDS_MAX; i++)
		strbuf_puts(&many, "\tx=y");
	c = ready_conn(srv);
	assert_int_equal(feed(c, many.data), -1);
	auth_server_conn_free(&c);
	strbuf_free(&many);
	/* bounded requests per connection */
	c = ready_conn(srv);
	for (int i = 1; i <= AUTH_CONN_REQUESTS_MAX; i++) {
		char line[64];
		snprintf(line, sizeof(line), "AUTH\t%d\tLOGIN\tservice=smtp", i);
		assert_int_equal(feed(c, line), 0);
	}
	assert_int_equal(feed(c, "AUTH\t1000\tLOGIN\tservice=smtp"), -1);
	auth_server_conn_free(&c);
	auth_server_free(&srv);
	strbuf_free(&out);
}

static void test_penalty(void **state)
{
	const char *const exc[] = { "127.0.0.0/8", "[::1]/128", "10.1.0.0/16", NULL };
	char *err = NULL;
	struct penalty *p = penalty_new(3, 60, exc, &err);

	assert_non_null(p);
	for (int i = 0; i < 3; i++) {
		assert_false(penalty_blocked(p, "192.0.2.1", "a", 1000));
		penalty_failure(p, "192.0.2.1", "a", 1000);
	}
	assert_true(penalty_blocked(p, "192.0.2.1", "z", 1001));      /* by address */
	assert_true(penalty_blocked(p, "192.0.2.2", "a", 1001));      /* by user */
	assert_false(penalty_blocked(p, "192.0.2.2", "b", 1001));
	assert_false(penalty_blocked(p, "10.1.2.3", "a", 1001));      /* excepted network */
	assert_false(penalty_blocked(p, NULL, "a", 1001));            /* local tool */
	assert_false(penalty_blocked(p, "192.0.2.1", "a", 1060));     /* cooled off */
	penalty_failure(p, "10.1.2.3", "c", 1001);
	penalty_failure(p, "10.1.2.3", "c", 1001);
	penalty_failure(p, "10.1.2.3", "c", 1001);
	assert_false(penalty_blocked(p, "192.0.2.9", "c", 1002));     /* excepted failures not counted */
	penalty_free(&p);
	assert_null(p);

	const char *const bad[] = { "10.0.0.0/33", NULL };
	assert_null(penalty_new(3, 60, bad, &err));
	assert_string_equal(err, "auth_penalty_exceptions: \"10.0.0.0/33\" is not an address or address/prefix; write e.g. 192.168.1.0/24 or [fd00::]/8");
	free(err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_greeting),
		cmocka_unit_test(test_plain_flow),
		cmocka_unit_test(test_protocol_errors),
		cmocka_unit_test(test_penalty),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
