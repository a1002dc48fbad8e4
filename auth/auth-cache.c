/*
 * auth-cache.c - the authentication cache: a hash table of fixed-size
 * entries with an LRU list, holding keyed BLAKE2b tags of verified
 * (user, state, password) triples. What it stores, what a hit skips and
 * how it differs from Dovecot's cache: auth-cache.h.
 *
 * Three tags are derived with one per-process random key, each with its
 * own domain byte so that no tag of one kind can stand for another:
 *   'I' (backend, user)                    - the entry's identity and table
 *                                            index (unpredictable to a
 *                                            client, so no hash flooding)
 *   'P' (backend, user, state, password)   - a verified (or failed) password
 *   'U' (backend, user, state)             - "user unknown"
 * Every field is length-prefixed, so ("ab","c") and ("a","bc") differ.
 */
#include <sodium.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth-cache.h"

#define TAG_LEN 32

struct cache_entry {
	struct cache_entry *hnext;            /* hash chain */
	struct cache_entry *lru_prev, *lru_next;
	uint8_t id[TAG_LEN];
	uint8_t pos[TAG_LEN];                 /* last success ('P') */
	uint8_t neg[TAG_LEN];                 /* last failure ('P' or 'U') */
	time_t pos_time, neg_time;
	bool has_pos, has_neg;
};

struct auth_cache {
	struct auth_cache_settings set;
	uint8_t key[crypto_generichash_KEYBYTES];
	struct cache_entry **buckets;
	size_t mask;                          /* buckets - 1 (a power of two) */
	struct cache_entry *lru_head, *lru_tail;  /* head: most recently used */
	size_t entries, max_entries;
	unsigned long hits, misses, evictions;
};

/* What malloc adds to each entry (glibc: a 16-byte chunk header and
 * alignment), so that auth_cache_size bounds the memory really used. */
#define CACHE_ALLOC_OVERHEAD 16

size_t auth_cache_entry_size(void)
{
	return sizeof(struct cache_entry) + CACHE_ALLOC_OVERHEAD + sizeof(struct cache_entry *);
}

static time_t cache_now(const struct auth_cache *c)
{
	return c->set.now ? c->set.now() : time(NULL);
}

static void tag_field(crypto_generichash_state *st, const char *s)
{
	size_t len = s ? strlen(s) : 0;
	uint8_t lenbuf[8];

	for (int i = 0; i < 8; i++)
		lenbuf[i] = (uint8_t)((uint64_t)len >> (8 * i));
	crypto_generichash_update(st, lenbuf, sizeof(lenbuf));
	if (len)
		crypto_generichash_update(st, (const uint8_t *)s, len);
}

/* One tag of kind over up to three fields after the backend name. */
static void tag_make(const struct auth_cache *c, char kind, const char *backend, const char *user,
		     const char *state, const char *password, uint8_t out[TAG_LEN])
{
	crypto_generichash_state st;
	uint8_t k = (uint8_t)kind;

	crypto_generichash_init(&st, c->key, sizeof(c->key), TAG_LEN);
	crypto_generichash_update(&st, &k, 1);
	tag_field(&st, backend);
	tag_field(&st, user);
	if (kind != 'I')
		tag_field(&st, state);
	if (kind == 'P')
		tag_field(&st, password);
	crypto_generichash_final(&st, out, TAG_LEN);
	sodium_memzero(&st, sizeof(st));
}

static size_t bucket_of(const struct auth_cache *c, const uint8_t id[TAG_LEN])
{
	uint64_t h = 0;

	for (int i = 0; i < 8; i++)
		h |= (uint64_t)id[i] << (8 * i);
	return (size_t)h & c->mask;
}

struct auth_cache *auth_cache_new(const struct auth_cache_settings *set, const char **error_r)
{
	struct auth_cache *c;
	size_t max_entries = set->max_bytes / auth_cache_entry_size();
	size_t nb = 1;

	if (max_entries == 0) {
		*error_r = "too small to hold one entry";
		return NULL;
	}
	if (set->ttl <= 0 || set->negative_ttl < 0) {
		*error_r = "time to live must be positive";
		return NULL;
	}
	if (sodium_init() < 0) {
		*error_r = "libsodium initialisation failed";
		return NULL;
	}
	/* Buckets come out of the same budget: at most one per entry. */
	while (nb * 2 <= max_entries && nb < ((size_t)1 << 24))
		nb *= 2;
	c = calloc(1, sizeof(*c));
	if (c == NULL || (c->buckets = calloc(nb, sizeof(*c->buckets))) == NULL) {
		free(c);
		*error_r = "out of memory";
		return NULL;
	}
	c->set = *set;
	c->mask = nb - 1;
	c->max_entries = max_entries;
	randombytes_buf(c->key, sizeof(c->key));
	return c;
}

static void lru_unlink(struct auth_cache *c, struct cache_entry *e)
{
	if (e->lru_prev)
		e->lru_prev->lru_next = e->lru_next;
	else
		c->lru_head = e->lru_next;
	if (e->lru_next)
		e->lru_next->lru_prev = e->lru_prev;
	else
		c->lru_tail = e->lru_prev;
	e->lru_prev = e->lru_next = NULL;
}

static void lru_push_front(struct auth_cache *c, struct cache_entry *e)
{
	e->lru_prev = NULL;
	e->lru_next = c->lru_head;
	if (c->lru_head)
		c->lru_head->lru_prev = e;
	c->lru_head = e;
	if (c->lru_tail == NULL)
		c->lru_tail = e;
}

static void entry_destroy(struct auth_cache *c, struct cache_entry *e)
{
	struct cache_entry **pp = &c->buckets[bucket_of(c, e->id)];

	while (*pp && *pp != e)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = e->hnext;
	lru_unlink(c, e);
	sodium_memzero(e, sizeof(*e));
	free(e);
	c->entries--;
}

static struct cache_entry *entry_find(struct auth_cache *c, const uint8_t id[TAG_LEN])
{
	for (struct cache_entry *e = c->buckets[bucket_of(c, id)]; e; e = e->hnext)
		if (sodium_memcmp(e->id, id, TAG_LEN) == 0)
			return e;
	return NULL;
}

/* A clock that went backwards makes an entry stale rather than immortal. */
static bool fresh(time_t stamp, time_t now, long ttl)
{
	return ttl > 0 && now >= stamp && now - stamp < ttl;
}

enum auth_cache_result auth_cache_lookup(struct auth_cache *c, const char *backend,
					 const char *user, const char *state,
					 const char *password)
{
	uint8_t id[TAG_LEN], pw[TAG_LEN], unk[TAG_LEN];
	enum auth_cache_result res = AUTH_CACHE_MISS;
	struct cache_entry *e;
	time_t now = cache_now(c);

	tag_make(c, 'I', backend, user, NULL, NULL, id);
	e = entry_find(c, id);
	if (e == NULL) {
		c->misses++;
		return AUTH_CACHE_MISS;
	}
	tag_make(c, 'U', backend, user, state, NULL, unk);
	if (password)
		tag_make(c, 'P', backend, user, state, password, pw);
	/* Both comparisons always run when their slot is live, so the time
	 * taken does not depend on which one matched. */
	bool pos_ok = password && e->has_pos && fresh(e->pos_time, now, c->set.ttl) &&
		      sodium_memcmp(e->pos, pw, TAG_LEN) == 0;
	bool neg_live = e->has_neg && fresh(e->neg_time, now, c->set.negative_ttl);
	bool neg_pw = neg_live && password && sodium_memcmp(e->neg, pw, TAG_LEN) == 0;
	bool neg_unk = neg_live && sodium_memcmp(e->neg, unk, TAG_LEN) == 0;

	if (pos_ok)
		res = AUTH_CACHE_OK;
	else if (neg_pw)
		res = AUTH_CACHE_MISMATCH;
	else if (neg_unk)
		res = AUTH_CACHE_UNKNOWN;
	sodium_memzero(pw, sizeof(pw));
	if (res == AUTH_CACHE_MISS) {
		c->misses++;
		return res;
	}
	c->hits++;
	lru_unlink(c, e);
	lru_push_front(c, e);
	return res;
}

void auth_cache_store(struct auth_cache *c, const char *backend, const char *user,
		      const char *state, const char *password, enum passdb_result res)
{
	uint8_t id[TAG_LEN];
	struct cache_entry *e;
	time_t now = cache_now(c);

	switch (res) {
	case PASSDB_OK:
		if (password == NULL)
			return;
		break;
	case PASSDB_MISMATCH:
		if (password == NULL || c->set.negative_ttl <= 0)
			return;
		break;
	case PASSDB_UNKNOWN:
		if (c->set.negative_ttl <= 0)
			return;
		break;
	case PASSDB_DISABLED:
	case PASSDB_TEMPFAIL:
		return;
	}
	tag_make(c, 'I', backend, user, NULL, NULL, id);
	e = entry_find(c, id);
	if (e == NULL) {
		if (c->entries >= c->max_entries && c->lru_tail) {
			entry_destroy(c, c->lru_tail);
			c->evictions++;
		}
		e = calloc(1, sizeof(*e));
		if (e == NULL)
			return;
		memcpy(e->id, id, TAG_LEN);
		size_t b = bucket_of(c, id);
		e->hnext = c->buckets[b];
		c->buckets[b] = e;
		c->entries++;
	} else {
		lru_unlink(c, e);
	}
	lru_push_front(c, e);
	switch (res) {
	case PASSDB_OK:
		tag_make(c, 'P', backend, user, state, password, e->pos);
		e->pos_time = now;
		e->has_pos = true;
		/* The failure slot stays: a second client still retrying an
		 * old password (a phone next to a laptop with the new one) is
		 * still answered from it, and it cannot match any other
		 * password or state. */
		break;
	case PASSDB_MISMATCH:
		tag_make(c, 'P', backend, user, state, password, e->neg);
		e->neg_time = now;
		e->has_neg = true;
		break;
	default: /* PASSDB_UNKNOWN: the user is gone, so is any success */
		tag_make(c, 'U', backend, user, state, NULL, e->neg);
		e->neg_time = now;
		e->has_neg = true;
		sodium_memzero(e->pos, TAG_LEN);
		e->has_pos = false;
		break;
	}
}

void auth_cache_flush(struct auth_cache *c)
{
	while (c->lru_head)
		entry_destroy(c, c->lru_head);
}

void auth_cache_get_stats(const struct auth_cache *c, struct auth_cache_stats *stats)
{
	stats->hits = c->hits;
	stats->misses = c->misses;
	stats->evictions = c->evictions;
	stats->entries = c->entries;
	stats->max_entries = c->max_entries;
}

void auth_cache_free(struct auth_cache **cache)
{
	struct auth_cache *c = *cache;

	if (c == NULL)
		return;
	auth_cache_flush(c);
	sodium_memzero(c->key, sizeof(c->key));
	free(c->buckets);
	free(c);
	*cache = NULL;
}
