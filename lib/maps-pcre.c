/*
 * maps-pcre.c - pcre:/path tables (pcre_table(5)) with PCRE2; the table
 * layout is maps-pattern.c.
 *
 * Flags (each toggles a default, as in Postfix): i - case-insensitive,
 * on by default (PCRE2_CASELESS); m - PCRE2_MULTILINE; s - PCRE2_DOTALL;
 * x - PCRE2_EXTENDED; A - PCRE2_ANCHORED; E - PCRE2_DOLLAR_ENDONLY;
 * U - PCRE2_UNGREEDY. X (PCRE_EXTRA) has no PCRE2 equivalent and is
 * accepted without effect, as Postfix built with PCRE2 does.
 *
 * Every match runs with a match limit, a depth limit and a heap limit, so a
 * hostile key against a backtracking pattern ends with MAP_TEMPFAIL (a 4xx
 * upstream) instead of hanging the role. Subjects are bytes, not UTF-8.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "maps-private.h"

#define PCRE_MATCH_LIMIT 100000
#define PCRE_DEPTH_LIMIT 5000
#define PCRE_HEAP_LIMIT_KIB 4096

struct pcre_re {
	pcre2_code *code;
	pcre2_match_data *md;
	pcre2_match_context *mctx;
};

struct maps_pcre {
	struct map map;
	struct maps_pattern_table *table;
	struct strbuf result;
};

static void pcre_free_re(void *rep)
{
	struct pcre_re *re = rep;

	pcre2_match_context_free(re->mctx);
	pcre2_match_data_free(re->md);
	pcre2_code_free(re->code);
	free(re);
}

static void *pcre_compile_re(const char *pattern, const char *flags, size_t *groups_r,
			     char *err, size_t errsize)
{
	uint32_t options = PCRE2_CASELESS, groups = 0;
	struct pcre_re *re;
	PCRE2_UCHAR msg[200];
	PCRE2_SIZE erroff;
	int ec;

	for (const char *f = flags; *f; f++) {
		switch (*f) {
		case 'i': options ^= PCRE2_CASELESS; break;
		case 'm': options ^= PCRE2_MULTILINE; break;
		case 's': options ^= PCRE2_DOTALL; break;
		case 'x': options ^= PCRE2_EXTENDED; break;
		case 'A': options ^= PCRE2_ANCHORED; break;
		case 'E': options ^= PCRE2_DOLLAR_ENDONLY; break;
		case 'U': options ^= PCRE2_UNGREEDY; break;
		default: break; /* X */
		}
	}
	re = must_calloc(1, sizeof(*re));
	re->code = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED, options, &ec,
				 &erroff, NULL);
	if (re->code == NULL) {
		pcre2_get_error_message(ec, msg, sizeof(msg));
		snprintf(err, errsize, "%s at offset %zu", (const char *)msg, (size_t)erroff);
		free(re);
		return NULL;
	}
	pcre2_pattern_info(re->code, PCRE2_INFO_CAPTURECOUNT, &groups);
	re->md = pcre2_match_data_create_from_pattern(re->code, NULL);
	re->mctx = pcre2_match_context_create(NULL);
	if (re->md == NULL || re->mctx == NULL) {
		snprintf(err, errsize, "out of memory");
		pcre_free_re(re);
		return NULL;
	}
	pcre2_set_match_limit(re->mctx, PCRE_MATCH_LIMIT);
	pcre2_set_depth_limit(re->mctx, PCRE_DEPTH_LIMIT);
	pcre2_set_heap_limit(re->mctx, PCRE_HEAP_LIMIT_KIB);
	*groups_r = groups;
	return re;
}

static int pcre_match(void *rep, const char *subject, struct maps_match *mm,
		      char *err, size_t errsize)
{
	struct pcre_re *re = rep;
	PCRE2_UCHAR msg[200];
	PCRE2_SIZE *ov;
	uint32_t pairs;
	int rc;

	rc = pcre2_match(re->code, (PCRE2_SPTR)subject, strlen(subject), 0, 0, re->md,
			 re->mctx);
	if (rc == PCRE2_ERROR_NOMATCH)
		return 0;
	if (rc < 0) {
		pcre2_get_error_message(rc, msg, sizeof(msg));
		snprintf(err, errsize, "matching failed: %s", (const char *)msg);
		return -1;
	}
	if (mm == NULL)
		return 1;
	ov = pcre2_get_ovector_pointer(re->md);
	pairs = pcre2_get_ovector_count(re->md);
	if (pairs > MAPS_PATTERN_GROUPS_MAX + 1)
		pairs = MAPS_PATTERN_GROUPS_MAX + 1;
	for (uint32_t i = 0; i < pairs; i++) {
		if (ov[2 * i] == PCRE2_UNSET || (int)i >= rc) {
			mm->so[i] = mm->eo[i] = -1;
		} else {
			mm->so[i] = (ssize_t)ov[2 * i];
			mm->eo[i] = (ssize_t)ov[2 * i + 1];
		}
	}
	return 1;
}

static const struct maps_pattern_engine pcre_engine = {
	.type = "pcre",
	.flags = "imsxAEUX",
	.compile = pcre_compile_re,
	.match = pcre_match,
	.free = pcre_free_re,
};

static enum map_status maps_pcre_lookup(struct map *m, const char *key,
					const char **value_r, const char **error_r)
{
	struct maps_pcre *t = (struct maps_pcre *)m;
	enum map_status st = maps_pattern_lookup(t->table, key, &t->result, error_r);

	*value_r = st == MAP_FOUND ? t->result.data : NULL;
	return st;
}

static void maps_pcre_close(struct map *m)
{
	struct maps_pcre *t = (struct maps_pcre *)m;

	maps_pattern_free(&t->table);
	strbuf_free(&t->result);
	maps_free_common(m);
	free(t);
}

struct map *maps_pcre_open_mem(const char *name, const char *text, size_t len,
			       const char **error_r)
{
	struct maps_pattern_table *table = maps_pattern_parse(&pcre_engine, name, text,
							      len, error_r);
	struct maps_pcre *t;

	if (table == NULL)
		return NULL;
	t = must_calloc(1, sizeof(*t));
	maps_init_common(&t->map, &maps_pcre_ops, name, 0);
	t->table = table;
	strbuf_init(&t->result, MAPS_RESULT_MAX);
	return &t->map;
}

static struct map *maps_pcre_open(const char *name, unsigned open_flags, const char **error_r)
{
	size_t len;
	char *text = maps_read_file(name, &len, error_r);
	struct map *m;

	if (text == NULL)
		return NULL;
	m = maps_pcre_open_mem(name, text, len, error_r);
	free(text);
	return m;
}

const struct map_ops maps_pcre_ops = {
	.type = "pcre",
	.flags = MAP_OPS_FILE,
	.open = maps_pcre_open,
	.lookup = maps_pcre_lookup,
	.close = maps_pcre_close,
};
