/*
 * fuzz_imap_mutf7.c - libFuzzer harness for imap/imap-mutf7.c.
 *
 * Properties checked on every input (the round trip RFC 3501 5.1.3 makes
 * possible when decoding is strict):
 * - decode(x) succeeds  =>  encode(decode(x)) == x (only canonical forms
 *   are accepted, so each name has exactly one spelling);
 * - x is UTF-8 without control characters  =>  decode(encode(x)) == x;
 * - imap_mailbox_from_client with '/' and '.' separators either refuses or
 *   gives a name the store accepts, which imap_mailbox_to_client maps back
 *   to the input up to the case of a first level "INBOX".
 * Corpus: tests/fuzz/corpus/imap_mutf7/.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap/imap-private.h"
#include "store/store.h"

static bool has_control(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

static void check_session(const struct imap_session *s, const char *in)
{
	const char *error = NULL;
	char *name = imap_mailbox_from_client(s, in, &error), *back;

	if (name == NULL) {
		if (error == NULL)
			abort();
		return;
	}
	if (!store_mailbox_name_valid(name))
		abort();
	back = imap_mailbox_to_client(s, name);
	if (back == NULL)
		abort();
	if (strncasecmp(in, "INBOX", 5) == 0 && (in[5] == '\0' || in[5] == s->hierarchy_sep)) {
		if (strncasecmp(back, in, 5) != 0 || strcmp(back + 5, in + 5) != 0)
			abort();
	} else if (strcmp(back, in) != 0) {
		abort();
	}
	free(back);
	free(name);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct imap_session slash = { .hierarchy_sep = '/' };
	struct imap_session dot = { .hierarchy_sep = '.' };
	struct strbuf a, b;
	const char *error = NULL;
	char *in;

	if (size > 8192)
		return 0;
	in = malloc(size + 1);
	if (in == NULL)
		return 0;
	memcpy(in, data, size);
	in[size] = '\0';

	strbuf_init(&a, 0);
	strbuf_init(&b, 0);
	if (imap_mutf7_decode(in, &a, &error) == 0) {
		if (imap_mutf7_encode(a.data ? a.data : "", &b) < 0 ||
		    strcmp(b.data ? b.data : "", in) != 0)
			abort();
	}
	strbuf_reset(&a);
	strbuf_reset(&b);
	if (imap_mutf7_encode(in, &a) < 0)
		abort();
	if (!has_control(in)) {
		/* only a UTF-8 input survives unchanged (others gain U+FFFD) */
		int rc = imap_mutf7_decode(a.data ? a.data : "", &b, &error);

		if (rc < 0)
			abort();
		if (strcmp(b.data ? b.data : "", in) != 0 && strstr(b.data, "\xef\xbf\xbd") == NULL)
			abort();
	}
	strbuf_free(&a);
	strbuf_free(&b);

	check_session(&slash, in);
	check_session(&dot, in);
	free(in);
	return 0;
}
