/*
 * auth-server.h - the server side of the Dovecot auth client protocol
 * (version 1.2, as Dovecot documents it in "Authentication Protocol"),
 * independent of the transport: auth-role.c feeds it lines read from the
 * unix socket and gives it a write function; the fuzz harness and unit
 * tests feed it bytes directly.
 *
 * Server greeting: VERSION 1 2, one MECH per offered mechanism (with
 * "plaintext" where it applies), SPID, CUID, COOKIE, DONE.
 * Client: VERSION 1 x (major 1 required, first), CPID (once, before any
 * AUTH), AUTH id mech service=S [secured] [rip=] [lip=] [lport=] [resp=],
 * CONT id base64. Server: CONT id base64, OK id user=U [resp=],
 * FAIL id reason=R [user=U] [temp].
 *
 * Protocol errors (unknown command, missing VERSION/CPID, bad or
 * duplicate id, CONT for a request that is not waiting, NUL bytes, too
 * many fields or requests) close the connection, as Dovecot does;
 * problems of one authentication get a FAIL with a reason and the
 * connection stays. Failed logins are answered after auth_failure_delay
 * by a timer, never by sleeping.
 */
#ifndef POSTERN_AUTH_SERVER_H
#define POSTERN_AUTH_SERVER_H

#include <stdbool.h>
#include <stddef.h>

#include "auth/mech.h"

struct auth_cache;
struct event_base;
struct penalty;

#define AUTH_LINE_MAX 8192          /* longest protocol line, without LF */
#define AUTH_FIELDS_MAX 32          /* tab-separated fields per line */
#define AUTH_CONN_REQUESTS_MAX 64   /* requests in progress per connection */
#define AUTH_REQUEST_TIMEOUT 120    /* seconds a request may wait for CONT */

enum passdb_result {
	PASSDB_OK,        /* password right: authenticated */
	PASSDB_MISMATCH,  /* user known to this backend, password wrong */
	PASSDB_UNKNOWN,   /* no such user in this backend: try the next */
	PASSDB_DISABLED,  /* user disabled: fail, do not try other backends */
	PASSDB_TEMPFAIL,  /* backend unavailable: try the next, fail as temporary */
};
const char *passdb_result_name(enum passdb_result res);

typedef void passdb_done_fn(void *ctx, enum passdb_result res);

/* A password backend (passdb-virtual.c, passdb-pam.c, test stubs). */
struct passdb {
	const char *name;
	/* verify - check password for user; done(ctx, result) is called exactly
	 * once, possibly before verify returns. */
	void (*verify)(struct passdb *db, const char *user, const char *password,
		       passdb_done_fn *done, void *ctx);
	/* scram_lookup - mech_scram_lookup_fn for this backend; NULL: none. */
	int (*scram_lookup)(struct passdb *db, const char *user, struct scram_credentials *c);
	void *ctx;
	/* cache - the authentication cache (auth-cache.h), borrowed; NULL:
	 * none. Set by auth-role.c after construction. */
	struct auth_cache *cache;
	/* cache_hit - set by the backend just before each done(): true when
	 * the result came from the cache (auth-server.c logs it). */
	bool cache_hit;
};

struct auth_lport_setting {
	int port;
	bool disable_plaintext_auth;
};

struct auth_settings {
	const struct mech_def *mechs[8];  /* offered, in order */
	size_t n_mechs;
	bool disable_plaintext_auth;
	/* Per-listener overrides, matched on the AUTH line's lport=. */
	const struct auth_lport_setting *lports;
	size_t n_lports;
	long failure_delay_ms;
	bool username_lowercase;
	const char *default_realm;        /* "" for none */
};

struct auth_server;
struct auth_server_conn;

/* auth_server_new - settings are copied (strings must outlive the
 * server); passdbs and penalty are borrowed. base may be NULL (fuzzing):
 * then failures are answered at once and requests never time out. */
struct auth_server *auth_server_new(const struct auth_settings *set, struct passdb *const *passdbs,
				    size_t n_passdbs, struct penalty *penalty, struct event_base *base);
void auth_server_free(struct auth_server **srv);

typedef void auth_write_fn(void *io_ctx, const char *data, size_t len);

/* auth_server_conn_new - a new client connection; the greeting is written
 * at once through write. NULL when out of memory. */
struct auth_server_conn *auth_server_conn_new(struct auth_server *srv, auth_write_fn *write,
					      void *io_ctx);

/* auth_server_conn_line - handle one line (without its LF; a CR before it
 * is tolerated). 0: go on; -1: protocol error, already logged: flush and
 * close the connection. */
int auth_server_conn_line(struct auth_server_conn *conn, const char *line, size_t len);

/* auth_server_conn_pending - requests of conn not answered yet (waiting
 * for a backend, the failure delay, or the client's next CONT). */
size_t auth_server_conn_pending(const struct auth_server_conn *conn);

/* auth_server_conn_free - the connection is gone: requests waiting for a
 * backend finish silently, the others are dropped. Sets *conn to NULL. */
void auth_server_conn_free(struct auth_server_conn **conn);

/* auth_username_normalize - apply auth_username_format and
 * auth_default_realm to name into out. false if the result does not fit. */
bool auth_username_normalize(const struct auth_settings *set, const char *name, char *out,
			     size_t outsize);

#endif
