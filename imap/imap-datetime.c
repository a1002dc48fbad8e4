/*
 * imap-datetime.c - the APPEND date-time argument (RFC 3501 9,
 * "date-time"): "dd-Mon-yyyy hh:mm:ss +zzzz" in double quotes on the wire
 * (the parser removes them), the day either two digits or a space and
 * one digit ("date-day-fixed"), month names in any case.
 *
 * Called by cmd-append.c; tests in tests/unit/test_imap_datetime.c.
 *
 * Strict on purpose: a date the client got wrong becomes a BAD with the
 * reason instead of a silently wrong INTERNALDATE. Days are checked
 * against the month (leap years included), seconds allow 60 (a leap
 * second, as RFC 5322 does), zones must be -2359..+2359.
 */
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "imap/imap-private.h"

static const char months[12][4] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
				    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };

static bool digits(const char *p, size_t n, int *v)
{
	int r = 0;

	for (size_t i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return false;
		r = r * 10 + (p[i] - '0');
	}
	*v = r;
	return true;
}

static bool leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian; m 1..12). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

	return era * 146097 + doe - 719468;
}

int imap_datetime_parse(const char *s, time_t *t_r, const char **error_r)
{
	static const int mdays[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int day, mon = -1, year, hh, mm, ss, zh, zm;

	*error_r = "Invalid date-time; expected \"dd-Mon-yyyy hh:mm:ss +zzzz\" (RFC 3501 9)";
	if (strlen(s) != 26 || s[2] != '-' || s[6] != '-' || s[11] != ' ' || s[14] != ':' ||
	    s[17] != ':' || s[20] != ' ' || (s[21] != '+' && s[21] != '-'))
		return -1;
	if (s[0] == ' ') {
		if (!digits(s + 1, 1, &day))
			return -1;
	} else if (!digits(s, 2, &day)) {
		return -1;
	}
	for (int i = 0; i < 12; i++)
		if (strncasecmp(s + 3, months[i], 3) == 0)
			mon = i;
	if (mon < 0 || !digits(s + 7, 4, &year) || !digits(s + 12, 2, &hh) ||
	    !digits(s + 15, 2, &mm) || !digits(s + 18, 2, &ss) || !digits(s + 22, 2, &zh) ||
	    !digits(s + 24, 2, &zm))
		return -1;
	if (day < 1 || day > mdays[mon] + (mon == 1 && leap(year))) {
		*error_r = "Invalid date-time: no such day in that month";
		return -1;
	}
	if (hh > 23 || mm > 59 || ss > 60 || zh > 23 || zm > 59) {
		*error_r = "Invalid date-time: time or zone out of range";
		return -1;
	}
	int64_t t = days_from_civil(year, mon + 1, day) * 86400 + hh * 3600 + mm * 60 + ss;
	int64_t zone = (zh * 60 + zm) * 60;

	t += s[21] == '+' ? -zone : zone;
	if (sizeof(time_t) < 8 && (t > INT32_MAX || t < INT32_MIN)) {
		*error_r = "Invalid date-time: out of range";
		return -1;
	}
	*t_r = (time_t)t;
	return 0;
}
