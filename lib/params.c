/*
 * params.c - the registry: all parameter tables in one index, lookups,
 * nearest-name suggestions, and the listener protocol table.
 */
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "params-private.h"
#include "util.h"

static const struct param_def *const param_tables[] = {
	params_core,
	params_tls,
	params_auth,
	params_smtpd,
	params_smtpd_restrictions,
	params_store,
	params_mbox,
	params_imap,
	params_pop3,
	params_queue,
};

static const struct param_def **param_index;
static size_t param_total;

static void param_build_index(void)
{
	size_t n = 0, k = 0;

	if (param_index)
		return;
	for (size_t t = 0; t < sizeof(param_tables) / sizeof(param_tables[0]); t++)
		for (const struct param_def *d = param_tables[t]; d->name; d++)
			n++;
	param_index = must_calloc(n, sizeof(*param_index));
	for (size_t t = 0; t < sizeof(param_tables) / sizeof(param_tables[0]); t++)
		for (const struct param_def *d = param_tables[t]; d->name; d++)
			param_index[k++] = d;
	param_total = n;
}

size_t param_count(void)
{
	param_build_index();
	return param_total;
}

const struct param_def *param_at(size_t i)
{
	param_build_index();
	return i < param_total ? param_index[i] : NULL;
}

const struct param_def *param_lookup(const char *name)
{
	param_build_index();
	for (size_t i = 0; i < param_total; i++)
		if (strcmp(param_index[i]->name, name) == 0)
			return param_index[i];
	return NULL;
}

const char *param_nearest(const char *name)
{
	const char *best = NULL;
	size_t best_d, cap;

	param_build_index();
	/* Allow about one edit in three characters, at least 2. */
	cap = strlen(name) / 3 + 1;
	if (cap < 3)
		cap = 3;
	best_d = cap;
	for (size_t i = 0; i < param_total; i++) {
		size_t d = str_levenshtein(name, param_index[i]->name, best_d);
		if (d < best_d) {
			best_d = d;
			best = param_index[i]->name;
		}
	}
	return best;
}

/* Getter for computed defaults when no configuration is at hand: every
 * parameter at its default (computed defaults only use plain ones). */
static const char *default_getter(void *ctx, const char *name)
{
	const struct param_def *def = param_lookup(name);

	(void)ctx;
	if (def == NULL || def->default_fn)
		return def && def->default_fn ? def->default_fn(default_getter, NULL) : "";
	return def->default_value ? def->default_value : "";
}

const char *param_default_text(const struct param_def *def, param_getter_fn *get, void *ctx)
{
	if (def->default_fn)
		return get ? def->default_fn(get, ctx) : def->default_fn(default_getter, NULL);
	return def->default_value ? def->default_value : "";
}

const char *param_type_name(enum param_type type)
{
	switch (type) {
	case PARAM_STRING: return "string";
	case PARAM_BOOL: return "boolean";
	case PARAM_INT: return "integer";
	case PARAM_TIME: return "time";
	case PARAM_SIZE: return "size";
	case PARAM_LIST: return "list";
	case PARAM_MAPS: return "table list";
	case PARAM_ENUM: return "choice";
	case PARAM_PATH: return "path";
	}
	log_panic("param_type_name: bad type %d", (int)type);
}

static const struct protocol_def protocols[] = {
	{ "smtp", "smtp", "SMTP: mx (25), submission (587) and smtps (465) listeners" },
	{ "imap", "imap", "IMAP4rev1: 143 with STARTTLS, 993 with implicit TLS" },
	{ "pop3", "pop3", "POP3: 110 with STLS, 995 with implicit TLS" },
	{ "web", "web", "HTTPS web admin and client autoconfiguration" },
};

const struct protocol_def *protocol_lookup(const char *name)
{
	for (size_t i = 0; i < sizeof(protocols) / sizeof(protocols[0]); i++)
		if (strcmp(protocols[i].name, name) == 0)
			return &protocols[i];
	return NULL;
}

size_t protocol_count(void)
{
	return sizeof(protocols) / sizeof(protocols[0]);
}

const struct protocol_def *protocol_at(size_t i)
{
	return i < protocol_count() ? &protocols[i] : NULL;
}
