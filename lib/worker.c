/*
 * worker.c - thread pool of worker.h. Threads rather than forked
 * processes: PAM modules and libsodium are thread-safe (pam_start gives
 * each conversation its own handle), threads share the LMDB-free job data
 * without serialising it, and a crashed forked worker would need its own
 * supervision. The cost is that a PAM module crashing takes the auth role
 * down; the master then restarts it.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

#include <event2/event.h>

#include "worker.h"
#include "log.h"

struct worker_pool {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct worker_job *queue_head, *queue_tail;
	struct worker_job *done_head;
	size_t queued;
	bool stopping;
	int pipe_fd[2];
	struct event *wake;
	pthread_t *threads;
	int n_threads;
};

static void *worker_thread(void *arg)
{
	struct worker_pool *pool = arg;

	pthread_mutex_lock(&pool->lock);
	for (;;) {
		while (pool->queue_head == NULL && !pool->stopping)
			pthread_cond_wait(&pool->cond, &pool->lock);
		if (pool->stopping)
			break;
		struct worker_job *job = pool->queue_head;
		pool->queue_head = job->next;
		if (pool->queue_head == NULL)
			pool->queue_tail = NULL;
		pool->queued--;
		pthread_mutex_unlock(&pool->lock);

		job->run(job);

		pthread_mutex_lock(&pool->lock);
		job->next = pool->done_head;
		pool->done_head = job;
		/* One byte per finished job; the loop drains them all at once,
		 * so a full pipe (EAGAIN) loses nothing. */
		ssize_t w = write(pool->pipe_fd[1], "x", 1);
		(void)w;
	}
	pthread_mutex_unlock(&pool->lock);
	return NULL;
}

static void worker_deliver(struct worker_pool *pool)
{
	struct worker_job *list;

	pthread_mutex_lock(&pool->lock);
	list = pool->done_head;
	pool->done_head = NULL;
	pthread_mutex_unlock(&pool->lock);
	while (list) {
		struct worker_job *next = list->next;
		list->done(list);
		list = next;
	}
}

static void worker_wake(evutil_socket_t fd, short what, void *arg)
{
	char buf[256];

	(void)what;
	while (read(fd, buf, sizeof(buf)) > 0)
		;
	worker_deliver(arg);
}

struct worker_pool *worker_pool_new(struct event_base *base, int n, const char **error_r)
{
	struct worker_pool *pool = calloc(1, sizeof(*pool));

	if (pool == NULL || pipe2(pool->pipe_fd, O_NONBLOCK | O_CLOEXEC) < 0) {
		free(pool);
		*error_r = "cannot create the worker wake-up pipe";
		return NULL;
	}
	pthread_mutex_init(&pool->lock, NULL);
	pthread_cond_init(&pool->cond, NULL);
	pool->wake = event_new(base, pool->pipe_fd[0], EV_READ | EV_PERSIST, worker_wake, pool);
	pool->threads = calloc((size_t)n, sizeof(pthread_t));
	if (pool->wake == NULL || event_add(pool->wake, NULL) < 0 || pool->threads == NULL) {
		*error_r = "out of memory creating the worker pool";
		worker_pool_free(&pool);
		return NULL;
	}
	for (int i = 0; i < n; i++) {
		if (pthread_create(&pool->threads[i], NULL, worker_thread, pool) != 0) {
			*error_r = "cannot start worker threads";
			worker_pool_free(&pool);
			return NULL;
		}
		pool->n_threads++;
	}
	return pool;
}

int worker_pool_submit(struct worker_pool *pool, struct worker_job *job)
{
	pthread_mutex_lock(&pool->lock);
	if (pool->queued >= WORKER_QUEUE_MAX || pool->stopping) {
		pthread_mutex_unlock(&pool->lock);
		return -1;
	}
	job->next = NULL;
	if (pool->queue_tail)
		pool->queue_tail->next = job;
	else
		pool->queue_head = job;
	pool->queue_tail = job;
	pool->queued++;
	pthread_cond_signal(&pool->cond);
	pthread_mutex_unlock(&pool->lock);
	return 0;
}

void worker_pool_free(struct worker_pool **poolp)
{
	struct worker_pool *pool = *poolp;

	if (pool == NULL)
		return;
	pthread_mutex_lock(&pool->lock);
	pool->stopping = true;
	pthread_cond_broadcast(&pool->cond);
	pthread_mutex_unlock(&pool->lock);
	for (int i = 0; i < pool->n_threads; i++)
		pthread_join(pool->threads[i], NULL);
	/* Unrun jobs are handed back as finished-without-running: done() must
	 * cope (the jobs' result fields stay at their "temporary failure"
	 * initial value). */
	pthread_mutex_lock(&pool->lock);
	struct worker_job *q = pool->queue_head;
	pool->queue_head = pool->queue_tail = NULL;
	pthread_mutex_unlock(&pool->lock);
	worker_deliver(pool);
	while (q) {
		struct worker_job *next = q->next;
		q->done(q);
		q = next;
	}
	if (pool->wake)
		event_free(pool->wake);
	close(pool->pipe_fd[0]);
	close(pool->pipe_fd[1]);
	pthread_mutex_destroy(&pool->lock);
	pthread_cond_destroy(&pool->cond);
	free(pool->threads);
	free(pool);
	*poolp = NULL;
}
