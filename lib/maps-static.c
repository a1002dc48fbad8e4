/*
 * maps-static.c - static:value tables (DATABASE_README): every lookup finds
 * the same value. "static:{ text with whitespace }" strips the braces and
 * the whitespace inside them (Postfix 3.0 and later).
 */
#include <stdlib.h>
#include <string.h>

#include "maps-private.h"

struct maps_static {
	struct map map;
	char *value;
};

static enum map_status maps_static_lookup(struct map *m, const char *key,
					  const char **value_r, const char **error_r)
{
	*value_r = ((struct maps_static *)m)->value;
	return MAP_FOUND;
}

static void maps_static_close(struct map *m)
{
	struct maps_static *s = (struct maps_static *)m;

	free(s->value);
	maps_free_common(m);
	free(s);
}

static struct map *maps_static_open(const char *name, unsigned open_flags,
				    const char **error_r)
{
	struct maps_static *s;
	char *value = must_strdup(name);
	char *v = value;

	if (*v == '{') {
		size_t n = strlen(v);

		if (n < 2 || v[n - 1] != '}') {
			free(value);
			return maps_error(error_r, "static:%s: missing \"}\"; write "
					  "static:{ VALUE }", maps_quote(name, 0));
		}
		v[n - 1] = '\0';
		v = str_trim(v + 1);
	}
	s = must_calloc(1, sizeof(*s));
	maps_init_common(&s->map, &maps_static_ops, name, open_flags);
	s->value = must_strdup(v);
	free(value);
	return &s->map;
}

const struct map_ops maps_static_ops = {
	.type = "static",
	/* Postfix's static is a fixed-string table: partial address lookups
	 * reach it too (it finds the first one anyway). */
	.flags = MAP_OPS_INDEXED,
	.open = maps_static_open,
	.lookup = maps_static_lookup,
	.close = maps_static_close,
};
