/*
 * maps.c - generic part of the lookup tables: open "type:name" and dispatch
 * to the backend, case folding for indexed tables, the Postfix address
 * lookup order (access(5) "EMAIL ADDRESS PATTERNS", virtual(5) and
 * canonical(5) "TABLE SEARCH ORDER"), table lists, and the shared error
 * buffer. The contract is in maps.h; backends are maps-<type>.c.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "maps-private.h"

static const struct map_ops *const maps_backends[] = {
	&maps_lmdb_ops, &maps_texthash_ops, &maps_inline_ops, &maps_static_ops,
	&maps_cidr_ops, &maps_regexp_ops, &maps_pcre_ops, NULL,
};

/* Longest key that is looked up at all: no table line can be longer, so a
 * longer key cannot be found in an indexed table. */
#define MAPS_KEY_MAX MAPS_LINE_MAX

static __thread char maps_error_buf[2048];

void *maps_error(const char **error_r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(maps_error_buf, sizeof(maps_error_buf), fmt, ap);
	va_end(ap);
	if (error_r != NULL)
		*error_r = maps_error_buf;
	return NULL;
}

const char *maps_quote(const char *s, int slot)
{
	static __thread char bufs[4][160];

	slot &= 3;
	return str_escape(s, strlen(s), bufs[slot], sizeof(bufs[slot]));
}

char *maps_read_file(const char *path, size_t *len_r, const char **error_r)
{
	const char *err;
	char *text = file_read_all(path, MAPS_FILE_MAX, len_r, &err);

	if (text == NULL) {
		if (errno == ENOENT)
			return maps_error(error_r, "%s: %s; create the file or fix the table name",
					  path, err);
		return maps_error(error_r, "%s: %s; check the file and its permissions",
				  path, err);
	}
	return text;
}

const char *map_types(void)
{
	return "lmdb, texthash, inline, static, cidr, regexp, pcre";
}

void maps_init_common(struct map *m, const struct map_ops *ops, const char *spec,
		      unsigned open_flags)
{
	m->ops = ops;
	m->spec = must_strdup(spec);
	m->open_flags = open_flags;
	strbuf_init(&m->fold, MAPS_KEY_MAX + 1);
}

void maps_free_common(struct map *m)
{
	x_free(&m->spec);
	strbuf_free(&m->fold);
}

struct map *map_open(const char *spec, unsigned flags, const char **error_r)
{
	const char *colon = strchr(spec, ':');
	size_t tlen;
	struct map *m;

	if (colon == NULL || colon == spec)
		return maps_error(error_r, "table \"%s\": missing type; write TYPE:NAME "
				  "where TYPE is one of %s", maps_quote(spec, 0), map_types());
	tlen = (size_t)(colon - spec);
	for (const struct map_ops *const *b = maps_backends; *b; b++) {
		if (strlen((*b)->type) != tlen || strncmp((*b)->type, spec, tlen) != 0)
			continue;
		if (colon[1] == '\0' && strcmp((*b)->type, "static") != 0)
			return maps_error(error_r, "table \"%s\": missing name after \"%s:\"; "
					  "write %s:NAME", maps_quote(spec, 0), (*b)->type,
					  (*b)->type);
		m = (*b)->open(colon + 1, flags, error_r);
		if (m == NULL)
			return NULL;
		/* The backend set ops and flags; the spec is the caller's text. */
		free(m->spec);
		m->spec = must_strdup(spec);
		return m;
	}
	return maps_error(error_r, "table \"%s\": unknown type \"%.*s\"; use one of %s",
			  maps_quote(spec, 0), (int)(tlen > 40 ? 40 : tlen), spec, map_types());
}

void map_close(struct map **m)
{
	if (m == NULL || *m == NULL)
		return;
	(*m)->ops->close(*m);
	*m = NULL;
}

const char *map_spec(const struct map *m)
{
	return m->spec;
}

const char *map_type(const struct map *m)
{
	return m->ops->type;
}

enum map_status map_lookup(struct map *m, const char *key,
			   const char **value_r, const char **error_r)
{
	*value_r = NULL;
	if (m->ops->flags & MAP_OPS_INDEXED) {
		size_t len = strlen(key);

		if (len > MAPS_KEY_MAX)
			return MAP_NOTFOUND;
		if ((m->open_flags & MAP_OPEN_NOFOLD) == 0) {
			strbuf_reset(&m->fold);
			if (strbuf_append(&m->fold, key, len) < 0) {
				maps_error(error_r, "%s: out of memory folding a lookup key", m->spec);
				return MAP_TEMPFAIL;
			}
			key = str_lower(m->fold.data);
		}
	}
	return m->ops->lookup(m, key, value_r, error_r);
}

/*
 * The candidate keys for an address, in order. One generator serves both a
 * single table and a table list, so that the two cannot drift apart.
 */
enum addr_phase { PH_FULL, PH_USER_LOCAL, PH_AT_DOMAIN, PH_DOMAIN, PH_PARENTS,
		  PH_USER_AT, PH_DONE };

struct addr_keys {
	const char *address;
	unsigned flags;
	const char *at;     /* the last '@', or NULL */
	const char *cursor; /* the domain name tried last (PH_PARENTS) */
	enum addr_phase phase;
	struct strbuf buf;
};

static void addr_keys_init(struct addr_keys *ak, const char *address, unsigned flags)
{
	ak->address = address;
	ak->flags = flags;
	ak->at = strrchr(address, '@');
	ak->cursor = NULL;
	ak->phase = PH_FULL;
	strbuf_init(&ak->buf, 0);
}

/*
 * addr_keys_next - the next candidate: 1 with *key_r and *partial_r (true
 * for keys other than the whole address, which pattern tables skip), 0 when
 * done, -1 out of memory.
 */
static int addr_keys_next(struct addr_keys *ak, const char **key_r, bool *partial_r)
{
	bool virt = (ak->flags & MAP_ADDR_VIRTUAL) != 0;
	const char *at = ak->at;

	*partial_r = true;
	for (;;) {
		switch (ak->phase) {
		case PH_FULL:
			ak->phase = virt ? PH_USER_LOCAL : PH_DOMAIN;
			*key_r = ak->address;
			*partial_r = false;
			return 1;
		case PH_USER_LOCAL: /* virtual(5): "user" for a local domain */
			ak->phase = PH_AT_DOMAIN;
			if (at == NULL || at == ak->address ||
			    (ak->flags & MAP_ADDR_LOCAL_DOMAIN) == 0)
				continue;
			strbuf_reset(&ak->buf);
			if (strbuf_append(&ak->buf, ak->address, (size_t)(at - ak->address)) < 0)
				return -1;
			*key_r = ak->buf.data;
			return 1;
		case PH_AT_DOMAIN: /* virtual(5): "@domain" */
			ak->phase = PH_DONE;
			if (at == NULL || at[1] == '\0')
				continue;
			*key_r = at;
			return 1;
		case PH_DOMAIN: /* access(5): "domain" */
			ak->phase = PH_PARENTS;
			if (at == NULL || at[1] == '\0') {
				ak->phase = PH_USER_AT;
				continue;
			}
			ak->cursor = at + 1;
			*key_r = ak->cursor;
			return 1;
		case PH_PARENTS: { /* access(5): ".parent" or "parent" */
			const char *next = strchr(ak->cursor + 1, '.');

			if (next == NULL || next[1] == '\0') {
				ak->phase = PH_USER_AT;
				continue;
			}
			if (ak->flags & MAP_ADDR_PARENT_MATCHES_SUBDOMAINS)
				next++;
			ak->cursor = next;
			*key_r = next;
			return 1;
		}
		case PH_USER_AT: /* access(5): "user@" */
			ak->phase = PH_DONE;
			if (at == ak->address)
				continue;
			strbuf_reset(&ak->buf);
			if (at == NULL ? strbuf_puts(&ak->buf, ak->address) < 0 ||
					 strbuf_putc(&ak->buf, '@') < 0
				       : strbuf_append(&ak->buf, ak->address,
						       (size_t)(at - ak->address + 1)) < 0)
				return -1;
			*key_r = ak->buf.data;
			return 1;
		case PH_DONE:
			return 0;
		}
	}
}

static enum map_status addr_lookup(struct map *const *maps, size_t n, const char *address,
				   unsigned flags, const char **value_r, const char **error_r)
{
	struct addr_keys ak;
	const char *key;
	bool partial;
	int r;

	*value_r = NULL;
	addr_keys_init(&ak, address, flags);
	while ((r = addr_keys_next(&ak, &key, &partial)) > 0) {
		for (size_t i = 0; i < n; i++) {
			enum map_status st;

			if (partial && (maps[i]->ops->flags & MAP_OPS_INDEXED) == 0)
				continue;
			st = map_lookup(maps[i], key, value_r, error_r);
			if (st != MAP_NOTFOUND) {
				strbuf_free(&ak.buf);
				return st;
			}
		}
	}
	strbuf_free(&ak.buf);
	if (r < 0) {
		maps_error(error_r, "out of memory building lookup keys for \"%s\"",
			   maps_quote(address, 0));
		return MAP_TEMPFAIL;
	}
	return MAP_NOTFOUND;
}

enum map_status map_lookup_address(struct map *m, const char *address, unsigned flags,
				   const char **value_r, const char **error_r)
{
	return addr_lookup(&m, 1, address, flags, value_r, error_r);
}

struct map_list {
	struct map **maps;
	size_t n;
};

int map_list_next(const char **p, const char **start_r, size_t *len_r)
{
	const char *q = *p;
	size_t depth = 0;

	q += strspn(q, ", \t\r\n");
	if (*q == '\0') {
		*p = q;
		return 0;
	}
	*start_r = q;
	for (; *q; q++) {
		if (*q == '{')
			depth++;
		else if (*q == '}' && depth > 0)
			depth--;
		else if (depth == 0 && strchr(", \t\r\n", *q))
			break;
	}
	*len_r = (size_t)(q - *start_r);
	*p = q;
	return depth > 0 ? -1 : 1;
}

struct map_list *map_list_open(const char *list, unsigned flags, const char **error_r)
{
	struct map_list *ml = must_calloc(1, sizeof(*ml));
	const char *p = list;

	for (;;) {
		const char *start;
		size_t len;
		char *spec;
		struct map *m;
		int r = map_list_next(&p, &start, &len);

		if (r == 0)
			break;
		if (r < 0) {
			map_list_close(&ml);
			return maps_error(error_r, "table list \"%s\": missing \"}\"; close every "
					  "{ of inline:{...} or static:{...}", maps_quote(list, 0));
		}
		spec = must_strndup(start, len);
		m = map_open(spec, flags, error_r);
		free(spec);
		if (m == NULL) {
			map_list_close(&ml);
			return NULL;
		}
		ml->maps = must_realloc(ml->maps, (ml->n + 1) * sizeof(*ml->maps));
		ml->maps[ml->n++] = m;
	}
	return ml;
}

void map_list_close(struct map_list **ml)
{
	if (ml == NULL || *ml == NULL)
		return;
	for (size_t i = 0; i < (*ml)->n; i++)
		map_close(&(*ml)->maps[i]);
	free((*ml)->maps);
	x_free(ml);
}

size_t map_list_count(const struct map_list *ml)
{
	return ml->n;
}

struct map *map_list_at(const struct map_list *ml, size_t i)
{
	return i < ml->n ? ml->maps[i] : NULL;
}

enum map_status map_list_lookup(struct map_list *ml, const char *key,
				const char **value_r, const char **error_r)
{
	*value_r = NULL;
	for (size_t i = 0; i < ml->n; i++) {
		enum map_status st = map_lookup(ml->maps[i], key, value_r, error_r);

		if (st != MAP_NOTFOUND)
			return st;
	}
	return MAP_NOTFOUND;
}

enum map_status map_list_lookup_address(struct map_list *ml, const char *address,
					unsigned flags, const char **value_r,
					const char **error_r)
{
	return addr_lookup(ml->maps, ml->n, address, flags, value_r, error_r);
}
