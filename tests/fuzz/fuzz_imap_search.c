/*
 * fuzz_imap_search.c - libFuzzer harness for the SEARCH program parser
 * (imap/imap-search.c) and its evaluator (imap/imap-search-eval.c).
 * Input: the arguments of a SEARCH command as text (atoms, "strings",
 * {literal text}, parenthesised lists; tests/fuzz/imap_args_build.h turns
 * it into the struct imap_arg tree the command parser would give, with
 * its depth limit). A program that parses is dumped and evaluated against
 * a fixed MIME message in memory, so header, date and body keys run too.
 * No network, no files. Corpus: tests/fuzz/corpus/imap_search/.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "imap/imap-private.h"
#include "imap/imap-search.h"
#include "store/mime.h"
#include "tests/fuzz/imap_args_build.h"

static const char message[] =
	"From: =?UTF-8?Q?J=C3=BCrgen?= <j@example.org>\r\n"
	"To: bob@example.net\r\n"
	"Subject: =?ISO-8859-1?Q?Gr=FC=DFe?= and more\r\n"
	"Date: Sun, 1 Feb 2026 23:30:00 -0500\r\n"
	"Content-Type: multipart/mixed; boundary=x\r\n"
	"\r\n"
	"--x\r\n"
	"Content-Type: text/plain; charset=utf-8\r\n"
	"Content-Transfer-Encoding: quoted-printable\r\n"
	"\r\n"
	"K=C3=B6ln M=C3=BCller\r\n"
	"--x--\r\n";

static struct mime_message *open_msg(void *ctx, const char **error_r)
{
	struct mime_message **m = ctx;

	if (*m == NULL)
		*m = mime_parse_mem(message, sizeof(message) - 1, NULL, error_r);
	return *m;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t n = 0;
	struct imap_arg *args;
	struct imap_search *s = NULL;
	const char *code, *error;

	if (size > 65536)
		return 0;
	args = args_build((const char *)data, size, &n);
	if (args == NULL)
		return 0;
	if (imap_search_parse(args, n, &s, &code, &error) == 0) {
		struct strbuf sb;
		struct mime_message *mime = NULL;
		struct store_msg msg = {
			.uid = 17, .flags = STORE_FLAG_SEEN, .keywords = "$Junk work", .size = 300,
			.internaldate = 1769990400,
			/* the index's cached ENVELOPE: SUBJECT and SENT* keys are
			 * answered from it, the other header keys from the file */
			.envelope = "(\"Sun, 1 Feb 2026 23:30:00 -0500\" {35}\r\n"
				    "=?ISO-8859-1?Q?Gr=FC=DFe?= and more NIL NIL NIL NIL NIL NIL "
				    "NIL NIL)",
		};
		struct imap_search_msg m = {
			.msg = &msg, .seq = 3, .recent = true, .max_seq = 5, .max_uid = 20,
			.open = open_msg, .open_ctx = &mime,
		};

		strbuf_init(&sb, 1 << 20);
		(void)imap_search_dump(s, &sb);
		strbuf_free(&sb);
		(void)imap_search_match_index(s, &m);
		(void)imap_search_match(s, &m, &error);
		mime_message_free(&mime);
		imap_search_free(&s);
	} else if (s != NULL || error == NULL) {
		abort();
	}
	args_free(args, n);
	return 0;
}
