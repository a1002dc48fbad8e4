/*
 * smtp-private.h - what the files of the SMTP server role share: the role,
 * its listeners, one session per client, the command table and the
 * helpers every command uses. Nothing outside smtp/ includes it; the
 * role's public entry is smtp/smtp-role.h.
 *
 * Structure (STYLE.md, OpenSMTPD/Dovecot): session.c owns the state enum
 * and the only function that changes it (session_set_state); commands.c is
 * the table that pairs each verb with its handler; cmd-<verb>.c holds one
 * command each; message.c streams DATA/BDAT content into the queue file;
 * queue-file.c writes it; received.c makes the Received: header.
 */
#ifndef POSTERN_SMTP_PRIVATE_H
#define POSTERN_SMTP_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "auth/auth-link.h"
#include "service.h"
#include "smtp/address.h"
#include "smtp/content-checks.h"
#include "smtp/queue-file.h"
#include "smtp/restrict.h"
#include "smtp/smtp-params.h"
#include "util.h"

struct conn;
struct event;
struct event_base;
struct server;
struct config;
struct config_listener;
struct auth_client;
struct smtp_session;

/* Replies and texts bounded so a reply line never exceeds RFC 5321's 512. */
#define SMTP_REPLY_MAX 512
/* Message content lines longer than this end the transaction with 500 5.5.0. */
#define SMTP_DATA_MAX_LINE 65536
/* A HELO argument is kept up to this many bytes (it goes into headers/logs). */
#define SMTP_HELO_MAX 255
/* SASL response lines (base64) may be this long (Postfix: 12288). */
#define SMTP_AUTH_LINE_MAX 12288
/* Worker threads that run queue-file commits in parallel. A commit now
 * creates, writes and fsyncs the file and waits for the group fsync of
 * active/: it blocks on the disk, not the CPU, so one thread per commit
 * in flight (20 sessions in bench/smtp-ingest) costs little and lets more
 * renames share each directory fsync. */
#define SMTP_COMMIT_THREADS 32
/* Per-address connection rate table (smtpd_client_connection_rate_limit). */
#define SMTP_RATE_SLOTS 1024

enum smtp_tls_level { SMTP_TLS_NONE, SMTP_TLS_MAY, SMTP_TLS_ENCRYPT };

/* One listener's settings, read once from its view at start. */
struct smtp_settings {
	char *banner;               /* expanded smtpd_banner */
	const char *hostname;       /* myhostname */
	const char *mail_name;
	int timeout;
	long long greet_pause;
	long long size_limit;
	long long header_limit;
	long long rcpt_limit;
	long long line_limit;
	long long error_sleep;
	long long soft_errors;
	long long hard_errors;
	long long rate_limit;
	bool helo_required;
	bool peername_lookup;
	bool vrfy_disabled;
	bool sasl_enabled;
	bool tls_auth_only;
	bool tls_received;
	enum smtp_tls_level tls_level;
	const char *const *mydestination;
	const char *queue_directory;
	const char *run_directory;
	const char *auth_socket;
	char mechs[256];            /* "PLAIN LOGIN SCRAM-SHA-256" */
};

struct smtp_rate_slot {
	char addr[64];
	long window;                /* minute number */
	long count;
};

struct smtp_listener {
	struct smtp_role *role;
	const struct config_listener *cl;
	const struct config *view;
	struct server *server;
	SSL_CTX *ssl_ctx;           /* STARTTLS or implicit; NULL: no certificate */
	bool implicit_tls;
	struct smtp_settings set;
	struct restrictions *restrictions;
	struct content_checks *content;
	struct smtp_rate_slot *rate; /* SMTP_RATE_SLOTS, NULL when no rate limit */
	struct queue_dir *qdir;     /* queue_directory's open directories, shared
	                             * with listeners that have the same one;
	                             * NULL: open by path per message */
	bool owns_qdir;
};

struct smtp_role {
	struct event_base *base;
	const struct config *cfg;
	struct smtp_listener *listeners;
	size_t n_listeners;
	struct auth_link auth;      /* the SASL client, connected lazily */
	struct worker_pool *workers; /* queue-file commits (fsync) off the loop */
	struct smtp_session *sessions;
	size_t n_sessions;
	struct service svc;         /* SIGTERM and the stop sequence */
};

enum smtp_state {
	SMTP_STATE_GREETING,   /* connected, greeting not sent (greet pause) */
	SMTP_STATE_INIT,       /* greeting sent, no HELO/EHLO yet */
	SMTP_STATE_HELO,       /* HELO/EHLO done, no transaction */
	SMTP_STATE_MAIL,       /* MAIL accepted, no recipient yet */
	SMTP_STATE_RCPT,       /* at least one recipient */
	SMTP_STATE_DATA,       /* reading DATA content */
	SMTP_STATE_BDAT,       /* between BDAT chunks (or reading one) */
	SMTP_STATE_AUTH,       /* SASL exchange: lines are responses */
	SMTP_STATE_TLS,        /* STARTTLS handshake running */
	SMTP_STATE_QUIT,       /* closing: nothing more is read */
};

/* Counters for the "disconnect from ..." line (Postfix order). */
enum smtp_counter {
	SMTP_C_EHLO, SMTP_C_HELO, SMTP_C_STARTTLS, SMTP_C_AUTH, SMTP_C_MAIL, SMTP_C_RCPT,
	SMTP_C_DATA, SMTP_C_BDAT, SMTP_C_RSET, SMTP_C_NOOP, SMTP_C_VRFY, SMTP_C_HELP,
	SMTP_C_QUIT, SMTP_C_UNKNOWN, SMTP_C_COUNT
};

struct smtp_rcpt {
	struct smtp_address addr;
	char *text;                 /* smtp_address_text() */
	char *orcpt;                /* "rfc822;x@y" as sent, or NULL */
	unsigned notify;            /* SMTP_NOTIFY_* */
};

/* What the message writer decided while content streamed in. */
struct smtp_message {
	bool headers_done;
	bool failed;                /* stop writing; reply at end */
	char fail_reply[SMTP_REPLY_MAX];
	bool too_big;
	bool line_too_long;
	bool prev_crlf;             /* the line before ended with CR LF (DATA) */
	size_t size;                /* message bytes (after unstuffing) */
	size_t header_bytes;
	struct strbuf header;       /* the logical header being collected */
	struct strbuf partial;      /* BDAT: bytes of an unfinished line */
	struct restrict_result content;  /* first REJECT/DISCARD/HOLD decision */
	bool hold, discard;
};

struct smtp_session {
	struct smtp_listener *l;
	struct conn *conn;
	enum smtp_state state;
	struct smtp_session *prev, *next;

	char addr[64];
	char name[256];             /* verified client name or "unknown" */
	char reverse_name[256];
	bool name_tempfail, reverse_name_tempfail;
	char client[400];           /* "name[addr]" for logs */
	char *helo;
	bool esmtp;
	bool tls;
	char tls_info[200];
	char *sasl_user;
	char *sasl_method;
	bool pipelining_violation;
	const char *last_cmd;       /* for "lost connection after X" */
	unsigned counts[SMTP_C_COUNT][2];   /* [ok, total] */
	unsigned errors;

	/* Transaction (MAIL .. end of data). */
	char queue_id[24];          /* "" until MAIL is accepted */
	struct smtp_address sender;
	char *sender_text;
	struct smtp_mail_params mail;
	struct smtp_rcpt *rcpts;
	size_t n_rcpts, cap_rcpts;
	size_t rcpt_rejected;
	struct queue_file *qf;
	struct smtp_message msg;
	bool bdat_seen;
	size_t bdat_left;           /* bytes of the current chunk still to come */
	bool bdat_last;

	/* Asynchronous work in progress (the conn is paused meanwhile). */
	struct restrict_req *req;
	bool check_pending;
	void (*check_done)(struct smtp_session *s, const struct restrict_result *r);
	enum restrict_stage req_stage;
	struct restrict_facts facts;   /* valid while req runs */
	struct smtp_rcpt pending_rcpt; /* RCPT being checked */
	struct smtp_address pending_sender;
	char *pending_sender_text;
	struct smtp_mail_params pending_mail;
	struct auth_link_req sasl;  /* AUTH: waiting for the auth role or the client's 334 answer */
	char auth_mech[32];
	struct dns_client_name_req *dns_req;
	void *commit_job;           /* message.c: a commit on a worker thread */
	struct event *ev_timer;     /* greet pause / error sleep */
	struct strbuf delayed;      /* a reply held back by the error sleep */
	bool delayed_close;
	char *early_line;           /* an early talker's first line */
	size_t early_len;
	bool greet_waiting;
};

/* --- session.c ---------------------------------------------------------- */
void session_accept(struct smtp_listener *l, struct conn *conn);
/* session_free_all - role exit: free every session without logging. */
void session_free_all(struct smtp_role *role);
void session_set_state(struct smtp_session *s, enum smtp_state state);
const char *session_state_name(enum smtp_state state);
/* session_reply - send one reply line (CRLF added); counts errors for
 * 4xx/5xx and applies smtpd_error_sleep_time / the hard error limit. */
void session_reply(struct smtp_session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* session_reply_raw - send text as is (multi-line replies, 334 lines). */
void session_reply_raw(struct smtp_session *s, const char *text);
void session_count(struct smtp_session *s, enum smtp_counter c, bool ok);
/* session_reset_transaction - forget MAIL/RCPT/DATA state, remove an
 * incoming queue file; keeps HELO, TLS and AUTH. */
void session_reset_transaction(struct smtp_session *s);
/* session_close - send nothing more, close after flushing (QUIT, 421). */
void session_close(struct smtp_session *s);
/* session_fill_facts - facts for the restrictions from the session state. */
void session_fill_facts(struct smtp_session *s, struct restrict_facts *f);
/* session_log_reject - Postfix's "ID: reject: CMD from client: REPLY; from=<> to=<> proto= helo=<>". */
void session_log_reject(struct smtp_session *s, const char *cmd, const char *reply, const char *rcpt);
/* session_proto - "SMTP", "ESMTP", "ESMTPS", "ESMTPA", "ESMTPSA". */
const char *session_proto(const struct smtp_session *s, char *buf, size_t size);
/* session_check - run restrict_check for stage; done runs once (maybe at
 * once); the conn is paused meanwhile. Returns false when out of memory
 * (already answered 451 4.3.0). */
bool session_check(struct smtp_session *s, enum restrict_stage stage,
		   void (*done)(struct smtp_session *s, const struct restrict_result *r));
/* session_resume - asynchronous work finished: read the next command. */
void session_resume(struct smtp_session *s);
bool session_tls_required(struct smtp_session *s);

/* --- commands.c --------------------------------------------------------- */
typedef void smtp_cmd_fn(struct smtp_session *s, char *args, size_t len);
struct smtp_command {
	const char *name;
	smtp_cmd_fn *fn;
	enum smtp_counter counter;
	bool last_in_group;   /* RFC 2920 3.1: must be last in a pipelined group */
};
const struct smtp_command *smtp_command_find(const char *verb, size_t len);

smtp_cmd_fn smtp_cmd_helo, smtp_cmd_ehlo, smtp_cmd_mail, smtp_cmd_rcpt, smtp_cmd_data, smtp_cmd_bdat, smtp_cmd_rset,
	smtp_cmd_noop, smtp_cmd_quit, smtp_cmd_vrfy, smtp_cmd_help, smtp_cmd_auth, smtp_cmd_starttls;

/* cmd-helo.c: HELO and EHLO. */
void smtp_cmd_helo_common(struct smtp_session *s, char *args, size_t len, bool esmtp);
/* cmd-auth.c: a response line during the SASL exchange. */
void smtp_cmd_auth_response(struct smtp_session *s, char *line, size_t len);
void smtp_cmd_auth_cancel(struct smtp_session *s);
/* cmd-data.c: a content line in DATA. */
void smtp_cmd_data_line(struct smtp_session *s, const char *line, size_t len);
/* cmd-bdat.c: end a transaction with a queued reply or an error. */
void smtp_cmd_bdat_cancel(struct smtp_session *s);

/* --- message.c ---------------------------------------------------------- */
/* message_begin - create the queue file content: envelope and Received:.
 * Returns 0, or -1 after replying 451 4.3.0. */
int message_begin(struct smtp_session *s);
/* message_line - one content line (without line end, dots unstuffed). */
void message_line(struct smtp_session *s, const char *line, size_t len);
/* message_bytes - BDAT content as it comes. */
void message_bytes(struct smtp_session *s, const char *data, size_t len);
/* message_finish - end of data: checks, commit, final reply, reset. */
void message_finish(struct smtp_session *s);
void message_free(struct smtp_message *m);
/* message_commit_detach - the session ends while its commit runs: the
 * commit finishes (and is logged) without it. */
void message_commit_detach(struct smtp_session *s);

/* --- received.c --------------------------------------------------------- */
/* received_header - the Received: header (CRLF line ends, folded), new
 * memory or NULL when out of memory. */
char *received_header(const struct smtp_session *s, time_t now);

/* --- smtp-role.c -------------------------------------------------------- */
/* smtp_role_session_gone - a session was freed (ends a stopping role's
 * loop with the last one). */
void smtp_role_session_gone(struct smtp_role *role);

#endif
