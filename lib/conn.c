/*
 * conn.c - struct conn lifetime, bufferevent event handling, output,
 * timeouts and closing. Input parsing is in conn-input.c, TLS in
 * conn-tls.c; the contract is in conn.h.
 *
 * Re-entrancy. Callbacks may do anything, including conn_free(). Every
 * place here that calls into the protocol holds a reference (conn_hold)
 * and stops touching the conn if conn_release() says it was freed. The
 * bufferevents use BEV_OPT_DEFER_CALLBACKS so that libevent never calls us
 * from inside our own bufferevent_write()/enable() calls.
 *
 * Why close after flush lingers: closing a socket that still has unread
 * client input makes the kernel send an RST, and the client may then never
 * see our last reply ("221 Bye", "500 line too long" followed by a close).
 * So after the output is sent we shut down our write side and read (and
 * drop) client input until EOF or CONN_LINGER_SECONDS, as web servers do.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>

#include "conn-private.h"
#include "log.h"
#include "util.h"

const char *conn_close_reason_name(enum conn_close_reason reason)
{
	switch (reason) {
	case CONN_CLOSE_LOCAL: return "closed";
	case CONN_CLOSE_EOF: return "eof";
	case CONN_CLOSE_ERROR: return "error";
	case CONN_CLOSE_TIMEOUT: return "timeout";
	case CONN_CLOSE_TLS: return "tls";
	case CONN_CLOSE_OUTPUT: return "output limit";
	case CONN_CLOSE_NOMEM: return "out of memory";
	}
	return "unknown";
}

void conn_hold(struct conn *c)
{
	c->refs++;
}

bool conn_release(struct conn *c)
{
	c->refs--;
	if (!c->freed)
		return true;
	if (c->refs == 0) {
		if (c->ev_deferred != NULL)
			event_free(c->ev_deferred);
		free(c->line);
		free(c->chunk);
		free(c);
	}
	return false;
}

void conn_schedule(struct conn *c)
{
	if (c->ev_deferred != NULL)
		event_active(c->ev_deferred, EV_TIMEOUT, 1);
}

void conn_set_reason(struct conn *c, enum conn_close_reason reason, const char *detail)
{
	/* the first cause wins: a timeout that then fails to flush its reply
	 * is still a timeout */
	if (c->reason_set)
		return;
	c->reason_set = true;
	c->reason = reason;
	str_copy(c->detail, detail != NULL ? detail : "", sizeof(c->detail));
}

/* teardown - close the socket and free I/O state; idempotent. */
static void teardown(struct conn *c)
{
	conn_release_fn *fn = c->release_fn;

	if (fn != NULL) {
		c->release_fn = NULL;
		fn(c->release_arg);
	}
	if (c->bev != NULL) {
		/* closes the fd (and frees the SSL) once libevent is done with it */
		bufferevent_free(c->bev);
		c->bev = NULL;
	}
	c->ssl = NULL;
	c->fd = -1;
	if (c->starttls_ctx != NULL) {
		SSL_CTX_free(c->starttls_ctx);
		c->starttls_ctx = NULL;
	}
}

void conn_finish(struct conn *c, enum conn_close_reason reason, const char *detail)
{
	if (c->freed || c->state >= CONN_CLOSED)
		return;
	conn_set_reason(c, reason, detail);
	teardown(c);
	c->state = CONN_CLOSED;
	conn_schedule(c);
}

static void apply_timeouts(struct conn *c)
{
	struct timeval tv;

	if (c->bev == NULL)
		return;
	if (c->timeout > 0) {
		tv.tv_sec = c->timeout;
		tv.tv_usec = 0;
		bufferevent_set_timeouts(c->bev, &tv, &tv);
	} else {
		bufferevent_set_timeouts(c->bev, NULL, NULL);
	}
}

void conn_apply_watermarks(struct conn *c)
{
	if (c->bev == NULL)
		return;
	/* the read high-water mark is what bounds buffered input: libevent
	 * stops reading the socket until we have consumed below it */
	bufferevent_setwatermark(c->bev, EV_READ, 0, c->max_line + 2 + CONN_INPUT_SLACK);
	bufferevent_setwatermark(c->bev, EV_WRITE, CONN_DRAIN_MARK, 0);
}

/* linger_start - all output is out: close_notify, FIN, then drain input. */
static void linger_start(struct conn *c)
{
	struct timeval tv = { CONN_LINGER_SECONDS, 0 };

	c->state = CONN_LINGER;
	event_base_gettimeofday_cached(c->base, &c->linger_start);
	if (c->ssl != NULL && SSL_is_init_finished(c->ssl)) {
		(void)SSL_shutdown(c->ssl);
		ERR_clear_error();
	}
	if (shutdown(bufferevent_getfd(c->bev), SHUT_WR) < 0) {
		conn_finish(c, CONN_CLOSE_LOCAL, "");
		return;
	}
	evbuffer_drain(bufferevent_get_input(c->bev), evbuffer_get_length(bufferevent_get_input(c->bev)));
	bufferevent_set_timeouts(c->bev, &tv, &tv);
	bufferevent_enable(c->bev, EV_READ);
}

static void conn_read_cb(struct bufferevent *bev, void *arg)
{
	conn_process_input(arg);
}

static void conn_write_cb(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;
	size_t pending = evbuffer_get_length(bufferevent_get_output(bev));

	conn_hold(c);
	switch (c->state) {
	case CONN_TLS_FLUSH:
		if (pending == 0)
			conn_tls_switch(c);
		break;
	case CONN_FLUSHING:
		if (pending == 0)
			linger_start(c);
		break;
	case CONN_OPEN:
		/* output progress is activity: restart the idle timer so that a
		 * client downloading a big message does not time out */
		if (c->timeout > 0)
			apply_timeouts(c);
		if (c->cb != NULL && c->cb->on_drained != NULL)
			c->cb->on_drained(c, c->ctx);
		break;
	default:
		break;
	}
	conn_release(c);
}

/* socket_error_detail - why the connection failed; true when it was a TLS
 * (record layer) error rather than a socket error. */
static bool socket_error_detail(struct conn *c, char *buf, size_t size)
{
	unsigned long e = 0, first = 0;
	int err = EVUTIL_SOCKET_ERROR();

	if (c->tls && c->bev != NULL) {
		while ((e = bufferevent_get_openssl_error(c->bev)) != 0) {
			if (first == 0)
				first = e;
		}
	}
	if (first != 0) {
		const char *r = ERR_reason_error_string(first);

		str_copy(buf, r != NULL ? r : "TLS error", size);
		return true;
	}
	/* errno may be stale with deferred callbacks; it is only a hint */
	str_copy(buf, err != 0 ? strerror(err) : "connection error", size);
	return false;
}

static void idle_timeout(struct conn *c)
{
	conn_set_reason(c, CONN_CLOSE_TIMEOUT, "idle timeout");
	if (c->cb != NULL && c->cb->on_timeout != NULL) {
		c->cb->on_timeout(c, c->ctx);
		if (c->freed)
			return;
	}
	conn_close_after_flush(c);
}

static void conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct conn *c = arg;
	char detail[256];

	conn_hold(c);
	/* deferred event flags accumulate: CONNECTED may come with EOF */
	if (what & BEV_EVENT_CONNECTED) {
		conn_tls_mark_ready(c);
		what &= ~BEV_EVENT_CONNECTED;
		if (c->freed || what == 0)
			goto out;
	}
	if (c->state == CONN_LINGER) {
		/* EOF, error or linger timeout: either way we are done */
		conn_finish(c, CONN_CLOSE_LOCAL, "");
	} else if (c->tls && !c->tls_ready) {
		conn_tls_failed(c, what);
	} else if (what & BEV_EVENT_TIMEOUT) {
		if ((what & BEV_EVENT_WRITING) || c->state != CONN_OPEN)
			conn_finish(c, CONN_CLOSE_TIMEOUT, "write timeout: the client does not read");
		else
			idle_timeout(c);
	} else if (what & BEV_EVENT_EOF) {
		c->eof = true;
		if (c->state == CONN_OPEN)
			conn_process_input(c);
		else
			conn_finish(c, CONN_CLOSE_EOF, "");
	} else if (what & BEV_EVENT_ERROR) {
		bool tls_error = socket_error_detail(c, detail, sizeof(detail));

		conn_finish(c, tls_error ? CONN_CLOSE_TLS : CONN_CLOSE_ERROR, detail);
	}
out:
	conn_release(c);
}

void conn_install_bev(struct conn *c)
{
	bufferevent_setcb(c->bev, conn_read_cb, conn_write_cb, conn_event_cb, c);
	conn_apply_watermarks(c);
	apply_timeouts(c);
	if (c->started && !c->paused && !c->eof)
		bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	else {
		bufferevent_disable(c->bev, EV_READ);
		bufferevent_enable(c->bev, EV_WRITE);
	}
}

static void conn_deferred_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;

	conn_hold(c);
	if (c->state == CONN_TLS_FLUSH && c->want_switch) {
		c->want_switch = false;
		conn_tls_switch(c);
	}
	if (c->freed) {
		/* nothing */
	} else if (c->state == CONN_CLOSED) {
		c->state = CONN_NOTIFIED;
		if (c->cb != NULL && c->cb->on_close != NULL)
			c->cb->on_close(c, c->reason, c->detail, c->ctx);
	} else if (c->state == CONN_OPEN) {
		conn_process_input(c);
	}
	conn_release(c);
}

/* format_addr - numeric address and port; IPv4-mapped IPv6 as IPv4. */
static void format_addr(const struct sockaddr_storage *ss, char *buf, size_t size, int *port_r)
{
	const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;

	str_copy(buf, "unknown", size);
	*port_r = 0;
	if (ss->ss_family == AF_INET) {
		inet_ntop(AF_INET, &sin->sin_addr, buf, size);
		*port_r = ntohs(sin->sin_port);
	} else if (ss->ss_family == AF_INET6) {
		if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr))
			inet_ntop(AF_INET, &sin6->sin6_addr.s6_addr[12], buf, size);
		else
			inet_ntop(AF_INET6, &sin6->sin6_addr, buf, size);
		*port_r = ntohs(sin6->sin6_port);
	}
}

static void read_addresses(struct conn *c)
{
	struct sockaddr_storage ss;
	socklen_t len;

	memset(&ss, 0, sizeof(ss));
	len = sizeof(ss);
	if (getpeername(c->fd, (struct sockaddr *)&ss, &len) < 0)
		ss.ss_family = AF_UNSPEC;
	format_addr(&ss, c->peer_addr, sizeof(c->peer_addr), &c->peer_port);
	memset(&ss, 0, sizeof(ss));
	len = sizeof(ss);
	if (getsockname(c->fd, (struct sockaddr *)&ss, &len) < 0)
		ss.ss_family = AF_UNSPEC;
	format_addr(&ss, c->local_addr, sizeof(c->local_addr), &c->local_port);
	snprintf(c->name, sizeof(c->name), "unknown[%s]", c->peer_addr);
}

struct conn *conn_new(struct event_base *base, int fd, SSL_CTX *ssl_ctx, const char **error_r)
{
	struct conn *c;

	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		close(fd);
		*error_r = "out of memory for a new connection";
		return NULL;
	}
	c->base = base;
	c->fd = fd;
	c->state = CONN_OPEN;
	c->max_line = CONN_DEFAULT_MAX_LINE;
	c->output_limit = CONN_DEFAULT_OUTPUT_LIMIT;
	read_addresses(c);
	c->line = malloc(c->max_line + 2);
	c->ev_deferred = event_new(base, -1, 0, conn_deferred_cb, c);
	if (c->line == NULL || c->ev_deferred == NULL) {
		*error_r = "out of memory for a new connection";
		goto fail;
	}
	if (ssl_ctx != NULL) {
		c->bev = conn_tls_bev_new(c, ssl_ctx, fd, error_r);
		if (c->bev == NULL)
			goto fail_fd_unknown;
	} else {
		c->bev = bufferevent_socket_new(base, fd, BEV_OPT_DEFER_CALLBACKS | BEV_OPT_CLOSE_ON_FREE);
		if (c->bev == NULL) {
			*error_r = "cannot create a bufferevent (out of memory?)";
			goto fail;
		}
	}
	conn_install_bev(c);
	return c;
fail:
	close(fd);
fail_fd_unknown:
	c->fd = -1;
	c->freed = true;
	teardown(c);
	conn_hold(c);
	conn_release(c);
	return NULL;
}

void conn_set_callbacks(struct conn *c, const struct conn_callbacks *cb, void *ctx)
{
	c->cb = cb;
	c->ctx = ctx;
	c->started = true;
	if (c->state == CONN_OPEN && c->bev != NULL && !c->paused && !c->eof) {
		bufferevent_enable(c->bev, EV_READ | EV_WRITE);
		conn_schedule(c);
	}
}

int conn_set_max_line(struct conn *c, size_t max_line)
{
	char *p;

	if (max_line < 1 || max_line > SIZE_MAX / 2)
		return -1;
	p = realloc(c->line, max_line + 2);
	if (p == NULL)
		return -1;
	c->line = p;
	c->max_line = max_line;
	conn_apply_watermarks(c);
	return 0;
}

void conn_set_output_limit(struct conn *c, size_t limit)
{
	c->output_limit = limit;
}

void conn_set_timeout(struct conn *c, int seconds)
{
	c->timeout = seconds > 0 ? seconds : 0;
	if (c->state == CONN_OPEN || c->state == CONN_TLS_FLUSH || c->state == CONN_FLUSHING)
		apply_timeouts(c);
}

void conn_set_name(struct conn *c, const char *name)
{
	str_copy(c->name, name, sizeof(c->name));
}

void conn_set_direct_output(struct conn *c, bool on)
{
	c->direct_output = on;
}

/* send_direct - conn_set_direct_output(): send what the socket takes now,
 * if nothing is queued before it and the bytes would go out in the clear
 * anyway (never on a TLS connection, nor during a STARTTLS switch).
 * Returns the bytes sent; errors are left to the bufferevent, which meets
 * them again on its own write and reports them through the event
 * callback as for any other write. */
static size_t send_direct(struct conn *c, struct evbuffer *out, const void *data, size_t len)
{
	ssize_t n;

	if (!c->direct_output || c->tls || c->ssl != NULL || c->starttls_ctx != NULL || c->fd < 0 ||
	    evbuffer_get_length(out) != 0)
		return 0;
	do {
		n = send(c->fd, data, len, MSG_NOSIGNAL | MSG_DONTWAIT);
	} while (n < 0 && errno == EINTR);
	return n > 0 ? (size_t)n : 0;
}

int conn_write(struct conn *c, const void *data, size_t len)
{
	struct evbuffer *out;
	size_t sent;

	if (c->freed || c->state != CONN_OPEN || c->bev == NULL)
		return -1;
	out = bufferevent_get_output(c->bev);
	sent = send_direct(c, out, data, len);
	if (sent == len)
		return 0;
	data = (const char *)data + sent;
	len -= sent;
	if (len > c->output_limit || evbuffer_get_length(out) > c->output_limit - len) {
		log_warn("%s: output limit of %zu bytes exceeded: the client does not read; disconnecting",
			 c->name, c->output_limit);
		conn_finish(c, CONN_CLOSE_OUTPUT, "output limit exceeded: the client does not read");
		return -1;
	}
	if (bufferevent_write(c->bev, data, len) < 0) {
		log_warn("%s: out of memory queuing output; disconnecting", c->name);
		conn_finish(c, CONN_CLOSE_NOMEM, "out of memory");
		return -1;
	}
	return 0;
}

int conn_vprintf(struct conn *c, const char *fmt, va_list ap)
{
	char small[512], *big;
	va_list ap2;
	int n, ret;

	va_copy(ap2, ap);
	n = vsnprintf(small, sizeof(small), fmt, ap2);
	va_end(ap2);
	if (n < 0)
		return -1;
	if ((size_t)n < sizeof(small))
		return conn_write(c, small, (size_t)n);
	big = malloc((size_t)n + 1);
	if (big == NULL) {
		conn_finish(c, CONN_CLOSE_NOMEM, "out of memory");
		return -1;
	}
	va_copy(ap2, ap);
	vsnprintf(big, (size_t)n + 1, fmt, ap2);
	va_end(ap2);
	ret = conn_write(c, big, (size_t)n);
	free(big);
	return ret;
}

int conn_printf(struct conn *c, const char *fmt, ...)
{
	va_list ap;
	int ret;

	va_start(ap, fmt);
	ret = conn_vprintf(c, fmt, ap);
	va_end(ap);
	return ret;
}

size_t conn_output_pending(const struct conn *c)
{
	if (c->bev == NULL)
		return 0;
	return evbuffer_get_length(bufferevent_get_output(c->bev));
}

void conn_close_after_flush(struct conn *c)
{
	if (c->freed || c->state >= CONN_FLUSHING)
		return;
	conn_set_reason(c, CONN_CLOSE_LOCAL, "");
	if (c->starttls_ctx != NULL) {
		SSL_CTX_free(c->starttls_ctx);
		c->starttls_ctx = NULL;
	}
	c->state = CONN_FLUSHING;
	bufferevent_disable(c->bev, EV_READ);
	if (conn_output_pending(c) == 0)
		linger_start(c);
}

void conn_close(struct conn *c)
{
	conn_finish(c, CONN_CLOSE_LOCAL, "");
}

bool conn_is_closing(const struct conn *c)
{
	return c->freed || c->state != CONN_OPEN;
}

void conn_free(struct conn *c)
{
	if (c == NULL)
		return;
	c->freed = true;
	c->cb = NULL;
	teardown(c);
	conn_hold(c);
	conn_release(c);
}

const char *conn_peer_addr(const struct conn *c)
{
	return c->peer_addr;
}

int conn_peer_port(const struct conn *c)
{
	return c->peer_port;
}

const char *conn_local_addr(const struct conn *c)
{
	return c->local_addr;
}

int conn_local_port(const struct conn *c)
{
	return c->local_port;
}

static int tcp_option(const struct conn *c, int option)
{
	int one = 1;

	if (c->fd < 0)
		return -1;
	return setsockopt(c->fd, IPPROTO_TCP, option, &one, sizeof(one));
}

int conn_set_nodelay(struct conn *c)
{
	return tcp_option(c, TCP_NODELAY);
}

int conn_quickack(struct conn *c)
{
	return tcp_option(c, TCP_QUICKACK);
}

void conn_set_release_hook(struct conn *c, conn_release_fn *fn, void *arg)
{
	c->release_fn = fn;
	c->release_arg = arg;
}
