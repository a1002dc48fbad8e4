/*
 * queue-file.h - write one message into the queue, durably, before the
 * SMTP server says "250 2.0.0 Ok: queued as ID".
 *
 * Called by the SMTP session (smtp/message.c); later by sendmail and the
 * queue manager's bounces. The format is documented in docs/ARCHITECTURE.md
 * ("Queue file") and read by the queue manager.
 *
 * Steps: queue_file_create() (or queue_file_create_in() with a queue_dir
 * the caller keeps open) picks a unique id and creates
 * $queue_directory/incoming/ID (O_EXCL, 0600); queue_file_envelope()
 * writes the envelope records; queue_file_write() appends message bytes;
 * queue_file_commit() fills in the message size, fsyncs the file, renames
 * it to active/ID and fsyncs active/ (one fsync shared by the commits
 * that renamed before it started): only when it returns 0 is the message
 * safe. The file itself appears in incoming/ when the 64 KiB write buffer
 * first fills, or at commit for smaller messages, so that its creation
 * runs where the commit runs (a worker thread in the SMTP role). queue_file_abort() removes the incoming file (client
 * gone, message rejected). A crash before commit leaves only a file in
 * incoming/, which the queue manager removes at start (never delivered).
 */
#ifndef POSTERN_SMTP_QUEUE_FILE_H
#define POSTERN_SMTP_QUEUE_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

/* Ids are 12 upper-case hex digits, like Postfix's short queue ids. */
#define QUEUE_ID_SIZE 16
#define QUEUE_FILE_MAGIC "POSTERN-QUEUE 1\n"

struct queue_file;
struct queue_dir;

struct queue_rcpt {
	const char *addr;     /* "user@domain" */
	const char *orcpt;    /* "rfc822;user@domain" as sent, or NULL */
	unsigned notify;      /* SMTP_NOTIFY_* bits, 0 when not given */
};

struct queue_envelope {
	struct timespec arrival;
	const char *sender;        /* "" for <> */
	const char *envid;         /* xtext, or NULL */
	const char *ret;           /* "FULL", "HDRS" or NULL */
	const char *body;          /* "7BIT", "8BITMIME" or NULL */
	bool smtputf8;
	const char *client_name;
	const char *client_addr;
	const char *helo;          /* or NULL */
	const char *proto;         /* "ESMTPSA" */
	const char *sasl_method;   /* or NULL */
	const char *sasl_username; /* or NULL */
	bool hold;                 /* HOLD action: the queue manager parks it */
	const struct queue_rcpt *rcpts;
	size_t n_rcpts;
};

/*
 * queue_dir_open - open queue_dir's incoming/, active/ and hold/ for many
 * queue files (a role keeps one for its life). Its commits may run on
 * several threads at once. Returns the handle (free with queue_dir_free()
 * after the last file made in it is committed or aborted), or NULL with
 * *error_r (static text: the reason) when a directory cannot be opened.
 */
struct queue_dir *queue_dir_open(const char *queue_dir, const char **error_r);

/* queue_dir_free - close and free; *qd = NULL; NULL ok. */
void queue_dir_free(struct queue_dir **qd);

/* queue_dir_path - the queue_directory it was opened with (owned by qd). */
const char *queue_dir_path(const struct queue_dir *qd);

/* queue_file_create_in - as queue_file_create(), in an open queue_dir
 * (which must outlive the file). */
struct queue_file *queue_file_create_in(struct queue_dir *qd, char *id_r, const char **error_r);

/*
 * queue_file_create - a new queue file under queue_dir with a fresh id
 * (written to id_r, QUEUE_ID_SIZE bytes); incoming/ID is created later
 * (see above), so errors creating it (disk full, permissions) come from
 * queue_file_write() or queue_file_commit(). Returns the handle, or NULL
 * with *error_r (static text with the reason) when queue_dir's
 * directories cannot be opened.
 */
struct queue_file *queue_file_create(const char *queue_dir, char *id_r, const char **error_r);

/* queue_file_envelope - write the envelope records; call once, first.
 * 0, or -1 with *error_r (static). */
int queue_file_envelope(struct queue_file *qf, const struct queue_envelope *env, const char **error_r);

/* queue_file_write - append message bytes (buffered). 0, or -1 with *error_r. */
int queue_file_write(struct queue_file *qf, const void *data, size_t len, const char **error_r);

/* queue_file_size - message bytes written so far. */
size_t queue_file_size(const struct queue_file *qf);

/*
 * queue_file_commit - flush, record the size, fsync, rename into active/,
 * fsync active/ (group commit: concurrent callers on other threads share
 * one fsync). incoming/ is not fsynced: the old name's fate does not
 * matter once the file is durable under active/. Frees the handle in
 * every case (*qf = NULL).
 * Returns 0 (the message is queued), or -1 with *error_r (static) after
 * removing the file (nothing queued).
 */
int queue_file_commit(struct queue_file **qf, const char **error_r);

/* queue_file_hold - commit into hold/ instead of active/ (HOLD action:
 * the message waits for `postern queue release`). Returns 0 (kept as an
 * int for callers that checked an allocation here before). */
int queue_file_hold(struct queue_file *qf);

/* queue_file_abort - remove the incoming file and free; *qf = NULL; NULL ok. */
void queue_file_abort(struct queue_file **qf);

/*
 * queue_file_wake - tell the queue manager new mail is in active/: writes
 * one byte to the FIFO run_dir/queue.wake if it exists and someone reads
 * it (non-blocking; every error is ignored: the manager also scans on a
 * timer). The documented hook until the queue role exists.
 */
void queue_file_wake(const char *run_dir);

#endif
