/*
 * restrict-template.c - the reply templates of the DNS list rules
 * (postconf(5) default_rbl_reply, rbl_reply_maps): one level of $name,
 * ${name}, $(name), ${name?value}, ${name:value}, ${name?{v1}:{v2}}
 * substitution over the attributes of one rejection ($rbl_code,
 * $rbl_class, $rbl_what, $rbl_domain, $rbl_reason, $client, ...).
 *
 * Called by restrict-dnsbl.c; pure (no I/O), so tests/unit/
 * test_restrict_template.c drives it directly. Hostile input: templates
 * come from the configuration or a table, values from DNS TXT records;
 * the output is bounded by the caller's buffer, nesting by
 * TEMPLATE_MAX_DEPTH, and a value is never expanded again (a TXT record
 * containing "$client" stays literal).
 */
#include <string.h>

#include "restrict-private.h"
#include "util.h"

#define TEMPLATE_MAX_DEPTH 4

struct tpl_out {
	char *buf;
	size_t size, len;
};

static void out_put(struct tpl_out *o, const char *s, size_t n)
{
	if (o->len + 1 >= o->size)
		return;
	if (n > o->size - 1 - o->len)
		n = o->size - 1 - o->len;
	memcpy(o->buf + o->len, s, n);
	o->len += n;
	o->buf[o->len] = '\0';
}

static bool name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		c == '_';
}

/* The end of a {...} or plain value starting at p inside ${...}: stops at
 * the unnested close (or ':' when stop_colon). */
static const char *value_end(const char *p, char close, bool stop_colon)
{
	int depth = 0;

	for (; *p; p++) {
		if (*p == '{' || *p == '(')
			depth++;
		else if ((*p == '}' || *p == ')') && depth > 0)
			depth--;
		else if (depth == 0 && (*p == close || (stop_colon && *p == ':')))
			return p;
	}
	return p;
}

static void expand(const char *t, size_t n, restrict_template_fn *get, void *ctx,
		   struct tpl_out *o, int depth);

/* Expand a conditional's value: "{text}" loses its braces. */
static void expand_value(const char *v, size_t n, restrict_template_fn *get, void *ctx,
			 struct tpl_out *o, int depth)
{
	if (n >= 2 && v[0] == '{' && v[n - 1] == '}') {
		v++;
		n -= 2;
	}
	expand(v, n, get, ctx, o, depth + 1);
}

static void expand(const char *t, size_t n, restrict_template_fn *get, void *ctx,
		   struct tpl_out *o, int depth)
{
	const char *end = t + n;

	if (depth > TEMPLATE_MAX_DEPTH) {
		out_put(o, t, n);
		return;
	}
	while (t < end) {
		const char *dollar = memchr(t, '$', (size_t)(end - t));
		char name[64];
		size_t nl = 0;
		const char *val;

		if (dollar == NULL) {
			out_put(o, t, (size_t)(end - t));
			return;
		}
		out_put(o, t, (size_t)(dollar - t));
		t = dollar + 1;
		if (t < end && (*t == '{' || *t == '(')) {
			char close = *t == '{' ? '}' : ')';
			const char *p = t + 1, *stop;

			while (p < end && name_char(*p) && nl < sizeof(name) - 1)
				name[nl++] = *p++;
			name[nl] = '\0';
			val = get(ctx, name);
			if (val == NULL)
				val = "";
			if (p < end && *p == close) {
				out_put(o, val, strlen(val));
				t = p + 1;
				continue;
			}
			if (p < end && (*p == '?' || *p == ':')) {
				bool want_set = *p == '?';
				const char *v1 = p + 1, *v1_end, *v2 = NULL, *v2_end = NULL;

				/* ${name?{v1}:{v2}} has two braced values. */
				v1_end = value_end(v1, close, want_set && *v1 == '{');
				stop = v1_end;
				if (want_set && *v1 == '{' && v1_end < end && *v1_end == ':') {
					v2 = v1_end + 1;
					v2_end = value_end(v2, close, false);
					stop = v2_end;
				}
				if (stop > end)
					stop = end;
				if (v1_end > end)
					v1_end = end;
				if (v2_end && v2_end > end)
					v2_end = end;
				if ((val[0] != '\0') == want_set)
					expand_value(v1, (size_t)(v1_end - v1), get, ctx, o, depth);
				else if (v2)
					expand_value(v2, (size_t)(v2_end - v2), get, ctx, o, depth);
				t = stop < end ? stop + 1 : end;
				continue;
			}
			/* Malformed: keep the text as it is. */
			out_put(o, dollar, (size_t)(p - dollar));
			t = p;
			continue;
		}
		while (t < end && name_char(*t) && nl < sizeof(name) - 1)
			name[nl++] = *t++;
		name[nl] = '\0';
		if (nl == 0) {
			out_put(o, "$", 1);
			continue;
		}
		val = get(ctx, name);
		if (val)
			out_put(o, val, strlen(val));
	}
}

void restrict_template_expand(const char *tmpl, restrict_template_fn *get, void *ctx,
			      char *out, size_t size)
{
	struct tpl_out o = { .buf = out, .size = size, .len = 0 };

	if (size == 0)
		return;
	out[0] = '\0';
	expand(tmpl, strlen(tmpl), get, ctx, &o, 0);
}

int restrict_reply_split(const char *reply, int *code_r, char *dsn, size_t dsn_size,
			 const char **text_r)
{
	const char *p = reply;
	size_t n;

	while (*p == ' ' || *p == '\t')
		p++;
	if (!(p[0] == '4' || p[0] == '5') || p[1] < '0' || p[1] > '9' || p[2] < '0' ||
	    p[2] > '9' || (p[3] != ' ' && p[3] != '\0'))
		return -1;
	*code_r = (p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0');
	p += 3;
	while (*p == ' ')
		p++;
	dsn[0] = '\0';
	n = strspn(p, "0123456789.");
	if (n >= 5 && n < dsn_size && (p[0] == '4' || p[0] == '5') && p[1] == '.' &&
	    (p[n] == ' ' || p[n] == '\0')) {
		memcpy(dsn, p, n);
		dsn[n] = '\0';
		/* The class of the DSN follows the reply code (RFC 3463 2). */
		dsn[0] = (char)('0' + *code_r / 100);
		p += n;
		while (*p == ' ')
			p++;
	}
	*text_r = p;
	return 0;
}
