/*
 * qmgr-slot.c - how many deliveries are in flight per destination: per
 * recipient mailbox for local delivery (local_destination_concurrency_limit)
 * and per nexthop for SMTP (smtp_destination_concurrency_limit), as
 * Postfix's qmgr counts per transport queue. Keys are "local:USER" and
 * "smtp:NEXTHOP".
 *
 * A list, not a table: only destinations with a delivery in flight are
 * in it, at most default_process_limit of them, and an entry goes away
 * when its count returns to zero. Called by qmgr-local.c and
 * qmgr-remote.c on the event loop.
 */
#include <stdlib.h>
#include <string.h>

#include "util.h"
#include "smtp/queue/qmgr-private.h"

struct qmgr_slot {
	struct qmgr_slot *next;
	size_t count;
	char key[];
};

/* qmgr_slot_take - one more delivery to key if fewer than limit are in
 * flight: true (taken) or false (wait). */
bool qmgr_slot_take(struct qmgr *q, const char *key, size_t limit)
{
	struct qmgr_slot *s;
	size_t len;

	for (s = q->slots; s; s = s->next)
		if (strcmp(s->key, key) == 0)
			break;
	if (s == NULL) {
		len = strlen(key);
		s = must_calloc(1, sizeof(*s) + len + 1);
		memcpy(s->key, key, len + 1);
		s->next = q->slots;
		q->slots = s;
	}
	if (s->count >= limit)
		return false;
	s->count++;
	return true;
}

/* qmgr_slot_put - a delivery to key ended. */
void qmgr_slot_put(struct qmgr *q, const char *key)
{
	for (struct qmgr_slot **p = &q->slots; *p; p = &(*p)->next) {
		struct qmgr_slot *s = *p;

		if (strcmp(s->key, key) != 0)
			continue;
		if (s->count > 0)
			s->count--;
		if (s->count == 0) {
			*p = s->next;
			free(s);
		}
		return;
	}
}

void qmgr_slot_free_all(struct qmgr *q)
{
	while (q->slots) {
		struct qmgr_slot *s = q->slots;

		q->slots = s->next;
		free(s);
	}
}

/* qmgr_backoff - how long a message waits after its attempt number
 * attempts + 1 failed: min doubled per earlier attempt, at most max. */
time_t qmgr_backoff(time_t min, time_t max, unsigned attempts)
{
	time_t d = min > 0 ? min : 1;

	for (unsigned i = 0; i < attempts && d < max; i++)
		d *= 2;
	return d > max ? max : d;
}
