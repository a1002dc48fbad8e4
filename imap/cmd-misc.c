/*
 * cmd-misc.c - the commands that need no mailbox: CAPABILITY (RFC 3501
 * 6.1.1), NOOP (6.1.2: also the classic way to poll for updates, which
 * imap_cmd_ok sends), LOGOUT (6.1.3: BYE, then OK, then close), ID (RFC
 * 2971: we answer with our name; the client's fields are logged) and
 * ENABLE (RFC 5161).
 *
 * ENABLE is a table: an extension joins it with its IMAP_ENABLED_* bit
 * once it is implemented (CONDSTORE, QRESYNC, UTF8=ACCEPT). Until then
 * "* ENABLED" lists nothing, which RFC 5161 3.1 allows.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "imap/imap-private.h"

enum imap_cmd_result imap_cmd_capability(struct imap_cmd *cmd)
{
	struct strbuf caps;

	if (cmd->nargs != 0)
		return imap_cmd_bad(cmd, NULL, "CAPABILITY takes no arguments");
	strbuf_init(&caps, 1024);
	imap_capability_string(cmd->sess, &caps);
	imap_send_untagged(cmd->sess, "CAPABILITY %s", caps.data ? caps.data : "IMAP4rev1");
	strbuf_free(&caps);
	return imap_cmd_ok(cmd, NULL, "Capability completed.");
}

enum imap_cmd_result imap_cmd_noop(struct imap_cmd *cmd)
{
	if (cmd->nargs != 0)
		return imap_cmd_bad(cmd, NULL, "NOOP takes no arguments");
	return imap_cmd_ok(cmd, NULL, "NOOP completed.");
}

enum imap_cmd_result imap_cmd_logout(struct imap_cmd *cmd)
{
	struct imap_session *s = cmd->sess;

	if (cmd->nargs != 0)
		return imap_cmd_bad(cmd, NULL, "LOGOUT takes no arguments");
	imap_send_untagged(s, "BYE Logging out");
	imap_session_logout(s);
	if (s->sel)
		imap_select_close(s);
	imap_session_set_state(s, IMAP_STATE_LOGOUT);
	return imap_cmd_ok(cmd, NULL, "Logout completed.");
}

/* ---- ID ---- */

static void id_log(struct imap_session *s, const struct imap_arg *list)
{
	char line[512], esc[200];
	size_t off = 0;

	line[0] = '\0';
	for (size_t i = 0; i + 1 < list->list_count && off < sizeof(line) - 1; i += 2) {
		const char *k = imap_arg_astring(&list->list[i]);
		const char *v = imap_arg_astring(&list->list[i + 1]);
		if (k == NULL)
			continue;
		str_escape(v ? v : "NIL", strlen(v ? v : "NIL"), esc, sizeof(esc));
		int n = snprintf(line + off, sizeof(line) - off, "%s%.40s=%s", off ? ", " : "", k, esc);
		if (n < 0)
			break;
		off += (size_t)n;
	}
	char k[600];
	str_escape(line, strlen(line), k, sizeof(k));
	if (s->user)
		log_info("imap(%s): session=<%s>: ID sent: %s", s->user, s->id, k);
	else
		log_info("imap-login: ID sent: %s, rip=%s, session=<%s>", k, imap_session_rip(s), s->id);
}

enum imap_cmd_result imap_cmd_id(struct imap_cmd *cmd)
{
	const struct imap_arg *a = cmd->nargs == 1 ? &cmd->args[0] : NULL;

	if (a == NULL || (!imap_arg_is_nil(a) && a->type != IMAP_ARG_LIST))
		return imap_cmd_bad(cmd, NULL, "Usage: ID NIL or ID (\"name\" \"value\" ...)");
	if (a->type == IMAP_ARG_LIST) {
		/* RFC 2971 3.3: at most 30 pairs, field names at most 30 bytes,
		 * values at most 1024 */
		if (a->list_count % 2 != 0 || a->list_count > 60)
			return imap_cmd_bad(cmd, NULL, "ID list must hold at most 30 field/value pairs");
		for (size_t i = 0; i < a->list_count; i++) {
			const struct imap_arg *f = &a->list[i];
			if (i % 2 == 0 && (f->type != IMAP_ARG_STRING && f->type != IMAP_ARG_LITERAL))
				return imap_cmd_bad(cmd, NULL, "ID field names must be strings");
			if (i % 2 == 0 && f->len > 30)
				return imap_cmd_bad(cmd, NULL, "ID field names are at most 30 bytes");
			if (i % 2 == 1 && !imap_arg_is_nil(f) && f->type != IMAP_ARG_STRING &&
			    f->type != IMAP_ARG_LITERAL)
				return imap_cmd_bad(cmd, NULL, "ID values must be strings or NIL");
			if (i % 2 == 1 && f->len > 1024)
				return imap_cmd_bad(cmd, NULL, "ID values are at most 1024 bytes");
		}
		id_log(cmd->sess, a);
	}
	imap_send_untagged(cmd->sess, "ID (\"name\" \"Postern\")");
	return imap_cmd_ok(cmd, NULL, "ID completed.");
}

/* ---- ENABLE ---- */

struct enable_def {
	const char *name;
	unsigned bit;
	bool implemented;
};

/* Extensions ENABLE knows. An entry turns on (implemented = true) with
 * the code that honours it; until then it is accepted and ignored. */
static const struct enable_def enable_defs[] = {
	{ "CONDSTORE", IMAP_ENABLED_CONDSTORE, false },
	{ "QRESYNC", IMAP_ENABLED_QRESYNC, false },
	{ "UTF8=ACCEPT", IMAP_ENABLED_UTF8, false },
	{ NULL, 0, false },
};

enum imap_cmd_result imap_cmd_enable(struct imap_cmd *cmd)
{
	struct imap_session *s = cmd->sess;
	struct strbuf out;

	if (cmd->nargs == 0)
		return imap_cmd_bad(cmd, NULL, "Usage: ENABLE capability ...");
	for (size_t i = 0; i < cmd->nargs; i++)
		if (cmd->args[i].type != IMAP_ARG_ATOM)
			return imap_cmd_bad(cmd, NULL, "ENABLE takes capability names (atoms)");
	strbuf_init(&out, 512);
	strbuf_puts(&out, "ENABLED");
	for (size_t i = 0; i < cmd->nargs; i++) {
		for (const struct enable_def *d = enable_defs; d->name; d++) {
			if (!d->implemented || strcasecmp(d->name, cmd->args[i].data) != 0)
				continue;
			/* RFC 5161 3.1: list only what this command newly enabled */
			if (!(s->enabled & d->bit)) {
				s->enabled |= d->bit;
				strbuf_putc(&out, ' ');
				strbuf_puts(&out, d->name);
			}
		}
	}
	imap_send_untagged(s, "%s", out.data ? out.data : "ENABLED");
	strbuf_free(&out);
	return imap_cmd_ok(cmd, NULL, "ENABLE completed.");
}
