/*
 * mbox-from.c - the From_ line that starts each message of an mbox:
 * "From SENDER DATE", DATE being asctime() output. Real files carry many
 * variants (qmail's mbox(5) and Dovecot's mbox notes list them): a
 * single-digit day padded with one or two blanks, no seconds, a zone name
 * ("PST", "MET DST") or offset ("+0100") before or after the year, a
 * two-digit year, "remote from HOST" after the date (UUCP), an RFC 5322
 * date ("Wed, 25 Nov 2026 10:00:00 +0000"), an empty sender ("From  Wed
 * ...") or a quoted one with blanks. mbox_from_parse() accepts those and
 * gives the date as INTERNALDATE. Called by mbox-parse.c (splitting) and
 * mbox-write.c (the line it writes must parse back).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mbox-private.h"
#include "util.h"

#define FROM_MAX_TOKENS 16

static const char *const weekdays[] = { "sun", "mon", "tue", "wed", "thu", "fri", "sat" };
static const char *const months[] = { "jan", "feb", "mar", "apr", "may", "jun",
				      "jul", "aug", "sep", "oct", "nov", "dec" };

struct tok {
	const char *p;
	size_t n;
};

static int name_index(const struct tok *t, const char *const *names, int count)
{
	size_t n = t->n;

	if (n == 4 && t->p[3] == ',')
		n = 3;
	if (n != 3)
		return -1;
	for (int i = 0; i < count; i++)
		if (strncasecmp(t->p, names[i], 3) == 0)
			return i;
	return -1;
}

/* Digits only, 1..max_len of them: the value, else -1. */
static long tok_number(const struct tok *t, size_t max_len)
{
	long v = 0;

	if (t->n == 0 || t->n > max_len)
		return -1;
	for (size_t i = 0; i < t->n; i++) {
		if (!isdigit((unsigned char)t->p[i]))
			return -1;
		v = v * 10 + (t->p[i] - '0');
	}
	return v;
}

/* HH:MM or HH:MM:SS. */
static int tok_time(const struct tok *t, struct tm *tm)
{
	int h, m, s = 0, used = 0;
	char buf[16];

	if (t->n < 4 || t->n >= sizeof(buf))
		return -1;
	memcpy(buf, t->p, t->n);
	buf[t->n] = '\0';
	if (sscanf(buf, "%2d:%2d:%2d%n", &h, &m, &s, &used) == 3 && (size_t)used == t->n)
		;
	else if (s = 0, sscanf(buf, "%2d:%2d%n", &h, &m, &used) == 2 && (size_t)used == t->n)
		;
	else
		return -1;
	if (h < 0 || h > 23 || m < 0 || m > 59 || s < 0 || s > 60)
		return -1;
	tm->tm_hour = h;
	tm->tm_min = m;
	tm->tm_sec = s;
	return 0;
}

/* +HHMM / -HHMM: offset seconds in *off_r. */
static int tok_offset(const struct tok *t, long *off_r)
{
	struct tok digits = { t->p + 1, t->n - 1 };
	long v;

	if (t->n != 5 || (t->p[0] != '+' && t->p[0] != '-'))
		return -1;
	v = tok_number(&digits, 4);
	if (v < 0 || v % 100 > 59 || v / 100 > 23)
		return -1;
	*off_r = (v / 100 * 3600 + v % 100 * 60) * (t->p[0] == '-' ? -1 : 1);
	return 0;
}

/* A zone name: 1..5 letters ("PST", "MET", "DST", "UTC"). */
static bool tok_zone_name(const struct tok *t)
{
	if (t->n == 0 || t->n > 5)
		return false;
	for (size_t i = 0; i < t->n; i++)
		if (!isalpha((unsigned char)t->p[i]))
			return false;
	return true;
}

static bool tok_is_utc(const struct tok *t)
{
	return (t->n == 3 && (strncasecmp(t->p, "UTC", 3) == 0 || strncasecmp(t->p, "GMT", 3) == 0)) ||
	       (t->n == 2 && strncasecmp(t->p, "UT", 2) == 0) || (t->n == 1 && (t->p[0] == 'Z' || t->p[0] == 'z'));
}

static int year_fix(long y)
{
	if (y < 0)
		return -1;
	if (y < 70)
		return (int)y + 2000;
	if (y < 100)
		return (int)y + 1900;
	if (y < 1970 || y > 9999)
		return -1;
	return (int)y;
}

static size_t tokenize(const char *s, size_t len, struct tok *toks, size_t max)
{
	size_t n = 0, i = 0;

	while (i < len && n < max) {
		while (i < len && s[i] == ' ')
			i++;
		if (i >= len)
			break;
		toks[n].p = s + i;
		while (i < len && s[i] != ' ')
			i++;
		toks[n].n = (size_t)(s + i - toks[n].p);
		n++;
	}
	return n;
}

/* Parse a date starting at a weekday (or month) token. 0 and *date_r, or -1. */
static int parse_date(const struct tok *t, size_t n, time_t *date_r)
{
	struct tm tm;
	size_t i = 0;
	long off = 0, day, year = -1;
	bool have_off = false, utc = false;
	int mon;

	memset(&tm, 0, sizeof(tm));
	if (i < n && name_index(&t[i], weekdays, 7) >= 0)
		i++;
	if (i + 3 > n)
		return -1;
	if ((mon = name_index(&t[i], months, 12)) >= 0) {
		/* asctime: Mon DD HH:MM[:SS] [zone...] YYYY [zone...] [junk] */
		day = tok_number(&t[i + 1], 2);
		if (day < 1 || day > 31 || tok_time(&t[i + 2], &tm) < 0)
			return -1;
		for (i += 3; i < n; i++) {
			if (tok_offset(&t[i], &off) == 0) {
				have_off = true;
				continue;
			}
			if (tok_number(&t[i], 4) >= 0 && (t[i].n == 4 || t[i].n == 2)) {
				year = year_fix(tok_number(&t[i], 4));
				i++;
				break;
			}
			if (tok_zone_name(&t[i])) {
				utc = utc || tok_is_utc(&t[i]);
				continue;
			}
			return -1;
		}
		/* A zone after the year ("2026 +0000"); anything further (UUCP's
		 * "remote from host") is ignored. */
		if (i < n && !have_off && tok_offset(&t[i], &off) == 0)
			have_off = true;
		else if (i < n && tok_is_utc(&t[i]))
			utc = true;
	} else {
		/* RFC 5322: DD Mon YYYY HH:MM[:SS] [zone] */
		day = tok_number(&t[i], 2);
		if (i + 4 > n || day < 1 || day > 31 || (mon = name_index(&t[i + 1], months, 12)) < 0)
			return -1;
		year = year_fix(tok_number(&t[i + 2], 4));
		if (tok_time(&t[i + 3], &tm) < 0)
			return -1;
		i += 4;
		if (i < n && tok_offset(&t[i], &off) == 0)
			have_off = true;
		else if (i < n && tok_is_utc(&t[i]))
			utc = true;
	}
	if (year < 0)
		return -1;
	tm.tm_mday = (int)day;
	tm.tm_mon = mon;
	tm.tm_year = (int)year - 1900;
	if (have_off || utc) {
		*date_r = timegm(&tm) - off;
	} else {
		tm.tm_isdst = -1;
		*date_r = mktime(&tm);
	}
	return *date_r == (time_t)-1 ? -1 : 0;
}

int mbox_from_parse(const char *line, size_t len, char *sender, size_t sender_size,
		    time_t *date_r)
{
	char buf[MBOX_LINE_PEEK + 1];
	struct tok toks[FROM_MAX_TOKENS];
	size_t n, start;

	if (len < 5 || memcmp(line, "From ", 5) != 0)
		return -1;
	while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		len--;
	len -= 5;
	line += 5;
	if (len > MBOX_LINE_PEEK)
		len = MBOX_LINE_PEEK;
	/* NULs and tabs would confuse tokens and C strings: blanks instead. */
	for (size_t i = 0; i < len; i++)
		buf[i] = (line[i] == '\0' || line[i] == '\t') ? ' ' : line[i];
	buf[len] = '\0';

	/* The date starts at the first token that is a weekday (or a month, for
	 * writers that leave the weekday out) and parses completely; what is
	 * before it is the sender, whatever blanks it contains. */
	for (start = 0; start < len; start++) {
		if (start > 0 && buf[start - 1] != ' ')
			continue;
		if (buf[start] == ' ')
			continue;
		n = tokenize(buf + start, len - start, toks, FROM_MAX_TOKENS);
		if (n == 0)
			break;
		if (name_index(&toks[0], weekdays, 7) < 0 && name_index(&toks[0], months, 12) < 0)
			continue;
		if (parse_date(toks, n, date_r) < 0)
			continue;
		if (sender && sender_size) {
			size_t s = start;

			while (s > 0 && buf[s - 1] == ' ')
				s--;
			if (s >= sender_size)
				s = sender_size - 1;
			memcpy(sender, buf, s);
			sender[s] = '\0';
		}
		return 0;
	}
	return -1;
}
