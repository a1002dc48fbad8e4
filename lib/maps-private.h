/*
 * maps-private.h - internals shared by lib/maps*.c and the fuzz harnesses;
 * nothing outside lib/maps*.c and tests/ includes it.
 *
 * A backend is one file (maps-<type>.c) exporting one struct map_ops. Its
 * private table struct starts with a struct map so that the generic code in
 * maps.c can hold any table. File backends also export a from-memory open
 * (maps_<type>_open_mem) so fuzzers and tests need no file I/O.
 *
 * Memory: tables are opened at start-up or reload, where running out of
 * memory is fatal (must_* from util.h). Lookups run in sessions, so they use
 * plain malloc and report MAP_TEMPFAIL when it fails.
 */
#ifndef POSTERN_MAPS_PRIVATE_H
#define POSTERN_MAPS_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "maps.h"
#include "util.h"

/* Largest lookup result after $n substitution. */
#define MAPS_RESULT_MAX (1024 * 1024)

enum {
	/* Fixed-string table: keys folded, partial address lookups apply
	 * (Postfix's DICT_FLAG_FIXED). */
	MAP_OPS_INDEXED = 1 << 0,
	/* The name is a file path (for messages and `postern check`). */
	MAP_OPS_FILE = 1 << 1,
};

struct map;

struct map_ops {
	const char *type;
	unsigned flags; /* MAP_OPS_* */
	/* open - name is the text after "type:". NULL with *error_r set. */
	struct map *(*open)(const char *name, unsigned open_flags, const char **error_r);
	/* lookup - the key is already folded when the table is indexed. */
	enum map_status (*lookup)(struct map *m, const char *key,
				  const char **value_r, const char **error_r);
	/* close - free everything the backend allocated, including m. */
	void (*close)(struct map *m);
};

struct map {
	const struct map_ops *ops;
	char *spec;          /* "type:name", set by map_open() */
	unsigned open_flags; /* MAP_OPEN_* */
	struct strbuf fold;  /* the folded query key */
};

extern const struct map_ops maps_lmdb_ops;
extern const struct map_ops maps_texthash_ops;
extern const struct map_ops maps_inline_ops;
extern const struct map_ops maps_static_ops;
extern const struct map_ops maps_cidr_ops;
extern const struct map_ops maps_regexp_ops;
extern const struct map_ops maps_pcre_ops;

/*
 * maps_error - format an error message into the thread-local buffer that
 * every "const char **error_r" of the maps API points to, and store it in
 * *error_r. Never pass that buffer itself as an argument. Returns NULL so
 * that "return maps_error(...)" works in functions returning a pointer.
 */
void *maps_error(const char **error_r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* maps_quote - str_escape() s for a message, into a thread-local buffer of
 * its own (slot 0..3 so up to four can appear in one message). */
const char *maps_quote(const char *s, int slot);

/* maps_read_file - read a table source file (bounded by MAPS_FILE_MAX);
 * NULL with *error_r "PATH: problem; fix". Caller frees. */
char *maps_read_file(const char *path, size_t *len_r, const char **error_r);

/*
 * maps-source.c - the postmap(1) source layout reader.
 */
struct maps_source {
	const char *name;     /* file name for messages */
	const char *p, *end;  /* unread text */
	unsigned lineno;      /* physical lines consumed */
	struct strbuf line;   /* current logical line */
};

/* maps_source_init - read text[0..len) (need not be NUL-terminated). */
void maps_source_init(struct maps_source *src, const char *name, const char *text, size_t len);
/*
 * maps_source_next - the next logical line, trimmed, continuation lines
 * joined with one space. Returns 1 with *line_r (owned by src, valid until
 * the next call; the caller may modify it in place) and *lineno_r (its first
 * physical line), 0 at the end, -1 with *error_r "NAME:LINE: ..." for a line
 * over MAPS_LINE_MAX, a NUL byte, or a continuation line with nothing to
 * continue.
 */
int maps_source_next(struct maps_source *src, char **line_r, unsigned *lineno_r,
		     const char **error_r);
void maps_source_free(struct maps_source *src);

/* maps_source_split - split a "KEY VALUE" logical line in place at the
 * first whitespace. 0, or -1 with *error_r "NAME:LINE: missing value after
 * key ...". */
int maps_source_split(const char *name, unsigned lineno, char *line,
		      char **key_r, char **value_r, const char **error_r);

/*
 * maps-kv.c - a sorted key/value set for texthash, inline and the lmdb
 * builder. Entries are added in file order; maps_kv_finish() sorts them
 * (byte order, which is also LMDB's key order) and drops every duplicate
 * after the first, warning "NAME:LINE: duplicate entry ..." (line 0 = no
 * line numbers, as for inline:).
 */
struct maps_kv_entry {
	char *key;
	char *value;
	unsigned line;
};

struct maps_kv {
	struct maps_kv_entry *v;
	size_t n, cap;
};

void maps_kv_add(struct maps_kv *kv, const char *key, const char *value, unsigned line);
void maps_kv_finish(struct maps_kv *kv, const char *name);
/* maps_kv_find - the value for key, or NULL; after maps_kv_finish(). */
const char *maps_kv_find(const struct maps_kv *kv, const char *key);
void maps_kv_free(struct maps_kv *kv);
/* maps_kv_load - parse a postmap source into kv (keys folded unless
 * nofold). 0, or -1 with *error_r (kv then holds a partial set; free it). */
int maps_kv_load(struct maps_kv *kv, const char *name, const char *text, size_t len,
		 bool nofold, const char **error_r);

/*
 * maps-pattern.c - the table layout shared by regexp_table(5) and
 * pcre_table(5): "/pattern/flags result", "!/pattern/flags result",
 * "if /pattern/flags" ... "endif", and $n substitution in results. The
 * regular-expression engine is supplied by the backend.
 */
#define MAPS_PATTERN_GROUPS_MAX 99

struct maps_match {
	/* Offsets of group i in the subject, -1 when it did not take part. */
	ssize_t so[MAPS_PATTERN_GROUPS_MAX + 1];
	ssize_t eo[MAPS_PATTERN_GROUPS_MAX + 1];
};

struct maps_pattern_engine {
	const char *type;  /* "regexp" or "pcre", for messages */
	const char *flags; /* accepted flag letters, e.g. "imx" */
	/*
	 * compile - pattern without delimiters, flags as written. Returns the
	 * compiled expression and its capture-group count, or NULL with a
	 * reason written into err.
	 */
	void *(*compile)(const char *pattern, const char *flags, size_t *groups_r,
			 char *err, size_t errsize);
	/* match - 1 match (mm filled when not NULL), 0 no match, -1 error
	 * (a match limit) with a reason written into err. */
	int (*match)(void *re, const char *subject, struct maps_match *mm,
		     char *err, size_t errsize);
	void (*free)(void *re);
};

struct maps_pattern_table;

/* maps_pattern_parse - parse and compile a whole table. NULL with
 * *error_r "NAME:LINE: TYPE: problem; fix". */
struct maps_pattern_table *maps_pattern_parse(const struct maps_pattern_engine *engine,
					      const char *name, const char *text, size_t len,
					      const char **error_r);
/* maps_pattern_lookup - first matching rule; the expanded result goes into
 * out. Outcomes as map_lookup(). */
enum map_status maps_pattern_lookup(struct maps_pattern_table *t, const char *key,
				    struct strbuf *out, const char **error_r);
void maps_pattern_free(struct maps_pattern_table **t);

/* From-memory opens for fuzzers and tests; name is used in messages. Each
 * returns a table for map_lookup()/map_close(), or NULL with *error_r. */
struct map *maps_texthash_open_mem(const char *name, const char *text, size_t len,
				   unsigned open_flags, const char **error_r);
struct map *maps_cidr_open_mem(const char *name, const char *text, size_t len,
			       const char **error_r);
struct map *maps_regexp_open_mem(const char *name, const char *text, size_t len,
				 const char **error_r);
struct map *maps_pcre_open_mem(const char *name, const char *text, size_t len,
			       const char **error_r);

/* maps_init_common - fill the generic part of a backend's table. */
void maps_init_common(struct map *m, const struct map_ops *ops, const char *spec,
		      unsigned open_flags);
/* maps_free_common - free the generic part (not m itself). */
void maps_free_common(struct map *m);

#endif
