/*
 * quota.c - per-user quota from the index: bytes (sum of RFC822.SIZE) and
 * messages over every mailbox, against mailbox_size_limit /
 * mailbox_message_limit or the user's own limits (auth userdb quota=).
 * RFC 9208 reports STORAGE in KiB; the caller divides.
 *
 * Called by: imap/ (GETQUOTA, GETQUOTAROOT), append/copy (msg.c),
 * delivery (deliver.c), `postern quota`.
 */
#include <string.h>

#include "store/store-private.h"

struct usage {
	uint64_t bytes, messages;
};

static int usage_cb(const char *name, const struct index_box *b, void *ctx)
{
	struct usage *us = ctx;

	us->bytes += b->vsize;
	us->messages += b->messages;
	return 0;
}

int store_quota_get(struct store_user *u, struct store_quota *q, struct store_error *err)
{
	struct usage us = { 0 };
	MDB_txn *txn;
	int rc;

	memset(q, 0, sizeof(*q));
	if (index_begin(u->index, false, &txn, err) < 0)
		return -1;
	rc = index_box_foreach(u->index, txn, usage_cb, &us, err);
	index_abort(txn);
	if (rc < 0)
		return -1;
	q->bytes_used = us.bytes;
	q->messages_used = us.messages;
	q->bytes_limit = u->quota_bytes ? u->quota_bytes : u->set->quota_bytes;
	q->messages_limit = u->quota_messages ? u->quota_messages : u->set->quota_messages;
	return 0;
}

int store_quota_check(struct store_user *u, uint64_t add_bytes, uint32_t add_msgs,
		      struct store_error *err)
{
	struct store_quota q;

	if (store_quota_get(u, &q, err) < 0)
		return -1;
	if ((q.bytes_limit && q.bytes_used + add_bytes > q.bytes_limit) ||
	    (q.messages_limit && q.messages_used + add_msgs > q.messages_limit)) {
		store_error_set(err, STORE_ERR_QUOTA, "Quota exceeded (mailbox for user is full)");
		return -1;
	}
	return 0;
}
