/*
 * auth-cache.h - the authentication cache (Dovecot's auth_cache_size,
 * auth_cache_ttl, auth_cache_negative_ttl): remembers the outcome of a
 * password verification so that the same user logging in again with the
 * same password skips the slow hash (argon2id ~60 ms, 64 MiB) or the PAM
 * conversation.
 *
 * What an entry holds (never a password, never a hash that could be
 * checked without the process's secret key): per backend and user, a
 * 32-byte keyed BLAKE2b tag of (user, state, password) for the last
 * success and one for the last failure, each with its time. "state" is
 * what the backend verified against: the stored hash string for virtual
 * users (so `postern user passwd` or an upgrade changes it and the entry
 * stops matching at once), a stamp of /etc/passwd and /etc/shadow for PAM.
 * The key is random per process (libsodium randombytes), so a tag is
 * useless outside this process and forgotten at every restart or reload.
 * Tags are compared in constant time.
 *
 * How Dovecot differs (its passdb-cache.c, documented in "Authentication
 * Caching"): Dovecot caches the passdb's stored hash and verifies the
 * password against it again on each hit (so an ARGON2ID hit still costs
 * the hash; only the passdb lookup is skipped); for PAM it caches an
 * unsalted SHA1 of the password after a success. Postern's LMDB lookup
 * is cheap and always done (disabled users and changed hashes are seen
 * at once); what the cache skips is the verification itself.
 *
 * Negative entries (auth_cache_negative_ttl, 0 disables them) are, as in
 * Dovecot, "user unknown" and "password mismatch" - here only for the
 * exact password that failed, so a client retrying an old password is
 * answered without the hash, while every new guess still costs one. The
 * failure delay and the penalty (penalty.c) apply to cached failures as to
 * any other: they are decided in auth-server.c after the backend answers.
 *
 * Memory: fixed-size entries, at most auth_cache_size bytes including the
 * hash table; the least recently used entry is evicted when full. Expired
 * entries are not used and are replaced in place or evicted.
 *
 * Single-threaded: call from the auth role's event loop thread only.
 * Callers: passdb-virtual.c, passdb-pam.c; created by auth-role.c.
 */
#ifndef POSTERN_AUTH_CACHE_H
#define POSTERN_AUTH_CACHE_H

#include <stddef.h>
#include <time.h>

#include "auth/auth-server.h"

enum auth_cache_result {
	AUTH_CACHE_MISS,      /* nothing usable: verify for real */
	AUTH_CACHE_OK,        /* this password verified before, state unchanged */
	AUTH_CACHE_MISMATCH,  /* this password failed before, state unchanged */
	AUTH_CACHE_UNKNOWN,   /* the backend did not know the user, state unchanged */
};

struct auth_cache_settings {
	size_t max_bytes;     /* auth_cache_size */
	long ttl;             /* auth_cache_ttl, seconds, > 0 */
	long negative_ttl;    /* auth_cache_negative_ttl, seconds; 0: no negative entries */
	time_t (*now)(void);  /* clock; NULL: time(NULL). Tests inject one. */
};

struct auth_cache_stats {
	unsigned long hits, misses, evictions;
	size_t entries, max_entries;
};

struct auth_cache;

/* auth_cache_new - an empty cache with a fresh random key. NULL with
 * *error_r static when max_bytes cannot hold one entry, ttl is not
 * positive, or memory is short. */
struct auth_cache *auth_cache_new(const struct auth_cache_settings *set, const char **error_r);

/* auth_cache_free - wipe the key and the tags, free everything; sets
 * *cache to NULL. NULL is fine. */
void auth_cache_free(struct auth_cache **cache);

/* auth_cache_lookup - what is known about password for user of backend
 * verified against state (all borrowed, NUL-terminated; password NULL
 * asks only about "user unknown"). Refreshes the entry's LRU position on a
 * hit. */
enum auth_cache_result auth_cache_lookup(struct auth_cache *cache, const char *backend,
					 const char *user, const char *state,
					 const char *password);

/* auth_cache_store - remember the outcome res of a real verification of
 * password (may be NULL for PASSDB_UNKNOWN) against state. PASSDB_OK,
 * PASSDB_MISMATCH and PASSDB_UNKNOWN are stored (the last two only when
 * negative_ttl > 0); PASSDB_DISABLED and PASSDB_TEMPFAIL are not. Out of
 * memory just leaves the cache as it was. */
void auth_cache_store(struct auth_cache *cache, const char *backend, const char *user,
		      const char *state, const char *password, enum passdb_result res);

/* auth_cache_flush - drop every entry (the key stays). */
void auth_cache_flush(struct auth_cache *cache);

/* auth_cache_get_stats - counters since creation (or the last flush for
 * entries). */
void auth_cache_get_stats(const struct auth_cache *cache, struct auth_cache_stats *stats);

/* auth_cache_entry_size - bytes one entry costs against max_bytes
 * (entry plus its hash-table slot); for tests and the docs. */
size_t auth_cache_entry_size(void);

#endif
