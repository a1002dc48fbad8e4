/*
 * store.c - a user's store: open/close (location, backend, index), the
 * mailbox tree (list, create, delete, rename, subscribe, special-use) and
 * the index rebuild.
 *
 * Called by: imap/, pop3/, the queue role via store_deliver, the CLI.
 * Mailbox names: store.h. Index: index.c. Formats: store-backend.h.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "store/store-private.h"
#include "util.h"

#define MAILBOX_NAME_MAX 512
#define MAILBOX_LEVELS_MAX 16

const char *store_box_key(const char *name)
{
	return strcasecmp(name, "INBOX") == 0 ? "INBOX" : name;
}

bool store_mailbox_name_valid(const char *name)
{
	size_t len = strlen(name), levels = 1;
	const char *level = name;

	if (len == 0 || len > MAILBOX_NAME_MAX || name[0] == '/' || name[len - 1] == '/')
		return false;
	for (const char *p = name;; p++) {
		if (*p == '/' || *p == '\0') {
			size_t l = (size_t)(p - level);

			if (l == 0 || (l == 1 && level[0] == '.') ||
			    (l == 2 && level[0] == '.' && level[1] == '.'))
				return false;
			if (*p == '\0')
				break;
			if (++levels > MAILBOX_LEVELS_MAX)
				return false;
			level = p + 1;
		} else if ((unsigned char)*p < 0x20 || *p == 0x7f || *p == '*' || *p == '%') {
			return false;
		}
	}
	return true;
}

static const struct store_backend *backend_for(enum store_format f)
{
	if (f == STORE_FORMAT_MAILDIR)
		return &store_backend_maildir;
	return &store_backend_mbox;
}

struct store_user *store_user_open(const struct store_settings *set, const char *user,
				   const char *location, const char *home, unsigned flags,
				   struct store_error *err)
{
	struct store_user *u;

	memset(err, 0, sizeof(*err));
	u = calloc(1, sizeof(*u));
	if (u == NULL || (u->name = strdup(user)) == NULL) {
		free(u);
		store_error_set(err, STORE_ERR_TEMP, "Out of memory");
		return NULL;
	}
	u->set = set;
	if (store_location_expand(set, location ? location : set->mail_location, user, home,
				  &u->loc, err) < 0) {
		log_error("store: %s: mail location %s: %s", user,
			  location ? location : set->mail_location, err->text);
		goto fail;
	}
	u->backend = backend_for(u->loc.format);
	if (u->backend == NULL) {
		log_error("store: %s: mbox support is not built into this Postern; use maildir:",
			  user);
		store_error_set(err, STORE_ERR_TEMP, "Mail storage format not available, see server log");
		goto fail;
	}
	if (u->backend->user_init &&
	    u->backend->user_init(u, (flags & STORE_USER_CREATE) != 0, err) < 0)
		goto fail;
	if (index_open(u->loc.index_dir, true, &u->index, err) < 0)
		goto fail;
	return u;
fail:
	store_location_free(&u->loc);
	free(u->name);
	free(u);
	return NULL;
}

void store_user_close(struct store_user **up)
{
	struct store_user *u = *up;

	if (u == NULL)
		return;
	while (u->boxes) {
		struct store_mailbox *b = u->boxes;

		store_mailbox_close(&b);
	}
	index_close(&u->index);
	if (u->backend_free)
		u->backend_free(u->backend_data);
	store_location_free(&u->loc);
	free(u->name);
	x_free(up);
}

const char *store_user_name(const struct store_user *u)
{
	return u->name;
}

const struct store_location *store_user_location(const struct store_user *u)
{
	return &u->loc;
}

const struct store_settings *store_user_settings(const struct store_user *u)
{
	return u->set;
}

void *store_user_backend_data(struct store_user *u)
{
	return u->backend_data;
}

void store_user_set_backend_data(struct store_user *u, void *data, void (*free_fn)(void *))
{
	u->backend_data = data;
	u->backend_free = free_fn;
}

void store_user_set_quota(struct store_user *u, uint64_t bytes, uint64_t messages)
{
	u->quota_bytes = bytes;
	u->quota_messages = messages;
}

/* ---- listing ---- */

struct list_entry {
	char *name;
	bool exists;
	bool subscribed;
	unsigned special_use;
};

struct list_ctx {
	struct list_entry *v;
	size_t n, cap;
	bool oom;
};

static struct list_entry *list_get(struct list_ctx *lc, const char *name)
{
	const char *key = store_box_key(name);

	for (size_t i = 0; i < lc->n; i++)
		if (strcmp(lc->v[i].name, key) == 0)
			return &lc->v[i];
	if (lc->n == lc->cap) {
		size_t cap = lc->cap ? lc->cap * 2 : 32;
		struct list_entry *n = realloc(lc->v, cap * sizeof(*n));

		if (n == NULL) {
			lc->oom = true;
			return NULL;
		}
		lc->v = n;
		lc->cap = cap;
	}
	memset(&lc->v[lc->n], 0, sizeof(lc->v[0]));
	if ((lc->v[lc->n].name = strdup(key)) == NULL) {
		lc->oom = true;
		return NULL;
	}
	return &lc->v[lc->n++];
}

static int list_backend_cb(const char *name, void *ctx)
{
	struct list_entry *e = list_get(ctx, name);

	if (e)
		e->exists = true;
	return 0;
}

static int list_sub_cb(const char *name, void *ctx)
{
	struct list_entry *e = list_get(ctx, name);

	if (e)
		e->subscribed = true;
	return 0;
}

static int list_box_cb(const char *name, const struct index_box *b, void *ctx)
{
	struct list_ctx *lc = ctx;

	for (size_t i = 0; i < lc->n; i++)
		if (strcmp(lc->v[i].name, name) == 0)
			lc->v[i].special_use = b->special_use;
	return 0;
}

static int list_cmp(const void *a, const void *b)
{
	const struct list_entry *x = a, *y = b;
	bool xi = strcmp(x->name, "INBOX") == 0, yi = strcmp(y->name, "INBOX") == 0;

	if (xi != yi)
		return xi ? -1 : 1;
	return strcmp(x->name, y->name);
}

int store_mailbox_list(struct store_user *u, store_mailbox_list_fn *fn, void *ctx,
		       struct store_error *err)
{
	struct list_ctx lc = { 0 };
	MDB_txn *txn = NULL;
	int ret = -1;

	if (u->backend->mailbox_list(u, list_backend_cb, &lc, err) < 0)
		goto out;
	if (index_begin(u->index, false, &txn, err) < 0)
		goto out;
	if (index_sub_foreach(u->index, txn, list_sub_cb, &lc, err) < 0 ||
	    index_box_foreach(u->index, txn, list_box_cb, &lc, err) < 0)
		goto out;
	if (lc.oom) {
		store_error_set(err, STORE_ERR_TEMP, "Out of memory");
		goto out;
	}
	if (lc.n > 1)
		qsort(lc.v, lc.n, sizeof(*lc.v), list_cmp);
	ret = 0;
	for (size_t i = 0; i < lc.n && ret == 0; i++) {
		struct store_mailbox_info info = {
			.name = lc.v[i].name, .special_use = lc.v[i].special_use,
			.subscribed = lc.v[i].subscribed, .exists = lc.v[i].exists,
		};
		size_t l = strlen(lc.v[i].name);

		for (size_t j = 0; j < lc.n; j++)
			if (lc.v[j].exists && strncmp(lc.v[j].name, lc.v[i].name, l) == 0 &&
			    lc.v[j].name[l] == '/')
				info.has_children = true;
		ret = fn(&info, ctx);
	}
	if (ret > 0)
		ret = 0;
out:
	index_abort(txn);
	for (size_t i = 0; i < lc.n; i++)
		free(lc.v[i].name);
	free(lc.v);
	return ret;
}

/* ---- tree changes ---- */

static int check_name(const char *name, struct store_error *err)
{
	if (!store_mailbox_name_valid(name)) {
		store_error_set(err, STORE_ERR_PERM, "Invalid mailbox name");
		return -1;
	}
	return 0;
}

int store_mailbox_set_special_use(struct store_user *u, const char *name, unsigned special_use,
				  struct store_error *err)
{
	struct store_mailbox *box;
	struct index_box b;
	MDB_txn *txn;

	box = store_mailbox_open(u, name, STORE_OPEN_NOSYNC, err);
	if (box == NULL)
		return -1;
	if (index_begin(u->index, true, &txn, err) < 0) {
		store_mailbox_close(&box);
		return -1;
	}
	if (store_box_record(box, txn, &b, err) < 0) {
		index_abort(txn);
		store_mailbox_close(&box);
		return -1;
	}
	b.special_use = special_use;
	store_mailbox_close(&box);
	if (index_box_put(u->index, txn, store_box_key(name), &b, err) < 0) {
		index_abort(txn);
		return -1;
	}
	return index_commit(txn, err);
}

int store_mailbox_create(struct store_user *u, const char *name, unsigned special_use,
			 struct store_error *err)
{
	memset(err, 0, sizeof(*err));
	if (check_name(name, err) < 0)
		return -1;
	if (strcasecmp(name, "INBOX") == 0 && u->backend->mailbox_exists(u, name, err) > 0) {
		store_error_set(err, STORE_ERR_EXISTS, "Mailbox already exists");
		return -1;
	}
	if (u->backend->mailbox_create(u, name, err) < 0)
		return -1;
	/* A stale record of an earlier mailbox with this name must not lend
	 * its UIDs: drop it, the new mailbox gets a new UIDVALIDITY. */
	{
		MDB_txn *txn;

		if (index_begin(u->index, true, &txn, err) < 0)
			return -1;
		if (index_box_del(u->index, txn, store_box_key(name), err) < 0) {
			index_abort(txn);
			return -1;
		}
		if (index_commit(txn, err) < 0)
			return -1;
	}
	if (special_use)
		return store_mailbox_set_special_use(u, name, special_use, err);
	return 0;
}

struct child_ctx {
	const char *parent;
	size_t plen;
	char **names;
	size_t n, cap;
	bool oom;
};

static int child_cb(const char *name, void *ctx)
{
	struct child_ctx *c = ctx;

	if (strncmp(name, c->parent, c->plen) != 0 || name[c->plen] != '/')
		return 0;
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 8;
		char **n = realloc(c->names, cap * sizeof(*n));

		if (n == NULL) {
			c->oom = true;
			return 1;
		}
		c->names = n;
		c->cap = cap;
	}
	if ((c->names[c->n] = strdup(name)) == NULL) {
		c->oom = true;
		return 1;
	}
	c->n++;
	return 0;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void children_free(struct child_ctx *c)
{
	for (size_t i = 0; i < c->n; i++)
		free(c->names[i]);
	free(c->names);
}

static int children(struct store_user *u, const char *name, struct child_ctx *c,
		    struct store_error *err)
{
	memset(c, 0, sizeof(*c));
	c->parent = name;
	c->plen = strlen(name);
	if (u->backend->mailbox_list(u, child_cb, c, err) < 0) {
		children_free(c);
		return -1;
	}
	if (c->oom) {
		children_free(c);
		store_error_set(err, STORE_ERR_TEMP, "Out of memory");
		return -1;
	}
	if (c->n > 1)
		qsort(c->names, c->n, sizeof(*c->names), name_cmp);
	return 0;
}

static int forget_box(struct store_user *u, const char *name, struct store_error *err)
{
	MDB_txn *txn;

	if (index_begin(u->index, true, &txn, err) < 0)
		return -1;
	if (index_box_del(u->index, txn, store_box_key(name), err) < 0) {
		index_abort(txn);
		return -1;
	}
	return index_commit(txn, err);
}

int store_mailbox_delete(struct store_user *u, const char *name, struct store_error *err)
{
	struct child_ctx c;
	int rc;

	memset(err, 0, sizeof(*err));
	if (check_name(name, err) < 0)
		return -1;
	if (strcasecmp(name, "INBOX") == 0) {
		store_error_set(err, STORE_ERR_PERM, "INBOX cannot be deleted");
		return -1;
	}
	rc = u->backend->mailbox_exists(u, name, err);
	if (rc <= 0) {
		if (rc == 0)
			store_error_set(err, STORE_ERR_NOTFOUND, "Mailbox does not exist");
		return -1;
	}
	if (children(u, name, &c, err) < 0)
		return -1;
	/* Deepest first, so a parent never disappears before its children. */
	for (size_t i = c.n; i > 0; i--) {
		if (u->backend->mailbox_delete(u, c.names[i - 1], err) < 0 ||
		    forget_box(u, c.names[i - 1], err) < 0) {
			children_free(&c);
			return -1;
		}
	}
	children_free(&c);
	if (u->backend->mailbox_delete(u, name, err) < 0)
		return -1;
	return forget_box(u, name, err);
}

/* Move the index record of a mailbox to its new name (UIDVALIDITY kept;
 * the messages stay keyed by the mailbox id). */
static int rename_record(struct store_user *u, const char *from, const char *to,
			 struct store_error *err)
{
	struct index_box b;
	MDB_txn *txn;
	int rc;

	if (index_begin(u->index, true, &txn, err) < 0)
		return -1;
	rc = index_box_get(u->index, txn, store_box_key(from), &b, err);
	if (rc < 0 || (rc > 0 && (index_box_put(u->index, txn, store_box_key(to), &b, err) < 0 ||
				  index_box_unname(u->index, txn, store_box_key(from), err) < 0))) {
		index_abort(txn);
		return -1;
	}
	return index_commit(txn, err);
}

struct uid_list {
	uint32_t *v;
	size_t n, cap;
	bool oom;
};

static int uid_list_add(const struct store_msg *m, void *ctx)
{
	struct uid_list *l = ctx;

	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 256;
		uint32_t *v = realloc(l->v, cap * sizeof(*v));

		if (v == NULL) {
			l->oom = true;
			return 1;
		}
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = m->uid;
	return 0;
}

/*
 * RFC 3501 6.3.5: renaming INBOX moves all its messages into a new
 * mailbox and leaves INBOX empty; its children are not renamed. Each
 * message is copied, then expunged, so a failure midway loses nothing
 * (the messages moved so far are in newname, the rest still in INBOX);
 * the new mailbox has its own UIDVALIDITY, as any new mailbox.
 * Messages delivered during the move stay in INBOX.
 */
static int rename_inbox(struct store_user *u, const char *newname, struct store_error *err)
{
	struct store_mailbox *in = NULL, *out = NULL;
	struct uid_list l = { 0 };
	int rc = -1;

	if (store_mailbox_create(u, newname, 0, err) < 0)
		return -1;
	in = store_mailbox_open(u, "INBOX", 0, err);
	out = in ? store_mailbox_open(u, newname, 0, err) : NULL;
	if (out == NULL)
		goto out;
	if (store_mailbox_foreach(in, 0, uid_list_add, &l, err) < 0)
		goto out;
	if (l.oom) {
		store_error_set(err, STORE_ERR_TEMP, "Out of memory");
		goto out;
	}
	for (size_t i = 0; i < l.n; i++) {
		if (store_msg_move_within(in, l.v[i], out, err) < 0) {
			if (err->cls == STORE_ERR_EXPUNGED)
				continue; /* expunged by another session meanwhile */
			goto out;
		}
	}
	memset(err, 0, sizeof(*err));
	rc = 0;
out:
	free(l.v);
	if (out)
		store_mailbox_close(&out);
	if (in)
		store_mailbox_close(&in);
	return rc;
}

int store_mailbox_rename(struct store_user *u, const char *oldname, const char *newname,
			 struct store_error *err)
{
	struct child_ctx c;
	int rc;

	memset(err, 0, sizeof(*err));
	if (check_name(oldname, err) < 0 || check_name(newname, err) < 0)
		return -1;
	if (strcasecmp(newname, "INBOX") == 0 ||
	    u->backend->mailbox_exists(u, newname, err) > 0) {
		store_error_set(err, STORE_ERR_EXISTS, "Mailbox already exists");
		return -1;
	}
	if (strcasecmp(oldname, "INBOX") == 0)
		return rename_inbox(u, newname, err);
	rc = u->backend->mailbox_exists(u, oldname, err);
	if (rc <= 0) {
		if (rc == 0)
			store_error_set(err, STORE_ERR_NOTFOUND, "Mailbox does not exist");
		return -1;
	}
	if (children(u, oldname, &c, err) < 0)
		return -1;
	if (u->backend->mailbox_rename(u, oldname, newname, err) < 0 ||
	    rename_record(u, oldname, newname, err) < 0) {
		children_free(&c);
		return -1;
	}
	for (size_t i = 0; i < c.n; i++) {
		char *to = must_asprintf("%s%s", newname, c.names[i] + strlen(oldname));

		if (u->backend->mailbox_rename(u, c.names[i], to, err) < 0 ||
		    rename_record(u, c.names[i], to, err) < 0) {
			free(to);
			children_free(&c);
			return -1;
		}
		free(to);
	}
	children_free(&c);
	return 0;
}

int store_mailbox_subscribe(struct store_user *u, const char *name, bool on,
			    struct store_error *err)
{
	MDB_txn *txn;

	memset(err, 0, sizeof(*err));
	if (check_name(name, err) < 0)
		return -1;
	if (index_begin(u->index, true, &txn, err) < 0)
		return -1;
	if (index_sub_set(u->index, txn, store_box_key(name), on, err) < 0) {
		index_abort(txn);
		return -1;
	}
	return index_commit(txn, err);
}

/* ---- rebuild ---- */

struct rebuild_ctx {
	struct store_user *u;
	uint64_t messages;
	struct store_error *err;
	int failed;
};

static int rebuild_box(const char *name, void *ctx)
{
	struct rebuild_ctx *rc = ctx;
	struct store_mailbox *box = store_mailbox_open(rc->u, name, 0, rc->err);

	if (box == NULL) {
		rc->failed = 1;
		return 1;
	}
	rc->messages += box->status.messages;
	store_mailbox_close(&box);
	return 0;
}

int store_index_rebuild(struct store_user *u, uint64_t *messages_r, struct store_error *err)
{
	struct rebuild_ctx rc = { .u = u, .err = err };
	char **subs = NULL;
	size_t n_subs = 0;
	struct child_ctx all;
	MDB_txn *txn;

	memset(err, 0, sizeof(*err));
	if (u->boxes != NULL || index_shared(u->index)) {
		store_error_set(err, STORE_ERR_TEMP,
				"Close every mailbox and other opens of this user before a rebuild");
		return -1;
	}
	/* Subscriptions exist only in the index: carry them over. */
	memset(&all, 0, sizeof(all));
	all.parent = "";
	if (index_begin(u->index, false, &txn, err) < 0)
		return -1;
	{
		struct list_ctx lc = { 0 };

		index_sub_foreach(u->index, txn, list_sub_cb, &lc, err);
		index_abort(txn);
		subs = calloc(lc.n ? lc.n : 1, sizeof(*subs));
		for (size_t i = 0; i < lc.n; i++) {
			if (subs)
				subs[n_subs++] = lc.v[i].name;
			else
				free(lc.v[i].name);
		}
		free(lc.v);
	}
	index_close(&u->index);
	if (index_remove(u->loc.index_dir, err) < 0 ||
	    index_open(u->loc.index_dir, true, &u->index, err) < 0) {
		for (size_t i = 0; i < n_subs; i++)
			free(subs[i]);
		free(subs);
		return -1;
	}
	for (size_t i = 0; i < n_subs; i++) {
		if (rc.failed == 0 && store_mailbox_subscribe(u, subs[i], true, err) < 0)
			rc.failed = 1;
		free(subs[i]);
	}
	free(subs);
	if (rc.failed)
		return -1;
	if (u->backend->mailbox_list(u, rebuild_box, &rc, err) < 0 || rc.failed)
		return -1;
	if (messages_r)
		*messages_r = rc.messages;
	return 0;
}
