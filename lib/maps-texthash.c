/*
 * maps-texthash.c - texthash:/path tables (DATABASE_README): the postmap
 * source file is read once at open and kept in memory, so it needs no
 * `postern map` run; changes are seen only when the table is opened again
 * (on reload), as in Postfix. Keys are folded to lower case like postmap's.
 */
#include <stdlib.h>

#include "maps-private.h"

struct maps_texthash {
	struct map map;
	struct maps_kv kv;
};

static enum map_status maps_texthash_lookup(struct map *m, const char *key,
					    const char **value_r, const char **error_r)
{
	struct maps_texthash *t = (struct maps_texthash *)m;

	*value_r = maps_kv_find(&t->kv, key);
	return *value_r ? MAP_FOUND : MAP_NOTFOUND;
}

static void maps_texthash_close(struct map *m)
{
	struct maps_texthash *t = (struct maps_texthash *)m;

	maps_kv_free(&t->kv);
	maps_free_common(m);
	free(t);
}

struct map *maps_texthash_open_mem(const char *name, const char *text, size_t len,
				   unsigned open_flags, const char **error_r)
{
	struct maps_texthash *t = must_calloc(1, sizeof(*t));

	maps_init_common(&t->map, &maps_texthash_ops, name, open_flags);
	if (maps_kv_load(&t->kv, name, text, len, (open_flags & MAP_OPEN_NOFOLD) != 0,
			 error_r) < 0) {
		maps_texthash_close(&t->map);
		return NULL;
	}
	return &t->map;
}

static struct map *maps_texthash_open(const char *name, unsigned open_flags,
				      const char **error_r)
{
	size_t len;
	char *text = maps_read_file(name, &len, error_r);
	struct map *m;

	if (text == NULL)
		return NULL;
	m = maps_texthash_open_mem(name, text, len, open_flags, error_r);
	free(text);
	return m;
}

const struct map_ops maps_texthash_ops = {
	.type = "texthash",
	.flags = MAP_OPS_INDEXED | MAP_OPS_FILE,
	.open = maps_texthash_open,
	.lookup = maps_texthash_lookup,
	.close = maps_texthash_close,
};
