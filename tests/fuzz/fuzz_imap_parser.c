/*
 * fuzz_imap_parser.c - libFuzzer harness for imap/imap-parser.c: the input
 * is what a client sends, split into lines at LF (a CR before it is
 * dropped, as lib/conn does); when the parser asks for a literal the next
 * bytes of the input are fed as its data (in chunks, as the conn would),
 * and bytes a refused LITERAL+ must lose are skipped. Every complete
 * command's tree is walked with the argument helpers, and each atom is
 * also tried as a sequence set.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "imap/imap-private.h"

static int flags_fn(const char *name, bool uid, void *ctx)
{
	(void)ctx;
	if (strcmp(name, "APPEND") == 0)
		return uid ? -1 : IMAP_CMD_FLAG_APPEND;
	if (strcmp(name, "FETCH") == 0 || strcmp(name, "SEARCH") == 0 || strcmp(name, "STORE") == 0)
		return IMAP_CMD_FLAG_USES_SEQS;
	if (strcmp(name, "BOGUS") == 0)
		return -1;
	return uid ? -1 : 0;
}

static size_t walk(const struct imap_arg *a, size_t n, int depth)
{
	size_t sum = 0;

	if (depth > IMAP_MAX_DEPTH + 1)
		abort();   /* the parser promised a bound */
	for (size_t i = 0; i < n; i++) {
		sum += a[i].len;
		(void)imap_arg_astring(&a[i]);
		(void)imap_arg_is_nil(&a[i]);
		(void)imap_arg_is_atom(&a[i], "BODY[]");
		if (a[i].type == IMAP_ARG_ATOM) {
			struct imap_seq_range *r;
			size_t nr;
			if (imap_seqset_parse(a[i].data, &r, &nr) == 0)
				free(r);
		}
		if (a[i].type == IMAP_ARG_LIST)
			sum += walk(a[i].list, a[i].list_count, depth + 1);
	}
	return sum;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct imap_parser_settings set = {
		.flags_fn = flags_fn, .literal_size_limit = 200000, .tmp_dir = "/tmp",
	};
	struct imap_parser *p = imap_parser_new(&set);
	size_t pos = 0;

	if (p == NULL)
		return 0;
	while (pos < size) {
		const uint8_t *nl = memchr(data + pos, '\n', size - pos);
		size_t end = nl ? (size_t)(nl - data) : size;
		size_t len = end - pos;
		struct imap_parse_out out;
		const char *tag, *name, *code, *text;
		bool uid, bad;
		const struct imap_arg *args;
		size_t nargs;

		if (len > 0 && data[pos + len - 1] == '\r')
			len--;
		/* lines are NUL-terminated by lib/conn */
		char *line = malloc(len + 1);
		if (line == NULL)
			break;
		memcpy(line, data + pos, len);
		line[len] = '\0';
		pos = nl ? end + 1 : size;
		enum imap_parse_result r = imap_parser_line(p, line, len, &out);
		free(line);
		switch (r) {
		case IMAP_PARSE_DONE:
			imap_parser_command(p, &tag, &name, &uid, &args, &nargs);
			(void)walk(args, nargs, 0);
			imap_parser_reset(p);
			break;
		case IMAP_PARSE_LITERAL: {
			uint64_t want = out.literal_size;
			while (want > 0 && pos < size) {
				size_t chunk = size - pos < want ? size - pos : (size_t)want;
				if (chunk > 16384)
					chunk = 16384;
				(void)imap_parser_literal(p, data + pos, chunk);
				pos += chunk;
				want -= chunk;
			}
			break;
		}
		case IMAP_PARSE_ERROR:
			imap_parser_error(p, &tag, &bad, &code, &text);
			/* fall through */
		case IMAP_PARSE_IGNORE:
			pos += out.discard < size - pos ? (size_t)out.discard : size - pos;
			break;
		}
	}
	imap_parser_free(&p);
	return 0;
}
