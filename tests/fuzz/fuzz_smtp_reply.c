/*
 * fuzz_smtp_reply.c - libFuzzer harness for the SMTP client's reply
 * parser (smtp/client/reply.c): arbitrary bytes, fed in pieces whose
 * sizes come from the input itself (the first byte seeds them), with
 * every complete reply taken and checked against the parser's promises
 * (code 200..599, as many lines as it says, a dsn of the reply's class).
 * The limit is small (512 + a few bytes) so that the limit paths are hit.
 * Seed corpus: tests/fuzz/corpus/fuzz_smtp_reply/.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtp/client/smtp-client.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct smtpc_reply_parser *p;
	struct smtpc_reply r;
	const char *error = NULL;
	size_t off = 1, i;
	unsigned seed;
	int ret;

	if (size < 1)
		return 0;
	seed = data[0];
	p = smtpc_reply_parser_new(512 + seed * 4);
	if (p == NULL)
		return 0;
	while (off < size) {
		size_t n = (seed = seed * 1103515245u + 12345u) % 97 + 1;

		if (n > size - off)
			n = size - off;
		smtpc_reply_feed(p, (const char *)data + off, n);
		off += n;
		while ((ret = smtpc_reply_next(p, &r, &error)) == 1) {
			if (r.code < 200 || r.code > 599 || r.n_lines < 1 || r.text == NULL)
				abort();
			for (i = 0; i < r.n_lines; i++)
				if (strlen(r.lines[i]) < 3 || strlen(r.lines[i]) > 4096)
					abort();
			if (r.dsn[0] != '\0' && r.dsn[0] - '0' != r.code / 100)
				abort();
		}
		if (ret < 0) {
			if (error == NULL)
				abort();
			break;
		}
	}
	smtpc_reply_parser_free(&p);
	return 0;
}
