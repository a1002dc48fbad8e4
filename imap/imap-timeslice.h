/*
 * imap-timeslice.h - a long command's share of the worker (see
 * imap-timeslice.c). Used by cmd-fetch.c and cmd-store.c.
 */
#ifndef POSTERN_IMAP_TIMESLICE_H
#define POSTERN_IMAP_TIMESLICE_H

#include <stdbool.h>
#include <stdint.h>

#include "imap/imap-private.h"

/* How long one command runs before the worker's other sessions get a
 * turn: short against a human's patience, long against the cost of one
 * trip through the event loop. */
#define IMAP_TIMESLICE_US 20000

/* The worker's event loop has IMAP_EVENT_PRIORITIES priorities (imap-role.c);
 * libevent gives new events the middle one. The resume of a long command
 * (a time slice here, SEARCH's file slices) runs at IMAP_PRIORITY_SLICE,
 * the lowest: only when no session's input, output or wake-up is ready. */
#define IMAP_EVENT_PRIORITIES 3
#define IMAP_PRIORITY_SLICE 2

struct event;

/* imap_timeslice_defer - put ev (a resume timer, not yet added) at the
 * slice priority; a loop without priorities keeps it where it is. */
void imap_timeslice_defer(struct event *ev);

struct imap_timeslice {
	uint64_t start_us;
	struct event *ev;   /* the zero-length resume timer, NULL until needed */
};

/* imap_timeslice_begin - a slice starts (at each handler start/resume);
 * cancels a resume timer that is still pending. */
void imap_timeslice_begin(struct imap_timeslice *t);
/* imap_timeslice_over - the slice is used up. */
bool imap_timeslice_over(const struct imap_timeslice *t);
/* imap_timeslice_yield - resume cmd (imap_cmd_wake) after the loop
 * polled once. 0, or -1 on OOM (the caller just goes on without
 * yielding). */
int imap_timeslice_yield(struct imap_timeslice *t, struct imap_cmd *cmd);
/* imap_timeslice_free - drop the timer (with the command's context). */
void imap_timeslice_free(struct imap_timeslice *t);

#endif
