/*
 * tls.c - server and client SSL_CTX construction with Postern's TLS policy
 * (see tls.h for the policy and why), and the Postfix-style description of
 * a negotiated session.
 *
 * Called by roles when they start (a role restart is how certificates are
 * reloaded), by conn.c for logging, and by tests.
 *
 * Error texts name the file and say how to fix it, because the usual cause
 * is a path typo or a key that belongs to another certificate (the
 * tutorials our users followed make both mistakes easy).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "tls.h"
#include "util.h"

char *tls_last_error(char *buf, size_t size, const char *fallback)
{
	unsigned long e, last = 0;
	const char *reason;

	/* The last queued error is the most specific one for PEM loading
	 * failures, the first for handshake ones; keep the last and name it by
	 * its reason only: library/function prefixes mean nothing to an admin. */
	while ((e = ERR_get_error()) != 0)
		last = e;
	if (last == 0) {
		str_copy(buf, fallback, size);
		return buf;
	}
	reason = ERR_reason_error_string(last);
	if (reason != NULL)
		str_copy(buf, reason, size);
	else
		ERR_error_string_n(last, buf, size);
	return buf;
}

/* check_readable - open(2) the file ourselves first: OpenSSL's errors for
 * a missing file ("system library") are less clear than strerror(). */
static int check_readable(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	close(fd);
	return 0;
}

static int load_chain_file(SSL_CTX *ctx, const char *chain_file, char **error_r)
{
	char why[256];
	FILE *fp;
	X509 *x;
	int n = 0;

	fp = fopen(chain_file, "re");
	if (fp == NULL) {
		*error_r = must_asprintf("%s: cannot read certificate chain: %s; "
					 "set tls_chain_file to a PEM file of intermediate certificates or leave it empty",
					 chain_file, strerror(errno));
		return -1;
	}
	ERR_clear_error();
	while ((x = PEM_read_X509(fp, NULL, NULL, NULL)) != NULL) {
		/* add0 takes ownership of x only on success */
		if (SSL_CTX_add0_chain_cert(ctx, x) != 1) {
			X509_free(x);
			fclose(fp);
			*error_r = must_asprintf("%s: cannot use chain certificate %d: %s; "
						 "check that tls_chain_file holds the intermediates of tls_cert_file",
						 chain_file, n + 1, tls_last_error(why, sizeof(why), "unknown error"));
			return -1;
		}
		n++;
	}
	fclose(fp);
	/* PEM_read_X509 ends with a "no start line" error at end of file:
	 * that is the normal end, unless nothing at all was read. */
	if (n == 0) {
		*error_r = must_asprintf("%s: no PEM certificate found; "
					 "set tls_chain_file to a PEM file of intermediate certificates or leave it empty",
					 chain_file);
		return -1;
	}
	ERR_clear_error();
	return 0;
}

static int set_min_protocol(SSL_CTX *ctx, const char *min_protocol, char **error_r)
{
	int version;

	if (min_protocol == NULL || *min_protocol == '\0' || strcmp(min_protocol, "TLSv1.2") == 0)
		version = TLS1_2_VERSION;
	else if (strcmp(min_protocol, "TLSv1.3") == 0)
		version = TLS1_3_VERSION;
	else {
		*error_r = must_asprintf("tls_min_protocol: unknown value \"%s\"; use TLSv1.2 or TLSv1.3",
					 min_protocol);
		return -1;
	}
	if (SSL_CTX_set_min_proto_version(ctx, version) != 1) {
		*error_r = must_asprintf("tls_min_protocol: %s is not supported by this OpenSSL", min_protocol);
		return -1;
	}
	return 0;
}

/* common_options - the part of the policy shared by server and client. */
static void common_options(SSL_CTX *ctx)
{
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
			    SSL_OP_NO_SSLv2 | SSL_OP_NO_SSLv3 | SSL_OP_NO_TLSv1 | SSL_OP_NO_TLSv1_1);
	/* SSL_MODE_ENABLE_PARTIAL_WRITE and ACCEPT_MOVING_WRITE_BUFFER are what
	 * bufferevent_openssl expects (its write buffer moves between calls). */
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
			 SSL_MODE_RELEASE_BUFFERS);
}

SSL_CTX *tls_server_ctx_new(const char *cert_file, const char *key_file,
			    const char *chain_file, const char *min_protocol,
			    const char *cipher_list, char **error_r)
{
	char why[256];
	SSL_CTX *ctx;

	*error_r = NULL;
	if (cert_file == NULL || *cert_file == '\0') {
		*error_r = must_strdup("tls_cert_file is not set; set tls_cert_file to a PEM certificate or run postern init");
		return NULL;
	}
	if (key_file == NULL || *key_file == '\0')
		key_file = cert_file;

	ERR_clear_error();
	ctx = SSL_CTX_new(TLS_server_method());
	if (ctx == NULL) {
		*error_r = must_asprintf("cannot create a TLS context: %s",
					 tls_last_error(why, sizeof(why), "out of memory"));
		return NULL;
	}
	common_options(ctx);
	SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE);
	/* ECDHE group selection is automatic in OpenSSL 3 (the old
	 * SSL_CTX_set_ecdh_auto is a no-op there); DHE parameters likewise. */
	SSL_CTX_set_dh_auto(ctx, 1);
	if (set_min_protocol(ctx, min_protocol, error_r) < 0)
		goto fail;
	if (cipher_list != NULL && *cipher_list != '\0' &&
	    SSL_CTX_set_cipher_list(ctx, cipher_list) != 1) {
		*error_r = must_asprintf("tls_cipher_list: \"%s\" selects no usable cipher: %s; "
					 "fix the list or remove tls_cipher_list to use the default",
					 cipher_list, tls_last_error(why, sizeof(why), "no cipher match"));
		goto fail;
	}

	if (check_readable(cert_file) < 0) {
		*error_r = must_asprintf("%s: cannot read certificate: %s; "
					 "set tls_cert_file to a PEM certificate or run postern init",
					 cert_file, strerror(errno));
		goto fail;
	}
	ERR_clear_error();
	if (SSL_CTX_use_certificate_chain_file(ctx, cert_file) != 1) {
		*error_r = must_asprintf("%s: cannot load certificate: %s; "
					 "set tls_cert_file to a PEM certificate (-----BEGIN CERTIFICATE-----) or run postern init",
					 cert_file, tls_last_error(why, sizeof(why), "not a PEM certificate"));
		goto fail;
	}
	if (chain_file != NULL && *chain_file != '\0' && load_chain_file(ctx, chain_file, error_r) < 0)
		goto fail;

	if (check_readable(key_file) < 0) {
		*error_r = must_asprintf("%s: cannot read private key: %s; "
					 "set tls_key_file to the PEM key of tls_cert_file or run postern init",
					 key_file, strerror(errno));
		goto fail;
	}
	ERR_clear_error();
	if (SSL_CTX_use_PrivateKey_file(ctx, key_file, SSL_FILETYPE_PEM) != 1) {
		unsigned long e = ERR_peek_last_error();

		if (ERR_GET_REASON(e) == X509_R_KEY_VALUES_MISMATCH) {
			ERR_clear_error();
			*error_r = must_asprintf("%s: private key does not match the certificate in %s; "
						 "set tls_key_file to the key that belongs to tls_cert_file",
						 key_file, cert_file);
		} else {
			*error_r = must_asprintf("%s: cannot load private key: %s; "
						 "set tls_key_file to the PEM key of tls_cert_file (an encrypted key needs its passphrase removed)",
						 key_file, tls_last_error(why, sizeof(why), "not a PEM private key"));
		}
		goto fail;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		ERR_clear_error();
		*error_r = must_asprintf("%s: private key does not match the certificate in %s; "
					 "set tls_key_file to the key that belongs to tls_cert_file",
					 key_file, cert_file);
		goto fail;
	}
	return ctx;

fail:
	SSL_CTX_free(ctx);
	return NULL;
}

SSL_CTX *tls_client_ctx_new(char **error_r)
{
	char why[256];
	SSL_CTX *ctx;

	*error_r = NULL;
	ERR_clear_error();
	ctx = SSL_CTX_new(TLS_client_method());
	if (ctx == NULL) {
		*error_r = must_asprintf("cannot create a TLS client context: %s",
					 tls_last_error(why, sizeof(why), "out of memory"));
		return NULL;
	}
	common_options(ctx);
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1) {
		SSL_CTX_free(ctx);
		*error_r = must_strdup("cannot require TLS 1.2 in this OpenSSL");
		return NULL;
	}
	/* Missing CA paths only matter to callers that verify; not an error. */
	if (SSL_CTX_set_default_verify_paths(ctx) != 1)
		ERR_clear_error();
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	return ctx;
}

char *tls_describe(SSL *ssl, char *buf, size_t size)
{
	const SSL_CIPHER *cipher;
	int alg_bits = 0, bits;

	if (size > 0)
		buf[0] = '\0';
	if (ssl == NULL || (cipher = SSL_get_current_cipher(ssl)) == NULL)
		return buf;
	bits = SSL_CIPHER_get_bits(cipher, &alg_bits);
	snprintf(buf, size, "%s with cipher %s (%d/%d bits)",
		 SSL_get_version(ssl), SSL_CIPHER_get_name(cipher), bits, alg_bits);
	return buf;
}
