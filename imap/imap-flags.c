/*
 * imap-flags.c - IMAP message flags between their wire form and the
 * store's bits plus keyword string. Called by cmd-fetch.c (FLAGS item),
 * cmd-store.c (STORE's flag list), cmd-append.c (APPEND's flag list) and
 * imap-sync.c (untagged FETCH FLAGS).
 *
 * RFC 3501 2.3.2 (system flags, keywords, \Recent is server-set only),
 * 9 "flag", "flag-list", "flag-keyword" (= atom), 7.2.6 (FLAGS response).
 * Keywords compare case-insensitively (the store keeps them that way), so
 * a list naming one keyword twice gives it once.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap/imap-private.h"

static const struct {
	const char *name;
	unsigned bit;
} system_flags[] = {
	/* the order FETCH FLAGS shows them in (STORE, FETCH and the sync all
	 * format through imap_flags_format) */
	{ "\\Answered", STORE_FLAG_ANSWERED },
	{ "\\Flagged", STORE_FLAG_FLAGGED },
	{ "\\Deleted", STORE_FLAG_DELETED },
	{ "\\Seen", STORE_FLAG_SEEN },
	{ "\\Draft", STORE_FLAG_DRAFT },
};

int imap_flags_format(struct strbuf *out, unsigned flags, const char *keywords, bool recent)
{
	size_t start = out->len;
	bool first = true;

	for (size_t i = 0; i < sizeof(system_flags) / sizeof(system_flags[0]); i++) {
		if ((flags & system_flags[i].bit) == 0)
			continue;
		if ((!first && strbuf_putc(out, ' ') < 0) || strbuf_puts(out, system_flags[i].name) < 0)
			goto full;
		first = false;
	}
	if (recent) {
		if ((!first && strbuf_putc(out, ' ') < 0) || strbuf_puts(out, "\\Recent") < 0)
			goto full;
		first = false;
	}
	if (keywords != NULL && *keywords != '\0') {
		if ((!first && strbuf_putc(out, ' ') < 0) || strbuf_puts(out, keywords) < 0)
			goto full;
	}
	return 0;
full:
	/* leave out as it was: a half-written flag list is worse than none */
	out->len = start;
	if (out->data != NULL)
		out->data[start] = '\0';
	return -1;
}

/* atom-char of RFC 3501 9: any CHAR except atom-specials (which include
 * "]" through resp-specials) */
static bool atom_char(unsigned char c)
{
	if (c <= 0x20 || c >= 0x7f)
		return false;
	return strchr("(){%*\"\\]", c) == NULL;
}

static bool keyword_has(const char *list, const char *w, size_t wl)
{
	const char *p = list;

	while (*p != '\0') {
		size_t n = strcspn(p, " ");

		if (n == wl && strncasecmp(p, w, wl) == 0)
			return true;
		p += n;
		while (*p == ' ')
			p++;
	}
	return false;
}

/* one flag atom into *flags / kw; 0 or -1 with the BAD text */
static int flag_one(const struct imap_arg *a, unsigned *flags, struct strbuf *kw, const char **error_r)
{
	const char *s = a->data;

	if (a->type != IMAP_ARG_ATOM || a->len == 0 || strlen(s) != a->len) {
		*error_r = "Flags must be atoms";
		return -1;
	}
	if (s[0] == '\\') {
		if (strcasecmp(s, "\\Recent") == 0) {
			*error_r = "\\Recent cannot be changed by the client";
			return -1;
		}
		for (size_t i = 0; i < sizeof(system_flags) / sizeof(system_flags[0]); i++) {
			if (strcasecmp(s, system_flags[i].name) == 0) {
				*flags |= system_flags[i].bit;
				return 0;
			}
		}
		*error_r = "Unknown system flag";
		return -1;
	}
	for (const char *p = s; *p != '\0'; p++) {
		if (!atom_char((unsigned char)*p)) {
			*error_r = "Invalid characters in keyword";
			return -1;
		}
	}
	if (keyword_has(kw->data, s, a->len))
		return 0;
	if ((kw->len > 0 && strbuf_putc(kw, ' ') < 0) || strbuf_append(kw, s, a->len) < 0) {
		*error_r = "Too many keywords";
		return -1;
	}
	return 0;
}

int imap_flags_parse(const struct imap_arg *arg, unsigned *flags_r, char **keywords_r,
		     const char **error_r)
{
	struct strbuf kw;
	unsigned flags = 0;
	char *res;

	*flags_r = 0;
	*keywords_r = NULL;
	strbuf_init(&kw, STORE_KEYWORDS_MAX);
	if (strbuf_puts(&kw, "") < 0) {
		*error_r = "Out of memory";
		return -1;
	}
	if (arg->type == IMAP_ARG_LIST) {
		for (size_t i = 0; i < arg->list_count; i++) {
			if (flag_one(&arg->list[i], &flags, &kw, error_r) < 0) {
				strbuf_free(&kw);
				return -1;
			}
		}
	} else if (flag_one(arg, &flags, &kw, error_r) < 0) {
		strbuf_free(&kw);
		return -1;
	}
	res = strbuf_steal(&kw);
	if (res == NULL) {
		*error_r = "Out of memory";
		return -1;
	}
	*flags_r = flags;
	*keywords_r = res;
	return 0;
}
