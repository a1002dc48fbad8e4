/*
 * index.c - the per-user LMDB index: one environment (a directory) with
 * six named databases:
 *   meta   "version" -> "3", "next_box_id" -> u32
 *   boxes  mailbox name -> struct index_box (fixed layout, little-endian host)
 *   msgs   box id (u32 BE) + UID (u32 BE) -> message record (below)
 *   subs   mailbox name -> "" (subscriptions; the mailbox need not exist)
 *   unseen box id (u32 BE) + UID (u32 BE) -> "" for every message without
 *          \Seen (version 2): written by index_msg_put/index_msg_del, the
 *          only writers of "msgs", so it changes in the same transaction
 *          as the flag, the append or the expunge. SEARCH UNSEEN and the
 *          first unseen UID read it instead of every record.
 *   cache  box id (u32 BE) + UID (u32 BE) -> env_len, bs_len, hdr_len
 *          (u32 each, UINT32_MAX = not cached) then the ENVELOPE and
 *          BODYSTRUCTURE texts and the raw header block, each
 *          NUL-terminated (version 3). Apart from the record
 *          so that a flag change rewrites ~100 bytes, not ~1 KB: written
 *          when a record is created (append, copy, sync) and by
 *          index_cache_put (cache fills), deleted with the record.
 *
 * Versions: 1 had no "unseen", 2 kept the cache in the records; an older
 * index is upgraded in place when it is opened (one write transaction
 * fills "unseen" from "msgs" and moves the cached texts to "cache"),
 * so nothing the index alone holds (mbox flags, UIDs, subscriptions,
 * keywords past Maildir's 26 letters) is lost. A version this code does
 * not know is refused with the rebuild hint.
 *
 * Message record: a fixed header (modseq, internaldate, sizes, flags, string
 * lengths) followed by loc and keywords, each NUL-terminated so readers
 * get C strings straight from the map. (Versions 1 and 2 also carried
 * the cached texts there; the header's env_len/bs_len are NOT_CACHED
 * since version 3.)
 *
 * The index is a cache: store/sync.c fills it from the mailbox files, and
 * `postern index rebuild` deletes it. LMDB gives one writer at a time
 * across processes (its lock file), readers never block, and a process
 * killed mid-transaction leaves the last committed state.
 *
 * Called by: the store/ core files through store-private.h.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "store/store-private.h"
#include "util.h"

#define INDEX_VERSION "3"
#define INDEX_MAPSIZE ((size_t)4 << 30) /* address space only; grows with use */

struct store_index {
	MDB_env *env;
	MDB_dbi meta, boxes, msgs, subs, unseen, cache;
	char *dir;
	int lock_fd;               /* postern.lock: byte 0 writer, byte 1 txn begin */
	MDB_txn *write_txn;        /* the write transaction holding byte 0 */
	unsigned refs;
	struct store_index *next;
};

/* LMDB forbids opening one environment twice in a process (an IMAP
 * process serves several sessions of one user), so environments are
 * shared by directory and counted. */
static struct store_index *open_indexes;

/*
 * Why our own locks around LMDB's: LMDB serialises writers and reader-slot
 * allocation with process-shared robust mutexes. A process killed by
 * SIGKILL in the middle of unlocking one (word already 0, waiters not yet
 * woken) leaves a waiter asleep for ever - the crash test hit it. fcntl
 * locks are released and their waiters woken by the kernel whatever way a
 * process dies, so: byte 0 is held for the whole of a write transaction,
 * byte 1 around every mdb_txn_begin and mdb_reader_check. Then at most one
 * process ever waits on an LMDB mutex, and no wakeup can be lost.
 */
static int lock_byte(int fd, off_t off, short type)
{
	struct flock fl = { .l_type = type, .l_whence = SEEK_SET, .l_start = off, .l_len = 1 };

	while (fcntl(fd, F_SETLKW, &fl) < 0) {
		if (errno != EINTR)
			return -1;
	}
	return 0;
}

struct msg_hdr {
	uint64_t modseq;
	int64_t internaldate;
	uint64_t vsize;
	uint64_t physical;
	uint32_t uid;
	uint32_t flags;
	uint32_t loc_len, kw_len, env_len, bs_len; /* env/bs: UINT32_MAX = not cached */
};

#define NOT_CACHED UINT32_MAX

static void msg_key(uint8_t key[8], uint32_t box_id, uint32_t uid);
static int msg_decode(const MDB_val *v, struct index_msg *m);

static int cache_encode(const char *env, const char *bs, const char *hdr, MDB_val *v);

/* upgrade - from version 1 or 2: fill "unseen" from every record of
 * "msgs" (version 1 had none; refilled for 2 as well, it costs little)
 * and move cached texts out of the records into "cache". In txn, which
 * holds the writers' lock: no process sees the index half upgraded.
 * 0 or an LMDB code. */
static int upgrade(struct store_index *idx, MDB_txn *txn)
{
	MDB_cursor *cur;
	MDB_val k, v, e = { .mv_size = 0, .mv_data = "" };
	struct index_msg m;
	int rc, ret = 0;

	if ((rc = mdb_drop(txn, idx->unseen, 0)) != 0 || (rc = mdb_drop(txn, idx->cache, 0)) != 0)
		return rc;
	if ((rc = mdb_cursor_open(txn, idx->msgs, &cur)) != 0)
		return rc;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		uint8_t key[8];
		MDB_val kk = { .mv_size = 8, .mv_data = key }, cv, nv;
		struct msg_hdr h;
		size_t keep;

		if (k.mv_size != 8 || msg_decode(&v, &m) < 0)
			continue; /* reported when read, like before */
		memcpy(key, k.mv_data, 8);
		if (!(m.flags & STORE_FLAG_SEEN) && (ret = mdb_put(txn, idx->unseen, &kk, &e, 0)) != 0)
			break;
		if (m.envelope == NULL && m.bodystructure == NULL)
			continue;
		if ((ret = cache_encode(m.envelope, m.bodystructure, NULL, &cv)) != 0)
			break;
		ret = mdb_put(txn, idx->cache, &kk, &cv, 0);
		free(cv.mv_data);
		if (ret != 0)
			break;
		/* the record without its texts: header, loc, keywords */
		memcpy(&h, v.mv_data, sizeof(h));
		keep = sizeof(h) + h.loc_len + 1 + h.kw_len + 1;
		h.env_len = NOT_CACHED;
		h.bs_len = NOT_CACHED;
		nv.mv_size = keep;
		nv.mv_data = malloc(keep);
		if (nv.mv_data == NULL) {
			ret = ENOMEM;
			break;
		}
		memcpy(nv.mv_data, &h, sizeof(h));
		memcpy((char *)nv.mv_data + sizeof(h), (const char *)v.mv_data + sizeof(h),
		       keep - sizeof(h));
		ret = mdb_put(txn, idx->msgs, &kk, &nv, 0);
		free(nv.mv_data);
		if (ret != 0)
			break;
		/* a write may move pages under the cursor: stand on the key
		 * again before stepping on */
		if ((ret = mdb_cursor_get(cur, &kk, &v, MDB_SET)) != 0)
			break;
	}
	mdb_cursor_close(cur);
	if (ret == 0 && rc != MDB_NOTFOUND)
		ret = rc;
	return ret;
}

void index_mdb_error(struct store_error *err, int rc, const char *what)
{
	log_error("index: %s: %s", what, mdb_strerror(rc));
	if (rc == MDB_MAP_FULL || rc == ENOSPC)
		store_error_set(err, STORE_ERR_TEMP, "Mail index is full, try again later");
	else
		store_error_set(err, STORE_ERR_TEMP, "Internal error in the mail index, see server log");
}

int index_open(const char *dir, bool create, struct store_index **idx_r, struct store_error *err)
{
	struct store_index *idx;
	MDB_txn *txn = NULL;
	MDB_val k, v;
	struct stat st;
	int rc;

	for (idx = open_indexes; idx; idx = idx->next) {
		if (strcmp(idx->dir, dir) == 0) {
			idx->refs++;
			*idx_r = idx;
			return 0;
		}
	}
	if (stat(dir, &st) < 0) {
		if (errno != ENOENT || !create) {
			store_error_sys(err, "index: %s", dir);
			return -1;
		}
		if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
			store_error_sys(err, "index: mkdir %s", dir);
			return -1;
		}
	}
	idx = calloc(1, sizeof(*idx));
	if (idx == NULL || (idx->dir = strdup(dir)) == NULL) {
		free(idx);
		store_error_set(err, STORE_ERR_TEMP, "Out of memory");
		return -1;
	}
	idx->lock_fd = -1;
	{
		char *lp = must_asprintf("%s/postern.lock", dir);

		idx->lock_fd = open(lp, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
		if (idx->lock_fd < 0)
			store_error_sys(err, "index: open %s", lp);
		free(lp);
		if (idx->lock_fd < 0)
			goto fail;
	}
	if ((rc = mdb_env_create(&idx->env)) != 0 ||
	    (rc = mdb_env_set_maxdbs(idx->env, 8)) != 0 ||
	    (rc = mdb_env_set_mapsize(idx->env, INDEX_MAPSIZE)) != 0 ||
	    (rc = mdb_env_open(idx->env, dir, MDB_NOTLS, 0600)) != 0) {
		index_mdb_error(err, rc, dir);
		goto fail;
	}
	/* Reader slots of processes that were killed stay taken until
	 * someone clears them; with enough kills the table fills up. */
	mdb_env_set_userctx(idx->env, idx);
	if (lock_byte(idx->lock_fd, 0, F_WRLCK) < 0 || lock_byte(idx->lock_fd, 1, F_WRLCK) < 0) {
		store_error_sys(err, "index: lock %s", dir);
		goto fail;
	}
	{
		int dead = 0;

		(void)mdb_reader_check(idx->env, &dead);
	}
	rc = mdb_txn_begin(idx->env, NULL, 0, &txn);
	lock_byte(idx->lock_fd, 1, F_UNLCK);
	if (rc != 0 ||
	    (rc = mdb_dbi_open(txn, "meta", MDB_CREATE, &idx->meta)) != 0 ||
	    (rc = mdb_dbi_open(txn, "boxes", MDB_CREATE, &idx->boxes)) != 0 ||
	    (rc = mdb_dbi_open(txn, "msgs", MDB_CREATE, &idx->msgs)) != 0 ||
	    (rc = mdb_dbi_open(txn, "subs", MDB_CREATE, &idx->subs)) != 0 ||
	    (rc = mdb_dbi_open(txn, "unseen", MDB_CREATE, &idx->unseen)) != 0 ||
	    (rc = mdb_dbi_open(txn, "cache", MDB_CREATE, &idx->cache)) != 0) {
		index_mdb_error(err, rc, dir);
		goto fail;
	}
	k.mv_data = "version";
	k.mv_size = 7;
	rc = mdb_get(txn, idx->meta, &k, &v);
	if (rc == 0 && v.mv_size == 1 && (memcmp(v.mv_data, "1", 1) == 0 ||
					   memcmp(v.mv_data, "2", 1) == 0)) {
		char from = *(const char *)v.mv_data;

		rc = upgrade(idx, txn);
		if (rc != 0) {
			index_mdb_error(err, rc, dir);
			goto fail;
		}
		log_info("index: %s: upgraded from version %c to " INDEX_VERSION, dir, from);
		rc = MDB_NOTFOUND; /* write the version below */
	}
	if (rc == MDB_NOTFOUND) {
		v.mv_data = INDEX_VERSION;
		v.mv_size = 1;
		rc = mdb_put(txn, idx->meta, &k, &v, 0);
	} else if (rc == 0 && (v.mv_size != 1 || memcmp(v.mv_data, INDEX_VERSION, 1) != 0)) {
		log_error("index: %s: unknown index version; run \"postern index rebuild\"", dir);
		store_error_set(err, STORE_ERR_TEMP, "Mail index needs a rebuild, see server log");
		goto fail;
	}
	if (rc != 0 || (rc = mdb_txn_commit(txn)) != 0) {
		txn = NULL;
		index_mdb_error(err, rc, dir);
		goto fail;
	}
	lock_byte(idx->lock_fd, 0, F_UNLCK);
	idx->refs = 1;
	idx->next = open_indexes;
	open_indexes = idx;
	*idx_r = idx;
	return 0;
fail:
	if (txn)
		mdb_txn_abort(txn);
	if (idx->env)
		mdb_env_close(idx->env);
	if (idx->lock_fd >= 0)
		close(idx->lock_fd); /* drops every lock of ours on it */
	free(idx->dir);
	free(idx);
	return -1;
}

void index_close(struct store_index **idx)
{
	struct store_index *x = *idx;

	if (x == NULL)
		return;
	*idx = NULL;
	if (--x->refs > 0)
		return;
	for (struct store_index **pp = &open_indexes; *pp; pp = &(*pp)->next) {
		if (*pp == x) {
			*pp = x->next;
			break;
		}
	}
	mdb_env_close(x->env);
	close(x->lock_fd);
	free(x->dir);
	free(x);
}

bool index_shared(const struct store_index *idx)
{
	return idx->refs > 1;
}

int index_remove(const char *dir, struct store_error *err)
{
	static const char *const files[] = { "data.mdb", "lock.mdb" };

	for (size_t i = 0; i < 2; i++) {
		char *p = must_asprintf("%s/%s", dir, files[i]);
		int rc = unlink(p);

		if (rc < 0 && errno != ENOENT) {
			store_error_sys(err, "index: unlink %s", p);
			free(p);
			return -1;
		}
		free(p);
	}
	return 0;
}

int index_begin(struct store_index *idx, bool write, MDB_txn **txn_r, struct store_error *err)
{
	int rc;

	if (write && lock_byte(idx->lock_fd, 0, F_WRLCK) < 0) {
		store_error_sys(err, "index: lock %s", idx->dir);
		return -1;
	}
	if (lock_byte(idx->lock_fd, 1, F_WRLCK) < 0) {
		store_error_sys(err, "index: lock %s", idx->dir);
		if (write)
			lock_byte(idx->lock_fd, 0, F_UNLCK);
		return -1;
	}
	rc = mdb_txn_begin(idx->env, NULL, write ? 0 : MDB_RDONLY, txn_r);
	lock_byte(idx->lock_fd, 1, F_UNLCK);
	if (rc != 0) {
		if (write)
			lock_byte(idx->lock_fd, 0, F_UNLCK);
		index_mdb_error(err, rc, idx->dir);
		return -1;
	}
	if (write)
		idx->write_txn = *txn_r;
	return 0;
}

int index_commit(MDB_txn *txn, struct store_error *err)
{
	struct store_index *idx = mdb_env_get_userctx(mdb_txn_env(txn));
	bool was_write = idx && idx->write_txn == txn;
	int rc = mdb_txn_commit(txn);

	if (was_write) {
		idx->write_txn = NULL;
		lock_byte(idx->lock_fd, 0, F_UNLCK);
	}
	if (rc != 0) {
		index_mdb_error(err, rc, "commit");
		return -1;
	}
	return 0;
}

int index_commit_light(MDB_txn *txn, struct store_error *err)
{
	MDB_env *env = mdb_txn_env(txn);
	int rc;

	/* The flag is the environment's, but an environment belongs to one
	 * thread of one process (store.h) and this process holds the writers'
	 * lock: no other commit can see it set. */
	if (mdb_env_set_flags(env, MDB_NOMETASYNC, 1) != 0)
		return index_commit(txn, err);
	rc = index_commit(txn, err);
	mdb_env_set_flags(env, MDB_NOMETASYNC, 0);
	return rc;
}

int index_commit_keep(struct store_index *idx, MDB_txn *txn, struct store_error *err)
{
	int rc;

	/* Like index_commit, but byte 0 (the writers' lock) stays ours: the
	 * caller may still have to undo a file change the commit was to
	 * record, before any other process can sync and see that file. */
	rc = mdb_txn_commit(txn);
	if (idx->write_txn == txn)
		idx->write_txn = NULL;
	if (rc != 0) {
		index_mdb_error(err, rc, "commit");
		return -1;
	}
	return 0;
}

void index_abort_keep(struct store_index *idx, MDB_txn *txn)
{
	mdb_txn_abort(txn);
	if (idx->write_txn == txn)
		idx->write_txn = NULL;
}

void index_write_release(struct store_index *idx)
{
	lock_byte(idx->lock_fd, 0, F_UNLCK);
}

void index_abort(MDB_txn *txn)
{
	struct store_index *idx;
	bool was_write;

	if (txn == NULL)
		return;
	idx = mdb_env_get_userctx(mdb_txn_env(txn));
	was_write = idx && idx->write_txn == txn;
	/* LMDB's mutex first, our lock after: the next writer must never
	 * wait on a mutex that is being released. */
	mdb_txn_abort(txn);
	if (was_write) {
		idx->write_txn = NULL;
		lock_byte(idx->lock_fd, 0, F_UNLCK);
	}
}

static MDB_val key_str(const char *s)
{
	MDB_val k = { .mv_size = strlen(s), .mv_data = (void *)s };
	return k;
}

int index_box_get(struct store_index *idx, MDB_txn *txn, const char *name, struct index_box *b,
		  struct store_error *err)
{
	MDB_val k = key_str(name), v;
	int rc = mdb_get(txn, idx->boxes, &k, &v);

	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc != 0) {
		index_mdb_error(err, rc, "mailbox record");
		return -1;
	}
	if (v.mv_size != sizeof(*b)) {
		log_error("index: %s: mailbox record of %s has a bad size; run \"postern index rebuild\"",
			  idx->dir, name);
		store_error_set(err, STORE_ERR_TEMP, "Mail index is corrupt, see server log");
		return -1;
	}
	memcpy(b, v.mv_data, sizeof(*b));
	if (b->stamp_len > STORE_SYNC_STAMP_MAX)
		b->stamp_len = 0;
	return 1;
}

int index_box_put(struct store_index *idx, MDB_txn *txn, const char *name,
		  const struct index_box *b, struct store_error *err)
{
	MDB_val k = key_str(name), v = { .mv_size = sizeof(*b), .mv_data = (void *)b };
	int rc = mdb_put(txn, idx->boxes, &k, &v, 0);

	if (rc != 0) {
		index_mdb_error(err, rc, "mailbox record");
		return -1;
	}
	return 0;
}

int index_box_new(struct store_index *idx, MDB_txn *txn, struct index_box *b,
		  struct store_error *err)
{
	MDB_val k = key_str("next_box_id"), v;
	uint32_t id = 1;
	int rc = mdb_get(txn, idx->meta, &k, &v);

	if (rc == 0 && v.mv_size == sizeof(id))
		memcpy(&id, v.mv_data, sizeof(id));
	else if (rc != 0 && rc != MDB_NOTFOUND) {
		index_mdb_error(err, rc, "next_box_id");
		return -1;
	}
	memset(b, 0, sizeof(*b));
	b->id = id++;
	b->uidvalidity = (uint32_t)time(NULL);
	b->uidnext = 1;
	b->highestmodseq = 1;
	b->recent_floor = 1;
	v.mv_size = sizeof(id);
	v.mv_data = &id;
	if ((rc = mdb_put(txn, idx->meta, &k, &v, 0)) != 0) {
		index_mdb_error(err, rc, "next_box_id");
		return -1;
	}
	return 0;
}

static void msg_key(uint8_t key[8], uint32_t box_id, uint32_t uid)
{
	key[0] = box_id >> 24;
	key[1] = box_id >> 16;
	key[2] = box_id >> 8;
	key[3] = box_id;
	key[4] = uid >> 24;
	key[5] = uid >> 16;
	key[6] = uid >> 8;
	key[7] = uid;
}

static uint32_t key_u32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Decode a record; 0, or -1 when it is malformed. */
static int msg_decode(const MDB_val *v, struct index_msg *m)
{
	struct msg_hdr h;
	const char *p;
	size_t rest, need;

	if (v->mv_size < sizeof(h))
		return -1;
	memcpy(&h, v->mv_data, sizeof(h));
	p = (const char *)v->mv_data + sizeof(h);
	rest = v->mv_size - sizeof(h);
	need = (size_t)h.loc_len + 1 + h.kw_len + 1;
	if (h.env_len != NOT_CACHED)
		need += (size_t)h.env_len + 1;
	if (h.bs_len != NOT_CACHED)
		need += (size_t)h.bs_len + 1;
	if (need != rest)
		return -1;
	m->uid = h.uid;
	m->flags = h.flags;
	m->modseq = h.modseq;
	m->internaldate = h.internaldate;
	m->vsize = h.vsize;
	m->physical = h.physical;
	m->loc = p;
	p += h.loc_len + 1;
	m->keywords = p;
	p += h.kw_len + 1;
	m->envelope = NULL;
	m->bodystructure = NULL;
	m->header = NULL;
	if (h.env_len != NOT_CACHED) {
		m->envelope = p;
		p += h.env_len + 1;
	}
	if (h.bs_len != NOT_CACHED)
		m->bodystructure = p;
	return 0;
}

/* cache_encode - the "cache" value of the three texts (any may be NULL:
 * not cached) in new memory (v->mv_data, caller frees). 0 or ENOMEM. */
static int cache_encode(const char *env, const char *bs, const char *hdr, MDB_val *v)
{
	const char *t[3] = { env, bs, hdr };
	uint32_t l[3];
	char *p;

	v->mv_size = sizeof(l);
	for (int i = 0; i < 3; i++) {
		l[i] = t[i] ? (uint32_t)strlen(t[i]) : NOT_CACHED;
		if (t[i])
			v->mv_size += (size_t)l[i] + 1;
	}
	v->mv_data = p = malloc(v->mv_size);
	if (p == NULL)
		return ENOMEM;
	memcpy(p, l, sizeof(l));
	p += sizeof(l);
	for (int i = 0; i < 3; i++) {
		if (t[i]) {
			memcpy(p, t[i], l[i] + 1);
			p += l[i] + 1;
		}
	}
	return 0;
}

/* cache_decode - point m's texts into a "cache" value; -1 when it is
 * malformed (then m's texts stay NULL). */
static int cache_decode(const MDB_val *v, struct index_msg *m)
{
	const char *t[3] = { NULL, NULL, NULL };
	uint32_t l[3];
	const char *p;
	size_t need = sizeof(l);

	if (v->mv_size < sizeof(l))
		return -1;
	memcpy(l, v->mv_data, sizeof(l));
	for (int i = 0; i < 3; i++) {
		if (l[i] != NOT_CACHED)
			need += (size_t)l[i] + 1;
	}
	if (need != v->mv_size)
		return -1;
	p = (const char *)v->mv_data + sizeof(l);
	for (int i = 0; i < 3; i++) {
		if (l[i] == NOT_CACHED)
			continue;
		if (p[l[i]] != '\0')
			return -1;
		t[i] = p;
		p += l[i] + 1;
	}
	m->envelope = t[0];
	m->bodystructure = t[1];
	m->header = t[2];
	return 0;
}

/* cache_join - the cached texts of key into m (left NULL when there are
 * none). 0, or -1 with err. */
static int cache_join(struct store_index *idx, MDB_txn *txn, MDB_val *k, struct index_msg *m,
		      struct store_error *err)
{
	MDB_val v;
	int rc = mdb_get(txn, idx->cache, k, &v);

	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc != 0) {
		index_mdb_error(err, rc, "cache record");
		return -1;
	}
	if (cache_decode(&v, m) < 0)
		log_error("index: %s: cache record of UID %u is malformed; it is built again",
			  idx->dir, m->uid);
	return 0;
}

int index_cache_put(struct store_index *idx, MDB_txn *txn, uint32_t box_id, uint32_t uid,
		    const char *envelope, const char *bodystructure, const char *header,
		    struct store_error *err)
{
	uint8_t key[8];
	MDB_val k = { .mv_size = 8, .mv_data = key }, v;
	int rc;

	if ((envelope && strlen(envelope) > (1u << 24)) ||
	    (bodystructure && strlen(bodystructure) > (1u << 24)) ||
	    (header && strlen(header) > STORE_HEADER_CACHE_MAX)) {
		store_error_set(err, STORE_ERR_PERM, "Message data too large for the index");
		return -1;
	}
	msg_key(key, box_id, uid);
	if (envelope == NULL && bodystructure == NULL && header == NULL) {
		rc = mdb_del(txn, idx->cache, &k, NULL);
		if (rc != 0 && rc != MDB_NOTFOUND) {
			index_mdb_error(err, rc, "cache record");
			return -1;
		}
		return 0;
	}
	if (cache_encode(envelope, bodystructure, header, &v) != 0) {
		store_error_set(err, STORE_ERR_TEMP, "Out of memory");
		return -1;
	}
	rc = mdb_put(txn, idx->cache, &k, &v, 0);
	free(v.mv_data);
	if (rc != 0) {
		index_mdb_error(err, rc, "cache record");
		return -1;
	}
	return 0;
}

static int msg_get(struct store_index *idx, MDB_txn *txn, uint32_t box_id, uint32_t uid,
		   struct index_msg *m, bool cache, struct store_error *err)
{
	uint8_t key[8];
	MDB_val k = { .mv_size = 8, .mv_data = key }, v;
	int rc;

	msg_key(key, box_id, uid);
	rc = mdb_get(txn, idx->msgs, &k, &v);
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc != 0) {
		index_mdb_error(err, rc, "message record");
		return -1;
	}
	if (msg_decode(&v, m) < 0 || m->uid != uid) {
		log_error("index: %s: record of UID %u is malformed; run \"postern index rebuild\"",
			  idx->dir, uid);
		store_error_set(err, STORE_ERR_TEMP, "Mail index is corrupt, see server log");
		return -1;
	}
	if (cache && cache_join(idx, txn, &k, m, err) < 0)
		return -1;
	return 1;
}

int index_msg_get(struct store_index *idx, MDB_txn *txn, uint32_t box_id, uint32_t uid,
		  struct index_msg *m, struct store_error *err)
{
	return msg_get(idx, txn, box_id, uid, m, true, err);
}

int index_msg_get_bare(struct store_index *idx, MDB_txn *txn, uint32_t box_id, uint32_t uid,
		       struct index_msg *m, struct store_error *err)
{
	return msg_get(idx, txn, box_id, uid, m, false, err);
}

static void account(struct index_box *b, const struct index_msg *m, int sign)
{
	if (m == NULL)
		return;
	if (sign > 0) {
		b->messages++;
		b->vsize += m->vsize;
		if (!(m->flags & STORE_FLAG_SEEN))
			b->unseen++;
	} else {
		b->messages = b->messages ? b->messages - 1 : 0;
		b->vsize = b->vsize >= m->vsize ? b->vsize - m->vsize : 0;
		if (!(m->flags & STORE_FLAG_SEEN) && b->unseen)
			b->unseen--;
	}
}

/* unseen_update - keep "unseen" in step with a record written with
 * flags (old: the record before, NULL for a new one). Touches the
 * database only when the \Seen state changes. 0 or -1 with err. */
static int unseen_update(struct store_index *idx, MDB_txn *txn, uint32_t box_id, uint32_t uid,
			 const struct index_msg *old, uint32_t flags, struct store_error *err)
{
	uint8_t key[8];
	MDB_val k = { .mv_size = 8, .mv_data = key }, e = { .mv_size = 0, .mv_data = "" };
	bool now = !(flags & STORE_FLAG_SEEN);
	int rc;

	if (old != NULL && old->uid == uid && !(old->flags & STORE_FLAG_SEEN) == now)
		return 0;
	msg_key(key, box_id, uid);
	rc = now ? mdb_put(txn, idx->unseen, &k, &e, 0) : mdb_del(txn, idx->unseen, &k, NULL);
	if (rc != 0 && rc != MDB_NOTFOUND) {
		index_mdb_error(err, rc, "unseen set");
		return -1;
	}
	return 0;
}

int index_msg_put(struct store_index *idx, MDB_txn *txn, struct index_box *b,
		  const struct index_msg *old, const struct index_msg *m, struct store_error *err)
{
	struct msg_hdr h;
	uint8_t key[8];
	MDB_val k = { .mv_size = 8, .mv_data = key }, v;
	size_t kw = m->keywords ? strlen(m->keywords) : 0;
	size_t loc = strlen(m->loc);
	char *buf, *p;
	int rc;

	if (loc > STORE_LOC_MAX || kw > STORE_KEYWORDS_MAX) {
		store_error_set(err, STORE_ERR_PERM, "Message data too large for the index");
		return -1;
	}
	memset(&h, 0, sizeof(h));
	h.modseq = m->modseq;
	h.internaldate = m->internaldate;
	h.vsize = m->vsize;
	h.physical = m->physical;
	h.uid = m->uid;
	h.flags = m->flags & (STORE_FLAGS_STORED | INDEX_FLAG_IN_NEW);
	h.loc_len = (uint32_t)loc;
	h.kw_len = (uint32_t)kw;
	h.env_len = NOT_CACHED; /* the texts live in "cache" */
	h.bs_len = NOT_CACHED;
	v.mv_size = sizeof(h) + loc + 1 + kw + 1;
	buf = malloc(v.mv_size);
	if (buf == NULL) {
		store_error_set(err, STORE_ERR_TEMP, "Out of memory");
		return -1;
	}
	memcpy(buf, &h, sizeof(h));
	p = buf + sizeof(h);
	memcpy(p, m->loc, loc + 1);
	p += loc + 1;
	memcpy(p, kw ? m->keywords : "", kw + 1);
	v.mv_data = buf;
	msg_key(key, b->id, m->uid);
	rc = mdb_put(txn, idx->msgs, &k, &v, 0);
	free(buf);
	if (rc != 0) {
		index_mdb_error(err, rc, "message record");
		return -1;
	}
	if (unseen_update(idx, txn, b->id, m->uid, old, m->flags, err) < 0)
		return -1;
	/* a new record brings its cache (or clears a stale one); an update
	 * leaves it alone: cache fills go through index_cache_put */
	if ((old == NULL || old->uid != m->uid) &&
	    index_cache_put(idx, txn, b->id, m->uid, m->envelope, m->bodystructure, m->header,
			    err) < 0)
		return -1;
	account(b, old, -1);
	account(b, m, 1);
	if (m->modseq > b->highestmodseq)
		b->highestmodseq = m->modseq;
	return 0;
}

int index_msg_del(struct store_index *idx, MDB_txn *txn, struct index_box *b,
		  const struct index_msg *old, struct store_error *err)
{
	uint8_t key[8];
	MDB_val k = { .mv_size = 8, .mv_data = key };
	int rc;

	msg_key(key, b->id, old->uid);
	rc = mdb_del(txn, idx->unseen, &k, NULL);
	if (rc == 0 || rc == MDB_NOTFOUND)
		rc = mdb_del(txn, idx->cache, &k, NULL);
	if (rc != 0 && rc != MDB_NOTFOUND) {
		index_mdb_error(err, rc, "unseen set or cache");
		return -1;
	}
	rc = mdb_del(txn, idx->msgs, &k, NULL);
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc != 0) {
		index_mdb_error(err, rc, "message record");
		return -1;
	}
	account(b, old, -1);
	return 0;
}

/* foreach - index_msg_foreach; cache: join each record's cached texts
 * with a second cursor walking "cache" in the same key order (its keys
 * are a subset of the records'), so the join costs a step, not a search. */
static int foreach(struct store_index *idx, MDB_txn *txn, uint32_t box_id, uint32_t from_uid,
		   bool cache, index_msg_fn *fn, void *ctx, struct store_error *err)
{
	uint8_t key[8];
	MDB_val k = { .mv_size = 8, .mv_data = key }, v, ck = k, cv;
	MDB_cursor *cur, *ccur = NULL;
	struct index_msg m;
	int rc, crc = MDB_NOTFOUND, ret = 0;

	msg_key(key, box_id, from_uid);
	if ((rc = mdb_cursor_open(txn, idx->msgs, &cur)) != 0) {
		index_mdb_error(err, rc, "cursor");
		return -1;
	}
	if (cache) {
		if ((rc = mdb_cursor_open(txn, idx->cache, &ccur)) != 0) {
			mdb_cursor_close(cur);
			index_mdb_error(err, rc, "cursor");
			return -1;
		}
		crc = mdb_cursor_get(ccur, &ck, &cv, MDB_SET_RANGE);
	}
	rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	while (rc == 0) {
		if (k.mv_size != 8 || key_u32(k.mv_data) != box_id)
			break;
		if (msg_decode(&v, &m) < 0 || m.uid != key_u32((const uint8_t *)k.mv_data + 4)) {
			log_error("index: %s: malformed message record; run \"postern index rebuild\"",
				  idx->dir);
			store_error_set(err, STORE_ERR_TEMP, "Mail index is corrupt, see server log");
			ret = -1;
			break;
		}
		/* cache keys below this record's: records deleted meanwhile
		 * never leave any, so this loop runs once at most, normally */
		while (crc == 0 && ck.mv_size == 8 && memcmp(ck.mv_data, k.mv_data, 8) < 0)
			crc = mdb_cursor_get(ccur, &ck, &cv, MDB_NEXT);
		if (crc == 0 && ck.mv_size == 8 && memcmp(ck.mv_data, k.mv_data, 8) == 0 &&
		    cache_decode(&cv, &m) < 0)
			log_error("index: %s: cache record of UID %u is malformed; it is built again",
				  idx->dir, m.uid);
		if ((ret = fn(&m, ctx)) != 0)
			break;
		rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
	}
	if (ret == 0 && rc != 0 && rc != MDB_NOTFOUND) {
		index_mdb_error(err, rc, "cursor");
		ret = -1;
	}
	if (ccur != NULL)
		mdb_cursor_close(ccur);
	mdb_cursor_close(cur);
	return ret;
}

int index_msg_foreach(struct store_index *idx, MDB_txn *txn, uint32_t box_id, uint32_t from_uid,
		      index_msg_fn *fn, void *ctx, struct store_error *err)
{
	return foreach(idx, txn, box_id, from_uid, true, fn, ctx, err);
}

int index_msg_foreach_bare(struct store_index *idx, MDB_txn *txn, uint32_t box_id,
			   uint32_t from_uid, index_msg_fn *fn, void *ctx, struct store_error *err)
{
	return foreach(idx, txn, box_id, from_uid, false, fn, ctx, err);
}

int index_unseen_foreach(struct store_index *idx, MDB_txn *txn, uint32_t box_id,
			 uint32_t from_uid, index_uid_fn *fn, void *ctx, struct store_error *err)
{
	uint8_t key[8];
	MDB_val k = { .mv_size = 8, .mv_data = key }, v;
	MDB_cursor *cur;
	int rc, ret = 0;

	msg_key(key, box_id, from_uid);
	if ((rc = mdb_cursor_open(txn, idx->unseen, &cur)) != 0) {
		index_mdb_error(err, rc, "cursor");
		return -1;
	}
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (k.mv_size != 8 || key_u32(k.mv_data) != box_id)
			break;
		if ((ret = fn(key_u32((const uint8_t *)k.mv_data + 4), ctx)) != 0)
			break;
	}
	if (ret == 0 && rc != 0 && rc != MDB_NOTFOUND) {
		index_mdb_error(err, rc, "cursor");
		ret = -1;
	}
	mdb_cursor_close(cur);
	return ret;
}

/* range_del - every key of box_id in dbi. 0 or an LMDB code. */
static int range_del(MDB_txn *txn, MDB_dbi dbi, uint32_t box_id)
{
	uint8_t key[8];
	MDB_val k = { .mv_size = 8, .mv_data = key }, v;
	MDB_cursor *cur;
	int rc;

	msg_key(key, box_id, 0);
	if ((rc = mdb_cursor_open(txn, dbi, &cur)) != 0)
		return rc;
	rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	while (rc == 0 && k.mv_size == 8 && key_u32(k.mv_data) == box_id) {
		if ((rc = mdb_cursor_del(cur, 0)) != 0)
			break;
		rc = mdb_cursor_get(cur, &k, &v, MDB_GET_CURRENT);
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND || rc == EINVAL ? 0 : rc;
}

int index_box_del(struct store_index *idx, MDB_txn *txn, const char *name,
		  struct store_error *err)
{
	struct index_box b;
	MDB_val nk;
	int rc = index_box_get(idx, txn, name, &b, err);

	if (rc <= 0)
		return rc;
	if ((rc = range_del(txn, idx->msgs, b.id)) != 0 ||
	    (rc = range_del(txn, idx->unseen, b.id)) != 0 ||
	    (rc = range_del(txn, idx->cache, b.id)) != 0) {
		index_mdb_error(err, rc, "delete mailbox");
		return -1;
	}
	nk = key_str(name);
	rc = mdb_del(txn, idx->boxes, &nk, NULL);
	if (rc != 0 && rc != MDB_NOTFOUND) {
		index_mdb_error(err, rc, "delete mailbox");
		return -1;
	}
	return 1;
}

int index_box_unname(struct store_index *idx, MDB_txn *txn, const char *name,
		     struct store_error *err)
{
	MDB_val k = key_str(name);
	int rc = mdb_del(txn, idx->boxes, &k, NULL);

	if (rc != 0 && rc != MDB_NOTFOUND) {
		index_mdb_error(err, rc, "rename mailbox");
		return -1;
	}
	return 0;
}

int index_box_foreach(struct store_index *idx, MDB_txn *txn, index_box_fn *fn, void *ctx,
		      struct store_error *err)
{
	MDB_cursor *cur;
	MDB_val k, v;
	struct index_box b;
	int rc, ret = 0;

	if ((rc = mdb_cursor_open(txn, idx->boxes, &cur)) != 0) {
		index_mdb_error(err, rc, "cursor");
		return -1;
	}
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		char name[1024];

		if (v.mv_size != sizeof(b) || k.mv_size >= sizeof(name))
			continue;
		memcpy(&b, v.mv_data, sizeof(b));
		memcpy(name, k.mv_data, k.mv_size);
		name[k.mv_size] = '\0';
		if ((ret = fn(name, &b, ctx)) != 0)
			break;
	}
	mdb_cursor_close(cur);
	return ret;
}

int index_sub_set(struct store_index *idx, MDB_txn *txn, const char *name, bool on,
		  struct store_error *err)
{
	MDB_val k = key_str(name), v = { .mv_size = 0, .mv_data = "" };
	int rc = on ? mdb_put(txn, idx->subs, &k, &v, 0) : mdb_del(txn, idx->subs, &k, NULL);

	if (rc != 0 && rc != MDB_NOTFOUND) {
		index_mdb_error(err, rc, "subscriptions");
		return -1;
	}
	return 0;
}

int index_sub_foreach(struct store_index *idx, MDB_txn *txn, index_sub_fn *fn, void *ctx,
		      struct store_error *err)
{
	MDB_cursor *cur;
	MDB_val k, v;
	int rc, ret = 0;

	if ((rc = mdb_cursor_open(txn, idx->subs, &cur)) != 0) {
		index_mdb_error(err, rc, "cursor");
		return -1;
	}
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		char name[1024];

		if (k.mv_size >= sizeof(name))
			continue;
		memcpy(name, k.mv_data, k.mv_size);
		name[k.mv_size] = '\0';
		if ((ret = fn(name, ctx)) != 0)
			break;
	}
	mdb_cursor_close(cur);
	return ret;
}
