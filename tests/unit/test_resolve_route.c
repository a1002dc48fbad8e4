/*
 * test_resolve_route.c - resolve_route (smtp/resolve/route.c): the store
 * for mydestination (local part) and virtual_mailbox_domains (the whole
 * address), relayhost, the domain for MX, and transport_maps in
 * transport(5)'s order with each kind of value.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "resolve_test_util.h"

static struct resolve *new_resolve(const char *extra)
{
	struct config *cfg;
	struct resolve *r;
	char *err = NULL;

	rs_write("transport", "special@remote.example error:5.7.1 go away\n"
			      "tagged@remote.example smtp:[tagged.example]\n"
			      "remote.example smtp:[mx.remote.example]:2525\n"
			      ".sub.example relay:[relay.sub.example]\n"
			      "lost.example error:no such domain\n"
			      "bin.example discard:\n"
			      "later.example retry:try later\n"
			      "local.example local:\n"
			      "hop.example smtp:\n"
			      "nohop.example :[gw.example]\n"
			      "bad.example pigeon:coop\n"
			      "soft.example error:4.3.2 not now\n");
	cfg = rs_config(extra);
	assert_non_null(cfg);
	r = resolve_new(cfg, &err);
	if (r == NULL)
		fail_msg("resolve_new: %s", err);
	config_free(&cfg);
	return r;
}

static char *route(struct resolve *r, const char *addr)
{
	struct resolve_route rt;
	char *err = NULL, *s;

	if (resolve_route(r, addr, &rt, &err) < 0) {
		s = must_asprintf("TEMP: %s", err);
		free(err);
		return s;
	}
	switch (rt.kind) {
	case ROUTE_STORE: return must_asprintf("STORE %s", rt.user);
	case ROUTE_SMTP: return must_asprintf("SMTP %s", rt.nexthop);
	case ROUTE_ERROR: return must_asprintf("ERROR %s %s", rt.dsn, rt.text);
	case ROUTE_DISCARD: return must_asprintf("DISCARD %s", rt.text);
	}
	return must_strdup("?");
}

#define ROUTE(r, addr, expected)                               \
	do {                                                   \
		char *got_ = route((r), (addr));               \
		assert_string_equal(got_, (expected));         \
		free(got_);                                    \
	} while (0)

static const char domains[] = "virtual_mailbox_domains = virt.example\n"
			      "virtual_alias_domains = alias.example\n";

static void test_default(void **state)
{
	struct resolve *r = new_resolve(domains);

	(void)state;
	ROUTE(r, "alice@example.com", "STORE alice");
	ROUTE(r, "Alice+news@MAIL.example.com", "STORE alice+news");
	ROUTE(r, "alice", "STORE alice");   /* no domain: $myorigin, local */
	ROUTE(r, "vuser@virt.example", "STORE vuser@virt.example");
	ROUTE(r, "VUser+x@Virt.example", "STORE vuser+x@virt.example");
	ROUTE(r, "x@alias.example", "ERROR 5.1.1 User unknown in virtual alias table");
	ROUTE(r, "x@gmail.example", "SMTP gmail.example");
	ROUTE(r, "x@Gmail.Example.", "SMTP gmail.example");
	ROUTE(r, "x@[192.0.2.1]", "SMTP [192.0.2.1]");
	resolve_free(&r);
}

static void test_relayhost(void **state)
{
	struct resolve *r = new_resolve("relayhost = [smtp.isp.example]:587\nrelay_domains = relayed.example\n");

	(void)state;
	ROUTE(r, "x@gmail.example", "SMTP [smtp.isp.example]:587");
	ROUTE(r, "x@relayed.example", "SMTP [smtp.isp.example]:587");
	ROUTE(r, "alice@example.com", "STORE alice");
	resolve_free(&r);
}

static void test_transport(void **state)
{
	struct resolve *r = new_resolve("transport_maps = texthash:DIR/transport\n");

	(void)state;
	/* Full address before domain. */
	ROUTE(r, "special@remote.example", "ERROR 5.7.1 go away");
	/* user+ext@domain, then user@domain. */
	ROUTE(r, "tagged+foo@remote.example", "SMTP [tagged.example]");
	ROUTE(r, "y@remote.example", "SMTP [mx.remote.example]:2525");
	/* ".domain" matches subdomains only. */
	ROUTE(r, "x@a.sub.example", "SMTP [relay.sub.example]");
	ROUTE(r, "x@b.a.sub.example", "SMTP [relay.sub.example]");
	ROUTE(r, "x@sub.example", "SMTP sub.example");
	ROUTE(r, "x@lost.example", "ERROR 5.0.0 no such domain");
	ROUTE(r, "x@bin.example", "DISCARD discarded");
	ROUTE(r, "x@later.example", "TEMP: try later");
	ROUTE(r, "x@soft.example", "TEMP: not now");
	ROUTE(r, "Bob+x@local.example", "STORE bob+x");
	ROUTE(r, "x@hop.example", "SMTP hop.example");
	ROUTE(r, "x@nohop.example", "SMTP [gw.example]");
	ROUTE(r, "x@bad.example", "TEMP: transport_maps: unknown transport \"pigeon\" for <x@bad.example>; "
				  "use smtp, relay, local, virtual, error, discard or retry");
	/* Not in the table: the default. */
	ROUTE(r, "alice@example.com", "STORE alice");
	ROUTE(r, "x@other.example", "SMTP other.example");
	resolve_free(&r);
}

static void test_transport_wildcard(void **state)
{
	struct resolve *r = new_resolve("transport_maps = inline:{ example.org=smtp:mx.example.org:2525, "
					"*=smtp:[gw.example] }\nrelayhost = [unused.example]\n");

	(void)state;
	ROUTE(r, "x@example.org", "SMTP mx.example.org:2525");
	ROUTE(r, "x@elsewhere.example", "SMTP [gw.example]");
	/* The wildcard covers local domains too, as in Postfix. */
	ROUTE(r, "alice@example.com", "SMTP [gw.example]");
	resolve_free(&r);
}

static void test_bad_table(void **state)
{
	struct config *cfg = rs_config("transport_maps = texthash:DIR/missing\n");
	char *err = NULL;

	(void)state;
	assert_non_null(cfg);
	assert_null(resolve_new(cfg, &err));
	assert_non_null(err);
	assert_non_null(strstr(err, "t.cf:5: transport_maps: "));
	assert_non_null(strstr(err, "missing"));
	free(err);
	err = NULL;
	assert_int_equal(resolve_check_config(cfg, &err), -1);
	free(err);
	config_free(&cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_default),
		cmocka_unit_test(test_relayhost),
		cmocka_unit_test(test_transport),
		cmocka_unit_test(test_transport_wildcard),
		cmocka_unit_test(test_bad_table),
	};

	return cmocka_run_group_tests(tests, rs_setup, rs_teardown);
}
