/*
 * local-pipe-content.c - the message as a |command or a /file receives
 * it (Postfix local(8), "EXTERNAL COMMAND DELIVERY" and "EXTERNAL FILE
 * DELIVERY"): Return-Path: and Delivered-To: prepended, UNIX line ends
 * (the queue keeps CR LF), and for a file the mbox conventions: a
 * "From sender date" line first, "From " at the start of a body line
 * quoted as ">From " (mboxo, as Postfix), and an empty line after the
 * message.
 *
 * Called by local-pipe.c and local-pipe-file.c. Reads the queue file
 * with pread() only, so the caller's fd position never moves.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"
#include "smtp/queue/local-pipe-private.h"

/* from_date - asctime()'s layout ("Wed Nov 25 15:45:30 2026") in local
 * time, without asctime's static buffer or locale. */
static void from_date(time_t t, char *buf, size_t size)
{
	static const char *const days[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
	static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
					      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	struct tm tm;

	if (localtime_r(&t, &tm) == NULL) {
		str_copy(buf, "Thu Jan  1 00:00:00 1970", size);
		return;
	}
	snprintf(buf, size, "%s %s %2d %02d:%02d:%02d %d", days[tm.tm_wday % 7], months[tm.tm_mon % 12],
		 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, tm.tm_year + 1900);
}

/* clean_addr - an envelope address for a header line: no CR, LF or other
 * controls (they would end the header), at most 1000 bytes. */
static void clean_addr(const char *in, char *out, size_t size)
{
	size_t o = 0;

	for (; *in != '\0' && o + 1 < size; in++)
		out[o++] = (unsigned char)*in < 0x20 || *in == 0x7f ? '?' : *in;
	out[o] = '\0';
}

int local_pipe_content_init(struct local_pipe_content *c, const struct local_pipe_req *req, bool mbox,
			    time_t now)
{
	char sender[1001], rcpt[1001], date[64];
	int n;

	memset(c, 0, sizeof(*c));
	c->fd = req->fd;
	c->off = req->offset;
	c->end = req->offset + req->size;
	c->mbox = mbox;
	c->line_start = true;
	c->last = '\n';
	clean_addr(req->sender, sender, sizeof(sender));
	clean_addr(req->recipient, rcpt, sizeof(rcpt));
	from_date(now, date, sizeof(date));
	/* MAILER-DAEMON stands for <> in the From_ line, as in Postfix. */
	if (mbox)
		n = asprintf(&c->prefix, "From %s %s\nReturn-Path: <%s>\nDelivered-To: %s\n",
			     *sender ? sender : "MAILER-DAEMON", date, sender, rcpt);
	else
		n = asprintf(&c->prefix, "Return-Path: <%s>\nDelivered-To: %s\n", sender, rcpt);
	if (n < 0) {
		c->prefix = NULL;
		return -1;
	}
	c->prefix_len = (size_t)n;
	return 0;
}

void local_pipe_content_free(struct local_pipe_content *c)
{
	free(c->prefix);
	c->prefix = NULL;
}

/* fill - more input; false at the end of the content (or with errno). */
static int fill(struct local_pipe_content *c)
{
	size_t want;
	ssize_t r;

	if (c->off >= c->end)
		return 0;
	want = c->end - c->off < (off_t)sizeof(c->in) ? (size_t)(c->end - c->off) : sizeof(c->in);
	do
		r = pread(c->fd, c->in, want, c->off);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return -1;
	if (r == 0) {
		errno = EIO; /* the queue file is shorter than its size record */
		return -1;
	}
	c->in_pos = 0;
	c->in_len = (size_t)r;
	c->off += r;
	return 1;
}

static void put(struct local_pipe_content *c, char *out, size_t *o, char ch)
{
	out[(*o)++] = ch;
	c->last = ch;
}

static void flush_held(struct local_pipe_content *c, char *out, size_t *o)
{
	for (size_t i = 0; i < c->n_held; i++)
		put(c, out, o, c->held[i]);
	c->n_held = 0;
}

/* one_byte - feed one content byte through the CR LF and From_ rules. */
static void one_byte(struct local_pipe_content *c, char ch, char *out, size_t *o)
{
	if (c->pending_cr) {
		c->pending_cr = false;
		if (ch == '\n') {
			flush_held(c, out, o);
			put(c, out, o, '\n');
			c->line_start = true;
			return;
		}
		flush_held(c, out, o);
		put(c, out, o, '\r');
		c->line_start = false;
	}
	if (ch == '\r') {
		c->pending_cr = true;
		return;
	}
	if (c->mbox && (c->line_start || c->n_held > 0)) {
		static const char from[] = "From ";
		if (ch == from[c->n_held]) {
			c->held[c->n_held++] = ch;
			c->line_start = false;
			if (c->n_held == 5) {
				put(c, out, o, '>');
				flush_held(c, out, o);
			}
			return;
		}
		flush_held(c, out, o);
	}
	put(c, out, o, ch);
	c->line_start = ch == '\n';
}

ssize_t local_pipe_content_read(struct local_pipe_content *c, char *out, size_t cap)
{
	size_t o = 0;

	while (o < cap && c->prefix_pos < c->prefix_len)
		out[o++] = c->prefix[c->prefix_pos++];
	/* One byte in may make up to 7 out (CR, held "From", '>', itself). */
	while (!c->eof && o + 8 <= cap) {
		if (c->in_pos == c->in_len) {
			int r = fill(c);
			if (r < 0)
				return -1;
			if (r == 0) {
				c->eof = true;
				break;
			}
		}
		while (c->in_pos < c->in_len && o + 8 <= cap)
			one_byte(c, c->in[c->in_pos++], out, &o);
	}
	if (c->eof && c->tail == 0 && o + 8 <= cap) {
		if (c->pending_cr) {
			flush_held(c, out, &o);
			put(c, out, &o, '\r');
			c->pending_cr = false;
		}
		flush_held(c, out, &o);
		if (c->mbox) {
			if (c->last != '\n')
				put(c, out, &o, '\n');
			put(c, out, &o, '\n');
		}
		c->tail = 1;
	}
	return (ssize_t)o;
}
