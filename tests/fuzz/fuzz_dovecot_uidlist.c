/*
 * fuzz_dovecot_uidlist.c - libFuzzer harness for Dovecot's Maildir side
 * files (store/maildir-dovecot.c): any bytes as a dovecot-uidlist and as
 * a dovecot-keywords file. A parsed uidlist must be sorted, unique, find
 * every entry it lists and have a next UID above all of them; the keyword
 * letters must map to valid names that format back. Seeds:
 * tests/fuzz/corpus/fuzz_dovecot_uidlist/ (version 3 and 1 files as
 * Dovecot and Courier write them, a stale header, garbage lines).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store/maildir-dovecot.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct maildir_uidlist ul;
	struct maildir_keywords kw;
	struct strbuf sb;
	const char *why = NULL;

	if (maildir_uidlist_parse((const char *)data, size, &ul, &why) == 0) {
		for (size_t i = 0; i < ul.n; i++) {
			if (i > 0 && strcmp(ul.v[i - 1].base, ul.v[i].base) >= 0)
				abort();
			if (maildir_uidlist_lookup(&ul, ul.v[i].base, strlen(ul.v[i].base)) !=
			    ul.v[i].uid)
				abort();
			if (ul.v[i].uid == 0 || (ul.v[i].uid >= ul.nextuid && ul.v[i].uid != UINT32_MAX))
				abort();
		}
		maildir_uidlist_free(&ul);
	} else if (why == NULL) {
		abort();
	}
	if (maildir_keywords_parse((const char *)data, size, &kw) == 0) {
		strbuf_init(&sb, 1 << 16);
		if (maildir_keywords_from_letters(&kw, "abcdefghijklmnopqrstuvwxyz", &sb) < 0)
			abort();
		strbuf_reset(&sb);
		if (maildir_keywords_format(&kw, &sb) < 0)
			abort();
		strbuf_free(&sb);
		maildir_keywords_free(&kw);
	}
	return 0;
}
