/*
 * config-value.c - parsing and checking of typed values: boolean, integer,
 * time, size, list, table list (type:name), choice and path. Used by
 * config-build.c for every parameter, and through config_parse_bool/time/
 * size by other modules (table values, command-line flags).
 *
 * Units follow Postfix (postconf(5), "time units": s m h d w; sizes are
 * plain bytes in Postfix, Postern also takes k, M and G as powers of
 * 1024). List items are separated by commas and/or whitespace, and a
 * {...} group stays in one item (Postfix 3.0 and later), so that
 * inline:{ a=b, c=d } is one table.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config-private.h"
#include "log.h"

int config_parse_bool(const char *text, bool *value_r, const char **error_r)
{
	static const char *const yes[] = { "yes", "true", "on", NULL };
	static const char *const no[] = { "no", "false", "off", NULL };

	for (size_t i = 0; yes[i]; i++) {
		if (strcasecmp(text, yes[i]) == 0) {
			*value_r = true;
			return 0;
		}
		if (strcasecmp(text, no[i]) == 0) {
			*value_r = false;
			return 0;
		}
	}
	*error_r = "not a valid boolean; use yes or no";
	return -1;
}

/* Digits only (no sign, no spaces): strtoll alone would accept " -5". */
static int parse_digits(const char *text, const char **end_r, long long *value_r)
{
	const char *p = text;
	long long v = 0;

	if (!isdigit((unsigned char)*p))
		return -1;
	for (; isdigit((unsigned char)*p); p++) {
		int d = *p - '0';

		if (v > (LLONG_MAX - d) / 10)
			return -2;
		v = v * 10 + d;
	}
	*end_r = p;
	*value_r = v;
	return 0;
}

int config_parse_time(const char *text, char default_unit, long long *seconds_r, const char **error_r)
{
	static const char bad[] = "not a valid time; use a number with optional unit s, m, h, d or w";
	const char *end;
	long long v, mult;
	char unit;
	int r = parse_digits(text, &end, &v);

	if (r == -2) {
		*error_r = "too large a time; use a smaller number";
		return -1;
	}
	if (r < 0 || (end[0] && end[1])) {
		*error_r = bad;
		return -1;
	}
	unit = end[0] ? end[0] : default_unit;
	switch (unit) {
	case 's': mult = 1; break;
	case 'm': mult = 60; break;
	case 'h': mult = 3600; break;
	case 'd': mult = 86400; break;
	case 'w': mult = 7 * 86400; break;
	default:
		*error_r = bad;
		return -1;
	}
	if (v > LLONG_MAX / mult) {
		*error_r = "too large a time; use a smaller number";
		return -1;
	}
	*seconds_r = v * mult;
	return 0;
}

int config_parse_size(const char *text, long long *bytes_r, const char **error_r)
{
	static const char bad[] = "not a valid size; use a number of bytes with optional k, M or G";
	const char *end;
	long long v, mult;
	int r = parse_digits(text, &end, &v);

	if (r == -2) {
		*error_r = "too large a size; use a smaller number";
		return -1;
	}
	if (r < 0 || (end[0] && end[1])) {
		*error_r = bad;
		return -1;
	}
	switch (end[0]) {
	case '\0': mult = 1; break;
	case 'k': case 'K': mult = 1024; break;
	case 'm': case 'M': mult = 1024 * 1024; break;
	case 'g': case 'G': mult = 1024 * 1024 * 1024; break;
	default:
		*error_r = bad;
		return -1;
	}
	if (v > LLONG_MAX / mult) {
		*error_r = "too large a size; use a smaller number";
		return -1;
	}
	*bytes_r = v * mult;
	return 0;
}

static int parse_int(const char *text, long long *value_r, const char **error_r)
{
	const char *p = text, *end;
	long long v;
	int r;

	if (*p == '-' || *p == '+')
		p++;
	r = parse_digits(p, &end, &v);
	if (r == -2) {
		*error_r = "too large an integer; use a smaller number";
		return -1;
	}
	if (r < 0 || *end) {
		*error_r = "not a valid integer; use a decimal number";
		return -1;
	}
	*value_r = text[0] == '-' ? -v : v;
	return 0;
}

void config_items_free(char **items)
{
	if (items == NULL)
		return;
	for (size_t i = 0; items[i]; i++)
		free(items[i]);
	free(items);
}

static bool list_sep(char c)
{
	return c == ',' || isspace((unsigned char)c);
}

int config_split_list(const char *text, char ***items_r, size_t *count_r, const char **error_r)
{
	char **items = NULL;
	size_t n = 0, cap = 0;
	const char *p = text;

	for (;;) {
		const char *start;
		int level = 0;

		while (*p && list_sep(*p))
			p++;
		if (*p == '\0')
			break;
		start = p;
		for (; *p && (level > 0 || !list_sep(*p)); p++) {
			if (*p == '{') {
				level++;
			} else if (*p == '}') {
				if (level == 0) {
					*error_r = "'}' without a matching '{'; remove it or add the '{'";
					goto fail;
				}
				level--;
			}
		}
		if (level > 0) {
			*error_r = "'{' without a closing '}'; close it with '}'";
			goto fail;
		}
		if (n + 2 > cap) {
			cap = cap ? cap * 2 : 8;
			items = must_realloc(items, cap * sizeof(*items));
		}
		items[n++] = must_strndup(start, (size_t)(p - start));
	}
	if (items == NULL)
		items = must_malloc(sizeof(*items));
	items[n] = NULL;
	*items_r = items;
	if (count_r)
		*count_r = n;
	return 0;
fail:
	if (items) {
		items[n] = NULL;
		config_items_free(items);
	}
	return -1;
}

/* type:name as Postfix writes table references: a lower-case type of
 * letters, digits, _ or -, a colon, a non-empty name. */
static bool table_ref_valid(const char *item)
{
	const char *colon = strchr(item, ':');

	if (colon == NULL || colon == item || colon[1] == '\0' || !islower((unsigned char)item[0]))
		return false;
	for (const char *p = item; p < colon; p++)
		if (!(islower((unsigned char)*p) || isdigit((unsigned char)*p) || *p == '_' || *p == '-'))
			return false;
	return true;
}

/* Shorten a value for a message: values may be long and hold any byte. */
static const char *shown(const char *text, char *buf, size_t size)
{
	return str_escape(text, strlen(text), buf, size);
}

static int check_bounds(const struct param_def *def, const char *text, long long v, char **msg_r)
{
	char buf[100];
	const char *unit = def->type == PARAM_TIME ? "s" : def->type == PARAM_SIZE ? " bytes" : "";

	if (def->min == 0 && def->max == 0)
		return 0;
	if (v < def->min) {
		if (def->type == PARAM_INT)
			*msg_r = must_asprintf("%lld is below the minimum %lld", v, def->min);
		else
			*msg_r = must_asprintf("\"%s\" is below the minimum %lld%s",
					       shown(text, buf, 64), def->min, unit);
		return -1;
	}
	if (def->max != 0 && v > def->max) {
		if (def->type == PARAM_INT)
			*msg_r = must_asprintf("%lld is above the maximum %lld", v, def->max);
		else
			*msg_r = must_asprintf("\"%s\" is above the maximum %lld%s",
					       shown(text, buf, 64), def->max, unit);
		return -1;
	}
	return 0;
}

static int check_choice(const struct param_def *def, const char *text, char **msg_r)
{
	struct strbuf sb;
	char buf[100];

	for (size_t i = 0; def->choices && def->choices[i]; i++)
		if (strcmp(text, def->choices[i]) == 0)
			return 0;
	strbuf_init(&sb, 0);
	for (size_t i = 0; def->choices && def->choices[i]; i++)
		if (strbuf_printf(&sb, "%s%s", i ? ", " : "", def->choices[i]) < 0)
			log_fatal("out of memory listing the choices of %s", def->name);
	*msg_r = must_asprintf("\"%s\" is not one of %s", shown(text, buf, 64),
			       sb.data ? sb.data : "(none)");
	strbuf_free(&sb);
	return -1;
}

int config_value_check(const struct param_def *def, const char *text, struct config_value *v,
		       char **msg_r)
{
	const char *why = NULL;
	char buf[100];

	switch (def->type) {
	case PARAM_STRING:
		return 0;
	case PARAM_BOOL:
		if (config_parse_bool(text, &v->b, &why) < 0)
			break;
		return 0;
	case PARAM_INT:
		if (parse_int(text, &v->num, &why) < 0)
			break;
		return check_bounds(def, text, v->num, msg_r);
	case PARAM_TIME:
		if (config_parse_time(text, def->time_unit ? def->time_unit : 's', &v->num, &why) < 0)
			break;
		return check_bounds(def, text, v->num, msg_r);
	case PARAM_SIZE:
		if (config_parse_size(text, &v->num, &why) < 0)
			break;
		return check_bounds(def, text, v->num, msg_r);
	case PARAM_LIST:
	case PARAM_MAPS:
		if (config_split_list(text, &v->items, &v->nitems, &why) < 0) {
			*msg_r = must_asprintf("%s", why);
			return -1;
		}
		if (def->type == PARAM_LIST)
			return 0;
		for (size_t i = 0; i < v->nitems; i++) {
			if (!table_ref_valid(v->items[i])) {
				*msg_r = must_asprintf("\"%s\" is not a table reference; use type:name, "
						       "e.g. lmdb:/etc/postern/aliases",
						       shown(v->items[i], buf, 64));
				config_items_free(v->items);
				v->items = NULL;
				v->nitems = 0;
				return -1;
			}
		}
		return 0;
	case PARAM_ENUM:
		return check_choice(def, text, msg_r);
	case PARAM_PATH:
		if (text[0] == '\0' || text[0] == '/')
			return 0;
		*msg_r = must_asprintf("\"%s\" is not an absolute path; start it with / or leave it empty",
				       shown(text, buf, 64));
		return -1;
	}
	*msg_r = must_asprintf("\"%s\" is %s", shown(text, buf, 64), why ? why : "not valid");
	return -1;
}
