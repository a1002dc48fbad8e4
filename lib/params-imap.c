/*
 * params-imap.c - parameters of the IMAP server role (imap/). Pure data:
 * see params.h. Dovecot names where Dovecot has the parameter
 * (mail_max_userip_connections, imap_idle_notify_interval,
 * imap_max_line_length, imap_capability), Postern names otherwise.
 */
#include "params-private.h"

static const char *const separator_choices[] = { "/", ".", NULL };

const struct param_def params_imap[] = {
	{ .name = "imap_hierarchy_separator", .type = PARAM_ENUM, .default_value = "/",
	  .choices = separator_choices, .flags = PARAM_F_GLOBAL, .section = "IMAP",
	  .doc = "Hierarchy separator clients see in folder names: / (Dovecot's default with Maildir++ layout hidden) or . (Courier style)" },
	{ .name = "imap_processes", .type = PARAM_INT, .default_value = "2", .min = 1, .max = 64,
	  .flags = PARAM_F_GLOBAL | PARAM_F_RESTART, .section = "IMAP",
	  .doc = "Worker processes sharing the IMAP listeners; each serves many sessions (one per CPU core is right)" },
	{ .name = "imap_max_line_length", .type = PARAM_SIZE, .default_value = "64k",
	  .min = 8192, .max = 1048576, .section = "IMAP",
	  .doc = "Longest command line accepted, literals not counted (RFC 7162 asks for at least 8192 bytes)" },
	{ .name = "imap_literal_size_limit", .type = PARAM_SIZE, .default_value = "$message_size_limit",
	  .min = 0, .max = 0, .section = "IMAP",
	  .doc = "Largest APPEND message; bigger ones get NO [TOOBIG] without being read into memory (0: no limit)" },
	{ .name = "imap_idle_notify_interval", .type = PARAM_TIME, .default_value = "2m", .time_unit = 's',
	  .min = 10, .max = 86400, .section = "IMAP",
	  .doc = "How often an idle IDLE session gets \"* OK Still here\" so NAT boxes keep the connection" },
	{ .name = "imap_client_idle_timeout", .type = PARAM_TIME, .default_value = "30m", .time_unit = 's',
	  .min = 60, .max = 86400, .section = "IMAP",
	  .doc = "Disconnect an authenticated client silent this long (RFC 3501 5.4: at least 30 minutes)" },
	{ .name = "imap_login_timeout", .type = PARAM_TIME, .default_value = "60s", .time_unit = 's',
	  .min = 5, .max = 3600, .section = "IMAP",
	  .doc = "Disconnect a client that has not logged in within this long" },
	{ .name = "mail_max_userip_connections", .type = PARAM_INT, .default_value = "10",
	  .min = 0, .max = 100000, .section = "IMAP",
	  .doc = "Most IMAP sessions one user may have from one address at once, per IMAP process (0: no limit)" },
	{ .name = "imap_autocreate_special_use", .type = PARAM_BOOL, .default_value = "yes",
	  .section = "IMAP",
	  .doc = "Create Sent, Drafts, Trash, Junk and Archive with their SPECIAL-USE flags at a user's first login" },
	{ .name = "imap_allow_plaintext_auth", .type = PARAM_BOOL, .default_value = "no",
	  .section = "IMAP",
	  .doc = "Allow LOGIN and AUTHENTICATE PLAIN before TLS from non-loopback clients (Dovecot's disable_plaintext_auth = no)" },
	{ .name = NULL }
};

const struct param_def params_pop3[] = {
	{ .name = "pop3_uidl_format", .type = PARAM_STRING, .default_value = "%08Xu%08Xv",
	  .section = "POP3",
	  .doc = "UIDL of a message (Dovecot syntax): %u UID, %v UIDVALIDITY (08X: zero-padded hex), %f Maildir file name from the previous server; %m is not supported" },
	{ .name = "pop3_lock_session", .type = PARAM_BOOL, .default_value = "yes",
	  .section = "POP3",
	  .doc = "Lock the maildrop for the whole POP3 session; a second session gets -ERR [IN-USE] (RFC 2449)" },
	{ .name = "pop3_login_delay", .type = PARAM_TIME, .default_value = "0", .time_unit = 's',
	  .min = 0, .max = 86400, .section = "POP3",
	  .doc = "Minimum time between a user's POP3 logins, announced as LOGIN-DELAY (0: none)" },
	{ .name = "pop3_expire", .type = PARAM_STRING, .default_value = "NEVER",
	  .section = "POP3",
	  .doc = "What CAPA announces as EXPIRE (RFC 2449): NEVER, or a number of days the server keeps retrieved mail" },
	{ .name = "pop3_client_idle_timeout", .type = PARAM_TIME, .default_value = "10m", .time_unit = 's',
	  .min = 60, .max = 86400, .section = "POP3",
	  .doc = "Disconnect a POP3 client silent this long (RFC 1939: at least 10 minutes)" },
	{ .name = "pop3_allow_plaintext_auth", .type = PARAM_BOOL, .default_value = "no",
	  .section = "POP3",
	  .doc = "Allow USER/PASS and AUTH PLAIN before TLS from non-loopback clients" },
	{ .name = "pop3_enable_apop", .type = PARAM_BOOL, .default_value = "no",
	  .section = "POP3",
	  .doc = "APOP needs plaintext-equivalent passwords and Postern stores argon2id hashes: yes stops the pop3 role at start with an error" },
	{ .name = NULL }
};
