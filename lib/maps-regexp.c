/*
 * maps-regexp.c - regexp:/path tables (regexp_table(5)) with the POSIX
 * regex.h engine; the table layout is maps-pattern.c.
 *
 * Flags (each toggles a default, as in Postfix): i - case-insensitive
 * matching, on by default; x - extended regular expressions (REG_EXTENDED),
 * on by default, so "x" selects basic syntax; m - multi-line mode
 * (REG_NEWLINE), off by default.
 *
 * Limits: glibc's regcomp copies the operand of "+" and {n,m}, and copies
 * of copies multiply, so "(a{999}){999}" or "((((a+)+)+)+)..." eat
 * gigabytes (found by fuzzing). regexp_cost() estimates that expansion and
 * patterns above REGEXP_COST_MAX elements are refused at open; pcre: has
 * no such problem. POSIX regexec has no match limit: back-references can
 * be slow on long keys, which is the admin's choice (pcre: has limits).
 */
#include <ctype.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "maps-private.h"

/* Largest estimated automaton (see regexp_cost) and group nesting. */
#define REGEXP_COST_MAX 4096
#define REGEXP_NEST_MAX 64

struct maps_regexp {
	struct map map;
	struct maps_pattern_table *table;
	struct strbuf result;
};

/*
 * regexp_cost - estimate how many nodes glibc's regcomp builds for pattern:
 * it copies the operand of "+" once and of {n,m} max(n,m) times, and those
 * copies multiply when nested, so "((a+)+)+..." grows exponentially with
 * the depth. Stacked operators ("a*++") are refused outright (*stacked_r). The walk
 * keeps, per open group, the size so far and the size of the last atom, and
 * charges a quantifier by growing that last atom. Bracket expressions and
 * escapes count as one atom. Returns the estimate, capped just above
 * REGEXP_COST_MAX; extended selects ERE or BRE (\( \) \{ \} \+ \?)
 * syntax.
 */
static unsigned long regexp_cost(const char *pattern, bool extended, bool *stacked_r)
{
	bool prev_quant = false;
	struct { unsigned long size, last; } st[REGEXP_NEST_MAX + 1];
	size_t depth = 0;
	const char *p = pattern;

	st[0].size = st[0].last = 0;
	*stacked_r = false;
	while (*p) {
		bool esc = *p == '\\' && p[1] != '\0';
		char c = esc ? p[1] : *p;
		unsigned long times = 0;
		bool quant = extended ? !esc && (c == '*' || c == '+' || c == '?' ||
						 (c == '{' && isdigit((unsigned char)p[1])))
				      : (!esc && c == '*' && p != pattern) ||
					(esc && (c == '+' || c == '?' || c == '{'));

		/* "a*+", "a+{2}": undefined in POSIX, exponential in glibc. */
		if (quant && prev_quant) {
			*stacked_r = true;
			return REGEXP_COST_MAX + 1;
		}
		prev_quant = quant;

		if (extended ? (!esc && c == '(') : (esc && c == '(')) {
			if (depth == REGEXP_NEST_MAX)
				return REGEXP_COST_MAX + 1;
			depth++;
			st[depth].size = st[depth].last = 0;
			p += esc ? 2 : 1;
			continue;
		}
		if (depth > 0 && (extended ? (!esc && c == ')') : (esc && c == ')'))) {
			unsigned long inner = st[depth].size;

			depth--;
			st[depth].size += inner;
			st[depth].last = inner;
			p += esc ? 2 : 1;
		} else if (extended ? (!esc && (c == '+')) : (esc && c == '+')) {
			/* Charged double: glibc's closure work over a copied
			 * operand that can match empty grows about 4x per level. */
			times = 4;
			p += esc ? 2 : 1;
		} else if (extended ? (!esc && c == '{') : (esc && c == '{')) {
			const char *q = p + (esc ? 2 : 1);
			unsigned long v;

			for (int part = 0; part < 2 && isdigit((unsigned char)*q); part++) {
				v = 0;
				while (isdigit((unsigned char)*q)) {
					v = v * 10 + (unsigned long)(*q - '0');
					if (v > REGEXP_COST_MAX)
						return REGEXP_COST_MAX + 1;
					q++;
				}
				if (v > times)
					times = v;
				if (*q != ',')
					break;
				q++;
			}
			if (extended && *q == '}')
				q++;
			else if (!extended && q[0] == '\\' && q[1] == '}')
				q += 2;
			p = q;
		} else if (!esc && c == '[') {
			/* Skip the bracket expression: "[]" and "[^]" start with a
			 * literal "]", and "[:alpha:]"-style classes nest one level. */
			const char *q = p + 1;

			if (*q == '^')
				q++;
			if (*q == ']')
				q++;
			while (*q && *q != ']') {
				if (*q == '[' && (q[1] == ':' || q[1] == '.' || q[1] == '=')) {
					const char *e = strchr(q + 2, q[1]);

					q = e && e[1] == ']' ? e + 2 : q + 1;
				} else {
					q++;
				}
			}
			p = *q ? q + 1 : q;
			st[depth].size++;
			st[depth].last = 1;
		} else {
			/* A literal, ".", "*", "?", "|", an anchor or an escape. */
			p += esc ? 2 : 1;
			if (!(!esc && (c == '*' || c == '?' || c == '|'))) {
				st[depth].size++;
				st[depth].last = 1;
			}
		}
		if (times > 1) {
			unsigned long extra = st[depth].last * (times - 1);

			st[depth].size += extra;
			st[depth].last *= times;
		}
		if (st[depth].size > REGEXP_COST_MAX || st[depth].last > REGEXP_COST_MAX)
			return REGEXP_COST_MAX + 1;
	}
	while (depth > 0) {
		st[depth - 1].size += st[depth].size;
		depth--;
	}
	return st[0].size;
}

static void *regexp_compile(const char *pattern, const char *flags, size_t *groups_r,
			    char *err, size_t errsize)
{
	int cflags = REG_ICASE | REG_EXTENDED;
	bool stacked;
	regex_t *re;
	int rc;

	for (const char *f = flags; *f; f++) {
		if (*f == 'i')
			cflags ^= REG_ICASE;
		else if (*f == 'x')
			cflags ^= REG_EXTENDED;
		else if (*f == 'm')
			cflags ^= REG_NEWLINE;
	}
	if (regexp_cost(pattern, (cflags & REG_EXTENDED) != 0, &stacked) > REGEXP_COST_MAX) {
		if (stacked)
			snprintf(err, errsize, "a repetition operator follows another one, as in "
				 "\"a*+\"; remove one of them");
		else
			snprintf(err, errsize, "too complex for regexp: (nested) repetitions "
				 "expand to more than %d elements; simplify it or use a pcre: "
				 "table", REGEXP_COST_MAX);
		return NULL;
	}
	re = must_malloc(sizeof(*re));
	rc = regcomp(re, pattern, cflags);
	if (rc != 0) {
		regerror(rc, re, err, errsize);
		free(re);
		return NULL;
	}
	*groups_r = re->re_nsub;
	return re;
}

static int regexp_match(void *rep, const char *subject, struct maps_match *mm,
			char *err, size_t errsize)
{
	regex_t *re = rep;
	regmatch_t pm[MAPS_PATTERN_GROUPS_MAX + 1];
	size_t n = 0;
	int rc;

	if (mm != NULL) {
		n = re->re_nsub + 1;
		if (n > MAPS_PATTERN_GROUPS_MAX + 1)
			n = MAPS_PATTERN_GROUPS_MAX + 1;
	}
	rc = regexec(re, subject, n, n ? pm : NULL, 0);
	if (rc == REG_NOMATCH)
		return 0;
	if (rc != 0) {
		regerror(rc, re, err, errsize);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		mm->so[i] = pm[i].rm_so;
		mm->eo[i] = pm[i].rm_eo;
	}
	return 1;
}

static void regexp_free(void *rep)
{
	regfree(rep);
	free(rep);
}

static const struct maps_pattern_engine regexp_engine = {
	.type = "regexp",
	.flags = "imx",
	.compile = regexp_compile,
	.match = regexp_match,
	.free = regexp_free,
};

static enum map_status maps_regexp_lookup(struct map *m, const char *key,
					  const char **value_r, const char **error_r)
{
	struct maps_regexp *t = (struct maps_regexp *)m;
	enum map_status st = maps_pattern_lookup(t->table, key, &t->result, error_r);

	*value_r = st == MAP_FOUND ? t->result.data : NULL;
	return st;
}

static void maps_regexp_close(struct map *m)
{
	struct maps_regexp *t = (struct maps_regexp *)m;

	maps_pattern_free(&t->table);
	strbuf_free(&t->result);
	maps_free_common(m);
	free(t);
}

struct map *maps_regexp_open_mem(const char *name, const char *text, size_t len,
				 const char **error_r)
{
	struct maps_pattern_table *table = maps_pattern_parse(&regexp_engine, name, text,
							      len, error_r);
	struct maps_regexp *t;

	if (table == NULL)
		return NULL;
	t = must_calloc(1, sizeof(*t));
	maps_init_common(&t->map, &maps_regexp_ops, name, 0);
	t->table = table;
	strbuf_init(&t->result, MAPS_RESULT_MAX);
	return &t->map;
}

static struct map *maps_regexp_open(const char *name, unsigned open_flags,
				    const char **error_r)
{
	size_t len;
	char *text = maps_read_file(name, &len, error_r);
	struct map *m;

	if (text == NULL)
		return NULL;
	m = maps_regexp_open_mem(name, text, len, error_r);
	free(text);
	return m;
}

const struct map_ops maps_regexp_ops = {
	.type = "regexp",
	.flags = MAP_OPS_FILE,
	.open = maps_regexp_open,
	.lookup = maps_regexp_lookup,
	.close = maps_regexp_close,
};
