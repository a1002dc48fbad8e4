/*
 * data.c - the content as it goes over the wire after DATA: read from
 * the queue file with pread (the file position is the caller's), lines
 * ended with CR LF, a leading dot doubled, over-long lines folded, the
 * final "." line added; for a server without 8BITMIME, 8-bit MIME parts
 * converted to quoted-printable (mime-downgrade.c does the MIME part).
 *
 * Called by session.c after the 354 reply, one chunk at a time as the
 * connection drains, so memory stays bounded whatever the message size.
 *
 * RFC 5321 4.5.2 (transparency: dot-stuffing), 2.3.8 and 4.1.1.4 (lines
 * end with CR LF; a bare CR or LF in the content becomes CR LF here, so
 * that no receiver can see an end of data we did not mean: the "SMTP
 * smuggling" problem), 4.5.3.1.6 (1000-octet lines: Postfix's
 * smtp_line_length_limit folds longer ones with CR LF SPACE), RFC 6152 3
 * and RFC 2045 6.7 (the 8-bit downgrade to quoted-printable).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "smtp/client/client-private.h"
#include "smtp/client/data-private.h"

#define READ_CHUNK (64 * 1024)

struct smtpc_data *smtpc_data_new(int fd, off_t offset, off_t size, int line_limit, bool downgrade)
{
	struct smtpc_data *d = calloc(1, sizeof(*d));

	if (d == NULL)
		return NULL;
	d->fd = fd;
	d->pos = offset;
	d->end = offset + size;
	d->line_limit = line_limit;
	d->bol = true;
	d->rbuf = malloc(READ_CHUNK);
	if (d->rbuf == NULL) {
		free(d);
		return NULL;
	}
	if (downgrade && smtpc_mime_init(d) < 0) {
		smtpc_data_free(&d);
		return NULL;
	}
	return d;
}

void smtpc_data_free(struct smtpc_data **dp)
{
	struct smtpc_data *d = *dp;

	if (d == NULL)
		return;
	smtpc_mime_free(d);
	free(d->rbuf);
	free(d);
	*dp = NULL;
}

/* smtpc_emit - bytes of one line (no LF in them) to out: the dot rule at
 * the start of a line, folding, a bare CR made a line end. */
int smtpc_emit(struct smtpc_data *d, struct strbuf *out, const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		char ch = p[i];

		if (ch == '\r') {
			if (strbuf_append(out, "\r\n", 2) < 0)
				return -1;
			d->bol = true;
			d->col = 0;
			continue;
		}
		if (d->line_limit > 0 && d->col >= (size_t)d->line_limit) {
			/* Postfix: CR LF SPACE keeps a header a header, and
			 * the space means no dot can start the new line */
			if (strbuf_append(out, "\r\n ", 3) < 0)
				return -1;
			d->col = 1;
			d->bol = false;
		}
		if (d->bol && ch == '.') {
			if (strbuf_putc(out, '.') < 0)
				return -1;
			d->col++;
		}
		if (strbuf_putc(out, ch) < 0)
			return -1;
		d->col++;
		d->bol = false;
	}
	return 0;
}

int smtpc_emit_eol(struct smtpc_data *d, struct strbuf *out)
{
	d->bol = true;
	d->col = 0;
	return strbuf_append(out, "\r\n", 2);
}

/* next_line - the next line of content without its LF (and a CR before
 * it): *complete is false for a piece of a line longer than the read
 * buffer (the rest follows) and for a last line without LF. 1 line, 0
 * end of content, -1 read error. */
static int next_line(struct smtpc_data *d, const char **p_r, size_t *n_r, bool *complete,
		     const char **error_r)
{
	char *lf;
	size_t avail;
	ssize_t r;

	for (;;) {
		avail = d->rlen - d->rpos;
		lf = memchr(d->rbuf + d->rpos, '\n', avail);
		if (lf != NULL) {
			*p_r = d->rbuf + d->rpos;
			*n_r = (size_t)(lf - *p_r);
			if (*n_r > 0 && (*p_r)[*n_r - 1] == '\r')
				(*n_r)--;
			*complete = true;
			d->rpos += (size_t)(lf - (d->rbuf + d->rpos)) + 1;
			return 1;
		}
		if (d->pos >= d->end || avail == READ_CHUNK) {
			if (avail == 0)
				return 0;
			/* keep a CR that may belong to a CR LF split by the buffer */
			*p_r = d->rbuf + d->rpos;
			*n_r = avail;
			if (d->pos < d->end && (*p_r)[avail - 1] == '\r')
				(*n_r)--;
			*complete = false;
			d->rpos += *n_r;
			return 1;
		}
		memmove(d->rbuf, d->rbuf + d->rpos, avail);
		d->rlen = avail;
		d->rpos = 0;
		{
			size_t want = READ_CHUNK - avail;

			if ((off_t)want > d->end - d->pos)
				want = (size_t)(d->end - d->pos);
			r = pread(d->fd, d->rbuf + d->rlen, want, d->pos);
		}
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			*error_r = "cannot read the queue file";
			return -1;
		}
		if (r == 0) {
			*error_r = "queue file is shorter than its message size";
			return -1;
		}
		d->rlen += (size_t)r;
		d->pos += r;
	}
}

int smtpc_data_next(struct smtpc_data *d, struct strbuf *out, size_t max, bool *bounce_r,
		    const char **error_r)
{
	const char *p;
	size_t n;
	bool complete;
	int ret;

	*bounce_r = false;
	if (d->finished)
		return 0;
	while (out->len < max) {
		ret = next_line(d, &p, &n, &complete, error_r);
		if (ret < 0)
			return -1;
		if (ret == 0) {
			if (d->mime != NULL && smtpc_mime_end(d, out, bounce_r, error_r) < 0)
				return -1;
			if (!d->bol && smtpc_emit_eol(d, out) < 0)
				goto nomem;
			if (strbuf_append(out, ".\r\n", 3) < 0)
				goto nomem;
			d->finished = true;
			return 0;
		}
		if (d->mime != NULL) {
			if (smtpc_mime_line(d, out, p, n, complete, bounce_r, error_r) < 0)
				return -1;
			continue;
		}
		if (smtpc_emit(d, out, p, n) < 0 || (complete && smtpc_emit_eol(d, out) < 0))
			goto nomem;
	}
	return 1;
nomem:
	*error_r = "out of memory";
	return -1;
}
