/*
 * cmd-select.c - SELECT and EXAMINE (RFC 3501 6.3.1/6.3.2), CLOSE (6.4.2:
 * silent expunge when read-write), UNSELECT (RFC 3691), CHECK (6.4.1) and
 * EXPUNGE / UID EXPUNGE (6.4.3, RFC 4315 2.1).
 *
 * SELECT answers in this order: FLAGS, OK [PERMANENTFLAGS] (with \* when
 * read-write; "()" for read-only), EXISTS, RECENT, OK [UNSEEN n] (first
 * unseen sequence number, only when there is one), OK [UIDVALIDITY],
 * OK [UIDNEXT], OK [HIGHESTMODSEQ], then the tagged OK [READ-WRITE] or
 * [READ-ONLY]. A SELECT that fails leaves the session unselected
 * (RFC 3501 6.3.1: the old mailbox is closed first, without expunge).
 */
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "imap/imap-private.h"

static enum imap_cmd_result do_select(struct imap_cmd *cmd, bool readonly)
{
	struct imap_session *s = cmd->sess;
	const char *arg, *err_text;
	char *name;
	struct store_error err;
	struct imap_selected *sel;

	if (cmd->nargs < 1 || cmd->nargs > 2 || (arg = imap_arg_astring(&cmd->args[0])) == NULL)
		return imap_cmd_bad(cmd, NULL, "Usage: %s mailbox", cmd->name);
	if (cmd->nargs == 2 && cmd->args[1].type != IMAP_ARG_LIST)
		return imap_cmd_bad(cmd, NULL, "Usage: %s mailbox [(parameters)]", cmd->name);
	/* RFC 3501 6.3.1: the old mailbox goes first, even if this fails */
	if (s->sel) {
		/* the store's mailbox stays parked for a re-SELECT of it */
		imap_select_close_keep(s);
		imap_session_set_state(s, IMAP_STATE_AUTH);
	}
	name = imap_mailbox_from_client(s, arg, &err_text);
	if (name == NULL) {
		imap_select_close(s);
		return imap_cmd_no(cmd, "CANNOT", "%s", err_text ? err_text : "Invalid mailbox name");
	}
	if (imap_select_open(s, name, readonly, &err) < 0) {
		imap_select_close(s); /* a parked mailbox too */
		free(name);
		return imap_cmd_store_error(cmd, &err);
	}
	free(name);
	sel = s->sel;
	imap_session_set_state(s, IMAP_STATE_SELECTED);
	/* keywords and the first unseen message came with the view */
	imap_sync_send_flags(s);
	imap_send_untagged(s, "%u EXISTS", sel->count);
	imap_send_untagged(s, "%u RECENT", sel->recent);
	uint32_t unseen = imap_select_first_unseen(s);
	if (unseen)
		imap_send_untagged(s, "OK [UNSEEN %u] First unseen.", unseen);
	imap_send_untagged(s, "OK [UIDVALIDITY %u] UIDs valid", sel->uidvalidity);
	imap_send_untagged(s, "OK [UIDNEXT %u] Predicted next UID", sel->uidnext);
	imap_send_untagged(s, "OK [HIGHESTMODSEQ %llu] Highest", (unsigned long long)sel->highestmodseq);
	return imap_cmd_ok(cmd, sel->readonly ? "READ-ONLY" : "READ-WRITE", "%s completed.",
			   readonly ? "Examine" : "Select");
}

enum imap_cmd_result imap_cmd_select(struct imap_cmd *cmd)
{
	return do_select(cmd, false);
}

enum imap_cmd_result imap_cmd_examine(struct imap_cmd *cmd)
{
	return do_select(cmd, true);
}

enum imap_cmd_result imap_cmd_close(struct imap_cmd *cmd)
{
	struct imap_session *s = cmd->sess;
	struct store_error err;

	if (cmd->nargs != 0)
		return imap_cmd_bad(cmd, NULL, "CLOSE takes no arguments");
	if (!s->sel->readonly &&
	    store_mailbox_expunge(s->sel->box, NULL, 0, NULL, NULL, &err) < 0)
		log_warn("imap(%s): CLOSE: expunge of %s failed: %s", s->user, s->sel->name, err.text);
	imap_select_close(s);
	imap_session_set_state(s, IMAP_STATE_AUTH);
	return imap_cmd_ok(cmd, NULL, "Close completed.");
}

enum imap_cmd_result imap_cmd_unselect(struct imap_cmd *cmd)
{
	struct imap_session *s = cmd->sess;

	if (cmd->nargs != 0)
		return imap_cmd_bad(cmd, NULL, "UNSELECT takes no arguments");
	imap_select_close(s);
	imap_session_set_state(s, IMAP_STATE_AUTH);
	return imap_cmd_ok(cmd, NULL, "Unselect completed.");
}

enum imap_cmd_result imap_cmd_check(struct imap_cmd *cmd)
{
	if (cmd->nargs != 0)
		return imap_cmd_bad(cmd, NULL, "CHECK takes no arguments");
	cmd->sess->sel->changed = true;
	return imap_cmd_ok(cmd, NULL, "Check completed.");
}

static void count_expunged(uint32_t uid, void *ctx)
{
	struct imap_session *s = ctx;

	(void)uid;
	s->expunged++;
}

enum imap_cmd_result imap_cmd_expunge(struct imap_cmd *cmd)
{
	struct imap_session *s = cmd->sess;
	struct store_error err;
	uint32_t *uids = NULL;
	size_t n = 0;
	const char *e;
	int r;

	if (cmd->uid) {
		if (cmd->nargs != 1 || cmd->args[0].type != IMAP_ARG_ATOM)
			return imap_cmd_bad(cmd, NULL, "Usage: UID EXPUNGE uid-set");
		r = imap_seqset_resolve(s, cmd->args[0].data, true, &uids, &n, &e);
		if (r != 0)
			return imap_cmd_bad(cmd, NULL, "%s", e);
		if (n == 0) {
			free(uids);
			return imap_cmd_ok(cmd, NULL, "Expunge completed.");
		}
	} else if (cmd->nargs != 0) {
		return imap_cmd_bad(cmd, NULL, "EXPUNGE takes no arguments");
	}
	if (s->sel->readonly) {
		free(uids);
		return imap_cmd_no(cmd, "READ-ONLY", "Mailbox is read-only.");
	}
	r = store_mailbox_expunge(s->sel->box, cmd->uid ? uids : NULL, n, count_expunged, s, &err);
	free(uids);
	if (r < 0)
		return imap_cmd_store_error(cmd, &err);
	s->sel->changed = true;
	return imap_cmd_ok(cmd, NULL, "Expunge completed.");
}
