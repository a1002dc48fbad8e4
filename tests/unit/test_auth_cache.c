/*
 * test_auth_cache.c - the authentication cache (auth/auth-cache.c) and
 * its use by the virtual backend (auth/passdb-virtual.c): hits and misses,
 * a wrong password never accepted from an entry, TTL expiry on an
 * injected clock (positive and negative separately), LRU eviction at the
 * auth_cache_size bound, and a changed or disabled user seen at once.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth/auth-cache.h"
#include "auth/passdb.h"
#include "auth/password.h"
#include "auth/userdb.h"

static time_t fake_now = 1000000;
static time_t fake_clock(void)
{
	return fake_now;
}

static struct auth_cache *cache_make(size_t entries, long ttl, long neg_ttl)
{
	struct auth_cache_settings set = {
		.max_bytes = entries * auth_cache_entry_size(), .ttl = ttl,
		.negative_ttl = neg_ttl, .now = fake_clock,
	};
	const char *err = NULL;
	struct auth_cache *c = auth_cache_new(&set, &err);

	assert_non_null(c);
	return c;
}

#define S1 "{ARGON2ID}$argon2id$v=19$m=65536,t=2,p=1$c2FsdA$aGFzaDE"
#define S2 "{ARGON2ID}$argon2id$v=19$m=65536,t=2,p=1$c2FsdA$aGFzaDI"

static void test_hit_and_miss(void **state)
{
	struct auth_cache *c = cache_make(100, 3600, 3600);
	struct auth_cache_stats st;

	fake_now = 1000000;
	assert_int_equal(auth_cache_lookup(c, "virtual", "a@x.test", S1, "pw1"), AUTH_CACHE_MISS);
	auth_cache_store(c, "virtual", "a@x.test", S1, "pw1", PASSDB_OK);
	assert_int_equal(auth_cache_lookup(c, "virtual", "a@x.test", S1, "pw1"), AUTH_CACHE_OK);
	/* every part of the triple and the backend counts */
	assert_int_equal(auth_cache_lookup(c, "virtual", "b@x.test", S1, "pw1"), AUTH_CACHE_MISS);
	assert_int_equal(auth_cache_lookup(c, "pam", "a@x.test", S1, "pw1"), AUTH_CACHE_MISS);
	assert_int_equal(auth_cache_lookup(c, "virtual", "a@x.test", S1, "pw"), AUTH_CACHE_MISS);
	assert_int_equal(auth_cache_lookup(c, "virtual", "a@x.test", S1, "pw1 "), AUTH_CACHE_MISS);
	assert_int_equal(auth_cache_lookup(c, "virtual", "a@x.test", S1, ""), AUTH_CACHE_MISS);
	/* length prefixes: moving bytes between fields is another triple */
	auth_cache_store(c, "virtual", "ab", "c", "d", PASSDB_OK);
	assert_int_equal(auth_cache_lookup(c, "virtual", "ab", "c", "d"), AUTH_CACHE_OK);
	assert_int_equal(auth_cache_lookup(c, "virtual", "ab", "cd", ""), AUTH_CACHE_MISS);
	auth_cache_get_stats(c, &st);
	assert_int_equal(st.hits, 2);
	assert_int_equal(st.misses, 7);
	assert_int_equal(st.entries, 2);
	auth_cache_free(&c);
	assert_null(c);
}

static void test_wrong_password_not_accepted(void **state)
{
	struct auth_cache *c = cache_make(100, 3600, 3600);

	auth_cache_store(c, "virtual", "a@x.test", S1, "right", PASSDB_OK);
	assert_int_equal(auth_cache_lookup(c, "virtual", "a@x.test", S1, "wrong"), AUTH_CACHE_MISS);
	auth_cache_store(c, "virtual", "a@x.test", S1, "wrong", PASSDB_MISMATCH);
	assert_int_equal(auth_cache_lookup(c, "virtual", "a@x.test", S1, "wrong"), AUTH_CACHE_MISMATCH);
	/* the failure slot does not disturb the success, nor the reverse */
	assert_int_equal(auth_cache_lookup(c, "virtual", "a@x.test", S1, "right"), AUTH_CACHE_OK);
	auth_cache_store(c, "virtual", "a@x.test", S1, "right", PASSDB_OK);
	assert_int_equal(auth_cache_lookup(c, "virtual", "a@x.test", S1, "wrong"), AUTH_CACHE_MISMATCH);
	/* a third password is neither */
	assert_int_equal(auth_cache_lookup(c, "virtual", "a@x.test", S1, "other"), AUTH_CACHE_MISS);
	/* a password that failed becomes right after a change of the hash:
	 * the old failure does not match the new state */
	assert_int_equal(auth_cache_lookup(c, "virtual", "a@x.test", S2, "wrong"), AUTH_CACHE_MISS);
	auth_cache_free(&c);
}

static void test_changed_state_invalidates(void **state)
{
	struct auth_cache *c = cache_make(100, 3600, 3600);

	auth_cache_store(c, "virtual", "a@x.test", S1, "pw1", PASSDB_OK);
	assert_int_equal(auth_cache_lookup(c, "virtual", "a@x.test", S2, "pw1"), AUTH_CACHE_MISS);
	auth_cache_store(c, "virtual", "a@x.test", S2, "pw2", PASSDB_OK);
	assert_int_equal(auth_cache_lookup(c, "virtual", "a@x.test", S2, "pw2"), AUTH_CACHE_OK);
	/* one success slot per user: the old password is gone even against
	 * the old state */
	assert_int_equal(auth_cache_lookup(c, "virtual", "a@x.test", S1, "pw1"), AUTH_CACHE_MISS);
	auth_cache_free(&c);
}

static void test_ttl_expiry(void **state)
{
	struct auth_cache *c = cache_make(100, 60, 10);

	fake_now = 2000000;
	auth_cache_store(c, "virtual", "a@x.test", S1, "pw", PASSDB_OK);
	auth_cache_store(c, "virtual", "a@x.test", S1, "bad", PASSDB_MISMATCH);
	fake_now += 9;
	assert_int_equal(auth_cache_lookup(c, "virtual", "a@x.test", S1, "bad"), AUTH_CACHE_MISMATCH);
	fake_now += 1;   /* negative ttl (10 s) reached */
	assert_int_equal(auth_cache_lookup(c, "virtual", "a@x.test", S1, "bad"), AUTH_CACHE_MISS);
	assert_int_equal(auth_cache_lookup(c, "virtual", "a@x.test", S1, "pw"), AUTH_CACHE_OK);
	fake_now = 2000000 + 59;
	assert_int_equal(auth_cache_lookup(c, "virtual", "a@x.test", S1, "pw"), AUTH_CACHE_OK);
	fake_now = 2000000 + 60;  /* ttl reached */
	assert_int_equal(auth_cache_lookup(c, "virtual", "a@x.test", S1, "pw"), AUTH_CACHE_MISS);
	/* a fresh verification renews it */
	auth_cache_store(c, "virtual", "a@x.test", S1, "pw", PASSDB_OK);
	assert_int_equal(auth_cache_lookup(c, "virtual", "a@x.test", S1, "pw"), AUTH_CACHE_OK);
	/* a clock set back makes entries stale, not immortal */
	fake_now -= 3600;
	assert_int_equal(auth_cache_lookup(c, "virtual", "a@x.test", S1, "pw"), AUTH_CACHE_MISS);
	auth_cache_free(&c);
}

static void test_negative_entries(void **state)
{
	struct auth_cache *c = cache_make(100, 3600, 3600);
	struct auth_cache *off = cache_make(100, 3600, 0);

	fake_now = 3000000;
	auth_cache_store(c, "pam", "ghost", "stamp1", NULL, PASSDB_UNKNOWN);
	assert_int_equal(auth_cache_lookup(c, "pam", "ghost", "stamp1", "anything"), AUTH_CACHE_UNKNOWN);
	assert_int_equal(auth_cache_lookup(c, "pam", "ghost", "stamp1", NULL), AUTH_CACHE_UNKNOWN);
	/* useradd changes the stamp */
	assert_int_equal(auth_cache_lookup(c, "pam", "ghost", "stamp2", "anything"), AUTH_CACHE_MISS);
	/* never stored: disabled and temporary failures */
	auth_cache_store(c, "pam", "bob", "stamp1", "pw", PASSDB_DISABLED);
	auth_cache_store(c, "pam", "bob", "stamp1", "pw", PASSDB_TEMPFAIL);
	assert_int_equal(auth_cache_lookup(c, "pam", "bob", "stamp1", "pw"), AUTH_CACHE_MISS);
	/* auth_cache_negative_ttl = 0: failures are not cached at all */
	auth_cache_store(off, "pam", "ghost", "stamp1", NULL, PASSDB_UNKNOWN);
	auth_cache_store(off, "virtual", "a@x.test", S1, "bad", PASSDB_MISMATCH);
	assert_int_equal(auth_cache_lookup(off, "pam", "ghost", "stamp1", "x"), AUTH_CACHE_MISS);
	assert_int_equal(auth_cache_lookup(off, "virtual", "a@x.test", S1, "bad"), AUTH_CACHE_MISS);
	struct auth_cache_stats st;
	auth_cache_get_stats(off, &st);
	assert_int_equal(st.entries, 0);
	auth_cache_free(&c);
	auth_cache_free(&off);
}

static void test_lru_eviction_at_size_bound(void **state)
{
	struct auth_cache *c = cache_make(3, 3600, 3600);
	struct auth_cache_stats st;

	fake_now = 4000000;
	auth_cache_store(c, "virtual", "a", S1, "pa", PASSDB_OK);
	auth_cache_store(c, "virtual", "b", S1, "pb", PASSDB_OK);
	auth_cache_store(c, "virtual", "c", S1, "pc", PASSDB_OK);
	auth_cache_get_stats(c, &st);
	assert_int_equal(st.max_entries, 3);
	assert_int_equal(st.entries, 3);
	/* a hit makes "a" recent; "b" is now the least recently used */
	assert_int_equal(auth_cache_lookup(c, "virtual", "a", S1, "pa"), AUTH_CACHE_OK);
	auth_cache_store(c, "virtual", "d", S1, "pd", PASSDB_OK);
	assert_int_equal(auth_cache_lookup(c, "virtual", "b", S1, "pb"), AUTH_CACHE_MISS);
	assert_int_equal(auth_cache_lookup(c, "virtual", "a", S1, "pa"), AUTH_CACHE_OK);
	assert_int_equal(auth_cache_lookup(c, "virtual", "c", S1, "pc"), AUTH_CACHE_OK);
	assert_int_equal(auth_cache_lookup(c, "virtual", "d", S1, "pd"), AUTH_CACHE_OK);
	auth_cache_get_stats(c, &st);
	assert_int_equal(st.entries, 3);
	assert_int_equal(st.evictions, 1);
	/* updating an existing entry does not evict */
	auth_cache_store(c, "virtual", "a", S1, "pa2", PASSDB_OK);
	auth_cache_get_stats(c, &st);
	assert_int_equal(st.evictions, 1);
	/* many more users than room: the bound holds */
	for (int i = 0; i < 1000; i++) {
		char u[16];
		snprintf(u, sizeof(u), "u%d", i);
		auth_cache_store(c, "virtual", u, S1, "p", PASSDB_OK);
	}
	auth_cache_get_stats(c, &st);
	assert_int_equal(st.entries, 3);
	assert_int_equal(auth_cache_lookup(c, "virtual", "u999", S1, "p"), AUTH_CACHE_OK);
	assert_int_equal(auth_cache_lookup(c, "virtual", "u996", S1, "p"), AUTH_CACHE_MISS);
	auth_cache_flush(c);
	auth_cache_get_stats(c, &st);
	assert_int_equal(st.entries, 0);
	assert_int_equal(auth_cache_lookup(c, "virtual", "u999", S1, "p"), AUTH_CACHE_MISS);
	auth_cache_free(&c);
}

static void test_bad_settings(void **state)
{
	struct auth_cache_settings set = { .max_bytes = auth_cache_entry_size() - 1, .ttl = 60 };
	const char *err = NULL;

	assert_null(auth_cache_new(&set, &err));
	assert_string_equal(err, "too small to hold one entry");
	set.max_bytes = 10 * 1024 * 1024;
	set.ttl = 0;
	assert_null(auth_cache_new(&set, &err));
	assert_string_equal(err, "time to live must be positive");
	/* 10M holds tens of thousands of users */
	set.ttl = 3600;
	struct auth_cache *c = auth_cache_new(&set, &err);
	struct auth_cache_stats st;
	assert_non_null(c);
	auth_cache_get_stats(c, &st);
	assert_true(st.max_entries > 50000);
	auth_cache_free(&c);
}

/* The virtual backend with a real user database, inline verification. */

static char dir[64];
static enum passdb_result last_res;
static int calls;

static void on_done(void *ctx, enum passdb_result res)
{
	(void)ctx;
	last_res = res;
	calls++;
}

static void put_user(struct userdb *db, const char *pw, bool enabled, enum userdb_put_mode mode)
{
	const char *perr = NULL;
	char *err = NULL;
	char *hash = password_hash(pw, &perr);
	struct userdb_user u = { .address = "a@x.test", .enabled = enabled, .password = hash };

	assert_non_null(hash);
	assert_int_equal(userdb_user_put(db, &u, mode, &err), 0);
	free(hash);
}

static enum passdb_result verify(struct passdb *pdb, const char *pw, bool *hit)
{
	calls = 0;
	pdb->verify(pdb, "a@x.test", pw, on_done, NULL);
	assert_int_equal(calls, 1);
	*hit = pdb->cache_hit;
	return last_res;
}

static void test_passdb_virtual_cached(void **state)
{
	struct userdb *db = NULL;
	struct auth_cache *c = cache_make(100, 3600, 3600);
	struct passdb *pdb;
	const char *perr = NULL;
	char *err = NULL;
	bool hit;

	fake_now = 5000000;
	assert_int_equal(password_init(&perr), 0);
	snprintf(dir, sizeof(dir), "/tmp/test_authcache.XXXXXX");
	assert_non_null(mkdtemp(dir));
	rmdir(dir);
	assert_int_equal(userdb_open(dir, USERDB_CREATE, &db, &err), 0);
	assert_int_equal(userdb_domain_add(db, "x.test", &err), 1);
	put_user(db, "pw1", true, USERDB_PUT_NEW);
	pdb = passdb_virtual_new(db, NULL);
	pdb->cache = c;

	assert_int_equal(verify(pdb, "pw1", &hit), PASSDB_OK);
	assert_false(hit);
	assert_int_equal(verify(pdb, "pw1", &hit), PASSDB_OK);
	assert_true(hit);
	assert_int_equal(verify(pdb, "wrong", &hit), PASSDB_MISMATCH);
	assert_false(hit);
	assert_int_equal(verify(pdb, "wrong", &hit), PASSDB_MISMATCH);
	assert_true(hit);

	/* postern user passwd: the new hash is read before the cache is
	 * asked, so the old password fails at once and the new one works */
	put_user(db, "pw2", true, USERDB_PUT_REPLACE);
	assert_int_equal(verify(pdb, "pw1", &hit), PASSDB_MISMATCH);
	assert_false(hit);
	assert_int_equal(verify(pdb, "pw2", &hit), PASSDB_OK);
	assert_false(hit);
	assert_int_equal(verify(pdb, "pw2", &hit), PASSDB_OK);
	assert_true(hit);

	/* postern user disable: refused although the password is cached */
	put_user(db, "pw2", false, USERDB_PUT_REPLACE);
	assert_int_equal(verify(pdb, "pw2", &hit), PASSDB_DISABLED);
	assert_false(hit);

	/* deleted: unknown, not a cached success */
	assert_int_equal(userdb_user_del(db, "a@x.test", &err), 1);
	assert_int_equal(verify(pdb, "pw2", &hit), PASSDB_UNKNOWN);
	assert_false(hit);

	passdb_virtual_free(&pdb);
	userdb_close(&db);
	auth_cache_free(&c);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hit_and_miss),
		cmocka_unit_test(test_wrong_password_not_accepted),
		cmocka_unit_test(test_changed_state_invalidates),
		cmocka_unit_test(test_ttl_expiry),
		cmocka_unit_test(test_negative_entries),
		cmocka_unit_test(test_lru_eviction_at_size_bound),
		cmocka_unit_test(test_bad_settings),
		cmocka_unit_test(test_passdb_virtual_cached),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
