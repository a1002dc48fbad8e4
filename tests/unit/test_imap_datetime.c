/*
 * test_imap_datetime.c - the APPEND date-time parser (imap/imap-datetime.c):
 * the RFC 3501 example, space-padded days, zones both ways, leap years,
 * and every malformed shape refused with its reason.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "imap/imap-private.h"

static void ok(const char *s, long long want)
{
	const char *error = NULL;
	time_t t = 0;

	if (imap_datetime_parse(s, &t, &error) < 0)
		fail_msg("%s: %s", s, error);
	assert_int_equal((long long)t, want);
}

static void bad(const char *s, const char *want)
{
	const char *error = NULL;
	time_t t = 0;

	assert_int_equal(imap_datetime_parse(s, &t, &error), -1);
	assert_string_equal(error, want);
}

static void test_valid(void **state)
{
	(void)state;
	/* RFC 3501 8 example: 17-Jul-1996 02:44:25 -0700 = 09:44:25 UTC */
	ok("17-Jul-1996 02:44:25 -0700", 837596665);
	ok(" 1-Jan-1970 00:00:00 +0000", 0);
	ok("01-Jan-1970 01:00:00 +0100", 0);
	ok("01-jan-1970 00:00:00 -0030", 1800);
	ok("29-Feb-2024 12:00:00 +0000", 1709208000);
	ok("31-Dec-2099 23:59:60 +0000", 4102444800LL);
}

static void test_invalid(void **state)
{
	const char *shape = "Invalid date-time; expected \"dd-Mon-yyyy hh:mm:ss +zzzz\" (RFC 3501 9)";

	(void)state;
	bad("", shape);
	bad("17-Jul-1996 02:44:25", shape);
	bad("17-Jul-1996 02:44:25 -07000", shape);
	bad("1-Jul-1996 02:44:25 -0700", shape);
	bad("17-Jly-1996 02:44:25 -0700", shape);
	bad("17-Jul-96 02:44:25 -0700", shape);
	bad("17 Jul 1996 02:44:25 -0700", shape);
	bad("17-Jul-1996 02:44:25 0700", shape);
	bad("17-Jul-1996 2:44:25 -0700 ", shape);
	bad("1a-Jul-1996 02:44:25 -0700", shape);
	bad("29-Feb-2023 12:00:00 +0000", "Invalid date-time: no such day in that month");
	bad("31-Apr-2023 12:00:00 +0000", "Invalid date-time: no such day in that month");
	bad("00-Apr-2023 12:00:00 +0000", "Invalid date-time: no such day in that month");
	bad("01-Apr-2023 24:00:00 +0000", "Invalid date-time: time or zone out of range");
	bad("01-Apr-2023 12:00:00 +2400", "Invalid date-time: time or zone out of range");
	bad("01-Apr-2023 12:00:00 +0060", "Invalid date-time: time or zone out of range");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid),
		cmocka_unit_test(test_invalid),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
