/*
 * pickup.h - how sendmail(1) hands a message to the queue without setgid
 * programs (Postfix's postdrop + pickup, as one local socket): the queue
 * role listens on queue_pickup_socket (mode 0666: any local user may
 * submit, as with Postfix's sendmail), reads one message per connection,
 * writes it as a queue file and answers only after the commit (fsync of
 * file and directory).
 *
 * Protocol (unix stream; client lines end in LF; every field is bounded
 * and checked: the peer is any local user):
 *
 *   C: SENDER ADDR          envelope sender from -f ("" for <>); absent:
 *                           the peer's login name (SO_PEERCRED + getpwuid),
 *                           @myorigin added as append_at_myorigin says
 *   C: FULLNAME TEXT        -F: the full name for a From: header it adds
 *   C: RCPT ADDR            one per recipient (at most smtpd_recipient_limit)
 *   C: EXTRACT              -t: recipients also from To:, Cc:, Bcc: (Bcc: removed)
 *   C: NOTIFY LIST / RET FULL|HDRS / ENVID XTEXT   -N, -R, -V
 *   C: DATA SIZE            then exactly SIZE bytes of message (LF or CR LF
 *                           line ends; at most message_size_limit)
 *   S: OK ID                queued, durable
 *   S: ERR 4.x.x TEXT | ERR 5.x.x TEXT
 *                           refused; TEXT is printed by sendmail as is
 *
 * The message gets, as Postfix's cleanup adds to local submissions: a
 * Received: header naming the user id ("by HOST (Postern, from userid
 * 1000)"), and From:, Date:, Message-ID: when missing; lines become CR LF.
 * The queue file's proto is "local", client_name "localhost",
 * client_addr "127.0.0.1", sasl_username the login name.
 *
 * Server: the queue role (pickup.c); client: cli/sendmail.c through
 * pickup_submit().
 */
#ifndef POSTERN_SMTP_PICKUP_H
#define POSTERN_SMTP_PICKUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "config.h"
#include "smtp/queue-file.h"

struct event_base;
struct pickup;

/* Called after each message is queued (the queue role schedules it). */
typedef void pickup_queued_fn(void *ctx, const char *id);

/*
 * pickup_new - serve the listening socket listen_fd (borrowed) on base,
 * writing queue files into qd (borrowed) with cfg's settings. NULL with
 * *error_r (new memory).
 */
struct pickup *pickup_new(struct event_base *base, int listen_fd, struct queue_dir *qd,
			  const struct config *cfg, pickup_queued_fn *queued, void *ctx, char **error_r);
/* pickup_free - stop listening, drop connections in progress (their
 * messages were not acknowledged; incoming files removed); *p = NULL. */
void pickup_free(struct pickup **p);

/* What sendmail submits. */
struct pickup_submission {
	const char *sender;        /* NULL: the server chooses (login name) */
	const char *full_name;     /* or NULL */
	const char *const *rcpts;
	size_t n_rcpts;
	bool extract;              /* -t */
	const char *notify, *ret, *envid; /* or NULL */
	FILE *message;             /* read to EOF (a lone "." ends it unless dot_ok) */
	bool dot_ok;               /* -i / -oi */
};

/*
 * pickup_submit - connect to socket_path, send s, wait for the answer.
 * Returns 0 with id_r (QUEUE_ID_SIZE) filled; otherwise an exit status
 * from sysexits.h (EX_TEMPFAIL: socket missing, posternd not running, or
 * a 4xx; EX_DATAERR/EX_NOUSER/EX_UNAVAILABLE for 5xx as Postfix's
 * sendmail) with *error_r (new memory: the text to print).
 */
int pickup_submit(const char *socket_path, const struct pickup_submission *s, char *id_r, char **error_r);

#endif
