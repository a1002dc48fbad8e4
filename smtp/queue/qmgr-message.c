/*
 * qmgr-message.c - one delivery attempt of one message, from the queue
 * file to its removal or deferral (Postfix's qmgr + cleanup's rewriting,
 * qmgr(8), bounce(8), postconf(5) maximal_queue_lifetime):
 *
 *   qmgr_message_start -> load_run (worker): qmsg_read; once per message
 *   resolve_rewrite_header -> qmsg_rewrite_content, resolve_expand ->
 *   qmsg_append_expansion; resolve_route for each addr dest not final
 *   -> load_done (loop): qmgr_local_dispatch + qmgr_remote_dispatch ->
 *   (each delivery records its outcome with qmgr_message_record, then
 *   qmgr_message_job_done) -> finish_run (worker): bounce_notify +
 *   qmsg_append_notified, delay notice, then unlink (qmsg_done), bounce
 *   what the lifetime ended, or qmsg_append_deferred + qmsg_move to
 *   deferred/ -> finish_done (loop): an admin op that waited, forget.
 *
 * What is recorded when: a delivery's outcome is appended (fsynced)
 * before anything depends on it; a notice is committed before "notified"
 * is appended; the file is unlinked only when qmsg_done. A crash anywhere
 * therefore repeats work (a second copy, a second notice), never loses it.
 *
 * Log lines are Postfix's, so that admins' grep habits keep working.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "util.h"
#include "smtp/queue/bounce.h"
#include "smtp/queue/qmgr-private.h"

enum load_result { LOAD_OK, LOAD_GONE, LOAD_CORRUPT, LOAD_RETRY };

struct load_work {
	struct qmgr_work w;
	struct qmgr_msg *msg;
	enum load_result result;
};

static double delay_of(const struct qmsg *m)
{
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	return (double)(now.tv_sec - m->arrival.tv_sec) + (double)(now.tv_nsec - m->arrival.tv_nsec) / 1e9;
}

/* qmgr_log_status - "ID: to=<x>, orig_to=<y>, relay=R, delay=D, dsn=X,
 * status=S (TEXT)" as Postfix's delivery agents log it. */
void qmgr_log_status(const struct qmgr_msg *msg, const char *to, const char *orig_to, const struct qstatus *st)
{
	double d = delay_of(msg->m);
	char delay[32];

	/* Postfix's style: two significant digits below 10 s, whole seconds above. */
	if (d < 0.01)
		str_copy(delay, "0", sizeof(delay));
	else if (d < 10)
		snprintf(delay, sizeof(delay), "%.2g", d);
	else
		snprintf(delay, sizeof(delay), "%.0f", d);
	if (orig_to && strcasecmp(orig_to, to) != 0)
		log_info("%s: to=<%s>, orig_to=<%s>, relay=%s, delay=%s, dsn=%s, status=%s (%s)", msg->id, to,
			 orig_to, st->relay, delay, st->dsn, qmsg_state_name(st->result), st->text);
	else
		log_info("%s: to=<%s>, relay=%s, delay=%s, dsn=%s, status=%s (%s)", msg->id, to, st->relay, delay,
			 st->dsn, qmsg_state_name(st->result), st->text);
}

/*
 * qmgr_message_record - append st[0..n) to msg's queue file (under
 * msg->lock: several deliveries of one message may end at once), then log
 * each; to and orig_to per entry. Any thread. An append that fails is
 * logged: the dests stay as they were and are tried again later.
 */
void qmgr_message_record(struct qmgr_msg *msg, const struct qstatus *st, size_t n, const char *const *orig_to)
{
	char *err = NULL;
	int rc;

	if (n == 0)
		return;
	pthread_mutex_lock(&msg->lock);
	rc = qmsg_append_status(msg->fd, msg->m, st, n, &err);
	pthread_mutex_unlock(&msg->lock);
	if (rc < 0) {
		log_warn("%s: cannot record delivery status: %s; the recipients will be tried again", msg->id, err);
		free(err);
		return;
	}
	for (size_t i = 0; i < n; i++)
		qmgr_log_status(msg, msg->m->dests[st[i].dest].value, orig_to ? orig_to[i] : NULL, &st[i]);
}

/* The original recipient of dest i, for orig_to= and Delivered-To. */
static const char *orig_rcpt(const struct qmsg *m, size_t i)
{
	size_t o = m->dests[i].orig;

	return o < m->n_rcpts ? m->rcpts[o].addr : NULL;
}

/* ---- loading ---- */

/* The header section of the content (at most QMGR_HEADER_MAX bytes).
 * *len_r covers the empty line when *complete_r. New memory or NULL. */
static char *header_read(int fd, const struct qmsg *m, size_t *len_r, bool *complete_r)
{
	size_t want = m->content_size < QMGR_HEADER_MAX ? (size_t)m->content_size : QMGR_HEADER_MAX;
	char *buf = must_malloc(want + 1);
	size_t got = 0;

	while (got < want) {
		ssize_t r = pread(fd, buf + got, want - got, m->content_offset + (off_t)got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			free(buf);
			return NULL;
		}
		got += (size_t)r;
	}
	buf[got] = '\0';
	*complete_r = false;
	*len_r = got;
	for (size_t i = 0; i + 1 < got; i++) {
		if (buf[i] != '\n')
			continue;
		if (buf[i + 1] == '\n' || (buf[i + 1] == '\r' && i + 2 < got && buf[i + 2] == '\n')) {
			*len_r = i + 1 + (buf[i + 1] == '\r' ? 2 : 1);
			*complete_r = true;
			break;
		}
	}
	return buf;
}

/* Expansion, once per message. 0, or -1 on a temporary failure (logged;
 * the message is deferred as it is). */
static int load_expand(struct qmgr_msg *msg)
{
	struct qmgr *q = msg->q;
	struct qmsg *m = msg->m;
	struct resolve_result res;
	struct resolve_input in;
	size_t hlen = 0, first = m->n_dests;
	bool complete = false;
	char *hdr, *out = NULL, *err = NULL;
	size_t out_len = 0;
	int rc;

	hdr = header_read(msg->fd, m, &hlen, &complete);
	if (hdr == NULL) {
		log_warn("%s: cannot read the message header: %s; trying again later", msg->id, strerror(errno));
		return -1;
	}
	if (complete) {
		rc = resolve_rewrite_header(q->resolve, hdr, hlen, &out, &out_len, &err);
		if (rc < 0) {
			log_warn("%s: header address rewriting failed: %s; trying again later", msg->id, err);
			goto fail;
		}
		if (rc == 1) {
			if (qmsg_rewrite_content(q->queue_dir, &msg->fd, m, out, out_len,
						 m->content_offset + (off_t)hlen, &err) < 0) {
				log_warn("%s: cannot rewrite the message header: %s; trying again later", msg->id, err);
				free(out);
				goto fail;
			}
			free(hdr);
			hdr = out;
			hlen = out_len;
		}
	}
	memset(&in, 0, sizeof(in));
	in.sender = m->sender;
	in.local_submission = m->proto && strcmp(m->proto, "local") == 0;
	in.rcpts = m->rcpts;
	in.n_rcpts = m->n_rcpts;
	in.header = hdr;
	in.header_len = hlen;
	memset(&res, 0, sizeof(res));
	if (resolve_expand(q->resolve, &in, resolve_userdb_lookup, q->userdb, &res, &err) < 0) {
		log_warn("%s: address expansion failed: %s; trying again later", msg->id, err);
		goto fail;
	}
	rc = qmsg_append_expansion(msg->fd, m, res.xsender, res.dests, res.n_dests, res.failed, res.n_failed, &err);
	if (rc < 0) {
		log_warn("%s: cannot record the address expansion: %s; trying again later", msg->id, err);
		resolve_result_free(&res);
		goto fail;
	}
	for (size_t i = 0; i < res.n_failed; i++) {
		struct qstatus st = res.failed[i];

		st.dest += first;
		qmgr_log_status(msg, m->dests[st.dest].value, orig_rcpt(m, st.dest), &st);
	}
	resolve_result_free(&res);
	free(hdr);
	return 0;
fail:
	free(err);
	free(hdr);
	return -1;
}

/* Routing of every addr dest still to deliver; failures are recorded. */
static void load_route(struct qmgr_msg *msg)
{
	struct qmgr *q = msg->q;
	struct qmsg *m = msg->m;
	struct qstatus *st = must_calloc(m->n_dests + 1, sizeof(*st));
	char **texts = must_calloc(m->n_dests + 1, sizeof(*texts));
	const char **orig = must_calloc(m->n_dests + 1, sizeof(*orig));
	size_t n = 0;

	msg->routes = must_calloc(m->n_dests + 1, sizeof(*msg->routes));
	msg->routed = must_calloc(m->n_dests + 1, sizeof(*msg->routed));
	for (size_t i = 0; i < m->n_dests; i++) {
		struct qdest *d = &m->dests[i];
		struct resolve_route *r = &msg->routes[i];
		char *err = NULL;

		if (qmsg_dest_final(m, i) || d->state == QDEST_BOUNCED || d->kind != QDEST_ADDR)
			continue;
		if (resolve_route(q->resolve, d->value, r, &err) < 0) {
			texts[n] = must_asprintf("address routing failed: %s", err);
			free(err);
			st[n] = (struct qstatus){ .dest = i, .result = QDEST_DEFERRED, .dsn = "4.3.0",
						  .relay = "none", .diag = "", .text = texts[n] };
			orig[n++] = orig_rcpt(m, i);
			continue;
		}
		switch (r->kind) {
		case ROUTE_STORE:
		case ROUTE_SMTP:
			msg->routed[i] = true;
			break;
		case ROUTE_ERROR:
			st[n] = (struct qstatus){ .dest = i, .result = r->dsn[0] == '4' ? QDEST_DEFERRED : QDEST_BOUNCED,
						  .dsn = r->dsn[0] ? r->dsn : "5.0.0", .relay = "none", .diag = "",
						  .text = r->text };
			orig[n++] = orig_rcpt(m, i);
			break;
		case ROUTE_DISCARD:
			st[n] = (struct qstatus){ .dest = i, .result = QDEST_SENT, .dsn = "2.0.0", .relay = "none",
						  .diag = "", .text = r->text[0] ? r->text : "discarded" };
			orig[n++] = orig_rcpt(m, i);
			break;
		}
	}
	qmgr_message_record(msg, st, n, orig);
	for (size_t i = 0; i < n; i++)
		free(texts[i]);
	free(texts);
	free(orig);
	free(st);
}

static void load_run(struct qmgr_work *w)
{
	struct load_work *lw = (struct load_work *)w;
	struct qmgr_msg *msg = lw->msg;
	struct qmgr *q = w->q;
	char *path = must_asprintf("%s/%s/%s", q->queue_dir, qdir_name(QDIR_ACTIVE), msg->id);
	char *err = NULL;
	int rc;

	msg->fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
	if (msg->fd < 0) {
		int e = errno;

		/* ENOENT: delivered, moved or deleted since the scan saw it */
		if (e != ENOENT)
			log_warn("%s: cannot open %s: %s; trying again later", msg->id, path, strerror(e));
		lw->result = e == ENOENT ? LOAD_GONE : LOAD_RETRY;
		free(path);
		return;
	}
	free(path);
	rc = qmsg_read(msg->fd, msg->id, QDIR_ACTIVE, &msg->m, &err);
	if (rc == -1) {
		char *merr = NULL;

		if (qmsg_move(q->queue_dir, msg->id, QDIR_ACTIVE, QDIR_CORRUPT, 0, &merr) < 0) {
			log_warn("%s: corrupt queue file (%s) cannot be moved to corrupt/: %s", msg->id, err, merr);
			free(merr);
		} else {
			log_warn("%s: corrupt queue file moved to corrupt/: %s", msg->id, err);
		}
		free(err);
		lw->result = LOAD_CORRUPT;
		return;
	}
	if (rc < 0) {
		log_warn("%s: cannot read the queue file: %s; trying again later", msg->id, err);
		free(err);
		lw->result = LOAD_RETRY;
		return;
	}
	log_info("%s: from=<%s>, size=%lld, nrcpt=%zu (queue active)", msg->id, qmsg_sender(msg->m),
		 (long long)msg->m->content_size, msg->m->n_rcpts);
	if (!msg->m->expanded && load_expand(msg) < 0) {
		lw->result = LOAD_OK;  /* finish defers it as it is */
		return;
	}
	if (msg->m->expanded)
		load_route(msg);
	lw->result = LOAD_OK;
}

static void message_finish(struct qmgr_msg *msg);

static void message_gone(struct qmgr *q, struct qmgr_msg *msg)
{
	qmgr_msg_forget(q, msg);
	if (q->stopping)
		service_session_gone(&q->svc, q->n_loaded);
	else
		qmgr_pump(q);
}

static void load_done(struct qmgr_work *w)
{
	struct load_work *lw = (struct load_work *)w;
	struct qmgr_msg *msg = lw->msg;
	struct qmgr *q = w->q;
	enum load_result result = lw->result;
	bool ran = w->ran;

	free(lw);
	if (!ran || q->teardown || q->stopping) {
		/* Not attempted: the file stays in active/ for the next start. */
		if (!q->teardown)
			message_gone(q, msg);
		return;
	}
	if (result != LOAD_OK) {
		message_gone(q, msg);
		return;
	}
	msg->state = QM_DELIVERING;
	msg->n_jobs = 1;  /* held while dispatching, so no job finishes the message early */
	if (msg->m->expanded) {
		/* Both plans first (each counts its jobs into msg->n_jobs), then
		 * the starts: once a job runs, a worker may append to msg->m. */
		qmgr_local_dispatch(q, msg);
		qmgr_remote_dispatch(q, msg);
		qmgr_local_pump(q);
		qmgr_remote_pump(q);
	}
	qmgr_message_job_done(msg);
}

/* qmgr_message_start - read and expand msg (state PENDING) on a worker,
 * then deliver it. */
void qmgr_message_start(struct qmgr *q, struct qmgr_msg *msg)
{
	struct load_work *lw = must_calloc(1, sizeof(*lw));

	msg->state = QM_LOADING;
	lw->msg = msg;
	lw->w.run = load_run;
	lw->w.done = load_done;
	qmgr_work_submit(q, &lw->w);
}

void qmgr_message_stop(struct qmgr *q)
{
	struct qmgr_msg **idle = NULL;
	size_t n = 0, cap = 0;

	for (size_t h = 0; h < QMGR_HASH_SIZE; h++)
		for (struct qmgr_msg *msg = q->hash[h]; msg; msg = msg->hnext) {
			if (msg->state != QM_DELIVERING || msg->n_jobs > 0)
				continue;
			if (n == cap) {
				cap = cap ? cap * 2 : 16;
				idle = must_realloc(idle, cap * sizeof(*idle));
			}
			idle[n++] = msg;
		}
	for (size_t i = 0; i < n; i++)
		message_gone(q, idle[i]);
	free(idle);
}

/* qmgr_message_job_done - one delivery of msg has recorded its outcome
 * (loop thread); after the last one the attempt is finished. */
void qmgr_message_job_done(struct qmgr_msg *msg)
{
	if (msg->n_jobs > 0)
		msg->n_jobs--;
	if (msg->n_jobs == 0)
		message_finish(msg);
}

/* ---- finishing ---- */

enum finish_result { FIN_KEPT, FIN_REMOVED, FIN_DEFERRED };

struct finish_work {
	struct qmgr_work w;
	struct qmgr_msg *msg;
	enum finish_result result;
};

/* Queue notices of kind for the dests chosen by want; "notified" after. */
static void notify(struct qmgr_msg *msg, enum bounce_kind kind)
{
	struct qmgr *q = msg->q;
	struct qmsg *m = msg->m;
	size_t *dests = must_calloc(m->n_dests + 1, sizeof(*dests));
	size_t n = 0;
	unsigned queued = 0;
	char *err = NULL;

	for (size_t i = 0; i < m->n_dests; i++) {
		const struct qdest *d = &m->dests[i];
		unsigned nt = d->orig < m->n_rcpts ? m->rcpts[d->orig].notify : 0;

		if (d->notified)
			continue;
		if (kind == BOUNCE_FAILED && d->state == QDEST_BOUNCED)
			dests[n++] = i;
		else if (kind == BOUNCE_SUCCESS && d->state == QDEST_SENT && (nt & QMSG_NOTIFY_SUCCESS))
			dests[n++] = i;
		else if (kind == BOUNCE_DELAYED && d->state == QDEST_DEFERRED)
			dests[n++] = i;
	}
	if (n == 0) {
		free(dests);
		return;
	}
	if (bounce_notify(q->bounce, q->qd, m, msg->fd, kind, dests, n, &queued, &err) < 0) {
		log_warn("%s: cannot queue the %s notice: %s; trying again later", msg->id,
			 kind == BOUNCE_FAILED ? "non-delivery" : kind == BOUNCE_DELAYED ? "delay" : "success", err);
		free(err);
		free(dests);
		return;
	}
	if (queued > 0)
		queue_file_wake(q->run_dir);
	if (kind == BOUNCE_DELAYED) {
		if (qmsg_append_warned(msg->fd, m, &err) < 0) {
			log_warn("%s: cannot record the delay notice: %s", msg->id, err);
			free(err);
		}
	} else if (qmsg_append_notified(msg->fd, m, dests, n, &err) < 0) {
		log_warn("%s: cannot record the notice: %s", msg->id, err);
		free(err);
	}
	free(dests);
}

/* The lifetime is over: every dest not final fails with its last reason
 * ("4.4.1" becomes "5.4.1", as Postfix's qmgr does), or 5.4.7. */
static void expire(struct qmgr_msg *msg)
{
	struct qmsg *m = msg->m;
	struct qstatus *st = must_calloc(m->n_dests + 1, sizeof(*st));
	char (*dsn)[12] = must_calloc(m->n_dests + 1, sizeof(*dsn));
	const char **orig = must_calloc(m->n_dests + 1, sizeof(*orig));
	size_t n = 0;

	for (size_t i = 0; i < m->n_dests; i++) {
		const struct qdest *d = &m->dests[i];

		if (qmsg_dest_final(m, i) || d->state == QDEST_BOUNCED || d->state == QDEST_SENT)
			continue;
		if (d->dsn[0] == '4')
			snprintf(dsn[n], sizeof(dsn[n]), "5%s", d->dsn + 1);
		else
			str_copy(dsn[n], "5.4.7", sizeof(dsn[n]));
		st[n] = (struct qstatus){ .dest = i, .result = QDEST_BOUNCED, .dsn = dsn[n],
					  .relay = d->relay ? d->relay : "none", .diag = d->diag ? d->diag : "",
					  .text = d->text && d->text[0] ? d->text : "message expired" };
		orig[n] = orig_rcpt(m, i);
		n++;
	}
	if (n > 0) {
		log_info("%s: from=<%s>, status=expired, returned to sender", msg->id, qmsg_sender(m));
		/* The strings point into m: copy them before the append replaces them. */
		char **keep = must_calloc(3 * n, sizeof(char *));

		for (size_t i = 0; i < n; i++) {
			keep[3 * i] = must_strdup(st[i].relay);
			keep[3 * i + 1] = must_strdup(st[i].diag);
			keep[3 * i + 2] = must_strdup(st[i].text);
			st[i].relay = keep[3 * i];
			st[i].diag = keep[3 * i + 1];
			st[i].text = keep[3 * i + 2];
		}
		qmgr_message_record(msg, st, n, orig);
		for (size_t i = 0; i < 3 * n; i++)
			free(keep[i]);
		free(keep);
	}
	free(orig);
	free(dsn);
	free(st);
}

/*
 * The lifetime ended while the expansion still failed (a table or the
 * userdb never answered): each envelope recipient becomes a dest of its
 * own that bounces, so the sender hears of it as Postfix would tell him.
 */
static void expire_unexpanded(struct qmgr_msg *msg)
{
	struct qmsg *m = msg->m;
	struct qdest_new *dests = must_calloc(m->n_rcpts + 1, sizeof(*dests));
	struct qstatus *st = must_calloc(m->n_rcpts + 1, sizeof(*st));
	char *err = NULL;

	for (size_t i = 0; i < m->n_rcpts; i++) {
		dests[i] = (struct qdest_new){ .orig = i, .kind = QDEST_ADDR, .value = m->rcpts[i].addr };
		st[i] = (struct qstatus){ .dest = i, .result = QDEST_BOUNCED, .dsn = "5.4.7", .relay = "none",
					  .diag = "", .text = "message expired: address expansion kept failing" };
	}
	log_info("%s: from=<%s>, status=expired, returned to sender", msg->id, qmsg_sender(m));
	if (qmsg_append_expansion(msg->fd, m, NULL, dests, m->n_rcpts, st, m->n_rcpts, &err) < 0) {
		log_warn("%s: cannot record the expiry: %s", msg->id, err);
		free(err);
	} else {
		for (size_t i = 0; i < m->n_rcpts; i++)
			qmgr_log_status(msg, m->rcpts[i].addr, NULL, &st[i]);
	}
	free(dests);
	free(st);
}

static void finish_run(struct qmgr_work *w)
{
	struct finish_work *fw = (struct finish_work *)w;
	struct qmgr_msg *msg = fw->msg;
	struct qmgr *q = w->q;
	struct qmsg *m = msg->m;
	time_t now = time(NULL), lifetime, next;
	char *err = NULL;

	fw->result = FIN_KEPT;
	lifetime = m->sender[0] ? q->max_lifetime : q->bounce_lifetime;
	if (!m->expanded && m->n_rcpts > 0 && now - m->arrival.tv_sec >= lifetime)
		expire_unexpanded(msg);
	if (m->expanded) {
		notify(msg, BOUNCE_FAILED);
		notify(msg, BOUNCE_SUCCESS);
		if (!qmsg_done(m)) {
			if (now - m->arrival.tv_sec >= lifetime) {
				expire(msg);
				notify(msg, BOUNCE_FAILED);
			}
		}
		if (qmsg_done(m)) {
			char *path = must_asprintf("%s/%s/%s", q->queue_dir, qdir_name(QDIR_ACTIVE), msg->id);

			if (unlink(path) < 0 && errno != ENOENT) {
				log_warn("%s: cannot remove %s: %s", msg->id, path, strerror(errno));
			} else {
				log_info("%s: removed", msg->id);
				fw->result = FIN_REMOVED;
			}
			free(path);
			return;
		}
		if (q->delay_warning > 0 && !m->warned && now - m->arrival.tv_sec >= q->delay_warning)
			notify(msg, BOUNCE_DELAYED);
	}
	next = now + qmgr_backoff(q->min_backoff, q->max_backoff, m->attempts);
	if (qmsg_append_deferred(msg->fd, m, now, next, &err) < 0) {
		log_warn("%s: cannot record the deferral: %s", msg->id, err);
		free(err);
		err = NULL;
	}
	if (qmsg_move(q->queue_dir, msg->id, QDIR_ACTIVE, QDIR_DEFERRED, next, &err) < 0) {
		log_warn("%s: cannot move to deferred/: %s", msg->id, err);
		free(err);
		return;
	}
	fw->result = FIN_DEFERRED;
}

static bool skip_none(void *ctx, const char *id)
{
	(void)ctx;
	(void)id;
	return false;
}

static void finish_done(struct qmgr_work *w)
{
	struct finish_work *fw = (struct finish_work *)w;
	struct qmgr_msg *msg = fw->msg;
	struct qmgr *q = w->q;
	bool ran = w->ran;
	enum finish_result result = fw->result;

	free(fw);
	if (q->teardown)
		return;
	if (ran && msg->has_op && result != FIN_REMOVED) {
		char *err = NULL;

		if (queue_admin_apply(q->queue_dir, msg->op, msg->id, QDIR_COUNT, skip_none, NULL, &err) < 0) {
			log_warn("%s: queued admin request not applied: %s", msg->id, err);
			free(err);
		}
		if (msg->op == QADMIN_REQUEUE || msg->op == QADMIN_RELEASE) {
			bool release = msg->op == QADMIN_RELEASE;

			message_gone(q, msg);
			qmgr_scan_request(q, release, false);
			return;
		}
	}
	message_gone(q, msg);
}

static void message_finish(struct qmgr_msg *msg)
{
	struct finish_work *fw;

	/* Stopping: no notices, no deferral; the next start does them from
	 * what is recorded (a deferral now would delay dests that were
	 * never attempted by a whole backoff). */
	if (msg->m == NULL || msg->q->stopping) {
		message_gone(msg->q, msg);
		return;
	}
	fw = must_calloc(1, sizeof(*fw));
	msg->state = QM_FINISHING;
	fw->msg = msg;
	fw->w.run = finish_run;
	fw->w.done = finish_done;
	qmgr_work_submit(msg->q, &fw->w);
}
