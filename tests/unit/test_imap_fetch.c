/*
 * test_imap_fetch.c - FETCH attribute parsing (imap/imap-fetch-parse.c:
 * macros, sections, partials, the exact BAD texts) and the response
 * renderer (imap/imap-fetch.c) on in-memory messages: item order, UID
 * first for UID FETCH, FLAGS added when \Seen was set, INTERNALDATE form,
 * sections and partials as CRLF bytes, missing sections, cached versus
 * computed ENVELOPE/BODYSTRUCTURE, and a stream that pauses when the
 * output is full and resumes to the same bytes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imap/imap-fetch.h"

static struct imap_arg atom(const char *s)
{
	struct imap_arg a = { .type = IMAP_ARG_ATOM, .data = (char *)s, .len = strlen(s) };
	return a;
}

static int parse_atom(const char *s, struct imap_fetch_query *q, const char **err)
{
	struct imap_arg a = atom(s);

	return imap_fetch_parse(&a, q, err);
}

static void assert_bad(const char *text, const char *want_err)
{
	struct imap_fetch_query q;
	const char *err = NULL;

	if (parse_atom(text, &q, &err) != -1)
		fail_msg("'%s' was accepted", text);
	assert_non_null(err);
	if (strcmp(err, want_err) != 0)
		fail_msg("'%s': error '%s', want '%s'", text, err, want_err);
	assert_null(q.items);
}

static void test_parse_section_partial(void **state)
{
	struct imap_fetch_query q;
	const char *err = NULL;

	(void)state;
	assert_int_equal(parse_atom("BODY[1.2.HEADER.FIELDS (From)]<0.10>", &q, &err), 0);
	assert_int_equal(q.n, 1);
	assert_int_equal(q.items[0].kind, IMAP_FETCH_SECTION);
	assert_string_equal(q.items[0].section, "1.2.HEADER.FIELDS (FROM)");
	assert_null(q.items[0].name);
	assert_false(q.items[0].peek);
	assert_true(q.items[0].partial);
	assert_int_equal(q.items[0].origin, 0);
	assert_int_equal(q.items[0].count, 10);
	assert_true(q.sets_seen);
	assert_true(q.needs_body);
	imap_fetch_query_free(&q);

	assert_int_equal(parse_atom("body.peek[]<4294967295.1>", &q, &err), 0);
	assert_true(q.items[0].peek);
	assert_string_equal(q.items[0].section, "");
	assert_int_equal(q.items[0].origin, 4294967295u);
	assert_false(q.sets_seen);
	imap_fetch_query_free(&q);

	assert_int_equal(parse_atom("BODY.PEEK[HEADER.FIELDS.NOT (\"X-A]\" b)]", &q, &err), 0);
	assert_string_equal(q.items[0].section, "HEADER.FIELDS.NOT (\"X-A]\" B)");
	assert_false(q.items[0].partial);
	imap_fetch_query_free(&q);

	static const char *good[] = { "BODY[TEXT]", "BODY[1]", "BODY[1.MIME]", "BODY[3.2.TEXT]",
				      "BODY[2.HEADER]", "BODY[123456789]" };
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		if (parse_atom(good[i], &q, &err) != 0)
			fail_msg("'%s' refused: %s", good[i], err);
		imap_fetch_query_free(&q);
	}
}

static void test_parse_bad(void **state)
{
	(void)state;
	assert_bad("BODY[", "Missing ] in BODY[section]");
	assert_bad("BODY[]<5.>", "Invalid partial <origin.count>");
	assert_bad("BODY[]<5>", "Invalid partial <origin.count>");
	assert_bad("BODY[]<5.0>", "Invalid partial <origin.count>");
	assert_bad("BODY[]<4294967296.1>", "Invalid partial <origin.count>");
	assert_bad("BODY[]<1.2>x", "Invalid partial <origin.count>");
	assert_bad("BODY[TEXT]x", "Invalid partial <origin.count>");
	assert_bad("FOO", "Unknown FETCH attribute");
	assert_bad("BODYX", "Unknown FETCH attribute");
	assert_bad("BODY.PEEK", "Unknown FETCH attribute");
	assert_bad("BINARY[1]", "Unknown FETCH attribute");
	assert_bad("RFC822.FOO", "Unknown FETCH attribute");
	assert_bad("BODY[0]", "Invalid section part number");
	assert_bad("BODY[1234567890]", "Invalid section part number");
	assert_bad("BODY[01]", "Invalid section part number");
	assert_bad("BODY[1.]", "Invalid section");
	assert_bad("BODY[1..2]", "Invalid section");
	assert_bad("BODY[FOO]", "Invalid section");
	assert_bad("BODY[1.FOO]", "Invalid section");
	assert_bad("BODY[MIME]", "MIME needs a part number");
	assert_bad("BODY[HEADER.FIELDS]", "Invalid HEADER.FIELDS list");
	assert_bad("BODY[HEADER.FIELDS ()]", "Invalid HEADER.FIELDS list");
	assert_bad("BODY[HEADER.FIELDS (From]", "Invalid HEADER.FIELDS list");
	assert_bad("BODY[HEADER.FIELDS (From) x]", "Invalid HEADER.FIELDS list");
	assert_bad("BODY[HEADER.FIELDS (From  To)]", "Invalid HEADER.FIELDS list");
	assert_bad("BODY[HEADER.FIELDS (\"\")]", "Invalid HEADER.FIELDS list");
	assert_bad("BODY[HEADER.FIELDS.NOTX (A)]", "Invalid HEADER.FIELDS list");
}

static void test_parse_macros_and_lists(void **state)
{
	struct imap_fetch_query q;
	const char *err = NULL;

	(void)state;
	assert_int_equal(parse_atom("all", &q, &err), 0);
	assert_int_equal(q.n, 4);
	assert_int_equal(q.items[0].kind, IMAP_FETCH_FLAGS);
	assert_int_equal(q.items[1].kind, IMAP_FETCH_INTERNALDATE);
	assert_int_equal(q.items[2].kind, IMAP_FETCH_RFC822_SIZE);
	assert_int_equal(q.items[3].kind, IMAP_FETCH_ENVELOPE);
	assert_false(q.needs_body);
	assert_true(q.has_envelope);
	imap_fetch_query_free(&q);
	assert_int_equal(parse_atom("FAST", &q, &err), 0);
	assert_int_equal(q.n, 3);
	imap_fetch_query_free(&q);
	assert_int_equal(parse_atom("FULL", &q, &err), 0);
	assert_int_equal(q.n, 5);
	assert_int_equal(q.items[4].kind, IMAP_FETCH_BODY);
	assert_true(q.needs_body);
	imap_fetch_query_free(&q);

	struct imap_arg items[] = { atom("UID"), atom("RFC822.HEADER"), atom("RFC822"),
				    atom("RFC822.TEXT"), atom("BODYSTRUCTURE") };
	struct imap_arg list = { .type = IMAP_ARG_LIST, .list = items, .list_count = 5 };
	assert_int_equal(imap_fetch_parse(&list, &q, &err), 0);
	assert_int_equal(q.n, 5);
	assert_true(q.has_uid);
	assert_string_equal(q.items[1].name, "RFC822.HEADER");
	assert_string_equal(q.items[1].section, "HEADER");
	assert_true(q.items[1].peek);
	assert_string_equal(q.items[2].section, "");
	assert_false(q.items[2].peek);
	assert_string_equal(q.items[3].section, "TEXT");
	assert_true(q.sets_seen);
	imap_fetch_query_free(&q);

	/* RFC822.HEADER alone does not set \Seen */
	assert_int_equal(parse_atom("RFC822.HEADER", &q, &err), 0);
	assert_false(q.sets_seen);
	imap_fetch_query_free(&q);

	struct imap_arg with_macro[] = { atom("FLAGS"), atom("ALL") };
	list.list = with_macro;
	list.list_count = 2;
	assert_int_equal(imap_fetch_parse(&list, &q, &err), -1);
	assert_string_equal(err, "ALL, FAST and FULL cannot be inside a list");
	list.list_count = 0;
	assert_int_equal(imap_fetch_parse(&list, &q, &err), -1);
	assert_string_equal(err, "Empty FETCH attribute list");

	struct imap_arg str = { .type = IMAP_ARG_STRING, .data = "FLAGS", .len = 5 };
	assert_int_equal(imap_fetch_parse(&str, &q, &err), -1);
	assert_string_equal(err, "FETCH attributes must be atoms");
	struct imap_arg nested[] = { atom("FLAGS"), { .type = IMAP_ARG_LIST } };
	list.list = nested;
	list.list_count = 2;
	assert_int_equal(imap_fetch_parse(&list, &q, &err), -1);
	assert_string_equal(err, "FETCH attributes must be atoms");
}

static void test_header_only(void **state)
{
	static const struct {
		const char *attr;
		bool header_only;
	} cases[] = {
		{ "ALL", true }, { "FAST", true }, { "FULL", false }, { "ENVELOPE", true },
		{ "RFC822.HEADER", true }, { "BODY.PEEK[HEADER]<0.100>", true },
		{ "BODY[HEADER.FIELDS (From)]", true }, { "BODY.PEEK[HEADER.FIELDS.NOT (X)]", true },
		{ "BODY[1.HEADER]", false }, { "BODY[TEXT]", false }, { "BODY[]", false },
		{ "RFC822", false }, { "RFC822.TEXT", false }, { "BODYSTRUCTURE", false },
		{ "BODY", false }, { "BODY[1]", false },
	};
	struct imap_fetch_query q;
	const char *err = NULL;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(parse_atom(cases[i].attr, &q, &err), 0);
		if (imap_fetch_header_only(&q) != cases[i].header_only)
			fail_msg("%s: header_only should be %d", cases[i].attr, cases[i].header_only);
		imap_fetch_query_free(&q);
	}
}

static void test_internaldate(void **state)
{
	struct strbuf sb;

	(void)state;
	strbuf_init(&sb, 0);
	assert_int_equal(imap_fetch_internaldate(&sb, 0), 0);
	assert_string_equal(sb.data, "\" 1-Jan-1970 00:00:00 +0000\"");
	strbuf_reset(&sb);
	/* 2026-11-25 13:05:09 UTC */
	assert_int_equal(imap_fetch_internaldate(&sb, 1795611909), 0);
	assert_string_equal(sb.data, "\"25-Nov-2026 13:05:09 +0000\"");
	strbuf_free(&sb);
}

/* ---- rendering ---- */

struct collect {
	struct strbuf out;
	size_t writes;
	size_t full_after;   /* full() true once this many bytes went out (0: never) */
};

static void c_write(void *ctx, const void *data, size_t len)
{
	struct collect *c = ctx;

	c->writes++;
	assert_int_equal(strbuf_append(&c->out, data, len), 0);
}

static bool c_full(void *ctx)
{
	struct collect *c = ctx;

	return c->full_after > 0 && c->out.len >= c->full_after;
}

static const char simple_msg[] =
	"From: Alice <alice@example.com>\n"
	"To: bob@example.org\n"
	"Subject: Hi\n"
	"\n"
	"line one\n"
	"line two\n";

/* render m for the atoms in list; the whole output as new memory */
static char *render(const char *const *names, size_t n, struct imap_fetch_msg *m,
		    size_t full_after, int *pauses_r, struct imap_fetch_render *keep)
{
	struct imap_arg items[16];
	struct imap_arg list = { .type = IMAP_ARG_LIST, .list = items, .list_count = n };
	struct imap_fetch_query q;
	struct imap_fetch_render r;
	struct collect c = { .full_after = full_after };
	struct imap_fetch_out out = { c_write, c_full, &c };
	const char *err = NULL;
	int rc, pauses = 0;

	for (size_t i = 0; i < n; i++)
		items[i] = atom(names[i]);
	assert_int_equal(imap_fetch_parse(&list, &q, &err), 0);
	strbuf_init(&c.out, 0);
	imap_fetch_render_init(&r, &q, m);
	while ((rc = imap_fetch_render_run(&r, &out, &err)) == 0) {
		pauses++;
		c.full_after = c.out.len + full_after; /* drained: let some more out */
		assert_true(pauses < 100000);
	}
	if (rc != 1)
		fail_msg("render: %s", err);
	if (pauses_r != NULL)
		*pauses_r = pauses;
	if (keep != NULL) {
		keep->new_envelope = r.new_envelope;
		keep->new_bodystructure = r.new_bodystructure;
		r.new_envelope = r.new_bodystructure = NULL;
	}
	imap_fetch_render_free(&r);
	imap_fetch_query_free(&q);
	return strbuf_steal(&c.out);
}

static void msg_init(struct imap_fetch_msg *m, struct mime_message *mime)
{
	memset(m, 0, sizeof(*m));
	m->seq = 3;
	m->uid = 17;
	m->flags = STORE_FLAG_SEEN | STORE_FLAG_FLAGGED;
	m->keywords = "$Forwarded";
	m->internaldate = 1795611909;
	m->size = mime_message_size(mime, true);
	m->mime = mime;
}

static void test_render_items(void **state)
{
	const char *err = NULL;
	struct mime_message *mime = mime_parse_mem(simple_msg, sizeof(simple_msg) - 1, NULL, &err);
	struct imap_fetch_msg m;
	char *s;

	(void)state;
	assert_non_null(mime);
	msg_init(&m, mime);
	m.recent = true;
	s = render((const char *[]){ "FLAGS", "UID", "INTERNALDATE", "RFC822.SIZE" }, 4, &m, 0, NULL, NULL);
	assert_string_equal(s, "* 3 FETCH (FLAGS (\\Flagged \\Seen \\Recent $Forwarded) UID 17 "
			       "INTERNALDATE \"25-Nov-2026 13:05:09 +0000\" RFC822.SIZE 89)\r\n");
	free(s);

	/* UID FETCH: UID first, and not twice */
	m.add_uid = true;
	m.recent = false;
	s = render((const char *[]){ "FLAGS", "UID" }, 2, &m, 0, NULL, NULL);
	assert_string_equal(s, "* 3 FETCH (UID 17 FLAGS (\\Flagged \\Seen $Forwarded))\r\n");
	free(s);

	/* \Seen just set by BODY[...]: FLAGS comes along (RFC 3501 6.4.5) */
	m.add_flags = true;
	m.add_uid = false;
	s = render((const char *[]){ "BODY[HEADER.FIELDS (subject)]" }, 1, &m, 0, NULL, NULL);
	assert_string_equal(s, "* 3 FETCH (BODY[HEADER.FIELDS (SUBJECT)] {15}\r\nSubject: Hi\r\n\r\n"
			       " FLAGS (\\Flagged \\Seen $Forwarded))\r\n");
	free(s);
	m.add_flags = false;

	/* sections as CRLF bytes; partials name the origin only */
	s = render((const char *[]){ "BODY[TEXT]", "BODY.PEEK[1]<5.8>", "BODY[]<80.100>",
				     "BODY[]<89.1>", "BODY[2]", "BODY[HEADER]<0.6>" }, 6, &m, 0, NULL, NULL);
	assert_string_equal(s, "* 3 FETCH (BODY[TEXT] {20}\r\nline one\r\nline two\r\n "
			       "BODY[1]<5> {8}\r\none\r\nlin BODY[]<80> {9}\r\nine two\r\n BODY[]<89> \"\" "
			       "BODY[2] \"\" BODY[HEADER]<0> {6}\r\nFrom: )\r\n");
	free(s);

	s = render((const char *[]){ "RFC822.HEADER", "RFC822.TEXT" }, 2, &m, 0, NULL, NULL);
	assert_string_equal(s, "* 3 FETCH (RFC822.HEADER {69}\r\nFrom: Alice <alice@example.com>\r\n"
			       "To: bob@example.org\r\nSubject: Hi\r\n\r\n RFC822.TEXT {20}\r\nline one\r\n"
			       "line two\r\n)\r\n");
	free(s);
	mime_message_free(&mime);
}

static void test_render_structures(void **state)
{
	const char *err = NULL;
	struct mime_message *mime = mime_parse_mem(simple_msg, sizeof(simple_msg) - 1, NULL, &err);
	struct imap_fetch_query q;
	struct imap_fetch_render keep;
	struct imap_fetch_msg m;
	char *s;

	(void)state;
	msg_init(&m, mime);
	memset(&keep, 0, sizeof(keep));
	s = render((const char *[]){ "ENVELOPE", "BODY", "BODYSTRUCTURE" }, 3, &m, 0, NULL, &keep);
	assert_string_equal(s, "* 3 FETCH (ENVELOPE (NIL \"Hi\" ((\"Alice\" NIL \"alice\" \"example.com\")) "
			       "((\"Alice\" NIL \"alice\" \"example.com\")) ((\"Alice\" NIL \"alice\" "
			       "\"example.com\")) ((NIL NIL \"bob\" \"example.org\")) NIL NIL NIL NIL) "
			       "BODY (\"TEXT\" \"PLAIN\" (\"CHARSET\" \"us-ascii\") NIL NIL \"7BIT\" 20 2) "
			       "BODYSTRUCTURE (\"TEXT\" \"PLAIN\" (\"CHARSET\" \"us-ascii\") NIL NIL \"7BIT\" "
			       "20 2 NIL NIL NIL NIL))\r\n");
	free(s);
	/* the computed texts are what the cache gets */
	assert_non_null(keep.new_envelope);
	assert_true(str_has_prefix(keep.new_envelope, "(NIL \"Hi\""));
	assert_non_null(keep.new_bodystructure);
	assert_true(str_has_prefix(keep.new_bodystructure, "(\"TEXT\" \"PLAIN\""));
	free(keep.new_envelope);
	free(keep.new_bodystructure);

	/* cached texts are used as they are, without the message */
	m.mime = NULL;
	m.envelope = "(CACHED-ENV)";
	m.bodystructure = "(CACHED-BS)";
	assert_int_equal(parse_atom("ALL", &q, &err), 0);
	assert_false(imap_fetch_needs_mime(&q, &m));
	imap_fetch_query_free(&q);
	memset(&keep, 0, sizeof(keep));
	s = render((const char *[]){ "ENVELOPE", "BODYSTRUCTURE" }, 2, &m, 0, NULL, &keep);
	assert_string_equal(s, "* 3 FETCH (ENVELOPE (CACHED-ENV) BODYSTRUCTURE (CACHED-BS))\r\n");
	assert_null(keep.new_envelope);
	assert_null(keep.new_bodystructure);
	free(s);
	m.envelope = NULL;
	assert_int_equal(parse_atom("ENVELOPE", &q, &err), 0);
	assert_true(imap_fetch_needs_mime(&q, &m));
	imap_fetch_query_free(&q);
	assert_int_equal(parse_atom("BODY", &q, &err), 0);
	m.envelope = "(X)";
	assert_true(imap_fetch_needs_mime(&q, &m));
	imap_fetch_query_free(&q);
	mime_message_free(&mime);
}

#define LINE 29 /* "line 000000 of the big body\r\n" */

static void test_render_stream_pauses(void **state)
{
	const char *err = NULL;
	size_t lines = 20000, len;
	struct strbuf big;
	struct mime_message *mime;
	struct imap_fetch_msg m;
	int pauses = 0;
	char *s, *expect_body;

	(void)state;
	/* a bare-LF message of ~400 KB: sent with CRLF, paused when full */
	strbuf_init(&big, 0);
	assert_int_equal(strbuf_puts(&big, "Subject: big\n\n"), 0);
	for (size_t i = 0; i < lines; i++)
		assert_int_equal(strbuf_printf(&big, "line %06zu of the big body\n", i), 0);
	mime = mime_parse_mem(big.data, big.len, NULL, &err);
	assert_non_null(mime);
	msg_init(&m, mime);
	s = render((const char *[]){ "UID", "BODY.PEEK[TEXT]", "FLAGS" }, 3, &m, 64 * 1024, &pauses, NULL);
	assert_true(pauses >= 5);
	len = strlen(s);
	/* the literal is exactly the body with CRLF line ends */
	expect_body = malloc(lines * LINE + 1);
	assert_non_null(expect_body);
	for (size_t i = 0; i < lines; i++)
		snprintf(expect_body + i * LINE, LINE + 1, "line %06zu of the big body\r\n", i);
	char head[64];
	snprintf(head, sizeof(head), "* 3 FETCH (UID 17 BODY[TEXT] {%zu}\r\n", lines * LINE);
	assert_true(str_has_prefix(s, head));
	assert_int_equal(len, strlen(head) + lines * LINE + strlen(" FLAGS (\\Flagged \\Seen $Forwarded))\r\n"));
	assert_memory_equal(s + strlen(head), expect_body, lines * LINE);
	assert_string_equal(s + strlen(head) + lines * LINE, " FLAGS (\\Flagged \\Seen $Forwarded))\r\n");
	free(expect_body);
	free(s);
	mime_message_free(&mime);
	strbuf_free(&big);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_section_partial),
		cmocka_unit_test(test_parse_bad),
		cmocka_unit_test(test_parse_macros_and_lists),
		cmocka_unit_test(test_header_only),
		cmocka_unit_test(test_internaldate),
		cmocka_unit_test(test_render_items),
		cmocka_unit_test(test_render_structures),
		cmocka_unit_test(test_render_stream_pauses),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
