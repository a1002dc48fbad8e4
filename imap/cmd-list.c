/*
 * cmd-list.c - LIST (RFC 3501 6.3.8, with the RFC 5258 LIST-EXTENDED
 * syntax: selection options, several patterns, return options), LSUB
 * (RFC 3501 6.3.9) and NAMESPACE (RFC 2342).
 *
 * Called through the command table (imap-commands.c) in the
 * authenticated and selected states. The matching and the choice of
 * attributes are imap-list.c's; this file parses the arguments, reads
 * the store's list once and writes the untagged lines.
 *
 * Supported options: selection SUBSCRIBED, REMOTE (no remote mailboxes:
 * ignored as RFC 5258 3 allows), RECURSIVEMATCH (only together with
 * SUBSCRIBED or SPECIAL-USE, else BAD), SPECIAL-USE (RFC 6154 3); return
 * SUBSCRIBED, CHILDREN, SPECIAL-USE. Anything else is a BAD naming the
 * option. \HasChildren/\HasNoChildren and the special-use attributes are
 * always sent, as RFC 5258 4 and RFC 6154 2 allow, because clients that
 * do not ask still use them.
 */
#include <stdlib.h>
#include <string.h>

#include "imap/imap-private.h"
#include "log.h"
#include "store/store.h"

/* Bytes of reference + pattern summed over all patterns of one LIST. */
#define LIST_PATTERNS_MAX 8192

struct box_vec {
	const struct imap_session *sess;
	struct imap_list_box *v;
	size_t n, cap;
	bool oom;
};

static int collect_cb(const struct store_mailbox_info *info, void *ctx)
{
	struct box_vec *bv = ctx;

	if (!imap_mailbox_client_representable(bv->sess, info->name))
		return 0;
	if (bv->n == bv->cap) {
		size_t cap = bv->cap ? bv->cap * 2 : 32;
		struct imap_list_box *n = realloc(bv->v, cap * sizeof(*n));

		if (n == NULL) {
			bv->oom = true;
			return 1;
		}
		bv->v = n;
		bv->cap = cap;
	}
	bv->v[bv->n] = (struct imap_list_box){
		.name = strdup(info->name), .special_use = info->special_use,
		.subscribed = info->subscribed, .exists = info->exists,
	};
	if (bv->v[bv->n].name == NULL) {
		bv->oom = true;
		return 1;
	}
	bv->n++;
	return 0;
}

static void box_vec_free(struct box_vec *bv)
{
	for (size_t i = 0; i < bv->n; i++)
		free(bv->v[i].name);
	free(bv->v);
}

/* The untagged answer for patterns (client form) under reference. Sends
 * the tagged reply too. */
static enum imap_cmd_result list_run(struct imap_cmd *cmd, const char *verb, const char *ref,
				     const char *const *patterns, size_t npat,
				     const struct imap_list_opts *o)
{
	struct imap_session *s = cmd->sess;
	struct imap_list_pattern **pats = calloc(npat ? npat : 1, sizeof(*pats));
	struct box_vec bv = { .sess = s };
	struct imap_list_entry *ents = NULL;
	struct store_error err;
	const char *error = NULL;
	size_t nents = 0, np = 0;
	enum imap_cmd_result res;
	struct strbuf line;

	strbuf_init(&line, 0);
	if (pats == NULL) {
		res = imap_cmd_no(cmd, "SERVERBUG", "Out of memory");
		goto out;
	}
	for (size_t i = 0; i < npat; i++) {
		struct strbuf full;
		char *store_form = NULL;

		/* reference and pattern are joined in the client's form, so
		 * "inbox/" + "%" and a separator split across both work */
		strbuf_init(&full, IMAP_LINE_MAX);
		if (strbuf_puts(&full, ref) < 0 || strbuf_puts(&full, patterns[i]) < 0)
			error = "LIST pattern too long";
		else
			store_form = imap_mailbox_pattern_from_client(s, full.data, &error);
		strbuf_free(&full);
		if (store_form == NULL) {
			res = imap_cmd_bad(cmd, NULL, "%s", error);
			goto out;
		}
		pats[np] = imap_list_pattern_new("", store_form, &error);
		free(store_form);
		if (pats[np] == NULL) {
			res = imap_cmd_bad(cmd, NULL, "%s", error);
			goto out;
		}
		np++;
	}
	if (store_mailbox_list(s->store, collect_cb, &bv, &err) < 0) {
		res = imap_cmd_store_error(cmd, &err);
		goto out;
	}
	if (bv.oom || imap_list_select(bv.v, bv.n, pats, np, o, &ents, &nents) < 0) {
		res = imap_cmd_no(cmd, "SERVERBUG", "Out of memory");
		goto out;
	}
	for (size_t i = 0; i < nents; i++) {
		char *client = imap_mailbox_to_client(s, ents[i].name);

		strbuf_reset(&line);
		if (client == NULL ||
		    imap_list_format(&line, verb, &ents[i], client, s->hierarchy_sep,
				     !o->lsub) < 0) {
			free(client);
			res = imap_cmd_no(cmd, "SERVERBUG", "Out of memory");
			goto out;
		}
		free(client);
		imap_send_untagged(s, "%s", line.data);
	}
	res = imap_cmd_ok(cmd, NULL, "%s completed.", verb[1] == 'I' ? "List" : "Lsub");
out:
	strbuf_free(&line);
	imap_list_entries_free(ents, nents);
	box_vec_free(&bv);
	for (size_t i = 0; i < np; i++)
		imap_list_pattern_free(&pats[i]);
	free(pats);
	return res;
}

/* LIST "" "": the hierarchy delimiter and root (RFC 3501 6.3.8). */
static enum imap_cmd_result list_delimiter(struct imap_cmd *cmd, const char *verb)
{
	imap_send_untagged(cmd->sess, "%s (\\Noselect) \"%c\" \"\"", verb, cmd->sess->hierarchy_sep);
	return imap_cmd_ok(cmd, NULL, "%s completed.", verb[1] == 'I' ? "List" : "Lsub");
}

static int parse_selection(const struct imap_arg *a, struct imap_list_opts *o, bool *remote_r,
			   const char **bad_r)
{
	for (size_t i = 0; i < a->list_count; i++) {
		const struct imap_arg *opt = &a->list[i];

		if (imap_arg_is_atom(opt, "SUBSCRIBED"))
			o->sel_subscribed = true;
		else if (imap_arg_is_atom(opt, "SPECIAL-USE"))
			o->sel_special_use = true;
		else if (imap_arg_is_atom(opt, "RECURSIVEMATCH"))
			o->recursive = true;
		else if (imap_arg_is_atom(opt, "REMOTE"))
			*remote_r = true;
		else {
			*bad_r = opt->type == IMAP_ARG_ATOM ? opt->data : "(not an atom)";
			return -1;
		}
	}
	return 0;
}

static int parse_return(const struct imap_arg *a, struct imap_list_opts *o, const char **bad_r)
{
	for (size_t i = 0; i < a->list_count; i++) {
		const struct imap_arg *opt = &a->list[i];

		if (imap_arg_is_atom(opt, "SUBSCRIBED"))
			o->ret_subscribed = true;
		else if (imap_arg_is_atom(opt, "CHILDREN"))
			o->ret_children = true;
		else if (imap_arg_is_atom(opt, "SPECIAL-USE"))
			o->ret_special_use = true;
		else {
			*bad_r = opt->type == IMAP_ARG_ATOM ? opt->data : "(not an atom)";
			return -1;
		}
	}
	return 0;
}

enum imap_cmd_result imap_cmd_list(struct imap_cmd *cmd)
{
	const struct imap_arg *a = cmd->args;
	size_t n = cmd->nargs, i = 0, npat = 0;
	struct imap_list_opts o = { 0 };
	const char *ref, *bad = NULL;
	const char *patterns[64];
	bool remote = false;

	if (i < n && a[i].type == IMAP_ARG_LIST) {
		if (parse_selection(&a[i], &o, &remote, &bad) < 0)
			return imap_cmd_bad(cmd, NULL, "Unknown LIST selection option %.64s", bad);
		if (o.recursive && !o.sel_subscribed && !o.sel_special_use)
			return imap_cmd_bad(cmd, NULL,
					    "RECURSIVEMATCH needs another selection option "
					    "(RFC 5258 3)");
		i++;
	}
	if (i + 2 > n || (ref = imap_arg_astring(&a[i])) == NULL)
		return imap_cmd_bad(cmd, NULL, "Usage: LIST reference mailbox-pattern");
	i++;
	if (a[i].type == IMAP_ARG_LIST) {
		if (a[i].list_count == 0 ||
		    a[i].list_count > sizeof(patterns) / sizeof(patterns[0]))
			return imap_cmd_bad(cmd, NULL, "LIST takes 1 to 64 patterns in parentheses");
		for (size_t j = 0; j < a[i].list_count; j++) {
			if ((patterns[npat++] = imap_arg_astring(&a[i].list[j])) == NULL)
				return imap_cmd_bad(cmd, NULL, "LIST patterns must be strings");
		}
	} else if ((patterns[npat++] = imap_arg_astring(&a[i])) == NULL) {
		return imap_cmd_bad(cmd, NULL, "Usage: LIST reference mailbox-pattern");
	}
	i++;
	if (i < n) {
		if (!imap_arg_is_atom(&a[i], "RETURN") || i + 2 != n || a[i + 1].type != IMAP_ARG_LIST)
			return imap_cmd_bad(cmd, NULL,
					    "Unexpected arguments after the LIST pattern; "
					    "only RETURN (options) may follow");
		if (parse_return(&a[i + 1], &o, &bad) < 0)
			return imap_cmd_bad(cmd, NULL, "Unknown LIST return option %.64s", bad);
	}
	/* Matching costs names x bytes x pattern length / 64: cap the sum so
	 * one LIST cannot hold the worker (and its other sessions) for long. */
	{
		size_t total = 0;

		for (size_t j = 0; j < npat; j++)
			total += strlen(ref) + strlen(patterns[j]);
		if (total > LIST_PATTERNS_MAX)
			return imap_cmd_bad(cmd, NULL, "LIST patterns too long (at most %u bytes in all)",
					    (unsigned)LIST_PATTERNS_MAX);
	}
	/* LIST "" "": only the delimiter, whatever else was asked. */
	if (npat == 1 && patterns[0][0] == '\0')
		return list_delimiter(cmd, "LIST");
	{
		const char *nonempty[64];
		size_t k = 0;

		for (size_t j = 0; j < npat; j++)
			if (patterns[j][0] != '\0')
				nonempty[k++] = patterns[j];
		return list_run(cmd, "LIST", ref, nonempty, k, &o);
	}
}

enum imap_cmd_result imap_cmd_lsub(struct imap_cmd *cmd)
{
	struct imap_list_opts o = { .lsub = true };
	const char *ref, *pattern;

	if (cmd->nargs != 2 || (ref = imap_arg_astring(&cmd->args[0])) == NULL ||
	    (pattern = imap_arg_astring(&cmd->args[1])) == NULL)
		return imap_cmd_bad(cmd, NULL, "Usage: LSUB reference mailbox-pattern");
	if (pattern[0] == '\0')
		return list_delimiter(cmd, "LSUB");
	return list_run(cmd, "LSUB", ref, &pattern, 1, &o);
}

enum imap_cmd_result imap_cmd_namespace(struct imap_cmd *cmd)
{
	if (cmd->nargs != 0)
		return imap_cmd_bad(cmd, NULL, "NAMESPACE takes no arguments");
	/* One personal namespace with no prefix; no other users', no shared. */
	imap_send_untagged(cmd->sess, "NAMESPACE ((\"\" \"%c\")) NIL NIL", cmd->sess->hierarchy_sep);
	return imap_cmd_ok(cmd, NULL, "Namespace completed.");
}
