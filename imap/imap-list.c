/*
 * imap-list.c - the pure part of LIST and LSUB: mailbox patterns and the
 * choice of names and attributes to answer with.
 *
 * Called by cmd-list.c (LIST, LSUB), cmd-status.c (imap_list_quote),
 * cmd-mailbox.c (imap_special_use_from_name for CREATE ... (USE ...)), the
 * unit tests tests/unit/test_imap_list.c and tests/fuzz/fuzz_imap_list.c.
 *
 * Patterns (RFC 3501 6.3.8): '*' matches anything, '%' anything but the
 * hierarchy separator. Both sides are in the store's form (UTF-8, '/'),
 * so the separator is always '/'. A naive backtracking matcher takes
 * exponential time on "*%*%*%...a"; this one runs the pattern as a bit-
 * parallel NFA (Shift-And): each byte of a name costs O(pattern/64)
 * word operations, so LIST costs at most names x bytes x pattern/64,
 * whatever the pattern. Runs of wildcards collapse first ("*%" is "*").
 * The first level "INBOX" matches case-insensitively (RFC 3501 5.1).
 *
 * Selection (RFC 3501 6.3.8/6.3.9, RFC 5258 LIST-EXTENDED, RFC 3348
 * CHILDREN, RFC 6154 SPECIAL-USE): the candidates are the store's
 * mailboxes, its subscribed names, and every parent level of those (a
 * Maildir++ store can hold "a/b" without "a"). A parent that does not
 * exist is answered as \Noselect \HasChildren; a subscribed name that
 * does not exist as \NonExistent (SUBSCRIBED selection) or \Noselect
 * (LSUB). An unsubscribed LSUB level matched by '%' (a pattern that
 * matches it but not its subscribed child) is \Noselect, as RFC 3501
 * 6.3.9 asks.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap/imap-private.h"
#include "util.h"

/* Longest pattern after reference + pattern (store form), bytes. */
#define LIST_PATTERN_MAX 4096

enum tok_kind { TOK_LIT, TOK_STAR, TOK_PCT };

struct imap_list_pattern {
	size_t ntok;           /* tokens; NFA states are 0..ntok */
	size_t words;          /* uint64_t words per state set */
	uint64_t *lit;         /* 256 * words: states whose token is literal byte c */
	uint64_t *star;        /* words: states whose token is '*' */
	uint64_t *pct;         /* words: states whose token is '%' */
	uint64_t *cur, *next;  /* scratch state sets */
	bool has_pct;
};

struct imap_list_pattern *imap_list_pattern_new(const char *reference, const char *pattern,
						const char **error_r)
{
	struct imap_list_pattern *p;
	size_t rlen = strlen(reference), plen = strlen(pattern), ntok = 0;
	unsigned char *text;
	enum tok_kind *kind;

	if (rlen + plen > LIST_PATTERN_MAX) {
		*error_r = "LIST pattern too long";
		return NULL;
	}
	text = malloc(rlen + plen + 1);
	kind = malloc((rlen + plen + 1) * sizeof(*kind));
	p = calloc(1, sizeof(*p));
	if (text == NULL || kind == NULL || p == NULL)
		goto oom;
	/* RFC 3501 6.3.8: the pattern is interpreted in the context of the
	 * reference; in a single flat namespace that is concatenation. */
	memcpy(text, reference, rlen);
	memcpy(text + rlen, pattern, plen);
	for (size_t i = 0; i < rlen + plen; i++) {
		unsigned char c = text[i];

		if (c == '*' || c == '%') {
			enum tok_kind k = c == '*' ? TOK_STAR : TOK_PCT;

			if (ntok > 0 && kind[ntok - 1] != TOK_LIT) {
				if (k == TOK_STAR)
					kind[ntok - 1] = TOK_STAR;
				continue;
			}
			kind[ntok] = k;
			text[ntok++] = c;
		} else {
			kind[ntok] = TOK_LIT;
			text[ntok++] = c;
		}
	}
	p->ntok = ntok;
	p->words = (ntok + 1 + 63) / 64;
	p->lit = calloc(256 * p->words, sizeof(uint64_t));
	p->star = calloc(p->words, sizeof(uint64_t));
	p->pct = calloc(p->words, sizeof(uint64_t));
	p->cur = calloc(p->words, sizeof(uint64_t));
	p->next = calloc(p->words, sizeof(uint64_t));
	if (!p->lit || !p->star || !p->pct || !p->cur || !p->next)
		goto oom;
	for (size_t i = 0; i < ntok; i++) {
		uint64_t bit = (uint64_t)1 << (i % 64);

		if (kind[i] == TOK_STAR) {
			p->star[i / 64] |= bit;
		} else if (kind[i] == TOK_PCT) {
			p->pct[i / 64] |= bit;
			p->has_pct = true;
		} else {
			p->lit[(size_t)text[i] * p->words + i / 64] |= bit;
		}
	}
	free(text);
	free(kind);
	return p;
oom:
	free(text);
	free(kind);
	imap_list_pattern_free(&p);
	*error_r = "Out of memory";
	return NULL;
}

void imap_list_pattern_free(struct imap_list_pattern **pp)
{
	struct imap_list_pattern *p = *pp;

	if (p == NULL)
		return;
	free(p->lit);
	free(p->star);
	free(p->pct);
	free(p->cur);
	free(p->next);
	x_free(pp);
}

/* A wildcard may match nothing: from its state, the next one is live
 * too. Wildcards never follow each other (collapsed), so one pass. */
static void close_wild(const struct imap_list_pattern *p, uint64_t *set)
{
	uint64_t carry = 0;

	for (size_t w = 0; w < p->words; w++) {
		uint64_t wild = set[w] & (p->star[w] | p->pct[w]);
		uint64_t out = (wild << 1) | carry;

		carry = wild >> 63;
		set[w] |= out;
	}
}

bool imap_list_pattern_match(const struct imap_list_pattern *pc, const char *name)
{
	/* The scratch sets are the pattern's own: matching is not
	 * re-entrant per pattern, which LIST never needs. */
	struct imap_list_pattern *p = (struct imap_list_pattern *)pc;
	const unsigned char *s = (const unsigned char *)name;
	bool inbox = strncmp(name, "INBOX", 5) == 0 && (name[5] == '\0' || name[5] == '/');
	size_t final = p->ntok;

	memset(p->cur, 0, p->words * sizeof(uint64_t));
	p->cur[0] = 1;
	close_wild(p, p->cur);
	for (size_t i = 0; s[i] != '\0'; i++) {
		const uint64_t *l1 = p->lit + (size_t)s[i] * p->words;
		const uint64_t *l2 = l1;
		uint64_t carry = 0, any = 0;

		if (inbox && i < 5)
			l2 = p->lit + (size_t)tolower(s[i]) * p->words;
		for (size_t w = 0; w < p->words; w++) {
			uint64_t adv = p->cur[w] & (l1[w] | l2[w]);
			uint64_t stay = p->cur[w] & p->star[w];

			if (s[i] != '/')
				stay |= p->cur[w] & p->pct[w];
			p->next[w] = (adv << 1) | carry | stay;
			carry = adv >> 63;
			any |= p->next[w];
		}
		if (any == 0)
			return false;
		close_wild(p, p->next);
		uint64_t *t = p->cur;

		p->cur = p->next;
		p->next = t;
	}
	return (p->cur[final / 64] >> (final % 64)) & 1;
}

bool imap_list_pattern_has_pct(const struct imap_list_pattern *p)
{
	return p->has_pct;
}

/* ---- choosing the answer ---- */

struct cand {
	char *name;
	unsigned special_use;
	bool exists, subscribed;
	bool child_exists;       /* an existing mailbox below it */
	bool child_subscribed;   /* a subscribed name below it */
	const char *first_sub_child; /* one subscribed name below it (borrowed) */
};

static int cand_cmp(const void *a, const void *b)
{
	const struct cand *x = a, *y = b;
	bool xi = strcmp(x->name, "INBOX") == 0, yi = strcmp(y->name, "INBOX") == 0;

	if (xi != yi)
		return xi ? -1 : 1;
	return strcmp(x->name, y->name);
}

static struct cand *cand_find(struct cand *v, size_t n, const char *name)
{
	struct cand key = { .name = (char *)name };

	return bsearch(&key, v, n, sizeof(*v), cand_cmp);
}

static bool any_match(struct imap_list_pattern *const *pats, size_t npats, const char *name)
{
	for (size_t i = 0; i < npats; i++)
		if (imap_list_pattern_match(pats[i], name))
			return true;
	return false;
}

/* RFC 3501 6.3.9 / RFC 5258 RECURSIVEMATCH: a pattern that matches name
 * but not its subscribed descendant (that is, '%' stopped at name). */
static bool matches_above(struct imap_list_pattern *const *pats, size_t npats, const char *name,
			  const char *desc)
{
	for (size_t i = 0; i < npats; i++)
		if (imap_list_pattern_match(pats[i], name) &&
		    !imap_list_pattern_match(pats[i], desc))
			return true;
	return false;
}

void imap_list_entries_free(struct imap_list_entry *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i].name);
	free(v);
}

int imap_list_select(const struct imap_list_box *boxes, size_t nboxes,
		     struct imap_list_pattern *const *pats, size_t npats,
		     const struct imap_list_opts *o, struct imap_list_entry **out_r,
		     size_t *nout_r)
{
	struct cand *c = NULL;
	size_t nc = 0, cap = 0, nout = 0;
	struct imap_list_entry *out = NULL;
	int ret = -1;

	*out_r = NULL;
	*nout_r = 0;
	/* Every name and every parent level of it. */
	for (size_t i = 0; i < nboxes; i++) {
		const char *name = boxes[i].name;

		for (const char *p = name;; p++) {
			if (*p != '/' && *p != '\0')
				continue;
			if (nc == cap) {
				size_t ncap = cap ? cap * 2 : 64;
				struct cand *t = realloc(c, ncap * sizeof(*t));

				if (t == NULL)
					goto out;
				c = t;
				cap = ncap;
			}
			memset(&c[nc], 0, sizeof(c[nc]));
			c[nc].name = strndup(name, (size_t)(p - name));
			if (c[nc].name == NULL)
				goto out;
			nc++;
			if (*p == '\0')
				break;
		}
	}
	if (nc > 1)
		qsort(c, nc, sizeof(*c), cand_cmp);
	/* de-duplicate */
	{
		size_t w = 0;

		for (size_t r = 0; r < nc; r++) {
			if (w > 0 && strcmp(c[w - 1].name, c[r].name) == 0) {
				free(c[r].name);
				continue;
			}
			c[w++] = c[r];
		}
		nc = w;
	}
	/* Facts from the store, then up to every parent. */
	for (size_t i = 0; i < nboxes; i++) {
		struct cand *e = cand_find(c, nc, boxes[i].name);

		if (e == NULL)
			continue;
		e->exists = boxes[i].exists;
		e->subscribed = boxes[i].subscribed;
		e->special_use = boxes[i].special_use;
	}
	for (size_t i = 0; i < nc; i++) {
		char *name;

		if (!c[i].exists && !c[i].subscribed)
			continue;
		/* a copy to cut: the array's own string must stay whole for bsearch */
		if ((name = strdup(c[i].name)) == NULL)
			goto out;
		for (char *p = name + strlen(name); p > name; p--) {
			struct cand *parent;

			if (*p != '/')
				continue;
			*p = '\0';
			parent = cand_find(c, nc, name);
			if (parent == NULL)
				continue;
			if (c[i].exists)
				parent->child_exists = true;
			if (c[i].subscribed) {
				parent->child_subscribed = true;
				if (parent->first_sub_child == NULL)
					parent->first_sub_child = c[i].name;
			}
		}
		free(name);
	}
	out = calloc(nc ? nc : 1, sizeof(*out));
	if (out == NULL)
		goto out;
	for (size_t i = 0; i < nc; i++) {
		const struct cand *e = &c[i];
		unsigned attrs = 0;
		bool childinfo = false;

		if (!any_match(pats, npats, e->name))
			continue;
		if (o->lsub) {
			if (e->subscribed)
				attrs = e->exists ? 0 : IMAP_LIST_NOSELECT;
			else if (e->child_subscribed &&
				 matches_above(pats, npats, e->name, e->first_sub_child))
				attrs = IMAP_LIST_NOSELECT;
			else
				continue;
		} else {
			bool selected = e->exists || e->child_exists;

			if (o->sel_subscribed) {
				selected = e->subscribed;
				if (o->recursive && e->child_subscribed) {
					childinfo = true;
					selected = selected ||
						   matches_above(pats, npats, e->name,
								 e->first_sub_child);
				}
			}
			if (o->sel_special_use && (e->special_use == 0 || !e->exists))
				selected = false;
			if (!selected)
				continue;
			if (!e->exists) {
				if (e->child_exists)
					attrs |= IMAP_LIST_NOSELECT;
				else
					attrs |= IMAP_LIST_NONEXISTENT;
			}
			if (e->exists || e->child_exists)
				attrs |= e->child_exists ? IMAP_LIST_HASCHILDREN
							 : IMAP_LIST_HASNOCHILDREN;
			if ((o->sel_subscribed || o->ret_subscribed) && e->subscribed)
				attrs |= IMAP_LIST_SUBSCRIBED;
		}
		out[nout].name = e->name;
		c[i].name = NULL;
		out[nout].attrs = attrs;
		out[nout].special_use = o->lsub ? 0 : e->special_use;
		out[nout].childinfo_subscribed = childinfo;
		nout++;
	}
	*out_r = out;
	*nout_r = nout;
	out = NULL;
	ret = 0;
out:
	for (size_t i = 0; i < nc; i++)
		free(c[i].name);
	free(c);
	if (out != NULL)
		imap_list_entries_free(out, nout);
	return ret;
}

static const struct {
	unsigned flag;
	const char *name;
} special_names[] = {
	{ STORE_SPECIAL_ALL, "\\All" },
	{ STORE_SPECIAL_ARCHIVE, "\\Archive" },
	{ STORE_SPECIAL_DRAFTS, "\\Drafts" },
	{ STORE_SPECIAL_FLAGGED, "\\Flagged" },
	{ STORE_SPECIAL_JUNK, "\\Junk" },
	{ STORE_SPECIAL_SENT, "\\Sent" },
	{ STORE_SPECIAL_TRASH, "\\Trash" },
};

unsigned imap_special_use_from_name(const char *name)
{
	for (size_t i = 0; i < sizeof(special_names) / sizeof(special_names[0]); i++)
		if (strcasecmp(name, special_names[i].name) == 0)
			return special_names[i].flag;
	return 0;
}

int imap_special_use_format(struct strbuf *out, unsigned special_use)
{
	bool first = out->len == 0 || out->data[out->len - 1] == '(';

	for (size_t i = 0; i < sizeof(special_names) / sizeof(special_names[0]); i++) {
		if (!(special_use & special_names[i].flag))
			continue;
		if ((!first && strbuf_putc(out, ' ') < 0) ||
		    strbuf_puts(out, special_names[i].name) < 0)
			return -1;
		first = false;
	}
	return 0;
}

int imap_list_quote(struct strbuf *out, const char *s)
{
	if (strbuf_putc(out, '"') < 0)
		return -1;
	for (; *s; s++) {
		if ((*s == '"' || *s == '\\') && strbuf_putc(out, '\\') < 0)
			return -1;
		if (strbuf_putc(out, *s) < 0)
			return -1;
	}
	return strbuf_putc(out, '"');
}

int imap_list_format(struct strbuf *out, const char *verb, const struct imap_list_entry *e,
		     const char *client_name, char sep, bool special_use)
{
	static const struct {
		unsigned flag;
		const char *name;
	} attr_names[] = {
		{ IMAP_LIST_NOSELECT, "\\Noselect" },
		{ IMAP_LIST_NONEXISTENT, "\\NonExistent" },
		{ IMAP_LIST_HASCHILDREN, "\\HasChildren" },
		{ IMAP_LIST_HASNOCHILDREN, "\\HasNoChildren" },
		{ IMAP_LIST_SUBSCRIBED, "\\Subscribed" },
	};
	bool first = true;

	if (strbuf_printf(out, "%s (", verb) < 0)
		return -1;
	for (size_t i = 0; i < sizeof(attr_names) / sizeof(attr_names[0]); i++) {
		if (!(e->attrs & attr_names[i].flag))
			continue;
		if ((!first && strbuf_putc(out, ' ') < 0) ||
		    strbuf_puts(out, attr_names[i].name) < 0)
			return -1;
		first = false;
	}
	if (special_use && e->special_use && imap_special_use_format(out, e->special_use) < 0)
		return -1;
	if (strbuf_printf(out, ") \"%c\" ", sep) < 0 || imap_list_quote(out, client_name) < 0)
		return -1;
	if (e->childinfo_subscribed && strbuf_puts(out, " (\"CHILDINFO\" (\"SUBSCRIBED\"))") < 0)
		return -1;
	return 0;
}
