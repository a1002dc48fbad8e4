/*
 * maps.h - lookup tables ("maps"): Postfix's type:name tables.
 *
 * Every place that accepts a Postfix table accepts the same specs here:
 *
 *   lmdb:/etc/postern/virtual      /etc/postern/virtual.lmdb, built by
 *                                  `postern map` (postmap(1)); lmdb_table(5)
 *   texthash:/etc/postern/access   the source file itself, read at open
 *                                  (DATABASE_README "texthash")
 *   inline:{ k1=v1, { k2 = v with spaces }, k3=v3 }   (DATABASE_README)
 *   static:value, static:{ value with spaces }        (DATABASE_README)
 *   cidr:/path     cidr_table(5): "network/len result", first match wins
 *   regexp:/path   regexp_table(5): POSIX regex.h, "/re/flags result"
 *   pcre:/path     pcre_table(5): PCRE2, "/re/flags result"
 *
 * Source files (texthash, the lmdb source, cidr, regexp, pcre) use the
 * postmap(1) layout: a logical line starts with non-whitespace text, a line
 * starting with whitespace continues it (joined with one space), empty lines
 * and lines whose first non-blank character is # are ignored. A file may not
 * be larger than MAPS_FILE_MAX nor have a logical line longer than
 * MAPS_LINE_MAX.
 *
 * Outcomes. A lookup has three outcomes, as in Postfix (dict->error):
 * MAP_FOUND, MAP_NOTFOUND and MAP_TEMPFAIL. A temporary failure (an LMDB
 * read error, a PCRE2 match limit hit by a hostile key, out of memory) must
 * become a 4xx reply / "NO [UNAVAILABLE]" upstream, never a "not found".
 * Configuration errors (a malformed table file, an unknown type) are found
 * when the table is opened: map_open() returns NULL, so a lookup never
 * reports one. Errors read "FILE:LINE: problem; fix".
 *
 * Case: indexed tables (lmdb, texthash, inline) store their keys in lower
 * case and fold the query to lower case, Postfix's default (postmap -f turns
 * this off; see MAP_OPEN_NOFOLD). regexp and pcre patterns match
 * case-insensitively unless the pattern's "i" flag toggles that; cidr has
 * no case.
 *
 * Error strings passed back through "const char **error_r" point into
 * thread-local storage that the next map call in the same thread reuses:
 * log or copy them at once.
 *
 * Callers: smtp/ restrictions (check_*_access, mynetworks-style cidr
 * lists), the queue's address rewriting (canonical, virtual, aliases),
 * cli/cmd-map.c (postern map) and `postern check`.
 */
#ifndef POSTERN_MAPS_H
#define POSTERN_MAPS_H

#include <stddef.h>

/* Limits for table files; larger input is an error naming the file. */
#define MAPS_FILE_MAX (64 * 1024 * 1024)
#define MAPS_LINE_MAX (64 * 1024)
/* Nesting limit of if/endif blocks in regexp and pcre tables. */
#define MAPS_IF_DEPTH_MAX 16

enum map_status {
	MAP_FOUND,      /* *value_r is set */
	MAP_NOTFOUND,   /* no entry; *value_r is NULL */
	MAP_TEMPFAIL,   /* could not tell; *error_r says why; reply 4xx */
};

/* map_open flags */
enum {
	/* Do not fold the query key to lower case (postmap -f). Only useful
	 * with tables built with MAP_BUILD_NOFOLD; daemons never set it. */
	MAP_OPEN_NOFOLD = 1 << 0,
};

struct map;

/*
 * map_open - open the table named by spec ("type:name"). flags: MAP_OPEN_*.
 * File-based tables are read (or mapped) now and validated completely.
 * Returns the table, or NULL with *error_r set: an unknown type (the
 * message lists the supported ones), a missing file, or a malformed line
 * ("/etc/postern/client_access:3: missing value after key \"1.2.3.4\";
 * write KEY VALUE"). Free with map_close().
 */
struct map *map_open(const char *spec, unsigned flags, const char **error_r);

/* map_close - free the table and set *m to NULL; NULL is ignored. */
void map_close(struct map **m);

/* map_spec - the "type:name" the table was opened with (owned by m). */
const char *map_spec(const struct map *m);

/* map_type - "lmdb", "texthash", ... (static string). */
const char *map_type(const struct map *m);

/*
 * map_lookup - look key up as one plain string (folded for indexed tables).
 * MAP_FOUND: *value_r points to the value, owned by m and valid until the
 * next lookup on m or map_close(). MAP_NOTFOUND: *value_r = NULL.
 * MAP_TEMPFAIL: *value_r = NULL and *error_r set.
 */
enum map_status map_lookup(struct map *m, const char *key,
			   const char **value_r, const char **error_r);

/*
 * Address lookup order (map_lookup_address flags).
 *
 * MAP_ADDR_ACCESS (0, the default) - access(5) "EMAIL ADDRESS PATTERNS",
 * used by check_sender_access, check_recipient_access and friends. For
 * indexed tables (lmdb, texthash, inline, static), "user@sub.example.com"
 * tries, in this order, stopping at the first hit:
 *   1. user@sub.example.com
 *   2. sub.example.com
 *   3. the parent domains: ".example.com", ".com" - or, with
 *      MAP_ADDR_PARENT_MATCHES_SUBDOMAINS (the caller's parameter is listed in
 *      parent_domain_matches_subdomains), "example.com", "com"
 *   4. user@
 * An address without "@" is tried as it is (e.g. the null sender's lookup
 * key "<>") and then as "address@".
 *
 * MAP_ADDR_VIRTUAL - virtual(5) / canonical(5) "TABLE SEARCH ORDER":
 *   1. user@domain
 *   2. user       - only with MAP_ADDR_LOCAL_DOMAIN: the caller found domain
 *                   in $myorigin, $mydestination, $inet_interfaces or
 *                   $proxy_interfaces
 *   3. @domain
 * An address without "@" is tried only as it is.
 *
 * Pattern tables (regexp, pcre, cidr) see the whole address only, as
 * Postfix's pattern tables do; cidr only ever matches IP addresses.
 * The domain is split at the last "@". recipient_delimiter is not handled.
 */
enum {
	MAP_ADDR_ACCESS = 0,
	MAP_ADDR_VIRTUAL = 1 << 0,
	MAP_ADDR_PARENT_MATCHES_SUBDOMAINS = 1 << 1,
	MAP_ADDR_LOCAL_DOMAIN = 1 << 2,
};

/*
 * map_lookup_address - look an email address up in the order above.
 * Same outcomes and ownership as map_lookup(); a temporary failure on any
 * candidate key stops the search with MAP_TEMPFAIL (a later candidate must
 * not win over one that could not be checked).
 */
enum map_status map_lookup_address(struct map *m, const char *address, unsigned flags,
				   const char **value_r, const char **error_r);

/*
 * Table lists: a parameter value such as virtual_alias_maps =
 * "lmdb:/etc/postern/virtual, texthash:/etc/postern/extra". Items are
 * separated by commas or whitespace outside braces, so inline:{ a=b, c=d }
 * is one item. Address lookups follow virtual(5): "each query pattern is
 * sent to each specified lookup table before trying the next query
 * pattern"; plain lookups try the tables in order.
 */
struct map_list;

/* map_list_open - open every table of list; NULL with *error_r on the first
 * failure (nothing stays open). An empty list is valid (never finds). */
struct map_list *map_list_open(const char *list, unsigned flags, const char **error_r);
/* map_list_next - the next table spec of a table list at *p (separated by
 * commas and blanks, never inside inline:{...} braces): 1 with *start_r
 * and *len_r set and *p moved past it, 0 at the end, -1 when its braces
 * do not close. Used by map_list_open and by alias_database's reader. */
int map_list_next(const char **p, const char **start_r, size_t *len_r);
void map_list_close(struct map_list **ml);
size_t map_list_count(const struct map_list *ml);
struct map *map_list_at(const struct map_list *ml, size_t i);
enum map_status map_list_lookup(struct map_list *ml, const char *key,
				const char **value_r, const char **error_r);
enum map_status map_list_lookup_address(struct map_list *ml, const char *address,
					unsigned flags, const char **value_r,
					const char **error_r);

/* map_build_lmdb flags */
enum {
	/* Keep the case of keys (postmap -f). */
	MAP_BUILD_NOFOLD = 1 << 0,
};

/*
 * map_build_lmdb - postmap: compile source_path into source_path + ".lmdb".
 * The whole source is parsed first (any malformed line fails the build with
 * "FILE:LINE: ..." and leaves the old table alone); then the table is
 * written into a temporary file next to it, synced, and renamed over the old
 * one, so readers never see a half-built table. Keys are lower-cased unless
 * MAP_BUILD_NOFOLD. A duplicate key is logged with log_warn() as
 * "FILE:LINE: duplicate entry \"KEY\"; ..." and the first entry is kept,
 * like postmap. Keys and values are stored with a trailing NUL, as postmap
 * does, and the file gets the source file's permission bits.
 * Returns 0, or -1 with *error_r set to new memory (caller frees).
 */
int map_build_lmdb(const char *source_path, unsigned flags, char **error_r);

/* One entry for map_build_lmdb_entries (line: its line in the source, for
 * the duplicate warning; 0 if none). */
struct map_build_entry {
	const char *key;
	const char *value;
	unsigned line;
};

/*
 * map_build_lmdb_entries - the writer of map_build_lmdb() for sources in
 * another syntax (aliases(5), parsed by smtp/resolve/alias-file.c, as
 * postalias(1) shares postmap's writer): the n entries go into
 * source_path + ".lmdb" in the same way (keys folded unless
 * MAP_BUILD_NOFOLD, duplicates warned and the first kept, written through
 * a temporary file and renamed, the source's permission bits). The
 * source file must exist. 0, or -1 with *error_r (new memory).
 */
int map_build_lmdb_entries(const char *source_path, const struct map_build_entry *e, size_t n,
			   unsigned flags, char **error_r);

/* map_types - the supported types, "lmdb, texthash, ..." (static). */
const char *map_types(void);

#endif
