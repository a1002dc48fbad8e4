/*
 * test_imap_mutf7.c - mailbox names between client and store
 * (imap/imap-mutf7.c): the RFC 3501 5.1.3 examples, international names
 * both ways, every non-canonical form the decoder must refuse, the '.'
 * separator, INBOX in any case, names the store would refuse, and UTF-8
 * names after ENABLE UTF8=ACCEPT.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "imap/imap-private.h"

static struct imap_session sess_slash = { .hierarchy_sep = '/' };
static struct imap_session sess_dot = { .hierarchy_sep = '.' };

static void expect_from(const struct imap_session *s, const char *in, const char *want)
{
	const char *error = NULL;
	char *got = imap_mailbox_from_client(s, in, &error);

	if (got == NULL)
		fail_msg("%s: refused: %s", in, error);
	assert_string_equal(got, want);
	free(got);
}

static void expect_refused(const struct imap_session *s, const char *in, const char *error_want)
{
	const char *error = NULL;
	char *got = imap_mailbox_from_client(s, in, &error);

	if (got != NULL)
		fail_msg("%s: accepted as %s", in, got);
	assert_non_null(error);
	assert_string_equal(error, error_want);
}

static void expect_to(const struct imap_session *s, const char *in, const char *want)
{
	char *got = imap_mailbox_to_client(s, in);

	assert_non_null(got);
	assert_string_equal(got, want);
	free(got);
}

static void test_rfc_examples(void **state)
{
	(void)state;
	/* RFC 3501 5.1.3 */
	expect_from(&sess_slash, "~peter/mail/&U,BTFw-/&ZeVnLIqe-",
		    "~peter/mail/\xe5\x8f\xb0\xe5\x8c\x97/\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e");
	expect_to(&sess_slash, "~peter/mail/\xe5\x8f\xb0\xe5\x8c\x97/\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e",
		  "~peter/mail/&U,BTFw-/&ZeVnLIqe-");
	expect_from(&sess_slash, "&-", "&");
	expect_to(&sess_slash, "&", "&-");
	expect_from(&sess_slash, "Tom &- Jerry", "Tom & Jerry");
	expect_to(&sess_slash, "Tom & Jerry", "Tom &- Jerry");
}

static void test_international(void **state)
{
	(void)state;
	expect_from(&sess_slash, "Entw&APw-rfe", "Entw\xc3\xbcrfe");
	expect_to(&sess_slash, "Entw\xc3\xbcrfe", "Entw&APw-rfe");
	/* 收件箱/项目 */
	expect_to(&sess_slash, "\xe6\x94\xb6\xe4\xbb\xb6\xe7\xae\xb1/\xe9\xa1\xb9\xe7\x9b\xae",
		  "&ZTZO9nux-/&mHl27g-");
	expect_from(&sess_slash, "&ZTZO9nux-/&mHl27g-",
		    "\xe6\x94\xb6\xe4\xbb\xb6\xe7\xae\xb1/\xe9\xa1\xb9\xe7\x9b\xae");
	/* été: two runs separated by an ASCII letter */
	expect_to(&sess_slash, "\xc3\xa9t\xc3\xa9", "&AOk-t&AOk-");
	expect_from(&sess_slash, "&AOk-t&AOk-", "\xc3\xa9t\xc3\xa9");
	/* U+1F600 needs a surrogate pair */
	expect_to(&sess_slash, "\xf0\x9f\x98\x80", "&2D3eAA-");
	expect_from(&sess_slash, "&2D3eAA-", "\xf0\x9f\x98\x80");
	/* a long run stays one run */
	{
		char in[3 * 200 + 1], *enc;
		const char *error = NULL;
		char *dec;

		for (int i = 0; i < 200; i++)
			memcpy(in + 3 * i, "\xe2\x82\xac", 3);
		in[600] = '\0';
		enc = imap_mailbox_to_client(&sess_slash, in);
		assert_non_null(enc);
		assert_int_equal(enc[0], '&');
		assert_null(strchr(enc + 1, '&'));
		dec = imap_mailbox_from_client(&sess_slash, enc, &error);
		/* 600 bytes is more than the store's 512 */
		assert_null(dec);
		assert_string_equal(error, "Mailbox name too long or nested too deeply");
		free(enc);
	}
	/* bytes that are not UTF-8 in a store name become U+FFFD */
	expect_to(&sess_slash, "a\xff", "a&,,0-");
}

static void test_refused(void **state)
{
	(void)state;
	expect_refused(&sess_slash, "&U,BTFw",
		       "Unterminated '&' sequence in mailbox name; a literal '&' is written \"&-\"");
	expect_refused(&sess_slash, "&U,BTFw-&ZeVnLIqe-",
		       "Two adjacent modified BASE64 runs; one run spells them "
		       "(non-canonical modified UTF-7)");
	expect_refused(&sess_slash, "&AGE-",
		       "Printable US-ASCII encoded in modified BASE64 "
		       "(non-canonical modified UTF-7; send it as is)");
	expect_refused(&sess_slash, "&ACY-", /* '&' itself */
		       "Printable US-ASCII encoded in modified BASE64 "
		       "(non-canonical modified UTF-7; send it as is)");
	expect_refused(&sess_slash, "&U/BTFw-",
		       "Invalid character in a modified BASE64 run (RFC 3501 5.1.3)");
	expect_refused(&sess_slash, "&U,BTFw=-",
		       "Invalid character in a modified BASE64 run (RFC 3501 5.1.3)");
	expect_refused(&sess_slash, "&U,BTF-",
		       "Modified BASE64 run does not end on a character boundary "
		       "(non-canonical modified UTF-7)");
	expect_refused(&sess_slash, "&U,BTFx-", /* spare bits not zero */
		       "Modified BASE64 run does not end on a character boundary "
		       "(non-canonical modified UTF-7)");
	expect_refused(&sess_slash, "&AOkA-", /* a whole spare character */
		       "Modified BASE64 run does not end on a character boundary "
		       "(non-canonical modified UTF-7)");
	expect_refused(&sess_slash, "&2D0-", "Unpaired UTF-16 surrogate in modified UTF-7");
	expect_refused(&sess_slash, "&3gA-", "Unpaired UTF-16 surrogate in modified UTF-7");
	expect_refused(&sess_slash, "&2D3YPQ-", "Unpaired UTF-16 surrogate in modified UTF-7");
	expect_refused(&sess_slash, "&AAo-", "Control character in mailbox name");
	expect_refused(&sess_slash, "a\tb", "Control character in mailbox name");
	expect_refused(&sess_slash, "Entw\xc3\xbcrfe",
		       "8-bit characters in mailbox name; use modified UTF-7 (RFC 3501 5.1.3)");
	expect_refused(&sess_slash, "", "Empty mailbox name");
	expect_refused(&sess_slash, "a//b", "Empty hierarchy level in mailbox name");
	expect_refused(&sess_slash, "/a", "Empty hierarchy level in mailbox name");
	expect_refused(&sess_slash, "a/", "Empty hierarchy level in mailbox name");
	expect_refused(&sess_slash, "a/../b", "'.' and '..' are not allowed as mailbox name levels");
	expect_refused(&sess_slash, "..", "'.' and '..' are not allowed as mailbox name levels");
	expect_refused(&sess_slash, "a/*", "Wildcards '*' and '%' are not allowed in mailbox names");
	expect_refused(&sess_slash, "a%", "Wildcards '*' and '%' are not allowed in mailbox names");
}

static void test_inbox(void **state)
{
	(void)state;
	expect_from(&sess_slash, "inbox", "INBOX");
	expect_from(&sess_slash, "InBoX", "INBOX");
	expect_from(&sess_slash, "inbox/sub", "INBOX/sub");
	expect_from(&sess_slash, "inboxes", "inboxes");
	expect_from(&sess_slash, "Sent/inbox", "Sent/inbox");
	expect_from(&sess_dot, "inbox.Sent", "INBOX/Sent");
}

static void test_dot_separator(void **state)
{
	(void)state;
	expect_from(&sess_dot, "Lists.postern", "Lists/postern");
	expect_to(&sess_dot, "Lists/postern", "Lists.postern");
	expect_from(&sess_dot, "&U,BTFw-.&ZeVnLIqe-",
		    "\xe5\x8f\xb0\xe5\x8c\x97/\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e");
	expect_to(&sess_dot, "\xe5\x8f\xb0\xe5\x8c\x97/\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e",
		  "&U,BTFw-.&ZeVnLIqe-");
	expect_refused(&sess_dot, "a/b",
		       "'/' is not allowed in mailbox names: the hierarchy separator is '.'");
	expect_refused(&sess_dot, "a..b", "Empty hierarchy level in mailbox name");
	assert_false(imap_mailbox_client_representable(&sess_dot, "v1.2"));
	assert_true(imap_mailbox_client_representable(&sess_dot, "a/b"));
	assert_true(imap_mailbox_client_representable(&sess_slash, "v1.2"));
}

static void test_utf8_accept(void **state)
{
	struct imap_session s = { .hierarchy_sep = '/', .enabled = IMAP_ENABLED_UTF8 };

	(void)state;
	expect_from(&s, "Entw\xc3\xbcrfe", "Entw\xc3\xbcrfe");
	expect_from(&s, "A&B", "A&B");
	expect_to(&s, "Entw\xc3\xbcrfe", "Entw\xc3\xbcrfe");
	expect_refused(&s, "a\xc3", "Mailbox name is not valid UTF-8");
	expect_refused(&s, "a\xc0\xaf" "b", "Mailbox name is not valid UTF-8"); /* overlong '/' */
	expect_refused(&s, "a\xed\xa0\x80", "Mailbox name is not valid UTF-8"); /* surrogate */
}

static void test_patterns(void **state)
{
	const char *error = NULL;
	char *p;

	(void)state;
	p = imap_mailbox_pattern_from_client(&sess_dot, "inbox.*", &error);
	assert_non_null(p);
	assert_string_equal(p, "INBOX/*");
	free(p);
	p = imap_mailbox_pattern_from_client(&sess_slash, "&ZTZO9nux-/%", &error);
	assert_non_null(p);
	assert_string_equal(p, "\xe6\x94\xb6\xe4\xbb\xb6\xe7\xae\xb1/%");
	free(p);
	p = imap_mailbox_pattern_from_client(&sess_slash, "", &error);
	assert_non_null(p);
	assert_string_equal(p, "");
	free(p);
	assert_null(imap_mailbox_pattern_from_client(&sess_slash, "&Zt*", &error));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc_examples),
		cmocka_unit_test(test_international),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_inbox),
		cmocka_unit_test(test_dot_separator),
		cmocka_unit_test(test_utf8_accept),
		cmocka_unit_test(test_patterns),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
