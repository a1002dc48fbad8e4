/*
 * msg.c - operations on messages of an open mailbox: stream open, flag
 * and keyword changes with modseqs (RFC 7162 CONDSTORE), cache fill,
 * expunge, append, copy and move.
 *
 * Every change runs as: backend lock (if the format has one) -> LMDB write
 * transaction -> change the file through the backend -> change the record
 * -> commit -> unlock. A crash between the file change and the commit is
 * repaired by the next sync, because the files are the truth.
 *
 * Called by: imap/ (STORE, FETCH, EXPUNGE, APPEND, COPY, MOVE), pop3/
 * (RETR, DELE), deliver.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "log.h"
#include "store/store-private.h"
#include "util.h"

static int wbegin(struct store_mailbox *box, MDB_txn **txn, struct index_box *b,
		  struct store_error *err)
{
	const struct store_backend *be = box->user->backend;
	int rc;

	if (box->open_flags & STORE_OPEN_READONLY) {
		store_error_set(err, STORE_ERR_PERM, "Mailbox is open read-only");
		return -1;
	}
	if (be->lock && be->lock(box, true, err) < 0)
		return -1;
	if (index_begin(box->user->index, true, txn, err) < 0) {
		if (be->unlock)
			be->unlock(box);
		return -1;
	}
	rc = index_box_get(box->user->index, *txn, store_box_key(box->name), b, err);
	if (rc <= 0 || b->id != box->box_id) {
		if (rc >= 0)
			store_error_set(err, STORE_ERR_NOTFOUND, "Mailbox was deleted meanwhile");
		index_abort(*txn);
		if (be->unlock)
			be->unlock(box);
		return -1;
	}
	return 0;
}

static void wabort(struct store_mailbox *box, MDB_txn *txn)
{
	index_abort(txn);
	if (box->user->backend->unlock)
		box->user->backend->unlock(box);
}

/* The numbers of a committed change; \Recent and the first unseen UID
 * stay as the last sync computed them. */
static void status_after_write(struct store_mailbox *box, const struct index_box *b)
{
	uint32_t recent = box->status.recent, fu = box->status.first_unseen_uid;

	store_box_status_from(box, b);
	box->status.recent = recent;
	box->status.first_unseen_uid = fu;
}

/* light: a flag change, which may use the cheaper commit (README.md
 * "Index durability"); expunges commit fully. */
static int wend(struct store_mailbox *box, MDB_txn *txn, struct index_box *b, bool light,
		struct store_error *err)
{
	int rc = index_box_put(box->user->index, txn, store_box_key(box->name), b, err);

	if (rc < 0) {
		wabort(box, txn);
		return -1;
	}
	rc = light ? index_commit_light(txn, err) : index_commit(txn, err);
	if (box->user->backend->unlock)
		box->user->backend->unlock(box);
	if (rc == 0)
		status_after_write(box, b);
	return rc;
}

/* A private copy of a record (LMDB memory can move under a write). */
struct msg_copy {
	struct index_msg m;
	char *loc, *kw, *env, *bs, *hdr;
};

/* cache: also the cached texts (only a cache fill needs them; a flag
 * change or an expunge does not copy ~1 KB per message for nothing) */
static int msg_fetch(struct store_mailbox *box, MDB_txn *txn, uint32_t uid, bool cache,
		     struct msg_copy *c, struct store_error *err)
{
	int rc = cache ? index_msg_get(box->user->index, txn, box->box_id, uid, &c->m, err)
		       : index_msg_get_bare(box->user->index, txn, box->box_id, uid, &c->m, err);

	c->loc = c->kw = c->env = c->bs = c->hdr = NULL;
	if (rc <= 0) {
		if (rc == 0)
			store_error_set(err, STORE_ERR_EXPUNGED, "Message was expunged");
		return -1;
	}
	c->loc = strdup(c->m.loc);
	c->kw = strdup(c->m.keywords ? c->m.keywords : "");
	c->env = c->m.envelope ? strdup(c->m.envelope) : NULL;
	c->bs = c->m.bodystructure ? strdup(c->m.bodystructure) : NULL;
	c->hdr = c->m.header ? strdup(c->m.header) : NULL;
	if (c->loc == NULL || c->kw == NULL || (c->m.envelope && !c->env) ||
	    (c->m.bodystructure && !c->bs) || (c->m.header && !c->hdr)) {
		store_error_set(err, STORE_ERR_TEMP, "Out of memory");
		free(c->loc);
		free(c->kw);
		free(c->env);
		free(c->bs);
		free(c->hdr);
		return -1;
	}
	c->m.loc = c->loc;
	c->m.keywords = c->kw;
	c->m.envelope = c->env;
	c->m.bodystructure = c->bs;
	c->m.header = c->hdr;
	return 0;
}

static void msg_copy_free(struct msg_copy *c)
{
	free(c->loc);
	free(c->kw);
	free(c->env);
	free(c->bs);
	free(c->hdr);
}

static struct store_backend_msg backend_msg(const struct index_msg *m)
{
	struct store_backend_msg bm = {
		.uid = m->uid, .flags = m->flags & STORE_FLAGS_STORED,
		.keywords = m->keywords ? m->keywords : "", .loc = m->loc,
		.physical_size = m->physical, .internaldate = (time_t)m->internaldate,
	};
	return bm;
}

int store_msg_open(struct store_mailbox *box, uint32_t uid, int *fd_r, off_t *offset_r,
		   uint64_t *size_r, struct store_error *err)
{
	const struct store_backend *be = box->user->backend;
	struct msg_copy c;
	struct store_backend_msg bm;
	MDB_txn *txn;
	int rc;

	memset(err, 0, sizeof(*err));
	if (index_begin(box->user->index, false, &txn, err) < 0)
		return -1;
	rc = msg_fetch(box, txn, uid, false, &c, err);
	index_abort(txn);
	if (rc < 0)
		return -1;
	bm = backend_msg(&c.m);
	if (be->lock && be->lock(box, false, err) < 0) {
		msg_copy_free(&c);
		return -1;
	}
	rc = be->msg_open(box, &bm, fd_r, offset_r, size_r, err);
	if (be->unlock)
		be->unlock(box);
	msg_copy_free(&c);
	return rc;
}

/* ---- keywords: space-separated atoms, compared case-insensitively ---- */

static bool kw_has(const char *list, const char *w, size_t wl)
{
	for (const char *p = list; *p;) {
		const char *e = strchr(p, ' ');
		size_t l = e ? (size_t)(e - p) : strlen(p);

		if (l == wl && strncasecmp(p, w, wl) == 0)
			return true;
		p += l;
		while (*p == ' ')
			p++;
	}
	return false;
}

/* New keyword list in sb; 0, or -1 when it would be too long. */
static int kw_apply(struct strbuf *sb, const char *cur, enum store_flag_mode mode, const char *arg)
{
	const char *lists[2] = { mode == STORE_FLAGS_REPLACE ? "" : cur,
				 mode == STORE_FLAGS_REMOVE ? "" : arg };

	for (int li = 0; li < 2; li++) {
		for (const char *p = lists[li]; *p;) {
			const char *e;
			size_t l;

			while (*p == ' ')
				p++;
			if (!*p)
				break;
			e = strchr(p, ' ');
			l = e ? (size_t)(e - p) : strlen(p);
			if (!kw_has(sb->data ? sb->data : "", p, l) &&
			    !(li == 0 && mode == STORE_FLAGS_REMOVE && kw_has(arg, p, l))) {
				if ((sb->len && strbuf_putc(sb, ' ') < 0) || strbuf_append(sb, p, l) < 0)
					return -1;
			}
			p += l;
		}
	}
	return 0;
}

/*
 * One message's flag change inside the caller's write transaction (b is
 * the mailbox record, written by the caller's wend). With fn the record
 * as it stands after the change is shown to fn. 1 changed or already so
 * (*modseq_r set), 0 refused by unchanged_since, -1 with err (EXPUNGED:
 * the record is gone; anything else: the transaction must be aborted).
 */
static int set_flags_txn(struct store_mailbox *box, MDB_txn *txn, struct index_box *b,
			 uint32_t uid, enum store_flag_mode mode, unsigned flags,
			 const char *keywords, uint64_t unchanged_since, uint64_t *modseq_r,
			 store_msg_fn *fn, void *ctx, struct store_error *err)
{
	const struct store_backend *be = box->user->backend;
	struct msg_copy c;
	struct strbuf kw;
	unsigned cur, nf;
	char *new_loc = NULL;
	struct index_msg m;
	struct store_msg sm;
	bool kw_changed, file_changed = false;
	int ret = -1;

	if (msg_fetch(box, txn, uid, false, &c, err) < 0)
		return -1;
	strbuf_init(&kw, STORE_KEYWORDS_MAX);
	if (unchanged_since && c.m.modseq > unchanged_since) {
		if (modseq_r)
			*modseq_r = c.m.modseq;
		ret = 0;
		goto out;
	}
	cur = c.m.flags & STORE_FLAGS_STORED;
	nf = mode == STORE_FLAGS_ADD ? cur | flags : mode == STORE_FLAGS_REMOVE ? cur & ~flags : flags;
	if (keywords == NULL) {
		strbuf_puts(&kw, c.kw);
	} else if (kw_apply(&kw, c.kw, mode, keywords) < 0) {
		store_error_set(err, STORE_ERR_PERM, "Too many keywords");
		goto out;
	}
	if (nf == cur && strcmp(kw.data ? kw.data : "", c.kw) == 0) {
		if (modseq_r)
			*modseq_r = c.m.modseq;
		if (fn) {
			store_msg_from_index(&c.m, &sm);
			fn(&sm, ctx);
		}
		ret = 1;
		goto out;
	}
	kw_changed = strcmp(kw.data ? kw.data : "", c.kw) != 0;
	if (nf != cur || (kw_changed && be->msg_set_flags_kw)) {
		struct store_backend_msg bm = backend_msg(&c.m);
		int rc = be->msg_set_flags_kw
				 ? be->msg_set_flags_kw(box, &bm, nf, kw.data ? kw.data : "",
							&new_loc, err)
				 : be->msg_set_flags(box, &bm, nf, &new_loc, err);

		if (rc < 0)
			goto out;
		file_changed = true;
	}
	m = c.m;
	m.flags = nf | (c.m.flags & INDEX_FLAG_IN_NEW);
	if (new_loc)
		m.loc = new_loc;
	else if (file_changed)
		m.flags &= ~(uint32_t)INDEX_FLAG_IN_NEW; /* Maildir moved it to cur/ */
	m.keywords = kw.data ? kw.data : "";
	m.modseq = b->highestmodseq + 1;
	if (index_msg_put(box->user->index, txn, b, &c.m, &m, err) < 0)
		goto out;
	if (modseq_r)
		*modseq_r = m.modseq;
	if (fn) {
		store_msg_from_index(&m, &sm);
		fn(&sm, ctx);
	}
	ret = 1;
out:
	free(new_loc);
	strbuf_free(&kw);
	msg_copy_free(&c);
	return ret;
}

int store_msg_set_flags(struct store_mailbox *box, uint32_t uid, enum store_flag_mode mode,
			unsigned flags, const char *keywords, uint64_t unchanged_since,
			uint64_t *modseq_r, struct store_error *err)
{
	struct index_box b;
	MDB_txn *txn;
	uint64_t before;
	int rc;

	memset(err, 0, sizeof(*err));
	flags &= STORE_FLAGS_STORED;
	if (wbegin(box, &txn, &b, err) < 0)
		return -1;
	before = b.highestmodseq;
	rc = set_flags_txn(box, txn, &b, uid, mode, flags, keywords, unchanged_since, modseq_r,
			   NULL, NULL, err);
	if (rc < 0 || rc == 0 || b.highestmodseq == before) {
		/* an error, refused, or nothing to change: nothing to commit */
		wabort(box, txn);
		return rc;
	}
	return wend(box, txn, &b, true, err) < 0 ? -1 : 1;
}

int store_msgs_set_flags(struct store_mailbox *box, const uint32_t *uids, size_t n,
			 enum store_flag_mode mode, unsigned flags, const char *keywords,
			 uint64_t unchanged_since, int *results, uint64_t *modseqs,
			 store_msg_fn *fn, void *ctx, struct store_error *err)
{
	struct index_box b;
	MDB_txn *txn;
	uint64_t before;
	int changed = 0;

	memset(err, 0, sizeof(*err));
	flags &= STORE_FLAGS_STORED;
	if (n == 0)
		return 0;
	if (wbegin(box, &txn, &b, err) < 0)
		return -1;
	before = b.highestmodseq;
	for (size_t i = 0; i < n; i++) {
		uint64_t modseq = 0;
		uint64_t hm = b.highestmodseq;
		int rc = set_flags_txn(box, txn, &b, uids[i], mode, flags, keywords, unchanged_since,
				       &modseq, fn, ctx, err);

		if (rc < 0 && (err->cls == STORE_ERR_EXPUNGED || err->cls == STORE_ERR_NOTFOUND)) {
			memset(err, 0, sizeof(*err));
			rc = -1;
		} else if (rc < 0) {
			/* renames done so far are repaired by the next sync: the
			 * file names are the truth */
			wabort(box, txn);
			return -1;
		}
		if (results)
			results[i] = rc;
		if (modseqs)
			modseqs[i] = modseq;
		if (b.highestmodseq != hm)
			changed++;
	}
	if (b.highestmodseq == before) {
		wabort(box, txn);
		return 0;
	}
	return wend(box, txn, &b, true, err) < 0 ? -1 : changed;
}

int store_msgs_set_cache(struct store_mailbox *box, const struct store_cache_fill *fills,
			 size_t n, struct store_error *err)
{
	struct index_box b;
	MDB_txn *txn;
	int rc = 0, stored = 0;

	memset(err, 0, sizeof(*err));
	if (n == 0)
		return 0;
	/* A cache fill is allowed on a read-only open: it changes no state
	 * the client sees. */
	if (index_begin(box->user->index, true, &txn, err) < 0)
		return -1;
	if (index_box_get(box->user->index, txn, store_box_key(box->name), &b, err) <= 0 ||
	    b.id != box->box_id) {
		if (err->cls == STORE_OK)
			store_error_set(err, STORE_ERR_NOTFOUND, "Mailbox was deleted meanwhile");
		index_abort(txn);
		return -1;
	}
	for (size_t i = 0; i < n && rc == 0; i++) {
		struct store_error e2 = { 0 };
		struct msg_copy c;
		struct index_msg m;

		if (fills[i].envelope == NULL && fills[i].bodystructure == NULL &&
		    fills[i].header == NULL)
			continue;
		if (msg_fetch(box, txn, fills[i].uid, true, &c, &e2) < 0) {
			if (e2.cls != STORE_ERR_EXPUNGED) {
				*err = e2;
				rc = -1;
			}
			continue; /* expunged meanwhile: nothing to cache */
		}
		m = c.m;
		if (fills[i].envelope)
			m.envelope = fills[i].envelope;
		if (fills[i].bodystructure)
			m.bodystructure = fills[i].bodystructure;
		if (fills[i].header && strlen(fills[i].header) <= STORE_HEADER_CACHE_MAX)
			m.header = fills[i].header;
		/* the cache only: the record (flags, modseq) stays as it is */
		rc = index_cache_put(box->user->index, txn, box->box_id, m.uid, m.envelope,
				     m.bodystructure, m.header, err);
		if (rc == 0)
			stored++;
		msg_copy_free(&c);
	}
	if (rc == 0 && stored == 0) {
		index_abort(txn);
		return 0;
	}
	if (rc == 0)
		rc = index_box_put(box->user->index, txn, store_box_key(box->name), &b, err);
	if (rc == 0)
		rc = index_commit_light(txn, err);
	else
		index_abort(txn);
	return rc < 0 ? -1 : stored;
}

int store_msg_set_cache(struct store_mailbox *box, uint32_t uid, const char *envelope,
			const char *bodystructure, struct store_error *err)
{
	struct store_cache_fill f = { .uid = uid, .envelope = envelope,
				      .bodystructure = bodystructure };
	int rc = store_msgs_set_cache(box, &f, 1, err);

	if (rc == 0 && (envelope || bodystructure)) {
		/* the old single call reported a vanished message */
		store_error_set(err, STORE_ERR_EXPUNGED, "Message was expunged");
		return -1;
	}
	return rc < 0 ? -1 : 0;
}

/* ---- expunge ---- */

struct del_ctx {
	const uint32_t *set;
	size_t n_set;
	bool only_deleted;
	uint32_t *uids;
	size_t n, cap;
	bool oom;
};

static bool in_set(const struct del_ctx *d, uint32_t uid)
{
	if (d->set == NULL)
		return true;
	for (size_t i = 0; i < d->n_set; i++)
		if (d->set[i] == uid)
			return true;
	return false;
}

static int del_collect(const struct index_msg *m, void *ctx)
{
	struct del_ctx *d = ctx;

	if (d->only_deleted && !(m->flags & STORE_FLAG_DELETED))
		return 0;
	if (!in_set(d, m->uid))
		return 0;
	if (d->n == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 64;
		uint32_t *n = realloc(d->uids, cap * sizeof(*n));

		if (n == NULL) {
			d->oom = true;
			return 1;
		}
		d->uids = n;
		d->cap = cap;
	}
	d->uids[d->n++] = m->uid;
	return 0;
}

static int expunge_uids(struct store_mailbox *box, struct del_ctx *d, bool collect,
			store_expunge_fn *fn, void *ctx, struct store_error *err)
{
	const struct store_backend *be = box->user->backend;
	struct index_box b;
	MDB_txn *txn;
	int removed = 0;

	if (wbegin(box, &txn, &b, err) < 0)
		return -1;
	if (collect && (index_msg_foreach_bare(box->user->index, txn, box->box_id, 0, del_collect,
					       d, err) < 0 || d->oom)) {
		if (d->oom)
			store_error_set(err, STORE_ERR_TEMP, "Out of memory");
		wabort(box, txn);
		return -1;
	}
	if (d->n == 0) {
		wabort(box, txn);
		return 0;
	}
	/* Remember UIDNEXT in the files before any UID is forgotten, so a
	 * rebuilt index never hands one out again. */
	if (be->uid_state_write && be->uid_state_write(box, b.uidvalidity, b.uidnext, err) < 0) {
		wabort(box, txn);
		return -1;
	}
	for (size_t i = 0; i < d->n; i++) {
		struct msg_copy c;
		struct store_backend_msg bm;
		struct store_error e2 = { 0 };

		if (msg_fetch(box, txn, d->uids[i], false, &c, &e2) < 0)
			continue;
		bm = backend_msg(&c.m);
		if (be->msg_expunge(box, &bm, err) < 0 ||
		    index_msg_del(box->user->index, txn, &b, &c.m, err) < 0) {
			msg_copy_free(&c);
			wabort(box, txn);
			return -1;
		}
		b.highestmodseq++;
		msg_copy_free(&c);
		removed++;
		if (fn)
			fn(d->uids[i], ctx);
	}
	if (be->expunge_finish && be->expunge_finish(box, err) < 0) {
		wabort(box, txn);
		return -1;
	}
	if (wend(box, txn, &b, false, err) < 0)
		return -1;
	if (be->expunge_finish && store_sync_box(box, true, err) < 0)
		return -1;
	return removed;
}

int store_msg_expunge(struct store_mailbox *box, uint32_t uid, struct store_error *err)
{
	struct del_ctx d = { 0 };
	uint32_t one = uid;

	memset(err, 0, sizeof(*err));
	d.uids = &one;
	d.n = 1;
	return expunge_uids(box, &d, false, NULL, NULL, err) < 0 ? -1 : 1;
}

int store_mailbox_expunge(struct store_mailbox *box, const uint32_t *uid_set, size_t n,
			  store_expunge_fn *fn, void *ctx, struct store_error *err)
{
	struct del_ctx d = { .set = uid_set, .n_set = n, .only_deleted = true };
	int rc;

	memset(err, 0, sizeof(*err));
	rc = expunge_uids(box, &d, true, fn, ctx, err);
	free(d.uids);
	return rc < 0 ? -1 : 0;
}

/* ---- append, copy, move ---- */

bool (*store_fault_hook)(enum store_fault point);

static bool fault(enum store_fault point)
{
	return store_fault_hook != NULL && store_fault_hook(point);
}

/* Take back what msg_append wrote when the index could not record it: the
 * caller reports a temporary failure, the sender retries, and the copy
 * left behind would be found by the next sync - a duplicate. */
static void append_undo(struct store_mailbox *box, const char *loc)
{
	const struct store_backend *be = box->user->backend;
	struct store_error e2 = { 0 };

	if (be->msg_append_undo == NULL || be->msg_append_undo(box, loc, &e2) < 0)
		log_error("store: %s: mailbox %s: the message %s the index could not record "
			  "was not removed (%s); a retry may store it twice - remove the copy "
			  "by hand if the sender retries",
			  box->user->name, box->name, loc,
			  e2.text[0] ? e2.text : "the format cannot take an append back");
}

int store_msg_append_locked(struct store_mailbox *box, const struct store_source *src,
			    unsigned flags, const char *keywords, time_t internaldate,
			    const struct store_cache_in *cache, uint32_t *uid_r,
			    struct store_error *err)
{
	const struct store_backend *be = box->user->backend;
	struct store_backend_msg bm;
	struct index_box b;
	struct index_msg m;
	MDB_txn *txn;
	char *loc = NULL, *env = NULL, *bs = NULL, *hdr = NULL;
	uint64_t phys = 0, vsize = 0;
	int rc;

	if (keywords && strlen(keywords) > STORE_KEYWORDS_MAX) {
		store_error_set(err, STORE_ERR_PERM, "Too many keywords");
		return -1;
	}
	if (wbegin(box, &txn, &b, err) < 0)
		return -1;
	memset(&bm, 0, sizeof(bm));
	bm.uid = b.uidnext;
	bm.flags = flags & (STORE_FLAGS_STORED | STORE_FLAG_RECENT);
	bm.keywords = keywords ? keywords : "";
	bm.internaldate = internaldate;
	if (be->msg_append(box, src, &bm, &loc, &phys, &vsize, err) < 0) {
		wabort(box, txn);
		return -1;
	}
	memset(&m, 0, sizeof(m));
	/* The cache is filled in this same transaction: parsing reads the
	 * file just written (in the page cache), and a second transaction
	 * per message would double the commits (fsyncs) of a delivery. */
	if (cache && cache->envelope && cache->bodystructure && cache->header) {
		m.envelope = cache->envelope;
		m.bodystructure = cache->bodystructure;
		m.header = cache->header;
	} else if (phys <= STORE_CACHE_PARSE_MAX) {
		struct store_error e2 = { 0 };
		int fd;
		off_t off;
		uint64_t size;

		bm.loc = loc;
		bm.physical_size = phys;
		if (be->msg_open(box, &bm, &fd, &off, &size, &e2) == 0) {
			if (cache && cache->envelope && cache->bodystructure) {
				m.envelope = cache->envelope;
				m.bodystructure = cache->bodystructure;
			} else if (store_cache_build(fd, off, size, &env, &bs) == 0) {
				m.envelope = env;
				m.bodystructure = bs;
			}
			m.header = hdr = store_cache_header(fd, off, size);
			close(fd);
		}
	}
	m.uid = bm.uid;
	m.flags = (flags & STORE_FLAGS_STORED) | ((flags & STORE_FLAG_RECENT) ? INDEX_FLAG_IN_NEW : 0);
	m.modseq = b.highestmodseq + 1;
	m.internaldate = internaldate ? internaldate : time(NULL);
	m.vsize = vsize;
	m.physical = phys;
	m.loc = loc;
	m.keywords = keywords ? keywords : "";
	b.uidnext = bm.uid + 1;
	if (fault(STORE_FAULT_APPEND_RECORD)) {
		store_error_set(err, STORE_ERR_TEMP, "Internal error updating the index (injected)");
		rc = -1;
	} else {
		rc = index_msg_put(box->user->index, txn, &b, NULL, &m, err);
	}
	if (rc == 0)
		rc = index_box_put(box->user->index, txn, store_box_key(box->name), &b, err);
	if (rc < 0) {
		/* Still inside the write transaction and the backend lock:
		 * no other process can have seen the file through the index. */
		append_undo(box, loc);
		wabort(box, txn);
		goto out;
	}
	if (fault(STORE_FAULT_APPEND_COMMIT)) {
		index_abort_keep(box->user->index, txn);
		store_error_set(err, STORE_ERR_TEMP, "Internal error updating the index (injected)");
		rc = -1;
	} else {
		rc = index_commit_keep(box->user->index, txn, err);
	}
	/* A failed commit released LMDB's writer mutex but not our writer
	 * lock: the file goes before any other process can sync it in. */
	if (rc < 0)
		append_undo(box, loc);
	index_write_release(box->user->index);
	if (be->unlock)
		be->unlock(box);
	if (rc < 0)
		goto out;
	status_after_write(box, &b);
	if (uid_r)
		*uid_r = m.uid;
out:
	free(loc);
	free(env);
	free(hdr);
	free(bs);
	return rc;
}

int store_mailbox_append(struct store_mailbox *box, int fd, unsigned flags,
			 const char *keywords, time_t internaldate, uint32_t *uid_r,
			 struct store_error *err)
{
	struct store_source src = { .fd = fd };
	off_t cur, end;

	memset(err, 0, sizeof(*err));
	cur = lseek(fd, 0, SEEK_CUR);
	end = cur >= 0 ? lseek(fd, 0, SEEK_END) : -1;
	if (cur >= 0 && end >= 0)
		lseek(fd, cur, SEEK_SET);
	if (store_quota_check(box->user, end > cur ? (uint64_t)(end - cur) : 0, 1, err) < 0)
		return -1;
	return store_msg_append_locked(box, &src, flags & STORE_FLAGS_STORED, keywords, internaldate,
				       NULL, uid_r, err);
}

struct copy_info {
	unsigned flags;
	char keywords[STORE_KEYWORDS_MAX + 1];
	time_t internaldate;
	uint64_t size;
	char *env, *bs, *hdr;    /* the source's cache, NULL if none */
};

static int copy_info_cb(const struct store_msg *m, void *ctx)
{
	struct copy_info *ci = ctx;

	ci->flags = m->flags;
	str_copy(ci->keywords, m->keywords, sizeof(ci->keywords));
	ci->internaldate = m->internaldate;
	ci->size = m->size;
	/* The bytes served are the same in every format, so the texts are
	 * too; out of memory only costs the copy its cache (parsed again). */
	if (m->envelope && m->bodystructure) {
		ci->env = strdup(m->envelope);
		ci->bs = strdup(m->bodystructure);
	}
	if (m->header)
		ci->hdr = strdup(m->header);
	return 0;
}

static int msg_copy(struct store_mailbox *src, uint32_t uid, struct store_mailbox *dst,
		    bool check_quota, uint32_t *new_uid_r, struct store_error *err);

int store_msg_copy(struct store_mailbox *src, uint32_t uid, struct store_mailbox *dst,
		   uint32_t *new_uid_r, struct store_error *err)
{
	return msg_copy(src, uid, dst, true, new_uid_r, err);
}

int store_msg_move_within(struct store_mailbox *src, uint32_t uid, struct store_mailbox *dst,
			  struct store_error *err)
{
	uint32_t new_uid;

	if (msg_copy(src, uid, dst, false, &new_uid, err) < 0)
		return -1;
	return store_msg_expunge(src, uid, err) < 0 ? -1 : 0;
}

static int msg_copy(struct store_mailbox *src, uint32_t uid, struct store_mailbox *dst,
		    bool check_quota, uint32_t *new_uid_r, struct store_error *err)
{
	struct copy_info ci = { 0 };
	struct store_cache_in cache;
	struct store_source s;
	off_t off;
	uint64_t size;
	int fd, rc;

	memset(err, 0, sizeof(*err));
	rc = store_msg_get(src, uid, copy_info_cb, &ci, err);
	if (rc <= 0) {
		if (rc == 0)
			store_error_set(err, STORE_ERR_EXPUNGED, "Message was expunged");
		goto fail;
	}
	if (check_quota && store_quota_check(dst->user, ci.size, 1, err) < 0)
		goto fail;
	if (store_msg_open(src, uid, &fd, &off, &size, err) < 0)
		goto fail;
	if (lseek(fd, off, SEEK_SET) != off) {
		store_error_sys(err, "seek in message %u of %s", uid, src->name);
		close(fd);
		goto fail;
	}
	memset(&s, 0, sizeof(s));
	s.fd = fd;
	s.limit = size;
	if (size == 0) {
		/* limit 0 means "to EOF"; an empty message has nothing to read */
		s.fd = -1;
	}
	if (s.fd < 0) {
		close(fd);
		fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
		s.fd = fd;
	}
	cache.envelope = ci.env;
	cache.bodystructure = ci.bs;
	cache.header = ci.hdr;
	rc = store_msg_append_locked(dst, &s, ci.flags, ci.keywords,
				     ci.internaldate, &cache, new_uid_r, err);
	close(fd);
	free(ci.env);
	free(ci.bs);
	free(ci.hdr);
	return rc;
fail:
	free(ci.env);
	free(ci.bs);
	free(ci.hdr);
	return -1;
}

int store_msg_move(struct store_mailbox *src, uint32_t uid, struct store_mailbox *dst,
		   uint32_t *new_uid_r, struct store_error *err)
{
	if (store_msg_copy(src, uid, dst, new_uid_r, err) < 0)
		return -1;
	return store_msg_expunge(src, uid, err) < 0 ? -1 : 0;
}
