/*
 * mbox-backend.c - the mbox mailbox format behind store/store.h: the
 * struct store_backend (store-backend.h) the core calls for users whose
 * mail_location is "mbox:ROOT[:INBOX=FILE]" (Dovecot syntax, e.g. the
 * seeds' mbox:~/mail:INBOX=/var/mail/%u). This file holds the lock
 * settings, the user level and the mailbox tree; one open mailbox (locks,
 * sync, messages, UID state) is mbox-box.c.
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
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "store/mbox-private.h"
#include "store/mbox-backend-private.h"
#include "store/store-backend.h"
#include "util.h"

#define MBOX_LIST_DEPTH 16

struct mbox_user {
	char *inbox;
};

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

const struct mbox_lock_settings *mbox_be_locks(void)
{
	if (!backend_locks_set) {
		mbox_lock_settings_default(&backend_locks);
		backend_locks_set = true;
	}
	return &backend_locks;
}

/* What the last scan found out about one message. */
/* ------------------------------------------------------------ helpers */

int mbox_be_mkdir_parents(const char *path)
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

int mbox_be_create_empty(const char *path)
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
	if (mbox_be_mkdir_parents(loc->index_dir) < 0)
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

		if (store_path_fmt(probe, sizeof(probe), "%s/x", loc->root) < 0 || mbox_be_mkdir_parents(probe) < 0) {
			store_error_sys(err, "mkdir %s", loc->root);
			return -1;
		}
	}
	if (!inbox_ok && (mbox_be_mkdir_parents(mu->inbox) < 0 || mbox_be_create_empty(mu->inbox) < 0)) {
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
char *mbox_be_mailbox_path(struct store_user *u, const char *name)
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
		if (store_path_fmt(path, sizeof(path), "%s/%s", dir, de->d_name) < 0 ||
		    store_path_fmt(name, sizeof(name), "%s%s", prefix, de->d_name) < 0 ||
		    lstat(path, &st) < 0)
			continue;
		if (S_ISDIR(st.st_mode)) {
			char sub[PATH_MAX];

			if (store_path_fmt(sub, sizeof(sub), "%s/", name) == 0 &&
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
	char *path = mbox_be_mailbox_path(u, name);
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
	char *path = mbox_be_mailbox_path(u, name);
	int rc;

	if (path == NULL) {
		store_error_set(err, STORE_ERR_PERM, "Invalid mailbox name");
		return -1;
	}
	if (mbox_be_mkdir_parents(path) < 0) {
		store_error_sys(err, "mkdir for %s", path);
		free(path);
		return -1;
	}
	rc = mbox_be_create_empty(path);
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
void mbox_be_side_files(const char *path, char *jr, size_t jsize, char *uids, size_t usize)
{
	const char *slash = strrchr(path, '/');

	if (mbox_journal_path(path, jr, jsize) < 0)
		jr[0] = '\0';
	if (slash == NULL ||
	    store_path_fmt(uids, usize, "%.*s/.%s.postern-uids", (int)(slash - path), path, slash + 1) < 0)
		uids[0] = '\0';
}

static int mb_mailbox_delete(struct store_user *u, const char *name, struct store_error *err)
{
	char *path = mbox_be_mailbox_path(u, name);
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
	mbox_be_side_files(path, jr, sizeof(jr), uids, sizeof(uids));
	if (uids[0])
		(void)unlink(uids);
	(void)fsync_parent_dir(path);
	free(path);
	return 0;
}

static int mb_mailbox_rename(struct store_user *u, const char *oldname, const char *newname,
			     struct store_error *err)
{
	char *from = mbox_be_mailbox_path(u, oldname), *to = mbox_be_mailbox_path(u, newname);
	char j1[PATH_MAX], u1[PATH_MAX], j2[PATH_MAX], u2[PATH_MAX];
	int rc = -1;

	if (from == NULL || to == NULL) {
		store_error_set(err, STORE_ERR_PERM, "Invalid mailbox name");
		goto out;
	}
	if (mbox_be_mkdir_parents(to) < 0 || rename(from, to) < 0) {
		store_error_sys(err, "rename %s to %s", from, to);
		goto out;
	}
	mbox_be_side_files(from, j1, sizeof(j1), u1, sizeof(u1));
	mbox_be_side_files(to, j2, sizeof(j2), u2, sizeof(u2));
	if (u1[0] && u2[0])
		(void)rename(u1, u2); /* UIDVALIDITY is kept (store.h) */
	(void)fsync_parent_dir(to);
	rc = 0;
out:
	free(from);
	free(to);
	return rc;
}

const struct store_backend store_backend_mbox = {
	.name = "mbox",
	.user_init = mb_user_init,
	.mailbox_list = mb_mailbox_list,
	.mailbox_exists = mb_mailbox_exists,
	.mailbox_create = mb_mailbox_create,
	.mailbox_delete = mb_mailbox_delete,
	.mailbox_rename = mb_mailbox_rename,
	.box_open = mbox_box_open,
	.box_close = mbox_box_close,
	.lock = mbox_box_lock,
	.unlock = mbox_box_unlock,
	.sync_check = mbox_box_sync_check,
	.sync_scan = mbox_box_sync_scan,
	.msg_open = mbox_box_msg_open,
	.msg_append = mbox_box_msg_append,
	.msg_append_undo = mbox_box_msg_append_undo,
	.msg_set_flags = mbox_box_msg_set_flags,
	.msg_expunge = mbox_box_msg_expunge,
	.expunge_finish = mbox_box_expunge_finish,
	.watch_paths = mbox_box_watch_paths,
	.uid_state_read = mbox_box_uid_state_read,
	.uid_state_write = mbox_box_uid_state_write,
};

