/*
 * queue-cat.c - one queue file shown as postcat -q shows it
 * (queue-admin.h: queue_admin_cat): the envelope records, the message,
 * and the queue manager's records, each under a "*** ... ***" heading
 * naming queue/ID, ending with "*** MESSAGE FILE END queue/ID ***".
 *
 * Called by cli/cmd-queue.c (`postern queue cat ID`). Read only.
 *
 * Records are printed as they are in the file ("name: value"), not as
 * the reader interprets them, so an admin sees what is on disk (a torn
 * tail is left out, as the reader leaves it out). Control characters in
 * values other than tab become '?', so a hostile value cannot drive the
 * terminal. The message is printed with CR LF line ends turned into LF,
 * as postcat prints lines (and a final newline added when missing, so
 * the next heading starts a line).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "smtp/queue/qmsg-private.h"
#include "smtp/queue/queue-admin.h"
#include "util.h"

static int put_record(void *ctx, const char *name, const char *value, size_t len)
{
	FILE *out = ctx;

	if (strcmp(name, "arrival") == 0) {
		char when[64];
		struct tm tm;
		time_t t = (time_t)strtoll(value, NULL, 10);
		if (localtime_r(&t, &tm) != NULL && asctime_r(&tm, when) != NULL) {
			when[strcspn(when, "\n")] = '\0';
			fprintf(out, "message_arrival_time: %s\n", when);
		}
	}
	fprintf(out, "%s: ", name);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)value[i];
		fputc((c < 0x20 && c != '\t') || c == 0x7f ? '?' : c, out);
	}
	fputc('\n', out);
	return 0;
}

/* put_content - the message bytes with CR LF as LF. */
static int put_content(int fd, off_t off, off_t size, FILE *out)
{
	char buf[65536];
	bool cr = false;
	char last = '\n';

	while (size > 0) {
		size_t want = size < (off_t)sizeof(buf) ? (size_t)size : sizeof(buf);
		ssize_t r = pread(fd, buf, want, off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		for (ssize_t i = 0; i < r; i++) {
			if (cr && buf[i] != '\n')
				fputc('\r', out);
			cr = buf[i] == '\r';
			if (!cr)
				fputc(buf[i], out);
		}
		off += r;
		size -= r;
		last = buf[r - 1];
	}
	if (cr)
		fputc('\r', out);
	/* The next heading starts on its own line, as in postcat. */
	if (last != '\n')
		fputc('\n', out);
	return 0;
}

int queue_admin_cat(const char *queue_dir, const char *id, FILE *out, char **error_r)
{
	char path[4096], where[64];
	struct qmsg *m = NULL;
	char *err = NULL;
	enum qdir d;
	int fd, rc;

	if (qmsg_find(queue_dir, id, &d) < 0) {
		*error_r = must_asprintf("%s: no such message in the queue", id);
		return -1;
	}
	if (qmsg_dir_path(path, sizeof(path), queue_dir, d, id) < 0 ||
	    (fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0) {
		*error_r = must_asprintf("%s/%s/%s: %s", queue_dir, qdir_name(d), id, strerror(errno));
		return -1;
	}
	rc = qmsg_read(fd, id, d, &m, &err);
	if (rc < 0) {
		*error_r = must_asprintf("%s: %s queue file: %s", path, rc == -1 ? "corrupt" : "unreadable", err);
		free(err);
		close(fd);
		return -1;
	}
	snprintf(where, sizeof(where), "%s/%s", qdir_name(d), id);
	fprintf(out, "*** ENVELOPE RECORDS %s ***\n", where);
	fprintf(out, "message_size: %lld\n", (long long)m->content_size);
	/* The envelope records end where "message SIZE\n" starts. */
	rc = qmsg_scan_records(fd, (off_t)strlen(QUEUE_FILE_MAGIC),
			       m->content_offset - (off_t)(strlen("message \n") + QMSG_SIZE_DIGITS), put_record, out,
			       error_r);
	if (rc == 0) {
		fprintf(out, "*** MESSAGE CONTENTS %s ***\n", where);
		if (put_content(fd, m->content_offset, m->content_size, out) < 0) {
			*error_r = must_asprintf("%s: reading the message: %s", path, strerror(errno ? errno : EIO));
			rc = -1;
		}
	}
	if (rc == 0) {
		fprintf(out, "*** HEADER EXTRACTED %s ***\n", where);
		rc = qmsg_scan_records(fd, m->content_offset + m->content_size, m->good_end, put_record, out, error_r);
	}
	if (rc == 0)
		fprintf(out, "*** MESSAGE FILE END %s ***\n", where);
	qmsg_free(&m);
	close(fd);
	if (rc == 0 && fflush(out) != 0) {
		*error_r = must_asprintf("writing: %s", strerror(errno));
		rc = -1;
	}
	return rc;
}
