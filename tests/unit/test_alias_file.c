/*
 * test_alias_file.c - the aliases(5) parser and resolve_aliases_build
 * (smtp/resolve/alias-file.c): syntax (continuations, comments, quoted
 * names and values), every error text with file and line, the compiled
 * lmdb: table read back through lib/maps, and resolve_check_config
 * reporting a broken alias source.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "maps.h"
#include "resolve_test_util.h"
#include "smtp/resolve/resolve-private.h"

static char *parse(const char *text, struct alias_entry **e, size_t *n)
{
	char *err = NULL;

	if (alias_file_parse("/etc/aliases", text, strlen(text), e, n, &err) < 0)
		return err;
	return NULL;
}

static void test_syntax(void **state)
{
	struct alias_entry *e = NULL;
	size_t n = 0;
	char *err;

	(void)state;
	err = parse("# Basic system aliases\n"
		    "\n"
		    "MAILER-DAEMON:\tpostmaster\n"
		    "postmaster: root\n"
		    "   # a comment inside is ignored\n"
		    "team: alice,\n"
		    "\tbob,\r\n"
		    "  carol@example.org\n"
		    "\"odd name\": \"|/usr/bin/filter -x\", /var/spool/archive\n"
		    "list : :include:/etc/postern/list\n"
		    "last:nobody", &e, &n);
	assert_null(err);
	assert_int_equal(n, 6);
	assert_string_equal(e[0].name, "mailer-daemon");
	assert_string_equal(e[0].value, "postmaster");
	assert_int_equal(e[0].line, 3);
	assert_string_equal(e[2].name, "team");
	assert_string_equal(e[2].value, "alice, bob, carol@example.org");
	assert_int_equal(e[2].line, 6);
	assert_string_equal(e[3].name, "odd name");
	assert_string_equal(e[3].value, "\"|/usr/bin/filter -x\", /var/spool/archive");
	assert_string_equal(e[4].name, "list");
	assert_string_equal(e[4].value, ":include:/etc/postern/list");
	assert_string_equal(e[5].name, "last");
	assert_string_equal(e[5].value, "nobody");
	alias_entries_free(e, n);
}

static void test_errors(void **state)
{
	static const struct { const char *text, *error; } cases[] = {
		{ "root: alice\nbob alice\n",
		  "/etc/aliases:2: missing ':' after the alias name; write NAME: ADDRESS, ..." },
		{ "  alice\n", "/etc/aliases:1: continuation line without an alias before it; start the "
			       "line with NAME:" },
		{ "root:\n", "/etc/aliases:1: alias \"root\" has no value; write root: ADDRESS, ..." },
		{ ": alice\n", "/etc/aliases:1: empty alias name; write NAME: ADDRESS, ..." },
		{ "\"root: alice\n", "/etc/aliases:1: unbalanced quote in the alias name; close it with "
				     "'\"' before the ':'" },
		{ "a: b\nroot: \"|cmd, x\n", "/etc/aliases:2: alias \"root\": unbalanced quote or more "
					     "than 10000 items; close the quote or split the list "
					     "with :include:" },
		{ "root: :include:etc/list\n", "/etc/aliases:1: alias \"root\": \":include:etc/list\" is "
					       "not an absolute path; write :include:/path/to/file" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct alias_entry *e = NULL;
		size_t n = 0;
		char *err = parse(cases[i].text, &e, &n);

		assert_non_null(err);
		assert_string_equal(err, cases[i].error);
		assert_null(e);
		free(err);
	}
	{
		struct alias_entry *e = NULL;
		size_t n = 0;
		char *err = NULL;

		assert_int_equal(alias_file_parse("/etc/aliases", "a: b\nc\0: d\n", 11, &e, &n, &err), -1);
		assert_string_equal(err, "/etc/aliases:2: NUL byte in the file; this is not a text file, "
					 "check the file name");
		free(err);
	}
}

static void test_list_split(void **state)
{
	char **items;

	(void)state;
	items = alias_list_split(" a, \"|cmd a, b\" ,, /f , \"x y\"@example.org ", 100);
	assert_non_null(items);
	assert_string_equal(items[0], "a");
	assert_string_equal(items[1], "|cmd a, b");
	assert_string_equal(items[2], "/f");
	assert_string_equal(items[3], "\"x y\"@example.org");
	assert_null(items[4]);
	alias_list_free(items);
	assert_null(alias_list_split("a, b, c", 2));
	assert_null(alias_list_split("\"a", 10));
	items = alias_list_split("", 10);
	assert_non_null(items);
	assert_null(items[0]);
	alias_list_free(items);
}

static void test_build(void **state)
{
	struct config *cfg;
	struct map *m;
	const char *v, *err;
	char *error = NULL, *spec, *outbuf = NULL;
	size_t outlen = 0;
	FILE *out;

	(void)state;
	rs_write("aliases", "Postmaster: root\nroot: alice\nteam: alice,\n bob\n");
	cfg = rs_config("alias_maps = lmdb:DIR/aliases\n");
	assert_non_null(cfg);
	out = open_memstream(&outbuf, &outlen);
	assert_int_equal(resolve_aliases_build(cfg, out, &error), 0);
	fclose(out);
	spec = must_asprintf("%s/aliases: 3 aliases\n", rs_dir);
	assert_string_equal(outbuf, spec);
	free(spec);
	free(outbuf);
	spec = must_asprintf("lmdb:%s/aliases", rs_dir);
	m = map_open(spec, 0, &err);
	free(spec);
	assert_non_null(m);
	assert_int_equal(map_lookup(m, "postmaster", &v, &err), MAP_FOUND);
	assert_string_equal(v, "root");
	assert_int_equal(map_lookup(m, "TEAM", &v, &err), MAP_FOUND);
	assert_string_equal(v, "alice, bob");
	assert_int_equal(map_lookup(m, "nobody", &v, &err), MAP_NOTFOUND);
	map_close(&m);
	/* A syntax error keeps the old table and names the line. */
	rs_write("aliases", "root: alice\nbroken line\n");
	assert_int_equal(resolve_aliases_build(cfg, NULL, &error), -1);
	spec = must_asprintf("%s/aliases:2: missing ':' after the alias name; write NAME: ADDRESS, ...",
			     rs_dir);
	assert_string_equal(error, spec);
	free(spec);
	free(error);
	error = NULL;
	/* resolve_check_config parses the source too. */
	assert_int_equal(resolve_check_config(cfg, &error), -1);
	assert_non_null(strstr(error, "aliases:2: missing ':'"));
	free(error);
	error = NULL;
	config_free(&cfg);
	/* alias_maps naming a table not built yet: say how to build it. */
	cfg = rs_config("alias_maps = lmdb:DIR/unbuilt\n");
	assert_null(resolve_new(cfg, &error));
	assert_non_null(strstr(error, "t.cf:5: alias_maps: "));
	assert_non_null(strstr(error, "; alias files are compiled with \"postern aliases\" (newaliases)"));
	free(error);
	error = NULL;
	config_free(&cfg);
	/* A missing source file. */
	cfg = rs_config("alias_database = lmdb:DIR/nonexistent\n");
	assert_int_equal(resolve_aliases_build(cfg, NULL, &error), -1);
	assert_non_null(strstr(error, "nonexistent: "));
	assert_non_null(strstr(error, "; create the alias file or fix alias_database"));
	free(error);
	error = NULL;
	config_free(&cfg);
	/* A /file delivery inside inline:{...} is a value, not a source file
	 * to parse or build (the list is split outside braces only). */
	cfg = rs_config("alias_maps = inline:{ { log = /var/log/mail-copy }, root=alice }\n");
	assert_non_null(cfg);
	out = open_memstream(&outbuf, &outlen);
	assert_int_equal(resolve_aliases_build(cfg, out, &error), 0);
	fclose(out);
	assert_string_equal(outbuf, "inline:{ { log = /var/log/mail-copy }, root=alice }: nothing to build "
			    "(only lmdb: tables are compiled)\n");
	free(outbuf);
	if (resolve_check_config(cfg, &error) != 0)
		fail_msg("%s", error);
	config_free(&cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_syntax),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_list_split),
		cmocka_unit_test(test_build),
	};

	return cmocka_run_group_tests(tests, rs_setup, rs_teardown);
}
