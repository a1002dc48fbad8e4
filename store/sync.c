/*
 * sync.c - bring a mailbox's index records in line with its files: the
 * sync protocol described in store-backend.h (check, scan, match by UID
 * hint then by loc, assign UIDs to new files, expunge vanished records).
 *
 * Called by: store_mailbox_open/store_mailbox_sync (mailbox.c), the
 * expunge path for formats that rewrite files, store_index_rebuild.
 *
 * Warm path: a read transaction and the backend's sync_check only - no
 * directory is read when nothing changed.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "store/store-private.h"
#include "util.h"


struct sync_item {
	struct store_sync_item it;
	char *loc;
	bool matched;
	bool duplicate;   /* the same name seen twice in one scan */
	void *by_name;    /* struct rec * matched by name in the first pass */
};

struct store_sync {
	struct sync_item *items;
	size_t n, cap;
	bool partial;
	uint8_t stamp[STORE_SYNC_STAMP_MAX];
	size_t stamp_len;
	bool stamp_set;
};

/* A copy of an index record, taken before the records change. */
struct rec {
	uint32_t uid;
	uint32_t flags;
	char *loc;
	uint64_t vsize, physical;
	int64_t internaldate;
	uint64_t modseq;
	bool matched;
};

struct recs {
	struct rec *v;
	size_t n, cap;
};

int store_sync_add(struct store_sync *sc, const struct store_sync_item *item,
		   struct store_error *err)
{
	if (strlen(item->loc) > STORE_LOC_MAX) {
		store_error_set(err, STORE_ERR_PERM, "Message file name too long");
		return -1;
	}
	if (sc->n == sc->cap) {
		size_t cap = sc->cap ? sc->cap * 2 : 256;
		struct sync_item *n = realloc(sc->items, cap * sizeof(*n));

		if (n == NULL) {
			store_error_set(err, STORE_ERR_TEMP, "Out of memory");
			return -1;
		}
		sc->items = n;
		sc->cap = cap;
	}
	sc->items[sc->n].it = *item;
	sc->items[sc->n].matched = false;
	if ((sc->items[sc->n].loc = strdup(item->loc)) == NULL) {
		store_error_set(err, STORE_ERR_TEMP, "Out of memory");
		return -1;
	}
	sc->items[sc->n].it.loc = sc->items[sc->n].loc;
	sc->items[sc->n].it.keywords = NULL;
	if (item->keywords && *item->keywords) {
		char *kw;

		/* A list too long for the index is dropped, not cut (a cut
		 * could leave half a keyword). */
		if (strlen(item->keywords) <= STORE_KEYWORDS_MAX) {
			if ((kw = strdup(item->keywords)) == NULL) {
				free(sc->items[sc->n].loc);
				store_error_set(err, STORE_ERR_TEMP, "Out of memory");
				return -1;
			}
			sc->items[sc->n].it.keywords = kw;
		}
	}
	sc->n++;
	return 0;
}

bool store_sync_partial(const struct store_sync *sc)
{
	return sc->partial;
}

void store_sync_set_stamp(struct store_sync *sc, const void *stamp, size_t len)
{
	if (len > sizeof(sc->stamp))
		len = 0;
	memcpy(sc->stamp, stamp, len);
	sc->stamp_len = len;
	sc->stamp_set = true;
}

static void sync_free(struct store_sync *sc)
{
	for (size_t i = 0; i < sc->n; i++) {
		free(sc->items[i].loc);
		free((char *)sc->items[i].it.keywords);
	}
	free(sc->items);
}

static void recs_free(struct recs *r)
{
	for (size_t i = 0; i < r->n; i++) {
		free(r->v[i].loc);
	}
	free(r->v);
}

static char *dup_or_null(const char *s, bool *oom)
{
	char *d;

	if (s == NULL)
		return NULL;
	if ((d = strdup(s)) == NULL)
		*oom = true;
	return d;
}

static int rec_collect(const struct index_msg *m, void *ctx)
{
	struct recs *r = ctx;
	struct rec *x;
	bool oom = false;

	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 256;
		struct rec *n = realloc(r->v, cap * sizeof(*n));

		if (n == NULL)
			return -2;
		r->v = n;
		r->cap = cap;
	}
	x = &r->v[r->n];
	memset(x, 0, sizeof(*x));
	x->uid = m->uid;
	x->flags = m->flags;
	x->vsize = m->vsize;
	x->physical = m->physical;
	x->internaldate = m->internaldate;
	x->modseq = m->modseq;
	/* Only what matching needs: copying every cached ENVELOPE and
	 * BODYSTRUCTURE of the mailbox made a full sync of 2,000 messages
	 * allocate ~2 MB; a record that changes is read again (rec_reload). */
	x->loc = dup_or_null(m->loc, &oom);
	r->n++;
	return oom ? -2 : 0;
}

/* The record of x as it is in txn now (strings valid until the next
 * write in txn), for an update that keeps its keywords and cache. 0, or
 * -1 with err. */
static int rec_reload(struct store_user *u, MDB_txn *txn, uint32_t box_id, const struct rec *x,
		      struct index_msg *m, struct store_error *err)
{
	int rc = index_msg_get_bare(u->index, txn, box_id, x->uid, m, err);

	if (rc == 0) {
		log_error("index: record of UID %u vanished during a sync; run \"postern index rebuild\"",
			  x->uid);
		store_error_set(err, STORE_ERR_TEMP, "Mail index is corrupt, see server log");
	}
	return rc > 0 ? 0 : -1;
}

static struct index_msg rec_to_msg(const struct rec *x)
{
	struct index_msg m = {
		.uid = x->uid, .flags = x->flags, .modseq = x->modseq,
		.internaldate = x->internaldate, .vsize = x->vsize, .physical = x->physical,
		.loc = x->loc, .keywords = "",
	};
	return m;
}

static struct rec *rec_by_uid(struct recs *r, uint32_t uid)
{
	size_t lo = 0, hi = r->n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (r->v[mid].uid == uid)
			return &r->v[mid];
		if (r->v[mid].uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static int rec_loc_cmp(const void *a, const void *b)
{
	return strcmp((*(struct rec *const *)a)->loc, (*(struct rec *const *)b)->loc);
}

static int item_new_cmp(const void *a, const void *b)
{
	const struct sync_item *x = *(struct sync_item *const *)a, *y = *(struct sync_item *const *)b;

	/* Files carrying a UID first (in UID order), then the rest in the
	 * mailbox file's order where the backend gives one (mbox: a loc is a
	 * content hash, its order says nothing), else by name, which starts
	 * with the delivery time for Maildir. */
	if ((x->it.uid_hint != 0) != (y->it.uid_hint != 0))
		return x->it.uid_hint ? -1 : 1;
	if (x->it.uid_hint != y->it.uid_hint)
		return x->it.uid_hint < y->it.uid_hint ? -1 : 1;
	if (x->it.file_order != 0 && y->it.file_order != 0 && x->it.file_order != y->it.file_order)
		return x->it.file_order < y->it.file_order ? -1 : 1;
	return strcmp(x->loc, y->loc);
}

void store_box_status_from(struct store_mailbox *box, const struct index_box *b)
{
	box->box_id = b->id;
	box->status.messages = b->messages;
	box->status.unseen = b->unseen;
	box->status.uidvalidity = b->uidvalidity;
	box->status.uidnext = b->uidnext;
	box->status.highestmodseq = b->highestmodseq;
	box->status.size = b->vsize;
}

int store_box_record(struct store_mailbox *box, MDB_txn *txn, struct index_box *b,
		     struct store_error *err)
{
	struct store_user *u = box->user;
	const char *key = store_box_key(box->name);
	uint32_t v = 0, next = 0;
	int rc = index_box_get(u->index, txn, key, b, err);

	if (rc != 0)
		return rc < 0 ? -1 : 0;
	if (index_box_new(u->index, txn, b, err) < 0)
		return -1;
	/* First sight of this mailbox (or a rebuilt index): reuse the
	 * UIDVALIDITY the files remember, so clients keep their caches. */
	if (u->backend->uid_state_read) {
		rc = u->backend->uid_state_read(box, &v, &next, err);
		if (rc < 0)
			return -1;
		if (rc > 0) {
			b->uidvalidity = v;
			b->uidnext = next;
		} else if (u->backend->uid_state_write &&
			   u->backend->uid_state_write(box, b->uidvalidity, b->uidnext, err) < 0) {
			return -1;
		}
	}
	return index_box_put(u->index, txn, key, b, err) < 0 ? -1 : 1;
}

/* Sizes and date of a file found without them (takeover, foreign
 * delivery): one open, fstat, and a read to count line ends when needed. */
static void item_fill_sizes(struct store_mailbox *box, struct sync_item *si, uint32_t uid)
{
	struct store_backend_msg bm = { .uid = uid, .flags = si->it.flags, .keywords = "",
					.loc = si->loc };
	struct store_error err = { 0 };
	uint64_t size = 0;
	off_t off = 0;
	struct stat st;
	int fd;

	if (si->it.physical_size && si->it.vsize && si->it.internaldate)
		return;
	if (box->user->backend->msg_open(box, &bm, &fd, &off, &size, &err) < 0)
		return;
	if (fstat(fd, &st) == 0 && si->it.internaldate == 0)
		si->it.internaldate = st.st_mtime;
	if (si->it.physical_size == 0)
		si->it.physical_size = size;
	if (si->it.vsize == 0) {
		char buf[65536];
		uint64_t left = size, v = size;
		bool prev_cr = false;

		if (lseek(fd, off, SEEK_SET) == off) {
			while (left > 0) {
				ssize_t n = read(fd, buf, left < sizeof(buf) ? left : sizeof(buf));

				if (n <= 0)
					break;
				for (ssize_t i = 0; i < n; i++) {
					if (buf[i] == '\n' && !prev_cr)
						v++;
					prev_cr = buf[i] == '\r';
				}
				left -= (uint64_t)n;
			}
		}
		si->it.vsize = v;
	}
	close(fd);
}

/* The scan-and-merge part, inside the write transaction. */
/* first: the box record was created in this transaction (a new mailbox or
 * a rebuilt index). Then every UID a file carries is its own as long as no
 * other file claims it: the saved UIDNEXT is only a floor for UIDs that
 * were used before (expunged ones included), not a bound on the UIDs of
 * the files that are still there. */
static int sync_merge(struct store_mailbox *box, MDB_txn *txn, struct index_box *b,
		      struct store_sync *sc, bool first, struct store_error *err)
{
	struct store_user *u = box->user;
	const struct store_backend *be = u->backend;
	struct recs r = { 0 };
	struct rec **by_loc = NULL;
	struct sync_item **fresh = NULL;
	size_t n_fresh = 0;
	int changed = 0, rc;
	bool expunged = false, by_loc_sorted = false;
	uint32_t last_hint = 0, next_uid, *keep = NULL;

	rc = index_msg_foreach_bare(u->index, txn, b->id, 0, rec_collect, &r, err);
	if (rc == -2) {
		store_error_set(err, STORE_ERR_TEMP, "Out of memory");
		goto fail;
	}
	if (rc < 0)
		goto fail;
	by_loc = malloc((r.n ? r.n : 1) * sizeof(*by_loc));
	fresh = malloc((sc->n ? sc->n : 1) * sizeof(*fresh));
	if (by_loc == NULL || fresh == NULL) {
		store_error_set(err, STORE_ERR_TEMP, "Out of memory");
		goto fail;
	}
	for (size_t i = 0; i < r.n; i++)
		by_loc[i] = &r.v[i];

	/* Match, first by name for every item: the same name is the same
	 * file. Only then by UID, for files another program renamed beyond
	 * the flags. Two files can carry one UID when a delivery was killed
	 * between writing its file and committing the index; the one whose
	 * name the index does not know matches nothing and gets a new UID. */
	for (size_t i = 0; i < sc->n; i++) {
		struct sync_item *si = &sc->items[i];
		struct rec key = { .loc = si->loc }, *kp = &key, **f, *h;

		si->by_name = NULL;
		si->duplicate = false;
		/* The name's own UID (Maildir U=) finds the record without
		 * sorting 2,000 names (strcmp was the top of a full scan's
		 * profile); it counts only when the record has that very name,
		 * so this is still a match by name. */
		h = si->it.uid_hint ? rec_by_uid(&r, si->it.uid_hint) : NULL;
		if (h != NULL && strcmp(h->loc, si->loc) == 0) {
			f = &h;
		} else {
			if (!by_loc_sorted) {
				qsort(by_loc, r.n, sizeof(*by_loc), rec_loc_cmp);
				by_loc_sorted = true;
			}
			f = r.n ? bsearch(&kp, by_loc, r.n, sizeof(*by_loc), rec_loc_cmp) : NULL;
		}
		if (f && (*f)->matched) {
			si->duplicate = true; /* moved between new/ and cur/ during the scan */
		} else if (f) {
			(*f)->matched = true;
			si->by_name = *f;
		}
	}
	for (size_t i = 0; i < sc->n; i++) {
		struct sync_item *si = &sc->items[i];
		struct rec *x = si->by_name;

		if (si->duplicate)
			continue;
		if (x == NULL && si->it.uid_hint) {
			x = rec_by_uid(&r, si->it.uid_hint);
			if (x && x->matched)
				x = NULL;
		}
		if (x == NULL) {
			fresh[n_fresh++] = si;
			continue;
		}
		x->matched = true;
		si->matched = true;
		{
			uint32_t nf = x->flags & ~(uint32_t)INDEX_FLAG_IN_NEW;
			bool upd = false;
			struct index_msg old, m;

			if (si->it.flags_known && (nf & STORE_FLAGS_STORED) != si->it.flags) {
				nf = si->it.flags;
				upd = true;
			}
			if (si->it.recent)
				nf |= INDEX_FLAG_IN_NEW;
			if (nf != x->flags || strcmp(x->loc, si->loc) != 0)
				upd = true;
			if (si->it.recent && be->sync_assign) {
				char *nl = NULL;
				struct store_error e2 = { 0 };

				if (be->sync_assign(box, si->loc, x->uid, nf & STORE_FLAGS_STORED, &nl,
						    &e2) == 0) {
					nf &= ~(uint32_t)INDEX_FLAG_IN_NEW;
					upd = true;
					if (nl) {
						free(si->loc);
						si->loc = nl;
					}
				}
			}
			if (!upd)
				continue;
			if (rec_reload(u, txn, b->id, x, &old, err) < 0)
				goto fail;
			m = old;
			m.flags = nf;
			m.loc = si->loc;
			if ((nf & STORE_FLAGS_STORED) != (x->flags & STORE_FLAGS_STORED))
				m.modseq = b->highestmodseq + 1;
			if (index_msg_put(u->index, txn, b, &old, &m, err) < 0)
				goto fail;
			changed = 1;
		}
	}

	/* Vanished: every unmatched record (a partial scan saw only new/). */
	for (size_t i = 0; i < r.n; i++) {
		struct index_msg old;

		if (r.v[i].matched || (sc->partial && !(r.v[i].flags & INDEX_FLAG_IN_NEW)))
			continue;
		if (!expunged && be->uid_state_write &&
		    be->uid_state_write(box, b->uidvalidity, b->uidnext, err) < 0)
			goto fail;
		expunged = true;
		old = rec_to_msg(&r.v[i]);
		if (index_msg_del(u->index, txn, b, &old, err) < 0)
			goto fail;
		b->highestmodseq++;
		changed = 1;
	}

	/* New files: UIDs carried by the files are kept when they are still
	 * unused (above UIDNEXT, or any free one when first), everything else
	 * gets a UID above all of those, so no two files get one UID. fresh is
	 * in uid_hint order: a hint taken twice is a repeat of the last one. */
	qsort(fresh, n_fresh, sizeof(*fresh), item_new_cmp);
	keep = calloc(n_fresh ? n_fresh : 1, sizeof(*keep));
	if (keep == NULL) {
		store_error_set(err, STORE_ERR_TEMP, "Out of memory");
		goto fail;
	}
	next_uid = b->uidnext;
	for (size_t i = 0; i < n_fresh; i++) {
		uint32_t h = fresh[i]->it.uid_hint;

		if (h && h > last_hint && rec_by_uid(&r, h) == NULL && (h >= b->uidnext || first)) {
			keep[i] = h;
			last_hint = h;
			if (h >= next_uid)
				next_uid = h + 1;
		}
	}
	for (size_t i = 0; i < n_fresh; i++) {
		struct sync_item *si = fresh[i];
		struct index_msg m;
		uint32_t uid;
		char *nl = NULL;

		if (i > 0 && strcmp(fresh[i - 1]->loc, si->loc) == 0 &&
		    fresh[i - 1]->it.uid_hint == si->it.uid_hint)
			continue; /* seen in new/ and cur/ during one scan */
		uid = keep[i] ? keep[i] : next_uid;
		if (uid >= UINT32_MAX - 1) {
			log_error("store: %s: mailbox %s ran out of UIDs; rebuild it under a new UIDVALIDITY",
				  u->name, box->name);
			store_error_set(err, STORE_ERR_PERM, "Mailbox is out of UIDs");
			goto fail;
		}
		item_fill_sizes(box, si, uid);
		if (uid != si->it.uid_hint || si->it.recent || si->it.hint_external) {
			struct store_error e2 = { 0 };

			if (be->sync_assign && be->sync_assign(box, si->loc, uid, si->it.flags, &nl,
							       &e2) < 0) {
				if (e2.cls == STORE_ERR_EXPUNGED)
					continue; /* gone again, or the duplicate of a moved file */
				log_warn("store: %s/%s: could not record UID %u in the file; kept in the index",
					 u->name, box->name, uid);
			}
		}
		if (uid == next_uid)
			next_uid++;
		if (uid >= b->uidnext)
			b->uidnext = uid + 1;
		memset(&m, 0, sizeof(m));
		m.uid = uid;
		m.flags = si->it.flags & STORE_FLAGS_STORED;
		m.modseq = b->highestmodseq + 1;
		m.internaldate = si->it.internaldate ? si->it.internaldate : time(NULL);
		m.vsize = si->it.vsize;
		m.physical = si->it.physical_size;
		m.loc = nl ? nl : si->loc;
		m.keywords = si->it.keywords ? si->it.keywords : "";
		rc = index_msg_put(u->index, txn, b, NULL, &m, err);
		free(nl);
		if (rc < 0)
			goto fail;
		changed = 1;
	}
	free(keep);
	free(by_loc);
	free(fresh);
	recs_free(&r);
	return changed;
fail:
	free(keep);
	free(by_loc);
	free(fresh);
	recs_free(&r);
	return -1;
}

int store_sync_box(struct store_mailbox *box, bool force, struct store_error *err)
{
	struct store_user *u = box->user;
	const struct store_backend *be = u->backend;
	struct store_sync sc;
	struct index_box b;
	MDB_txn *txn;
	int rc, check = 1, changed, created;

	/* Warm path: a read transaction and a stat or two. */
	if (!force) {
		if (index_begin(u->index, false, &txn, err) < 0)
			return -1;
		rc = index_box_get(u->index, txn, store_box_key(box->name), &b, err);
		if (rc > 0 && b.stamp_len > 0 && be->sync_check) {
			box->sync_txn = txn;
			check = be->sync_check(box, b.stamp, b.stamp_len);
			box->sync_txn = NULL;
		}
		index_abort(txn);
		if (rc < 0)
			return -1;
		if (rc > 0 && b.stamp_len > 0 && be->sync_check) {
			if (check == 0) {
				store_box_status_from(box, &b);
				return 0;
			}
		}
	}

	if (be->lock && be->lock(box, true, err) < 0)
		return -1;
	if (index_begin(u->index, true, &txn, err) < 0) {
		if (be->unlock)
			be->unlock(box);
		return -1;
	}
	memset(&sc, 0, sizeof(sc));
	if ((created = store_box_record(box, txn, &b, err)) < 0)
		goto fail;
	/* Another process may have synced while we waited for the lock. */
	if (!force && b.stamp_len > 0 && be->sync_check) {
		box->sync_txn = txn;
		box->sync_txn_write = true;
		check = be->sync_check(box, b.stamp, b.stamp_len);
		box->sync_txn = NULL;
		box->sync_txn_write = false;
		if (check == 0) {
			index_abort(txn);
			if (be->unlock)
				be->unlock(box);
			store_box_status_from(box, &b);
			return 0;
		}
	}
	sc.partial = check == 2 && !force;
	if (be->sync_scan(box, &sc, err) < 0)
		goto fail;
	/* First sync of this record: just created here, or created earlier
	 * without a scan (a NOSYNC open, e.g. re-adding subscriptions during
	 * a rebuild), so no sync has stamped it yet. */
	changed = sync_merge(box, txn, &b, &sc, created == 1 || b.stamp_len == 0, err);
	if (changed < 0)
		goto fail;
	if (sc.stamp_set) {
		memcpy(b.stamp, sc.stamp, sc.stamp_len);
		b.stamp_len = (uint32_t)sc.stamp_len;
	}
	if (index_box_put(u->index, txn, store_box_key(box->name), &b, err) < 0)
		goto fail; /* still ours to abort (and so release the writer lock) */
	/* light: the files are the truth, and a sync undone by a power cut
	 * is done again by the next one (README.md "Index durability") */
	if (index_commit_light(txn, err) < 0) {
		txn = NULL; /* a failed commit frees the transaction too */
		goto fail;
	}
	if (be->unlock)
		be->unlock(box);
	sync_free(&sc);
	if (be->sync_committed)
		be->sync_committed(box);
	if (be->sync_done)
		be->sync_done(box);
	store_box_status_from(box, &b);
	return changed;
fail:
	index_abort(txn);
	if (be->unlock)
		be->unlock(box);
	sync_free(&sc);
	if (be->sync_done)
		be->sync_done(box);
	return -1;
}
