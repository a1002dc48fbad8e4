/*
 * mime-date.c - the Date: header as a time, for SEARCH SENTBEFORE/SENTON/
 * SENTSINCE and for sorting. Called by the IMAP role and the store.
 *
 * RFC 5322 3.3 (date-time) and 4.3 (obsolete: two- and three-digit years,
 * named zones UT/GMT/EST..PDT, military letters which mean -0000,
 * comments and folding anywhere, missing seconds, missing weekday).
 * Tolerated beyond that: a missing zone (taken as +0000), a day name
 * without comma, "dd-Mon-yyyy" dashes. Fields out of range fail.
 */
#include <string.h>
#include <strings.h>

#include "mime-private.h"

struct dscan {
	const char *s;
	size_t len, i;
};

static void skip(struct dscan *d)
{
	while (d->i < d->len) {
		char c = d->s[d->i];

		if (mime_is_ws((unsigned char)c) || c == ',') {
			d->i++;
		} else if (c == '(') {
			unsigned depth = 0;
			do {
				if (d->s[d->i] == '\\' && d->i + 1 < d->len)
					d->i++;
				else if (d->s[d->i] == '(')
					depth++;
				else if (d->s[d->i] == ')')
					depth--;
				d->i++;
			} while (d->i < d->len && depth > 0);
		} else {
			break;
		}
	}
}

/* number of up to maxd digits; -1 when none */
static long num(struct dscan *d, unsigned maxd, unsigned *ndigits)
{
	long v = 0;
	unsigned n = 0;

	while (d->i < d->len && n < maxd && d->s[d->i] >= '0' && d->s[d->i] <= '9') {
		v = v * 10 + (d->s[d->i] - '0');
		d->i++;
		n++;
	}
	if (ndigits)
		*ndigits = n;
	return n ? v : -1;
}

static size_t word(struct dscan *d)
{
	size_t st = d->i;

	while (d->i < d->len && ((d->s[d->i] | 0x20) >= 'a' && (d->s[d->i] | 0x20) <= 'z'))
		d->i++;
	return d->i - st;
}

/* days since 1970-01-01 of a civil date (proleptic Gregorian) */
static long days_from_civil(long y, unsigned m, unsigned dd)
{
	y -= m <= 2;
	long era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + dd - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (long)doe - 719468;
}

static int zone_name(const char *w, size_t n, int *tz)
{
	static const struct { const char *name; int min; } zones[] = {
		{ "UT", 0 }, { "UTC", 0 }, { "GMT", 0 }, { "Z", 0 },
		{ "EST", -300 }, { "EDT", -240 }, { "CST", -360 }, { "CDT", -300 },
		{ "MST", -420 }, { "MDT", -360 }, { "PST", -480 }, { "PDT", -420 },
	};
	for (size_t k = 0; k < sizeof(zones) / sizeof(zones[0]); k++)
		if (strlen(zones[k].name) == n && strncasecmp(w, zones[k].name, n) == 0) {
			*tz = zones[k].min;
			return 0;
		}
	/* RFC 5322 4.3: military zones are unreliable, treat as -0000 */
	if (n == 1) {
		*tz = 0;
		return 0;
	}
	return -1;
}

int mime_date_parse(const char *s, size_t len, time_t *t_r, int *tz_min_r)
{
	static const char months[] = "janfebmaraprmayjunjulaugsepoctnovdec";
	struct dscan d = { s, len, 0 };
	long day, year, hh, mm, ss = 0;
	unsigned mon = 0, nd;
	int tz = 0;
	size_t n;

	skip(&d);
	n = word(&d);
	if (n > 0) {
		/* a day name (checked loosely), then the date */
		skip(&d);
	}
	day = num(&d, 2, NULL);
	if (day < 1 || day > 31)
		return -1;
	skip(&d);
	if (d.i < len && d.s[d.i] == '-')
		d.i++;
	size_t ms = d.i;
	n = word(&d);
	if (n < 3)
		return -1;
	for (unsigned k = 0; k < 12; k++)
		if (strncasecmp(s + ms, months + 3 * k, 3) == 0)
			mon = k + 1;
	if (mon == 0)
		return -1;
	skip(&d);
	if (d.i < len && d.s[d.i] == '-')
		d.i++;
	year = num(&d, 4, &nd);
	if (year < 0)
		return -1;
	if (nd == 2)
		year += year < 50 ? 2000 : 1900;
	else if (nd == 3)
		year += 1900;
	if (year < 1900 || year > 9999)
		return -1;
	skip(&d);
	hh = num(&d, 2, NULL);
	skip(&d);
	if (hh < 0 || hh > 23 || d.i >= len || d.s[d.i] != ':')
		return -1;
	d.i++;
	skip(&d);
	mm = num(&d, 2, NULL);
	if (mm < 0 || mm > 59)
		return -1;
	skip(&d);
	if (d.i < len && d.s[d.i] == ':') {
		d.i++;
		skip(&d);
		ss = num(&d, 2, NULL);
		if (ss < 0 || ss > 60)
			return -1;
		skip(&d);
	}
	if (d.i < len && (d.s[d.i] == '+' || d.s[d.i] == '-')) {
		int sign = d.s[d.i] == '-' ? -1 : 1;
		d.i++;
		long z = num(&d, 4, &nd);
		if (z < 0 || nd != 4 || z % 100 > 59)
			return -1;
		tz = sign * (int)((z / 100) * 60 + z % 100);
	} else if (d.i < len) {
		size_t zs = d.i;
		n = word(&d);
		if (n > 0 && zone_name(s + zs, n, &tz) < 0)
			tz = 0;  /* unknown zone name: RFC 5322 4.3 says -0000 */
	}
	long days = days_from_civil(year, mon, (unsigned)day);
	*t_r = (time_t)(days * 86400 + hh * 3600 + mm * 60 + ss - (long)tz * 60);
	*tz_min_r = tz;
	return 0;
}
