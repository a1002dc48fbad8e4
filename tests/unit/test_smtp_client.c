/*
 * test_smtp_client.c - smtpc_deliver (smtp/client/) on a real libevent
 * loop against fake SMTP servers in this test (listening sockets on
 * 127.0.0.1, served by the same loop through lib/conn, scripted replies)
 * and a fake resolver (dns_new_fake) answering MX/A.
 *
 * Covers: delivery with pipelining, per-recipient 4xx/5xx results with
 * Postfix's texts, a lower-preference MX that is down, null MX, NXDOMAIN,
 * a greeting timeout, a 4xx greeting, SIZE, non-pipelined servers, HELO
 * fallback, dot-stuffing bytes on the wire, STARTTLS (may and encrypt),
 * AUTH PLAIN and LOGIN with smtp_sasl_password_maps, the 8-bit downgrade.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>

#include "config.h"
#include "conn.h"
#include "dns.h"
#include "evloop.h"
#include "log.h"
#include "smtp/client/smtp-client.h"
#include "tls.h"
#include "util.h"

/* ---- the fake SMTP server ---- */

struct fsrv;

struct fconn {
	struct fsrv *s;
	struct conn *conn;
	bool in_data;
	int accepted;
	struct fconn *next;
};

struct fsrv {
	struct event_base *base;
	int lfd;
	int port;
	const char *addr;
	struct event *ev;
	const char *greeting;       /* NULL: never greet */
	const char *ehlo;           /* the EHLO reply, "\r\n"-separated; NULL: 502 */
	const char *mail_reply;
	const char *(*rcpt_reply)(const char *addr);
	const char *data_reply;
	const char *auth_ok;        /* expected "AUTH ..." line(s), joined by "|" */
	SSL_CTX *ssl;               /* STARTTLS */
	bool tls_done;
	struct strbuf log;          /* "C: line\n" per line received */
	struct strbuf body;         /* the DATA content, as received */
	bool pipelined;             /* MAIL arrived with more bytes behind it */
	int connections;
	struct strbuf auth_lines;
	const char *close_on;       /* close the connection at this command */
	bool starttls_garbage;      /* answer STARTTLS with 220, then plain text */
	struct fconn *conns;
};

static void srv_reply(struct fconn *fc, const char *text)
{
	conn_printf(fc->conn, "%s\r\n", text);
}

static void srv_on_line(struct conn *conn, char *line, size_t len, void *ctx)
{
	struct fconn *fc = ctx;
	struct fsrv *s = fc->s;
	const char *r;

	if (fc->in_data) {
		if (len == 1 && line[0] == '.') {
			fc->in_data = false;
			srv_reply(fc, s->data_reply != NULL ? s->data_reply : "250 2.0.0 Ok: queued as 4ABC");
			return;
		}
		strbuf_append(&s->body, line, len);
		strbuf_puts(&s->body, conn_line_had_crlf(conn) ? "\r\n" : "\n");
		return;
	}
	strbuf_printf(&s->log, "C: %s\n", line);
	if (s->close_on != NULL && strncasecmp(line, s->close_on, strlen(s->close_on)) == 0) {
		conn_close(conn);
		return;
	}
	if (strncasecmp(line, "EHLO ", 5) == 0) {
		srv_reply(fc, s->ehlo != NULL ? s->ehlo : "502 5.5.2 Error: command not recognized");
	} else if (strncasecmp(line, "HELO ", 5) == 0) {
		srv_reply(fc, "250 mx.test");
	} else if (strcasecmp(line, "STARTTLS") == 0) {
		srv_reply(fc, "220 2.0.0 Ready to start TLS");
		if (s->starttls_garbage) {
			srv_reply(fc, "this is not a TLS record");
			conn_close_after_flush(conn);
			return;
		}
		conn_start_tls(conn, s->ssl);
	} else if (strncasecmp(line, "AUTH ", 5) == 0 || s->auth_lines.len > 0) {
		strbuf_printf(&s->auth_lines, "%s|", line);
		if (strcasecmp(line, "AUTH LOGIN") == 0)
			srv_reply(fc, "334 VXNlcm5hbWU6");
		else if (strstr(s->auth_lines.data, "AUTH LOGIN") != NULL &&
			 strchr(strchr(s->auth_lines.data, '|') + 1, '|') == strrchr(s->auth_lines.data, '|'))
			srv_reply(fc, "334 UGFzc3dvcmQ6");
		else {
			/* complete: compare */
			srv_reply(fc, s->auth_ok != NULL && strncmp(s->auth_lines.data, s->auth_ok,
								     strlen(s->auth_ok)) == 0
				  ? "235 2.7.0 Authentication successful"
				  : "535 5.7.8 Error: authentication failed: bad");
			strbuf_reset(&s->auth_lines);
		}
	} else if (strncasecmp(line, "MAIL FROM:", 10) == 0) {
		if (conn_input_pending(conn) > 0)
			s->pipelined = true;
		fc->accepted = 0;
		srv_reply(fc, s->mail_reply != NULL ? s->mail_reply : "250 2.1.0 Ok");
	} else if (strncasecmp(line, "RCPT TO:<", 9) == 0) {
		char addr[256];
		size_t n = strcspn(line + 9, ">");

		snprintf(addr, sizeof(addr), "%.*s", (int)n, line + 9);
		r = s->rcpt_reply != NULL ? s->rcpt_reply(addr) : NULL;
		if (r == NULL)
			r = "250 2.1.5 Ok";
		if (r[0] == '2')
			fc->accepted++;
		srv_reply(fc, r);
	} else if (strcasecmp(line, "DATA") == 0) {
		if (fc->accepted == 0) {
			srv_reply(fc, "554 5.5.1 Error: no valid recipients");
		} else {
			fc->in_data = true;
			srv_reply(fc, "354 End data with <CR><LF>.<CR><LF>");
		}
	} else if (strcasecmp(line, "QUIT") == 0) {
		srv_reply(fc, "221 2.0.0 Bye");
		conn_close_after_flush(conn);
	} else {
		srv_reply(fc, "502 5.5.2 Error: command not recognized");
	}
}

static void srv_on_tls_ready(struct conn *conn, void *ctx)
{
	struct fconn *fc = ctx;

	fc->s->tls_done = true;
	strbuf_puts(&fc->s->log, "TLS\n");
}

static void srv_on_close(struct conn *conn, enum conn_close_reason reason, const char *detail,
			 void *ctx)
{
	struct fconn *fc = ctx;

	strbuf_printf(&fc->s->log, "CLOSE %s\n", conn_close_reason_name(reason));
	conn_free(conn);
	fc->conn = NULL;
}

static const struct conn_callbacks srv_cb = {
	.on_line = srv_on_line,
	.on_tls_ready = srv_on_tls_ready,
	.on_close = srv_on_close,
};

static void srv_accept(evutil_socket_t lfd, short what, void *arg)
{
	struct fsrv *s = arg;
	const char *error = NULL;
	struct fconn *fc;
	int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (fd < 0)
		return;
	s->connections++;
	fc = calloc(1, sizeof(*fc));
	assert_non_null(fc);
	fc->s = s;
	fc->conn = conn_new(s->base, fd, NULL, &error);
	assert_non_null(fc->conn);
	conn_set_max_line(fc->conn, 8000);
	conn_set_output_limit(fc->conn, 4 * 1024 * 1024);
	fc->next = s->conns;
	s->conns = fc;
	conn_set_callbacks(fc->conn, &srv_cb, fc);
	if (s->greeting != NULL)
		srv_reply(fc, s->greeting);
}

static struct fsrv *srv_new(struct event_base *base, const char *addr, int port)
{
	struct fsrv *s = calloc(1, sizeof(*s));
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int one = 1;

	assert_non_null(s);
	s->base = base;
	s->addr = addr;
	s->greeting = "220 mx.test ESMTP";
	s->ehlo = "250-mx.test\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-8BITMIME\r\n250 DSN";
	strbuf_init(&s->log, 0);
	strbuf_init(&s->body, 0);
	strbuf_init(&s->auth_lines, 0);
	s->lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	assert_true(s->lfd >= 0);
	setsockopt(s->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((unsigned short)port);
	inet_pton(AF_INET, addr, &sin.sin_addr);
	assert_int_equal(bind(s->lfd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(s->lfd, 16), 0);
	getsockname(s->lfd, (struct sockaddr *)&sin, &len);
	s->port = ntohs(sin.sin_port);
	s->ev = event_new(base, s->lfd, EV_READ | EV_PERSIST, srv_accept, s);
	event_add(s->ev, NULL);
	return s;
}

static void srv_free(struct fsrv **sp)
{
	struct fsrv *s = *sp;

	while (s->conns != NULL) {
		struct fconn *fc = s->conns;

		s->conns = fc->next;
		if (fc->conn != NULL)
			conn_free(fc->conn);
		free(fc);
	}
	event_free(s->ev);
	close(s->lfd);
	strbuf_free(&s->log);
	strbuf_free(&s->body);
	strbuf_free(&s->auth_lines);
	free(s);
	*sp = NULL;
}

/* ---- the fake resolver ---- */

struct zrec {
	const char *name;
	enum dns_type type;
	const char *text;
	unsigned pref;
};

static const struct zrec zone[] = {
	/* one MX */
	{ "one.test", DNS_MX, "mx.one.test", 10 },
	{ "mx.one.test", DNS_A, "127.0.0.1", 0 },
	/* the best MX is down (nothing listens on 127.0.0.3) */
	{ "two.test", DNS_MX, "backup.two.test", 20 },
	{ "two.test", DNS_MX, "primary.two.test", 10 },
	{ "primary.two.test", DNS_A, "127.0.0.3", 0 },
	{ "backup.two.test", DNS_A, "127.0.0.1", 0 },
	/* null MX */
	{ "nullmx.test", DNS_MX, "", 0 },
	/* no MX: the domain's address */
	{ "nomx.test", DNS_A, "127.0.0.1", 0 },
	/* two MX hosts that both answer: 127.0.0.2 first */
	{ "three.test", DNS_MX, "first.three.test", 10 },
	{ "three.test", DNS_MX, "second.three.test", 20 },
	{ "first.three.test", DNS_A, "127.0.0.2", 0 },
	{ "second.three.test", DNS_A, "127.0.0.1", 0 },
	/* two MX hosts of equal preference, one down */
	{ "eq.test", DNS_MX, "up.eq.test", 10 },
	{ "eq.test", DNS_MX, "down.eq.test", 10 },
	{ "up.eq.test", DNS_A, "127.0.0.1", 0 },
	{ "down.eq.test", DNS_A, "127.0.0.3", 0 },
	/* relay host */
	{ "relay.test", DNS_A, "127.0.0.1", 0 },
	{ NULL, 0, NULL, 0 },
};

static struct dns_rr fake_rrs[8];

static void fake_dns(void *ctx, const char *name, enum dns_type type, struct dns_answer *a)
{
	size_t i, n = 0;
	bool name_exists = false;

	(void)ctx;
	for (i = 0; zone[i].name != NULL; i++) {
		if (strcasecmp(zone[i].name, name) != 0)
			continue;
		name_exists = true;
		if (zone[i].type == type && n < 8) {
			fake_rrs[n].text = zone[i].text;
			fake_rrs[n].pref = zone[i].pref;
			fake_rrs[n].ttl = 300;
			n++;
		}
	}
	if (strcmp(name, "tempfail.test") == 0) {
		a->status = DNS_TEMPFAIL;
		a->error = "SERVFAIL";
		return;
	}
	a->status = n > 0 ? DNS_FOUND : DNS_NOTFOUND;
	a->rrs = n > 0 ? fake_rrs : NULL;
	a->n = n;
	a->nxdomain = !name_exists;
	a->error = n > 0 ? NULL : name_exists ? "no data" : "Host not found";
}

/* ---- one delivery ---- */

struct run {
	struct event_base *base;
	struct dns *dns;
	struct config *cfg;
	struct smtpc *c;
	struct fsrv *srv;
	int fd;
	bool done;
	size_t n;
	enum qdest_state result[4];
	char dsn[4][12];
	char relay[4][300];
	char diag[4][600];
	char text[4][600];
};

static void done_cb(void *ctx, const struct smtpc_result *res, size_t n)
{
	struct run *r = ctx;
	size_t i;

	r->done = true;
	r->n = n;
	for (i = 0; i < n && i < 4; i++) {
		r->result[i] = res[i].result;
		str_copy(r->dsn[i], res[i].dsn, sizeof(r->dsn[i]));
		str_copy(r->relay[i], res[i].relay, sizeof(r->relay[i]));
		str_copy(r->diag[i], res[i].diag, sizeof(r->diag[i]));
		str_copy(r->text[i], res[i].text, sizeof(r->text[i]));
	}
	event_base_loopbreak(r->base);
}

static void watchdog(evutil_socket_t fd, short what, void *arg)
{
	event_base_loopbreak(arg);
}

static void quiet_log(const char *severity, const char *text, void *ctx)
{
	(void)severity;
	(void)text;
	(void)ctx;
}

/* run_setup - loop, fake server on 127.0.0.1, resolver, client with
 * extra configuration text. */
static void run_setup(struct run *r, const char *extra_conf)
{
	char conf[4096], extra[2048] = "";
	const char *e = extra_conf != NULL ? extra_conf : "";
	size_t o = 0;

	memset(r, 0, sizeof(*r));
	r->base = event_base_new();
	assert_non_null(r->base);
	r->srv = srv_new(r->base, "127.0.0.1", 0);
	/* "%PORT%" in extra_conf: the fake server's port */
	while (*e != '\0' && o + 8 < sizeof(extra)) {
		if (strncmp(e, "%PORT%", 6) == 0) {
			o += (size_t)snprintf(extra + o, sizeof(extra) - o, "%d", r->srv->port);
			e += 6;
		} else {
			extra[o++] = *e++;
		}
	}
	extra[o] = '\0';
	snprintf(conf, sizeof(conf),
		 "myhostname = client.example\n"
		 "smtp_tcp_port = %d\n"
		 "smtp_tls_security_level = none\n"
		 "smtp_connect_timeout = 2s\n"
		 "%s\n", r->srv->port, extra);
	r->cfg = config_parse("t.cf", conf, strlen(conf), NULL, NULL);
	assert_non_null(r->cfg);
	r->dns = dns_new_fake(r->base, fake_dns, NULL);
	assert_non_null(r->dns);
	r->fd = -1;
}

static void run_client(struct run *r)
{
	char *error = NULL;

	r->c = smtpc_new(r->base, r->dns, r->cfg, &error);
	if (r->c == NULL)
		fail_msg("smtpc_new: %s", error);
}

/* content_fd - a "queue file": 7 bytes of envelope, then content. */
static int content_fd(const char *content, off_t *offset, off_t *size)
{
	char path[] = "/tmp/postern-test-smtpc-XXXXXX";
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	unlink(path);
	assert_int_equal(write(fd, "ENVELOP", 7), 7);
	assert_int_equal(write(fd, content, strlen(content)), (ssize_t)strlen(content));
	*offset = 7;
	*size = (off_t)strlen(content);
	/* the client must not move the position: put it somewhere odd */
	lseek(fd, 3, SEEK_SET);
	return fd;
}

static void deliver(struct run *r, const char *nexthop, const char *content,
		    const struct smtpc_rcpt *rcpts, size_t n_rcpts, bool body_8bit)
{
	struct smtpc_req req;
	struct event *wd;
	struct timeval tv = { 15, 0 };
	struct smtpc_job *job;

	if (r->c == NULL)
		run_client(r);
	memset(&req, 0, sizeof(req));
	req.nexthop = nexthop;
	req.sender = "alice@client.example";
	req.body_8bit = body_8bit;
	req.fd = content_fd(content, &req.offset, &req.size);
	req.rcpts = rcpts;
	req.n_rcpts = n_rcpts;
	r->fd = req.fd;
	job = smtpc_deliver(r->c, &req, done_cb, r);
	assert_non_null(job);
	assert_false(r->done);   /* never from inside smtpc_deliver */
	wd = evtimer_new(r->base, watchdog, r->base);
	evtimer_add(wd, &tv);
	event_base_dispatch(r->base);
	event_free(wd);
	assert_true(r->done);
	assert_int_equal(lseek(r->fd, 0, SEEK_CUR), 3);
}

/* spin - run the loop a little: the QUIT reaches the server */
static void spin(struct run *r)
{
	struct timeval tv = { 0, 100000 };

	event_base_loopexit(r->base, &tv);
	event_base_dispatch(r->base);
}

static void run_teardown(struct run *r)
{
	smtpc_free(&r->c);
	assert_null(r->c);
	/* let the server see the QUIT and the close */
	{
		struct timeval tv = { 0, 100000 };

		event_base_loopexit(r->base, &tv);
		event_base_dispatch(r->base);
	}
	srv_free(&r->srv);
	dns_free(&r->dns);
	config_free(&r->cfg);
	if (r->fd >= 0)
		close(r->fd);
	event_base_free(r->base);
}

static const char *rcpt_script(const char *addr)
{
	if (strncmp(addr, "bad", 3) == 0)
		return "550 5.1.1 <bad@one.test>: Recipient address rejected: User unknown";
	if (strncmp(addr, "soft", 4) == 0)
		return "450 4.2.0 <soft@one.test>: Recipient address rejected: Greylisted";
	return NULL;
}

static const char msg[] = "Subject: hi\r\n\r\nhello\r\n";

/* expect - "%d" in want is the fake server's port */
static void expect(const struct run *r, const char *got, const char *want_fmt)
{
	char want[1024];
	const char *pct = strstr(want_fmt, "%d");

	assert_non_null(pct);
	snprintf(want, sizeof(want), "%.*s%d%s", (int)(pct - want_fmt), want_fmt, r->srv->port, pct + 2);
	assert_string_equal(got, want);
}

static void test_pipelined_delivery(void **state)
{
	struct run r;
	struct smtpc_rcpt rc[2] = { { "bob@one.test", NULL, 0 },
				    { "carol@one.test", "rfc822;carol@one.test",
				      QMSG_NOTIFY_FAILURE | QMSG_NOTIFY_DELAY } };

	(void)state;
	run_setup(&r, NULL);
	deliver(&r, "one.test", msg, rc, 2, false);
	assert_int_equal(r.n, 2);
	assert_int_equal(r.result[0], QDEST_SENT);
	assert_int_equal(r.result[1], QDEST_SENT);
	assert_string_equal(r.dsn[0], "2.0.0");
	expect(&r, r.relay[0], "mx.one.test[127.0.0.1]:%d");
	assert_string_equal(r.text[0], "250 2.0.0 Ok: queued as 4ABC");
	assert_string_equal(r.diag[1], "smtp; 250 2.0.0 Ok: queued as 4ABC");
	assert_true(r.srv->pipelined);
	assert_string_equal(r.srv->log.data,
			    "C: EHLO client.example\n"
			    "C: MAIL FROM:<alice@client.example> SIZE=22\n"
			    "C: RCPT TO:<bob@one.test>\n"
			    "C: RCPT TO:<carol@one.test> NOTIFY=FAILURE,DELAY ORCPT=rfc822;carol@one.test\n"
			    "C: DATA\n");
	assert_string_equal(r.srv->body.data, msg);
	run_teardown(&r);
}

static void test_per_recipient_results(void **state)
{
	struct run r;
	struct smtpc_rcpt rc[3] = { { "soft@one.test", NULL, 0 }, { "bob@one.test", NULL, 0 },
				    { "bad@one.test", NULL, 0 } };

	(void)state;
	run_setup(&r, NULL);
	r.srv->rcpt_reply = rcpt_script;
	deliver(&r, "one.test", msg, rc, 3, false);
	assert_int_equal(r.result[0], QDEST_DEFERRED);
	assert_string_equal(r.dsn[0], "4.2.0");
	assert_string_equal(r.text[0], "host mx.one.test[127.0.0.1] said: 450 4.2.0 <soft@one.test>: "
			    "Recipient address rejected: Greylisted (in reply to RCPT TO command)");
	assert_int_equal(r.result[1], QDEST_SENT);
	assert_int_equal(r.result[2], QDEST_BOUNCED);
	assert_string_equal(r.dsn[2], "5.1.1");
	assert_string_equal(r.diag[2], "smtp; 550 5.1.1 <bad@one.test>: Recipient address rejected: "
			    "User unknown");
	assert_string_equal(r.text[2], "host mx.one.test[127.0.0.1] said: 550 5.1.1 <bad@one.test>: "
			    "Recipient address rejected: User unknown (in reply to RCPT TO command)");
	expect(&r, r.relay[2], "mx.one.test[127.0.0.1]:%d");
	/* one session only: a 4xx for some recipients does not try another host */
	assert_int_equal(r.srv->connections, 1);
	run_teardown(&r);
}

static void test_all_rejected_no_data(void **state)
{
	struct run r;
	struct smtpc_rcpt rc[1] = { { "bad@one.test", NULL, 0 } };

	(void)state;
	run_setup(&r, NULL);
	r.srv->rcpt_reply = rcpt_script;
	r.srv->ehlo = "250-mx.test\r\n250 8BITMIME";   /* no PIPELINING */
	deliver(&r, "one.test", msg, rc, 1, false);
	assert_int_equal(r.result[0], QDEST_BOUNCED);
	assert_false(r.srv->pipelined);
	/* without pipelining, no DATA after every RCPT failed */
	assert_null(strstr(r.srv->log.data, "C: DATA"));
	spin(&r);
	assert_non_null(strstr(r.srv->log.data, "C: QUIT"));
	run_teardown(&r);
}

static void test_mail_rejected(void **state)
{
	struct run r;
	struct smtpc_rcpt rc[2] = { { "bob@one.test", NULL, 0 }, { "carol@one.test", NULL, 0 } };

	(void)state;
	run_setup(&r, NULL);
	r.srv->mail_reply = "553 5.7.1 <alice@client.example>: Sender address rejected: not owned";
	deliver(&r, "one.test", msg, rc, 2, false);
	assert_int_equal(r.result[0], QDEST_BOUNCED);
	assert_int_equal(r.result[1], QDEST_BOUNCED);
	assert_string_equal(r.dsn[1], "5.7.1");
	assert_string_equal(r.text[1], "host mx.one.test[127.0.0.1] said: 553 5.7.1 <alice@client.example>: "
			    "Sender address rejected: not owned (in reply to MAIL FROM command)");
	run_teardown(&r);
}

static void test_best_mx_down(void **state)
{
	struct run r;
	struct smtpc_rcpt rc[1] = { { "bob@two.test", NULL, 0 } };

	(void)state;
	run_setup(&r, NULL);
	deliver(&r, "two.test", msg, rc, 1, false);
	assert_int_equal(r.result[0], QDEST_SENT);
	expect(&r, r.relay[0], "backup.two.test[127.0.0.1]:%d");
	run_teardown(&r);
}

static void test_all_mx_down(void **state)
{
	struct run r;
	struct smtpc_rcpt rc[1] = { { "bob@two.test", NULL, 0 } };

	(void)state;
	run_setup(&r, NULL);
	/* the backup on 127.0.0.1 refuses too: only the port matters */
	event_del(r.srv->ev);
	close(r.srv->lfd);
	r.srv->lfd = socket(AF_INET, SOCK_STREAM, 0);
	deliver(&r, "two.test", msg, rc, 1, false);
	assert_int_equal(r.result[0], QDEST_DEFERRED);
	assert_string_equal(r.dsn[0], "4.4.1");
	/* the last host's reason */
	expect(&r, r.text[0], "connect to backup.two.test[127.0.0.1]:%d: Connection refused");
	run_teardown(&r);
}

static void test_null_mx_and_nxdomain(void **state)
{
	struct run r;
	struct smtpc_rcpt rc[1] = { { "bob@nullmx.test", NULL, 0 } };

	(void)state;
	run_setup(&r, NULL);
	deliver(&r, "nullmx.test", msg, rc, 1, false);
	assert_int_equal(r.result[0], QDEST_BOUNCED);
	assert_string_equal(r.dsn[0], "5.1.10");
	assert_string_equal(r.relay[0], "none");
	assert_string_equal(r.text[0], "Domain nullmx.test does not accept mail (nullMX)");
	r.done = false;
	close(r.fd);
	deliver(&r, "nosuch.test", msg, rc, 1, false);
	assert_int_equal(r.result[0], QDEST_BOUNCED);
	assert_string_equal(r.dsn[0], "5.4.4");
	assert_string_equal(r.text[0], "Host or domain name not found. Name service error for "
			    "name=nosuch.test type=MX: Host not found");
	r.done = false;
	close(r.fd);
	deliver(&r, "tempfail.test", msg, rc, 1, false);
	assert_int_equal(r.result[0], QDEST_DEFERRED);
	assert_string_equal(r.dsn[0], "4.4.3");
	assert_string_equal(r.text[0], "Host or domain name not found. Name service error for "
			    "name=tempfail.test type=MX: Host not found, try again");
	run_teardown(&r);
}

static void test_no_mx_uses_address_and_relay_syntax(void **state)
{
	struct run r;
	struct smtpc_rcpt rc[1] = { { "bob@nomx.test", NULL, 0 } };
	char nexthop[64];

	(void)state;
	run_setup(&r, NULL);
	deliver(&r, "nomx.test", msg, rc, 1, false);
	assert_int_equal(r.result[0], QDEST_SENT);
	expect(&r, r.relay[0], "nomx.test[127.0.0.1]:%d");
	r.done = false;
	close(r.fd);
	snprintf(nexthop, sizeof(nexthop), "[127.0.0.1]:%d", r.srv->port);
	deliver(&r, nexthop, msg, rc, 1, false);
	assert_int_equal(r.result[0], QDEST_SENT);
	expect(&r, r.relay[0], "127.0.0.1[127.0.0.1]:%d");
	run_teardown(&r);
}

static void test_greeting_timeout(void **state)
{
	struct run r;
	struct smtpc_rcpt rc[1] = { { "bob@one.test", NULL, 0 } };

	(void)state;
	run_setup(&r, "smtp_helo_timeout = 1s");
	r.srv->greeting = NULL;
	deliver(&r, "one.test", msg, rc, 1, false);
	assert_int_equal(r.result[0], QDEST_DEFERRED);
	assert_string_equal(r.dsn[0], "4.4.2");
	assert_string_equal(r.text[0], "conversation with mx.one.test[127.0.0.1] timed out while "
			    "receiving the initial server greeting");
	run_teardown(&r);
}

static void test_greeting_refused(void **state)
{
	struct run r;
	struct smtpc_rcpt rc[1] = { { "bob@one.test", NULL, 0 } };

	(void)state;
	run_setup(&r, NULL);
	r.srv->greeting = "554 5.7.1 go away";
	deliver(&r, "one.test", msg, rc, 1, false);
	assert_int_equal(r.result[0], QDEST_DEFERRED);
	assert_string_equal(r.text[0], "host mx.one.test[127.0.0.1] refused to talk to me: "
			    "554 5.7.1 go away");
	run_teardown(&r);
	run_setup(&r, "smtp_skip_5xx_greeting = no");
	r.srv->greeting = "554 5.7.1 go away";
	deliver(&r, "one.test", msg, rc, 1, false);
	assert_int_equal(r.result[0], QDEST_BOUNCED);
	assert_string_equal(r.dsn[0], "5.7.1");
	run_teardown(&r);
}

static void test_size_limit(void **state)
{
	struct run r;
	struct smtpc_rcpt rc[1] = { { "bob@one.test", NULL, 0 } };

	(void)state;
	run_setup(&r, NULL);
	r.srv->ehlo = "250-mx.test\r\n250 SIZE 10";
	deliver(&r, "one.test", msg, rc, 1, false);
	assert_int_equal(r.result[0], QDEST_BOUNCED);
	assert_string_equal(r.dsn[0], "5.3.4");
	assert_string_equal(r.text[0], "message size 22 exceeds size limit 10 of server "
			    "mx.one.test[127.0.0.1]");
	assert_null(strstr(r.srv->log.data, "MAIL FROM"));
	run_teardown(&r);
}

static void test_helo_fallback_and_dot_stuffing(void **state)
{
	static const char content[] = "Subject: dots\r\n\r\n.leading dot\r\n..two\r\nbare\nlf\r\n.\r\nend";
	static const char wire[] = "Subject: dots\r\n\r\n..leading dot\r\n...two\r\nbare\r\nlf\r\n..\r\nend\r\n";
	struct run r;
	struct smtpc_rcpt rc[1] = { { "bob@one.test", NULL, 0 } };

	(void)state;
	run_setup(&r, NULL);
	r.srv->ehlo = NULL;   /* EHLO refused: HELO */
	deliver(&r, "one.test", content, rc, 1, false);
	assert_int_equal(r.result[0], QDEST_SENT);
	assert_non_null(strstr(r.srv->log.data, "C: HELO client.example\n"));
	/* no SIZE without EHLO */
	assert_non_null(strstr(r.srv->log.data, "C: MAIL FROM:<alice@client.example>\n"));
	assert_string_equal(r.srv->body.data, wire);
	run_teardown(&r);
}

static void test_line_folding(void **state)
{
	struct run r;
	struct smtpc_rcpt rc[1] = { { "bob@one.test", NULL, 0 } };

	(void)state;
	run_setup(&r, "smtp_line_length_limit = 10");
	deliver(&r, "one.test", "abcdefghijklmnopqrstuvwxyz\r\n", rc, 1, false);
	assert_int_equal(r.result[0], QDEST_SENT);
	assert_string_equal(r.srv->body.data, "abcdefghij\r\n klmnopqrs\r\n tuvwxyz\r\n");
	run_teardown(&r);
}

static void test_lost_connection(void **state)
{
	struct run r;
	struct smtpc_rcpt rc[1] = { { "bob@one.test", NULL, 0 } };

	(void)state;
	run_setup(&r, NULL);
	r.srv->ehlo = "250-mx.test\r\n250 8BITMIME";
	r.srv->close_on = "RCPT";
	deliver(&r, "one.test", msg, rc, 1, false);
	assert_int_equal(r.result[0], QDEST_DEFERRED);
	assert_string_equal(r.dsn[0], "4.4.2");
	assert_string_equal(r.text[0], "lost connection with mx.one.test[127.0.0.1] while sending RCPT TO");
	run_teardown(&r);
}

/* ---- next MX after a 4xx, limits, big content ---- */

static void second_server(struct run *r, struct fsrv **s2)
{
	*s2 = srv_new(r->base, "127.0.0.2", r->srv->port);
}

static void test_mail_4xx_tries_next_mx(void **state)
{
	struct run r;
	struct fsrv *s2;
	struct smtpc_rcpt rc[1] = { { "bob@three.test", NULL, 0 } };

	(void)state;
	run_setup(&r, NULL);
	second_server(&r, &s2);
	s2->mail_reply = "451 4.3.0 Error: queue file write error";
	deliver(&r, "three.test", msg, rc, 1, false);
	assert_int_equal(r.result[0], QDEST_SENT);
	expect(&r, r.relay[0], "second.three.test[127.0.0.1]:%d");
	assert_int_equal(s2->connections, 1);
	run_teardown(&r);
	srv_free(&s2);

	/* smtp_mx_session_limit = 1: the first host's reason stays */
	run_setup(&r, "smtp_mx_session_limit = 1");
	second_server(&r, &s2);
	s2->mail_reply = "451 4.3.0 Error: queue file write error";
	deliver(&r, "three.test", msg, rc, 1, false);
	assert_int_equal(r.result[0], QDEST_DEFERRED);
	assert_string_equal(r.dsn[0], "4.3.0");
	assert_string_equal(r.text[0], "host first.three.test[127.0.0.2] said: 451 4.3.0 Error: queue "
			    "file write error (in reply to MAIL FROM command)");
	assert_int_equal(r.srv->connections, 0);
	run_teardown(&r);
	srv_free(&s2);
}

static void test_all_rcpt_4xx_tries_next_mx(void **state)
{
	struct run r;
	struct fsrv *s2;
	struct smtpc_rcpt rc[2] = { { "soft1@three.test", NULL, 0 }, { "soft2@three.test", NULL, 0 } };

	(void)state;
	run_setup(&r, NULL);
	second_server(&r, &s2);
	s2->rcpt_reply = rcpt_script;
	deliver(&r, "three.test", msg, rc, 2, false);
	assert_int_equal(r.result[0], QDEST_SENT);
	assert_int_equal(r.result[1], QDEST_SENT);
	expect(&r, r.relay[1], "second.three.test[127.0.0.1]:%d");
	run_teardown(&r);
	srv_free(&s2);
}

static void test_many_recipients_and_big_message(void **state)
{
	enum { N = 250 };
	struct run r;
	struct smtpc_rcpt rc[N];
	char addrs[N][32];
	struct strbuf content;
	size_t i;

	(void)state;
	for (i = 0; i < N; i++) {
		snprintf(addrs[i], sizeof(addrs[i]), "user%zu@one.test", i);
		rc[i].addr = addrs[i];
		rc[i].orcpt = NULL;
		rc[i].notify = 0;
	}
	strbuf_init(&content, 0);
	strbuf_puts(&content, "Subject: big\r\n\r\n");
	for (i = 0; i < 40000; i++)
		strbuf_printf(&content, "%s%06zu line of the big message body, to be streamed\r\n",
			      i % 7 == 0 ? "." : "", i);
	run_setup(&r, NULL);
	deliver(&r, "one.test", content.data, rc, N, false);
	assert_int_equal(r.n, N);
	assert_int_equal(r.result[0], QDEST_SENT);
	assert_int_equal(r.result[3], QDEST_SENT);
	assert_true(r.srv->pipelined);
	/* every line arrived, dot-stuffed lines un-stuffed by nobody: the
	 * server stores what it received, so compare lengths */
	assert_int_equal(r.srv->body.len, content.len + 40000 / 7 + 1);
	strbuf_free(&content);
	run_teardown(&r);
}

static void test_equal_preference_random(void **state)
{
	struct run r;
	struct smtpc_rcpt rc[1] = { { "bob@eq.test", NULL, 0 } };
	int sent = 0, deferred = 0, i;

	(void)state;
	/* only the first address is tried: which one it is must vary */
	run_setup(&r, "smtp_mx_address_limit = 1");
	for (i = 0; i < 30; i++) {
		r.done = false;
		deliver(&r, "eq.test", msg, rc, 1, false);
		close(r.fd);
		r.fd = -1;
		if (r.result[0] == QDEST_SENT)
			sent++;
		else
			deferred++;
	}
	assert_true(sent > 0);
	assert_true(deferred > 0);
	run_teardown(&r);
}

static void test_end_of_data_4xx(void **state)
{
	struct run r;
	struct smtpc_rcpt rc[1] = { { "bob@one.test", NULL, 0 } };

	(void)state;
	run_setup(&r, NULL);
	r.srv->data_reply = "451 4.3.0 Error: queue file write error";
	deliver(&r, "one.test", msg, rc, 1, false);
	assert_int_equal(r.result[0], QDEST_DEFERRED);
	assert_string_equal(r.dsn[0], "4.3.0");
	assert_string_equal(r.text[0], "host mx.one.test[127.0.0.1] said: 451 4.3.0 Error: queue file "
			    "write error (in reply to end of DATA command)");
	assert_string_equal(r.diag[0], "smtp; 451 4.3.0 Error: queue file write error");
	run_teardown(&r);
}

static void test_huge_greeting(void **state)
{
	struct run r;
	struct smtpc_rcpt rc[1] = { { "bob@one.test", NULL, 0 } };
	struct strbuf g;
	int i;

	(void)state;
	strbuf_init(&g, 0);
	for (i = 0; i < 3000; i++)
		strbuf_puts(&g, "220-a greeting that never ends, as a hostile server sends it\r\n");
	strbuf_puts(&g, "220 end");
	run_setup(&r, NULL);
	r.srv->greeting = g.data;
	deliver(&r, "one.test", msg, rc, 1, false);
	assert_int_equal(r.result[0], QDEST_DEFERRED);
	assert_true(strncmp(r.text[0], "conversation with mx.one.test[127.0.0.1] failed while receiving "
			    "the initial server greeting: reply longer than smtp_reply_limit", 120) == 0);
	run_teardown(&r);
	strbuf_free(&g);
}

static void test_bad_addresses_never_sent(void **state)
{
	struct run r;
	struct smtpc_rcpt rc[2] = { { "evil@one.test>\r\nRCPT TO:<x@y", NULL, 0 },
				    { "bob@one.test", NULL, 0 } };

	(void)state;
	run_setup(&r, NULL);
	deliver(&r, "one.test", msg, rc, 2, false);
	assert_int_equal(r.result[0], QDEST_BOUNCED);
	assert_string_equal(r.dsn[0], "5.1.3");
	assert_int_equal(r.result[1], QDEST_SENT);
	assert_null(strstr(r.srv->log.data, "evil"));
	run_teardown(&r);
}

static void cancel_done(void *ctx, const struct smtpc_result *res, size_t n)
{
	(void)ctx;
	(void)res;
	(void)n;
	fail_msg("done called after smtpc_cancel");
}

static void test_cancel_and_free_with_jobs(void **state)
{
	struct run r;
	struct smtpc_rcpt rc[1] = { { "bob@one.test", NULL, 0 } };
	struct smtpc_req req;
	struct smtpc_job *job;
	struct timeval tv = { 0, 200000 };

	(void)state;
	run_setup(&r, NULL);
	run_client(&r);
	r.srv->greeting = NULL;   /* hangs after the connect */
	memset(&req, 0, sizeof(req));
	req.nexthop = "one.test";
	req.sender = "";
	req.fd = content_fd(msg, &req.offset, &req.size);
	r.fd = req.fd;
	req.rcpts = rc;
	req.n_rcpts = 1;
	job = smtpc_deliver(r.c, &req, cancel_done, NULL);
	assert_non_null(job);
	event_base_loopexit(r.base, &tv);
	event_base_dispatch(r.base);
	smtpc_cancel(&job);
	assert_null(job);
	/* a second job left running is cancelled by smtpc_free */
	assert_non_null(smtpc_deliver(r.c, &req, cancel_done, NULL));
	run_teardown(&r);
}

static void test_check_config(void **state)
{
	static const char bad[] = "smtp_sasl_auth_enable = yes\n"
				  "smtp_sasl_password_maps = texthash:/nonexistent/sasl_passwd\n";
	struct config *cfg = config_parse("main.cf", bad, strlen(bad), NULL, NULL);
	char *error = NULL;

	(void)state;
	assert_non_null(cfg);
	assert_int_equal(smtpc_check_config(cfg, &error), -1);
	assert_non_null(error);
	assert_true(strncmp(error, "main.cf:2: smtp_sasl_password_maps: cannot open table "
			    "texthash:/nonexistent/sasl_passwd", 80) == 0);
	free(error);
	config_free(&cfg);
	cfg = config_parse("main.cf", "", 0, NULL, NULL);
	assert_int_equal(smtpc_check_config(cfg, &error), 0);
	config_free(&cfg);
}

/* ---- 8-bit downgrade ---- */

static void test_8bit_downgrade(void **state)
{
	static const char content[] =
		"MIME-Version: 1.0\r\n"
		"Content-Type: multipart/mixed; boundary=\"XX\"\r\n"
		"Content-Transfer-Encoding: 8bit\r\n"
		"\r\n"
		"preamble\r\n"
		"--XX\r\n"
		"Content-Type: text/plain; charset=utf-8\r\n"
		"Content-Transfer-Encoding: 8bit\r\n"
		"\r\n"
		"Gr\xc3\xbc\xc3\x9f" "e = gut \r\n"
		".dot\r\n"
		"--XX\r\n"
		"Content-Type: message/rfc822\r\n"
		"Content-Transfer-Encoding: 8bit\r\n"
		"\r\n"
		"Subject: inner\r\n"
		"\r\n"
		"caf\xc3\xa9\r\n"
		"--XX\r\n"
		"Content-Type: application/octet-stream\r\n"
		"Content-Transfer-Encoding: base64\r\n"
		"\r\n"
		"AAAA\r\n"
		"--XX--\r\n"
		"epilogue\r\n";
	static const char wire[] =
		"MIME-Version: 1.0\r\n"
		"Content-Type: multipart/mixed; boundary=\"XX\"\r\n"
		"Content-Transfer-Encoding: 7bit\r\n"
		"\r\n"
		"preamble\r\n"
		"--XX\r\n"
		"Content-Type: text/plain; charset=utf-8\r\n"
		"Content-Transfer-Encoding: quoted-printable\r\n"
		"\r\n"
		"Gr=C3=BC=C3=9Fe =3D gut=20\r\n"
		"..dot\r\n"
		"--XX\r\n"
		"Content-Type: message/rfc822\r\n"
		"Content-Transfer-Encoding: 7bit\r\n"
		"\r\n"
		"Subject: inner\r\n"
		"Content-Transfer-Encoding: quoted-printable\r\n"
		"\r\n"
		"caf=C3=A9\r\n"
		"--XX\r\n"
		"Content-Type: application/octet-stream\r\n"
		"Content-Transfer-Encoding: base64\r\n"
		"\r\n"
		"AAAA\r\n"
		"--XX--\r\n"
		"epilogue\r\n";
	struct run r;
	struct smtpc_rcpt rc[1] = { { "bob@one.test", NULL, 0 } };

	(void)state;
	run_setup(&r, NULL);
	r.srv->ehlo = "250-mx.test\r\n250 PIPELINING";
	deliver(&r, "one.test", content, rc, 1, true);
	assert_int_equal(r.result[0], QDEST_SENT);
	assert_null(strstr(r.srv->log.data, "BODY=8BITMIME"));
	assert_string_equal(r.srv->body.data, wire);
	run_teardown(&r);

	/* a server with 8BITMIME gets the content as it is */
	run_setup(&r, NULL);
	deliver(&r, "one.test", content, rc, 1, true);
	assert_int_equal(r.result[0], QDEST_SENT);
	assert_non_null(strstr(r.srv->log.data, "BODY=8BITMIME"));
	assert_null(strstr(r.srv->body.data, "quoted-printable"));
	run_teardown(&r);
}

static void test_8bit_downgrade_soft_breaks(void **state)
{
	struct run r;
	struct smtpc_rcpt rc[1] = { { "bob@one.test", NULL, 0 } };
	char content[400], *p;
	size_t i;

	(void)state;
	/* no MIME headers at all: the body is text, converted */
	p = content + snprintf(content, sizeof(content), "Subject: x\r\n\r\n");
	for (i = 0; i < 100; i++)
		*p++ = (char)0xe9;
	memcpy(p, "\r\n", 3);
	run_setup(&r, NULL);
	r.srv->ehlo = "250 mx.test";
	deliver(&r, "one.test", content, rc, 1, true);
	assert_int_equal(r.result[0], QDEST_SENT);
	/* 25 "=E9" per line (75 bytes) then a soft break "=": 76 */
	p = strstr(r.srv->body.data, "\r\n\r\n");
	assert_non_null(p);
	p += 4;
	for (i = 0; i < 3; i++) {
		char *eol = strstr(p, "\r\n");

		assert_non_null(eol);
		assert_int_equal(eol - p, 76);
		assert_int_equal(eol[-1], '=');
		p = eol + 2;
	}
	/* the last 25 and the hard line break */
	assert_int_equal(strlen(p), 75 + 2);
	assert_int_equal(p[74], '9');
	run_teardown(&r);
}

static void test_8bit_too_deep_bounces(void **state)
{
	struct run r;
	struct smtpc_rcpt rc[1] = { { "bob@one.test", NULL, 0 } };
	struct strbuf sb;
	int i;

	(void)state;
	strbuf_init(&sb, 0);
	for (i = 0; i < 25; i++)
		strbuf_printf(&sb, "Content-Type: multipart/mixed; boundary=b%d\r\n\r\n--b%d\r\n", i, i);
	strbuf_puts(&sb, "Content-Type: text/plain\r\n\r\n\xff\xfe\r\n");
	run_setup(&r, NULL);
	r.srv->ehlo = "250 mx.test";
	deliver(&r, "one.test", sb.data, rc, 1, true);
	assert_int_equal(r.result[0], QDEST_BOUNCED);
	assert_string_equal(r.dsn[0], "5.6.3");
	assert_string_equal(r.text[0], "8-bit content that cannot be converted to 7-bit for a server "
			    "without 8BITMIME: MIME nesting too deep");
	strbuf_free(&sb);
	run_teardown(&r);
}

/* ---- STARTTLS ---- */

static char tmpdir[64];
static char cert_path[128], key_path[128];
static SSL_CTX *server_ctx;

static int tls_setup(void **state)
{
	char *error = NULL;

	(void)state;
	str_copy(tmpdir, "/tmp/postern-test-smtpc-XXXXXX", sizeof(tmpdir));
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	snprintf(cert_path, sizeof(cert_path), "%s/cert.pem", tmpdir);
	snprintf(key_path, sizeof(key_path), "%s/key.pem", tmpdir);
	if (tls_generate_self_signed(cert_path, key_path, "mx.one.test", 30, &error) < 0) {
		fprintf(stderr, "%s\n", error);
		free(error);
		return -1;
	}
	server_ctx = tls_server_ctx_new(cert_path, key_path, NULL, "TLSv1.2", NULL, &error);
	if (server_ctx == NULL) {
		fprintf(stderr, "%s\n", error);
		free(error);
		return -1;
	}
	return 0;
}

static int tls_teardown(void **state)
{
	(void)state;
	SSL_CTX_free(server_ctx);
	unlink(cert_path);
	unlink(key_path);
	rmdir(tmpdir);
	return 0;
}

static const char tls_ehlo[] = "250-mx.test\r\n250-PIPELINING\r\n250-STARTTLS\r\n250 8BITMIME";

static void test_starttls_may(void **state)
{
	struct run r;
	struct smtpc_rcpt rc[1] = { { "bob@one.test", NULL, 0 } };

	(void)state;
	run_setup(&r, "smtp_tls_security_level = may");
	r.srv->ehlo = tls_ehlo;
	r.srv->ssl = server_ctx;
	deliver(&r, "one.test", msg, rc, 1, false);
	assert_int_equal(r.result[0], QDEST_SENT);
	assert_true(r.srv->tls_done);
	/* EHLO again after TLS (RFC 3207 4.2) */
	assert_non_null(strstr(r.srv->log.data, "C: EHLO client.example\nC: STARTTLS\nTLS\n"
				"C: EHLO client.example\nC: MAIL FROM:"));
	assert_string_equal(r.srv->body.data, msg);
	run_teardown(&r);
}

static void test_starttls_may_handshake_fails_then_plain(void **state)
{
	struct run r;
	struct smtpc_rcpt rc[1] = { { "bob@one.test", NULL, 0 } };

	(void)state;
	run_setup(&r, "smtp_tls_security_level = may");
	r.srv->ehlo = tls_ehlo;
	r.srv->ssl = server_ctx;
	r.srv->starttls_garbage = true;
	deliver(&r, "one.test", msg, rc, 1, false);
	assert_int_equal(r.result[0], QDEST_SENT);
	/* a new connection, without STARTTLS this time */
	assert_int_equal(r.srv->connections, 2);
	assert_false(r.srv->tls_done);
	run_teardown(&r);
}

static void test_starttls_encrypt_required(void **state)
{
	struct run r;
	struct smtpc_rcpt rc[1] = { { "bob@one.test", NULL, 0 } };

	(void)state;
	run_setup(&r, "smtp_tls_security_level = encrypt");
	deliver(&r, "one.test", msg, rc, 1, false);
	assert_int_equal(r.result[0], QDEST_DEFERRED);
	assert_string_equal(r.dsn[0], "4.7.4");
	assert_string_equal(r.text[0], "TLS is required, but was not offered by host mx.one.test[127.0.0.1]");
	assert_null(strstr(r.srv->log.data, "MAIL FROM"));
	run_teardown(&r);

	run_setup(&r, "smtp_tls_security_level = encrypt");
	r.srv->ehlo = tls_ehlo;
	r.srv->ssl = server_ctx;
	r.srv->starttls_garbage = true;
	deliver(&r, "one.test", msg, rc, 1, false);
	assert_int_equal(r.result[0], QDEST_DEFERRED);
	assert_string_equal(r.dsn[0], "4.7.5");
	assert_string_equal(r.text[0], "Cannot start TLS: handshake failure");
	assert_int_equal(r.srv->connections, 1);
	run_teardown(&r);

	run_setup(&r, "smtp_tls_security_level = encrypt");
	r.srv->ehlo = tls_ehlo;
	r.srv->ssl = server_ctx;
	deliver(&r, "one.test", msg, rc, 1, false);
	assert_int_equal(r.result[0], QDEST_SENT);
	assert_true(r.srv->tls_done);
	run_teardown(&r);
}

static void test_starttls_verify(void **state)
{
	struct run r;
	struct smtpc_rcpt rc[1] = { { "bob@one.test", NULL, 0 }, };
	char conf[512];

	(void)state;
	/* the certificate names mx.one.test and is its own CA */
	snprintf(conf, sizeof(conf), "smtp_tls_security_level = verify\nsmtp_tls_CAfile = %s", cert_path);
	run_setup(&r, conf);
	r.srv->ehlo = tls_ehlo;
	r.srv->ssl = server_ctx;
	deliver(&r, "one.test", msg, rc, 1, false);
	assert_int_equal(r.result[0], QDEST_SENT);
	run_teardown(&r);

	/* the same certificate for another name does not verify */
	run_setup(&r, conf);
	r.srv->ehlo = tls_ehlo;
	r.srv->ssl = server_ctx;
	deliver(&r, "nomx.test", msg, rc, 1, false);
	assert_int_equal(r.result[0], QDEST_DEFERRED);
	assert_string_equal(r.dsn[0], "4.7.5");
	assert_string_equal(r.text[0], "Server certificate not verified");
	run_teardown(&r);
}

/* ---- AUTH ---- */

static void test_auth_plain_to_relay(void **state)
{
	struct run r;
	struct smtpc_rcpt rc[1] = { { "bob@far.test", NULL, 0 } };
	char nexthop[64];

	(void)state;
	/* the key is the nexthop as written: [host]:port */
	run_setup(&r, "smtp_sasl_auth_enable = yes\n"
		  "smtp_sasl_security_options = noanonymous\n"
		  "smtp_sasl_password_maps = inline:{ {[relay.test]:%PORT% = user:secret} }\n");
	r.srv->ehlo = "250-mx.test\r\n250-PIPELINING\r\n250 AUTH LOGIN PLAIN";
	r.srv->auth_ok = "AUTH PLAIN AHVzZXIAc2VjcmV0|";
	snprintf(nexthop, sizeof(nexthop), "[relay.test]:%d", r.srv->port);
	deliver(&r, nexthop, msg, rc, 1, false);
	assert_int_equal(r.result[0], QDEST_SENT);
	assert_non_null(strstr(r.srv->log.data, "C: AUTH PLAIN AHVzZXIAc2VjcmV0\nC: MAIL FROM:"));
	run_teardown(&r);
}

static void test_auth_login_and_failures(void **state)
{
	struct run r;
	struct smtpc_rcpt rc[1] = { { "bob@far.test", NULL, 0 } };

	(void)state;
	/* found by the host name (relay.test) */
	run_setup(&r, "smtp_sasl_auth_enable = yes\nsmtp_sasl_security_options = noanonymous\n"
		  "smtp_sasl_password_maps = inline:{ relay.test=user:secret }");
	r.srv->ehlo = "250-mx.test\r\n250 AUTH LOGIN";
	r.srv->auth_ok = "AUTH LOGIN|dXNlcg==|c2VjcmV0|";
	deliver(&r, "[relay.test]", msg, rc, 1, false);
	assert_int_equal(r.result[0], QDEST_SENT);
	run_teardown(&r);

	/* a wrong password: deferred (smtp_sasl_auth_soft_bounce) */
	run_setup(&r, "smtp_sasl_auth_enable = yes\nsmtp_sasl_security_options = noanonymous\n"
		  "smtp_sasl_password_maps = inline:{ relay.test=user:wrong }");
	r.srv->ehlo = "250-mx.test\r\n250 AUTH PLAIN";
	r.srv->auth_ok = "AUTH PLAIN AHVzZXIAc2VjcmV0|";
	deliver(&r, "[relay.test]", msg, rc, 1, false);
	assert_int_equal(r.result[0], QDEST_DEFERRED);
	assert_string_equal(r.dsn[0], "4.7.8");
	assert_string_equal(r.text[0], "SASL authentication failed; server relay.test[127.0.0.1] said: "
			    "535 5.7.8 Error: authentication failed: bad");
	run_teardown(&r);

	/* noplaintext (the default) without TLS: no mechanism */
	run_setup(&r, "smtp_sasl_auth_enable = yes\n"
		  "smtp_sasl_password_maps = inline:{ relay.test=user:secret }");
	r.srv->ehlo = "250-mx.test\r\n250 AUTH PLAIN";
	deliver(&r, "[relay.test]", msg, rc, 1, false);
	assert_int_equal(r.result[0], QDEST_DEFERRED);
	assert_string_equal(r.text[0], "SASL authentication failed; cannot authenticate to server "
			    "relay.test[127.0.0.1]: no mechanism available");
	assert_null(strstr(r.srv->log.data, "AUTH"));
	run_teardown(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pipelined_delivery),
		cmocka_unit_test(test_per_recipient_results),
		cmocka_unit_test(test_all_rejected_no_data),
		cmocka_unit_test(test_mail_rejected),
		cmocka_unit_test(test_best_mx_down),
		cmocka_unit_test(test_all_mx_down),
		cmocka_unit_test(test_null_mx_and_nxdomain),
		cmocka_unit_test(test_no_mx_uses_address_and_relay_syntax),
		cmocka_unit_test(test_greeting_timeout),
		cmocka_unit_test(test_greeting_refused),
		cmocka_unit_test(test_size_limit),
		cmocka_unit_test(test_helo_fallback_and_dot_stuffing),
		cmocka_unit_test(test_line_folding),
		cmocka_unit_test(test_lost_connection),
		cmocka_unit_test(test_auth_plain_to_relay),
		cmocka_unit_test(test_mail_4xx_tries_next_mx),
		cmocka_unit_test(test_all_rcpt_4xx_tries_next_mx),
		cmocka_unit_test(test_many_recipients_and_big_message),
		cmocka_unit_test(test_bad_addresses_never_sent),
		cmocka_unit_test(test_end_of_data_4xx),
		cmocka_unit_test(test_huge_greeting),
		cmocka_unit_test(test_equal_preference_random),
		cmocka_unit_test(test_cancel_and_free_with_jobs),
		cmocka_unit_test(test_check_config),
		cmocka_unit_test(test_8bit_downgrade),
		cmocka_unit_test(test_8bit_downgrade_soft_breaks),
		cmocka_unit_test(test_8bit_too_deep_bounces),
		cmocka_unit_test(test_auth_login_and_failures),
	};
	const struct CMUnitTest tls_tests[] = {
		cmocka_unit_test(test_starttls_may),
		cmocka_unit_test(test_starttls_may_handshake_fails_then_plain),
		cmocka_unit_test(test_starttls_encrypt_required),
		cmocka_unit_test(test_starttls_verify),
	};
	int failed;

	/* as evloop_new() does for the roles (conn.h): a peer that closes
	 * while we write must not kill the process */
	signal(SIGPIPE, SIG_IGN);
	log_set_capture(quiet_log, NULL);
	failed = cmocka_run_group_tests(tests, NULL, NULL);
	failed += cmocka_run_group_tests(tls_tests, tls_setup, tls_teardown);
	return failed;
}
