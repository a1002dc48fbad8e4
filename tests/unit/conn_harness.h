/*
 * conn_harness.h - shared test harness for test_conn.c and test_tls.c:
 * a real listening socket on 127.0.0.1 (ephemeral port), a server +
 * a small line-echo protocol on an event_base in the main thread, and a
 * blocking test client (plain or OpenSSL) in a second thread.
 *
 * The client thread never calls cmocka (assertions are not thread-safe);
 * it records what it received and the main thread asserts after joining.
 * Nothing can hang: the loop has a watchdog timer, client sockets have
 * receive timeouts, and each test arms alarm() as a last resort.
 *
 * The echo protocol: greeting "220 hi" on accept (if h->greeting);
 *   PAUSE       pause reading for 50 ms, then resume
 *   DATA n      read n raw bytes (pattern check), reply "OK n sum"
 *   STARTTLS    reply "220 ready", conn_start_tls()
 *   QUIT        reply "221 bye", close after flush
 *   FLOOD n     queue n KiB of output at once (output limit test)
 *   STREAM n    send n KiB, 16 KiB at a time from on_drained
 *   KILL        the session frees itself inside on_line (no on_close)
 *   other       reply "> line"
 * Every event is appended to h->events ("L:line|", "TOOLONG|", ...).
 */
#ifndef CONN_HARNESS_H
#define CONN_HARNESS_H

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "conn.h"
#include "evloop.h"
#include "listen.h"
#include "server.h"
#include "tls.h"
#include "util.h"

#define H_UNUSED __attribute__((unused))

struct harness;

struct session {
	struct harness *h;
	struct conn *conn;
	struct event *resume_timer;
	size_t raw_total;
	unsigned long raw_sum;
	bool raw_bad;
	size_t stream_left;      /* STREAM: KiB still to send from on_drained */
	struct session *next;
};

typedef void client_fn(struct harness *h);

struct harness {
	struct event_base *base;
	int listen_fd;
	int port;
	struct server *server;
	struct server_limits limits;
	SSL_CTX *implicit_ctx;   /* server: implicit TLS listener when set */
	SSL_CTX *starttls_ctx;   /* server: used by STARTTLS */
	SSL_CTX *client_ctx;     /* client thread */
	size_t max_line;
	size_t output_limit;
	int timeout;
	bool greeting;
	bool direct_output;      /* server conns: conn_set_direct_output() */

	struct strbuf events;    /* main thread only */
	struct session *sessions;
	int live;
	bool paused_now;         /* PAUSE in effect: no line may arrive */
	bool violation;

	/* client side (client thread only until joined) */
	client_fn *client;
	pthread_t thread;
	int done_pipe[2];
	struct event *done_ev;
	bool client_done;
	struct strbuf received;
	char client_note[512];
	int client_flags;

	struct event *watchdog;
	bool watchdog_fired;
};

static void h_event(struct harness *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void h_event(struct harness *h, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	strbuf_vprintf(&h->events, fmt, ap);
	va_end(ap);
	strbuf_putc(&h->events, '|');
}

static void h_maybe_stop(struct harness *h)
{
	if (h->client_done && h->live == 0)
		event_base_loopbreak(h->base);
}

/* --- the echo protocol -------------------------------------------------- */

static void s_resume_cb(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;

	s->h->paused_now = false;
	h_event(s->h, "RESUME");
	conn_resume(s->conn);
}

static void s_raw(struct conn *conn, const void *data, size_t len, bool done, void *ctx)
{
	struct session *s = ctx;
	const unsigned char *p = data;
	size_t i;

	if (len > CONN_RAW_CHUNK)
		s->raw_bad = true;
	for (i = 0; i < len; i++) {
		if (p[i] != (unsigned char)('a' + (s->raw_total + i) % 26))
			s->raw_bad = true;
		s->raw_sum += p[i];
	}
	s->raw_total += len;
	if (done) {
		h_event(s->h, "RAW:%zu:%s", s->raw_total, s->raw_bad ? "bad" : "ok");
		conn_printf(conn, "OK %zu %lu\r\n", s->raw_total, s->raw_sum);
	}
}

static void s_free(struct session *s);

static void s_drained(struct conn *conn, void *ctx)
{
	struct session *s = ctx;
	char block[16 * 1024];
	size_t n;

	if (s->stream_left == 0)
		return;
	if (conn_output_pending(conn) > 32 * 1024)
		s->h->violation = true;
	n = s->stream_left >= 16 ? 16 : s->stream_left;
	memset(block, 's', sizeof(block));
	if (conn_write(conn, block, n * 1024) < 0) {
		h_event(s->h, "STREAM-FAILED");
		return;
	}
	s->stream_left -= n;
	if (s->stream_left == 0) {
		h_event(s->h, "STREAMED");
		conn_printf(conn, "\r\nEND\r\n");
	}
}

static void s_line(struct conn *conn, char *line, size_t len, void *ctx)
{
	struct session *s = ctx;
	struct harness *h = s->h;
	struct timeval tv = { 0, 50000 };

	if (h->paused_now)
		h->violation = true;
	h_event(h, "L:%s", line);
	if (strcmp(line, "PAUSE") == 0) {
		h->paused_now = true;
		conn_pause(conn);
		evtimer_add(s->resume_timer, &tv);
	} else if (strncmp(line, "DATA ", 5) == 0) {
		s->raw_total = 0;
		s->raw_sum = 0;
		s->raw_bad = false;
		conn_read_bytes(conn, strtoul(line + 5, NULL, 10), s_raw);
	} else if (strcmp(line, "STARTTLS") == 0) {
		conn_printf(conn, "220 ready\r\n");
		if (conn_start_tls(conn, h->starttls_ctx) < 0)
			h_event(h, "STARTTLS-FAILED");
	} else if (strcmp(line, "QUIT") == 0) {
		conn_printf(conn, "221 bye\r\n");
		conn_close_after_flush(conn);
	} else if (strncmp(line, "FLOOD ", 6) == 0) {
		char kib[1024];
		unsigned long n = strtoul(line + 6, NULL, 10), i;

		memset(kib, 'x', sizeof(kib));
		for (i = 0; i < n; i++) {
			if (conn_write(conn, kib, sizeof(kib)) < 0) {
				h_event(h, "WRITE-FAILED:%lu", i);
				break;
			}
		}
	} else if (strncmp(line, "STREAM ", 7) == 0) {
		s->stream_left = strtoul(line + 7, NULL, 10);
		s_drained(conn, s);
	} else if (strcmp(line, "KILL") == 0) {
		s_free(s);
	} else {
		conn_printf(conn, "> %s\r\n", line);
	}
}

static void s_too_long(struct conn *conn, void *ctx)
{
	struct session *s = ctx;

	h_event(s->h, "TOOLONG");
	conn_printf(conn, "500 too long\r\n");
}

static void s_timeout(struct conn *conn, void *ctx)
{
	struct session *s = ctx;

	h_event(s->h, "TIMEOUT");
	conn_printf(conn, "421 timeout\r\n");
}

static void s_tls_ready(struct conn *conn, void *ctx)
{
	struct session *s = ctx;
	char desc[200];

	h_event(s->h, "TLS:%s", conn_tls_describe(conn, desc, sizeof(desc)));
}

static void s_free(struct session *s)
{
	struct session **pp;

	for (pp = &s->h->sessions; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == s) {
			*pp = s->next;
			break;
		}
	}
	s->h->live--;
	event_free(s->resume_timer);
	conn_free(s->conn);
	free(s);
}

static void s_close(struct conn *conn, enum conn_close_reason reason, const char *detail, void *ctx)
{
	struct session *s = ctx;
	struct harness *h = s->h;

	h_event(h, "CLOSE:%s", conn_close_reason_name(reason));
	s_free(s);
	h_maybe_stop(h);
}

static const struct conn_callbacks session_callbacks = {
	.on_line = s_line,
	.on_line_too_long = s_too_long,
	.on_timeout = s_timeout,
	.on_drained = s_drained,
	.on_tls_ready = s_tls_ready,
	.on_close = s_close,
};

static void h_accept(struct server *server, struct conn *conn, void *ctx)
{
	struct harness *h = ctx;
	struct session *s = must_calloc(1, sizeof(*s));

	s->h = h;
	s->conn = conn;
	s->resume_timer = evtimer_new(h->base, s_resume_cb, s);
	s->next = h->sessions;
	h->sessions = s;
	h->live++;
	h_event(h, "ACCEPT:%s", conn_peer_addr(conn));
	if (h->max_line)
		conn_set_max_line(conn, h->max_line);
	if (h->output_limit)
		conn_set_output_limit(conn, h->output_limit);
	if (h->timeout)
		conn_set_timeout(conn, h->timeout);
	conn_set_callbacks(conn, &session_callbacks, s);
	if (h->direct_output)
		conn_set_direct_output(conn, true);
	if (h->greeting)
		conn_printf(conn, "220 hi\r\n");
}

static void h_busy(struct server *server, struct conn *conn, enum server_busy why, void *ctx)
{
	struct harness *h = ctx;

	h_event(h, "BUSY:%s", why == SERVER_BUSY_TOTAL ? "total" : "client");
	if (why == SERVER_BUSY_CLIENT)
		conn_printf(conn, "421 4.7.0 Error: too many connections from %s\r\n", conn_peer_addr(conn));
	else
		conn_printf(conn, "421 4.3.2 Service busy\r\n");
}

static const struct server_callbacks harness_server_callbacks = {
	.on_accept = h_accept,
	.on_busy = h_busy,
};

/* --- client side (runs in its own thread) --------------------------------- */

struct client_conn {
	int fd;
	SSL *ssl;
	struct strbuf in;
};

static H_UNUSED int cl_connect_from(struct harness *h, struct client_conn *cc, const char *src)
{
	struct sockaddr_in sin;
	struct timeval tv = { 5, 0 };

	memset(cc, 0, sizeof(*cc));
	strbuf_init(&cc->in, 8 * 1024 * 1024);
	cc->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (cc->fd < 0)
		return -1;
	setsockopt(cc->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(cc->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	if (src != NULL) {
		inet_pton(AF_INET, src, &sin.sin_addr);
		if (bind(cc->fd, (struct sockaddr *)&sin, sizeof(sin)) < 0)
			return -1;
	}
	sin.sin_port = htons((unsigned short)h->port);
	inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
	return connect(cc->fd, (struct sockaddr *)&sin, sizeof(sin));
}

static H_UNUSED int cl_connect(struct harness *h, struct client_conn *cc)
{
	return cl_connect_from(h, cc, NULL);
}

static H_UNUSED int cl_tls(struct harness *h, struct client_conn *cc)
{
	cc->ssl = SSL_new(h->client_ctx);
	if (cc->ssl == NULL)
		return -1;
	SSL_set_fd(cc->ssl, cc->fd);
	if (SSL_connect(cc->ssl) != 1) {
		ERR_clear_error();
		return -1;
	}
	return 0;
}

static H_UNUSED int cl_send(struct client_conn *cc, const char *data, size_t len)
{
	while (len > 0) {
		ssize_t n;

		if (cc->ssl != NULL)
			n = SSL_write(cc->ssl, data, (int)len);
		else
			n = send(cc->fd, data, len, MSG_NOSIGNAL);
		if (n <= 0)
			return -1;
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

static H_UNUSED int cl_puts(struct client_conn *cc, const char *s)
{
	return cl_send(cc, s, strlen(s));
}

/* cl_read_more - one read; >0 bytes, 0 EOF, -1 error/timeout */
static int cl_read_more(struct client_conn *cc)
{
	char buf[4096];
	ssize_t n;

	if (cc->ssl != NULL) {
		n = SSL_read(cc->ssl, buf, sizeof(buf));
		if (n <= 0) {
			int e = SSL_get_error(cc->ssl, (int)n);

			ERR_clear_error();
			return e == SSL_ERROR_ZERO_RETURN ? 0 : (e == SSL_ERROR_SYSCALL && n == 0 ? 0 : -1);
		}
	} else {
		n = recv(cc->fd, buf, sizeof(buf), 0);
		if (n < 0)
			return -1;
		if (n == 0)
			return 0;
	}
	strbuf_append(&cc->in, buf, (size_t)n);
	return (int)n;
}

/* cl_wait_for - read until cc->in contains needle; true if it did */
static H_UNUSED bool cl_wait_for(struct client_conn *cc, const char *needle)
{
	while (cc->in.data == NULL || strstr(cc->in.data, needle) == NULL) {
		if (cl_read_more(cc) <= 0)
			return false;
	}
	return true;
}

/* cl_read_eof - read until EOF; true on a clean EOF (not a timeout) */
static H_UNUSED bool cl_read_eof(struct client_conn *cc)
{
	int n;

	while ((n = cl_read_more(cc)) > 0)
		;
	return n == 0;
}

/* cl_finish - close and append everything received to h->received */
static H_UNUSED void cl_finish(struct harness *h, struct client_conn *cc)
{
	if (cc->ssl != NULL)
		SSL_free(cc->ssl);
	if (cc->fd >= 0)
		close(cc->fd);
	if (cc->in.data != NULL)
		strbuf_append(&h->received, cc->in.data, cc->in.len);
	strbuf_free(&cc->in);
}

static void *client_thread(void *arg)
{
	struct harness *h = arg;
	char c = 'x';

	h->client(h);
	if (write(h->done_pipe[1], &c, 1) != 1)
		abort();
	return NULL;
}

/* --- main-thread harness control ---------------------------------------- */

static void h_done_cb(evutil_socket_t fd, short what, void *arg)
{
	struct harness *h = arg;
	char c;

	if (read(fd, &c, 1) == 1)
		h->client_done = true;
	h_maybe_stop(h);
}

static void h_watchdog_cb(evutil_socket_t fd, short what, void *arg)
{
	struct harness *h = arg;

	h->watchdog_fired = true;
	event_base_loopbreak(h->base);
}

static H_UNUSED void h_init(struct harness *h)
{
	const char *error;

	memset(h, 0, sizeof(*h));
	h->base = evloop_new(&error);
	h->listen_fd = -1;
	h->limits.max_conns = 100;
	h->limits.max_per_ip = 0;
	h->greeting = false;
	strbuf_init(&h->events, 0);
	strbuf_init(&h->received, 0);
}

/* h_start - bind, create the server; 0 or -1 */
static H_UNUSED int h_start(struct harness *h)
{
	char *error = NULL;

	if (listen_bind("127.0.0.1", 0, &h->listen_fd, &error) < 0) {
		fprintf(stderr, "%s\n", error);
		free(error);
		return -1;
	}
	h->port = listen_local_port(h->listen_fd);
	h->server = server_new(h->base, h->listen_fd, &h->limits, h->implicit_ctx,
			       &harness_server_callbacks, h, &error);
	if (h->server == NULL) {
		fprintf(stderr, "%s\n", error);
		free(error);
		return -1;
	}
	return 0;
}

/* h_run - run client in a thread and the loop until the client is done
 * and every session has closed (or the watchdog fires). */
static H_UNUSED void h_run(struct harness *h, client_fn *client, int watchdog_seconds)
{
	struct timeval tv = { watchdog_seconds, 0 };

	h->client = client;
	if (pipe(h->done_pipe) < 0)
		abort();
	h->done_ev = event_new(h->base, h->done_pipe[0], EV_READ | EV_PERSIST, h_done_cb, h);
	event_add(h->done_ev, NULL);
	h->watchdog = evtimer_new(h->base, h_watchdog_cb, h);
	evtimer_add(h->watchdog, &tv);
	if (pthread_create(&h->thread, NULL, client_thread, h) != 0)
		abort();
	event_base_dispatch(h->base);
	pthread_join(h->thread, NULL);
}

static H_UNUSED void h_cleanup(struct harness *h)
{
	while (h->sessions != NULL)
		s_free(h->sessions);
	server_free(&h->server);
	if (h->listen_fd >= 0)
		close(h->listen_fd);
	if (h->done_ev != NULL) {
		event_free(h->done_ev);
		close(h->done_pipe[0]);
		close(h->done_pipe[1]);
	}
	if (h->watchdog != NULL)
		event_free(h->watchdog);
	SSL_CTX_free(h->implicit_ctx);
	SSL_CTX_free(h->starttls_ctx);
	SSL_CTX_free(h->client_ctx);
	event_base_free(h->base);
	strbuf_free(&h->events);
	strbuf_free(&h->received);
}

/* h_events / h_received - "" instead of NULL for assertions */
static H_UNUSED const char *h_events(const struct harness *h)
{
	return h->events.data != NULL ? h->events.data : "";
}

static H_UNUSED const char *h_received(const struct harness *h)
{
	return h->received.data != NULL ? h->received.data : "";
}

#endif
