/*
 * mailbox.c - an open mailbox: open (with sync and \Recent bookkeeping),
 * close, status, iteration over its messages from the index.
 *
 * Called by: imap/ (SELECT/EXAMINE/STATUS/FETCH), pop3/, the CLI, and
 * store/ itself (delivery, rebuild).
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "store/store-private.h"
#include "util.h"

struct store_user *store_mailbox_user(struct store_mailbox *box)
{
	return box->user;
}

const char *store_mailbox_name(const struct store_mailbox *box)
{
	return box->name;
}

void *store_mailbox_backend_data(struct store_mailbox *box)
{
	return box->backend_data;
}

void store_mailbox_set_backend_data(struct store_mailbox *box, void *data)
{
	box->backend_data = data;
}

struct recent_ctx {
	uint32_t recent;
	uint32_t first_unseen;
};

static int recent_cb(const struct index_msg *m, void *ctx)
{
	struct recent_ctx *rc = ctx;

	rc->recent++;
	return 0;
}

/* the first UID of the "unseen" set stops the walk */
static int unseen_cb(uint32_t uid, void *ctx)
{
	struct recent_ctx *rc = ctx;

	rc->first_unseen = uid;
	return 1;
}

/* \Recent (RFC 3501 2.3.2.2): messages with UID >= the mailbox's
 * recent_floor are recent to the first read-write opener, which moves the
 * floor to UIDNEXT. Read-only opens see the same set without taking it. */
static int take_recent(struct store_mailbox *box, struct store_error *err)
{
	struct store_user *u = box->user;
	struct recent_ctx rc = { 0 };
	struct index_box b;
	MDB_txn *txn;
	bool write = !(box->open_flags & STORE_OPEN_READONLY);

	if (index_begin(u->index, write, &txn, err) < 0)
		return -1;
	if (index_box_get(u->index, txn, store_box_key(box->name), &b, err) <= 0) {
		index_abort(txn);
		return 0;
	}
	if (index_msg_foreach_bare(u->index, txn, b.id, b.recent_floor, recent_cb, &rc, err) < 0 ||
	    index_unseen_foreach(u->index, txn, b.id, 0, unseen_cb, &rc, err) < 0) {
		index_abort(txn);
		return -1;
	}
	box->status.recent = rc.recent;
	box->status.first_unseen_uid = rc.first_unseen;
	if (!write || b.recent_floor == b.uidnext) {
		index_abort(txn);
		return 0;
	}
	b.recent_floor = b.uidnext;
	if (index_box_put(u->index, txn, store_box_key(box->name), &b, err) < 0) {
		index_abort(txn);
		return -1;
	}
	/* losing the floor to a power cut only makes messages \Recent again */
	return index_commit_light(txn, err);
}

int store_mailbox_claim_recent(struct store_mailbox *box, uint32_t last_uid, uint32_t *first_r,
			       struct store_error *err)
{
	struct store_user *u = box->user;
	struct index_box b;
	MDB_txn *txn;
	int rc;

	memset(err, 0, sizeof(*err));
	*first_r = last_uid < UINT32_MAX ? last_uid + 1 : UINT32_MAX;
	if (box->open_flags & STORE_OPEN_READONLY)
		return 0;
	/* one write transaction: two sessions claiming at once are
	 * serialised by the index's writer lock, so each UID goes to one */
	if (index_begin(u->index, true, &txn, err) < 0)
		return -1;
	rc = index_box_get(u->index, txn, store_box_key(box->name), &b, err);
	if (rc <= 0) {
		index_abort(txn);
		return rc;
	}
	*first_r = b.recent_floor;
	if (b.recent_floor > last_uid) {
		index_abort(txn);
		return 0;
	}
	b.recent_floor = last_uid + 1;
	if (index_box_put(u->index, txn, store_box_key(box->name), &b, err) < 0) {
		index_abort(txn);
		return -1;
	}
	/* the \Recent floor, as in take_recent: a power cut that undoes it
	 * only shows these messages \Recent again (README.md "Index
	 * durability") */
	return index_commit_light(txn, err);
}

struct store_mailbox *store_mailbox_open(struct store_user *u, const char *name, unsigned flags,
					 struct store_error *err)
{
	struct store_mailbox *box;

	memset(err, 0, sizeof(*err));
	if (!store_mailbox_name_valid(name)) {
		store_error_set(err, STORE_ERR_PERM, "Invalid mailbox name");
		return NULL;
	}
	box = calloc(1, sizeof(*box));
	if (box == NULL || (box->name = strdup(store_box_key(name))) == NULL) {
		free(box);
		store_error_set(err, STORE_ERR_TEMP, "Out of memory");
		return NULL;
	}
	box->user = u;
	box->open_flags = flags;
	if (u->backend->box_open(box, err) < 0) {
		free(box->name);
		free(box);
		return NULL;
	}
	box->next = u->boxes;
	u->boxes = box;
	if (!(flags & STORE_OPEN_NOSYNC)) {
		if (store_sync_box(box, false, err) < 0 || take_recent(box, err) < 0) {
			store_mailbox_close(&box);
			return NULL;
		}
	} else {
		MDB_txn *txn;
		struct index_box b;

		if (index_begin(u->index, true, &txn, err) < 0 ||
		    store_box_record(box, txn, &b, err) < 0 || index_commit(txn, err) < 0) {
			store_mailbox_close(&box);
			return NULL;
		}
		store_box_status_from(box, &b);
	}
	return box;
}

int store_mailbox_reopen(struct store_mailbox *box, struct store_error *err)
{
	memset(err, 0, sizeof(*err));
	if (box->open_flags & STORE_OPEN_NOSYNC)
		return 0;
	if (store_sync_box(box, false, err) < 0 || take_recent(box, err) < 0)
		return -1;
	return 0;
}

void store_mailbox_close(struct store_mailbox **boxp)
{
	struct store_mailbox *box = *boxp;

	if (box == NULL)
		return;
	store_mailbox_notify_stop(box);
	for (struct store_mailbox **pp = &box->user->boxes; *pp; pp = &(*pp)->next) {
		if (*pp == box) {
			*pp = box->next;
			break;
		}
	}
	if (box->user->backend->box_close)
		box->user->backend->box_close(box);
	free(box->name);
	x_free(boxp);
}

int store_mailbox_sync(struct store_mailbox *box, struct store_error *err)
{
	int rc;

	memset(err, 0, sizeof(*err));
	rc = store_sync_box(box, false, err);
	if (rc > 0) {
		struct recent_ctx r = { 0 };
		MDB_txn *txn;

		/* first unseen may have moved */
		if (index_begin(box->user->index, false, &txn, err) == 0) {
			index_unseen_foreach(box->user->index, txn, box->box_id, 0, unseen_cb, &r, err);
			index_abort(txn);
			box->status.first_unseen_uid = r.first_unseen;
		}
	}
	return rc;
}

void store_mailbox_status(struct store_mailbox *box, struct store_status *st)
{
	*st = box->status;
}

int store_mailbox_status_get(struct store_user *u, const char *name, struct store_status *st,
			     struct store_error *err)
{
	struct store_mailbox *box = store_mailbox_open(u, name, STORE_OPEN_READONLY, err);

	if (box == NULL)
		return -1;
	*st = box->status;
	store_mailbox_close(&box);
	return 0;
}

struct foreach_ctx {
	uint64_t since;
	store_msg_fn *fn;
	void *ctx;
};

void store_msg_from_index(const struct index_msg *m, struct store_msg *out)
{
	out->uid = m->uid;
	out->flags = m->flags & STORE_FLAGS_STORED;
	out->keywords = m->keywords ? m->keywords : "";
	out->modseq = m->modseq;
	out->internaldate = (time_t)m->internaldate;
	out->size = m->vsize;
	out->physical_size = m->physical;
	out->envelope = m->envelope;
	out->bodystructure = m->bodystructure;
	out->header = m->header;
}

static int foreach_cb(const struct index_msg *m, void *ctx)
{
	struct foreach_ctx *fc = ctx;
	struct store_msg sm;

	if (m->modseq <= fc->since)
		return 0;
	store_msg_from_index(m, &sm);
	return fc->fn(&sm, fc->ctx);
}

int store_mailbox_foreach(struct store_mailbox *box, uint64_t since_modseq, store_msg_fn *fn,
			  void *ctx, struct store_error *err)
{
	struct foreach_ctx fc = { .since = since_modseq, .fn = fn, .ctx = ctx };
	MDB_txn *txn;
	int rc;

	memset(err, 0, sizeof(*err));
	if (index_begin(box->user->index, false, &txn, err) < 0)
		return -1;
	rc = index_msg_foreach(box->user->index, txn, box->box_id, 0, foreach_cb, &fc, err);
	index_abort(txn);
	return rc;
}

struct unseen_ctx {
	struct store_mailbox *box;
	MDB_txn *txn;
	store_msg_fn *fn;
	void *ctx;
	struct store_error *err;
	bool failed;
};

static int unseen_msg_cb(uint32_t uid, void *ctx)
{
	struct unseen_ctx *uc = ctx;
	struct index_msg m;
	struct store_msg sm;
	int rc = index_msg_get(uc->box->user->index, uc->txn, uc->box->box_id, uid, &m, uc->err);

	if (rc < 0) {
		uc->failed = true;
		return -1;
	}
	if (rc == 0) {
		/* the set names a UID without a record: the set is wrong */
		log_error("index: UID %u is in the unseen set without a record; run \"postern index rebuild\"",
			  uid);
		return 0;
	}
	store_msg_from_index(&m, &sm);
	return uc->fn(&sm, uc->ctx);
}

int store_mailbox_foreach_unseen(struct store_mailbox *box, store_msg_fn *fn, void *ctx,
				 struct store_error *err)
{
	struct unseen_ctx uc = { .box = box, .fn = fn, .ctx = ctx, .err = err };
	int rc;

	memset(err, 0, sizeof(*err));
	if (index_begin(box->user->index, false, &uc.txn, err) < 0)
		return -1;
	rc = index_unseen_foreach(box->user->index, uc.txn, box->box_id, 0, unseen_msg_cb, &uc, err);
	index_abort(uc.txn);
	return uc.failed ? -1 : rc;
}

int store_mailbox_unseen_uids(struct store_mailbox *box, store_uid_fn *fn, void *ctx,
			      struct store_error *err)
{
	MDB_txn *txn;
	int rc;

	memset(err, 0, sizeof(*err));
	if (index_begin(box->user->index, false, &txn, err) < 0)
		return -1;
	rc = index_unseen_foreach(box->user->index, txn, box->box_id, 0, fn, ctx, err);
	index_abort(txn);
	return rc;
}

int store_msg_get(struct store_mailbox *box, uint32_t uid, store_msg_fn *fn, void *ctx,
		  struct store_error *err)
{
	struct index_msg m;
	struct store_msg sm;
	MDB_txn *txn;
	int rc;

	memset(err, 0, sizeof(*err));
	if (index_begin(box->user->index, false, &txn, err) < 0)
		return -1;
	rc = index_msg_get(box->user->index, txn, box->box_id, uid, &m, err);
	if (rc > 0) {
		store_msg_from_index(&m, &sm);
		fn(&sm, ctx);
	}
	index_abort(txn);
	return rc;
}

int store_msgs_get(struct store_mailbox *box, const uint32_t *uids, size_t n, store_msg_fn *fn,
		   void *ctx, struct store_error *err)
{
	struct index_msg m;
	struct store_msg sm;
	MDB_txn *txn;
	int rc = 0, found = 0;

	memset(err, 0, sizeof(*err));
	if (n == 0)
		return 0;
	/* one transaction (and one pair of lock calls) for the lot: per
	 * message they were most of a FETCH 1:* (FLAGS) */
	if (index_begin(box->user->index, false, &txn, err) < 0)
		return -1;
	for (size_t i = 0; i < n && rc >= 0; i++) {
		rc = index_msg_get(box->user->index, txn, box->box_id, uids[i], &m, err);
		if (rc > 0) {
			store_msg_from_index(&m, &sm);
			fn(&sm, ctx);
			found++;
		}
	}
	index_abort(txn);
	return rc < 0 ? -1 : found;
}
