/*
 * imap-fetch-parse.c - the FETCH attribute list into a struct
 * imap_fetch_query. Called by cmd-fetch.c; tested by
 * tests/unit/test_imap_fetch.c.
 *
 * RFC 3501 6.4.5 and 9 "fetch-att": the macros ALL, FAST and FULL stand
 * alone (never inside a list); BODY[section]<origin.count> arrives from
 * the parser as one atom including the brackets (imap-private.h).
 * Sections are checked for syntax here so a malformed one is a BAD before
 * any message is touched; whether the part exists is decided per message
 * by mime_section_find(). BINARY (RFC 3516) is not offered yet.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap/imap-fetch.h"

#define FETCH_MAX_ITEMS 1000

static const struct {
	const char *name;
	enum imap_fetch_kind kind;
} simple_items[] = {
	{ "UID", IMAP_FETCH_UID },
	{ "FLAGS", IMAP_FETCH_FLAGS },
	{ "INTERNALDATE", IMAP_FETCH_INTERNALDATE },
	{ "RFC822.SIZE", IMAP_FETCH_RFC822_SIZE },
	{ "ENVELOPE", IMAP_FETCH_ENVELOPE },
	{ "BODY", IMAP_FETCH_BODY },
	{ "BODYSTRUCTURE", IMAP_FETCH_BODYSTRUCTURE },
};

/* RFC822* are sections with their own names (6.4.5) */
static const struct {
	const char *name, *section;
	bool peek;
} rfc822_items[] = {
	{ "RFC822", "", false },
	{ "RFC822.HEADER", "HEADER", true },
	{ "RFC822.TEXT", "TEXT", false },
};

static bool astring_char(unsigned char c)
{
	/* ATOM-CHAR / resp-specials, minus ']' which ends the section */
	if (c <= 0x20 || c >= 0x7f)
		return false;
	return strchr("(){%*\"\\]", c) == NULL;
}

/* "(" astring *(SP astring) ")" then the end; -1 when malformed */
static int header_list_check(const char *s)
{
	size_t n = 0;

	if (*s++ != '(')
		return -1;
	for (;;) {
		if (*s == '"') {
			size_t len = 0;

			for (s++; *s != '"'; s++, len++) {
				if (*s == '\\' && (s[1] == '"' || s[1] == '\\'))
					s++;
				else if (*s == '\0' || *s == '\\' || (unsigned char)*s < 0x20 ||
					 (unsigned char)*s >= 0x7f)
					return -1;
			}
			s++;
			if (len == 0)
				return -1; /* no header field has an empty name */
		} else {
			const char *b = s;

			while (astring_char((unsigned char)*s))
				s++;
			if (s == b)
				return -1;
		}
		n++;
		if (*s == ')')
			break;
		if (*s++ != ' ')
			return -1;
	}
	return s[1] == '\0' && n > 0 ? 0 : -1;
}

int imap_fetch_section_check(const char *spec, const char **error_r)
{
	const char *s = spec;
	bool numbered = false;

	while (*s >= '0' && *s <= '9') {
		unsigned digits = 0;

		if (*s == '0') {
			*error_r = "Invalid section part number";
			return -1;
		}
		while (*s >= '0' && *s <= '9') {
			if (++digits > 9) {
				*error_r = "Invalid section part number";
				return -1;
			}
			s++;
		}
		numbered = true;
		if (*s == '\0')
			return 0;
		if (*s++ != '.' || *s == '\0') {
			*error_r = "Invalid section";
			return -1;
		}
	}
	if (*s == '\0')
		return 0; /* BODY[]: the whole message */
	if (strcasecmp(s, "HEADER") == 0 || strcasecmp(s, "TEXT") == 0)
		return 0;
	if (strcasecmp(s, "MIME") == 0) {
		if (numbered)
			return 0;
		*error_r = "MIME needs a part number";
		return -1;
	}
	if (strncasecmp(s, "HEADER.FIELDS", 13) == 0) {
		s += 13;
		if (strncasecmp(s, ".NOT", 4) == 0)
			s += 4;
		if (*s++ != ' ' || header_list_check(s) < 0) {
			*error_r = "Invalid HEADER.FIELDS list";
			return -1;
		}
		return 0;
	}
	*error_r = "Invalid section";
	return -1;
}

/* decimal uint32 at *sp (no sign, no leading '+'); -1 when none/too big */
static int parse_u32(const char **sp, uint32_t *v_r)
{
	const char *s = *sp;
	uint64_t v = 0;

	if (*s < '0' || *s > '9')
		return -1;
	while (*s >= '0' && *s <= '9') {
		v = v * 10 + (uint64_t)(*s++ - '0');
		if (v > UINT32_MAX)
			return -1;
	}
	*sp = s;
	*v_r = (uint32_t)v;
	return 0;
}

/* BODY[...]<...> or BODY.PEEK[...]<...>: text is after "BODY" */
static int parse_section_item(const char *text, struct imap_fetch_item *it, const char **error_r)
{
	const char *s = text, *open, *close;
	bool quoted = false;

	if (strncasecmp(s, ".PEEK", 5) == 0) {
		it->peek = true;
		s += 5;
	}
	if (*s != '[') {
		*error_r = "Unknown FETCH attribute";
		return -1;
	}
	open = ++s;
	for (; *s != '\0'; s++) {
		if (quoted && *s == '\\' && s[1] != '\0')
			s++;
		else if (*s == '"')
			quoted = !quoted;
		else if (!quoted && *s == ']')
			break;
	}
	if (*s != ']') {
		*error_r = "Missing ] in BODY[section]";
		return -1;
	}
	close = s++;
	it->kind = IMAP_FETCH_SECTION;
	it->section = strndup(open, (size_t)(close - open));
	if (it->section == NULL) {
		*error_r = "Out of memory";
		return -1;
	}
	for (char *p = it->section; *p != '\0'; p++)
		*p = (char)toupper((unsigned char)*p);
	if (imap_fetch_section_check(it->section, error_r) < 0)
		return -1;
	if (*s == '\0')
		return 0;
	/* "<" number "." nz-number ">" */
	if (*s++ != '<' || parse_u32(&s, &it->origin) < 0 || *s++ != '.' ||
	    parse_u32(&s, &it->count) < 0 || it->count == 0 || *s++ != '>' || *s != '\0') {
		*error_r = "Invalid partial <origin.count>";
		return -1;
	}
	it->partial = true;
	return 0;
}

static int parse_item(const struct imap_arg *a, struct imap_fetch_query *q, const char **error_r)
{
	struct imap_fetch_item *it;

	if (a->type != IMAP_ARG_ATOM || strlen(a->data) != a->len) {
		*error_r = "FETCH attributes must be atoms";
		return -1;
	}
	if (q->n >= FETCH_MAX_ITEMS) {
		*error_r = "Too many FETCH attributes";
		return -1;
	}
	it = &q->items[q->n];
	memset(it, 0, sizeof(*it));
	for (size_t i = 0; i < sizeof(simple_items) / sizeof(simple_items[0]); i++) {
		if (strcasecmp(a->data, simple_items[i].name) == 0) {
			it->kind = simple_items[i].kind;
			goto done;
		}
	}
	for (size_t i = 0; i < sizeof(rfc822_items) / sizeof(rfc822_items[0]); i++) {
		if (strcasecmp(a->data, rfc822_items[i].name) == 0) {
			it->kind = IMAP_FETCH_SECTION;
			it->name = rfc822_items[i].name;
			it->peek = rfc822_items[i].peek;
			it->section = strdup(rfc822_items[i].section);
			if (it->section == NULL) {
				*error_r = "Out of memory";
				return -1;
			}
			goto done;
		}
	}
	if (strncasecmp(a->data, "BODY", 4) != 0 || parse_section_item(a->data + 4, it, error_r) < 0) {
		if (strncasecmp(a->data, "BODY", 4) != 0)
			*error_r = "Unknown FETCH attribute";
		free(it->section);
		it->section = NULL;
		return -1;
	}
done:
	q->n++;
	switch (it->kind) {
	case IMAP_FETCH_UID:
		q->has_uid = true;
		break;
	case IMAP_FETCH_FLAGS:
		q->has_flags = true;
		break;
	case IMAP_FETCH_ENVELOPE:
		q->has_envelope = true;
		break;
	case IMAP_FETCH_BODYSTRUCTURE:
		q->has_bodystructure = true;
		break;
	case IMAP_FETCH_BODY:
		q->needs_body = true;
		break;
	case IMAP_FETCH_SECTION:
		q->needs_body = true;
		if (!it->peek)
			q->sets_seen = true;
		break;
	default:
		break;
	}
	return 0;
}

/* the macros of 6.4.5 */
static const char *macro_items(const char *name)
{
	if (strcasecmp(name, "ALL") == 0)
		return "FLAGS INTERNALDATE RFC822.SIZE ENVELOPE";
	if (strcasecmp(name, "FAST") == 0)
		return "FLAGS INTERNALDATE RFC822.SIZE";
	if (strcasecmp(name, "FULL") == 0)
		return "FLAGS INTERNALDATE RFC822.SIZE ENVELOPE BODY";
	return NULL;
}

int imap_fetch_parse(const struct imap_arg *arg, struct imap_fetch_query *q, const char **error_r)
{
	const char *macro = NULL;
	size_t want;

	memset(q, 0, sizeof(*q));
	if (arg->type == IMAP_ARG_ATOM)
		macro = macro_items(arg->data);
	if (macro != NULL)
		want = 5;
	else if (arg->type == IMAP_ARG_LIST)
		want = arg->list_count;
	else
		want = 1;
	if (want == 0) {
		*error_r = "Empty FETCH attribute list";
		return -1;
	}
	if (want > FETCH_MAX_ITEMS) {
		*error_r = "Too many FETCH attributes";
		return -1;
	}
	q->items = calloc(want, sizeof(*q->items));
	if (q->items == NULL) {
		*error_r = "Out of memory";
		return -1;
	}
	if (macro != NULL) {
		char name[32];

		while (*macro != '\0') {
			size_t n = strcspn(macro, " ");
			struct imap_arg a = { .type = IMAP_ARG_ATOM, .data = name, .len = n };

			memcpy(name, macro, n);
			name[n] = '\0';
			if (parse_item(&a, q, error_r) < 0)
				goto fail;
			macro += n;
			while (*macro == ' ')
				macro++;
		}
		return 0;
	}
	if (arg->type != IMAP_ARG_LIST) {
		if (parse_item(arg, q, error_r) < 0)
			goto fail;
		return 0;
	}
	for (size_t i = 0; i < arg->list_count; i++) {
		if (arg->list[i].type == IMAP_ARG_ATOM && macro_items(arg->list[i].data) != NULL) {
			*error_r = "ALL, FAST and FULL cannot be inside a list";
			goto fail;
		}
		if (parse_item(&arg->list[i], q, error_r) < 0)
			goto fail;
	}
	return 0;
fail:
	imap_fetch_query_free(q);
	return -1;
}

void imap_fetch_query_free(struct imap_fetch_query *q)
{
	if (q->items != NULL) {
		for (size_t i = 0; i < q->n; i++)
			free(q->items[i].section);
	}
	x_free(&q->items);
	memset(q, 0, sizeof(*q));
}
