/*
 * imap-search.c - parse a SEARCH program (the arguments of SEARCH / UID
 * SEARCH) into a tree of struct imap_search_node, and print it back in a
 * canonical form for tests.
 *
 * Called by cmd-search.c, tests/unit/test_imap_search.c and
 * tests/fuzz/fuzz_imap_search.c. Evaluation is imap-search-eval.c.
 *
 * RFC 3501 6.4.4 (the keys and their meaning), 9 ("search", "search-key",
 * "date", "sequence-set"), RFC 5530 (BADCHARSET).
 *
 * Hostile input: the recursion follows NOT, OR and parentheses and stops
 * at IMAP_SEARCH_MAX_DEPTH with BAD; list nesting is already bounded by
 * the command parser (IMAP_MAX_DEPTH). Sibling keys are iterated, never
 * recursed, so a long flat program costs only memory bounded by the
 * argument count (IMAP_MAX_ARGS).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap/imap-private.h"
#include "imap/imap-search.h"

/* The parser's cursor over one argument list. */
struct parse {
	const struct imap_arg *args;
	size_t n, i;
	const char *error;
	const char *code;
	int rc;                 /* IMAP_SEARCH_ERR_* once failed */
};

/* Error text with client bytes; one per thread, valid until the next parse. */
static __thread char error_buf[256];

static void fail_bad(struct parse *p, const char *what, const char *client)
{
	char esc[80];

	if (p->rc != 0)
		return;
	p->rc = IMAP_SEARCH_ERR_BAD;
	if (client == NULL) {
		p->error = what;
		return;
	}
	str_escape(client, strlen(client), esc, sizeof(esc));
	snprintf(error_buf, sizeof(error_buf), "%s: %s", what, esc);
	p->error = error_buf;
}

static void fail_oom(struct parse *p)
{
	if (p->rc != 0)
		return;
	p->rc = IMAP_SEARCH_ERR_NO;
	p->code = NULL;
	p->error = "Out of memory";
}

static struct imap_search_node *node_new(struct parse *p, enum imap_search_type type)
{
	struct imap_search_node *n = calloc(1, sizeof(*n));

	if (n == NULL) {
		fail_oom(p);
		return NULL;
	}
	n->type = type;
	return n;
}

/* node_free - a node, its children and its following siblings. Recursion
 * only goes down (children), which the parser bounded; siblings loop. */
static void node_free(struct imap_search_node *n)
{
	while (n != NULL) {
		struct imap_search_node *next = n->next;

		node_free(n->child);
		free(n->name);
		free(n->str);
		free(n->ranges);
		free(n);
		n = next;
	}
}

void imap_search_free(struct imap_search **s)
{
	if (*s == NULL)
		return;
	node_free((*s)->root);
	x_free(s);
}

/* ---- argument helpers ---- */

static const struct imap_arg *next_arg(struct parse *p, const char *key)
{
	if (p->i >= p->n) {
		fail_bad(p, "Missing argument for search key", key);
		return NULL;
	}
	return &p->args[p->i++];
}

/* A string argument (astring): copied; NULs and over-long strings refused. */
static char *next_string(struct parse *p, const char *key)
{
	const struct imap_arg *a = next_arg(p, key);
	const char *s;
	char *copy;

	if (a == NULL)
		return NULL;
	s = imap_arg_astring(a);
	if (s == NULL) {
		fail_bad(p, "Search key needs a string argument", key);
		return NULL;
	}
	if (strlen(s) > IMAP_SEARCH_STRING_MAX) {
		fail_bad(p, "Search string too long (limit 4096 bytes) for", key);
		return NULL;
	}
	copy = strdup(s);
	if (copy == NULL)
		fail_oom(p);
	return copy;
}

/* An atom argument, borrowed. */
static const char *next_atom(struct parse *p, const char *key)
{
	const struct imap_arg *a = next_arg(p, key);

	if (a == NULL)
		return NULL;
	if (a->type != IMAP_ARG_ATOM) {
		fail_bad(p, "Search key needs an atom argument", key);
		return NULL;
	}
	return a->data;
}

static bool parse_number(const char *s, uint64_t *v_r)
{
	uint64_t v = 0;

	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return false;
		if (v > (UINT64_MAX - 9) / 10)
			return false;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*v_r = v;
	return true;
}

static const char *const month_names[12] = {
	"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
};

static int days_in_month(int y, int m)
{
	static const int days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return 29;
	return days[m - 1];
}

int imap_search_parse_date(const char *s)
{
	int d = 0, m = 0, y = 0, nd = 0;

	while (*s >= '0' && *s <= '9' && nd < 2) {
		d = d * 10 + (*s++ - '0');
		nd++;
	}
	if (nd == 0 || *s++ != '-')
		return -1;
	for (int i = 0; i < 12; i++) {
		if (strncasecmp(s, month_names[i], 3) == 0) {
			m = i + 1;
			break;
		}
	}
	if (m == 0 || s[3] != '-')
		return -1;
	s += 4;
	for (int i = 0; i < 4; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		y = y * 10 + (s[i] - '0');
	}
	if (s[4] != '\0' || y == 0 || d < 1 || d > days_in_month(y, m))
		return -1;
	return y * 10000 + m * 100 + d;
}

/* A sequence set is an atom of digits, ':', ',' and '*' (RFC 3501 9). */
static bool looks_like_seqset(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++) {
		if (!((*s >= '0' && *s <= '9') || *s == ':' || *s == ',' || *s == '*'))
			return false;
	}
	return true;
}

static struct imap_search_node *seqset_node(struct parse *p, enum imap_search_type type,
					    const char *text)
{
	struct imap_search_node *n;
	struct imap_seq_range *ranges = NULL;
	size_t count = 0;

	if (!looks_like_seqset(text) || imap_seqset_parse(text, &ranges, &count) < 0) {
		free(ranges);
		fail_bad(p, "Invalid sequence set in search", text);
		return NULL;
	}
	n = node_new(p, type);
	if (n == NULL) {
		free(ranges);
		return NULL;
	}
	n->ranges = ranges;
	n->nranges = count;
	return n;
}

/* Wrap child in NOT (for the UN* keys, NOT and OLD). */
static struct imap_search_node *negate(struct parse *p, struct imap_search_node *child)
{
	struct imap_search_node *n;

	if (child == NULL)
		return NULL;
	n = node_new(p, IMAP_SEARCH_NOT);
	if (n == NULL) {
		node_free(child);
		return NULL;
	}
	n->child = child;
	return n;
}

static struct imap_search_node *flag_node(struct parse *p, unsigned flag)
{
	struct imap_search_node *n = node_new(p, IMAP_SEARCH_FLAG);

	if (n != NULL)
		n->flag = flag;
	return n;
}

static struct imap_search_node *string_node(struct parse *p, enum imap_search_type type,
					    const char *key)
{
	struct imap_search_node *n;
	char *s = next_string(p, key);

	if (s == NULL)
		return NULL;
	n = node_new(p, type);
	if (n == NULL) {
		free(s);
		return NULL;
	}
	n->str = s;
	return n;
}

/* HEADER name value; FROM/TO/CC/BCC/SUBJECT are HEADER with a fixed name. */
static struct imap_search_node *header_node(struct parse *p, const char *field, const char *key)
{
	struct imap_search_node *n;
	char *name;

	if (field != NULL) {
		name = strdup(field);
		if (name == NULL) {
			fail_oom(p);
			return NULL;
		}
	} else {
		name = next_string(p, key);
		if (name == NULL)
			return NULL;
		if (name[0] == '\0' || strpbrk(name, ": \t\r\n") != NULL) {
			free(name);
			fail_bad(p, "Invalid header field name in HEADER", NULL);
			return NULL;
		}
	}
	n = string_node(p, IMAP_SEARCH_HEADER, key);
	if (n == NULL) {
		free(name);
		return NULL;
	}
	n->name = name;
	return n;
}

static struct imap_search_node *date_node(struct parse *p, enum imap_search_type type,
					  const char *key)
{
	const struct imap_arg *a = next_arg(p, key);
	const char *s;
	struct imap_search_node *n;
	int date;

	if (a == NULL)
		return NULL;
	s = imap_arg_astring(a);
	date = s != NULL ? imap_search_parse_date(s) : -1;
	if (date < 0) {
		fail_bad(p, "Invalid date (want d-Mon-yyyy, e.g. 1-Feb-2026) for", key);
		return NULL;
	}
	n = node_new(p, type);
	if (n != NULL)
		n->date = date;
	return n;
}

static struct imap_search_node *number_node(struct parse *p, enum imap_search_type type,
					    const char *key)
{
	const char *s = next_atom(p, key);
	struct imap_search_node *n;
	uint64_t v;

	if (s == NULL)
		return NULL;
	if (!parse_number(s, &v)) {
		fail_bad(p, "Invalid number for", key);
		return NULL;
	}
	n = node_new(p, type);
	if (n != NULL)
		n->number = v;
	return n;
}

static struct imap_search_node *keyword_node(struct parse *p, const char *key)
{
	const char *kw = next_atom(p, key);
	struct imap_search_node *n;

	if (kw == NULL)
		return NULL;
	if (kw[0] == '\0' || strlen(kw) > STORE_KEYWORDS_MAX) {
		fail_bad(p, "Invalid keyword for", key);
		return NULL;
	}
	n = node_new(p, IMAP_SEARCH_KEYWORD);
	if (n == NULL)
		return NULL;
	n->str = strdup(kw);
	if (n->str == NULL) {
		node_free(n);
		fail_oom(p);
		return NULL;
	}
	return n;
}

static struct imap_search_node *parse_key(struct parse *p, unsigned depth);

/*
 * parse_keys - the keys of one level (the top level, or a parenthesised
 * list) as an AND node. The list is built iteratively.
 */
static struct imap_search_node *parse_keys(struct parse *p, unsigned depth)
{
	struct imap_search_node *and, **tail;

	if (p->i >= p->n) {
		fail_bad(p, "Empty search program", NULL);
		return NULL;
	}
	and = node_new(p, IMAP_SEARCH_AND);
	if (and == NULL)
		return NULL;
	tail = &and->child;
	while (p->i < p->n) {
		struct imap_search_node *k = parse_key(p, depth);

		if (k == NULL) {
			node_free(and);
			return NULL;
		}
		*tail = k;
		tail = &k->next;
	}
	return and;
}

/* Flag keys: name, the flag, whether the key is the UN form. */
static const struct {
	const char *name;
	unsigned flag;
	bool negated;
} flag_keys[] = {
	{ "ANSWERED", STORE_FLAG_ANSWERED, false }, { "UNANSWERED", STORE_FLAG_ANSWERED, true },
	{ "DELETED", STORE_FLAG_DELETED, false },   { "UNDELETED", STORE_FLAG_DELETED, true },
	{ "DRAFT", STORE_FLAG_DRAFT, false },       { "UNDRAFT", STORE_FLAG_DRAFT, true },
	{ "FLAGGED", STORE_FLAG_FLAGGED, false },   { "UNFLAGGED", STORE_FLAG_FLAGGED, true },
	{ "SEEN", STORE_FLAG_SEEN, false },         { "UNSEEN", STORE_FLAG_SEEN, true },
};

static const struct {
	const char *name;
	enum imap_search_type type;
} date_keys[] = {
	{ "BEFORE", IMAP_SEARCH_BEFORE },         { "ON", IMAP_SEARCH_ON },
	{ "SINCE", IMAP_SEARCH_SINCE },           { "SENTBEFORE", IMAP_SEARCH_SENTBEFORE },
	{ "SENTON", IMAP_SEARCH_SENTON },         { "SENTSINCE", IMAP_SEARCH_SENTSINCE },
};

static const struct {
	const char *key;
	const char *field;
} header_keys[] = {
	{ "FROM", "From" }, { "TO", "To" }, { "CC", "Cc" }, { "BCC", "Bcc" },
	{ "SUBJECT", "Subject" },
};

/* parse_atom_key - a key given as an atom (everything but a list). */
static struct imap_search_node *parse_atom_key(struct parse *p, const char *k, unsigned depth)
{
	struct imap_search_node *n, *a, *b;

	for (size_t i = 0; i < sizeof(flag_keys) / sizeof(flag_keys[0]); i++) {
		if (strcasecmp(k, flag_keys[i].name) == 0) {
			n = flag_node(p, flag_keys[i].flag);
			return flag_keys[i].negated ? negate(p, n) : n;
		}
	}
	for (size_t i = 0; i < sizeof(date_keys) / sizeof(date_keys[0]); i++) {
		if (strcasecmp(k, date_keys[i].name) == 0)
			return date_node(p, date_keys[i].type, date_keys[i].name);
	}
	for (size_t i = 0; i < sizeof(header_keys) / sizeof(header_keys[0]); i++) {
		if (strcasecmp(k, header_keys[i].key) == 0)
			return header_node(p, header_keys[i].field, header_keys[i].key);
	}
	if (strcasecmp(k, "ALL") == 0)
		return node_new(p, IMAP_SEARCH_ALL);
	if (strcasecmp(k, "HEADER") == 0)
		return header_node(p, NULL, "HEADER");
	if (strcasecmp(k, "BODY") == 0)
		return string_node(p, IMAP_SEARCH_BODY, "BODY");
	if (strcasecmp(k, "TEXT") == 0)
		return string_node(p, IMAP_SEARCH_TEXT, "TEXT");
	if (strcasecmp(k, "KEYWORD") == 0)
		return keyword_node(p, "KEYWORD");
	if (strcasecmp(k, "UNKEYWORD") == 0)
		return negate(p, keyword_node(p, "UNKEYWORD"));
	if (strcasecmp(k, "LARGER") == 0)
		return number_node(p, IMAP_SEARCH_LARGER, "LARGER");
	if (strcasecmp(k, "SMALLER") == 0)
		return number_node(p, IMAP_SEARCH_SMALLER, "SMALLER");
	if (strcasecmp(k, "RECENT") == 0)
		return node_new(p, IMAP_SEARCH_RECENT);
	if (strcasecmp(k, "OLD") == 0)
		return negate(p, node_new(p, IMAP_SEARCH_RECENT));
	if (strcasecmp(k, "NEW") == 0) {
		/* RFC 3501: equivalent to (RECENT UNSEEN) */
		n = node_new(p, IMAP_SEARCH_AND);
		a = node_new(p, IMAP_SEARCH_RECENT);
		b = negate(p, flag_node(p, STORE_FLAG_SEEN));
		if (n == NULL || a == NULL || b == NULL) {
			node_free(n);
			node_free(a);
			node_free(b);
			return NULL;
		}
		n->child = a;
		a->next = b;
		return n;
	}
	if (strcasecmp(k, "UID") == 0) {
		const char *set = next_atom(p, "UID");

		return set != NULL ? seqset_node(p, IMAP_SEARCH_UIDSET, set) : NULL;
	}
	if (strcasecmp(k, "NOT") == 0) {
		if (depth >= IMAP_SEARCH_MAX_DEPTH) {
			fail_bad(p, "Search program nested too deeply (limit 64)", NULL);
			return NULL;
		}
		return negate(p, parse_key(p, depth + 1));
	}
	if (strcasecmp(k, "OR") == 0) {
		if (depth >= IMAP_SEARCH_MAX_DEPTH) {
			fail_bad(p, "Search program nested too deeply (limit 64)", NULL);
			return NULL;
		}
		a = parse_key(p, depth + 1);
		if (a == NULL)
			return NULL;
		b = parse_key(p, depth + 1);
		if (b == NULL) {
			node_free(a);
			return NULL;
		}
		n = node_new(p, IMAP_SEARCH_OR);
		if (n == NULL) {
			node_free(a);
			node_free(b);
			return NULL;
		}
		n->child = a;
		a->next = b;
		return n;
	}
	if ((k[0] >= '0' && k[0] <= '9') || k[0] == '*')
		return seqset_node(p, IMAP_SEARCH_SEQSET, k);
	fail_bad(p, "Unknown search key", k);
	return NULL;
}

static struct imap_search_node *parse_key(struct parse *p, unsigned depth)
{
	const struct imap_arg *a;

	if (p->i >= p->n) {
		fail_bad(p, "Missing search key", NULL);
		return NULL;
	}
	a = &p->args[p->i++];
	if (a->type == IMAP_ARG_LIST) {
		struct parse sub = { .args = a->list, .n = a->list_count };
		struct imap_search_node *n;

		if (depth >= IMAP_SEARCH_MAX_DEPTH) {
			fail_bad(p, "Search program nested too deeply (limit 64)", NULL);
			return NULL;
		}
		n = parse_keys(&sub, depth + 1);
		if (n == NULL) {
			p->rc = sub.rc;
			p->error = sub.error;
			p->code = sub.code;
		}
		return n;
	}
	if (a->type != IMAP_ARG_ATOM) {
		fail_bad(p, "Search key must be an atom or a list", NULL);
		return NULL;
	}
	return parse_atom_key(p, a->data, depth);
}

/* needs_message - whether any key reads the message file (body: whether
 * any reads beyond the header). Recursion follows the bounded depth of
 * the tree. */
static bool needs_message(const struct imap_search_node *n, bool body)
{
	for (; n != NULL; n = n->next) {
		switch (n->type) {
		case IMAP_SEARCH_HEADER:
		case IMAP_SEARCH_SENTBEFORE:
		case IMAP_SEARCH_SENTON:
		case IMAP_SEARCH_SENTSINCE:
			if (!body)
				return true;
			break;
		case IMAP_SEARCH_BODY:
		case IMAP_SEARCH_TEXT:
			return true;
		default:
			if (needs_message(n->child, body))
				return true;
		}
	}
	return false;
}

int imap_search_parse(const struct imap_arg *args, size_t nargs, struct imap_search **search_r,
		      const char **code_r, const char **error_r)
{
	struct parse p = { .args = args, .n = nargs };
	struct imap_search *s;

	*search_r = NULL;
	*code_r = NULL;
	if (nargs >= 1 && imap_arg_is_atom(&args[0], "CHARSET")) {
		const char *cs = nargs >= 2 ? imap_arg_astring(&args[1]) : NULL;

		if (cs == NULL) {
			*error_r = "CHARSET needs a charset name";
			return IMAP_SEARCH_ERR_BAD;
		}
		if (strcasecmp(cs, "UTF-8") != 0 && strcasecmp(cs, "US-ASCII") != 0) {
			/* RFC 3501 6.4.4: NO, with the charsets we know (RFC 5530) */
			*code_r = "BADCHARSET (UTF-8 US-ASCII)";
			*error_r = "Unsupported charset; use UTF-8 or US-ASCII";
			return IMAP_SEARCH_ERR_NO;
		}
		p.i = 2;
	}
	s = calloc(1, sizeof(*s));
	if (s == NULL) {
		*error_r = "Out of memory";
		return IMAP_SEARCH_ERR_NO;
	}
	s->root = parse_keys(&p, 0);
	if (s->root == NULL) {
		free(s);
		*code_r = p.code;
		*error_r = p.error != NULL ? p.error : "Invalid search program";
		return p.rc != 0 ? p.rc : IMAP_SEARCH_ERR_BAD;
	}
	s->needs_message = needs_message(s->root, false);
	s->needs_body = needs_message(s->root, true);
	*search_r = s;
	return 0;
}

/* ---- canonical dump ---- */

static const char *flag_name(unsigned flag)
{
	switch (flag) {
	case STORE_FLAG_SEEN: return "\\Seen";
	case STORE_FLAG_ANSWERED: return "\\Answered";
	case STORE_FLAG_FLAGGED: return "\\Flagged";
	case STORE_FLAG_DELETED: return "\\Deleted";
	case STORE_FLAG_DRAFT: return "\\Draft";
	default: return "?";
	}
}

static const char *type_name(enum imap_search_type t)
{
	switch (t) {
	case IMAP_SEARCH_ALL: return "ALL";
	case IMAP_SEARCH_AND: return "AND";
	case IMAP_SEARCH_OR: return "OR";
	case IMAP_SEARCH_NOT: return "NOT";
	case IMAP_SEARCH_FLAG: return "FLAG";
	case IMAP_SEARCH_KEYWORD: return "KEYWORD";
	case IMAP_SEARCH_RECENT: return "RECENT";
	case IMAP_SEARCH_LARGER: return "LARGER";
	case IMAP_SEARCH_SMALLER: return "SMALLER";
	case IMAP_SEARCH_BEFORE: return "BEFORE";
	case IMAP_SEARCH_ON: return "ON";
	case IMAP_SEARCH_SINCE: return "SINCE";
	case IMAP_SEARCH_SENTBEFORE: return "SENTBEFORE";
	case IMAP_SEARCH_SENTON: return "SENTON";
	case IMAP_SEARCH_SENTSINCE: return "SENTSINCE";
	case IMAP_SEARCH_HEADER: return "HEADER";
	case IMAP_SEARCH_BODY: return "BODY";
	case IMAP_SEARCH_TEXT: return "TEXT";
	case IMAP_SEARCH_SEQSET: return "SEQSET";
	case IMAP_SEARCH_UIDSET: return "UIDSET";
	}
	return "?";
}

static int dump_ranges(const struct imap_search_node *n, struct strbuf *out)
{
	for (size_t i = 0; i < n->nranges; i++) {
		const struct imap_seq_range *r = &n->ranges[i];
		int rc = 0;

		if (i > 0)
			rc = strbuf_putc(out, ',');
		if (r->lo == UINT32_MAX)
			rc |= strbuf_putc(out, '*');
		else
			rc |= strbuf_printf(out, "%u", r->lo);
		if (r->hi != r->lo && r->hi == UINT32_MAX)
			rc |= strbuf_puts(out, ":*");
		else if (r->hi != r->lo)
			rc |= strbuf_printf(out, ":%u", r->hi);
		if (rc != 0)
			return -1;
	}
	return 0;
}

/* dump_node - recursion bounded by the parser's depth limit. */
static int dump_node(const struct imap_search_node *n, struct strbuf *out)
{
	int r = strbuf_printf(out, "(%s", type_name(n->type));

	switch (n->type) {
	case IMAP_SEARCH_AND:
	case IMAP_SEARCH_OR:
	case IMAP_SEARCH_NOT:
		for (const struct imap_search_node *c = n->child; r == 0 && c != NULL; c = c->next) {
			r = strbuf_putc(out, ' ');
			if (r == 0)
				r = dump_node(c, out);
		}
		break;
	case IMAP_SEARCH_FLAG:
		r |= strbuf_printf(out, " %s", flag_name(n->flag));
		break;
	case IMAP_SEARCH_KEYWORD:
	case IMAP_SEARCH_BODY:
	case IMAP_SEARCH_TEXT:
		r |= strbuf_printf(out, " \"%s\"", n->str);
		break;
	case IMAP_SEARCH_HEADER:
		r |= strbuf_printf(out, " %s \"%s\"", n->name, n->str);
		break;
	case IMAP_SEARCH_LARGER:
	case IMAP_SEARCH_SMALLER:
		r |= strbuf_printf(out, " %llu", (unsigned long long)n->number);
		break;
	case IMAP_SEARCH_BEFORE:
	case IMAP_SEARCH_ON:
	case IMAP_SEARCH_SINCE:
	case IMAP_SEARCH_SENTBEFORE:
	case IMAP_SEARCH_SENTON:
	case IMAP_SEARCH_SENTSINCE:
		r |= strbuf_printf(out, " %d", n->date);
		break;
	case IMAP_SEARCH_SEQSET:
	case IMAP_SEARCH_UIDSET:
		r |= strbuf_putc(out, ' ');
		if (r == 0)
			r = dump_ranges(n, out);
		break;
	case IMAP_SEARCH_ALL:
	case IMAP_SEARCH_RECENT:
		break;
	}
	if (r == 0)
		r = strbuf_putc(out, ')');
	return r < 0 ? -1 : 0;
}

int imap_search_dump(const struct imap_search *s, struct strbuf *out)
{
	return dump_node(s->root, out);
}
