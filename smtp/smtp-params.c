/*
 * smtp-params.c - SMTP command line parsing: verb, MAIL/RCPT path,
 * ESMTP parameters. See smtp-params.h. Every loop is bounded by len and
 * nothing is recursive, because every byte here comes from the network.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "smtp/smtp-params.h"
#include "util.h"

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

size_t smtp_command_split(const char *line, size_t len, size_t *args_r)
{
	size_t i = 0;

	while (i < len && isalpha((unsigned char)line[i]))
		i++;
	if (i < len && !is_blank(line[i])) {
		*args_r = len;
		return 0;
	}
	size_t verb = i;
	while (i < len && is_blank(line[i]))
		i++;
	*args_r = i;
	return verb;
}

int smtp_path_split(const char *args, size_t len, const char *keyword,
		    size_t *path_off, size_t *path_len, size_t *params_off)
{
	size_t kl = strlen(keyword), i;

	if (len < kl || strncasecmp(args, keyword, kl) != 0)
		return -1;
	i = kl;
	while (i < len && is_blank(args[i]))
		i++;
	if (i >= len)
		return -1;
	*path_off = i;
	if (args[i] == '<') {
		bool quoted = false;
		size_t j = i + 1;
		for (; j < len; j++) {
			char c = args[j];
			if (c == '\\' && j + 1 < len) {
				j++;
				continue;
			}
			if (c == '"')
				quoted = !quoted;
			else if (c == '>' && !quoted)
				break;
		}
		if (j >= len)
			return -1;
		*path_len = j + 1 - i;
		i = j + 1;
		if (i < len && !is_blank(args[i]))
			return -1;
	} else {
		size_t j = i;
		while (j < len && !is_blank(args[j]))
			j++;
		*path_len = j - i;
		i = j;
	}
	while (i < len && is_blank(args[i]))
		i++;
	*params_off = i;
	return 0;
}

bool smtp_xtext_valid(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '+') {
			if (len - i < 3)
				return false;
			for (int k = 1; k <= 2; k++) {
				unsigned char h = (unsigned char)s[i + k];
				if (!(isdigit(h) || (h >= 'A' && h <= 'F')))
					return false;
			}
			i += 2;
		} else if (c < 33 || c > 126 || c == '=') {
			return false;
		}
	}
	return true;
}

/* One "keyword[=value]" token. */
struct param_tok {
	const char *key;
	size_t key_len;
	const char *value;   /* NULL when there is no '=' */
	size_t value_len;
};

/* split_params - tokens separated by blanks; -1 when there are too many. */
static int split_params(const char *text, size_t len, struct param_tok *toks, size_t *n_r)
{
	size_t i = 0, n = 0;

	while (i < len) {
		while (i < len && is_blank(text[i]))
			i++;
		if (i >= len)
			break;
		if (n >= SMTP_PARAMS_MAX)
			return -1;
		size_t start = i;
		while (i < len && !is_blank(text[i]))
			i++;
		struct param_tok *t = &toks[n++];
		t->key = text + start;
		const char *eq = memchr(t->key, '=', i - start);
		if (eq) {
			t->key_len = (size_t)(eq - t->key);
			t->value = eq + 1;
			t->value_len = i - start - t->key_len - 1;
		} else {
			t->key_len = i - start;
			t->value = NULL;
			t->value_len = 0;
		}
	}
	*n_r = n;
	return 0;
}

static bool key_is(const struct param_tok *t, const char *name)
{
	return t->key_len == strlen(name) && strncasecmp(t->key, name, t->key_len) == 0;
}

static bool value_is(const struct param_tok *t, const char *v)
{
	return t->value && t->value_len == strlen(v) && strncasecmp(t->value, v, t->value_len) == 0;
}

/* unsupported - "555 5.5.4 Unsupported option: KEY[=VALUE]" with the
 * client's bytes escaped. */
static const char *unsupported(const struct param_tok *t, char *buf, size_t size)
{
	char esc[128];
	size_t tl = t->key_len + (t->value ? t->value_len + 1 : 0);

	str_escape(t->key, tl, esc, sizeof(esc));
	snprintf(buf, size, "555 5.5.4 Unsupported option: %s", esc);
	return buf;
}

void smtp_mail_params_free(struct smtp_mail_params *p)
{
	x_free(&p->envid);
	x_free(&p->auth);
	memset(p, 0, sizeof(*p));
}

int smtp_mail_params_parse(const char *text, size_t len, unsigned long long size_limit,
			   struct smtp_mail_params *out, char *buf, size_t size, const char **reply_r)
{
	struct param_tok toks[SMTP_PARAMS_MAX];
	size_t n;

	memset(out, 0, sizeof(*out));
	if (split_params(text, len, toks, &n) < 0) {
		*reply_r = "555 5.5.4 Error: too many parameters";
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		const struct param_tok *t = &toks[i];
		if (key_is(t, "SIZE") && t->value && !out->has_size) {
			unsigned long long v = 0;
			if (t->value_len == 0 || t->value_len > 20)
				goto bad;
			for (size_t k = 0; k < t->value_len; k++) {
				if (!isdigit((unsigned char)t->value[k]))
					goto bad;
				if (v > (~0ULL - 9) / 10) {
					v = ~0ULL;
					break;
				}
				v = v * 10 + (unsigned)(t->value[k] - '0');
			}
			out->has_size = true;
			out->size = v;
			if (v > size_limit) {
				*reply_r = "552 5.3.4 Message size exceeds fixed limit";
				goto fail;
			}
		} else if (key_is(t, "BODY") && out->body == SMTP_BODY_NONE) {
			if (value_is(t, "7BIT"))
				out->body = SMTP_BODY_7BIT;
			else if (value_is(t, "8BITMIME"))
				out->body = SMTP_BODY_8BITMIME;
			else
				goto bad;
		} else if (key_is(t, "SMTPUTF8") && t->value == NULL && !out->smtputf8) {
			out->smtputf8 = true;
		} else if (key_is(t, "RET") && out->ret == SMTP_RET_NONE) {
			if (value_is(t, "FULL"))
				out->ret = SMTP_RET_FULL;
			else if (value_is(t, "HDRS"))
				out->ret = SMTP_RET_HDRS;
			else
				goto bad;
		} else if (key_is(t, "ENVID") && t->value && out->envid == NULL) {
			if (t->value_len == 0 || t->value_len > SMTP_ENVID_MAX ||
			    !smtp_xtext_valid(t->value, t->value_len))
				goto bad;
			if ((out->envid = strndup(t->value, t->value_len)) == NULL)
				goto nomem;
		} else if (key_is(t, "AUTH") && t->value && out->auth == NULL) {
			if (t->value_len == 0 || t->value_len > 500 ||
			    !smtp_xtext_valid(t->value, t->value_len))
				goto bad;
			if ((out->auth = strndup(t->value, t->value_len)) == NULL)
				goto nomem;
		} else {
			goto bad;
		}
		continue;
bad:
		*reply_r = unsupported(t, buf, size);
		goto fail;
	}
	return 0;
nomem:
	*reply_r = "451 4.3.0 Error: out of memory";
fail:
	smtp_mail_params_free(out);
	return -1;
}

int smtp_rcpt_params_parse(const char *text, size_t len, unsigned *notify_r, char **orcpt_r,
			   char *buf, size_t size, const char **reply_r)
{
	struct param_tok toks[SMTP_PARAMS_MAX];
	size_t n;
	unsigned notify = 0;
	char *orcpt = NULL;

	*notify_r = 0;
	*orcpt_r = NULL;
	if (split_params(text, len, toks, &n) < 0) {
		*reply_r = "555 5.5.4 Error: too many parameters";
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		const struct param_tok *t = &toks[i];
		if (key_is(t, "NOTIFY") && t->value && notify == 0) {
			size_t k = 0;
			while (k <= t->value_len) {
				size_t e = k;
				while (e < t->value_len && t->value[e] != ',')
					e++;
				struct param_tok w = { .key = t->value + k, .key_len = e - k };
				if (key_is(&w, "NEVER"))
					notify |= SMTP_NOTIFY_NEVER;
				else if (key_is(&w, "SUCCESS"))
					notify |= SMTP_NOTIFY_SUCCESS;
				else if (key_is(&w, "FAILURE"))
					notify |= SMTP_NOTIFY_FAILURE;
				else if (key_is(&w, "DELAY"))
					notify |= SMTP_NOTIFY_DELAY;
				else
					goto bad;
				k = e + 1;
			}
			/* RFC 3461 4.1: NEVER excludes the others. */
			if ((notify & SMTP_NOTIFY_NEVER) && notify != SMTP_NOTIFY_NEVER)
				goto bad;
		} else if (key_is(t, "ORCPT") && t->value && orcpt == NULL) {
			const char *semi = memchr(t->value, ';', t->value_len);
			if (semi == NULL || semi == t->value || t->value_len > SMTP_ORCPT_MAX)
				goto bad;
			size_t tl = (size_t)(semi - t->value);
			for (size_t k = 0; k < tl; k++)
				if (!isalnum((unsigned char)t->value[k]) && t->value[k] != '-')
					goto bad;
			if (!smtp_xtext_valid(semi + 1, t->value_len - tl - 1) || t->value_len - tl - 1 == 0)
				goto bad;
			if ((orcpt = strndup(t->value, t->value_len)) == NULL) {
				*reply_r = "451 4.3.0 Error: out of memory";
				return -1;
			}
		} else {
			goto bad;
		}
		continue;
bad:
		free(orcpt);
		*reply_r = unsupported(t, buf, size);
		return -1;
	}
	*notify_r = notify;
	*orcpt_r = orcpt;
	return 0;
}
