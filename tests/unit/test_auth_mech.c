/*
 * test_auth_mech.c - SASL mechanisms (auth/mech-*.c): PLAIN and LOGIN
 * decoding edge cases, SCRAM-SHA-256 against the RFC 7677 section 3
 * exchange, and SCRAM failure paths.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "base64.h"
#include "auth/mech.h"

static enum mech_status step(struct mech_request *req, const char *data, size_t len)
{
	return mech_request_step(req, (const unsigned char *)data, len);
}

static void test_plain_ok(void **state)
{
	struct mech_request r;

	mech_request_init(&r, mech_find("plain"));
	assert_int_equal(step(&r, "\0alice@example.org\0pw", 21), MECH_VERIFY);
	assert_string_equal(r.authcid, "alice@example.org");
	assert_string_equal(r.password, "pw");
	mech_request_free(&r);

	/* authzid equal to authcid is fine; empty password is passed on */
	mech_request_init(&r, &mech_plain);
	assert_int_equal(step(&r, "bob\0bob\0", 8), MECH_VERIFY);
	assert_string_equal(r.password, "");
	mech_request_free(&r);

	/* no initial response: empty challenge, then the response */
	mech_request_init(&r, &mech_plain);
	assert_int_equal(step(&r, NULL, 0), MECH_CONTINUE);
	assert_int_equal(r.out.len, 0);
	assert_int_equal(step(&r, "\0bob\0x", 6), MECH_VERIFY);
	mech_request_free(&r);
}

static void test_plain_bad(void **state)
{
	static const struct { const char *data; size_t len; const char *reason; } cases[] = {
		{ "alice", 5, "malformed PLAIN response (no NUL separator)" },
		{ "\0alice", 6, "malformed PLAIN response (one NUL separator, want two)" },
		{ "\0alice\0pw\0x", 11, "malformed PLAIN response (NUL in password)" },
		{ "mallory\0alice\0pw", 16, "authorization identity differs from authentication identity" },
		{ "\0\0pw", 4, "invalid user name" },
		{ "\0al\tice\0pw", 10, "invalid user name" },
		{ "\0al\nice\0pw", 10, "invalid user name" },
	};
	struct mech_request r;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		mech_request_init(&r, &mech_plain);
		assert_int_equal(step(&r, cases[i].data, cases[i].len), MECH_FAIL);
		assert_string_equal(r.fail_reason, cases[i].reason);
		assert_null(r.authcid);
		mech_request_free(&r);
	}
	/* overlong user and overlong data */
	char big[MECH_DATA_MAX + 10];
	memset(big, 'a', sizeof(big));
	big[0] = '\0';
	big[300] = '\0';
	mech_request_init(&r, &mech_plain);
	assert_int_equal(step(&r, big, 400), MECH_FAIL);
	assert_string_equal(r.fail_reason, "invalid user name");
	mech_request_free(&r);
	mech_request_init(&r, &mech_plain);
	assert_int_equal(step(&r, big, sizeof(big)), MECH_FAIL);
	assert_string_equal(r.fail_reason, "SASL response too long");
	mech_request_free(&r);
	/* a second empty step does not loop */
	mech_request_init(&r, &mech_plain);
	assert_int_equal(step(&r, NULL, 0), MECH_CONTINUE);
	assert_int_equal(step(&r, NULL, 0), MECH_FAIL);
	mech_request_free(&r);
}

static void test_login(void **state)
{
	struct mech_request r;

	mech_request_init(&r, mech_find("LOGIN"));
	assert_int_equal(step(&r, NULL, 0), MECH_CONTINUE);
	assert_string_equal(r.out.data, "Username:");
	assert_int_equal(step(&r, "carol", 5), MECH_CONTINUE);
	assert_string_equal(r.out.data, "Password:");
	assert_int_equal(step(&r, "s3cret", 6), MECH_VERIFY);
	assert_string_equal(r.authcid, "carol");
	assert_string_equal(r.password, "s3cret");
	mech_request_free(&r);

	/* initial response carries the user name */
	mech_request_init(&r, &mech_login);
	assert_int_equal(step(&r, "carol", 5), MECH_CONTINUE);
	assert_string_equal(r.out.data, "Password:");
	assert_int_equal(step(&r, "x", 1), MECH_VERIFY);
	mech_request_free(&r);

	mech_request_init(&r, &mech_login);
	assert_int_equal(step(&r, NULL, 0), MECH_CONTINUE);
	assert_int_equal(step(&r, "", 0), MECH_FAIL);
	assert_string_equal(r.fail_reason, "invalid user name");
	mech_request_free(&r);

	mech_request_init(&r, &mech_login);
	assert_int_equal(step(&r, "carol", 5), MECH_CONTINUE);
	assert_int_equal(step(&r, "pw\0x", 4), MECH_FAIL);
	assert_string_equal(r.fail_reason, "invalid password");
	mech_request_free(&r);
}

/* RFC 7677 credentials for "user"/"pencil". */
static int rfc_lookup(void *ctx, const char *user, struct scram_credentials *c)
{
	const char *err;
	unsigned char *salt;
	size_t n;

	if (strcmp(user, "user") != 0)
		return *(int *)ctx;
	assert_int_equal(base64_decode("W22ZaJ0SNY7soEsUEjb6gQ==", 24, 64, &salt, &n, &err), 0);
	assert_int_equal(scram_derive("pencil", salt, n, 4096, c, &err), 0);
	free(salt);
	return 1;
}

#define CFIRST "n,,n=user,r=rOprNGfwEbeRWgbNEkqO"
#define SNONCE "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
#define SFIRST "r=rOprNGfwEbeRWgbNEkqO" SNONCE ",s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
#define CFINAL "c=biws,r=rOprNGfwEbeRWgbNEkqO" SNONCE ",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
#define SFINAL "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="

static void scram_init(struct mech_request *r, int *notfound)
{
	mech_request_init(r, mech_find("scram-sha-256"));
	r->scram_lookup = rfc_lookup;
	r->scram_lookup_ctx = notfound;
	r->test_server_nonce = SNONCE;
}

static void test_scram_rfc7677(void **state)
{
	struct mech_request r;
	int nf = 0;

	scram_init(&r, &nf);
	assert_int_equal(step(&r, CFIRST, strlen(CFIRST)), MECH_CONTINUE);
	assert_string_equal(r.out.data, SFIRST);
	assert_int_equal(step(&r, CFINAL, strlen(CFINAL)), MECH_SUCCESS);
	assert_string_equal(r.out.data, SFINAL);
	assert_string_equal(r.authcid, "user");
	assert_null(r.password);
	assert_int_equal(step(&r, "x", 1), MECH_FAIL);
	mech_request_free(&r);

	/* empty initial response first */
	scram_init(&r, &nf);
	assert_int_equal(step(&r, NULL, 0), MECH_CONTINUE);
	assert_int_equal(step(&r, CFIRST, strlen(CFIRST)), MECH_CONTINUE);
	assert_int_equal(step(&r, CFINAL, strlen(CFINAL)), MECH_SUCCESS);
	mech_request_free(&r);
}

static void test_scram_bad(void **state)
{
	static const struct { const char *first; const char *reason; } firsts[] = {
		{ "p=tls-unique,,n=user,r=abc", "SCRAM channel binding is not supported" },
		{ "x,,n=user,r=abc", "malformed SCRAM gs2 header" },
		{ "n,a=other,n=user,r=abc", "authorization identity differs from authentication identity" },
		{ "n,,m=ext,n=user,r=abc", "SCRAM mandatory extensions are not supported" },
		{ "n,,n=us=3Xer,r=abc", "invalid user name" },
		{ "n,,n=user", "malformed SCRAM client-first message (no nonce)" },
		{ "n,,n=user,r=", "malformed SCRAM client nonce" },
		{ "n,,u=user,r=abc", "malformed SCRAM user name" },
	};
	struct mech_request r;
	int nf = 0;

	for (size_t i = 0; i < sizeof(firsts) / sizeof(firsts[0]); i++) {
		scram_init(&r, &nf);
		assert_int_equal(step(&r, firsts[i].first, strlen(firsts[i].first)), MECH_FAIL);
		assert_string_equal(r.fail_reason, firsts[i].reason);
		mech_request_free(&r);
	}

	/* wrong proof */
	const char *bad_proof = "c=biws,r=rOprNGfwEbeRWgbNEkqO" SNONCE ",p=AHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
	scram_init(&r, &nf);
	assert_int_equal(step(&r, CFIRST, strlen(CFIRST)), MECH_CONTINUE);
	assert_int_equal(step(&r, bad_proof, strlen(bad_proof)), MECH_FAIL);
	assert_string_equal(r.fail_reason, "authentication failed");
	mech_request_free(&r);

	/* nonce mismatch, binding mismatch */
	const char *bad_nonce = "c=biws,r=rOprNGfwEbeRWgbNEkqOX,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
	scram_init(&r, &nf);
	step(&r, CFIRST, strlen(CFIRST));
	assert_int_equal(step(&r, bad_nonce, strlen(bad_nonce)), MECH_FAIL);
	assert_string_equal(r.fail_reason, "SCRAM nonce mismatch");
	mech_request_free(&r);
	const char *bad_cb = "c=eSws,r=rOprNGfwEbeRWgbNEkqO" SNONCE ",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
	scram_init(&r, &nf);
	step(&r, CFIRST, strlen(CFIRST));
	assert_int_equal(step(&r, bad_cb, strlen(bad_cb)), MECH_FAIL);
	assert_string_equal(r.fail_reason, "SCRAM channel binding data mismatch");
	mech_request_free(&r);

	/* unknown user: same-looking server-first, failure at the proof */
	const char *other = "n,,n=nobody,r=abc";
	scram_init(&r, &nf);
	assert_int_equal(step(&r, other, strlen(other)), MECH_CONTINUE);
	assert_true(strncmp(r.out.data, "r=abc" SNONCE ",s=", 5 + strlen(SNONCE) + 3) == 0);
	assert_non_null(strstr(r.out.data, ",i=10000"));
	const char *fin = "c=biws,r=abc" SNONCE ",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
	assert_int_equal(step(&r, fin, strlen(fin)), MECH_FAIL);
	assert_string_equal(r.fail_reason, "authentication failed");
	mech_request_free(&r);

	/* temporary lookup failure */
	nf = -1;
	scram_init(&r, &nf);
	assert_int_equal(step(&r, other, strlen(other)), MECH_FAIL);
	assert_true(r.fail_temp);
	mech_request_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_ok),
		cmocka_unit_test(test_plain_bad),
		cmocka_unit_test(test_login),
		cmocka_unit_test(test_scram_rfc7677),
		cmocka_unit_test(test_scram_bad),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
