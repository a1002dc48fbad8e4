/*
 * passdb-virtual.c - the virtual-user password backend: looks the user up
 * in the LMDB database (fast, on the event loop), verifies the hash on a
 * worker thread (argon2id costs ~0.1 s), and after a successful login
 * with a weak or imported hash stores a new argon2id hash and SCRAM keys
 * (the password is only in memory at this moment).
 *
 * With auth_cache_size set, a password verified before against the same
 * stored hash is answered from auth-cache.c without the hash; the user
 * record is still read first, so disabling a user or `postern user
 * passwd` takes effect at the next login.
 *
 * Disabled users and users without a password fail like a wrong password:
 * the client sees the same FAIL; only the log tells them apart.
 */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth-cache.h"
#include "auth/passdb.h"
#include "auth/password.h"
#include "auth/scram.h"
#include "auth/userdb.h"
#include "worker.h"
#include "log.h"
#include "util.h"

struct passdb_virtual {
	struct passdb pub;
	struct userdb *db;
	struct worker_pool *pool;
};

struct virtual_job {
	struct worker_job job;
	struct passdb_virtual *pv;
	char *user, *stored, *password;
	char *new_hash, *new_scram;
	enum passdb_result result;
	const char *error;
	passdb_done_fn *done;
	void *ctx;
};

static void virtual_job_run(struct worker_job *job)
{
	struct virtual_job *j = (struct virtual_job *)job;
	int r = password_verify(j->stored, j->password, &j->error);

	if (r < 0) {
		j->result = PASSDB_TEMPFAIL;
		return;
	}
	j->result = r == 1 ? PASSDB_OK : PASSDB_MISMATCH;
	if (r == 1 && password_needs_upgrade(j->stored)) {
		const char *err;
		j->new_hash = password_hash(j->password, &err);
		j->new_scram = j->new_hash ? scram_credentials_new(j->password, &err) : NULL;
	}
}

static void virtual_job_free(struct virtual_job *j)
{
	free(j->user);
	free(j->stored);
	if (j->password) {
		sodium_memzero(j->password, strlen(j->password));
		free(j->password);
	}
	free(j->new_hash);
	free(j->new_scram);
	free(j);
}

static void virtual_job_done(struct worker_job *job)
{
	struct virtual_job *j = (struct virtual_job *)job;
	passdb_done_fn *done = j->done;
	void *ctx = j->ctx;
	enum passdb_result res = j->result;

	if (res == PASSDB_TEMPFAIL && j->error)
		log_error("auth: user %s: stored password hash unusable: %s; set a new one with "
			  "\"postern user passwd %s\"", j->user, j->error, j->user);
	/* The state the cache remembers is the hash now stored: a weak hash
	 * that could not be upgraded is not cached, so the upgrade is tried
	 * again at the next login. */
	const char *cache_state = password_needs_upgrade(j->stored) ? NULL : j->stored;
	if (j->new_hash && j->new_scram) {
		char *err = NULL;
		int r = userdb_user_upgrade(j->pv->db, j->user, j->stored, j->new_hash, j->new_scram, &err);
		if (r < 0) {
			log_warn("auth: user %s: could not upgrade the password hash: %s", j->user, err);
			free(err);
		} else if (r > 0) {
			log_info("auth: user %s: password hash upgraded to argon2id with SCRAM keys", j->user);
			cache_state = j->new_hash;
		}
	}
	if (j->pv->pub.cache && (res == PASSDB_MISMATCH || cache_state))
		auth_cache_store(j->pv->pub.cache, "virtual", j->user, cache_state ? cache_state : j->stored,
				 j->password, res);
	j->pv->pub.cache_hit = false;
	virtual_job_free(j);
	done(ctx, res);
}

static void virtual_verify(struct passdb *pdb, const char *user, const char *password,
			   passdb_done_fn *done, void *ctx)
{
	struct passdb_virtual *pv = pdb->ctx;
	struct userdb_user u;
	char *err = NULL;
	int r = userdb_user_get(pv->db, user, &u, &err);

	if (r < 0) {
		log_error("auth: %s", err);
		free(err);
		pdb->cache_hit = false;
		done(ctx, PASSDB_TEMPFAIL);
		return;
	}
	if (r == 0) {
		pdb->cache_hit = false;
		done(ctx, PASSDB_UNKNOWN);
		return;
	}
	if (!u.enabled || u.password == NULL) {
		userdb_user_clear(&u);
		pdb->cache_hit = false;
		done(ctx, PASSDB_DISABLED);
		return;
	}
	/* The record was just read, so a disabled user or a changed hash is
	 * seen before the cache is asked; the hash is part of what the cache
	 * compares. */
	if (pdb->cache) {
		enum auth_cache_result cr = auth_cache_lookup(pdb->cache, "virtual", user, u.password, password);
		if (cr == AUTH_CACHE_OK || cr == AUTH_CACHE_MISMATCH) {
			userdb_user_clear(&u);
			pdb->cache_hit = true;
			done(ctx, cr == AUTH_CACHE_OK ? PASSDB_OK : PASSDB_MISMATCH);
			return;
		}
	}
	struct virtual_job *j = calloc(1, sizeof(*j));
	if (j == NULL || (j->user = strdup(user)) == NULL || (j->stored = strdup(u.password)) == NULL ||
	    (j->password = strdup(password)) == NULL) {
		if (j)
			virtual_job_free(j);
		userdb_user_clear(&u);
		pdb->cache_hit = false;
		done(ctx, PASSDB_TEMPFAIL);
		return;
	}
	userdb_user_clear(&u);
	j->job.run = virtual_job_run;
	j->job.done = virtual_job_done;
	j->pv = pv;
	j->result = PASSDB_TEMPFAIL;
	j->done = done;
	j->ctx = ctx;
	if (pv->pool == NULL) {
		virtual_job_run(&j->job);
		virtual_job_done(&j->job);
		return;
	}
	if (worker_pool_submit(pv->pool, &j->job) < 0) {
		log_warn("auth: worker queue full, failing the login of %s as temporary", user);
		virtual_job_done(&j->job);
	}
}

static int virtual_scram_lookup(struct passdb *pdb, const char *user, struct scram_credentials *c)
{
	struct passdb_virtual *pv = pdb->ctx;
	struct userdb_user u;
	char *err = NULL;
	const char *perr;
	int r = userdb_user_get(pv->db, user, &u, &err);

	if (r < 0) {
		log_error("auth: %s", err);
		free(err);
		return -1;
	}
	if (r == 0)
		return 0;
	r = u.enabled && u.password && u.scram && scram_credentials_parse(u.scram, c, &perr) == 0;
	userdb_user_clear(&u);
	return r;
}

struct passdb *passdb_virtual_new(struct userdb *db, struct worker_pool *pool)
{
	struct passdb_virtual *pv = must_calloc(1, sizeof(*pv));

	pv->pub.name = "virtual";
	pv->pub.verify = virtual_verify;
	pv->pub.scram_lookup = virtual_scram_lookup;
	pv->pub.ctx = pv;
	pv->db = db;
	pv->pool = pool;
	return &pv->pub;
}

void passdb_virtual_free(struct passdb **db)
{
	if (*db == NULL)
		return;
	free((*db)->ctx);
	*db = NULL;
}
