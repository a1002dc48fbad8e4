/*
 * fuzz_mime.c - libFuzzer harness for the MIME parser (store/mime*.c):
 * the input is a message parsed from memory twice (default limits, then
 * tiny limits and the smallest window so the long-line and limit paths
 * run) and once from a memfd with the smallest window, which must give
 * the same BODYSTRUCTURE, ENVELOPE and header bytes as memory; on each result it checks the tree's offsets, takes ENVELOPE,
 * BODY and BODYSTRUCTURE, resolves every existing section (found by
 * probing numbers) with MIME/HEADER/TEXT/HEADER.FIELDS variants, and
 * reads all SEARCH text. The raw input also goes to the header decoder,
 * the Content-Type, address and date parsers. Built by `make fuzz`;
 * seeds in tests/fuzz/corpus/fuzz_mime/.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "store/mime.h"

#define MAX_SPECS 300

static void check_tree(struct mime_message *m, size_t size)
{
	for (uint32_t i = 0; i < mime_part_count(m); i++) {
		const struct mime_part *p = mime_part_get(m, i);

		if (p->hdr_off > p->body_off || p->body_off > p->end_off || p->end_off > size)
			abort();
		if (p->parent != MIME_NONE) {
			const struct mime_part *pp = mime_part_get(m, p->parent);
			if (p->hdr_off < pp->body_off || p->end_off > pp->end_off || p->parent >= i)
				abort();
		}
	}
}

static void try_section(struct mime_message *m, const char *spec, size_t size)
{
	struct mime_section s;
	const char *err = NULL;
	int r = mime_section_find(m, spec, &s, &err);

	if (r < 0 && err == NULL)
		abort();
	if (r == 0) {
		if (s.kind == MIME_SECTION_RANGE && (s.offset > size || s.length > size - s.offset))
			abort();
		if (s.kind == MIME_SECTION_RANGE) {
			/* the bytes sent must be exactly the size announced */
			struct mime_section_reader rd;
			char buf[700];
			uint64_t total = 0;
			ssize_t n;

			if (mime_section_reader_init(&rd, m, &s, 0, &err) < 0)
				abort();
			while ((n = mime_section_reader_read(&rd, buf, sizeof(buf), &err)) > 0)
				total += (uint64_t)n;
			if (n < 0 || total != s.crlf_length)
				abort();
			/* a <partial> origin in the middle leaves the rest */
			uint64_t skip = s.crlf_length / 2;
			if (mime_section_reader_init(&rd, m, &s, skip, &err) < 0)
				abort();
			total = 0;
			while ((n = mime_section_reader_read(&rd, buf, sizeof(buf), &err)) > 0)
				total += (uint64_t)n;
			if (n < 0 || total != s.crlf_length - skip)
				abort();
		}
		mime_section_free(&s);
	}
}

static void sections(struct mime_message *m, size_t size)
{
	static const char *const suffixes[] = {
		"MIME", "HEADER", "TEXT", "HEADER.FIELDS (Subject From content-type)",
		"HEADER.FIELDS.NOT (Subject)",
	};
	char (*queue)[128] = malloc(MAX_SPECS * sizeof(*queue));
	size_t head = 0, tail = 0;
	char spec[160];

	if (queue == NULL)
		return;
	try_section(m, "", size);
	try_section(m, "HEADER", size);
	try_section(m, "TEXT", size);
	try_section(m, "HEADER.FIELDS (Date To)", size);
	queue[tail++][0] = '\0';
	while (head < tail) {
		const char *base = queue[head++];

		for (unsigned k = 1; k < 50 && tail < MAX_SPECS; k++) {
			struct mime_section s;
			const char *err;

			snprintf(spec, sizeof(spec), "%s%s%u", base, base[0] ? "." : "", k);
			if (strlen(spec) >= sizeof(queue[0]))
				break;
			if (mime_section_find(m, spec, &s, &err) != 0)
				break;
			mime_section_free(&s);
			for (size_t j = 0; j < sizeof(suffixes) / sizeof(suffixes[0]); j++) {
				char full[200];
				snprintf(full, sizeof(full), "%s.%s", spec, suffixes[j]);
				try_section(m, full, size);
			}
			memcpy(queue[tail++], spec, strlen(spec) + 1);
		}
	}
	free(queue);
}

static void views(struct mime_message *m, size_t size)
{
	struct strbuf sb;
	const char *err;
	const char *d;
	size_t n;

	check_tree(m, size);
	strbuf_init(&sb, 0);
	if (mime_envelope(m, 0, &sb, &err) < 0)
		abort();
	strbuf_reset(&sb);
	if (mime_bodystructure(m, 0, true, &sb, &err) < 0)
		abort();
	strbuf_reset(&sb);
	if (mime_bodystructure(m, 0, false, &sb, &err) < 0)
		abort();
	strbuf_free(&sb);
	sections(m, size);
	struct mime_text_iter *it = mime_text_iter_new(m, MIME_TEXT_HEADERS | MIME_TEXT_BODY);
	if (it == NULL)
		abort();
	while (mime_text_iter_next(it, &d, &n, &err) > 0)
		;
	mime_text_iter_free(&it);
	(void)mime_text_contains(m, MIME_TEXT_BODY, "xyz", &err);
}

/* the fd path with the smallest window must give the same structure */
static void same_from_fd(struct mime_message *mm, const uint8_t *data, size_t size)
{
	struct mime_limits lim;
	struct mime_message *mf;
	struct strbuf a, b;
	const char *err;
	int fd = memfd_create("fuzz_mime", 0);

	if (fd < 0)
		return;
	if (write(fd, data, size) != (ssize_t)size) {
		close(fd);
		return;
	}
	mime_limits_default(&lim);
	lim.window = 1;
	mf = mime_parse_fd(fd, size, &lim, &err);
	if (mf == NULL)
		abort();
	strbuf_init(&a, 0);
	strbuf_init(&b, 0);
	if (mime_bodystructure(mf, 0, true, &a, &err) < 0 || mime_bodystructure(mm, 0, true, &b, &err) < 0 ||
	    mime_envelope(mf, 0, &a, &err) < 0 || mime_envelope(mm, 0, &b, &err) < 0 ||
	    mime_header_fields(mf, 0, NULL, 0, true, &a, &err) < 0 ||
	    mime_header_fields(mm, 0, NULL, 0, true, &b, &err) < 0)
		abort();
	if (a.len != b.len || memcmp(a.data, b.data, a.len) != 0)
		abort();
	strbuf_free(&a);
	strbuf_free(&b);
	mime_message_free(&mf);
	close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mime_limits lim;
	struct mime_message *m;
	const char *err;
	const char *s = (const char *)data;

	m = mime_parse_mem(data, size, NULL, &err);
	if (m == NULL)
		abort();
	views(m, size);
	same_from_fd(m, data, size);
	mime_message_free(&m);

	mime_limits_default(&lim);
	lim.window = 1;
	lim.max_depth = 3;
	lim.max_parts = 7;
	lim.max_field_len = 40;
	lim.max_fields = 5;
	m = mime_parse_mem(data, size, &lim, &err);
	if (m == NULL)
		abort();
	views(m, size);
	mime_message_free(&m);

	struct strbuf sb;
	strbuf_init(&sb, 0);
	(void)mime_header_decode(s, size, &sb);
	strbuf_free(&sb);
	struct mime_content c;
	if (mime_content_parse(s, size, false, &c) == 0)
		mime_content_free(&c);
	if (mime_content_parse(s, size, true, &c) == 0)
		mime_content_free(&c);
	struct mime_address *a = NULL;
	size_t na = 0;
	if (mime_address_parse(s, size, &a, &na) == 0)
		mime_address_free(&a, na);
	time_t t;
	int tz;
	(void)mime_date_parse(s, size, &t, &tz);
	return 0;
}
