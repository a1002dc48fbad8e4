/*
 * scram.h - SCRAM-SHA-256 stored keys (RFC 5802 section 3, RFC 7677).
 *
 * A user's SCRAM credentials are derived when the password is set (by
 * `postern user add/passwd` or the upgrade after a login with an imported
 * hash) and stored next to the argon2id hash, as text:
 *   ITERATIONS,SALT_B64,STOREDKEY_B64,SERVERKEY_B64
 * They are hash-equivalent for SCRAM only: a thief can impersonate the user
 * over SCRAM but learns no password.
 *
 * The password is used as given (no SASLprep, RFC 4013): identical for
 * ASCII passwords; a non-ASCII password that SASLprep would change will not
 * work over SCRAM (PLAIN still does).
 *
 * Callers: mech-scram-sha256.c (parse, verify), passdb-virtual.c and
 * cli/cmd-user.c (derive new credentials).
 */
#ifndef POSTERN_AUTH_SCRAM_H
#define POSTERN_AUTH_SCRAM_H

#include <stddef.h>

#define SCRAM_KEY_LEN 32
#define SCRAM_SALT_MAX 64
#define SCRAM_ITERATIONS_DEFAULT 10000
#define SCRAM_ITERATIONS_MIN 4096   /* RFC 7677 section 4 */
#define SCRAM_ITERATIONS_MAX 1000000

struct scram_credentials {
	unsigned iterations;
	unsigned char salt[SCRAM_SALT_MAX];
	size_t salt_len;
	unsigned char stored_key[SCRAM_KEY_LEN];
	unsigned char server_key[SCRAM_KEY_LEN];
};

/* scram_derive - fill creds from password, salt and iterations. 0, or -1
 * with *error_r static. */
int scram_derive(const char *password, const unsigned char *salt, size_t salt_len,
		 unsigned iterations, struct scram_credentials *creds, const char **error_r);

/* scram_credentials_new - derive with a random 16-byte salt and the default
 * iterations, return the stored text form in new memory (caller frees), or
 * NULL with *error_r static. */
char *scram_credentials_new(const char *password, const char **error_r);

/* scram_credentials_parse - text form to creds; 0, or -1 with *error_r. */
int scram_credentials_parse(const char *text, struct scram_credentials *creds,
			    const char **error_r);

/* scram_hmac / scram_sha256 - the primitives (OpenSSL), exposed for the
 * mechanism. 0, or -1 on library failure. */
int scram_hmac(const unsigned char *key, size_t keylen, const void *data, size_t len,
	       unsigned char out[SCRAM_KEY_LEN]);
int scram_sha256(const void *data, size_t len, unsigned char out[SCRAM_KEY_LEN]);

#endif
