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
 */
#include <stdlib.h>
#include <string.h>

#include "imap/imap-private.h"
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

static enum imap_cmd_result copy_or_move(struct imap_cmd *cmd, bool move)
{
	struct imap_session *s = cmd->sess;
	const char *verb = move ? "MOVE" : "COPY";
	const char *error = NULL, *mbox_arg;
	struct store_mailbox *dst;
	struct store_status st;
	struct store_error err;
	struct strbuf code;
	uint32_t *uids = NULL, *new_uids;
	size_t n = 0, done = 0;
	char *name;
	int rc;

	if (cmd->nargs != 2 || cmd->args[0].type != IMAP_ARG_ATOM ||
	    (mbox_arg = imap_arg_astring(&cmd->args[1])) == NULL)
		return imap_cmd_bad(cmd, NULL, "%s needs a sequence set and a mailbox name", verb);
	if (move && s->sel->readonly)
		return imap_cmd_no(cmd, NULL, "Mailbox is read-only (EXAMINE): nothing can be moved out");
	rc = imap_seqset_resolve(s, cmd->args[0].data, cmd->uid, &uids, &n, &error);
	if (rc != 0) {
		if (rc == 1)
			return imap_cmd_bad(cmd, NULL, "Invalid messageset (sequence number out of range)");
		return imap_cmd_bad(cmd, NULL, "%s", error != NULL ? error : "Invalid sequence set");
	}
	name = imap_mailbox_from_client(s, mbox_arg, &error);
	if (name == NULL) {
		free(uids);
		return imap_cmd_no(cmd, "CANNOT", "%s", error != NULL ? error : "Invalid mailbox name");
	}
	memset(&err, 0, sizeof(err));
	/* NOSYNC: an open with sync would take \Recent for this command (the
	 * store gives it to the first read-write opener), and the copies
	 * would lose it before the user's client selects the target; the
	 * copy itself reads and updates the index under its own lock */
	dst = store_mailbox_open(s->store, name, STORE_OPEN_NOSYNC, &err);
	free(name);
	if (dst == NULL) {
		free(uids);
		if (err.cls == STORE_ERR_NOTFOUND)
			return imap_cmd_no(cmd, "TRYCREATE", "Mailbox does not exist");
		return imap_cmd_store_error(cmd, &err);
	}
	if (n == 0) {
		store_mailbox_close(&dst);
		free(uids);
		return imap_cmd_ok(cmd, NULL, "No messages %s", move ? "moved" : "copied");
	}
	new_uids = calloc(n, sizeof(*new_uids));
	if (new_uids == NULL) {
		store_mailbox_close(&dst);
		free(uids);
		return imap_cmd_no(cmd, "SERVERBUG", "Out of memory");
	}
	for (done = 0; done < n; done++) {
		memset(&err, 0, sizeof(err));
		if (store_msg_copy(s->sel->box, uids[done], dst, &new_uids[done], &err) < 0)
			break;
	}
	if (done < n) {
		copy_undo(dst, new_uids, done);
		store_mailbox_close(&dst);
		free(uids);
		free(new_uids);
		if (err.cls == STORE_ERR_NOTFOUND || err.cls == STORE_ERR_EXPUNGED)
			return imap_cmd_no(cmd, "EXPUNGEISSUED", "Some of the messages no longer exist; nothing %s",
					   move ? "moved" : "copied");
		return imap_cmd_store_error(cmd, &err);
	}
	store_mailbox_status(dst, &st);
	store_mailbox_close(&dst);

	strbuf_init(&code, 0);
	if (copyuid_code(&code, st.uidvalidity, uids, new_uids, n) < 0) {
		/* the copies exist; only the response code is lost */
		strbuf_free(&code);
	}
	free(new_uids);
	if (!move) {
		enum imap_cmd_result r = imap_cmd_ok(cmd, code.data, "COPY completed");

		strbuf_free(&code);
		free(uids);
		return r;
	}

	/* MOVE: the copies are safe; now take the sources away */
	if (code.data != NULL)
		imap_send_untagged(s, "OK [%s] Moved", code.data);
	strbuf_free(&code);
	for (size_t i = 0; i < n; i++) {
		memset(&err, 0, sizeof(err));
		if (store_msg_expunge(s->sel->box, uids[i], &err) < 0)
			log_warn("imap %s: MOVE: expunging %u from %s: %s", s->id, uids[i], s->sel->name,
				 err.text);
		else
			s->expunged++;
	}
	free(uids);
	/* the EXPUNGE responses come from the one place that keeps the view
	 * and the sequence numbers right (imap-sync.c), before the tagged OK */
	imap_sync_report(s, true);
	return imap_cmd_ok(cmd, NULL, "MOVE completed");
}

enum imap_cmd_result imap_cmd_copy(struct imap_cmd *cmd)
{
	return copy_or_move(cmd, false);
}

enum imap_cmd_result imap_cmd_move(struct imap_cmd *cmd)
{
	return copy_or_move(cmd, true);
}
