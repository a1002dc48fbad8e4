/*
 * fuzz_queue_file.c - libFuzzer harness for the queue-file reader
 * (smtp/queue/qmsg-read.c): any bytes as a queue file in a memfd. A file
 * the reader accepts must describe itself consistently (content inside
 * the file, good_end after it, dest/rcpt numbers in range); it then gets
 * a status record appended (qmsg_append_status: cutting a torn tail at
 * good_end, one pwrite, fsync), and the result must read again with the
 * same dests and the new status; postcat's record walk
 * (qmsg_scan_records) must accept what the reader accepted. A refused
 * file must come with a message. Seeds: tests/fuzz/corpus/fuzz_queue_file/ (files made with
 * smtp/queue-file.c, with and without a manager section, one with a torn
 * tail).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "smtp/queue/qmsg-private.h"
#include "smtp/queue/qmsg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int count_record(void *ctx, const char *name, const char *value, size_t len)
{
	if (name[0] == '\0' || value[len] != '\0')
		abort();
	(*(size_t *)ctx)++;
	return 0;
}

static void check(const struct qmsg *m, off_t size)
{
	if (m->content_offset < 0 || m->content_size < 0 || m->content_offset + m->content_size > size)
		abort();
	if (m->good_end < m->content_offset + m->content_size || m->good_end > size)
		abort();
	if (m->sender == NULL)
		abort();
	for (size_t i = 0; i < m->n_dests; i++)
		if (m->dests[i].orig >= m->n_rcpts || m->dests[i].value == NULL)
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct qmsg *m = NULL, *m2 = NULL;
	char *err = NULL;
	int fd = memfd_create("fuzz_queue_file", MFD_CLOEXEC);
	int rc;

	if (fd < 0)
		return 0;
	if (size > 0 && write(fd, data, size) != (ssize_t)size) {
		close(fd);
		return 0;
	}
	rc = qmsg_read(fd, "0123456789AB", QDIR_ACTIVE, &m, &err);
	if (rc < 0) {
		if (err == NULL || m != NULL)
			abort();
		free(err);
		close(fd);
		return 0;
	}
	check(m, (off_t)size);
	/* postcat's walk over the records must agree with the reader. */
	size_t n_records = 0;
	if (qmsg_scan_records(fd, m->content_offset + m->content_size, m->good_end, count_record, &n_records,
			      &err) < 0)
		abort();
	if (m->n_dests > 0) {
		struct qstatus st = { m->n_dests - 1, QDEST_DEFERRED, "4.4.1", "none", "", "fuzz" };
		if (qmsg_append_status(fd, m, &st, 1, &err) < 0) {
			free(err);
		} else {
			if (qmsg_read(fd, "0123456789AB", QDIR_ACTIVE, &m2, &err) != 0)
				abort();
			if (m2->n_dests != m->n_dests || m2->good_end != m->good_end ||
			    m2->dests[m2->n_dests - 1].state != QDEST_DEFERRED ||
			    strcmp(m2->dests[m2->n_dests - 1].text, "fuzz") != 0)
				abort();
			qmsg_free(&m2);
		}
	} else if (qmsg_append_warned(fd, m, &err) < 0) {
		free(err);
	} else {
		if (qmsg_read(fd, "0123456789AB", QDIR_ACTIVE, &m2, &err) != 0 || !m2->warned ||
		    m2->good_end != m->good_end)
			abort();
		qmsg_free(&m2);
	}
	qmsg_free(&m);
	close(fd);
	return 0;
}
