/*
 * test_store_maildir_name.c - Maildir file names (store/maildir-name.c):
 * flags from the :2, info in both directions (ASCII order, unknown letters
 * kept), the S= W= U= fields, the U= rewrite, names that are not messages,
 * and unique names with an escaped host.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <string.h>

#include "store/maildir-name.h"
#include "store/store.h"

static void test_parse_full(void **state)
{
	const char *name = "1732530000.M123456P789Q1.mx.example.org,S=1234,W=1260,U=42:2,FRS";
	struct maildir_name n;

	(void)state;
	assert_int_equal(maildir_name_parse(name, strlen(name), &n), 0);
	assert_int_equal(n.base_len, strlen(name) - strlen(":2,FRS"));
	assert_int_equal(n.uid, 42);
	assert_int_equal(n.size, 1234);
	assert_int_equal(n.vsize, 1260);
	assert_int_equal(n.time, 1732530000);
	assert_true(n.has_info);
	assert_int_equal(n.flags, STORE_FLAG_FLAGGED | STORE_FLAG_ANSWERED | STORE_FLAG_SEEN);
	assert_string_equal(n.extra, "");
}

static void test_parse_foreign(void **state)
{
	/* mutt/Postfix local style, with P (passed) and Dovecot keyword letters */
	const char *name = "1700000000.12345_0.host:2,PSab";
	struct maildir_name n;

	(void)state;
	assert_int_equal(maildir_name_parse(name, strlen(name), &n), 0);
	assert_int_equal(n.uid, 0);
	assert_int_equal(n.size, 0);
	assert_int_equal(n.flags, STORE_FLAG_SEEN);
	assert_string_equal(n.extra, "Pab");
	/* new/ names carry no info */
	assert_int_equal(maildir_name_parse("1700000000.1.host", 17, &n), 0);
	assert_false(n.has_info);
	assert_int_equal(n.flags, 0);
}

static void test_parse_rejects(void **state)
{
	struct maildir_name n;
	char longname[300];

	(void)state;
	assert_int_equal(maildir_name_parse("", 0, &n), -1);
	assert_int_equal(maildir_name_parse(".hidden", 7, &n), -1);
	assert_int_equal(maildir_name_parse("a/b", 3, &n), -1);
	assert_int_equal(maildir_name_parse("a\0b", 3, &n), -1);
	assert_int_equal(maildir_name_parse(":2,S", 4, &n), -1);
	memset(longname, 'x', sizeof(longname));
	assert_int_equal(maildir_name_parse(longname, sizeof(longname), &n), -1);
	/* malformed fields are ignored, not fatal */
	{
		const char *bad = "1.x,U=abc,S=,W=99999999999999999999999";

		assert_int_equal(maildir_name_parse(bad, strlen(bad), &n), 0);
	}
	assert_int_equal(n.uid, 0);
	assert_int_equal(n.size, 0);
	assert_int_equal(n.vsize, 0);
}

static void test_info_format(void **state)
{
	char buf[64];

	(void)state;
	maildir_info_format(buf, sizeof(buf), 0, "");
	assert_string_equal(buf, ":2,");
	maildir_info_format(buf, sizeof(buf),
			    STORE_FLAG_SEEN | STORE_FLAG_DRAFT | STORE_FLAG_DELETED |
			    STORE_FLAG_ANSWERED | STORE_FLAG_FLAGGED, NULL);
	assert_string_equal(buf, ":2,DFRST");
	/* P sorts between F and R; keyword letters after the capitals */
	maildir_info_format(buf, sizeof(buf), STORE_FLAG_FLAGGED | STORE_FLAG_SEEN, "bPa");
	assert_string_equal(buf, ":2,FPSab");
	/* an extra letter that is a flag letter does not resurrect the flag */
	maildir_info_format(buf, sizeof(buf), 0, "S");
	assert_string_equal(buf, ":2,");
	maildir_info_format(buf, 5, STORE_FLAG_SEEN | STORE_FLAG_DRAFT, "");
	assert_string_equal(buf, ":2,D");
}

static void test_with_uid(void **state)
{
	char buf[256];
	const char *b1 = "1.M2P3Q4.host,S=10,W=12";
	const char *b2 = "1.M2P3Q4.host,U=7,S=10";

	(void)state;
	assert_int_equal(maildir_base_with_uid(buf, sizeof(buf), b1, strlen(b1), 5), 0);
	assert_string_equal(buf, "1.M2P3Q4.host,S=10,W=12,U=5");
	assert_int_equal(maildir_base_with_uid(buf, sizeof(buf), b2, strlen(b2), 9), 0);
	assert_string_equal(buf, "1.M2P3Q4.host,S=10,U=9");
	assert_int_equal(maildir_base_with_uid(buf, sizeof(buf), "plain", 5, 1), 0);
	assert_string_equal(buf, "plain,U=1");
	assert_int_equal(maildir_base_with_uid(buf, 8, "plain", 5, 1), -1);
}

static void test_unique(void **state)
{
	char a[256], b[256];
	unsigned counter = 0;
	struct maildir_name n;

	(void)state;
	assert_int_equal(maildir_unique_name(a, sizeof(a), "mx/1:2,3", &counter), 0);
	assert_int_equal(maildir_unique_name(b, sizeof(b), "mx/1:2,3", &counter), 0);
	assert_string_not_equal(a, b);
	assert_non_null(strstr(a, ".mx\\0571\\0722\\0543"));
	assert_null(strchr(a, '/'));
	assert_null(strchr(a, ':'));
	assert_int_equal(maildir_name_parse(a, strlen(a), &n), 0);
	assert_true(n.time > 0);
	assert_false(n.has_info);
	assert_int_equal(maildir_unique_name(a, 10, "host", &counter), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_full),
		cmocka_unit_test(test_parse_foreign),
		cmocka_unit_test(test_parse_rejects),
		cmocka_unit_test(test_info_format),
		cmocka_unit_test(test_with_uid),
		cmocka_unit_test(test_unique),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
