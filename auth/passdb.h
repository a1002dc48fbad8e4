/*
 * passdb.h - constructors of the password backends (struct passdb in
 * auth-server.h), one file each. Called by auth-role.c, which builds the
 * chain in auth_backends order.
 */
#ifndef POSTERN_AUTH_PASSDB_H
#define POSTERN_AUTH_PASSDB_H

#include <stdbool.h>

#include "auth/auth-server.h"

struct userdb;
struct worker_pool;

/* passdb_virtual_new - users of the LMDB database db (borrowed). Hash
 * verification runs on pool (NULL: inline, for tests); a verified weak
 * hash is replaced by argon2id + SCRAM keys. Never fails (exits on OOM at
 * start-up). */
struct passdb *passdb_virtual_new(struct userdb *db, struct worker_pool *pool);
void passdb_virtual_free(struct passdb **db);

/* passdb_pam_new - system users through PAM service `service`;
 * localpart: user@domain is checked as "user". Runs on pool (required). *
 * local_domains (NULL-terminated, copied) are the domains whose addresses
 * name system accounts (mydestination): user@other.example is never a
 * system user, so it is UNKNOWN here rather than checked against the
 * account "user". A bare name (no @) always is. */
struct passdb *passdb_pam_new(const char *service, bool localpart,
			      const char *const *local_domains, struct worker_pool *pool);
void passdb_pam_free(struct passdb **db);

#endif
