/*
 * cmd-idle.c - IDLE (RFC 2177): "+ idling", then untagged updates as the
 * store's change notification reports them (imap-sync.c sends them at
 * once while idling, so new mail appears as soon as it is delivered),
 * "* OK Still here" every imap_idle_notify_interval so that NAT boxes keep
 * the connection, and DONE ends it with the tagged OK. Any other line ends
 * it with BAD (the RFC allows nothing else).
 *
 * Without a mailbox (authenticated state) IDLE only keeps the connection;
 * where change notification does not work the mailbox is polled every
 * second, otherwise every IDLE_INDEX_POLL seconds for the changes that
 * touch only the index (keywords), which inotify cannot see.
 */
#include <stdlib.h>
#include <strings.h>

#include <event2/event.h>

#include "imap/imap-private.h"

/* Seconds between syncs while idling with change notification working. */
#define IDLE_INDEX_POLL 10

struct idle_ctx {
	struct event *ev_alive;
	struct event *ev_poll;
};

static void idle_stop(struct imap_cmd *cmd)
{
	struct idle_ctx *c = cmd->ctx;

	imap_sync_set_idle(cmd->sess, NULL);
	if (c == NULL)
		return;
	if (c->ev_alive)
		event_free(c->ev_alive);
	if (c->ev_poll)
		event_free(c->ev_poll);
	free(c);
	cmd->ctx = NULL;
	cmd->cancel = NULL;
}

static void alive_cb(evutil_socket_t fd, short what, void *arg)
{
	struct imap_cmd *cmd = arg;

	(void)fd;
	(void)what;
	imap_send_untagged(cmd->sess, "OK Still here");
}

static void poll_cb(evutil_socket_t fd, short what, void *arg)
{
	struct imap_cmd *cmd = arg;

	(void)fd;
	(void)what;
	if (cmd->sess->sel)
		imap_sync_report(cmd->sess, true);
}

static enum imap_cmd_result idle_line(struct imap_cmd *cmd, const char *line, size_t len)
{
	idle_stop(cmd);
	cmd->input_line = NULL;
	if (len == 4 && strncasecmp(line, "DONE", 4) == 0)
		return imap_cmd_ok(cmd, NULL, "Idle completed.");
	return imap_cmd_bad(cmd, NULL, "Expected DONE.");
}

enum imap_cmd_result imap_cmd_idle(struct imap_cmd *cmd)
{
	struct imap_session *s = cmd->sess;
	const struct imap_listener *l = imap_session_listener(s);
	struct idle_ctx *c;
	struct timeval alive = { .tv_sec = l->set.idle_notify_interval, .tv_usec = 0 };
	struct timeval poll = { .tv_sec = 1, .tv_usec = 0 };

	if (cmd->nargs != 0)
		return imap_cmd_bad(cmd, NULL, "IDLE takes no arguments");
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return imap_cmd_no(cmd, "UNAVAILABLE", "Out of memory");
	cmd->ctx = c;
	cmd->cancel = idle_stop;
	cmd->input_line = idle_line;
	c->ev_alive = event_new(imap_session_base(s), -1, EV_PERSIST, alive_cb, cmd);
	if (c->ev_alive)
		event_add(c->ev_alive, &alive);
	/* Notification covers the files; changes only the index sees (IMAP
	 * keywords set by a session in another process) are picked up by a
	 * slow poll. Without notification, poll every second. */
	if (s->sel) {
		if (!imap_sync_poll_needed(s))
			poll.tv_sec = IDLE_INDEX_POLL;
		c->ev_poll = event_new(imap_session_base(s), -1, EV_PERSIST, poll_cb, cmd);
		if (c->ev_poll)
			event_add(c->ev_poll, &poll);
	}
	/* what changed before IDLE is sent first */
	if (s->sel)
		imap_sync_report(s, true);
	imap_write(s, "+ idling\r\n", 10);
	imap_sync_set_idle(s, cmd);
	return IMAP_CMD_PENDING;
}
