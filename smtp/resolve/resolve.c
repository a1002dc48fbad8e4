/*
 * resolve.c - the settings and tables of address rewriting, expansion and
 * routing (resolve_new / resolve_free / resolve_check_config), and the
 * look-up helpers the other files of smtp/resolve/ share.
 *
 * Called by the queue role at start and reload, and by `postern check`.
 * Parameters are Postfix's (postconf(5)); every table is opened here, so
 * a missing or malformed table is a start-up error, not a delivery error.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "smtp/resolve/resolve-private.h"

/* fail - *error_r = "FILE:LINE: NAME: problem" (config_where) */
static int fail(const struct config *cfg, const char *param, char **error_r, const char *problem)
{
	const char *file = NULL;
	int line = config_where(cfg, param, &file);

	if (line > 0)
		*error_r = must_asprintf("%s:%d: %s: %s", file, line, param, problem);
	else
		*error_r = must_asprintf("%s: %s", param, problem);
	return -1;
}

static int open_maps(const struct config *cfg, const char *param, struct map_list **ml_r,
		     char **error_r)
{
	const char *err;

	*ml_r = map_list_open(config_str(cfg, param), 0, &err);
	if (*ml_r == NULL) {
		/* An alias file is not a postmap source: point at newaliases. */
		char *p = must_asprintf("%s; %s", err,
					strcmp(param, "alias_maps") == 0
						? "alias files are compiled with \"postern aliases\" (newaliases)"
						: "fix the table or the parameter");

		fail(cfg, param, error_r, p);
		free(p);
		return -1;
	}
	return 0;
}

static char **list_copy(const struct config *cfg, const char *param)
{
	size_t n = 0;
	const char *const *l = config_list(cfg, param, &n);
	char **out = must_calloc(n + 1, sizeof(*out));

	for (size_t i = 0; i < n; i++)
		out[i] = str_lower(must_strdup(l[i]));
	return out;
}

static void list_free(char **l)
{
	for (size_t i = 0; l && l[i]; i++)
		free(l[i]);
	free(l);
}

/* Map the words of a list parameter to bits; unknown words are errors. */
static int list_bits(const struct config *cfg, const char *param, const char *const *words,
		     const unsigned *bits, unsigned *out, char **error_r)
{
	const char *const *l = config_list(cfg, param, NULL);

	*out = 0;
	for (size_t i = 0; l && l[i]; i++) {
		size_t k;

		for (k = 0; words[k]; k++)
			if (strcasecmp(l[i], words[k]) == 0)
				break;
		if (words[k] == NULL) {
			struct strbuf sb;
			char *p;

			strbuf_init(&sb, 0);
			for (k = 0; words[k]; k++)
				strbuf_printf(&sb, "%s%s", k ? ", " : "", words[k]);
			p = must_asprintf("unknown item \"%s\"; use %s", l[i], sb.data);
			strbuf_free(&sb);
			fail(cfg, param, error_r, p);
			free(p);
			return -1;
		}
		*out |= bits[k];
	}
	return 0;
}

static int domain_lists(struct resolve *r, const struct config *cfg, char **error_r)
{
	const char *param = NULL;
	char *err = NULL;
	int ret;

	if (restrict_domain_classes_init(&r->mydestination, &r->relay_domains, &r->virtual_alias_domains,
					 &r->virtual_mailbox_domains, cfg, &param, &err) == 0)
		return 0;
	ret = fail(cfg, param, error_r, err);
	free(err);
	return ret;
}

struct resolve *resolve_new(const struct config *cfg, char **error_r)
{
	static const char *const classes[] = { "envelope_sender", "envelope_recipient", "header_sender",
						"header_recipient", NULL };
	static const unsigned class_bits[] = { RW_ENV_SENDER, RW_ENV_RECIPIENT, RW_HDR_SENDER,
					       RW_HDR_RECIPIENT };
	static const char *const props[] = { "canonical", "virtual", "alias", "forward", "include",
					      "generic", NULL };
	static const unsigned prop_bits[] = { PROP_CANONICAL, PROP_VIRTUAL, PROP_ALIAS, PROP_FORWARD,
					      PROP_INCLUDE, 0 };
	static const char *const allows[] = { "alias", "include", "forward", NULL };
	static const unsigned allow_bits[] = { ALLOW_ALIAS, ALLOW_INCLUDE, ALLOW_FORWARD };
	struct resolve *r = must_calloc(1, sizeof(*r));

	pthread_mutex_init(&r->lock, NULL);
	r->myorigin = str_lower(must_strdup(config_str(cfg, "myorigin")));
	r->mydomain = str_lower(must_strdup(config_str(cfg, "mydomain")));
	r->myhostname = str_lower(must_strdup(config_str(cfg, "myhostname")));
	r->delim = must_strdup(config_str(cfg, "recipient_delimiter"));
	r->append_at_myorigin = config_bool(cfg, "append_at_myorigin");
	r->append_dot_mydomain = config_bool(cfg, "append_dot_mydomain");
	r->luser_relay = must_strdup(config_str(cfg, "luser_relay"));
	r->relayhost = must_strdup(config_str(cfg, "relayhost"));
	r->forward_path = must_strdup(config_str(cfg, "forward_path"));
	r->mail_owner = must_strdup(config_str(cfg, "mail_owner"));
	r->valias_expansion_limit = config_int(cfg, "virtual_alias_expansion_limit");
	r->valias_recursion_limit = config_int(cfg, "virtual_alias_recursion_limit");
	r->hopcount_limit = config_int(cfg, "hopcount_limit");
	r->masq_domains = list_copy(cfg, "masquerade_domains");
	r->masq_exceptions = list_copy(cfg, "masquerade_exceptions");
	if (list_bits(cfg, "canonical_classes", classes, class_bits, &r->canonical_classes, error_r) < 0 ||
	    list_bits(cfg, "masquerade_classes", classes, class_bits, &r->masquerade_classes, error_r) < 0 ||
	    list_bits(cfg, "propagate_unmatched_extensions", props, prop_bits, &r->propagate, error_r) < 0 ||
	    list_bits(cfg, "allow_mail_to_commands", allows, allow_bits, &r->allow_commands, error_r) < 0 ||
	    list_bits(cfg, "allow_mail_to_files", allows, allow_bits, &r->allow_files, error_r) < 0)
		goto failed;
	if (open_maps(cfg, "canonical_maps", &r->canonical, error_r) < 0 ||
	    open_maps(cfg, "sender_canonical_maps", &r->sender_canonical, error_r) < 0 ||
	    open_maps(cfg, "recipient_canonical_maps", &r->recipient_canonical, error_r) < 0 ||
	    open_maps(cfg, "virtual_alias_maps", &r->virtual_alias, error_r) < 0 ||
	    open_maps(cfg, "alias_maps", &r->alias, error_r) < 0 ||
	    open_maps(cfg, "relocated_maps", &r->relocated, error_r) < 0 ||
	    open_maps(cfg, "transport_maps", &r->transport, error_r) < 0)
		goto failed;
	if (domain_lists(r, cfg, error_r) < 0)
		goto failed;
	return r;
failed:
	resolve_free(&r);
	return NULL;
}

void resolve_free(struct resolve **rp)
{
	struct resolve *r = *rp;

	if (r == NULL)
		return;
	free(r->myorigin);
	free(r->mydomain);
	free(r->myhostname);
	free(r->delim);
	free(r->luser_relay);
	free(r->relayhost);
	free(r->forward_path);
	free(r->mail_owner);
	list_free(r->masq_domains);
	list_free(r->masq_exceptions);
	map_list_close(&r->canonical);
	map_list_close(&r->sender_canonical);
	map_list_close(&r->recipient_canonical);
	map_list_close(&r->virtual_alias);
	map_list_close(&r->alias);
	map_list_close(&r->relocated);
	map_list_close(&r->transport);
	restrict_domain_list_free(&r->mydestination);
	restrict_domain_list_free(&r->virtual_alias_domains);
	restrict_domain_list_free(&r->virtual_mailbox_domains);
	restrict_domain_list_free(&r->relay_domains);
	pthread_mutex_destroy(&r->lock);
	free(r);
	*rp = NULL;
}

enum map_status resolve_lookup(struct resolve *r, struct map_list *ml, const char *key, bool address,
			       unsigned flags, char **value_r, char **error_r)
{
	const char *v = NULL, *err = NULL;
	enum map_status st;

	*value_r = NULL;
	if (ml == NULL || map_list_count(ml) == 0)
		return MAP_NOTFOUND;
	pthread_mutex_lock(&r->lock);
	if (address)
		st = map_list_lookup_address(ml, key, flags, &v, &err);
	else
		st = map_list_lookup(ml, key, &v, &err);
	if (st == MAP_FOUND)
		*value_r = must_strdup(v);
	else if (st == MAP_TEMPFAIL)
		*error_r = must_asprintf("table look-up of \"%s\" failed: %s", key,
					 err ? err : "unknown error");
	pthread_mutex_unlock(&r->lock);
	return st;
}

int resolve_class(struct resolve *r, const char *domain, enum resolve_class *cls_r)
{
	struct { const struct domain_list *dl; enum resolve_class cls; } order[] = {
		{ &r->mydestination, RCLASS_LOCAL },
		{ &r->virtual_alias_domains, RCLASS_VIRTUAL_ALIAS },
		{ &r->virtual_mailbox_domains, RCLASS_VIRTUAL_MAILBOX },
		{ &r->relay_domains, RCLASS_RELAY },
	};

	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		int m;

		pthread_mutex_lock(&r->lock);
		m = restrict_domain_match(order[i].dl, domain);
		pthread_mutex_unlock(&r->lock);
		if (m < 0)
			return -1;
		if (m > 0) {
			*cls_r = order[i].cls;
			return 0;
		}
	}
	*cls_r = RCLASS_DEFAULT;
	return 0;
}

int resolve_is_local_domain(struct resolve *r, const char *domain)
{
	int m;

	if (strcasecmp(domain, r->myorigin) == 0)
		return 1;
	pthread_mutex_lock(&r->lock);
	m = restrict_domain_match(&r->mydestination, domain);
	pthread_mutex_unlock(&r->lock);
	return m;
}

struct check_ctx {
	const struct config *cfg;
	char **error_r;
};

static int check_source(void *ctx, const char *spec, const char *source)
{
	struct check_ctx *c = ctx;
	struct alias_entry *e = NULL;
	size_t n = 0, len;
	const char *err;
	char *text;
	int rc;

	(void)spec;
	if (source == NULL)
		return 0;
	text = file_read_all(source, MAPS_FILE_MAX, &len, &err);
	if (text == NULL) {
		char *p = must_asprintf("%s: %s; create it or fix alias_database", source, err);

		rc = fail(c->cfg, "alias_database", c->error_r, p);
		free(p);
		return rc;
	}
	rc = alias_file_parse(source, text, len, &e, &n, c->error_r);
	alias_entries_free(e, n);
	free(text);
	return rc;
}

/* Parse every alias source file of alias_database (lmdb: tables have
 * aliases(5) sources), so a syntax error shows at check time. */
static int check_alias_sources(const struct config *cfg, char **error_r)
{
	struct check_ctx c = { .cfg = cfg, .error_r = error_r };

	return alias_database_foreach(cfg, check_source, &c) == 0 ? 0 : -1;
}

int resolve_check_config(const struct config *cfg, char **error_r)
{
	struct resolve *r = resolve_new(cfg, error_r);

	if (r == NULL)
		return -1;
	resolve_free(&r);
	return check_alias_sources(cfg, error_r);
}
