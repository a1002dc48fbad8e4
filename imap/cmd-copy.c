/*
 * cmd-copy.c - COPY / UID COPY (RFC 3501 6.4.7, 6.4.8) and MOVE / UID
 * MOVE (RFC 6851). Called from the command table (imap-commands.c).
 *
 * COPY: every message or none, as far as the store allows: the copies are
 * made one by one, and when one fails those already made are expunged
 * from the target again before the NO. A missing target is NO [TRYCREATE]
 * (3501 6.4.7), a full quota NO [OVERQUOTA] (RFC 5530, through
 * imap_cmd_store_error), a source message expunged meanwhile NO
 * [EXPUNGEISSUED] (RFC 2180 4.4.1). Success carries [COPYUID uidvalidity
 * source-uids target-uids] (RFC 4315 3); a set naming no existing message
 * (UID COPY of UIDs that are gone) copies nothing and answers plain OK.
 *
 * MOVE: copy as above, then expunge the sources; the client sees
 * "* OK [COPYUID ...]", one "* n EXPUNGE" per moved message (sent by
 * imap_sync_report, highest sequence number first, so each number is
 * right when it arrives), then the tagged OK (RFC 6851 4.3, 4.4). In a
 * read-only mailbox MOVE is NO (nothing may be expunged there).
 *
 * Every copy and every expunge is a synchronous store commit, so both
 * loops run in time slices (imap-timeslice.c) and yield the worker to its
 * other sessions in between; a connection lost mid-COPY still removes the
 * copies made so far.
 */
#include <stdlib.h>
#include <string.h>

#include "imap/imap-private.h"
#include "imap/imap-timeslice.h"
#include "log.h"

/* undo the copies made so far: all or nothing (best effort) */
static void copy_undo(struct store_mailbox *dst, const uint32_t *new_uids, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct store_error err;

		if (store_msg_expunge(dst, new_uids[i], &err) < 0)
			log_warn("imap: removing partial copy %u from %s: %s", new_uids[i],
				 store_mailbox_name(dst), err.text);
	}
}

/* "COPYUID v src dst" into code; 0 or -1 on OOM */
static int copyuid_code(struct strbuf *code, uint32_t uidvalidity, const uint32_t *src,
			const uint32_t *dst, size_t n)
{
	if (strbuf_printf(code, "COPYUID %u ", uidvalidity) < 0 ||
	    imap_seqset_format(code, src, n) < 0 || strbuf_putc(code, ' ') < 0)
		return -1;
	/* target UIDs are ascending too (the store hands them out in order),
	 * but not necessarily contiguous; formatting keeps the pairing */
	return imap_seqset_format(code, dst, n);
}

struct copy_ctx {
	bool move;
	struct store_mailbox *dst;
	uint32_t *uids, *new_uids;
	size_t n, done;          /* copies made */
	size_t expunged;         /* MOVE: sources taken away */
	char *code;              /* "COPYUID ..." once every copy exists */
	struct imap_timeslice slice;
};

static void copy_ctx_free(struct copy_ctx **cp)
{
	struct copy_ctx *c = *cp;

	if (c == NULL)
		return;
	imap_timeslice_free(&c->slice);
	if (c->dst != NULL)
		store_mailbox_close(&c->dst);
	free(c->uids);
	free(c->new_uids);
	free(c->code);
	free(c);
	*cp = NULL;
}

static void copy_cancel(struct imap_cmd *cmd)
{
	struct copy_ctx *c = cmd->ctx;

	/* the connection went away in the middle: all or nothing still */
	if (c != NULL && c->dst != NULL && c->code == NULL)
		copy_undo(c->dst, c->new_uids, c->done);
	copy_ctx_free(&c);
	cmd->ctx = NULL;
}

/* yield between messages: every copy and expunge is a synchronous commit */
static bool copy_yield(struct imap_cmd *cmd, struct copy_ctx *c)
{
	return imap_timeslice_over(&c->slice) && imap_timeslice_yield(&c->slice, cmd) == 0;
}

static enum imap_cmd_result copy_resume(struct imap_cmd *cmd)
{
	struct imap_session *s = cmd->sess;
	struct copy_ctx *c = cmd->ctx;
	struct store_error err;
	enum imap_cmd_result r;

	imap_timeslice_begin(&c->slice);
	/* 1. the copies */
	for (; c->code == NULL && c->done < c->n; c->done++) {
		if (copy_yield(cmd, c))
			return IMAP_CMD_PENDING;
		memset(&err, 0, sizeof(err));
		if (store_msg_copy(s->sel->box, c->uids[c->done], c->dst, &c->new_uids[c->done], &err) < 0) {
			const char *what = c->move ? "moved" : "copied";

			copy_undo(c->dst, c->new_uids, c->done);
			copy_ctx_free(&c);
			cmd->ctx = NULL;
			if (err.cls == STORE_ERR_NOTFOUND || err.cls == STORE_ERR_EXPUNGED)
				return imap_cmd_no(cmd, "EXPUNGEISSUED",
						   "Some of the messages no longer exist; nothing %s", what);
			return imap_cmd_store_error(cmd, &err);
		}
	}
	if (c->code == NULL) {
		struct store_status st;
		struct strbuf code;

		store_mailbox_status(c->dst, &st);
		store_mailbox_close(&c->dst);
		strbuf_init(&code, 0);
		if (copyuid_code(&code, st.uidvalidity, c->uids, c->new_uids, c->n) < 0 ||
		    (c->code = strbuf_steal(&code)) == NULL) {
			/* the copies exist; only the response code is lost */
			strbuf_free(&code);
			c->code = strdup("");
			if (c->code == NULL) {
				copy_ctx_free(&c);
				cmd->ctx = NULL;
				return imap_cmd_no(cmd, "SERVERBUG", "Out of memory after copying");
			}
		}
		if (!c->move) {
			const char *code_text = *c->code != '\0' ? c->code : NULL;

			r = imap_cmd_ok(cmd, code_text, "COPY completed");
			copy_ctx_free(&c);
			cmd->ctx = NULL;
			return r;
		}
		/* MOVE: the copies are safe; now take the sources away */
		if (*c->code != '\0')
			imap_send_untagged(s, "OK [%s] Moved", c->code);
	}
	/* 2. MOVE: the sources */
	for (; c->expunged < c->n; c->expunged++) {
		if (copy_yield(cmd, c))
			return IMAP_CMD_PENDING;
		memset(&err, 0, sizeof(err));
		if (store_msg_expunge(s->sel->box, c->uids[c->expunged], &err) < 0)
			log_warn("imap %s: MOVE: expunging %u from %s: %s", s->id, c->uids[c->expunged],
				 s->sel->name, err.text);
		else
			s->expunged++;
	}
	copy_ctx_free(&c);
	cmd->ctx = NULL;
	/* the EXPUNGE responses come from the one place that keeps the view
	 * and the sequence numbers right (imap-sync.c), before the tagged OK */
	imap_sync_report(s, true);
	return imap_cmd_ok(cmd, NULL, "MOVE completed");
}

static enum imap_cmd_result copy_or_move(struct imap_cmd *cmd, bool move)
{
	struct imap_session *s = cmd->sess;
	const char *verb = move ? "MOVE" : "COPY";
	const char *error = NULL, *mbox_arg;
	struct store_error err;
	struct copy_ctx *c;
	char *name;
	int rc;

	if (cmd->nargs != 2 || cmd->args[0].type != IMAP_ARG_ATOM ||
	    (mbox_arg = imap_arg_astring(&cmd->args[1])) == NULL)
		return imap_cmd_bad(cmd, NULL, "%s needs a sequence set and a mailbox name", verb);
	if (move && s->sel->readonly)
		return imap_cmd_no(cmd, NULL, "Mailbox is read-only (EXAMINE): nothing can be moved out");
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return imap_cmd_no(cmd, "SERVERBUG", "Out of memory");
	c->move = move;
	rc = imap_seqset_resolve(s, cmd->args[0].data, cmd->uid, &c->uids, &c->n, &error);
	if (rc != 0) {
		copy_ctx_free(&c);
		if (rc == 1)
			return imap_cmd_bad(cmd, NULL, "Invalid messageset (sequence number out of range)");
		return imap_cmd_bad(cmd, NULL, "%s", error != NULL ? error : "Invalid sequence set");
	}
	name = imap_mailbox_from_client(s, mbox_arg, &error);
	if (name == NULL) {
		copy_ctx_free(&c);
		return imap_cmd_no(cmd, "CANNOT", "%s", error != NULL ? error : "Invalid mailbox name");
	}
	memset(&err, 0, sizeof(err));
	/* NOSYNC: an open with sync would take \Recent for this command (the
	 * store gives it to the first read-write opener), and the copies
	 * would lose it before the user's client selects the target; the
	 * copy itself reads and updates the index under its own lock */
	c->dst = store_mailbox_open(s->store, name, STORE_OPEN_NOSYNC, &err);
	free(name);
	if (c->dst == NULL) {
		copy_ctx_free(&c);
		if (err.cls == STORE_ERR_NOTFOUND)
			return imap_cmd_no(cmd, "TRYCREATE", "Mailbox does not exist");
		return imap_cmd_store_error(cmd, &err);
	}
	if (c->n == 0) {
		copy_ctx_free(&c);
		return imap_cmd_ok(cmd, NULL, "No messages %s", move ? "moved" : "copied");
	}
	c->new_uids = calloc(c->n, sizeof(*c->new_uids));
	if (c->new_uids == NULL) {
		copy_ctx_free(&c);
		return imap_cmd_no(cmd, "SERVERBUG", "Out of memory");
	}
	cmd->ctx = c;
	cmd->resume = copy_resume;
	cmd->cancel = copy_cancel;
	return copy_resume(cmd);
}

enum imap_cmd_result imap_cmd_copy(struct imap_cmd *cmd)
{
	return copy_or_move(cmd, false);
}

enum imap_cmd_result imap_cmd_move(struct imap_cmd *cmd)
{
	return copy_or_move(cmd, true);
}
