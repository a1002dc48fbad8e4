/*
 * fuzz_local_pipe_content.c - libFuzzer harness for
 * smtp/queue/local-pipe-content.c, which turns queued content (CR LF)
 * into what a |command or an mbox file gets. The first byte picks mbox
 * mode and the output piece size; the rest is the content, put in a
 * memfd and read back with pread as the queue file would be. The output
 * is compared with a plain reference: the prefix, then the content with
 * each CR LF made LF and, for mbox, ">" before "From " at a line start,
 * and "\n" (plus one if the content did not end in one) at the end.
 * Built by `make fuzz`; seeds in tests/fuzz/corpus/fuzz_local_pipe_content/.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "util.h"
#include "smtp/queue/local-pipe-private.h"

/* reference - the expected transformation, one simple pass (the prefix
 * ends in a newline, so empty content needs only the closing one). */
static char *reference(const uint8_t *in, size_t len, bool mbox, size_t *out_len)
{
	char *out = malloc(len * 2 + 4);
	size_t o = 0;
	bool line_start = true;

	if (out == NULL)
		return NULL;
	for (size_t i = 0; i < len; i++) {
		if (in[i] == '\r' && i + 1 < len && in[i + 1] == '\n')
			continue;
		if (mbox && line_start && len - i >= 5 && memcmp(in + i, "From ", 5) == 0)
			out[o++] = '>';
		out[o++] = (char)in[i];
		line_start = in[i] == '\n';
	}
	if (mbox) {
		if (o > 0 && out[o - 1] != '\n')
			out[o++] = '\n';
		out[o++] = '\n';
	}
	*out_len = o;
	return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct local_pipe_content *c;
	struct local_pipe_req req = { .sender = "a@example.com", .recipient = "list@example.com" };
	struct strbuf got;
	char piece[300];
	size_t cap, want_len, skip;
	char *want;
	bool mbox;
	int fd;

	if (size < 1 || size > 200000)
		return 0;
	mbox = data[0] & 1;
	cap = 16 + (data[0] >> 1); /* small pieces stress the held "From " bytes */
	fd = memfd_create("fuzz", MFD_CLOEXEC);
	if (fd < 0)
		return 0;
	/* Some bytes before the content, as the envelope in a queue file. */
	if (write(fd, "ENVELOPE", 8) != 8 || (size > 1 && write(fd, data + 1, size - 1) != (ssize_t)(size - 1))) {
		close(fd);
		return 0;
	}
	req.fd = fd;
	req.offset = 8;
	req.size = (off_t)(size - 1);
	c = malloc(sizeof(*c));
	if (c == NULL || local_pipe_content_init(c, &req, mbox, 1700000000) < 0) {
		free(c);
		close(fd);
		return 0;
	}
	strbuf_init(&got, 0);
	for (;;) {
		ssize_t n = local_pipe_content_read(c, piece, cap);
		if (n < 0)
			abort();
		if (n == 0)
			break;
		if ((size_t)n > cap || strbuf_append(&got, piece, (size_t)n) < 0)
			abort();
	}
	want = reference(data + 1, size - 1, mbox, &want_len);
	skip = c->prefix_len;
	if (want != NULL && (got.len != skip + want_len || memcmp(got.data + skip, want, want_len) != 0))
		abort();
	if (memcmp(got.data, c->prefix, skip) != 0)
		abort();
	free(want);
	strbuf_free(&got);
	local_pipe_content_free(c);
	free(c);
	close(fd);
	return 0;
}
