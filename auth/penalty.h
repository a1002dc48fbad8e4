/*
 * penalty.h - brute-force protection: failed logins counted per client
 * address and per user name within auth_penalty_time; at
 * auth_penalty_limit further logins are refused, even with the right
 * password, until the oldest counted failure is auth_penalty_time old.
 * Clients in auth_penalty_exceptions (and requests without rip=, which
 * come from local tools) are never counted nor refused; per-user counts
 * only grow from, and only block, non-excepted addresses, so an attacker
 * cannot lock a user out of the LAN or the webmail on loopback.
 *
 * Memory is bounded: at most PENALTY_MAX_ENTRIES keys, the stalest
 * evicted first. Used by auth-server.c only.
 */
#ifndef POSTERN_AUTH_PENALTY_H
#define POSTERN_AUTH_PENALTY_H

#include <stdbool.h>
#include <time.h>

#define PENALTY_MAX_ENTRIES 8192

struct penalty;

/* penalty_new - limit 0 disables blocking. exceptions: "addr/len",
 * "[v6addr]/len" or bare addresses. NULL with *error_r (new memory) on a
 * bad network. */
struct penalty *penalty_new(unsigned limit, long period, const char *const *exceptions,
			    char **error_r);
void penalty_free(struct penalty **p);

/* penalty_blocked - true when a login from rip (may be NULL) as user (may
 * be NULL) must be refused now. */
bool penalty_blocked(struct penalty *p, const char *rip, const char *user, time_t now);
/* penalty_failure / penalty_success - record the outcome of a login. */
void penalty_failure(struct penalty *p, const char *rip, const char *user, time_t now);
void penalty_success(struct penalty *p, const char *user);

#endif
