/*
 * fuzz_imap_fetch.c - libFuzzer harness for the FETCH attribute parser
 * and the response renderer (imap/imap-fetch-parse.c, imap/imap-fetch.c).
 * The input's first line is the attribute text: "(A B C)" becomes a list
 * of atoms split at spaces outside brackets, anything else one atom; the
 * rest is a message parsed from memory. A parsed query is rendered for
 * that message twice, once straight through and once with an output that
 * claims to be full after every write, and both must give the same bytes
 * (the pause/resume path cannot change the response). Seeds in
 * tests/fuzz/corpus/imap_fetch/.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "imap/imap-fetch.h"

#define MAX_ATOMS 64

struct sink {
	struct strbuf out;
	bool pause;
	bool just_wrote;
};

static void s_write(void *ctx, const void *data, size_t len)
{
	struct sink *s = ctx;

	if (strbuf_append(&s->out, data, len) < 0)
		abort();
	s->just_wrote = true;
}

static bool s_full(void *ctx)
{
	struct sink *s = ctx;
	bool full = s->pause && s->just_wrote;

	s->just_wrote = false;
	return full;
}

static void render(const struct imap_fetch_query *q, struct imap_fetch_msg *m, struct sink *s)
{
	struct imap_fetch_render r;
	struct imap_fetch_out out = { s_write, s_full, s };
	const char *err = NULL;
	int rc, rounds = 0;

	strbuf_init(&s->out, 0);
	imap_fetch_render_init(&r, q, m);
	while ((rc = imap_fetch_render_run(&r, &out, &err)) == 0) {
		if (++rounds > 10000000)
			abort();
	}
	if (rc < 0 && err == NULL)
		abort();
	imap_fetch_render_free(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nl = memchr(data, '\n', size);
	size_t alen = nl ? (size_t)(nl - data) : size;
	char *text = malloc(alen + 1);
	struct imap_arg atoms[MAX_ATOMS], arg;
	struct imap_fetch_query q;
	const char *err = NULL;
	size_t n = 0;

	if (text == NULL)
		return 0;
	memcpy(text, data, alen);
	text[alen] = '\0';
	memset(&arg, 0, sizeof(arg));
	if (alen >= 2 && text[0] == '(' && text[alen - 1] == ')') {
		char *p = text + 1;
		int depth = 0;

		text[alen - 1] = '\0';
		while (*p != '\0' && n < MAX_ATOMS) {
			char *start = p;

			while (*p != '\0' && (depth > 0 || *p != ' ')) {
				if (*p == '[')
					depth++;
				else if (*p == ']' && depth > 0)
					depth--;
				p++;
			}
			if (*p == ' ')
				*p++ = '\0';
			atoms[n] = (struct imap_arg){ .type = IMAP_ARG_ATOM, .data = start, .len = strlen(start) };
			n++;
		}
		arg.type = IMAP_ARG_LIST;
		arg.list = atoms;
		arg.list_count = n;
	} else {
		arg.type = IMAP_ARG_ATOM;
		arg.data = text;
		arg.len = strlen(text);
	}
	if (imap_fetch_parse(&arg, &q, &err) == 0) {
		const uint8_t *msg = nl ? nl + 1 : data + size;
		size_t msize = (size_t)(data + size - msg);
		struct mime_message *mime = mime_parse_mem(msg, msize, NULL, &err);

		if (mime != NULL) {
			struct imap_fetch_msg m = { .seq = 1, .uid = 7, .flags = STORE_FLAG_SEEN,
						    .keywords = "kw", .internaldate = 0,
						    .size = mime_message_size(mime, true), .mime = mime,
						    .add_uid = true, .add_flags = true };
			struct sink a = { .pause = false }, b = { .pause = true };

			render(&q, &m, &a);
			render(&q, &m, &b);
			if (a.out.len != b.out.len || memcmp(a.out.data, b.out.data, a.out.len) != 0)
				abort();
			strbuf_free(&a.out);
			strbuf_free(&b.out);
			mime_message_free(&mime);
		}
		imap_fetch_query_free(&q);
	} else if (err == NULL) {
		abort();
	}
	free(text);
	return 0;
}
