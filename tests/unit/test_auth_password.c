/*
 * test_auth_password.c - password hashing and the imported schemes
 * (auth/password.c), SCRAM key derivation (auth/scram.c) and strict base64
 * (auth/base64.c). Fixtures: openssl passwd -6/-5 -salt saltsalt, bcrypt
 * from libxcrypt, argon2id from libsodium at its minimum cost.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base64.h"
#include "auth/password.h"
#include "auth/scram.h"

#define PW "secret pw"

static void test_new_hash_roundtrip(void **state)
{
	const char *err = NULL;
	char *h = password_hash(PW, &err);

	assert_non_null(h);
	assert_true(strncmp(h, "{ARGON2ID}$argon2id$", 20) == 0);
	assert_int_equal(password_verify(h, PW, &err), 1);
	assert_int_equal(password_verify(h, "secret pW", &err), 0);
	assert_int_equal(password_verify(h, "", &err), 0);
	assert_false(password_needs_upgrade(h));
	free(h);
}

static void test_imported_schemes(void **state)
{
	static const char *const good[] = {
		"{SHA512-CRYPT}$6$saltsalt$zM85MwF7wzNFxhHekCkSASe1NaC/xUx1S2eoXlbcx1w6LkHRO4n1DK7q.d/HKoYFUjJ10GWDs5jLq2A53OAzU1",
		"{SHA256-CRYPT}$5$saltsalt$vCVzagwpKquSflhQxH0D10Fgy2Km11eLAozR93EkXT6",
		"{BLF-CRYPT}$2y$05$abcdefghijklmnopqrstuumsZc.XhT0ytj9DWn3tazXGoQsX4E3J2",
		"{BLF-CRYPT}$2b$05$abcdefghijklmnopqrstuumsZc.XhT0ytj9DWn3tazXGoQsX4E3J2",
		"{ARGON2ID}$argon2id$v=19$m=8,t=1,p=1$TzHIzWNOQPzn3DtzAu/Scw$0XRjCBdtt/3nnDoremU9l/Ah/KbJhTeSiKc3ONe7YXM",
	};
	const char *err = NULL;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		assert_int_equal(password_check_import(good[i], &err), 0);
		assert_int_equal(password_verify(good[i], PW, &err), 1);
		assert_int_equal(password_verify(good[i], "secret pv", &err), 0);
		/* imported schemes (and cheap argon2id) are upgraded on login */
		assert_true(password_needs_upgrade(good[i]));
	}
}

static void test_bad_stored(void **state)
{
	const char *err = NULL;

	assert_int_equal(password_verify("{PLAIN}secret", PW, &err), -1);
	assert_string_equal(err, "unsupported password scheme (use {ARGON2ID}, {SHA512-CRYPT}, {SHA256-CRYPT} or {BLF-CRYPT})");
	assert_int_equal(password_verify("$6$saltsalt$abc", PW, &err), -1);
	assert_int_equal(password_check_import("{SHA512-CRYPT}$1$md5", &err), -1);
	assert_int_equal(password_check_import("{ARGON2ID}$argon2i$v=19$x", &err), -1);
	assert_string_equal(err, "{ARGON2ID} hash does not start with $argon2id$");
	assert_int_equal(password_check_import("{SHA512-CRYPT}$6$a b", &err), -1);
	/* A mangled crypt hash is an error, never a match. */
	assert_true(password_verify("{SHA512-CRYPT}$6$", PW, &err) != 1);
	assert_true(password_verify("{ARGON2ID}$argon2id$v=19$garbage", PW, &err) == 0);
}

static void test_overlong_password(void **state)
{
	char *big = malloc(PASSWORD_MAX_LEN + 2);
	const char *err = NULL;

	memset(big, 'a', PASSWORD_MAX_LEN + 1);
	big[PASSWORD_MAX_LEN + 1] = '\0';
	assert_null(password_hash(big, &err));
	assert_string_equal(err, "password too long");
	assert_int_equal(password_verify("{SHA256-CRYPT}$5$saltsalt$vCVzagwpKquSflhQxH0D10Fgy2Km11eLAozR93EkXT6", big, &err), 0);
	free(big);
}

/* RFC 7677 section 3: user "user", password "pencil". */
static void test_scram_derive_rfc7677(void **state)
{
	struct scram_credentials c;
	unsigned char *salt;
	size_t saltlen;
	const char *err;

	assert_int_equal(base64_decode("W22ZaJ0SNY7soEsUEjb6gQ==", 24, 64, &salt, &saltlen, &err), 0);
	assert_int_equal(scram_derive("pencil", salt, saltlen, 4096, &c, &err), 0);
	char *sk = base64_encode(c.stored_key, SCRAM_KEY_LEN);
	char *vk = base64_encode(c.server_key, SCRAM_KEY_LEN);
	char *text = NULL;
	assert_non_null(sk);
	/* Round trip through the stored text form. */
	text = malloc(200);
	snprintf(text, 200, "4096,W22ZaJ0SNY7soEsUEjb6gQ==,%s,%s", sk, vk);
	struct scram_credentials p;
	assert_int_equal(scram_credentials_parse(text, &p, &err), 0);
	assert_int_equal(p.iterations, 4096);
	assert_memory_equal(p.stored_key, c.stored_key, SCRAM_KEY_LEN);
	assert_memory_equal(p.server_key, c.server_key, SCRAM_KEY_LEN);
	assert_int_equal(scram_credentials_parse("4096,W22Z,abc", &p, &err), -1);
	assert_int_equal(scram_credentials_parse("x,W22ZaJ0SNY7soEsUEjb6gQ==,AA==,AA==", &p, &err), -1);
	free(text);
	free(sk);
	free(vk);
	free(salt);

	char *n = scram_credentials_new("pencil", &err);
	assert_non_null(n);
	assert_int_equal(scram_credentials_parse(n, &p, &err), 0);
	assert_int_equal(p.iterations, SCRAM_ITERATIONS_DEFAULT);
	free(n);
}

static void test_base64_strict(void **state)
{
	static const struct { const char *in; const char *out; } ok[] = {
		{ "", "" }, { "Zg==", "f" }, { "Zm8=", "fo" }, { "Zm9v", "foo" },
		{ "Zm9vYg==", "foob" }, { "AGEAYg==", "\0a\0b" },
	};
	static const char *const bad[] = {
		"Zg=", "Zg", "Zh==", "Zm9=", "Z===", "Zm9v\n", "Zm 9", "=Zm9", "Zg==Zg==", "Zm9-", "Zm=v",
	};
	unsigned char *out;
	size_t n;
	const char *err;

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		assert_int_equal(base64_decode(ok[i].in, strlen(ok[i].in), 100, &out, &n, &err), 0);
		assert_int_equal(n, i == 5 ? 4 : strlen(ok[i].out));
		assert_memory_equal(out, ok[i].out, n);
		free(out);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(base64_decode(bad[i], strlen(bad[i]), 100, &out, &n, &err), -1);
	}
	assert_int_equal(base64_decode("Zm9vYg==", 8, 3, &out, &n, &err), -1);
	assert_string_equal(err, "base64 data too long");
	char *e = base64_encode("\0a\0b", 4);
	assert_string_equal(e, "AGEAYg==");
	free(e);
	e = base64_encode("fo", 2);
	assert_string_equal(e, "Zm8=");
	free(e);
}

int main(void)
{
	const char *err;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_new_hash_roundtrip),
		cmocka_unit_test(test_imported_schemes),
		cmocka_unit_test(test_bad_stored),
		cmocka_unit_test(test_overlong_password),
		cmocka_unit_test(test_scram_derive_rfc7677),
		cmocka_unit_test(test_base64_strict),
	};
	if (password_init(&err) < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
