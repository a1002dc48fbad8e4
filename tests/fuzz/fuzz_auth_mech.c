/*
 * fuzz_auth_mech.c - libFuzzer harness for the SASL mechanism decoders
 * (auth/mech-plain.c, mech-login.c, mech-scram-sha256.c) and the strict
 * base64 decoder. The first byte picks the mechanism; the rest is split at
 * 0xff bytes into successive client messages, each first tried as base64
 * (as it arrives on the socket) and then given raw to the mechanism.
 * Seed corpus: tests/fuzz/corpus/fuzz_auth_mech/.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base64.h"
#include "auth/mech.h"

static int lookup(void *ctx, const char *user, struct scram_credentials *c)
{
	static const unsigned char salt[16] = { 9, 8, 7 };
	const char *err;

	(void)ctx;
	if (strcmp(user, "user") != 0)
		return user[0] == 't' ? -1 : 0;
	return scram_derive("pencil", salt, sizeof(salt), 4096, c, &err) == 0 ? 1 : -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct mech_def *const mechs[] = { &mech_plain, &mech_login, &mech_scram_sha256 };
	struct mech_request req;

	if (size < 1)
		return 0;
	mech_request_init(&req, mechs[data[0] % 3]);
	req.scram_lookup = lookup;
	req.test_server_nonce = data[0] & 0x80 ? "fixednonce" : NULL;
	const uint8_t *p = data + 1, *end = data + size;
	bool first = true;
	while (p <= end) {
		const uint8_t *sep = memchr(p, 0xff, (size_t)(end - p));
		size_t len = (size_t)((sep ? sep : end) - p);
		unsigned char *dec = NULL;
		size_t dlen;
		const char *err;
		/* base64 decoding of the same bytes, as the socket would */
		if (base64_decode((const char *)p, len, MECH_DATA_MAX, &dec, &dlen, &err) == 0) {
			char *enc = base64_encode(dec, dlen);
			if (enc && (strlen(enc) != len || memcmp(enc, p, len) != 0))
				abort();   /* strict decoding must round-trip */
			free(enc);
			free(dec);
		}
		enum mech_status st = mech_request_step(&req, (first && len == 0) ? NULL : p, len);
		first = false;
		if (st != MECH_CONTINUE)
			break;
		if (sep == NULL)
			break;
		p = sep + 1;
	}
	mech_request_free(&req);
	return 0;
}
