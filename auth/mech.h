/*
 * mech.h - SASL mechanisms, server side: one file per mechanism
 * (mech-plain.c RFC 4616, mech-login.c draft-murchison-sasl-login,
 * mech-scram-sha256.c RFC 5802/7677) behind one small interface.
 *
 * Mechanisms are pure byte transformers: no I/O, no backend calls except
 * the synchronous SCRAM credential lookup given by the caller, so the
 * protocol server (auth-server.c) and the fuzz harness drive them alike.
 * Data in and out is raw (already base64-decoded / not yet encoded).
 *
 * Each step returns:
 *   MECH_CONTINUE  send req->out as a challenge (CONT) and wait for more
 *   MECH_VERIFY    req->authcid + req->password are ready for the passdb
 *   MECH_SUCCESS   authenticated as req->authcid; req->out is final data
 *                  for the client (may be empty)
 *   MECH_FAIL      req->fail_reason (static, safe to send) says why
 */
#ifndef POSTERN_AUTH_MECH_H
#define POSTERN_AUTH_MECH_H

#include <stdbool.h>
#include <stddef.h>

#include "auth/scram.h"
#include "util.h"

/* Limits on decoded client data. */
#define MECH_USERNAME_MAX 255
#define MECH_DATA_MAX 4096

enum mech_status { MECH_CONTINUE, MECH_VERIFY, MECH_SUCCESS, MECH_FAIL };

struct mech_request;

/* SCRAM credential lookup: 1 found (creds filled), 0 no such user or no
 * SCRAM keys, -1 temporary failure. */
typedef int mech_scram_lookup_fn(void *ctx, const char *user, struct scram_credentials *creds);

struct mech_def {
	const char *name;    /* "PLAIN" as on the wire */
	bool plaintext;      /* sends the password: refused without TLS (disable_plaintext_auth) */
	/* step - data is NULL when the client sent no initial response. */
	enum mech_status (*step)(struct mech_request *req, const unsigned char *data, size_t len);
	void (*free_state)(struct mech_request *req);
};

struct mech_request {
	const struct mech_def *mech;
	void *state;               /* mechanism-private, freed by free_state */
	int steps;                 /* step calls so far; bounds the exchange */
	struct strbuf out;         /* challenge or final data */
	char *authcid;             /* user to authenticate (new memory) */
	char *password;            /* MECH_VERIFY: plaintext password (wiped on free) */
	const char *fail_reason;   /* MECH_FAIL: static text */
	bool fail_temp;            /* MECH_FAIL: temporary (backend unavailable) */
	mech_scram_lookup_fn *scram_lookup;
	void *scram_lookup_ctx;
	/* Tests only: fixed SCRAM server nonce instead of a random one. */
	const char *test_server_nonce;
};

/* mech_find - the mechanism called name (case-insensitive), NULL if none. */
const struct mech_def *mech_find(const char *name);

/* mech_request_init - start req for mech; never fails. */
void mech_request_init(struct mech_request *req, const struct mech_def *mech);

/* mech_request_step - run one step, bounding the number of round trips. */
enum mech_status mech_request_step(struct mech_request *req, const unsigned char *data, size_t len);

/* mech_request_free - free state, wipe and free the password. */
void mech_request_free(struct mech_request *req);

/* mech_username_valid - a user name we accept: 1..MECH_USERNAME_MAX bytes,
 * no control characters (NUL, TAB, CR, LF would break the protocol). */
bool mech_username_valid(const char *name, size_t len);

/* Helpers for mechanisms: set req->fail_reason and return MECH_FAIL. */
enum mech_status mech_fail(struct mech_request *req, const char *reason);
/* Set authcid and password from raw bytes (validated). */
enum mech_status mech_set_credentials(struct mech_request *req, const unsigned char *user,
				      size_t ulen, const unsigned char *pass, size_t plen);

extern const struct mech_def mech_plain;
extern const struct mech_def mech_login;
extern const struct mech_def mech_scram_sha256;

#endif
