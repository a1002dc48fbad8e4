/*
 * test_imap_list.c - LIST/LSUB patterns and selection (imap/imap-list.c):
 * '*' and '%' against a table of names, INBOX in any case, reference +
 * pattern, hostile patterns in bounded time, and the names and attributes
 * chosen for LIST, LSUB (RFC 3501 6.3.9 '%' parents), SUBSCRIBED with
 * RECURSIVEMATCH (RFC 5258), SPECIAL-USE (RFC 6154) and the formatting.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "imap/imap-private.h"

static bool match(const char *ref, const char *pat, const char *name)
{
	const char *error = NULL;
	struct imap_list_pattern *p = imap_list_pattern_new(ref, pat, &error);
	bool r;

	if (p == NULL)
		fail_msg("%s%s: %s", ref, pat, error);
	r = imap_list_pattern_match(p, name);
	imap_list_pattern_free(&p);
	assert_null(p);
	return r;
}

static void test_match_table(void **state)
{
	static const struct {
		const char *ref, *pat, *name;
		bool want;
	} t[] = {
		{ "", "*", "INBOX", true },
		{ "", "*", "a/b/c", true },
		{ "", "%", "a", true },
		{ "", "%", "a/b", false },
		{ "", "a/%", "a/b", true },
		{ "", "a/%", "a/b/c", false },
		{ "", "a/*", "a/b/c", true },
		{ "", "a/*", "a", false },
		{ "", "a*", "a", true },
		{ "", "a*", "abc/d", true },
		{ "", "a%", "abc/d", false },
		{ "", "%/%", "a/b", true },
		{ "", "%/%", "a/b/c", false },
		{ "", "*/c", "a/b/c", true },
		{ "", "%c", "abc", true },
		{ "", "%c", "ab/c", false },
		{ "", "", "a", false },
		{ "", "Sent", "Sent", true },
		{ "", "Sent", "sent", false },
		{ "", "inbox", "INBOX", true },
		{ "", "iNbOx", "INBOX", true },
		{ "", "inb*", "INBOX", true },
		{ "", "inbox/%", "INBOX/x", true },
		{ "", "INBOX/X", "INBOX/x", false },
		{ "", "*x*x*x", "xxx", true },
		{ "", "*x*x*x", "xx", false },
		{ "", "%%%%a", "ba", true },
		{ "", "*%*%a", "b/c/a", true },
		{ "a/", "%", "a/b", true },
		{ "a/", "%", "a", false },
		{ "a/", "*", "a/b/c", true },
		{ "#news.", "comp.mail.*", "#news.comp.mail.misc", true },
		{ "", "\xe6\x94\xb6*", "\xe6\x94\xb6\xe4\xbb\xb6", true },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		if (match(t[i].ref, t[i].pat, t[i].name) != t[i].want)
			fail_msg("ref '%s' pattern '%s' name '%s': want %d", t[i].ref, t[i].pat,
				 t[i].name, t[i].want);
	}
}

/* A pattern with more than 64 states spans words of the state set. */
static void test_match_long(void **state)
{
	char pat[400], name[400];

	(void)state;
	memset(pat, 'a', 150);
	pat[150] = '*';
	memset(pat + 151, 'b', 100);
	pat[251] = '\0';
	memset(name, 'a', 150);
	memcpy(name + 150, "x/y/", 4);
	memset(name + 154, 'b', 100);
	name[254] = '\0';
	assert_true(match("", pat, name));
	name[253] = 'c';
	assert_false(match("", pat, name));
	pat[150] = '%';
	name[253] = 'b';
	assert_false(match("", pat, name));
}

static void test_hostile_bounded(void **state)
{
	const char *error = NULL;
	char pat[4097], name[513];
	struct imap_list_pattern *p;
	struct timespec a, b;
	double secs;

	(void)state;
	/* the classic exponential case for a backtracking matcher */
	p = imap_list_pattern_new("", "*%*%*%*%*%*%*%*%*%*%*%*%*%*%*%*%a", &error);
	assert_non_null(p);
	memset(name, 'b', 512);
	name[512] = '\0';
	assert_false(imap_list_pattern_match(p, name));
	imap_list_pattern_free(&p);
	/* a long pattern of alternating wildcards and letters: no collapse */
	for (int i = 0; i < 4096; i += 2) {
		pat[i] = '*';
		pat[i + 1] = 'b';
	}
	pat[4096] = '\0';
	clock_gettime(CLOCK_MONOTONIC, &a);
	p = imap_list_pattern_new("", pat, &error);
	assert_non_null(p);
	for (int i = 0; i < 1000; i++)
		assert_false(imap_list_pattern_match(p, name));
	imap_list_pattern_free(&p);
	clock_gettime(CLOCK_MONOTONIC, &b);
	secs = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
	if (secs > 5.0)
		fail_msg("1000 names against a 4 KB pattern took %.2f s", secs);
	/* too long */
	memset(pat, 'a', 4096);
	assert_null(imap_list_pattern_new("a", pat, &error));
	assert_string_equal(error, "LIST pattern too long");
}

/* ---- selection ---- */

static struct imap_list_box boxes[] = {
	{ .name = "INBOX", .exists = true, .subscribed = true },
	{ .name = "Archive/2024", .exists = true },            /* parent "Archive" missing */
	{ .name = "Lists", .exists = true },
	{ .name = "Lists/postern", .exists = true, .subscribed = true },
	{ .name = "Old", .subscribed = true },                  /* subscribed, gone */
	{ .name = "Sent", .exists = true, .subscribed = true, .special_use = STORE_SPECIAL_SENT },
	{ .name = "Trash", .exists = true, .special_use = STORE_SPECIAL_TRASH },
};

static char *run(const struct imap_list_opts *o, const char *const *patterns, const char *verb)
{
	struct imap_list_pattern *pats[4] = { NULL };
	struct imap_list_entry *v;
	const char *error;
	size_t n = 0, np = 0;
	struct strbuf sb;

	for (; patterns[np]; np++) {
		pats[np] = imap_list_pattern_new("", patterns[np], &error);
		assert_non_null(pats[np]);
	}
	assert_int_equal(imap_list_select(boxes, sizeof(boxes) / sizeof(boxes[0]), pats, np, o,
					  &v, &n), 0);
	strbuf_init(&sb, 0);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(imap_list_format(&sb, verb, &v[i], v[i].name, '/',
						  !o->lsub), 0);
		strbuf_putc(&sb, '\n');
	}
	imap_list_entries_free(v, n);
	for (size_t i = 0; i < np; i++)
		imap_list_pattern_free(&pats[i]);
	return strbuf_steal(&sb);
}

static void expect_run(const struct imap_list_opts *o, const char *const *patterns,
		       const char *verb, const char *want)
{
	char *got = run(o, patterns, verb);

	assert_string_equal(got, want);
	free(got);
}

static void test_select_list(void **state)
{
	struct imap_list_opts o = { 0 };

	(void)state;
	expect_run(&o, (const char *[]){ "*", NULL }, "LIST",
		   "LIST (\\HasNoChildren) \"/\" \"INBOX\"\n"
		   "LIST (\\Noselect \\HasChildren) \"/\" \"Archive\"\n"
		   "LIST (\\HasNoChildren) \"/\" \"Archive/2024\"\n"
		   "LIST (\\HasChildren) \"/\" \"Lists\"\n"
		   "LIST (\\HasNoChildren) \"/\" \"Lists/postern\"\n"
		   "LIST (\\HasNoChildren \\Sent) \"/\" \"Sent\"\n"
		   "LIST (\\HasNoChildren \\Trash) \"/\" \"Trash\"\n");
	expect_run(&o, (const char *[]){ "%", NULL }, "LIST",
		   "LIST (\\HasNoChildren) \"/\" \"INBOX\"\n"
		   "LIST (\\Noselect \\HasChildren) \"/\" \"Archive\"\n"
		   "LIST (\\HasChildren) \"/\" \"Lists\"\n"
		   "LIST (\\HasNoChildren \\Sent) \"/\" \"Sent\"\n"
		   "LIST (\\HasNoChildren \\Trash) \"/\" \"Trash\"\n");
	expect_run(&o, (const char *[]){ "Lists/%", "T*", NULL }, "LIST",
		   "LIST (\\HasNoChildren) \"/\" \"Lists/postern\"\n"
		   "LIST (\\HasNoChildren \\Trash) \"/\" \"Trash\"\n");
	o.ret_subscribed = true;
	expect_run(&o, (const char *[]){ "Lists*", NULL }, "LIST",
		   "LIST (\\HasChildren) \"/\" \"Lists\"\n"
		   "LIST (\\HasNoChildren \\Subscribed) \"/\" \"Lists/postern\"\n");
}

static void test_select_lsub(void **state)
{
	struct imap_list_opts o = { .lsub = true };

	(void)state;
	expect_run(&o, (const char *[]){ "*", NULL }, "LSUB",
		   "LSUB () \"/\" \"INBOX\"\n"
		   "LSUB () \"/\" \"Lists/postern\"\n"
		   "LSUB (\\Noselect) \"/\" \"Old\"\n"
		   "LSUB () \"/\" \"Sent\"\n");
	/* RFC 3501 6.3.9: "Lists" is not subscribed, but % stops there */
	expect_run(&o, (const char *[]){ "%", NULL }, "LSUB",
		   "LSUB () \"/\" \"INBOX\"\n"
		   "LSUB (\\Noselect) \"/\" \"Lists\"\n"
		   "LSUB (\\Noselect) \"/\" \"Old\"\n"
		   "LSUB () \"/\" \"Sent\"\n");
}

static void test_select_extended(void **state)
{
	struct imap_list_opts o = { .sel_subscribed = true };

	(void)state;
	expect_run(&o, (const char *[]){ "*", NULL }, "LIST",
		   "LIST (\\HasNoChildren \\Subscribed) \"/\" \"INBOX\"\n"
		   "LIST (\\HasNoChildren \\Subscribed) \"/\" \"Lists/postern\"\n"
		   "LIST (\\NonExistent \\Subscribed) \"/\" \"Old\"\n"
		   "LIST (\\HasNoChildren \\Subscribed \\Sent) \"/\" \"Sent\"\n");
	o.recursive = true;
	expect_run(&o, (const char *[]){ "%", NULL }, "LIST",
		   "LIST (\\HasNoChildren \\Subscribed) \"/\" \"INBOX\"\n"
		   "LIST (\\HasChildren) \"/\" \"Lists\" (\"CHILDINFO\" (\"SUBSCRIBED\"))\n"
		   "LIST (\\NonExistent \\Subscribed) \"/\" \"Old\"\n"
		   "LIST (\\HasNoChildren \\Subscribed \\Sent) \"/\" \"Sent\"\n");
	memset(&o, 0, sizeof(o));
	o.sel_special_use = true;
	expect_run(&o, (const char *[]){ "*", NULL }, "LIST",
		   "LIST (\\HasNoChildren \\Sent) \"/\" \"Sent\"\n"
		   "LIST (\\HasNoChildren \\Trash) \"/\" \"Trash\"\n");
}

static void test_format(void **state)
{
	struct imap_list_entry e = { .attrs = IMAP_LIST_NOSELECT,
				     .special_use = STORE_SPECIAL_ALL | STORE_SPECIAL_JUNK };
	struct strbuf sb;

	(void)state;
	strbuf_init(&sb, 0);
	assert_int_equal(imap_list_format(&sb, "LIST", &e, "a\"b\\c", '.', true), 0);
	assert_string_equal(sb.data, "LIST (\\Noselect \\All \\Junk) \".\" \"a\\\"b\\\\c\"");
	strbuf_reset(&sb);
	e.attrs = 0;
	assert_int_equal(imap_list_format(&sb, "LIST", &e, "x", '/', true), 0);
	assert_string_equal(sb.data, "LIST (\\All \\Junk) \"/\" \"x\"");
	strbuf_free(&sb);
	assert_int_equal(imap_special_use_from_name("\\sent"), STORE_SPECIAL_SENT);
	assert_int_equal(imap_special_use_from_name("\\Important"), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_match_table),
		cmocka_unit_test(test_match_long),
		cmocka_unit_test(test_hostile_bounded),
		cmocka_unit_test(test_select_list),
		cmocka_unit_test(test_select_lsub),
		cmocka_unit_test(test_select_extended),
		cmocka_unit_test(test_format),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
