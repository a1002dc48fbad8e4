/*
 * conn.h - one non-blocking client connection (plain, implicit TLS, or
 * upgraded with STARTTLS) on top of a libevent bufferevent, with bounded
 * line reading, raw byte reading, bounded output and idle timeouts.
 *
 * Who calls it: server.c creates a conn for every accepted socket and hands
 * it to the protocol (smtp/, imap/, pop3/), which installs its callbacks
 * with conn_set_callbacks() and then owns it.
 *
 * Input model. By default the conn is in line mode: every complete line
 * (ended by CRLF or a bare LF; a CR before the LF is removed) is passed to
 * on_line. A line longer than the maximum (conn_set_max_line) is reported
 * once through on_line_too_long and the rest of it is thrown away up to
 * its end, after which line mode continues, so the session survives as
 * RFC 5321 4.5.3.1 and RFC 9051 allow. conn_read_bytes() switches to raw
 * mode for IMAP literals, SMTP BDAT and the like. Input buffered in memory
 * never exceeds the maximum line plus CONN_INPUT_SLACK: beyond that the
 * conn stops reading from the socket (TCP flow control pushes back on the
 * client), also while the protocol has paused reading.
 *
 * Output: conn_write()/conn_printf() append to an output buffer bounded by
 * conn_set_output_limit(); a peer that does not read and lets it overflow
 * is disconnected (CONN_CLOSE_OUTPUT).
 *
 * Lifetime and callbacks. All callbacks run from the event loop. on_close
 * is called exactly once when the connection ends for any reason, including
 * conn_close() and conn_close_after_flush() (never from inside those calls,
 * always later from the loop), unless conn_free() came first. The owner
 * frees the conn with conn_free(), typically from on_close; conn_free()
 * may be called from inside any callback, and after it no callback runs.
 *
 * The process must ignore SIGPIPE (evloop_new() does).
 */
#ifndef POSTERN_CONN_H
#define POSTERN_CONN_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include <openssl/ssl.h>

struct event_base;
struct conn;

/* Extra input buffered beyond the maximum line (pipelined commands). */
#define CONN_INPUT_SLACK (16 * 1024)
/* Default maximum line (without CRLF), output limit and raw chunk size. */
#define CONN_DEFAULT_MAX_LINE 1000
#define CONN_DEFAULT_OUTPUT_LIMIT (1024 * 1024)
#define CONN_RAW_CHUNK (16 * 1024)
/* on_drained fires when the output buffer falls to this size or below. */
#define CONN_DRAIN_MARK (32 * 1024)
/* After conn_close_after_flush(), how long unread client input is drained
 * before the socket is closed (see conn.c: avoids an RST eating the reply). */
#define CONN_LINGER_SECONDS 2

enum conn_close_reason {
	CONN_CLOSE_LOCAL,   /* conn_close() / conn_close_after_flush() */
	CONN_CLOSE_EOF,     /* the client closed the connection */
	CONN_CLOSE_ERROR,   /* socket error (reset, ...); detail has strerror */
	CONN_CLOSE_TIMEOUT, /* idle timeout (after on_timeout) or write timeout */
	CONN_CLOSE_TLS,     /* TLS handshake or record layer failure */
	CONN_CLOSE_OUTPUT,  /* output limit exceeded: the client does not read */
	CONN_CLOSE_NOMEM,   /* out of memory: only this connection ends */
};

/* conn_close_reason_name - "eof", "timeout", ... for logs. */
const char *conn_close_reason_name(enum conn_close_reason reason);

struct conn_callbacks {
	/* A complete line: NUL-terminated (but may contain NULs; trust len),
	 * without CR/LF, writable, valid until the callback returns. */
	void (*on_line)(struct conn *conn, char *line, size_t len, void *ctx);
	/* A line exceeded the maximum; called once per such line, before its
	 * remainder is discarded. The protocol sends its "line too long"
	 * reply and may close. NULL: the conn closes after flushing. */
	void (*on_line_too_long)(struct conn *conn, void *ctx);
	/* The idle timeout expired. The protocol queues its timeout reply;
	 * the conn then closes after flushing it (on_close gets TIMEOUT).
	 * NULL: close without a reply. */
	void (*on_timeout)(struct conn *conn, void *ctx);
	/* The output buffer fell to CONN_DRAIN_MARK or below after a write:
	 * room to stream more of a big FETCH/RETR. May be NULL. */
	void (*on_drained)(struct conn *conn, void *ctx);
	/* The TLS handshake finished (implicit TLS or STARTTLS). For
	 * STARTTLS the protocol now resets its state (RFC 3207 4.2). NULL ok. */
	void (*on_tls_ready)(struct conn *conn, void *ctx);
	/* The connection ended; detail is a short text ("" when none), valid
	 * during the call. Called exactly once unless conn_free() came first. */
	void (*on_close)(struct conn *conn, enum conn_close_reason reason,
			 const char *detail, void *ctx);
};

/*
 * conn_bytes_fn - raw mode data: len bytes (len <= CONN_RAW_CHUNK) valid
 * until the callback returns; done is true with the last chunk (or with
 * len 0 when 0 bytes were asked for). Line mode is back in force when the
 * done call runs, so the callback may ask for the next line or bytes.
 */
typedef void conn_bytes_fn(struct conn *conn, const void *data, size_t len, bool done, void *ctx);

/*
 * conn_new - wrap an accepted, non-blocking socket. ssl_ctx NULL: plain;
 * otherwise implicit TLS (the handshake runs first; output written before
 * it completes is sent after it). The conn takes ownership of fd in all
 * cases: closed on failure too, except when libevent itself fails to
 * create a TLS bufferevent (out of memory), where it may keep it (see
 * conn-tls.c). Reading starts when callbacks are set.
 * Returns the conn (free with conn_free), or NULL with *error_r (static).
 */
struct conn *conn_new(struct event_base *base, int fd, SSL_CTX *ssl_ctx, const char **error_r);

/* conn_set_callbacks - install the protocol's callbacks (the struct must
 * outlive the conn) and start reading. */
void conn_set_callbacks(struct conn *conn, const struct conn_callbacks *cb, void *ctx);

/* conn_set_max_line - maximum line length without CR LF (>= 1). Returns 0,
 * or -1 when memory for it cannot be had (the conn is unchanged). */
int conn_set_max_line(struct conn *conn, size_t max_line);

/* conn_set_output_limit - maximum bytes waiting to be sent. */
void conn_set_output_limit(struct conn *conn, size_t limit);

/*
 * conn_set_direct_output - on: while nothing is queued and the connection
 * is plain (no TLS), conn_write() sends at once with one send() instead
 * of queuing and letting the loop send it (which costs an epoll_ctl to
 * watch for writability, a loop turn, and an epoll_ctl to stop). What the
 * socket does not take is queued as usual; order is kept. Only for
 * protocols that do not use on_drained (a reply sent at once drains
 * nothing): the SMTP server's one-line replies. Off by default.
 */
void conn_set_direct_output(struct conn *conn, bool on);

/* conn_set_timeout - idle timeout in seconds while waiting for input, and
 * the limit for any write to make progress; 0 disables. Output progress
 * also counts as activity, so streaming a big message does not time out. */
void conn_set_timeout(struct conn *conn, int seconds);

/* conn_set_name - how the client is named in the conn's own log lines,
 * e.g. "mail.example.com[192.0.2.1]"; default "unknown[ADDR]". */
void conn_set_name(struct conn *conn, const char *name);

/*
 * conn_pause / conn_resume - stop delivering lines or bytes (and reading
 * from the socket) while the protocol waits for something asynchronous;
 * resume delivers the already buffered pipelined input in order, from the
 * event loop (not from inside conn_resume).
 */
void conn_pause(struct conn *conn);
void conn_resume(struct conn *conn);
bool conn_is_paused(const struct conn *conn);

/*
 * conn_line_had_crlf - true when the line being delivered to on_line
 * ended with CR LF, false for a bare LF (SMTP needs the difference for
 * its end-of-data rule: RFC 5321 4.1.1.4, the "SMTP smuggling" fixes).
 * conn_input_pending - bytes received but not yet delivered (Postfix's
 * "improper command pipelining" test peeks at the same thing).
 */
bool conn_line_had_crlf(const struct conn *conn);
size_t conn_input_pending(const struct conn *conn);

/*
 * conn_read_bytes - switch to raw mode: the next n bytes go to cb in
 * chunks, then line mode resumes. Replaces any earlier raw request.
 */
void conn_read_bytes(struct conn *conn, size_t n, conn_bytes_fn *cb);

/*
 * conn_write / conn_printf - queue output. Return 0, or -1 when the conn is
 * closing or closed (output is dropped) or when the output limit or memory
 * ran out (the conn is then closed with CONN_CLOSE_OUTPUT / NOMEM and
 * on_close follows).
 */
int conn_write(struct conn *conn, const void *data, size_t len);
int conn_printf(struct conn *conn, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int conn_vprintf(struct conn *conn, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

/* conn_output_pending - bytes queued but not yet sent. */
size_t conn_output_pending(const struct conn *conn);

/*
 * conn_close_after_flush - stop reading, send what is queued, then close
 * (QUIT/LOGOUT, protocol errors). on_close follows with CONN_CLOSE_LOCAL
 * (or the reason already pending, e.g. TIMEOUT).
 */
void conn_close_after_flush(struct conn *conn);

/* conn_close - close now, dropping queued output; on_close follows. */
void conn_close(struct conn *conn);

/* conn_is_closing - true once a close was requested or happened. */
bool conn_is_closing(const struct conn *conn);

/*
 * conn_free - release everything and close the socket if still open. No
 * callback runs afterwards. Safe inside callbacks; NULL is ignored.
 */
void conn_free(struct conn *conn);

/*
 * conn_start_tls - STARTTLS: call right after queuing the "ready to start
 * TLS" reply. That reply is sent in plaintext; plaintext input that came
 * after the command is discarded (see conn-tls.c); then the TLS handshake
 * runs and on_tls_ready (or on_close with CONN_CLOSE_TLS) follows.
 * Returns 0, or -1 when already TLS or closing (nothing changes).
 */
int conn_start_tls(struct conn *conn, SSL_CTX *ssl_ctx);

/*
 * conn_start_tls_client - (added for the SMTP client) the client side of
 * STARTTLS on a conn made from a socket we connected: call after the
 * server's "220 Ready to start TLS" reply was read. Plaintext input that
 * came after that reply is discarded (RFC 3207 4.2: it could be
 * injected), then the handshake runs with peer_name as SNI (not for a
 * numeric address) and, when verify is set, the certificate must verify
 * against the context's CAs and match peer_name. on_tls_ready or
 * on_close(CONN_CLOSE_TLS) follows. 0, or -1 (already TLS, closing).
 */
int conn_start_tls_client(struct conn *conn, SSL_CTX *ssl_ctx, const char *peer_name, bool verify);

/* conn_is_tls - true once TLS is on (also during the handshake). */
bool conn_is_tls(const struct conn *conn);

/* conn_tls_describe - tls_describe() of the session into buf; "" before
 * the handshake finished or for plain connections. Returns buf. */
char *conn_tls_describe(const struct conn *conn, char *buf, size_t size);

/* conn_ssl - the SSL object (NULL for plain), e.g. for client certs. */
SSL *conn_ssl(const struct conn *conn);

/* Peer and local addresses: numeric, IPv4-mapped IPv6 shown as IPv4,
 * IPv6 without brackets; "unknown"/0 if the socket had none. */
const char *conn_peer_addr(const struct conn *conn);
int conn_peer_port(const struct conn *conn);
const char *conn_local_addr(const struct conn *conn);
int conn_local_port(const struct conn *conn);

/*
 * conn_set_nodelay - (added for IMAP) TCP_NODELAY on the socket: a reply
 * written after a large one (the tagged OK after a FETCH literal) goes
 * out at once instead of waiting for the peer's delayed ACK (up to 40 ms
 * on Linux). Output is buffered and written in chunks anyway. 0, or -1
 * (not a TCP socket, or gone): harmless to ignore.
 */
int conn_set_nodelay(struct conn *conn);

/*
 * conn_quickack - (added for IMAP literals) acknowledge what was received
 * at once (TCP_QUICKACK, which the kernel resets by itself): a client
 * that sends a literal and then its final CRLF in two writes (Python's
 * imaplib) would otherwise wait for our delayed ACK before its Nagle
 * lets the CRLF go. 0 or -1 (harmless to ignore).
 */
int conn_quickack(struct conn *conn);

/*
 * conn_set_release_hook - for server.c: fn(arg) runs exactly once, when
 * the socket is closed or the conn freed, whichever comes first (so that
 * connection counts drop as soon as the client is gone).
 */
typedef void conn_release_fn(void *arg);
void conn_set_release_hook(struct conn *conn, conn_release_fn *fn, void *arg);

#endif
