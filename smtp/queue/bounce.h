/*
 * bounce.h - delivery status notifications (Postfix's bounce(8)): RFC 3464
 * multipart/report messages to the sender for failed recipients, delayed
 * ones (delay_warning_time) and, when asked with NOTIFY=SUCCESS,
 * delivered ones; copies to postmaster as notify_classes says; double
 * bounces (a notice to the null sender that fails) to
 * 2bounce_notice_recipient; nothing for a null sender's message except
 * that. A notice is itself a queue file (smtp/queue-file.h) from the null
 * sender, committed (fsynced) before bounce_notify returns; the caller
 * then appends "notified" / "warned" to the original (qmsg.h), so a crash
 * in between sends a notice twice, never zero times.
 *
 * Called by the queue role on a worker thread (blocking file I/O).
 */
#ifndef POSTERN_SMTP_BOUNCE_H
#define POSTERN_SMTP_BOUNCE_H

#include <stddef.h>
#include <stdio.h>

#include "config.h"
#include "smtp/queue-file.h"
#include "smtp/queue/qmsg.h"

struct bounce;

/* bounce_new - cfg's bounce settings (myhostname, mail_name,
 * bounce_size_limit, notify_classes, *_notice_recipient,
 * double_bounce_sender). NULL with *error_r (new memory). */
struct bounce *bounce_new(const struct config *cfg, char **error_r);
void bounce_free(struct bounce **b);

enum bounce_kind {
	BOUNCE_FAILED,    /* Action: failed - "Undelivered Mail Returned to Sender" */
	BOUNCE_DELAYED,   /* Action: delayed - "Delayed Mail (still being retried)" */
	BOUNCE_SUCCESS,   /* Action: delivered/relayed - "Successful Mail Delivery Report" */
};

/*
 * bounce_notify - queue the notices for message m (content read from fd)
 * about dests[0..n) (indexes into m->dests; for FAILED those BOUNCED, for
 * DELAYED those DEFERRED, for SUCCESS those SENT with NOTIFY=SUCCESS):
 * to the sender unless it is null or every dest's NOTIFY excludes it
 * (NEVER, or no FAILURE/DELAY when NOTIFY was given), a postmaster copy
 * as notify_classes asks; when m's sender is null, a double bounce to
 * 2bounce_notice_recipient only if notify_classes has 2bounce or bounce
 * (failures), or to delay_notice_recipient with delay (delays), as
 * Postfix - otherwise it is only logged; nothing at all when m's sender
 * is double_bounce_sender. The original's headers or
 * the whole message (RET, bounce_size_limit) are attached. Each new queue
 * file is committed into qd's active/. *n_queued_r (may be NULL) gets how
 * many files were queued (0 is normal: nobody to tell). 0, or -1 with
 * *error_r (new memory): nothing was queued, try again later.
 */
int bounce_notify(const struct bounce *b, struct queue_dir *qd, const struct qmsg *m, int fd,
		  enum bounce_kind kind, const size_t *dests, size_t n, unsigned *n_queued_r,
		  char **error_r);

#endif
