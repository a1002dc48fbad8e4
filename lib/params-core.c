/*
 * params-core.c - general, directory, logging, master and connection
 * parameters. Pure data: see params.h for the meaning of each field.
 */
#include <netdb.h>
#include <string.h>
#include <unistd.h>

#include "params-private.h"
#include "util.h"

/* myhostname: gethostname(), made fully qualified through the resolver
 * when the kernel name has no dot (what Postfix does too). */
static const char *default_myhostname(param_getter_fn *get, void *ctx)
{
	static char name[256];
	struct addrinfo hints, *res = NULL;

	(void)get;
	(void)ctx;
	if (name[0])
		return name;
	if (gethostname(name, sizeof(name)) < 0 || name[0] == '\0')
		str_copy(name, "localhost", sizeof(name));
	name[sizeof(name) - 1] = '\0';
	if (strchr(name, '.') == NULL) {
		memset(&hints, 0, sizeof(hints));
		hints.ai_flags = AI_CANONNAME;
		if (getaddrinfo(name, NULL, &hints, &res) == 0 && res && res->ai_canonname &&
		    strchr(res->ai_canonname, '.'))
			str_copy(name, res->ai_canonname, sizeof(name));
		if (res)
			freeaddrinfo(res);
	}
	str_lower(name);
	return name;
}

/* mydomain: the effective myhostname without its first label. */
static const char *default_mydomain(param_getter_fn *get, void *ctx)
{
	static char domain[256];
	const char *host = get(ctx, "myhostname");
	const char *dot = host ? strchr(host, '.') : NULL;

	str_copy(domain, dot && dot[1] ? dot + 1 : "localdomain", sizeof(domain));
	return domain;
}

static const char *const syslog_facilities[] = {
	"mail", "daemon", "user", "local0", "local1", "local2", "local3",
	"local4", "local5", "local6", "local7", NULL
};

const struct param_def params_core[] = {
	{ .name = "myhostname", .type = PARAM_STRING, .default_fn = default_myhostname,
	  .section = "General",
	  .doc = "The fully-qualified name of this mail host, used in greetings, Received: headers and bounces" },
	{ .name = "mydomain", .type = PARAM_STRING, .default_fn = default_mydomain,
	  .section = "General",
	  .doc = "The internet domain of this host; default: $myhostname without its first label (localdomain if none)" },
	{ .name = "myorigin", .type = PARAM_STRING, .default_value = "$myhostname",
	  .section = "General",
	  .doc = "The domain that locally posted mail appears to come from" },
	{ .name = "mydestination", .type = PARAM_LIST,
	  .default_value = "$myhostname, localhost.$mydomain, localhost",
	  .section = "General",
	  .doc = "Domains this host delivers locally (system users and aliases)" },
	{ .name = "mynetworks", .type = PARAM_LIST, .default_value = "127.0.0.0/8 [::1]/128",
	  .section = "General",
	  .doc = "Trusted client networks (permit_mynetworks), as address/prefix or type:table" },
	{ .name = "mail_owner", .type = PARAM_STRING, .default_value = "postern",
	  .flags = PARAM_F_GLOBAL | PARAM_F_RESTART, .section = "General",
	  .doc = "The unprivileged system user that every role except auth runs as and that owns the queue and the mail store" },
	{ .name = "queue_directory", .type = PARAM_PATH, .default_value = "/var/spool/postern",
	  .flags = PARAM_F_GLOBAL | PARAM_F_RESTART, .section = "Directories",
	  .doc = "The mail queue: incoming, active, deferred, hold and corrupt subdirectories" },
	{ .name = "data_directory", .type = PARAM_PATH, .default_value = "/var/lib/postern",
	  .flags = PARAM_F_GLOBAL | PARAM_F_RESTART, .section = "Directories",
	  .doc = "State that is not mail: user database, TLS session keys, caches" },
	{ .name = "run_directory", .type = PARAM_PATH, .default_value = "/run/postern",
	  .flags = PARAM_F_GLOBAL | PARAM_F_RESTART, .section = "Directories",
	  .doc = "Pid file and the unix sockets between the master, its roles and the postern tool" },
	{ .name = "mail_location", .type = PARAM_STRING, .default_value = "maildir:/var/vmail/%d/%n",
	  .section = "Directories",
	  .doc = "Where each user's mail lives, Dovecot syntax: maildir:PATH or mbox:PATH with %u (user), %n (local part), %d (domain), %h (home)" },

	{ .name = "syslog_name", .type = PARAM_STRING, .default_value = "posternd",
	  .flags = PARAM_F_GLOBAL, .section = "Logging",
	  .doc = "Prefix of every log line's program name: posternd/smtp, posternd/master, ..." },
	{ .name = "syslog_facility", .type = PARAM_ENUM, .default_value = "mail",
	  .choices = syslog_facilities, .flags = PARAM_F_GLOBAL, .section = "Logging",
	  .doc = "Syslog facility for log lines" },
	{ .name = "maillog_file", .type = PARAM_PATH, .default_value = "",
	  .flags = PARAM_F_GLOBAL, .section = "Logging",
	  .doc = "Also append log lines to this file (as Postfix's maillog_file); empty: syslog only" },

	{ .name = "master_restart_delay", .type = PARAM_TIME, .default_value = "1s",
	  .min = 0, .max = 3600, .time_unit = 's', .flags = PARAM_F_GLOBAL, .section = "Master",
	  .doc = "Delay before a role that died is started again; doubles on each quick failure" },
	{ .name = "master_restart_max_delay", .type = PARAM_TIME, .default_value = "60s",
	  .min = 1, .max = 86400, .time_unit = 's', .flags = PARAM_F_GLOBAL, .section = "Master",
	  .doc = "Upper bound of the restart delay of a role that keeps dying" },
	{ .name = "master_stop_timeout", .type = PARAM_TIME, .default_value = "10s",
	  .min = 1, .max = 3600, .time_unit = 's', .flags = PARAM_F_GLOBAL, .section = "Master",
	  .doc = "How long roles get to finish their sessions on stop or reload before they are killed" },

	{ .name = "connection_limit", .type = PARAM_INT, .default_value = "1000",
	  .min = 1, .max = 1000000, .section = "Connections",
	  .doc = "Simultaneous connections per listener; more are answered with the protocol's busy reply and closed" },
	{ .name = "client_connection_limit", .type = PARAM_INT, .default_value = "50",
	  .min = 0, .max = 1000000, .section = "Connections",
	  .doc = "Simultaneous connections per listener from one client address (0: no limit), as smtpd_client_connection_count_limit" },
	{ .name = NULL }
};
