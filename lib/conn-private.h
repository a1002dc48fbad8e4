/*
 * conn-private.h - the inside of struct conn, shared by conn.c (lifetime,
 * events, output, closing), conn-input.c (line and raw input) and
 * conn-tls.c (implicit TLS and STARTTLS). Nothing outside these three
 * files includes it.
 */
#ifndef POSTERN_CONN_PRIVATE_H
#define POSTERN_CONN_PRIVATE_H

#include <netinet/in.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "conn.h"

enum conn_state {
	CONN_OPEN,      /* reading and writing */
	CONN_TLS_FLUSH, /* STARTTLS: sending the plaintext reply, then switch */
	CONN_FLUSHING,  /* close after flush: sending the rest of the output */
	CONN_LINGER,    /* output sent, write side shut; draining client input */
	CONN_CLOSED,    /* socket gone; on_close not yet delivered */
	CONN_NOTIFIED,  /* on_close delivered (or nobody to tell) */
};

struct conn {
	struct event_base *base;
	struct bufferevent *bev;
	/* Ownership: the bufferevent owns the socket (and, for TLS, the SSL)
	 * through BEV_OPT_CLOSE_ON_FREE. libevent takes a descriptor out of
	 * epoll only when it finalizes the bufferevent, which can be after our
	 * callback returns; if we closed the fd ourselves before that, a new
	 * connection could get the same number and lose its registration.
	 * STARTTLS hands a dup() of the fd to the TLS bufferevent. */
	SSL *ssl;                 /* borrowed from the TLS bufferevent */
	int fd;                   /* the socket's number (not owned), -1 when gone */
	enum conn_state state;

	const struct conn_callbacks *cb;
	void *ctx;
	bool started;             /* callbacks installed: reading allowed */

	/* input */
	bool paused;
	bool eof;                 /* client half-closed: finish buffered input, then close */
	bool discarding;          /* inside an over-long line, up to its LF */
	bool last_crlf;           /* the last delivered line ended with CR LF */
	bool raw;                 /* conn_read_bytes() active */
	size_t raw_left;
	conn_bytes_fn *raw_cb;
	size_t max_line;
	char *line;               /* max_line + 2 (CR, NUL) bytes */
	char *chunk;              /* CONN_RAW_CHUNK bytes, allocated on first use */

	size_t output_limit;
	bool direct_output;       /* conn_set_direct_output() */
	int timeout;              /* seconds, 0 = none */

	/* TLS */
	bool tls;                 /* TLS on (or handshaking) */
	bool tls_ready;           /* handshake finished */
	SSL_CTX *starttls_ctx;    /* referenced while in CONN_TLS_FLUSH */
	bool tls_client;          /* conn_start_tls_client: we connect, not accept */
	bool tls_verify;          /* client: verify the peer's certificate and name */
	char tls_peer_name[256];  /* client: SNI and the name to verify */

	/* lifetime */
	int refs;                 /* held while conn code runs a callback */
	bool freed;               /* conn_free() called; memory goes at refs == 0 */
	bool reason_set;
	enum conn_close_reason reason;
	char detail[256];
	struct timeval linger_start;
	struct event *ev_deferred;/* process input, switch to TLS, deliver on_close */
	bool want_switch;
	conn_release_fn *release_fn;
	void *release_arg;

	char name[300];
	char peer_addr[INET6_ADDRSTRLEN];
	int peer_port;
	char local_addr[INET6_ADDRSTRLEN];
	int local_port;
};

/* conn.c */
void conn_hold(struct conn *c);
/* conn_release - drop a hold; false when the conn was freed meanwhile and
 * must not be touched any more. */
bool conn_release(struct conn *c);
void conn_schedule(struct conn *c);
void conn_set_reason(struct conn *c, enum conn_close_reason reason, const char *detail);
/* conn_finish - close the socket now and queue on_close(reason). */
void conn_finish(struct conn *c, enum conn_close_reason reason, const char *detail);
/* conn_install_bev - set callbacks, watermarks and timeouts on c->bev. */
void conn_install_bev(struct conn *c);
void conn_apply_watermarks(struct conn *c);

/* conn-input.c */
void conn_process_input(struct conn *c);

/* conn-tls.c */
/* conn_tls_bev_new - a TLS bufferevent on fd that owns it, or NULL with
 * *error_r; on failure the fd may or may not have been closed (see
 * conn-tls.c), so the caller must not close it. */
struct bufferevent *conn_tls_bev_new(struct conn *c, SSL_CTX *ssl_ctx, int fd, const char **error_r);
void conn_tls_switch(struct conn *c);
void conn_tls_failed(struct conn *c, short what);
/* conn_tls_mark_ready - if the handshake has finished and the protocol was
 * not told yet, tell it (on_tls_ready). Called before any input is
 * delivered, because libevent runs a deferred read callback before the
 * deferred CONNECTED event: a STARTTLS session must reset its state
 * before it sees the first command sent over TLS. */
void conn_tls_mark_ready(struct conn *c);

#endif
