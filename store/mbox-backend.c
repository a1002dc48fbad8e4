/*
 * mbox-backend.c - the mbox mailbox format behind store/store.h: the
 * struct store_backend (store-backend.h) the core calls for users whose
 * mail_location is "mbox:ROOT[:INBOX=FILE]" (Dovecot syntax, e.g. the
 * seeds' mbox:~/mail:INBOX=/var/mail/%u).
 *
 * Layout. INBOX is the INBOX= file (without it ROOT/inbox, as Dovecot);
 * mailbox "a/b" is the file ROOT/a/b, directories giving the hierarchy.
 * Files whose name starts with '.' or ends in ".lock" are not mailboxes:
 * Postern's own side files live next to each mbox as dotfiles (the expunge
 * journal ".NAME.postern-expunge", the UID state ".NAME.postern-uids").
 *
 * Message identity ("loc" in the index): "h" + 16 hex digits of the
 * message's content identity (mbox_msg.ident: sender and date of the From_
 * line, the header without the fields MUAs rewrite, the body length),
 * ".N" appended for the Nth copy of an identical message. Unlike a byte
 * offset it survives an expunge that moves the message and mutt rewriting
 * its Status: header, so the core keeps the message's UID. Offsets live in
 * a per-process cache, valid while the file's (dev, inode, size, mtime)
 * are those of the scan that built it; otherwise the file is read again.
 *
 * UIDs: kept in the index, not written into the file (it stays byte for
 * byte what was delivered, mutt shows no X-UID headers). UIDVALIDITY and
 * UIDNEXT survive an index rebuild through the UID state file; messages
 * then get new UIDs above the old UIDNEXT. X-UID/X-IMAPbase left by
 * Dovecot or UW-IMAP are parsed but not used as UID hints: the core trusts
 * a hint before the loc, and a header that mutt copied along from another
 * folder would hand an existing UID to the wrong message.
 *
 * Flags: Status:/X-Status: of a message are read when it is first indexed
 * (so mutt's \Seen and \Flagged carry over); later changes live in the
 * index only and are not written back (no rewrite of a big file per STORE,
 * and the RFC822.SIZE of a message never changes). mutt therefore does not
 * see flags set over IMAP.
 *
 * Bytes served: msg_open gives the message between its From_ line and the
 * separator with mboxrd quoting removed; a message without quoted lines
 * is served straight from the mbox, one with them from an unquoted copy in
 * a memfd.
 */
#include <dirent.h>
#include <stdarg.h>
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
#include "store/store-backend.h"
#include "util.h"

#define MBOX_LIST_DEPTH 16
#define MBOX_LOC_MAX 32

static struct mbox_lock_settings backend_locks;
static bool backend_locks_set;

void mbox_backend_set_locks(const struct mbox_lock_settings *set)
{
	backend_locks = *set;
	backend_locks_set = true;
}

int mbox_backend_configure(const struct config *cfg, char **error_r)
{
	struct mbox_lock_settings set;

	if (mbox_lock_settings_from_config(cfg, &set, error_r) < 0)
		return -2;
	mbox_backend_set_locks(&set);
	return 0;
}

static const struct mbox_lock_settings *locks(void)
{
	if (!backend_locks_set) {
		mbox_lock_settings_default(&backend_locks);
		backend_locks_set = true;
	}
	return &backend_locks;
}

/* What the last scan found out about one message. */
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
};

struct mbox_user {
	char *inbox;
};

/* ------------------------------------------------------------ helpers */

static int path_fmt(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int path_fmt(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= size) {
		buf[0] = '\0';
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

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

static int mkdir_parents(const char *path)
{
	char buf[PATH_MAX];
	char *slash;

	if (str_copy(buf, path, sizeof(buf)) >= sizeof(buf)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	slash = strrchr(buf, '/');
	if (slash == NULL || slash == buf)
		return 0;
	*slash = '\0';
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0700) < 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (mkdir(buf, 0700) < 0 && errno != EEXIST)
		return -1;
	return 0;
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

/* ---------------------------------------------------------- user level */

static void mbox_user_free(void *p)
{
	struct mbox_user *mu = p;

	if (mu) {
		free(mu->inbox);
		free(mu);
	}
}

static const char *inbox_path(struct store_user *u)
{
	struct mbox_user *mu = store_user_backend_data(u);

	return mu ? mu->inbox : store_user_location(u)->inbox;
}

static int create_empty(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);

	if (fd < 0)
		return errno == EEXIST ? 0 : -1;
	close(fd);
	return fsync_parent_dir(path) < 0 ? -1 : 1;
}

static int mb_user_init(struct store_user *u, bool create, struct store_error *err)
{
	const struct store_location *loc = store_user_location(u);
	struct mbox_user *mu = calloc(1, sizeof(*mu));
	struct stat st;
	bool root_ok, inbox_ok;

	if (mu == NULL) {
		store_error_set(err, STORE_ERR_TEMP, "Out of memory");
		return -1;
	}
	/* Without INBOX= the location's inbox is the folder itself: INBOX is
	 * then ROOT/inbox, as Dovecot does. */
	if (strcmp(loc->inbox, loc->root) == 0 || (stat(loc->inbox, &st) == 0 && S_ISDIR(st.st_mode)))
		mu->inbox = must_asprintf("%s/inbox", loc->root);
	else
		mu->inbox = must_strdup(loc->inbox);
	store_user_set_backend_data(u, mu, mbox_user_free);
	/* The index of an mbox user lives under data_directory/index/DOMAIN/
	 * (not next to the mail): its parents may not exist yet, and the core
	 * creates only the last level. */
	if (mkdir_parents(loc->index_dir) < 0)
		log_warn("store: %s: cannot create the directories above %s: %s", store_user_name(u),
			 loc->index_dir, strerror(errno));

	root_ok = stat(loc->root, &st) == 0 && S_ISDIR(st.st_mode);
	inbox_ok = stat(mu->inbox, &st) == 0 && S_ISREG(st.st_mode);
	if (root_ok && inbox_ok)
		return 0;
	if (!create) {
		if (root_ok || inbox_ok)
			return 0;
		log_info("store: %s: no mbox folder %s and no INBOX %s yet", store_user_name(u),
			 loc->root, mu->inbox);
		store_error_set(err, STORE_ERR_NOTFOUND, "Mailbox does not exist");
		return -1;
	}
	if (!root_ok) {
		char probe[PATH_MAX];

		if (path_fmt(probe, sizeof(probe), "%s/x", loc->root) < 0 || mkdir_parents(probe) < 0) {
			store_error_sys(err, "mkdir %s", loc->root);
			return -1;
		}
	}
	if (!inbox_ok && (mkdir_parents(mu->inbox) < 0 || create_empty(mu->inbox) < 0)) {
		/* /var/mail is root:mail 2775: only members of group mail create
		 * files there. */
		store_error_sys(err, "create INBOX %s (the directory must be writable: group mail for /var/mail)",
				mu->inbox);
		return -1;
	}
	return 0;
}

/* The file of mailbox name: new memory, NULL for a name that cannot be a
 * file here (a level starting with '.': our side files, hidden files). */
static char *mailbox_path(struct store_user *u, const char *name)
{
	const char *p;

	if (strcasecmp(name, "INBOX") == 0)
		return must_strdup(inbox_path(u));
	for (p = name; *p; p = strchr(p, '/') ? strchr(p, '/') + 1 : p + strlen(p))
		if (*p == '.')
			return NULL;
	if (strlen(name) > 5 && strcasecmp(name + strlen(name) - 5, ".lock") == 0)
		return NULL;
	return must_asprintf("%s/%s", store_user_location(u)->root, name);
}

struct list_walk {
	store_backend_name_fn *fn;
	void *ctx;
	const char *inbox;
	int stop;
};

static int list_dir(struct list_walk *w, const char *dir, const char *prefix, int depth,
		    struct store_error *err)
{
	DIR *d;
	struct dirent *de;

	if (depth > MBOX_LIST_DEPTH)
		return 0;
	d = opendir(dir);
	if (d == NULL) {
		if (errno == ENOENT || errno == ENOTDIR)
			return 0;
		store_error_sys(err, "opendir %s", dir);
		return -1;
	}
	while (w->stop == 0 && (de = readdir(d)) != NULL) {
		char path[PATH_MAX], name[PATH_MAX];
		size_t len = strlen(de->d_name);
		struct stat st;

		if (de->d_name[0] == '.' || (len > 5 && strcmp(de->d_name + len - 5, ".lock") == 0))
			continue;
		if (path_fmt(path, sizeof(path), "%s/%s", dir, de->d_name) < 0 ||
		    path_fmt(name, sizeof(name), "%s%s", prefix, de->d_name) < 0 ||
		    lstat(path, &st) < 0)
			continue;
		if (S_ISDIR(st.st_mode)) {
			char sub[PATH_MAX];

			if (path_fmt(sub, sizeof(sub), "%s/", name) == 0 &&
			    list_dir(w, path, sub, depth + 1, err) < 0) {
				closedir(d);
				return -1;
			}
		} else if (S_ISREG(st.st_mode) && strcmp(path, w->inbox) != 0 &&
			   strcasecmp(name, "INBOX") != 0) {
			w->stop = w->fn(name, w->ctx);
		}
	}
	closedir(d);
	return 0;
}

static int mb_mailbox_list(struct store_user *u, store_backend_name_fn *fn, void *ctx,
			   struct store_error *err)
{
	struct list_walk w = { .fn = fn, .ctx = ctx, .inbox = inbox_path(u) };

	w.stop = fn("INBOX", ctx);
	if (w.stop)
		return 0;
	return list_dir(&w, store_user_location(u)->root, "", 0, err);
}

static int mb_mailbox_exists(struct store_user *u, const char *name, struct store_error *err)
{
	char *path = mailbox_path(u, name);
	struct stat st;
	int rc;

	if (path == NULL)
		return 0;
	if (stat(path, &st) == 0)
		rc = S_ISREG(st.st_mode) ? 1 : 0;
	else if (errno == ENOENT || errno == ENOTDIR)
		rc = 0;
	else {
		store_error_sys(err, "stat %s", path);
		rc = -1;
	}
	free(path);
	return rc;
}

static int mb_mailbox_create(struct store_user *u, const char *name, struct store_error *err)
{
	char *path = mailbox_path(u, name);
	int rc;

	if (path == NULL) {
		store_error_set(err, STORE_ERR_PERM, "Invalid mailbox name");
		return -1;
	}
	if (mkdir_parents(path) < 0) {
		store_error_sys(err, "mkdir for %s", path);
		free(path);
		return -1;
	}
	rc = create_empty(path);
	if (rc == 0) {
		store_error_set(err, STORE_ERR_EXISTS, "Mailbox already exists");
		rc = -1;
	} else if (rc < 0) {
		store_error_sys(err, "create %s", path);
	} else {
		rc = 0;
	}
	free(path);
	return rc;
}

/* Our side files of an mbox go with it. */
static void side_files(const char *path, char *jr, size_t jsize, char *uids, size_t usize)
{
	const char *slash = strrchr(path, '/');

	if (mbox_journal_path(path, jr, jsize) < 0)
		jr[0] = '\0';
	if (slash == NULL ||
	    path_fmt(uids, usize, "%.*s/.%s.postern-uids", (int)(slash - path), path, slash + 1) < 0)
		uids[0] = '\0';
}

static int mb_mailbox_delete(struct store_user *u, const char *name, struct store_error *err)
{
	char *path = mailbox_path(u, name);
	char jr[PATH_MAX], uids[PATH_MAX];

	if (path == NULL) {
		store_error_set(err, STORE_ERR_NOTFOUND, "Mailbox does not exist");
		return -1;
	}
	if (unlink(path) < 0 && !(errno == EISDIR && rmdir(path) == 0)) {
		store_error_sys(err, "unlink %s", path);
		free(path);
		return -1;
	}
	side_files(path, jr, sizeof(jr), uids, sizeof(uids));
	if (uids[0])
		(void)unlink(uids);
	(void)fsync_parent_dir(path);
	free(path);
	return 0;
}

static int mb_mailbox_rename(struct store_user *u, const char *oldname, const char *newname,
			     struct store_error *err)
{
	char *from = mailbox_path(u, oldname), *to = mailbox_path(u, newname);
	char j1[PATH_MAX], u1[PATH_MAX], j2[PATH_MAX], u2[PATH_MAX];
	int rc = -1;

	if (from == NULL || to == NULL) {
		store_error_set(err, STORE_ERR_PERM, "Invalid mailbox name");
		goto out;
	}
	if (mkdir_parents(to) < 0 || rename(from, to) < 0) {
		store_error_sys(err, "rename %s to %s", from, to);
		goto out;
	}
	side_files(from, j1, sizeof(j1), u1, sizeof(u1));
	side_files(to, j2, sizeof(j2), u2, sizeof(u2));
	if (u1[0] && u2[0])
		(void)rename(u1, u2); /* UIDVALIDITY is kept (store.h) */
	(void)fsync_parent_dir(to);
	rc = 0;
out:
	free(from);
	free(to);
	return rc;
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

static int mb_box_open(struct store_mailbox *box, struct store_error *err)
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
	mb->path = mailbox_path(u, name);
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
	    (mkdir_parents(mb->path) < 0 || create_empty(mb->path) < 0)) {
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

static void mb_box_close(struct store_mailbox *box)
{
	box_free(store_mailbox_backend_data(box));
	store_mailbox_set_backend_data(box, NULL);
}

static void mb_unlock(struct store_mailbox *box);

static bool journal_exists(const char *path)
{
	char jr[PATH_MAX];

	return mbox_journal_path(path, jr, sizeof(jr)) == 0 && access(jr, F_OK) == 0;
}

static int mb_lock(struct store_mailbox *box, bool exclusive, struct store_error *err)
{
	struct mbox_box *mb = store_mailbox_backend_data(box);
	char *why = NULL;
	int rc;

	/* A reader must not see a file an interrupted expunge left half
	 * rewritten: finish it under the write lock first. */
	if (!exclusive && journal_exists(mb->path)) {
		if (mb_lock(box, true, err) < 0)
			return -1;
		mb_unlock(box);
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
	rc = mbox_lock_acquire(mb->fd, mb->path, exclusive ? MBOX_LOCK_WRITE : MBOX_LOCK_READ, locks(),
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

static void mb_unlock(struct store_mailbox *box)
{
	struct mbox_box *mb = store_mailbox_backend_data(box);

	mbox_lock_release(&mb->lock);
	if (mb->fd >= 0)
		close(mb->fd);
	mb->fd = -1;
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

static int mb_sync_check(struct store_mailbox *box, const void *stamp, size_t len)
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
	return store_sync_add(((void **)ctx)[0], &it, err);
}

static int mb_sync_scan(struct store_mailbox *box, struct store_sync *sc, struct store_error *err)
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

static int mb_msg_open(struct store_mailbox *box, const struct store_backend_msg *m, int *fd_r,
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

static int mb_msg_append(struct store_mailbox *box, const struct store_source *src,
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
	bool cache_ok, locked_here = false;
	uint32_t dups = 0;
	int rc;

	if (mb->fd < 0 || !mb->exclusive) {
		/* The core always holds the write lock here; stay safe anyway. */
		if (mb->fd >= 0)
			mb_unlock(box);
		if (mb_lock(box, true, err) < 0)
			return -1;
		locked_here = true;
	}
	cache_ok = cache_current(mb, mb->fd);
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
	if (locked_here)
		mb_unlock(box);
	return 0;
fail:
	if (locked_here)
		mb_unlock(box);
	return -1;
}

static int mb_msg_set_flags(struct store_mailbox *box, const struct store_backend_msg *m,
			    unsigned new_flags, char **new_loc_r, struct store_error *err)
{
	/* Flags live in the index (see the file comment). */
	*new_loc_r = NULL;
	return 0;
}

static int mb_msg_expunge(struct store_mailbox *box, const struct store_backend_msg *m,
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

static int mb_expunge_finish(struct store_mailbox *box, struct store_error *err)
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
			mb_unlock(box);
		if (mb_lock(box, true, err) < 0)
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
		mb_unlock(box);
	if (rc < 0) {
		log_error("store: %s", why);
		free(why);
		store_error_set(err, rc == -1 ? STORE_ERR_TEMP : STORE_ERR_PERM,
				"Could not expunge, try again later");
		return -1;
	}
	return 0;
}

static size_t mb_watch_paths(struct store_mailbox *box, const char **paths, size_t max)
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

static int mb_uid_state_read(struct store_mailbox *box, uint32_t *uidvalidity_r,
			     uint32_t *uidnext_r, struct store_error *err)
{
	struct mbox_box *mb = store_mailbox_backend_data(box);
	char jr[PATH_MAX], path[PATH_MAX], buf[64];
	unsigned long v, n;
	ssize_t len;
	int fd;

	side_files(mb->path, jr, sizeof(jr), path, sizeof(path));
	if (path[0] == '\0' || (fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0) {
		if (path[0] == '\0' || errno == ENOENT)
			return 0;
		store_error_sys(err, "open %s", path);
		return -1;
	}
	len = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (len <= 0)
		return 0;
	buf[len] = '\0';
	if (sscanf(buf, "%lu %lu", &v, &n) != 2 || v == 0 || v > UINT32_MAX || n == 0 || n > UINT32_MAX) {
		log_warn("store: %s: malformed; a new UIDVALIDITY will be used", path);
		return 0;
	}
	*uidvalidity_r = (uint32_t)v;
	*uidnext_r = (uint32_t)n;
	return 1;
}

static int mb_uid_state_write(struct store_mailbox *box, uint32_t uidvalidity, uint32_t uidnext,
			      struct store_error *err)
{
	struct mbox_box *mb = store_mailbox_backend_data(box);
	char jr[PATH_MAX], path[PATH_MAX], tmp[PATH_MAX], buf[64];
	int fd, len;

	side_files(mb->path, jr, sizeof(jr), path, sizeof(path));
	if (path[0] == '\0' || path_fmt(tmp, sizeof(tmp), "%s.%ld", path, (long)getpid()) < 0) {
		store_error_set(err, STORE_ERR_PERM, "Mailbox path too long");
		return -1;
	}
	len = snprintf(buf, sizeof(buf), "%u %u\n", uidvalidity, uidnext);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0 || write(fd, buf, (size_t)len) != len || fsync(fd) < 0) {
		store_error_sys(err, "write %s", tmp);
		if (fd >= 0)
			close(fd);
		(void)unlink(tmp);
		return -1;
	}
	close(fd);
	if (rename(tmp, path) < 0) {
		store_error_sys(err, "rename %s", tmp);
		(void)unlink(tmp);
		return -1;
	}
	return 0;
}

const struct store_backend store_backend_mbox = {
	.name = "mbox",
	.user_init = mb_user_init,
	.mailbox_list = mb_mailbox_list,
	.mailbox_exists = mb_mailbox_exists,
	.mailbox_create = mb_mailbox_create,
	.mailbox_delete = mb_mailbox_delete,
	.mailbox_rename = mb_mailbox_rename,
	.box_open = mb_box_open,
	.box_close = mb_box_close,
	.lock = mb_lock,
	.unlock = mb_unlock,
	.sync_check = mb_sync_check,
	.sync_scan = mb_sync_scan,
	.msg_open = mb_msg_open,
	.msg_append = mb_msg_append,
	.msg_set_flags = mb_msg_set_flags,
	.msg_expunge = mb_msg_expunge,
	.expunge_finish = mb_expunge_finish,
	.watch_paths = mb_watch_paths,
	.uid_state_read = mb_uid_state_read,
	.uid_state_write = mb_uid_state_write,
};
