/*
 * mech.c - the mechanism table and the helpers shared by the mech-*.c
 * files. Called by auth-server.c and the mechanism fuzz harness.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sodium.h>

#include "auth/mech.h"
#include "auth/password.h"

/* No mechanism here needs more than three client messages; anything longer
 * is a client looping on us. */
#define MECH_MAX_STEPS 4

static const struct mech_def *const mech_table[] = {
	&mech_plain, &mech_login, &mech_scram_sha256,
};

const struct mech_def *mech_find(const char *name)
{
	for (size_t i = 0; i < sizeof(mech_table) / sizeof(mech_table[0]); i++)
		if (strcasecmp(mech_table[i]->name, name) == 0)
			return mech_table[i];
	return NULL;
}

void mech_request_init(struct mech_request *req, const struct mech_def *mech)
{
	memset(req, 0, sizeof(*req));
	req->mech = mech;
	strbuf_init(&req->out, MECH_DATA_MAX);
}

enum mech_status mech_request_step(struct mech_request *req, const unsigned char *data, size_t len)
{
	strbuf_reset(&req->out);
	if (++req->steps > MECH_MAX_STEPS)
		return mech_fail(req, "too many SASL round trips");
	if (data && len > MECH_DATA_MAX)
		return mech_fail(req, "SASL response too long");
	return req->mech->step(req, data, len);
}

void mech_request_free(struct mech_request *req)
{
	if (req->mech && req->mech->free_state)
		req->mech->free_state(req);
	req->state = NULL;
	strbuf_free(&req->out);
	x_free(&req->authcid);
	if (req->password) {
		sodium_memzero(req->password, strlen(req->password));
		x_free(&req->password);
	}
}

bool mech_username_valid(const char *name, size_t len)
{
	if (len == 0 || len > MECH_USERNAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f)
			return false;
	return true;
}

enum mech_status mech_fail(struct mech_request *req, const char *reason)
{
	req->fail_reason = reason;
	return MECH_FAIL;
}

enum mech_status mech_set_credentials(struct mech_request *req, const unsigned char *user,
				      size_t ulen, const unsigned char *pass, size_t plen)
{
	if (!mech_username_valid((const char *)user, ulen))
		return mech_fail(req, "invalid user name");
	if (plen > PASSWORD_MAX_LEN || memchr(pass, '\0', plen))
		return mech_fail(req, "invalid password");
	req->authcid = strndup((const char *)user, ulen);
	req->password = strndup((const char *)pass, plen);
	if (req->authcid == NULL || req->password == NULL) {
		req->fail_temp = true;
		return mech_fail(req, "out of memory");
	}
	return MECH_VERIFY;
}
