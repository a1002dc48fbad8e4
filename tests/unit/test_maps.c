/*
 * test_maps.c - lib/maps.c and the in-memory table types: type:name
 * parsing, texthash (the postmap source layout: continuation lines,
 * comments, case folding, duplicates, malformed lines), inline:, static:,
 * the access(5) and virtual(5) address lookup orders, and table lists.
 * lmdb, cidr and regexp/pcre have their own test_maps_*.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "maps_test_util.h"
#include "maps-private.h"

static struct map *open_ok(const char *spec, unsigned flags)
{
	const char *err = NULL;
	struct map *m = map_open(spec, flags, &err);

	if (m == NULL)
		print_error("map_open(%s): %s\n", spec, err);
	assert_non_null(m);
	return m;
}

static void test_unknown_and_missing_type(void **state)
{
	(void)state;
	mt_expect_error("hash:/etc/postfix/access", "table \"hash:/etc/postfix/access\": unknown "
			"type \"hash\"; use one of lmdb, texthash, inline, static, cidr, regexp, pcre");
	mt_expect_error("/etc/postern/access", "table \"/etc/postern/access\": missing type; "
			"write TYPE:NAME where TYPE is one of lmdb, texthash, inline, static, "
			"cidr, regexp, pcre");
	mt_expect_error("texthash:", "table \"texthash:\": missing name after \"texthash:\"; "
			"write texthash:NAME");
	mt_expect_error(mt_spec("texthash", "nope"), "@D/nope: No such file or directory; "
			"create the file or fix the table name");
}

static void test_texthash_basic(void **state)
{
	struct map *m;

	(void)state;
	mt_write("access",
		 "# client access\n"
		 "\n"
		 "User@Example.COM   OK\n"
		 "   \t\n"
		 "spammer.example    REJECT go away  \n"
		 "multi   first\n"
		 "  # a comment between continuation lines\n"
		 "\tsecond\n"
		 "  third\r\n"
		 "hash#key value # not a comment\n");
	m = open_ok(mt_spec("texthash", "access"), 0);
	assert_string_equal(map_type(m), "texthash");
	assert_string_equal(map_spec(m), mt_spec("texthash", "access"));
	mt_assert_value(m, "user@example.com", "OK");
	mt_assert_value(m, "USER@EXAMPLE.COM", "OK");
	mt_assert_value(m, "spammer.example", "REJECT go away");
	mt_assert_value(m, "multi", "first second third");
	mt_assert_value(m, "hash#key", "value # not a comment");
	mt_assert_value(m, "example.com", NULL);
	mt_assert_value(m, "", NULL);
	mt_assert_value(m, "# client", NULL);
	map_close(&m);
	assert_null(m);
	map_close(&m); /* harmless */
}

static void test_texthash_nofold(void **state)
{
	struct map *m;

	(void)state;
	mt_write("t", "MiXed value\n");
	m = open_ok(mt_spec("texthash", "t"), MAP_OPEN_NOFOLD);
	mt_assert_value(m, "MiXed", "value");
	mt_assert_value(m, "mixed", NULL);
	map_close(&m);
}

static void test_texthash_duplicates(void **state)
{
	struct map *m;
	char want[1024];

	(void)state;
	mt_write("dup", "a 1\nb 2\nA 3\n");
	m = open_ok(mt_spec("texthash", "dup"), 0);
	mt_assert_value(m, "a", "1");
	snprintf(want, sizeof(want), "%s/dup:3: duplicate entry \"a\"; keeping the first one "
		 "(line 1); remove or merge the other\n", mt_dir);
	assert_string_equal(mt_warnings, want);
	map_close(&m);
}

static void test_texthash_malformed(void **state)
{
	char big[MAPS_LINE_MAX + 100];

	(void)state;
	mt_write("client_access", "# comment\n10.0.0.1 OK\n1.2.3.4\n");
	mt_expect_error(mt_spec("texthash", "client_access"),
			"@D/client_access:3: missing value after key \"1.2.3.4\"; write KEY VALUE");
	mt_write("cont", "\n  leading value\n");
	mt_expect_error(mt_spec("texthash", "cont"),
			"@D/cont:2: continuation line without a line to continue; remove the "
			"leading whitespace");
	mt_write_len("nul", "a b\nc d\0e\n", 10);
	mt_expect_error(mt_spec("texthash", "nul"),
			"@D/nul:2: NUL byte in line; table files must be text");
	memset(big, 'x', sizeof(big) - 1);
	big[0] = 'k';
	big[1] = ' ';
	big[sizeof(big) - 1] = '\0';
	mt_write("big", big);
	mt_expect_error(mt_spec("texthash", "big"),
			"@D/big:1: logical line longer than 65536 bytes; split the entry or "
			"shorten it");
}

static void test_source_reader(void **state)
{
	struct maps_source src;
	const char *text = "a 1\n  b\n\n# c\nd 2\n\n  \ne 3";
	const char *err;
	char *line;
	unsigned lineno;

	(void)state;
	maps_source_init(&src, "mem", text, strlen(text));
	assert_int_equal(maps_source_next(&src, &line, &lineno, &err), 1);
	assert_string_equal(line, "a 1 b");
	assert_int_equal(lineno, 1);
	assert_int_equal(maps_source_next(&src, &line, &lineno, &err), 1);
	assert_string_equal(line, "d 2");
	assert_int_equal(lineno, 5);
	assert_int_equal(maps_source_next(&src, &line, &lineno, &err), 1);
	assert_string_equal(line, "e 3");
	assert_int_equal(lineno, 8);
	assert_int_equal(maps_source_next(&src, &line, &lineno, &err), 0);
	maps_source_free(&src);
}

static void test_inline(void **state)
{
	struct map *m;

	(void)state;
	m = open_ok("inline:{ key1=value1, { key2 = value with spaces, and commas }, KEY3=v3 }", 0);
	mt_assert_value(m, "key1", "value1");
	mt_assert_value(m, "key2", "value with spaces, and commas");
	mt_assert_value(m, "key3", "v3");
	mt_assert_value(m, "KEY1", "value1");
	mt_assert_value(m, "value1", NULL);
	map_close(&m);
	m = open_ok("inline:{a=1 b=2,c=}", 0);
	mt_assert_value(m, "b", "2");
	mt_assert_value(m, "c", "");
	map_close(&m);
	/* Duplicate: first wins, with a warning. */
	m = open_ok("inline:{ x=1, X=2 }", 0);
	mt_assert_value(m, "x", "1");
	assert_string_equal(mt_warnings, "inline:{ x=1, X=2 }: duplicate entry \"x\"; keeping "
			    "the first one; remove the other\n");
	map_close(&m);
}

static void test_inline_errors(void **state)
{
	(void)state;
	mt_expect_error("inline:key=value", "inline:key=value: the table must be in braces; "
			"write inline:{ KEY=VALUE, ... }");
	mt_expect_error("inline:{ a=1, b }", "inline:{ a=1, b }: missing \"=\" in \"b\"; "
			"write KEY=VALUE");
	mt_expect_error("inline:{ =1 }", "inline:{ =1 }: missing key before \"=1\"; "
			"write KEY=VALUE");
	mt_expect_error("inline:{ { a = 1 }", "inline:{ { a = 1 }: missing \"}\" after "
			"\"{ a = 1 \"; write { KEY = VALUE }");
	mt_expect_error("inline:{ }", "inline:{ }: empty table; write inline:{ KEY=VALUE, ... }");
	mt_expect_error("inline:{ a=b}c }", "inline:{ a=b}c }: unexpected \"}\" after \"a=b\"; "
			"put braces around a whole item: { KEY = VALUE }");
}

static void test_static(void **state)
{
	struct map *m;
	const char *v, *err;

	(void)state;
	m = open_ok("static:OK", 0);
	mt_assert_value(m, "anything", "OK");
	mt_assert_value(m, "", "OK");
	assert_int_equal(map_lookup_address(m, "a@b.c", 0, &v, &err), MAP_FOUND);
	assert_string_equal(v, "OK");
	map_close(&m);
	m = open_ok("static:{  text with spaces  }", 0);
	mt_assert_value(m, "x", "text with spaces");
	map_close(&m);
	m = open_ok("static:", 0);
	mt_assert_value(m, "x", "");
	map_close(&m);
	mt_expect_error("static:{ open", "static:{ open: missing \"}\"; write static:{ VALUE }");
}

/* Open an inline table with keys[from..] mapped to their index. */
static struct map *ladder(const char *const *keys, size_t from)
{
	struct strbuf sb;
	struct map *m;

	strbuf_init(&sb, 0);
	strbuf_puts(&sb, "inline:{");
	for (size_t i = from; keys[i]; i++)
		strbuf_printf(&sb, " %s=%zu", keys[i], i);
	strbuf_puts(&sb, " }");
	m = open_ok(sb.data, 0);
	strbuf_free(&sb);
	return m;
}

/* For each i, a table holding candidates i.. must answer i: this proves the
 * exact order. Keys listed after NULL must never be found. */
static void check_order(const char *const *keys, const char *address, unsigned flags)
{
	for (size_t i = 0; keys[i]; i++) {
		struct map *m = ladder(keys, i);
		const char *v = NULL, *err = NULL;
		char want[24];

		snprintf(want, sizeof(want), "%zu", i);
		assert_int_equal(map_lookup_address(m, address, flags, &v, &err), MAP_FOUND);
		assert_string_equal(v, want);
		map_close(&m);
	}
}

static void check_never(const char *spec, const char *address, unsigned flags)
{
	struct map *m = open_ok(spec, 0);
	const char *v = NULL, *err = NULL;

	assert_int_equal(map_lookup_address(m, address, flags, &v, &err), MAP_NOTFOUND);
	assert_null(v);
	map_close(&m);
}

static void test_address_access_order(void **state)
{
	static const char *const keys[] = {
		"user@a.b.example.com", "a.b.example.com", ".b.example.com", ".example.com",
		".com", "user@", NULL,
	};
	static const char *const parent_keys[] = {
		"user@a.b.example.com", "a.b.example.com", "b.example.com", "example.com",
		"com", "user@", NULL,
	};

	(void)state;
	check_order(keys, "User@A.B.Example.COM", MAP_ADDR_ACCESS);
	check_order(parent_keys, "user@a.b.example.com", MAP_ADDR_PARENT_MATCHES_SUBDOMAINS);
	/* Without the flag, bare parents never match; with it, dotted ones. */
	check_never("inline:{ b.example.com=x, example.com=x, com=x, @a.b.example.com=x, user=x }",
		    "user@a.b.example.com", MAP_ADDR_ACCESS);
	check_never("inline:{ .b.example.com=x, .example.com=x, .com=x }",
		    "user@a.b.example.com", MAP_ADDR_PARENT_MATCHES_SUBDOMAINS);
	/* No domain part: the string itself, then "string@". */
	{
		static const char *const bare[] = { "<>", "<>@", NULL };

		check_order(bare, "<>", MAP_ADDR_ACCESS);
	}
	/* An empty domain and an empty local part. */
	{
		static const char *const k1[] = { "user@", NULL };
		static const char *const k2[] = { "@example.com", "example.com", NULL };

		check_order(k1, "user@", MAP_ADDR_ACCESS);
		check_order(k2, "@example.com", MAP_ADDR_ACCESS);
	}
}

static void test_address_virtual_order(void **state)
{
	static const char *const local[] = { "user@example.com", "user", "@example.com", NULL };
	static const char *const remote[] = { "user@example.com", "@example.com", NULL };

	(void)state;
	check_order(local, "user@example.com", MAP_ADDR_VIRTUAL | MAP_ADDR_LOCAL_DOMAIN);
	check_order(remote, "user@example.com", MAP_ADDR_VIRTUAL);
	/* "user" only for local domains; no domain or "user@" walk in virtual. */
	check_never("inline:{ user=x, example.com=x, .com=x, user@=x }", "user@example.com",
		    MAP_ADDR_VIRTUAL);
	check_never("inline:{ example.com=x, user@=x }", "user@example.com",
		    MAP_ADDR_VIRTUAL | MAP_ADDR_LOCAL_DOMAIN);
	check_never("inline:{ user@=x, @=x }", "user", MAP_ADDR_VIRTUAL);
}

static void test_address_pattern_tables(void **state)
{
	struct map *m;
	const char *v, *err;

	(void)state;
	/* A regexp table sees the whole address only, never "domain". */
	mt_write("re", "/^example\\.com$/ domain-only\n/^user@$/ user-only\n");
	m = open_ok(mt_spec("regexp", "re"), 0);
	assert_int_equal(map_lookup_address(m, "user@example.com", 0, &v, &err), MAP_NOTFOUND);
	map_close(&m);
	mt_write("re2", "/@example\\.com$/ whole\n");
	m = open_ok(mt_spec("regexp", "re2"), 0);
	assert_int_equal(map_lookup_address(m, "user@example.com", 0, &v, &err), MAP_FOUND);
	assert_string_equal(v, "whole");
	map_close(&m);
}

static void test_map_list(void **state)
{
	struct map_list *ml;
	const char *v, *err;
	char list[1024];

	(void)state;
	mt_write("virtual", "user@example.com from-file\n");
	snprintf(list, sizeof(list), "inline:{ @example.com=catchall, { other@example.com = a, b } },"
		 "  texthash:%s/virtual", mt_dir);
	ml = map_list_open(list, 0, &err);
	assert_non_null(ml);
	assert_int_equal(map_list_count(ml), 2);
	assert_string_equal(map_type(map_list_at(ml, 1)), "texthash");
	assert_null(map_list_at(ml, 2));
	/* Each pattern goes to every table before the next pattern: the
	 * second table's user@domain beats the first table's @domain. */
	assert_int_equal(map_list_lookup_address(ml, "user@example.com", MAP_ADDR_VIRTUAL,
						 &v, &err), MAP_FOUND);
	assert_string_equal(v, "from-file");
	assert_int_equal(map_list_lookup_address(ml, "x@example.com", MAP_ADDR_VIRTUAL,
						 &v, &err), MAP_FOUND);
	assert_string_equal(v, "catchall");
	assert_int_equal(map_list_lookup(ml, "other@example.com", &v, &err), MAP_FOUND);
	assert_string_equal(v, "a, b");
	assert_int_equal(map_list_lookup(ml, "nobody", &v, &err), MAP_NOTFOUND);
	map_list_close(&ml);
	assert_null(ml);

	ml = map_list_open("", 0, &err);
	assert_non_null(ml);
	assert_int_equal(map_list_count(ml), 0);
	assert_int_equal(map_list_lookup(ml, "x", &v, &err), MAP_NOTFOUND);
	map_list_close(&ml);

	assert_null(map_list_open("static:a, inline:{ a=b", 0, &err));
	assert_string_equal(err, "table list \"static:a, inline:{ a=b\": missing \"}\"; close "
			    "every { of inline:{...} or static:{...}");
	assert_null(map_list_open("static:a, bogus:x", 0, &err));
	assert_string_equal(err, "table \"bogus:x\": unknown type \"bogus\"; use one of lmdb, "
			    "texthash, inline, static, cidr, regexp, pcre");
}

static void test_long_key(void **state)
{
	struct map *m;
	char *key = must_malloc(MAPS_LINE_MAX + 10);

	(void)state;
	memset(key, 'a', MAPS_LINE_MAX + 9);
	key[MAPS_LINE_MAX + 9] = '\0';
	m = open_ok("inline:{ a=b }", 0);
	mt_assert_value(m, key, NULL);
	map_close(&m);
	free(key);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_unknown_and_missing_type, mt_setup, mt_teardown),
		cmocka_unit_test_setup_teardown(test_texthash_basic, mt_setup, mt_teardown),
		cmocka_unit_test_setup_teardown(test_texthash_nofold, mt_setup, mt_teardown),
		cmocka_unit_test_setup_teardown(test_texthash_duplicates, mt_setup, mt_teardown),
		cmocka_unit_test_setup_teardown(test_texthash_malformed, mt_setup, mt_teardown),
		cmocka_unit_test_setup_teardown(test_source_reader, mt_setup, mt_teardown),
		cmocka_unit_test_setup_teardown(test_inline, mt_setup, mt_teardown),
		cmocka_unit_test_setup_teardown(test_inline_errors, mt_setup, mt_teardown),
		cmocka_unit_test_setup_teardown(test_static, mt_setup, mt_teardown),
		cmocka_unit_test_setup_teardown(test_address_access_order, mt_setup, mt_teardown),
		cmocka_unit_test_setup_teardown(test_address_virtual_order, mt_setup, mt_teardown),
		cmocka_unit_test_setup_teardown(test_address_pattern_tables, mt_setup, mt_teardown),
		cmocka_unit_test_setup_teardown(test_map_list, mt_setup, mt_teardown),
		cmocka_unit_test_setup_teardown(test_long_key, mt_setup, mt_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
