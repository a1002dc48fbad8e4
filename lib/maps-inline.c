/*
 * maps-inline.c - inline:{ key=value, ... } tables (DATABASE_README,
 * Postfix 3.0): the table is written in the spec itself. Items are
 * separated by commas or whitespace; an item in braces may contain both,
 * "{ key = text with spaces, or commas }", and whitespace around its key
 * and value is dropped. Keys are folded like an indexed file's; the first
 * of duplicate keys wins (with a warning).
 */
#include <stdlib.h>
#include <string.h>

#include "maps-private.h"

struct maps_inline {
	struct map map;
	struct maps_kv kv;
};

static enum map_status maps_inline_lookup(struct map *m, const char *key,
					  const char **value_r, const char **error_r)
{
	*value_r = maps_kv_find(&((struct maps_inline *)m)->kv, key);
	return *value_r ? MAP_FOUND : MAP_NOTFOUND;
}

static void maps_inline_close(struct map *m)
{
	struct maps_inline *t = (struct maps_inline *)m;

	maps_kv_free(&t->kv);
	maps_free_common(m);
	free(t);
}

static bool is_sep(char c)
{
	return c == ',' || c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Split one "key=value" item and add it; 0 or -1 with *error_r. */
static int inline_item(struct maps_inline *t, const char *spec, char *item, bool nofold,
		       const char **error_r)
{
	char *eq = strchr(item, '=');
	char *key, *value;

	if (eq == NULL) {
		maps_error(error_r, "inline:%s: missing \"=\" in \"%s\"; write KEY=VALUE",
			   maps_quote(spec, 0), maps_quote(item, 1));
		return -1;
	}
	*eq = '\0';
	key = str_trim(item);
	value = str_trim(eq + 1);
	if (*key == '\0') {
		maps_error(error_r, "inline:%s: missing key before \"=%s\"; write KEY=VALUE",
			   maps_quote(spec, 0), maps_quote(value, 1));
		return -1;
	}
	if (!nofold)
		str_lower(key);
	maps_kv_add(&t->kv, key, value, 0);
	return 0;
}

static struct map *maps_inline_open(const char *name, unsigned open_flags,
				    const char **error_r)
{
	bool nofold = (open_flags & MAP_OPEN_NOFOLD) != 0;
	struct maps_inline *t;
	char *copy, *p;
	size_t n = strlen(name);

	if (n < 2 || name[0] != '{' || name[n - 1] != '}')
		return maps_error(error_r, "inline:%s: the table must be in braces; write "
				  "inline:{ KEY=VALUE, ... }", maps_quote(name, 0));
	t = must_calloc(1, sizeof(*t));
	maps_init_common(&t->map, &maps_inline_ops, name, open_flags);
	copy = must_strndup(name + 1, n - 2);
	p = copy;
	for (;;) {
		char *item;

		while (is_sep(*p))
			p++;
		if (*p == '\0')
			break;
		if (*p == '{') {
			size_t depth = 1;

			item = ++p;
			for (; *p && depth > 0; p++) {
				if (*p == '{')
					depth++;
				else if (*p == '}')
					depth--;
			}
			if (depth > 0) {
				maps_error(error_r, "inline:%s: missing \"}\" after \"{%s\"; write "
					   "{ KEY = VALUE }", maps_quote(name, 0), maps_quote(item, 1));
				goto fail;
			}
			p[-1] = '\0';
		} else {
			item = p;
			while (*p && !is_sep(*p) && *p != '{' && *p != '}')
				p++;
			if (*p == '{' || *p == '}') {
				char brace = *p;

				*p = '\0';
				maps_error(error_r, "inline:%s: unexpected \"%c\" after \"%s\"; "
					   "put braces around a whole item: { KEY = VALUE }",
					   maps_quote(name, 0), brace, maps_quote(item, 1));
				goto fail;
			}
			if (*p)
				*p++ = '\0';
		}
		if (inline_item(t, name, item, nofold, error_r) < 0)
			goto fail;
	}
	if (t->kv.n == 0) {
		maps_error(error_r, "inline:%s: empty table; write inline:{ KEY=VALUE, ... }",
			   maps_quote(name, 0));
		goto fail;
	}
	free(copy);
	{
		char *label = must_asprintf("inline:%s", name);

		maps_kv_finish(&t->kv, label);
		free(label);
	}
	return &t->map;
fail:
	free(copy);
	maps_inline_close(&t->map);
	return NULL;
}

const struct map_ops maps_inline_ops = {
	.type = "inline",
	.flags = MAP_OPS_INDEXED,
	.open = maps_inline_open,
	.lookup = maps_inline_lookup,
	.close = maps_inline_close,
};
