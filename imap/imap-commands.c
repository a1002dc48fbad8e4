/*
 * imap-commands.c - the command table: each IMAP command's name, handler,
 * the states it is allowed in and its flags (imap-private.h). The session
 * (imap-session.c) refuses a command outside its states with one BAD form
 * before the handler runs; the parser asks the flags as soon as it has the
 * name (APPEND literals spool to a file). Ordering rules live in the flags:
 * IMAP_CMD_FLAG_USES_SEQS keeps EXPUNGE responses back while a
 * sequence-number command is answered (RFC 3501 7.4.1).
 *
 * Called by imap-session.c (dispatch) and imap-parser.c (via the session).
 * RFC 3501 6 (commands and their states), 2177 (IDLE), 2971 (ID), 3691
 * (UNSELECT), 4315 (UID EXPUNGE), 5161 (ENABLE), 6851 (MOVE).
 */
#include <strings.h>

#include "imap/imap-private.h"

#define ANY IMAP_STATES_ANY
#define NOAUTH IMAP_STATE_NOT_AUTH
#define AUTHED IMAP_STATES_AUTHED
#define SEL IMAP_STATE_SELECTED

static const struct imap_command_def commands[] = {
	/* any state (RFC 3501 6.1) */
	{ "CAPABILITY", imap_cmd_capability, ANY, 0, false },
	{ "NOOP", imap_cmd_noop, ANY, 0, false },
	{ "LOGOUT", imap_cmd_logout, ANY, 0, false },
	{ "ID", imap_cmd_id, ANY, 0, false },
	/* not authenticated (RFC 3501 6.2) */
	{ "STARTTLS", imap_cmd_starttls, NOAUTH, 0, false },
	{ "AUTHENTICATE", imap_cmd_authenticate, NOAUTH, 0, false },
	{ "LOGIN", imap_cmd_login, NOAUTH, 0, false },
	/* authenticated (RFC 3501 6.3) */
	{ "SELECT", imap_cmd_select, AUTHED, 0, false },
	{ "EXAMINE", imap_cmd_examine, AUTHED, 0, false },
	{ "ENABLE", imap_cmd_enable, AUTHED, 0, false },
	{ "IDLE", imap_cmd_idle, AUTHED, 0, false },
	/* selected (RFC 3501 6.4); UID EXPUNGE: RFC 4315 */
	{ "CHECK", imap_cmd_check, SEL, 0, false },
	{ "CLOSE", imap_cmd_close, SEL, 0, false },
	{ "UNSELECT", imap_cmd_unselect, SEL, 0, false },
	{ "EXPUNGE", imap_cmd_expunge, SEL, 0, true },
	/* mailboxes (RFC 3501 6.3.1-6.3.11, RFC 2342 NAMESPACE); APPEND's
	 * message literal spools to a file */
	{ "LIST", imap_cmd_list, AUTHED, 0, false },
	{ "LSUB", imap_cmd_lsub, AUTHED, 0, false },
	{ "NAMESPACE", imap_cmd_namespace, AUTHED, 0, false },
	{ "CREATE", imap_cmd_create, AUTHED, 0, false },
	{ "DELETE", imap_cmd_delete, AUTHED, 0, false },
	{ "RENAME", imap_cmd_rename, AUTHED, 0, false },
	{ "SUBSCRIBE", imap_cmd_subscribe, AUTHED, 0, false },
	{ "UNSUBSCRIBE", imap_cmd_unsubscribe, AUTHED, 0, false },
	{ "STATUS", imap_cmd_status, AUTHED, 0, false },
	{ "APPEND", imap_cmd_append, AUTHED, IMAP_CMD_FLAG_APPEND, false },
	/* messages (RFC 3501 6.4.5-6.4.8, RFC 6851 MOVE) */
	{ "FETCH", imap_cmd_fetch, SEL, IMAP_CMD_FLAG_USES_SEQS, true },
	{ "STORE", imap_cmd_store, SEL, IMAP_CMD_FLAG_USES_SEQS, true },
	{ "COPY", imap_cmd_copy, SEL, 0, true },
	{ "MOVE", imap_cmd_move, SEL, 0, true },
	/* search (RFC 3501 6.4.4) */
	{ "SEARCH", imap_cmd_search, SEL, IMAP_CMD_FLAG_USES_SEQS, true },
	{ NULL, NULL, 0, 0, false },
};

const struct imap_command_def *imap_command_lookup(const char *name)
{
	for (const struct imap_command_def *d = commands; d->name; d++)
		if (strcasecmp(d->name, name) == 0)
			return d;
	return NULL;
}
