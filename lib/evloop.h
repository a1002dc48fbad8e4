/*
 * evloop.h - the libevent glue every role uses: one event_base per process,
 * libevent's own diagnostics routed to log.h, SIGPIPE ignored.
 *
 * Why SIGPIPE: libevent writes sockets with writev(2), and a peer that
 * closed its end would otherwise kill the whole role with SIGPIPE instead
 * of ending one connection with EPIPE.
 */
#ifndef POSTERN_EVLOOP_H
#define POSTERN_EVLOOP_H

struct event_base;

/*
 * evloop_new - set up the process-wide libevent state (once) and return a
 * new event_base (caller frees it with event_base_free()), or NULL with
 * *error_r pointing to a static message.
 */
struct event_base *evloop_new(const char **error_r);

#endif
