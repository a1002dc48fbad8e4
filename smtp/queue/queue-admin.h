/*
 * queue-admin.h - what the queue tools do to queue files: list (mailq,
 * postqueue -p), cat (postcat -q), delete (postsuper -d), hold (postsuper
 * -h), release (postsuper -H), requeue (postsuper -r).
 *
 * Two callers: the queue role, when `postern queue ...` asks it over the
 * control socket (queue_control_socket) - it knows which messages are in
 * delivery and applies a change to those when their attempt ends - and
 * the CLI itself when posternd is not running (then nothing else touches
 * the queue). The CLI side is cli/cmd-queue.c and cli/sendmail.c (mailq).
 *
 * Control socket protocol (unix stream, mode 0600, mail_owner; one
 * request line, one or more reply lines, then the connection closes):
 *
 *   C: FLUSH                     attempt every deferred message now (postqueue -f)
 *   C: FLUSH ID                  attempt this one now (postqueue -i ID)
 *   C: DELETE ID|ALL [QUEUE]     remove (postsuper -d ID|ALL [deferred...])
 *   C: HOLD ID|ALL [QUEUE]       move to hold/ (postsuper -h)
 *   C: RELEASE ID|ALL            hold/ back to deferred/, due now (postsuper -H)
 *   C: REQUEUE ID|ALL [QUEUE]    expand again and attempt now (postsuper -r)
 *   S: OK N                      N messages affected (the tool prints
 *                                "postsuper: Deleted: N messages" as Postfix)
 *   S: ERR TEXT                  one line the tool prints as is
 *
 * QUEUE is active, deferred, hold or incoming; ALL without it means
 * every queue but incoming/ and corrupt/.
 */
#ifndef POSTERN_SMTP_QUEUE_ADMIN_H
#define POSTERN_SMTP_QUEUE_ADMIN_H

#include <stdio.h>
#include <time.h>

#include "smtp/queue/qmsg.h"

enum queue_admin_op { QADMIN_DELETE, QADMIN_HOLD, QADMIN_RELEASE, QADMIN_REQUEUE };

/*
 * queue_admin_apply - do op to one message (id) or every message of
 * queue `only` (QDIR_COUNT: every queue but incoming and corrupt) when
 * id is "ALL". Files are renamed/unlinked with the directory fsynced.
 * REQUEUE appends a requeued record (qmsg.h) and moves the file to
 * active/. skip(ctx, id) (may be NULL) returning true leaves a message
 * alone (the queue role's messages in delivery; it applies the op later).
 * Returns the number of messages affected (>= 0), or -1 with *error_r
 * (new memory) when id is not a queue id or no such message exists
 * ("ID: no such message in the queue").
 */
int queue_admin_apply(const char *queue_dir, enum queue_admin_op op, const char *id, enum qdir only,
		      bool (*skip)(void *ctx, const char *id), void *ctx, char **error_r);

/*
 * queue_admin_list - write the queue as `mailq` / `postqueue -p` does to
 * out: for each message (active, deferred, hold, oldest first),
 *
 *   -Queue ID-  --Size-- ----Arrival Time---- -Sender/Recipient-------
 *   3F2A9C01B7E4*    1234 Wed Nov 25 15:00:01  alice@example.org
 *   (host mx.example.net[192.0.2.7] said: 450 4.2.0 try later (in reply to RCPT TO command))
 *                                            bob@example.net
 *
 *   -- 1 Kbytes in 1 Request.
 *
 * with '*' after an active id and '!' after a held one, the reason of the
 * last deferral above each group of recipients that share it, and only
 * recipients that are not final; "Mail queue is empty" when empty.
 * Returns the number of messages listed, or -1 with *error_r (new).
 * Corrupt files are skipped with a line on stderr naming them.
 */
int queue_admin_list(const char *queue_dir, FILE *out, char **error_r);

/*
 * queue_admin_cat - write message id as postcat -q does: the envelope
 * (*** ENVELOPE RECORDS ***, one "name: value" line each), the content
 * (*** MESSAGE CONTENTS ***), and the queue manager's records
 * (*** HEADER EXTRACTED / QUEUE MANAGER RECORDS ***). 0, or -1 with
 * *error_r (new).
 */
int queue_admin_cat(const char *queue_dir, const char *id, FILE *out, char **error_r);

/*
 * queue_control_request - the client side of the protocol above: connect
 * to the queue role's control socket at socket_path, send line (without
 * its newline), read the reply lines until the role closes the
 * connection (at most reply_size - 1 bytes, NUL-terminated, the final
 * newline removed) into reply. Returns 0; -1 with *error_r (new memory)
 * when the socket is missing or refuses connections (posternd or its
 * queue role is not running: the caller may work on the files itself);
 * -2 with *error_r when the role was reached but the exchange failed
 * (timeout, cut short, reply too long): do not fall back then, the role
 * is alive and owns the queue.
 */
int queue_control_request(const char *socket_path, const char *line, char *reply, size_t reply_size,
			  char **error_r);

#endif
