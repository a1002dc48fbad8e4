/*
 * imap-timeslice.c - let a long command (FETCH or STORE over many
 * messages) give the worker back to its other sessions every few
 * milliseconds even when its own client reads fast, so one user's
 * "FETCH 1:* (ENVELOPE)" on a cold cache or "STORE 1:* +FLAGS" (each a
 * synchronous index commit) cannot stall everybody else for seconds.
 *
 * The handler calls imap_timeslice_begin() when it (re)starts, asks
 * imap_timeslice_over() between messages and, when it is, arms the
 * resume with imap_timeslice_yield() and returns IMAP_CMD_PENDING. The
 * resume runs from a zero-length timer, i.e. after the event loop has
 * polled for I/O once (libevent runs an event_active() callback in the
 * same pass, which would not let anybody else in), and then goes through
 * imap_cmd_wake() like any other resume. Called by cmd-fetch.c,
 * cmd-store.c and cmd-copy.c.
 */
#include <event2/event.h>
#include <time.h>

#include "imap/imap-timeslice.h"
#include "log.h"

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

void imap_timeslice_begin(struct imap_timeslice *t)
{
	/* a resume from elsewhere (output drained) makes a pending timer moot */
	if (t->ev != NULL)
		event_del(t->ev);
	t->start_us = now_us();
}

bool imap_timeslice_over(const struct imap_timeslice *t)
{
	return now_us() - t->start_us >= IMAP_TIMESLICE_US;
}

/* the loop has polled: resume through the session's own path, which
 * skips a closing session and finishes the command when it is DONE */
static void slice_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	imap_cmd_wake(arg);
}

int imap_timeslice_yield(struct imap_timeslice *t, struct imap_cmd *cmd)
{
	static const struct timeval zero = { 0, 0 };

	if (t->ev == NULL) {
		t->ev = event_new(imap_session_base(cmd->sess), -1, 0, slice_cb, cmd);
		if (t->ev == NULL)
			return -1;
		imap_timeslice_defer(t->ev);
	}
	if (event_add(t->ev, &zero) < 0)
		return -1;
	return 0;
}

void imap_timeslice_defer(struct event *ev)
{
	/* fails only on a loop without priorities (unit tests' loops) */
	if (event_base_get_npriorities(event_get_base(ev)) >= IMAP_EVENT_PRIORITIES)
		(void)event_priority_set(ev, IMAP_PRIORITY_SLICE);
}

void imap_timeslice_free(struct imap_timeslice *t)
{
	if (t->ev != NULL)
		event_free(t->ev);
	t->ev = NULL;
}
