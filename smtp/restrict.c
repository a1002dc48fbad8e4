/*
 * restrict.c - restrictions_new / restrictions_free: read every
 * restriction parameter of a listener view once, at start (postconf(5)
 * smtpd_*_restrictions, smtpd_restriction_classes), so that a typo is an
 * error when the role starts and not a 451 at run time.
 *
 * Called by the SMTP role per listener and by `postern check`.
 */
#include <stdlib.h>
#include <string.h>

#include "auth/auth-client.h"
#include "config.h"
#include "log.h"
#include "restrict-private.h"
#include "util.h"

static const char *const list_params[7] = {
	"smtpd_client_restrictions", "smtpd_helo_restrictions", "smtpd_sender_restrictions",
	"smtpd_relay_restrictions", "smtpd_recipient_restrictions", "smtpd_data_restrictions",
	"smtpd_end_of_data_restrictions",
};

/* "FILE:LINE: " of a parameter, or "" when it has its default. */
static char *where(const struct config *view, const char *param)
{
	const char *file = NULL;
	int line = config_where(view, param, &file);

	if (line > 0 && file)
		return must_asprintf("%s:%d: ", file, line);
	return must_strdup("");
}

static void fail_at(const struct config *view, const char *param, char *msg, char **error_r)
{
	char *w = where(view, param);

	*error_r = must_asprintf("%s%s", w, msg);
	free(w);
	free(msg);
}

/* Does list (or a class it names) hold a rule that stops relaying? */
static bool guards_relay(const struct rule_list *l, int depth)
{
	if (depth > RESTRICT_MAX_DEPTH)
		return false;
	for (size_t i = 0; i < l->n; i++) {
		if (l->rules[i].def && l->rules[i].def->relay_guard && !l->rules[i].warn_if_reject)
			return true;
		if (l->rules[i].cls && guards_relay(l->rules[i].cls, depth + 1))
			return true;
	}
	return false;
}

/* alias_table_hint - an lmdb: table of alias_maps that cannot be opened
 * is built from an aliases(5) file by newaliases, not by `postern map`
 * (whose hint the error carries): say so. "" for other tables. */
static const char *alias_table_hint(const struct config *view, const char *err)
{
	const char *am = config_str(view, "alias_maps");
	size_t n;

	if (!str_has_prefix(err, "lmdb:") || am == NULL)
		return "";
	n = 5 + strcspn(err + 5, ":");
	return memmem(am, strlen(am), err, n) ? "; alias files are compiled with \"postern aliases\" (newaliases)" : "";
}

static int open_maps(const struct config *view, const char *param, struct map_list **ml,
		     char **error_r)
{
	const char *err;

	*ml = map_list_open(config_str(view, param), 0, &err);
	if (*ml == NULL) {
		fail_at(view, param, must_asprintf("%s: %s%s", param, err, alias_table_hint(view, err)),
			error_r);
		return -1;
	}
	return 0;
}

static int init_classes(struct restrictions *r, const struct config *view, char **error_r)
{
	size_t n = 0;
	char **names = restrict_tokens(config_str(view, "smtpd_restriction_classes"),
				       RESTRICT_MAX_CLASSES, &n);

	if (names == NULL) {
		fail_at(view, "smtpd_restriction_classes",
			must_asprintf("smtpd_restriction_classes: more than %d classes; "
				      "use fewer", RESTRICT_MAX_CLASSES), error_r);
		return -1;
	}
	r->classes = must_calloc(n ? n : 1, sizeof(*r->classes));
	/* Names first, so that classes may refer to each other. */
	for (size_t i = 0; i < n; i++) {
		if (restrict_rule_find(names[i]) || param_lookup(names[i])) {
			fail_at(view, "smtpd_restriction_classes",
				must_asprintf("smtpd_restriction_classes: \"%s\" is already a rule "
					      "or parameter name; choose another name", names[i]),
				error_r);
			restrict_tokens_free(names);
			return -1;
		}
		r->classes[i].name = must_strdup(names[i]);
		r->nclasses++;
	}
	for (size_t i = 0; i < n; i++) {
		const char *file = NULL, *raw;
		int line = 0;
		char *value, *err = NULL;
		const char *xerr;
		struct rule_list tmp;

		raw = config_unregistered(view, names[i], &file, &line);
		if (raw == NULL) {
			*error_r = must_asprintf("smtpd_restriction_classes: class \"%s\" has no "
						 "definition; add a line \"%s = restrictions...\"",
						 names[i], names[i]);
			restrict_tokens_free(names);
			return -1;
		}
		value = config_expand(view, raw, &xerr);
		if (value == NULL) {
			*error_r = must_asprintf("%s:%d: %s: %s", file, line, names[i], xerr);
			restrict_tokens_free(names);
			return -1;
		}
		if (restrict_parse_list(r, names[i], value, &tmp, &err) < 0) {
			*error_r = must_asprintf("%s:%d: %s", file, line, err);
			free(err);
			free(value);
			restrict_tokens_free(names);
			return -1;
		}
		free(value);
		/* Keep the address other lists already point to. */
		free(r->classes[i].name);
		r->classes[i] = tmp;
	}
	restrict_tokens_free(names);
	return 0;
}

static int init_local_maps(struct restrictions *r, const struct config *view, char **error_r)
{
	size_t n = 0;
	char **tok = restrict_tokens(config_str(view, "local_recipient_maps"), 100, &n);
	struct strbuf rest;
	const char *err;

	if (tok == NULL) {
		fail_at(view, "local_recipient_maps",
			must_asprintf("local_recipient_maps: too many tables"), error_r);
		return -1;
	}
	r->local_check = n > 0;
	strbuf_init(&rest, 0);
	for (size_t i = 0; i < n; i++) {
		if (strcmp(tok[i], "auth:userdb") == 0) {
			r->local_userdb = true;
			continue;
		}
		strbuf_puts(&rest, tok[i]);
		strbuf_putc(&rest, ' ');
	}
	restrict_tokens_free(tok);
	r->local_maps = map_list_open(rest.data ? rest.data : "", 0, &err);
	strbuf_free(&rest);
	if (r->local_maps == NULL) {
		fail_at(view, "local_recipient_maps",
			must_asprintf("local_recipient_maps: %s%s", err, alias_table_hint(view, err)),
			error_r);
		return -1;
	}
	return 0;
}

static int init_domains(struct restrictions *r, const struct config *view, char **error_r)
{
	const char *param = NULL;
	char *err = NULL;

	if (restrict_domain_classes_init(&r->mydestination, &r->relay_domains, &r->virtual_alias_domains,
					 &r->virtual_mailbox_domains, view, &param, &err) < 0) {
		fail_at(view, param, err, error_r);
		return -1;
	}
	return 0;
}

static void read_codes(struct restrictions *r, const struct config *view)
{
	r->reject_code = (int)config_int(view, "reject_code");
	r->defer_code = (int)config_int(view, "defer_code");
	r->relay_code = (int)config_int(view, "relay_domains_reject_code");
	r->access_reject_code = (int)config_int(view, "access_map_reject_code");
	r->access_defer_code = (int)config_int(view, "access_map_defer_code");
	r->invalid_hostname_code = (int)config_int(view, "invalid_hostname_reject_code");
	r->non_fqdn_code = (int)config_int(view, "non_fqdn_reject_code");
	r->unknown_address_code = (int)config_int(view, "unknown_address_reject_code");
	r->unknown_client_code = (int)config_int(view, "unknown_client_reject_code");
	r->unknown_hostname_code = (int)config_int(view, "unknown_hostname_reject_code");
	r->rbl_code = (int)config_int(view, "maps_rbl_reject_code");
	r->unknown_local_code = (int)config_int(view, "unknown_local_recipient_reject_code");
	r->unknown_alias_code = (int)config_int(view, "unknown_virtual_alias_reject_code");
	r->unknown_mailbox_code = (int)config_int(view, "unknown_virtual_mailbox_reject_code");
	r->multi_bounce_code = (int)config_int(view, "multi_recipient_bounce_reject_code");
	r->plaintext_code = (int)config_int(view, "plaintext_reject_code");
	r->unknown_relay_code = (int)config_int(view, "unknown_relay_recipient_reject_code");
}

/* An optional table list: NULL when the parameter is empty. */
static int open_optional_maps(const struct config *view, const char *param,
			      struct map_list **ml, char **error_r)
{
	const char *v = config_str(view, param);

	*ml = NULL;
	if (v[0] == '\0' || strspn(v, " \t,") == strlen(v))
		return 0;
	return open_maps(view, param, ml, error_r);
}

struct restrictions *restrictions_new(const struct config *view, struct event_base *base,
				      char **error_r)
{
	struct restrictions *r = must_calloc(1, sizeof(*r));
	char *err = NULL;

	r->base = base;
	r->myorigin = must_strdup(config_str(view, "myorigin"));
	r->run_directory = must_strdup(config_str(view, "run_directory"));
	str_lower(r->myorigin);
	r->delay_reject = config_bool(view, "smtpd_delay_reject");
	r->reject_unlisted_recipient = config_bool(view, "smtpd_reject_unlisted_recipient");
	r->reject_unlisted_sender = config_bool(view, "smtpd_reject_unlisted_sender");
	r->percent_hack = config_bool(view, "allow_percent_hack");
	r->bangpath = config_bool(view, "swap_bangpath");
	r->untrusted_routing = config_bool(view, "allow_untrusted_routing");
	r->dequote = config_bool(view, "resolve_dequoted_address");
	r->luser_relay = config_str(view, "luser_relay")[0] != '\0';
	str_copy(r->recipient_delimiter, config_str(view, "recipient_delimiter"),
		 sizeof(r->recipient_delimiter));
	r->default_rbl_reply = must_strdup(config_str(view, "default_rbl_reply"));
	r->policy_timeout = (int)config_time(view, "smtpd_policy_service_timeout");
	r->policy_try_limit = (int)config_int(view, "smtpd_policy_service_try_limit");
	r->policy_retry_delay = (int)config_time(view, "smtpd_policy_service_retry_delay");
	r->policy_default_action = must_strdup(config_str(view, "smtpd_policy_service_default_action"));
	r->policy_context = must_strdup(config_str(view, "smtpd_policy_service_policy_context"));
	read_codes(r, view);
	if (init_domains(r, view, error_r) < 0 ||
	    restrict_mynetworks_init(r, view, error_r) < 0 ||
	    open_maps(view, "virtual_alias_maps", &r->virtual_alias_maps, error_r) < 0 ||
	    open_maps(view, "alias_maps", &r->alias_maps, error_r) < 0 ||
	    open_maps(view, "smtpd_sender_login_maps", &r->sender_login_maps, error_r) < 0 ||
	    open_optional_maps(view, "relay_recipient_maps", &r->relay_recipient_maps, error_r) < 0 ||
	    open_optional_maps(view, "rbl_reply_maps", &r->rbl_reply_maps, error_r) < 0 ||
	    init_local_maps(r, view, error_r) < 0 || init_classes(r, view, error_r) < 0)
		goto fail;
	for (size_t i = 0; i < 7; i++)
		if (restrict_parse_list(r, list_params[i], config_str(view, list_params[i]),
					&r->lists[i], &err) < 0) {
			fail_at(view, list_params[i], err, error_r);
			goto fail;
		}
	/* postconf(5) smtpd_relay_restrictions: without one of these, any
	 * client could relay anywhere. Postfix refuses to start; so do we. */
	if (!guards_relay(&r->lists[3], 0) && !guards_relay(&r->lists[4], 0)) {
		fail_at(view, "smtpd_relay_restrictions",
			must_asprintf("smtpd_relay_restrictions, smtpd_recipient_restrictions: no "
				      "reject_unauth_destination, defer_unauth_destination, reject, "
				      "defer or defer_if_permit, so this server would be an open "
				      "relay; add reject_unauth_destination"), error_r);
		goto fail;
	}
	r->userdb_path = must_strdup(config_str(view, "auth_userdb_socket_path"));
	r->userdb_lookup = restrict_userdb_default_lookup;
	r->userdb_cancel = restrict_userdb_default_cancel;
	r->userdb_ctx = r;
	if (base) {
		struct dns_options o = {
			.servers = config_str(view, "dns_nameservers"),
			.timeout_ms = (int)config_time(view, "dns_timeout") * 1000,
			.tries = (int)config_int(view, "dns_tries"),
			.max_queries = (int)config_int(view, "dns_max_queries"),
		};

		r->dns = dns_new(base, &o, &err);
		if (r->dns == NULL) {
			fail_at(view, "dns_nameservers", err, error_r);
			goto fail;
		}
	}
	return r;
fail:
	restrictions_free(&r);
	return NULL;
}

struct dns *restrictions_dns(struct restrictions *r)
{
	return r->dns;
}

void restrictions_set_userdb(struct restrictions *r, restrict_userdb_lookup_fn *lookup,
			     restrict_userdb_cancel_fn *cancel, void *ctx)
{
	r->userdb_lookup = lookup;
	r->userdb_cancel = cancel;
	r->userdb_ctx = ctx;
}

/* restrictions_set_dns - tests: use d (e.g. dns_new_fake) instead of the
 * resolver restrictions_new made; r owns it afterwards. */
void restrictions_set_dns(struct restrictions *r, struct dns *d)
{
	dns_free(&r->dns);
	restrict_dns_cache_free(r);
	r->dns = d;
}

void restrictions_free(struct restrictions **rp)
{
	struct restrictions *r = *rp;

	if (r == NULL)
		return;
	*rp = NULL;
	for (size_t i = 0; i < 7; i++)
		restrict_list_free(&r->lists[i]);
	for (size_t i = 0; i < r->nclasses; i++)
		restrict_list_free(&r->classes[i]);
	free(r->classes);
	restrict_domain_list_free(&r->mydestination);
	restrict_domain_list_free(&r->relay_domains);
	restrict_domain_list_free(&r->virtual_alias_domains);
	restrict_domain_list_free(&r->virtual_mailbox_domains);
	map_list_close(&r->virtual_alias_maps);
	map_list_close(&r->alias_maps);
	map_list_close(&r->sender_login_maps);
	map_list_close(&r->local_maps);
	map_list_close(&r->mynetworks_maps);
	map_list_close(&r->relay_recipient_maps);
	map_list_close(&r->rbl_reply_maps);
	free(r->default_rbl_reply);
	free(r->policy_default_action);
	free(r->policy_context);
	free(r->mynetworks);
	restrict_userdb_default_free(r);
	free(r->userdb_path);
	dns_free(&r->dns);
	restrict_dns_cache_free(r);
	free(r->myorigin);
	free(r->run_directory);
	free(r);
}
