/*
 * master-control.c - the master's control socket, $run_directory/master.sock.
 *
 * Used by `postern status|stop|reload` and later by the web role. A tiny
 * line protocol, documented in docs/ARCHITECTURE.md ("Processes and
 * sockets"): the client sends one command line (STATUS, RELOAD or STOP),
 * the master answers with lines and ends the answer with a line holding a
 * single ".". Several commands may follow on one connection.
 *
 * The socket is mode 0600 and owned by the master's user; a peer whose
 * uid (SO_PEERCRED) is neither that user nor root is refused as well, so
 * a permission slip on the directory does not open the master to others.
 * Requests are bounded (MASTER_CONTROL_MAX_LINE), a connection is closed
 * after 10 idle seconds, and answers are small enough for one write.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/event.h>

#include "log.h"
#include "master/master.h"
#include "util.h"

#define CONTROL_IDLE_SECONDS 10

struct control_client {
	struct master *m;
	int fd;
	struct event *ev;
	char buf[MASTER_CONTROL_MAX_LINE + 2];
	size_t len;
	struct control_client *prev, *next;
};

/* Open connections, so that a stop frees them (one master per process). */
static struct control_client *clients;

int master_control_open(struct master *m, char **error_r)
{
	struct sockaddr_un sun;
	const char *dir = config_str(m->cfg, "run_directory");
	mode_t old_mask;
	int fd;

	m->control_path = must_asprintf("%s/%s", dir, MASTER_CONTROL_SOCKET);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (str_copy(sun.sun_path, m->control_path, sizeof(sun.sun_path)) >= sizeof(sun.sun_path)) {
		*error_r = must_asprintf("control socket path %s is longer than %zu bytes; choose a shorter run_directory",
					 m->control_path, sizeof(sun.sun_path) - 1);
		return -1;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		*error_r = must_asprintf("cannot create control socket: %s", strerror(errno));
		return -1;
	}
	/* We hold the pid file lock, so a leftover socket is from a master
	 * that is gone. */
	(void)unlink(m->control_path);
	old_mask = umask(0177);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		int e = errno;
		umask(old_mask);
		close(fd);
		*error_r = must_asprintf("cannot bind control socket %s: %s", m->control_path, strerror(e));
		return -1;
	}
	umask(old_mask);
	if (chmod(m->control_path, 0600) < 0 || listen(fd, 16) < 0) {
		int e = errno;
		close(fd);
		*error_r = must_asprintf("cannot listen on control socket %s: %s", m->control_path, strerror(e));
		return -1;
	}
	m->control_fd = fd;
	return 0;
}

static void client_free(struct control_client *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		clients = c->next;
	if (c->next)
		c->next->prev = c->prev;
	event_free(c->ev);
	close(c->fd);
	free(c);
}

static const char *state_name(const struct master_proc *p)
{
	switch (p->state) {
	case PROC_RUNNING: return "running";
	case PROC_WAITING: return p->after_old ? "starting" : "restarting";
	case PROC_STOPPING: return "stopping";
	case PROC_EXITED: return "stopped";
	}
	return "?";
}

void master_status_text(const struct master *m, struct strbuf *sb)
{
	time_t now = time(NULL);

	strbuf_printf(sb, "master pid=%ld uptime=%lld reloads=%u user=%s config=%s\n",
		      (long)getpid(), (long long)(now - m->started), m->reloads,
		      m->id.drop ? "root" : m->id.user, config_path(m->cfg));
	for (size_t i = 0; i < m->n_procs; i++) {
		const struct master_proc *p = m->procs[i];
		const char *user = m->id.drop && !(p->def->keeps_root && p->def->keeps_root(m->cfg))
					   ? m->id.user : (m->id.drop ? "root" : m->id.user);

		strbuf_printf(sb, "role name=%s pid=%ld state=%s restarts=%u uptime=%lld user=%s%s listeners=",
			      p->def->name, (long)(p->pid > 0 ? p->pid : 0), state_name(p),
			      p->restarts,
			      p->state == PROC_RUNNING ? (long long)(now - p->started) : 0LL, user,
			      p->old ? " generation=old" : "");
		for (size_t k = 0; k < p->n_listeners && !p->old; k++)
			strbuf_printf(sb, "%s%s", k ? "," : "",
				      m->listeners.items[p->listener_idx[k]].cl->name);
		strbuf_putc(sb, '\n');
	}
	for (size_t i = 0; i < m->listeners.n; i++) {
		const struct config_listener *cl = m->listeners.items[i].cl;
		const struct role_def *r = role_for_protocol(cl->protocol);

		strbuf_printf(sb, "listener name=%s protocol=%s address=%s port=%d tls=%s role=%s\n",
			      cl->name, cl->protocol, cl->address, cl->port, tls_mode_name(cl->tls),
			      r ? r->name : "-");
	}
}

/* Returns false when the connection is to be closed after the answer. */
static bool control_command(struct control_client *c, char *line, struct strbuf *out)
{
	struct master *m = c->m;
	char *cmd = str_trim(line);

	if (strcasecmp(cmd, "STATUS") == 0) {
		master_status_text(m, out);
	} else if (strcasecmp(cmd, "RELOAD") == 0) {
		struct strbuf errs;

		strbuf_init(&errs, 64 * 1024);
		log_info("reload requested over the control socket");
		if (master_reload(m, &errs) == 0)
			strbuf_puts(out, "OK configuration reloaded\n");
		else
			strbuf_printf(out, "%sERR reload failed, keeping the running configuration\n",
				      errs.data ? errs.data : "");
		strbuf_free(&errs);
	} else if (strcasecmp(cmd, "STOP") == 0) {
		strbuf_puts(out, "OK stopping\n.\n");
		log_info("stop requested over the control socket");
		master_begin_stop(m);
		return false;
	} else {
		char esc[80];

		strbuf_printf(out, "ERR unknown command \"%s\"; use STATUS, RELOAD or STOP\n",
			      str_escape(cmd, strlen(cmd), esc, sizeof(esc)));
	}
	strbuf_puts(out, ".\n");
	return true;
}

static void send_all(int fd, const char *p, size_t len)
{
	/* Answers are a few kilobytes; a client that does not read them
	 * within the socket buffer loses the rest rather than block us. */
	while (len > 0) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		p += n;
		len -= (size_t)n;
	}
}

static void client_cb(evutil_socket_t fd, short what, void *arg)
{
	struct control_client *c = arg;
	ssize_t n;
	bool keep = true;

	if (what & EV_TIMEOUT) {
		client_free(c);
		return;
	}
	n = recv(fd, c->buf + c->len, sizeof(c->buf) - 1 - c->len, 0);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		client_free(c);
		return;
	}
	c->len += (size_t)n;
	c->buf[c->len] = '\0';
	for (;;) {
		char *nl = memchr(c->buf, '\n', c->len);
		struct strbuf out;

		if (nl == NULL)
			break;
		*nl = '\0';
		strbuf_init(&out, 1024 * 1024);
		keep = control_command(c, c->buf, &out);
		send_all(c->fd, out.data ? out.data : "", out.len);
		strbuf_free(&out);
		c->len -= (size_t)(nl + 1 - c->buf);
		memmove(c->buf, nl + 1, c->len);
		c->buf[c->len] = '\0';
		if (!keep)
			break;
	}
	if (keep && c->len >= MASTER_CONTROL_MAX_LINE) {
		send_all(c->fd, "ERR line too long\n.\n", 20);
		keep = false;
	}
	if (!keep)
		client_free(c);
}

static void accept_cb(evutil_socket_t lfd, short what, void *arg)
{
	struct master *m = arg;
	struct timeval tv = { CONTROL_IDLE_SECONDS, 0 };
	struct control_client *c;
	struct ucred cred;
	socklen_t len = sizeof(cred);
	int fd;

	(void)what;
	fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0)
		return;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 ||
	    (cred.uid != 0 && cred.uid != geteuid())) {
		send_all(fd, "ERR permission denied\n.\n", 24);
		close(fd);
		return;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		close(fd);
		return;
	}
	c->m = m;
	c->fd = fd;
	c->ev = event_new(m->base, fd, EV_READ | EV_PERSIST | EV_TIMEOUT, client_cb, c);
	if (c->ev == NULL || event_add(c->ev, &tv) < 0) {
		if (c->ev)
			event_free(c->ev);
		close(fd);
		free(c);
		return;
	}
	c->next = clients;
	if (clients)
		clients->prev = c;
	clients = c;
}

void master_control_start(struct master *m)
{
	m->control_ev = event_new(m->base, m->control_fd, EV_READ | EV_PERSIST, accept_cb, m);
	if (m->control_ev == NULL || event_add(m->control_ev, NULL) < 0)
		log_fatal("cannot watch the control socket");
}

void master_control_close(struct master *m)
{
	while (clients)
		client_free(clients);
	if (m->control_ev)
		event_free(m->control_ev);
	m->control_ev = NULL;
	if (m->control_fd >= 0) {
		close(m->control_fd);
		(void)unlink(m->control_path);
	}
	m->control_fd = -1;
	x_free(&m->control_path);
}
