/*
 * conn-tls.c - TLS on a conn: implicit TLS from the first byte (smtps 465,
 * imaps 993, pop3s 995; RFC 8314) and the STARTTLS upgrade (RFC 3207 for
 * SMTP, RFC 9051 6.2.1 for IMAP, RFC 2595 for POP3 STLS).
 *
 * Socket bufferevent, not a filter. For STARTTLS we free the plaintext
 * bufferevent and create a bufferevent_openssl_socket_new() on the same fd,
 * instead of stacking bufferevent_openssl_filter_new() on the plaintext
 * one. Reasons: (1) with a filter, bytes that the plaintext bufferevent
 * already read stay in its input buffer and would be fed to OpenSSL, so
 * the injection defence below would depend on draining the right layer at
 * the right moment; freeing the plaintext layer makes it impossible for
 * any plaintext byte to survive the switch. (2) OpenSSL then reads the
 * socket directly: one buffer and one copy less per byte, and timeouts and
 * watermarks live on a single bufferevent. (3) Implicit TLS and STARTTLS
 * end up as the very same kind of bufferevent, so there is one code path.
 *
 * Every bufferevent owns its fd (and the TLS one its SSL) through
 * BEV_OPT_CLOSE_ON_FREE; the TLS one gets a dup() of the plaintext one's
 * fd. conn-private.h says why libevent must be the one to close fds.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>

#include "conn-private.h"
#include "log.h"
#include "tls.h"
#include "util.h"

/* conn_tls_client_setup - SNI (RFC 6066 3: host names only, never an
 * address) and, when asked, certificate and host name verification
 * (RFC 6125 through OpenSSL's SSL_set1_host). */
static bool conn_tls_client_setup(struct conn *c, SSL *ssl)
{
	unsigned char tmp[16];
	const char *name = c->tls_peer_name;
	bool numeric = inet_pton(AF_INET, name, tmp) == 1 || inet_pton(AF_INET6, name, tmp) == 1;

	if (name[0] != '\0' && !numeric && SSL_set_tlsext_host_name(ssl, name) != 1)
		return false;
	if (c->tls_verify) {
		if (name[0] == '\0' || SSL_set1_host(ssl, name) != 1)
			return false;
		SSL_set_verify(ssl, SSL_VERIFY_PEER, NULL);
	}
	return true;
}

struct bufferevent *conn_tls_bev_new(struct conn *c, SSL_CTX *ssl_ctx, int fd, const char **error_r)
{
	struct bufferevent *bev;
	SSL *ssl;

	ssl = SSL_new(ssl_ctx);
	if (ssl == NULL) {
		ERR_clear_error();
		close(fd);
		*error_r = "cannot create a TLS session (out of memory?)";
		return NULL;
	}
	if (c->tls_client && !conn_tls_client_setup(c, ssl)) {
		SSL_free(ssl);
		close(fd);
		*error_r = "cannot set up the TLS client session (out of memory?)";
		return NULL;
	}
	bev = bufferevent_openssl_socket_new(c->base, fd, ssl,
					     c->tls_client ? BUFFEREVENT_SSL_CONNECTING
							   : BUFFEREVENT_SSL_ACCEPTING,
					     BEV_OPT_DEFER_CALLBACKS | BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL) {
		/* libevent 2.1 frees the SSL and closes the fd on some of its
		 * failure paths (event_add failed) but not on others (out of
		 * memory); neither can be told apart here, so we leak rather
		 * than risk a double free or closing a reused descriptor. */
		*error_r = "cannot create a TLS bufferevent (out of memory?)";
		return NULL;
	}
	/* Many mail clients close the TCP connection without a TLS
	 * close_notify; that is an ordinary end of session for us (no
	 * truncation attack applies: every protocol unit is delimited). */
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	c->ssl = ssl;
	c->tls = true;
	c->tls_ready = false;
	return bev;
}

int conn_start_tls_client(struct conn *c, SSL_CTX *ssl_ctx, const char *peer_name, bool verify)
{
	if (c->freed || c->state != CONN_OPEN || c->tls || c->bev == NULL)
		return -1;
	c->tls_client = true;
	c->tls_verify = verify;
	str_copy(c->tls_peer_name, peer_name != NULL ? peer_name : "", sizeof(c->tls_peer_name));
	return conn_start_tls(c, ssl_ctx);
}

int conn_start_tls(struct conn *c, SSL_CTX *ssl_ctx)
{
	struct evbuffer *in;
	size_t n;

	if (c->freed || c->state != CONN_OPEN || c->tls || c->bev == NULL)
		return -1;
	/*
	 * Command injection defence, CVE-2011-0411 (Postfix, Wietse Venema's
	 * "plaintext command injection in STARTTLS", March 2011) and RFC 3207
	 * section 4.2 ("the server MUST discard any knowledge obtained from
	 * the client ... not obtained from the TLS negotiation itself"): a
	 * man in the middle can append commands after "STARTTLS\r\n" in the
	 * same packet; if they stayed in our buffer they would be executed as
	 * if they had arrived over TLS. So drop every plaintext byte already
	 * read, and stop reading plaintext now. Bytes still in the kernel
	 * are read by OpenSSL as TLS records: garbage there fails the
	 * handshake, it never becomes a command.
	 */
	in = bufferevent_get_input(c->bev);
	n = evbuffer_get_length(in);
	if (n > 0) {
		log_warn("%s: discarding %zu bytes of plaintext sent after STARTTLS "
			 "(pipelined or injected; RFC 3207 4.2)", c->name, n);
		evbuffer_drain(in, n);
	}
	c->discarding = false;
	c->raw = false;
	c->raw_cb = NULL;
	bufferevent_disable(c->bev, EV_READ);
	if (SSL_CTX_up_ref(ssl_ctx) != 1)
		return -1;
	c->starttls_ctx = ssl_ctx;
	c->state = CONN_TLS_FLUSH;
	/* The reply is still queued: conn.c's write callback switches once it
	 * is sent. If nothing is queued, switch from the loop (not from inside
	 * the protocol's callback). */
	if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0) {
		c->want_switch = true;
		conn_schedule(c);
	}
	return 0;
}

void conn_tls_switch(struct conn *c)
{
	const char *error = NULL;
	struct bufferevent *bev;
	SSL_CTX *ctx = c->starttls_ctx;
	int fd2;

	if (c->state != CONN_TLS_FLUSH || ctx == NULL)
		return;
	c->starttls_ctx = NULL;
	/* The TLS bufferevent gets its own descriptor for the same socket,
	 * because the plaintext one closes its fd when libevent finalizes it.
	 * Reading was disabled at STARTTLS, so nothing new can have arrived;
	 * the plaintext input buffer goes away with its bufferevent. */
	fd2 = fcntl(c->fd, F_DUPFD_CLOEXEC, 0);
	bufferevent_disable(c->bev, EV_READ | EV_WRITE);
	bufferevent_free(c->bev);
	c->bev = NULL;
	if (fd2 < 0) {
		SSL_CTX_free(ctx);
		log_warn("%s: STARTTLS: cannot duplicate the socket: %s", c->name, strerror(errno));
		conn_finish(c, CONN_CLOSE_ERROR, "cannot duplicate the socket");
		return;
	}
	c->fd = fd2;
	bev = conn_tls_bev_new(c, ctx, fd2, &error);
	SSL_CTX_free(ctx);
	if (bev == NULL) {
		log_warn("%s: STARTTLS: %s", c->name, error);
		conn_finish(c, CONN_CLOSE_NOMEM, error);
		return;
	}
	c->bev = bev;
	c->state = CONN_OPEN;
	conn_install_bev(c);
}

void conn_tls_failed(struct conn *c, short what)
{
	char detail[256];
	unsigned long e, first = 0;
	int err = EVUTIL_SOCKET_ERROR();

	while (c->bev != NULL && (e = bufferevent_get_openssl_error(c->bev)) != 0) {
		if (first == 0)
			first = e;
	}
	if (first != 0) {
		const char *r = ERR_reason_error_string(first);

		str_copy(detail, r != NULL ? r : "handshake failed", sizeof(detail));
	} else if (what & BEV_EVENT_EOF) {
		str_copy(detail, "lost connection", sizeof(detail));
	} else if (what & BEV_EVENT_TIMEOUT) {
		str_copy(detail, "timeout", sizeof(detail));
	} else if (err != 0) {
		str_copy(detail, strerror(err), sizeof(detail));
	} else {
		str_copy(detail, "handshake failed", sizeof(detail));
	}
	if (c->tls_client)
		log_info("SSL_connect error to %s: %s", c->name, detail);
	else
		log_info("SSL_accept error from %s: %s", c->name, detail);
	conn_finish(c, CONN_CLOSE_TLS, detail);
}

void conn_tls_mark_ready(struct conn *c)
{
	if (c->tls_ready || c->ssl == NULL || !SSL_is_init_finished(c->ssl))
		return;
	c->tls_ready = true;
	if (c->state == CONN_OPEN && c->cb != NULL && c->cb->on_tls_ready != NULL)
		c->cb->on_tls_ready(c, c->ctx);
}

bool conn_is_tls(const struct conn *c)
{
	return c->tls;
}

char *conn_tls_describe(const struct conn *c, char *buf, size_t size)
{
	if (size > 0)
		buf[0] = '\0';
	if (c->ssl == NULL || !c->tls_ready)
		return buf;
	return tls_describe(c->ssl, buf, size);
}

SSL *conn_ssl(const struct conn *c)
{
	return c->ssl;
}
