/*
 * queue-role.c - the queue role process (queue-role.h): settings, the
 * modules it drives (resolve, store, bounce, DNS + SMTP client, pickup),
 * the worker threads, the event loop, and the stop sequence.
 *
 * The master has already dropped privileges to mail_owner and created
 * the role's unix sockets ("pickup": queue_pickup_socket, 0666;
 * "control": queue_control_socket, 0600). role_def.exclusive guarantees
 * that no other queue role runs at the same time, so this process owns
 * $queue_directory's active/ and deferred/.
 *
 * Stop (lib/service.h): on SIGTERM no new message is started, pickup and
 * the control socket close; messages in delivery finish their attempt.
 * The master kills the role after master_stop_timeout: that is safe,
 * since nothing is recorded before it happened (qmgr-message.c).
 *
 * Who calls what: master/roles.c lists queue_role_main, its unix sockets
 * and queue_role_check_config (also run by `postern check`).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <event2/event.h>

#include "dns.h"
#include "evloop.h"
#include "log.h"
#include "util.h"
#include "smtp/client/smtp-client.h"
#include "smtp/queue/bounce.h"
#include "smtp/queue/pickup.h"
#include "smtp/queue/qmgr-private.h"
#include "smtp/queue/queue-role.h"

static void settings_load(struct qmgr *q)
{
	const struct config *cfg = q->cfg;

	q->queue_dir = config_str(cfg, "queue_directory");
	q->run_dir = config_str(cfg, "run_directory");
	q->run_delay = (time_t)config_time(cfg, "queue_run_delay");
	q->min_backoff = (time_t)config_time(cfg, "minimal_backoff_time");
	q->max_backoff = (time_t)config_time(cfg, "maximal_backoff_time");
	if (q->max_backoff < q->min_backoff)
		q->max_backoff = q->min_backoff;
	q->max_lifetime = (time_t)config_time(cfg, "maximal_queue_lifetime");
	q->bounce_lifetime = (time_t)config_time(cfg, "bounce_queue_lifetime");
	q->delay_warning = (time_t)config_time(cfg, "delay_warning_time");
	q->local_limit = (size_t)config_int(cfg, "local_destination_concurrency_limit");
	q->smtp_dest_limit = (size_t)config_int(cfg, "smtp_destination_concurrency_limit");
	q->smtp_rcpt_limit = (size_t)config_int(cfg, "smtp_destination_recipient_limit");
	q->process_limit = (size_t)config_int(cfg, "default_process_limit");
	q->active_limit = (size_t)config_int(cfg, "qmgr_message_active_limit");
	q->command_time_limit = (unsigned)config_time(cfg, "command_time_limit");
}

/* Each message in an attempt holds its queue file open, and the SMTP
 * client its connections: use the hard limit of open files. */
static void raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			log_warn("queue: cannot raise the open files limit: %s", strerror(errno));
	}
}

static void on_picked(void *ctx, const char *id)
{
	struct qmgr *q = ctx;

	qmgr_msg_add(q, id);
	qmgr_pump(q);
}

/* stop - SIGTERM: take no new work; returns the messages still in an
 * attempt (each reports itself gone, qmgr-message.c message_gone). */
static size_t stop(void *ctx)
{
	struct qmgr *q = ctx;

	q->stopping = true;
	pickup_free(&q->pickup);
	qmgr_control_free(q);
	if (q->ev_timer)
		event_del(q->ev_timer);
	if (q->ev_wake)
		event_del(q->ev_wake);
	/* Deliveries not started yet are not started; messages left with
	 * nothing in flight stay in active/ as recorded. */
	qmgr_local_free_waiting(q);
	qmgr_remote_drop_waiting(q);
	qmgr_message_stop(q);
	return q->n_loaded;
}

/* The modules, each from cfg. 0, or -1 after logging. */
static int modules_new(struct qmgr *q)
{
	const struct config *cfg = q->cfg;
	const char *serr;
	char *err = NULL;
	struct dns_options o = {
		.servers = config_str(cfg, "dns_nameservers"),
		.timeout_ms = (int)config_time(cfg, "dns_timeout") * 1000,
		.tries = (int)config_int(cfg, "dns_tries"),
		.max_queries = (int)config_int(cfg, "dns_max_queries"),
	};

	if (store_settings_from_config(&q->store_set, cfg, &err) < 0)
		goto fail;
	if ((q->resolve = resolve_new(cfg, &err)) == NULL)
		goto fail;
	if ((q->userdb = resolve_userdb_new(config_str(cfg, "auth_userdb_socket_path"))) == NULL) {
		log_error("queue: out of memory");
		return -1;
	}
	if ((q->bounce = bounce_new(cfg, &err)) == NULL)
		goto fail;
	if ((q->dns = dns_new(q->base, &o, &err)) == NULL)
		goto fail;
	if ((q->smtpc = smtpc_new(q->base, q->dns, cfg, &err)) == NULL)
		goto fail;
	if ((q->qd = queue_dir_open(q->queue_dir, &serr)) == NULL) {
		log_error("queue: cannot open %s: %s; check queue_directory and its owner (mail_owner)", q->queue_dir,
			  serr);
		return -1;
	}
	if ((q->pool = worker_pool_new(q->base, QMGR_WORKER_THREADS, &serr)) == NULL) {
		log_error("queue: %s", serr);
		return -1;
	}
	return 0;
fail:
	log_error("queue: %s", err);
	free(err);
	return -1;
}

static void teardown(struct qmgr *q)
{
	q->stopping = true;
	pickup_free(&q->pickup);
	qmgr_control_free(q);
	qmgr_scan_free(q);
	q->teardown = true;
	/* Jobs on the threads finish; done() callbacks see q->teardown and
	 * only free their own data. */
	worker_pool_free(&q->pool);
	while (q->overflow_head) {
		struct qmgr_work *w = q->overflow_head;

		q->overflow_head = w->onext;
		w->done(w);
	}
	q->overflow_tail = NULL;
	qmgr_remote_free_waiting(q);
	qmgr_local_free_waiting(q);
	for (size_t i = 0; i < QMGR_HASH_SIZE; i++)
		while (q->hash[i])
			qmgr_msg_forget(q, q->hash[i]);
	qmgr_slot_free_all(q);
	smtpc_free(&q->smtpc);
	dns_free(&q->dns);
	bounce_free(&q->bounce);
	resolve_userdb_free(&q->userdb);
	resolve_free(&q->resolve);
	queue_dir_free(&q->qd);
	service_free(&q->svc);
}

int queue_role_main(const struct role_env *env)
{
	struct qmgr *q = must_calloc(1, sizeof(*q));
	const char *serr;
	char *err = NULL;
	int status = 1, fd;

	raise_nofile();
	q->cfg = env->cfg;
	q->wake_fd = q->wake_wfd = -1;
	settings_load(q);
	q->base = evloop_new(&serr);
	if (q->base == NULL) {
		log_error("queue: %s", serr);
		free(q);
		return 1;
	}
	if (modules_new(q) < 0)
		goto out;
	if (service_init(&q->svc, q->base, "queue", stop, q) < 0)
		goto out;
	if (qmgr_scan_init(q) < 0)
		goto out;
	if (qmgr_control_init(q, role_unix_fd(env, "control")) < 0)
		goto out;
	fd = role_unix_fd(env, "pickup");
	if (fd >= 0) {
		q->pickup = pickup_new(q->base, fd, q->qd, q->cfg, on_picked, q, &err);
		if (q->pickup == NULL) {
			log_error("queue: %s", err);
			free(err);
			goto out;
		}
	} else {
		log_warn("queue: no pickup socket was passed; sendmail cannot submit mail");
	}
	log_info("queue: ready: %s", q->queue_dir);
	event_base_dispatch(q->base);
	status = 0;
out:
	teardown(q);
	event_base_free(q->base);
	free(q);
	return status;
}

/* What modules_new would refuse, without starting anything: posternd
 * start, reload and `postern check` report it instead of a queue role
 * that exits and is restarted in a loop. */
int queue_role_check_config(const struct config *cfg, char **error_r)
{
	struct store_settings set;
	struct bounce *b;

	if (resolve_check_config(cfg, error_r) < 0)
		return -1;
	if (smtpc_check_config(cfg, error_r) < 0)
		return -1;
	if (store_settings_from_config(&set, cfg, error_r) < 0)
		return -1;
	if ((b = bounce_new(cfg, error_r)) == NULL)
		return -1;
	bounce_free(&b);
	return 0;
}

int queue_role_unix_sockets(const struct config *cfg, struct role_unix_socket *out, size_t max,
			    char **error_r)
{
	if (max < 2) {
		*error_r = must_asprintf("queue: room for %zu unix sockets, 2 needed", max);
		return -1;
	}
	out[0] = (struct role_unix_socket){ .name = "pickup", .path = config_str(cfg, "queue_pickup_socket"),
					    .path_param = "queue_pickup_socket", .mode = 0666, .group = "" };
	out[1] = (struct role_unix_socket){ .name = "control", .path = config_str(cfg, "queue_control_socket"),
					    .path_param = "queue_control_socket", .mode = 0600, .group = "" };
	return 2;
}
