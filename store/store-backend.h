/*
 * store-backend.h - private to store/: what a mailbox format implements
 * (Maildir: store/maildir*.c, mbox: store/mbox*.c) and the few core
 * helpers a format may call. Nothing outside store/ includes this.
 *
 * Division of work. The core (store.c, index*.c, sync.c) owns the LMDB
 * index: UIDs, modseqs, UIDVALIDITY, flags as last seen, caches. A backend
 * owns the files: it lists mailboxes, says which messages exist with which
 * flags (sync_scan), writes new messages, changes flags in the files and
 * removes messages. The backend never touches the index; the core never
 * touches a mailbox file.
 *
 * Message location. Each message has a "loc": a short NUL-free string the
 * backend chooses (Maildir: the file's base name without ":2,FLAGS"; mbox
 * e.g. the From_ line offset), stored in the index and handed back to
 * msg_open/msg_set_flags/msg_expunge. At most STORE_LOC_MAX bytes.
 *
 * Sync protocol (store_mailbox_sync -> core sync.c):
 *   1. lock(box, exclusive) if the backend has one, then an LMDB write
 *      transaction (always in that order: backend lock first).
 *   2. sync_check(box, stamp): the backend compares the stamp it saved at
 *      the last scan (opaque bytes, e.g. directory mtimes) with the files;
 *      0 means nothing changed and the scan is skipped (warm open).
 *   3. sync_scan(box, sc): the backend calls store_sync_add() once per
 *      message it finds and store_sync_set_stamp() with the new stamp
 *      (taken BEFORE reading, so a change during the scan is seen next
 *      time).
 *   4. The core matches items to index records: first by uid_hint (a UID
 *      the file itself carries), then by loc. Matched records get the
 *      item's flags (if flags_known) and loc; records no item matched are
 *      expunged; items that matched nothing get the next UID and the core
 *      calls sync_assign() so the backend can record the UID in the file
 *      (Maildir renames new/X to cur/X,U=<uid>:2,FLAGS).
 *   5. commit, unlock.
 *
 * Locking hooks: lock/unlock may be NULL (Maildir needs none). The core
 * calls lock around sync, append (not delivery: see msg_append), flag
 * changes, expunge and msg_open (shared) when the backend has them.
 *
 * Return conventions as in store.h: 0 (or the documented positive value),
 * or -1 with err filled (store_error_set / store_error_sys below log the
 * details). Strings returned through char ** are new memory the core frees.
 *
 * Stability: the mbox branch implements this interface; additions only,
 * announced in a comment "(added: ...)".
 */
#ifndef POSTERN_STORE_BACKEND_H
#define POSTERN_STORE_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "store/store.h"

#define STORE_LOC_MAX 1024
#define STORE_SYNC_STAMP_MAX 64

/* What the core tells a backend about one indexed message. */
struct store_backend_msg {
	uint32_t uid;            /* 0 in msg_append for delivery (assigned by a later sync) */
	unsigned flags;          /* STORE_FLAG_* (stored ones only) */
	const char *keywords;    /* space-separated, "" if none */
	const char *loc;         /* NULL in msg_append */
	uint64_t physical_size;
	time_t internaldate;
};

/* One message as a backend found it during sync_scan. */
struct store_sync_item {
	uint32_t uid_hint;       /* UID carried by the file itself, 0: none */
	const char *loc;         /* copied by store_sync_add */
	unsigned flags;          /* STORE_FLAG_* as the file says */
	bool flags_known;        /* false: the file carries no flags, keep the index's */
	bool recent;             /* seen for the first time (Maildir new/) */
	uint64_t physical_size;  /* 0: unknown (the core stats through msg_open) */
	uint64_t vsize;          /* RFC822.SIZE if known cheaply (Maildir ,W=), else 0 */
	time_t internaldate;     /* 0: unknown */
	/* (added) keywords the file itself carries (Maildir: Dovecot keyword
	 * letters), space-separated; NULL: none. Used only when the message
	 * is first indexed (takeover, rebuild): afterwards the index's
	 * keywords win, since the file cannot hold every keyword. */
	const char *keywords;
	/* (added) uid_hint comes from a side file (Dovecot's uidlist), not
	 * from the file name: when the core keeps it, it calls sync_assign so
	 * the file carries it from then on. */
	bool hint_external;
	/* (added) the message's place in a file that holds several (mbox:
	 * its From_ line's offset + 1): new messages without a UID hint get
	 * UIDs in this order, so UIDs follow the file (RFC 3501 2.3.1.1).
	 * 0: order by loc (Maildir names start with the delivery time). */
	uint64_t file_order;
};

/* The message bytes to write: prefix (may be NULL) then fd from its current
 * position to EOF. Bytes are written as given (no line-end conversion). */
struct store_source {
	const char *prefix;
	size_t prefix_len;
	int fd;
	uint64_t limit;          /* (added) 0: to EOF; else at most this many bytes of fd */
};

struct store_sync;

/* store_sync_add - record one found message (item and its loc are copied).
 * 0, or -1 with err (TEMP: out of memory, PERM: loc too long). */
int store_sync_add(struct store_sync *sc, const struct store_sync_item *item,
		   struct store_error *err);
/* store_sync_partial - (added) whether sync_check asked for a partial scan. */
bool store_sync_partial(const struct store_sync *sc);
/* store_sync_set_stamp - remember what sync_check compares next time. */
void store_sync_set_stamp(struct store_sync *sc, const void *stamp, size_t len);

typedef int store_backend_name_fn(const char *name, void *ctx);

struct store_backend {
	const char *name;        /* "maildir", "mbox" */

	/* user-level: called once by store_user_open (may be NULL). With
	 * create, make the root (and INBOX) when missing; without, a missing
	 * root is NOTFOUND. */
	int (*user_init)(struct store_user *u, bool create, struct store_error *err);

	/* Mailbox tree. Names are store.h names ('/' separator). list calls
	 * fn for every existing mailbox including INBOX (order free).
	 * exists: 1, 0, -1. create: EXISTS when present; parents are not
	 * created. delete: this mailbox only (the core deletes children
	 * first). rename: this mailbox only; the core calls it for each child,
	 * the parent first, and moves INBOX's messages itself. */
	int (*mailbox_list)(struct store_user *u, store_backend_name_fn *fn, void *ctx,
			    struct store_error *err);
	int (*mailbox_exists)(struct store_user *u, const char *name, struct store_error *err);
	int (*mailbox_create)(struct store_user *u, const char *name, struct store_error *err);
	int (*mailbox_delete)(struct store_user *u, const char *name, struct store_error *err);
	int (*mailbox_rename)(struct store_user *u, const char *oldname, const char *newname,
			      struct store_error *err);

	/* Per open mailbox: box_open may set store_mailbox_set_backend_data();
	 * NOTFOUND when missing. box_close frees it. */
	int (*box_open)(struct store_mailbox *box, struct store_error *err);
	void (*box_close)(struct store_mailbox *box);

	/* Locks (may be NULL). lock: 0 or -1 (TEMP after the backend's
	 * timeout). Not recursive: the core never nests them. */
	int (*lock)(struct store_mailbox *box, bool exclusive, struct store_error *err);
	void (*unlock)(struct store_mailbox *box);

	/* Sync (see the protocol above). sync_check: 0 unchanged, 1 full
	 * scan, 2 (added) only new messages can have appeared: a partial
	 * scan (store_sync_partial() is true) that reports only the files in
	 * new/ (Maildir); then only records last seen as recent (item.recent)
	 * can vanish. A backend without such a notion returns 0 or 1. */
	int (*sync_check)(struct store_mailbox *box, const void *stamp, size_t len);
	int (*sync_scan)(struct store_mailbox *box, struct store_sync *sc, struct store_error *err);
	/* sync_assign - a found message got uid (flags as in the index).
	 * Also called (added) for an already indexed message found with
	 * item.recent, so Maildir can move it from new/ to cur/.
	 * *new_loc_r: its new loc, or NULL when unchanged. 0 or -1 (a failure
	 * leaves the message without a recorded UID; the index still has it). */
	int (*sync_assign)(struct store_mailbox *box, const char *loc, uint32_t uid,
			   unsigned flags, char **new_loc_r, struct store_error *err);
	/* sync_done (may be NULL): the sync that sync_scan began is over
	 * (committed or not): drop what was kept for sync_assign, so an open
	 * mailbox does not hold a copy of its directory listing. */
	void (*sync_done)(struct store_mailbox *box);
	/* sync_committed (added, may be NULL): the sync that sync_scan began
	 * was committed (called before sync_done): the index now holds what
	 * the scan saw. */
	void (*sync_committed)(struct store_mailbox *box);

	/* msg_open - see store_msg_open(). EXPUNGED when the message is gone. */
	int (*msg_open)(struct store_mailbox *box, const struct store_backend_msg *m, int *fd_r,
			off_t *offset_r, uint64_t *size_r, struct store_error *err);

	/* msg_append - write a new message durably (fsynced, visible only when
	 * complete), inside the core's write transaction and lock, with the
	 * UID already chosen (m->uid > 0; changed before any backend used
	 * uid == 0: delivery goes through the index too, so UIDs are known at
	 * once). Record the UID in the file if the format can. m->flags has
	 * STORE_FLAG_RECENT for a delivery (Maildir: into new/, else cur/).
	 * *loc_r: the loc; *physical_r and *vsize_r the sizes (vsize: with
	 * CRLF line ends). */
	int (*msg_append)(struct store_mailbox *box, const struct store_source *src,
			  const struct store_backend_msg *m, char **loc_r, uint64_t *physical_r,
			  uint64_t *vsize_r, struct store_error *err);

	/* (added) msg_append_undo - remove the message msg_append has just
	 * written (loc as it returned). The core calls it, still holding the
	 * lock and the write transaction of that msg_append, when the index
	 * cannot record the message: the caller then reports a temporary
	 * failure and the sender retries, so a message left behind would be
	 * delivered twice. Nobody can have indexed it meanwhile (a sync needs
	 * the write transaction). Maildir: unlink + fsync of the directory;
	 * mbox: cut the file back to its size before the append when nothing
	 * was written after it. May be NULL. 0, or -1 with err (logged; the
	 * message then stays and the next sync indexes it). */
	int (*msg_append_undo)(struct store_mailbox *box, const char *loc,
			       struct store_error *err);

	/* msg_set_flags - make the file carry new_flags (Maildir: rename; mbox
	 * may keep flags in the index only and do nothing). *new_loc_r as in
	 * sync_assign. EXPUNGED when the file is gone. */
	int (*msg_set_flags)(struct store_mailbox *box, const struct store_backend_msg *m,
			     unsigned new_flags, char **new_loc_r, struct store_error *err);

	/* (added) msg_set_flags_kw - msg_set_flags that also gets the new
	 * keywords (space-separated), so the file can carry them (Maildir:
	 * Dovecot's keyword letters). May be NULL; when set, the core calls
	 * it instead of msg_set_flags, also when only keywords change. */
	int (*msg_set_flags_kw)(struct store_mailbox *box, const struct store_backend_msg *m,
				unsigned new_flags, const char *new_keywords, char **new_loc_r,
				struct store_error *err);

	/* msg_expunge - remove (or mark for expunge_finish). 0 also when the
	 * message was already gone. */
	int (*msg_expunge)(struct store_mailbox *box, const struct store_backend_msg *m,
			   struct store_error *err);
	/* expunge_finish - may be NULL; after a batch of msg_expunge (mbox
	 * rewrites the file here). The core runs a full sync_scan afterwards
	 * so changed locs are picked up (matched by uid_hint). */
	int (*expunge_finish)(struct store_mailbox *box, struct store_error *err);

	/* watch_paths - up to max paths (directories or files) whose changes
	 * mean "sync me" (inotify). Returns the count; strings owned by the
	 * backend data, valid until box_close. */
	size_t (*watch_paths)(struct store_mailbox *box, const char **paths, size_t max);

	/* (added: UID state that survives an index rebuild.) May be NULL.
	 * uid_state_read: 1 with the UIDVALIDITY and a UIDNEXT floor saved in
	 * the mailbox's files, 0 if none saved, -1. uid_state_write: save them
	 * (Maildir: a small file in the folder, written through tmp + rename);
	 * called when a mailbox is first indexed and before expunged UIDs are
	 * forgotten, so a rebuilt index never hands out a used UID again. */
	int (*uid_state_read)(struct store_mailbox *box, uint32_t *uidvalidity_r,
			      uint32_t *uidnext_r, struct store_error *err);
	int (*uid_state_write)(struct store_mailbox *box, uint32_t uidvalidity, uint32_t uidnext,
			       struct store_error *err);
};

extern const struct store_backend store_backend_maildir;
/* Defined by store/mbox-backend.c. */
extern const struct store_backend store_backend_mbox;

/* ---- core helpers for backends ---- */

struct store_user *store_mailbox_user(struct store_mailbox *box);
const struct store_settings *store_user_settings(const struct store_user *u);
void *store_mailbox_backend_data(struct store_mailbox *box);
void store_mailbox_set_backend_data(struct store_mailbox *box, void *data);
void *store_user_backend_data(struct store_user *u);
void store_user_set_backend_data(struct store_user *u, void *data, void (*free_fn)(void *));


/* ---- helpers the formats share (backend-util.c) ---- */

/* store_path_fmt - snprintf for paths: a result that does not fit is cut
 * to "" (so it names nothing) and -1 is returned with ENAMETOOLONG. */
int store_path_fmt(char *buf, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* The UID state file ("UIDVALIDITY UIDNEXT-floor\n") that lets a rebuilt
 * index keep the mailbox's UIDVALIDITY and never reuse a UID.
 * store_uid_state_file_read: 1 read, 0 missing or malformed (logged: a
 * new UIDVALIDITY will be used), -1 error (err). Symlinks are not followed.
 * store_uid_state_file_write: written to tmp (same directory), fsynced and
 * renamed over path; 0 or -1 (err). */
int store_uid_state_file_read(const char *path, uint32_t *uidvalidity_r, uint32_t *uidnext_r,
			      struct store_error *err);
int store_uid_state_file_write(const char *path, const char *tmp, uint32_t uidvalidity,
			       uint32_t uidnext, struct store_error *err);

/* store_error_set - fill err with cls and a client-safe printf text. */
void store_error_set(struct store_error *err, enum store_error_class cls, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* store_error_sys - log_error("what: strerror(errno)") with the details
 * (paths) and fill err with a generic client text; the class is TEMP for
 * errno values that can heal (ENOSPC, EDQUOT -> QUOTA, EIO, ENOMEM, EAGAIN,
 * EMFILE...), NOTFOUND for ENOENT, PERM otherwise. Preserves errno. */
void store_error_sys(struct store_error *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* store_copy_source - write src to out_fd (full writes, EINTR safe),
 * counting the physical size and the CRLF size. 0, or -1 with err (via
 * store_error_sys; path only for the log). */
int store_copy_source(int out_fd, const char *path, const struct store_source *src,
		      uint64_t *physical_r, uint64_t *vsize_r, struct store_error *err);

#endif
