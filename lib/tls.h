/*
 * tls.h - OpenSSL contexts for Postern's listeners and outbound clients,
 * the one place that decides TLS policy, and self-signed certificate
 * generation for `postern init`.
 *
 * Policy (RFC 8996 deprecates TLS 1.0/1.1; RFC 7525 / BCP 195): TLS 1.2 or
 * newer only, no compression (CRIME), the server's cipher order preferred,
 * no renegotiation (a client-initiated renegotiation is a cheap CPU DoS and
 * mail protocols never need one), ECDHE groups chosen by OpenSSL, session
 * tickets allowed (each role process has its own ticket key; a role restart
 * simply invalidates old tickets).
 *
 * Reload: there is deliberately no tls_server_ctx_reload(). On SIGHUP the
 * master replaces the roles, and a new role builds a new context from the
 * new configuration; a long-lived process that wants to swap certificates
 * builds a second context and hands it to server_set_ssl_ctx().
 *
 * Callers: roles (smtp, imap, pop3, web-admin) via tls_server_ctx_from_config,
 * the SMTP client via tls_client_ctx_new, `postern init` via
 * tls_generate_self_signed, conn.c via tls_describe.
 */
#ifndef POSTERN_TLS_H
#define POSTERN_TLS_H

#include <stddef.h>

#include <openssl/ssl.h>

struct config;

/*
 * tls_server_ctx_new - a server context with Postern's policy.
 * cert_file: PEM certificate, optionally followed by its chain;
 * key_file: PEM private key (may equal cert_file; NULL or "" means
 * cert_file); chain_file: extra PEM intermediates (NULL or "" for none);
 * min_protocol: "TLSv1.2" or "TLSv1.3" (NULL: TLSv1.2); cipher_list: the
 * OpenSSL cipher list for TLS 1.2 (NULL or "": OpenSSL's default).
 * Returns a new context (caller SSL_CTX_free()s it), or NULL with *error_r
 * set to a one-line message in new memory (caller frees) naming the file,
 * the problem and the fix.
 */
SSL_CTX *tls_server_ctx_new(const char *cert_file, const char *key_file,
			    const char *chain_file, const char *min_protocol,
			    const char *cipher_list, char **error_r);

/*
 * tls_server_ctx_from_config - tls_server_ctx_new() with tls_cert_file,
 * tls_key_file, tls_chain_file, tls_min_protocol and tls_cipher_list from
 * cfg (a global config or a listener's view). Same return contract.
 * Lives in tls-config.c so that users of tls.c alone do not need config.c.
 */
SSL_CTX *tls_server_ctx_from_config(const struct config *cfg, char **error_r);

/*
 * tls_client_ctx_new - a client context: TLS 1.2+, no compression, system
 * default CA paths loaded, but peer verification NOT enforced
 * (SSL_VERIFY_NONE): that is opportunistic TLS as in Postfix's
 * smtp_tls_security_level = may. A caller that needs verification sets
 * SSL_VERIFY_PEER and a host name on its SSL. Returns a new context
 * (caller frees), or NULL with *error_r (new memory, caller frees).
 */
SSL_CTX *tls_client_ctx_new(char **error_r);

/*
 * tls_describe - "TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)",
 * the wording Postfix uses in Received: headers and its logs, written
 * into buf (always terminated). Returns buf; "" when ssl has no cipher yet.
 */
char *tls_describe(SSL *ssl, char *buf, size_t size);

/*
 * tls_last_error - the reason text of the most recent OpenSSL error on this
 * thread's error queue (the queue is cleared), or fallback when empty.
 * Writes into buf (always terminated) and returns buf.
 */
char *tls_last_error(char *buf, size_t size, const char *fallback);

/*
 * tls_generate_self_signed (tls-cert.c) - create a self-signed server
 * certificate for hostname valid for days days: RSA 2048 key, X.509 v3
 * with subjectAltName DNS:hostname, basicConstraints CA:FALSE, keyUsage
 * digitalSignature+keyEncipherment, extendedKeyUsage serverAuth, random
 * 159-bit serial, SHA-256 signature. key_path is created with mode 0600
 * and cert_path with 0644 regardless of the umask; neither may exist yet
 * (O_EXCL: an existing key is never overwritten). Both are fsync'd.
 * Returns 0, or -1 with *error_r (new memory, caller frees); on failure
 * nothing is left behind.
 */
int tls_generate_self_signed(const char *cert_path, const char *key_path,
			     const char *hostname, int days, char **error_r);

#endif
