/*
 * content-checks.c - header_checks and body_checks (Postfix
 * header_checks(5)): each logical header, then each body line, is looked
 * up in regexp:/pcre: tables as the message streams in; the first table
 * with a match decides the line. Called by the SMTP session's DATA/BDAT
 * code (see content-checks.h for the protocol).
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "content-checks.h"
#include "log.h"
#include "maps.h"
#include "restrict.h"
#include "util.h"

struct content_checks {
	struct map_list *header, *body;
	char text[4096];   /* REPLACE / PREPEND result */
};

static struct map_list *open_list(const struct config *view, const char *param, char **error_r)
{
	const char *err;
	const char *spec = config_str(view, param);
	struct map_list *ml = map_list_open(spec, 0, &err);
	const char *file = NULL;
	int line;

	if (ml == NULL) {
		line = config_where(view, param, &file);
		if (line > 0 && file)
			*error_r = must_asprintf("%s:%d: %s: %s", file, line, param, err);
		else
			*error_r = must_asprintf("%s: %s", param, err);
	}
	return ml;
}

struct content_checks *content_checks_new(const struct config *view, char **error_r)
{
	struct content_checks *cc = must_calloc(1, sizeof(*cc));

	cc->header = open_list(view, "header_checks", error_r);
	if (cc->header == NULL) {
		free(cc);
		return NULL;
	}
	cc->body = open_list(view, "body_checks", error_r);
	if (cc->body == NULL) {
		map_list_close(&cc->header);
		free(cc);
		return NULL;
	}
	return cc;
}

void content_checks_free(struct content_checks **ccp)
{
	struct content_checks *cc = *ccp;

	if (cc == NULL)
		return;
	*ccp = NULL;
	map_list_close(&cc->header);
	map_list_close(&cc->body);
	free(cc);
}

/* Printable, bounded copy of client bytes for logs and replies. */
static void clean(char *dst, size_t size, const char *src, size_t len)
{
	size_t n = 0;

	for (size_t i = 0; i < len && n + 1 < size; i++)
		dst[n++] = ((unsigned char)src[i] < 32 || src[i] == 127) ? ' ' : src[i];
	dst[n] = '\0';
}

static void set_log(struct restrict_result *out, const char *what, const char *where,
		    const char *line, const char *text)
{
	struct strbuf sb;

	strbuf_init(&sb, sizeof(out->log) - 1);
	(void)strbuf_printf(&sb, "%s: %s %s", what, where, line);
	if (text && *text)
		(void)strbuf_printf(&sb, ": %s", text);
	str_copy(out->log, sb.data ? sb.data : what, sizeof(out->log));
	strbuf_free(&sb);
}

static int check(struct content_checks *cc, struct map_list *ml, const char *where,
		 const char *line, size_t len, struct restrict_result *out, const char **text_r)
{
	char *key = must_strndup(line, len);
	char shown[200], word[32];
	const char *value = NULL, *err = NULL, *text;
	enum map_status st;
	size_t n;
	int ret = CONTENT_LINE_KEEP;

	memset(out, 0, sizeof(*out));
	out->action = RESTRICT_CONTINUE;
	*text_r = NULL;
	if (map_list_count(ml) == 0) {
		free(key);
		return CONTENT_LINE_KEEP;
	}
	st = map_list_lookup(ml, key, &value, &err);
	clean(shown, sizeof(shown), line, len);
	free(key);
	if (st == MAP_NOTFOUND)
		return CONTENT_LINE_KEEP;
	if (st == MAP_TEMPFAIL) {
		log_warn("%s_checks: lookup failed: %s", where, err ? err : "temporary failure");
		str_copy(out->reply, "451 4.3.0 Temporary lookup failure", sizeof(out->reply));
		out->action = RESTRICT_DEFER;
		set_log(out, "defer", where, shown, "temporary lookup failure");
		return CONTENT_LINE_TEMPFAIL;
	}
	text = restrict_action_split(value, word, sizeof(word), &n);
	if (strcasecmp(word, "REJECT") == 0) {
		char dsn[16] = "5.7.1", t[400];
		size_t dn = strspn(text, "0123456789.");

		if (dn >= 5 && dn < sizeof(dsn) && text[0] == '5' && (text[dn] == ' ' || !text[dn])) {
			memcpy(dsn, text, dn);
			dsn[dn] = '\0';
			text += dn;
			while (*text == ' ')
				text++;
		}
		clean(t, sizeof(t), text, strlen(text));
		out->action = RESTRICT_REJECT;
		{
			struct strbuf sb;

			strbuf_init(&sb, sizeof(out->reply) - 1);
			(void)strbuf_printf(&sb, "550 %s %s", dsn, *t ? t : "Message content rejected");
			str_copy(out->reply, sb.data ? sb.data : "550 5.7.1 Message content rejected",
				 sizeof(out->reply));
			strbuf_free(&sb);
		}
		set_log(out, "reject", where, shown, out->reply);
	} else if (strcasecmp(word, "DISCARD") == 0) {
		out->action = RESTRICT_DISCARD;
		set_log(out, "discard", where, shown, *text ? text : "triggers DISCARD action");
	} else if (strcasecmp(word, "HOLD") == 0) {
		out->action = RESTRICT_HOLD;
		set_log(out, "hold", where, shown, *text ? text : "triggers HOLD action");
	} else if (strcasecmp(word, "IGNORE") == 0) {
		ret = CONTENT_LINE_IGNORE;
	} else if (strcasecmp(word, "WARN") == 0) {
		out->warn_only = true;
		set_log(out, "warning", where, shown, text);
	} else if (strcasecmp(word, "INFO") == 0) {
		set_log(out, "info", where, shown, text);
	} else if (strcasecmp(word, "REPLACE") == 0 || strcasecmp(word, "PREPEND") == 0) {
		if (*text == '\0') {
			log_warn("%s_checks: %s without text for \"%s\"; ignored", where, word, shown);
		} else {
			clean(cc->text, sizeof(cc->text), text, strlen(text));
			*text_r = cc->text;
			ret = strcasecmp(word, "REPLACE") == 0 ? CONTENT_LINE_REPLACE
							       : CONTENT_LINE_PREPEND;
		}
	} else if (strcasecmp(word, "DUNNO") != 0 && strcasecmp(word, "OK") != 0) {
		log_warn("%s_checks: unsupported action \"%s\" for \"%s\"; ignored", where, word, shown);
	}
	return ret;
}

int content_checks_header(struct content_checks *cc, const char *line, size_t len,
			  struct restrict_result *out, const char **text_r)
{
	return check(cc, cc->header, "header", line, len, out, text_r);
}

int content_checks_body_line(struct content_checks *cc, const char *line, size_t len,
			     struct restrict_result *out, const char **text_r)
{
	return check(cc, cc->body, "body", line, len, out, text_r);
}
