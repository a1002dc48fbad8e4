/*
 * store-private.h - the insides of store/ shared by the core files
 * (store.c, mailbox.c, sync.c, msg.c, deliver.c, quota.c, notify.c) and
 * the index (index.c). Backends use store-backend.h only.
 */
#ifndef POSTERN_STORE_PRIVATE_H
#define POSTERN_STORE_PRIVATE_H

#include <lmdb.h>
#include <stdbool.h>
#include <stdint.h>

#include "store/store-backend.h"
#include "store/store.h"

struct store_notify_watch;

struct store_user {
	const struct store_settings *set;
	char *name;
	struct store_location loc;
	const struct store_backend *backend;
	struct store_index *index;
	uint64_t quota_bytes;      /* 0: settings */
	uint64_t quota_messages;
	void *backend_data;
	void (*backend_free)(void *);
	struct store_mailbox *boxes; /* open mailboxes (closed by store_user_close) */
};

struct store_mailbox {
	struct store_user *user;
	struct store_mailbox *next;
	char *name;
	unsigned open_flags;
	uint32_t box_id;
	struct store_status status;
	void *backend_data;
	bool locked;
	/* notifications (notify.c) */
	struct store_notify_watch *watch;
	store_notify_fn *notify_fn;
	void *notify_ctx;
	/* the index transaction store_sync_box holds while it calls the
	 * backend's sync_check (read or write; NULL otherwise), so the check
	 * can compare what changed with the records */
	MDB_txn *sync_txn;
	bool sync_txn_write; /* sync_txn is the write transaction (writer lock held) */
};

/* ---- index.c: the per-user LMDB environment ---- */

/* Index-internal record flag: the file was last seen in new/ (Maildir) or
 * otherwise reported "recent"; only these can vanish in a partial sync.
 * Never reported to callers (masked with STORE_FLAGS_STORED). */
#define INDEX_FLAG_IN_NEW 0x80

struct store_index;

/* A mailbox record ("boxes" database, key = mailbox name). */
struct index_box {
	uint32_t id;
	uint32_t uidvalidity;
	uint32_t uidnext;
	uint32_t special_use;
	uint64_t highestmodseq;
	uint32_t messages;
	uint32_t unseen;
	uint32_t recent_floor;     /* UIDs >= this are \Recent for the next read-write open */
	uint32_t stamp_len;
	uint64_t vsize;            /* sum of RFC822.SIZE */
	uint8_t stamp[STORE_SYNC_STAMP_MAX];
};

/* A message record ("msgs", key = box id + UID, big-endian). The strings
 * point into LMDB memory: valid until the transaction ends. */
struct index_msg {
	uint32_t uid;
	uint32_t flags;
	uint64_t modseq;
	int64_t internaldate;
	uint64_t vsize;
	uint64_t physical;
	const char *loc;
	const char *keywords;
	const char *envelope;      /* NULL: not cached */
	const char *bodystructure; /* NULL: not cached */
	const char *header;        /* the raw header block; NULL: not cached */
};

/* store_msg_from_index - the public view of a record (strings borrowed
 * from m). (mailbox.c) */
void store_msg_from_index(const struct index_msg *m, struct store_msg *out);

int index_open(const char *dir, bool create, struct store_index **idx_r, struct store_error *err);
void index_close(struct store_index **idx);
/* index_shared - whether another store_user of this process has it open. */
bool index_shared(const struct store_index *idx);
/* index_remove - delete the environment's files (rebuild). 0 or -1. */
int index_remove(const char *dir, struct store_error *err);

int index_begin(struct store_index *idx, bool write, MDB_txn **txn_r, struct store_error *err);
int index_commit(MDB_txn *txn, struct store_error *err);
/* index_commit_light - index_commit with one fsync instead of two
 * (LMDB's MDB_NOMETASYNC for this commit only): the data pages are
 * synced, the meta page is not, so a power loss may undo this commit,
 * never corrupt the index. Only for changes the files also record or
 * that cost nothing to lose: flag changes, cache fills, the \Recent
 * floor (store/README.md "Index durability"). 0 or -1. */
int index_commit_light(MDB_txn *txn, struct store_error *err);
void index_abort(MDB_txn *txn);
/* index_commit_keep - commit a write transaction of idx but keep the
 * process-wide writer lock (fcntl byte 0) until index_write_release(idx),
 * so a file change can be undone before another writer runs. 0 or -1. */
int index_commit_keep(struct store_index *idx, MDB_txn *txn, struct store_error *err);
/* index_abort_keep - abort, keeping the writer lock likewise (tests make
 * a commit "fail" with it). */
void index_abort_keep(struct store_index *idx, MDB_txn *txn);
void index_write_release(struct store_index *idx);

/* 1 found, 0 not, -1 */
int index_box_get(struct store_index *idx, MDB_txn *txn, const char *name, struct index_box *b,
		  struct store_error *err);
int index_box_put(struct store_index *idx, MDB_txn *txn, const char *name,
		  const struct index_box *b, struct store_error *err);
/* index_box_new - a fresh record with a new id (not stored). */
int index_box_new(struct store_index *idx, MDB_txn *txn, struct index_box *b,
		  struct store_error *err);
/* index_box_del - the record and all its messages. */
int index_box_del(struct store_index *idx, MDB_txn *txn, const char *name,
		  struct store_error *err);
/* index_box_unname - remove only the name entry (rename). */
int index_box_unname(struct store_index *idx, MDB_txn *txn, const char *name,
		     struct store_error *err);
typedef int index_box_fn(const char *name, const struct index_box *b, void *ctx);
int index_box_foreach(struct store_index *idx, MDB_txn *txn, index_box_fn *fn, void *ctx,
		      struct store_error *err);

/* index_msg_get - the record of uid with its cached texts (from "cache").
 * 1 found, 0 not, -1 with err. */
int index_msg_get(struct store_index *idx, MDB_txn *txn, uint32_t box_id, uint32_t uid,
		  struct index_msg *m, struct store_error *err);
/* index_msg_get_bare - the same without the cached texts (NULL): for
 * flag changes, expunges, syncs, which never need them. */
int index_msg_get_bare(struct store_index *idx, MDB_txn *txn, uint32_t box_id, uint32_t uid,
		       struct index_msg *m, struct store_error *err);
/* index_cache_put - replace the cached texts of uid (all NULL: drop
 * them); the record is not rewritten. 0 or -1 with err. */
int index_cache_put(struct store_index *idx, MDB_txn *txn, uint32_t box_id, uint32_t uid,
		    const char *envelope, const char *bodystructure, const char *header,
		    struct store_error *err);
/* index_msg_put - store m and account the change in b (old: the previous
 * record or NULL). m's cached texts are written only for a new record
 * (old NULL): an update leaves "cache" alone (index_cache_put does). */
int index_msg_put(struct store_index *idx, MDB_txn *txn, struct index_box *b,
		  const struct index_msg *old, const struct index_msg *m, struct store_error *err);
int index_msg_del(struct store_index *idx, MDB_txn *txn, struct index_box *b,
		  const struct index_msg *old, struct store_error *err);
typedef int index_msg_fn(const struct index_msg *m, void *ctx);
/* index_msg_foreach - messages of box with uid >= from_uid in UID order;
 * returns 0, fn's non-zero value, or -1. */
int index_msg_foreach(struct store_index *idx, MDB_txn *txn, uint32_t box_id, uint32_t from_uid,
		      index_msg_fn *fn, void *ctx, struct store_error *err);
/* index_msg_foreach_bare - the same without the cached texts (NULL). */
int index_msg_foreach_bare(struct store_index *idx, MDB_txn *txn, uint32_t box_id,
			   uint32_t from_uid, index_msg_fn *fn, void *ctx, struct store_error *err);

typedef int index_uid_fn(uint32_t uid, void *ctx);
/* index_unseen_foreach - UIDs >= from_uid of box without \Seen, in UID
 * order, from the "unseen" set (no message record read); returns 0, fn's
 * non-zero value, or -1 with err. */
int index_unseen_foreach(struct store_index *idx, MDB_txn *txn, uint32_t box_id,
			 uint32_t from_uid, index_uid_fn *fn, void *ctx, struct store_error *err);

int index_sub_set(struct store_index *idx, MDB_txn *txn, const char *name, bool on,
		  struct store_error *err);
typedef int index_sub_fn(const char *name, void *ctx);
int index_sub_foreach(struct store_index *idx, MDB_txn *txn, index_sub_fn *fn, void *ctx,
		      struct store_error *err);

/* index_mdb_error - fill err from an LMDB return code (logged with what). */
void index_mdb_error(struct store_error *err, int rc, const char *what);

/* ---- notify.c ---- */

/* Called for each directory entry event of a watched mailbox, in order:
 * path is the index in the backend's watch_paths, mask the inotify mask
 * (IN_CREATE, IN_DELETE, IN_MOVED_FROM or IN_MOVED_TO), name the entry.
 * Non-zero stops. */
typedef int store_notify_name_fn(size_t path, uint32_t mask, const char *name, void *ctx);

/*
 * store_notify_take - what happened in box's watched directories since
 * the last take (reads the process's inotify queue first, never waits):
 * fn (may be NULL: discard) is called for each entry event, then they are
 * forgotten. Returns 0 (every event passed to fn), fn's non-zero value,
 * or -1 when box has no watch or events were lost (kernel queue overflow,
 * more than the watch keeps, a watched directory removed): then nothing
 * can be concluded from the events and the caller scans.
 */
int store_notify_take(struct store_mailbox *box, store_notify_name_fn *fn, void *ctx);

/* ---- store.c ---- */

/* store_box_key - the index key of a mailbox name ("INBOX" folded). */
const char *store_box_key(const char *name);

/* ---- sync.c ---- */

/* store_sync_box - the sync protocol of store-backend.h for box (box_id
 * and status refreshed). force: skip sync_check. 1 changed, 0, -1. */
int store_sync_box(struct store_mailbox *box, bool force, struct store_error *err);
/* store_box_record - read box's record into *b (creating the record on
 * first sight, with the UID state the files remember). In txn (write).
 * 0 for an existing record, 1 when it was created now, -1 with err. */
int store_box_record(struct store_mailbox *box, MDB_txn *txn, struct index_box *b,
		     struct store_error *err);
void store_box_status_from(struct store_mailbox *box, const struct index_box *b);


/* ---- deliver.c / msg.c ---- */

/* Messages bigger than this (physical bytes) are not parsed at append
 * time: their ENVELOPE/BODYSTRUCTURE cache stays empty and the IMAP role
 * fills it on the first FETCH (store_msg_set_cache). Parsing streams, so
 * the limit bounds the time the index write lock is held, not memory. */
#define STORE_CACHE_PARSE_MAX (10u * 1024 * 1024)

/* What an append writes into the cache: NULL members (or a NULL struct)
 * mean "parse the stored message" (store_msg_copy passes the source's). */
struct store_cache_in {
	const char *envelope;
	const char *bodystructure;
	const char *header;      /* NULL: read from the stored message */
};

/*
 * store_msg_append_locked - the one append path (APPEND, COPY, delivery):
 * backend lock -> write transaction -> msg_append -> cache fill -> record
 * -> commit. If the index cannot record the message after the file was
 * written, the file is removed again (msg_append_undo) before the TEMP
 * error is returned, so a retry does not make a duplicate. 0 or -1.
 */
int store_msg_append_locked(struct store_mailbox *box, const struct store_source *src,
			    unsigned flags, const char *keywords, time_t internaldate,
			    const struct store_cache_in *cache, uint32_t *uid_r,
			    struct store_error *err);

/* store_msg_move_within - move uid from src to dst of the same user
 * without a quota check (the usage does not grow; a user at the limit
 * must still be able to rename INBOX). 0 or -1. */
int store_msg_move_within(struct store_mailbox *src, uint32_t uid, struct store_mailbox *dst,
			  struct store_error *err);

/* store_cache_build - ENVELOPE and BODYSTRUCTURE (the texts IMAP FETCH
 * sends) of the size bytes at offset in fd into *env_r / *bs_r (new
 * memory, caller frees). 0, or -1 (logged; nothing allocated). */
int store_cache_build(int fd, off_t offset, uint64_t size, char **env_r, char **bs_r);
/* store_cache_header - the raw header block of the size bytes at offset
 * in fd (new memory, caller frees), or NULL when it is longer than
 * STORE_HEADER_CACHE_MAX, holds a NUL, or cannot be read. */
char *store_cache_header(int fd, off_t offset, uint64_t size);

/* Fault injection for tests: points where the core pretends an index
 * operation failed. store_fault_hook is NULL unless a test sets it; it
 * is compiled into every build but costs one pointer test. */
enum store_fault {
	STORE_FAULT_APPEND_RECORD = 1, /* index_msg_put after msg_append */
	STORE_FAULT_APPEND_COMMIT,     /* the commit after msg_append */
};
extern bool (*store_fault_hook)(enum store_fault point);
/* store_quota_check - would adding bytes/msgs exceed u's quota? 0 ok, -1 QUOTA. */
int store_quota_check(struct store_user *u, uint64_t add_bytes, uint32_t add_msgs,
		      struct store_error *err);

#endif
