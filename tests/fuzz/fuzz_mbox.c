/*
 * fuzz_mbox.c - libFuzzer harness for the mbox reader (store/mbox-parse.c,
 * mbox-from.c) and the writer's quoting (mbox-write.c, mbox-quote.c).
 *
 * The input is read as an mbox file (from a memfd): every message's
 * offsets must be ordered and inside the file, consecutive messages must
 * tile it, and the exported bytes must have exactly size_unquoted (LF) and
 * rfc822_size (CRLF) bytes. Then the input is appended as one message to
 * an empty mbox and must read back as exactly one message with the same
 * bytes (plus a LF when it lacked one): the mboxrd round trip. Seeds:
 * tests/fuzz/corpus/fuzz_mbox/.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "store/mbox-private.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct sink {
	struct strbuf sb;
};

static int sink_out(void *ctx, const void *p, size_t n)
{
	return strbuf_append(&((struct sink *)ctx)->sb, p, n);
}

static int memfd_with(int *fd, const void *data, size_t size)
{
	if (*fd < 0)
		*fd = memfd_create("fuzz-mbox", MFD_CLOEXEC);
	if (*fd < 0 || ftruncate(*fd, 0) < 0)
		abort();
	if (size > 0 && pwrite(*fd, data, size, 0) != (ssize_t)size)
		abort();
	return *fd;
}

/* Read every message of fd (size bytes) and check the invariants; returns
 * the message count, and the first message's LF export in *first. */
static int check_file(int fd, uint64_t size, struct strbuf *first)
{
	struct mbox_reader *r = mbox_reader_open(fd);
	struct mbox_msg msg;
	uint64_t expect_from = 0;
	char *err = NULL;
	int n = 0, rc;

	if (r == NULL)
		abort();
	while ((rc = mbox_reader_next(r, &msg, &err)) > 0) {
		struct sink lf, crlf;

		if (msg.from_offset != expect_from || msg.from_offset >= msg.header_offset ||
		    msg.header_offset > msg.body_offset || msg.body_offset > msg.end_offset ||
		    msg.end_offset > msg.next_offset || msg.next_offset > size)
			abort();
		expect_from = msg.next_offset;
		strbuf_init(&lf.sb, 0);
		strbuf_init(&crlf.sb, 0);
		if (mbox_message_export(fd, &msg, false, sink_out, &lf, &err) < 0 ||
		    mbox_message_export(fd, &msg, true, sink_out, &crlf, &err) < 0)
			abort();
		if (lf.sb.len != msg.size_unquoted || crlf.sb.len != msg.rfc822_size ||
		    mbox_rfc822_size(lf.sb.data, lf.sb.len) != msg.rfc822_size)
			abort();
		if (n == 0 && first != NULL) {
			strbuf_reset(first);
			if (lf.sb.len && strbuf_append(first, lf.sb.data, lf.sb.len) < 0)
				abort();
		}
		strbuf_free(&lf.sb);
		strbuf_free(&crlf.sb);
		n++;
	}
	free(err);
	mbox_reader_free(&r);
	/* A file the reader accepted is tiled by its messages. */
	if (rc == 0 && n > 0 && expect_from != size)
		abort();
	return rc < 0 ? -1 : n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int in_fd = -1, out_fd = -1;
	static bool quiet;
	struct strbuf got, want;
	char *err = NULL, sender[MBOX_SENDER_MAX];
	time_t date;
	struct stat st;

	if (!quiet) {
		log_init("fuzz", 0);
		setenv("TZ", "UTC", 1);
		quiet = true;
	}
	if (size > 1 << 20)
		return 0;
	(void)mbox_from_parse((const char *)data, size, sender, sizeof(sender), &date);

	check_file(memfd_with(&in_fd, data, size), size, NULL);

	/* Round trip through the writer. */
	memfd_with(&out_fd, NULL, 0);
	if (mbox_append_mem(out_fd, "fuzz", "fuzz@example.org", 1795600800, data, size, NULL, &err) != 0)
		abort();
	if (fstat(out_fd, &st) < 0)
		abort();
	strbuf_init(&got, 0);
	strbuf_init(&want, 0);
	if (check_file(out_fd, (uint64_t)st.st_size, &got) != 1)
		abort();
	if (size && strbuf_append(&want, data, size) < 0)
		abort();
	if (size && data[size - 1] != '\n' && strbuf_putc(&want, '\n') < 0)
		abort();
	if (got.len != want.len || (got.len && memcmp(got.data, want.data, got.len) != 0))
		abort();
	strbuf_free(&got);
	strbuf_free(&want);
	return 0;
}
