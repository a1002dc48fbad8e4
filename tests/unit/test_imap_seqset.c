/*
 * test_imap_seqset.c - imap/imap-seqset.c: sequence sets parsed, resolved
 * against a view (sequence numbers and UIDs, '*', reversed ranges,
 * duplicates, out of range, garbage) and formatted compactly.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "imap/imap-private.h"

/* A view of five messages with UIDs 3 5 6 9 20. */
static uint32_t view_uids[] = { 3, 5, 6, 9, 20 };

static void session_with_view(struct imap_session *s, struct imap_selected *sel, uint32_t count)
{
	memset(s, 0, sizeof(*s));
	memset(sel, 0, sizeof(*sel));
	sel->uids = view_uids;
	sel->count = count;
	s->sel = sel;
}

struct resolve_case {
	const char *set;
	bool uid;
	int rc;
	const char *uids;   /* formatted result, or the error text */
};

static const struct resolve_case cases[] = {
	{ "1", false, 0, "3" },
	{ "*", false, 0, "20" },
	{ "5:2", false, 0, "5:6,9,20" },          /* reversed range */
	{ "1,3:*", false, 0, "3,6,9,20" },
	{ "2:4,3,1", false, 0, "3,5:6,9" },       /* duplicates removed, sorted */
	{ "*:4", false, 0, "9,20" },
	{ "6", false, 1, "Invalid messageset" },  /* out of range */
	{ "1:6", false, 1, "Invalid messageset" },
	{ "0", false, -1, "Invalid sequence set" },
	{ "", false, -1, "Invalid sequence set" },
	{ "1,", false, -1, "Invalid sequence set" },
	{ "a", false, -1, "Invalid sequence set" },
	{ "1:2:3", false, -1, "Invalid sequence set" },
	{ "4294967296", false, -1, "Invalid sequence set" },
	{ "1 2", false, -1, "Invalid sequence set" },
	{ "5", true, 0, "5" },
	{ "4", true, 0, "" },                     /* UIDs that do not exist are ignored */
	{ "1:*", true, 0, "3,5:6,9,20" },
	{ "100:*", true, 0, "20" },               /* n:* names the highest UID even above n */
	{ "*", true, 0, "20" },
	{ "7:3", true, 0, "3,5:6" },
	{ "10:19", true, 0, "" },
	{ "1:4294967295", true, 0, "3,5:6,9,20" },
};

static void test_resolve(void **state)
{
	struct imap_session s;
	struct imap_selected sel;

	(void)state;
	session_with_view(&s, &sel, 5);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint32_t *uids = NULL;
		size_t n = 99;
		const char *err = NULL;
		int rc = imap_seqset_resolve(&s, cases[i].set, cases[i].uid, &uids, &n, &err);
		struct strbuf sb;

		if (rc != cases[i].rc)
			fail_msg("%s (uid %d): rc %d, expected %d", cases[i].set, cases[i].uid, rc, cases[i].rc);
		if (rc != 0) {
			assert_string_equal(err, cases[i].uids);
			assert_null(uids);
			continue;
		}
		strbuf_init(&sb, 0);
		assert_int_equal(imap_seqset_format(&sb, uids, n), 0);
		assert_string_equal(sb.data ? sb.data : "", cases[i].uids);
		strbuf_free(&sb);
		free(uids);
	}
}

static void test_empty_mailbox(void **state)
{
	struct imap_session s;
	struct imap_selected sel;
	uint32_t *uids = NULL;
	size_t n;
	const char *err;

	(void)state;
	session_with_view(&s, &sel, 0);
	assert_int_equal(imap_seqset_resolve(&s, "1:*", false, &uids, &n, &err), 1);
	assert_int_equal(imap_seqset_resolve(&s, "*", false, &uids, &n, &err), 1);
	assert_int_equal(imap_seqset_resolve(&s, "1:*", true, &uids, &n, &err), 0);
	assert_int_equal(n, 0);
	free(uids);
}

static void test_parse(void **state)
{
	struct imap_seq_range *r;
	size_t n;

	(void)state;
	assert_int_equal(imap_seqset_parse("7:*,3,9:2", &r, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(r[0].lo, 7);
	assert_int_equal(r[0].hi, UINT32_MAX);
	assert_int_equal(r[1].lo, 3);
	assert_int_equal(r[1].hi, 3);
	assert_int_equal(r[2].lo, 2);
	assert_int_equal(r[2].hi, 9);
	free(r);
	assert_int_equal(imap_seqset_parse("1,,2", &r, &n), -1);
	assert_int_equal(imap_seqset_parse(":1", &r, &n), -1);
	assert_int_equal(imap_seqset_parse(NULL, &r, &n), -1);
}

static void test_format(void **state)
{
	static const uint32_t u[] = { 1, 2, 3, 7, 9, 10 };
	struct strbuf sb;

	(void)state;
	strbuf_init(&sb, 0);
	assert_int_equal(imap_seqset_format(&sb, u, 6), 0);
	assert_string_equal(sb.data, "1:3,7,9:10");
	strbuf_free(&sb);
	strbuf_init(&sb, 4);
	assert_int_equal(imap_seqset_format(&sb, u, 6), -1);
	strbuf_free(&sb);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_resolve),
		cmocka_unit_test(test_empty_mailbox),
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_format),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
