/*
 * qmsg-private.h - what qmsg-read.c, qmsg-append.c, qmsg-dir.c and the
 * queue tools (queue-cat.c) share about the queue file's record syntax
 * and the in-memory state: limits, record encoding, names of kinds and
 * states, and the one rule both the reader and the appender apply to a
 * "requeued" record (so that dest numbers mean the same on both sides).
 * Not a public header: other modules use smtp/queue/qmsg.h.
 */
#ifndef POSTERN_SMTP_QMSG_PRIVATE_H
#define POSTERN_SMTP_QMSG_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "smtp/queue/qmsg.h"
#include "util.h"

/* Hostile-input bounds: a record value, the envelope recipients, and the
 * dest records over the file's life (across requeues). */
#define QMSG_VALUE_MAX (1024 * 1024)
#define QMSG_MAX_RCPTS 100000
#define QMSG_MAX_DESTS 100000
/* A record name: [a-z0-9_], at most this long. */
#define QMSG_NAME_MAX 32
/* The size field after "message ": fixed width (smtp/queue-file.c). */
#define QMSG_SIZE_DIGITS 15

/* qmsg_error - *error_r = the formatted text in new memory (a copy of
 * "out of memory" when formatting fails for lack of it). The queue role
 * survives an allocation failure here: it is not a start-up path. */
void qmsg_error(char **error_r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* qmsg_put_record - append "NAME LEN:VALUE\n" to sb. 0, or -1 when the
 * value is over QMSG_VALUE_MAX or memory ran out. */
int qmsg_put_record(struct strbuf *sb, const char *name, const char *value, size_t len);

/* qmsg_notify_text - QMSG_NOTIFY_* bits as the "notify" record writes
 * them ("NEVER", "SUCCESS,FAILURE,DELAY"); "" for 0. */
void qmsg_notify_text(unsigned notify, char *buf, size_t size);

/* qmsg_notify_parse - the record text back into bits; -1 for an unknown
 * word (the file is corrupt). */
int qmsg_notify_parse(const char *text, unsigned *bits_r);

/* Names in the dest and status records. */
const char *qmsg_kind_name(enum qdest_kind k);
int qmsg_kind_parse(const char *s, enum qdest_kind *k_r);
/* "sent", "bounced", "deferred" (the status record's RESULT); NULL for PENDING. */
const char *qmsg_result_name(enum qdest_state s);

/* qmsg_dest_clear - free what a dest owns (not the dest itself). */
void qmsg_dest_clear(struct qdest *d);

/* qmsg_apply_requeued - drop every dest that is not final (keeping the
 * order of the rest) and clear m->expanded. */
void qmsg_apply_requeued(struct qmsg *m);

/* qmsg_scan_records - call fn for each complete record in [from, to) of
 * fd, in order (for postcat-style output: the records as they are in the
 * file). A torn record at the end stops the scan quietly. fn returns 0 to
 * go on, -1 to stop. 0, or -1 with *error_r (new memory) for a malformed
 * record or a read error. */
typedef int qmsg_record_fn(void *ctx, const char *name, const char *value, size_t len);
int qmsg_scan_records(int fd, off_t from, off_t to, qmsg_record_fn *fn, void *ctx, char **error_r);

/* qmsg_dir_path - "queue_dir/DIR/id" (or "queue_dir/DIR" when id is
 * NULL) into buf; -1 when it does not fit. */
int qmsg_dir_path(char *buf, size_t size, const char *queue_dir, enum qdir d, const char *id);

#endif
