/*
 * restrict-userdb.c - the restrictions' default user look-up: the auth
 * role's userdb socket (auth_userdb_socket_path) through auth-client.h,
 * "USER name" for unlisted recipients and "SENDERS login" for sender
 * ownership. The connection is made on first use and made again after it
 * broke (auth-client fails every pending request with temp = true then).
 */
#include <stdlib.h>

#include "auth/auth-client.h"
#include "log.h"
#include "restrict-private.h"
#include "util.h"

struct userdb_call {
	struct restrictions *r;
	unsigned id;
	struct userdb_call *next;
	restrict_userdb_done_fn *done;
	void *req_ctx;
};

static void reply_cb(void *ctx, const struct auth_client_reply *reply)
{
	struct userdb_call *call = ctx;
	struct restrictions *r = call->r;
	enum restrict_userdb_status st;

	for (struct userdb_call **pp = &r->auth_calls; *pp; pp = &(*pp)->next)
		if (*pp == call) {
			*pp = call->next;
			break;
		}
	r->auth_pending--;
	switch (reply->status) {
	case AUTH_CLIENT_OK:
		st = RESTRICT_USERDB_FOUND;
		break;
	case AUTH_CLIENT_NOTFOUND:
		st = RESTRICT_USERDB_NOTFOUND;
		break;
	default:
		st = RESTRICT_USERDB_TEMPFAIL;
		/* It may have broken; make a new connection next time. */
		r->auth_stale = true;
		break;
	}
	call->done(call->req_ctx, st, reply->fields, reply->n_fields);
	free(call);
}

unsigned restrict_userdb_default_lookup(void *ctx, const char *what, const char *user,
					restrict_userdb_done_fn *done, void *req_ctx)
{
	struct restrictions *r = ctx;
	struct userdb_call *call;
	unsigned id;

	if (r->base == NULL)
		return 0;
	if (r->auth && r->auth_stale && r->auth_pending == 0) {
		auth_client_free(&r->auth);
		r->auth_stale = false;
	}
	if (r->auth == NULL) {
		char *err = NULL;

		r->auth = auth_client_new(r->base, r->userdb_path, AUTH_CLIENT_USERDB, &err);
		if (r->auth == NULL) {
			log_warn("restrictions: userdb %s: %s", r->userdb_path, err ? err : "failed");
			free(err);
			return 0;
		}
	}
	call = calloc(1, sizeof(*call));
	if (call == NULL)
		return 0;
	call->r = r;
	call->done = done;
	call->req_ctx = req_ctx;
	id = auth_client_lookup(r->auth, what, user, "smtp", reply_cb, call);
	if (id == 0) {
		free(call);
		r->auth_stale = true;
		return 0;
	}
	r->auth_pending++;
	call->id = id;
	call->next = r->auth_calls;
	r->auth_calls = call;
	return id;
}

void restrict_userdb_default_cancel(void *ctx, unsigned id)
{
	struct restrictions *r = ctx;

	for (struct userdb_call **pp = &r->auth_calls; *pp; pp = &(*pp)->next)
		if ((*pp)->id == id) {
			struct userdb_call *call = *pp;

			*pp = call->next;
			free(call);
			auth_client_cancel(r->auth, id);
			r->auth_pending--;
			return;
		}
}

void restrict_userdb_default_free(struct restrictions *r)
{
	auth_client_free(&r->auth);
	while (r->auth_calls) {
		struct userdb_call *call = r->auth_calls;

		r->auth_calls = call->next;
		free(call);
	}
}
