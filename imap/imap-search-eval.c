/*
 * imap-search-eval.c - decide whether one message matches a parsed SEARCH
 * program (imap-search.c).
 *
 * Called by cmd-search.c once per message and by the unit tests.
 *
 * Two passes: the first uses only the index record (flags, keywords,
 * size, INTERNALDATE, UID, sequence number) and answers MATCH, NO_MATCH
 * or UNKNOWN with three-valued logic; only UNKNOWN makes the caller's
 * opener parse the file (once), and the second pass then reads headers
 * (store/mime.h mime_header_foreach + mime_header_decode), the Date
 * header (mime_date_parse) and the decoded text (mime_text_contains).
 * When the index holds the message's ENVELOPE (cached by FETCH), SUBJECT
 * and SENT* keys are answered from its Date and Subject in the first pass.
 *
 * RFC 3501 6.4.4 for each key's meaning; the matching rules (case
 * folding, time zones) are documented in imap-search.h. Recursion follows
 * the tree's depth, which the parser bounded (IMAP_SEARCH_MAX_DEPTH).
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "imap/imap-private.h"
#include "imap/imap-search.h"
#include "store/mime.h"

/* Decoded header values examined per field (longer ones are cut). */
#define HEADER_VALUE_MAX (256 * 1024)

struct eval {
	const struct imap_search_msg *m;
	struct mime_message *mime;  /* NULL in the index pass */
	const char *error;          /* set when reading the message failed */
	/* Date and Subject from the index's cached ENVELOPE (index pass):
	 * env_state 0 not looked at, 1 parsed, -1 none or unreadable. */
	int env_state;
	char *env_date, *env_subject; /* raw values, NULL for NIL */
};

/*
 * fold - lower-case UTF-8 in place: ASCII, Latin-1, Greek and Cyrillic
 * capitals, each mapping keeping the byte length. The same letters
 * store/mime-text.c folds for BODY/TEXT, so every key folds alike.
 */
static void fold(unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = p[i], d;

		if (c >= 'A' && c <= 'Z') {
			p[i] = (unsigned char)(c + 32);
			continue;
		}
		if (c < 0xC0 || i + 1 >= n)
			continue;
		d = p[i + 1];
		if (c == 0xC3 && d >= 0x80 && d <= 0x9E && d != 0x97) {
			p[i + 1] = (unsigned char)(d + 0x20);           /* À..Þ */
		} else if (c == 0xCE && d >= 0x91 && d <= 0x9F) {
			p[i + 1] = (unsigned char)(d + 0x20);           /* Α..Ο */
		} else if (c == 0xCE && d >= 0xA0 && d <= 0xA9 && d != 0xA2) {
			p[i] = 0xCF;                                    /* Π..Ω */
			p[i + 1] = (unsigned char)(d - 0x20);
		} else if (c == 0xD0 && d >= 0x90 && d <= 0x9F) {
			p[i + 1] = (unsigned char)(d + 0x20);           /* А..П */
		} else if (c == 0xD0 && d >= 0xA0 && d <= 0xAF) {
			p[i] = 0xD1;                                    /* Р..Я */
			p[i + 1] = (unsigned char)(d - 0x20);
		} else if (c == 0xD0 && d >= 0x80 && d <= 0x8F) {
			p[i] = 0xD1;                                    /* Ѐ..Џ */
			p[i + 1] = (unsigned char)(d + 0x10);
		}
		i++;
	}
}

/* ---- index keys ---- */

static bool keyword_set(const char *list, const char *kw)
{
	size_t kl = strlen(kw);
	const char *p = list;

	if (list == NULL)
		return false;
	/* keywords are atoms, compared without case like flags */
	while (*p != '\0') {
		const char *e = strchr(p, ' ');
		size_t len = e != NULL ? (size_t)(e - p) : strlen(p);

		if (len == kl && strncasecmp(p, kw, kl) == 0)
			return true;
		if (e == NULL)
			break;
		p = e + 1;
	}
	return false;
}

static bool keyword_match(const struct imap_search_msg *m, const char *kw)
{
	static const struct { const char *name; unsigned flag; } sys[] = {
		{ "\\Seen", STORE_FLAG_SEEN }, { "\\Answered", STORE_FLAG_ANSWERED },
		{ "\\Flagged", STORE_FLAG_FLAGGED }, { "\\Deleted", STORE_FLAG_DELETED },
		{ "\\Draft", STORE_FLAG_DRAFT },
	};

	/* KEYWORD \Seen is not valid RFC 3501, but clients send it: treat it
	 * as the system flag rather than a keyword that can never be set */
	if (kw[0] == '\\') {
		for (size_t i = 0; i < sizeof(sys) / sizeof(sys[0]); i++) {
			if (strcasecmp(kw, sys[i].name) == 0)
				return (m->msg->flags & sys[i].flag) != 0;
		}
		return false;
	}
	return keyword_set(m->msg->keywords, kw);
}

/* in_ranges - whether n is named by the set; '*' (UINT32_MAX) is max, and
 * "x:*" with x > max names max (RFC 3501 9: ranges in either order). */
static bool in_ranges(const struct imap_search_node *node, uint32_t n, uint32_t max)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < node->nranges; i++) {
		uint32_t lo = node->ranges[i].lo, hi = node->ranges[i].hi;

		if (hi == UINT32_MAX) {
			hi = max;
			if (lo == UINT32_MAX || lo > max)
				lo = max;
		}
		if (n >= lo && n <= hi)
			return true;
	}
	return false;
}

/* The date part of t in the server's local zone, as y*10000+m*100+d. */
static int local_date(time_t t)
{
	struct tm tm;

	if (localtime_r(&t, &tm) == NULL)
		return 0;
	return (tm.tm_year + 1900) * 10000 + (tm.tm_mon + 1) * 100 + tm.tm_mday;
}

static bool date_cmp(enum imap_search_type type, int have, int want)
{
	switch (type) {
	case IMAP_SEARCH_BEFORE:
	case IMAP_SEARCH_SENTBEFORE:
		return have < want;
	case IMAP_SEARCH_ON:
	case IMAP_SEARCH_SENTON:
		return have == want;
	default:
		return have >= want;
	}
}

static int date_of(const char *v, size_t len, int *date_r)
{
	time_t t;
	int tz;
	struct tm tm;

	if (mime_date_parse(v, len, &t, &tz) < 0)
		return -1;
	/* the date as the sender wrote it: shift into the header's zone */
	t += (time_t)tz * 60;
	if (gmtime_r(&t, &tm) == NULL)
		return -1;
	*date_r = (tm.tm_year + 1900) * 10000 + (tm.tm_mon + 1) * 100 + tm.tm_mday;
	return 0;
}

/* ---- message keys ---- */

struct header_search {
	const char *field;
	const char *needle;      /* folded */
	size_t needle_len;
	struct strbuf dec;
	bool found;
	bool oom;
};

static int header_cb(const char *name, const char *value, size_t value_len, uint64_t raw_off,
		     uint64_t raw_len, void *ctx)
{
	struct header_search *hs = ctx;

	if (strcasecmp(name, hs->field) != 0)
		return 0;
	if (hs->needle_len == 0) {
		hs->found = true;
		return 1;
	}
	strbuf_reset(&hs->dec);
	if (mime_header_decode(value, value_len, &hs->dec) < 0 && hs->dec.len == 0) {
		/* full buffer: search what fitted; no memory at all: give up */
		hs->oom = true;
		return 1;
	}
	fold((unsigned char *)hs->dec.data, hs->dec.len);
	if (memmem(hs->dec.data, hs->dec.len, hs->needle, hs->needle_len) != NULL) {
		hs->found = true;
		return 1;
	}
	return 0;
}

static int header_match(struct eval *e, const struct imap_search_node *n)
{
	struct header_search hs = { .field = n->name };
	char *needle = strdup(n->str);
	const char *error = NULL;
	int r;

	if (needle == NULL) {
		e->error = "out of memory";
		return -1;
	}
	hs.needle_len = strlen(needle);
	fold((unsigned char *)needle, hs.needle_len);
	hs.needle = needle;
	strbuf_init(&hs.dec, HEADER_VALUE_MAX);
	r = mime_header_foreach(e->mime, 0, header_cb, &hs, &error);
	strbuf_free(&hs.dec);
	free(needle);
	if (r < 0 || hs.oom) {
		e->error = error != NULL ? error : "out of memory";
		return -1;
	}
	return hs.found ? 1 : 0;
}

static int sent_date_match(struct eval *e, const struct imap_search_node *n)
{
	struct strbuf v;
	const char *error = NULL;
	int date, r;

	strbuf_init(&v, 4096);
	r = mime_header_get(e->mime, 0, "Date", &v, &error);
	if (r < 0) {
		strbuf_free(&v);
		e->error = error != NULL ? error : "read error";
		return -1;
	}
	if (r == 0 || date_of(v.data, v.len, &date) < 0) {
		strbuf_free(&v);
		return 0;
	}
	strbuf_free(&v);
	return date_cmp(n->type, date, n->date) ? 1 : 0;
}

static int text_match(struct eval *e, const struct imap_search_node *n, unsigned flags)
{
	const char *error = NULL;
	int r = mime_text_contains(e->mime, flags, n->str, &error);

	if (r < 0)
		e->error = error != NULL ? error : "read error";
	return r;
}

/* ---- the cached ENVELOPE (RFC 3501 7.4.2) ---- */

/*
 * env_nstring - read one nstring at *pp (NIL, "quoted" with \\ escapes,
 * or {n}CRLF literal) into new memory (*out NULL for NIL). 0, or -1 when
 * the text is not an nstring or on OOM.
 */
static int env_nstring(const char **pp, char **out)
{
	const char *p = *pp;
	char *v;
	size_t n = 0;

	*out = NULL;
	if (strncmp(p, "NIL", 3) == 0) {
		*pp = p + 3;
		return 0;
	}
	if (*p == '"') {
		size_t len = 0;
		const char *q = p + 1;

		while (*q != '\0' && *q != '"') {
			if (*q == '\\' && q[1] != '\0')
				q++;
			q++;
			len++;
		}
		if (*q != '"' || (v = malloc(len + 1)) == NULL)
			return -1;
		for (q = p + 1; *q != '"'; q++) {
			if (*q == '\\')
				q++;
			v[n++] = *q;
		}
		v[n] = '\0';
		*out = v;
		*pp = q + 1;
		return 0;
	}
	if (*p == '{') {
		char *end;
		unsigned long long len = strtoull(p + 1, &end, 10);

		if (end == p + 1 || strncmp(end, "}\r\n", 3) != 0 ||
		    strnlen(end + 3, len) < len || (v = malloc(len + 1)) == NULL)
			return -1;
		memcpy(v, end + 3, len);
		v[len] = '\0';
		*out = v;
		*pp = end + 3 + len;
		return 0;
	}
	return -1;
}

/* env_parse - the first two ENVELOPE fields (date, subject): all the
 * index pass needs for SUBJECT and SENT* keys. */
static void env_parse(struct eval *e)
{
	const char *p = e->m->msg->envelope;

	e->env_state = -1;
	if (p == NULL || *p++ != '(')
		return;
	if (env_nstring(&p, &e->env_date) < 0 || *p++ != ' ' ||
	    env_nstring(&p, &e->env_subject) < 0 || *p != ' ') {
		x_free(&e->env_date);
		x_free(&e->env_subject);
		return;
	}
	e->env_state = 1;
}

static void env_free(struct eval *e)
{
	x_free(&e->env_date);
	x_free(&e->env_subject);
}

static bool env_usable(struct eval *e)
{
	if (e->env_state == 0)
		env_parse(e);
	return e->env_state == 1;
}

/* env_subject_match - a Subject key against the cached envelope's subject. */
static int env_subject_match(struct eval *e, const struct imap_search_node *n)
{
	struct strbuf dec;
	char *needle;
	size_t nl = strlen(n->str);
	int r;

	if (e->env_subject == NULL)
		return IMAP_SEARCH_NO_MATCH;
	if (nl == 0)
		return IMAP_SEARCH_MATCH;
	needle = strdup(n->str);
	if (needle == NULL)
		return IMAP_SEARCH_UNKNOWN;
	fold((unsigned char *)needle, nl);
	strbuf_init(&dec, HEADER_VALUE_MAX);
	if (mime_header_decode(e->env_subject, strlen(e->env_subject), &dec) < 0 && dec.len == 0) {
		r = IMAP_SEARCH_UNKNOWN;     /* let the file decide */
	} else {
		fold((unsigned char *)dec.data, dec.len);
		r = memmem(dec.data, dec.len, needle, nl) != NULL;
	}
	strbuf_free(&dec);
	free(needle);
	return r;
}

static int env_sent_match(struct eval *e, const struct imap_search_node *n)
{
	int date;

	if (e->env_date == NULL || date_of(e->env_date, strlen(e->env_date), &date) < 0)
		return IMAP_SEARCH_NO_MATCH;
	return date_cmp(n->type, date, n->date);
}

/* ---- the tree ---- */

/*
 * eval_node - MATCH, NO_MATCH, UNKNOWN (index pass, key needs the file),
 * or -1 after a read error in the message pass (e->error set).
 */
static int eval_node(struct eval *e, const struct imap_search_node *n)
{
	const struct imap_search_msg *m = e->m;
	int r, acc;

	switch (n->type) {
	case IMAP_SEARCH_ALL:
		return IMAP_SEARCH_MATCH;
	case IMAP_SEARCH_AND:
		acc = IMAP_SEARCH_MATCH;
		for (const struct imap_search_node *c = n->child; c != NULL; c = c->next) {
			r = eval_node(e, c);
			if (r < 0 || r == IMAP_SEARCH_NO_MATCH)
				return r;
			if (r == IMAP_SEARCH_UNKNOWN)
				acc = IMAP_SEARCH_UNKNOWN;
		}
		return acc;
	case IMAP_SEARCH_OR:
		acc = IMAP_SEARCH_NO_MATCH;
		for (const struct imap_search_node *c = n->child; c != NULL; c = c->next) {
			r = eval_node(e, c);
			if (r < 0 || r == IMAP_SEARCH_MATCH)
				return r;
			if (r == IMAP_SEARCH_UNKNOWN)
				acc = IMAP_SEARCH_UNKNOWN;
		}
		return acc;
	case IMAP_SEARCH_NOT:
		r = eval_node(e, n->child);
		if (r < 0 || r == IMAP_SEARCH_UNKNOWN)
			return r;
		return r == IMAP_SEARCH_MATCH ? IMAP_SEARCH_NO_MATCH : IMAP_SEARCH_MATCH;
	case IMAP_SEARCH_FLAG:
		return (m->msg->flags & n->flag) != 0;
	case IMAP_SEARCH_KEYWORD:
		return keyword_match(m, n->str);
	case IMAP_SEARCH_RECENT:
		return m->recent;
	case IMAP_SEARCH_LARGER:
		return m->msg->size > n->number;
	case IMAP_SEARCH_SMALLER:
		return m->msg->size < n->number;
	case IMAP_SEARCH_BEFORE:
	case IMAP_SEARCH_ON:
	case IMAP_SEARCH_SINCE:
		return date_cmp(n->type, local_date(m->msg->internaldate), n->date);
	case IMAP_SEARCH_SEQSET:
		return in_ranges(n, m->seq, m->max_seq);
	case IMAP_SEARCH_UIDSET:
		return in_ranges(n, m->msg->uid, m->max_uid);
	case IMAP_SEARCH_SENTBEFORE:
	case IMAP_SEARCH_SENTON:
	case IMAP_SEARCH_SENTSINCE:
		if (e->mime != NULL)
			return sent_date_match(e, n);
		return env_usable(e) ? env_sent_match(e, n) : IMAP_SEARCH_UNKNOWN;
	case IMAP_SEARCH_HEADER:
		if (e->mime != NULL)
			return header_match(e, n);
		if (strcasecmp(n->name, "Subject") == 0 && env_usable(e))
			return env_subject_match(e, n);
		return IMAP_SEARCH_UNKNOWN;
	case IMAP_SEARCH_BODY:
		return e->mime == NULL ? IMAP_SEARCH_UNKNOWN : text_match(e, n, MIME_TEXT_BODY);
	case IMAP_SEARCH_TEXT:
		return e->mime == NULL ? IMAP_SEARCH_UNKNOWN
				       : text_match(e, n, MIME_TEXT_HEADERS | MIME_TEXT_BODY);
	}
	return IMAP_SEARCH_NO_MATCH;
}

enum imap_search_match imap_search_match_index(const struct imap_search *s,
					       const struct imap_search_msg *m)
{
	struct eval e = { .m = m };
	int r = eval_node(&e, s->root);

	env_free(&e);
	return (enum imap_search_match)r;
}

int imap_search_match(const struct imap_search *s, const struct imap_search_msg *m,
		      const char **error_r)
{
	struct eval e = { .m = m };
	int r = eval_node(&e, s->root);

	env_free(&e);
	if (r != IMAP_SEARCH_UNKNOWN)
		return r;
	if (m->open == NULL) {
		*error_r = "message cannot be read";
		return -1;
	}
	e.mime = m->open(m->open_ctx, error_r);
	if (e.mime == NULL)
		return -1;
	r = eval_node(&e, s->root);
	if (r < 0) {
		*error_r = e.error;
		return -1;
	}
	/* every key is decidable once the message is open */
	return r == IMAP_SEARCH_MATCH ? 1 : 0;
}
