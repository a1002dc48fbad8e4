/*
 * userdb.h - the virtual user database: one LMDB environment (a directory,
 * auth_user_database) with three named databases:
 *   users    ADDRESS -> record (below)
 *   domains  DOMAIN  -> "1"  (virtual mailbox domains users may live in)
 *   aliases  ALIAS   -> owner ADDRESS (addresses a user may send as)
 *
 * A user record is text, versioned by its first field, one tab-separated
 * key=value per attribute (values never contain control characters):
 *   1 \t enabled=1 \t password={ARGON2ID}$argon2id$... \t scram=I,S,K,K
 *     \t quota=BYTES \t mail=LOCATION \t aliases=a@x,b@y
 * A reader that meets an unknown version refuses the record (and logs);
 * unknown keys in a known version are ignored, so fields can be added.
 *
 * Writers: `postern user/domain` (cli/cmd-user.c, cmd-domain.c) and the
 * auth role (password upgrade after login). Readers: the auth role.
 * LMDB's MVCC lets the CLI write while the role reads: a change is visible
 * to the next lookup, no reload. Keys are stored as given: callers pass
 * normalised (lower-case) addresses.
 *
 * Public header of auth/ for the CLI. Functions returning int: 1/0 as
 * documented, -1 on error with *error_r set to new memory (caller frees).
 */
#ifndef POSTERN_AUTH_USERDB_H
#define POSTERN_AUTH_USERDB_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "util.h"

#define USERDB_RECORD_VERSION 1
#define USERDB_ADDRESS_MAX 255
#define USERDB_RECORD_MAX 16384
#define USERDB_ALIASES_MAX 100

struct userdb;

struct userdb_user {
	char *address;        /* key */
	bool enabled;
	char *password;       /* "{SCHEME}hash", NULL: no password (cannot log in) */
	char *scram;          /* scram.h text form, NULL: no SCRAM keys */
	long long quota_bytes;/* 0: no limit */
	char *mail;           /* mail_location override, NULL: the global one */
	char **aliases;       /* n_aliases owned addresses */
	size_t n_aliases;
};

#define USERDB_CREATE 0x01  /* create the directory and databases if missing */

/* userdb_open - open the environment in dir. 0, or -1 with *error_r. */
int userdb_open(const char *dir, unsigned flags, struct userdb **db_r, char **error_r);
/* userdb_close - close and set *db to NULL. */
void userdb_close(struct userdb **db);
/* userdb_chown - give dir and its files to uid:gid with modes 0700/0600
 * (the CLI running as root, so that the role as mail_owner can use them). */
int userdb_chown(const char *dir, uid_t uid, gid_t gid, char **error_r);

/* userdb_address_valid - local@domain, 3..USERDB_ADDRESS_MAX bytes,
 * printable ASCII or UTF-8, no spaces, commas or controls. */
bool userdb_address_valid(const char *address);
/* userdb_domain_valid - a plausible domain name (letters, digits, -, .). */
bool userdb_domain_valid(const char *domain);

/* Record codec (exposed for tests and the fuzz harness). encode appends to
 * out: 0, or -1 with *error_r static. decode fills u (address copied):
 * 0, or -1 with *error_r static. */
int userdb_record_encode(const struct userdb_user *u, struct strbuf *out, const char **error_r);
int userdb_record_decode(const char *address, const void *data, size_t len,
			 struct userdb_user *u, const char **error_r);
/* userdb_user_clear - free every field (password wiped) and zero u. */
void userdb_user_clear(struct userdb_user *u);

/* userdb_user_get - 1 found (u filled, caller clears), 0 not found, -1 error. */
int userdb_user_get(struct userdb *db, const char *address, struct userdb_user *u, char **error_r);

enum userdb_put_mode { USERDB_PUT_NEW, USERDB_PUT_REPLACE };
/* userdb_user_put - store u. The domain must exist; NEW fails if the user
 * exists, REPLACE if it does not; each alias must not be a user or owned
 * by another user. The aliases database is updated in the same
 * transaction. 0, or -1 with *error_r saying what and how to fix it. */
int userdb_user_put(struct userdb *db, const struct userdb_user *u, enum userdb_put_mode mode,
		    char **error_r);

/* userdb_user_del - 1 deleted (with its aliases), 0 not found, -1 error. */
int userdb_user_del(struct userdb *db, const char *address, char **error_r);

/* userdb_user_upgrade - replace password and scram of address only if its
 * stored password still equals old_password (a concurrent `postern user
 * passwd` wins). 1 replaced, 0 left alone, -1 error. */
int userdb_user_upgrade(struct userdb *db, const char *address, const char *old_password,
			const char *new_password, const char *new_scram, char **error_r);

/* Iteration: fn is called for each entry in key order; a non-zero return
 * stops. domain NULL: all users. Returns 0, or -1 with *error_r. */
typedef int userdb_user_fn(const struct userdb_user *u, void *ctx);
int userdb_user_list(struct userdb *db, const char *domain, userdb_user_fn *fn, void *ctx,
		     char **error_r);
typedef int userdb_domain_fn(const char *domain, void *ctx);
int userdb_domain_list(struct userdb *db, userdb_domain_fn *fn, void *ctx, char **error_r);

/* userdb_domain_add - 1 added, 0 existed, -1 error. */
int userdb_domain_add(struct userdb *db, const char *domain, char **error_r);
/* userdb_domain_del - 1 deleted, 0 not found, -1 error (also when users
 * still live in it; the message says to delete them first). */
int userdb_domain_del(struct userdb *db, const char *domain, char **error_r);
/* userdb_domain_exists - 1, 0, or -1. */
int userdb_domain_exists(struct userdb *db, const char *domain, char **error_r);

/* userdb_alias_owner - 1 with *owner_r (new memory), 0 not an owned alias, -1. */
int userdb_alias_owner(struct userdb *db, const char *alias, char **owner_r, char **error_r);

#endif
