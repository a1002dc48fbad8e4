/*
 * alias-file.c - the aliases(5) file format and newaliases / postalias:
 *
 *   # comment                     (first non-blank character '#')
 *   name: value, value, ...
 *       value, ...                (a line starting with whitespace continues)
 *   "name with blanks": value
 *
 * Values are addresses, "|command", "/file/name" and ":include:/file";
 * an item with commas or blanks is written in double quotes. Names are
 * folded to lower case, as postalias(1) does by default; the first of two
 * entries with the same name wins (with a warning), as postalias.
 *
 * resolve_aliases_build compiles every lmdb: table of alias_database from
 * its source file through lib/maps's writer (map_build_lmdb_entries), so
 * the result is read by lmdb: exactly like a `postern map` table.
 *
 * Callers: alias.c (alias_list_split), resolve.c (resolve_check_config),
 * `postern aliases` and newaliases (cli/).
 */
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "smtp/resolve/resolve-private.h"

void alias_list_free(char **items)
{
	for (size_t i = 0; items && items[i]; i++)
		free(items[i]);
	free(items);
}

char **alias_list_split(const char *value, size_t max)
{
	char **items = NULL;
	size_t n = 0, cap = 0;
	const char *p = value;

	for (;;) {
		const char *s, *e;
		bool quoted = false;
		char *item;

		while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
			p++;
		if (*p == '\0')
			break;
		s = p;
		while (*p && (quoted || *p != ',')) {
			if (*p == '\\' && p[1])
				p++;
			else if (*p == '"')
				quoted = !quoted;
			p++;
		}
		if (quoted) {
			alias_list_free(items);
			return NULL;
		}
		e = p;
		while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' || e[-1] == '\n'))
			e--;
		if (*p == ',')
			p++;
		if (e == s)
			continue;   /* "a,,b" - an empty item is nothing */
		/* A whole item in quotes loses them: "|cmd arg" -> |cmd arg. */
		if (e - s >= 2 && *s == '"' && e[-1] == '"' && memchr(s + 1, '"', (size_t)(e - s - 2)) == NULL)
			item = must_strndup(s + 1, (size_t)(e - s - 2));
		else
			item = must_strndup(s, (size_t)(e - s));
		if (n >= max) {
			free(item);
			alias_list_free(items);
			return NULL;
		}
		if (n + 1 >= cap) {
			cap = cap ? cap * 2 : 8;
			items = must_realloc(items, cap * sizeof(*items));
		}
		items[n++] = item;
		items[n] = NULL;
	}
	if (items == NULL)
		items = must_calloc(1, sizeof(*items));
	return items;
}

void alias_entries_free(struct alias_entry *e, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(e[i].name);
		free(e[i].value);
	}
	free(e);
}

/* One logical line (name: value); 0, or -1 with *error_r. */
static int parse_entry(const char *file, unsigned line, char *text, struct alias_entry *e,
		       char **error_r)
{
	char *p = text, *name_end, *value, **items;

	if (*p == '"') {
		char *q = p + 1;

		while (*q && *q != '"') {
			if (*q == '\\' && q[1])
				q++;
			q++;
		}
		if (*q != '"') {
			*error_r = must_asprintf("%s:%u: unbalanced quote in the alias name; close it "
						 "with '\"' before the ':'", file, line);
			return -1;
		}
		name_end = q + 1;
		e->name = must_strndup(p + 1, (size_t)(q - p - 1));
		while (*name_end == ' ' || *name_end == '\t')
			name_end++;
		if (*name_end != ':') {
			*error_r = must_asprintf("%s:%u: missing ':' after the alias name; write NAME: "
						 "ADDRESS, ...", file, line);
			return -1;
		}
		value = name_end + 1;
	} else {
		char *colon = strchr(p, ':');
		char *blank = strpbrk(p, " \t");

		if (colon == NULL || (blank && blank < colon && blank[strspn(blank, " \t")] != ':')) {
			*error_r = must_asprintf("%s:%u: missing ':' after the alias name; write NAME: "
						 "ADDRESS, ...", file, line);
			return -1;
		}
		name_end = colon;
		while (name_end > p && (name_end[-1] == ' ' || name_end[-1] == '\t'))
			name_end--;
		e->name = must_strndup(p, (size_t)(name_end - p));
		value = colon + 1;
	}
	if (e->name[0] == '\0') {
		*error_r = must_asprintf("%s:%u: empty alias name; write NAME: ADDRESS, ...", file, line);
		return -1;
	}
	str_lower(e->name);
	value = str_trim(value);
	if (value[0] == '\0') {
		*error_r = must_asprintf("%s:%u: alias \"%s\" has no value; write %s: ADDRESS, ...",
					 file, line, e->name, e->name);
		return -1;
	}
	items = alias_list_split(value, RESOLVE_ALIAS_ITEMS_MAX);
	if (items == NULL) {
		*error_r = must_asprintf("%s:%u: alias \"%s\": unbalanced quote or more than %d "
					 "items; close the quote or split the list with :include:",
					 file, line, e->name, RESOLVE_ALIAS_ITEMS_MAX);
		return -1;
	}
	for (size_t i = 0; items[i]; i++)
		if (str_has_prefix(items[i], ":include:") && items[i][9] != '/') {
			*error_r = must_asprintf("%s:%u: alias \"%s\": \"%s\" is not an absolute path; "
						 "write :include:/path/to/file", file, line, e->name,
						 items[i]);
			alias_list_free(items);
			return -1;
		}
	alias_list_free(items);
	e->value = must_strdup(value);
	return 0;
}

int alias_file_parse(const char *name, const char *text, size_t len, struct alias_entry **e_r,
		     size_t *n_r, char **error_r)
{
	struct alias_entry *v = NULL;
	size_t n = 0, cap = 0, pos = 0;
	struct strbuf cur;
	unsigned lineno = 0, cur_line = 0;
	int rc = 0;

	*e_r = NULL;
	*n_r = 0;
	strbuf_init(&cur, MAPS_LINE_MAX);
	if (memchr(text, '\0', len)) {
		size_t off = (size_t)((const char *)memchr(text, '\0', len) - text);
		unsigned l = 1;

		for (size_t i = 0; i < off; i++)
			l += text[i] == '\n';
		*error_r = must_asprintf("%s:%u: NUL byte in the file; this is not a text file, "
					 "check the file name", name, l);
		return -1;
	}
	/* One extra round at the end flushes the last logical line. */
	while (rc == 0) {
		const char *s = text + pos, *e;
		bool at_end = pos >= len, cont, ignore;
		size_t llen = 0;

		if (!at_end) {
			e = memchr(s, '\n', len - pos);
			llen = e ? (size_t)(e - s) : len - pos;
			pos += llen + (e ? 1 : 0);
			lineno++;
			if (llen > 0 && s[llen - 1] == '\r')
				llen--;
			{
				size_t k = 0;

				while (k < llen && (s[k] == ' ' || s[k] == '\t'))
					k++;
				ignore = k == llen || s[k] == '#';
				cont = !ignore && k > 0;
			}
			if (ignore)
				continue;
			if (cont) {
				if (cur_line == 0) {
					*error_r = must_asprintf("%s:%u: continuation line without an "
								 "alias before it; start the line "
								 "with NAME:", name, lineno);
					rc = -1;
					break;
				}
				while (llen > 0 && (*s == ' ' || *s == '\t')) {
					s++;
					llen--;
				}
				/* Joined with one space, as postmap(1) does. */
				if (strbuf_putc(&cur, ' ') < 0 || strbuf_append(&cur, s, llen) < 0) {
					*error_r = must_asprintf("%s:%u: logical line longer than %d "
								 "bytes; split the alias with "
								 ":include:", name, lineno,
								 MAPS_LINE_MAX);
					rc = -1;
				}
				continue;
			}
		}
		if (cur_line != 0) {
			if (n == cap) {
				cap = cap ? cap * 2 : 32;
				v = must_realloc(v, cap * sizeof(*v));
			}
			memset(&v[n], 0, sizeof(v[n]));
			v[n].line = cur_line;
			rc = parse_entry(name, cur_line, cur.data, &v[n], error_r);
			n++;
			cur_line = 0;
			strbuf_reset(&cur);
			if (rc < 0)
				break;
		}
		if (at_end)
			break;
		if (strbuf_append(&cur, s, llen) < 0) {
			*error_r = must_asprintf("%s:%u: line longer than %d bytes; split the alias "
						 "with :include:", name, lineno, MAPS_LINE_MAX);
			rc = -1;
			break;
		}
		cur_line = lineno;
	}
	strbuf_free(&cur);
	if (rc < 0) {
		alias_entries_free(v, n);
		return -1;
	}
	*e_r = v;
	*n_r = n;
	return 0;
}

/* build_one - compile path (an aliases(5) file) into path.lmdb. */
static int build_one(const char *path, FILE *out, char **error_r)
{
	struct alias_entry *e = NULL;
	struct map_build_entry *be;
	const char *err;
	size_t n = 0, len;
	char *text = file_read_all(path, MAPS_FILE_MAX, &len, &err);
	int rc;

	if (text == NULL) {
		*error_r = must_asprintf("%s: %s; create the alias file or fix alias_database", path, err);
		return -1;
	}
	rc = alias_file_parse(path, text, len, &e, &n, error_r);
	free(text);
	if (rc < 0)
		return -1;
	be = must_calloc(n + 1, sizeof(*be));
	for (size_t i = 0; i < n; i++) {
		be[i].key = e[i].name;
		be[i].value = e[i].value;
		be[i].line = e[i].line;
	}
	rc = map_build_lmdb_entries(path, be, n, 0, error_r);
	if (rc == 0 && out)
		fprintf(out, "%s: %zu aliases\n", path, n);
	free(be);
	alias_entries_free(e, n);
	return rc;
}

int alias_database_foreach(const struct config *cfg, int (*fn)(void *ctx, const char *spec, const char *source),
			   void *ctx)
{
	const char *p = config_str(cfg, "alias_database"), *start;
	size_t len;
	int rc = 0;

	/* An unclosed brace is reported by resolve_new (map_list_open of
	 * alias_maps); here the rest of the list is one spec. */
	while (rc == 0 && map_list_next(&p, &start, &len) != 0) {
		char *spec = must_strndup(start, len);

		if (str_has_prefix(spec, "lmdb:"))
			rc = fn(ctx, spec, spec + 5);
		else if (spec[0] == '/')
			rc = fn(ctx, spec, spec);
		else
			rc = fn(ctx, spec, NULL);
		free(spec);
	}
	return rc;
}

struct build_ctx {
	FILE *out;
	char **error_r;
};

static int build_cb(void *ctx, const char *spec, const char *source)
{
	struct build_ctx *b = ctx;

	if (source)
		return build_one(source, b->out, b->error_r);
	if (b->out)
		/* texthash:, inline: ... are read as they are. */
		fprintf(b->out, "%s: nothing to build (only lmdb: tables are compiled)\n", spec);
	return 0;
}

int resolve_aliases_build(const struct config *cfg, FILE *out, char **error_r)
{
	struct build_ctx b = { .out = out, .error_r = error_r };

	return alias_database_foreach(cfg, build_cb, &b) == 0 ? 0 : -1;
}
