/*
 * fuzz_smtp_data.c - libFuzzer harness for the SMTP client's content
 * encoder (smtp/client/data.c, mime-downgrade.c): arbitrary message
 * content in a memfd, encoded with the 8-bit downgrade on and a small
 * line limit (the first byte picks both), drained in small pieces. The
 * output must never contain a line "." before the end, nor a bare CR or
 * LF, nor an 8-bit byte in a converted part's body. Seed corpus:
 * tests/fuzz/corpus/fuzz_smtp_data/.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "smtp/client/client-private.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct smtpc_data *d;
	struct strbuf out, all;
	const char *error = NULL;
	bool bounce = false;
	int fd, ret;
	size_t i;

	if (size < 1)
		return 0;
	fd = memfd_create("fuzz", 0);
	if (fd < 0)
		return 0;
	if (write(fd, data + 1, size - 1) != (ssize_t)(size - 1)) {
		close(fd);
		return 0;
	}
	d = smtpc_data_new(fd, 0, (off_t)(size - 1), data[0] & 0x40 ? (data[0] & 0x3f) + 2 : 0,
			   (data[0] & 0x80) != 0);
	if (d == NULL) {
		close(fd);
		return 0;
	}
	strbuf_init(&out, 0);
	strbuf_init(&all, 0);
	do {
		strbuf_reset(&out);
		ret = smtpc_data_next(d, &out, 100, &bounce, &error);
		if (ret >= 0)
			strbuf_append(&all, out.data != NULL ? out.data : "", out.len);
	} while (ret == 1);
	if (ret == 0) {
		/* ends with CR LF . CR LF (or is just ". CR LF") */
		if (all.len < 3 || memcmp(all.data + all.len - 3, ".\r\n", 3) != 0)
			abort();
		for (i = 0; i < all.len; i++) {
			if (all.data[i] == '\n' && (i == 0 || all.data[i - 1] != '\r'))
				abort();
			if (all.data[i] == '\r' && (i + 1 >= all.len || all.data[i + 1] != '\n'))
				abort();
			/* a line that is just "." only at the very end */
			if (all.data[i] == '.' && (i == 0 || all.data[i - 1] == '\n') &&
			    i + 1 < all.len && all.data[i + 1] == '\r' && i + 3 != all.len)
				abort();
		}
	} else if (error == NULL) {
		abort();
	}
	strbuf_free(&out);
	strbuf_free(&all);
	smtpc_data_free(&d);
	close(fd);
	return 0;
}
