/*
 * roles.c - the table of roles built into this posternd (role.h).
 *
 * Called by the master (what to start, whether a listener can be served),
 * by `postern init` (which listeners to write enabled) and `postern check`.
 *
 * Built: auth (always started, no listeners; keeps root only with PAM),
 * smtp, queue (always started, .exclusive: it owns the queue files; its
 * unix sockets are the pickup and control sockets), imap, pop3. Next: web. Until a protocol's role
 * is listed here, a listener for it makes posternd refuse to start rather
 * than accept connections it cannot serve.
 *
 * The "selftest" role exists only for the integration tests, when the
 * environment has POSTERN_SELFTEST_ROLE=1: it serves no protocol, runs as
 * any other role would (privilege drop, restart, reload) and logs what it
 * received, so that supervision can be tested before real roles exist.
 */
#include <stdlib.h>
#include <string.h>

#include "auth/auth-role.h"
#include "imap/imap-role.h"
#include "pop3/pop3-role.h"
#include "smtp/smtp-role.h"
#include "smtp/queue/queue-role.h"
#include "master/master.h"
#include "role.h"
#include "util.h"

static const struct role_def built_roles[] = {
	{ .name = "auth", .main = auth_role_main, .keeps_root = auth_role_keeps_root,
	  .unix_sockets = auth_role_unix_sockets, .always = true,
	  .doc = "SASL socket (Dovecot auth protocol) and user lookups; virtual users and PAM" },
	{ .name = "smtp", .main = smtp_role_main, .check_config = smtp_role_check_config,
	  .doc = "SMTP server: mx, submission and smtps listeners; writes the queue's incoming files" },
	{ .name = "queue", .main = queue_role_main, .unix_sockets = queue_role_unix_sockets,
	  .check_config = queue_role_check_config, .always = true, .exclusive = true,
	  .doc = "queue manager: local delivery, SMTP client, bounces, sendmail pickup, queue control socket" },
	{ .name = "imap", .main = imap_role_main,
	  .doc = "IMAP server: imap (143, STARTTLS) and imaps (993) listeners; imap_processes workers" },
	{ .name = "pop3", .main = pop3_role_main, .check_config = pop3_role_check_config,
	  .doc = "POP3 server: pop3 (110, STLS) and pop3s (995, implicit TLS) listeners" },
	{ .name = NULL },
};

static const struct role_def selftest_role = {
	.name = "selftest", .main = role_selftest_main, .always = true,
	.doc = "test-only role: serves no protocol, exercises supervision",
};

static bool selftest_enabled(void)
{
	const char *v = getenv("POSTERN_SELFTEST_ROLE");

	return v && strcmp(v, "1") == 0;
}

/*
 * POSTERN_TEST_SKIP_ROLES=queue (a comma list) leaves always-started
 * roles out, for the integration tests of the SMTP server that inspect
 * the queue files it writes: with the queue role running those files
 * would be delivered away under the test. Listener roles cannot be
 * skipped (their listeners would be refused). Not for production use;
 * documented in tests/README.md.
 */
static bool role_skipped(const struct role_def *r)
{
	const char *v = getenv("POSTERN_TEST_SKIP_ROLES");
	size_t len = strlen(r->name);

	if (!v || !r->always)
		return false;
	for (const char *p = v; *p; ) {
		size_t n = strcspn(p, ",");

		if (n == len && strncmp(p, r->name, len) == 0)
			return true;
		p += n;
		if (*p == ',')
			p++;
	}
	return false;
}

/* The i-th built role that is not skipped, or NULL. */
static const struct role_def *built_at(size_t i)
{
	for (const struct role_def *r = built_roles; r->name; r++) {
		if (role_skipped(r))
			continue;
		if (i-- == 0)
			return r;
	}
	return NULL;
}

static size_t built_count(void)
{
	size_t n = 0;

	while (built_at(n))
		n++;
	return n;
}

size_t role_count(void)
{
	return built_count() + (selftest_enabled() ? 1 : 0);
}

const struct role_def *role_at(size_t i)
{
	size_t n = built_count();

	if (i < n)
		return built_at(i);
	if (i == n && selftest_enabled())
		return &selftest_role;
	return NULL;
}

const struct role_def *role_lookup(const char *name)
{
	for (size_t i = 0; i < role_count(); i++)
		if (strcmp(role_at(i)->name, name) == 0)
			return role_at(i);
	return NULL;
}

const struct role_def *role_for_protocol(const char *protocol)
{
	const struct protocol_def *p = protocol_lookup(protocol);

	return p ? role_lookup(p->role) : NULL;
}

int role_check_listeners(const struct config *cfg, char **error_r)
{
	for (size_t i = 0; i < config_listener_count(cfg); i++) {
		const struct config_listener *l = config_listener_at(cfg, i);

		if (role_for_protocol(l->protocol) == NULL) {
			*error_r = must_asprintf("%s:%d: %s/listen: protocol %s is not built into this posternd yet; comment the line out",
						 l->file, l->line, l->name, l->protocol);
			return -1;
		}
	}
	return 0;
}

/* Whether cfg runs role r: it is always started, or a listener's protocol
 * belongs to it. */
static bool role_in_use(const struct config *cfg, const struct role_def *r)
{
	if (r->always)
		return true;
	for (size_t i = 0; i < config_listener_count(cfg); i++)
		if (role_for_protocol(config_listener_at(cfg, i)->protocol) == r)
			return true;
	return false;
}

int role_check_configs(const struct config *cfg, char **error_r)
{
	for (size_t i = 0; i < role_count(); i++) {
		const struct role_def *r = role_at(i);

		if (r->check_config && role_in_use(cfg, r) && r->check_config(cfg, error_r) < 0)
			return -1;
	}
	return 0;
}
