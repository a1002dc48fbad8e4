/*
 * mech-scram-sha256.c - SCRAM-SHA-256 server (RFC 5802 section 5 and 7,
 * RFC 7677). Two client messages:
 *   client-first  gs2-header ("n,," / "y,," / "n,a=AUTHZID,") + "n=USER,r=CNONCE"
 *   client-final  "c=" base64(gs2-header) ",r=" NONCE ",p=" base64(proof)
 * answered by server-first "r=NONCE,s=SALT,i=ITER" and, after the proof
 * checks out, the final data "v=" base64(ServerSignature).
 *
 * Channel binding is not offered (the mechanism list has no -PLUS), so "p="
 * is refused; "y" is accepted (the client could bind but thinks we cannot,
 * which is true). Users without stored SCRAM keys, and unknown users, get
 * fake salt and keys derived from a per-process secret, so the exchange
 * looks the same and fails only at the proof: no user enumeration.
 */
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

#include "base64.h"
#include "auth/mech.h"

#define SCRAM_NONCE_BYTES 18

enum scram_stage { SCRAM_WANT_FIRST, SCRAM_WANT_FINAL, SCRAM_DONE };

struct scram_state {
	enum scram_stage stage;
	struct scram_credentials creds;
	bool creds_real;
	char *gs2_header;
	char *client_first_bare;
	char *server_first;
	char *nonce;
};

/* saslname decoding (=2C -> ',', =3D -> '='); NULL when malformed. */
static char *scram_decode_name(const char *p, size_t len)
{
	char *out = malloc(len + 1);
	size_t o = 0;

	if (out == NULL)
		return NULL;
	for (size_t i = 0; i < len; i++) {
		if (p[i] == '=') {
			if (i + 2 < len && p[i + 1] == '2' && p[i + 2] == 'C')
				out[o++] = ',';
			else if (i + 2 < len && p[i + 1] == '3' && p[i + 2] == 'D')
				out[o++] = '=';
			else {
				free(out);
				return NULL;
			}
			i += 2;
		} else {
			out[o++] = p[i];
		}
	}
	out[o] = '\0';
	return out;
}

static unsigned char fake_secret[32];
static bool fake_secret_set;

static void scram_fake_credentials(const char *user, struct scram_credentials *c)
{
	unsigned char mac[SCRAM_KEY_LEN];

	if (!fake_secret_set) {
		if (RAND_bytes(fake_secret, sizeof(fake_secret)) != 1)
			memset(fake_secret, 0x5a, sizeof(fake_secret));
		fake_secret_set = true;
	}
	if (scram_hmac(fake_secret, sizeof(fake_secret), user, strlen(user), mac) < 0)
		memset(mac, 0, sizeof(mac));
	c->iterations = SCRAM_ITERATIONS_DEFAULT;
	memcpy(c->salt, mac, 16);
	c->salt_len = 16;
	if (RAND_bytes(c->stored_key, SCRAM_KEY_LEN) != 1)
		memset(c->stored_key, 0xa5, SCRAM_KEY_LEN);
	memset(c->server_key, 0, SCRAM_KEY_LEN);
}

/* Printable ASCII except ',' (RFC 5802 "printable"). */
static bool scram_nonce_valid(const char *p, size_t len)
{
	if (len == 0)
		return false;
	for (size_t i = 0; i < len; i++)
		if (p[i] < 0x21 || p[i] > 0x7e || p[i] == ',')
			return false;
	return true;
}

static enum mech_status scram_first(struct mech_request *req, struct scram_state *st,
				    const char *msg, size_t len)
{
	const char *end = msg + len, *p = msg, *c;
	char *authzid = NULL, *user;

	if (len < 3)
		return mech_fail(req, "malformed SCRAM client-first message");
	if (p[0] == 'p')
		return mech_fail(req, "SCRAM channel binding is not supported");
	if ((p[0] != 'n' && p[0] != 'y') || p[1] != ',')
		return mech_fail(req, "malformed SCRAM gs2 header");
	p += 2;
	c = memchr(p, ',', (size_t)(end - p));
	if (c == NULL)
		return mech_fail(req, "malformed SCRAM gs2 header");
	if (c > p) {
		if (c - p < 3 || p[0] != 'a' || p[1] != '=')
			return mech_fail(req, "malformed SCRAM authorization identity");
		authzid = scram_decode_name(p + 2, (size_t)(c - p - 2));
		if (authzid == NULL)
			return mech_fail(req, "malformed SCRAM authorization identity");
	}
	p = c + 1;
	st->gs2_header = strndup(msg, (size_t)(p - msg));
	st->client_first_bare = strndup(p, (size_t)(end - p));
	if (st->gs2_header == NULL || st->client_first_bare == NULL) {
		free(authzid);
		req->fail_temp = true;
		return mech_fail(req, "out of memory");
	}
	if (end - p >= 2 && p[0] == 'm' && p[1] == '=') {
		free(authzid);
		return mech_fail(req, "SCRAM mandatory extensions are not supported");
	}
	/* n=USER */
	if (end - p < 2 || p[0] != 'n' || p[1] != '=') {
		free(authzid);
		return mech_fail(req, "malformed SCRAM user name");
	}
	c = memchr(p, ',', (size_t)(end - p));
	if (c == NULL) {
		free(authzid);
		return mech_fail(req, "malformed SCRAM client-first message (no nonce)");
	}
	user = scram_decode_name(p + 2, (size_t)(c - p - 2));
	if (user == NULL || !mech_username_valid(user, strlen(user))) {
		free(authzid);
		free(user);
		return mech_fail(req, "invalid user name");
	}
	if (authzid && strcmp(authzid, user) != 0) {
		free(authzid);
		free(user);
		return mech_fail(req, "authorization identity differs from authentication identity");
	}
	free(authzid);
	req->authcid = user;
	/* r=CNONCE[,extensions] */
	p = c + 1;
	if (end - p < 3 || p[0] != 'r' || p[1] != '=')
		return mech_fail(req, "malformed SCRAM client nonce");
	p += 2;
	c = memchr(p, ',', (size_t)(end - p));
	size_t cnonce_len = (size_t)((c ? c : end) - p);
	if (!scram_nonce_valid(p, cnonce_len))
		return mech_fail(req, "malformed SCRAM client nonce");

	int found = req->scram_lookup ? req->scram_lookup(req->scram_lookup_ctx, user, &st->creds) : 0;
	if (found < 0) {
		req->fail_temp = true;
		return mech_fail(req, "temporary failure looking up the user");
	}
	st->creds_real = found > 0;
	if (!st->creds_real)
		scram_fake_credentials(user, &st->creds);

	char snonce[64];
	if (req->test_server_nonce) {
		str_copy(snonce, req->test_server_nonce, sizeof(snonce));
	} else {
		unsigned char rnd[SCRAM_NONCE_BYTES];
		if (RAND_bytes(rnd, sizeof(rnd)) != 1)
			return mech_fail(req, "no random bytes");
		char *b = base64_encode(rnd, sizeof(rnd));   /* 24 chars, no ',' */
		if (b == NULL)
			return mech_fail(req, "out of memory");
		str_copy(snonce, b, sizeof(snonce));
		free(b);
	}
	struct strbuf nb;
	strbuf_init(&nb, 512);
	if (strbuf_append(&nb, p, cnonce_len) < 0 || strbuf_puts(&nb, snonce) < 0) {
		strbuf_free(&nb);
		return mech_fail(req, "SCRAM nonce too long");
	}
	st->nonce = strbuf_steal(&nb);
	char *salt = base64_encode(st->creds.salt, st->creds.salt_len);
	if (st->nonce == NULL || salt == NULL) {
		free(salt);
		return mech_fail(req, "out of memory");
	}
	int r = strbuf_printf(&req->out, "r=%s,s=%s,i=%u", st->nonce, salt, st->creds.iterations);
	free(salt);
	if (r < 0)
		return mech_fail(req, "SCRAM server-first message too long");
	st->server_first = strdup(req->out.data);
	if (st->server_first == NULL)
		return mech_fail(req, "out of memory");
	st->stage = SCRAM_WANT_FINAL;
	return MECH_CONTINUE;
}

static enum mech_status scram_final(struct mech_request *req, struct scram_state *st,
				    const char *msg, size_t len)
{
	const char *end = msg + len, *p = msg, *c, *proof_at;
	char *cb = NULL;
	unsigned char *proof = NULL;
	size_t proof_len = 0;
	const char *err;
	enum mech_status ret = MECH_FAIL;

	/* c=base64(gs2-header) */
	if (len < 2 || p[0] != 'c' || p[1] != '=')
		return mech_fail(req, "malformed SCRAM client-final message");
	c = memchr(p, ',', len);
	if (c == NULL)
		return mech_fail(req, "malformed SCRAM client-final message");
	cb = base64_encode(st->gs2_header, strlen(st->gs2_header));
	if (cb == NULL)
		return mech_fail(req, "out of memory");
	if (strlen(cb) != (size_t)(c - p - 2) || memcmp(cb, p + 2, strlen(cb)) != 0) {
		free(cb);
		return mech_fail(req, "SCRAM channel binding data mismatch");
	}
	free(cb);
	/* r=NONCE */
	p = c + 1;
	c = memchr(p, ',', (size_t)(end - p));
	size_t nlen = strlen(st->nonce);
	if (c == NULL || end - p < 2 || p[0] != 'r' || p[1] != '=' ||
	    (size_t)(c - p - 2) != nlen || memcmp(p + 2, st->nonce, nlen) != 0)
		return mech_fail(req, "SCRAM nonce mismatch");
	/* ... [,extensions] ,p=PROOF: the proof is the last attribute. */
	proof_at = NULL;
	for (const char *q = end - 1; q > msg; q--)
		if (*q == ',') {
			proof_at = q + 1;
			break;
		}
	if (proof_at == NULL || end - proof_at < 2 || proof_at[0] != 'p' || proof_at[1] != '=')
		return mech_fail(req, "malformed SCRAM proof");
	if (base64_decode(proof_at + 2, (size_t)(end - proof_at - 2), SCRAM_KEY_LEN, &proof,
			  &proof_len, &err) < 0 || proof_len != SCRAM_KEY_LEN) {
		free(proof);
		return mech_fail(req, "malformed SCRAM proof");
	}

	/* AuthMessage = client-first-bare "," server-first "," final-without-proof */
	struct strbuf am;
	strbuf_init(&am, 3 * MECH_DATA_MAX);
	unsigned char sig[SCRAM_KEY_LEN], client_key[SCRAM_KEY_LEN], stored[SCRAM_KEY_LEN];
	if (strbuf_printf(&am, "%s,%s,", st->client_first_bare, st->server_first) < 0 ||
	    strbuf_append(&am, msg, (size_t)(proof_at - 1 - msg)) < 0 ||
	    scram_hmac(st->creds.stored_key, SCRAM_KEY_LEN, am.data, am.len, sig) < 0) {
		req->fail_temp = true;
		mech_fail(req, "SCRAM computation failed");
		goto out;
	}
	for (int i = 0; i < SCRAM_KEY_LEN; i++)
		client_key[i] = proof[i] ^ sig[i];
	if (scram_sha256(client_key, SCRAM_KEY_LEN, stored) < 0) {
		mech_fail(req, "SCRAM computation failed");
		goto out;
	}
	if (CRYPTO_memcmp(stored, st->creds.stored_key, SCRAM_KEY_LEN) != 0 || !st->creds_real) {
		mech_fail(req, "authentication failed");
		goto out;
	}
	if (scram_hmac(st->creds.server_key, SCRAM_KEY_LEN, am.data, am.len, sig) < 0) {
		mech_fail(req, "SCRAM computation failed");
		goto out;
	}
	char *v = base64_encode(sig, SCRAM_KEY_LEN);
	if (v == NULL || strbuf_printf(&req->out, "v=%s", v) < 0) {
		free(v);
		mech_fail(req, "out of memory");
		goto out;
	}
	free(v);
	ret = MECH_SUCCESS;
out:
	OPENSSL_cleanse(client_key, sizeof(client_key));
	strbuf_free(&am);
	free(proof);
	return ret;
}

static enum mech_status mech_scram_step(struct mech_request *req, const unsigned char *data,
					size_t len)
{
	struct scram_state *st = req->state;

	if (st == NULL) {
		st = calloc(1, sizeof(*st));
		if (st == NULL) {
			req->fail_temp = true;
			return mech_fail(req, "out of memory");
		}
		req->state = st;
		if (data == NULL)
			return MECH_CONTINUE;   /* empty challenge: send client-first */
	} else if (data == NULL) {
		return mech_fail(req, "SCRAM response missing");
	}
	if (memchr(data, '\0', len))
		return mech_fail(req, "NUL in SCRAM message");
	if (st->stage == SCRAM_WANT_FIRST) {
		if (st->gs2_header)
			return mech_fail(req, "SCRAM client-first sent twice");
		return scram_first(req, st, (const char *)data, len);
	}
	if (st->stage == SCRAM_DONE)
		return mech_fail(req, "SCRAM exchange already finished");
	st->stage = SCRAM_DONE;
	return scram_final(req, st, (const char *)data, len);
}

static void mech_scram_free(struct mech_request *req)
{
	struct scram_state *st = req->state;

	if (st == NULL)
		return;
	OPENSSL_cleanse(&st->creds, sizeof(st->creds));
	free(st->gs2_header);
	free(st->client_first_bare);
	free(st->server_first);
	free(st->nonce);
	free(st);
}

const struct mech_def mech_scram_sha256 = {
	.name = "SCRAM-SHA-256",
	.plaintext = false,
	.step = mech_scram_step,
	.free_state = mech_scram_free,
};
