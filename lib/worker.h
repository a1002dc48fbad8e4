/*
 * worker.h - a small pool of threads for a role's blocking work (the auth
 * role's argon2id/crypt verification and PAM conversations, the smtp
 * role's queue-file fsyncs), so that the event loop keeps serving every
 * other client meanwhile.
 *
 * A job's run() executes on a worker thread and must touch only the job's
 * own data; done() then runs on the event loop thread (woken through a
 * pipe) and owns the job again. Callers: auth/passdb-virtual.c,
 * auth/passdb-pam.c (pool created by auth-role.c), smtp/message.c (pool
 * created by smtp-role.c).
 */
#ifndef POSTERN_WORKER_H
#define POSTERN_WORKER_H

struct event_base;
struct worker_pool;

struct worker_job {
	void (*run)(struct worker_job *job);   /* worker thread */
	void (*done)(struct worker_job *job);  /* event loop thread */
	struct worker_job *next;               /* pool-private */
};

/* Jobs queued beyond this are refused (temporary failure), so a flood of
 * logins costs bounded memory. */
#define WORKER_QUEUE_MAX 1024

/* worker_pool_new - start n threads. NULL with *error_r static on error. */
struct worker_pool *worker_pool_new(struct event_base *base, int n, const char **error_r);

/* worker_pool_submit - queue job. 0, or -1 when the queue is full (job not
 * taken; the caller fails the request as temporary). */
int worker_pool_submit(struct worker_pool *pool, struct worker_job *job);

/* worker_pool_free - stop the threads after their current job; jobs still
 * queued or finished but not delivered get done() called from here.
 * Sets *pool to NULL. */
void worker_pool_free(struct worker_pool **pool);

#endif
