/*
 * password.c - hashing and verification of stored passwords; see
 * password.h for the formats.
 *
 * Cost of new hashes: libsodium's INTERACTIVE limits (opslimit 2, memlimit
 * 64 MiB, ~0.1 s). MODERATE (256 MiB, ~0.7 s) would let four concurrent
 * logins on the auth_workers threads take 1 GiB, more than the small
 * machines Postern targets can spare, and a mail client logging in over
 * IMAP, POP3 and SMTP at once multiplies that; INTERACTIVE is what
 * libsodium recommends for online logins.
 */
#include <crypt.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/password.h"
#include "util.h"

#define ARGON2ID_PREFIX "{ARGON2ID}"

struct password_scheme {
	const char *prefix;   /* "{SHA512-CRYPT}" */
	const char *const crypt_ids[4]; /* accepted crypt(3) ids after the prefix */
};

static const struct password_scheme crypt_schemes[] = {
	{ "{SHA512-CRYPT}", { "$6$", NULL } },
	{ "{SHA256-CRYPT}", { "$5$", NULL } },
	{ "{BLF-CRYPT}", { "$2y$", "$2b$", "$2a$", NULL } },
};

int password_init(const char **error_r)
{
	if (sodium_init() < 0) {
		*error_r = "libsodium initialisation failed";
		return -1;
	}
	return 0;
}

char *password_hash(const char *plain, const char **error_r)
{
	char out[crypto_pwhash_STRBYTES];
	size_t len = strlen(plain);

	if (len > PASSWORD_MAX_LEN) {
		*error_r = "password too long";
		return NULL;
	}
	if (crypto_pwhash_str(out, plain, len, crypto_pwhash_OPSLIMIT_INTERACTIVE,
			      crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0) {
		*error_r = "out of memory computing the argon2id hash";
		return NULL;
	}
	size_t n = strlen(ARGON2ID_PREFIX) + strlen(out) + 1;
	char *res = malloc(n);
	if (res == NULL) {
		*error_r = "out of memory";
		return NULL;
	}
	snprintf(res, n, "%s%s", ARGON2ID_PREFIX, out);
	sodium_memzero(out, sizeof(out));
	return res;
}

/* The crypt scheme of stored, with *hash_r pointing after the prefix. */
static const struct password_scheme *crypt_scheme(const char *stored, const char **hash_r)
{
	for (size_t i = 0; i < sizeof(crypt_schemes) / sizeof(crypt_schemes[0]); i++) {
		const struct password_scheme *s = &crypt_schemes[i];
		if (!str_has_prefix(stored, s->prefix))
			continue;
		const char *h = stored + strlen(s->prefix);
		for (int k = 0; s->crypt_ids[k]; k++)
			if (str_has_prefix(h, s->crypt_ids[k])) {
				*hash_r = h;
				return s;
			}
		return NULL;
	}
	return NULL;
}

/* Printable ASCII without spaces: what every supported hash consists of. */
static bool hash_chars_ok(const char *h)
{
	for (; *h; h++)
		if (*h <= ' ' || *h > '~')
			return false;
	return true;
}

int password_check_import(const char *stored, const char **error_r)
{
	const char *h;

	if (strlen(stored) > PASSWORD_HASH_MAX_LEN || !hash_chars_ok(stored)) {
		*error_r = "password hash too long or not printable ASCII";
		return -1;
	}
	if (str_has_prefix(stored, ARGON2ID_PREFIX)) {
		if (!str_has_prefix(stored + strlen(ARGON2ID_PREFIX), "$argon2id$")) {
			*error_r = "{ARGON2ID} hash does not start with $argon2id$";
			return -1;
		}
		return 0;
	}
	if (crypt_scheme(stored, &h) != NULL)
		return 0;
	*error_r = "unsupported password scheme (use {ARGON2ID}, {SHA512-CRYPT}, {SHA256-CRYPT} or {BLF-CRYPT})";
	return -1;
}

int password_verify(const char *stored, const char *plain, const char **error_r)
{
	const char *h;
	size_t plen = strlen(plain);

	if (plen > PASSWORD_MAX_LEN) {
		/* Not an error of the stored data: such a password never matches. */
		return 0;
	}
	if (password_check_import(stored, error_r) < 0)
		return -1;
	if (str_has_prefix(stored, ARGON2ID_PREFIX)) {
		h = stored + strlen(ARGON2ID_PREFIX);
		if (strlen(h) >= crypto_pwhash_STRBYTES) {
			*error_r = "{ARGON2ID} hash too long";
			return -1;
		}
		/* crypto_pwhash_str_verify also fails on out-of-memory; an
		 * unparsable string was excluded above only by its prefix, so a
		 * mangled one reads as a mismatch, which is the safe outcome. */
		return crypto_pwhash_str_verify(h, plain, plen) == 0 ? 1 : 0;
	}
	if (crypt_scheme(stored, &h) == NULL) {
		*error_r = "unsupported password scheme";
		return -1;
	}
	struct crypt_data *cd = calloc(1, sizeof(*cd));
	if (cd == NULL) {
		*error_r = "out of memory";
		return -1;
	}
	const char *res = crypt_r(plain, h, cd);
	int ret;
	size_t hlen = strlen(h);
	if (res == NULL || res[0] == '*') {
		*error_r = "crypt(3) rejected the stored hash (malformed salt or rounds)";
		ret = -1;
	} else if (strlen(res) != hlen) {
		ret = 0;
	} else {
		ret = sodium_memcmp(res, h, hlen) == 0 ? 1 : 0;
	}
	sodium_memzero(cd, sizeof(*cd));
	free(cd);
	return ret;
}

bool password_needs_upgrade(const char *stored)
{
	if (!str_has_prefix(stored, ARGON2ID_PREFIX))
		return true;
	return crypto_pwhash_str_needs_rehash(stored + strlen(ARGON2ID_PREFIX),
					      crypto_pwhash_OPSLIMIT_INTERACTIVE,
					      crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0;
}
