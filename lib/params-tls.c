/*
 * params-tls.c - TLS parameters shared by every listener (overridable per
 * listener, so one listener may present another certificate).
 */
#include "params-private.h"

static const char *const tls_versions[] = { "TLSv1.2", "TLSv1.3", NULL };

const struct param_def params_tls[] = {
	{ .name = "tls_cert_file", .type = PARAM_PATH, .default_value = "",
	  .section = "TLS",
	  .doc = "PEM server certificate, optionally followed by its chain (Postfix: smtpd_tls_cert_file)" },
	{ .name = "tls_key_file", .type = PARAM_PATH, .default_value = "$tls_cert_file",
	  .section = "TLS",
	  .doc = "PEM private key of tls_cert_file (may be the same file)" },
	{ .name = "tls_chain_file", .type = PARAM_PATH, .default_value = "",
	  .section = "TLS",
	  .doc = "Extra PEM intermediate certificates sent after the server certificate" },
	{ .name = "tls_min_protocol", .type = PARAM_ENUM, .default_value = "TLSv1.2",
	  .choices = tls_versions, .section = "TLS",
	  .doc = "Oldest TLS version accepted; older ones and SSL are always refused" },
	{ .name = "tls_cipher_list", .type = PARAM_STRING,
	  .default_value = "HIGH:!aNULL:!eNULL:!MD5:!RC4:!3DES:!DES:!PSK:!SRP",
	  .section = "TLS",
	  .doc = "OpenSSL cipher list for TLS 1.2 (TLS 1.3 suites are OpenSSL's defaults); the server's order is preferred" },
	{ .name = NULL }
};
