/*
 * msg-name.c - (added for the POP3 role) every message's Maildir file
 * base name as other servers saw it, for pop3_uidl_format's %f: a Maildir
 * taken over from Dovecot or Courier keeps the UIDLs its POP3 clients
 * already know, so they do not download everything again.
 *
 * Called by pop3/maildrop.c (UIDL when the format has %f). Kept in its
 * own file so it touches nothing else of store/.
 */
#include <string.h>

#include "store/store-private.h"

struct name_ctx {
	bool maildir;
	store_name_fn *fn;
	void *ctx;
};

/* name_strip_uid - loc (the file name up to ":2,") without Postern's own
 * ",U=<digits>" field into buf; other fields (Dovecot's S= and W=) stay,
 * they were part of the name before the takeover. */
static const char *name_strip_uid(const char *loc, char *buf, size_t size)
{
	size_t o = 0;

	for (const char *p = loc; *p && o + 1 < size;) {
		if (p[0] == ',' && p[1] == 'U' && p[2] == '=') {
			const char *q = p + 3;
			while (*q >= '0' && *q <= '9')
				q++;
			if (*q == ',' || *q == '\0') {
				p = q;
				continue;
			}
		}
		buf[o++] = *p++;
	}
	buf[o] = '\0';
	return buf;
}

static int name_cb(const struct index_msg *m, void *ctx)
{
	struct name_ctx *nc = ctx;
	char buf[STORE_LOC_MAX + 1];

	if (!nc->maildir || m->loc == NULL)
		return nc->fn(m->uid, NULL, nc->ctx);
	return nc->fn(m->uid, name_strip_uid(m->loc, buf, sizeof(buf)), nc->ctx);
}

int store_mailbox_foreach_name(struct store_mailbox *box, store_name_fn *fn, void *ctx,
			       struct store_error *err)
{
	struct name_ctx nc = { .maildir = box->user->loc.format == STORE_FORMAT_MAILDIR,
			       .fn = fn, .ctx = ctx };
	MDB_txn *txn;
	int rc;

	memset(err, 0, sizeof(*err));
	if (index_begin(box->user->index, false, &txn, err) < 0)
		return -1;
	rc = index_msg_foreach_bare(box->user->index, txn, box->box_id, 0, name_cb, &nc, err);
	index_abort(txn);
	return rc;
}
