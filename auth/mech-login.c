/*
 * mech-login.c - SASL LOGIN (draft-murchison-sasl-login-00, what Outlook
 * and old clients use): server challenges "Username:" then "Password:",
 * the client answers each. An initial response, if sent, is the user name.
 */
#include <stdlib.h>
#include <string.h>

#include "auth/mech.h"

struct login_state {
	unsigned char user[MECH_USERNAME_MAX];
	size_t user_len;
	bool have_user;
};

static enum mech_status login_take_user(struct mech_request *req, struct login_state *st,
					const unsigned char *data, size_t len)
{
	if (!mech_username_valid((const char *)data, len))
		return mech_fail(req, "invalid user name");
	memcpy(st->user, data, len);
	st->user_len = len;
	st->have_user = true;
	if (strbuf_puts(&req->out, "Password:") < 0)
		return mech_fail(req, "out of memory");
	return MECH_CONTINUE;
}

static enum mech_status mech_login_step(struct mech_request *req, const unsigned char *data,
					size_t len)
{
	struct login_state *st = req->state;

	if (st == NULL) {
		st = calloc(1, sizeof(*st));
		if (st == NULL) {
			req->fail_temp = true;
			return mech_fail(req, "out of memory");
		}
		req->state = st;
		if (data != NULL)
			return login_take_user(req, st, data, len);
		if (strbuf_puts(&req->out, "Username:") < 0)
			return mech_fail(req, "out of memory");
		return MECH_CONTINUE;
	}
	if (data == NULL)
		return mech_fail(req, "LOGIN response missing");
	if (!st->have_user)
		return login_take_user(req, st, data, len);
	return mech_set_credentials(req, st->user, st->user_len, data, len);
}

static void mech_login_free(struct mech_request *req)
{
	free(req->state);
}

const struct mech_def mech_login = {
	.name = "LOGIN",
	.plaintext = true,
	.step = mech_login_step,
	.free_state = mech_login_free,
};
