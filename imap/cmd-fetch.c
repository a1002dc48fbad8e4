/*
 * cmd-fetch.c - FETCH and UID FETCH (RFC 3501 6.4.5, 6.4.8). Called from
 * the command table (imap-commands.c); the attribute parsing and the
 * response text live in imap-fetch-parse.c and imap-fetch.c.
 *
 * Streaming: messages are rendered one after the other; whenever the
 * session's output holds more than IMAP_OUTPUT_HIGH bytes the handler
 * returns IMAP_CMD_PENDING and the core calls fetch_resume() once the
 * client has read it, so a FETCH of many or big messages never holds more
 * than a chunk of message data in memory. A client that reads fast does
 * not keep the worker either: after a time slice (imap-timeslice.c) the
 * handler yields between messages, which matters when each message costs
 * a cache write.
 *
 * \Seen: a non-PEEK section (BODY[...], RFC822, RFC822.TEXT) sets \Seen
 * before its message is rendered, unless the mailbox is read-only, and
 * the response then carries FLAGS even when not asked for (6.4.5).
 *
 * Cache: ENVELOPE and BODYSTRUCTURE come from the index (struct
 * store_msg) when cached; otherwise they are computed from the message
 * (mime_envelope, mime_bodystructure(extended=true): exactly the text the
 * store caches at delivery) and written back with store_msgs_set_cache,
 * up to FETCH_FILL_BATCH messages per index commit (flushed before the
 * handler yields and at the end, so a cancelled FETCH loses only the
 * batch in hand).
 * BODY (non-extended) is always computed: it needs the parsed message
 * anyway and is rare (FULL macro).
 *
 * Messages expunged by another session meanwhile (RFC 2180 4.1): the
 * ones still there are sent, the vanished ones are skipped, and the
 * tagged reply of FETCH is NO [EXPUNGEISSUED] (RFC 5530) instead of OK.
 * UID FETCH answers OK: a UID that no longer exists is "ignored without
 * any error message" (RFC 3501 6.4.8), and the EXPUNGE sent before the
 * tagged reply (allowed for UID commands, 7.4.1) tells the client; mbsync
 * takes a NO for a failed sync.
 *
 * Header-only requests (HEADER.FIELDS, RFC822.HEADER, ENVELOPE: what a
 * client fetches for new mail) parse just the header's bytes, so a big
 * attachment is not read from disk to answer them.
 *
 * Messages are parsed in place: a Maildir file from offset 0, a message
 * inside an mbox file from its offset (mime_parse_fd_at), no copy.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "imap/imap-fetch.h"
#include "imap/imap-timeslice.h"
#include "log.h"

struct msg_copy {
	struct store_msg m;
	char *keywords, *envelope, *bodystructure;
	char *header;               /* the cached header block, for header-only fetches */
	bool oom;
};

/* Records read in one store transaction (store_msgs_get) ahead of
 * rendering: one read transaction per 64 messages instead of one each. */
#define FETCH_PREFETCH 64

/* Cache fills kept before one index commit writes them. */
#define FETCH_FILL_BATCH 64

struct fetch_ctx {
	struct imap_fetch_query q;
	uint32_t *uids;
	size_t n, i;
	bool expunged;              /* a requested message vanished */
	size_t seq_hint;            /* view index where the next UID is expected */
	bool active;                /* r is rendering uids[i] */
	struct imap_fetch_render r;
	struct imap_fetch_msg m;
	/* copies of the index entry (store_msg strings live during the callback only) */
	char *keywords, *envelope, *bodystructure, *header;
	int fd;
	struct mime_message *mime;
	struct imap_timeslice slice;
	bool header_only;           /* parse just the header (imap_fetch_header_only) */
	/* cache texts computed for messages already sent, written in one
	 * index transaction per slice (fills_flush), not one per message */
	struct store_cache_fill fills[FETCH_FILL_BATCH];
	size_t n_fills;
	/* uids[pre_start .. pre_start + pre_n) as read by prefetch();
	 * pre_found[k] false: not in the index (expunged) */
	struct msg_copy pre[FETCH_PREFETCH];
	bool pre_found[FETCH_PREFETCH];
	size_t pre_start, pre_n, pre_cursor;
};

/* Copy what the query uses of one record: the cached ENVELOPE and
 * BODYSTRUCTURE (~1 KB a message) only when asked for - copying them for
 * every message of a FETCH 1:* (FLAGS) was a fifth of its time (strlen,
 * malloc, memcpy). */
static void msg_copy(const struct store_msg *msg, const struct imap_fetch_query *q,
		     bool header_only, struct msg_copy *c)
{
	const char *env = q->has_envelope ? msg->envelope : NULL;
	const char *bs = q->has_bodystructure ? msg->bodystructure : NULL;
	const char *hdr = header_only ? msg->header : NULL;

	c->m = *msg;
	c->m.envelope = NULL;
	c->m.bodystructure = NULL;
	c->m.header = NULL; /* LMDB memory: valid during the callback only */
	c->keywords = strdup(msg->keywords != NULL ? msg->keywords : "");
	c->envelope = env != NULL ? strdup(env) : NULL;
	c->bodystructure = bs != NULL ? strdup(bs) : NULL;
	c->header = hdr != NULL ? strdup(hdr) : NULL;
	if (c->keywords == NULL || (env != NULL && c->envelope == NULL) ||
	    (bs != NULL && c->bodystructure == NULL) || (hdr != NULL && c->header == NULL))
		c->oom = true;
}

static void msg_release(struct fetch_ctx *c)
{
	if (c->active)
		imap_fetch_render_free(&c->r);
	c->active = false;
	mime_message_free(&c->mime);
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	x_free(&c->keywords);
	x_free(&c->envelope);
	x_free(&c->bodystructure);
	x_free(&c->header);
}

/* Write the collected cache texts (best effort: the store logs a failure
 * itself, and the next FETCH computes them again). */
static void fills_flush(struct imap_session *s, struct fetch_ctx *c)
{
	struct store_error err;

	if (c->n_fills > 0 && s->sel != NULL)
		(void)store_msgs_set_cache(s->sel->box, c->fills, c->n_fills, &err);
	for (size_t i = 0; i < c->n_fills; i++) {
		free((char *)c->fills[i].envelope);
		free((char *)c->fills[i].bodystructure);
	}
	c->n_fills = 0;
}

static void prefetch_clear(struct fetch_ctx *c)
{
	for (size_t k = 0; k < c->pre_n; k++) {
		free(c->pre[k].keywords);
		free(c->pre[k].envelope);
		free(c->pre[k].bodystructure);
		free(c->pre[k].header);
	}
	memset(c->pre, 0, sizeof(c->pre));
	c->pre_n = 0;
}

static void fetch_ctx_free(struct fetch_ctx **cp)
{
	struct fetch_ctx *c = *cp;

	if (c == NULL)
		return;
	prefetch_clear(c);
	for (size_t i = 0; i < c->n_fills; i++) {
		free((char *)c->fills[i].envelope);
		free((char *)c->fills[i].bodystructure);
	}
	msg_release(c);
	imap_timeslice_free(&c->slice);
	imap_fetch_query_free(&c->q);
	free(c->uids);
	free(c);
	*cp = NULL;
}

/*
 * The length of the message's header including the empty line that ends
 * it (the whole message when there is none), read from fd at off: a
 * line that is empty or only CR ends it, as the MIME parser sees it.
 * 0, or -1 on a read error.
 */
static int header_length(int fd, off_t off, uint64_t size, uint64_t *len_r)
{
	enum { LINE_START, CR_AT_START, IN_LINE } st = LINE_START;
	char buf[8192];
	uint64_t pos = 0;

	while (pos < size) {
		size_t want = size - pos < sizeof(buf) ? (size_t)(size - pos) : sizeof(buf);
		ssize_t n = pread(fd, buf, want, off + (off_t)pos);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		for (ssize_t i = 0; i < n; i++) {
			char ch = buf[i];

			if (st == IN_LINE) {
				const char *lf = memchr(buf + i, '\n', (size_t)(n - i));

				if (lf == NULL)
					break;
				i = lf - buf;
				st = LINE_START;
			} else if (ch == '\n') {
				*len_r = pos + (uint64_t)i + 1;
				return 0;
			} else if (ch == '\r' && st == LINE_START) {
				st = CR_AT_START;
			} else {
				st = IN_LINE;
			}
		}
		pos += (uint64_t)n;
	}
	*len_r = size;
	return 0;
}

/* The message's descriptor (Maildir: its file; mbox: the mbox file, the
 * message at *off_r), and how many bytes to parse: with header_only just
 * the header. The MIME parser reads from the offset in place
 * (mime_parse_fd_at), so nothing is copied. -1 with err. */
static int message_fd(struct store_mailbox *box, uint32_t uid, bool header_only, uint64_t *off_r,
		      uint64_t *size_r, struct store_error *err)
{
	off_t off;
	int fd;

	if (store_msg_open(box, uid, &fd, &off, size_r, err) < 0)
		return -1;
	errno = 0;
	if (header_only && header_length(fd, off, *size_r, size_r) < 0) {
		log_error("imap: reading message %u of %s for FETCH: %s", uid, store_mailbox_name(box),
			  strerror(errno ? errno : EIO));
		close(fd);
		err->cls = STORE_ERR_TEMP;
		str_copy(err->text, "Internal error reading the message", sizeof(err->text));
		return -1;
	}
	*off_r = (uint64_t)off;
	return fd;
}

/* prefetch_cb - one record of store_msgs_get: the UIDs come back in the
 * order asked, missing ones skipped, so a cursor finds the slot. */
static int prefetch_cb(const struct store_msg *msg, void *ctx)
{
	struct fetch_ctx *c = ctx;

	while (c->pre_cursor < c->pre_n && c->uids[c->pre_start + c->pre_cursor] != msg->uid)
		c->pre_cursor++;
	if (c->pre_cursor == c->pre_n)
		return 0;
	msg_copy(msg, &c->q, c->header_only, &c->pre[c->pre_cursor]);
	c->pre_found[c->pre_cursor++] = true;
	return 0;
}

/*
 * The record of uids[c->i] (copies owned by *mc, which the caller frees):
 * from the records read ahead, reading the next FETCH_PREFETCH when c->i
 * is past them. 1 found, 0 not in the index, -1 with err.
 */
static int record_get(struct fetch_ctx *c, struct store_mailbox *box, struct msg_copy *mc,
		      struct store_error *err)
{
	size_t k;

	if (c->i < c->pre_start || c->i >= c->pre_start + c->pre_n) {
		prefetch_clear(c);
		memset(c->pre_found, 0, sizeof(c->pre_found));
		c->pre_start = c->i;
		c->pre_n = c->n - c->i < FETCH_PREFETCH ? c->n - c->i : FETCH_PREFETCH;
		c->pre_cursor = 0;
		if (store_msgs_get(box, c->uids + c->i, c->pre_n, prefetch_cb, c, err) < 0) {
			prefetch_clear(c);
			return -1;
		}
	}
	k = c->i - c->pre_start;
	*mc = c->pre[k];
	memset(&c->pre[k], 0, sizeof(c->pre[k])); /* the copies change owner */
	return c->pre_found[k] ? 1 : 0;
}

/*
 * Set up c->m and c->r for uids[c->i]. 1 ready, 0 skip it (vanished),
 * -1 with err for the tagged NO.
 */
static int fetch_prepare(struct imap_cmd *cmd, struct fetch_ctx *c, struct store_error *err)
{
	struct imap_session *s = cmd->sess;
	struct store_mailbox *box = s->sel->box;
	uint32_t uid = c->uids[c->i];
	struct msg_copy mc;
	int rc;

	memset(&mc, 0, sizeof(mc));
	memset(&c->m, 0, sizeof(c->m));
	/* the UIDs come sorted: the next sequence number is nearly always
	 * the one after the last (a binary search per message otherwise) */
	if (c->seq_hint < s->sel->count && s->sel->uids[c->seq_hint] == uid)
		c->m.seq = (uint32_t)++c->seq_hint;
	else if ((c->m.seq = imap_uid_to_seq(s, uid)) != 0)
		c->seq_hint = c->m.seq;
	if (c->m.seq == 0)
		return 0;
	rc = record_get(c, box, &mc, err);
	c->keywords = mc.keywords;
	c->envelope = mc.envelope;
	c->bodystructure = mc.bodystructure;
	c->header = mc.header;
	if (rc < 0 && (err->cls == STORE_ERR_EXPUNGED || err->cls == STORE_ERR_NOTFOUND))
		rc = 0;
	if (rc <= 0 || mc.oom) {
		if (rc == 0) {
			c->expunged = true;
		} else if (mc.oom) {
			err->cls = STORE_ERR_TEMP;
			str_copy(err->text, "Out of memory", sizeof(err->text));
			rc = -1;
		}
		x_free(&c->keywords);
		x_free(&c->envelope);
		x_free(&c->bodystructure);
		x_free(&c->header);
		return rc;
	}
	c->m.uid = uid;
	c->m.flags = mc.m.flags;
	c->m.keywords = c->keywords;
	c->m.internaldate = mc.m.internaldate;
	c->m.size = mc.m.size;
	c->m.envelope = c->envelope;
	c->m.bodystructure = c->bodystructure;
	c->m.recent = imap_has_recent(s, uid);
	c->m.add_uid = cmd->uid;

	if (c->q.sets_seen && !s->sel->readonly && (c->m.flags & STORE_FLAG_SEEN) == 0) {
		uint64_t modseq;
		struct store_error e2;

		rc = store_msg_set_flags(box, uid, STORE_FLAGS_ADD, STORE_FLAG_SEEN, NULL, 0, &modseq, &e2);
		if (rc > 0) {
			imap_sync_own_change(s, uid, modseq);
			c->m.flags |= STORE_FLAG_SEEN;
			c->m.add_flags = true;
		} else if (rc < 0 && (e2.cls == STORE_ERR_EXPUNGED || e2.cls == STORE_ERR_NOTFOUND)) {
			c->expunged = true;
			msg_release(c);
			return 0;
		} else if (rc < 0) {
			log_warn("imap %s: setting \\Seen on %u of %s: %s", s->id, uid, s->sel->name, e2.text);
		}
	}

	if (imap_fetch_needs_mime(&c->q, &c->m) && c->header_only && c->header != NULL) {
		const char *perr = NULL;

		/* the index holds the header block: parsed from memory, the
		 * same bytes a header-only parse of the file reads */
		c->mime = mime_parse_mem(c->header, strlen(c->header), NULL, &perr);
		if (c->mime == NULL) {
			log_error("imap %s: parsing the cached header of %u of %s: %s", s->id, uid,
				  s->sel->name, perr);
			msg_release(c);
			err->cls = STORE_ERR_TEMP;
			str_copy(err->text, "Internal error reading the message", sizeof(err->text));
			return -1;
		}
		c->m.mime = c->mime;
	} else if (imap_fetch_needs_mime(&c->q, &c->m)) {
		const char *perr = NULL;
		uint64_t off, size;

		c->fd = message_fd(box, uid, c->header_only, &off, &size, err);
		if (c->fd < 0) {
			msg_release(c);
			if (err->cls == STORE_ERR_EXPUNGED || err->cls == STORE_ERR_NOTFOUND) {
				c->expunged = true;
				return 0;
			}
			return -1;
		}
		c->mime = mime_parse_fd_at(c->fd, off, size, NULL, &perr);
		if (c->mime == NULL) {
			log_error("imap %s: parsing message %u of %s: %s", s->id, uid, s->sel->name, perr);
			msg_release(c);
			err->cls = STORE_ERR_TEMP;
			str_copy(err->text, "Internal error reading the message", sizeof(err->text));
			return -1;
		}
		c->m.mime = c->mime;
	}
	imap_fetch_render_init(&c->r, &c->q, &c->m);
	c->active = true;
	return 1;
}

static void out_write(void *ctx, const void *data, size_t len)
{
	imap_write(ctx, data, len);
}

static bool out_full(void *ctx)
{
	return imap_output_pending(ctx) > IMAP_OUTPUT_HIGH;
}

/* the message is out: fill the cache with what was computed */
static void fetch_done_one(struct imap_cmd *cmd, struct fetch_ctx *c)
{
	struct imap_session *s = cmd->sess;

	if (c->r.new_envelope != NULL || c->r.new_bodystructure != NULL) {
		struct store_cache_fill *f = &c->fills[c->n_fills++];

		/* the texts change owner: freed by fills_flush */
		f->uid = c->m.uid;
		f->envelope = c->r.new_envelope;
		f->bodystructure = c->r.new_bodystructure;
		c->r.new_envelope = NULL;
		c->r.new_bodystructure = NULL;
		if (c->n_fills == FETCH_FILL_BATCH)
			fills_flush(s, c);
	}
	s->fetched++;
	msg_release(c);
	c->i++;
}

static void fetch_cancel(struct imap_cmd *cmd)
{
	struct fetch_ctx *c = cmd->ctx;

	fetch_ctx_free(&c);
	cmd->ctx = NULL;
}

static enum imap_cmd_result fetch_resume(struct imap_cmd *cmd)
{
	struct imap_session *s = cmd->sess;
	struct fetch_ctx *c = cmd->ctx;
	struct imap_fetch_out out = { out_write, out_full, s };
	struct store_error err;
	const char *error = NULL;
	int rc;

	imap_timeslice_begin(&c->slice);
	for (;;) {
		if (!c->active) {
			if (c->i >= c->n)
				break;
			if (out_full(s)) {
				fills_flush(s, c);
				return IMAP_CMD_PENDING; /* resumed when the output drained */
			}
			if (imap_timeslice_over(&c->slice)) {
				fills_flush(s, c);
				if (imap_timeslice_yield(&c->slice, cmd) == 0)
					return IMAP_CMD_PENDING;
			}
			memset(&err, 0, sizeof(err));
			rc = fetch_prepare(cmd, c, &err);
			if (rc < 0) {
				fetch_ctx_free(&c);
				cmd->ctx = NULL;
				return imap_cmd_store_error(cmd, &err);
			}
			if (rc == 0) {
				c->i++;
				continue;
			}
		}
		rc = imap_fetch_render_run(&c->r, &out, &error);
		if (rc == 0)
			return IMAP_CMD_PENDING;
		if (rc < 0) {
			log_error("imap %s: FETCH of message %u of %s: %s", s->id, c->m.uid,
				  s->sel->name, error);
			if (c->r.wrote) {
				/* a literal was promised and cannot be completed:
				 * only ending the connection keeps the client from
				 * reading garbage as the message */
				fetch_ctx_free(&c);
				cmd->ctx = NULL;
				imap_session_close(s);
				return IMAP_CMD_DONE;
			}
			fetch_ctx_free(&c);
			cmd->ctx = NULL;
			return imap_cmd_no(cmd, "SERVERBUG", "Internal error reading the message");
		}
		fetch_done_one(cmd, c);
	}
	bool expunged = c->expunged;

	fills_flush(s, c);
	fetch_ctx_free(&c);
	cmd->ctx = NULL;
	if (expunged && !cmd->uid)
		return imap_cmd_no(cmd, "EXPUNGEISSUED", "Some of the requested messages no longer exist");
	return imap_cmd_ok(cmd, NULL, "%sFETCH completed", cmd->uid ? "UID " : "");
}

enum imap_cmd_result imap_cmd_fetch(struct imap_cmd *cmd)
{
	struct imap_session *s = cmd->sess;
	struct fetch_ctx *c;
	const char *error = NULL;
	int rc;

	if (cmd->nargs < 2 || cmd->args[0].type != IMAP_ARG_ATOM)
		return imap_cmd_bad(cmd, NULL, "FETCH needs a sequence set and attributes");
	if (cmd->nargs > 2)
		return imap_cmd_bad(cmd, NULL, "Unexpected arguments after the FETCH attributes");
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return imap_cmd_no(cmd, "SERVERBUG", "Out of memory");
	c->fd = -1;
	if (imap_fetch_parse(&cmd->args[1], &c->q, &error) < 0) {
		fetch_ctx_free(&c);
		return imap_cmd_bad(cmd, NULL, "%s", error);
	}
	c->header_only = imap_fetch_header_only(&c->q);
	rc = imap_seqset_resolve(s, cmd->args[0].data, cmd->uid, &c->uids, &c->n, &error);
	if (rc != 0) {
		fetch_ctx_free(&c);
		if (rc == 1)
			return imap_cmd_bad(cmd, NULL, "Invalid messageset (sequence number out of range)");
		return imap_cmd_bad(cmd, NULL, "%s", error != NULL ? error : "Invalid sequence set");
	}
	cmd->ctx = c;
	cmd->resume = fetch_resume;
	cmd->cancel = fetch_cancel;
	return fetch_resume(cmd);
}
