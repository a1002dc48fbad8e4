/*
 * pickup.c - the queue role's end of the pickup socket (pickup.h): accepts
 * local connections on queue_pickup_socket, learns who is on the other
 * end from the kernel (SO_PEERCRED, unix(7)) and the password file, reads
 * the request lines (pickup-request.c) and the message (pickup-message.c)
 * into a queue file (smtp/queue-file.h), commits it on a worker thread
 * (fsync of the file and of active/, lib/worker.h) and only then answers
 * "OK ID" and tells the queue role (the queued callback).
 *
 * This is Postfix's postdrop + pickup + the local half of cleanup in one
 * place, without a set-gid program or a world-writable maildrop: the
 * socket is the only way in, and each connection is bounded (line
 * length, recipients, message_size_limit, PICKUP_TIMEOUT_SECS of silence,
 * PICKUP_CONN_MAX at once). A connection that ends before the last byte,
 * or is refused, leaves nothing behind (the incoming file is removed).
 *
 * Caller: the queue role (smtp/queue/queue-role.c).
 */
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "log.h"
#include "smtp/queue/pickup-private.h"
#include "smtp/queue/pickup.h"
#include "worker.h"

struct pickup_conn;

struct pickup {
	struct event_base *base;
	struct evconnlistener *listener;
	struct queue_dir *qd;
	struct pickup_limits lim;
	char *myhostname, *myorigin, *mail_name;
	pickup_queued_fn *queued;
	void *ctx;
	struct worker_pool *workers;
	struct pickup_conn *conns;
	size_t n_conns;
};

struct commit_job {
	struct worker_job job;
	struct pickup *p;
	struct pickup_conn *c;      /* NULL once the client is gone */
	struct queue_file *qf;
	int rc;
	const char *err;
	char id[QUEUE_ID_SIZE];
	char *sender;               /* for the log line */
	size_t nrcpt;
	unsigned long uid;
};

struct pickup_conn {
	struct pickup *p;
	struct pickup_conn *prev, *next;
	struct bufferevent *bev;
	struct pickup_peer peer;
	struct pickup_request req;
	struct pickup_message msg;
	bool msg_open, in_data, closing;
	unsigned long long left;
	struct queue_file *qf;
	char id[QUEUE_ID_SIZE];
	struct timespec arrival;
	struct commit_job *job;
};

void pickup_peer_lookup(struct pickup_peer *peer, uid_t uid)
{
	struct passwd pw, *res = NULL;
	char buf[16384];

	memset(peer, 0, sizeof(*peer));
	peer->uid = uid;
	snprintf(peer->login, sizeof(peer->login), "uid %lu", (unsigned long)uid);
	if (getpwuid_r(uid, &pw, buf, sizeof(buf), &res) != 0 || res == NULL || pw.pw_name == NULL ||
	    pw.pw_name[0] == '\0' || strlen(pw.pw_name) >= sizeof(peer->login))
		return;
	peer->known = true;
	str_copy(peer->login, pw.pw_name, sizeof(peer->login));
	if (pw.pw_gecos) {
		/* GECOS: the full name up to the first comma; "&" stands for
		 * the login name with a capital letter (passwd(5)). */
		size_t o = 0;
		for (const char *g = pw.pw_gecos; *g && *g != ',' && o + 1 < sizeof(peer->gecos); g++) {
			if (*g == '&') {
				for (const char *l = pw.pw_name; *l && o + 1 < sizeof(peer->gecos); l++)
					peer->gecos[o++] = (l == pw.pw_name && *l >= 'a' && *l <= 'z') ? (char)(*l - 32) : *l;
			} else {
				peer->gecos[o++] = *g;
			}
		}
		peer->gecos[o] = '\0';
	}
}

static void conn_free(struct pickup_conn *c)
{
	struct pickup *p = c->p;

	if (c->prev)
		c->prev->next = c->next;
	else
		p->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	p->n_conns--;
	if (c->job)
		c->job->c = NULL;
	queue_file_abort(&c->qf);
	if (c->msg_open)
		pickup_message_free(&c->msg);
	pickup_request_free(&c->req);
	bufferevent_free(c->bev);
	free(c);
}

static void event_cb(struct bufferevent *bev, short what, void *arg);

static void closed_after_write(struct bufferevent *bev, void *arg)
{
	conn_free(arg);
}

/* reply_close - the one answer of a connection, then close once it is
 * out. Never frees c at once (read_cb goes on looking at c->closing). */
static void reply_close(struct pickup_conn *c, const char *reply)
{
	c->closing = true;
	queue_file_abort(&c->qf);
	bufferevent_disable(c->bev, EV_READ);
	bufferevent_set_timeouts(c->bev, NULL, NULL);
	bufferevent_setcb(c->bev, NULL, closed_after_write, event_cb, c);
	if (bufferevent_write(c->bev, reply, strlen(reply)) < 0 || bufferevent_write(c->bev, "\n", 1) < 0) {
		/* Out of memory: close without the answer, but from the loop,
		 * since our callers still hold c. */
		bufferevent_trigger(c->bev, EV_WRITE, BEV_TRIG_IGNORE_WATERMARKS | BEV_TRIG_DEFER_CALLBACKS);
		return;
	}
	if (strncmp(reply, "ERR", 3) == 0)
		log_info("pickup: uid=%lu (%s): refused: %s", (unsigned long)c->peer.uid, c->peer.login, reply + 4);
}

static int sink_begin(void *ctx, const char **error_r)
{
	struct pickup_conn *c = ctx;
	struct queue_rcpt *rcpts = calloc(c->req.n_rcpts, sizeof(*rcpts));
	struct queue_envelope env;
	int rc;

	if (rcpts == NULL) {
		*error_r = "out of memory";
		return -1;
	}
	for (size_t i = 0; i < c->req.n_rcpts; i++) {
		rcpts[i].addr = c->req.rcpts[i];
		rcpts[i].notify = c->req.notify;
	}
	memset(&env, 0, sizeof(env));
	env.arrival = c->arrival;
	env.sender = c->req.sender;
	env.envid = c->req.envid;
	env.ret = c->req.ret;
	env.smtputf8 = c->req.smtputf8;
	env.client_name = "localhost";
	env.client_addr = "127.0.0.1";
	env.proto = "local";
	env.sasl_username = c->peer.login;
	env.rcpts = rcpts;
	env.n_rcpts = c->req.n_rcpts;
	rc = queue_file_envelope(c->qf, &env, error_r);
	free(rcpts);
	return rc;
}

static int sink_write(void *ctx, const void *data, size_t len, const char **error_r)
{
	struct pickup_conn *c = ctx;

	return queue_file_write(c->qf, data, len, error_r);
}

static void commit_run(struct worker_job *job)
{
	struct commit_job *j = (struct commit_job *)job;

	j->rc = queue_file_commit(&j->qf, &j->err);
}

static void commit_done(struct worker_job *job)
{
	struct commit_job *j = (struct commit_job *)job;
	struct pickup_conn *c = j->c;
	char reply[64];

	if (j->qf)   /* never ran: the role is stopping, nothing is queued */
		queue_file_abort(&j->qf);
	if (j->rc == 0) {
		log_info("%s: uid=%lu from=<%s> nrcpt=%zu (queue active)", j->id, j->uid,
			 j->sender ? j->sender : "", j->nrcpt);
		if (j->p->queued)
			j->p->queued(j->p->ctx, j->id);
	} else {
		log_warn("%s: cannot queue a local submission: %s", j->id, j->err);
	}
	if (c) {
		c->job = NULL;
		if (j->rc == 0)
			snprintf(reply, sizeof(reply), "OK %s", j->id);
		else
			snprintf(reply, sizeof(reply), "ERR 4.3.0 queue file write error; see the mail log");
		reply_close(c, reply);
	}
	free(j->sender);
	free(j);
}

static void end_data(struct pickup_conn *c)
{
	struct commit_job *j;

	if (pickup_message_end(&c->msg) < 0) {
		reply_close(c, c->msg.reply);
		return;
	}
	j = calloc(1, sizeof(*j));
	if (j == NULL) {
		reply_close(c, "ERR 4.3.0 out of memory in the queue role");
		return;
	}
	j->job.run = commit_run;
	j->job.done = commit_done;
	j->p = c->p;
	j->c = c;
	j->rc = -1;
	j->err = "not committed: the queue role is stopping";
	j->qf = c->qf;
	c->qf = NULL;
	str_copy(j->id, c->id, sizeof(j->id));
	j->sender = strdup(c->req.sender ? c->req.sender : "");
	j->nrcpt = c->req.n_rcpts;
	j->uid = (unsigned long)c->peer.uid;
	c->job = j;
	c->closing = true;    /* nothing more is read from this client */
	bufferevent_disable(c->bev, EV_READ);
	bufferevent_set_timeouts(c->bev, NULL, NULL);
	if (c->p->workers == NULL || worker_pool_submit(c->p->workers, &j->job) < 0) {
		/* No pool or a full queue: commit here (blocks this loop briefly). */
		commit_run(&j->job);
		commit_done(&j->job);
	}
}

static void start_data(struct pickup_conn *c)
{
	struct pickup_sink sink = { sink_begin, sink_write, c };
	const char *err;

	if (!c->req.has_sender) {
		bool utf8;
		const char *why;

		if (!c->peer.known) {
			char reply[PICKUP_REPLY_MAX];
			snprintf(reply, sizeof(reply), "ERR 5.7.1 no login name for user id %lu in the password file; "
				 "give the sender with -f", (unsigned long)c->peer.uid);
			reply_close(c, reply);
			return;
		}
		c->req.sender = pickup_address(c->peer.login, strlen(c->peer.login), &c->p->lim, &utf8, &why);
		if (c->req.sender == NULL) {
			reply_close(c, "ERR 5.1.7 the login name is not a valid address; give the sender with -f");
			return;
		}
	}
	c->qf = queue_file_create_in(c->p->qd, c->id, &err);
	if (c->qf == NULL) {
		char reply[PICKUP_REPLY_MAX];
		log_warn("pickup: cannot create a queue file: %s", err);
		snprintf(reply, sizeof(reply), "ERR 4.3.0 cannot create a queue file; see the mail log");
		reply_close(c, reply);
		return;
	}
	clock_gettime(CLOCK_REALTIME, &c->arrival);
	pickup_message_init(&c->msg, &c->p->lim, &c->req, &c->peer, c->id, c->arrival.tv_sec, &sink);
	c->msg_open = true;
	c->in_data = true;
	c->left = c->req.size;
	if (c->left == 0)
		end_data(c);
}

static void read_cb(struct bufferevent *bev, void *arg)
{
	struct pickup_conn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	char buf[16384];

	while (!c->closing) {
		if (!c->in_data) {
			size_t eol_len = 0;
			struct evbuffer_ptr pos = evbuffer_search_eol(in, NULL, &eol_len, EVBUFFER_EOL_LF);
			char reply[PICKUP_REPLY_MAX];
			size_t len;
			int rc;

			if (pos.pos < 0) {
				if (evbuffer_get_length(in) > PICKUP_LINE_MAX + 1) {
					snprintf(reply, sizeof(reply), "ERR 5.5.2 request line too long (the limit is %d bytes)",
						 PICKUP_LINE_MAX);
					reply_close(c, reply);
				}
				return;
			}
			len = (size_t)pos.pos;
			if (len > PICKUP_LINE_MAX + 1) {
				snprintf(reply, sizeof(reply), "ERR 5.5.2 request line too long (the limit is %d bytes)",
					 PICKUP_LINE_MAX);
				reply_close(c, reply);
				return;
			}
			evbuffer_remove(in, buf, len);
			evbuffer_drain(in, eol_len);
			rc = pickup_request_line(&c->req, &c->p->lim, buf, len, reply, sizeof(reply));
			if (rc == PICKUP_LINE_ERROR) {
				reply_close(c, reply);
				return;
			}
			if (rc == PICKUP_LINE_DATA)
				start_data(c);
			continue;
		}
		size_t avail = evbuffer_get_length(in);
		if (avail == 0)
			return;
		size_t take = avail < sizeof(buf) ? avail : sizeof(buf);
		if (take > c->left)
			take = (size_t)c->left;
		int n = evbuffer_remove(in, buf, take);
		if (n <= 0)
			return;
		c->left -= (unsigned long long)n;
		if (pickup_message_feed(&c->msg, buf, (size_t)n) < 0) {
			reply_close(c, c->msg.reply);
			return;
		}
		if (c->left == 0)
			end_data(c);
	}
	/* Bytes after the message (or after a refusal) are not read. */
}

static void event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct pickup_conn *c = arg;

	if (c->closing && c->job == NULL) {
		conn_free(c);   /* the answer could not be written: the client left */
		return;
	}
	if (what & BEV_EVENT_TIMEOUT)
		log_warn("pickup: uid=%lu (%s): timeout after %d seconds of silence; nothing queued",
			 (unsigned long)c->peer.uid, c->peer.login, PICKUP_TIMEOUT_SECS);
	else if (c->in_data && c->left > 0)
		log_info("pickup: uid=%lu (%s): lost connection with %llu of %llu message bytes to come; nothing queued",
			 (unsigned long)c->peer.uid, c->peer.login, c->left, c->req.size);
	/* A commit in progress goes on: the message is queued, only the
	 * answer has nobody to read it. */
	conn_free(c);
}

static void accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int socklen, void *arg)
{
	struct pickup *p = arg;
	struct pickup_conn *c;
	struct ucred cred;
	socklen_t clen = sizeof(cred);
	struct timeval tv = { PICKUP_TIMEOUT_SECS, 0 };

	if (p->n_conns >= PICKUP_CONN_MAX) {
		static const char busy[] = "ERR 4.3.2 too many local submissions at once; try again later\n";
		ssize_t w = send(fd, busy, sizeof(busy) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
		(void)w;
		log_warn("pickup: %d local submissions at once; refusing more until one ends", PICKUP_CONN_MAX);
		close(fd);
		return;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) < 0) {
		log_warn("pickup: cannot learn the peer's user id: %s", strerror(errno));
		close(fd);
		return;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		close(fd);
		return;
	}
	c->bev = bufferevent_socket_new(p->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL) {
		close(fd);
		free(c);
		return;
	}
	c->p = p;
	pickup_peer_lookup(&c->peer, cred.uid);
	c->next = p->conns;
	if (p->conns)
		p->conns->prev = c;
	p->conns = c;
	p->n_conns++;
	bufferevent_setcb(c->bev, read_cb, NULL, event_cb, c);
	bufferevent_set_timeouts(c->bev, &tv, &tv);
	bufferevent_enable(c->bev, EV_READ);
}

struct pickup *pickup_new(struct event_base *base, int listen_fd, struct queue_dir *qd,
			  const struct config *cfg, pickup_queued_fn *queued, void *ctx, char **error_r)
{
	struct pickup *p = calloc(1, sizeof(*p));
	const char *err;

	if (p == NULL) {
		*error_r = must_strdup("pickup: out of memory");
		return NULL;
	}
	p->base = base;
	p->qd = qd;
	p->queued = queued;
	p->ctx = ctx;
	p->myhostname = must_strdup(config_str(cfg, "myhostname"));
	p->myorigin = must_strdup(config_str(cfg, "myorigin"));
	p->mail_name = must_strdup(config_str(cfg, "mail_name"));
	p->lim.size_limit = (unsigned long long)config_size(cfg, "message_size_limit");
	p->lim.rcpt_limit = (size_t)config_int(cfg, "smtpd_recipient_limit");
	p->lim.header_limit = (size_t)config_size(cfg, "header_size_limit");
	p->lim.append_at_myorigin = config_bool(cfg, "append_at_myorigin");
	p->lim.myhostname = p->myhostname;
	p->lim.myorigin = p->myorigin;
	p->lim.mail_name = p->mail_name;
	/* One thread: local submissions are few; it keeps their fsyncs off
	 * the loop that also runs deliveries. */
	p->workers = worker_pool_new(base, 1, &err);
	if (p->workers == NULL) {
		*error_r = must_asprintf("pickup: cannot start a worker thread: %s", err);
		goto fail;
	}
	/* libevent accepts until EAGAIN: a blocking socket would hang the loop. */
	evutil_make_socket_nonblocking(listen_fd);
	p->listener = evconnlistener_new(base, accept_cb, p, LEV_OPT_CLOSE_ON_EXEC, -1, listen_fd);
	if (p->listener == NULL) {
		*error_r = must_strdup("pickup: cannot listen on queue_pickup_socket (libevent listener failed)");
		goto fail;
	}
	return p;
fail:
	worker_pool_free(&p->workers);
	free(p->myhostname);
	free(p->myorigin);
	free(p->mail_name);
	free(p);
	return NULL;
}

void pickup_free(struct pickup **pp)
{
	struct pickup *p = *pp;

	if (p == NULL)
		return;
	if (p->listener)
		evconnlistener_free(p->listener);
	while (p->conns)
		conn_free(p->conns);
	/* Jobs still queued get done() here with no connection: aborted. */
	worker_pool_free(&p->workers);
	free(p->myhostname);
	free(p->myorigin);
	free(p->mail_name);
	free(p);
	*pp = NULL;
}
