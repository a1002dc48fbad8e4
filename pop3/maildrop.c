/*
 * maildrop.c - a logged-in session's maildrop: the store opened for the
 * user, the session lock (pop3_lock_session), pop3_login_delay, the
 * message list taken at login, UIDLs, and the UPDATE state.
 *
 * Called by login.c (pop3_maildrop_open after the userdb lookup), by the
 * TRANSACTION commands (pop3_maildrop_msg, pop3_maildrop_uidl) and by QUIT
 * (pop3_maildrop_update). RFC 1939 5 (message numbers stay fixed for the
 * session; deleted messages are not listed), 6 (UPDATE), 7 (UIDL); RFC
 * 2449 8 (IN-USE, LOGIN-DELAY).
 *
 * Snapshot: one read transaction over the index (store_mailbox_foreach)
 * gives UIDs and sizes; nothing per message touches the files, so 50,000
 * messages log in in milliseconds once the index is warm. Sizes are
 * RFC822.SIZE from the index: the message with every line ending in CRLF
 * (what retr.c sends, before dot-stuffing).
 *
 * Lock: an flock()ed file POP3_LOCK_FILE in the user's index directory,
 * taken with LOCK_NB and held until the session ends (flock locks belong
 * to the open file, so two sessions in the same process exclude each
 * other too; the kernel drops it if the process dies). Its mtime is the
 * last login, which pop3_login_delay compares with.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "pop3/pop3-private.h"
#include "util.h"

struct snap_ctx {
	struct pop3_maildrop *d;
	uint32_t cap;
	bool oom;
};

static int snap_cb(const struct store_msg *m, void *ctx)
{
	struct snap_ctx *sc = ctx;
	struct pop3_maildrop *d = sc->d;

	if (d->n_msgs == sc->cap) {
		uint32_t cap = sc->cap ? sc->cap * 2 : 64;
		struct pop3_msg *n = realloc(d->msgs, (size_t)cap * sizeof(*n));
		if (n == NULL || cap < sc->cap) {
			sc->oom = true;
			return 1;
		}
		d->msgs = n;
		sc->cap = cap;
	}
	struct pop3_msg *pm = &d->msgs[d->n_msgs++];
	memset(pm, 0, sizeof(*pm));
	pm->uid = m->uid;
	pm->size = m->size;
	pm->seen = (m->flags & STORE_FLAG_SEEN) != 0;
	d->size += m->size;
	return 0;
}

/* lock_take - open the lock file, check the login delay, flock it.
 * 0, or -1 with the response code and text. */
static int lock_take(struct pop3_session *s, const struct store_location *loc,
		     const char **code_r, const char **text_r)
{
	const struct pop3_settings *set = &s->l->set;
	struct pop3_maildrop *d = &s->drop;
	char path[4096];
	struct stat st;
	bool existed;

	if (!set->lock_session && set->login_delay <= 0)
		return 0;
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", loc->index_dir, POP3_LOCK_FILE) >= sizeof(path)) {
		*code_r = "SYS/PERM";
		*text_r = "Mailbox path too long";
		return -1;
	}
	existed = stat(path, &st) == 0;
	d->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (d->lock_fd < 0) {
		log_error("pop3(%s): open %s: %s", pop3_session_log_user(s), path, strerror(errno));
		*code_r = "SYS/TEMP";
		*text_r = "Internal error occurred, see server log";
		return -1;
	}
	if (set->lock_session && flock(d->lock_fd, LOCK_EX | LOCK_NB) < 0) {
		int e = errno;
		close(d->lock_fd);
		d->lock_fd = -1;
		if (e == EWOULDBLOCK) {
			*code_r = "IN-USE";
			*text_r = "Mailbox is locked by another POP3 session";
		} else {
			log_error("pop3(%s): flock %s: %s", pop3_session_log_user(s), path, strerror(e));
			*code_r = "SYS/TEMP";
			*text_r = "Internal error occurred, see server log";
		}
		return -1;
	}
	if (set->login_delay > 0 && existed && fstat(d->lock_fd, &st) == 0) {
		time_t since = time(NULL) - st.st_mtime;
		if (since >= 0 && since < set->login_delay) {
			close(d->lock_fd);
			d->lock_fd = -1;
			*code_r = "LOGIN-DELAY";
			*text_r = "Logged in too recently; wait and try again";
			return -1;
		}
	}
	if (futimens(d->lock_fd, NULL) < 0)
		log_warn("pop3(%s): cannot stamp %s: %s", pop3_session_log_user(s), path, strerror(errno));
	if (!set->lock_session) {
		close(d->lock_fd);
		d->lock_fd = -1;
	}
	return 0;
}

static const char *class_code(const struct store_error *err)
{
	return err->cls == STORE_ERR_TEMP || err->cls == STORE_ERR_QUOTA ? "SYS/TEMP" : "SYS/PERM";
}

int pop3_maildrop_open(struct pop3_session *s, const char *user, const char *location,
		  uint64_t quota_bytes, struct store_error *err, const char **code_r,
		  const char **text_r)
{
	struct pop3_maildrop *d = &s->drop;
	struct snap_ctx sc = { .d = d };
	struct store_status st;

	d->user = store_user_open(&s->l->store_set, user, location, NULL, STORE_USER_CREATE, err);
	if (d->user == NULL)
		goto store_fail;
	if (quota_bytes)
		store_user_set_quota(d->user, quota_bytes, 0);
	if (lock_take(s, store_user_location(d->user), code_r, text_r) < 0) {
		pop3_maildrop_close(d);
		return -1;
	}
	d->box = store_mailbox_open(d->user, "INBOX", 0, err);
	if (d->box == NULL && err->cls == STORE_ERR_NOTFOUND &&
	    store_mailbox_create(d->user, "INBOX", 0, err) == 0)
		d->box = store_mailbox_open(d->user, "INBOX", 0, err);
	if (d->box == NULL)
		goto store_fail;
	store_mailbox_status(d->box, &st);
	d->uidvalidity = st.uidvalidity;
	if (store_mailbox_foreach(d->box, 0, snap_cb, &sc, err) < 0)
		goto store_fail;
	if (sc.oom) {
		err->cls = STORE_ERR_TEMP;
		str_copy(err->text, "Out of memory", sizeof(err->text));
		goto store_fail;
	}
	return 0;
store_fail:
	*code_r = class_code(err);
	*text_r = err->text[0] ? err->text : "Internal error occurred, see server log";
	pop3_maildrop_close(d);
	return -1;
}

void pop3_maildrop_close(struct pop3_maildrop *d)
{
	store_mailbox_close(&d->box);
	store_user_close(&d->user);
	if (d->lock_fd >= 0)
		close(d->lock_fd);   /* releases the flock */
	d->lock_fd = -1;
	for (uint32_t i = 0; i < d->n_msgs; i++)
		free(d->msgs[i].name);
	x_free(&d->msgs);
	d->n_msgs = 0;
}

struct pop3_msg *pop3_maildrop_msg(struct pop3_session *s, const char *arg, size_t len)
{
	uint32_t n;

	if (pop3_msgnum_parse(arg, len, &n) < 0) {
		pop3_session_err(s, "Invalid message number: %.*s", (int)(len < 20 ? len : 20), arg);
		return NULL;
	}
	if (n == 0 || n > s->drop.n_msgs) {
		pop3_session_err(s, "There's no message %u.", n);
		return NULL;
	}
	if (s->drop.msgs[n - 1].deleted) {
		pop3_session_err(s, "Message %u is deleted.", n);
		return NULL;
	}
	return &s->drop.msgs[n - 1];
}

/* Names for %f: one pass over the index, matched to the snapshot by UID
 * (both are in UID order). */
struct names_ctx {
	struct pop3_maildrop *d;
	uint32_t i;
};

static int names_cb(uint32_t uid, const char *name, void *ctx)
{
	struct names_ctx *nc = ctx;
	struct pop3_maildrop *d = nc->d;

	while (nc->i < d->n_msgs && d->msgs[nc->i].uid < uid)
		nc->i++;
	if (nc->i < d->n_msgs && d->msgs[nc->i].uid == uid && name && *name)
		d->msgs[nc->i].name = strdup(name);   /* NULL: falls back below */
	return 0;
}

static void names_load(struct pop3_session *s)
{
	struct names_ctx nc = { .d = &s->drop };
	struct store_error err;

	s->drop.names_loaded = true;
	if (store_mailbox_foreach_name(s->drop.box, names_cb, &nc, &err) < 0)
		log_warn("pop3(%s): file names for UIDL: %s; using %%08Xu%%08Xv", pop3_session_log_user(s),
			 err.text);
}

void pop3_maildrop_uidl(struct pop3_session *s, uint32_t i, char *out, size_t size)
{
	const struct pop3_settings *set = &s->l->set;
	const struct pop3_msg *m = &s->drop.msgs[i];

	if (set->uidl_names && !s->drop.names_loaded)
		names_load(s);
	if (pop3_uidl_make(set->uidl_format, m->uid, s->drop.uidvalidity, m->name, out, size) < 0 ||
	    (set->uidl_names && m->name == NULL))
		pop3_uidl_make("%08Xu%08Xv", m->uid, s->drop.uidvalidity, NULL, out, size);
}

static void fsync_dir(struct pop3_session *s, const char *root, const char *sub)
{
	char path[4096];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", root, sub);
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return;
	if (fsync(fd) < 0)
		log_warn("pop3(%s): fsync %s: %s", pop3_session_log_user(s), path, strerror(errno));
	close(fd);
}

unsigned pop3_maildrop_update(struct pop3_session *s)
{
	struct pop3_maildrop *d = &s->drop;
	const struct store_location *loc;
	struct store_error err;
	unsigned failed = 0;
	bool mbox;
	uint32_t *uids = NULL;
	size_t n_uids = 0;

	if (d->box == NULL)
		return 0;
	loc = store_user_location(d->user);
	mbox = loc->format == STORE_FORMAT_MBOX;
	if (mbox && d->n_deleted)
		uids = calloc(d->n_deleted, sizeof(*uids));
	for (uint32_t i = 0; i < d->n_msgs; i++) {
		struct pop3_msg *m = &d->msgs[i];

		if (m->deleted) {
			if (mbox) {
				/* one rewrite of the mbox for all of them */
				if (uids == NULL ||
				    store_msg_set_flags(d->box, m->uid, STORE_FLAGS_ADD, STORE_FLAG_DELETED,
							NULL, 0, NULL, &err) < 0) {
					failed++;
					continue;
				}
				uids[n_uids++] = m->uid;
				continue;
			}
			if (store_msg_expunge(d->box, m->uid, &err) < 0) {
				log_error("pop3(%s): cannot expunge UID %u: %s", pop3_session_log_user(s), m->uid,
					  err.text);
				failed++;
			} else {
				s->expunged++;
			}
		} else if (m->retrieved && !m->seen) {
			/* As Dovecot: a downloaded message is \Seen for IMAP. */
			if (store_msg_set_flags(d->box, m->uid, STORE_FLAGS_ADD, STORE_FLAG_SEEN, NULL, 0,
						NULL, &err) < 0)
				log_warn("pop3(%s): cannot set \\Seen on UID %u: %s", pop3_session_log_user(s),
					 m->uid, err.text);
		}
	}
	if (mbox && n_uids) {
		if (store_mailbox_expunge(d->box, uids, n_uids, NULL, NULL, &err) < 0) {
			log_error("pop3(%s): cannot expunge: %s", pop3_session_log_user(s), err.text);
			failed += (unsigned)n_uids;
		} else {
			s->expunged += (unsigned)n_uids;
		}
	}
	free(uids);
	if (!mbox && d->n_deleted) {
		/* the unlinks are durable before +OK */
		fsync_dir(s, loc->root, "cur");
		fsync_dir(s, loc->root, "new");
	}
	return failed;
}
