/*
 * qmsg-append.c - the queue manager's records appended to a queue file
 * (qmsg.h: qmsg_append_*), durably, and the struct qmsg updated to match.
 *
 * Called by the queue role after expansion, after each delivery attempt,
 * after a notice was queued, and by queue-admin.c for a requeue.
 *
 * Each call is one batch: the records are built in memory, a torn tail
 * left by an earlier crash is cut off (ftruncate to m->good_end), the
 * batch is written with one pwrite() at good_end and the file fsynced;
 * only then does m change. Truncating before writing (not after) matters:
 * a crash between a write and a later truncate would leave the old torn
 * bytes after complete records, which the reader could no longer tell
 * from corruption. Format: docs/ARCHITECTURE.md "Queue manager section".
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "smtp/queue/qmsg-private.h"
#include "smtp/queue/qmsg.h"
#include "util.h"

/* The batch may hold many dests; bounded by the per-value limit times
 * the dest limit, but kept well below by the caller in practice. */
#define BATCH_MAX ((size_t)256 * 1024 * 1024)

int qmsg_put_record(struct strbuf *sb, const char *name, const char *value, size_t len)
{
	if (len > QMSG_VALUE_MAX)
		return -1;
	if (strbuf_printf(sb, "%s %zu:", name, len) < 0 || strbuf_append(sb, value, len) < 0 ||
	    strbuf_putc(sb, '\n') < 0)
		return -1;
	return 0;
}

/* put_field - one tab-separated field. A tab in a field that is not the
 * last would shift the fields, and a newline anywhere would weaken the
 * torn-tail rule (qmsg-read.c), so they become spaces; the last field
 * keeps its tabs. sanitize() does the same to the copy kept in m. */
static int put_field(struct strbuf *sb, const char *s, bool last)
{
	if (s == NULL)
		s = "";
	for (; *s; s++)
		if (strbuf_putc(sb, *s == '\n' || *s == '\r' || (*s == '\t' && !last) ? ' ' : *s) < 0)
			return -1;
	return last ? 0 : strbuf_putc(sb, '\t');
}

static void sanitize(char *s, bool last)
{
	for (; s != NULL && *s; s++)
		if (*s == '\n' || *s == '\r' || (*s == '\t' && !last))
			*s = ' ';
}

static void oom(char **error_r, const char *what)
{
	qmsg_error(error_r, "appending %s to the queue file: a value over %d bytes, or out of memory", what,
		   QMSG_VALUE_MAX);
}

/* commit - write sb at m->good_end (after cutting a torn tail), fsync.
 * 0, or -1 with *error_r. */
static int commit(int fd, struct qmsg *m, const struct strbuf *sb, char **error_r)
{
	struct stat st;
	size_t done = 0;

	if (fstat(fd, &st) < 0) {
		qmsg_error(error_r, "%s: fstat: %s", m->id, strerror(errno));
		return -1;
	}
	if (st.st_size < m->good_end) {
		qmsg_error(error_r, "%s: the file is shorter (%lld bytes) than when it was read (%lld)", m->id,
			   (long long)st.st_size, (long long)m->good_end);
		return -1;
	}
	if (st.st_size > m->good_end && ftruncate(fd, m->good_end) < 0) {
		qmsg_error(error_r, "%s: cutting the torn tail at byte %lld: %s", m->id, (long long)m->good_end,
			   strerror(errno));
		return -1;
	}
	while (done < sb->len) {
		ssize_t n = pwrite(fd, sb->data + done, sb->len - done, m->good_end + (off_t)done);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			qmsg_error(error_r, "%s: writing at byte %lld: %s", m->id,
				   (long long)(m->good_end + (off_t)done), strerror(errno));
			return -1;
		}
		done += (size_t)n;
	}
	if (fsync(fd) < 0) {
		qmsg_error(error_r, "%s: fsync: %s", m->id, strerror(errno));
		return -1;
	}
	m->good_end += (off_t)sb->len;
	return 0;
}

/* status_value - "DEST\tRESULT\tDSN\tTIME\tRELAY\tDIAG\tTEXT" */
static int put_status(struct strbuf *sb, struct strbuf *v, const struct qstatus *s, time_t now)
{
	const char *result = qmsg_result_name(s->result);

	strbuf_reset(v);
	if (result == NULL || strbuf_printf(v, "%zu\t%s\t", s->dest, result) < 0 ||
	    put_field(v, s->dsn, false) < 0 || strbuf_printf(v, "%lld\t", (long long)now) < 0 ||
	    put_field(v, s->relay, false) < 0 || put_field(v, s->diag, false) < 0 ||
	    put_field(v, s->text, true) < 0)
		return -1;
	return qmsg_put_record(sb, "status", v->data, v->len);
}

/* A status ready to be swapped into a dest once the write succeeded. */
struct staged {
	char *relay, *diag, *text;
};

static void staged_free(struct staged *st, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(st[i].relay);
		free(st[i].diag);
		free(st[i].text);
	}
	free(st);
}

/* stage - validate stat[] against n_dests (the count after this batch)
 * and copy its strings. NULL with *error_r on a bad entry or no memory. */
static struct staged *stage(const struct qstatus *stat, size_t n, size_t n_dests, char **error_r)
{
	struct staged *st = calloc(n ? n : 1, sizeof(*st));

	if (st == NULL) {
		oom(error_r, "a status");
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		if (stat[i].dest >= n_dests || qmsg_result_name(stat[i].result) == NULL ||
		    (stat[i].dsn != NULL && strlen(stat[i].dsn) >= sizeof(((struct qdest *)0)->dsn))) {
			qmsg_error(error_r, "status %zu: dest %zu of %zu, or its result or DSN, is invalid", i,
				   stat[i].dest, n_dests);
			staged_free(st, n);
			return NULL;
		}
		st[i].relay = strdup(stat[i].relay ? stat[i].relay : "none");
		st[i].diag = strdup(stat[i].diag ? stat[i].diag : "");
		st[i].text = strdup(stat[i].text ? stat[i].text : "");
		if (st[i].relay == NULL || st[i].diag == NULL || st[i].text == NULL) {
			staged_free(st, n);
			oom(error_r, "a status");
			return NULL;
		}
		/* What the reader will see. */
		sanitize(st[i].relay, false);
		sanitize(st[i].diag, false);
		sanitize(st[i].text, true);
	}
	return st;
}

static void apply_staged(struct qmsg *m, const struct qstatus *stat, struct staged *st, size_t n, size_t base,
			 time_t now)
{
	for (size_t i = 0; i < n; i++) {
		struct qdest *d = &m->dests[base + stat[i].dest];
		free(d->relay);
		free(d->diag);
		free(d->text);
		d->relay = st[i].relay;
		d->diag = st[i].diag;
		d->text = st[i].text;
		st[i].relay = st[i].diag = st[i].text = NULL;
		d->state = stat[i].result;
		str_copy(d->dsn, stat[i].dsn ? stat[i].dsn : "", sizeof(d->dsn));
		sanitize(d->dsn, false);
		d->when = now;
	}
}

int qmsg_append_expansion(int fd, struct qmsg *m, const char *xsender, const struct qdest_new *dests,
			  size_t n_dests, const struct qstatus *stat, size_t n_stat, char **error_r)
{
	struct strbuf sb, v;
	struct staged *st = NULL;
	struct qdest *nd = NULL;
	char *nx = NULL;
	size_t base = m->n_dests;
	time_t now = time(NULL);
	int rc = -1;

	strbuf_init(&sb, BATCH_MAX);
	strbuf_init(&v, QMSG_VALUE_MAX);
	if (n_dests > QMSG_MAX_DESTS - base) {
		qmsg_error(error_r, "%s: %zu dests over the limit of %d", m->id, base + n_dests, QMSG_MAX_DESTS);
		goto out;
	}
	/* The statuses refer to the new dests, numbered from 0. */
	if ((st = stage(stat, n_stat, n_dests, error_r)) == NULL)
		goto out;
	if ((nd = calloc(base + n_dests ? base + n_dests : 1, sizeof(*nd))) == NULL) {
		oom(error_r, "the expansion");
		goto out;
	}
	if (xsender != NULL) {
		if ((nx = strdup(xsender)) != NULL)
			sanitize(nx, true);
		if (nx == NULL || qmsg_put_record(&sb, "xsender", nx, strlen(nx)) < 0) {
			oom(error_r, "xsender");
			goto out;
		}
	}
	for (size_t i = 0; i < n_dests; i++) {
		const struct qdest_new *d = &dests[i];
		struct qdest *q = &nd[base + i];
		if (d->orig >= m->n_rcpts) {
			qmsg_error(error_r, "%s: dest %zu: recipient %zu out of range (%zu recipients)", m->id, i,
				   d->orig, m->n_rcpts);
			goto out;
		}
		strbuf_reset(&v);
		if (strbuf_printf(&v, "%zu\t%s\t", d->orig, qmsg_kind_name(d->kind)) < 0 ||
		    put_field(&v, d->runas != NULL && *d->runas ? d->runas : "-", false) < 0 ||
		    put_field(&v, d->value, true) < 0 || qmsg_put_record(&sb, "dest", v.data, v.len) < 0) {
			oom(error_r, "a dest");
			goto out;
		}
		q->orig = d->orig;
		q->kind = d->kind;
		q->state = QDEST_PENDING;
		q->runas = d->runas != NULL && *d->runas ? strdup(d->runas) : NULL;
		q->value = strdup(d->value ? d->value : "");
		q->diag = strdup("");
		q->text = strdup("");
		if ((d->runas != NULL && *d->runas && q->runas == NULL) || q->value == NULL || q->diag == NULL ||
		    q->text == NULL) {
			oom(error_r, "a dest");
			goto out;
		}
		sanitize(q->runas, false);
		sanitize(q->value, true);
	}
	if (qmsg_put_record(&sb, "expanded", "", 0) < 0) {
		oom(error_r, "expanded");
		goto out;
	}
	for (size_t i = 0; i < n_stat; i++) {
		struct qstatus s = stat[i];
		s.dest += base;
		if (put_status(&sb, &v, &s, now) < 0) {
			oom(error_r, "a status");
			goto out;
		}
	}
	if (commit(fd, m, &sb, error_r) < 0)
		goto out;
	/* On disk: make m say the same. */
	if (base > 0)
		memcpy(nd, m->dests, base * sizeof(*nd));
	free(m->dests);
	m->dests = nd;
	nd = NULL;
	m->n_dests = base + n_dests;
	m->expanded = true;
	if (nx != NULL) {
		free(m->xsender);
		m->xsender = nx;
		nx = NULL;
	}
	apply_staged(m, stat, st, n_stat, base, now);
	rc = 0;
out:
	if (nd != NULL) {
		for (size_t i = base; i < base + n_dests; i++)
			qmsg_dest_clear(&nd[i]);
		free(nd);
	}
	free(nx);
	if (st != NULL)
		staged_free(st, n_stat);
	strbuf_free(&sb);
	strbuf_free(&v);
	return rc;
}

int qmsg_append_status(int fd, struct qmsg *m, const struct qstatus *stat, size_t n, char **error_r)
{
	struct strbuf sb, v;
	struct staged *st;
	time_t now = time(NULL);
	int rc = -1;

	if (n == 0)
		return 0;
	if ((st = stage(stat, n, m->n_dests, error_r)) == NULL)
		return -1;
	strbuf_init(&sb, BATCH_MAX);
	strbuf_init(&v, QMSG_VALUE_MAX);
	for (size_t i = 0; i < n; i++) {
		if (put_status(&sb, &v, &stat[i], now) < 0) {
			oom(error_r, "a status");
			goto out;
		}
	}
	if (commit(fd, m, &sb, error_r) < 0)
		goto out;
	apply_staged(m, stat, st, n, 0, now);
	rc = 0;
out:
	staged_free(st, n);
	strbuf_free(&sb);
	strbuf_free(&v);
	return rc;
}

int qmsg_append_notified(int fd, struct qmsg *m, const size_t *dests, size_t n, char **error_r)
{
	struct strbuf sb, v;
	int rc = -1;

	if (n == 0)
		return 0;
	strbuf_init(&sb, BATCH_MAX);
	strbuf_init(&v, QMSG_VALUE_MAX);
	for (size_t i = 0; i < n; i++) {
		if (dests[i] >= m->n_dests) {
			qmsg_error(error_r, "%s: notified: dest %zu out of range (%zu dests)", m->id, dests[i],
				   m->n_dests);
			goto out;
		}
		if (strbuf_printf(&v, "%s%zu", i ? "," : "", dests[i]) < 0) {
			oom(error_r, "notified");
			goto out;
		}
	}
	if (qmsg_put_record(&sb, "notified", v.data, v.len) < 0) {
		oom(error_r, "notified");
		goto out;
	}
	if (commit(fd, m, &sb, error_r) < 0)
		goto out;
	for (size_t i = 0; i < n; i++)
		m->dests[dests[i]].notified = true;
	rc = 0;
out:
	strbuf_free(&sb);
	strbuf_free(&v);
	return rc;
}

/* simple - one record with a short value. */
static int simple(int fd, struct qmsg *m, const char *name, const char *value, char **error_r)
{
	struct strbuf sb;
	int rc;

	strbuf_init(&sb, 0);
	if (qmsg_put_record(&sb, name, value, strlen(value)) < 0) {
		strbuf_free(&sb);
		oom(error_r, name);
		return -1;
	}
	rc = commit(fd, m, &sb, error_r);
	strbuf_free(&sb);
	return rc;
}

int qmsg_append_warned(int fd, struct qmsg *m, char **error_r)
{
	if (simple(fd, m, "warned", "", error_r) < 0)
		return -1;
	m->warned = true;
	return 0;
}

int qmsg_append_deferred(int fd, struct qmsg *m, time_t now, time_t next, char **error_r)
{
	char v[64];

	snprintf(v, sizeof(v), "%lld\t%lld", (long long)(now < 0 ? 0 : now), (long long)(next < 0 ? 0 : next));
	if (simple(fd, m, "deferred", v, error_r) < 0)
		return -1;
	m->attempts++;
	m->next_attempt = next < 0 ? 0 : next;
	return 0;
}

int qmsg_append_requeued(int fd, struct qmsg *m, time_t now, char **error_r)
{
	char v[32];

	snprintf(v, sizeof(v), "%lld", (long long)(now < 0 ? 0 : now));
	if (simple(fd, m, "requeued", v, error_r) < 0)
		return -1;
	qmsg_apply_requeued(m);
	return 0;
}
