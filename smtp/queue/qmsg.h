/*
 * qmsg.h - one queue file as the queue manager, the bounce generator and
 * the queue tools see it: read it (envelope, where the content is, and
 * the queue manager's own records), and append the queue manager's
 * records durably (expansion, per-recipient status, attempts).
 *
 * The SMTP role and the pickup socket write the first part of the file
 * (smtp/queue-file.h: magic, envelope records, "message SIZE", content).
 * Everything after the content is the queue manager's section: records in
 * the same "NAME LEN:VALUE\n" syntax, only ever appended, each batch
 * followed by fsync() before the queue manager acts on it. The full
 * format is in docs/ARCHITECTURE.md ("Queue file", "Queue manager
 * section"); in short:
 *
 *   xsender LEN:ADDR               the sender after rewriting (canonical,
 *                                  masquerade, myorigin); absent: unchanged
 *   dest LEN:ORIG\tKIND\tRUNAS\tVALUE
 *                                  one final destination of envelope
 *                                  recipient number ORIG (0-based);
 *                                  KIND addr|pipe|file|discard; RUNAS the
 *                                  user a pipe/file delivery runs as ("-"
 *                                  for addr); VALUE the address, the
 *                                  command, or the file name
 *   expanded 0:                    every dest record of the expansion is
 *                                  above (dest records without it after
 *                                  them are ignored: the expansion was cut
 *                                  by a crash and is done again)
 *   status LEN:DEST\tRESULT\tDSN\tTIME\tRELAY\tDIAG\tTEXT
 *                                  outcome of one attempt for dest number
 *                                  DEST (0-based, in dest record order):
 *                                  RESULT sent|bounced|deferred; DSN the
 *                                  enhanced status code "5.1.1"; TIME unix
 *                                  seconds; RELAY "mx.example.com[192.0.2.1]:25",
 *                                  "local" or "none"; DIAG the DSN
 *                                  Diagnostic-Code "smtp; 550 5.1.1 ..." or
 *                                  ""; TEXT the reason for logs and mailq.
 *                                  The last status of a dest wins.
 *   notified LEN:DEST[,DEST...]    the sender has been sent a failure
 *                                  (or success) notice for these dests
 *   warned 0:                      a delay notice was sent
 *   deferred LEN:TIME\tNEXT        an attempt ended at TIME with some dest
 *                                  still deferred; next attempt at NEXT
 *   requeued LEN:TIME              postern queue requeue: dests not
 *                                  final are expanded again from here on
 *                                  (dest and status records above this one
 *                                  stay for the final ones only)
 *
 * A crash while appending leaves at most the last record torn: the reader
 * ignores an incomplete final record (no '\n', or fewer bytes than LEN),
 * and the next append truncates it away first (qmsg_append_* write at
 * m->good_end). A malformed record anywhere else makes the file corrupt.
 *
 * Threads: a struct qmsg belongs to one thread at a time; the functions
 * keep no global state, so the queue role may read and append on worker
 * threads.
 */
#ifndef POSTERN_SMTP_QMSG_H
#define POSTERN_SMTP_QMSG_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#include "smtp/queue-file.h"

/* The queue's directories, Postfix's names and meanings. */
enum qdir {
	QDIR_INCOMING,  /* being written; never read by the manager */
	QDIR_ACTIVE,    /* waiting for, or in, delivery */
	QDIR_DEFERRED,  /* a delivery attempt failed temporarily; mtime = next attempt */
	QDIR_HOLD,      /* parked until `postern queue release` */
	QDIR_CORRUPT,   /* unreadable; kept for the admin, never deleted automatically */
	QDIR_COUNT
};

/* qdir_name - "incoming", "active", "deferred", "hold", "corrupt". */
const char *qdir_name(enum qdir d);

/* qdir_ensure - create the five directories under queue_dir (mode 0700)
 * if missing. 0, or -1 with *error_r (new memory: path and errno text). */
int qdir_ensure(const char *queue_dir, char **error_r);

enum qdest_kind { QDEST_ADDR, QDEST_PIPE, QDEST_FILE, QDEST_DISCARD };

enum qdest_state {
	QDEST_PENDING,   /* never attempted */
	QDEST_SENT,      /* delivered (final) */
	QDEST_BOUNCED,   /* failed permanently (final once notified) */
	QDEST_DEFERRED,  /* failed temporarily; tried again later */
};

struct qrcpt {          /* an envelope recipient as the SMTP client gave it */
	char *addr;
	char *orcpt;        /* "rfc822;user@example.com" or NULL */
	unsigned notify;    /* QMSG_NOTIFY_* bits; 0: not given (failure+delay by default) */
};

#define QMSG_NOTIFY_NEVER   0x01u
#define QMSG_NOTIFY_SUCCESS 0x02u
#define QMSG_NOTIFY_FAILURE 0x04u
#define QMSG_NOTIFY_DELAY   0x08u

struct qdest {
	size_t orig;            /* index into rcpts */
	enum qdest_kind kind;
	char *runas;            /* pipe/file: user name to run as; NULL for addr */
	char *value;            /* address, command or file name */
	/* From the last status record (PENDING: none yet). */
	enum qdest_state state;
	char dsn[12];           /* "2.0.0", "4.4.1", "5.1.1"; "" when PENDING */
	time_t when;
	char *relay;            /* NULL when PENDING */
	char *diag;             /* "" when none */
	char *text;
	bool notified;          /* a notice about its final state was queued */
};

struct qmsg {
	char id[QUEUE_ID_SIZE];
	enum qdir dir;                 /* where it was read from */
	/* Envelope (written by the SMTP role / pickup). */
	struct timespec arrival;
	char *sender;                  /* "" for the null sender */
	char *envid, *ret, *body;      /* DSN ENVID, RET FULL|HDRS, BODY 7BIT|8BITMIME; NULL if absent */
	bool smtputf8;
	char *client_name, *client_addr, *helo, *proto, *sasl_method, *sasl_username; /* NULL if absent */
	struct qrcpt *rcpts;
	size_t n_rcpts;
	/* Content: bytes [content_offset, content_offset + content_size). */
	off_t content_offset;
	off_t content_size;
	/* The queue manager's section. */
	char *xsender;                 /* rewritten sender, or NULL */
	bool expanded;
	struct qdest *dests;           /* valid only when expanded */
	size_t n_dests;
	bool warned;
	unsigned attempts;             /* number of deferred records */
	time_t next_attempt;           /* from the last deferred record; 0: none */
	off_t good_end;                /* where the next record is appended */
};

/*
 * qmsg_read - read the queue file open at fd (any position; pread is
 * used) into a new *m_r, with m->id = id and m->dir = dir. Content bytes
 * are not read. Returns 0; or -1 with *error_r (new memory, one line
 * naming the byte offset and the problem: "record at byte 123: length
 * 99999 runs past the end of the file") when the file is corrupt; or -2
 * with *error_r when reading failed (EIO, ENOMEM: try later, do not
 * move it to corrupt/).
 */
int qmsg_read(int fd, const char *id, enum qdir dir, struct qmsg **m_r, char **error_r);

/* qmsg_free - free m and everything in it; *m = NULL; NULL ok. */
void qmsg_free(struct qmsg **m);

/* qmsg_sender - the sender to use from now on: xsender if set, else sender. */
const char *qmsg_sender(const struct qmsg *m);

/* qmsg_dest_final - whether dest i needs no more work: SENT, DISCARD, or
 * BOUNCED and notified (or nobody to notify: null sender or NOTIFY=NEVER). */
bool qmsg_dest_final(const struct qmsg *m, size_t i);

/* qmsg_done - every dest final (and expanded): the file may be removed. */
bool qmsg_done(const struct qmsg *m);

/* A dest as the expansion produces it (strings are copied). */
struct qdest_new {
	size_t orig;
	enum qdest_kind kind;
	const char *runas;     /* NULL for addr */
	const char *value;
};

/* The outcome of one attempt for one dest (strings are copied). */
struct qstatus {
	size_t dest;
	enum qdest_state result;   /* SENT, BOUNCED or DEFERRED */
	const char *dsn;           /* "5.1.1" */
	const char *relay;         /* "local", "none", "host[addr]:port" */
	const char *diag;          /* "" or "smtp; 550 5.1.1 ..." */
	const char *text;
};

/*
 * Appending. Each call writes its records at m->good_end (truncating a
 * torn tail first), fsyncs fd, then updates m to match. All return 0, or
 * -1 with *error_r (new memory) with m unchanged (the records may or may
 * not be on disk; a later read tells).
 *
 * qmsg_append_expansion - xsender (NULL: unchanged), the dests, and
 *   "expanded"; statuses for dests that failed during expansion (unknown
 *   user, relocated, loop) follow in the same write: stat[i].dest counts
 *   from the first new dest (m->n_dests before the call).
 * qmsg_append_status - one status record per entry.
 * qmsg_append_notified - a notified record for these dests.
 * qmsg_append_warned - the warned record.
 * qmsg_append_deferred - a deferred record (attempts++, next_attempt).
 * qmsg_append_requeued - a requeued record: every dest not final is
 *   dropped from m and m->expanded becomes false.
 */
int qmsg_append_expansion(int fd, struct qmsg *m, const char *xsender, const struct qdest_new *dests,
			  size_t n_dests, const struct qstatus *stat, size_t n_stat, char **error_r);
int qmsg_append_status(int fd, struct qmsg *m, const struct qstatus *stat, size_t n, char **error_r);
int qmsg_append_notified(int fd, struct qmsg *m, const size_t *dests, size_t n, char **error_r);
int qmsg_append_warned(int fd, struct qmsg *m, char **error_r);
int qmsg_append_deferred(int fd, struct qmsg *m, time_t now, time_t next, char **error_r);
int qmsg_append_requeued(int fd, struct qmsg *m, time_t now, char **error_r);

/*
 * qmsg_rewrite_content - replace the content's header section (canonical
 * and masquerading of header addresses, done once before the first
 * delivery): writes incoming/ID with m's envelope records, hdr (the new
 * header section including its empty line) and the original body (bytes
 * from body_offset of fd to the end of the content), fsyncs it, renames
 * it over queue_dir/DIR/ID (atomic: readers see the old or the new file)
 * and fsyncs DIR. The manager section is not carried over: call it
 * before qmsg_append_expansion. On success *fd is closed and replaced by
 * the new file's fd (O_RDWR) and m's content_offset, content_size and
 * good_end describe it (m's manager fields are reset to match: no
 * xsender, dests, warned or attempts). 0, or -1 with *error_r (new
 * memory) and nothing changed - except when only the final fsync of DIR
 * failed: then the rename is done and *fd and m already describe the new
 * file.
 */
int qmsg_rewrite_content(const char *queue_dir, int *fd, struct qmsg *m, const char *hdr, size_t hdr_len,
			 off_t body_offset, char **error_r);

/*
 * qmsg_move - rename queue_dir/FROM/id to queue_dir/TO/id (never
 * replacing an existing file) and fsync TO's directory. For deferred/,
 * mtime is set to next_attempt first when next_attempt > 0 (the deferred
 * scan reads only mtimes, as Postfix). 0, or -1 with *error_r (new).
 */
int qmsg_move(const char *queue_dir, const char *id, enum qdir from, enum qdir to, time_t next_attempt,
	      char **error_r);

/* qmsg_find - which directory (active, deferred, hold, corrupt) holds id.
 * 0 with *dir_r, or -1 when none does. id is checked to be a queue id
 * (12 upper-case hex digits) first: anything else is -1. */
int qmsg_find(const char *queue_dir, const char *id, enum qdir *dir_r);

/* qmsg_id_valid - 12 upper-case hex digits, nothing else. */
bool qmsg_id_valid(const char *id);

/* qmsg_state_name - "pending", "sent", "bounced", "deferred". */
const char *qmsg_state_name(enum qdest_state s);

#endif
