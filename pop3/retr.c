/*
 * retr.c - streaming RETR and TOP (RFC 1939 7 and 8) and long listings:
 * the message file is read POP3_STREAM_CHUNK (64 KiB) bytes at a time from the
 * descriptor store_msg_open() gives (no copy of the message in memory),
 * converted for the wire by pop3_stuffer_feed() (bare LF -> CRLF,
 * dot-stuffing, TOP's line limit) and queued on the conn until
 * POP3_STREAM_HIGH bytes wait; conn's on_drained brings the next batch.
 * A 50 MB message thus costs one chunk plus the queue, and the other
 * sessions of the process are served between batches. Input is paused
 * meanwhile so pipelined commands wait their turn (RFC 2449 6, PIPELINING).
 *
 * Called by cmd-retr.c (pop3_retr_start), cmd-list.c (listings), session.c
 * (on_drained -> pop3_retr_drained, session end -> pop3_retr_abort).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conn.h"
#include "log.h"
#include "pop3/pop3-private.h"

static void stream_end(struct pop3_session *s)
{
	struct pop3_stream *st = &s->stream;

	if (st->fd >= 0)
		close(st->fd);
	st->fd = -1;
	st->active = false;
	st->listing = false;
	pop3_session_resume(s);
}

void pop3_retr_abort(struct pop3_session *s)
{
	if (s->stream.fd >= 0)
		close(s->stream.fd);
	s->stream.fd = -1;
	s->stream.active = false;
}

/* A read error or a message that shrank: the reply is already half sent,
 * so the only honest thing left is to cut the connection (the client
 * sees no terminating dot and knows the message is incomplete). */
static void stream_fail(struct pop3_session *s, const char *why)
{
	log_error("pop3(%s): RETR of UID %u failed: %s", pop3_session_log_user(s),
		  s->drop.msgs[s->stream.index].uid, why);
	pop3_retr_abort(s);
	conn_close(s->conn);
}

void pop3_retr_drained(struct pop3_session *s)
{
	struct pop3_stream *st = &s->stream;
	/* one event loop thread per process: the buffers can be static */
	static char in[POP3_STREAM_CHUNK];
	static char out[2 * POP3_STREAM_CHUNK + 8];

	if (!st->active || conn_is_closing(s->conn))
		return;
	if (st->listing) {
		if (pop3_list_more(s))
			stream_end(s);
		return;
	}
	while (conn_output_pending(s->conn) <= POP3_STREAM_HIGH) {
		size_t want = st->left < sizeof(in) ? (size_t)st->left : sizeof(in);
		ssize_t n = 0;
		size_t o;

		if (want > 0 && !st->st.done) {
			n = pread(st->fd, in, want, st->offset);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0) {
				stream_fail(s, strerror(errno));
				return;
			}
			if (n == 0) {
				stream_fail(s, "the file is shorter than the index says");
				return;
			}
			st->offset += n;
			st->left -= (uint64_t)n;
			o = pop3_stuffer_feed(&st->st, in, (size_t)n, out);
			st->sent += o;
			if (conn_write(s->conn, out, o) < 0)
				return;    /* closing: on_close follows */
			continue;
		}
		o = pop3_stuffer_finish(&st->st, out);
		if (conn_write(s->conn, out, o) < 0)
			return;
		if (st->top) {
			s->top_count++;
			s->top_bytes += st->st.in_bytes;
		} else {
			s->retr_count++;
			s->retr_bytes += s->drop.msgs[st->index].size;
			s->drop.msgs[st->index].retrieved = true;
		}
		stream_end(s);
		return;
	}
}

void pop3_retr_start(struct pop3_session *s, uint32_t i, bool top, uint64_t lines)
{
	struct pop3_stream *st = &s->stream;
	struct pop3_msg *m = &s->drop.msgs[i];
	struct store_error err;
	uint64_t size;
	off_t off;
	int fd;

	if (store_msg_open(s->drop.box, m->uid, &fd, &off, &size, &err) < 0) {
		if (err.cls == STORE_ERR_EXPUNGED || err.cls == STORE_ERR_NOTFOUND)
			pop3_session_err(s, "Message %u was removed by another session.", i + 1);
		else
			pop3_session_err(s, "[SYS/TEMP] %s", err.text);
		return;
	}
	memset(st, 0, sizeof(*st));
	st->active = true;
	st->top = top;
	st->fd = fd;
	st->offset = off;
	st->left = size;
	st->index = i;
	pop3_stuffer_init(&st->st, top, lines);
	if (top)
		pop3_session_ok(s, "Top of message %u follows.", i + 1);
	else
		pop3_session_ok(s, "%llu octets", (unsigned long long)m->size);
	conn_pause(s->conn);
	pop3_retr_drained(s);
}
