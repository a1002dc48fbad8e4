/*
 * maildir-name.c - Maildir file names (see maildir-name.h for the format
 * and the specification it follows). Pure functions: no I/O except the
 * clock and pid for unique names, so the fuzz harness can drive the parser.
 */
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "store/maildir-name.h"
#include "store/store.h"

static const struct {
	char letter;
	unsigned flag;
} flag_letters[] = {
	{ 'D', STORE_FLAG_DRAFT },
	{ 'F', STORE_FLAG_FLAGGED },
	{ 'R', STORE_FLAG_ANSWERED },
	{ 'S', STORE_FLAG_SEEN },
	{ 'T', STORE_FLAG_DELETED },
};

static unsigned letter_flag(char c)
{
	for (size_t i = 0; i < sizeof(flag_letters) / sizeof(flag_letters[0]); i++)
		if (flag_letters[i].letter == c)
			return flag_letters[i].flag;
	return 0;
}

/* Parse a decimal field value [p, end); 0 and *ok = false if malformed. */
static uint64_t parse_num(const char *p, const char *end, bool *ok)
{
	uint64_t v = 0;

	*ok = p < end;
	for (; p < end; p++) {
		if (*p < '0' || *p > '9' || v > (UINT64_MAX - 9) / 10) {
			*ok = false;
			return 0;
		}
		v = v * 10 + (uint64_t)(*p - '0');
	}
	return v;
}

int maildir_name_parse(const char *name, size_t len, struct maildir_name *n)
{
	const char *colon, *p, *end;
	bool ok;

	memset(n, 0, sizeof(*n));
	if (len == 0 || len > MAILDIR_NAME_MAX || name[0] == '.' || memchr(name, '/', len) ||
	    memchr(name, '\0', len))
		return -1;
	colon = memchr(name, ':', len);
	n->base_len = colon ? (size_t)(colon - name) : len;
	if (n->base_len == 0)
		return -1;

	/* Leading SECONDS. */
	p = name;
	end = memchr(name, '.', n->base_len);
	if (end) {
		uint64_t t = parse_num(p, end, &ok);

		if (ok && t < (1ull << 40))
			n->time = (time_t)t;
	}

	/* ,KEY=VALUE fields inside BASE. */
	end = name + n->base_len;
	for (p = memchr(name, ',', n->base_len); p != NULL && p < end;) {
		const char *f = p + 1;
		const char *next = memchr(f, ',', (size_t)(end - f));
		const char *fend = next ? next : end;

		if (fend - f >= 3 && f[1] == '=') {
			uint64_t v = parse_num(f + 2, fend, &ok);

			if (ok && f[0] == 'S')
				n->size = v;
			else if (ok && f[0] == 'W')
				n->vsize = v;
			else if (ok && f[0] == 'U' && v > 0 && v < UINT32_MAX)
				n->uid = (uint32_t)v;
		}
		p = next;
	}

	/* :2,INFO (":1," experimental semantics carry no flags). */
	if (colon && len - n->base_len >= 3 && colon[1] == '2' && colon[2] == ',') {
		size_t ne = 0;

		n->has_info = true;
		for (p = colon + 3; p < name + len; p++) {
			unsigned f = letter_flag(*p);

			if (f) {
				n->flags |= f;
			} else if (*p > 0x20 && *p < 0x7f && *p != ',' &&
				   ne + 1 < sizeof(n->extra) && strchr(n->extra, *p) == NULL) {
				n->extra[ne++] = *p;
				n->extra[ne] = '\0';
			}
		}
	}
	return 0;
}

size_t maildir_info_format(char *buf, size_t size, unsigned flags, const char *extra)
{
	size_t len = 0;

	if (size == 0)
		return 0;
	/* Every letter in ASCII order, flags and extras interleaved (P sits
	 * between F and R), as the spec requires. */
	len = (size_t)snprintf(buf, size, ":2,");
	if (len >= size)
		return size - 1;
	for (int c = 0x21; c < 0x7f && len + 1 < size; c++) {
		unsigned f = letter_flag((char)c);

		if ((f && (flags & f)) || (!f && extra && c != ',' && strchr(extra, c) != NULL))
			buf[len++] = (char)c;
	}
	buf[len] = '\0';
	return len;
}

int maildir_base_with_uid(char *buf, size_t size, const char *base, size_t base_len,
			  uint32_t uid)
{
	const char *end = base + base_len, *p = base;
	size_t len = 0;
	int w;

	/* The unique part, then every ,FIELD but an existing U=. */
	while (p < end) {
		const char *next = memchr(p + 1, ',', (size_t)(end - p - 1));
		const char *pend = next ? next : end;

		if (p == base && *p != ',') {
			next = memchr(p, ',', (size_t)(end - p));
			pend = next ? next : end;
		}
		if (!(p[0] == ',' && pend - p >= 3 && p[1] == 'U' && p[2] == '=')) {
			if (len + (size_t)(pend - p) >= size)
				return -1;
			memcpy(buf + len, p, (size_t)(pend - p));
			len += (size_t)(pend - p);
		}
		p = pend;
	}
	w = snprintf(buf + len, size - len, ",U=%u", uid);
	if (w < 0 || (size_t)w >= size - len || len + (size_t)w > MAILDIR_NAME_MAX - 16)
		return -1;
	return 0;
}

int maildir_unique_name(char *buf, size_t size, const char *host, unsigned *counter)
{
	struct timeval tv;
	char h[128];
	size_t hl = 0;
	int w;

	gettimeofday(&tv, NULL);
	for (const char *p = host; *p && hl + 5 < sizeof(h); p++) {
		if (*p == '/' || *p == ':' || *p == ',') {
			hl += (size_t)snprintf(h + hl, sizeof(h) - hl, "\\%03o", (unsigned char)*p);
		} else if ((unsigned char)*p > 0x20 && (unsigned char)*p < 0x7f) {
			h[hl++] = *p;
		}
	}
	h[hl] = '\0';
	w = snprintf(buf, size, "%lld.M%ldP%ldQ%u.%s", (long long)tv.tv_sec, (long)tv.tv_usec,
		     (long)getpid(), ++*counter, hl ? h : "localhost");
	return w < 0 || (size_t)w >= size ? -1 : 0;
}
