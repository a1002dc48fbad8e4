/*
 * params-smtpd.c - parameters of the SMTP server role (smtp/) that are not
 * restriction lists: greeting, limits, timeouts, error counters, VRFY,
 * SASL and TLS policy per listener. Pure data, see params.h. The
 * restriction lists and their tables are in params-smtpd-restrictions.c.
 *
 * Names and meanings are Postfix's (postconf(5)) except where a doc line
 * says otherwise; every one may be overridden per listener (master.cf -o).
 */
#include "params-private.h"

static const char *const smtpd_tls_levels[] = { "none", "may", "encrypt", NULL };

const struct param_def params_smtpd[] = {
	{ .name = "mail_name", .type = PARAM_STRING, .default_value = "Postern",
	  .section = "SMTP server",
	  .doc = "The mail system name in the SMTP greeting and Received: headers" },
	{ .name = "smtpd_banner", .type = PARAM_STRING, .default_value = "$myhostname ESMTP $mail_name",
	  .section = "SMTP server",
	  .doc = "Text after 220 in the SMTP greeting; must start with $myhostname (RFC 5321 4.3.1)" },
	{ .name = "smtpd_timeout", .type = PARAM_TIME, .default_value = "300s",
	  .min = 1, .max = 3600, .time_unit = 's', .section = "SMTP server",
	  .doc = "How long the server waits for a client command or data before replying 421 4.4.2 and closing" },
	{ .name = "smtpd_greet_pause", .type = PARAM_TIME, .default_value = "0s",
	  .min = 0, .max = 60, .time_unit = 's', .section = "SMTP server",
	  .doc = "Wait this long before the greeting; a client that talks first is an early talker (logged, reject_unauth_pipelining fact), as postscreen_greet_wait" },
	{ .name = "message_size_limit", .type = PARAM_SIZE, .default_value = "10240000",
	  .min = 1024, .max = 2147483647LL, .section = "SMTP server",
	  .doc = "Largest message accepted, envelope and headers included; advertised as EHLO SIZE" },
	{ .name = "smtpd_recipient_limit", .type = PARAM_INT, .default_value = "1000",
	  .min = 1, .max = 100000, .section = "SMTP server",
	  .doc = "Recipients accepted per message; more get 452 4.5.3 Error: too many recipients" },
	{ .name = "line_length_limit", .type = PARAM_INT, .default_value = "2048",
	  .min = 512, .max = 65536, .section = "SMTP server",
	  .doc = "Longest SMTP command line (without CR LF); longer ones get 500 5.5.0 Error: line too long" },
	{ .name = "header_size_limit", .type = PARAM_SIZE, .default_value = "102400",
	  .min = 1024, .max = 16777216, .section = "SMTP server",
	  .doc = "Largest message header block; a bigger one is refused with 552 5.6.0" },
	{ .name = "smtpd_error_sleep_time", .type = PARAM_TIME, .default_value = "1s",
	  .min = 0, .max = 60, .time_unit = 's', .section = "SMTP server",
	  .doc = "Delay before each error reply once a session has made smtpd_soft_error_limit errors" },
	{ .name = "smtpd_soft_error_limit", .type = PARAM_INT, .default_value = "10",
	  .min = 1, .max = 1000, .section = "SMTP server",
	  .doc = "Errors in a session after which each error reply is delayed by smtpd_error_sleep_time" },
	{ .name = "smtpd_hard_error_limit", .type = PARAM_INT, .default_value = "20",
	  .min = 1, .max = 1000, .section = "SMTP server",
	  .doc = "Errors in a session after which the server replies 421 4.7.0 Error: too many errors and closes" },
	{ .name = "smtpd_helo_required", .type = PARAM_BOOL, .default_value = "no",
	  .section = "SMTP server",
	  .doc = "Require HELO or EHLO before MAIL (503 5.5.1 Error: send HELO/EHLO first)" },
	{ .name = "disable_vrfy_command", .type = PARAM_BOOL, .default_value = "yes",
	  .section = "SMTP server",
	  .doc = "Refuse VRFY (502 5.5.1 VRFY command is disabled) and do not advertise it; Postfix's default is no" },
	{ .name = "smtpd_sasl_auth_enable", .type = PARAM_BOOL, .default_value = "no",
	  .section = "SMTP server",
	  .doc = "Offer SMTP AUTH (RFC 4954) through the auth role; postern init turns it on for submission and smtps" },
	{ .name = "smtpd_tls_security_level", .type = PARAM_ENUM, .default_value = "may",
	  .choices = smtpd_tls_levels, .section = "SMTP server",
	  .doc = "none: no STARTTLS; may: offer STARTTLS when a certificate is set; encrypt: require TLS before MAIL and AUTH (530 5.7.0)" },
	{ .name = "smtpd_tls_auth_only", .type = PARAM_BOOL, .default_value = "yes",
	  .section = "SMTP server",
	  .doc = "Offer and accept AUTH only over TLS (538 5.7.11 otherwise); Postfix's default is no" },
	{ .name = "smtpd_tls_received_header", .type = PARAM_BOOL, .default_value = "yes",
	  .section = "SMTP server",
	  .doc = "Name the TLS version and cipher in the Received: header" },
	{ .name = "smtpd_client_connection_rate_limit", .type = PARAM_INT, .default_value = "0",
	  .min = 0, .max = 1000000, .section = "SMTP server",
	  .doc = "Connections one client address may open per minute on a listener (0: no limit); more get 421 4.7.0" },
	{ .name = "smtpd_peername_lookup", .type = PARAM_BOOL, .default_value = "yes",
	  .section = "SMTP server",
	  .doc = "Look up the client's name (PTR, then forward-confirmed) before the greeting; no: every client is unknown[ADDR]" },
	{ .name = NULL }
};
