/*
 * maps-pattern.c - the table layout shared by regexp:/path
 * (regexp_table(5)) and pcre:/path (pcre_table(5)); the backends supply
 * only the regular-expression engine.
 *
 *   /pattern/flags result     result when the key matches
 *   !/pattern/flags result    result when the key does not match
 *   if /pattern/flags         the rules up to the matching endif apply only
 *   if !/pattern/flags        when the key matches (does not match)
 *   endif
 *
 * The delimiter is the first character (conventionally "/"; anything but
 * whitespace, a letter, a digit or a backslash); a backslash escapes the
 * delimiter inside the pattern. The first matching rule wins. In a result,
 * $1..$99, ${n} and $(n) insert capture group n (empty when the group did
 * not take part), $$ is a "$". References are checked when the table is
 * read: a group the pattern does not have, or any group of a negated
 * pattern (which has none), is an error, as in Postfix.
 *
 * if/endif nest at most MAPS_IF_DEPTH_MAX deep; the rules are a flat array
 * and an "if" that fails jumps past its endif, so lookups never recurse.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "maps-private.h"

enum rule_kind { RULE_MATCH, RULE_IF, RULE_ENDIF };

struct pattern_rule {
	enum rule_kind kind;
	bool negate;
	bool has_refs;   /* the result uses capture groups */
	void *re;        /* RULE_MATCH and RULE_IF */
	char *result;    /* RULE_MATCH */
	size_t skip_to;  /* RULE_IF: the index after its endif */
	unsigned line;
};

struct maps_pattern_table {
	const struct maps_pattern_engine *engine;
	char *name;
	struct pattern_rule *rules;
	size_t n, cap;
	struct maps_match mm;
};

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/*
 * scan_ref - at p (just after a '$'), read a group reference. Returns the
 * characters consumed (0 for "$$"), with *group_r = the number or -1 for a
 * literal "$"; -1 on a syntax error.
 */
static int scan_ref(const char *p, long *group_r)
{
	const char *q = p;
	char close = 0;
	long n = 0;

	if (*q == '$') {
		*group_r = -1;
		return 1;
	}
	if (*q == '{')
		close = '}';
	else if (*q == '(')
		close = ')';
	if (close)
		q++;
	if (!isdigit((unsigned char)*q))
		return -1;
	while (isdigit((unsigned char)*q)) {
		n = n * 10 + (*q - '0');
		if (n > 1000)
			return -1;
		q++;
	}
	if (close) {
		if (*q != close)
			return -1;
		q++;
	} else if (isalpha((unsigned char)*q) || *q == '_') {
		return -1;
	}
	*group_r = n;
	return (int)(q - p);
}

/* check_result - validate the $ references of result; 0 or -1. */
static int check_result(const struct maps_pattern_table *t, unsigned lineno,
			const char *result, bool negate, size_t groups, bool *has_refs_r,
			const char **error_r)
{
	*has_refs_r = false;
	for (const char *p = result; (p = strchr(p, '$')) != NULL;) {
		long g;
		int used = scan_ref(p + 1, &g);

		if (used < 0) {
			maps_error(error_r, "%s:%u: %s: bad \"$\" in result \"%s\"; write $N, "
				   "${N} or $(N) for group N, or $$ for a \"$\"", t->name,
				   lineno, t->engine->type, maps_quote(result, 0));
			return -1;
		}
		if (g >= 0) {
			if (negate) {
				maps_error(error_r, "%s:%u: %s: $%ld in the result of a negated "
					   "pattern; a pattern that does not match has no groups, "
					   "remove the reference", t->name, lineno,
					   t->engine->type, g);
				return -1;
			}
			if (g < 1 || (size_t)g > groups || g > MAPS_PATTERN_GROUPS_MAX) {
				maps_error(error_r, "%s:%u: %s: result refers to $%ld but the "
					   "pattern has %zu group%s; use $1..$%zu or add ( ) "
					   "around the part to copy", t->name, lineno,
					   t->engine->type, g, groups, groups == 1 ? "" : "s",
					   groups);
				return -1;
			}
			*has_refs_r = true;
		}
		p += 1 + used;
	}
	return 0;
}

/*
 * parse_pattern - parse "[!]/pattern/flags" at *pp and compile it; *pp is
 * left after the flags. 0, or -1 with *error_r.
 */
static int parse_pattern(struct maps_pattern_table *t, unsigned lineno, char **pp,
			 struct pattern_rule *rule, size_t *groups_r, const char **error_r)
{
	const char *type = t->engine->type;
	char *p = *pp, *q, *pattern, flags[17];
	char delim, err[256];
	size_t nflags = 0;

	rule->negate = false;
	if (*p == '!') {
		rule->negate = true;
		p++;
	}
	delim = *p;
	if (delim == '\0' || is_blank(delim) || isalnum((unsigned char)delim) || delim == '\\') {
		maps_error(error_r, "%s:%u: %s: a pattern must start with a delimiter such as "
			   "/; write /PATTERN/FLAGS RESULT", t->name, lineno, type);
		return -1;
	}
	for (q = p + 1; *q && *q != delim; q++)
		if (*q == '\\' && q[1] != '\0')
			q++;
	if (*q == '\0') {
		maps_error(error_r, "%s:%u: %s: missing closing %c; write %cPATTERN%cFLAGS RESULT",
			   t->name, lineno, type, delim, delim, delim);
		return -1;
	}
	*q++ = '\0';
	pattern = p + 1;
	for (; *q && !is_blank(*q); q++) {
		if (strchr(t->engine->flags, *q) == NULL || nflags + 1 >= sizeof(flags)) {
			maps_error(error_r, "%s:%u: %s: unknown flag \"%c\" after %c%s%c; use "
				   "one of \"%s\"", t->name, lineno, type, *q, delim,
				   maps_quote(pattern, 0), delim, t->engine->flags);
			return -1;
		}
		flags[nflags++] = *q;
	}
	flags[nflags] = '\0';
	err[0] = '\0';
	rule->re = t->engine->compile(pattern, flags, groups_r, err, sizeof(err));
	if (rule->re == NULL) {
		maps_error(error_r, "%s:%u: %s: bad pattern %c%s%c: %s; fix the regular "
			   "expression", t->name, lineno, type, delim, maps_quote(pattern, 0),
			   delim, err);
		return -1;
	}
	*pp = q;
	return 0;
}

static void add_rule(struct maps_pattern_table *t, const struct pattern_rule *rule)
{
	if (t->n == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 16;
		t->rules = must_realloc(t->rules, t->cap * sizeof(*t->rules));
	}
	t->rules[t->n++] = *rule;
}

/* parse_line - one logical line into one rule; 0 or -1. */
static int parse_line(struct maps_pattern_table *t, unsigned lineno, char *line,
		      size_t *stack, size_t *depth, const char **error_r)
{
	struct pattern_rule rule = { .line = lineno };
	const char *type = t->engine->type;
	size_t groups = 0;
	char *p = line;

	if (strncmp(line, "endif", 5) == 0 && (line[5] == '\0' || is_blank(line[5]))) {
		if (line[5] != '\0') {
			maps_error(error_r, "%s:%u: %s: text after endif; put it on a line of its "
				   "own", t->name, lineno, type);
			return -1;
		}
		if (*depth == 0) {
			maps_error(error_r, "%s:%u: %s: endif without a matching if; remove it",
				   t->name, lineno, type);
			return -1;
		}
		rule.kind = RULE_ENDIF;
		add_rule(t, &rule);
		t->rules[stack[--*depth]].skip_to = t->n;
		return 0;
	}
	if (strncmp(line, "if", 2) == 0 && is_blank(line[2])) {
		if (*depth >= MAPS_IF_DEPTH_MAX) {
			maps_error(error_r, "%s:%u: %s: if blocks nested more than %d deep; "
				   "flatten them", t->name, lineno, type, MAPS_IF_DEPTH_MAX);
			return -1;
		}
		p = line + 2;
		while (is_blank(*p))
			p++;
		rule.kind = RULE_IF;
		if (parse_pattern(t, lineno, &p, &rule, &groups, error_r) < 0)
			return -1;
		if (*p != '\0') {
			t->engine->free(rule.re);
			maps_error(error_r, "%s:%u: %s: text after \"if PATTERN\"; put each rule "
				   "on its own line between if and endif", t->name, lineno, type);
			return -1;
		}
		stack[(*depth)++] = t->n;
		add_rule(t, &rule);
		return 0;
	}
	rule.kind = RULE_MATCH;
	if (parse_pattern(t, lineno, &p, &rule, &groups, error_r) < 0)
		return -1;
	while (is_blank(*p))
		p++;
	if (*p == '\0') {
		t->engine->free(rule.re);
		maps_error(error_r, "%s:%u: %s: missing result after the pattern; write "
			   "/PATTERN/FLAGS RESULT", t->name, lineno, type);
		return -1;
	}
	if (check_result(t, lineno, p, rule.negate, groups, &rule.has_refs, error_r) < 0) {
		t->engine->free(rule.re);
		return -1;
	}
	rule.result = must_strdup(p);
	add_rule(t, &rule);
	return 0;
}

struct maps_pattern_table *maps_pattern_parse(const struct maps_pattern_engine *engine,
					      const char *name, const char *text, size_t len,
					      const char **error_r)
{
	struct maps_pattern_table *t = must_calloc(1, sizeof(*t));
	size_t stack[MAPS_IF_DEPTH_MAX], depth = 0;
	struct maps_source src;
	char *line;
	unsigned lineno;
	int r;

	t->engine = engine;
	t->name = must_strdup(name);
	maps_source_init(&src, name, text, len);
	while ((r = maps_source_next(&src, &line, &lineno, error_r)) > 0)
		if (parse_line(t, lineno, line, stack, &depth, error_r) < 0) {
			r = -1;
			break;
		}
	maps_source_free(&src);
	if (r == 0 && depth > 0) {
		maps_error(error_r, "%s:%u: %s: if without a matching endif; add endif",
			   name, t->rules[stack[depth - 1]].line, engine->type);
		r = -1;
	}
	if (r < 0) {
		maps_pattern_free(&t);
		return NULL;
	}
	return t;
}

/* expand - the result with $n replaced; 0, or -1 when out grows too big. */
static int expand(const char *result, const char *key, const struct maps_match *mm,
		  bool has_refs, struct strbuf *out)
{
	const char *p = result;

	strbuf_reset(out);
	if (!has_refs)
		return strbuf_puts(out, result);
	for (;;) {
		const char *d = strchr(p, '$');
		long g;
		int used;

		if (d == NULL)
			return strbuf_puts(out, p);
		if (strbuf_append(out, p, (size_t)(d - p)) < 0)
			return -1;
		used = scan_ref(d + 1, &g); /* validated at parse time */
		if (used < 0)
			return -1;
		if (g < 0) {
			if (strbuf_putc(out, '$') < 0)
				return -1;
		} else if (mm->so[g] >= 0 && mm->eo[g] >= mm->so[g]) {
			if (strbuf_append(out, key + mm->so[g], (size_t)(mm->eo[g] - mm->so[g])) < 0)
				return -1;
		}
		p = d + 1 + used;
	}
}

enum map_status maps_pattern_lookup(struct maps_pattern_table *t, const char *key,
				    struct strbuf *out, const char **error_r)
{
	size_t i = 0;
	char err[256];

	while (i < t->n) {
		const struct pattern_rule *r = &t->rules[i];
		struct maps_match *mm = NULL;
		bool matched;
		int m;

		if (r->kind == RULE_ENDIF) {
			i++;
			continue;
		}
		if (r->kind == RULE_MATCH && r->has_refs) {
			mm = &t->mm;
			for (size_t g = 0; g <= MAPS_PATTERN_GROUPS_MAX; g++)
				mm->so[g] = mm->eo[g] = -1;
		}
		err[0] = '\0';
		m = t->engine->match(r->re, key, mm, err, sizeof(err));
		if (m < 0) {
			maps_error(error_r, "%s:%u: %s: %s; simplify the pattern", t->name,
				   r->line, t->engine->type, err);
			return MAP_TEMPFAIL;
		}
		matched = (m == 1) != r->negate;
		if (r->kind == RULE_IF) {
			i = matched ? i + 1 : r->skip_to;
			continue;
		}
		if (matched) {
			if (expand(r->result, key, mm, r->has_refs, out) < 0) {
				maps_error(error_r, "%s:%u: %s: result longer than %d bytes",
					   t->name, r->line, t->engine->type, MAPS_RESULT_MAX);
				return MAP_TEMPFAIL;
			}
			return MAP_FOUND;
		}
		i++;
	}
	return MAP_NOTFOUND;
}

void maps_pattern_free(struct maps_pattern_table **tp)
{
	struct maps_pattern_table *t = *tp;

	if (t == NULL)
		return;
	for (size_t i = 0; i < t->n; i++) {
		if (t->rules[i].re != NULL)
			t->engine->free(t->rules[i].re);
		free(t->rules[i].result);
	}
	free(t->rules);
	free(t->name);
	x_free(tp);
}
