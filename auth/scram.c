/*
 * scram.c - SCRAM-SHA-256 key derivation and the stored-credential text
 * form (RFC 5802 section 3: SaltedPassword = Hi(password, salt, i),
 * ClientKey = HMAC(SaltedPassword, "Client Key"), StoredKey = H(ClientKey),
 * ServerKey = HMAC(SaltedPassword, "Server Key")). Hi is PBKDF2-HMAC-SHA-256
 * with a 32-byte output, taken from OpenSSL.
 */
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base64.h"
#include "auth/scram.h"
#include "util.h"

int scram_hmac(const unsigned char *key, size_t keylen, const void *data, size_t len,
	       unsigned char out[SCRAM_KEY_LEN])
{
	unsigned int outlen = SCRAM_KEY_LEN;

	if (HMAC(EVP_sha256(), key, (int)keylen, data, len, out, &outlen) == NULL ||
	    outlen != SCRAM_KEY_LEN)
		return -1;
	return 0;
}

int scram_sha256(const void *data, size_t len, unsigned char out[SCRAM_KEY_LEN])
{
	unsigned int outlen = SCRAM_KEY_LEN;

	if (EVP_Digest(data, len, out, &outlen, EVP_sha256(), NULL) != 1 ||
	    outlen != SCRAM_KEY_LEN)
		return -1;
	return 0;
}

int scram_derive(const char *password, const unsigned char *salt, size_t salt_len,
		 unsigned iterations, struct scram_credentials *creds, const char **error_r)
{
	unsigned char salted[SCRAM_KEY_LEN], client_key[SCRAM_KEY_LEN];
	int ret = -1;

	if (salt_len == 0 || salt_len > SCRAM_SALT_MAX || iterations < 1 ||
	    iterations > SCRAM_ITERATIONS_MAX) {
		*error_r = "bad SCRAM salt or iteration count";
		return -1;
	}
	if (PKCS5_PBKDF2_HMAC(password, (int)strlen(password), salt, (int)salt_len,
			      (int)iterations, EVP_sha256(), SCRAM_KEY_LEN, salted) != 1 ||
	    scram_hmac(salted, sizeof(salted), "Client Key", 10, client_key) < 0 ||
	    scram_sha256(client_key, sizeof(client_key), creds->stored_key) < 0 ||
	    scram_hmac(salted, sizeof(salted), "Server Key", 10, creds->server_key) < 0) {
		*error_r = "OpenSSL failed to derive SCRAM keys";
		goto out;
	}
	memcpy(creds->salt, salt, salt_len);
	creds->salt_len = salt_len;
	creds->iterations = iterations;
	ret = 0;
out:
	OPENSSL_cleanse(salted, sizeof(salted));
	OPENSSL_cleanse(client_key, sizeof(client_key));
	return ret;
}

char *scram_credentials_new(const char *password, const char **error_r)
{
	struct scram_credentials creds;
	unsigned char salt[16];
	char *s = NULL, *sk = NULL, *vk = NULL, *res = NULL;

	if (RAND_bytes(salt, sizeof(salt)) != 1) {
		*error_r = "no random bytes for the SCRAM salt";
		return NULL;
	}
	if (scram_derive(password, salt, sizeof(salt), SCRAM_ITERATIONS_DEFAULT, &creds, error_r) < 0)
		return NULL;
	s = base64_encode(creds.salt, creds.salt_len);
	sk = base64_encode(creds.stored_key, SCRAM_KEY_LEN);
	vk = base64_encode(creds.server_key, SCRAM_KEY_LEN);
	if (s && sk && vk) {
		size_t n = strlen(s) + strlen(sk) + strlen(vk) + 16;
		res = malloc(n);
		if (res)
			snprintf(res, n, "%u,%s,%s,%s", creds.iterations, s, sk, vk);
	}
	if (res == NULL)
		*error_r = "out of memory";
	free(s);
	free(sk);
	free(vk);
	OPENSSL_cleanse(&creds, sizeof(creds));
	return res;
}

/* Decode one base64 field of exactly want bytes (0: 1..SCRAM_SALT_MAX). */
static int scram_field(const char *p, size_t len, unsigned char *out, size_t want,
		       size_t *outlen_r)
{
	unsigned char *buf;
	size_t n;
	const char *err;

	if (base64_decode(p, len, SCRAM_SALT_MAX, &buf, &n, &err) < 0)
		return -1;
	if ((want && n != want) || (!want && n == 0)) {
		free(buf);
		return -1;
	}
	memcpy(out, buf, n);
	free(buf);
	if (outlen_r)
		*outlen_r = n;
	return 0;
}

int scram_credentials_parse(const char *text, struct scram_credentials *creds,
			    const char **error_r)
{
	const char *f[4];
	size_t flen[4];
	const char *p = text;
	char *end;

	for (int i = 0; i < 4; i++) {
		const char *c = strchr(p, ',');
		f[i] = p;
		if (i < 3) {
			if (c == NULL)
				goto bad;
			flen[i] = (size_t)(c - p);
			p = c + 1;
		} else {
			if (c != NULL)
				goto bad;
			flen[i] = strlen(p);
		}
	}
	unsigned long it = strtoul(f[0], &end, 10);
	if (end != f[0] + flen[0] || flen[0] == 0 || it < 1 || it > SCRAM_ITERATIONS_MAX)
		goto bad;
	creds->iterations = (unsigned)it;
	if (scram_field(f[1], flen[1], creds->salt, 0, &creds->salt_len) < 0 ||
	    scram_field(f[2], flen[2], creds->stored_key, SCRAM_KEY_LEN, NULL) < 0 ||
	    scram_field(f[3], flen[3], creds->server_key, SCRAM_KEY_LEN, NULL) < 0)
		goto bad;
	return 0;
bad:
	*error_r = "malformed SCRAM credentials (want ITERATIONS,SALT,STOREDKEY,SERVERKEY in base64)";
	return -1;
}
