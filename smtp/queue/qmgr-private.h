/*
 * qmgr-private.h - the queue role's internals, shared by its files:
 * queue-role.c (start, stop), qmgr-scan.c (which messages to work on),
 * qmgr-message.c (one message's attempt), qmgr-local.c and qmgr-remote.c
 * (the deliveries), qmgr-control.c (the control socket), qmgr-work.c
 * (worker jobs with an overflow list).
 *
 * Threads: the event loop owns struct qmgr and every struct qmgr_msg.
 * Blocking work (reading and appending queue files, store delivery,
 * resolve look-ups, bounces) runs in worker jobs (lib/worker.h) that touch
 * only their own copies plus, for appends, the message's struct qmsg under
 * msg->lock. While a message has a job in flight the loop does not read
 * its struct qmsg.
 */
#ifndef POSTERN_SMTP_QMGR_PRIVATE_H
#define POSTERN_SMTP_QMGR_PRIVATE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "config.h"
#include "service.h"
#include "store/store.h"
#include "worker.h"
#include "smtp/queue-file.h"
#include "smtp/queue/qmsg.h"
#include "smtp/queue/queue-admin.h"
#include "smtp/resolve/resolve.h"

struct event;
struct evconnlistener;
struct control_conn;
struct event_base;
struct pickup;
struct bounce;
struct smtpc;
struct dns;

#define QMGR_HASH_SIZE 4096
/* Threads for blocking work: store delivery, queue file appends, bounces. */
#define QMGR_WORKER_THREADS 4
/* The header section read for rewriting and loop detection. */
#define QMGR_HEADER_MAX (256 * 1024)
/* Messages in an attempt at once (each holds its queue file open); the
 * others known wait in the pending list. */
#define QMGR_LOADED_MAX 512
/* incoming/ files older than this at start belong to no living writer. */
#define QMGR_INCOMING_STALE 3600

enum qmgr_msg_state {
	QM_PENDING,     /* known (scan, wake, pickup), not read yet */
	QM_LOADING,     /* qmsg_read, expansion and routing on a worker */
	QM_DELIVERING,  /* deliveries in flight (msg->n_jobs) */
	QM_FINISHING,   /* bounces, then removed or deferred, on a worker */
};

struct qmgr_msg {
	char id[QUEUE_ID_SIZE];
	enum qmgr_msg_state state;
	struct qmgr *q;
	struct qmgr_msg *hnext;         /* hash chain */
	struct qmgr_msg *pnext;         /* pending list */
	int fd;                         /* the queue file, O_RDWR; -1 until loaded */
	struct qmsg *m;
	struct resolve_route *routes;   /* per dest, valid for routed addr dests */
	bool *routed;                   /* routes[i] is valid */
	pthread_mutex_t lock;           /* appends from concurrent delivery jobs */
	size_t n_jobs;                  /* deliveries not yet recorded */
	bool has_op;                    /* an admin op waits for the attempt's end */
	enum queue_admin_op op;
};

struct qmgr_work;
typedef void qmgr_work_fn(struct qmgr_work *w);

/* A worker job with the pool's overflow handled (qmgr-work.c). */
struct qmgr_work {
	struct worker_job job;
	struct qmgr *q;
	qmgr_work_fn *run, *done;
	bool ran;                       /* false: handed back unrun at teardown */
	struct qmgr_work *onext;
};

struct qmgr_local_job;
struct qmgr_remote_job;
struct qmgr_slot;                       /* per user / per nexthop counters */

struct qmgr {
	const struct config *cfg;
	struct event_base *base;
	struct service svc;
	struct worker_pool *pool;
	struct qmgr_work *overflow_head, *overflow_tail;
	bool teardown;                  /* worker_pool_free is handing jobs back */
	const char *queue_dir, *run_dir;
	struct queue_dir *qd;
	struct resolve *resolve;
	struct resolve_userdb *userdb;
	struct bounce *bounce;
	struct dns *dns;
	struct smtpc *smtpc;
	struct store_settings store_set;
	struct pickup *pickup;
	/* settings */
	time_t run_delay, min_backoff, max_backoff, max_lifetime, bounce_lifetime, delay_warning;
	size_t local_limit, smtp_dest_limit, smtp_rcpt_limit, process_limit, active_limit;
	unsigned command_time_limit;
	/* messages known (pending or loaded) */
	struct qmgr_msg *hash[QMGR_HASH_SIZE];
	size_t n_msgs, n_loaded;
	struct qmgr_msg *pend_head, *pend_tail;
	/* scanning (qmgr-scan.c) */
	bool scan_running, scan_again, scan_deferred, flush_all, scan_truncated;
	struct event *ev_timer;
	struct event *ev_wake;
	int wake_fd, wake_wfd;
	/* deliveries in flight and waiting (qmgr-local.c, qmgr-remote.c) */
	size_t n_deliveries;
	struct qmgr_local_job *local_wait_head, *local_wait_tail;
	struct qmgr_remote_job *remote_wait_head, *remote_wait_tail;
	struct qmgr_remote_job *remote_active;   /* smtpc jobs in flight */
	struct qmgr_slot *slots;
	/* control socket (qmgr-control.c) */
	struct evconnlistener *control;
	struct control_conn *control_conns;
	bool stopping;
};

/* ---- qmgr-work.c ---- */
/* qmgr_work_submit - run w->run on a worker thread, then w->done on the
 * loop; never fails (a full pool queue: w waits in q's overflow list).
 * In teardown done() runs at once with w->ran false. */
void qmgr_work_submit(struct qmgr *q, struct qmgr_work *w);
/* qmgr_work_pump - hand overflow jobs to the pool while it takes them. */
void qmgr_work_pump(struct qmgr *q);

/* ---- qmgr-scan.c ---- */
/* qmgr_scan_init - queue directories, incoming/ leftovers, the wake FIFO,
 * the deferred timer, the first scan. 0, or -1 after logging. */
int qmgr_scan_init(struct qmgr *q);
/* qmgr_scan_free - FIFO and timer closed, pending messages freed. */
void qmgr_scan_free(struct qmgr *q);
/* qmgr_scan_request - scan active/ soon (first deferred/: the due files,
 * or all of them with flush_all); requests during a scan are merged. */
void qmgr_scan_request(struct qmgr *q, bool deferred, bool flush_all);
/* qmgr_msg_find - the known message id (pending or loaded), or NULL. */
struct qmgr_msg *qmgr_msg_find(struct qmgr *q, const char *id);
/* qmgr_msg_add - a new pending message; false when id is known already,
 * not a queue id, or qmgr_message_active_limit is reached. */
bool qmgr_msg_add(struct qmgr *q, const char *id);
/* qmgr_msg_forget - drop msg from the known set and free it (and its
 * fd, struct qmsg, routes). */
void qmgr_msg_forget(struct qmgr *q, struct qmgr_msg *msg);
/* qmgr_pump - start pending messages (at most QMGR_LOADED_MAX loaded). */
void qmgr_pump(struct qmgr *q);

/* ---- qmgr-message.c ---- */
/* qmgr_message_start - one attempt of msg (PENDING -> LOADING -> ...). */
void qmgr_message_start(struct qmgr *q, struct qmgr_msg *msg);
/* qmgr_message_job_done - a delivery job of msg has recorded its
 * outcome (loop); the last one starts the message's finish. */
void qmgr_message_job_done(struct qmgr_msg *msg);
/* qmgr_message_stop - SIGTERM: messages with nothing in flight any more
 * are left as they are on disk (in active/, everything that happened is
 * recorded; the next start finishes them). */
void qmgr_message_stop(struct qmgr *q);
/* qmgr_message_record - append n statuses durably, then log them;
 * any thread (msg->lock); orig_to[i] may be NULL. */
void qmgr_message_record(struct qmgr_msg *msg, const struct qstatus *st, size_t n, const char *const *orig_to);
/* qmgr_log_status - Postfix's "ID: to=<>, orig_to=<>, relay=, delay=,
 * dsn=, status=S (TEXT)" line. */
void qmgr_log_status(const struct qmgr_msg *msg, const char *to, const char *orig_to, const struct qstatus *st);

/* ---- qmgr-local.c / qmgr-remote.c ---- */
/* *_dispatch - make msg's jobs of that kind and count them into
 * msg->n_jobs (started by the pumps, after both dispatches: a running job
 * may append to msg->m); the number of jobs. *_pump - start waiting jobs
 * the limits now allow. *_free_waiting - stop or teardown. */
int qmgr_local_dispatch(struct qmgr *q, struct qmgr_msg *msg);
void qmgr_local_pump(struct qmgr *q);
void qmgr_local_free_waiting(struct qmgr *q);
int qmgr_remote_dispatch(struct qmgr *q, struct qmgr_msg *msg);
void qmgr_remote_pump(struct qmgr *q);
/* (also cancels the SMTP jobs in flight: call before smtpc_free) */
void qmgr_remote_free_waiting(struct qmgr *q);
void qmgr_remote_drop_waiting(struct qmgr *q);

/* ---- qmgr-slot.c ---- */
/* qmgr_slot_take - one more delivery to key if fewer than limit are in
 * flight (true), else false (wait); qmgr_slot_put - one ended. */
bool qmgr_slot_take(struct qmgr *q, const char *key, size_t limit);
void qmgr_slot_put(struct qmgr *q, const char *key);
void qmgr_slot_free_all(struct qmgr *q);
/* qmgr_backoff - the wait after a failed attempt: min doubled per
 * earlier attempt, at most max. */
time_t qmgr_backoff(time_t min, time_t max, unsigned attempts);

/* ---- qmgr-control.c ---- */
/* qmgr_control_init - serve the control socket listen_fd (-1: none; a
 * warning). 0, or -1 after logging. qmgr_control_free - stop; cut
 * connections in progress. */
int qmgr_control_init(struct qmgr *q, int listen_fd);
void qmgr_control_free(struct qmgr *q);

#endif
