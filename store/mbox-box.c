/*
 * mbox-box.c - one open mbox mailbox for the store core: locking it,
 * syncing it into the index (sync_check/sync_scan), the per-process cache
 * of message offsets, reading (unquoted), appending, marking and expunging
 * messages, and the UID state file. The design (locs, flags, UIDs) is
 * described in mbox-backend.c; the functions are the store_backend
 * entries that mbox-backend.c lists, documented in store-backend.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "store/mbox-private.h"
#include "store/mbox-backend-private.h"
#include "store/store-backend.h"
#include "util.h"

#define MBOX_LOC_MAX 32

struct mbox_entry {
	char loc[MBOX_LOC_MAX];
	uint64_t ident;
	uint64_t header_offset, end_offset, size_unquoted;
};

struct file_id {
	uint64_t dev, ino, size;
	int64_t mtime_ns, ctime_ns;
};

struct mbox_box {
	char *path;
	char *dir;
	int fd;                     /* open while locked */
	struct mbox_lock *lock;
	bool exclusive;
	struct mbox_entry *ents;    /* sorted by loc when cache_valid */
	size_t n_ents, cap_ents;
	struct file_id cache_id;
	bool cache_valid;
	char **expunge;             /* locs marked by msg_expunge */
	size_t n_expunge, cap_expunge;
	/* The message msg_append wrote under the current write lock: found
	 * without a scan (the cache fill reads it back at once) and cut off
	 * again by msg_append_undo. Valid until the lock is released. */
	struct mbox_entry last;
	uint64_t last_start, last_end; /* file size before / after that append */
	bool last_valid;
};

static void file_id_of(const struct stat *st, struct file_id *id)
{
	memset(id, 0, sizeof(*id));
	id->dev = (uint64_t)st->st_dev;
	id->ino = (uint64_t)st->st_ino;
	id->size = (uint64_t)st->st_size;
	id->mtime_ns = (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
	id->ctime_ns = (int64_t)st->st_ctim.tv_sec * 1000000000 + st->st_ctim.tv_nsec;
}

static unsigned store_flags_of(unsigned f)
{
	return ((f & MBOX_FLAG_SEEN) ? STORE_FLAG_SEEN : 0) |
	       ((f & MBOX_FLAG_ANSWERED) ? STORE_FLAG_ANSWERED : 0) |
	       ((f & MBOX_FLAG_FLAGGED) ? STORE_FLAG_FLAGGED : 0) |
	       ((f & MBOX_FLAG_DELETED) ? STORE_FLAG_DELETED : 0) |
	       ((f & MBOX_FLAG_DRAFT) ? STORE_FLAG_DRAFT : 0);
}

/* ------------------------------------------------- naming: ident -> loc */

/* Counts how often each identity was seen so far in file order, so the
 * Nth copy of an identical message gets ".N". Open addressing. */
struct namer {
	uint64_t *keys;
	uint32_t *counts;
	size_t cap, used;
};

static void namer_free(struct namer *nm)
{
	free(nm->keys);
	free(nm->counts);
	memset(nm, 0, sizeof(*nm));
}

static int namer_grow(struct namer *nm)
{
	size_t ncap = nm->cap ? nm->cap * 2 : 1024;
	uint64_t *keys = calloc(ncap, sizeof(*keys));
	uint32_t *counts = calloc(ncap, sizeof(*counts));

	if (keys == NULL || counts == NULL) {
		free(keys);
		free(counts);
		return -1;
	}
	for (size_t i = 0; i < nm->cap; i++) {
		size_t j;

		if (nm->counts[i] == 0)
			continue;
		for (j = nm->keys[i] & (ncap - 1); counts[j]; j = (j + 1) & (ncap - 1))
			;
		keys[j] = nm->keys[i];
		counts[j] = nm->counts[i];
	}
	free(nm->keys);
	free(nm->counts);
	nm->keys = keys;
	nm->counts = counts;
	nm->cap = ncap;
	return 0;
}

/* The loc of the next message with this identity; -1 out of memory. */
static int namer_next(struct namer *nm, uint64_t ident, char loc[MBOX_LOC_MAX])
{
	size_t j;

	if ((nm->used + 1) * 2 > nm->cap && namer_grow(nm) < 0)
		return -1;
	for (j = ident & (nm->cap - 1); nm->counts[j] && nm->keys[j] != ident; j = (j + 1) & (nm->cap - 1))
		;
	if (nm->counts[j] == 0) {
		nm->keys[j] = ident;
		nm->used++;
	}
	nm->counts[j]++;
	if (nm->counts[j] == 1)
		snprintf(loc, MBOX_LOC_MAX, "h%016" PRIx64, ident);
	else
		snprintf(loc, MBOX_LOC_MAX, "h%016" PRIx64 ".%u", ident, nm->counts[j]);
	return 0;
}

/* ---------------------------------------------------------- the cache */

static int ent_cmp(const void *a, const void *b)
{
	return strcmp(((const struct mbox_entry *)a)->loc, ((const struct mbox_entry *)b)->loc);
}

static int ents_add(struct mbox_box *mb, const struct mbox_msg *msg, const char *loc)
{
	struct mbox_entry *e;

	if (mb->n_ents == mb->cap_ents) {
		size_t ncap = mb->cap_ents ? mb->cap_ents * 2 : 256;
		struct mbox_entry *n = realloc(mb->ents, ncap * sizeof(*n));

		if (n == NULL)
			return -1;
		mb->ents = n;
		mb->cap_ents = ncap;
	}
	e = &mb->ents[mb->n_ents++];
	str_copy(e->loc, loc, sizeof(e->loc));
	e->ident = msg->ident;
	e->header_offset = msg->header_offset;
	e->end_offset = msg->end_offset;
	e->size_unquoted = msg->size_unquoted;
	return 0;
}

static const struct mbox_entry *ents_find(struct mbox_box *mb, const char *loc)
{
	struct mbox_entry key;

	if (str_copy(key.loc, loc, sizeof(key.loc)) >= sizeof(key.loc))
		return NULL;
	if (mb->n_ents == 0) /* bsearch/qsort want a non-NULL base even for 0 */
		return NULL;
	return bsearch(&key, mb->ents, mb->n_ents, sizeof(*mb->ents), ent_cmp);
}

/* Called for every message of a scan, in file order. */
typedef int scan_fn(struct mbox_box *mb, const struct mbox_msg *msg, const char *loc, void *ctx);

/*
 * Read the whole mbox (fd), rebuild the cache and call fn per message.
 * 0, or -1 with err. The file identity is taken before reading, so a
 * change during the read is noticed by the next check.
 */
static int scan_file(struct mbox_box *mb, int fd, scan_fn *fn, void *ctx, struct store_sync *sc,
		     struct store_error *err)
{
	struct mbox_reader *r;
	struct mbox_msg msg;
	struct namer nm = { 0 };
	struct stat st;
	char loc[MBOX_LOC_MAX];
	char *why = NULL;
	int rc;

	mb->cache_valid = false;
	mb->n_ents = 0;
	if (fstat(fd, &st) < 0) {
		store_error_sys(err, "fstat %s", mb->path);
		return -1;
	}
	file_id_of(&st, &mb->cache_id);
	if (sc != NULL)
		store_sync_set_stamp(sc, &mb->cache_id, sizeof(mb->cache_id));
	r = mbox_reader_open(fd);
	if (r == NULL) {
		store_error_set(err, STORE_ERR_TEMP, "Out of memory");
		return -1;
	}
	while ((rc = mbox_reader_next(r, &msg, &why)) > 0) {
		if (namer_next(&nm, msg.ident, loc) < 0 || ents_add(mb, &msg, loc) < 0) {
			store_error_set(err, STORE_ERR_TEMP, "Out of memory");
			rc = -3;
			break;
		}
		if (fn && fn(mb, &msg, loc, ctx) < 0) {
			rc = -3;
			break;
		}
	}
	mbox_reader_free(&r);
	namer_free(&nm);
	if (rc == -2) {
		log_error("store: %s: %s", mb->path, why);
		store_error_set(err, STORE_ERR_PERM, "Mailbox file is not in mbox format");
	} else if (rc == -1) {
		log_error("store: %s: %s", mb->path, why);
		store_error_set(err, STORE_ERR_TEMP, "Internal error reading the mailbox");
	}
	free(why);
	if (rc < 0)
		return -1;
	if (mb->n_ents > 0)
		qsort(mb->ents, mb->n_ents, sizeof(*mb->ents), ent_cmp);
	mb->cache_valid = true;
	return 0;
}

/* Is the cache still the file at fd? */
static bool cache_current(struct mbox_box *mb, int fd)
{
	struct stat st;
	struct file_id id;

	if (!mb->cache_valid || fstat(fd, &st) < 0)
		return false;
	file_id_of(&st, &id);
	return memcmp(&id, &mb->cache_id, sizeof(id)) == 0;
}

/* ------------------------------------------------------- open mailbox */

static void box_free(struct mbox_box *mb)
{
	if (mb == NULL)
		return;
	mbox_lock_release(&mb->lock);
	if (mb->fd >= 0)
		close(mb->fd);
	for (size_t i = 0; i < mb->n_expunge; i++)
		free(mb->expunge[i]);
	free(mb->expunge);
	free(mb->ents);
	free(mb->path);
	free(mb->dir);
	free(mb);
}

int mbox_box_open(struct store_mailbox *box, struct store_error *err)
{
	struct store_user *u = store_mailbox_user(box);
	const char *name = store_mailbox_name(box);
	struct mbox_box *mb;
	struct stat st;
	char *slash;

	mb = calloc(1, sizeof(*mb));
	if (mb == NULL) {
		store_error_set(err, STORE_ERR_TEMP, "Out of memory");
		return -1;
	}
	mb->fd = -1;
	mb->path = mbox_be_mailbox_path(u, name);
	if (mb->path == NULL) {
		store_error_set(err, STORE_ERR_NOTFOUND, "Mailbox does not exist");
		box_free(mb);
		return -1;
	}
	mb->dir = must_strdup(mb->path);
	slash = strrchr(mb->dir, '/');
	if (slash && slash != mb->dir)
		*slash = '\0';
	if (stat(mb->path, &st) < 0 && errno == ENOENT && strcasecmp(name, "INBOX") == 0 &&
	    (mbox_be_mkdir_parents(mb->path) < 0 || mbox_be_create_empty(mb->path) < 0)) {
		store_error_sys(err, "create INBOX %s", mb->path);
		box_free(mb);
		return -1;
	}
	if (stat(mb->path, &st) < 0 || !S_ISREG(st.st_mode)) {
		store_error_set(err, STORE_ERR_NOTFOUND, "Mailbox does not exist");
		box_free(mb);
		return -1;
	}
	store_mailbox_set_backend_data(box, mb);
	return 0;
}

void mbox_box_close(struct store_mailbox *box)
{
	box_free(store_mailbox_backend_data(box));
	store_mailbox_set_backend_data(box, NULL);
}

void mbox_box_unlock(struct store_mailbox *box);

static bool journal_exists(const char *path)
{
	char jr[PATH_MAX];

	return mbox_journal_path(path, jr, sizeof(jr)) == 0 && access(jr, F_OK) == 0;
}

int mbox_box_lock(struct store_mailbox *box, bool exclusive, struct store_error *err)
{
	struct mbox_box *mb = store_mailbox_backend_data(box);
	char *why = NULL;
	int rc;

	/* A reader must not see a file an interrupted expunge left half
	 * rewritten: finish it under the write lock first. */
	if (!exclusive && journal_exists(mb->path)) {
		if (mbox_box_lock(box, true, err) < 0)
			return -1;
		mbox_box_unlock(box);
	}

	mb->fd = open(mb->path, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
	if (mb->fd < 0 && !exclusive && errno == EACCES)
		mb->fd = open(mb->path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (mb->fd < 0) {
		store_error_sys(err, "open %s", mb->path);
		if (err->cls == STORE_ERR_NOTFOUND)
			store_error_set(err, STORE_ERR_NOTFOUND, "Mailbox does not exist");
		return -1;
	}
	rc = mbox_lock_acquire(mb->fd, mb->path, exclusive ? MBOX_LOCK_WRITE : MBOX_LOCK_READ, mbox_be_locks(),
			       &mb->lock, &why);
	if (rc == 0 && exclusive) {
		rc = mbox_recover(mb->fd, mb->path, &why);
		if (rc > 0) {
			mb->cache_valid = false;
			rc = 0;
		}
		if (rc < 0)
			mbox_lock_release(&mb->lock);
	}
	if (rc < 0) {
		log_error("store: %s", why);
		store_error_set(err, rc == -1 ? STORE_ERR_TEMP : STORE_ERR_PERM,
				rc == -1 ? "Mailbox is locked or busy, try again later"
					 : "Mailbox cannot be locked (see the server log)");
		free(why);
		close(mb->fd);
		mb->fd = -1;
		return -1;
	}
	mb->exclusive = exclusive;
	return 0;
}

void mbox_box_unlock(struct store_mailbox *box)
{
	struct mbox_box *mb = store_mailbox_backend_data(box);

	mbox_lock_release(&mb->lock);
	if (mb->fd >= 0)
		close(mb->fd);
	mb->fd = -1;
	mb->last_valid = false;
}

/* The descriptor to read: the locked one, or a fresh read-only one
 * (*close_r set) when the core calls without a lock. */
static int box_fd(struct mbox_box *mb, bool *close_r, struct store_error *err)
{
	int fd;

	*close_r = false;
	if (mb->fd >= 0)
		return mb->fd;
	fd = open(mb->path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		store_error_sys(err, "open %s", mb->path);
		return -1;
	}
	*close_r = true;
	return fd;
}

/* ---------------------------------------------------------------- sync */

int mbox_box_sync_check(struct store_mailbox *box, const void *stamp, size_t len)
{
	struct mbox_box *mb = store_mailbox_backend_data(box);
	struct stat st;
	struct file_id id;

	if (len != sizeof(id) || stat(mb->path, &st) < 0)
		return 1;
	file_id_of(&st, &id);
	return memcmp(&id, stamp, sizeof(id)) == 0 ? 0 : 1;
}

static int sync_one(struct mbox_box *mb, const struct mbox_msg *msg, const char *loc, void *ctx)
{
	struct store_sync_item it;
	struct store_error *err = ((void **)ctx)[1];

	(void)mb;
	memset(&it, 0, sizeof(it));
	it.loc = loc;
	it.flags = store_flags_of(msg->flags);
	it.flags_known = false; /* flags live in the index after the first sight */
	it.physical_size = msg->size_unquoted;
	it.vsize = msg->rfc822_size;
	it.internaldate = msg->internal_date;
	/* new messages get UIDs in file order, not in loc (hash) order */
	it.file_order = msg->from_offset + 1;
	return store_sync_add(((void **)ctx)[0], &it, err);
}

int mbox_box_sync_scan(struct store_mailbox *box, struct store_sync *sc, struct store_error *err)
{
	struct mbox_box *mb = store_mailbox_backend_data(box);
	void *ctx[2] = { sc, err };
	bool close_fd;
	int fd = box_fd(mb, &close_fd, err), rc;

	if (fd < 0)
		return -1;
	rc = scan_file(mb, fd, sync_one, ctx, sc, err);
	if (close_fd)
		close(fd);
	return rc;
}

/* ------------------------------------------------------------ messages */

/* Find loc, reading the file again if the cache is not this file. */
static const struct mbox_entry *locate(struct mbox_box *mb, int fd, const char *loc,
				       struct store_error *err)
{
	const struct mbox_entry *e;

	if (mb->last_valid && fd == mb->fd && strcmp(loc, mb->last.loc) == 0)
		return &mb->last;
	if (!cache_current(mb, fd) && scan_file(mb, fd, NULL, NULL, NULL, err) < 0)
		return NULL;
	e = ents_find(mb, loc);
	if (e == NULL)
		store_error_set(err, STORE_ERR_EXPUNGED, "Message was expunged");
	return e;
}

struct fd_out {
	int fd;
};

static int fd_write(void *ctx, const void *data, size_t len)
{
	const char *p = data;
	struct fd_out *o = ctx;

	while (len > 0) {
		ssize_t n = write(o->fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int mbox_box_msg_open(struct store_mailbox *box, const struct store_backend_msg *m, int *fd_r,
		       off_t *offset_r, uint64_t *size_r, struct store_error *err)
{
	struct mbox_box *mb = store_mailbox_backend_data(box);
	const struct mbox_entry *e;
	struct mbox_msg msg;
	bool close_fd;
	int fd = box_fd(mb, &close_fd, err), out;

	if (fd < 0)
		return -1;
	e = locate(mb, fd, m->loc, err);
	if (e == NULL)
		goto fail;
	if (e->size_unquoted == e->end_offset - e->header_offset) {
		/* Nothing to unquote: straight from the mbox. */
		out = open(mb->path, O_RDONLY | O_CLOEXEC);
		if (out < 0) {
			store_error_sys(err, "open %s", mb->path);
			goto fail;
		}
		*offset_r = (off_t)e->header_offset;
		*size_r = e->size_unquoted;
	} else {
		struct fd_out o;
		char *why = NULL;

		out = memfd_create("postern-mbox-message", MFD_CLOEXEC);
		if (out < 0) {
			store_error_sys(err, "memfd_create for %s", mb->path);
			goto fail;
		}
		memset(&msg, 0, sizeof(msg));
		msg.header_offset = e->header_offset;
		msg.end_offset = e->end_offset;
		o.fd = out;
		if (mbox_message_export(fd, &msg, false, fd_write, &o, &why) < 0) {
			log_error("store: %s: %s", mb->path, why);
			free(why);
			store_error_set(err, STORE_ERR_TEMP, "Internal error reading the message");
			close(out);
			goto fail;
		}
		*offset_r = 0;
		*size_r = e->size_unquoted;
	}
	*fd_r = out;
	if (close_fd)
		close(fd);
	return 0;
fail:
	if (close_fd)
		close(fd);
	return -1;
}

/* The message source as an mbox_in_fn: prefix, then fd up to limit. */
struct src_in {
	const struct store_source *src;
	size_t prefix_done;
	uint64_t body_done;
};

static ssize_t src_read(void *ctx, void *buf, size_t size)
{
	struct src_in *in = ctx;
	const struct store_source *src = in->src;
	ssize_t n;

	if (src->prefix && in->prefix_done < src->prefix_len) {
		size_t k = src->prefix_len - in->prefix_done;

		if (k > size)
			k = size;
		memcpy(buf, src->prefix + in->prefix_done, k);
		in->prefix_done += k;
		return (ssize_t)k;
	}
	if (src->fd < 0)
		return 0;
	if (src->limit > 0) {
		if (in->body_done >= src->limit)
			return 0;
		if (src->limit - in->body_done < size)
			size = (size_t)(src->limit - in->body_done);
	}
	do
		n = read(src->fd, buf, size);
	while (n < 0 && errno == EINTR);
	if (n > 0)
		in->body_done += (uint64_t)n;
	return n;
}

/* The envelope sender for the From_ line: the Return-Path the core puts
 * first, else MAILER-DAEMON (what Postfix writes for <>). */
static void sender_of(const struct store_source *src, char *buf, size_t size)
{
	const char *p = src->prefix, *end, *lt, *gt;

	buf[0] = '\0';
	if (p == NULL || src->prefix_len < 14 || strncasecmp(p, "Return-Path:", 12) != 0)
		return;
	end = memchr(p, '\n', src->prefix_len);
	if (end == NULL)
		return;
	lt = memchr(p, '<', (size_t)(end - p));
	gt = lt ? memchr(lt, '>', (size_t)(end - lt)) : NULL;
	if (lt && gt && gt > lt + 1 && (size_t)(gt - lt) < size) {
		memcpy(buf, lt + 1, (size_t)(gt - lt - 1));
		buf[gt - lt - 1] = '\0';
	}
}

int mbox_box_msg_append(struct store_mailbox *box, const struct store_source *src,
			 const struct store_backend_msg *m, char **loc_r, uint64_t *physical_r,
			 uint64_t *vsize_r, struct store_error *err)
{
	struct mbox_box *mb = store_mailbox_backend_data(box);
	struct src_in in = { .src = src };
	struct mbox_reader *r;
	struct mbox_msg msg;
	char sender[MBOX_SENDER_MAX], loc[MBOX_LOC_MAX];
	char *why = NULL;
	uint64_t offset = 0;
	struct stat st0, st1;
	bool cache_ok, locked_here = false;
	uint32_t dups = 0;
	int rc;

	if (mb->fd < 0 || !mb->exclusive) {
		/* The core always holds the write lock here; stay safe anyway. */
		if (mb->fd >= 0)
			mbox_box_unlock(box);
		if (mbox_box_lock(box, true, err) < 0)
			return -1;
		locked_here = true;
	}
	cache_ok = cache_current(mb, mb->fd);
	mb->last_valid = false;
	if (fstat(mb->fd, &st0) < 0) {
		store_error_sys(err, "fstat %s", mb->path);
		goto fail;
	}
	sender_of(src, sender, sizeof(sender));
	rc = mbox_append(mb->fd, mb->path, sender, m->internaldate ? m->internaldate : time(NULL),
			 src_read, &in, &offset, &why);
	if (rc < 0) {
		int saved = errno;

		log_error("store: %s", why);
		free(why);
		errno = saved;
		store_error_set(err, rc == -1 ? STORE_ERR_TEMP : STORE_ERR_PERM,
				rc == -1 ? "Could not store the message, try again later"
					 : "Mailbox file is broken (see the server log)");
		if (saved == ENOSPC || saved == EDQUOT)
			err->cls = STORE_ERR_QUOTA;
		goto fail;
	}

	/* Name the new message: its identity, numbered after earlier copies. */
	r = mbox_reader_open_at(mb->fd, offset);
	rc = r ? mbox_reader_next(r, &msg, &why) : -1;
	mbox_reader_free(&r);
	if (rc <= 0) {
		log_error("store: %s: the message just appended at %" PRIu64 " does not read back: %s",
			  mb->path, offset, why ? why : "out of memory");
		free(why);
		store_error_set(err, STORE_ERR_TEMP, "Internal error storing the message");
		goto fail;
	}
	if (cache_ok) {
		struct mbox_msg copy = msg;
		struct stat st;

		for (size_t i = 0; i < mb->n_ents; i++)
			if (mb->ents[i].ident == msg.ident)
				dups++;
		if (dups == 0)
			snprintf(loc, sizeof(loc), "h%016" PRIx64, msg.ident);
		else
			snprintf(loc, sizeof(loc), "h%016" PRIx64 ".%u", msg.ident, dups + 1);
		if (ents_add(mb, &copy, loc) < 0 || fstat(mb->fd, &st) < 0) {
			mb->cache_valid = false;
		} else {
			qsort(mb->ents, mb->n_ents, sizeof(*mb->ents), ent_cmp);
			file_id_of(&st, &mb->cache_id);
		}
	} else {
		/* No scan of this file in this process (a delivery): reading the
		 * whole mbox to number identical copies would make every delivery
		 * cost the mailbox's size. An exact duplicate (same From_ line to
		 * the second, same header and body length) then shares the loc
		 * until the next sync renumbers it, which costs that copy its
		 * UID once - never a message. */
		snprintf(loc, sizeof(loc), "h%016" PRIx64, msg.ident);
	}
	*loc_r = must_strdup(loc);
	*physical_r = msg.size_unquoted;
	*vsize_r = msg.rfc822_size;
	if (!locked_here && fstat(mb->fd, &st1) == 0) {
		str_copy(mb->last.loc, loc, sizeof(mb->last.loc));
		mb->last.ident = msg.ident;
		mb->last.header_offset = msg.header_offset;
		mb->last.end_offset = msg.end_offset;
		mb->last.size_unquoted = msg.size_unquoted;
		mb->last_start = (uint64_t)st0.st_size;
		mb->last_end = (uint64_t)st1.st_size;
		mb->last_valid = true;
	}
	if (locked_here)
		mbox_box_unlock(box);
	return 0;
fail:
	if (locked_here)
		mbox_box_unlock(box);
	return -1;
}

int mbox_box_msg_append_undo(struct store_mailbox *box, const char *loc,
			      struct store_error *err)
{
	struct mbox_box *mb = store_mailbox_backend_data(box);
	struct stat st;

	/* Only under the write lock of that append, and only when the file
	 * still ends where the append left it: then nothing was written
	 * after it (every writer takes the same locks), and cutting back to
	 * the old size removes exactly that message and its separator. */
	if (!mb->last_valid || mb->fd < 0 || !mb->exclusive || strcmp(loc, mb->last.loc) != 0) {
		store_error_set(err, STORE_ERR_TEMP, "The appended message is no longer locked");
		return -1;
	}
	if (fstat(mb->fd, &st) < 0) {
		store_error_sys(err, "fstat %s", mb->path);
		return -1;
	}
	if ((uint64_t)st.st_size != mb->last_end) {
		log_error("store: %s: grew from %" PRIu64 " to %" PRIu64 " bytes under our write "
			  "lock, so the failed delivery at offset %" PRIu64 " stays (a retry may "
			  "store it twice); make every program writing this mbox take the locks "
			  "of mbox_write_locks",
			  mb->path, mb->last_end, (uint64_t)st.st_size, mb->last.header_offset);
		store_error_set(err, STORE_ERR_TEMP, "Mailbox changed under the lock");
		return -1;
	}
	if (ftruncate(mb->fd, (off_t)mb->last_start) < 0 || fsync(mb->fd) < 0) {
		store_error_sys(err, "cut %s back to %" PRIu64 " bytes", mb->path, mb->last_start);
		return -1;
	}
	mb->last_valid = false;
	mb->cache_valid = false;
	return 0;
}

int mbox_box_msg_set_flags(struct store_mailbox *box, const struct store_backend_msg *m,
			    unsigned new_flags, char **new_loc_r, struct store_error *err)
{
	/* Flags live in the index (see the file comment). */
	*new_loc_r = NULL;
	return 0;
}

int mbox_box_msg_expunge(struct store_mailbox *box, const struct store_backend_msg *m,
			  struct store_error *err)
{
	struct mbox_box *mb = store_mailbox_backend_data(box);

	if (m->loc == NULL)
		return 0;
	if (mb->n_expunge == mb->cap_expunge) {
		size_t ncap = mb->cap_expunge ? mb->cap_expunge * 2 : 64;
		char **n = realloc(mb->expunge, ncap * sizeof(*n));

		if (n == NULL) {
			store_error_set(err, STORE_ERR_TEMP, "Out of memory");
			return -1;
		}
		mb->expunge = n;
		mb->cap_expunge = ncap;
	}
	mb->expunge[mb->n_expunge] = strdup(m->loc);
	if (mb->expunge[mb->n_expunge] == NULL) {
		store_error_set(err, STORE_ERR_TEMP, "Out of memory");
		return -1;
	}
	mb->n_expunge++;
	return 0;
}

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

struct keep_ctx {
	struct mbox_box *mb;
	struct namer nm;
	bool oom;
};

static bool keep_msg(void *ctx, const struct mbox_msg *msg)
{
	struct keep_ctx *k = ctx;
	char loc[MBOX_LOC_MAX], *key = loc;

	if (namer_next(&k->nm, msg->ident, loc) < 0) {
		k->oom = true;
		return true; /* keeping is always safe */
	}
	return bsearch(&key, k->mb->expunge, k->mb->n_expunge, sizeof(char *), str_cmp) == NULL;
}

int mbox_box_expunge_finish(struct store_mailbox *box, struct store_error *err)
{
	struct mbox_box *mb = store_mailbox_backend_data(box);
	struct keep_ctx k = { .mb = mb };
	bool locked_here = false;
	unsigned removed = 0;
	char *why = NULL;
	int rc;

	if (mb->n_expunge == 0)
		return 0;
	if (mb->fd < 0 || !mb->exclusive) {
		if (mb->fd >= 0)
			mbox_box_unlock(box);
		if (mbox_box_lock(box, true, err) < 0)
			return -1;
		locked_here = true;
	}
	qsort(mb->expunge, mb->n_expunge, sizeof(char *), str_cmp);
	rc = mbox_expunge(mb->fd, mb->path, keep_msg, &k, &removed, &why);
	namer_free(&k.nm);
	for (size_t i = 0; i < mb->n_expunge; i++)
		free(mb->expunge[i]);
	mb->n_expunge = 0;
	mb->cache_valid = false;
	if (locked_here)
		mbox_box_unlock(box);
	if (rc < 0) {
		log_error("store: %s", why);
		free(why);
		store_error_set(err, rc == -1 ? STORE_ERR_TEMP : STORE_ERR_PERM,
				"Could not expunge, try again later");
		return -1;
	}
	return 0;
}

size_t mbox_box_watch_paths(struct store_mailbox *box, const char **paths, size_t max)
{
	struct mbox_box *mb = store_mailbox_backend_data(box);
	size_t n = 0;

	if (n < max)
		paths[n++] = mb->path;
	if (n < max)
		paths[n++] = mb->dir;
	return n;
}

/* ----------------------------------------------------------- UID state */

int mbox_box_uid_state_read(struct store_mailbox *box, uint32_t *uidvalidity_r,
			     uint32_t *uidnext_r, struct store_error *err)
{
	struct mbox_box *mb = store_mailbox_backend_data(box);
	char jr[PATH_MAX], path[PATH_MAX];

	mbox_be_side_files(mb->path, jr, sizeof(jr), path, sizeof(path));
	if (path[0] == '\0')
		return 0;
	return store_uid_state_file_read(path, uidvalidity_r, uidnext_r, err);
}

int mbox_box_uid_state_write(struct store_mailbox *box, uint32_t uidvalidity, uint32_t uidnext,
			      struct store_error *err)
{
	struct mbox_box *mb = store_mailbox_backend_data(box);
	char jr[PATH_MAX], path[PATH_MAX], tmp[PATH_MAX];

	mbox_be_side_files(mb->path, jr, sizeof(jr), path, sizeof(path));
	if (path[0] == '\0' || store_path_fmt(tmp, sizeof(tmp), "%s.%ld", path, (long)getpid()) < 0) {
		store_error_set(err, STORE_ERR_PERM, "Mailbox path too long");
		return -1;
	}
	return store_uid_state_file_write(path, tmp, uidvalidity, uidnext, err);
}

