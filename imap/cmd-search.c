/*
 * cmd-search.c - SEARCH and UID SEARCH (RFC 3501 6.4.4, 6.4.8): "* SEARCH
 * 2 5 9" with sequence numbers, or UIDs for UID SEARCH, then the tagged OK.
 *
 * Called through the command table (imap-commands.c) in the SELECTED
 * state. SEARCH with sequence numbers carries IMAP_CMD_FLAG_USES_SEQS in
 * the table, so imap_cmd_ok sends no EXPUNGE before its reply (RFC 3501
 * 7.4.1); UID SEARCH may get them.
 *
 * Work is split so a search over a big mailbox does not stall the other
 * sessions of the process: a first pass over the index (flags, sizes,
 * dates, numbers; no file opened; only the index's unseen set when every
 * match must lack \Seen: UNSEEN, NEW) decides most messages at once; messages
 * the index cannot decide are read from disk in slices (SEARCH_SLICE
 * messages or SEARCH_SLICE_USEC, whichever ends first), and the handler
 * returns IMAP_CMD_PENDING between slices so the session loop runs others
 * before resuming it (through a zero timer, so the loop polls for input
 * in between). A message expunged meanwhile does not match. Messages are
 * parsed in place (an mbox message from its offset in the mbox file,
 * mime_parse_fd_at); a program with header keys only parses just the
 * header. What such a parse yields for the index cache (the ENVELOPE,
 * and the BODYSTRUCTURE after a whole-message parse) is written back once
 * per slice (store_msgs_set_cache), so later SUBJECT/SENT* searches and
 * FETCH ENVELOPE read no file - Dovecot fills its header cache the same
 * way.
 *
 * Entry point: imap_cmd_search (imap-private.h); everything else static.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "imap/imap-private.h"
#include "imap/imap-search.h"
#include "imap/imap-timeslice.h"
#include "log.h"
#include "store/mime.h"

/* A slice ends after this many messages read from disk or this much
 * time, whichever comes first; then other sessions get their turn. A
 * cheap command of another session waits for the slice that is running
 * (the next ones run after it, imap-timeslice.h): 2 ms, not 5, halved
 * SEARCH UNSEEN under the bench's load at ~6% more wall time in all. */
#define SEARCH_SLICE 200
#define SEARCH_SLICE_USEC 2000

enum entry_state { ENTRY_NO, ENTRY_YES, ENTRY_PENDING };

struct search_entry {
	uint32_t uid, seq;
	enum entry_state state;
};

struct search_ctx {
	struct imap_search *search;
	struct search_entry *ents;
	size_t n, alloc;
	size_t next;                 /* next entry the file pass looks at */
	uint32_t max_seq, max_uid;
	bool oom;
	struct store_error err;      /* a failure other than EXPUNGED */
	bool failed;
	struct event *ev_yield;      /* zero timer between slices */
	/* ENVELOPE (and, after a whole-message parse, BODYSTRUCTURE) texts
	 * of messages the file pass parsed without a cache: written in one
	 * index transaction per slice (fills_flush), so the next SUBJECT or
	 * SENT* search answers from the index like Dovecot's header cache */
	struct store_cache_fill fills[SEARCH_SLICE];
	size_t n_fills;
};

static void fills_free(struct search_ctx *c)
{
	for (size_t i = 0; i < c->n_fills; i++) {
		free((char *)c->fills[i].envelope);
		free((char *)c->fills[i].bodystructure);
		free((char *)c->fills[i].header);
	}
	c->n_fills = 0;
}

/* fills_flush - write the collected texts; best effort (the store logs a
 * failure, and the next search parses those files again). */
static void fills_flush(struct imap_session *s, struct search_ctx *c)
{
	struct store_error err;

	if (c->n_fills > 0 && s->sel != NULL)
		(void)store_msgs_set_cache(s->sel->box, c->fills, c->n_fills, &err);
	fills_free(c);
}

static void ctx_free(struct search_ctx **cp)
{
	struct search_ctx *c = *cp;

	if (c == NULL)
		return;
	imap_search_free(&c->search);
	fills_free(c);
	free(c->ents);
	if (c->ev_yield != NULL)
		event_free(c->ev_yield);
	x_free(cp);
}

static void search_cancel(struct imap_cmd *cmd)
{
	struct search_ctx *c = cmd->ctx;

	ctx_free(&c);
	cmd->ctx = NULL;
}

/* ---- the index pass ---- */

struct index_pass {
	struct imap_cmd *cmd;
	struct search_ctx *c;
	size_t next;    /* where the view's next UID is expected (a hint) */
};

/* The sequence number of uid: the index hands the records over in UID
 * order, the view's UIDs are sorted, so the next one is nearly always at
 * the hint; a binary search per message was an eighth of a SEARCH
 * UNSEEN's time. */
static uint32_t pass_seq(struct index_pass *ip, uint32_t uid)
{
	const struct imap_selected *sel = ip->cmd->sess->sel;
	uint32_t seq;

	if (sel != NULL && ip->next < sel->count && sel->uids[ip->next] == uid) {
		ip->next++;
		return (uint32_t)ip->next;
	}
	seq = imap_uid_to_seq(ip->cmd->sess, uid);
	if (seq != 0)
		ip->next = seq;
	return seq;
}

/* index_cb - one message of the index pass: no match is dropped, a match
 * or an undecided one is kept in order. Non-zero (stop) only on OOM. */
static int index_cb(const struct store_msg *msg, void *ctx)
{
	struct index_pass *ip = ctx;
	struct search_ctx *c = ip->c;
	struct imap_session *s = ip->cmd->sess;
	uint32_t seq = pass_seq(ip, msg->uid);
	struct imap_search_msg m;
	enum imap_search_match r;

	/* only messages the client knows (last EXISTS) are searched */
	if (seq == 0)
		return 0;
	memset(&m, 0, sizeof(m));
	m.msg = msg;
	m.seq = seq;
	m.recent = imap_has_recent(s, msg->uid);
	m.max_seq = c->max_seq;
	m.max_uid = c->max_uid;
	r = imap_search_match_index(c->search, &m);
	if (r == IMAP_SEARCH_NO_MATCH)
		return 0;
	if (c->n == c->alloc) {
		size_t na = c->alloc == 0 ? 64 : c->alloc * 2;
		struct search_entry *ne = realloc(c->ents, na * sizeof(*ne));

		if (ne == NULL) {
			c->oom = true;
			return 1;
		}
		c->ents = ne;
		c->alloc = na;
	}
	c->ents[c->n].uid = msg->uid;
	c->ents[c->n].seq = seq;
	c->ents[c->n].state = r == IMAP_SEARCH_MATCH ? ENTRY_YES : ENTRY_PENDING;
	c->n++;
	return 0;
}

/* only_unseen - whether every match of n must lack \Seen: n is UNSEEN
 * (NOT SEEN) or an AND with such a key among its children (NEW, or
 * UNSEEN next to other keys). Then the index pass walks the index's
 * unseen set instead of every record. Bounded: the parser limits depth. */
static bool only_unseen(const struct imap_search_node *n, unsigned depth)
{
	if (n == NULL || depth > IMAP_SEARCH_MAX_DEPTH)
		return false;
	if (n->type == IMAP_SEARCH_NOT)
		return n->child != NULL && n->child->type == IMAP_SEARCH_FLAG &&
		       n->child->flag == STORE_FLAG_SEEN;
	if (n->type == IMAP_SEARCH_AND) {
		for (const struct imap_search_node *c = n->child; c != NULL; c = c->next) {
			if (only_unseen(c, depth + 1))
				return true;
		}
	}
	return false;
}

/* just_unseen - the program is UNSEEN and nothing else: the unseen set's
 * UIDs are the answer, no record needs reading. */
static bool just_unseen(const struct imap_search *search)
{
	const struct imap_search_node *r = search->root;

	/* the one key itself NOT SEEN: an AND below it (NEW) has more keys */
	return r != NULL && r->type == IMAP_SEARCH_AND && r->child != NULL &&
	       r->child->next == NULL && r->child->type == IMAP_SEARCH_NOT &&
	       only_unseen(r->child, 0);
}

/* unseen_uid_cb - one UID of the unseen set for a plain UNSEEN: a match
 * when the client knows the message. Non-zero (stop) only on OOM. */
static int unseen_uid_cb(uint32_t uid, void *ctx)
{
	struct index_pass *ip = ctx;
	struct search_ctx *c = ip->c;
	uint32_t seq = imap_uid_to_seq(ip->cmd->sess, uid);

	if (seq == 0)
		return 0;
	if (c->n == c->alloc) {
		size_t na = c->alloc == 0 ? 64 : c->alloc * 2;
		struct search_entry *ne = realloc(c->ents, na * sizeof(*ne));

		if (ne == NULL) {
			c->oom = true;
			return 1;
		}
		c->ents = ne;
		c->alloc = na;
	}
	c->ents[c->n].uid = uid;
	c->ents[c->n].seq = seq;
	c->ents[c->n].state = ENTRY_YES;
	c->n++;
	return 0;
}

/* ---- the file pass ---- */

struct opener {
	struct store_mailbox *box;
	uint32_t uid;
	bool header_only;            /* no BODY/TEXT key: parse just the header */
	const char *cached_header;   /* the index's copy of the header block, or NULL */
	int fd;
	off_t off;                   /* where the header starts in fd */
	uint64_t header_len;         /* bytes of it read for a header-only parse */
	struct mime_message *mime;
	struct store_error err;
	bool store_failed;
};

/*
 * header_size - bytes up to and including the blank line that ends the
 * header, when it is in the first HEADER_PEEK bytes; otherwise size. Header
 * keys then parse only the header instead of every MIME part (a message
 * parsed short is a header with an empty body: the header reads the same).
 */
#define HEADER_PEEK (16 * 1024)

static uint64_t header_size(int fd, off_t off, uint64_t size)
{
	char buf[HEADER_PEEK];
	ssize_t n;
	uint64_t end = size;

	n = pread(fd, buf, size < sizeof(buf) ? (size_t)size : sizeof(buf), off);
	/* an empty header: the message starts with its blank line */
	if (n >= 1 && buf[0] == '\n')
		return 1 < size ? 1 : size;
	if (n >= 2 && buf[0] == '\r' && buf[1] == '\n')
		return 2 < size ? 2 : size;
	for (ssize_t i = 0; i + 1 < n; i++) {
		if (buf[i] != '\n')
			continue;
		if (buf[i + 1] == '\n') {
			end = (uint64_t)i + 2;
			break;
		}
		if (buf[i + 1] == '\r' && i + 2 < n && buf[i + 2] == '\n') {
			end = (uint64_t)i + 3;
			break;
		}
	}
	return end < size ? end : size;
}

/* opener_open - imap_search_open_fn: the parsed message, owned by the
 * opener (file_cb frees it and closes the fd). */
static struct mime_message *opener_open(void *ctx, const char **error_r)
{
	struct opener *o = ctx;
	off_t off;
	uint64_t size;
	int fd;

	/* a header-only search of a message whose header block the index
	 * holds: parsed from memory, no file opened (the same bytes a
	 * header-only parse of the file reads) */
	if (o->header_only && o->cached_header != NULL) {
		o->mime = mime_parse_mem(o->cached_header, strlen(o->cached_header), NULL, error_r);
		return o->mime;
	}
	if (store_msg_open(o->box, o->uid, &fd, &off, &size, &o->err) < 0) {
		o->store_failed = true;
		*error_r = o->err.text;
		return NULL;
	}
	/* parsed in place: a Maildir file from 0, an mbox message from its
	 * offset in the mbox file (no copy) */
	o->fd = fd;
	o->off = off;
	if (o->header_only)
		size = header_size(o->fd, off, size);
	o->header_len = o->header_only ? size : 0;
	o->mime = mime_parse_fd_at(o->fd, (uint64_t)off, size, NULL, error_r);
	return o->mime;
}

/* The cache texts as store/msg-cache.c builds them (same views, same
 * limit), so FETCH can send them as they are. */
#define CACHE_TEXT_MAX (1024 * 1024)

static char *cache_text(struct mime_message *mime, bool bodystructure)
{
	struct strbuf sb;
	const char *why = NULL;
	int rc;

	strbuf_init(&sb, CACHE_TEXT_MAX);
	rc = bodystructure ? mime_bodystructure(mime, 0, true, &sb, &why)
			   : mime_envelope(mime, 0, &sb, &why);
	if (rc < 0 || sb.len == 0 || memchr(sb.data, '\0', sb.len) != NULL) {
		strbuf_free(&sb);
		return NULL;
	}
	return strbuf_steal(&sb);
}

/* cache_fill_add - remember what the index lacks for msg, from the parse
 * the search made anyway: the ENVELOPE needs only the header; the
 * BODYSTRUCTURE only when the whole message was parsed. */
/* header_text - the header block a header-only parse read from fd, as
 * the index caches it (store_msg.header): new memory, or NULL when it
 * is too long, holds a NUL, or was not read. */
static char *header_text(const struct opener *o)
{
	char *h;
	ssize_t n;

	if (o->fd < 0 || o->header_len == 0 || o->header_len > STORE_HEADER_CACHE_MAX)
		return NULL;
	h = malloc((size_t)o->header_len + 1);
	if (h == NULL)
		return NULL;
	n = pread(o->fd, h, (size_t)o->header_len, o->off);
	if (n != (ssize_t)o->header_len || memchr(h, '\0', (size_t)n) != NULL) {
		free(h);
		return NULL;
	}
	h[n] = '\0';
	return h;
}

static void cache_fill_add(struct search_ctx *c, const struct store_msg *msg,
			   struct mime_message *mime, const struct opener *o)
{
	struct store_cache_fill *f;
	bool header_only = o->header_only;

	if (c->n_fills >= SEARCH_SLICE ||
	    (msg->envelope != NULL && (header_only || msg->bodystructure != NULL) &&
	     (msg->header != NULL || o->fd < 0 || !header_only)))
		return;
	f = &c->fills[c->n_fills];
	f->uid = msg->uid;
	f->envelope = msg->envelope == NULL ? cache_text(mime, false) : NULL;
	f->bodystructure = !header_only && msg->bodystructure == NULL ? cache_text(mime, true)
								       : NULL;
	f->header = msg->header == NULL ? header_text(o) : NULL;
	if (f->envelope != NULL || f->bodystructure != NULL || f->header != NULL)
		c->n_fills++;
}

struct file_pass {
	struct search_ctx *c;
	struct search_entry *e;
	struct imap_session *s;
};

/* file_cb - decide one undecided message with its file; store failures
 * other than EXPUNGED end the command (c->failed). Always 0. */
static int file_cb(const struct store_msg *msg, void *ctx)
{
	struct file_pass *fp = ctx;
	struct opener o = { .box = fp->s->sel->box, .uid = msg->uid, .fd = -1,
			    .header_only = !fp->c->search->needs_body,
			    .cached_header = msg->header };
	struct imap_search_msg m = {
		.msg = msg, .seq = fp->e->seq, .recent = imap_has_recent(fp->s, msg->uid),
		.max_seq = fp->c->max_seq, .max_uid = fp->c->max_uid,
		.open = opener_open, .open_ctx = &o,
	};
	const char *error = NULL;
	int r = imap_search_match(fp->c->search, &m, &error);

	if (r >= 0 && o.mime != NULL)
		cache_fill_add(fp->c, msg, o.mime, &o);
	mime_message_free(&o.mime);
	if (o.fd >= 0)
		close(o.fd);
	if (r < 0) {
		if (o.store_failed && o.err.cls == STORE_ERR_EXPUNGED)
			r = 0;
		else if (o.store_failed) {
			fp->c->err = o.err;
			fp->c->failed = true;
		} else {
			/* a read error of one file: log it, the message does not match */
			log_warn("%s: SEARCH: UID %u: %s", fp->s->id, msg->uid,
				 error != NULL ? error : "read error");
			r = 0;
		}
	}
	fp->e->state = r == 1 ? ENTRY_YES : ENTRY_NO;
	return 0;
}

/* ---- the reply ---- */

/* search_reply - "* SEARCH ..." and the tagged reply; frees c. */
static enum imap_cmd_result search_reply(struct imap_cmd *cmd, struct search_ctx *c)
{
	struct strbuf line;
	bool oom = false;

	strbuf_init(&line, 0);
	oom |= strbuf_puts(&line, "* SEARCH") < 0;
	for (size_t i = 0; i < c->n && !oom; i++) {
		if (c->ents[i].state == ENTRY_YES)
			oom |= strbuf_printf(&line, " %u", cmd->uid ? c->ents[i].uid
								  : c->ents[i].seq) < 0;
	}
	oom |= strbuf_puts(&line, "\r\n") < 0;
	if (!oom)
		imap_write(cmd->sess, line.data, line.len);
	strbuf_free(&line);
	ctx_free(&c);
	cmd->ctx = NULL;
	if (oom)
		return imap_cmd_no(cmd, "SERVERBUG", "Out of memory");
	return imap_cmd_ok(cmd, NULL, "%sSEARCH completed", cmd->uid ? "UID " : "");
}

/*
 * yield_cb - the zero timer fired: the loop has polled for I/O since the
 * last slice, so other sessions had their turn; resume through the
 * session (imap_cmd_wake), which also finishes the command when it is
 * done. A plain imap_cmd_wake from inside the slice would run the next
 * slice in the same loop pass, before any new input is read.
 */
static void yield_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	imap_cmd_wake(arg);
}

/* search_yield - schedule the next slice. 0, or -1 when no timer can be
 * made (then the search simply continues without yielding). */
static int search_yield(struct imap_cmd *cmd, struct search_ctx *c)
{
	static const struct timeval zero = { 0, 0 };

	if (c->ev_yield == NULL) {
		c->ev_yield = evtimer_new(imap_session_base(cmd->sess), yield_cb, cmd);
		if (c->ev_yield != NULL)
			imap_timeslice_defer(c->ev_yield);
	}
	if (c->ev_yield == NULL || evtimer_add(c->ev_yield, &zero) < 0)
		return -1;
	return 0;
}

static uint64_t now_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* search_resume - one slice of the file pass; PENDING with the next
 * slice scheduled, or DONE after the reply. */
static enum imap_cmd_result search_resume(struct imap_cmd *cmd)
{
	struct search_ctx *c = cmd->ctx;
	struct imap_session *s = cmd->sess;
	unsigned opened = 0;
	uint64_t start = now_usec();

	if (s->sel == NULL) {
		search_cancel(cmd);
		return imap_cmd_no(cmd, NULL, "Mailbox was closed");
	}
	while (c->next < c->n) {
		struct search_entry *e = &c->ents[c->next++];
		struct file_pass fp = { .c = c, .e = e, .s = s };
		struct store_error err;
		int r;

		if (e->state != ENTRY_PENDING)
			continue;
		if ((opened >= SEARCH_SLICE ||
		     (opened > 0 && now_usec() - start >= SEARCH_SLICE_USEC)) &&
		    search_yield(cmd, c) == 0) {
			fills_flush(s, c);
			c->next--;
			cmd->resume = search_resume;
			cmd->cancel = search_cancel;
			return IMAP_CMD_PENDING;
		}
		opened++;
		r = store_msg_get(s->sel->box, e->uid, file_cb, &fp, &err);
		if (r == 0)
			e->state = ENTRY_NO;    /* expunged meanwhile */
		if (r < 0) {
			c->err = err;
			c->failed = true;
		}
		if (c->failed) {
			struct store_error fail = c->err;

			search_cancel(cmd);
			return imap_cmd_store_error(cmd, &fail);
		}
	}
	fills_flush(s, c);
	return search_reply(cmd, c);
}

enum imap_cmd_result imap_cmd_search(struct imap_cmd *cmd)
{
	struct imap_session *s = cmd->sess;
	struct imap_selected *sel = s->sel;
	struct search_ctx *c;
	const char *code = NULL, *error = NULL;
	struct index_pass ip;
	struct store_error err;
	int r;

	if (sel == NULL)
		return imap_cmd_bad(cmd, NULL, "No mailbox selected");
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return imap_cmd_no(cmd, "SERVERBUG", "Out of memory");
	r = imap_search_parse(cmd->args, cmd->nargs, &c->search, &code, &error);
	if (r != 0) {
		ctx_free(&c);
		if (r == IMAP_SEARCH_ERR_NO)
			return imap_cmd_no(cmd, code, "%s", error);
		return imap_cmd_bad(cmd, NULL, "%s", error);
	}
	c->max_seq = sel->count;
	c->max_uid = sel->count > 0 ? sel->uids[sel->count - 1] : 0;
	ip.cmd = cmd;
	ip.c = c;
	ip.next = 0;
	if (just_unseen(c->search))
		r = store_mailbox_unseen_uids(sel->box, unseen_uid_cb, &ip, &err);
	else if (only_unseen(c->search->root, 0))
		r = store_mailbox_foreach_unseen(sel->box, index_cb, &ip, &err);
	else
		r = store_mailbox_foreach(sel->box, 0, index_cb, &ip, &err);
	if (r < 0) {
		ctx_free(&c);
		return imap_cmd_store_error(cmd, &err);
	}
	if (c->oom) {
		ctx_free(&c);
		return imap_cmd_no(cmd, "SERVERBUG", "Out of memory");
	}
	cmd->ctx = c;
	return search_resume(cmd);
}
