/*
 * maps-kv.c - the sorted key/value set behind texthash:, inline: and the
 * lmdb builder (maps-lmdb.c), which all share postmap's duplicate rule:
 * warn "duplicate entry" and keep the first (postmap(1) without -r).
 *
 * Sorting uses unsigned byte order (strcmp), which is also LMDB's default
 * key order for NUL-terminated keys, so the builder can append in order.
 */
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "maps-private.h"

void maps_kv_add(struct maps_kv *kv, const char *key, const char *value, unsigned line)
{
	if (kv->n == kv->cap) {
		kv->cap = kv->cap ? kv->cap * 2 : 64;
		kv->v = must_realloc(kv->v, kv->cap * sizeof(*kv->v));
	}
	kv->v[kv->n].key = must_strdup(key);
	kv->v[kv->n].value = must_strdup(value);
	kv->v[kv->n].line = line;
	kv->n++;
}

/* Order by key, then by position in the file (line, then insertion order
 * kept in .line for inline: where every line is 0 - see maps_kv_finish). */
static int kv_cmp(const void *a, const void *b)
{
	const struct maps_kv_entry *x = a, *y = b;
	int c = strcmp(x->key, y->key);

	if (c != 0)
		return c;
	return x->line < y->line ? -1 : x->line > y->line;
}

void maps_kv_finish(struct maps_kv *kv, const char *name)
{
	size_t out = 0;
	bool numbered = kv->n == 0 || kv->v[0].line != 0;

	/* inline: has no lines; number entries so the sort keeps their order. */
	if (!numbered)
		for (size_t i = 0; i < kv->n; i++)
			kv->v[i].line = (unsigned)(i + 1);
	if (kv->n > 1)
		qsort(kv->v, kv->n, sizeof(*kv->v), kv_cmp);
	for (size_t i = 0; i < kv->n; i++) {
		if (out > 0 && strcmp(kv->v[out - 1].key, kv->v[i].key) == 0) {
			if (numbered)
				log_warn("%s:%u: duplicate entry \"%s\"; keeping the first one "
					 "(line %u); remove or merge the other", name,
					 kv->v[i].line, maps_quote(kv->v[i].key, 0),
					 kv->v[out - 1].line);
			else
				log_warn("%s: duplicate entry \"%s\"; keeping the first one; "
					 "remove the other", name, maps_quote(kv->v[i].key, 0));
			free(kv->v[i].key);
			free(kv->v[i].value);
			continue;
		}
		kv->v[out++] = kv->v[i];
	}
	kv->n = out;
}

const char *maps_kv_find(const struct maps_kv *kv, const char *key)
{
	size_t lo = 0, hi = kv->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(key, kv->v[mid].key);

		if (c == 0)
			return kv->v[mid].value;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

void maps_kv_free(struct maps_kv *kv)
{
	for (size_t i = 0; i < kv->n; i++) {
		free(kv->v[i].key);
		free(kv->v[i].value);
	}
	x_free(&kv->v);
	kv->n = kv->cap = 0;
}

int maps_kv_load(struct maps_kv *kv, const char *name, const char *text, size_t len,
		 bool nofold, const char **error_r)
{
	struct maps_source src;
	char *line, *key, *value;
	unsigned lineno;
	int r;

	maps_source_init(&src, name, text, len);
	while ((r = maps_source_next(&src, &line, &lineno, error_r)) > 0) {
		if (maps_source_split(name, lineno, line, &key, &value, error_r) < 0) {
			r = -1;
			break;
		}
		if (!nofold)
			str_lower(key);
		maps_kv_add(kv, key, value, lineno);
	}
	maps_source_free(&src);
	if (r < 0)
		return -1;
	maps_kv_finish(kv, name);
	return 0;
}
