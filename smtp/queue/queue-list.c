/*
 * queue-list.c - the queue listing of mailq / postqueue -p / sendmail -bp
 * (queue-admin.h: queue_admin_list).
 *
 * Called by cli/cmd-queue.c (`postern queue list`) and cli/sendmail.c
 * (mailq); it only reads, so it runs with or without posternd.
 *
 * The layout is Postfix's short-id postqueue -p output, column for
 * column, because scripts parse it (awk '$1 ~ /\*$/', tr -d '*!',
 * pflogsumm-era tools): a heading, then per message "ID+STATUS SIZE
 * ARRIVAL SENDER" with STATUS '*' active, '!' hold, ' ' otherwise, the
 * size right-aligned in 7 columns, asctime()'s first 20 characters; then
 * its recipients indented by 41 columns, each group preceded by the
 * "(reason)" it was deferred for, right-aligned to column 78 (only when
 * the reason changes; "(reason unavailable)" when it goes from some
 * reason to none); a blank line between messages; "-- N Kbytes in M
 * Request(s)." at the end, or "Mail queue is empty". Messages are listed
 * oldest first across active/, deferred/ and hold/.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "smtp/queue/qmsg-private.h"
#include "smtp/queue/queue-admin.h"
#include "util.h"

/* Postfix's empty_address_recipient default: how <> is shown. */
#define EMPTY_SENDER "MAILER-DAEMON"
#define INDENT 41

/* printable - control characters as '?', as Postfix's printable(). */
static void put_printable(FILE *out, const char *s)
{
	for (; *s; s++)
		fputc((unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s, out);
}

static int by_arrival(const void *a, const void *b)
{
	const struct qmsg *x = *(struct qmsg *const *)a, *y = *(struct qmsg *const *)b;

	if (x->arrival.tv_sec != y->arrival.tv_sec)
		return x->arrival.tv_sec < y->arrival.tv_sec ? -1 : 1;
	if (x->arrival.tv_nsec != y->arrival.tv_nsec)
		return x->arrival.tv_nsec < y->arrival.tv_nsec ? -1 : 1;
	return strcmp(x->id, y->id);
}

/* collect - read every message of queue_dir/d into *all. -1 with
 * *error_r when the directory cannot be read. */
static int collect(const char *queue_dir, enum qdir d, struct qmsg ***all, size_t *n, size_t *cap,
		   char **error_r)
{
	char path[4096];
	DIR *dir;
	struct dirent *e;
	int dfd;

	if (qmsg_dir_path(path, sizeof(path), queue_dir, d, NULL) < 0) {
		*error_r = must_asprintf("%s: path too long", queue_dir);
		return -1;
	}
	if ((dir = opendir(path)) == NULL) {
		if (errno == ENOENT)
			return 0;
		*error_r = must_asprintf("%s: %s", path, strerror(errno));
		return -1;
	}
	dfd = dirfd(dir);
	while ((e = readdir(dir)) != NULL) {
		struct qmsg *m = NULL;
		char *err = NULL;
		int fd, rc;

		if (!qmsg_id_valid(e->d_name))
			continue;
		fd = openat(dfd, e->d_name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		if (fd < 0) {
			if (errno != ENOENT)   /* ENOENT: delivered or moved meanwhile */
				fprintf(stderr, "postern: warning: %s/%s: %s; skipped\n", path, e->d_name,
					strerror(errno));
			continue;
		}
		rc = qmsg_read(fd, e->d_name, d, &m, &err);
		close(fd);
		if (rc < 0) {
			fprintf(stderr, "postern: warning: %s/%s: %s queue file: %s; skipped\n", path, e->d_name,
				rc == -1 ? "corrupt" : "unreadable", err);
			free(err);
			continue;
		}
		if (*n == *cap) {
			*cap = *cap ? *cap * 2 : 64;
			*all = must_realloc(*all, *cap * sizeof(**all));
		}
		(*all)[(*n)++] = m;
	}
	closedir(dir);
	return 0;
}

/* put_rcpt - one recipient line, after its reason line when the reason
 * differs from the one before (*saved, new memory). */
static void put_rcpt(FILE *out, const char *addr, const char *why, char **saved)
{
	if (strcmp(*saved, why) != 0) {
		const char *show = *why ? why : "reason unavailable";
		int pad = 76 - (int)strlen(show);
		free(*saved);
		*saved = must_strdup(why);
		fprintf(out, "%*s(", pad > 0 ? pad : 0, "");
		put_printable(out, show);
		fputs(")\n", out);
	}
	fprintf(out, "%*s", INDENT, "");
	put_printable(out, addr);
	fputc('\n', out);
}

static void put_message(FILE *out, const struct qmsg *m)
{
	char when[64], id_status[QUEUE_ID_SIZE + 2];
	struct tm tm;
	time_t t = m->arrival.tv_sec;
	const char *sender = qmsg_sender(m);
	char *saved = must_strdup("");
	const char *prev = NULL;

	snprintf(id_status, sizeof(id_status), "%s%c", m->id,
		 m->dir == QDIR_ACTIVE ? '*' : m->dir == QDIR_HOLD ? '!' : ' ');
	if (localtime_r(&t, &tm) == NULL || asctime_r(&tm, when) == NULL)
		str_copy(when, "??", sizeof(when));
	fprintf(out, "%-11s %7lld %20.20s ", id_status, (long long)m->content_size, when);
	put_printable(out, *sender ? sender : EMPTY_SENDER);
	fputc('\n', out);
	if (!m->expanded) {
		for (size_t i = 0; i < m->n_rcpts; i++)
			put_rcpt(out, m->rcpts[i].addr, "", &saved);
	} else {
		for (size_t i = 0; i < m->n_dests; i++) {
			const struct qdest *d = &m->dests[i];
			const char *addr, *why;
			if (qmsg_dest_final(m, i))
				continue;
			/* A pipe or file delivery shows as the address it came from. */
			addr = d->kind == QDEST_ADDR || d->orig >= m->n_rcpts ? d->value : m->rcpts[d->orig].addr;
			why = (d->state == QDEST_DEFERRED || d->state == QDEST_BOUNCED) && d->text ? d->text : "";
			/* One alias expanding into several local deliveries: once. */
			if (prev != NULL && strcmp(prev, addr) == 0)
				continue;
			prev = addr;
			put_rcpt(out, addr, why, &saved);
		}
	}
	free(saved);
}

int queue_admin_list(const char *queue_dir, FILE *out, char **error_r)
{
	static const enum qdir dirs[] = { QDIR_ACTIVE, QDIR_DEFERRED, QDIR_HOLD };
	struct qmsg **all = NULL;
	size_t n = 0, cap = 0;
	unsigned long long bytes = 0;
	int rc = 0;

	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		if (collect(queue_dir, dirs[i], &all, &n, &cap, error_r) < 0) {
			rc = -1;
			goto out;
		}
	}
	if (n > 1)
		qsort(all, n, sizeof(*all), by_arrival);
	if (n == 0) {
		fputs("Mail queue is empty\n", out);
		goto out;
	}
	fprintf(out, "%-11s %7s %-20s %s\n", "-Queue ID-", "--Size--", "----Arrival Time----",
		"-Sender/Recipient-------");
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			fputc('\n', out);
		put_message(out, all[i]);
		bytes += (unsigned long long)all[i]->content_size;
	}
	fprintf(out, "\n-- %llu Kbytes in %zu Request%s.\n", bytes / 1024, n, n == 1 ? "" : "s");
	rc = n > (size_t)INT_MAX ? INT_MAX : (int)n;
out:
	for (size_t i = 0; i < n; i++)
		qmsg_free(&all[i]);
	free(all);
	if (rc >= 0 && fflush(out) != 0) {
		*error_r = must_asprintf("writing the queue listing: %s", strerror(errno));
		rc = -1;
	}
	return rc;
}
