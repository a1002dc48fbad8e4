/*
 * conn-input.c - turning buffered client input into lines or raw chunks
 * for the protocol, with bounded memory, plus pause/resume.
 *
 * Lines end at LF; a CR right before it is dropped, and a bare LF is
 * accepted too (RFC 5321 2.3.8 requires CRLF, but Postfix and Dovecot
 * accept bare LF from clients and so do we; the protocol may refuse bare
 * LF in message content itself). Limits: a line may have max_line bytes
 * without its CR LF; the input buffer holds at most max_line + 2 +
 * CONN_INPUT_SLACK bytes (the read high-water mark in conn.c), so a line
 * without LF is declared too long as soon as it exceeds the limit, and
 * its remainder is dropped as it arrives, never stored.
 *
 * Called from conn.c's read callback and deferred event, never directly
 * by protocols.
 */
#include <stdlib.h>
#include <string.h>

#include "conn-private.h"
#include "log.h"

/* line_too_long - report once; the remainder is discarded by the caller. */
static void line_too_long(struct conn *c)
{
	if (c->cb->on_line_too_long != NULL) {
		c->cb->on_line_too_long(c, c->ctx);
	} else {
		conn_set_reason(c, CONN_CLOSE_LOCAL, "line too long");
		conn_close_after_flush(c);
	}
}

/* take_line - deliver or discard one line from in. Returns true when it
 * consumed something (the caller loops), false when more input is needed. */
static bool take_line(struct conn *c, struct evbuffer *in)
{
	size_t avail = evbuffer_get_length(in), len, eol_len;
	struct evbuffer_ptr lf;

	lf = evbuffer_search_eol(in, NULL, &eol_len, EVBUFFER_EOL_LF);
	if (c->discarding) {
		if (lf.pos < 0) {
			evbuffer_drain(in, avail);
			return false;
		}
		evbuffer_drain(in, (size_t)lf.pos + 1);
		c->discarding = false;
		return true;
	}
	if (lf.pos < 0) {
		/* max_line + 1: the CR of a maximal line may still be alone */
		if (avail <= c->max_line + 1)
			return false;
		evbuffer_drain(in, avail);
		c->discarding = true;
		line_too_long(c);
		return true;
	}
	len = (size_t)lf.pos;
	if (len > c->max_line + 1) {
		evbuffer_drain(in, len + 1);
		line_too_long(c);
		return true;
	}
	/* the line buffer has max_line + 2 bytes: room for len and a NUL */
	evbuffer_remove(in, c->line, len);
	evbuffer_drain(in, 1);
	c->last_crlf = len > 0 && c->line[len - 1] == '\r';
	if (c->last_crlf)
		len--;
	if (len > c->max_line) {
		line_too_long(c);
		return true;
	}
	c->line[len] = '\0';
	if (c->cb->on_line != NULL)
		c->cb->on_line(c, c->line, len, c->ctx);
	return true;
}

/* take_raw - deliver one chunk (or the final empty call) in raw mode.
 * Returns true when it delivered something. */
static bool take_raw(struct conn *c, struct evbuffer *in)
{
	size_t avail = evbuffer_get_length(in), take = 0;
	conn_bytes_fn *cb = c->raw_cb;
	bool done;

	if (c->raw_left > 0) {
		if (avail == 0)
			return false;
		if (c->chunk == NULL && (c->chunk = malloc(CONN_RAW_CHUNK)) == NULL) {
			log_warn("%s: out of memory reading data; disconnecting", c->name);
			conn_finish(c, CONN_CLOSE_NOMEM, "out of memory");
			return false;
		}
		take = avail;
		if (take > c->raw_left)
			take = c->raw_left;
		if (take > CONN_RAW_CHUNK)
			take = CONN_RAW_CHUNK;
		/* copied out so the data stays valid even if the callback
		 * closes the conn (which frees the bufferevent) */
		evbuffer_remove(in, c->chunk, take);
		c->raw_left -= take;
	}
	done = c->raw_left == 0;
	if (done) {
		c->raw = false;
		c->raw_cb = NULL;
	}
	if (cb != NULL)
		cb(c, c->chunk, take, done, c->ctx);
	return true;
}

void conn_process_input(struct conn *c)
{
	struct evbuffer *in;
	bool progress;

	conn_hold(c);
	if (c->state == CONN_LINGER && c->bev != NULL) {
		struct timeval now;

		in = bufferevent_get_input(c->bev);
		evbuffer_drain(in, evbuffer_get_length(in));
		/* the read timeout restarts with every read: a client that keeps
		 * sending must not keep the socket forever */
		event_base_gettimeofday_cached(c->base, &now);
		if (now.tv_sec - c->linger_start.tv_sec > CONN_LINGER_SECONDS)
			conn_finish(c, CONN_CLOSE_LOCAL, "");
		goto out;
	}
	if (c->tls && !c->tls_ready) {
		conn_tls_mark_ready(c);
		if (c->freed)
			goto out;
	}
	while (!c->freed && c->state == CONN_OPEN && c->started && !c->paused && c->bev != NULL) {
		in = bufferevent_get_input(c->bev);
		if (c->raw)
			progress = take_raw(c, in);
		else
			progress = evbuffer_get_length(in) > 0 && take_line(c, in);
		if (!progress)
			break;
	}
	/* The client closed its side: everything complete that it sent has
	 * been handled (unless the protocol paused; resume continues here). */
	if (!c->freed && c->state == CONN_OPEN && c->started && c->eof && !c->paused)
		conn_finish(c, CONN_CLOSE_EOF, "");
out:
	conn_release(c);
}

void conn_pause(struct conn *c)
{
	c->paused = true;
	if (c->state == CONN_OPEN && c->bev != NULL)
		bufferevent_disable(c->bev, EV_READ);
}

void conn_resume(struct conn *c)
{
	if (!c->paused)
		return;
	c->paused = false;
	if (c->state != CONN_OPEN || c->bev == NULL || !c->started)
		return;
	if (!c->eof)
		bufferevent_enable(c->bev, EV_READ);
	/* lines already buffered will not trigger a read event: process them
	 * from the loop */
	conn_schedule(c);
}

bool conn_is_paused(const struct conn *c)
{
	return c->paused;
}

void conn_read_bytes(struct conn *c, size_t n, conn_bytes_fn *cb)
{
	c->raw = true;
	c->raw_left = n;
	c->raw_cb = cb;
	/* a raw read that starts in the middle of a too-long line's remainder
	 * would be wrong; the protocol only asks after a complete line */
	c->discarding = false;
	if (c->state == CONN_OPEN)
		conn_schedule(c);
}

bool conn_line_had_crlf(const struct conn *c)
{
	return c->last_crlf;
}

size_t conn_input_pending(const struct conn *c)
{
	if (c->bev == NULL)
		return 0;
	return evbuffer_get_length(bufferevent_get_input(c->bev));
}
