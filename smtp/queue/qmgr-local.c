/*
 * qmgr-local.c - local deliveries of the queue role (Postfix's local(8)
 * as a set of worker jobs): one job per message and recipient mailbox
 * (its dests share a store_dedup, so two aliases of one user get one
 * copy of a Message-ID), one per |command or /file dest (local-pipe.h).
 *
 * Limits: local_destination_concurrency_limit jobs per mailbox at once,
 * default_process_limit deliveries of all kinds (qmgr-slot.c). A job
 * waits in q->local_wait_* until both allow it.
 *
 * Store delivery (store/store.h store_deliver): the userdb (the auth
 * role's socket through resolve_userdb_lookup) gives mail= and quota; the
 * content is copied to an unlinked file first, since store_deliver reads
 * its fd to EOF and the queue file has the manager's records after the
 * content. "status=sent" is recorded only after store_deliver returned
 * 0 or 1 (it fsyncs). Errors: store_error_is_temp -> deferred 4.x.x,
 * otherwise bounced 5.x.x with the store's text.
 *
 * Called by qmgr-message.c (dispatch) and itself (pump).
 *
 * store_deliver runs under one process-wide mutex (store_lock): the
 * store is safe for many processes but not for threads of one process
 * (store/index.c keeps a process-wide list of open LMDB environments and
 * maildir-name.c a process-wide counter, neither locked; fcntl locks do
 * not exclude threads of one process). ThreadSanitizer showed both races
 * with two deliveries at once. The rest of a local job (userdb look-up,
 * the content copy, the status append) still runs in parallel.
 */
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "log.h"
#include "util.h"
#include "smtp/queue/local-pipe.h"
#include "smtp/queue/qmgr-private.h"

static pthread_mutex_t store_lock = PTHREAD_MUTEX_INITIALIZER;

struct qmgr_local_job {
	struct qmgr_work w;
	struct qmgr_msg *msg;
	struct qmgr_local_job *next;   /* wait list */
	char key[400];                 /* slot key */
	char user[320];                /* store user, "" for pipe/file */
	bool has_slot;
	size_t n;
	size_t *dests;
	char **values;                 /* dest values (address, command, file) */
	char **orig;                   /* original recipients */
	enum qdest_kind kind;          /* ADDR (store), PIPE or FILE */
	/* copied at dispatch: the worker must not read the loop's data */
	char *sender;
	int fd;
	off_t offset, size;
};

static void job_free(struct qmgr_local_job *j)
{
	for (size_t i = 0; i < j->n; i++) {
		free(j->values[i]);
		free(j->orig[i]);
	}
	free(j->values);
	free(j->orig);
	free(j->dests);
	free(j->sender);
	free(j);
}

static void job_add_dest(struct qmgr_local_job *j, size_t dest, const char *value, const char *orig)
{
	j->dests = must_realloc(j->dests, (j->n + 1) * sizeof(*j->dests));
	j->values = must_realloc(j->values, (j->n + 1) * sizeof(*j->values));
	j->orig = must_realloc(j->orig, (j->n + 1) * sizeof(*j->orig));
	j->dests[j->n] = dest;
	j->values[j->n] = must_strdup(value);
	j->orig[j->n] = orig ? must_strdup(orig) : NULL;
	j->n++;
}

/* The content as a file of its own, read from offset 0 (see above). */
static int content_copy(struct qmgr *q, const struct qmgr_local_job *j)
{
	char *dir = must_asprintf("%s/%s", q->queue_dir, qdir_name(QDIR_INCOMING));
	char buf[65536];
	off_t done = 0;
	int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);

	if (fd < 0) {
		char *tmpl = must_asprintf("%s/local.XXXXXX", dir);

		fd = mkstemp(tmpl);
		if (fd >= 0)
			unlink(tmpl);
		free(tmpl);
	}
	free(dir);
	if (fd < 0)
		return -1;
	while (done < j->size) {
		size_t want = (size_t)(j->size - done) < sizeof(buf) ? (size_t)(j->size - done) : sizeof(buf);
		ssize_t r = pread(j->fd, buf, want, j->offset + done);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0 || write(fd, buf, (size_t)r) != r) {
			if (r == 0)
				errno = EIO;
			close(fd);
			return -1;
		}
		done += r;
	}
	return fd;
}

static void set_status(struct qstatus *st, size_t dest, enum qdest_state result, const char *dsn,
		       const char *text)
{
	*st = (struct qstatus){ .dest = dest, .result = result, .dsn = dsn, .relay = "local", .diag = "",
				.text = text };
}

/*
 * The userdb entry of the job's mailbox, and the name to give
 * store_deliver (*canon: the userdb's own spelling, lower case, with the
 * +extension put back). resolve_route names mydestination users by their
 * local part; a userdb that knows them only as user@domain (virtual
 * users of a domain that is also in mydestination) is asked that too, as
 * the expansion did.
 */
static enum resolve_lookup user_lookup(struct qmgr *q, const struct qmgr_local_job *j, struct resolve_user *ru,
				       char *canon, size_t size)
{
	char base[320], ext[320], full[640];
	const char *name = j->user, *at;
	enum resolve_lookup lr;

	store_split_extension(&q->store_set, j->user, base, sizeof(base), ext, sizeof(ext));
	memset(ru, 0, sizeof(*ru));
	lr = resolve_userdb_lookup(q->userdb, base, ru);
	if (lr == RESOLVE_NOTFOUND && strchr(base, '@') == NULL && (at = strrchr(j->values[0], '@')) != NULL) {
		snprintf(full, sizeof(full), "%s%s", base, at);
		memset(ru, 0, sizeof(*ru));
		lr = resolve_userdb_lookup(q->userdb, full, ru);
	}
	if (lr != RESOLVE_FOUND)
		return lr;
	name = ru->name[0] ? ru->name : base;
	if (ext[0] && q->store_set.recipient_delimiter && q->store_set.recipient_delimiter[0]) {
		const char *dom = strrchr(name, '@');
		int local_len = dom ? (int)(dom - name) : (int)strlen(name);

		char tmp[1024];

		snprintf(tmp, sizeof(tmp), "%.*s%c%s%s", local_len, name, q->store_set.recipient_delimiter[0], ext,
			 dom ? dom : "");
		str_copy(canon, tmp, size);
	} else {
		str_copy(canon, name, size);
	}
	str_lower(canon);
	return lr;
}

static void store_job_run(struct qmgr_local_job *j)
{
	struct qmgr *q = j->w.q;
	struct qstatus *st = must_calloc(j->n, sizeof(*st));
	char (*texts)[400] = must_calloc(j->n, sizeof(*texts));
	char canon[320];
	struct resolve_user ru;
	struct store_dedup *dedup = NULL;
	int fd = -1;

	switch (user_lookup(q, j, &ru, canon, sizeof(canon))) {
	case RESOLVE_FOUND:
		break;
	case RESOLVE_NOTFOUND:
		/* local(8)'s wording */
		snprintf(texts[0], sizeof(texts[0]), "unknown user: \"%s\"", j->user);
		for (size_t i = 0; i < j->n; i++)
			set_status(&st[i], j->dests[i], QDEST_BOUNCED, "5.1.1", texts[0]);
		goto record;
	case RESOLVE_TEMPFAIL:
		for (size_t i = 0; i < j->n; i++)
			set_status(&st[i], j->dests[i], QDEST_DEFERRED, "4.3.0",
				   "user lookup failed (the auth role's userdb did not answer)");
		goto record;
	}
	fd = content_copy(q, j);
	if (fd < 0) {
		snprintf(texts[0], sizeof(texts[0]), "cannot copy the message for delivery: %s", strerror(errno));
		for (size_t i = 0; i < j->n; i++)
			set_status(&st[i], j->dests[i], QDEST_DEFERRED, "4.3.0", texts[0]);
		goto record;
	}
	dedup = store_dedup_new();
	for (size_t i = 0; i < j->n; i++) {
		struct store_deliver_req req;
		struct store_error err;
		const char *loc = ru.mail[0] ? ru.mail : q->store_set.mail_location;
		int rc;

		memset(&err, 0, sizeof(err));
		memset(&req, 0, sizeof(req));
		req.user = canon;
		req.location = ru.mail[0] ? ru.mail : NULL;
		req.home = ru.home[0] ? ru.home : NULL;
		req.quota_bytes = ru.quota_bytes;
		req.sender = j->sender;
		req.recipient = j->orig[i] ? j->orig[i] : j->values[i];
		req.fd = fd;
		req.dedup = dedup;
		if (lseek(fd, 0, SEEK_SET) < 0) {
			rc = -1;
			err.cls = STORE_ERR_TEMP;
			str_copy(err.text, "cannot rewind the message copy", sizeof(err.text));
		} else {
			pthread_mutex_lock(&store_lock);
			rc = store_deliver(&q->store_set, &req, NULL, &err);
			pthread_mutex_unlock(&store_lock);
		}
		if (rc >= 0) {
			set_status(&st[i], j->dests[i], QDEST_SENT, "2.0.0",
				   loc && strncmp(loc, "mbox:", 5) == 0 ? "delivered to mailbox" : "delivered to maildir");
			continue;
		}
		if (store_error_is_temp(&q->store_set, &err)) {
			set_status(&st[i], j->dests[i], QDEST_DEFERRED, err.cls == STORE_ERR_QUOTA ? "4.2.2" : "4.3.0",
				   texts[i]);
		} else {
			set_status(&st[i], j->dests[i], QDEST_BOUNCED,
				   err.cls == STORE_ERR_QUOTA ? "5.2.2" : err.cls == STORE_ERR_NOUSER ? "5.1.1" : "5.2.0",
				   texts[i]);
		}
		snprintf(texts[i], sizeof(texts[i]), "cannot deliver: %s", err.text);
	}
record:
	qmgr_message_record(j->msg, st, j->n, (const char *const *)j->orig);
	store_dedup_free(&dedup);
	if (fd >= 0)
		close(fd);
	free(texts);
	free(st);
}

static void pipe_job_run(struct qmgr_local_job *j)
{
	struct qmgr *q = j->w.q;
	struct local_pipe_result res;
	struct local_pipe_req req = { .sender = j->sender, .recipient = j->orig[0] ? j->orig[0] : "",
				      .fd = j->fd, .offset = j->offset, .size = j->size,
				      .time_limit = q->command_time_limit };
	struct qstatus st;

	memset(&res, 0, sizeof(res));
	if (j->kind == QDEST_PIPE)
		local_pipe_command(&req, j->values[0], &res);
	else
		local_pipe_file(&req, j->values[0], &res);
	st = (struct qstatus){ .dest = j->dests[0], .result = res.result, .dsn = res.dsn[0] ? res.dsn : "4.3.0",
			       .relay = "local", .diag = "", .text = res.text };
	qmgr_message_record(j->msg, &st, 1, (const char *const *)j->orig);
}

static void job_run(struct qmgr_work *w)
{
	struct qmgr_local_job *j = (struct qmgr_local_job *)w;

	if (j->kind == QDEST_ADDR)
		store_job_run(j);
	else
		pipe_job_run(j);
}

static void job_done(struct qmgr_work *w)
{
	struct qmgr_local_job *j = (struct qmgr_local_job *)w;
	struct qmgr *q = w->q;
	struct qmgr_msg *msg = j->msg;

	if (j->has_slot) {
		qmgr_slot_put(q, j->key);
		q->n_deliveries--;
	}
	job_free(j);
	if (q->teardown)
		return;
	qmgr_message_job_done(msg);
	qmgr_local_pump(q);
	qmgr_remote_pump(q);
}

static struct qmgr_local_job *job_new(struct qmgr_msg *msg, enum qdest_kind kind, const char *key)
{
	struct qmgr_local_job *j = must_calloc(1, sizeof(*j));

	j->msg = msg;
	j->kind = kind;
	str_copy(j->key, key, sizeof(j->key));
	j->sender = must_strdup(qmsg_sender(msg->m));
	j->fd = msg->fd;
	j->offset = msg->m->content_offset;
	j->size = msg->m->content_size;
	j->w.run = job_run;
	j->w.done = job_done;
	return j;
}

static void job_wait(struct qmgr *q, struct qmgr_local_job *j)
{
	if (q->local_wait_tail)
		q->local_wait_tail->next = j;
	else
		q->local_wait_head = j;
	q->local_wait_tail = j;
	j->msg->n_jobs++;
}

/* qmgr_local_dispatch - make the local jobs of msg (its routed store
 * dests and pipe/file dests not final) and count them into msg->n_jobs;
 * qmgr_local_pump starts them. Returns the number of jobs. */
int qmgr_local_dispatch(struct qmgr *q, struct qmgr_msg *msg)
{
	struct qmsg *m = msg->m;
	struct qmgr_local_job **mine = must_calloc(m->n_dests + 1, sizeof(*mine));
	size_t n_mine = 0;

	for (size_t i = 0; i < m->n_dests; i++) {
		const struct qdest *d = &m->dests[i];
		const char *orig = d->orig < m->n_rcpts ? m->rcpts[d->orig].addr : NULL;
		struct qmgr_local_job *j = NULL;
		char key[400];

		if (qmsg_dest_final(m, i) || d->state == QDEST_BOUNCED)
			continue;
		if (d->kind == QDEST_PIPE || d->kind == QDEST_FILE) {
			snprintf(key, sizeof(key), "pipe:%s", d->runas ? d->runas : "");
			j = job_new(msg, d->kind, key);
			job_add_dest(j, i, d->value, orig);
			mine[n_mine++] = j;
			continue;
		}
		if (d->kind != QDEST_ADDR || !msg->routed[i] || msg->routes[i].kind != ROUTE_STORE)
			continue;
		for (size_t k = 0; k < n_mine; k++)
			if (mine[k]->kind == QDEST_ADDR && strcasecmp(mine[k]->user, msg->routes[i].user) == 0)
				j = mine[k];
		if (j == NULL) {
			snprintf(key, sizeof(key), "local:%s", msg->routes[i].user);
			str_lower(key);
			j = job_new(msg, QDEST_ADDR, key);
			str_copy(j->user, msg->routes[i].user, sizeof(j->user));
			mine[n_mine++] = j;
		}
		job_add_dest(j, i, d->value, orig);
	}
	for (size_t k = 0; k < n_mine; k++)
		job_wait(q, mine[k]);
	free(mine);
	/* Not started here: the caller pumps once every job of msg is made,
	 * so that no worker appends to msg->m while the loop still reads it. */
	return (int)n_mine;
}

/* qmgr_local_pump - start waiting jobs the limits now allow, in order
 * (a job whose mailbox is busy does not hold up the others). */
void qmgr_local_pump(struct qmgr *q)
{
	struct qmgr_local_job **p = &q->local_wait_head, *prev = NULL;

	while (*p && q->n_deliveries < q->process_limit) {
		struct qmgr_local_job *j = *p;

		if (!qmgr_slot_take(q, j->key, q->local_limit)) {
			prev = j;
			p = &j->next;
			continue;
		}
		*p = j->next;
		if (q->local_wait_tail == j)
			q->local_wait_tail = prev;
		j->next = NULL;
		j->has_slot = true;
		q->n_deliveries++;
		qmgr_work_submit(q, &j->w);
	}
}

/* qmgr_local_free_waiting - stop or teardown: jobs never started are
 * dropped (nothing was recorded for them) and uncounted from their
 * messages. */
void qmgr_local_free_waiting(struct qmgr *q)
{
	while (q->local_wait_head) {
		struct qmgr_local_job *j = q->local_wait_head;

		q->local_wait_head = j->next;
		if (j->msg->n_jobs > 0)
			j->msg->n_jobs--;
		job_free(j);
	}
	q->local_wait_tail = NULL;
}
