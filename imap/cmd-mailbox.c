/*
 * cmd-mailbox.c - CREATE, DELETE, RENAME, SUBSCRIBE and UNSUBSCRIBE
 * (RFC 3501 6.3.3-6.3.7), CREATE-SPECIAL-USE (RFC 6154 3), response
 * codes from RFC 5530.
 *
 * Called through the command table (imap-commands.c) in the
 * authenticated and selected states.
 *
 * Decisions where the RFC leaves a choice:
 * - CREATE "a/b/c" also creates "a" and "a/b" when missing (6.3.3
 *   SHOULD) as mailboxes in Maildir; in mbox they are directories that
 *   list as \Noselect. A trailing separator is dropped ("foo/" creates
 *   "foo").
 * - DELETE of a mailbox with children removes the mailbox and its
 *   messages but never the children (6.3.4 MUST NOT); the name then
 *   lists as \Noselect \HasChildren. DELETE of such a \Noselect name is
 *   refused, as 6.3.4 requires.
 * - RENAME creates the missing parents of the new name (6.3.5 SHOULD);
 *   RENAME INBOX moves its messages into the new mailbox and leaves
 *   INBOX empty (the store does it); a mailbox cannot move below itself.
 * - DELETE or RENAME of the selected mailbox (or one of its parents)
 *   first closes it without expunging, tells the client with
 *   "* OK [CLOSED]" (RFC 7162 3.2.11) and leaves the session
 *   authenticated: the open view could not follow the files.
 * - SUBSCRIBE accepts names that do not exist (6.3.6 allows it; LSUB
 *   shows them \Noselect); UNSUBSCRIBE of a name not subscribed is OK.
 *   RENAME moves the subscriptions of the mailbox and its children to the
 *   new names (not for INBOX, which stays); DELETE keeps them (6.3.4).
 */
#include <stdlib.h>
#include <string.h>

#include "imap/imap-private.h"
#include "log.h"
#include "store/store.h"

/* The mailbox argument a as a store name (new memory), or NULL after
 * sending the BAD/NO (the caller returns IMAP_CMD_DONE). strip_sep drops
 * one trailing separator (CREATE). */
static char *mailbox_arg(struct imap_cmd *cmd, const struct imap_arg *a, bool strip_sep,
			 enum imap_cmd_result *res_r)
{
	const char *text = imap_arg_astring(a), *error = NULL;
	char *copy, *name;
	size_t len;

	if (text == NULL) {
		*res_r = imap_cmd_bad(cmd, NULL, "Mailbox name must be an atom or a string");
		return NULL;
	}
	len = strlen(text);
	copy = strdup(text);
	if (copy == NULL) {
		*res_r = imap_cmd_no(cmd, "SERVERBUG", "Out of memory");
		return NULL;
	}
	if (strip_sep && len > 1 && copy[len - 1] == cmd->sess->hierarchy_sep)
		copy[len - 1] = '\0';
	name = imap_mailbox_from_client(cmd->sess, copy, &error);
	free(copy);
	if (name == NULL)
		*res_r = imap_cmd_no(cmd, "CANNOT", "%s", error);
	return name;
}

/* Create each missing parent level of name; an existing one is fine.
 * mbox keeps parents as plain directories (a level cannot be a mailbox
 * file and hold children), which the store makes by itself: nothing to
 * do there. */
static int create_parents(struct imap_session *s, const char *name, struct store_error *err)
{
	char *copy;

	memset(err, 0, sizeof(*err));
	if (store_user_location(s->store)->format == STORE_FORMAT_MBOX)
		return 0;
	if ((copy = strdup(name)) == NULL) {
		err->cls = STORE_ERR_TEMP;
		str_copy(err->text, "Out of memory", sizeof(err->text));
		return -1;
	}
	for (char *p = copy; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (strcmp(copy, "INBOX") != 0 && store_mailbox_create(s->store, copy, 0, err) < 0 &&
		    err->cls != STORE_ERR_EXISTS) {
			free(copy);
			return -1;
		}
		*p = '/';
	}
	free(copy);
	memset(err, 0, sizeof(*err));
	return 0;
}

struct child_probe {
	const char *name;
	size_t len;
	bool found;
	bool exists;
};

static int child_probe_cb(const struct store_mailbox_info *info, void *ctx)
{
	struct child_probe *cp = ctx;

	if (strcmp(info->name, cp->name) == 0 && info->exists)
		cp->exists = true;
	if (info->exists && strncmp(info->name, cp->name, cp->len) == 0 &&
	    info->name[cp->len] == '/')
		cp->found = true;
	return 0;
}

/* Whether the selected mailbox is name or lies below it. */
static bool selection_under(const struct imap_session *s, const char *name)
{
	size_t len = strlen(name);

	return s->sel != NULL && s->sel->name != NULL &&
	       strncmp(s->sel->name, name, len) == 0 &&
	       (s->sel->name[len] == '\0' || s->sel->name[len] == '/');
}

/* One log line per change of the tree, so an admin can answer "where
 * did my folder go"; names escaped (they are client-chosen). */
static void log_change(const struct imap_session *s, const char *what, const char *name,
		       const char *to)
{
	char a[256], b[256];

	str_escape(name, strlen(name), a, sizeof(a));
	if (to != NULL)
		str_escape(to, strlen(to), b, sizeof(b));
	log_info("imap(%s): session=<%s>: %s %s%s%s", s->user ? s->user : "?", s->id, what, a,
		 to ? " -> " : "", to ? b : "");
}

static void close_selection(struct imap_session *s, const char *why)
{
	imap_select_close(s);
	imap_session_set_state(s, IMAP_STATE_AUTH);
	imap_send_untagged(s, "OK [CLOSED] Selected mailbox %s", why);
}

/* CREATE mailbox [(USE (\Sent ...))] - RFC 3501 6.3.3, RFC 6154 3. */
enum imap_cmd_result imap_cmd_create(struct imap_cmd *cmd)
{
	struct imap_session *s = cmd->sess;
	enum imap_cmd_result res;
	struct store_error err;
	unsigned special = 0;
	char *name;

	if (cmd->nargs != 1 && cmd->nargs != 2)
		return imap_cmd_bad(cmd, NULL, "Usage: CREATE mailbox [(USE (attributes))]");
	if (cmd->nargs == 2) {
		const struct imap_arg *p = &cmd->args[1];

		if (p->type != IMAP_ARG_LIST || p->list_count != 2 ||
		    !imap_arg_is_atom(&p->list[0], "USE") || p->list[1].type != IMAP_ARG_LIST)
			return imap_cmd_bad(cmd, NULL, "Usage: CREATE mailbox [(USE (attributes))]");
		for (size_t i = 0; i < p->list[1].list_count; i++) {
			const struct imap_arg *f = &p->list[1].list[i];
			unsigned flag = f->type == IMAP_ARG_ATOM ? imap_special_use_from_name(f->data) : 0;

			if (flag == 0)
				return imap_cmd_no(cmd, "USEATTR",
						   "Unsupported special-use attribute; use \\All "
						   "\\Archive \\Drafts \\Flagged \\Junk \\Sent or \\Trash");
			special |= flag;
		}
	}
	if ((name = mailbox_arg(cmd, &cmd->args[0], true, &res)) == NULL)
		return res;
	if (strcmp(name, "INBOX") == 0) {
		free(name);
		return imap_cmd_no(cmd, "ALREADYEXISTS", "INBOX always exists");
	}
	if (create_parents(s, name, &err) < 0 ||
	    store_mailbox_create(s->store, name, special, &err) < 0) {
		free(name);
		return imap_cmd_store_error(cmd, &err);
	}
	free(name);
	return imap_cmd_ok(cmd, NULL, "Create completed.");
}

/* DELETE mailbox - RFC 3501 6.3.4. */
enum imap_cmd_result imap_cmd_delete(struct imap_cmd *cmd)
{
	struct imap_session *s = cmd->sess;
	struct child_probe cp = { 0 };
	enum imap_cmd_result res;
	struct store_error err;
	char *name;
	int rc;

	if (cmd->nargs != 1)
		return imap_cmd_bad(cmd, NULL, "Usage: DELETE mailbox");
	if ((name = mailbox_arg(cmd, &cmd->args[0], false, &res)) == NULL)
		return res;
	if (strcmp(name, "INBOX") == 0) {
		free(name);
		return imap_cmd_no(cmd, "CANNOT", "INBOX cannot be deleted");
	}
	cp.name = name;
	cp.len = strlen(name);
	if (store_mailbox_list(s->store, child_probe_cb, &cp, &err) < 0) {
		free(name);
		return imap_cmd_store_error(cmd, &err);
	}
	if (!cp.exists && cp.found) {
		free(name);
		return imap_cmd_no(cmd, "CANNOT",
				   "Mailbox is only a parent (\\Noselect); delete its children first");
	}
	if (cp.exists && strcmp(s->sel ? s->sel->name : "", name) == 0)
		close_selection(s, "was deleted");
	if (cp.found)
		rc = store_mailbox_delete_keep_children(s->store, name, &err);
	else
		rc = store_mailbox_delete(s->store, name, &err);
	if (rc == 0)
		log_change(s, cp.found ? "deleted mailbox (children kept)" : "deleted mailbox", name,
			   NULL);
	free(name);
	if (rc < 0)
		return imap_cmd_store_error(cmd, &err);
	return imap_cmd_ok(cmd, NULL, "Delete completed.");
}

struct sub_collect {
	const char *from;
	size_t flen;
	char **names;
	size_t n, cap;
	bool oom;
};

static int sub_collect_cb(const struct store_mailbox_info *info, void *ctx)
{
	struct sub_collect *sc = ctx;

	if (!info->subscribed || strncmp(info->name, sc->from, sc->flen) != 0 ||
	    (info->name[sc->flen] != '\0' && info->name[sc->flen] != '/'))
		return 0;
	if (sc->n == sc->cap) {
		size_t cap = sc->cap ? sc->cap * 2 : 8;
		char **v = realloc(sc->names, cap * sizeof(*v));

		if (v == NULL) {
			sc->oom = true;
			return 1;
		}
		sc->names = v;
		sc->cap = cap;
	}
	if ((sc->names[sc->n] = strdup(info->name)) == NULL) {
		sc->oom = true;
		return 1;
	}
	sc->n++;
	return 0;
}

/* Subscriptions follow a renamed mailbox and its children (as Dovecot
 * does), so clients that show subscribed folders do not keep a ghost of
 * the old name. Best effort: a failure is logged, the RENAME stands. */
static void move_subscriptions(struct imap_session *s, const char *from, const char *to)
{
	struct sub_collect sc = { .from = from, .flen = strlen(from) };
	struct store_error err;

	if (store_mailbox_list(s->store, sub_collect_cb, &sc, &err) < 0 || sc.oom) {
		log_warn("imap(%s): session=<%s>: subscriptions not moved after RENAME: %s",
			 s->user ? s->user : "?", s->id, sc.oom ? "out of memory" : err.text);
	} else {
		for (size_t i = 0; i < sc.n; i++) {
			struct strbuf nn;

			strbuf_init(&nn, 0);
			if (strbuf_puts(&nn, to) < 0 || strbuf_puts(&nn, sc.names[i] + sc.flen) < 0 ||
			    store_mailbox_subscribe(s->store, nn.data, true, &err) < 0 ||
			    store_mailbox_subscribe(s->store, sc.names[i], false, &err) < 0)
				log_warn("imap(%s): session=<%s>: subscription not moved after RENAME",
					 s->user ? s->user : "?", s->id);
			strbuf_free(&nn);
		}
	}
	for (size_t i = 0; i < sc.n; i++)
		free(sc.names[i]);
	free(sc.names);
}

/* RENAME existing new - RFC 3501 6.3.5. */
enum imap_cmd_result imap_cmd_rename(struct imap_cmd *cmd)
{
	struct imap_session *s = cmd->sess;
	enum imap_cmd_result res;
	struct store_error err;
	char *from, *to;
	size_t flen;

	if (cmd->nargs != 2)
		return imap_cmd_bad(cmd, NULL, "Usage: RENAME existing-mailbox new-mailbox");
	if ((from = mailbox_arg(cmd, &cmd->args[0], false, &res)) == NULL)
		return res;
	if ((to = mailbox_arg(cmd, &cmd->args[1], true, &res)) == NULL) {
		free(from);
		return res;
	}
	flen = strlen(from);
	if (strcmp(to, "INBOX") == 0 || strcmp(from, to) == 0) {
		res = imap_cmd_no(cmd, "ALREADYEXISTS", "Mailbox already exists");
	} else if (strcmp(from, "INBOX") != 0 && strncmp(to, from, flen) == 0 && to[flen] == '/') {
		res = imap_cmd_no(cmd, "CANNOT", "A mailbox cannot be moved below itself");
	} else if (create_parents(s, to, &err) < 0) {
		res = imap_cmd_store_error(cmd, &err);
	} else {
		if (selection_under(s, from))
			close_selection(s, "was renamed");
		if (store_mailbox_rename(s->store, from, to, &err) < 0) {
			res = imap_cmd_store_error(cmd, &err);
		} else {
			log_change(s, "renamed mailbox", from, to);
			if (strcmp(from, "INBOX") != 0)
				move_subscriptions(s, from, to);
			res = imap_cmd_ok(cmd, NULL, "Rename completed.");
		}
	}
	free(from);
	free(to);
	return res;
}

static enum imap_cmd_result subscribe(struct imap_cmd *cmd, bool on)
{
	enum imap_cmd_result res;
	struct store_error err;
	char *name;
	int rc;

	if (cmd->nargs != 1)
		return imap_cmd_bad(cmd, NULL, "Usage: %s mailbox", on ? "SUBSCRIBE" : "UNSUBSCRIBE");
	if ((name = mailbox_arg(cmd, &cmd->args[0], false, &res)) == NULL)
		return res;
	rc = store_mailbox_subscribe(cmd->sess->store, name, on, &err);
	free(name);
	if (rc < 0)
		return imap_cmd_store_error(cmd, &err);
	return imap_cmd_ok(cmd, NULL, "%s completed.", on ? "Subscribe" : "Unsubscribe");
}

/* SUBSCRIBE / UNSUBSCRIBE mailbox - RFC 3501 6.3.6, 6.3.7. */
enum imap_cmd_result imap_cmd_subscribe(struct imap_cmd *cmd)
{
	return subscribe(cmd, true);
}

enum imap_cmd_result imap_cmd_unsubscribe(struct imap_cmd *cmd)
{
	return subscribe(cmd, false);
}
