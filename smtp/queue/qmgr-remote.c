/*
 * qmgr-remote.c - SMTP deliveries of the queue role (Postfix's qmgr
 * handing recipients to smtp(8)): a message's dests routed to SMTP are
 * grouped by nexthop, at most smtp_destination_recipient_limit per job
 * (one SMTP transaction), at most smtp_destination_concurrency_limit jobs
 * per nexthop and default_process_limit deliveries overall (qmgr-slot.c).
 *
 * A job runs on the event loop through smtp/client/smtp-client.h
 * (smtpc_deliver); its results are then recorded in the queue file on a
 * worker (qmgr_message_record, an fsync) before the message may finish.
 *
 * Called by qmgr-message.c (dispatch), qmgr-local.c and itself (pump),
 * queue-role.c (teardown).
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "util.h"
#include "smtp/client/smtp-client.h"
#include "smtp/queue/qmgr-private.h"

struct qmgr_remote_job {
	struct qmgr_work w;            /* the recording of the results */
	struct qmgr_msg *msg;
	struct qmgr_remote_job *next;  /* wait list or active list */
	struct smtpc_job *job;
	char key[320];
	char nexthop[300];
	bool has_slot;
	size_t n;
	size_t *dests;
	char **values, **orcpts, **orig;
	unsigned *notify;
	struct qstatus *st;            /* results, strings owned (st_strs) */
	char **st_strs;
	char *sender, *envid, *ret;
	bool body_8bit, smtputf8;
	int fd;
	off_t offset, size;
};

static void job_free(struct qmgr_remote_job *j)
{
	for (size_t i = 0; i < j->n; i++) {
		free(j->values[i]);
		free(j->orcpts[i]);
		free(j->orig[i]);
	}
	if (j->st_strs)
		for (size_t i = 0; i < 4 * j->n; i++)
			free(j->st_strs[i]);
	free(j->st_strs);
	free(j->st);
	free(j->values);
	free(j->orcpts);
	free(j->orig);
	free(j->notify);
	free(j->dests);
	free(j->sender);
	free(j->envid);
	free(j->ret);
	free(j);
}

static void job_add_dest(struct qmgr_remote_job *j, const struct qmsg *m, size_t dest)
{
	const struct qdest *d = &m->dests[dest];
	const struct qrcpt *r = d->orig < m->n_rcpts ? &m->rcpts[d->orig] : NULL;
	size_t n = j->n + 1;

	j->dests = must_realloc(j->dests, n * sizeof(*j->dests));
	j->values = must_realloc(j->values, n * sizeof(*j->values));
	j->orcpts = must_realloc(j->orcpts, n * sizeof(*j->orcpts));
	j->orig = must_realloc(j->orig, n * sizeof(*j->orig));
	j->notify = must_realloc(j->notify, n * sizeof(*j->notify));
	j->dests[j->n] = dest;
	j->values[j->n] = must_strdup(d->value);
	j->orcpts[j->n] = r && r->orcpt ? must_strdup(r->orcpt) : NULL;
	j->orig[j->n] = r ? must_strdup(r->addr) : NULL;
	j->notify[j->n] = r ? r->notify : 0;
	j->n = n;
}

static void record_run(struct qmgr_work *w)
{
	struct qmgr_remote_job *j = (struct qmgr_remote_job *)w;

	qmgr_message_record(j->msg, j->st, j->n, (const char *const *)j->orig);
}

static void record_done(struct qmgr_work *w)
{
	struct qmgr_remote_job *j = (struct qmgr_remote_job *)w;
	struct qmgr *q = w->q;
	struct qmgr_msg *msg = j->msg;

	job_free(j);
	if (!q->teardown)
		qmgr_message_job_done(msg);
}

/* Keep the results (valid only during the callback): four owned strings
 * per recipient in st_strs (relay, diag, text, dsn). No result for a
 * recipient (a short array): deferred. */
static void results_keep(struct qmgr_remote_job *j, const struct smtpc_result *res, size_t n,
			 const char *fallback_text)
{
	j->st = must_calloc(j->n, sizeof(*j->st));
	j->st_strs = must_calloc(4 * j->n, sizeof(char *));
	for (size_t i = 0; i < j->n; i++) {
		const struct smtpc_result *r = i < n ? &res[i] : NULL;
		enum qdest_state result = r ? r->result : QDEST_DEFERRED;
		const char *dsn = r && r->dsn[0] ? r->dsn : result == QDEST_SENT ? "2.0.0" :
						 result == QDEST_BOUNCED ? "5.0.0" : "4.3.0";
		char **sp = &j->st_strs[4 * i];

		sp[0] = must_strdup(r && r->relay ? r->relay : "none");
		sp[1] = must_strdup(r && r->diag ? r->diag : "");
		sp[2] = must_strdup(r && r->text ? r->text : fallback_text);
		sp[3] = must_strdup(dsn);
		j->st[i] = (struct qstatus){ .dest = j->dests[i], .result = result, .dsn = sp[3],
					     .relay = sp[0], .diag = sp[1], .text = sp[2] };
	}
}

static void active_remove(struct qmgr *q, struct qmgr_remote_job *j)
{
	for (struct qmgr_remote_job **p = &q->remote_active; *p; p = &(*p)->next) {
		if (*p == j) {
			*p = j->next;
			break;
		}
	}
	j->next = NULL;
}

static void delivery_ended(struct qmgr *q, struct qmgr_remote_job *j)
{
	if (j->has_slot) {
		qmgr_slot_put(q, j->key);
		q->n_deliveries--;
		j->has_slot = false;
	}
	qmgr_work_submit(q, &j->w);
	qmgr_remote_pump(q);
	qmgr_local_pump(q);
}

static void on_done(void *ctx, const struct smtpc_result *results, size_t n)
{
	struct qmgr_remote_job *j = ctx;
	struct qmgr *q = j->w.q;

	j->job = NULL;
	active_remove(q, j);
	results_keep(j, results, n, "delivery did not complete");
	delivery_ended(q, j);
}

static void job_start(struct qmgr *q, struct qmgr_remote_job *j)
{
	struct smtpc_rcpt *rcpts = must_calloc(j->n, sizeof(*rcpts));
	struct smtpc_req req;

	for (size_t i = 0; i < j->n; i++)
		rcpts[i] = (struct smtpc_rcpt){ .addr = j->values[i], .orcpt = j->orcpts[i], .notify = j->notify[i] };
	memset(&req, 0, sizeof(req));
	req.nexthop = j->nexthop;
	req.sender = j->sender;
	req.envid = j->envid;
	req.ret = j->ret;
	req.body_8bit = j->body_8bit;
	req.smtputf8 = j->smtputf8;
	req.fd = j->fd;
	req.offset = j->offset;
	req.size = j->size;
	req.rcpts = rcpts;
	req.n_rcpts = j->n;
	j->job = smtpc_deliver(q->smtpc, &req, on_done, j);
	free(rcpts);
	if (j->job == NULL) {
		results_keep(j, NULL, 0, "out of memory starting the SMTP client");
		delivery_ended(q, j);
		return;
	}
	j->next = q->remote_active;
	q->remote_active = j;
}

/* qmgr_remote_dispatch - make the SMTP jobs of msg and count them into
 * msg->n_jobs; qmgr_remote_pump starts them. Returns the number of jobs. */
int qmgr_remote_dispatch(struct qmgr *q, struct qmgr_msg *msg)
{
	struct qmsg *m = msg->m;
	struct qmgr_remote_job **mine = must_calloc(m->n_dests + 1, sizeof(*mine));
	size_t n_mine = 0;

	for (size_t i = 0; i < m->n_dests; i++) {
		const struct qdest *d = &m->dests[i];
		const struct resolve_route *r = &msg->routes[i];
		struct qmgr_remote_job *j = NULL;

		if (qmsg_dest_final(m, i) || d->state == QDEST_BOUNCED || d->kind != QDEST_ADDR ||
		    !msg->routed[i] || r->kind != ROUTE_SMTP)
			continue;
		for (size_t k = 0; k < n_mine; k++)
			if (strcasecmp(mine[k]->nexthop, r->nexthop) == 0 && mine[k]->n < q->smtp_rcpt_limit)
				j = mine[k];
		if (j == NULL) {
			j = must_calloc(1, sizeof(*j));
			j->msg = msg;
			str_copy(j->nexthop, r->nexthop, sizeof(j->nexthop));
			snprintf(j->key, sizeof(j->key), "smtp:%s", r->nexthop);
			str_lower(j->key);
			j->sender = must_strdup(qmsg_sender(m));
			j->envid = m->envid ? must_strdup(m->envid) : NULL;
			j->ret = m->ret ? must_strdup(m->ret) : NULL;
			j->body_8bit = m->body && strcasecmp(m->body, "8BITMIME") == 0;
			j->smtputf8 = m->smtputf8;
			j->fd = msg->fd;
			j->offset = m->content_offset;
			j->size = m->content_size;
			j->w.run = record_run;
			j->w.done = record_done;
			j->w.q = q;
			mine[n_mine++] = j;
		}
		job_add_dest(j, m, i);
	}
	for (size_t k = 0; k < n_mine; k++) {
		struct qmgr_remote_job *j = mine[k];

		if (q->remote_wait_tail)
			q->remote_wait_tail->next = j;
		else
			q->remote_wait_head = j;
		q->remote_wait_tail = j;
		msg->n_jobs++;
	}
	free(mine);
	return (int)n_mine;
}

/* qmgr_remote_pump - start waiting jobs the limits allow, in order. */
void qmgr_remote_pump(struct qmgr *q)
{
	struct qmgr_remote_job **p = &q->remote_wait_head, *prev = NULL;

	while (*p && q->n_deliveries < q->process_limit && !q->teardown) {
		struct qmgr_remote_job *j = *p;

		if (!qmgr_slot_take(q, j->key, q->smtp_dest_limit)) {
			prev = j;
			p = &j->next;
			continue;
		}
		*p = j->next;
		if (q->remote_wait_tail == j)
			q->remote_wait_tail = prev;
		j->next = NULL;
		j->has_slot = true;
		q->n_deliveries++;
		job_start(q, j);
		/* job_start may have pumped (synchronous failure): restart */
		p = &q->remote_wait_head;
		prev = NULL;
	}
}

/* qmgr_remote_drop_waiting - stop: jobs never started are dropped and
 * uncounted from their messages (nothing was recorded for them). */
void qmgr_remote_drop_waiting(struct qmgr *q)
{
	while (q->remote_wait_head) {
		struct qmgr_remote_job *j = q->remote_wait_head;

		q->remote_wait_head = j->next;
		if (j->msg->n_jobs > 0)
			j->msg->n_jobs--;
		job_free(j);
	}
	q->remote_wait_tail = NULL;
}

/* qmgr_remote_free_waiting - teardown, before smtpc_free: cancel jobs in
 * flight (their callbacks will not run) and free those never started. */
void qmgr_remote_free_waiting(struct qmgr *q)
{
	while (q->remote_active) {
		struct qmgr_remote_job *j = q->remote_active;

		q->remote_active = j->next;
		smtpc_cancel(&j->job);
		job_free(j);
	}
	qmgr_remote_drop_waiting(q);
	q->remote_wait_tail = NULL;
}
