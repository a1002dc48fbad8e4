/*
 * server.c - accept loop and connection limits for one listener (see
 * server.h).
 *
 * Limits are connection_limit (per listener) and client_connection_limit
 * (per client address, as Postfix's smtpd_client_connection_count_limit,
 * but counted inside the role instead of by anvil(8)). Counts live in a
 * small chained hash table keyed by the client's address string, with one
 * entry per address that has an open connection: entries are removed when
 * their count drops to 0, so the table never holds more entries than
 * there are open connections. The hash is seeded per process so that a
 * client cannot pick addresses that all land in one chain (and chains are
 * bounded by connection_limit anyway).
 *
 * Over-limit connections get the protocol's busy reply through a conn of
 * their own (so implicit TLS listeners answer inside TLS), with a short
 * timeout, and at most SERVER_MAX_BUSY of them at a time.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <event2/event.h>
#include <event2/listener.h>
#include <event2/util.h>

#include "conn.h"
#include "log.h"
#include "server.h"
#include "util.h"

struct server_client {
	struct server_client *next; /* hash chain */
	int count;
	char addr[64];
};

/* One accepted connection; owned by its conn's release hook, which frees
 * it. server is NULL once the server has been freed. */
struct server_slot {
	struct server *server;
	struct server_client *client;
	struct server_slot *prev, *next;
};

/* One over-limit connection waiting for its busy reply to be sent. */
struct server_busy_conn {
	struct server *server;
	struct conn *conn;
	struct server_busy_conn *prev, *next;
};

struct server {
	struct event_base *base;
	struct evconnlistener *listener;
	struct event *ev_retry;
	SSL_CTX *ssl_ctx;
	struct server_limits limits;
	const struct server_callbacks *cb;
	void *ctx;
	int count;
	struct server_client **buckets;
	size_t nbuckets; /* power of two */
	uint64_t seed;
	struct server_slot *slots;
	struct server_busy_conn *busy;
	int nbusy;
};

static size_t client_hash(const struct server *s, const char *addr)
{
	uint64_t h = 0xcbf29ce484222325ULL ^ s->seed;

	for (; *addr != '\0'; addr++) {
		h ^= (unsigned char)*addr;
		h *= 0x100000001b3ULL;
	}
	h ^= h >> 29;
	return (size_t)h & (s->nbuckets - 1);
}

static struct server_client *client_find(const struct server *s, const char *addr)
{
	struct server_client *c;

	for (c = s->buckets[client_hash(s, addr)]; c != NULL; c = c->next) {
		if (strcmp(c->addr, addr) == 0)
			return c;
	}
	return NULL;
}

static struct server_client *client_get(struct server *s, const char *addr)
{
	struct server_client *c = client_find(s, addr);
	size_t h;

	if (c != NULL)
		return c;
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return NULL;
	str_copy(c->addr, addr, sizeof(c->addr));
	h = client_hash(s, c->addr);
	c->next = s->buckets[h];
	s->buckets[h] = c;
	return c;
}

static void client_put(struct server *s, struct server_client *client)
{
	struct server_client **pp;

	if (--client->count > 0)
		return;
	for (pp = &s->buckets[client_hash(s, client->addr)]; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == client) {
			*pp = client->next;
			free(client);
			return;
		}
	}
}

static void slot_release(void *arg)
{
	struct server_slot *slot = arg;
	struct server *s = slot->server;

	if (s != NULL) {
		if (slot->prev != NULL)
			slot->prev->next = slot->next;
		else
			s->slots = slot->next;
		if (slot->next != NULL)
			slot->next->prev = slot->prev;
		s->count--;
		client_put(s, slot->client);
	}
	free(slot);
}

static void busy_unlink(struct server_busy_conn *b)
{
	struct server *s = b->server;

	if (b->prev != NULL)
		b->prev->next = b->next;
	else
		s->busy = b->next;
	if (b->next != NULL)
		b->next->prev = b->prev;
	s->nbusy--;
}

static void busy_closed(struct conn *conn, enum conn_close_reason reason, const char *detail, void *ctx)
{
	struct server_busy_conn *b = ctx;

	busy_unlink(b);
	conn_free(conn);
	free(b);
}

static const struct conn_callbacks busy_callbacks = {
	.on_close = busy_closed,
};

static void server_busy(struct server *s, struct conn *conn, enum server_busy why)
{
	struct server_busy_conn *b;

	if (why == SERVER_BUSY_TOTAL)
		log_warn("connection_limit of %d reached on this listener; refusing %s",
			 s->limits.max_conns, conn_peer_addr(conn));
	else
		log_warn("client_connection_limit of %d reached for %s; refusing the connection",
			 s->limits.max_per_ip, conn_peer_addr(conn));
	if (s->cb->on_busy == NULL || s->nbusy >= SERVER_MAX_BUSY ||
	    (b = calloc(1, sizeof(*b))) == NULL) {
		conn_free(conn);
		return;
	}
	b->server = s;
	b->conn = conn;
	b->next = s->busy;
	if (b->next != NULL)
		b->next->prev = b;
	s->busy = b;
	s->nbusy++;
	conn_set_timeout(conn, SERVER_BUSY_TIMEOUT);
	conn_set_callbacks(conn, &busy_callbacks, b);
	s->cb->on_busy(s, conn, why, s->ctx);
	conn_close_after_flush(conn);
}

static void server_accept_cb(struct evconnlistener *listener, evutil_socket_t fd,
			     struct sockaddr *sa, int socklen, void *arg)
{
	struct server *s = arg;
	struct server_client *client;
	struct server_slot *slot;
	const char *error;
	struct conn *conn;

	conn = conn_new(s->base, fd, s->ssl_ctx, &error);
	if (conn == NULL) {
		log_warn("cannot take a new connection: %s", error);
		return;
	}
	if (s->count >= s->limits.max_conns) {
		server_busy(s, conn, SERVER_BUSY_TOTAL);
		return;
	}
	client = client_find(s, conn_peer_addr(conn));
	if (s->limits.max_per_ip > 0 && client != NULL && client->count >= s->limits.max_per_ip) {
		server_busy(s, conn, SERVER_BUSY_CLIENT);
		return;
	}
	slot = calloc(1, sizeof(*slot));
	if (slot == NULL || (client = client_get(s, conn_peer_addr(conn))) == NULL) {
		log_warn("out of memory accepting a connection from %s", conn_peer_addr(conn));
		free(slot);
		conn_free(conn);
		return;
	}
	client->count++;
	s->count++;
	slot->server = s;
	slot->client = client;
	slot->next = s->slots;
	if (slot->next != NULL)
		slot->next->prev = slot;
	s->slots = slot;
	conn_set_release_hook(conn, slot_release, slot);
	s->cb->on_accept(s, conn, s->ctx);
}

static void server_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server *s = arg;

	evconnlistener_enable(s->listener);
}

static void server_accept_error_cb(struct evconnlistener *listener, void *arg)
{
	struct server *s = arg;
	struct timeval tv = { 1, 0 };
	int err = EVUTIL_SOCKET_ERROR();

	/* Out of descriptors (EMFILE/ENFILE) or memory: accept() would fail
	 * again at once and spin; pause this listener for a second so the
	 * open sessions can finish. */
	if (err == EMFILE || err == ENFILE)
		log_warn("cannot accept connections: %s; raise the open files limit "
			 "(LimitNOFILE= in postern.service) or lower connection_limit", strerror(err));
	else
		log_warn("cannot accept connections: %s", strerror(err));
	evconnlistener_disable(listener);
	evtimer_add(s->ev_retry, &tv);
}

static size_t bucket_count(int max_conns)
{
	size_t n = 16;

	while (n < 65536 && (int)n < max_conns)
		n <<= 1;
	return n;
}

struct server *server_new(struct event_base *base, int listen_fd, const struct server_limits *limits,
			  SSL_CTX *ssl_ctx, const struct server_callbacks *cb, void *ctx, char **error_r)
{
	struct server *s;

	*error_r = NULL;
	if (limits->max_conns < 1 || limits->max_per_ip < 0) {
		*error_r = must_asprintf("invalid connection limits %d/%d; connection_limit must be at least 1 "
					 "and client_connection_limit at least 0",
					 limits->max_conns, limits->max_per_ip);
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (s == NULL) {
		*error_r = must_strdup("out of memory creating a listener");
		return NULL;
	}
	s->base = base;
	s->limits = *limits;
	s->cb = cb;
	s->ctx = ctx;
	s->nbuckets = bucket_count(limits->max_conns);
	s->buckets = calloc(s->nbuckets, sizeof(*s->buckets));
	s->ev_retry = evtimer_new(base, server_retry_cb, s);
	if (s->buckets == NULL || s->ev_retry == NULL) {
		*error_r = must_strdup("out of memory creating a listener");
		goto fail;
	}
	if (getrandom(&s->seed, sizeof(s->seed), GRND_NONBLOCK) != sizeof(s->seed))
		s->seed = (uint64_t)(uintptr_t)s ^ (uint64_t)listen_fd;
	if (evutil_make_socket_nonblocking(listen_fd) < 0) {
		*error_r = must_asprintf("listening socket %d: cannot make it non-blocking: %s",
					 listen_fd, strerror(errno));
		goto fail;
	}
	/* backlog 0: the master already called listen(); LEV_OPT_CLOSE_ON_FREE
	 * is not set because the fd belongs to whoever passed it */
	s->listener = evconnlistener_new(base, server_accept_cb, s, LEV_OPT_CLOSE_ON_EXEC, 0, listen_fd);
	if (s->listener == NULL) {
		*error_r = must_asprintf("listening socket %d: cannot accept on it: %s",
					 listen_fd, strerror(errno));
		goto fail;
	}
	evconnlistener_set_error_cb(s->listener, server_accept_error_cb);
	if (ssl_ctx != NULL && SSL_CTX_up_ref(ssl_ctx) == 1)
		s->ssl_ctx = ssl_ctx;
	return s;
fail:
	server_free(&s);
	return NULL;
}

void server_set_ssl_ctx(struct server *s, SSL_CTX *ctx)
{
	if (ctx != NULL && SSL_CTX_up_ref(ctx) != 1)
		return;
	SSL_CTX_free(s->ssl_ctx);
	s->ssl_ctx = ctx;
}

void server_set_limits(struct server *s, const struct server_limits *limits)
{
	if (limits->max_conns >= 1 && limits->max_per_ip >= 0)
		s->limits = *limits;
}

int server_conn_count(const struct server *s)
{
	return s->count;
}

int server_client_count(const struct server *s, const char *addr)
{
	const struct server_client *c = client_find(s, addr);

	return c != NULL ? c->count : 0;
}

void server_free(struct server **sp)
{
	struct server *s = *sp;
	struct server_slot *slot, *next_slot;
	struct server_busy_conn *b;
	struct server_client *c, *next_client;
	size_t i;

	if (s == NULL)
		return;
	*sp = NULL;
	if (s->listener != NULL)
		evconnlistener_free(s->listener);
	if (s->ev_retry != NULL)
		event_free(s->ev_retry);
	for (slot = s->slots; slot != NULL; slot = next_slot) {
		next_slot = slot->next;
		slot->server = NULL;
		slot->prev = slot->next = NULL;
	}
	while ((b = s->busy) != NULL) {
		busy_unlink(b);
		conn_free(b->conn);
		free(b);
	}
	for (i = 0; s->buckets != NULL && i < s->nbuckets; i++) {
		for (c = s->buckets[i]; c != NULL; c = next_client) {
			next_client = c->next;
			free(c);
		}
	}
	free(s->buckets);
	SSL_CTX_free(s->ssl_ctx);
	free(s);
}
