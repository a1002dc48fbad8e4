/*
 * test_resolve_rewrite.c - smtp/resolve/rewrite.c and header-rewrite.c:
 * append_at_myorigin, append_dot_mydomain, canonical maps (sender_ and
 * recipient_ first, extensions, "@domain" results, canonical_classes),
 * masquerading (exceptions, "!" exclusions, classes) on the envelope
 * through resolve_expand and on headers through resolve_rewrite_header.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "resolve_test_util.h"

static struct resolve *new_resolve(const char *extra)
{
	struct config *cfg = rs_config(extra);
	struct resolve *r;
	char *err = NULL;

	assert_non_null(cfg);
	r = resolve_new(cfg, &err);
	if (r == NULL)
		fail_msg("resolve_new: %s", err);
	config_free(&cfg);
	return r;
}

/* The rewritten sender ("=" when unchanged). */
static char *sender(struct resolve *r, const char *s)
{
	const char *const one[] = { "alice", NULL };
	char *xs = NULL, *got = rs_expand_hdr(r, s, NULL, one, &xs);

	free(got);
	return xs ? xs : must_strdup("=");
}

#define SENDER(r, in, expected)                                 \
	do {                                                    \
		char *got_ = sender((r), (in));                 \
		assert_string_equal(got_, (expected));          \
		free(got_);                                     \
	} while (0)

static void test_qualify(void **state)
{
	struct resolve *r = new_resolve(NULL);

	(void)state;
	SENDER(r, "bob", "bob@example.com");
	SENDER(r, "bob@host", "=");
	SENDER(r, "bob@example.com", "=");
	SENDER(r, "bob@example.com.", "bob@example.com");
	resolve_free(&r);
	r = new_resolve("append_dot_mydomain = yes\nmyorigin = $myhostname\n");
	SENDER(r, "bob", "bob@mail.example.com");
	SENDER(r, "bob@host", "bob@host.example.com");
	SENDER(r, "bob@[192.0.2.1]", "=");
	resolve_free(&r);
	r = new_resolve("append_at_myorigin = no\n");
	SENDER(r, "bob", "=");
	resolve_free(&r);
}

static void test_canonical(void **state)
{
	struct resolve *r = new_resolve(
		"canonical_maps = inline:{ bob@example.com=Bob.Smith@example.com, "
		"@legacy.example=@example.com, carl=carl.jones@example.com }\n"
		"sender_canonical_maps = inline:{ bob@example.com=robert@example.com }\n"
		"recipient_canonical_maps = inline:{ old@example.com=alice@example.com }\n");

	(void)state;
	/* sender_canonical_maps before canonical_maps. */
	SENDER(r, "bob@example.com", "robert@example.com");
	/* "@domain" result: same local part, new domain. */
	SENDER(r, "zed@legacy.example", "zed@example.com");
	/* "user" keys match in local domains only (myorigin, mydestination). */
	SENDER(r, "carl@mail.example.com", "carl.jones@example.com");
	SENDER(r, "carl@remote.example", "=");
	/* Extension: tried with, then without; propagated (canonical). */
	SENDER(r, "bob+x@example.com", "robert+x@example.com");
	/* Recipients: recipient_canonical_maps, then canonical_maps. */
	RS_EXPECT(r, "0:addr:alice@example.com", "old@example.com");
	RS_EXPECT(r, "0:addr:alice+tag@example.com", "old+tag@example.com");
	RS_EXPECT(r, "0:addr:alice@example.com", "alice@legacy.example");
	resolve_free(&r);
	r = new_resolve("canonical_maps = inline:{ bob@example.com=alice@example.com }\n"
			"canonical_classes = envelope_recipient\n"
			"propagate_unmatched_extensions =\n");
	SENDER(r, "bob@example.com", "=");
	RS_EXPECT(r, "0:addr:alice@example.com", "bob+x@example.com");
	resolve_free(&r);
}

static void test_masquerade(void **state)
{
	struct resolve *r = new_resolve("masquerade_domains = !keep.example.com, example.com\n"
					"masquerade_exceptions = root\n");

	(void)state;
	SENDER(r, "bob@host.example.com", "bob@example.com");
	SENDER(r, "bob@a.b.example.com", "bob@example.com");
	SENDER(r, "bob@example.com", "=");
	SENDER(r, "bob@notexample.com", "=");
	SENDER(r, "root@host.example.com", "=");
	SENDER(r, "bob@x.keep.example.com", "=");
	/* envelope_recipient is not in masquerade_classes by default. */
	RS_EXPECT(r, "0:addr:bob@host.example.com", "bob@host.example.com");
	resolve_free(&r);
	r = new_resolve("masquerade_domains = example.com\n"
			"masquerade_classes = envelope_recipient\n");
	SENDER(r, "bob@host.example.com", "=");
	RS_EXPECT(r, "0:addr:bob@example.com", "bob@host.example.com");
	resolve_free(&r);
}

static void test_bad_class(void **state)
{
	struct config *cfg = rs_config("masquerade_classes = envelope_sender, header_sendr\n");
	char *err = NULL;

	(void)state;
	assert_non_null(cfg);
	assert_null(resolve_new(cfg, &err));
	assert_string_equal(err, "t.cf:5: masquerade_classes: unknown item \"header_sendr\"; use "
				 "envelope_sender, envelope_recipient, header_sender, header_recipient");
	free(err);
	config_free(&cfg);
}

static char *hdr_rewrite(struct resolve *r, const char *in)
{
	char *out = NULL, *err = NULL;
	size_t len = 0;
	int rc = resolve_rewrite_header(r, in, strlen(in), &out, &len, &err);

	if (rc < 0) {
		char *s = must_asprintf("TEMP: %s", err);

		free(err);
		return s;
	}
	if (rc == 0) {
		assert_null(out);
		return must_strdup("UNCHANGED");
	}
	assert_int_equal(strlen(out), len);
	return out;
}

static void test_headers(void **state)
{
	struct resolve *r = new_resolve("masquerade_domains = example.com\n"
					"masquerade_exceptions = root\n"
					"canonical_maps = inline:{ carol@remote.example=c.smith@remote.example }\n");
	char *got;

	(void)state;
	got = hdr_rewrite(r, "From: \"Bob Smith\" <bob@host.example.com>\r\n"
			     "To: alice, Carol <carol@remote.example> (the boss),\r\n"
			     "\tundisclosed: dave@host.example.com;\r\n"
			     "Subject: bob@host.example.com\r\n"
			     "Cc: (comment) root@host.example.com, \"x, y\" <e@host.example.com>\r\n"
			     "Reply-To: f@host.example.com (F)\r\n"
			     "\r\n"
			     "To: bob@host.example.com\r\n");
	assert_string_equal(got, "From: \"Bob Smith\" <bob@example.com>\r\n"
				 "To: alice@example.com, Carol <c.smith@remote.example> (the boss),\r\n"
				 "\tundisclosed: dave@example.com;\r\n"
				 "Subject: bob@host.example.com\r\n"
				 "Cc: (comment) root@host.example.com, \"x, y\" <e@example.com>\r\n"
				 "Reply-To: f@example.com (F)\r\n"
				 "\r\n"
				 "To: bob@host.example.com\r\n");
	free(got);
	got = hdr_rewrite(r, "From: bob@example.com\nTo: undisclosed-recipients:;\nSubject: hi\n\n");
	assert_string_equal(got, "UNCHANGED");
	free(got);
	/* Broken syntax is left alone, not half rewritten. */
	got = hdr_rewrite(r, "From: \"unterminated <bob@host.example.com>\r\n"
			     "To: <bob@host.example.com\r\n"
			     "Cc: Two Words@host.example.com\r\n\r\n");
	assert_string_equal(got, "UNCHANGED");
	free(got);
	resolve_free(&r);
	/* No header class: nothing is looked at. */
	r = new_resolve("masquerade_domains = example.com\nmasquerade_classes = envelope_sender\n"
			"canonical_classes = envelope_sender\n");
	got = hdr_rewrite(r, "From: bob@host.example.com\r\n\r\n");
	assert_string_equal(got, "UNCHANGED");
	free(got);
	resolve_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_qualify),
		cmocka_unit_test(test_canonical),
		cmocka_unit_test(test_masquerade),
		cmocka_unit_test(test_bad_class),
		cmocka_unit_test(test_headers),
	};

	return cmocka_run_group_tests(tests, rs_setup, rs_teardown);
}
