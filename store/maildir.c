/*
 * maildir.c - the Maildir backend (store-backend.h), Maildir++ layout:
 *
 *   ROOT/{tmp,new,cur}          INBOX
 *   ROOT/.Sent/{tmp,new,cur}    folder "Sent" (+ an empty maildirfolder file)
 *   ROOT/.Lists.postern/...     folder "Lists/postern" ('/' becomes '.')
 *   ROOT/postern-index/         the LMDB index (store/index.c)
 *   FOLDER/postern-uidvalidity  "UIDVALIDITY UIDNEXT-floor", survives a rebuild
 *
 * A '.' or '\' inside a level of a mailbox name is written "\2e" / "\5c"
 * (Dovecot's listescape convention), so any name round-trips.
 *
 * Delivery (https://cr.yp.to/proto/maildir.html): write tmp/NAME, fsync,
 * link() to new/NAME,S=size,W=vsize,U=uid, unlink tmp/NAME, fsync new/.
 * No lock on the files: the unique name is the only coordination the
 * spec needs; the UID comes from the index transaction the core holds.
 * The index's sync moves new/X to cur/X:2, when a session picks it up
 * (files from other programs get ",U=<uid>" added then), so a rebuilt
 * index finds the same UIDs. Flag changes are renames within cur/; flag
 * letters Postern has no flag for (P) are kept. IMAP keywords are the
 * letters a..z named by the folder's dovecot-keywords file (Dovecot's
 * scheme), so they survive an index rebuild. A folder Dovecot used keeps
 * its UIDVALIDITY and UIDs through dovecot-uidlist (maildir-dovecot.c).
 *
 * Called by: the store core through store_backend_maildir.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "store/maildir-dovecot.h"
#include "store/maildir-name.h"
#include "store/store-private.h"
#include "util.h"

#define MAILDIR_PATH_MAX 4096

struct maildir_stamp {
	int64_t new_mtime_ns;
	int64_t new_scan_ns;
	int64_t cur_mtime_ns;
	int64_t cur_scan_ns;
};

/* One file seen by the last scan: loc -> where it is. */
struct scan_entry {
	char *loc;
	char *path;   /* full path */
};

struct maildir_box {
	char *dir;
	char *new_dir;
	char *cur_dir;
	char *tmp_dir;
	struct scan_entry *scan;
	size_t n_scan, cap_scan;
	bool scan_sorted;         /* sorted by loc on the first scan_find */
	struct maildir_stamp old_stamp; /* from sync_check, for a partial scan */
	bool have_old_stamp;
	/* Change notification as the dirty check (md_watch_check):
	 * watch_clean - the index held what new/ and cur/ held at a moment
	 * when the watch was already active, and every entry event since
	 * has been matched against the records; watch_arm - the events were
	 * discarded before a stat/scan that, once committed, makes the
	 * state clean; watch_new - new/ changed, a partial scan is due;
	 * watch_scan - an event the index did not explain: full scan due
	 * (the check inside the write transaction must not take it back). */
	bool watch_clean, watch_arm, watch_new, watch_scan;
	/* cur/ events a read-transaction check could not match yet (their
	 * writer may not have committed): matched again under the writer
	 * lock before anything is scanned */
	struct held_event *held;
	size_t n_held;
	/* the file msg_append linked last (for msg_append_undo); allocated,
	 * not a 4 KB array in every open mailbox */
	char *last_append;
	/* Dovecot's side files, read at most once per scan and only when a
	 * file needs them (no U= field; keyword letters). */
	struct maildir_uidlist uidlist;
	struct maildir_keywords keywords;
	bool uidlist_loaded, keywords_loaded, keywords_checked;
	ino_t kw_ino;             /* dovecot-keywords as last read */
	off_t kw_size;
	int64_t kw_mtime;
};

static unsigned unique_counter;

/* path_fmt - snprintf for paths and names: a result that does not fit is
 * cut to "" (so it names nothing) and -1 is returned with ENAMETOOLONG. */

/* ---- names <-> directories ---- */

/* The folder directory of mailbox name: new memory, or NULL when the name
 * cannot be a folder. */
static char *folder_dir(struct store_user *u, const char *name)
{
	const char *root = store_user_location(u)->root;
	struct strbuf sb;

	if (strcasecmp(name, "INBOX") == 0)
		return must_strdup(root);
	strbuf_init(&sb, MAILDIR_PATH_MAX);
	strbuf_puts(&sb, root);
	strbuf_puts(&sb, "/.");
	for (const char *p = name; *p; p++) {
		int rc;

		if (*p == '/')
			rc = strbuf_putc(&sb, '.');
		else if (*p == '.')
			rc = strbuf_puts(&sb, "\\2e");
		else if (*p == '\\')
			rc = strbuf_puts(&sb, "\\5c");
		else
			rc = strbuf_putc(&sb, *p);
		if (rc < 0) {
			strbuf_free(&sb);
			return NULL;
		}
	}
	return strbuf_steal(&sb);
}

/* Directory entry ".a.b\2ec" -> "a/b.c"; NULL if not a folder name. */
static char *folder_name(const char *entry)
{
	struct strbuf sb;

	if (entry[0] != '.' || entry[1] == '\0' || entry[1] == '.')
		return NULL;
	strbuf_init(&sb, 1024);
	for (const char *p = entry + 1; *p; p++) {
		int rc;

		if (*p == '.')
			rc = strbuf_putc(&sb, '/');
		else if (p[0] == '\\' && p[1] == '2' && (p[2] == 'e' || p[2] == 'E'))
			rc = strbuf_putc(&sb, '.'), p += 2;
		else if (p[0] == '\\' && p[1] == '5' && (p[2] == 'c' || p[2] == 'C'))
			rc = strbuf_putc(&sb, '\\'), p += 2;
		else
			rc = strbuf_putc(&sb, *p);
		if (rc < 0) {
			strbuf_free(&sb);
			return NULL;
		}
	}
	return strbuf_steal(&sb);
}

static int mkdir_p(const char *path, mode_t mode)
{
	char buf[MAILDIR_PATH_MAX];

	if (str_copy(buf, path, sizeof(buf)) >= sizeof(buf)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, mode) < 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (mkdir(buf, mode) < 0 && errno != EEXIST)
		return -1;
	return 0;
}

/* Make dir/{tmp,new,cur}; 0 or -1 (errno). */
static int make_subdirs(const char *dir)
{
	static const char *const subs[] = { "tmp", "new", "cur" };

	for (size_t i = 0; i < 3; i++) {
		char p[MAILDIR_PATH_MAX];

		store_path_fmt(p, sizeof(p), "%s/%s", dir, subs[i]);
		if (mkdir(p, 0700) < 0 && errno != EEXIST)
			return -1;
	}
	return 0;
}

/* ---- user level ---- */

static int md_user_init(struct store_user *u, bool create, struct store_error *err)
{
	const char *root = store_user_location(u)->root;
	struct stat st;

	if (stat(root, &st) == 0 && S_ISDIR(st.st_mode))
		return 0;
	if (!create) {
		log_info("store: %s: no mail root %s yet", store_user_name(u), root);
		store_error_set(err, STORE_ERR_NOTFOUND, "Mailbox does not exist");
		return -1;
	}
	if (mkdir_p(root, 0700) < 0 || make_subdirs(root) < 0) {
		store_error_sys(err, "mkdir %s", root);
		return -1;
	}
	return 0;
}

static int md_mailbox_list(struct store_user *u, store_backend_name_fn *fn, void *ctx,
			   struct store_error *err)
{
	const char *root = store_user_location(u)->root;
	char p[MAILDIR_PATH_MAX];
	struct dirent *de;
	struct stat st;
	DIR *d;
	int ret = 0;

	store_path_fmt(p, sizeof(p), "%s/cur", root);
	if (stat(p, &st) == 0 && (ret = fn("INBOX", ctx)) != 0)
		return ret;
	if ((d = opendir(root)) == NULL) {
		store_error_sys(err, "opendir %s", root);
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		char *name;

		if (de->d_name[0] != '.' || de->d_name[1] == '.' || de->d_name[1] == '\0')
			continue;
		if (de->d_type != DT_DIR && de->d_type != DT_UNKNOWN && de->d_type != DT_LNK)
			continue;
		store_path_fmt(p, sizeof(p), "%s/%s", root, de->d_name);
		if (stat(p, &st) < 0 || !S_ISDIR(st.st_mode))
			continue;
		if ((name = folder_name(de->d_name)) == NULL)
			continue;
		ret = store_mailbox_name_valid(name) ? fn(name, ctx) : 0;
		free(name);
		if (ret != 0)
			break;
	}
	closedir(d);
	return ret;
}

static int md_mailbox_exists(struct store_user *u, const char *name, struct store_error *err)
{
	char *dir = folder_dir(u, name);
	char p[MAILDIR_PATH_MAX];
	struct stat st;
	int rc;

	if (dir == NULL)
		return 0;
	store_path_fmt(p, sizeof(p), "%s/cur", dir);
	rc = stat(strcasecmp(name, "INBOX") == 0 ? p : dir, &st);
	free(dir);
	if (rc == 0)
		return 1;
	if (errno == ENOENT || errno == ENOTDIR)
		return 0;
	store_error_sys(err, "stat %s", p);
	return -1;
}

static int md_mailbox_create(struct store_user *u, const char *name, struct store_error *err)
{
	char *dir = folder_dir(u, name);
	char p[MAILDIR_PATH_MAX];
	int fd;

	if (dir == NULL) {
		store_error_set(err, STORE_ERR_PERM, "Mailbox name too long");
		return -1;
	}
	if (strcasecmp(name, "INBOX") == 0) {
		if (make_subdirs(dir) < 0) {
			store_error_sys(err, "mkdir %s", dir);
			free(dir);
			return -1;
		}
		free(dir);
		return 0;
	}
	if (mkdir(dir, 0700) < 0) {
		if (errno == EEXIST)
			store_error_set(err, STORE_ERR_EXISTS, "Mailbox already exists");
		else
			store_error_sys(err, "mkdir %s", dir);
		free(dir);
		return -1;
	}
	store_path_fmt(p, sizeof(p), "%s/maildirfolder", dir);
	if (make_subdirs(dir) < 0 || (fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0600)) < 0) {
		store_error_sys(err, "create %s", dir);
		free(dir);
		return -1;
	}
	close(fd);
	fsync_parent_dir(dir);
	free(dir);
	return 0;
}

/* Remove a folder: rename it out of sight first so that a crash halfway
 * never leaves a half-deleted mailbox visible, then delete its files. */
static int remove_tree(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int ret = 0;

	if (d == NULL)
		return errno == ENOENT ? 0 : -1;
	while ((de = readdir(d)) != NULL) {
		char p[MAILDIR_PATH_MAX];
		struct stat st;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		store_path_fmt(p, sizeof(p), "%s/%s", dir, de->d_name);
		if (lstat(p, &st) < 0)
			continue;
		/* Only tmp/new/cur and other plain subdirectories are
		 * Maildir parts; recursion depth is bounded by the layout. */
		if (S_ISDIR(st.st_mode)) {
			DIR *sd = opendir(p);
			struct dirent *sde;

			if (sd != NULL) {
				while ((sde = readdir(sd)) != NULL) {
					char q[MAILDIR_PATH_MAX + 256];

					if (sde->d_name[0] == '.' &&
					    (sde->d_name[1] == '\0' ||
					     (sde->d_name[1] == '.' && sde->d_name[2] == '\0')))
						continue;
					store_path_fmt(q, sizeof(q), "%s/%s", p, sde->d_name);
					if (unlink(q) < 0 && errno != ENOENT)
						ret = -1;
				}
				closedir(sd);
			}
			if (rmdir(p) < 0 && errno != ENOENT)
				ret = -1;
		} else if (unlink(p) < 0 && errno != ENOENT) {
			ret = -1;
		}
	}
	closedir(d);
	if (rmdir(dir) < 0 && errno != ENOENT)
		ret = -1;
	return ret;
}

static int md_mailbox_delete(struct store_user *u, const char *name, struct store_error *err)
{
	char *dir = folder_dir(u, name);
	char trash[MAILDIR_PATH_MAX];

	if (dir == NULL || strcasecmp(name, "INBOX") == 0) {
		free(dir);
		store_error_set(err, STORE_ERR_PERM, "INBOX cannot be deleted");
		return -1;
	}
	store_path_fmt(trash, sizeof(trash), "%s/..postern-deleted.%ld.%u", store_user_location(u)->root,
		 (long)getpid(), ++unique_counter);
	if (rename(dir, trash) < 0) {
		store_error_sys(err, "rename %s", dir);
		free(dir);
		return -1;
	}
	if (remove_tree(trash) < 0)
		log_warn("store: %s: could not remove everything; delete it by hand", trash);
	free(dir);
	return 0;
}

static int md_mailbox_rename(struct store_user *u, const char *oldname, const char *newname,
			     struct store_error *err)
{
	char *from = folder_dir(u, oldname), *to = folder_dir(u, newname);
	struct stat st;
	int ret = 0;

	if (from == NULL || to == NULL) {
		store_error_set(err, STORE_ERR_PERM, "Mailbox name too long");
		ret = -1;
	} else if (stat(to, &st) == 0) {
		store_error_set(err, STORE_ERR_EXISTS, "Mailbox already exists");
		ret = -1;
	} else if (rename(from, to) < 0) {
		store_error_sys(err, "rename %s to %s", from, to);
		ret = -1;
	}
	free(from);
	free(to);
	return ret;
}

/* ---- mailbox level ---- */

static void scan_clear(struct maildir_box *mb)
{
	for (size_t i = 0; i < mb->n_scan; i++) {
		free(mb->scan[i].loc);
		free(mb->scan[i].path);
	}
	mb->n_scan = 0;
	maildir_uidlist_free(&mb->uidlist);
	mb->uidlist_loaded = mb->keywords_checked = false;
}

/* The UID Dovecot gave the file with this base (0: none or no uidlist).
 * The core keeps it only where it is free (first indexing of the folder,
 * or above UIDNEXT), so a stale uidlist cannot give two files one UID. */
static uint32_t dovecot_uid(struct maildir_box *mb, const char *base, size_t len)
{
	if (!mb->uidlist_loaded) {
		char p[MAILDIR_PATH_MAX];
		const char *why = NULL;

		mb->uidlist_loaded = true;
		if (store_path_fmt(p, sizeof(p), "%s/dovecot-uidlist", mb->dir) == 0 &&
		    maildir_uidlist_read(p, &mb->uidlist, &why) < 0)
			log_warn("store: %s: %s; its UIDs are not kept (the files get new ones)", p,
				 why ? why : "unreadable");
	}
	return mb->uidlist.n ? maildir_uidlist_lookup(&mb->uidlist, base, len) : 0;
}

static int kw_map_load(struct maildir_box *mb, char *path, size_t size);

/* The keywords named by the letters a..z of extra into out ("" if none). */
static void dovecot_keywords(struct maildir_box *mb, const char *extra, struct strbuf *out)
{
	strbuf_reset(out);
	if (strpbrk(extra, "abcdefghijklmnopqrstuvwxyz") == NULL)
		return;
	if (!mb->keywords_checked) {
		char p[MAILDIR_PATH_MAX];

		mb->keywords_checked = true;
		if (kw_map_load(mb, p, sizeof(p)) < 0)
			log_warn("store: %s: cannot read it; keyword letters in file names are "
				 "ignored", p);
	}
	if (maildir_keywords_from_letters(&mb->keywords, extra, out) < 0)
		strbuf_reset(out);
}

static int md_box_open(struct store_mailbox *box, struct store_error *err)
{
	struct store_user *u = store_mailbox_user(box);
	struct maildir_box *mb;
	char *dir = folder_dir(u, store_mailbox_name(box));
	struct stat st;

	if (dir == NULL || stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
		free(dir);
		store_error_set(err, STORE_ERR_NOTFOUND, "Mailbox does not exist");
		return -1;
	}
	/* Repair a folder created halfway (crash) or by a tool that left
	 * out a subdirectory. */
	if (make_subdirs(dir) < 0) {
		store_error_sys(err, "mkdir %s/{tmp,new,cur}", dir);
		free(dir);
		return -1;
	}
	mb = must_calloc(1, sizeof(*mb));
	mb->dir = dir;
	mb->new_dir = must_asprintf("%s/new", dir);
	mb->cur_dir = must_asprintf("%s/cur", dir);
	mb->tmp_dir = must_asprintf("%s/tmp", dir);
	store_mailbox_set_backend_data(box, mb);
	return 0;
}

/* The listing of the last scan is for that sync's renames only: 2,000
 * names and paths are ~500 KB, and every session that rescanned its
 * mailbox kept them until the next scan or the close. */
static void md_sync_done(struct store_mailbox *box)
{
	struct maildir_box *mb = store_mailbox_backend_data(box);

	if (mb == NULL)
		return;
	scan_clear(mb);
	free(mb->scan);
	mb->scan = NULL;
	mb->cap_scan = 0;
}

static void held_clear(struct maildir_box *mb);

static void md_box_close(struct store_mailbox *box)
{
	struct maildir_box *mb = store_mailbox_backend_data(box);

	if (mb == NULL)
		return;
	scan_clear(mb);
	held_clear(mb);
	maildir_keywords_free(&mb->keywords);
	free(mb->scan);
	free(mb->last_append);
	free(mb->dir);
	free(mb->new_dir);
	free(mb->cur_dir);
	free(mb->tmp_dir);
	free(mb);
	store_mailbox_set_backend_data(box, NULL);
}

static int64_t mtime_ns(const struct stat *st)
{
	return (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
}

/* Directory mtimes only move forward in whole clock ticks; a file added in
 * the same tick as our scan would leave the mtime unchanged. So a stamp
 * whose mtime was within 2 s of the scan does not count as clean (Dovecot
 * does the same with its dirty-dir window). */
#define DIRTY_WINDOW_NS (2LL * 1000000000)

static bool dir_dirty(const char *dir, int64_t mtime, int64_t scan)
{
	struct stat st;

	if (stat(dir, &st) < 0)
		return true;
	return mtime_ns(&st) != mtime || scan - mtime < DIRTY_WINDOW_NS;
}

struct held_event {
	uint32_t mask;
	char *name;
};

/* At most this many cur/ events wait for a recheck; more: scan. */
#define WATCH_HELD_MAX 256

struct watch_match {
	struct maildir_box *mb;
	bool new_touched;
	bool full;
};

static void held_clear(struct maildir_box *mb)
{
	for (size_t i = 0; i < mb->n_held; i++)
		free(mb->held[i].name);
	free(mb->held);
	mb->held = NULL;
	mb->n_held = 0;
}

/* store_notify_take's callback: new/ events only mark new/ touched, cur/
 * events are kept for watch_match_event. */
static int watch_collect(size_t path, uint32_t mask, const char *name, void *ctx)
{
	struct watch_match *c = ctx;
	struct maildir_box *mb = c->mb;

	if (path == 0) {
		/* deliveries and pick-ups: a partial scan moves them along */
		c->new_touched = true;
		return 0;
	}
	if (mb->n_held == WATCH_HELD_MAX) {
		c->full = true;
		return 0;
	}
	if (mb->held == NULL &&
	    (mb->held = malloc(WATCH_HELD_MAX * sizeof(*mb->held))) == NULL) {
		c->full = true;
		return 0;
	}
	if ((mb->held[mb->n_held].name = strdup(name)) == NULL) {
		c->full = true;
		return 0;
	}
	mb->held[mb->n_held++].mask = mask;
	return 0;
}

/* One entry event of cur/ against the index (box->sync_txn): 0 when the records already say what the event did, 1 when not. A cur/
 * name is "expected" when the record of its U= UID has its base name as
 * loc, is not in new/, and has its flags; an event that created the name
 * must find it expected, one that removed it must not. Keyword letters
 * are not compared: a scan does not take them from the names of indexed
 * messages either (README.md "Keywords"). */
static int watch_match_event(struct store_mailbox *box, uint32_t mask, const char *name)
{
	struct maildir_name n;
	struct index_msg m;
	struct store_error err;
	bool expected;
	int rc;

	if (maildir_name_parse(name, strlen(name), &n) < 0)
		return 0; /* not a message file: scans skip it too */
	if (n.uid == 0)
		return 1; /* written by another program: a scan names it */
	rc = index_msg_get_bare(box->user->index, box->sync_txn, box->box_id, n.uid, &m, &err);
	if (rc < 0)
		return 1;
	expected = rc > 0 && m.loc != NULL && strlen(m.loc) == n.base_len &&
		   memcmp(m.loc, name, n.base_len) == 0 && !(m.flags & INDEX_FLAG_IN_NEW) &&
		   (m.flags & STORE_FLAGS_STORED) == n.flags;
	if (mask & (IN_CREATE | IN_MOVED_TO))
		return expected ? 0 : 1;
	return expected ? 1 : 0;
}

/*
 * The dirty check without the 2 s window, for a mailbox with change
 * notification (an IMAP session's selected mailbox). Every Postern writer
 * changes cur/ and the index in one write transaction, so when every
 * entry event since a clean moment agrees with the records, the index
 * still holds what the files say: for each name touched the last event
 * decides whether the file exists and is checked against the records,
 * and untouched names are as they were. An event that does not agree (a
 * foreign writer, or a writer that has not committed yet): 1, a full
 * scan. Lost events or no watch: -1, and the mtime check decides. 0
 * clean, 2 new/ changed.
 */
static int md_watch_check(struct store_mailbox *box, struct maildir_box *mb)
{
	struct watch_match c = { .mb = mb };
	size_t i;

	if (box->watch == NULL || box->sync_txn == NULL) {
		mb->watch_clean = mb->watch_arm = mb->watch_new = mb->watch_scan = false;
		held_clear(mb);
		return -1;
	}
	if (mb->watch_scan) {
		(void)store_notify_take(box, NULL, NULL);
		return 1;
	}
	if (!mb->watch_clean) {
		/* whatever happened so far is covered by the stat or scan that
		 * follows; from here on the events count */
		(void)store_notify_take(box, NULL, NULL);
		held_clear(mb);
		mb->watch_arm = true;
		return -1;
	}
	if (store_notify_take(box, watch_collect, &c) != 0 || c.full) {
		/* events lost: the stamps decide (the rest was discarded
		 * before their stat) */
		mb->watch_clean = mb->watch_new = false;
		held_clear(mb);
		mb->watch_arm = true;
		return -1;
	}
	if (c.new_touched)
		mb->watch_new = true;
	for (i = 0; i < mb->n_held; i++)
		if (watch_match_event(box, mb->held[i].mask, mb->held[i].name) != 0)
			break;
	bool unmatched = i < mb->n_held;

	if (unmatched && !box->sync_txn_write) {
		/* Maybe a writer between its rename and its commit: the core
		 * asks again under the writer lock, when no Postern writer is
		 * half-way; the events wait for that. */
		return 1;
	}
	held_clear(mb);
	if (unmatched) {
		/* a change the index does not know: scan, whatever the mtimes say */
		mb->watch_clean = mb->watch_new = false;
		mb->watch_arm = mb->watch_scan = true;
		return 1;
	}
	return mb->watch_new ? 2 : 0;
}

static int md_sync_check(struct store_mailbox *box, const void *stamp, size_t len)
{
	struct maildir_box *mb = store_mailbox_backend_data(box);
	struct maildir_stamp s;
	int w;

	if (len != sizeof(s))
		return 1;
	memcpy(&s, stamp, sizeof(s));
	if ((w = md_watch_check(box, mb)) >= 0) {
		mb->old_stamp = s;
		mb->have_old_stamp = w != 1;
		return w;
	}
	if (dir_dirty(mb->cur_dir, s.cur_mtime_ns, s.cur_scan_ns)) {
		mb->have_old_stamp = false;
		return 1;
	}
	/* cur/ is clean: only deliveries (new/) can have happened. */
	mb->old_stamp = s;
	mb->have_old_stamp = true;
	if (dir_dirty(mb->new_dir, s.new_mtime_ns, s.new_scan_ns))
		return 2;
	if (mb->watch_arm) {
		/* clean by the stamps, with the watch on since before the stat */
		mb->watch_clean = true;
		mb->watch_arm = false;
	}
	return 0;
}

/* The scan that followed an armed check is in the index now. */
static void md_sync_committed(struct store_mailbox *box)
{
	struct maildir_box *mb = store_mailbox_backend_data(box);

	if (mb == NULL)
		return;
	if (mb->watch_arm) {
		mb->watch_clean = true;
		mb->watch_arm = false;
	}
	mb->watch_new = mb->watch_scan = false;
	held_clear(mb); /* the scan saw what they did */
}

static int scan_remember(struct maildir_box *mb, const char *loc, const char *path)
{
	if (mb->n_scan == mb->cap_scan) {
		size_t cap = mb->cap_scan ? mb->cap_scan * 2 : 256;
		struct scan_entry *n = realloc(mb->scan, cap * sizeof(*n));

		if (n == NULL)
			return -1;
		mb->scan = n;
		mb->cap_scan = cap;
	}
	mb->scan[mb->n_scan].loc = strdup(loc);
	mb->scan[mb->n_scan].path = strdup(path);
	if (mb->scan[mb->n_scan].loc == NULL || mb->scan[mb->n_scan].path == NULL) {
		free(mb->scan[mb->n_scan].loc);
		free(mb->scan[mb->n_scan].path);
		return -1;
	}
	mb->n_scan++;
	mb->scan_sorted = false;
	return 0;
}

static int scan_cmp(const void *a, const void *b)
{
	return strcmp(((const struct scan_entry *)a)->loc, ((const struct scan_entry *)b)->loc);
}

static const char *scan_find(struct maildir_box *mb, const char *loc)
{
	struct scan_entry key = { .loc = (char *)loc }, *e;

	if (mb->n_scan == 0)
		return NULL;
	/* Sorted only when looked up: most scans end without a lookup, and
	 * sorting 2,000 names was the top of a rescan's profile. */
	if (!mb->scan_sorted && mb->n_scan > 1)
		qsort(mb->scan, mb->n_scan, sizeof(*mb->scan), scan_cmp);
	mb->scan_sorted = true;
	e = bsearch(&key, mb->scan, mb->n_scan, sizeof(*e), scan_cmp);
	return e ? e->path : NULL;
}

static int scan_dir(struct maildir_box *mb, const char *dir, bool is_new, struct store_sync *sc,
		    struct store_error *err)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	if (d == NULL) {
		store_error_sys(err, "opendir %s", dir);
		return -1;
	}
	struct strbuf kw;

	strbuf_init(&kw, STORE_KEYWORDS_MAX);
	while ((de = readdir(d)) != NULL) {
		struct maildir_name n;
		struct store_sync_item item;
		char loc[MAILDIR_NAME_MAX + 1], path[MAILDIR_PATH_MAX];

		if (maildir_name_parse(de->d_name, strlen(de->d_name), &n) < 0)
			continue;
		memcpy(loc, de->d_name, n.base_len);
		loc[n.base_len] = '\0';
		memset(&item, 0, sizeof(item));
		item.uid_hint = n.uid;
		if (n.uid == 0) {
			item.uid_hint = dovecot_uid(mb, loc, n.base_len);
			item.hint_external = item.uid_hint != 0;
		}
		item.loc = loc;
		item.flags = n.flags;
		dovecot_keywords(mb, n.extra, &kw);
		item.keywords = kw.len ? kw.data : NULL;
		/* Files in new/ carry no flags (the spec): keep the index's.
		 * Dovecot does give new/ files an info part when a client set
		 * flags before the message was picked up: then it counts. */
		item.flags_known = !is_new || n.has_info;
		item.recent = is_new;
		item.physical_size = n.size;
		item.vsize = n.vsize;
		/* Our own names (S= and W=) start with the INTERNALDATE (the
		 * delivery time, or APPEND's date): no stat needed. Foreign
		 * files get their mtime through the core. */
		if (n.size && n.vsize)
			item.internaldate = n.time;
		store_path_fmt(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (store_sync_add(sc, &item, err) < 0 || scan_remember(mb, loc, path) < 0) {
			if (err->cls == STORE_OK)
				store_error_set(err, STORE_ERR_TEMP, "Out of memory");
			closedir(d);
			strbuf_free(&kw);
			return -1;
		}
	}
	closedir(d);
	strbuf_free(&kw);
	return 0;
}

/* Files a killed writer left in tmp/: the spec says to remove those not
 * touched for 36 hours (a live writer may still be copying a big one). */
#define TMP_MAX_AGE (36 * 3600)

static void clean_tmp(struct maildir_box *mb, time_t now)
{
	DIR *d = opendir(mb->tmp_dir);
	struct dirent *de;

	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		char p[MAILDIR_PATH_MAX];
		struct stat st;

		if (de->d_name[0] == '.')
			continue;
		if (store_path_fmt(p, sizeof(p), "%s/%s", mb->tmp_dir, de->d_name) < 0)
			continue;
		if (lstat(p, &st) == 0 && S_ISREG(st.st_mode) &&
		    st.st_atime < now - TMP_MAX_AGE && st.st_mtime < now - TMP_MAX_AGE &&
		    st.st_ctime < now - TMP_MAX_AGE)
			(void)unlink(p);
	}
	closedir(d);
}

static int md_sync_scan(struct store_mailbox *box, struct store_sync *sc, struct store_error *err)
{
	struct maildir_box *mb = store_mailbox_backend_data(box);
	bool partial = store_sync_partial(sc) && mb->have_old_stamp;
	struct maildir_stamp s;
	struct stat stn, stc;
	struct timespec now;

	/* The stamp is taken before reading: whatever changes during the
	 * scan moves an mtime and is seen next time. */
	if (stat(mb->new_dir, &stn) < 0 || stat(mb->cur_dir, &stc) < 0) {
		store_error_sys(err, "stat %s", mb->dir);
		return -1;
	}
	clock_gettime(CLOCK_REALTIME, &now);
	s.new_mtime_ns = mtime_ns(&stn);
	s.new_scan_ns = (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
	s.cur_mtime_ns = mtime_ns(&stc);
	s.cur_scan_ns = s.new_scan_ns;
	if (partial) {
		s.cur_mtime_ns = mb->old_stamp.cur_mtime_ns;
		s.cur_scan_ns = mb->old_stamp.cur_scan_ns;
	}
	scan_clear(mb);
	/* new/ first: a file that another program moves from new/ to cur/
	 * between the two readdirs is then seen twice (the core keeps one),
	 * never missed. */
	if (scan_dir(mb, mb->new_dir, true, sc, err) < 0 ||
	    (!partial && scan_dir(mb, mb->cur_dir, false, sc, err) < 0))
		return -1;
	mb->scan_sorted = false;
	maildir_uidlist_free(&mb->uidlist);
	store_sync_set_stamp(sc, &s, sizeof(s));
	if (!partial)
		clean_tmp(mb, now.tv_sec);
	return 0;
}

static void kw_letters_lookup(struct maildir_box *mb, const char *keywords, char *letters);

/* The current path of message loc (whose index flags are flags). Tries
 * the expected name, new/, the last scan, then a readdir of cur/.
 * Returns 0 with path filled, or -1 with errno ENOENT. */
static int find_file(struct maildir_box *mb, const char *loc, unsigned flags,
		     const char *keywords, char *path, size_t size)
{
	char info[MAILDIR_EXTRA_MAX + 8];
	const char *p;
	size_t loclen = strlen(loc);
	struct dirent *de;
	DIR *d;

	maildir_info_format(info, sizeof(info), flags, "");
	store_path_fmt(path, size, "%s/%s%s", mb->cur_dir, loc, info);
	if (access(path, F_OK) == 0)
		return 0;
	if (keywords && *keywords) {
		/* the name as we would have written it, keyword letters included */
		char letters[MAILDIR_KEYWORDS_MAX + 1];

		kw_letters_lookup(mb, keywords, letters);
		maildir_info_format(info, sizeof(info), flags, letters);
		store_path_fmt(path, size, "%s/%s%s", mb->cur_dir, loc, info);
		if (letters[0] && access(path, F_OK) == 0)
			return 0;
	}
	store_path_fmt(path, size, "%s/%s", mb->new_dir, loc);
	if (access(path, F_OK) == 0)
		return 0;
	if ((p = scan_find(mb, loc)) != NULL && access(p, F_OK) == 0) {
		str_copy(path, p, size);
		return 0;
	}
	/* Renamed by another program (other flag letters): look for it. */
	if ((d = opendir(mb->cur_dir)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, loc, loclen) == 0 &&
		    (de->d_name[loclen] == ':' || de->d_name[loclen] == '\0')) {
			store_path_fmt(path, size, "%s/%s", mb->cur_dir, de->d_name);
			closedir(d);
			return 0;
		}
	}
	closedir(d);
	errno = ENOENT;
	return -1;
}

/* Rename the file of loc to cur/NEWBASE:2,FLAGS keeping extra letters;
 * with keyword_letters != NULL the letters a..z are replaced by those. */
static int move_to_cur_kw(struct maildir_box *mb, const char *from, const char *newbase,
			  unsigned flags, const char *keyword_letters, struct store_error *err)
{
	const char *slash = strrchr(from, '/');
	struct maildir_name n;
	char info[MAILDIR_EXTRA_MAX + 8], to[MAILDIR_PATH_MAX];

	slash = slash ? slash + 1 : from;
	if (maildir_name_parse(slash, strlen(slash), &n) < 0)
		memset(&n, 0, sizeof(n));
	if (keyword_letters != NULL) {
		char extra[MAILDIR_EXTRA_MAX];
		size_t k = 0;

		for (const char *p = n.extra; *p && k + 1 < sizeof(extra); p++)
			if (*p < 'a' || *p > 'z')
				extra[k++] = *p;
		for (const char *p = keyword_letters; *p && k + 1 < sizeof(extra); p++)
			extra[k++] = *p;
		extra[k] = '\0';
		str_copy(n.extra, extra, sizeof(n.extra));
	}
	maildir_info_format(info, sizeof(info), flags, n.extra);
	store_path_fmt(to, sizeof(to), "%s/%s%s", mb->cur_dir, newbase, info);
	if (strcmp(from, to) == 0)
		return 0;
	if (rename(from, to) < 0) {
		if (errno == ENOENT)
			store_error_set(err, STORE_ERR_EXPUNGED, "Message was expunged");
		else
			store_error_sys(err, "rename %s to %s", from, to);
		return -1;
	}
	return 0;
}

static int move_to_cur(struct maildir_box *mb, const char *from, const char *newbase,
		       unsigned flags, struct store_error *err)
{
	return move_to_cur_kw(mb, from, newbase, flags, NULL, err);
}

/* ---- keyword letters (dovecot-keywords) ---- */

/* Whether mb->keywords is what the file holds now (another process may
 * have added a keyword since we read it). */
static int kw_map_load(struct maildir_box *mb, char *path, size_t size)
{
	struct stat st;

	if (store_path_fmt(path, size, "%s/dovecot-keywords", mb->dir) < 0)
		return -1;
	if (stat(path, &st) < 0) {
		if (errno != ENOENT)
			return -1;
		memset(&st, 0, sizeof(st));
	}
	if (mb->keywords_loaded && st.st_ino == mb->kw_ino && st.st_size == mb->kw_size &&
	    mtime_ns(&st) == mb->kw_mtime)
		return 0;
	maildir_keywords_free(&mb->keywords);
	mb->keywords_loaded = true;
	mb->kw_ino = st.st_ino;
	mb->kw_size = st.st_size;
	mb->kw_mtime = mtime_ns(&st);
	return maildir_keywords_read(path, &mb->keywords) < 0 ? -1 : 0;
}

/* Keyword w[0..len) -> its letter, assigning a free one (*dirty set);
 * 0 when all 26 are taken (the keyword then lives in the index only). */
static char kw_letter(struct maildir_keywords *kw, const char *w, size_t len, bool *dirty)
{
	int free_slot = -1;

	for (int i = 0; i < MAILDIR_KEYWORDS_MAX; i++) {
		if (kw->name[i] == NULL) {
			if (free_slot < 0)
				free_slot = i;
		} else if (strlen(kw->name[i]) == len && strncasecmp(kw->name[i], w, len) == 0) {
			return (char)('a' + i);
		}
	}
	if (free_slot < 0 || (kw->name[free_slot] = strndup(w, len)) == NULL)
		return 0;
	*dirty = true;
	return (char)('a' + free_slot);
}

/* The letters keywords already have (none assigned) into letters. */
static void kw_letters_lookup(struct maildir_box *mb, const char *keywords, char *letters)
{
	char path[MAILDIR_PATH_MAX];
	size_t k = 0;

	letters[0] = '\0';
	if (kw_map_load(mb, path, sizeof(path)) < 0)
		return;
	for (const char *p = keywords; *p;) {
		const char *e;
		size_t l;

		while (*p == ' ')
			p++;
		if (!*p)
			break;
		e = strchr(p, ' ');
		l = e ? (size_t)(e - p) : strlen(p);
		for (int i = 0; i < MAILDIR_KEYWORDS_MAX; i++) {
			const char *n = mb->keywords.name[i];

			if (n && strlen(n) == l && strncasecmp(n, p, l) == 0 &&
			    k < MAILDIR_KEYWORDS_MAX && strchr(letters, 'a' + i) == NULL) {
				letters[k++] = (char)('a' + i);
				letters[k] = '\0';
			}
		}
		p += l;
	}
}

/*
 * The letters for keywords (space-separated) into letters (27 bytes),
 * adding new keywords to dovecot-keywords (written through tmp/ and a
 * rename, as Dovecot replaces it). Called inside the core's write
 * transaction, which serialises every Postern writer of the mailbox.
 * 0, or -1 with err (the file could not be written).
 */
static int kw_letters(struct maildir_box *mb, const char *keywords, char *letters,
		      struct store_error *err)
{
	char path[MAILDIR_PATH_MAX], tmp[MAILDIR_PATH_MAX];
	bool dirty = false;
	size_t k = 0;

	letters[0] = '\0';
	if (keywords == NULL || *keywords == '\0')
		return 0;
	if (kw_map_load(mb, path, sizeof(path)) < 0) {
		store_error_sys(err, "read %s", path);
		return -1;
	}
	for (const char *p = keywords; *p;) {
		const char *e;
		size_t l;
		char c;

		while (*p == ' ')
			p++;
		if (!*p)
			break;
		e = strchr(p, ' ');
		l = e ? (size_t)(e - p) : strlen(p);
		c = kw_letter(&mb->keywords, p, l, &dirty);
		if (c && strchr(letters, c) == NULL && k < MAILDIR_KEYWORDS_MAX) {
			letters[k++] = c;
			letters[k] = '\0';
		}
		p += l;
	}
	if (dirty) {
		struct strbuf sb;
		int fd = -1, rc = -1;

		strbuf_init(&sb, 1 << 16);
		if (maildir_keywords_format(&mb->keywords, &sb) == 0 &&
		    store_path_fmt(tmp, sizeof(tmp), "%s/dovecot-keywords.%ld", mb->tmp_dir,
				   (long)getpid()) == 0 &&
		    (fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) >= 0 &&
		    write(fd, sb.data, sb.len) == (ssize_t)sb.len && fsync(fd) == 0 &&
		    close(fd) == 0 && (fd = -1, rename(tmp, path) == 0)) {
			rc = 0;
		}
		if (rc < 0) {
			store_error_sys(err, "write %s", path);
			if (fd >= 0)
				close(fd);
			(void)unlink(tmp);
			mb->keywords_loaded = false; /* our map has names the file lacks */
		} else {
			struct stat st;

			if (stat(path, &st) == 0) {
				mb->kw_ino = st.st_ino;
				mb->kw_size = st.st_size;
				mb->kw_mtime = mtime_ns(&st);
			}
		}
		strbuf_free(&sb);
		return rc;
	}
	return 0;
}

static int md_sync_assign(struct store_mailbox *box, const char *loc, uint32_t uid,
			  unsigned flags, char **new_loc_r, struct store_error *err)
{
	struct maildir_box *mb = store_mailbox_backend_data(box);
	char from[MAILDIR_PATH_MAX], newbase[MAILDIR_NAME_MAX + 1];
	const char *p;

	*new_loc_r = NULL;
	/* Called right after a scan: its path is fresh (a rename that fails
	 * with ENOENT reports the message gone). */
	p = scan_find(mb, loc);
	if (p != NULL)
		str_copy(from, p, sizeof(from));
	else if (find_file(mb, loc, flags, NULL, from, sizeof(from)) < 0) {
		store_error_set(err, STORE_ERR_EXPUNGED, "Message was expunged");
		return -1;
	}
	if (maildir_base_with_uid(newbase, sizeof(newbase), loc, strlen(loc), uid) < 0) {
		/* A base too long for a U= field keeps its name; the UID then
		 * lives in the index only. */
		return move_to_cur(mb, from, loc, flags, err);
	}
	if (move_to_cur(mb, from, newbase, flags, err) < 0)
		return -1;
	if ((*new_loc_r = strdup(newbase)) == NULL) {
		store_error_set(err, STORE_ERR_TEMP, "Out of memory");
		return -1;
	}
	return 0;
}

static int md_msg_open(struct store_mailbox *box, const struct store_backend_msg *m, int *fd_r,
		       off_t *offset_r, uint64_t *size_r, struct store_error *err)
{
	struct maildir_box *mb = store_mailbox_backend_data(box);
	char path[MAILDIR_PATH_MAX];
	struct stat st;
	int fd = -1;

	/* A rename by another session can race the open: retry the lookup. */
	for (int tries = 0; tries < 3 && fd < 0; tries++) {
		if (find_file(mb, m->loc, m->flags, m->keywords, path, sizeof(path)) < 0)
			break;
		fd = open(path, O_RDONLY | O_CLOEXEC);
	}
	if (fd < 0) {
		store_error_set(err, STORE_ERR_EXPUNGED, "Message was expunged");
		return -1;
	}
	if (fstat(fd, &st) < 0) {
		store_error_sys(err, "fstat %s", path);
		close(fd);
		return -1;
	}
	*fd_r = fd;
	*offset_r = 0;
	*size_r = (uint64_t)st.st_size;
	return 0;
}

static int md_msg_append(struct store_mailbox *box, const struct store_source *src,
			 const struct store_backend_msg *m, char **loc_r, uint64_t *physical_r,
			 uint64_t *vsize_r, struct store_error *err)
{
	struct maildir_box *mb = store_mailbox_backend_data(box);
	const struct store_settings *set = store_user_settings(store_mailbox_user(box));
	char uniq[MAILDIR_NAME_MAX + 1], base[MAILDIR_NAME_MAX + 1], withuid[MAILDIR_NAME_MAX + 1];
	char tmp[MAILDIR_PATH_MAX], final[MAILDIR_PATH_MAX], info[MAILDIR_EXTRA_MAX + 8];
	uint64_t phys, vsize;
	int fd;

	if (maildir_unique_name(uniq, sizeof(uniq), set->hostname ? set->hostname : "localhost",
				&unique_counter) < 0) {
		store_error_set(err, STORE_ERR_TEMP, "Host name too long for a Maildir name");
		return -1;
	}
	if (m->internaldate > 0) {
		/* The name's seconds are the INTERNALDATE (see scan_dir). */
		char rest[MAILDIR_NAME_MAX + 1];
		const char *dot = strchr(uniq, '.');

		str_copy(rest, dot ? dot + 1 : uniq, sizeof(rest));
		store_path_fmt(uniq, sizeof(uniq), "%lld.%s", (long long)m->internaldate, rest);
	}
	store_path_fmt(tmp, sizeof(tmp), "%s/%s", mb->tmp_dir, uniq);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		store_error_sys(err, "create %s", tmp);
		return -1;
	}
	if (store_copy_source(fd, tmp, src, &phys, &vsize, err) < 0)
		goto fail;
	if (m->internaldate > 0) {
		struct timespec ts[2] = { { .tv_sec = m->internaldate }, { .tv_sec = m->internaldate } };

		(void)futimens(fd, ts);
	}
	if (fsync(fd) < 0) {
		store_error_sys(err, "fsync %s", tmp);
		goto fail;
	}
	if (close(fd) < 0) {
		fd = -1;
		store_error_sys(err, "close %s", tmp);
		goto fail;
	}
	fd = -1;
	store_path_fmt(base, sizeof(base), "%s,S=%llu,W=%llu", uniq, (unsigned long long)phys,
		 (unsigned long long)vsize);
	if (m->uid > 0) {
		if (maildir_base_with_uid(withuid, sizeof(withuid), base, strlen(base), m->uid) == 0)
			str_copy(base, withuid, sizeof(base));
	}
	if (m->flags & STORE_FLAG_RECENT) {
		store_path_fmt(final, sizeof(final), "%s/%s", mb->new_dir, base);
	} else {
		char letters[MAILDIR_KEYWORDS_MAX + 1];

		/* Keywords as Dovecot's letters, so they survive a rebuild;
		 * a failure to record a new letter keeps them in the index. */
		if (kw_letters(mb, m->keywords, letters, err) < 0) {
			memset(err, 0, sizeof(*err));
			letters[0] = '\0';
		}
		maildir_info_format(info, sizeof(info), m->flags, letters);
		store_path_fmt(final, sizeof(final), "%s/%s%s", mb->cur_dir, base, info);
	}
	/* link() never replaces an existing file (the spec's reason to use it). */
	if (link(tmp, final) < 0) {
		store_error_sys(err, "link %s to %s", tmp, final);
		goto fail;
	}
	(void)unlink(tmp);
	if (fsync_parent_dir(final) < 0) {
		store_error_sys(err, "fsync directory of %s", final);
		(void)unlink(final);
		return -1;
	}
	if ((*loc_r = strdup(base)) == NULL) {
		/* The caller reports a failure: take the message back. */
		store_error_set(err, STORE_ERR_TEMP, "Out of memory");
		if (unlink(final) == 0)
			(void)fsync_parent_dir(final);
		return -1;
	}
	free(mb->last_append);
	if ((mb->last_append = strdup(final)) == NULL) {
		store_error_set(err, STORE_ERR_TEMP, "Out of memory");
		free(*loc_r);
		*loc_r = NULL;
		if (unlink(final) == 0)
			(void)fsync_parent_dir(final);
		return -1;
	}
	*physical_r = phys;
	*vsize_r = vsize;
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	(void)unlink(tmp);
	return -1;
}

static int md_msg_append_undo(struct store_mailbox *box, const char *loc,
			      struct store_error *err)
{
	struct maildir_box *mb = store_mailbox_backend_data(box);
	const char *slash = mb->last_append ? strrchr(mb->last_append, '/') : NULL;

	/* The name is unique and nobody renames a file the index does not
	 * know (our syncs wait for the write transaction the core holds):
	 * it is still where msg_append linked it. */
	if (slash == NULL || strncmp(slash + 1, loc, strlen(loc)) != 0) {
		store_error_set(err, STORE_ERR_TEMP, "Internal error: no such appended message");
		return -1;
	}
	if (unlink(mb->last_append) < 0) {
		store_error_sys(err, "unlink %s", mb->last_append);
		return -1;
	}
	/* Durably gone, or a crash could bring back the delivery that was
	 * reported failed (and is about to be retried). */
	if (fsync_parent_dir(mb->last_append) < 0) {
		store_error_sys(err, "fsync directory of %s", mb->last_append);
		return -1;
	}
	x_free(&mb->last_append);
	return 0;
}

static int md_msg_set_flags(struct store_mailbox *box, const struct store_backend_msg *m,
			    unsigned new_flags, char **new_loc_r, struct store_error *err)
{
	struct maildir_box *mb = store_mailbox_backend_data(box);
	char from[MAILDIR_PATH_MAX];

	*new_loc_r = NULL;
	if ((m->keywords == NULL || *m->keywords == '\0') && new_flags != m->flags) {
		/* The usual case first: the file has the name we gave it.
		 * Renaming straight from it spares find_file's access(), a
		 * third directory lookup per message (STORE 1:* on 2,000
		 * files spends most of its time in the kernel's lookups). */
		char info[MAILDIR_EXTRA_MAX + 8], to[MAILDIR_PATH_MAX];

		maildir_info_format(info, sizeof(info), m->flags & STORE_FLAGS_STORED, "");
		store_path_fmt(from, sizeof(from), "%s/%s%s", mb->cur_dir, m->loc, info);
		maildir_info_format(info, sizeof(info), new_flags & STORE_FLAGS_STORED, "");
		store_path_fmt(to, sizeof(to), "%s/%s%s", mb->cur_dir, m->loc, info);
		if (rename(from, to) == 0)
			return 0;
		if (errno != ENOENT) {
			store_error_sys(err, "rename %s to %s", from, to);
			return -1;
		}
		/* elsewhere (new/, other letters): look for it */
	}
	if (find_file(mb, m->loc, m->flags, m->keywords, from, sizeof(from)) < 0) {
		store_error_set(err, STORE_ERR_EXPUNGED, "Message was expunged");
		return -1;
	}
	return move_to_cur(mb, from, m->loc, new_flags, err);
}

static int md_msg_set_flags_kw(struct store_mailbox *box, const struct store_backend_msg *m,
			       unsigned new_flags, const char *new_keywords, char **new_loc_r,
			       struct store_error *err)
{
	struct maildir_box *mb = store_mailbox_backend_data(box);
	char from[MAILDIR_PATH_MAX], letters[MAILDIR_KEYWORDS_MAX + 1];

	*new_loc_r = NULL;
	if (find_file(mb, m->loc, m->flags, m->keywords, from, sizeof(from)) < 0) {
		store_error_set(err, STORE_ERR_EXPUNGED, "Message was expunged");
		return -1;
	}
	if (kw_letters(mb, new_keywords, letters, err) < 0) {
		/* dovecot-keywords not writable: the keywords stay in the
		 * index, the file keeps the letters it has. */
		log_warn("store: %s: keyword letters not updated in the file name", mb->dir);
		memset(err, 0, sizeof(*err));
		return move_to_cur(mb, from, m->loc, new_flags, err);
	}
	return move_to_cur_kw(mb, from, m->loc, new_flags, letters, err);
}

static int md_msg_expunge(struct store_mailbox *box, const struct store_backend_msg *m,
			  struct store_error *err)
{
	struct maildir_box *mb = store_mailbox_backend_data(box);
	char path[MAILDIR_PATH_MAX];

	if (find_file(mb, m->loc, m->flags, m->keywords, path, sizeof(path)) < 0)
		return 0;
	if (unlink(path) < 0 && errno != ENOENT) {
		store_error_sys(err, "unlink %s", path);
		return -1;
	}
	return 0;
}

static size_t md_watch_paths(struct store_mailbox *box, const char **paths, size_t max)
{
	struct maildir_box *mb = store_mailbox_backend_data(box);

	if (max < 2)
		return 0;
	paths[0] = mb->new_dir;
	paths[1] = mb->cur_dir;
	return 2;
}

static int md_uid_state_write(struct store_mailbox *box, uint32_t uidvalidity, uint32_t uidnext,
			      struct store_error *err);

static int md_uid_state_read(struct store_mailbox *box, uint32_t *uidvalidity_r,
			     uint32_t *uidnext_r, struct store_error *err)
{
	struct maildir_box *mb = store_mailbox_backend_data(box);
	char path[MAILDIR_PATH_MAX];

	struct maildir_uidlist ul;
	const char *why = NULL;
	int rc;

	if (store_path_fmt(path, sizeof(path), "%s/postern-uidvalidity", mb->dir) < 0)
		return 0;
	rc = store_uid_state_file_read(path, uidvalidity_r, uidnext_r, err);
	if (rc != 0)
		return rc;
	/* Never indexed by us: a folder Dovecot kept UIDs for keeps its
	 * UIDVALIDITY and UIDNEXT, so clients (and POP3 UIDLs made of UID
	 * and UIDVALIDITY) see no change. Recorded in our own file at once:
	 * from now on Dovecot's file is only read for names without U=. */
	if (store_path_fmt(path, sizeof(path), "%s/dovecot-uidlist", mb->dir) < 0)
		return 0;
	rc = maildir_uidlist_read(path, &ul, &why);
	if (rc <= 0) {
		if (rc < 0)
			log_warn("store: %s: %s; a new UIDVALIDITY is used", path, why);
		return 0;
	}
	*uidvalidity_r = ul.uidvalidity;
	*uidnext_r = ul.nextuid;
	maildir_uidlist_free(&ul);
	log_info("store: %s: taking over Dovecot's UIDVALIDITY %u and UIDNEXT %u", path,
		 *uidvalidity_r, *uidnext_r);
	if (md_uid_state_write(box, *uidvalidity_r, *uidnext_r, err) < 0)
		return -1;
	return 1;
}

static int md_uid_state_write(struct store_mailbox *box, uint32_t uidvalidity, uint32_t uidnext,
			      struct store_error *err)
{
	struct maildir_box *mb = store_mailbox_backend_data(box);
	char path[MAILDIR_PATH_MAX], tmp[MAILDIR_PATH_MAX];

	if (store_path_fmt(path, sizeof(path), "%s/postern-uidvalidity", mb->dir) < 0 ||
	    store_path_fmt(tmp, sizeof(tmp), "%s/tmp/postern-uidvalidity.%ld", mb->dir,
			   (long)getpid()) < 0) {
		store_error_sys(err, "uidvalidity file of %s", mb->dir);
		return -1;
	}
	return store_uid_state_file_write(path, tmp, uidvalidity, uidnext, err);
}

const struct store_backend store_backend_maildir = {
	.name = "maildir",
	.user_init = md_user_init,
	.mailbox_list = md_mailbox_list,
	.mailbox_exists = md_mailbox_exists,
	.mailbox_create = md_mailbox_create,
	.mailbox_delete = md_mailbox_delete,
	.mailbox_rename = md_mailbox_rename,
	.box_open = md_box_open,
	.box_close = md_box_close,
	.sync_check = md_sync_check,
	.sync_scan = md_sync_scan,
	.sync_assign = md_sync_assign,
	.msg_open = md_msg_open,
	.msg_append = md_msg_append,
	.msg_append_undo = md_msg_append_undo,
	.msg_set_flags = md_msg_set_flags,
	.msg_set_flags_kw = md_msg_set_flags_kw,
	.msg_expunge = md_msg_expunge,
	.sync_done = md_sync_done,
	.sync_committed = md_sync_committed,
	.watch_paths = md_watch_paths,
	.uid_state_read = md_uid_state_read,
	.uid_state_write = md_uid_state_write,
};
