/*
 * config-expand.c - $name expansion in parameter values, as Postfix's
 * mac_expand(3) and postconf(5) "parameter expansion" define it:
 *
 *   $name, ${name}   the value of name ($name stops at the first character
 *                    that is not a letter, digit or _)
 *   ${name?text}     text (itself expanded) if name is non-empty, else ""
 *   ${name:text}     text (itself expanded) if name is empty, else ""
 *   $$               a literal $
 *
 * Postfix's legacy $(name) and its 3.0 relational forms are not accepted;
 * a $ followed by anything else is an error (write $$).
 *
 * Callers: config-build.c while loading (lookups compute other parameters
 * and report their own problems), and config_expand() for templates after
 * loading. Nesting of ${...?...} inside values and of references between
 * parameters share one depth limit, CONFIG_MAX_EXPAND_DEPTH, so hostile
 * input cannot recurse without bound.
 */
#include <ctype.h>
#include <string.h>

#include "config-private.h"

static bool name_char(char c)
{
	return isalnum((unsigned char)c) || c == '_';
}

static const char err_depth[] = "expansion nested deeper than 32 levels; simplify the $name references";
static const char err_size[] = "value expands to more than 65536 bytes; shorten it";

/* Find the '}' that closes the '{' just before p, honouring nesting. */
static const char *find_close(const char *p)
{
	int level = 1;

	for (; *p; p++) {
		if (*p == '{')
			level++;
		else if (*p == '}' && --level == 0)
			return p;
	}
	return NULL;
}

/* dry: syntax check only (the untaken branch of ${name?text}), so that an
 * error there is found even when this configuration does not take it. */
static int expand(const char *text, size_t len, const struct config_expand_ops *ops, void *ctx,
		  int depth, bool dry, struct strbuf *out, const char **error_r)
{
	const char *p = text, *end = text + len;

	if (depth > CONFIG_MAX_EXPAND_DEPTH) {
		*error_r = err_depth;
		return -1;
	}
	while (p < end) {
		const char *dollar = memchr(p, '$', (size_t)(end - p));
		const char *name, *name_end, *arg = NULL, *arg_end = NULL;
		const char *value = "";
		char op = 0, namebuf[256];
		int r;

		if (dollar == NULL)
			dollar = end;
		if (!dry && strbuf_append(out, p, (size_t)(dollar - p)) < 0) {
			*error_r = err_size;
			return -1;
		}
		if (dollar == end)
			break;
		p = dollar + 1;
		if (p == end) {
			*error_r = "'$' at the end of the value; write $$ for a literal $";
			return -1;
		}
		if (*p == '$') {
			if (!dry && strbuf_putc(out, '$') < 0) {
				*error_r = err_size;
				return -1;
			}
			p++;
			continue;
		}
		if (*p == '{') {
			const char *close = find_close(p + 1);

			if (close == NULL || close >= end) {
				*error_r = "'${' without a closing '}'; close it with '}'";
				return -1;
			}
			name = p + 1;
			for (name_end = name; name_end < close && name_char(*name_end); name_end++)
				;
			if (name_end < close && (*name_end == '?' || *name_end == ':')) {
				op = *name_end;
				arg = name_end + 1;
				arg_end = close;
			} else if (name_end != close) {
				*error_r = "bad parameter name inside ${...}; use ${name}, ${name?text} "
					   "or ${name:text}";
				return -1;
			}
			p = close + 1;
		} else {
			name = p;
			for (name_end = name; name_end < end && name_char(*name_end); name_end++)
				;
			p = name_end;
		}
		if (name_end == name) {
			*error_r = "'$' not followed by a parameter name; write $$ for a literal $";
			return -1;
		}
		if (dry) {
			if (arg && expand(arg, (size_t)(arg_end - arg), ops, ctx, depth + 1, true,
					  out, error_r) < 0)
				return -1;
			continue;
		}
		if ((size_t)(name_end - name) >= sizeof(namebuf)) {
			/* Longer than any registered name: unknown, expands to "". */
			value = NULL;
			r = 0;
		} else {
			memcpy(namebuf, name, (size_t)(name_end - name));
			namebuf[name_end - name] = '\0';
			r = ops->lookup(ctx, namebuf, depth + 1, &value);
		}
		if (r < 0)
			return -2;
		if (r == 0) {
			if (ops->unknown && (size_t)(name_end - name) < sizeof(namebuf))
				ops->unknown(ctx, namebuf);
			value = "";
		}
		if (op == 0) {
			if (strbuf_puts(out, value) < 0) {
				*error_r = err_size;
				return -1;
			}
			continue;
		}
		/* Conditional text: expand the taken branch, syntax-check the other. */
		r = expand(arg, (size_t)(arg_end - arg), ops, ctx, depth + 1,
			   (op == '?') != (*value != '\0'), out, error_r);
		if (r < 0)
			return r;
	}
	return 0;
}

int config_expand_text(const char *text, const struct config_expand_ops *ops, void *ctx,
		       int depth, struct strbuf *out, const char **error_r)
{
	return expand(text, strlen(text), ops, ctx, depth, false, out, error_r);
}

/* After loading, lookups read the finished values of cfg. */
static int loaded_lookup(void *ctx, const char *name, int depth, const char **value_r)
{
	const struct config *cfg = ctx;
	int idx = config_param_index(name);

	(void)depth;
	if (idx < 0)
		return 0;
	*value_r = cfg->values[idx].text ? cfg->values[idx].text : "";
	return 1;
}

char *config_expand(const struct config *cfg, const char *text, const char **error_r)
{
	/* Unknown names expand to "" without complaint: templates may name
	 * things that are not parameters. */
	static const struct config_expand_ops ops = { loaded_lookup, NULL };
	struct strbuf out;
	char *result;

	strbuf_init(&out, CONFIG_MAX_LINE);
	if (config_expand_text(text, &ops, (void *)cfg, 0, &out, error_r) < 0) {
		strbuf_free(&out);
		return NULL;
	}
	result = strbuf_steal(&out);
	if (result == NULL)
		*error_r = "out of memory";
	return result;
}
