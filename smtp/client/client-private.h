/*
 * client-private.h - the inside of the SMTP client (smtp/client/): shared
 * by client.c (jobs, the next-host loop, results), hosts.c (nexthop
 * syntax, MX and address look-ups), session.c (one SMTP conversation),
 * data.c (the content encoder), auth.c (client SASL) and reply.c. Nothing
 * outside smtp/client/ includes it; the public contract is smtp-client.h.
 */
#ifndef POSTERN_SMTP_CLIENT_PRIVATE_H
#define POSTERN_SMTP_CLIENT_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <openssl/ssl.h>

#include "smtp/client/smtp-client.h"
#include "util.h"

/* Longest reply line we accept (without CR LF): RFC 5321 4.5.3.1.5 says
 * 512; real servers send longer ones; 4096 bounds a hostile one. */
#define SMTPC_REPLY_LINE_MAX 4096

struct event;
struct map;
struct conn;

enum smtpc_tls_level { SMTPC_TLS_NONE, SMTPC_TLS_MAY, SMTPC_TLS_ENCRYPT, SMTPC_TLS_VERIFY,
		       SMTPC_TLS_SECURE };

/* The settings, read once from the configuration by smtpc_new. */
struct smtpc_settings {
	char *helo_name;
	int tcp_port;
	char *bind4, *bind6;
	int addr_pref;              /* 0 any, 4 ipv4, 6 ipv6 */
	int mx_address_limit, mx_session_limit;
	bool skip_5xx_greeting;
	int connect_timeout, helo_timeout, starttls_timeout, mail_timeout, rcpt_timeout;
	int data_init_timeout, data_xfer_timeout, data_done_timeout, quit_timeout;
	enum smtpc_tls_level tls_level;
	bool sasl_enable;
	bool sasl_noplaintext, sasl_tls_noplaintext;
	int tls_loglevel;
	int line_length_limit;
	size_t reply_limit;
	int recipient_limit;
};

struct smtpc {
	struct event_base *base;
	struct dns *dns;
	struct smtpc_settings set;
	SSL_CTX *tls_ctx;           /* may/encrypt: no verification */
	SSL_CTX *tls_verify_ctx;    /* verify/secure: CA file, peer verified */
	struct map **sasl_maps;     /* smtp_sasl_password_maps, NULL-terminated */
	struct smtpc_job *jobs;     /* every job in progress */
	struct smtpc_closing *closing; /* conns sending their QUIT */
};

/* One address to try. */
struct smtpc_host {
	char *name;                 /* MX host name, or the address for [addr] */
	char *addr;                 /* numeric */
	int port;
};

/* A failure that is not one recipient's: what every recipient still open
 * gets if nothing better comes (the "last host's reason"). */
struct smtpc_why {
	enum qdest_state state;     /* BOUNCED or DEFERRED */
	char dsn[12];
	char *relay;                /* "none" or "host[addr]:port" */
	char *diag;                 /* "" or "smtp; 550 ..." */
	char *text;
};

/* smtpc_why_set - replace w's contents (texts are copied); -1 when out of
 * memory (w keeps a fallback text). */
int smtpc_why_set(struct smtpc_why *w, enum qdest_state state, const char *dsn,
		  const char *relay, const char *diag, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));
void smtpc_why_clear(struct smtpc_why *w);

/* Per-recipient progress within a job. */
struct smtpc_rstate {
	bool final;                 /* SENT or BOUNCED: never tried again */
	bool have;                  /* why holds a result from the latest session */
	struct smtpc_why why;
};

struct smtpc_job {
	struct smtpc *c;
	struct smtpc_job *next, **prevp;
	/* the request, copied */
	char *nexthop, *sender, *envid, *ret;
	bool body_8bit, smtputf8;
	int fd;
	off_t offset, size;
	struct smtpc_rcpt *rcpts;
	struct smtpc_rstate *rs;
	size_t n_rcpts;
	smtpc_done_fn *done;
	void *ctx;
	/* where we are */
	struct smtpc_hosts_req *hreq;
	struct smtpc_host *hosts;
	size_t n_hosts, next_host;
	int sessions;               /* sessions that got a greeting */
	bool tls_fallback;          /* "may": the current host again without STARTTLS */
	struct smtpc_session *sess;
	struct smtpc_why last;      /* the last host-level reason */
	struct event *ev_done;      /* done runs from the loop */
	char *sasl_user, *sasl_pass;
};

/* ---- reply.c ---- */
size_t smtpc_enhanced_code(const char *text, int reply_code, char dsn[12]);
/* smtpc_reply_pending - part of a reply has arrived but not all of it. */
bool smtpc_reply_pending(const struct smtpc_reply_parser *p);

/* ---- hosts.c ---- */
struct smtpc_nexthop {
	char *host;                 /* without brackets */
	int port;                   /* 0: smtp_tcp_port */
	bool no_mx;                 /* [host]: no MX look-up */
	bool numeric;               /* [192.0.2.1] or [IPv6:...]: no look-up at all */
};
/* smtpc_nexthop_parse - "example.com", "example.com:587", "[host]",
 * "[host]:port", "[192.0.2.1]", "[IPv6:2001:db8::1]:25". 0, or -1 with
 * *error_r (static). n->host is new memory (free it). */
int smtpc_nexthop_parse(const char *nexthop, struct smtpc_nexthop *n, const char **error_r);

/* Found: hosts (n >= 1; ownership passes to the callee, free with
 * smtpc_hosts_free). Failed: hosts NULL, why filled (valid during the call). */
typedef void smtpc_hosts_cb(void *ctx, struct smtpc_host *hosts, size_t n,
			    const struct smtpc_why *why);
struct smtpc_hosts_req;
/* smtpc_hosts_find - look up where nexthop's mail goes; cb always runs
 * from the loop. NULL when out of memory (cb not called). */
struct smtpc_hosts_req *smtpc_hosts_find(struct smtpc *c, const char *nexthop,
					 smtpc_hosts_cb *cb, void *ctx);
void smtpc_hosts_cancel(struct smtpc_hosts_req **req);
void smtpc_hosts_free(struct smtpc_host *hosts, size_t n);

/* ---- session.c ---- */
/* How a session ended, for client.c's next-host decision. */
enum smtpc_sess_end {
	SMTPC_END_DONE,         /* every recipient has its result for this host */
	SMTPC_END_NEXT,         /* host-level failure: try the next host (job->last set) */
	SMTPC_END_NEXT_PLAIN,   /* "may": TLS failed; this host again without TLS */
	SMTPC_END_FINAL,        /* host-level failure that ends the job (job->last set) */
};
struct smtpc_session;
/* smtpc_session_start - connect to h and run the conversation for every
 * recipient of job not final; job->rs get results; client.c's
 * smtpc_session_ended is called from the loop when it is over (greeted:
 * whether a greeting was received). NULL when out of memory. */
struct smtpc_session *smtpc_session_start(struct smtpc_job *job, const struct smtpc_host *h,
					  bool no_tls);
void smtpc_session_free(struct smtpc_session **s);
/* smtpc_session_abort - drop the connection now, no QUIT (smtpc_cancel). */
void smtpc_session_abort(struct smtpc_session *s);
void smtpc_session_ended(struct smtpc_job *job, enum smtpc_sess_end end, bool greeted);

/* ---- data.c: the content encoder ---- */
struct smtpc_data;
/* smtpc_data_new - read fd at [offset, offset+size) with pread; dot-stuff,
 * end every line with CR LF, fold lines over line_limit (0: never), and
 * when downgrade is set convert 8-bit MIME parts to quoted-printable. */
struct smtpc_data *smtpc_data_new(int fd, off_t offset, off_t size, int line_limit, bool downgrade);
void smtpc_data_free(struct smtpc_data **d);
/* smtpc_data_next - up to about max bytes of encoded output appended to
 * out. 1: more to come, 0: finished (the final ".\r\n" included), -1
 * with *error_r: read error ("4.3.0" class) or, *bounce_r set, content
 * that cannot be converted (5.6.3). */
int smtpc_data_next(struct smtpc_data *d, struct strbuf *out, size_t max, bool *bounce_r,
		    const char **error_r);

/* ---- auth.c ---- */
/* smtpc_sasl_lookup - user/password for host[:port] / nexthop from
 * smtp_sasl_password_maps, in Postfix's order. 1 found (*user_r, *pass_r
 * new memory), 0 none, -1 temporary failure (*error_r static). */
int smtpc_sasl_lookup(struct smtpc *c, const char *nexthop, const char *host, int port,
		      char **user_r, char **pass_r, const char **error_r);

/* ---- client.c ---- */
/* smtpc_conn_retire - let *conn finish sending (QUIT) and close; freed
 * when it has, or by smtpc_free. *conn = NULL. */
void smtpc_conn_retire(struct smtpc *c, struct conn **conn);
/* smtpc_relay_name - "host[addr]:port" into buf. */
char *smtpc_relay_name(const struct smtpc_host *h, char *buf, size_t size);

#endif
