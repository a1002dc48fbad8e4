/*
 * maps-regexp.c - regexp:/path tables (regexp_table(5)) with the POSIX
 * regex.h engine; the table layout is maps-pattern.c.
 *
 * Flags (each toggles a default, as in Postfix): i - case-insensitive
 * matching, on by default; x - extended regular expressions (REG_EXTENDED),
 * on by default, so "x" selects basic syntax; m - multi-line mode
 * (REG_NEWLINE), off by default.
 *
 * Limits: glibc's regcomp builds an automaton whose size multiplies with
 * nested repetition counts, so "(a{999}){999}" would eat gigabytes. Each
 * {n,m} bound is limited to 255 and the product of all bounds in a pattern
 * to 65536; use pcre: for anything bigger. POSIX regexec has no match
 * limit: patterns with back-references can be slow on long keys, which is
 * the admin's choice (pcre: has limits).
 */
#include <ctype.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "maps-private.h"

#define REGEXP_BOUND_MAX 255
#define REGEXP_BOUND_PRODUCT_MAX 65536

struct maps_regexp {
	struct map map;
	struct maps_pattern_table *table;
	struct strbuf result;
};

/* bounds_ok - conservative scan for {n}, {n,}, {n,m} (also \{...\}). */
static bool bounds_ok(const char *pattern)
{
	unsigned long product = 1;

	for (const char *p = pattern; (p = strchr(p, '{')) != NULL; p++) {
		const char *q = p + 1;
		unsigned long bound = 0, v;

		for (int part = 0; part < 2; part++) {
			v = 0;
			if (!isdigit((unsigned char)*q))
				break;
			while (isdigit((unsigned char)*q)) {
				v = v * 10 + (unsigned long)(*q - '0');
				if (v > REGEXP_BOUND_MAX)
					return false;
				q++;
			}
			if (v > bound)
				bound = v;
			if (*q != ',')
				break;
			q++;
		}
		if (bound > 1) {
			product *= bound;
			if (product > REGEXP_BOUND_PRODUCT_MAX)
				return false;
		}
	}
	return true;
}

static void *regexp_compile(const char *pattern, const char *flags, size_t *groups_r,
			    char *err, size_t errsize)
{
	int cflags = REG_ICASE | REG_EXTENDED;
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
	if (!bounds_ok(pattern)) {
		snprintf(err, errsize, "repetition counts too large (at most %d each, product "
			 "at most %d)", REGEXP_BOUND_MAX, REGEXP_BOUND_PRODUCT_MAX);
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
