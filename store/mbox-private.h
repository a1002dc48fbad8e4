/*
 * mbox-private.h - the mbox mailbox format: locking (mbox-lock.c), the
 * streaming reader (mbox-parse.c) and the writer (mbox-write.c). Only the
 * store's own files and the tests include it; the rest of Postern goes
 * through store/store.h and the mbox backend (mbox-backend.c).
 *
 * The format is "mboxrd" (the variant Postfix local(8), mutt and Dovecot
 * write): each message starts with a From_ line "From SENDER ASCTIME-DATE",
 * is followed by one empty line, and any message line matching ^>*From_
 * gets one more '>' when written and loses one when read, so quoting is
 * reversible. Content-Length: is recorded but never used to split.
 *
 * Return convention of the functions that can fail: 0 on success, -1 on a
 * temporary failure (lock timeout, disk full, I/O error: deliver later,
 * answer NO [UNAVAILABLE]) and -2 on a permanent one (not an mbox file,
 * bad configuration). *error_r then gets a message in new memory naming
 * the file, the problem and the fix; the caller frees it.
 */
#ifndef POSTERN_MBOX_PRIVATE_H
#define POSTERN_MBOX_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

struct config;

/* ---------------------------------------------------------------- locks */

enum mbox_lock_method {
	MBOX_LOCK_FCNTL,       /* fcntl() record lock on the whole file */
	MBOX_LOCK_FLOCK,       /* flock() */
	MBOX_LOCK_DOTLOCK,     /* FILE.lock created exclusively next to FILE */
	MBOX_LOCK_DOTLOCK_TRY, /* dotlock, skipped when the directory is not writable */
};
#define MBOX_LOCK_MAX_METHODS 4

struct mbox_lock_methods {
	enum mbox_lock_method method[MBOX_LOCK_MAX_METHODS];
	unsigned count;
};

struct mbox_lock_settings {
	struct mbox_lock_methods read, write;
	unsigned timeout_secs;          /* mbox_lock_timeout: total wait */
	unsigned dotlock_stale_secs;    /* mbox_dotlock_change_timeout */
};

enum mbox_lock_mode { MBOX_LOCK_READ, MBOX_LOCK_WRITE };

struct mbox_lock;

/* mbox_lock_methods_parse - "fcntl dotlock" (commas or blanks) into
 * methods. 0, or -1 with *error_r static text naming the bad word. */
int mbox_lock_methods_parse(const char *text, struct mbox_lock_methods *methods_r,
			    const char **error_r);

/* mbox_lock_settings_default - the registry defaults (params-mbox.c). */
void mbox_lock_settings_default(struct mbox_lock_settings *set_r);

/* mbox_lock_settings_from_config - the four mbox_* lock parameters of cfg.
 * 0, or -2 with *error_r (new memory) naming the parameter. */
int mbox_lock_settings_from_config(const struct config *cfg, struct mbox_lock_settings *set_r,
				   char **error_r);

/*
 * mbox_lock_acquire - take the read or write locks of the mbox at path,
 * whose open descriptor is fd (O_RDWR for fcntl write locks), in the
 * configured order, retrying until timeout_secs have passed. A dotlock
 * older than dotlock_stale_secs is removed with a warning. If a later lock
 * cannot be had quickly the earlier ones are released before waiting, so
 * a program taking the same locks in the other order cannot deadlock us.
 * Returns 0 with *lock_r (free with mbox_lock_release), -1 on timeout or
 * I/O trouble (temporary), -2 on a permanent problem (dotlock directory
 * not writable).
 */
int mbox_lock_acquire(int fd, const char *path, enum mbox_lock_mode mode,
		      const struct mbox_lock_settings *set, struct mbox_lock **lock_r,
		      char **error_r);

/* mbox_lock_touch - refresh the dotlock's mtime during a long rewrite so
 * that nobody breaks it as stale. 0, or -1 with errno. */
int mbox_lock_touch(struct mbox_lock *lock);

/* mbox_lock_release - drop every lock in reverse order; *lock = NULL. */
void mbox_lock_release(struct mbox_lock **lock);

/* -------------------------------------------------------------- reading */

/* Flags read from Status: (R O) and X-Status: (A F T D). */
#define MBOX_FLAG_SEEN     0x01 /* Status: R */
#define MBOX_FLAG_OLD      0x02 /* Status: O: the MUA has seen it arrive (not \Recent) */
#define MBOX_FLAG_ANSWERED 0x04 /* X-Status: A */
#define MBOX_FLAG_FLAGGED  0x08 /* X-Status: F */
#define MBOX_FLAG_DELETED  0x10 /* X-Status: D */
#define MBOX_FLAG_DRAFT    0x20 /* X-Status: T */

#define MBOX_SENDER_MAX 256
#define MBOX_KEYWORDS_MAX 512
/* Longest line prefix the reader looks at (From_ lines, header names). */
#define MBOX_LINE_PEEK 1024

struct mbox_msg {
	uint64_t seq;             /* 1-based position in the file */
	uint64_t from_offset;     /* first byte of the From_ line */
	uint64_t header_offset;   /* first byte after the From_ line */
	uint64_t body_offset;     /* first byte after the empty line ending the header */
	uint64_t end_offset;      /* end of the message; the separator line is not in it */
	uint64_t next_offset;     /* next From_ line, or the file size */
	uint64_t lines;           /* line count of the message (IMAP BODY lines use it) */
	uint64_t size_unquoted;   /* bytes after removing one '>' of each >From_ line */
	uint64_t rfc822_size;     /* size_unquoted with every bare LF counted as CRLF */
	time_t internal_date;     /* from the From_ line; 0 when it did not parse */
	bool from_valid;          /* the From_ line parsed (sender and date) */
	char sender[MBOX_SENDER_MAX];
	unsigned flags;           /* MBOX_FLAG_* */
	char keywords[MBOX_KEYWORDS_MAX]; /* X-Keywords: value, blank separated */
	long long content_length; /* Content-Length: as written, -1 if absent; never trusted */
	uint32_t uid;             /* X-UID: or 0 */
	uint32_t uidvalidity;     /* X-IMAPbase: of the first message, or 0 */
	uint32_t uidnext;
	/* Identity of the message that survives moves (expunge compaction)
	 * and mutt's flag rewrites: FNV-1a of the From_ line's sender and
	 * date, the header lines except the ones MUAs rewrite (Status,
	 * X-Status, X-Keywords, X-UID, X-IMAPbase, X-IMAP, Content-Length,
	 * Lines), and the body length. Two equal messages collide; the
	 * backend numbers them. */
	uint64_t ident;
};

/*
 * mbox_from_parse - parse a From_ line (without or with its line end):
 * "From SENDER DATE" where DATE is asctime() ("Wed Nov 25 10:00:00 2026")
 * with the usual variants: single-digit day with one or two blanks, no
 * seconds, a time zone name and/or numeric offset before or after the
 * year, two-digit years, an RFC 5322 date instead, an empty or quoted
 * sender containing blanks. A date without zone is local time (how
 * Postfix and mutt write it). Returns 0 and fills sender (truncated to
 * sender_size) and *date_r, or -1 when it is not a From_ line.
 */
int mbox_from_parse(const char *line, size_t len, char *sender, size_t sender_size,
		    time_t *date_r);

struct mbox_reader;

/*
 * mbox_reader_open - read the mbox open at fd from offset 0, with a
 * bounded buffer (memory use does not depend on line or message size).
 * The fd stays the caller's. Returns NULL only when memory is short.
 */
struct mbox_reader *mbox_reader_open(int fd);
/* mbox_reader_open_at - the same from a From_ line at offset (a message
 * just appended); seq then counts from 2. */
struct mbox_reader *mbox_reader_open_at(int fd, uint64_t offset);
void mbox_reader_free(struct mbox_reader **reader);

/*
 * mbox_reader_next - the next message. A From_ line starts a message when
 * it begins the file or follows an empty line and parses as a From_ line
 * (at the very start of the file any "From " line is accepted). Returns 1
 * with *msg_r filled, 0 at the end, -1 on a read error, -2 when the file
 * does not start with "From " (not an mbox) - both with *error_r.
 */
int mbox_reader_next(struct mbox_reader *reader, struct mbox_msg *msg_r, char **error_r);

/* Output callback of mbox_message_export: 0 to continue, -1 to stop. */
typedef int mbox_out_fn(void *ctx, const void *data, size_t len);

/*
 * mbox_message_export - stream one message's bytes (header_offset ..
 * end_offset) read from fd with one '>' removed from each >From_ line,
 * and with crlf each bare LF as CRLF (what IMAP FETCH and POP3 RETR
 * send, exactly msg->rfc822_size bytes). Returns 0, -1 on a read error
 * or when out stopped (*error_r set).
 */
int mbox_message_export(int fd, const struct mbox_msg *msg, bool crlf, mbox_out_fn *out,
			void *ctx, char **error_r);

/*
 * mbox_rfc822_size - the RFC822.SIZE of len bytes of an already unquoted
 * message: its length plus one for every LF not preceded by CR. Pure.
 */
uint64_t mbox_rfc822_size(const void *data, size_t len);

/*
 * mboxrd quoting test, streamed: feed a line's bytes from its start until
 * state leaves MBOX_QUOTE_UNDECIDED (a LF always decides). YES means the
 * line is ^>*From_ with run '>' before "From " - the writer adds a '>',
 * the reader (when run > 0) removes one. No length limit, so quoting
 * round-trips for any line. mbox-quote.c.
 */
enum mbox_quote_state { MBOX_QUOTE_UNDECIDED, MBOX_QUOTE_YES, MBOX_QUOTE_NO };
struct mbox_quote {
	enum mbox_quote_state state;
	uint64_t run;      /* leading '>' seen */
	unsigned matched;  /* bytes of "From " matched after them */
};
void mbox_quote_init(struct mbox_quote *q);
/* mbox_quote_feed - returns how many bytes were consumed before deciding
 * (all n while undecided). */
size_t mbox_quote_feed(struct mbox_quote *q, const char *p, size_t n);
/* mbox_quote_test - a whole line (or its start): true if the reader must
 * remove one '>' (^>+From_). */
bool mbox_quote_test(const char *line, size_t n);

/* -------------------------------------------------------------- writing */

/* Input callback of mbox_append: bytes read (0 at the end) or -1. */
typedef ssize_t mbox_in_fn(void *ctx, void *buf, size_t size);

/*
 * mbox_append - append one message to the mbox open at fd; the caller
 * holds the write locks. Writes "From SENDER DATE" (sender "MAILER-DAEMON"
 * when empty, blanks in it replaced by '_'), the message with each ^>*From_
 * line quoted one level more, a final LF if the message lacks one, and the
 * empty separator line; first adds the missing LFs so that the previous
 * message ends with an empty line. fsync()s before returning 0. On any
 * failure (ENOSPC, EDQUOT, EFBIG, a read error of in) the file is cut back
 * to its previous size, so readers never see half a message, and -1 is
 * returned. *offset_r gets the new message's From_ offset. The process
 * must ignore SIGXFSZ for EFBIG to be reported instead of killing it.
 */
int mbox_append(int fd, const char *path, const char *sender, time_t date, mbox_in_fn *in,
		void *in_ctx, uint64_t *offset_r, char **error_r);

/* mbox_append_mem - mbox_append of len bytes in memory. */
int mbox_append_mem(int fd, const char *path, const char *sender, time_t date,
		    const void *data, size_t len, uint64_t *offset_r, char **error_r);

/*
 * mbox_deliver - open (creating it 0600 if missing) the mbox at path, take
 * the write locks, recover an interrupted expunge, append, unlock and
 * close: the whole local-delivery step. Returns 0, -1 (temporary: defer,
 * 4xx) or -2 (permanent) with *error_r.
 */
int mbox_deliver(const char *path, const struct mbox_lock_settings *set, const char *sender,
		 time_t date, const void *data, size_t len, char **error_r);

/* Which messages mbox_expunge keeps: true to keep msg. */
typedef bool mbox_keep_fn(void *ctx, const struct mbox_msg *msg);

/*
 * mbox_expunge - remove the messages keep() refuses, in place, under the
 * write locks the caller holds: the kept messages after the first removed
 * one are first copied into a journal file next to the mbox (".NAME.
 * postern-expunge", fsync'd), then written back over the old bytes, the
 * file is truncated and fsync'd, and the journal removed. A crash leaves
 * the journal, and mbox_recover() finishes the job. In place, not a temp
 * file + rename, because mutt and Postfix hold the mbox open while they
 * wait for its lock: after a rename they would append to the old, unlinked
 * inode and the message would be lost. *removed_r gets the count.
 * Returns 0, -1 (temporary) or -2 (not an mbox) with *error_r.
 */
int mbox_expunge(int fd, const char *path, mbox_keep_fn *keep, void *keep_ctx,
		 unsigned *removed_r, char **error_r);

/*
 * mbox_recover - under the write locks, finish an expunge that a crash
 * interrupted (its journal still exists). Bytes appended by others since
 * the crash are kept. Returns 1 when something was repaired, 0 when there
 * was nothing to do, -1 with *error_r.
 */
int mbox_recover(int fd, const char *path, char **error_r);

/* The journal starts with a header line of this many bytes:
 * "POSTERN-MBOX-EXPUNGE 1 X S P" (X: offset of the first removed message,
 * S: the mbox size when it was written, both 20 digits; P: phase C while
 * copying back, T once copied and about to truncate), blank padded, LF;
 * the kept bytes from X on follow. */
#define MBOX_JOURNAL_HEADER 80

/* ------------------------------------------------------------ backend */

/*
 * mbox_backend_set_locks - the lock settings store_backend_mbox uses
 * (registry defaults until called). A role that opens mbox users calls it
 * after loading the configuration, e.g. with mbox_lock_settings_from_config.
 * (Interface note: store_settings has no field for them yet.)
 */
void mbox_backend_set_locks(const struct mbox_lock_settings *set);

/* mbox_backend_configure - mbox_backend_set_locks() with the mbox_*
 * parameters of cfg. 0, or -2 with *error_r (new memory) naming the bad
 * parameter as FILE:LINE: NAME: problem; fix. */
int mbox_backend_configure(const struct config *cfg, char **error_r);

/* mbox_journal_path - the journal file name of path into buf. 0 or -1 (too long). */
int mbox_journal_path(const char *path, char *buf, size_t size);

#endif
