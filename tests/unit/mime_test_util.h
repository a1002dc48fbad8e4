/*
 * mime_test_util.h - helpers for the MIME parser tests (test_mime*.c):
 * load a sample from tests/data/mime/ (or $MIME_DATA_DIR), parse it, and
 * take the IMAP views as NUL-terminated strings.
 */
#ifndef MIME_TEST_UTIL_H
#define MIME_TEST_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/mime.h"
#include "util.h"

struct mt_msg {
	char *data;
	size_t len;
	struct mime_message *m;
};

static inline void mt_load(struct mt_msg *t, const char *name)
{
	const char *dir = getenv("MIME_DATA_DIR");
	const char *err = NULL;
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", dir ? dir : "tests/data/mime", name);
	t->data = file_read_all(path, 64 << 20, &t->len, &err);
	if (t->data == NULL)
		print_error("%s: %s\n", path, err);
	assert_non_null(t->data);
	t->m = mime_parse_mem(t->data, t->len, NULL, &err);
	assert_non_null(t->m);
}

static inline void mt_mem(struct mt_msg *t, const char *text, size_t len)
{
	const char *err = NULL;

	t->data = malloc(len + 1);
	assert_non_null(t->data);
	memcpy(t->data, text, len);
	t->len = len;
	t->m = mime_parse_mem(t->data, t->len, NULL, &err);
	assert_non_null(t->m);
}

static inline void mt_free(struct mt_msg *t)
{
	mime_message_free(&t->m);
	free(t->data);
	t->data = NULL;
}

/* the view as a string (caller frees) */
static inline char *mt_bodystructure(struct mt_msg *t, uint32_t part, bool ext)
{
	struct strbuf sb;
	const char *err = NULL;

	strbuf_init(&sb, 0);
	assert_int_equal(mime_bodystructure(t->m, part, ext, &sb, &err), 0);
	return strbuf_steal(&sb);
}

static inline char *mt_envelope(struct mt_msg *t, uint32_t part)
{
	struct strbuf sb;
	const char *err = NULL;

	strbuf_init(&sb, 0);
	assert_int_equal(mime_envelope(t->m, part, &sb, &err), 0);
	return strbuf_steal(&sb);
}

static inline void mt_assert_bs(struct mt_msg *t, bool ext, const char *want)
{
	char *got = mt_bodystructure(t, 0, ext);

	assert_string_equal(got, want);
	free(got);
}

static inline void mt_assert_env(struct mt_msg *t, uint32_t part, const char *want)
{
	char *got = mt_envelope(t, part);

	assert_string_equal(got, want);
	free(got);
}

/* section as its bytes (RANGE: physical bytes; DATA: the built text);
 * NULL when the section does not exist */
static inline char *mt_section(struct mt_msg *t, const char *spec, uint64_t *crlf_len_r)
{
	struct mime_section s;
	const char *err = NULL;
	char *out;
	int r = mime_section_find(t->m, spec, &s, &err);

	if (r < 0)
		print_error("section %s: %s\n", spec, err);
	assert_true(r >= 0);
	if (r > 0)
		return NULL;
	if (crlf_len_r)
		*crlf_len_r = s.crlf_length;
	if (s.kind == MIME_SECTION_DATA) {
		out = strndup(s.data.data ? s.data.data : "", s.data.len);
	} else {
		out = strndup(t->data + s.offset, (size_t)s.length);
	}
	mime_section_free(&s);
	assert_non_null(out);
	return out;
}

static inline void mt_assert_section(struct mt_msg *t, const char *spec, const char *want)
{
	char *got = mt_section(t, spec, NULL);

	if (want == NULL) {
		assert_null(got);
		return;
	}
	assert_non_null(got);
	assert_string_equal(got, want);
	free(got);
}

/* all search text (headers + bodies) as one string */
static inline char *mt_text(struct mt_msg *t, unsigned flags)
{
	struct mime_text_iter *it = mime_text_iter_new(t->m, flags);
	struct strbuf sb;
	const char *d, *err = NULL;
	size_t n;
	int r;

	assert_non_null(it);
	strbuf_init(&sb, 0);
	while ((r = mime_text_iter_next(it, &d, &n, &err)) > 0)
		assert_int_equal(strbuf_append(&sb, d, n), 0);
	assert_int_equal(r, 0);
	mime_text_iter_free(&it);
	return strbuf_steal(&sb);
}

#endif
