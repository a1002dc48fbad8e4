/*
 * pop3-private.h - what the files of the POP3 role share: the role, its
 * listeners, one session per client, the command table and the helpers
 * every command uses. Nothing outside pop3/ includes it; the public entry
 * is pop3/pop3-role.h, the pure parser pop3/pop3-parse.h.
 *
 * Structure (STYLE.md): session.c owns the state enum and the only
 * function that changes it (pop3_session_set_state) and dispatches lines
 * through the table in commands.c, which says for each keyword the
 * states it is allowed in; cmd-*.c hold one command group each;
 * login.c turns a successful SASL exchange into an open maildrop
 * (userdb, store, lock, snapshot); maildrop.c is the snapshot, the
 * session lock and the UPDATE state; retr.c streams RETR/TOP.
 *
 * RFC 1939 (states, commands), RFC 2449 (CAPA, response codes), RFC 2595
 * (STLS), RFC 5034 (AUTH), RFC 3206 (SYS/TEMP, SYS/PERM, AUTH).
 */
#ifndef POSTERN_POP3_PRIVATE_H
#define POSTERN_POP3_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <openssl/ssl.h>

#include "auth/auth-link.h"
#include "pop3/pop3-parse.h"
#include "service.h"
#include "store/store.h"

struct conn;
struct event;
struct event_base;
struct server;
struct config;
struct config_listener;
struct auth_client;

/* Longest reply line we build. */
#define POP3_REPLY_MAX 512
/* SASL response lines (base64) may be this long (AUTH is exempt from the
 * 255-octet limit, RFC 5034 4); also the conn's line maximum. */
#define POP3_AUTH_LINE_MAX 12288
/* A session making this many errors in a row is disconnected (Dovecot: 20). */
#define POP3_MAX_BAD_COMMANDS 20
/* RETR/TOP: read this much of the file at a time, and keep at most
 * POP3_STREAM_HIGH bytes queued on the conn before waiting for on_drained. */
#define POP3_STREAM_CHUNK (64 * 1024)
#define POP3_STREAM_HIGH (512 * 1024)
/* The session lock file in the user's index directory. */
#define POP3_LOCK_FILE "pop3.lock"

/* One listener's settings, read once from its view at start. */
struct pop3_settings {
	const char *hostname;       /* myhostname */
	int timeout;                /* pop3_client_idle_timeout */
	bool allow_plaintext;       /* pop3_allow_plaintext_auth */
	bool lock_session;          /* pop3_lock_session */
	long long login_delay;      /* pop3_login_delay, seconds */
	const char *expire;         /* pop3_expire, checked: NEVER or days */
	const char *uidl_format;    /* pop3_uidl_format, checked */
	bool uidl_names;            /* the format uses %f */
	const char *auth_socket;    /* auth_socket_path */
	const char *userdb_socket;  /* auth_userdb_socket_path */
	char mechs[256];            /* auth_mechanisms upper-cased, space separated */
};

struct pop3_listener {
	struct pop3_role *role;
	const struct config_listener *cl;
	const struct config *view;
	struct server *server;
	SSL_CTX *ssl_ctx;           /* STLS or implicit; NULL: no certificate */
	bool implicit_tls;
	struct pop3_settings set;
	struct store_settings store_set;
};

struct pop3_role {
	struct event_base *base;
	const struct config *cfg;
	struct pop3_listener *listeners;
	size_t n_listeners;
	struct auth_link auth;      /* SASL and userdb sockets, connected lazily */
	struct pop3_session *sessions;
	size_t n_sessions;
	struct service svc;         /* SIGTERM and the stop sequence */
};

enum pop3_state {
	POP3_STATE_AUTHORIZATION,   /* RFC 1939 4: before a successful login */
	POP3_STATE_SASL,            /* AUTH exchange: lines are SASL responses */
	POP3_STATE_TLS,             /* STLS handshake running */
	POP3_STATE_TRANSACTION,     /* logged in, maildrop locked */
	POP3_STATE_QUIT,            /* closing: nothing more is read */
};

/* Bits for the command table: where a command is allowed. */
#define POP3_IN_AUTH  0x01
#define POP3_IN_TRANS 0x02

/* One message of the snapshot taken at login (RFC 1939 5: numbers stay
 * valid for the whole session). */
struct pop3_msg {
	uint32_t uid;
	uint64_t size;              /* RFC822.SIZE: the octets RETR sends, unstuffed */
	bool deleted;               /* DELE'd; undone by RSET, applied at QUIT */
	bool retrieved;             /* RETR'd: \Seen is set at QUIT */
	bool seen;                  /* had \Seen at login */
	char *name;                 /* %f: the Maildir file base name, or NULL */
};

/* The maildrop of a logged-in session (maildrop.c). */
struct pop3_maildrop {
	struct store_user *user;
	struct store_mailbox *box;
	int lock_fd;                /* flock'ed session lock, -1 without */
	uint32_t uidvalidity;
	struct pop3_msg *msgs;
	uint32_t n_msgs;
	uint32_t n_deleted;
	uint64_t size;              /* all messages at login */
	uint64_t deleted_size;
	bool names_loaded;
};

/* RETR/TOP in progress (retr.c). */
struct pop3_stream {
	bool active;
	bool listing;               /* LIST/UIDL without argument, not a message */
	bool uidl;                  /* listing: UIDL lines */
	bool top;
	int fd;
	off_t offset;               /* next file position to read */
	uint64_t left;              /* message bytes still to read */
	uint32_t index;             /* 0-based message index */
	uint64_t sent;              /* bytes queued for this reply */
	struct pop3_stuffer st;
};

struct pop3_session {
	struct pop3_listener *l;
	struct conn *conn;
	enum pop3_state state;
	struct pop3_session *prev, *next;
	unsigned id;                /* for logs: session number in this process */

	char addr[64];
	char local_addr[64];
	bool tls;
	bool loopback;
	unsigned bad_commands;

	/* Login. */
	char *user_arg;             /* USER argument, waiting for PASS */
	char mech[32];              /* SASL mechanism of the running/last login */
	char *login_try;            /* the user name of the running login, for logs */
	bool via_pass;              /* the running login is USER/PASS (PLAIN inside) */
	struct auth_link_req sasl;  /* waiting for the auth role (conn paused) or
	                             * for the client's SASL response */
	unsigned userdb_id;         /* waiting for the userdb lookup */
	char *user;                 /* logged in as */
	struct event *ev_timer;     /* nothing yet: reserved for delays */

	struct pop3_maildrop drop;
	struct pop3_stream stream;

	/* Counters for the logout line (Dovecot's top=, retr=, del=). */
	unsigned top_count, retr_count;
	uint64_t top_bytes, retr_bytes;
	unsigned expunged;
	bool quit_seen;
};

/* --- session.c ---------------------------------------------------------- */
void pop3_session_accept(struct pop3_listener *l, struct conn *conn);
/* pop3_session_free_all - role exit: free every session (a dropped session
 * deletes nothing). */
void pop3_session_free_all(struct pop3_role *role);
void pop3_session_set_state(struct pop3_session *s, enum pop3_state state);
/* pop3_session_ok / pop3_session_err - "+OK text" / "-ERR text" (CRLF added). An
 * -ERR counts towards POP3_MAX_BAD_COMMANDS unless it is a login failure
 * (the auth role's penalty handles those). */
void pop3_session_ok(struct pop3_session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void pop3_session_err(struct pop3_session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* pop3_session_raw - text as is (multi-line bodies). */
void pop3_session_raw(struct pop3_session *s, const char *text);
/* pop3_session_close - close after flushing (QUIT, errors). */
void pop3_session_close(struct pop3_session *s);
/* pop3_session_resume - asynchronous work finished: read the next command. */
void pop3_session_resume(struct pop3_session *s);
/* pop3_session_plaintext_ok - whether USER/PASS and PLAIN/LOGIN may be used now. */
bool pop3_session_plaintext_ok(const struct pop3_session *s);
/* pop3_session_log_user - "pop3(user): " context for the log lines after login. */
const char *pop3_session_log_user(const struct pop3_session *s);

/* --- commands.c --------------------------------------------------------- */
typedef void pop3_cmd_fn(struct pop3_session *s, const char *args, size_t len);
struct pop3_command {
	const char *name;
	pop3_cmd_fn *fn;
	unsigned states;            /* POP3_IN_* */
};
const struct pop3_command *pop3_command_find(const char *verb);

pop3_cmd_fn pop3_cmd_capa, pop3_cmd_stls, pop3_cmd_user, pop3_cmd_pass, pop3_cmd_apop,
	pop3_cmd_auth, pop3_cmd_stat, pop3_cmd_list, pop3_cmd_uidl, pop3_cmd_retr,
	pop3_cmd_top, pop3_cmd_dele, pop3_cmd_rset, pop3_cmd_noop, pop3_cmd_quit;

/* cmd-auth.c: a client line during the SASL exchange; cancel on errors. */
void pop3_auth_response(struct pop3_session *s, const char *line, size_t len);
void pop3_auth_cancel(struct pop3_session *s);
/* pop3_mech_offered - mech is in auth_mechanisms and allowed now. */
bool pop3_mech_offered(const struct pop3_session *s, const char *mech);

/* --- login.c ------------------------------------------------------------ */
/* pop3_login_start_sasl - AUTH mech [initial] through the auth role (also used
 * by PASS with a PLAIN initial response). Pauses the conn. */
void pop3_login_start_sasl(struct pop3_session *s, const char *mech, const char *initial_b64,
		      const char *user_for_log);
/* pop3_login_failed - "-ERR [AUTH] Authentication failed." and the log line. */
void pop3_login_failed(struct pop3_session *s, const char *reason, bool temp);

/* --- maildrop.c ---------------------------------------------------------- */
/*
 * pop3_maildrop_open - open user's store (location/quota from the userdb),
 * take the session lock, check pop3_login_delay, open INBOX and take the
 * snapshot. Returns 0, or -1 with *code_r the RFC 2449/3206 response code
 * ("IN-USE", "LOGIN-DELAY", "SYS/TEMP", "SYS/PERM") and *text_r a client
 * text (static or in err).
 */
int pop3_maildrop_open(struct pop3_session *s, const char *user, const char *location,
		  uint64_t quota_bytes, struct store_error *err, const char **code_r,
		  const char **text_r);
/* pop3_maildrop_close - release the lock and the store; deletes nothing. */
void pop3_maildrop_close(struct pop3_maildrop *d);
/* pop3_maildrop_update - the UPDATE state (RFC 1939 6): set \Seen on retrieved
 * messages, expunge the deleted ones, fsync. Returns the number that
 * could not be removed (0: all well). */
unsigned pop3_maildrop_update(struct pop3_session *s);
/* pop3_maildrop_msg - the message numbered n (1-based) if it exists and is not
 * deleted; otherwise NULL after answering -ERR. */
struct pop3_msg *pop3_maildrop_msg(struct pop3_session *s, const char *arg, size_t len);
/* pop3_maildrop_uidl - the UIDL of message index i into out (POP3_UIDL_MAX+1). */
void pop3_maildrop_uidl(struct pop3_session *s, uint32_t i, char *out, size_t size);

/* --- retr.c ---------------------------------------------------------------- */
/* pop3_retr_start - stream message i (0-based) for RETR or TOP n. */
void pop3_retr_start(struct pop3_session *s, uint32_t i, bool top, uint64_t lines);
/* pop3_retr_drained - on_drained: queue more of the message. */
void pop3_retr_drained(struct pop3_session *s);
/* pop3_retr_abort - the connection went away: close the file. */
void pop3_retr_abort(struct pop3_session *s);

/* --- cmd-list.c ------------------------------------------------------------ */
/* pop3_list_more - queue the next batch of LIST/UIDL lines; true when the
 * listing is complete (terminator queued). */
bool pop3_list_more(struct pop3_session *s);

/* --- pop3-role.c -------------------------------------------------------- */
/* pop3_role_session_gone - a session was freed (ends a stopping role's
 * loop with the last one). */
void pop3_role_session_gone(struct pop3_role *role);

#endif
