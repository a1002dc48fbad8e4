/*
 * maps-source.c - reader of the postmap(1) source layout shared by every
 * file-based table (texthash, the lmdb source, cidr, regexp, pcre).
 *
 * postmap(1) / regexp_table(5): "A logical line starts with non-whitespace
 * text. A line that starts with whitespace continues a logical line."
 * Empty and whitespace-only lines are ignored, as are lines whose first
 * non-whitespace character is "#" (also between continuation lines). A "#"
 * after other text is data, as in Postfix. CRLF line ends are accepted.
 * Continuation lines are joined with one space.
 *
 * Every logical line is bounded by MAPS_LINE_MAX; callers bound the file.
 */
#include <string.h>

#include "maps-private.h"

void maps_source_init(struct maps_source *src, const char *name, const char *text, size_t len)
{
	src->name = name;
	src->p = text;
	src->end = text + len;
	src->lineno = 0;
	strbuf_init(&src->line, MAPS_LINE_MAX);
}

void maps_source_free(struct maps_source *src)
{
	strbuf_free(&src->line);
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

/* Peek at the next physical line without consuming it: [*s, *e) without
 * the line end. Returns false at the end of the text. */
static bool peek_line(const struct maps_source *src, const char **s, const char **e)
{
	const char *nl;

	if (src->p >= src->end)
		return false;
	nl = memchr(src->p, '\n', (size_t)(src->end - src->p));
	*s = src->p;
	*e = nl ? nl : src->end;
	return true;
}

static void consume_line(struct maps_source *src, const char *e)
{
	src->p = e < src->end ? e + 1 : src->end;
	src->lineno++;
}

/* Is [s, e) empty, whitespace-only or a comment? */
static bool ignorable(const char *s, const char *e)
{
	while (s < e && is_blank(*s))
		s++;
	return s == e || *s == '#';
}

static int append_trimmed(struct maps_source *src, const char *s, const char *e,
			  unsigned start, const char **error_r)
{
	while (s < e && is_blank(*s))
		s++;
	while (e > s && is_blank(e[-1]))
		e--;
	if (memchr(s, '\0', (size_t)(e - s)) != NULL) {
		maps_error(error_r, "%s:%u: NUL byte in line; table files must be text",
			   src->name, src->lineno);
		return -1;
	}
	if ((src->line.len > 0 && strbuf_putc(&src->line, ' ') < 0) ||
	    strbuf_append(&src->line, s, (size_t)(e - s)) < 0) {
		maps_error(error_r, "%s:%u: logical line longer than %d bytes; split the entry "
			   "or shorten it", src->name, start, MAPS_LINE_MAX);
		return -1;
	}
	return 0;
}

int maps_source_next(struct maps_source *src, char **line_r, unsigned *lineno_r,
		     const char **error_r)
{
	const char *s, *e;
	unsigned start;

	strbuf_reset(&src->line);
	/* Find the start of a logical line. */
	for (;;) {
		if (!peek_line(src, &s, &e))
			return 0;
		if (ignorable(s, e)) {
			consume_line(src, e);
			continue;
		}
		consume_line(src, e);
		if (is_blank(*s)) {
			maps_error(error_r, "%s:%u: continuation line without a line to continue; "
				   "remove the leading whitespace", src->name, src->lineno);
			return -1;
		}
		break;
	}
	start = src->lineno;
	if (append_trimmed(src, s, e, start, error_r) < 0)
		return -1;
	/* Continuation lines; comments and blank lines in between are skipped. */
	while (peek_line(src, &s, &e)) {
		if (ignorable(s, e)) {
			consume_line(src, e);
			continue;
		}
		if (!is_blank(*s))
			break;
		consume_line(src, e);
		if (append_trimmed(src, s, e, start, error_r) < 0)
			return -1;
	}
	*line_r = src->line.data;
	*lineno_r = start;
	return 1;
}

int maps_source_split(const char *name, unsigned lineno, char *line,
		      char **key_r, char **value_r, const char **error_r)
{
	char *p = line;

	while (*p && !is_blank(*p))
		p++;
	if (*p == '\0') {
		maps_error(error_r, "%s:%u: missing value after key \"%s\"; write KEY VALUE",
			   name, lineno, maps_quote(line, 0));
		return -1;
	}
	*p++ = '\0';
	while (is_blank(*p))
		p++;
	*key_r = line;
	*value_r = p;
	return 0;
}
