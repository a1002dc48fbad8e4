/*
 * imap-flags-stub.c - TEMPORARY weak stand-in for imap_flags_parse so the
 * imapmbox branch links (APPEND) before the imapfetch branch, which owns
 * imap-flags.c, is merged. The strong definition there wins at link time;
 * whoever merges both branches deletes this file. Minimal on purpose: the
 * five system flags and atom keywords, \Recent and unknown \flags refused.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap/imap-private.h"

__attribute__((weak)) int imap_flags_parse(const struct imap_arg *arg, unsigned *flags_r,
					   char **keywords_r, const char **error_r)
{
	static const struct { const char *name; unsigned flag; } sys[] = {
		{ "\\Seen", STORE_FLAG_SEEN }, { "\\Answered", STORE_FLAG_ANSWERED },
		{ "\\Flagged", STORE_FLAG_FLAGGED }, { "\\Deleted", STORE_FLAG_DELETED },
		{ "\\Draft", STORE_FLAG_DRAFT },
	};
	const struct imap_arg *v = arg->type == IMAP_ARG_LIST ? arg->list : arg;
	size_t n = arg->type == IMAP_ARG_LIST ? arg->list_count : 1;
	struct strbuf kw;

	*flags_r = 0;
	strbuf_init(&kw, STORE_KEYWORDS_MAX);
	for (size_t i = 0; i < n; i++) {
		size_t k;

		if (v[i].type != IMAP_ARG_ATOM) {
			*error_r = "Flags must be atoms";
			goto fail;
		}
		if (v[i].data[0] != '\\') {
			if ((kw.len && strbuf_putc(&kw, ' ') < 0) || strbuf_puts(&kw, v[i].data) < 0) {
				*error_r = "Too many keywords";
				goto fail;
			}
			continue;
		}
		for (k = 0; k < sizeof(sys) / sizeof(sys[0]); k++)
			if (strcasecmp(v[i].data, sys[k].name) == 0)
				break;
		if (k == sizeof(sys) / sizeof(sys[0])) {
			*error_r = "Invalid system flag";
			goto fail;
		}
		*flags_r |= sys[k].flag;
	}
	if ((*keywords_r = strbuf_steal(&kw)) == NULL) {
		*error_r = "Out of memory";
		return -1;
	}
	return 0;
fail:
	strbuf_free(&kw);
	return -1;
}
