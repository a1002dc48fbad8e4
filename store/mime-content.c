/*
 * mime-content.c - Content-Type and Content-Disposition values: type,
 * subtype and parameters, with RFC 2231 continuations (name*0, name*1)
 * and charsets (name*=utf-8''%E4%B8%AD, name*0*=...). Called by the MIME
 * parser (boundary), by BODYSTRUCTURE output and by anyone wanting an
 * attachment's file name.
 *
 * RFC 2045 5.1 (syntax), RFC 2183 (disposition), RFC 2231 3-4. Tolerated:
 * comments, whitespace anywhere, unquoted values containing tspecials
 * (boundary=----=_Part_1), missing closing quote, 2047 words inside quoted
 * values (what Outlook sends; decoded in ->value only).
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mime-private.h"

#define MAX_PARAMS 64
#define MAX_SECTION 100

struct raw_param {
	char *base;          /* lower case name without the * parts */
	int section;         /* -1: no section number */
	bool star;           /* extended (percent-encoded) value */
	char *value;         /* unquoted value */
};

static bool is_tspecial(int c)
{
	return strchr("()<>@,;:\\\"/[]?=", c) != NULL;
}

static bool is_token_char(int c)
{
	return c > 32 && c != 127 && !is_tspecial(c);
}

/* skip whitespace and (nested) comments without recursion */
static size_t skip_cfws(const char *s, size_t len, size_t i)
{
	while (i < len) {
		if (mime_is_ws((unsigned char)s[i])) {
			i++;
		} else if (s[i] == '(') {
			unsigned depth = 0;

			do {
				if (s[i] == '\\' && i + 1 < len)
					i++;
				else if (s[i] == '(')
					depth++;
				else if (s[i] == ')')
					depth--;
				i++;
			} while (i < len && depth > 0);
		} else {
			break;
		}
	}
	return i;
}

static char *dup_lower(const char *s, size_t n)
{
	char *d = malloc(n + 1);

	if (d == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++)
		d[i] = (s[i] >= 'A' && s[i] <= 'Z') ? (char)(s[i] + 32) : s[i];
	d[n] = '\0';
	return d;
}

/* read a token at i; returns its length (0 when none) */
static size_t token_len(const char *s, size_t len, size_t i)
{
	size_t j = i;

	while (j < len && is_token_char((unsigned char)s[j]))
		j++;
	return j - i;
}

/* parse a parameter value (quoted or not) into sb; returns new index */
static size_t read_value(const char *s, size_t len, size_t i, struct strbuf *sb, int *oom)
{
	if (i < len && s[i] == '"') {
		for (i++; i < len && s[i] != '"'; i++) {
			if (s[i] == '\\' && i + 1 < len)
				i++;
			if (s[i] == '\r' || s[i] == '\n')
				continue;
			if (strbuf_putc(sb, s[i]) < 0)
				*oom = 1;
		}
		return i < len ? i + 1 : i;
	}
	size_t j = i;
	while (j < len && s[j] != ';' && !mime_is_ws((unsigned char)s[j]))
		j++;
	if (strbuf_append(sb, s + i, j - i) < 0)
		*oom = 1;
	return j;
}

static void raw_free(struct raw_param *rp, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(rp[i].base);
		free(rp[i].value);
	}
}

static int pct_decode(const char *s, struct strbuf *out)
{
	for (size_t i = 0; s[i]; i++) {
		int h, l;

		if (s[i] == '%' && (h = mime_hex_value((unsigned char)s[i + 1])) >= 0 &&
		    (l = mime_hex_value((unsigned char)s[i + 2])) >= 0) {
			if (strbuf_putc(out, (char)(h * 16 + l)) < 0)
				return -1;
			i += 2;
		} else if (strbuf_putc(out, s[i]) < 0) {
			return -1;
		}
	}
	return 0;
}

static int pct_encode(const char *s, struct strbuf *out)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (is_token_char(c) && c != '*' && c != '\'' && c != '%') {
			if (strbuf_putc(out, (char)c) < 0)
				return -1;
		} else if (strbuf_printf(out, "%%%02X", c) < 0) {
			return -1;
		}
	}
	return 0;
}

/* combine - build the final parameter for base from the raw ones */
static int combine(struct raw_param *rp, size_t nrp, const char *base, struct mime_param *out)
{
	struct strbuf raw, bytes, dec;
	const struct raw_param *plain = NULL, *single_ext = NULL;
	const struct raw_param *sect[MAX_SECTION] = { NULL };
	bool any_ext = false;
	char charset[64] = "";
	int rc = -1;

	for (size_t i = 0; i < nrp; i++) {
		if (strcmp(rp[i].base, base) != 0)
			continue;
		if (rp[i].section < 0 && !rp[i].star && plain == NULL)
			plain = &rp[i];
		else if (rp[i].section < 0 && rp[i].star && single_ext == NULL)
			single_ext = &rp[i];
		else if (rp[i].section >= 0 && sect[rp[i].section] == NULL)
			sect[rp[i].section] = &rp[i];
	}
	strbuf_init(&raw, 0);
	strbuf_init(&bytes, 0);
	strbuf_init(&dec, 0);
	memset(out, 0, sizeof(*out));
	if (sect[0] == NULL && single_ext != NULL)
		sect[0] = single_ext;
	if (sect[0] != NULL) {
		for (int n = 0; n < MAX_SECTION && sect[n] != NULL; n++) {
			const char *v = sect[n]->value;

			if (sect[n]->star) {
				if (n == 0) {
					/* charset'language'value */
					const char *q1 = strchr(v, '\''), *q2 = q1 ? strchr(q1 + 1, '\'') : NULL;

					any_ext = true;
					if (q2 != NULL) {
						size_t cl = (size_t)(q1 - v);
						if (cl < sizeof(charset)) {
							memcpy(charset, v, cl);
							charset[cl] = '\0';
						}
						if (strbuf_append(&raw, v, (size_t)(q2 + 1 - v)) < 0)
							goto out;
						v = q2 + 1;
					} else if (strbuf_puts(&raw, "''") < 0) {
						goto out;
					}
				}
				if (any_ext ? strbuf_puts(&raw, v) < 0 : pct_encode(v, &raw) < 0)
					goto out;
				if (pct_decode(v, &bytes) < 0)
					goto out;
			} else {
				if ((any_ext ? pct_encode(v, &raw) : strbuf_puts(&raw, v)) < 0)
					goto out;
				if (strbuf_puts(&bytes, v) < 0)
					goto out;
			}
		}
		if (any_ext) {
			if (charset[0] == '\0' ? mime_utf8_sanitize(bytes.data, bytes.len, &dec) < 0 :
			    mime_charset_to_utf8(charset, bytes.data, bytes.len, &dec) < 0)
				goto out;
		} else if (mime_header_decode(bytes.data, bytes.len, &dec) < 0) {
			goto out;
		}
		out->extended = any_ext;
	} else if (plain != NULL) {
		if (strbuf_puts(&raw, plain->value) < 0 ||
		    mime_header_decode(plain->value, strlen(plain->value), &dec) < 0)
			goto out;
	} else {
		rc = 0;
		goto out;
	}
	out->name = strdup(base);
	out->raw = strbuf_steal(&raw);
	out->value = strbuf_steal(&dec);
	if (out->name == NULL || out->raw == NULL || out->value == NULL) {
		free(out->name);
		free(out->raw);
		free(out->value);
		memset(out, 0, sizeof(*out));
		goto out;
	}
	rc = 1;
out:
	strbuf_free(&raw);
	strbuf_free(&bytes);
	strbuf_free(&dec);
	return rc;
}

static int parse_params(const char *s, size_t len, size_t i, struct mime_content *c)
{
	struct raw_param rp[MAX_PARAMS];
	size_t nrp = 0;
	int oom = 0;

	while (i < len && nrp < MAX_PARAMS) {
		struct strbuf v;
		size_t nl, end;

		i = skip_cfws(s, len, i);
		if (i < len && s[i] == ';') {
			i++;
			continue;
		}
		nl = token_len(s, len, i);
		if (nl == 0) {
			/* garbage: skip to the next ';' */
			while (i < len && s[i] != ';')
				i++;
			continue;
		}
		end = i + nl;
		size_t j = skip_cfws(s, len, end);
		if (j >= len || s[j] != '=') {
			i = j;
			continue;
		}
		j = skip_cfws(s, len, j + 1);
		strbuf_init(&v, 0);
		i = read_value(s, len, j, &v, &oom);
		if (oom) {
			strbuf_free(&v);
			break;
		}
		/* split name*N* */
		struct raw_param *p = &rp[nrp];
		size_t bl = nl;
		p->star = false;
		p->section = -1;
		const char *name = s + end - nl;
		if (bl > 1 && name[bl - 1] == '*') {
			p->star = true;
			bl--;
		}
		size_t d = bl;
		while (d > 0 && name[d - 1] >= '0' && name[d - 1] <= '9')
			d--;
		if (d < bl && d > 1 && name[d - 1] == '*' && bl - d <= 2) {
			p->section = 0;
			for (size_t q = d; q < bl; q++)
				p->section = p->section * 10 + (name[q] - '0');
			if (p->section >= MAX_SECTION)
				p->section = MAX_SECTION - 1;
			bl = d - 1;
		}
		p->base = dup_lower(name, bl);
		p->value = strbuf_steal(&v);
		strbuf_free(&v);
		if (p->base == NULL || p->value == NULL) {
			free(p->base);
			free(p->value);
			oom = 1;
			break;
		}
		nrp++;
	}
	if (!oom) {
		c->params = calloc(nrp ? nrp : 1, sizeof(*c->params));
		if (c->params == NULL)
			oom = 1;
	}
	for (size_t k = 0; k < nrp && !oom; k++) {
		bool seen = false;

		for (size_t m = 0; m < k; m++)
			if (strcmp(rp[m].base, rp[k].base) == 0)
				seen = true;
		if (seen)
			continue;
		int r = combine(rp, nrp, rp[k].base, &c->params[c->nparams]);
		if (r < 0)
			oom = 1;
		else if (r > 0)
			c->nparams++;
	}
	raw_free(rp, nrp);
	return oom ? -1 : 0;
}

int mime_content_parse(const char *value, size_t len, bool disposition, struct mime_content *c)
{
	size_t i, tl, sl;

	memset(c, 0, sizeof(*c));
	i = skip_cfws(value, len, 0);
	tl = token_len(value, len, i);
	if (tl == 0)
		return 1;
	c->type = dup_lower(value + i, tl);
	if (c->type == NULL)
		return -1;
	i = skip_cfws(value, len, i + tl);
	if (!disposition) {
		if (i >= len || value[i] != '/') {
			mime_content_free(c);
			return 1;
		}
		i = skip_cfws(value, len, i + 1);
		sl = token_len(value, len, i);
		if (sl == 0) {
			mime_content_free(c);
			return 1;
		}
		c->subtype = dup_lower(value + i, sl);
		if (c->subtype == NULL) {
			mime_content_free(c);
			return -1;
		}
		i += sl;
	}
	if (parse_params(value, len, i, c) < 0) {
		mime_content_free(c);
		return -1;
	}
	return 0;
}

void mime_content_free(struct mime_content *c)
{
	for (size_t i = 0; i < c->nparams; i++) {
		free(c->params[i].name);
		free(c->params[i].raw);
		free(c->params[i].value);
	}
	free(c->params);
	free(c->type);
	free(c->subtype);
	memset(c, 0, sizeof(*c));
}

const char *mime_content_param(const struct mime_content *c, const char *name)
{
	for (size_t i = 0; i < c->nparams; i++)
		if (strcasecmp(c->params[i].name, name) == 0)
			return c->params[i].value;
	return NULL;
}

const char *mime_content_param_raw(const struct mime_content *c, const char *name)
{
	for (size_t i = 0; i < c->nparams; i++)
		if (strcasecmp(c->params[i].name, name) == 0)
			return c->params[i].raw;
	return NULL;
}
