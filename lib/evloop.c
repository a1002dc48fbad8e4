/*
 * evloop.c - libevent set-up shared by the roles (see evloop.h).
 * Called once per process by each role's main function and by tests.
 */
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

#include <event2/event.h>

#include "evloop.h"
#include "log.h"

static void evloop_log(int severity, const char *msg)
{
	/* libevent's debug and info messages are for its developers */
	if (severity == EVENT_LOG_WARN)
		log_warn("libevent: %s", msg);
	else if (severity == EVENT_LOG_ERR)
		log_error("libevent: %s", msg);
}

static void evloop_fatal(int err)
{
	/* libevent calls this only on an internal assertion failure */
	log_panic("libevent: fatal internal error %d", err);
}

struct event_base *evloop_new(const char **error_r)
{
	static bool initialised;
	struct event_base *base;

	if (!initialised) {
		event_set_log_callback(evloop_log);
		event_set_fatal_callback(evloop_fatal);
		signal(SIGPIPE, SIG_IGN);
		initialised = true;
	}
	base = event_base_new();
	if (base == NULL) {
		*error_r = "cannot create the event loop (libevent event_base_new failed)";
		return NULL;
	}
	return base;
}
