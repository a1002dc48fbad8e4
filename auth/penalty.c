/*
 * penalty.c - failure counters of penalty.h. A linear table: lookups
 * happen once per login attempt and the table is bounded, so a hash table
 * would buy nothing measurable.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/penalty.h"
#include "util.h"

#define PENALTY_KEY_MAX 300

struct penalty_entry {
	char key[PENALTY_KEY_MAX];   /* "ip:ADDR" or "user:NAME" */
	unsigned count;
	time_t first, last;
};

struct penalty_net {
	int family;
	unsigned char addr[16];
	unsigned prefix;
};

struct penalty {
	unsigned limit;
	long period;
	struct penalty_net *nets;
	size_t n_nets;
	struct penalty_entry *entries;
	size_t n_entries;
};

static int parse_net(const char *text, struct penalty_net *net)
{
	char buf[80];
	char *slash, *host = buf;
	long prefix = -1;

	if (str_copy(buf, text, sizeof(buf)) >= sizeof(buf))
		return -1;
	slash = strchr(buf, '/');
	if (slash) {
		char *end;
		*slash = '\0';
		prefix = strtol(slash + 1, &end, 10);
		if (*end || slash[1] == '\0' || prefix < 0)
			return -1;
	}
	if (host[0] == '[') {
		size_t n = strlen(host);
		if (n < 3 || host[n - 1] != ']')
			return -1;
		host[n - 1] = '\0';
		host++;
	}
	if (inet_pton(AF_INET, host, net->addr) == 1) {
		net->family = AF_INET;
		if (prefix > 32)
			return -1;
		net->prefix = prefix < 0 ? 32 : (unsigned)prefix;
	} else if (inet_pton(AF_INET6, host, net->addr) == 1) {
		net->family = AF_INET6;
		if (prefix > 128)
			return -1;
		net->prefix = prefix < 0 ? 128 : (unsigned)prefix;
	} else {
		return -1;
	}
	return 0;
}

struct penalty *penalty_new(unsigned limit, long period, const char *const *exceptions,
			    char **error_r)
{
	struct penalty *p = must_calloc(1, sizeof(*p));
	size_t n = 0;

	p->limit = limit;
	p->period = period;
	while (exceptions && exceptions[n])
		n++;
	p->nets = must_calloc(n + 1, sizeof(*p->nets));
	for (size_t i = 0; i < n; i++) {
		if (parse_net(exceptions[i], &p->nets[p->n_nets]) < 0) {
			*error_r = must_asprintf("auth_penalty_exceptions: \"%s\" is not an address or "
						 "address/prefix; write e.g. 192.168.1.0/24 or [fd00::]/8",
						 exceptions[i]);
			penalty_free(&p);
			return NULL;
		}
		p->n_nets++;
	}
	p->entries = must_calloc(PENALTY_MAX_ENTRIES, sizeof(*p->entries));
	return p;
}

void penalty_free(struct penalty **pp)
{
	if (*pp == NULL)
		return;
	free((*pp)->nets);
	free((*pp)->entries);
	x_free(pp);
}

static bool net_match(const struct penalty_net *net, int family, const unsigned char *a)
{
	unsigned bits = net->prefix;

	if (net->family != family)
		return false;
	for (unsigned i = 0; bits > 0; i++, bits = bits >= 8 ? bits - 8 : 0) {
		unsigned char mask = bits >= 8 ? 0xff : (unsigned char)(0xff << (8 - bits));
		if ((a[i] & mask) != (net->addr[i] & mask))
			return false;
	}
	return true;
}

static bool exempt(struct penalty *p, const char *rip)
{
	unsigned char a[16];
	int family;

	if (rip == NULL || *rip == '\0')
		return true;
	if (inet_pton(AF_INET, rip, a) == 1)
		family = AF_INET;
	else if (inet_pton(AF_INET6, rip, a) == 1)
		family = AF_INET6;
	else
		return false;   /* unparsable: counted as its text */
	for (size_t i = 0; i < p->n_nets; i++)
		if (net_match(&p->nets[i], family, a))
			return true;
	return false;
}

static struct penalty_entry *find(struct penalty *p, const char *kind, const char *name,
				  time_t now, bool create)
{
	char key[PENALTY_KEY_MAX];
	struct penalty_entry *oldest = NULL;

	snprintf(key, sizeof(key), "%s:%s", kind, name);
	for (size_t i = 0; i < p->n_entries; i++) {
		struct penalty_entry *e = &p->entries[i];
		if (e->count && now - e->first >= p->period)
			e->count = 0;   /* cooled off */
		if (strcmp(e->key, key) == 0)
			return e;
		/* Eviction victim: a cooled-off entry, else the least recent. */
		if (oldest == NULL || (oldest->count != 0 && (e->count == 0 || e->last < oldest->last)))
			oldest = e;
	}
	if (!create)
		return NULL;
	struct penalty_entry *e;
	if (p->n_entries < PENALTY_MAX_ENTRIES)
		e = &p->entries[p->n_entries++];
	else
		e = oldest;
	memset(e, 0, sizeof(*e));
	str_copy(e->key, key, sizeof(e->key));
	return e;
}

static bool over(struct penalty *p, struct penalty_entry *e, time_t now)
{
	return e && e->count >= p->limit && now - e->first < p->period;
}

bool penalty_blocked(struct penalty *p, const char *rip, const char *user, time_t now)
{
	if (p->limit == 0 || exempt(p, rip))
		return false;
	if (over(p, find(p, "ip", rip, now, false), now))
		return true;
	return user && over(p, find(p, "user", user, now, false), now);
}

static void count(struct penalty *p, const char *kind, const char *name, time_t now)
{
	struct penalty_entry *e = find(p, kind, name, now, true);

	if (e->count == 0)
		e->first = now;
	e->count++;
	e->last = now;
}

void penalty_failure(struct penalty *p, const char *rip, const char *user, time_t now)
{
	if (p->limit == 0 || exempt(p, rip))
		return;
	count(p, "ip", rip, now);
	if (user)
		count(p, "user", user, now);
}

void penalty_success(struct penalty *p, const char *user)
{
	for (size_t i = 0; user && i < p->n_entries; i++) {
		struct penalty_entry *e = &p->entries[i];
		if (strncmp(e->key, "user:", 5) == 0 && strcmp(e->key + 5, user) == 0)
			e->count = 0;
	}
}
