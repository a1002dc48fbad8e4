/*
 * role-selftest.c - a role that serves nothing, for the integration tests.
 *
 * Enabled only when posternd's environment has POSTERN_SELFTEST_ROLE=1
 * (see roles.c); it is never started otherwise and is bound to no
 * protocol, so it cannot pretend to serve mail. It lets the tests see the
 * master's side of the contract before the real roles exist: it logs the
 * user it runs as and the listeners it received, stops cleanly on SIGTERM
 * (exit 0), and exits with status 3 on SIGUSR1 so that restart with
 * backoff and the "exit status" log line can be checked.
 */
#include <signal.h>
#include <unistd.h>

#include <event2/event.h>

#include "log.h"
#include "master/master.h"

static int selftest_status;

static void selftest_signal(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	selftest_status = sig == SIGUSR1 ? 3 : 0;
	event_base_loopexit(arg, NULL);
}

int role_selftest_main(const struct role_env *env)
{
	struct event_base *base = event_base_new();
	struct event *term, *usr1;

	if (base == NULL)
		return 1;
	term = evsignal_new(base, SIGTERM, selftest_signal, base);
	usr1 = evsignal_new(base, SIGUSR1, selftest_signal, base);
	if (term == NULL || usr1 == NULL || event_add(term, NULL) < 0 || event_add(usr1, NULL) < 0)
		return 1;
	log_info("selftest role ready: uid=%ld gid=%ld listeners=%zu", (long)getuid(),
		 (long)getgid(), env->n_listeners);
	event_base_dispatch(base);
	event_free(term);
	event_free(usr1);
	event_base_free(base);
	log_info("selftest role exiting with status %d", selftest_status);
	return selftest_status;
}
