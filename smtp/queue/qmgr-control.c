/*
 * qmgr-control.c - the queue role's control socket (queue_control_socket,
 * mode 0600, created by the master; protocol in queue-admin.h): one
 * request line, the reply, close. `postern queue flush|delete|hold|
 * release|requeue` talk to it while posternd runs.
 *
 * FLUSH moves deferred messages to active/ at once (postqueue -f / -i);
 * DELETE, HOLD, RELEASE and REQUEUE go through queue_admin_apply with a
 * skip callback: a message that is being delivered is left alone and the
 * change is applied when its attempt ends (qmgr-message.c finish_done),
 * since the delivery holds its file open and appends to it.
 *
 * Called by queue-role.c (init/free); runs on the event loop.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "log.h"
#include "util.h"
#include "smtp/queue/qmgr-private.h"

#define CONTROL_LINE_MAX 1024
#define CONTROL_TIMEOUT 10

struct control_conn {
	struct control_conn *next, **prevp;   /* q->control_conns */
	struct qmgr *q;
	struct bufferevent *bev;
	bool replied;
};

struct skip_ctx {
	struct qmgr *q;
	enum queue_admin_op op;
	int skipped;
};

static bool skip_in_delivery(void *ctx, const char *id)
{
	struct skip_ctx *s = ctx;
	struct qmgr_msg *msg = qmgr_msg_find(s->q, id);

	if (msg == NULL || msg->state == QM_PENDING)
		return false;
	msg->has_op = true;
	msg->op = s->op;
	s->skipped++;
	return true;
}

static int count_deferred(struct qmgr *q)
{
	char *path = must_asprintf("%s/%s", q->queue_dir, qdir_name(QDIR_DEFERRED));
	DIR *d = opendir(path);
	struct dirent *de;
	int n = 0;

	free(path);
	while (d && (de = readdir(d)) != NULL)
		if (qmsg_id_valid(de->d_name))
			n++;
	if (d)
		closedir(d);
	return n;
}

static char *do_flush(struct qmgr *q, const char *id)
{
	enum qdir dir;
	char *err = NULL;

	if (id == NULL) {
		int n = count_deferred(q);

		qmgr_scan_request(q, true, true);
		return must_asprintf("OK %d", n);
	}
	if (qmsg_find(q->queue_dir, id, &dir) < 0)
		return must_asprintf("ERR %s: no such message in the queue", id);
	switch (dir) {
	case QDIR_DEFERRED:
		if (qmsg_move(q->queue_dir, id, QDIR_DEFERRED, QDIR_ACTIVE, 0, &err) < 0) {
			char *r = must_asprintf("ERR %s: %s", id, err);

			free(err);
			return r;
		}
		/* fall through */
	case QDIR_ACTIVE:
		qmgr_msg_add(q, id);
		qmgr_pump(q);
		return must_asprintf("OK 1");
	case QDIR_HOLD:
		return must_asprintf("ERR %s: message is on hold; release it first (postern queue release %s)", id, id);
	default:
		return must_asprintf("ERR %s: message is in %s/; it cannot be delivered", id, qdir_name(dir));
	}
}

static int parse_queue(const char *name, enum qdir *dir_r)
{
	static const enum qdir dirs[] = { QDIR_ACTIVE, QDIR_DEFERRED, QDIR_HOLD, QDIR_INCOMING };

	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		if (strcmp(name, qdir_name(dirs[i])) == 0) {
			*dir_r = dirs[i];
			return 0;
		}
	}
	return -1;
}

static char *do_admin(struct qmgr *q, enum queue_admin_op op, const char *id, const char *queue)
{
	struct skip_ctx sc = { .q = q, .op = op };
	enum qdir only = QDIR_COUNT;
	char *err = NULL;
	int n;

	if (id == NULL)
		return must_asprintf("ERR missing queue id (a queue ID or ALL)");
	if (queue && parse_queue(queue, &only) < 0)
		return must_asprintf("ERR unknown queue \"%s\"; use active, deferred, hold or incoming", queue);
	n = queue_admin_apply(q->queue_dir, op, id, only, skip_in_delivery, &sc, &err);
	if (n < 0 && sc.skipped == 0) {
		char *r = must_asprintf("ERR %s", err);

		free(err);
		return r;
	}
	free(err);
	if (n < 0)
		n = 0;
	if (op == QADMIN_RELEASE)
		qmgr_scan_request(q, true, false);
	else if (op == QADMIN_REQUEUE)
		qmgr_scan_request(q, false, false);
	log_info("queue: %s %s: %d message%s", op == QADMIN_DELETE ? "delete" : op == QADMIN_HOLD ? "hold" :
		 op == QADMIN_RELEASE ? "release" : "requeue", id, n + sc.skipped, n + sc.skipped == 1 ? "" : "s");
	return must_asprintf("OK %d", n + sc.skipped);
}

/* One request line (without its LF) to one reply line (new memory). */
static char *control_handle(struct qmgr *q, char *line)
{
	char *words[4] = { NULL, NULL, NULL, NULL };
	size_t n = 0;

	for (char *tok = strtok(line, " \t\r"); tok && n < 4; tok = strtok(NULL, " \t\r"))
		words[n++] = tok;
	if (n == 0)
		return must_asprintf("ERR empty request");
	if (n > 3)
		return must_asprintf("ERR too many arguments");
	if (strcasecmp(words[0], "FLUSH") == 0 && n <= 2)
		return do_flush(q, words[1]);
	if (strcasecmp(words[0], "DELETE") == 0)
		return do_admin(q, QADMIN_DELETE, words[1], words[2]);
	if (strcasecmp(words[0], "HOLD") == 0)
		return do_admin(q, QADMIN_HOLD, words[1], words[2]);
	if (strcasecmp(words[0], "RELEASE") == 0)
		return do_admin(q, QADMIN_RELEASE, words[1], words[2]);
	if (strcasecmp(words[0], "REQUEUE") == 0)
		return do_admin(q, QADMIN_REQUEUE, words[1], words[2]);
	return must_asprintf("ERR unknown request; use FLUSH, DELETE, HOLD, RELEASE or REQUEUE");
}

static void conn_free(struct control_conn *c)
{
	*c->prevp = c->next;
	if (c->next)
		c->next->prevp = c->prevp;
	bufferevent_free(c->bev);
	free(c);
}

static void on_write(struct bufferevent *bev, void *ctx)
{
	struct control_conn *c = ctx;

	if (c->replied && evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		conn_free(c);
}

static void reply(struct control_conn *c, const char *text)
{
	bufferevent_disable(c->bev, EV_READ);
	c->replied = true;
	bufferevent_write(c->bev, text, strlen(text));
	bufferevent_write(c->bev, "\n", 1);
}

static void on_read(struct bufferevent *bev, void *ctx)
{
	struct control_conn *c = ctx;
	struct evbuffer *in = bufferevent_get_input(bev);
	size_t len;
	char *line, *answer;

	if (c->replied)
		return;
	line = evbuffer_readln(in, &len, EVBUFFER_EOL_CRLF);
	if (line == NULL) {
		if (evbuffer_get_length(in) > CONTROL_LINE_MAX)
			reply(c, "ERR request line too long");
		return;
	}
	if (len > CONTROL_LINE_MAX || memchr(line, '\0', len) != NULL) {
		free(line);
		reply(c, "ERR malformed request line");
		return;
	}
	if (c->q->stopping)
		answer = must_asprintf("ERR the queue role is stopping; try again in a moment");
	else
		answer = control_handle(c->q, line);
	free(line);
	reply(c, answer);
	free(answer);
}

static void on_event(struct bufferevent *bev, short what, void *ctx)
{
	(void)bev;
	(void)what;
	conn_free(ctx);
}

static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen, void *ctx)
{
	struct qmgr *q = ctx;
	struct control_conn *c = calloc(1, sizeof(*c));
	struct timeval tv = { .tv_sec = CONTROL_TIMEOUT };

	(void)l;
	(void)sa;
	(void)salen;
	if (c == NULL) {
		close(fd);
		return;
	}
	c->q = q;
	c->bev = bufferevent_socket_new(q->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL) {
		close(fd);
		free(c);
		return;
	}
	c->next = q->control_conns;
	c->prevp = &q->control_conns;
	if (c->next)
		c->next->prevp = &c->next;
	q->control_conns = c;
	bufferevent_setcb(c->bev, on_read, on_write, on_event, c);
	bufferevent_set_timeouts(c->bev, &tv, &tv);
	bufferevent_enable(c->bev, EV_READ);
}

/* qmgr_control_init - serve listen_fd (the master's socket; -1: none).
 * 0, or -1 after logging. */
int qmgr_control_init(struct qmgr *q, int listen_fd)
{
	struct evconnlistener *l;

	if (listen_fd < 0) {
		log_warn("queue: no control socket was passed; postern queue commands will work only while posternd is stopped");
		return 0;
	}
	l = evconnlistener_new(q->base, on_accept, q, LEV_OPT_CLOSE_ON_EXEC, -1, listen_fd);
	if (l == NULL) {
		log_error("queue: cannot serve the control socket");
		return -1;
	}
	q->control = l;
	return 0;
}

/* qmgr_control_free - stop accepting; cut connections in progress. */
void qmgr_control_free(struct qmgr *q)
{
	if (q->control)
		evconnlistener_free(q->control);
	q->control = NULL;
	while (q->control_conns)
		conn_free(q->control_conns);
}
