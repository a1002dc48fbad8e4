/*
 * config-parse.c - the lexical layer of the configuration file: physical
 * lines to logical lines to "name = value" assignments with file:line and
 * byte spans. Called by config.c (load) and config-edit.c (to find what to
 * replace).
 *
 * Rules as Postfix reads main.cf (postconf(5), "syntax"; readlline(3)):
 * - a line whose first non-blank character is # is a comment, and an
 *   empty or all-blank line is ignored; neither ends a logical line, so a
 *   comment may sit between a line and its continuation;
 * - a line starting with whitespace continues the logical line; the
 *   newline is dropped and the leading whitespace kept;
 * - a logical line must not start with whitespace;
 * - "name = value": spaces around = are optional, the value is trimmed,
 *   # inside a value is part of the value.
 * Postern is stricter than Postfix in two places: text without "=" and a
 * continuation with nothing to continue are errors, not warnings.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "config-private.h"

bool config_name_valid(const char *name, size_t len, bool listener)
{
	if (len == 0)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];

		if (!(isalnum(c) || c == '_' || (listener && c == '-')) || c > 0x7f)
			return false;
	}
	return true;
}

/* A name is NAME or LISTENER/NAME. */
static bool config_full_name_valid(const char *name, size_t len)
{
	const char *slash = memchr(name, '/', len);

	if (slash == NULL)
		return config_name_valid(name, len, false);
	return config_name_valid(name, (size_t)(slash - name), true) &&
	       config_name_valid(slash + 1, len - (size_t)(slash - name) - 1, false);
}

struct lexer {
	const char *file;
	struct config_reporter *r;
	struct config_assign *assigns;
	size_t count, cap;
};

/* Turn one logical line into an assignment, or report why not. */
static void lex_logical(struct lexer *lx, char *text, int line, size_t start, size_t end)
{
	char shown[80];
	char *eq, *name, *value;
	struct config_assign *a;

	if (isspace((unsigned char)text[0])) {
		config_reportf(lx->r, CONFIG_ERROR,
			       "%s:%d: line starts with whitespace, but there is no parameter "
			       "line before it to continue; remove the leading whitespace",
			       lx->file, line);
		return;
	}
	eq = strchr(text, '=');
	if (eq == NULL) {
		str_escape(text, strlen(text), shown, 40);
		config_reportf(lx->r, CONFIG_ERROR,
			       "%s:%d: \"%s\": missing '='; write NAME = VALUE, or start the line "
			       "with # to make it a comment", lx->file, line, shown);
		return;
	}
	*eq = '\0';
	name = str_trim(text);
	value = str_trim(eq + 1);
	if (!config_full_name_valid(name, strlen(name))) {
		str_escape(name, strlen(name), shown, 40);
		config_reportf(lx->r, CONFIG_ERROR,
			       "%s:%d: \"%s\": not a valid parameter name; use letters, digits "
			       "and _, or LISTENER/NAME", lx->file, line, shown);
		return;
	}
	if (lx->count == lx->cap) {
		lx->cap = lx->cap ? lx->cap * 2 : 16;
		lx->assigns = must_realloc(lx->assigns, lx->cap * sizeof(*lx->assigns));
	}
	a = &lx->assigns[lx->count++];
	a->name = must_strdup(name);
	a->value = must_strdup(value);
	a->line = line;
	a->start = start;
	a->end = end;
}

size_t config_lex(const char *file, const char *text, size_t len, struct config_reporter *r,
		  struct config_assign **assigns_r)
{
	struct lexer lx = { .file = file, .r = r };
	struct strbuf logical;
	size_t pos = 0;
	int lineno = 0;

	strbuf_init(&logical, CONFIG_MAX_LINE);
	while (pos < len) {
		int first_line = 0;
		size_t start = pos, end = pos;
		bool bad = false;

		strbuf_reset(&logical);
		for (;;) {
			const char *nl = memchr(text + pos, '\n', len - pos);
			size_t line_end = nl ? (size_t)(nl - text) : len;
			size_t next = nl ? line_end + 1 : len;
			size_t i = pos;

			lineno++;
			while (i < line_end && isspace((unsigned char)text[i]))
				i++;
			if (i < line_end && text[i] != '#') {
				if (first_line == 0) {
					first_line = lineno;
					start = pos;
				}
				end = next;
				if (memchr(text + pos, '\0', line_end - pos)) {
					if (!bad)
						config_reportf(r, CONFIG_ERROR,
							       "%s:%d: line contains a NUL byte; "
							       "remove it", file, lineno);
					bad = true;
				} else if (!bad &&
					   strbuf_append(&logical, text + pos, line_end - pos) < 0) {
					config_reportf(r, CONFIG_ERROR,
						       "%s:%d: logical line is longer than %d bytes; "
						       "shorten the value", file, first_line,
						       CONFIG_MAX_LINE);
					bad = true;
				}
			}
			pos = next;
			if (pos >= len)
				break;
			/* Only a line that starts in column 1 with something other
			 * than # ends the logical line (readlline(3)). */
			if (first_line && text[pos] != '#' && !isspace((unsigned char)text[pos]))
				break;
		}
		if (first_line && !bad)
			lex_logical(&lx, logical.data, first_line, start, end);
	}
	strbuf_free(&logical);
	*assigns_r = lx.assigns ? lx.assigns : must_calloc(1, sizeof(*lx.assigns));
	return lx.count;
}

void config_assigns_free(struct config_assign *a, size_t count)
{
	if (a == NULL)
		return;
	for (size_t i = 0; i < count; i++) {
		free(a[i].name);
		free(a[i].value);
	}
	free(a);
}
