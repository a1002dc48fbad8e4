/*
 * store.h - the public API of store/: a user's mailboxes, their messages
 * and the local delivery agent.
 *
 * Callers: the queue role (store_deliver), imap/ and pop3/ (everything
 * else), `postern mailbox|index|quota|deliver` (cli/cmd-*.c).
 *
 * Model. A user has one mail root (mail_location: `maildir:PATH` or
 * `mbox:PATH[:INBOX=PATH]`, Dovecot syntax) and one LMDB index (store/
 * index*.c). The mailbox files are the truth; the index caches UIDs,
 * flags, modseqs, sizes and the ENVELOPE/BODYSTRUCTURE strings and is
 * synced from the files on open and on store_mailbox_sync(). Deleting the
 * index loses nothing: UIDs live in the files too (Maildir: ",U=<uid>" in
 * the file name; mbox: decided by store/mbox*.c).
 *
 * Mailbox names are UTF-8 as the IMAP layer decoded them (modified UTF-7
 * is imap/'s business), hierarchy separator '/', "INBOX" case-insensitive.
 *
 * Errors (Dovecot's mail-error.h idea): every function that can fail
 * returns -1 (or NULL) and fills a struct store_error: a class that
 * decides the protocol reply (IMAP NO [UNAVAILABLE], SMTP 4xx vs 5xx, LDA
 * exit code) and a short text safe to show a client. The details (paths,
 * errno) are logged once by the store with log_error(). NOTFOUND and
 * permission problems on mailboxes share their client text.
 *
 * Processes and threads: a struct store_user and everything opened from
 * it belongs to one thread. Any number of processes may open the same
 * user at once; LMDB serialises index writers, Maildir delivery needs no
 * lock, mbox uses its own locks (store-backend.h).
 *
 * Stability: this header is the contract with smtp/, imap/, pop3/ and the
 * mbox branch. Additions are fine; changes to existing declarations are
 * announced in the commit message.
 */
#ifndef POSTERN_STORE_H
#define POSTERN_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

struct config;
struct event_base;

/* ---- errors ---- */

enum store_error_class {
	STORE_OK = 0,
	STORE_ERR_TEMP,      /* try again later: I/O, locks, out of memory, index busy */
	STORE_ERR_PERM,      /* will not work as asked: bad name, not allowed, broken file */
	STORE_ERR_NOTFOUND,  /* no such mailbox or message */
	STORE_ERR_EXISTS,    /* mailbox already exists */
	STORE_ERR_QUOTA,     /* over quota (delivery: TEMP or PERM by quota_full_tempfail) */
	STORE_ERR_NOUSER,    /* no such user (delivery: EX_NOUSER / 5.1.1) */
	STORE_ERR_EXPUNGED,  /* the message was expunged meanwhile (IMAP [EXPUNGEISSUED]) */
};

#define STORE_ERROR_TEXT_MAX 256

struct store_error {
	enum store_error_class cls;
	char text[STORE_ERROR_TEXT_MAX]; /* client-safe, no paths, no CR/LF */
};

/* store_error_class_name - "TEMP", "PERM", ... for logs and tests. */
const char *store_error_class_name(enum store_error_class cls);

/* ---- settings (from the configuration) ---- */

struct store_settings {
	const char *mail_location;        /* default location (Dovecot syntax) */
	const char *data_directory;       /* index of mbox users: DATA/index/... */
	const char *hostname;             /* Maildir unique names, Delivered-To */
	const char *recipient_delimiter;  /* "+" etc.; "" = no extensions */
	bool save_to_detail_mailbox;      /* user+ext -> folder "ext" (lmtp_save_to_detail_mailbox) */
	bool mailbox_autocreate;          /* lda_mailbox_autocreate */
	bool mailbox_autosubscribe;       /* lda_mailbox_autosubscribe */
	uint64_t quota_bytes;             /* mailbox_size_limit; 0 = unlimited */
	uint64_t quota_messages;          /* mailbox_message_limit; 0 = unlimited */
	bool quota_full_tempfail;         /* over quota on delivery: TEMP instead of PERM */
};

/* store_settings_from_config - fill s from cfg and configure the formats
 * (the mbox lock methods). The strings point into cfg (valid while cfg
 * lives). 0, or -1 with *error_r (new memory, caller frees) when a value
 * the registry cannot check is wrong, e.g. an unknown mbox lock method. */
int store_settings_from_config(struct store_settings *s, const struct config *cfg, char **error_r);

/* store_settings_defaults - the registry defaults without a config (tests).
 * Strings are static. */
void store_settings_defaults(struct store_settings *s);

/* ---- mail location ---- */

enum store_format { STORE_FORMAT_MAILDIR, STORE_FORMAT_MBOX };

struct store_location {
	enum store_format format;
	char *root;       /* Maildir root (INBOX) or the mbox folder directory */
	char *inbox;      /* mbox: INBOX file (INBOX=); Maildir: same as root */
	char *index_dir;  /* LMDB environment directory (INDEX= or the default) */
};

/*
 * store_location_expand - expand a mail_location for user ("name@domain"
 * or "name"): %u user, %n local part, %d domain (empty without @), %h and
 * a leading ~ home (home may be NULL: then %h/~ is an error), %% a '%'.
 * Options after the path (":INBOX=PATH", ":INDEX=PATH") are expanded the
 * same way. Default index: Maildir ROOT/postern-index; mbox
 * DATA_DIRECTORY/index/DOMAIN/LOCALPART (DATA_DIRECTORY from set).
 * Characters of the user that could escape a path ('/', a leading '.',
 * control bytes) make it fail. Returns 0 (loc filled, free with
 * store_location_free) or -1 with err (PERM: bad location or user).
 */
int store_location_expand(const struct store_settings *set, const char *location,
			  const char *user, const char *home, struct store_location *loc,
			  struct store_error *err);
void store_location_free(struct store_location *loc);

/* ---- users ---- */

struct store_user;

#define STORE_USER_CREATE 0x01 /* create the mail root and index when missing */

/*
 * store_user_open - open user's store at location (NULL: set->mail_location;
 * the auth userdb's mail= field is what a caller passes here). set must
 * outlive the user. Returns the user (free with store_user_close) or NULL
 * with err: NOTFOUND when the root does not exist and STORE_USER_CREATE
 * was not given, PERM/TEMP otherwise.
 */
struct store_user *store_user_open(const struct store_settings *set, const char *user,
				   const char *location, const char *home, unsigned flags,
				   struct store_error *err);
/* store_user_close - close every mailbox still open, the index; *u = NULL. */
void store_user_close(struct store_user **u);
/* store_user_name / store_user_location - borrowed, valid while u is open. */
const char *store_user_name(const struct store_user *u);
const struct store_location *store_user_location(const struct store_user *u);

/* ---- mailboxes ---- */

/* Special-use flags (RFC 6154), stored in the index. */
#define STORE_SPECIAL_ALL     0x01
#define STORE_SPECIAL_ARCHIVE 0x02
#define STORE_SPECIAL_DRAFTS  0x04
#define STORE_SPECIAL_FLAGGED 0x08
#define STORE_SPECIAL_JUNK    0x10
#define STORE_SPECIAL_SENT    0x20
#define STORE_SPECIAL_TRASH   0x40

struct store_mailbox_info {
	const char *name;       /* "INBOX", "Sent", "Lists/postern" */
	unsigned special_use;   /* STORE_SPECIAL_* */
	bool subscribed;
	bool exists;            /* false: only subscribed (IMAP \NonExistent) */
	bool has_children;
};

/* Called once per mailbox, sorted by name with INBOX first; non-zero stops. */
typedef int store_mailbox_list_fn(const struct store_mailbox_info *info, void *ctx);

/* store_mailbox_list - every existing mailbox plus subscribed-only names.
 * 0, or -1 with err. */
int store_mailbox_list(struct store_user *u, store_mailbox_list_fn *fn, void *ctx,
		       struct store_error *err);
/* store_mailbox_create - 0, or -1 (EXISTS, PERM for a bad name). */
int store_mailbox_create(struct store_user *u, const char *name, unsigned special_use,
			 struct store_error *err);
/* store_mailbox_delete - removes the mailbox and its messages; INBOX cannot
 * be deleted (PERM). 0 or -1. */
int store_mailbox_delete(struct store_user *u, const char *name, struct store_error *err);
/* store_mailbox_delete_keep_children - (added for IMAP DELETE, RFC 3501
 * 6.3.4) the same, but mailboxes below name stay; name then lists as a
 * parent that does not exist (\Noselect). 0 or -1. */
int store_mailbox_delete_keep_children(struct store_user *u, const char *name,
				       struct store_error *err);
/* store_mailbox_rename - children move along; renaming INBOX moves its
 * messages into the new mailbox and leaves INBOX empty (RFC 3501 6.3.5).
 * UIDVALIDITY is kept. 0 or -1. */
int store_mailbox_rename(struct store_user *u, const char *oldname, const char *newname,
			 struct store_error *err);
/* store_mailbox_subscribe - on/off; the mailbox need not exist. 0 or -1. */
int store_mailbox_subscribe(struct store_user *u, const char *name, bool on,
			    struct store_error *err);
/* store_mailbox_set_special_use - replace the special-use flags. 0 or -1. */
int store_mailbox_set_special_use(struct store_user *u, const char *name, unsigned special_use,
				  struct store_error *err);
/* store_mailbox_name_valid - bounded length, no empty levels, no control
 * bytes, no "." or ".." levels. */
bool store_mailbox_name_valid(const char *name);

struct store_status {
	uint32_t messages;
	uint32_t unseen;        /* without \Seen */
	uint32_t recent;        /* arrived since the last read-write open (\Recent) */
	uint32_t uidvalidity;
	uint32_t uidnext;
	uint64_t highestmodseq;
	uint64_t size;          /* sum of RFC822.SIZE */
	uint32_t first_unseen_uid; /* 0: none */
};

/* store_mailbox_status_get - STATUS without keeping the mailbox open
 * (syncs it first). 0 or -1. */
int store_mailbox_status_get(struct store_user *u, const char *name, struct store_status *st,
			     struct store_error *err);

struct store_mailbox;

#define STORE_OPEN_READONLY 0x01 /* EXAMINE: no flag changes, \Recent kept */
#define STORE_OPEN_NOSYNC   0x02 /* trust the index as it is (tests, CLI listing) */

/* store_mailbox_open - open and sync. NULL with err (NOTFOUND if missing). */
struct store_mailbox *store_mailbox_open(struct store_user *u, const char *name, unsigned flags,
					 struct store_error *err);
/* store_mailbox_reopen - (added: IMAP re-SELECT of the same mailbox)
 * what store_mailbox_open does, for a box that stays open: sync (its
 * change notification, if any, keeps telling the sync what changed, so a
 * re-SELECT needs no directory scan) and \Recent taken again as a new
 * open would. 0, or -1 with err (the caller closes and opens anew). */
int store_mailbox_reopen(struct store_mailbox *box, struct store_error *err);
/* store_mailbox_close - stop notifications, free; *box = NULL. */
void store_mailbox_close(struct store_mailbox **box);
const char *store_mailbox_name(const struct store_mailbox *box);

/* store_mailbox_sync - bring the index up to date with the files (new,
 * vanished, renamed by other writers). Cheap when nothing changed: no
 * directory scan. 1 if something changed, 0 if not, -1 with err. */
int store_mailbox_sync(struct store_mailbox *box, struct store_error *err);

/* store_mailbox_status - the mailbox's numbers as of the last sync. */
void store_mailbox_status(struct store_mailbox *box, struct store_status *st);

/* store_mailbox_claim_recent - (added) \Recent for messages that arrived
 * while box is open read-write (RFC 3501 2.3.2: only one session is told
 * a message is recent): moves the mailbox's recent floor past last_uid,
 * so a later read-write open does not see them as recent again.
 * *first_r is the floor before: UIDs first..last_uid are this caller's;
 * below first another opener took them already (none are when *first_r >
 * last_uid). A read-only box claims nothing (*first_r = last_uid + 1).
 * 0, or -1 with err. */
int store_mailbox_claim_recent(struct store_mailbox *box, uint32_t last_uid, uint32_t *first_r,
			       struct store_error *err);

/*
 * Change notification (IMAP IDLE, concurrent sessions). fn is called on
 * base's loop when another process (or this one) changed the mailbox;
 * the caller then calls store_mailbox_sync() and compares. One inotify
 * instance serves every mailbox of the process (max_user_instances is
 * small). 0, or -1 with err (TEMP: no inotify; the caller falls back to
 * polling with store_mailbox_sync()).
 */
typedef void store_notify_fn(struct store_mailbox *box, void *ctx);
int store_mailbox_notify(struct store_mailbox *box, struct event_base *base,
			 store_notify_fn *fn, void *ctx, struct store_error *err);
void store_mailbox_notify_stop(struct store_mailbox *box);

/* ---- messages ---- */

#define STORE_FLAG_SEEN     0x01
#define STORE_FLAG_ANSWERED 0x02
#define STORE_FLAG_FLAGGED  0x04
#define STORE_FLAG_DELETED  0x08
#define STORE_FLAG_DRAFT    0x10
#define STORE_FLAG_RECENT   0x20 /* read-only: reported, never stored */
#define STORE_FLAGS_STORED  0x1f

#define STORE_KEYWORDS_MAX 1024 /* bytes of the space-separated keyword list */

struct store_msg {
	uint32_t uid;
	unsigned flags;          /* STORE_FLAG_* */
	const char *keywords;    /* space-separated IMAP atoms, "" if none */
	uint64_t modseq;
	time_t internaldate;
	uint64_t size;           /* RFC822.SIZE: lines counted with CRLF */
	uint64_t physical_size;  /* bytes in the file */
	/* Cached texts exactly as FETCH ENVELOPE / BODYSTRUCTURE send them
	 * (mime_envelope(), mime_bodystructure(extended)). Filled at delivery,
	 * APPEND and COPY; NULL for messages over 10 MiB and for messages a
	 * sync indexed (other writers, rebuild): build and store_msg_set_cache. */
	const char *envelope;
	const char *bodystructure;
	/* (added) The message's raw header block, up to and including the
	 * blank line that ends it, when it is at most STORE_HEADER_CACHE_MAX
	 * bytes and holds no NUL; NULL otherwise or not cached yet (filled
	 * like the texts above, and by SEARCH's first read of the file).
	 * Header searches parse it instead of opening the file. */
	const char *header;
};

/* Header blocks up to this size are cached (bytes). */
#define STORE_HEADER_CACHE_MAX 8192

/* Called in UID order; strings valid during the call only. Non-zero stops
 * the iteration and is returned by the iterator. */
typedef int store_msg_fn(const struct store_msg *msg, void *ctx);

/* store_mailbox_foreach - messages with modseq > since_modseq (0: all), in
 * UID order, as of the last sync. 0, the callback's non-zero value, or -1. */
int store_mailbox_foreach(struct store_mailbox *box, uint64_t since_modseq, store_msg_fn *fn,
			  void *ctx, struct store_error *err);

/* store_mailbox_foreach_unseen - (added: SEARCH UNSEEN) the messages
 * without \Seen, in UID order, as of the last sync, from the index's
 * unseen set: the others are not read at all. 0, the callback's non-zero
 * value, or -1 with err. */
int store_mailbox_foreach_unseen(struct store_mailbox *box, store_msg_fn *fn, void *ctx,
				 struct store_error *err);

/* store_mailbox_unseen_uids - (added: SEARCH UNSEEN) only the UIDs of
 * the messages without \Seen, in UID order, as of the last sync, from the
 * unseen set alone (no message record read). fn's non-zero value stops.
 * 0, fn's value, or -1 with err. */
typedef int store_uid_fn(uint32_t uid, void *ctx);
int store_mailbox_unseen_uids(struct store_mailbox *box, store_uid_fn *fn, void *ctx,
			      struct store_error *err);

/* store_msg_get - one message by UID: 1 found (calls fn once), 0 not found, -1. */
int store_msg_get(struct store_mailbox *box, uint32_t uid, store_msg_fn *fn, void *ctx,
		  struct store_error *err);

/* store_msgs_get - (added: FETCH reads a slice of records at once)
 * store_msg_get for n UIDs in one read transaction: fn is called for each
 * UID found, in the order of uids (missing ones are skipped). The number
 * found, or -1 with err. */
int store_msgs_get(struct store_mailbox *box, const uint32_t *uids, size_t n, store_msg_fn *fn,
		   void *ctx, struct store_error *err);

/*
 * store_msg_open - the message's bytes for streaming (no copy): *fd_r is a
 * new descriptor the caller closes, the message is *size_r bytes from
 * *offset_r (Maildir: 0 and the file size; mbox: inside the mbox file).
 * 0, or -1 with err (EXPUNGED when it vanished meanwhile).
 */
int store_msg_open(struct store_mailbox *box, uint32_t uid, int *fd_r, off_t *offset_r,
		   uint64_t *size_r, struct store_error *err);

enum store_flag_mode { STORE_FLAGS_ADD, STORE_FLAGS_REMOVE, STORE_FLAGS_REPLACE };

/*
 * store_msg_set_flags - change flags (and keywords, NULL: leave them) of
 * uid. unchanged_since (CONDSTORE UNCHANGEDSINCE, 0: no check): when the
 * message's modseq is higher, nothing changes and 0 is returned. 1 changed
 * (or already so; *modseq_r = the message's modseq), 0 refused by
 * unchanged_since, -1 with err (PERM when opened read-only).
 */
int store_msg_set_flags(struct store_mailbox *box, uint32_t uid, enum store_flag_mode mode,
			unsigned flags, const char *keywords, uint64_t unchanged_since,
			uint64_t *modseq_r, struct store_error *err);

/* store_msg_set_cache - remember ENVELOPE/BODYSTRUCTURE strings (NULL:
 * keep). Best effort: a failure is logged and returns -1 with err. */
int store_msg_set_cache(struct store_mailbox *box, uint32_t uid, const char *envelope,
			const char *bodystructure, struct store_error *err);

/*
 * store_msgs_set_flags - (added: STORE over many messages, EXPUNGE's
 * flagging) store_msg_set_flags for the n UIDs in uids, all in ONE index
 * write transaction: one commit instead of n. results[i] and modseqs[i]
 * (each may be NULL) get per message: 1 changed or already so (with the
 * modseq), 0 refused by unchanged_since, -1 gone (expunged meanwhile).
 * fn (may be NULL) sees each message still there as it stands after the
 * change, before the commit (strings valid during the call only); a
 * caller keeps what fn saw until this returns >= 0. Returns the number
 * of messages changed, or -1 with err: then nothing was recorded (file
 * renames done already are taken into the index by the next sync, as
 * after a crash). PERM when opened read-only.
 */
int store_msgs_set_flags(struct store_mailbox *box, const uint32_t *uids, size_t n,
			 enum store_flag_mode mode, unsigned flags, const char *keywords,
			 uint64_t unchanged_since, int *results, uint64_t *modseqs,
			 store_msg_fn *fn, void *ctx, struct store_error *err);

/* One cache fill for store_msgs_set_cache (NULL strings: keep). */
struct store_cache_fill {
	uint32_t uid;
	const char *envelope;
	const char *bodystructure;
	const char *header;      /* (added) the raw header block, as store_msg.header */
};

/*
 * store_msgs_set_cache - (added: FETCH and SEARCH fill the cache a slice
 * at a time) store_msg_set_cache for n messages in ONE index write
 * transaction. Messages expunged meanwhile are skipped. Returns how many
 * records were written, or -1 with err (nothing written; best effort:
 * the caller may ignore it).
 */
int store_msgs_set_cache(struct store_mailbox *box, const struct store_cache_fill *fills,
			 size_t n, struct store_error *err);

/* Called for each expunged UID (in increasing order). */
typedef void store_expunge_fn(uint32_t uid, void *ctx);

/* store_msg_expunge - remove one message (whatever its flags). 1 removed,
 * 0 was already gone, -1 with err. */
int store_msg_expunge(struct store_mailbox *box, uint32_t uid, struct store_error *err);
/* store_mailbox_expunge - remove every \Deleted message (with uid_set !=
 * NULL only those among the n given UIDs: UID EXPUNGE). fn (may be NULL)
 * is told each UID. 0 or -1. */
int store_mailbox_expunge(struct store_mailbox *box, const uint32_t *uid_set, size_t n,
			  store_expunge_fn *fn, void *ctx, struct store_error *err);

/* store_msg_copy - copy uid into dst (flags and keywords kept, \Recent
 * set in dst); dst may be in another format. *new_uid_r gets the UID in dst
 * (COPYUID). 0 or -1 (QUOTA when it does not fit). */
int store_msg_copy(struct store_mailbox *src, uint32_t uid, struct store_mailbox *dst,
		   uint32_t *new_uid_r, struct store_error *err);
/* store_msg_move - copy, then expunge from src. 0 or -1. */
int store_msg_move(struct store_mailbox *src, uint32_t uid, struct store_mailbox *dst,
		   uint32_t *new_uid_r, struct store_error *err);

/*
 * store_mailbox_append - add a message read from fd (from its current
 * position to EOF; bytes are stored as given) with flags, keywords (NULL
 * or "") and internaldate (0: now). *uid_r (may be NULL) gets its UID
 * (APPENDUID). The file is fsynced before return. 0 or -1 (QUOTA).
 */
int store_mailbox_append(struct store_mailbox *box, int fd, unsigned flags,
			 const char *keywords, time_t internaldate, uint32_t *uid_r,
			 struct store_error *err);

/* ---- quota (RFC 9208 STORAGE in KiB and MESSAGE) ---- */

struct store_quota {
	uint64_t bytes_used;     /* sum of RFC822.SIZE over all mailboxes */
	uint64_t bytes_limit;    /* 0: unlimited */
	uint64_t messages_used;
	uint64_t messages_limit; /* 0: unlimited */
};

/* store_quota_get - usage from the index (every mailbox synced), limits
 * from the settings or the per-user override. 0 or -1. */
int store_quota_get(struct store_user *u, struct store_quota *q, struct store_error *err);
/* store_user_set_quota - per-user limits (auth userdb quota=), 0 = use
 * the settings. */
void store_user_set_quota(struct store_user *u, uint64_t bytes, uint64_t messages);

/* ---- local delivery ---- */

struct store_deliver_req {
	const char *user;        /* recipient user as the userdb knows it; may carry +ext */
	const char *location;    /* mail_location override (userdb mail=), NULL: default */
	const char *home;        /* for %h / ~, may be NULL */
	uint64_t quota_bytes;    /* per-user override, 0: settings */
	const char *mailbox;     /* target mailbox, NULL: INBOX (or +ext folder) */
	const char *sender;      /* envelope sender for Return-Path ("" = null sender <>) */
	const char *recipient;   /* original recipient for Delivered-To, NULL: user */
	int fd;                  /* the message, read from its current position to EOF */
	/* Duplicate suppression within one queue run: the caller keeps this
	 * set across recipients of the same message that map to the same user
	 * and passes it again; NULL: no suppression. Managed by the store. */
	struct store_dedup *dedup;
};

/*
 * store_deliver - deliver one message as the local delivery agent:
 * Return-Path and Delivered-To are prepended, the target mailbox is
 * created on first delivery (INBOX always; others if mailbox_autocreate,
 * else INBOX is used), quota is honoured (QUOTA error; the caller maps it
 * through quota_full_tempfail, see store_error_is_temp()), and everything
 * is fsynced before 0 is returned. A message whose Message-ID was already
 * delivered to the same user through req->dedup is reported delivered
 * (returns 1) without a second copy. 0 delivered, 1 duplicate skipped, -1
 * with err. *uid_r (may be NULL) gets the new message's UID (0 for a
 * skipped duplicate).
 */
int store_deliver(const struct store_settings *set, const struct store_deliver_req *req,
		  uint32_t *uid_r, struct store_error *err);

/* store_split_extension - (added) "bob+lists@example.org" -> user
 * "bob@example.org", ext "lists" at the first character of
 * set->recipient_delimiter (Postfix); ext "" when there is none. Results
 * are cut to their buffer sizes. */
void store_split_extension(const struct store_settings *set, const char *addr, char *user,
			   size_t usize, char *ext, size_t esize);

/* store_dedup_new / store_dedup_free - the duplicate set for one message. */
struct store_dedup *store_dedup_new(void);
void store_dedup_free(struct store_dedup **d);

/* store_error_is_temp - whether err means "try later" for delivery:
 * TEMP always, QUOTA when set->quota_full_tempfail. */
bool store_error_is_temp(const struct store_settings *set, const struct store_error *err);

/* ---- maintenance ---- */

/* store_index_rebuild - drop the user's index and build it again from the
 * files (UIDs and UIDVALIDITY kept where the files carry them).
 * *messages_r (may be NULL) gets the number of messages indexed. 0 or -1. */
int store_index_rebuild(struct store_user *u, uint64_t *messages_r, struct store_error *err);

/* ---- Maildir file names (added for POP3's pop3_uidl_format %f) ---- */

/* Called in UID order; name valid during the call only. */
typedef int store_name_fn(uint32_t uid, const char *name, void *ctx);

/*
 * store_mailbox_foreach_name - (added) each message's Maildir file base
 * name as the server that wrote it named it: without the ":2," info and
 * without Postern's ",U=" field (so UIDLs of a Maildir taken over from
 * Dovecot stay the same). name is NULL for mbox. As of the last sync.
 * 0, the callback's non-zero value, or -1 with err. (store/msg-name.c)
 */
int store_mailbox_foreach_name(struct store_mailbox *box, store_name_fn *fn, void *ctx,
			       struct store_error *err);

#endif
