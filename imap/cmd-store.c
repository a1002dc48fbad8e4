/*
 * cmd-store.c - STORE and UID STORE (RFC 3501 6.4.6, 6.4.8): FLAGS,
 * +FLAGS, -FLAGS, each with .SILENT, keyword atoms. Called from the
 * command table (imap-commands.c).
 *
 * Replies: without .SILENT an untagged FETCH with the new FLAGS (and UID
 * for UID STORE, 6.4.8) per message, then the tagged OK. A read-only
 * mailbox (EXAMINE) gets NO; \Recent in the list gets BAD (2.3.2: only
 * the server sets it). Messages another session expunged meanwhile are
 * left out and the reply is NO [EXPUNGEISSUED] after the others were
 * changed (RFC 2180 4.2.1, RFC 5530); for UID STORE such a UID no longer
 * exists and is ignored (RFC 3501 6.4.8): OK, after the EXPUNGE.
 *
 * Up to STORE_BATCH messages share one index write transaction
 * (store_msgs_set_flags: one commit, not one per message); a STORE over
 * many messages still runs in time slices (imap-timeslice.c) and yields
 * the worker between batches.
 *
 * CONDSTORE (RFC 7162 3.1.3) later: its UNCHANGEDSINCE modifier arrives
 * as a list after the sequence set; store_one() already passes
 * unchanged_since to the store (0 = no check), so adding it means parsing
 * the modifier and collecting the refused UIDs for [MODIFIED].
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap/imap-private.h"
#include "imap/imap-timeslice.h"
#include "log.h"

struct flags_reply {
	struct strbuf *line;
	const struct imap_session *s;
	uint32_t seq;
	bool with_uid;
	bool oom;
};

static int flags_reply_cb(const struct store_msg *msg, void *ctx)
{
	struct flags_reply *fr = ctx;

	if (strbuf_printf(fr->line, "%u FETCH (", fr->seq) < 0 ||
	    (fr->with_uid && strbuf_printf(fr->line, "UID %u ", msg->uid) < 0) ||
	    strbuf_puts(fr->line, "FLAGS (") < 0 ||
	    imap_flags_format(fr->line, msg->flags, msg->keywords, imap_has_recent(fr->s, msg->uid)) < 0 ||
	    strbuf_puts(fr->line, "))") < 0)
		fr->oom = true;
	return 0;
}

/*
 * One message: the store call and, unless silent, the untagged FETCH.
 * 1 done, 0 vanished meanwhile, -1 with err.
 */
static int store_one(struct imap_cmd *cmd, uint32_t uid, enum store_flag_mode mode, unsigned flags,
		     const char *keywords, uint64_t unchanged_since, bool silent, bool *announce,
		     struct store_error *err)
{
	struct imap_session *s = cmd->sess;
	uint64_t modseq = 0;
	int rc;

	rc = store_msg_set_flags(s->sel->box, uid, mode, flags, keywords, unchanged_since, &modseq, err);
	if (rc < 0)
		return err->cls == STORE_ERR_EXPUNGED || err->cls == STORE_ERR_NOTFOUND ? 0 : -1;
	if (rc > 0)
		imap_sync_own_change(s, uid, modseq);
	if (rc > 0 && *announce) {
		/* A keyword new to the client: FLAGS / PERMANENTFLAGS must name
		 * it before our FETCH shows it (RFC 3501 7.2.6). The sync keeps
		 * that list and announces new keywords even in our own changes,
		 * so a report now sends them (once) and skips this message; no
		 * EXPUNGE in the middle of STORE (7.4.1). */
		*announce = false;
		imap_sync_report(s, false);
	}
	if (silent)
		return 1;

	struct strbuf line;
	struct flags_reply fr = { &line, s, imap_uid_to_seq(s, uid), cmd->uid, false };

	strbuf_init(&line, 0);
	rc = store_msg_get(s->sel->box, uid, flags_reply_cb, &fr, err);
	if (rc == 1 && !fr.oom)
		imap_send_untagged(s, "%s", line.data);
	strbuf_free(&line);
	if (rc == 1 && fr.oom) {
		err->cls = STORE_ERR_TEMP;
		str_copy(err->text, "Out of memory", sizeof(err->text));
		return -1;
	}
	if (rc < 0)
		return err->cls == STORE_ERR_EXPUNGED || err->cls == STORE_ERR_NOTFOUND ? 0 : -1;
	return rc;
}

/* "FLAGS", "+FLAGS.SILENT", ...: 0 or -1 */
static int parse_item(const char *item, enum store_flag_mode *mode_r, bool *silent_r)
{
	*mode_r = STORE_FLAGS_REPLACE;
	if (*item == '+') {
		*mode_r = STORE_FLAGS_ADD;
		item++;
	} else if (*item == '-') {
		*mode_r = STORE_FLAGS_REMOVE;
		item++;
	}
	*silent_r = false;
	if (strcasecmp(item, "FLAGS") == 0)
		return 0;
	if (strcasecmp(item, "FLAGS.SILENT") == 0) {
		*silent_r = true;
		return 0;
	}
	return -1;
}

struct store_ctx {
	uint32_t *uids;
	size_t n, i;
	enum store_flag_mode mode;
	unsigned flags;
	char *keywords;
	const char *kw_arg;       /* keywords, or NULL: leave them alone */
	uint64_t unchanged_since; /* CONDSTORE UNCHANGEDSINCE: not offered yet */
	bool silent, expunged;
	bool announce;            /* a keyword the client was not told about yet */
	struct imap_timeslice slice;
};

/* whether one of the space-separated keywords is not in the FLAGS list
 * the client has (imap_select_keywords: " kw1 kw2") */
static bool keywords_new(const struct imap_session *s, const char *keywords)
{
	const char *known = imap_select_keywords(s);

	for (const char *p = keywords; *p != '\0';) {
		size_t n = strcspn(p, " ");
		bool found = false;

		for (const char *k = known; *k != '\0';) {
			size_t kn;

			while (*k == ' ')
				k++;
			kn = strcspn(k, " ");
			if (kn == n && kn > 0 && strncasecmp(k, p, n) == 0) {
				found = true;
				break;
			}
			k += kn;
		}
		if (!found)
			return true;
		p += n;
		while (*p == ' ')
			p++;
	}
	return false;
}

static void store_ctx_free(struct store_ctx **cp)
{
	struct store_ctx *c = *cp;

	if (c == NULL)
		return;
	imap_timeslice_free(&c->slice);
	free(c->uids);
	free(c->keywords);
	free(c);
	*cp = NULL;
}

static void store_cancel(struct imap_cmd *cmd)
{
	struct store_ctx *c = cmd->ctx;

	store_ctx_free(&c);
	cmd->ctx = NULL;
}

/* Messages per index transaction: one commit for the lot (the renames
 * of 256 Maildir files take a few ms, well inside a time slice). */
#define STORE_BATCH 256

struct batch_reply {
	struct imap_cmd *cmd;
	struct strbuf out;        /* the untagged FETCH lines, sent after the commit */
	bool oom;
};

static int batch_reply_cb(const struct store_msg *msg, void *ctx)
{
	struct batch_reply *br = ctx;
	struct imap_session *s = br->cmd->sess;
	struct flags_reply fr = { &br->out, s, imap_uid_to_seq(s, msg->uid), br->cmd->uid, false };

	if (fr.seq == 0)
		return 0;
	flags_reply_cb(msg, &fr);
	if (fr.oom || strbuf_puts(&br->out, "\n") < 0)
		br->oom = true;
	return 0;
}

/*
 * A run of messages in one store transaction (store_msgs_set_flags); the
 * FETCH replies go out after the commit. 0, or -1 with err.
 */
static int store_batch(struct imap_cmd *cmd, struct store_ctx *c, size_t n, struct store_error *err)
{
	struct imap_session *s = cmd->sess;
	struct batch_reply br = { .cmd = cmd };
	int results[STORE_BATCH];
	uint64_t modseqs[STORE_BATCH];
	int rc;

	strbuf_init(&br.out, 0);
	rc = store_msgs_set_flags(s->sel->box, c->uids + c->i, n, c->mode, c->flags, c->kw_arg,
				  c->unchanged_since, results, modseqs,
				  c->silent ? NULL : batch_reply_cb, &br, err);
	if (rc < 0) {
		strbuf_free(&br.out);
		return -1;
	}
	for (size_t k = 0; k < n; k++) {
		if (results[k] < 0)
			c->expunged = true;
		else if (results[k] > 0)
			imap_sync_own_change(s, c->uids[c->i + k], modseqs[k]);
	}
	for (char *line = br.out.data; line != NULL && *line != '\0';) {
		char *nl = strchr(line, '\n');

		*nl = '\0';
		imap_send_untagged(s, "%s", line);
		line = nl + 1;
	}
	strbuf_free(&br.out);
	if (br.oom) {
		err->cls = STORE_ERR_TEMP;
		str_copy(err->text, "Out of memory", sizeof(err->text));
		return -1;
	}
	c->i += n;
	return 0;
}

/* STORE_BATCH messages per index commit; yield between slices */
static enum imap_cmd_result store_resume(struct imap_cmd *cmd)
{
	struct store_ctx *c = cmd->ctx;
	struct store_error err;
	bool expunged;
	int rc;

	imap_timeslice_begin(&c->slice);
	while (c->i < c->n) {
		if (imap_output_pending(cmd->sess) > IMAP_OUTPUT_HIGH)
			return IMAP_CMD_PENDING; /* resumed when the output drained */
		if (imap_timeslice_over(&c->slice) && imap_timeslice_yield(&c->slice, cmd) == 0)
			return IMAP_CMD_PENDING;
		memset(&err, 0, sizeof(err));
		if (c->announce) {
			/* a new keyword: the first message alone, so the sync
			 * announces it (store_one) before any FETCH uses it */
			rc = store_one(cmd, c->uids[c->i], c->mode, c->flags, c->kw_arg,
				       c->unchanged_since, c->silent, &c->announce, &err);
			if (rc == 0)
				c->expunged = true;
			if (rc >= 0)
				c->i++;
		} else {
			size_t n = c->n - c->i < STORE_BATCH ? c->n - c->i : STORE_BATCH;

			rc = store_batch(cmd, c, n, &err);
		}
		if (rc < 0) {
			store_ctx_free(&c);
			cmd->ctx = NULL;
			return imap_cmd_store_error(cmd, &err);
		}
	}
	expunged = c->expunged;
	store_ctx_free(&c);
	cmd->ctx = NULL;
	if (expunged && !cmd->uid)
		return imap_cmd_no(cmd, "EXPUNGEISSUED", "Some of the messages no longer exist");
	return imap_cmd_ok(cmd, NULL, "%sSTORE completed", cmd->uid ? "UID " : "");
}

enum imap_cmd_result imap_cmd_store(struct imap_cmd *cmd)
{
	struct imap_session *s = cmd->sess;
	const struct imap_arg *args = cmd->args;
	struct imap_arg rest;
	struct store_ctx *c;
	const char *error = NULL;
	int rc;

	if (cmd->nargs < 3 || args[0].type != IMAP_ARG_ATOM)
		return imap_cmd_bad(cmd, NULL, "STORE needs a sequence set, an item and flags");
	if (args[1].type == IMAP_ARG_LIST)
		return imap_cmd_bad(cmd, NULL, "STORE modifiers are not supported");
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return imap_cmd_no(cmd, "SERVERBUG", "Out of memory");
	if (args[1].type != IMAP_ARG_ATOM || parse_item(args[1].data, &c->mode, &c->silent) < 0) {
		store_ctx_free(&c);
		return imap_cmd_bad(cmd, NULL, "Unknown STORE item (FLAGS, +FLAGS, -FLAGS[.SILENT])");
	}
	/* the flags: one list, or flag atoms without parentheses (RFC 3501 9
	 * "store-att-flags") */
	if (cmd->nargs == 3) {
		rest = args[2];
	} else {
		memset(&rest, 0, sizeof(rest));
		rest.type = IMAP_ARG_LIST;
		rest.list = &args[2];
		rest.list_count = cmd->nargs - 2;
	}
	if (imap_flags_parse(&rest, &c->flags, &c->keywords, &error) < 0) {
		store_ctx_free(&c);
		return imap_cmd_bad(cmd, NULL, "%s", error);
	}
	if (s->sel->readonly) {
		store_ctx_free(&c);
		return imap_cmd_no(cmd, NULL, "Mailbox is read-only (EXAMINE): flags cannot be changed");
	}
	rc = imap_seqset_resolve(s, args[0].data, cmd->uid, &c->uids, &c->n, &error);
	if (rc != 0) {
		store_ctx_free(&c);
		if (rc == 1)
			return imap_cmd_bad(cmd, NULL, "Invalid messageset (sequence number out of range)");
		return imap_cmd_bad(cmd, NULL, "%s", error != NULL ? error : "Invalid sequence set");
	}
	/* keywords: replace always sets the list (possibly empty); add and
	 * remove leave it alone when none were named */
	c->kw_arg = c->mode == STORE_FLAGS_REPLACE || *c->keywords != '\0' ? c->keywords : NULL;
	c->announce = c->mode != STORE_FLAGS_REMOVE && keywords_new(s, c->keywords);
	cmd->ctx = c;
	cmd->resume = store_resume;
	cmd->cancel = store_cancel;
	return store_resume(cmd);
}
