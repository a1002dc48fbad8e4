/*
 * restrict-eval.c - restrict_check(): evaluate the restriction lists of one
 * SMTP stage as Postfix's smtpd_check.c does (postconf(5)
 * "smtpd_delay_reject", first match per list, restriction classes), with
 * asynchronous DNS and userdb look-ups.
 *
 * How asynchrony works: a rule that needs a look-up asks restrict_dns() /
 * restrict_userdb(); on a cache miss the look-up starts and the rule
 * returns RULE_PENDING. When the answer arrives it goes into the
 * request's cache and the same rule runs again from its beginning, now
 * finding the answer. Rules therefore change nothing before their last
 * look-up, and a check makes at most RESTRICT_MAX_LOOKUPS look-ups.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "restrict-private.h"
#include "util.h"

static char completed_marker;
#define REQ_COMPLETED ((struct restrict_req *)(void *)&completed_marker)

static void run(struct restrict_req *q);

enum restrict_list restrict_cur_kind(const struct restrict_req *q)
{
	return q->depth > 0 ? q->frames[q->depth - 1].kind : RLIST_RECIPIENT;
}

enum rule_status restrict_push(struct restrict_req *q, const struct rule_list *l,
			       struct rule_list *owned, enum restrict_list kind)
{
	if (q->depth >= RESTRICT_MAX_DEPTH) {
		log_warn("restrictions: nesting deeper than %d (restriction class loop?) in %s",
			 RESTRICT_MAX_DEPTH, l->name);
		if (owned) {
			restrict_list_free(owned);
			free(owned);
		}
		return restrict_reply(q, 451, "4.3.5", "Server configuration error");
	}
	/* The list holding the rule that pushed goes on after it later. */
	if (q->depth > 0)
		q->frames[q->depth - 1].i++;
	q->frames[q->depth].list = l;
	q->frames[q->depth].i = 0;
	q->frames[q->depth].owned = owned;
	q->frames[q->depth].kind = kind;
	q->depth++;
	return RULE_PUSHED;
}

static void pop(struct restrict_req *q)
{
	struct restrict_frame *fr = &q->frames[--q->depth];

	if (fr->owned) {
		restrict_list_free(fr->owned);
		free(fr->owned);
		fr->owned = NULL;
	}
}

/* ---- the look-up cache ---- */

static struct restrict_cached *cache_find(struct restrict_req *q, const char *key)
{
	for (size_t i = 0; i < RESTRICT_CACHE; i++)
		if (q->cache[i].used && strcmp(q->cache[i].key, key) == 0)
			return &q->cache[i];
	return NULL;
}

static void cache_clear(struct restrict_cached *c)
{
	free(c->key);
	for (size_t i = 0; i < c->n; i++)
		free(c->rr[i]);
	memset(c, 0, sizeof(*c));
}

static struct restrict_cached *cache_add(struct restrict_req *q, const char *key)
{
	struct restrict_cached *c = &q->cache[q->cache_next];

	q->cache_next = (q->cache_next + 1) % RESTRICT_CACHE;
	cache_clear(c);
	c->used = true;
	c->key = must_strdup(key);
	return c;
}

/* A look-up finished: continue from the loop (never inside the caller of
 * the look-up, which is run() itself for synchronous answers). */
static void resume(struct restrict_req *q)
{
	q->answered = true;
	if (!q->running)
		run(q);
}

static long long now_secs(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec;
}

static void shared_clear(struct restrict_dns_cached *e)
{
	free(e->key);
	for (size_t i = 0; i < e->n; i++)
		free(e->rr[i]);
	memset(e, 0, sizeof(*e));
}

void restrict_dns_cache_free(struct restrictions *r)
{
	for (size_t i = 0; i < RESTRICT_DNS_CACHE; i++)
		shared_clear(&r->dns_cache[i]);
}

static const struct restrict_dns_cached *shared_find(struct restrictions *r, const char *key)
{
	long long now = now_secs();

	for (size_t i = 0; i < RESTRICT_DNS_CACHE; i++) {
		struct restrict_dns_cached *e = &r->dns_cache[i];

		if (e->key == NULL || strcmp(e->key, key) != 0)
			continue;
		if (e->expires <= now) {
			shared_clear(e);
			return NULL;
		}
		return e;
	}
	return NULL;
}

static void shared_add(struct restrictions *r, const char *key, const struct restrict_cached *c)
{
	struct restrict_dns_cached *e = &r->dns_cache[r->dns_cache_next];

	r->dns_cache_next = (r->dns_cache_next + 1) % RESTRICT_DNS_CACHE;
	shared_clear(e);
	e->key = must_strdup(key);
	e->status = c->status;
	for (size_t i = 0; i < c->n; i++)
		e->rr[e->n++] = must_strdup(c->rr[i]);
	e->expires = now_secs() + RESTRICT_DNS_CACHE_SECS;
}

const struct restrict_cached *restrict_cache_get(struct restrict_req *q, const char *key)
{
	return cache_find(q, key);
}

void restrict_answer(struct restrict_req *q, const char *key, int status, const char *value)
{
	struct restrict_cached *c = cache_add(q, key);

	c->status = status;
	if (value)
		c->rr[c->n++] = must_strdup(value);
}

void restrict_resume(struct restrict_req *q)
{
	resume(q);
}

static void dns_answer_cb(void *ctx, const struct dns_answer *a)
{
	struct restrict_req *q = ctx;
	char key[300];
	struct restrict_cached *c;

	q->dns_q = NULL;
	snprintf(key, sizeof(key), "%s %s", dns_type_name(a->type), a->name);
	c = cache_add(q, key);
	c->status = a->status;
	for (size_t i = 0; a->status == DNS_FOUND && i < a->n && i < RESTRICT_CACHE_RRS; i++)
		c->rr[c->n++] = must_strdup(a->rrs[i].text);
	if (a->status != DNS_FOUND)
		log_info("restrictions: DNS %s %s: %s", dns_type_name(a->type), a->name,
			 a->error ? a->error : "not found");
	if (a->status != DNS_TEMPFAIL)
		shared_add(q->r, key, c);
	resume(q);
}

int restrict_dns(struct restrict_req *q, const char *name, enum dns_type type,
		 const struct restrict_cached **c_r)
{
	char key[300];
	struct restrict_cached *c;

	snprintf(key, sizeof(key), "%s %s", dns_type_name(type), name);
	c = cache_find(q, key);
	if (c) {
		*c_r = c;
		return c->status;
	}
	{
		const struct restrict_dns_cached *e = shared_find(q->r, key);

		if (e) {
			c = cache_add(q, key);
			c->status = e->status;
			for (size_t i = 0; i < e->n; i++)
				c->rr[c->n++] = must_strdup(e->rr[i]);
			*c_r = c;
			return c->status;
		}
	}
	if (q->r->dns == NULL || q->lookups >= RESTRICT_MAX_LOOKUPS) {
		c = cache_add(q, key);
		c->status = DNS_TEMPFAIL;
		*c_r = c;
		return DNS_TEMPFAIL;
	}
	q->lookups++;
	q->dns_q = dns_lookup(q->r->dns, name, type, dns_answer_cb, q);
	if (q->dns_q == NULL) {
		c = cache_add(q, key);
		c->status = DNS_TEMPFAIL;
		*c_r = c;
		return DNS_TEMPFAIL;
	}
	return -1;
}

static void userdb_answer(void *req_ctx, enum restrict_userdb_status st,
			  const char *const *fields, size_t n)
{
	struct restrict_req *q = req_ctx;
	struct restrict_cached *c;

	q->userdb_id = 0;
	c = cache_add(q, q->pending_key ? q->pending_key : "");
	free(q->pending_key);
	q->pending_key = NULL;
	c->status = st;
	c->userdb = true;
	for (size_t i = 0; i < n && c->n < RESTRICT_CACHE_RRS; i++)
		if (fields[i])
			c->rr[c->n++] = must_strdup(fields[i]);
	resume(q);
}

int restrict_userdb(struct restrict_req *q, const char *what, const char *user,
		    const struct restrict_cached **c_r)
{
	char *key = must_asprintf("%s %s", what, user);
	struct restrict_cached *c = cache_find(q, key);
	unsigned id;

	if (c || q->lookups >= RESTRICT_MAX_LOOKUPS || q->r->userdb_lookup == NULL) {
		if (c == NULL) {
			c = cache_add(q, key);
			c->status = RESTRICT_USERDB_TEMPFAIL;
		}
		free(key);
		*c_r = c;
		return c->status;
	}
	q->lookups++;
	q->pending_key = key;
	id = q->r->userdb_lookup(q->r->userdb_ctx, what, user, userdb_answer, q);
	if (q->answered)
		return -1; /* answered inside the call; run() re-runs the rule */
	q->userdb_id = id;
	if (id == 0) {
		c = cache_add(q, key);
		c->status = RESTRICT_USERDB_TEMPFAIL;
		free(q->pending_key);
		q->pending_key = NULL;
		*c_r = c;
		return RESTRICT_USERDB_TEMPFAIL;
	}
	return -1;
}

/* ---- running ---- */

static void req_free(struct restrict_req *q)
{
	if (q->alive)
		*q->alive = NULL;
	while (q->depth > 0)
		pop(q);
	dns_cancel(&q->dns_q);
	restrict_policy_cancel(&q->policy);
	if (q->userdb_id && q->r->userdb_cancel)
		q->r->userdb_cancel(q->r->userdb_ctx, q->userdb_id);
	free(q->pending_key);
	for (size_t i = 0; i < RESTRICT_CACHE; i++)
		cache_clear(&q->cache[i]);
	free(q);
}

static void finish(struct restrict_req *q)
{
	struct restrict_result *res = &q->result;

	if (res->action != RESTRICT_REJECT && res->action != RESTRICT_DEFER) {
		if (q->have_defer_if_permit) {
			res->action = RESTRICT_DEFER;
			str_copy(res->reply, q->defer_if_permit, sizeof(res->reply));
			restrict_log_line(q, "reject", res->reply);
		} else if (q->discard) {
			res->action = RESTRICT_DISCARD;
		} else if (q->redirect[0]) {
			res->action = RESTRICT_REDIRECT;
			str_copy(res->redirect, q->redirect, sizeof(res->redirect));
		} else if (q->hold) {
			res->action = RESTRICT_HOLD;
		}
	}
	q->done(q->ctx, res);
}

/* The checks Postfix makes after the lists: smtpd_reject_unlisted_*. */
static enum rule_status implicit_check(struct restrict_req *q)
{
	const struct restrict_facts *f = q->f;

	if (q->stage != RESTRICT_RCPT)
		return RULE_OK;
	if (q->implicit == 0) {
		if (q->r->reject_unlisted_sender && f->sender && f->sender[0]) {
			enum rule_status st = restrict_unlisted(q, f->sender, true);

			if (st != RULE_DUNNO)
				return st;
		}
		q->implicit = 1;
	}
	if (q->implicit == 1) {
		if (q->r->reject_unlisted_recipient && f->recipient) {
			enum rule_status st = restrict_unlisted(q, f->recipient, false);

			if (st != RULE_DUNNO)
				return st;
		}
		q->implicit = 2;
	}
	return RULE_OK;
}

static void run(struct restrict_req *q)
{
	q->running = true;
	for (;;) {
		struct restrict_frame *fr;
		const struct rule *rule;
		enum rule_status st;

		q->answered = false;
		/* DISCARD ends every list (Postfix generic_checks). */
		if (q->discard && q->implicit == 0) {
			while (q->depth > 0)
				pop(q);
			q->seq_i = q->nseq;
			q->implicit = 2;
		}
		if (q->depth == 0) {
			if (q->seq_i < q->nseq) {
				const struct rule_list *l = q->seq[q->seq_i];
				enum restrict_list k = q->seq_kind[q->seq_i];

				q->seq_i++;
				restrict_push(q, l, NULL, k);
				continue;
			}
			st = implicit_check(q);
			if (st == RULE_PENDING) {
				if (q->answered)
					continue;
				q->running = false;
				return;
			}
			finish(q);
			req_free(q);
			return;
		}
		fr = &q->frames[q->depth - 1];
		if (fr->i >= fr->list->n) {
			pop(q);
			continue;
		}
		if (++q->steps > RESTRICT_MAX_STEPS) {
			log_warn("restrictions: more than %d rules evaluated for one check; "
				 "restriction class loop?", RESTRICT_MAX_STEPS);
			restrict_reply(q, 451, "4.3.5", "Server configuration error");
			finish(q);
			req_free(q);
			return;
		}
		rule = &fr->list->rules[fr->i];
		q->warn_next = rule->warn_if_reject;
		if (rule->def == NULL) {
			st = restrict_push(q, rule->cls, NULL, fr->kind);
		} else {
			st = rule->def->fn(q, rule);
		}
		switch (st) {
		case RULE_PENDING:
			q->steps--;
			if (q->answered)
				continue; /* answered at once: run the rule again */
			q->running = false;
			return;
		case RULE_DUNNO:
			/* The rule may have pushed nothing; advance the frame it was in. */
			q->frames[q->depth - 1].i++;
			break;
		case RULE_PUSHED:
			break;
		case RULE_OK:
			while (q->depth > 0)
				pop(q);
			break;
		case RULE_FINAL:
			finish(q);
			req_free(q);
			return;
		}
	}
}

static void add_list(struct restrict_req *q, size_t idx, enum restrict_list kind)
{
	q->seq[q->nseq] = &q->r->lists[idx];
	q->seq_kind[q->nseq++] = kind;
}

struct restrict_req *restrict_check(struct restrictions *r, enum restrict_stage stage,
				    const struct restrict_facts *f,
				    restrict_done_fn *done, void *ctx)
{
	struct restrict_req *q = calloc(1, sizeof(*q)), *alive;
	bool delay = r->delay_reject;

	if (q == NULL)
		return NULL;
	q->r = r;
	q->stage = stage;
	q->f = f;
	q->done = done;
	q->ctx = ctx;
	q->result.action = RESTRICT_CONTINUE;
	switch (stage) {
	case RESTRICT_CONNECT:
		if (!delay)
			add_list(q, 0, RLIST_CLIENT);
		break;
	case RESTRICT_HELO:
		if (!delay)
			add_list(q, 1, RLIST_HELO);
		break;
	case RESTRICT_MAIL:
		if (!delay)
			add_list(q, 2, RLIST_SENDER);
		break;
	case RESTRICT_RCPT:
		if (delay) {
			add_list(q, 0, RLIST_CLIENT);
			add_list(q, 1, RLIST_HELO);
			add_list(q, 2, RLIST_SENDER);
		}
		add_list(q, 3, RLIST_RECIPIENT);
		add_list(q, 4, RLIST_RECIPIENT);
		break;
	case RESTRICT_DATA:
		add_list(q, 5, RLIST_DATA);
		break;
	case RESTRICT_END_OF_DATA:
		add_list(q, 6, RLIST_EOD);
		break;
	}
	/* Completion inside run() frees q and clears alive. */
	alive = q;
	q->alive = &alive;
	run(q);
	if (alive == NULL)
		return REQ_COMPLETED;
	q->alive = NULL;
	return q;
}

void restrict_cancel(struct restrict_req **qp)
{
	struct restrict_req *q = *qp;

	*qp = NULL;
	if (q == NULL || q == REQ_COMPLETED)
		return;
	req_free(q);
}
