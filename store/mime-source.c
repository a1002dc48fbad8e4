/*
 * mime-source.c - the bytes of one message, from an fd (pread through a
 * bounded window) or from memory, and the line reader every MIME view
 * uses. Called only by store/mime-*.c.
 *
 * A line ends at LF (RFC 5322 says CRLF; stored mail often has bare LF);
 * a CR right before the LF belongs to the line end. Lines longer than the
 * window are walked chunk by chunk. Only the first MIME_LINE_HEAD bytes
 * of any line are offered as its head (field names, boundaries); the rest
 * is read through mime_src_append(), so a 1 MB line costs no more memory
 * than a short one and the result never depends on where the window
 * happens to start.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mime-private.h"

static int src_fill(struct mime_src *s, uint64_t off)
{
	size_t keep = 0, want;

	if (off >= s->buf_off && off < s->buf_off + s->buf_len) {
		keep = (size_t)(s->buf_off + s->buf_len - off);
		memmove(s->buf, s->buf + (off - s->buf_off), keep);
	}
	s->buf_off = off;
	s->buf_len = keep;
	want = s->cap;
	if (s->size - off < want)
		want = (size_t)(s->size - off);
	while (s->buf_len < want) {
		ssize_t n = pread(s->fd, s->buf + s->buf_len, want - s->buf_len,
				  (off_t)(s->base + off + s->buf_len));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			/* Shorter than the size we were told: a truncated file
			 * is an error, not a short message. */
			if (n == 0)
				errno = EIO;
			s->read_error = true;
			return -1;
		}
		s->buf_len += (size_t)n;
	}
	return 0;
}

const unsigned char *mime_src_get(struct mime_src *s, uint64_t off, size_t *avail_r)
{
	size_t avail, need;

	if (off >= s->size) {
		*avail_r = 0;
		return s->mem != NULL ? s->mem + s->size : s->buf;
	}
	avail = s->cap;
	if (s->size - off < avail)
		avail = (size_t)(s->size - off);
	if (s->mem != NULL) {
		*avail_r = avail;
		return s->mem + off;
	}
	/* Refill only when fewer than two line heads are left in the
	 * window: line after line must not cost a memmove each. */
	need = 2 * MIME_LINE_HEAD < avail ? 2 * MIME_LINE_HEAD : avail;
	if (off < s->buf_off || off + need > s->buf_off + s->buf_len) {
		if (src_fill(s, off) < 0)
			return NULL;
	}
	*avail_r = (size_t)(s->buf_off + s->buf_len - off);
	return s->buf + (off - s->buf_off);
}

static void line_finish(struct mime_line *l, uint64_t lf_pos, bool cr_before)
{
	l->has_lf = true;
	l->bare_lf = !cr_before;
	l->eol = lf_pos - (cr_before ? 1 : 0);
	l->next = lf_pos + 1;
}

int mime_src_line(struct mime_src *s, uint64_t off, uint64_t limit, struct mime_line *l)
{
	const unsigned char *p, *lf;
	size_t avail;
	uint64_t pos;
	unsigned char last;

	if (limit > s->size)
		limit = s->size;
	if (off >= limit)
		return 0;
	if ((p = mime_src_get(s, off, &avail)) == NULL)
		return -1;
	if (avail > limit - off)
		avail = (size_t)(limit - off);
	l->start = off;
	l->has_lf = l->bare_lf = false;
	lf = memchr(p, '\n', avail);
	if (lf != NULL) {
		size_t n = (size_t)(lf - p);
		bool cr = n > 0 && p[n - 1] == '\r';

		line_finish(l, off + n, cr);
		l->head = p;
		l->head_len = n - (cr ? 1 : 0);
		if (l->head_len > MIME_LINE_HEAD)
			l->head_len = MIME_LINE_HEAD;
		return 1;
	}
	if (off + avail >= limit) {
		l->eol = l->next = limit;
		l->head = p;
		l->head_len = avail < MIME_LINE_HEAD ? avail : MIME_LINE_HEAD;
		return 1;
	}
	/* Longer than the window: keep the head, walk on to the LF. */
	memcpy(l->headbuf, p, MIME_LINE_HEAD < avail ? MIME_LINE_HEAD : avail);
	l->head = l->headbuf;
	l->head_len = MIME_LINE_HEAD < avail ? MIME_LINE_HEAD : avail;
	last = p[avail - 1];
	pos = off + avail;
	while (pos < limit) {
		if ((p = mime_src_get(s, pos, &avail)) == NULL)
			return -1;
		if (avail > limit - pos)
			avail = (size_t)(limit - pos);
		lf = memchr(p, '\n', avail);
		if (lf != NULL) {
			size_t n = (size_t)(lf - p);
			bool cr = n > 0 ? p[n - 1] == '\r' : last == '\r';

			line_finish(l, pos + n, cr);
			return 1;
		}
		last = p[avail - 1];
		pos += avail;
	}
	l->eol = l->next = limit;
	return 1;
}

int mime_sb_append_cap(struct strbuf *out, const void *p, size_t n, size_t cap)
{
	if (out->len >= cap)
		return 0;
	if (n > cap - out->len)
		n = cap - out->len;
	return strbuf_append(out, p, n);
}

int mime_src_append(struct mime_src *s, uint64_t off, uint64_t len, struct strbuf *out, size_t cap)
{
	while (len > 0 && out->len < cap) {
		size_t avail;
		const unsigned char *p = mime_src_get(s, off, &avail);

		if (p == NULL)
			return -1;
		if (avail == 0)
			break;
		if (avail > len)
			avail = (size_t)len;
		if (mime_sb_append_cap(out, p, avail, cap) < 0)
			return -1;
		off += avail;
		len -= avail;
	}
	return 0;
}

size_t mime_field_name_len(const unsigned char *head, size_t len, size_t *colon_r)
{
	size_t i = 0, name_end;

	while (i < len && head[i] > 32 && head[i] < 127 && head[i] != ':')
		i++;
	if (i == 0)
		return 0;
	name_end = i;
	/* RFC 5322 4.5.1 (obsolete): whitespace before the colon. */
	while (i < len && (head[i] == ' ' || head[i] == '\t'))
		i++;
	if (i >= len || head[i] != ':')
		return 0;
	*colon_r = i;
	return name_end;
}

int mime_hex_value(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}
