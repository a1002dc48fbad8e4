/*
 * test_maps_cidr.c - cidr: tables (cidr_table(5)): IPv4 and IPv6, edge
 * prefixes /0 /32 /128, bare addresses, [brackets], negation, first match
 * wins, non-IP keys, and each malformed line's exact error.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "maps_test_util.h"
#include "maps-private.h"

static struct map *open_cidr(const char *text)
{
	const char *err = NULL;
	struct map *m;

	mt_write("cidr", text);
	m = map_open(mt_spec("cidr", "cidr"), 0, &err);
	if (m == NULL)
		print_error("open: %s\n", err);
	assert_non_null(m);
	return m;
}

static void test_ipv4(void **state)
{
	struct map *m;

	(void)state;
	m = open_cidr("# client access\n"
		      "192.168.1.1        host\n"
		      "192.168.1.0/24     lan\n"
		      "10.0.0.0/8         ten\n"
		      "10.1.0.0/16        never (shadowed by 10.0.0.0/8)\n"
		      "172.16.0.0/12      private\n"
		      "[203.0.113.7]      bracketed\n"
		      "198.51.100.0/31    pair\n"
		      "0.0.0.0/0          default\n");
	mt_assert_value(m, "192.168.1.1", "host");
	mt_assert_value(m, "192.168.1.2", "lan");
	mt_assert_value(m, "10.1.2.3", "ten");
	mt_assert_value(m, "172.31.255.255", "private");
	mt_assert_value(m, "172.32.0.0", "default");
	mt_assert_value(m, "203.0.113.7", "bracketed");
	mt_assert_value(m, "198.51.100.1", "pair");
	mt_assert_value(m, "198.51.100.2", "default");
	mt_assert_value(m, "8.8.8.8", "default");
	/* IPv4 rules never match IPv6 keys, not even /0. */
	mt_assert_value(m, "::1", NULL);
	mt_assert_value(m, "2001:db8::1", NULL);
	/* Keys that are not IP addresses are simply not found. */
	mt_assert_value(m, "mail.example.com", NULL);
	mt_assert_value(m, "192.168.1.1/32", NULL);
	mt_assert_value(m, "[192.168.1.1]", NULL);
	mt_assert_value(m, "", NULL);
	map_close(&m);
}

static void test_ipv4_exact(void **state)
{
	struct map *m;

	(void)state;
	m = open_cidr("1.2.3.4/32 exact\n");
	mt_assert_value(m, "1.2.3.4", "exact");
	mt_assert_value(m, "1.2.3.5", NULL);
	map_close(&m);
}

static void test_ipv6(void **state)
{
	struct map *m;

	(void)state;
	m = open_cidr("::1                  loopback\n"
		      "2001:db8::1/128      one\n"
		      "[2001:db8::]/33      low-half\n"
		      "2001:db8::/32        doc\n"
		      "fe80::/10            link\n"
		      "::/0                 any6\n");
	mt_assert_value(m, "::1", "loopback");
	mt_assert_value(m, "2001:db8::1", "one");
	mt_assert_value(m, "2001:DB8::2", "low-half");
	mt_assert_value(m, "2001:db8:8000::1", "doc");
	mt_assert_value(m, "febf::1", "link");
	mt_assert_value(m, "fec0::1", "any6");
	mt_assert_value(m, "1.2.3.4", NULL);
	map_close(&m);
}

static void test_negation(void **state)
{
	struct map *m;

	(void)state;
	m = open_cidr("!10.0.0.0/8  outside\n10.0.0.0/8 inside\n");
	mt_assert_value(m, "11.0.0.1", "outside");
	mt_assert_value(m, "10.9.9.9", "inside");
	map_close(&m);
}

static void test_address_lookup(void **state)
{
	struct map *m;
	const char *v, *err;

	(void)state;
	m = open_cidr("0.0.0.0/0 any\n");
	assert_int_equal(map_lookup_address(m, "user@1.2.3.4", 0, &v, &err), MAP_NOTFOUND);
	assert_int_equal(map_lookup_address(m, "1.2.3.4", 0, &v, &err), MAP_FOUND);
	map_close(&m);
}

static void test_errors(void **state)
{
	(void)state;
	mt_write("c1", "10.0.0.0/8 ok\n10.0.0.0/33 bad\n");
	mt_expect_error(mt_spec("cidr", "c1"), "@D/c1:2: bad CIDR pattern \"10.0.0.0/33\"; "
			"prefix length must be 0..32 for IPv4");
	mt_write("c2", "2001:db8::/129 bad\n");
	mt_expect_error(mt_spec("cidr", "c2"), "@D/c2:1: bad CIDR pattern \"2001:db8::/129\"; "
			"prefix length must be 0..128 for IPv6");
	mt_write("c3", "10.1.2.3/8 bad\n");
	mt_expect_error(mt_spec("cidr", "c3"), "@D/c3:1: non-null host address bits in "
			"\"10.1.2.3/8\"; write 10.0.0.0/8");
	mt_write("c4", "2001:db8::1/64 bad\n");
	mt_expect_error(mt_spec("cidr", "c4"), "@D/c4:1: non-null host address bits in "
			"\"2001:db8::1/64\"; write 2001:db8::/64");
	mt_write("c5", "1.2.3.4 ok\n1.2.3.4\n");
	mt_expect_error(mt_spec("cidr", "c5"), "@D/c5:2: missing value after key \"1.2.3.4\"; "
			"write KEY VALUE");
	mt_write("c6", "mail.example.com x\n");
	mt_expect_error(mt_spec("cidr", "c6"), "@D/c6:1: bad CIDR pattern \"mail.example.com\"; "
			"write an IPv4 or IPv6 address, optionally followed by /PREFIX_LENGTH");
	mt_write("c7", "10.0.0.0/ x\n10.0.0.0/-1 x\n");
	mt_expect_error(mt_spec("cidr", "c7"), "@D/c7:1: bad CIDR pattern \"10.0.0.0/\"; "
			"prefix length must be 0..32 for IPv4");
	mt_write("c8", "1.2.3/24 x\n");
	mt_expect_error(mt_spec("cidr", "c8"), "@D/c8:1: bad CIDR pattern \"1.2.3/24\"; "
			"write an IPv4 or IPv6 address, optionally followed by /PREFIX_LENGTH");
	mt_write("c9", "if 10.0.0.0/8\n10.1.0.0/16 x\nendif\n");
	mt_expect_error(mt_spec("cidr", "c9"), "@D/c9:1: if/endif is not supported in cidr "
			"tables; write one NETWORK/LEN RESULT line per network");
}

static void test_from_memory(void **state)
{
	const char *err;
	struct map *m = maps_cidr_open_mem("mem", "::/0 v6\n", 8, &err);

	(void)state;
	assert_non_null(m);
	mt_assert_value(m, "::", "v6");
	map_close(&m);
	assert_null(maps_cidr_open_mem("mem", "x y\n", 4, &err));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_ipv4, mt_setup, mt_teardown),
		cmocka_unit_test_setup_teardown(test_ipv4_exact, mt_setup, mt_teardown),
		cmocka_unit_test_setup_teardown(test_ipv6, mt_setup, mt_teardown),
		cmocka_unit_test_setup_teardown(test_negation, mt_setup, mt_teardown),
		cmocka_unit_test_setup_teardown(test_address_lookup, mt_setup, mt_teardown),
		cmocka_unit_test_setup_teardown(test_errors, mt_setup, mt_teardown),
		cmocka_unit_test_setup_teardown(test_from_memory, mt_setup, mt_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
