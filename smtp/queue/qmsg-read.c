/*
 * qmsg-read.c - read a queue file into a struct qmsg (qmsg.h): the
 * envelope written by smtp/queue-file.c, where the content lies (never
 * reading it), and the queue manager's appended section. Also the small
 * accessors (qmsg_sender, qmsg_dest_final, qmsg_done, names).
 *
 * Called by the queue role for every message it picks up, by the bounce
 * generator, and by the queue tools (queue-list.c, queue-cat.c).
 *
 * The file is hostile input (a disk error, a hand edit, a bug elsewhere):
 * every length is bounded (QMSG_VALUE_MAX per value, QMSG_MAX_RCPTS,
 * QMSG_MAX_DESTS), reads are pread()s of bounded chunks through a small
 * window, and every malformed byte gives -1 with the byte offset so the
 * caller can move the file to corrupt/ and say why. Format:
 * docs/ARCHITECTURE.md "Queue file" and "Queue manager section".
 *
 * Torn tail: only the queue manager appends after the content, one
 * pwrite() per batch; a crash leaves at most a prefix of its last batch.
 * A record that reaches the end of the file before it is complete is
 * therefore taken as torn and ignored (good_end stops before it), never
 * as corruption; so is a malformed record with no newline between its
 * start and the end of the file (the NUL bytes some file systems show
 * for a crashed extending write). The appender keeps newlines out of
 * every value it writes, so such a tail cannot hide a complete record. Dest records not followed by "expanded" are an
 * expansion cut short: ignored, and good_end stops before them too, so
 * the next append (which truncates at good_end) removes them.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "smtp/queue/qmsg-private.h"
#include "smtp/queue/qmsg.h"
#include "util.h"

#define RD_WINDOW 65536

/* A read window over the file: records are parsed from it, long values
 * are read straight into their own memory. */
struct rd {
	int fd;
	off_t size;
	off_t win_off;
	size_t win_len;
	char win[RD_WINDOW];
};

/* Outcome of parsing one record. */
enum rec_status { REC_OK, REC_EOF, REC_TORN, REC_BAD, REC_IOERR };

struct rec {
	off_t off;                 /* where it starts */
	off_t end;                 /* just after its '\n' */
	char name[QMSG_NAME_MAX + 1];
	char *value;               /* NUL-terminated, new memory */
	size_t len;
};

/* rd_read - n bytes at off into dst; 0, or -1 with errno (EIO for a
 * file that ends early). */
static int rd_read(struct rd *rd, off_t off, void *dst, size_t n)
{
	char *p = dst;

	if (off >= rd->win_off && off + (off_t)n <= rd->win_off + (off_t)rd->win_len) {
		memcpy(p, rd->win + (off - rd->win_off), n);
		return 0;
	}
	if (n < RD_WINDOW / 2) {
		/* Refill the window from off: the next records are likely in it. */
		size_t got = 0;
		rd->win_off = off;
		rd->win_len = 0;
		while (got < RD_WINDOW && off + (off_t)got < rd->size) {
			ssize_t r = pread(rd->fd, rd->win + got, RD_WINDOW - got, off + (off_t)got);
			if (r < 0) {
				if (errno == EINTR)
					continue;
				return -1;
			}
			if (r == 0)
				break;
			got += (size_t)r;
		}
		rd->win_len = got;
		if (got < n) {
			errno = EIO;
			return -1;
		}
		memcpy(p, rd->win, n);
		return 0;
	}
	while (n > 0) {
		ssize_t r = pread(rd->fd, p, n, off);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (r == 0) {
			errno = EIO;
			return -1;
		}
		p += r;
		off += r;
		n -= (size_t)r;
	}
	return 0;
}

void qmsg_error(char **error_r, const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	*error_r = s != NULL ? s : strdup("out of memory");
}

/*
 * read_record - parse "NAME LEN:VALUE\n" at off. REC_OK fills r (value in
 * new memory); REC_EOF: off is the end of the file; REC_TORN: the file
 * ends inside the record (*error_r set: the envelope section reports it,
 * the manager section frees it); REC_BAD: malformed (*error_r set);
 * REC_IOERR: reading failed (*error_r set).
 */
static enum rec_status read_record(struct rd *rd, off_t off, struct rec *r, char **error_r)
{
	char head[QMSG_NAME_MAX + 16];
	size_t avail, i, nlen = 0, len = 0, digits = 0;
	char nl;

	r->off = off;
	r->value = NULL;
	if (off >= rd->size)
		return REC_EOF;
	avail = rd->size - off < (off_t)sizeof(head) ? (size_t)(rd->size - off) : sizeof(head);
	if (rd_read(rd, off, head, avail) < 0) {
		qmsg_error(error_r, "record at byte %lld: %s", (long long)off, strerror(errno));
		return REC_IOERR;
	}
	for (i = 0; i < avail && head[i] != ' '; i++) {
		char c = head[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_') || i >= QMSG_NAME_MAX) {
			qmsg_error(error_r, "record at byte %lld: bad record name", (long long)off);
			return REC_BAD;
		}
	}
	if (i == avail)
		goto torn;
	nlen = i;
	if (nlen == 0) {
		qmsg_error(error_r, "record at byte %lld: bad record name", (long long)off);
		return REC_BAD;
	}
	for (i++; i < avail && head[i] >= '0' && head[i] <= '9'; i++) {
		if (++digits > 8) {
			qmsg_error(error_r, "record at byte %lld: bad length", (long long)off);
			return REC_BAD;
		}
		len = len * 10 + (size_t)(head[i] - '0');
	}
	if (i == avail)
		goto torn;
	if (digits == 0 || head[i] != ':') {
		qmsg_error(error_r, "record at byte %lld: bad length", (long long)off);
		return REC_BAD;
	}
	if (len > QMSG_VALUE_MAX) {
		qmsg_error(error_r, "record at byte %lld: length %zu over the limit of %d", (long long)off, len,
			  QMSG_VALUE_MAX);
		return REC_BAD;
	}
	i++;
	/* value + '\n' must fit in what is left of the file */
	if ((off_t)len + 1 > rd->size - off - (off_t)i) {
		qmsg_error(error_r, "record at byte %lld: length %zu runs past the end of the file", (long long)off,
			  len);
		return REC_TORN;
	}
	memcpy(r->name, head, nlen);
	r->name[nlen] = '\0';
	r->value = malloc(len + 1);
	if (r->value == NULL) {
		qmsg_error(error_r, "record at byte %lld: out of memory", (long long)off);
		return REC_IOERR;
	}
	if (rd_read(rd, off + (off_t)i, r->value, len) < 0 ||
	    rd_read(rd, off + (off_t)i + (off_t)len, &nl, 1) < 0) {
		qmsg_error(error_r, "record at byte %lld: %s", (long long)off, strerror(errno));
		x_free(&r->value);
		return REC_IOERR;
	}
	if (nl != '\n') {
		qmsg_error(error_r, "record at byte %lld: no newline after its %zu-byte value", (long long)off, len);
		x_free(&r->value);
		return REC_BAD;
	}
	r->value[len] = '\0';
	r->len = len;
	r->end = off + (off_t)i + (off_t)len + 1;
	return REC_OK;
torn:
	qmsg_error(error_r, "record at byte %lld: cut short by the end of the file", (long long)off);
	return REC_TORN;
}

/* ----- small parsers ----- */

static int parse_ulong(const char *s, size_t len, unsigned long long max, unsigned long long *v_r)
{
	unsigned long long v = 0;

	if (len == 0 || len > 20)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		if (v > (max - (unsigned)(s[i] - '0')) / 10)
			return -1;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	*v_r = v;
	return 0;
}

static int parse_time(const char *s, size_t len, time_t *t_r)
{
	unsigned long long v;

	if (parse_ulong(s, len, (unsigned long long)INT64_MAX / 2, &v) < 0)
		return -1;
	*t_r = (time_t)v;
	return 0;
}

/* split - cut s at the first n tabs into fields[0..n]; the last field
 * keeps any further tabs. -1 when there are fewer tabs. */
static int split(char *s, char **fields, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char *t = strchr(s, '\t');
		if (t == NULL)
			return -1;
		*t = '\0';
		fields[i] = s;
		s = t + 1;
	}
	fields[n] = s;
	return 0;
}

const char *qmsg_kind_name(enum qdest_kind k)
{
	switch (k) {
	case QDEST_ADDR: return "addr";
	case QDEST_PIPE: return "pipe";
	case QDEST_FILE: return "file";
	case QDEST_DISCARD: return "discard";
	}
	return "addr";
}

int qmsg_kind_parse(const char *s, enum qdest_kind *k_r)
{
	static const enum qdest_kind all[] = { QDEST_ADDR, QDEST_PIPE, QDEST_FILE, QDEST_DISCARD };

	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		if (strcmp(s, qmsg_kind_name(all[i])) == 0) {
			*k_r = all[i];
			return 0;
		}
	}
	return -1;
}

const char *qmsg_result_name(enum qdest_state s)
{
	switch (s) {
	case QDEST_SENT: return "sent";
	case QDEST_BOUNCED: return "bounced";
	case QDEST_DEFERRED: return "deferred";
	case QDEST_PENDING: return NULL;
	}
	return NULL;
}

const char *qmsg_state_name(enum qdest_state s)
{
	const char *n = qmsg_result_name(s);

	return n != NULL ? n : "pending";
}

const char *qdir_name(enum qdir d)
{
	switch (d) {
	case QDIR_INCOMING: return "incoming";
	case QDIR_ACTIVE: return "active";
	case QDIR_DEFERRED: return "deferred";
	case QDIR_HOLD: return "hold";
	case QDIR_CORRUPT: return "corrupt";
	case QDIR_COUNT: break;
	}
	return "?";
}

bool qmsg_id_valid(const char *id)
{
	size_t i;

	if (id == NULL)
		return false;
	for (i = 0; id[i] != '\0'; i++)
		if (i >= 12 || !((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'A' && id[i] <= 'F')))
			return false;
	return i == 12;
}

void qmsg_notify_text(unsigned notify, char *buf, size_t size)
{
	static const struct { unsigned bit; const char *word; } words[] = {
		{ QMSG_NOTIFY_NEVER, "NEVER" }, { QMSG_NOTIFY_SUCCESS, "SUCCESS" },
		{ QMSG_NOTIFY_FAILURE, "FAILURE" }, { QMSG_NOTIFY_DELAY, "DELAY" },
	};
	size_t used = 0;

	if (size == 0)
		return;
	buf[0] = '\0';
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		if (!(notify & words[i].bit))
			continue;
		int n = snprintf(buf + used, size - used, "%s%s", used ? "," : "", words[i].word);
		if (n < 0 || (size_t)n >= size - used)
			return;
		used += (size_t)n;
	}
}

int qmsg_notify_parse(const char *text, unsigned *bits_r)
{
	unsigned bits = 0;
	const char *p = text;

	while (*p != '\0') {
		size_t n = strcspn(p, ",");
		if (n == 5 && strncasecmp(p, "NEVER", 5) == 0)
			bits |= QMSG_NOTIFY_NEVER;
		else if (n == 7 && strncasecmp(p, "SUCCESS", 7) == 0)
			bits |= QMSG_NOTIFY_SUCCESS;
		else if (n == 7 && strncasecmp(p, "FAILURE", 7) == 0)
			bits |= QMSG_NOTIFY_FAILURE;
		else if (n == 5 && strncasecmp(p, "DELAY", 5) == 0)
			bits |= QMSG_NOTIFY_DELAY;
		else
			return -1;
		p += n;
		if (*p == ',')
			p++;
	}
	*bits_r = bits;
	return 0;
}

/* ----- state ----- */

void qmsg_dest_clear(struct qdest *d)
{
	x_free(&d->runas);
	x_free(&d->value);
	x_free(&d->relay);
	x_free(&d->diag);
	x_free(&d->text);
}

void qmsg_free(struct qmsg **mp)
{
	struct qmsg *m = *mp;

	if (m == NULL)
		return;
	free(m->sender);
	free(m->envid);
	free(m->ret);
	free(m->body);
	free(m->client_name);
	free(m->client_addr);
	free(m->helo);
	free(m->proto);
	free(m->sasl_method);
	free(m->sasl_username);
	for (size_t i = 0; i < m->n_rcpts; i++) {
		free(m->rcpts[i].addr);
		free(m->rcpts[i].orcpt);
	}
	free(m->rcpts);
	free(m->xsender);
	for (size_t i = 0; i < m->n_dests; i++)
		qmsg_dest_clear(&m->dests[i]);
	free(m->dests);
	free(m);
	*mp = NULL;
}

const char *qmsg_sender(const struct qmsg *m)
{
	return m->xsender != NULL ? m->xsender : m->sender;
}

bool qmsg_dest_final(const struct qmsg *m, size_t i)
{
	const struct qdest *d;
	unsigned notify;

	if (i >= m->n_dests)
		return false;
	d = &m->dests[i];
	if (d->kind == QDEST_DISCARD || d->state == QDEST_SENT)
		return true;
	if (d->state != QDEST_BOUNCED)
		return false;
	if (d->notified)
		return true;
	/* Nobody to tell: the null sender (RFC 3461 section 6.2: never
	 * bounce a bounce), or the recipient's NOTIFY excludes failures. */
	if (m->sender == NULL || m->sender[0] == '\0')
		return true;
	notify = d->orig < m->n_rcpts ? m->rcpts[d->orig].notify : 0;
	if (notify & QMSG_NOTIFY_NEVER)
		return true;
	return notify != 0 && !(notify & QMSG_NOTIFY_FAILURE);
}

bool qmsg_done(const struct qmsg *m)
{
	if (!m->expanded)
		return false;
	for (size_t i = 0; i < m->n_dests; i++)
		if (!qmsg_dest_final(m, i))
			return false;
	return true;
}

void qmsg_apply_requeued(struct qmsg *m)
{
	size_t keep = 0;

	for (size_t i = 0; i < m->n_dests; i++) {
		if (qmsg_dest_final(m, i))
			m->dests[keep++] = m->dests[i];
		else
			qmsg_dest_clear(&m->dests[i]);
	}
	m->n_dests = keep;
	m->expanded = false;
}

/* ----- the reader ----- */

struct reader {
	struct rd rd;
	struct qmsg *m;
	char **error_r;
	/* dest records not yet confirmed by "expanded" */
	struct qdest *pending;
	size_t n_pending, cap_pending, cap_dests, cap_rcpts;
	off_t pending_off;          /* where the first pending dest starts */
	size_t dest_records;        /* over the file's life, for the bound */
	bool seen_sender;
};

static void drop_pending(struct reader *r)
{
	for (size_t i = 0; i < r->n_pending; i++)
		qmsg_dest_clear(&r->pending[i]);
	r->n_pending = 0;
}

/* take - move rec's value into *field (replacing an earlier one). A NUL
 * inside would silently cut the string, so it makes the file corrupt. */
static int take(struct reader *r, struct rec *rec, char **field)
{
	if (memchr(rec->value, '\0', rec->len) != NULL) {
		qmsg_error(r->error_r, "record at byte %lld: NUL byte in the %s value", (long long)rec->off, rec->name);
		return -1;
	}
	free(*field);
	*field = rec->value;
	rec->value = NULL;
	return 0;
}

static int grow(void **arr, size_t *cap, size_t need, size_t elem)
{
	size_t ncap;
	void *n;

	if (need <= *cap)
		return 0;
	ncap = *cap ? *cap * 2 : 8;
	while (ncap < need)
		ncap *= 2;
	n = realloc(*arr, ncap * elem);
	if (n == NULL)
		return -1;
	memset((char *)n + *cap * elem, 0, (ncap - *cap) * elem);
	*arr = n;
	*cap = ncap;
	return 0;
}

static int bad(struct reader *r, const struct rec *rec, const char *what)
{
	qmsg_error(r->error_r, "record at byte %lld: %s: %s", (long long)rec->off, rec->name, what);
	return -1;
}

/* envelope_record - one record before "message". -1 corrupt, -2 no memory. */
static int envelope_record(struct reader *r, struct rec *rec)
{
	struct qmsg *m = r->m;
	const char *n = rec->name;

	if (strcmp(n, "arrival") == 0) {
		const char *dot = strchr(rec->value, '.');
		size_t secs = dot ? (size_t)(dot - rec->value) : rec->len;
		unsigned long long usec = 0;
		time_t t;
		if (parse_time(rec->value, secs, &t) < 0 ||
		    (dot && parse_ulong(dot + 1, strlen(dot + 1), 999999, &usec) < 0))
			return bad(r, rec, "not a time");
		m->arrival.tv_sec = t;
		m->arrival.tv_nsec = (long)usec * 1000;
		return 0;
	}
	if (strcmp(n, "sender") == 0) {
		r->seen_sender = true;
		return take(r, rec, &m->sender);
	}
	if (strcmp(n, "smtputf8") == 0) {
		m->smtputf8 = strcmp(rec->value, "yes") == 0;
		return 0;
	}
	if (strcmp(n, "rcpt") == 0) {
		if (m->n_rcpts >= QMSG_MAX_RCPTS)
			return bad(r, rec, "too many recipients");
		if (grow((void **)&m->rcpts, &r->cap_rcpts, m->n_rcpts + 1, sizeof(*m->rcpts)) < 0)
			return -2;
		m->n_rcpts++;
		return take(r, rec, &m->rcpts[m->n_rcpts - 1].addr);
	}
	if (strcmp(n, "orcpt") == 0 || strcmp(n, "notify") == 0) {
		struct qrcpt *q;
		if (m->n_rcpts == 0)
			return bad(r, rec, "before any rcpt record");
		q = &m->rcpts[m->n_rcpts - 1];
		if (n[0] == 'o')
			return take(r, rec, &q->orcpt);
		if (qmsg_notify_parse(rec->value, &q->notify) < 0)
			return bad(r, rec, "not NEVER or a list of SUCCESS, FAILURE, DELAY");
		return 0;
	}
	static const struct { const char *name; size_t field; } strings[] = {
		{ "envid", offsetof(struct qmsg, envid) },
		{ "ret", offsetof(struct qmsg, ret) },
		{ "body", offsetof(struct qmsg, body) },
		{ "client_name", offsetof(struct qmsg, client_name) },
		{ "client_addr", offsetof(struct qmsg, client_addr) },
		{ "helo", offsetof(struct qmsg, helo) },
		{ "proto", offsetof(struct qmsg, proto) },
		{ "sasl_method", offsetof(struct qmsg, sasl_method) },
		{ "sasl_username", offsetof(struct qmsg, sasl_username) },
	};
	for (size_t i = 0; i < sizeof(strings) / sizeof(strings[0]); i++)
		if (strcmp(n, strings[i].name) == 0)
			return take(r, rec, (char **)((char *)m + strings[i].field));
	/* id, hold and names of later versions: nothing to keep */
	return 0;
}

/* dest_index - "DEST" of a status/notified record; -1 when out of range. */
static int dest_index(struct reader *r, const struct rec *rec, const char *s, size_t len, size_t *i_r)
{
	unsigned long long v;

	if (parse_ulong(s, len, SIZE_MAX, &v) < 0)
		return bad(r, rec, "bad dest number");
	if (v >= r->m->n_dests) {
		qmsg_error(r->error_r, "record at byte %lld: %s: dest %llu out of range (%zu dests)",
			  (long long)rec->off, rec->name, v, r->m->n_dests);
		return -1;
	}
	*i_r = (size_t)v;
	return 0;
}

static int dest_record(struct reader *r, struct rec *rec)
{
	char *f[4];
	unsigned long long orig;
	struct qdest *d;
	enum qdest_kind kind;

	if (++r->dest_records > QMSG_MAX_DESTS)
		return bad(r, rec, "too many dest records");
	if (memchr(rec->value, '\0', rec->len) != NULL || split(rec->value, f, 3) < 0)
		return bad(r, rec, "not ORIG<tab>KIND<tab>RUNAS<tab>VALUE");
	if (parse_ulong(f[0], strlen(f[0]), SIZE_MAX, &orig) < 0)
		return bad(r, rec, "bad recipient number");
	if (orig >= r->m->n_rcpts) {
		qmsg_error(r->error_r, "record at byte %lld: dest: recipient %llu out of range (%zu recipients)",
			  (long long)rec->off, orig, r->m->n_rcpts);
		return -1;
	}
	if (qmsg_kind_parse(f[1], &kind) < 0)
		return bad(r, rec, "unknown kind (addr, pipe, file or discard)");
	if (grow((void **)&r->pending, &r->cap_pending, r->n_pending + 1, sizeof(*r->pending)) < 0)
		return -2;
	if (r->n_pending == 0)
		r->pending_off = rec->off;
	d = &r->pending[r->n_pending];
	memset(d, 0, sizeof(*d));
	d->orig = (size_t)orig;
	d->kind = kind;
	d->state = QDEST_PENDING;
	d->runas = strcmp(f[2], "-") == 0 ? NULL : strdup(f[2]);
	d->value = strdup(f[3]);
	d->diag = strdup("");
	d->text = strdup("");
	if ((strcmp(f[2], "-") != 0 && d->runas == NULL) || d->value == NULL || d->diag == NULL || d->text == NULL) {
		qmsg_dest_clear(d);
		return -2;
	}
	r->n_pending++;
	return 0;
}

static int expanded_record(struct reader *r)
{
	struct qmsg *m = r->m;

	if (grow((void **)&m->dests, &r->cap_dests, m->n_dests + r->n_pending, sizeof(*m->dests)) < 0)
		return -2;
	if (r->n_pending > 0)
		memcpy(m->dests + m->n_dests, r->pending, r->n_pending * sizeof(*r->pending));
	m->n_dests += r->n_pending;
	r->n_pending = 0;
	m->expanded = true;
	return 0;
}

static int status_record(struct reader *r, struct rec *rec)
{
	char *f[7];
	size_t i;
	time_t when;
	enum qdest_state st;
	struct qdest *d;
	char *relay, *diag, *text;

	if (memchr(rec->value, '\0', rec->len) != NULL || split(rec->value, f, 6) < 0)
		return bad(r, rec, "not DEST<tab>RESULT<tab>DSN<tab>TIME<tab>RELAY<tab>DIAG<tab>TEXT");
	if (dest_index(r, rec, f[0], strlen(f[0]), &i) < 0)
		return -1;
	if (strcmp(f[1], "sent") == 0)
		st = QDEST_SENT;
	else if (strcmp(f[1], "bounced") == 0)
		st = QDEST_BOUNCED;
	else if (strcmp(f[1], "deferred") == 0)
		st = QDEST_DEFERRED;
	else
		return bad(r, rec, "result not sent, bounced or deferred");
	if (strlen(f[2]) >= sizeof(d->dsn))
		return bad(r, rec, "DSN code too long");
	if (parse_time(f[3], strlen(f[3]), &when) < 0)
		return bad(r, rec, "bad time");
	relay = strdup(f[4]);
	diag = strdup(f[5]);
	text = strdup(f[6]);
	if (relay == NULL || diag == NULL || text == NULL) {
		free(relay);
		free(diag);
		free(text);
		return -2;
	}
	d = &r->m->dests[i];
	free(d->relay);
	free(d->diag);
	free(d->text);
	d->relay = relay;
	d->diag = diag;
	d->text = text;
	d->state = st;
	str_copy(d->dsn, f[2], sizeof(d->dsn));
	d->when = when;
	return 0;
}

static int notified_record(struct reader *r, struct rec *rec)
{
	const char *p = rec->value, *end = rec->value + rec->len;

	/* Check every number first: a bad one leaves nothing half done. */
	for (int pass = 0; pass < 2; pass++) {
		for (p = rec->value; p < end;) {
			const char *comma = memchr(p, ',', (size_t)(end - p));
			size_t n = comma ? (size_t)(comma - p) : (size_t)(end - p), i;
			if (dest_index(r, rec, p, n, &i) < 0)
				return -1;
			if (pass == 1)
				r->m->dests[i].notified = true;
			p += n + (comma ? 1 : 0);
			if (comma && p == end)
				return bad(r, rec, "bad dest number");
		}
	}
	return 0;
}

/* manager_record - one record after the content. -1 corrupt, -2 no memory. */
static int manager_record(struct reader *r, struct rec *rec)
{
	struct qmsg *m = r->m;
	const char *n = rec->name;

	if (strcmp(n, "dest") == 0)
		return dest_record(r, rec);
	if (strcmp(n, "expanded") == 0)
		return expanded_record(r);
	/* Anything else after dest records means their expansion was cut
	 * short and something else happened since: forget them. */
	drop_pending(r);
	if (strcmp(n, "xsender") == 0)
		return take(r, rec, &m->xsender);
	if (strcmp(n, "status") == 0)
		return status_record(r, rec);
	if (strcmp(n, "notified") == 0)
		return notified_record(r, rec);
	if (strcmp(n, "warned") == 0) {
		m->warned = true;
		return 0;
	}
	if (strcmp(n, "deferred") == 0) {
		char *f[2];
		time_t t, next;
		if (memchr(rec->value, '\0', rec->len) != NULL || split(rec->value, f, 1) < 0 ||
		    parse_time(f[0], strlen(f[0]), &t) < 0 || parse_time(f[1], strlen(f[1]), &next) < 0)
			return bad(r, rec, "not TIME<tab>NEXT");
		m->attempts++;
		m->next_attempt = next;
		return 0;
	}
	if (strcmp(n, "requeued") == 0) {
		time_t t;
		if (parse_time(rec->value, rec->len, &t) < 0)
			return bad(r, rec, "not a time");
		qmsg_apply_requeued(m);
		return 0;
	}
	return 0;
}

/* tail_has_newline - whether [off, end of file) holds a '\n'. A bad
 * record without one is the last thing in the file and cannot be
 * followed by anything the manager acted on: a torn write (a file
 * system may show a crashed extending write as NUL bytes). 1, 0, or -1
 * when reading failed. */
static int tail_has_newline(struct rd *rd, off_t off)
{
	char buf[16384];

	while (off < rd->size) {
		size_t n = rd->size - off < (off_t)sizeof(buf) ? (size_t)(rd->size - off) : sizeof(buf);
		if (rd_read(rd, off, buf, n) < 0)
			return -1;
		if (memchr(buf, '\n', n) != NULL)
			return 1;
		off += (off_t)n;
	}
	return 0;
}

/* read_size - "message " + 15 digits + "\n" at off. */
static int read_size(struct reader *r, off_t off, off_t *content_r, off_t *size_r)
{
	char line[8 + QMSG_SIZE_DIGITS + 1];
	unsigned long long size;

	if (r->rd.size - off < (off_t)sizeof(line)) {
		qmsg_error(r->error_r, "record at byte %lld: message size record cut short", (long long)off);
		return -1;
	}
	if (rd_read(&r->rd, off, line, sizeof(line)) < 0) {
		qmsg_error(r->error_r, "record at byte %lld: %s", (long long)off, strerror(errno));
		return -2;
	}
	if (memcmp(line, "message ", 8) != 0 || line[sizeof(line) - 1] != '\n' ||
	    parse_ulong(line + 8, QMSG_SIZE_DIGITS, (unsigned long long)INT64_MAX / 2, &size) < 0) {
		qmsg_error(r->error_r, "record at byte %lld: bad message size record", (long long)off);
		return -1;
	}
	*content_r = off + (off_t)sizeof(line);
	if ((off_t)size > r->rd.size - *content_r) {
		qmsg_error(r->error_r,
			  "record at byte %lld: message size %llu runs past the end of the file (%lld bytes follow)",
			  (long long)off, size, (long long)(r->rd.size - *content_r));
		return -1;
	}
	*size_r = (off_t)size;
	return 0;
}

static int read_all(struct reader *r)
{
	struct qmsg *m = r->m;
	const size_t magic_len = strlen(QUEUE_FILE_MAGIC);
	char magic[32];
	struct rec rec;
	off_t off;
	int rc;

	if (r->rd.size < (off_t)magic_len) {
		qmsg_error(r->error_r, "byte 0: file too short for the magic line (%lld bytes)", (long long)r->rd.size);
		return -1;
	}
	if (rd_read(&r->rd, 0, magic, magic_len) < 0) {
		qmsg_error(r->error_r, "byte 0: %s", strerror(errno));
		return -2;
	}
	if (memcmp(magic, QUEUE_FILE_MAGIC, magic_len) != 0) {
		qmsg_error(r->error_r, "byte 0: bad magic line (not a \"POSTERN-QUEUE 1\" queue file)");
		return -1;
	}
	/* The envelope: complete records up to "message". */
	off = (off_t)magic_len;
	for (;;) {
		char head[8];
		if (r->rd.size - off >= 8) {
			if (rd_read(&r->rd, off, head, 8) < 0) {
				qmsg_error(r->error_r, "record at byte %lld: %s", (long long)off, strerror(errno));
				return -2;
			}
			if (memcmp(head, "message ", 8) == 0)
				break;
		}
		enum rec_status st = read_record(&r->rd, off, &rec, r->error_r);
		if (st == REC_EOF) {
			qmsg_error(r->error_r, "record at byte %lld: the file ends before the message size record",
				  (long long)off);
			return -1;
		}
		if (st == REC_TORN)
			return -1;
		if (st != REC_OK)
			return st == REC_BAD ? -1 : -2;
		rc = envelope_record(r, &rec);
		free(rec.value);
		if (rc == -2)
			qmsg_error(r->error_r, "record at byte %lld: out of memory", (long long)off);
		if (rc < 0)
			return rc;
		off = rec.end;
	}
	if (!r->seen_sender) {
		qmsg_error(r->error_r, "record at byte %lld: no sender record before the message", (long long)off);
		return -1;
	}
	if ((rc = read_size(r, off, &m->content_offset, &m->content_size)) < 0)
		return rc;
	/* The manager section. */
	off = m->content_offset + m->content_size;
	for (;;) {
		enum rec_status st = read_record(&r->rd, off, &rec, r->error_r);
		if (st == REC_BAD && tail_has_newline(&r->rd, off) == 0)
			st = REC_TORN;
		if (st == REC_TORN)
			x_free(r->error_r);   /* a crash while appending: ignored */
		if (st == REC_EOF || st == REC_TORN)
			break;
		if (st != REC_OK)
			return st == REC_BAD ? -1 : -2;
		rc = manager_record(r, &rec);
		free(rec.value);
		if (rc == -2)
			qmsg_error(r->error_r, "record at byte %lld: out of memory", (long long)off);
		if (rc < 0)
			return rc;
		off = rec.end;
	}
	m->good_end = r->n_pending > 0 ? r->pending_off : off;
	return 0;
}

int qmsg_read(int fd, const char *id, enum qdir dir, struct qmsg **m_r, char **error_r)
{
	struct reader *r;
	struct stat st;
	int rc;

	*m_r = NULL;
	if (fstat(fd, &st) < 0) {
		qmsg_error(error_r, "fstat: %s", strerror(errno));
		return -2;
	}
	r = calloc(1, sizeof(*r));
	if (r == NULL || (r->m = calloc(1, sizeof(*r->m))) == NULL) {
		free(r);
		qmsg_error(error_r, "out of memory");
		return -2;
	}
	r->rd.fd = fd;
	r->rd.size = st.st_size;
	r->error_r = error_r;
	str_copy(r->m->id, id != NULL ? id : "", sizeof(r->m->id));
	r->m->dir = dir;
	rc = read_all(r);
	drop_pending(r);
	free(r->pending);
	if (rc < 0)
		qmsg_free(&r->m);
	else
		*m_r = r->m;
	free(r);
	return rc;
}

int qmsg_scan_records(int fd, off_t from, off_t to, qmsg_record_fn *fn, void *ctx, char **error_r)
{
	struct rd *rd = calloc(1, sizeof(*rd));
	struct stat st;
	struct rec rec;
	off_t off = from;
	int rc = 0;

	if (rd == NULL) {
		qmsg_error(error_r, "out of memory");
		return -1;
	}
	if (fstat(fd, &st) < 0) {
		qmsg_error(error_r, "fstat: %s", strerror(errno));
		free(rd);
		return -1;
	}
	rd->fd = fd;
	rd->size = st.st_size < to ? st.st_size : to;
	for (;;) {
		enum rec_status s = read_record(rd, off, &rec, error_r);
		if (s == REC_TORN)
			x_free(error_r);
		if (s == REC_EOF || s == REC_TORN)
			break;
		if (s != REC_OK) {
			rc = -1;
			break;
		}
		int r = fn(ctx, rec.name, rec.value, rec.len);
		free(rec.value);
		if (r < 0)
			break;
		off = rec.end;
	}
	free(rd);
	return rc;
}
