/*
 * test_imap_flags.c - imap/imap-flags.c: formatting the store's flag bits
 * and keywords as an IMAP flag list, and parsing STORE/APPEND flag lists
 * with the exact BAD texts (\Recent, unknown system flags, non-atoms).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imap/imap-private.h"

static struct imap_arg atom(const char *s)
{
	struct imap_arg a = { .type = IMAP_ARG_ATOM, .data = (char *)s, .len = strlen(s) };
	return a;
}

static void test_format(void **state)
{
	struct strbuf sb;

	(void)state;
	strbuf_init(&sb, 0);
	assert_int_equal(imap_flags_format(&sb, 0, "", false), 0);
	assert_int_equal(sb.len, 0);
	assert_int_equal(imap_flags_format(&sb, STORE_FLAGS_STORED, "Junk $Label1", true), 0);
	assert_string_equal(sb.data, "\\Answered \\Flagged \\Deleted \\Seen \\Draft \\Recent Junk $Label1");
	strbuf_reset(&sb);
	assert_int_equal(imap_flags_format(&sb, 0, "kw", true), 0);
	assert_string_equal(sb.data, "\\Recent kw");
	strbuf_reset(&sb);
	assert_int_equal(imap_flags_format(&sb, STORE_FLAG_DRAFT, NULL, false), 0);
	assert_string_equal(sb.data, "\\Draft");
	strbuf_free(&sb);

	/* a full buffer leaves it as it was */
	strbuf_init(&sb, 10);
	assert_int_equal(strbuf_puts(&sb, "(x"), 0);
	assert_int_equal(imap_flags_format(&sb, STORE_FLAG_SEEN | STORE_FLAG_DELETED, "", false), -1);
	assert_string_equal(sb.data, "(x");
	strbuf_free(&sb);
}

static void test_parse_list(void **state)
{
	struct imap_arg items[] = { atom("\\seen"), atom("\\DELETED"), atom("$Junk"), atom("work"),
				    atom("$junk"), atom("\\Draft"), atom("\\Answered"), atom("\\Flagged") };
	struct imap_arg list = { .type = IMAP_ARG_LIST, .list = items, .list_count = 8 };
	const char *err = NULL;
	unsigned flags;
	char *kw;

	(void)state;
	assert_int_equal(imap_flags_parse(&list, &flags, &kw, &err), 0);
	assert_int_equal(flags, STORE_FLAGS_STORED);
	assert_string_equal(kw, "$Junk work");
	free(kw);

	list.list_count = 0;
	assert_int_equal(imap_flags_parse(&list, &flags, &kw, &err), 0);
	assert_int_equal(flags, 0);
	assert_string_equal(kw, "");
	free(kw);

	struct imap_arg one = atom("\\Flagged");
	assert_int_equal(imap_flags_parse(&one, &flags, &kw, &err), 0);
	assert_int_equal(flags, STORE_FLAG_FLAGGED);
	assert_string_equal(kw, "");
	free(kw);
}

static void assert_bad(struct imap_arg a, const char *want)
{
	struct imap_arg list = { .type = IMAP_ARG_LIST, .list = &a, .list_count = 1 };
	const char *err = NULL;
	unsigned flags = 99;
	char *kw = (char *)"x";

	assert_int_equal(imap_flags_parse(&list, &flags, &kw, &err), -1);
	assert_non_null(err);
	if (strcmp(err, want) != 0)
		fail_msg("error '%s', want '%s'", err, want);
	assert_null(kw);
	assert_int_equal(flags, 0);
}

static void test_parse_bad(void **state)
{
	struct imap_arg str = { .type = IMAP_ARG_STRING, .data = "kw", .len = 2 };
	struct imap_arg lst = { .type = IMAP_ARG_LIST };

	(void)state;
	assert_bad(atom("\\Recent"), "\\Recent cannot be changed by the client");
	assert_bad(atom("\\recent"), "\\Recent cannot be changed by the client");
	assert_bad(atom("\\Important"), "Unknown system flag");
	assert_bad(atom("\\*"), "Unknown system flag");
	assert_bad(atom("a]b"), "Invalid characters in keyword");
	assert_bad(atom("a%b"), "Invalid characters in keyword");
	assert_bad(atom("caf\xc3\xa9"), "Invalid characters in keyword");
	assert_bad(str, "Flags must be atoms");
	assert_bad(lst, "Flags must be atoms");

	/* more keywords than the store keeps */
	static struct imap_arg many[400];
	static char names[400][16];
	for (unsigned i = 0; i < 400; i++) {
		snprintf(names[i], sizeof(names[i]), "kw%u", i);
		many[i] = atom(names[i]);
	}
	struct imap_arg list = { .type = IMAP_ARG_LIST, .list = many, .list_count = 400 };
	const char *err = NULL;
	unsigned flags;
	char *kw;
	assert_int_equal(imap_flags_parse(&list, &flags, &kw, &err), -1);
	assert_string_equal(err, "Too many keywords");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_parse_list),
		cmocka_unit_test(test_parse_bad),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
