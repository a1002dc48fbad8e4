/*
 * qmgr-scan.c - which messages the queue role works on, and when
 * (Postfix's qmgr "active queue" and its scans, qmgr(8) "STRATEGIES"):
 *
 *   start: qdir_ensure, incoming/ leftovers removed (never acknowledged),
 *          deferred/ files that are due and active/ scanned;
 *   new mail: the FIFO $run_directory/queue.wake (one byte per commit,
 *          written by smtp/queue-file.c queue_file_wake) and pickup.h's
 *          callback: active/ is scanned (or the id added) at once;
 *   every queue_run_delay: deferred/ files whose mtime (the next attempt,
 *          set by qmsg_move) has come are moved to active/ and scanned.
 *
 * At most qmgr_message_active_limit messages are known at once (pending
 * or in delivery); a scan that found more remembers it and runs again
 * when room is made. Scans run on a worker (readdir, stat and renames
 * with directory fsyncs block); one at a time.
 *
 * Called by queue-role.c (init/free), qmgr-control.c (FLUSH, admin ops),
 * the pickup callback and qmgr-message.c (a message is finished).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>

#include "log.h"
#include "util.h"
#include "smtp/queue/qmgr-private.h"

/* Most ids one scan hands back; the rest wait for the next scan. */
#define SCAN_MAX_IDS 100000

static size_t id_hash(const char *id)
{
	size_t h = 5381;

	for (; *id; id++)
		h = h * 33 + (unsigned char)*id;
	return h % QMGR_HASH_SIZE;
}

struct qmgr_msg *qmgr_msg_find(struct qmgr *q, const char *id)
{
	for (struct qmgr_msg *m = q->hash[id_hash(id)]; m; m = m->hnext)
		if (strcmp(m->id, id) == 0)
			return m;
	return NULL;
}

bool qmgr_msg_add(struct qmgr *q, const char *id)
{
	struct qmgr_msg *msg;
	size_t h;

	if (!qmsg_id_valid(id) || qmgr_msg_find(q, id))
		return false;
	if (q->n_msgs >= q->active_limit) {
		q->scan_truncated = true;
		return false;
	}
	msg = must_calloc(1, sizeof(*msg));
	str_copy(msg->id, id, sizeof(msg->id));
	msg->q = q;
	msg->fd = -1;
	pthread_mutex_init(&msg->lock, NULL);
	h = id_hash(id);
	msg->hnext = q->hash[h];
	q->hash[h] = msg;
	if (q->pend_tail)
		q->pend_tail->pnext = msg;
	else
		q->pend_head = msg;
	q->pend_tail = msg;
	q->n_msgs++;
	return true;
}

/* qmgr_msg_forget - drop msg from the known set and free it (its file
 * has been removed, moved or left for a later scan). */
void qmgr_msg_forget(struct qmgr *q, struct qmgr_msg *msg)
{
	struct qmgr_msg **p;

	for (p = &q->hash[id_hash(msg->id)]; *p; p = &(*p)->hnext) {
		if (*p == msg) {
			*p = msg->hnext;
			break;
		}
	}
	if (msg->state != QM_PENDING && q->n_loaded > 0)
		q->n_loaded--;
	q->n_msgs--;
	if (msg->fd >= 0)
		close(msg->fd);
	qmsg_free(&msg->m);
	free(msg->routes);
	free(msg->routed);
	pthread_mutex_destroy(&msg->lock);
	free(msg);
	if (q->scan_truncated && q->n_msgs < q->active_limit / 2 + 1)
		qmgr_scan_request(q, false, false);
}

/* qmgr_pump - start pending messages while the role is not stopping,
 * at most QMGR_LOADED_MAX at once (file descriptors); deliveries have
 * their own limits. */
void qmgr_pump(struct qmgr *q)
{
	while (q->pend_head && !q->stopping && q->n_loaded < QMGR_LOADED_MAX) {
		struct qmgr_msg *msg = q->pend_head;

		q->pend_head = msg->pnext;
		if (q->pend_head == NULL)
			q->pend_tail = NULL;
		msg->pnext = NULL;
		q->n_loaded++;
		qmgr_message_start(q, msg);
	}
}

/* ---- the scan job ---- */

struct scan_work {
	struct qmgr_work w;
	bool deferred, flush_all;
	time_t now;
	char (*ids)[QUEUE_ID_SIZE];
	size_t n_ids;
	bool truncated;
};

/* Due deferred files (or all of them for FLUSH) go to active/. */
static void scan_deferred(struct scan_work *s)
{
	struct qmgr *q = s->w.q;
	char *path = must_asprintf("%s/%s", q->queue_dir, qdir_name(QDIR_DEFERRED));
	DIR *d = opendir(path);
	struct dirent *de;

	if (d == NULL) {
		log_warn("queue: cannot read %s: %s", path, strerror(errno));
		free(path);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		struct stat st;
		char *err = NULL;

		if (!qmsg_id_valid(de->d_name))
			continue;
		if (!s->flush_all) {
			if (fstatat(dirfd(d), de->d_name, &st, 0) < 0 || st.st_mtime > s->now)
				continue;
		}
		if (qmsg_move(q->queue_dir, de->d_name, QDIR_DEFERRED, QDIR_ACTIVE, 0, &err) < 0) {
			log_warn("queue: %s: %s", de->d_name, err);
			free(err);
		}
	}
	closedir(d);
	free(path);
}

static void scan_active(struct scan_work *s)
{
	struct qmgr *q = s->w.q;
	char *path = must_asprintf("%s/%s", q->queue_dir, qdir_name(QDIR_ACTIVE));
	DIR *d = opendir(path);
	struct dirent *de;
	size_t cap = 0;

	if (d == NULL) {
		log_warn("queue: cannot read %s: %s", path, strerror(errno));
		free(path);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		if (!qmsg_id_valid(de->d_name))
			continue;
		if (s->n_ids >= SCAN_MAX_IDS) {
			s->truncated = true;
			break;
		}
		if (s->n_ids == cap) {
			cap = cap ? cap * 2 : 64;
			s->ids = must_realloc(s->ids, cap * sizeof(*s->ids));
		}
		str_copy(s->ids[s->n_ids++], de->d_name, QUEUE_ID_SIZE);
	}
	closedir(d);
	free(path);
}

static void scan_run(struct qmgr_work *w)
{
	struct scan_work *s = (struct scan_work *)w;

	if (s->deferred)
		scan_deferred(s);
	scan_active(s);
}

static int id_cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

static void scan_done(struct qmgr_work *w)
{
	struct scan_work *s = (struct scan_work *)w;
	struct qmgr *q = w->q;

	q->scan_running = false;
	if (w->ran && !q->teardown) {
		/* Ids start with the arrival time in microseconds: sorted, the
		 * oldest message goes first (Postfix's FIFO order). */
		if (s->n_ids > 1)
			qsort(s->ids, s->n_ids, sizeof(*s->ids), id_cmp);
		q->scan_truncated = s->truncated;
		for (size_t i = 0; i < s->n_ids; i++)
			qmgr_msg_add(q, s->ids[i]);
		qmgr_pump(q);
	}
	free(s->ids);
	free(s);
	if (q->scan_again && !q->teardown && !q->stopping) {
		bool deferred = q->scan_deferred, flush = q->flush_all;

		q->scan_again = q->scan_deferred = q->flush_all = false;
		qmgr_scan_request(q, deferred, flush);
	}
}

/* qmgr_scan_request - scan active/ (and deferred/ first when deferred:
 * the due files, or every file with flush_all) soon. */
void qmgr_scan_request(struct qmgr *q, bool deferred, bool flush_all)
{
	struct scan_work *s;

	if (q->stopping || q->teardown)
		return;
	if (q->scan_running) {
		q->scan_again = true;
		q->scan_deferred |= deferred;
		q->flush_all |= flush_all;
		return;
	}
	s = must_calloc(1, sizeof(*s));
	s->deferred = deferred;
	s->flush_all = flush_all;
	s->now = time(NULL);
	s->w.run = scan_run;
	s->w.done = scan_done;
	q->scan_running = true;
	qmgr_work_submit(q, &s->w);
}

/* ---- start: incoming/ leftovers ---- */

/*
 * Files in incoming/ were never acknowledged (the SMTP role and pickup
 * answer only after the rename into active/). The SMTP role may be
 * writing one right now, though: only files untouched for
 * QMGR_INCOMING_STALE seconds are removed, and names also present in
 * active/ (a stale second link of a committed file) at once.
 */
static void clean_incoming(struct qmgr *q)
{
	char *path = must_asprintf("%s/%s", q->queue_dir, qdir_name(QDIR_INCOMING));
	char *apath = must_asprintf("%s/%s", q->queue_dir, qdir_name(QDIR_ACTIVE));
	DIR *d = opendir(path);
	int afd = open(apath, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	time_t now = time(NULL);
	struct dirent *de;

	while (d && (de = readdir(d)) != NULL) {
		struct stat st, ast;

		if (de->d_name[0] == '.')
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if ((afd >= 0 && fstatat(afd, de->d_name, &ast, AT_SYMLINK_NOFOLLOW) == 0 &&
		     ast.st_ino == st.st_ino) ||
		    now - st.st_mtime > QMGR_INCOMING_STALE) {
			if (unlinkat(dirfd(d), de->d_name, 0) == 0)
				log_info("queue: %s: removed unfinished file from %s", de->d_name, path);
		}
	}
	if (d)
		closedir(d);
	if (afd >= 0)
		close(afd);
	free(path);
	free(apath);
}

/* ---- the wake FIFO and the timer ---- */

static void on_wake(evutil_socket_t fd, short what, void *ctx)
{
	struct qmgr *q = ctx;
	char buf[512];

	(void)what;
	while (read(fd, buf, sizeof(buf)) > 0)
		;
	qmgr_scan_request(q, false, false);
}

static void on_timer(evutil_socket_t fd, short what, void *ctx)
{
	(void)fd;
	(void)what;
	qmgr_scan_request(ctx, true, false);
}

/*
 * The FIFO is opened for reading (non-blocking) and also once for writing
 * by the role itself, so that it never reports EOF when the last SMTP
 * role writer closes it. A non-FIFO at that path is replaced.
 */
static int wake_open(struct qmgr *q)
{
	char *path = must_asprintf("%s/queue.wake", q->run_dir);
	struct stat st;

	if (lstat(path, &st) == 0 && !S_ISFIFO(st.st_mode))
		unlink(path);
	if (mkfifo(path, 0620) < 0 && errno != EEXIST) {
		log_warn("queue: cannot create the wake-up FIFO %s: %s; check that run_directory exists and belongs to mail_owner",
			  path, strerror(errno));
		free(path);
		return -1;
	}
	q->wake_fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	q->wake_wfd = q->wake_fd >= 0 ? open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC) : -1;
	if (q->wake_fd < 0 || q->wake_wfd < 0) {
		log_warn("queue: cannot open the wake-up FIFO %s: %s", path, strerror(errno));
		free(path);
		return -1;
	}
	free(path);
	q->ev_wake = event_new(q->base, q->wake_fd, EV_READ | EV_PERSIST, on_wake, q);
	return q->ev_wake && event_add(q->ev_wake, NULL) == 0 ? 0 : -1;
}

/* qmgr_scan_init - everything above, then the first scan. 0, or -1
 * after logging (the role cannot work). */
int qmgr_scan_init(struct qmgr *q)
{
	char *err = NULL;
	struct timeval tv = { .tv_sec = q->run_delay };

	q->wake_fd = q->wake_wfd = -1;
	if (qdir_ensure(q->queue_dir, &err) < 0) {
		log_error("queue: %s; check queue_directory and its owner (mail_owner)", err);
		free(err);
		return -1;
	}
	clean_incoming(q);
	/* Without the FIFO mail still flows (pickup, the timer), later. */
	if (wake_open(q) < 0)
		log_warn("queue: mail from the SMTP role is picked up only every queue_run_delay (%llds) until the wake-up FIFO works",
			 (long long)q->run_delay);
	q->ev_timer = event_new(q->base, -1, EV_PERSIST, on_timer, q);
	if (q->ev_timer == NULL || event_add(q->ev_timer, &tv) < 0)
		return -1;
	qmgr_scan_request(q, true, false);
	return 0;
}

/* qmgr_scan_free - stop the FIFO and the timer; free pending messages. */
void qmgr_scan_free(struct qmgr *q)
{
	if (q->ev_wake)
		event_free(q->ev_wake);
	if (q->ev_timer)
		event_free(q->ev_timer);
	q->ev_wake = q->ev_timer = NULL;
	if (q->wake_fd >= 0)
		close(q->wake_fd);
	if (q->wake_wfd >= 0)
		close(q->wake_wfd);
	q->wake_fd = q->wake_wfd = -1;
	while (q->pend_head) {
		struct qmgr_msg *msg = q->pend_head;

		q->pend_head = msg->pnext;
		qmgr_msg_forget(q, msg);
	}
	q->pend_tail = NULL;
}
