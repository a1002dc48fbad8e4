/*
 * tls-config.c - build a server SSL_CTX from the configuration.
 *
 * Kept apart from tls.c so that programs and tests that use tls.c without
 * a configuration (tests, `postern init`) do not pull in config.c.
 * Called by each role for every TLS listener, with the listener's view so
 * that per-listener overrides (submission/tls_cert_file = ...) apply.
 */
#include "config.h"
#include "tls.h"

SSL_CTX *tls_server_ctx_from_config(const struct config *cfg, char **error_r)
{
	return tls_server_ctx_new(config_str(cfg, "tls_cert_file"),
				  config_str(cfg, "tls_key_file"),
				  config_str(cfg, "tls_chain_file"),
				  config_str(cfg, "tls_min_protocol"),
				  config_str(cfg, "tls_cipher_list"), error_r);
}
