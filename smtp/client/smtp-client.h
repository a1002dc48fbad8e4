/*
 * smtp-client.h - the SMTP client of the queue role (Postfix's smtp(8)):
 * delivers one message to up to smtp_destination_recipient_limit
 * recipients of one nexthop, asynchronously on the role's libevent loop.
 *
 * For one delivery: find the hosts (nexthop "example.com": MX records in
 * preference order, random among equal preferences, A/AAAA of the domain
 * when it has no MX, a null MX (RFC 7505) bounces with 5.1.10;
 * "[host]" or "[host]:port": that host, no MX look-up; "host:port": MX
 * look-up, then port), try them in order (smtp_mx_address_limit,
 * smtp_mx_session_limit) - the next one on a connection failure, a 4xx
 * (or, with smtp_skip_5xx_greeting, 5xx) greeting, a lost connection or
 * a 4xx to MAIL/all recipients - then EHLO (HELO if EHLO is refused),
 * STARTTLS as smtp_tls_security_level says (CA file for verify/secure),
 * AUTH when smtp_sasl_password_maps has credentials for the nexthop
 * (PLAIN or LOGIN, never in clear text unless allowed), MAIL FROM with
 * SIZE, BODY, SMTPUTF8, RET, ENVID as the server supports them, RCPT TO
 * with NOTIFY/ORCPT when it supports DSN, pipelined when it says
 * PIPELINING (RFC 2920), DATA with dot-stuffing (8-bit content is
 * converted to quoted-printable for a server without 8BITMIME, RFC 6152
 * 3), QUIT. Every wait has its smtp_*_timeout; replies are bounded
 * (smtp_reply_limit bytes, lines of at most 4096 bytes).
 *
 * Results are per recipient, in Postfix's words so that logs, mailq and
 * bounces read as admins know them:
 *   relay "mx.example.com[192.0.2.7]:25"
 *   diag  "smtp; 550 5.1.1 <bob@example.com>: Recipient address rejected"
 *   text  "host mx.example.com[192.0.2.7] said: 550 5.1.1 <bob@...>:
 *          Recipient address rejected (in reply to RCPT TO command)"
 *         "connect to mx.example.com[192.0.2.7]:25: Connection refused"
 *         "conversation with mx.example.com[192.0.2.7] timed out while
 *          receiving the initial server greeting"
 *         "Host or domain name not found. Name service error for
 *          name=example.invalid type=MX: Host not found"
 */
#ifndef POSTERN_SMTP_CLIENT_H
#define POSTERN_SMTP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "config.h"
#include "smtp/queue/qmsg.h"

struct event_base;
struct dns;
struct smtpc;
struct smtpc_job;

/*
 * smtpc_new - a client with cfg's smtp_* settings (TLS context, password
 * tables opened). dns is the role's resolver (borrowed; lib/dns.h). NULL
 * with *error_r (new memory, "FILE:LINE: NAME: problem; fix").
 */
struct smtpc *smtpc_new(struct event_base *base, struct dns *dns, const struct config *cfg,
			char **error_r);
/* smtpc_free - cancel every job (callbacks not called), free; *c = NULL. */
void smtpc_free(struct smtpc **c);

/* smtpc_check_config - what smtpc_new checks, without an event loop. */
int smtpc_check_config(const struct config *cfg, char **error_r);

struct smtpc_rcpt {
	const char *addr;
	const char *orcpt;      /* "rfc822;bob@example.com" or NULL */
	unsigned notify;        /* QMSG_NOTIFY_* or 0 */
};

struct smtpc_req {
	const char *nexthop;    /* from resolve_route() */
	const char *sender;     /* "" for <> */
	const char *envid;      /* or NULL */
	const char *ret;        /* "FULL"/"HDRS" or NULL */
	bool body_8bit;         /* BODY=8BITMIME was given (or the content has 8-bit bytes) */
	bool smtputf8;
	int fd;                 /* the queue file; the content is read with pread */
	off_t offset;           /* content: CR LF lines */
	off_t size;
	const struct smtpc_rcpt *rcpts;
	size_t n_rcpts;
};

struct smtpc_result {           /* one per request recipient, same order */
	enum qdest_state result;    /* SENT, BOUNCED or DEFERRED */
	char dsn[12];
	const char *relay;
	const char *diag;
	const char *text;
};

/* Results and their strings are valid only during the call. The job is
 * finished when done runs (do not cancel it then). */
typedef void smtpc_done_fn(void *ctx, const struct smtpc_result *results, size_t n);

/*
 * smtpc_deliver - start a delivery; the request and its strings are
 * copied, fd is dup()ed. Returns the job, or NULL when out of memory
 * (done not called). done always runs from the event loop, never from
 * inside smtpc_deliver.
 */
struct smtpc_job *smtpc_deliver(struct smtpc *c, const struct smtpc_req *req, smtpc_done_fn *done,
				void *ctx);
/* smtpc_cancel - abort (connection closed without QUIT); done not called. */
void smtpc_cancel(struct smtpc_job **job);

/*
 * The reply parser, public for the fuzzer and the tests: feed bytes as
 * they arrive; a complete reply (all its lines, RFC 5321 4.2: "CODE-text"
 * continuation lines then "CODE text") is returned by smtpc_reply_next.
 */
struct smtpc_reply {
	int code;               /* 200..599 */
	char dsn[12];           /* enhanced status code of the first line (RFC 3463), "" if none */
	const char *text;       /* the lines' texts joined by a space, without codes */
	size_t n_lines;
	const char *const *lines; /* each line as received (without CR LF) */
};
struct smtpc_reply_parser;
struct smtpc_reply_parser *smtpc_reply_parser_new(size_t limit);
void smtpc_reply_parser_free(struct smtpc_reply_parser **p);
/*
 * smtpc_reply_feed - add len bytes. Then smtpc_reply_next returns 1 with
 * *r filled (valid until the next call) when a reply is complete, 0 when
 * more bytes are needed, -1 with *error_r (static text: "reply line is
 * not CODE SP/- text", "reply longer than smtp_reply_limit", "reply codes
 * differ between lines") on a protocol error: the caller drops the
 * connection.
 */
int smtpc_reply_feed(struct smtpc_reply_parser *p, const char *data, size_t len);
int smtpc_reply_next(struct smtpc_reply_parser *p, struct smtpc_reply *r, const char **error_r);

#endif
