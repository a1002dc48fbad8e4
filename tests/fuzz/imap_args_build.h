/*
 * imap_args_build.h - build a struct imap_arg tree from a short text, for
 * the SEARCH parser's unit tests and fuzz harness (the command parser of
 * imap-parser.c is not needed, so the search-key parser is tested alone).
 *
 * Syntax: atoms separated by spaces; "quoted" strings with \" and \\;
 * {text} a literal holding text (no nested braces); (...) a list. Lists
 * nest at most IMAP_MAX_DEPTH deep, like the real parser, so the builder
 * itself never recurses on input further than that. Unbalanced input is
 * closed silently (the fuzzer should reach the search parser, not stop
 * here).
 *
 * Included by tests/unit/test_imap_search.c and
 * tests/fuzz/fuzz_imap_search.c; everything is static.
 */
#ifndef POSTERN_TEST_IMAP_ARGS_BUILD_H
#define POSTERN_TEST_IMAP_ARGS_BUILD_H

#include <stdlib.h>
#include <string.h>

#include "imap/imap-private.h"

struct args_cursor {
	const char *p, *end;
};

static void args_free_list(struct imap_arg *list, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (list[i].type == IMAP_ARG_LIST)
			args_free_list((struct imap_arg *)list[i].list, list[i].list_count);
		free(list[i].data);
	}
	free(list);
}

/* args_parse_level - items until ')' or the end, as a new array. 0 or -1. */
static int args_parse_level(struct args_cursor *c, unsigned depth, struct imap_arg **list_r,
			    size_t *n_r)
{
	struct imap_arg *list = NULL;
	size_t n = 0, alloc = 0;

	for (;;) {
		struct imap_arg a;
		const char *start;

		while (c->p < c->end && *c->p == ' ')
			c->p++;
		if (c->p >= c->end)
			break;
		if (*c->p == ')') {
			c->p++;
			break;
		}
		memset(&a, 0, sizeof(a));
		a.fd = -1;
		if (*c->p == '(') {
			c->p++;
			if (depth >= IMAP_MAX_DEPTH)
				goto fail;
			a.type = IMAP_ARG_LIST;
			struct imap_arg *sub = NULL;
			if (args_parse_level(c, depth + 1, &sub, &a.list_count) < 0)
				goto fail;
			a.list = sub;
		} else if (*c->p == '"') {
			a.type = IMAP_ARG_STRING;
			a.data = malloc((size_t)(c->end - c->p) + 1);
			if (a.data == NULL)
				goto fail;
			c->p++;
			while (c->p < c->end && *c->p != '"') {
				if (*c->p == '\\' && c->p + 1 < c->end)
					c->p++;
				a.data[a.len++] = *c->p++;
			}
			a.data[a.len] = '\0';
			if (c->p < c->end)
				c->p++;
		} else if (*c->p == '{') {
			a.type = IMAP_ARG_LITERAL;
			start = ++c->p;
			while (c->p < c->end && *c->p != '}')
				c->p++;
			a.len = (size_t)(c->p - start);
			a.data = malloc(a.len + 1);
			if (a.data == NULL)
				goto fail;
			memcpy(a.data, start, a.len);
			a.data[a.len] = '\0';
			if (c->p < c->end)
				c->p++;
		} else {
			a.type = IMAP_ARG_ATOM;
			start = c->p;
			while (c->p < c->end && *c->p != ' ' && *c->p != '(' && *c->p != ')' &&
			       *c->p != '"')
				c->p++;
			a.len = (size_t)(c->p - start);
			a.data = malloc(a.len + 1);
			if (a.data == NULL)
				goto fail;
			memcpy(a.data, start, a.len);
			a.data[a.len] = '\0';
		}
		if (n == alloc) {
			size_t na = alloc == 0 ? 8 : alloc * 2;
			struct imap_arg *nl = n < IMAP_MAX_ARGS ? realloc(list, na * sizeof(*nl)) : NULL;

			if (nl == NULL) {
				if (a.type == IMAP_ARG_LIST)
					args_free_list((struct imap_arg *)a.list, a.list_count);
				free(a.data);
				goto fail;
			}
			list = nl;
			alloc = na;
		}
		list[n++] = a;
		continue;
fail:
		args_free_list(list, n);
		return -1;
	}
	*list_r = list;
	*n_r = n;
	return 0;
}

/* args_build - the argument list for text (len bytes); NULL on failure
 * (too deep, too many arguments, no memory). *n_r gets the count; free
 * with args_free(list, n). An empty text gives a non-NULL empty list. */
static struct imap_arg *args_build(const char *text, size_t len, size_t *n_r)
{
	struct args_cursor c = { text, text + len };
	struct imap_arg *list = NULL;
	size_t n = 0;

	if (args_parse_level(&c, 0, &list, &n) < 0)
		return NULL;
	if (list == NULL)
		list = calloc(1, sizeof(*list));
	*n_r = n;
	return list;
}

static void args_free(struct imap_arg *list, size_t n)
{
	args_free_list(list, n);
}

#endif
