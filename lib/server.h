/*
 * server.h - accept connections on a listening socket that the master
 * bound (listen.h), enforce the connection limits, and hand each
 * connection to the protocol as a struct conn (conn.h).
 *
 * Called by the roles (smtp, imap, pop3, web-admin), once per listening fd
 * they were given. server.c does not read the configuration: the role
 * fills struct server_limits from the listener's view, e.g. with
 * server_limits_from_config() (server-config.c).
 *
 * Logging "connect from host[addr]" / "disconnect from ..." is the
 * protocol's job (it knows the host name and the session id).
 */
#ifndef POSTERN_SERVER_H
#define POSTERN_SERVER_H

#include <openssl/ssl.h>

struct config;
struct conn;
struct event_base;
struct server;

struct server_limits {
	int max_conns;   /* connection_limit: open connections on this listener (>= 1) */
	int max_per_ip;  /* client_connection_limit: per client address; 0 = no limit */
};

enum server_busy {
	SERVER_BUSY_TOTAL,  /* the listener has max_conns connections */
	SERVER_BUSY_CLIENT, /* this client address has max_per_ip connections */
};

/* At most this many over-limit connections are kept open at once to send
 * their busy reply; more are closed without one (a flood must not cost
 * more than the limits it hit). Each gets SERVER_BUSY_TIMEOUT seconds. */
#define SERVER_MAX_BUSY 64
#define SERVER_BUSY_TIMEOUT 10

struct server_callbacks {
	/*
	 * on_accept - a connection within the limits. The callee owns conn
	 * from now on: it installs its callbacks with conn_set_callbacks()
	 * and eventually calls conn_free(). The server's counts drop when
	 * the conn's socket is closed.
	 */
	void (*on_accept)(struct server *server, struct conn *conn, void *ctx);
	/*
	 * on_busy - a connection over a limit. The callee only queues its
	 * busy reply with conn_write()/conn_printf() (e.g. "421 4.7.0 Error:
	 * too many connections from 1.2.3.4"); it must not keep conn, set
	 * callbacks or free it: the server sends the reply, closes and frees
	 * it. NULL: the connection is closed without a reply.
	 */
	void (*on_busy)(struct server *server, struct conn *conn, enum server_busy why, void *ctx);
};

/*
 * server_new - start accepting on listen_fd (already bound and listening;
 * the server does not close it). ssl_ctx non-NULL makes it an implicit
 * TLS listener (the server takes its own reference; NULL for plain and
 * STARTTLS listeners). cb must outlive the server. Returns the server, or
 * NULL with *error_r (new memory, caller frees).
 */
struct server *server_new(struct event_base *base, int listen_fd, const struct server_limits *limits,
			  SSL_CTX *ssl_ctx, const struct server_callbacks *cb, void *ctx, char **error_r);

/* server_set_ssl_ctx - use ctx for connections accepted from now on (a
 * reference is taken; the old one is released). NULL turns TLS off. */
void server_set_ssl_ctx(struct server *server, SSL_CTX *ctx);

/* server_set_limits - change the limits for connections accepted from now on. */
void server_set_limits(struct server *server, const struct server_limits *limits);

/* server_conn_count - open connections (busy ones not counted). */
int server_conn_count(const struct server *server);

/* server_client_count - open connections from one client address. */
int server_client_count(const struct server *server, const char *addr);

/*
 * server_free - stop accepting and free the server; connections already
 * handed out stay open and owned by the protocol (their counts are simply
 * forgotten). Sets *server to NULL; NULL is ignored.
 */
void server_free(struct server **server);

/* server_limits_from_config (server-config.c) - connection_limit and
 * client_connection_limit from cfg (a listener's view). */
void server_limits_from_config(const struct config *cfg, struct server_limits *limits_r);

#endif
