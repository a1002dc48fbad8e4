/*
 * params-auth.c - parameters of the auth role: the SASL socket (Dovecot
 * auth client protocol), the userdb socket for Postern's own roles, the
 * password backends, the mechanisms and brute-force protection. Pure data:
 * see params.h for the meaning of each field. Read by auth/auth-role.c,
 * the CLI (cli/cmd-user.c, cmd-auth.c) and `postern init`.
 *
 * Names are Dovecot's where Dovecot has the setting (auth_mechanisms,
 * disable_plaintext_auth, auth_failure_delay, auth_username_format,
 * auth_default_realm, auth_cache_size, auth_cache_ttl,
 * auth_cache_negative_ttl); the rest use the auth_ prefix.
 */
#include "params-private.h"

static const char *const pam_username_choices[] = { "localpart", "address", NULL };
static const char *const username_format_choices[] = { "lowercase", "asis", NULL };

const struct param_def params_auth[] = {
	{ .name = "auth_backends", .type = PARAM_LIST, .default_value = "virtual",
	  .flags = PARAM_F_GLOBAL, .section = "Auth",
	  .doc = "Password backends tried in this order: virtual (the LMDB user database) and/or pam (system users); pam keeps the auth role root" },
	{ .name = "auth_user_database", .type = PARAM_PATH, .default_value = "$data_directory/users",
	  .flags = PARAM_F_GLOBAL, .section = "Auth",
	  .doc = "Directory of the LMDB environment holding virtual users, domains and owned aliases (postern user/domain write it)" },
	{ .name = "auth_socket_path", .type = PARAM_PATH, .default_value = "$run_directory/auth",
	  .flags = PARAM_F_GLOBAL, .section = "Auth",
	  .doc = "Unix socket speaking the Dovecot auth client protocol; Postfix can use it with smtpd_sasl_type = dovecot and smtpd_sasl_path" },
	{ .name = "auth_socket_mode", .type = PARAM_STRING, .default_value = "0660",
	  .flags = PARAM_F_GLOBAL, .section = "Auth",
	  .doc = "Permission bits of auth_socket_path, octal; posternd creates the socket, so a reload applies a change" },
	{ .name = "auth_socket_group", .type = PARAM_STRING, .default_value = "",
	  .flags = PARAM_F_GLOBAL, .section = "Auth",
	  .doc = "Group owning auth_socket_path (e.g. postfix, so that Postfix's smtpd can connect); set by posternd as root; empty: mail_owner's group" },
	{ .name = "auth_userdb_socket_path", .type = PARAM_PATH, .default_value = "$run_directory/auth-userdb",
	  .flags = PARAM_F_GLOBAL, .section = "Auth",
	  .doc = "Unix socket (mode 0600, owner mail_owner) answering user lookups and sender-login queries for Postern's own roles" },
	{ .name = "auth_mechanisms", .type = PARAM_LIST, .default_value = "plain login scram-sha-256",
	  .flags = PARAM_F_GLOBAL, .section = "Auth",
	  .doc = "SASL mechanisms offered: plain, login, scram-sha-256 (SCRAM only works for virtual users whose password was set by Postern)" },
	{ .name = "disable_plaintext_auth", .type = PARAM_BOOL, .default_value = "yes",
	  .section = "Auth",
	  .doc = "Refuse PLAIN and LOGIN unless the client connection is TLS or loopback (Postfix: smtpd_tls_auth_only); may be set per listener" },
	{ .name = "auth_pam_service", .type = PARAM_STRING, .default_value = "postern",
	  .flags = PARAM_F_GLOBAL, .section = "Auth",
	  .doc = "PAM service name (the file in /etc/pam.d) used for system users" },
	{ .name = "auth_pam_username", .type = PARAM_ENUM, .default_value = "localpart",
	  .choices = pam_username_choices, .flags = PARAM_F_GLOBAL, .section = "Auth",
	  .doc = "What PAM sees as the account name for user@domain: localpart (user, only for domains in mydestination) or address (user@domain)" },
	{ .name = "auth_workers", .type = PARAM_INT, .default_value = "4",
	  .min = 1, .max = 64, .flags = PARAM_F_GLOBAL | PARAM_F_RESTART, .section = "Auth",
	  .doc = "Threads that run password hashing and PAM conversations, so neither blocks the other clients of the socket" },
	{ .name = "auth_failure_delay", .type = PARAM_TIME, .default_value = "2s",
	  .min = 0, .max = 60, .time_unit = 's', .flags = PARAM_F_GLOBAL, .section = "Auth",
	  .doc = "Delay before a failed authentication is answered (Dovecot's auth_failure_delay); other clients are served meanwhile" },
	{ .name = "auth_username_format", .type = PARAM_ENUM, .default_value = "lowercase",
	  .choices = username_format_choices, .flags = PARAM_F_GLOBAL, .section = "Auth",
	  .doc = "lowercase: user names are compared in lower case (Dovecot's %Lu); asis: exactly as typed" },
	{ .name = "auth_default_realm", .type = PARAM_STRING, .default_value = "",
	  .flags = PARAM_F_GLOBAL, .section = "Auth",
	  .doc = "Domain appended to a bare user name without @ before virtual lookups (Dovecot's auth_default_realm); empty: none" },
	{ .name = "auth_penalty_limit", .type = PARAM_INT, .default_value = "10",
	  .min = 0, .max = 1000000, .flags = PARAM_F_GLOBAL, .section = "Auth",
	  .doc = "Failed logins from one client address, or for one user, after which logins are refused for auth_penalty_time (0: never)" },
	{ .name = "auth_penalty_time", .type = PARAM_TIME, .default_value = "15m",
	  .min = 1, .max = 7 * 86400, .time_unit = 's', .flags = PARAM_F_GLOBAL, .section = "Auth",
	  .doc = "Cooling-off period: how long failures are remembered and logins refused once auth_penalty_limit is reached" },
	{ .name = "auth_penalty_exceptions", .type = PARAM_LIST, .default_value = "127.0.0.0/8 [::1]/128",
	  .flags = PARAM_F_GLOBAL, .section = "Auth",
	  .doc = "Client networks never refused by the brute-force penalty (address/prefix); add $mynetworks to trust your LAN" },
	{ .name = "auth_cache_size", .type = PARAM_SIZE, .default_value = "0",
	  .min = 0, .max = 1LL << 34, .flags = PARAM_F_GLOBAL, .section = "Auth",
	  .doc = "Memory for the authentication cache (Dovecot's auth_cache_size, e.g. 10M; about 170 bytes per user); 0: no cache. A hit skips the password hash for a user logging in again with the same password against an unchanged stored hash; postern reload empties it" },
	{ .name = "auth_cache_ttl", .type = PARAM_TIME, .default_value = "1h",
	  .min = 1, .max = 7 * 86400, .time_unit = 's', .flags = PARAM_F_GLOBAL, .section = "Auth",
	  .doc = "How long a successful verification is reused from the authentication cache (Dovecot's auth_cache_ttl); a changed password or a disabled virtual user takes effect at once regardless" },
	{ .name = "auth_cache_negative_ttl", .type = PARAM_TIME, .default_value = "1h",
	  .min = 0, .max = 7 * 86400, .time_unit = 's', .flags = PARAM_F_GLOBAL, .section = "Auth",
	  .doc = "How long a failure (that exact wrong password, or an unknown PAM user) is reused from the cache (Dovecot's auth_cache_negative_ttl); failures still get auth_failure_delay and count for the penalty; 0: failures are not cached" },
	{ .name = NULL }
};
