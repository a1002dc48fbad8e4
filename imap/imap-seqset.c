/*
 * imap-seqset.c - sequence sets (RFC 3501 9 "sequence-set": "1,3:5,7:*",
 * ranges in either order, '*' the largest number in use) parsed, resolved
 * against the selected mailbox's view into UIDs, and formatted compactly
 * (COPYUID / APPENDUID sets, RFC 4315 3).
 *
 * Called by the FETCH, STORE, COPY, MOVE, SEARCH and UID EXPUNGE handlers.
 * Bounds: the text is at most one command line; the resolved array holds
 * at most the number of messages in the view.
 */
#include <stdlib.h>
#include <string.h>

#include "imap/imap-private.h"

/* number - a nz-number or '*'; advances *p. 0 on success. */
static int number(const char **p, uint32_t *v)
{
	const char *s = *p;
	uint64_t n = 0;

	if (*s == '*') {
		*v = UINT32_MAX;
		*p = s + 1;
		return 0;
	}
	if (*s < '1' || *s > '9')
		return -1;
	while (*s >= '0' && *s <= '9') {
		n = n * 10 + (uint64_t)(*s - '0');
		if (n > UINT32_MAX)
			return -1;
		s++;
	}
	*v = (uint32_t)n;
	*p = s;
	return 0;
}

int imap_seqset_parse(const char *text, struct imap_seq_range **ranges_r, size_t *n_r)
{
	struct imap_seq_range *r = NULL;
	size_t n = 0, cap = 0;
	const char *p = text;

	*ranges_r = NULL;
	*n_r = 0;
	if (text == NULL || *text == '\0')
		return -1;
	for (;;) {
		uint32_t a, b;
		if (number(&p, &a) < 0)
			goto bad;
		b = a;
		if (*p == ':') {
			p++;
			if (number(&p, &b) < 0)
				goto bad;
		}
		if (n == cap) {
			size_t nc = cap ? cap * 2 : 4;
			struct imap_seq_range *nr;
			/* a set cannot hold more ranges than its text has bytes */
			if (nc > strlen(text) + 1)
				nc = strlen(text) + 1;
			nr = realloc(r, nc * sizeof(*nr));
			if (nr == NULL)
				goto bad;
			r = nr;
			cap = nc;
		}
		r[n].lo = a < b ? a : b;
		r[n].hi = a < b ? b : a;
		n++;
		if (*p == '\0')
			break;
		if (*p != ',')
			goto bad;
		p++;
	}
	*ranges_r = r;
	*n_r = n;
	return 0;
bad:
	free(r);
	return -1;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static size_t lower_bound(const uint32_t *a, size_t n, uint32_t v)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (a[mid] < v)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int imap_seqset_resolve(const struct imap_session *s, const char *text, bool uid,
			uint32_t **uids_r, size_t *n_r, const char **error_r)
{
	struct imap_seq_range *r;
	size_t nr, n = 0, cap = 0;
	uint32_t *out = NULL;
	const uint32_t *view = s->sel ? s->sel->uids : NULL;
	uint32_t count = s->sel ? s->sel->count : 0;

	*uids_r = NULL;
	*n_r = 0;
	if (imap_seqset_parse(text, &r, &nr) < 0) {
		*error_r = "Invalid sequence set";
		return -1;
	}
	for (size_t i = 0; i < nr; i++) {
		uint32_t lo = r[i].lo, hi = r[i].hi;
		size_t a, b;

		if (uid) {
			/* '*' is the highest UID; "n:*" always names it even when n
			 * is above it (RFC 3501 6.4.8) */
			uint32_t max = count ? view[count - 1] : 0;
			if (hi == UINT32_MAX)
				hi = max;
			if (lo == UINT32_MAX)
				lo = max;
			if (lo > hi) {
				uint32_t t = lo;
				lo = hi;
				hi = t;
			}
			a = lower_bound(view, count, lo);
			b = lower_bound(view, count, hi == UINT32_MAX ? hi : hi + 1);
			if (hi == UINT32_MAX)
				b = count;
		} else {
			if (hi == UINT32_MAX)
				hi = count;
			if (lo == UINT32_MAX)
				lo = count;
			if (lo > hi) {
				uint32_t t = lo;
				lo = hi;
				hi = t;
			}
			if (lo == 0 || hi > count) {
				free(r);
				free(out);
				*error_r = "Invalid messageset";
				return 1;
			}
			a = lo - 1;
			b = hi;
		}
		if (b <= a)
			continue;
		if (n + (b - a) > cap) {
			size_t nc = n + (b - a);
			if (nc < cap * 2)
				nc = cap * 2;
			uint32_t *o = realloc(out, nc * sizeof(*o));
			if (o == NULL) {
				free(r);
				free(out);
				*error_r = "Out of memory";
				return -1;
			}
			out = o;
			cap = nc;
		}
		memcpy(out + n, view + a, (b - a) * sizeof(uint32_t));
		n += b - a;
	}
	free(r);
	if (n > 1) {
		size_t k = 1;
		qsort(out, n, sizeof(*out), cmp_u32);
		for (size_t i = 1; i < n; i++)
			if (out[i] != out[k - 1])
				out[k++] = out[i];
		n = k;
	}
	*uids_r = out;
	*n_r = n;
	return 0;
}

int imap_seqset_format(struct strbuf *out, const uint32_t *uids, size_t n)
{
	size_t i = 0;
	bool first = true;

	while (i < n) {
		size_t j = i;
		while (j + 1 < n && uids[j + 1] == uids[j] + 1)
			j++;
		int r = j == i ? strbuf_printf(out, "%s%u", first ? "" : ",", uids[i]) :
				 strbuf_printf(out, "%s%u:%u", first ? "" : ",", uids[i], uids[j]);
		if (r < 0)
			return -1;
		first = false;
		i = j + 1;
	}
	return 0;
}
