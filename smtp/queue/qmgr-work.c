/*
 * qmgr-work.c - the queue role's worker jobs: lib/worker.h's pool refuses
 * jobs beyond WORKER_QUEUE_MAX, and a queue with thousands of messages
 * must not lose a job to that, so refused jobs wait here, in order, and
 * are handed to the pool again whenever one of its jobs ends.
 *
 * Called by qmgr-scan.c, qmgr-message.c, qmgr-local.c, qmgr-remote.c.
 */
#include <stdlib.h>

#include "smtp/queue/qmgr-private.h"

static void work_run(struct worker_job *job)
{
	struct qmgr_work *w = (struct qmgr_work *)job;

	w->ran = true;
	w->run(w);
}

static void work_done(struct worker_job *job)
{
	struct qmgr_work *w = (struct qmgr_work *)job;
	struct qmgr *q = w->q;

	w->done(w);
	if (!q->teardown)
		qmgr_work_pump(q);
}

/* qmgr_work_submit - run w->run on a worker, then w->done on the loop.
 * Never fails: without a pool (or a full one) the job waits in the
 * overflow list. During teardown, done() runs at once with w->ran false. */
void qmgr_work_submit(struct qmgr *q, struct qmgr_work *w)
{
	w->q = q;
	w->ran = false;
	w->onext = NULL;
	w->job.run = work_run;
	w->job.done = work_done;
	if (q->teardown || q->pool == NULL) {
		w->done(w);
		return;
	}
	if (q->overflow_head == NULL && worker_pool_submit(q->pool, &w->job) == 0)
		return;
	if (q->overflow_tail)
		q->overflow_tail->onext = w;
	else
		q->overflow_head = w;
	q->overflow_tail = w;
}

/* qmgr_work_pump - hand waiting jobs to the pool while it takes them. */
void qmgr_work_pump(struct qmgr *q)
{
	while (q->overflow_head && q->pool) {
		struct qmgr_work *w = q->overflow_head;

		if (worker_pool_submit(q->pool, &w->job) < 0)
			return;
		q->overflow_head = w->onext;
		if (q->overflow_head == NULL)
			q->overflow_tail = NULL;
	}
}
