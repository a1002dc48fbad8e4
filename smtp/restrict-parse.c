/*
 * restrict-parse.c - the syntax of restriction lists (postconf(5)
 * "smtpd_*_restrictions"): rule names separated by commas or blanks, some
 * followed by one argument (a type:table or an RBL domain), restriction
 * class names (smtpd_restriction_classes), and the warn_if_reject
 * modifier. Called by restrict.c at start and by restrict-access.c when
 * an access table's result is a restriction list.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "restrict-private.h"
#include "util.h"

static const struct rule_def rule_defs[] = {
	{ "permit", ARG_NONE, rule_permit, false },
	{ "reject", ARG_NONE, rule_reject, true },
	{ "defer", ARG_NONE, rule_defer, true },
	{ "defer_if_permit", ARG_NONE, rule_defer_if_permit, true },
	{ "defer_if_reject", ARG_NONE, rule_defer_if_reject, false },
	{ "permit_mynetworks", ARG_NONE, rule_permit_mynetworks, false },
	{ "permit_sasl_authenticated", ARG_NONE, rule_permit_sasl, false },
	{ "permit_auth_destination", ARG_NONE, rule_permit_auth_destination, false },
	{ "reject_unauth_destination", ARG_NONE, rule_reject_unauth_destination, true },
	{ "defer_unauth_destination", ARG_NONE, rule_defer_unauth_destination, true },
	{ "reject_unauth_pipelining", ARG_NONE, rule_reject_unauth_pipelining, false },
	{ "reject_invalid_helo_hostname", ARG_NONE, rule_invalid_helo, false },
	{ "reject_invalid_hostname", ARG_NONE, rule_invalid_helo, false },
	{ "reject_non_fqdn_helo_hostname", ARG_NONE, rule_non_fqdn_helo, false },
	{ "reject_non_fqdn_hostname", ARG_NONE, rule_non_fqdn_helo, false },
	{ "reject_unknown_helo_hostname", ARG_NONE, rule_unknown_helo, false },
	{ "reject_unknown_hostname", ARG_NONE, rule_unknown_helo, false },
	{ "reject_non_fqdn_sender", ARG_NONE, rule_non_fqdn_sender, false },
	{ "reject_non_fqdn_recipient", ARG_NONE, rule_non_fqdn_recipient, false },
	{ "reject_unknown_sender_domain", ARG_NONE, rule_unknown_sender_domain, false },
	{ "reject_unknown_recipient_domain", ARG_NONE, rule_unknown_recipient_domain, false },
	{ "reject_unknown_client_hostname", ARG_NONE, rule_unknown_client, false },
	{ "reject_unknown_client", ARG_NONE, rule_unknown_client, false },
	{ "reject_unknown_reverse_client_hostname", ARG_NONE, rule_unknown_reverse_client, false },
	{ "reject_rbl_client", ARG_DOMAIN, rule_rbl_client, false },
	{ "permit_dnswl_client", ARG_DOMAIN, rule_dnswl_client, false },
	{ "permit_rhswl_client", ARG_DOMAIN, rule_rhswl_client, false },
	{ "reject_plaintext_session", ARG_NONE, rule_plaintext_session, false },
	{ "reject_rhsbl_client", ARG_DOMAIN, rule_rhsbl_client, false },
	{ "reject_rhsbl_reverse_client", ARG_DOMAIN, rule_rhsbl_client, false },
	{ "reject_rhsbl_sender", ARG_DOMAIN, rule_rhsbl_sender, false },
	{ "reject_rhsbl_helo", ARG_DOMAIN, rule_rhsbl_helo, false },
	{ "reject_rhsbl_recipient", ARG_DOMAIN, rule_rhsbl_recipient, false },
	{ "reject_unlisted_recipient", ARG_NONE, rule_unlisted_recipient, false },
	{ "check_recipient_maps", ARG_NONE, rule_unlisted_recipient, false },
	{ "reject_unlisted_sender", ARG_NONE, rule_unlisted_sender, false },
	{ "reject_multi_recipient_bounce", ARG_NONE, rule_multi_recipient_bounce, false },
	{ "reject_sender_login_mismatch", ARG_NONE, rule_sender_login_mismatch, false },
	{ "reject_authenticated_sender_login_mismatch", ARG_NONE, rule_auth_sender_login_mismatch, false },
	{ "reject_unauthenticated_sender_login_mismatch", ARG_NONE, rule_unauth_sender_login_mismatch, false },
	{ "reject_known_sender_login_mismatch", ARG_NONE, rule_known_sender_login_mismatch, false },
	{ "check_client_access", ARG_TABLE, rule_client_access, false },
	{ "check_reverse_client_hostname_access", ARG_TABLE, rule_reverse_client_access, false },
	{ "check_helo_access", ARG_TABLE, rule_helo_access, false },
	{ "check_sender_access", ARG_TABLE, rule_sender_access, false },
	{ "check_recipient_access", ARG_TABLE, rule_recipient_access, false },
	{ "check_sasl_access", ARG_TABLE, rule_sasl_access, false },
	{ "check_policy_service", ARG_SERVICE, rule_policy_service, false },
	{ "check_client_a_access", ARG_TABLE, rule_server_access, false },
	{ "check_client_mx_access", ARG_TABLE, rule_server_access, false },
	{ "check_client_ns_access", ARG_TABLE, rule_server_access, false },
	{ "check_reverse_client_hostname_a_access", ARG_TABLE, rule_server_access, false },
	{ "check_reverse_client_hostname_mx_access", ARG_TABLE, rule_server_access, false },
	{ "check_reverse_client_hostname_ns_access", ARG_TABLE, rule_server_access, false },
	{ "check_helo_a_access", ARG_TABLE, rule_server_access, false },
	{ "check_helo_mx_access", ARG_TABLE, rule_server_access, false },
	{ "check_helo_ns_access", ARG_TABLE, rule_server_access, false },
	{ "check_sender_a_access", ARG_TABLE, rule_server_access, false },
	{ "check_sender_mx_access", ARG_TABLE, rule_server_access, false },
	{ "check_sender_ns_access", ARG_TABLE, rule_server_access, false },
	{ "check_recipient_a_access", ARG_TABLE, rule_server_access, false },
	{ "check_recipient_mx_access", ARG_TABLE, rule_server_access, false },
	{ "check_recipient_ns_access", ARG_TABLE, rule_server_access, false },
};

/* Rules of Postfix that Postern refuses with a reason, not "unknown". */
static const struct { const char *name, *why; } rules_missing[] = {
	{ "reject_unverified_sender", "needs the queue's address verification (issue #7), "
	  "which is not built yet; use reject_unknown_sender_domain or "
	  "reject_unlisted_sender meanwhile" },
	{ "reject_unverified_recipient", "needs the queue's address verification (issue #7), "
	  "which is not built yet; use reject_unknown_recipient_domain or "
	  "reject_unlisted_recipient meanwhile" },
};

const struct rule_def *restrict_rule_find(const char *name)
{
	for (size_t i = 0; i < sizeof(rule_defs) / sizeof(rule_defs[0]); i++)
		if (strcasecmp(rule_defs[i].name, name) == 0)
			return &rule_defs[i];
	return NULL;
}

const char *restrict_rule_nearest(const char *name)
{
	const char *best = NULL;
	size_t best_d = 6;

	if (strlen(name) > 64)
		return NULL;
	for (size_t i = 0; i < sizeof(rule_defs) / sizeof(rule_defs[0]); i++) {
		size_t d = str_levenshtein(name, rule_defs[i].name, best_d);

		if (d < best_d) {
			best_d = d;
			best = rule_defs[i].name;
		}
	}
	return best;
}

char **restrict_tokens(const char *text, size_t max, size_t *n_r)
{
	char **t = must_calloc(max + 1, sizeof(*t));
	size_t n = 0;
	const char *p = text ? text : "";

	for (;;) {
		const char *start;
		int depth = 0;

		while (*p == ',' || *p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
			p++;
		if (*p == '\0')
			break;
		if (n >= max) {
			restrict_tokens_free(t);
			return NULL;
		}
		start = p;
		/* inline:{ a=b, c=d } and static:{ text } stay one token. */
		while (*p && (depth > 0 || !(*p == ',' || *p == ' ' || *p == '\t' ||
					     *p == '\r' || *p == '\n'))) {
			if (*p == '{')
				depth++;
			else if (*p == '}' && depth > 0)
				depth--;
			p++;
		}
		t[n++] = must_strndup(start, (size_t)(p - start));
	}
	*n_r = n;
	return t;
}

void restrict_tokens_free(char **t)
{
	if (t == NULL)
		return;
	for (size_t i = 0; t[i]; i++)
		free(t[i]);
	free(t);
}

void restrict_list_free(struct rule_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->rules[i].arg);
		map_close(&l->rules[i].map);
	}
	free(l->rules);
	free(l->name);
	memset(l, 0, sizeof(*l));
}

static const struct rule_list *find_class(const struct restrictions *r, const char *name)
{
	for (size_t i = 0; i < r->nclasses; i++)
		if (strcmp(r->classes[i].name, name) == 0)
			return &r->classes[i];
	return NULL;
}

/* The rule a bare type:table stands for in a list (postconf(5): "a lookup
 * table ... as shorthand for check_xxx_access"), by parameter. */
static const char *implicit_access_rule(const char *param)
{
	static const struct { const char *param, *rule; } map[] = {
		{ "smtpd_client_restrictions", "check_client_access" },
		{ "smtpd_helo_restrictions", "check_helo_access" },
		{ "smtpd_sender_restrictions", "check_sender_access" },
		{ "smtpd_relay_restrictions", "check_recipient_access" },
		{ "smtpd_recipient_restrictions", "check_recipient_access" },
	};

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strcmp(map[i].param, param) == 0)
			return map[i].rule;
	return NULL;
}

int restrict_parse_list(struct restrictions *r, const char *param, const char *text,
			struct rule_list *out, char **error_r)
{
	const char *implicit = implicit_access_rule(param);
	size_t n = 0;
	char **tok = restrict_tokens(text, RESTRICT_MAX_RULES, &n);
	bool warn_next = false;

	memset(out, 0, sizeof(*out));
	out->name = must_strdup(param);
	if (tok == NULL) {
		*error_r = must_asprintf("%s: more than %d items; split the list into "
					 "smtpd_restriction_classes", param, RESTRICT_MAX_RULES);
		goto fail;
	}
	out->rules = must_calloc(n ? n : 1, sizeof(*out->rules));
	for (size_t i = 0; i < n; i++) {
		struct rule *rule = &out->rules[out->n];
		const char *name = tok[i];

		if (strcasecmp(name, "warn_if_reject") == 0) {
			warn_next = true;
			continue;
		}
		rule->def = restrict_rule_find(name);
		if (rule->def == NULL && implicit && strchr(name, ':') && name[0] != '[') {
			const char *err;

			rule->def = restrict_rule_find(implicit);
			rule->map = map_open(name, 0, &err);
			if (rule->map == NULL) {
				*error_r = must_asprintf("%s: %s: %s", param, name, err);
				goto fail;
			}
			rule->warn_if_reject = warn_next;
			warn_next = false;
			out->n++;
			continue;
		}
		if (rule->def == NULL) {
			rule->cls = find_class(r, name);
			if (rule->cls == NULL) {
				const char *near = restrict_rule_nearest(name);

				for (size_t m = 0; m < sizeof(rules_missing) / sizeof(rules_missing[0]); m++)
					if (strcasecmp(name, rules_missing[m].name) == 0) {
						*error_r = must_asprintf("%s: %s is not supported: it %s",
									 param, rules_missing[m].name,
									 rules_missing[m].why);
						goto fail;
					}
				if (strchr(name, ':'))
					*error_r = must_asprintf("%s: table \"%s\" without a rule; write "
								 "check_client_access, check_sender_access, ... "
								 "before it", param, name);

				else if (near)
					*error_r = must_asprintf("%s: unknown rule \"%s\"; did you mean %s?",
								 param, name, near);
				else
					*error_r = must_asprintf("%s: unknown rule \"%s\"; use a rule of "
								 "postconf(5) or a name listed in "
								 "smtpd_restriction_classes", param, name);
				goto fail;
			}
		}
		rule->warn_if_reject = warn_next;
		warn_next = false;
		if (rule->def && rule->def->arg != ARG_NONE) {
			const char *arg = i + 1 < n ? tok[i + 1] : NULL;

			if (rule->def->arg == ARG_TABLE) {
				const char *err;

				if (arg == NULL || strchr(arg, ':') == NULL) {
					*error_r = must_asprintf("%s: %s needs a table; write %s type:name, "
								 "e.g. %s texthash:/etc/postern/access",
								 param, name, name, name);
					goto fail;
				}
				rule->map = map_open(arg, 0, &err);
				if (rule->map == NULL) {
					*error_r = must_asprintf("%s: %s %s: %s", param, name, arg, err);
					goto fail;
				}
			} else if (rule->def->arg == ARG_SERVICE) {
				char *err = NULL;

				if (arg == NULL) {
					*error_r = must_asprintf("%s: %s needs a policy server; write %s "
								 "inet:127.0.0.1:10023 or %s unix:/path",
								 param, name, name, name);
					goto fail;
				}
				/* unix:relative resolves in run_directory, as Postfix's
				 * unix:private/name does in its queue directory. */
				if (strncmp(arg, "unix:", 5) == 0 && arg[5] != '/' && arg[5] != '\0')
					rule->arg = must_asprintf("unix:%s/%s", r->run_directory
								  ? r->run_directory : ".", arg + 5);
				else
					rule->arg = must_strdup(arg);
				if (restrict_policy_spec_check(rule->arg, &err) < 0) {
					*error_r = must_asprintf("%s: %s: %s", param, name, err);
					free(err);
					free(rule->arg);
					rule->arg = NULL;
					goto fail;
				}
			} else {
				if (arg == NULL || restrict_rule_find(arg) != NULL ||
				    strchr(arg, '.') == NULL || strlen(arg) > 255) {
					*error_r = must_asprintf("%s: %s needs a DNS list domain; write "
								 "%s zen.spamhaus.org", param, name, name);
					goto fail;
				}
				rule->arg = must_strdup(arg);
			}
			i++;
		}
		out->n++;
	}
	if (warn_next) {
		*error_r = must_asprintf("%s: warn_if_reject at the end of the list; put it "
					 "before the rule it applies to", param);
		goto fail;
	}
	restrict_tokens_free(tok);
	return 0;
fail:
	restrict_tokens_free(tok);
	restrict_list_free(out);
	return -1;
}
