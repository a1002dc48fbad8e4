/*
 * auth-server.c - Dovecot auth client protocol, server side (see
 * auth-server.h). One table maps each client command to its handler; a
 * request runs: AUTH -> mechanism steps (CONT round trips) -> penalty
 * check -> passdb chain in auth_backends order -> OK, or FAIL after the
 * failure delay.
 *
 * Called by auth-role.c (per socket connection) and tests/fuzz.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <openssl/rand.h>

#include "auth/auth-server.h"
#include "base64.h"
#include "auth/penalty.h"
#include "log.h"
#include "util.h"

struct auth_server {
	struct auth_settings set;
	struct passdb **passdbs;
	size_t n_passdbs;
	struct penalty *penalty;
	struct event_base *base;
	unsigned next_cuid;
	char cookie[33];
};

enum request_state {
	REQ_WAIT_CLIENT,   /* CONT sent, waiting for the client's CONT */
	REQ_BACKEND,       /* a passdb is verifying */
	REQ_REPLY_DELAYED, /* FAIL computed, waiting out auth_failure_delay */
};

struct auth_request {
	struct auth_server *srv;
	struct auth_server_conn *conn;   /* NULL: connection gone, free when the backend returns */
	struct auth_request *next;
	unsigned id;
	enum request_state state;
	char service[32];
	char rip[64];
	char mech_name[32];   /* as the client asked, escaped, for the log */
	bool secured;
	struct mech_request mech;
	char user[MECH_USERNAME_MAX + 64];  /* normalised authcid */
	size_t passdb_index;
	bool any_tempfail;
	bool cache_hit;       /* a backend answered from the auth cache */
	struct event *timer;
	char *delayed_reply;
};

struct auth_server_conn {
	struct auth_server *srv;
	auth_write_fn *write;
	void *io_ctx;
	unsigned cuid;
	bool got_version, got_cpid;
	struct auth_request *requests;
	size_t n_requests;
};

size_t auth_server_conn_pending(const struct auth_server_conn *conn)
{
	return conn->n_requests;
}

const char *passdb_result_name(enum passdb_result res)
{
	switch (res) {
	case PASSDB_OK: return "ok";
	case PASSDB_MISMATCH: return "password mismatch";
	case PASSDB_UNKNOWN: return "unknown user";
	case PASSDB_DISABLED: return "user disabled";
	case PASSDB_TEMPFAIL: return "temporary failure";
	}
	return "?";
}

struct auth_server *auth_server_new(const struct auth_settings *set, struct passdb *const *passdbs,
				    size_t n_passdbs, struct penalty *penalty, struct event_base *base)
{
	struct auth_server *srv = must_calloc(1, sizeof(*srv));
	unsigned char rnd[16];

	srv->set = *set;
	srv->passdbs = must_calloc(n_passdbs + 1, sizeof(*srv->passdbs));
	memcpy(srv->passdbs, passdbs, n_passdbs * sizeof(*passdbs));
	srv->n_passdbs = n_passdbs;
	srv->penalty = penalty;
	srv->base = base;
	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		memset(rnd, 0, sizeof(rnd));
	for (size_t i = 0; i < sizeof(rnd); i++)
		snprintf(srv->cookie + 2 * i, 3, "%02x", rnd[i]);
	return srv;
}

void auth_server_free(struct auth_server **srv)
{
	if (*srv == NULL)
		return;
	free((*srv)->passdbs);
	x_free(srv);
}

static void conn_printf(struct auth_server_conn *conn, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void conn_printf(struct auth_server_conn *conn, const char *fmt, ...)
{
	char buf[AUTH_LINE_MAX + 64];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(buf) - 1) {
		log_error("auth: reply too long, dropped");
		return;
	}
	buf[n++] = '\n';
	conn->write(conn->io_ctx, buf, (size_t)n);
}

struct auth_server_conn *auth_server_conn_new(struct auth_server *srv, auth_write_fn *write,
					      void *io_ctx)
{
	struct auth_server_conn *conn = calloc(1, sizeof(*conn));

	if (conn == NULL)
		return NULL;
	conn->srv = srv;
	conn->write = write;
	conn->io_ctx = io_ctx;
	conn->cuid = ++srv->next_cuid;
	conn_printf(conn, "VERSION\t1\t2");
	for (size_t i = 0; i < srv->set.n_mechs; i++)
		conn_printf(conn, "MECH\t%s%s", srv->set.mechs[i]->name,
			    srv->set.mechs[i]->plaintext ? "\tplaintext" : "");
	conn_printf(conn, "SPID\t%ld", (long)getpid());
	conn_printf(conn, "CUID\t%u", conn->cuid);
	conn_printf(conn, "COOKIE\t%s", srv->cookie);
	conn_printf(conn, "DONE");
	return conn;
}

static void request_free(struct auth_request *req)
{
	if (req->timer)
		event_free(req->timer);
	free(req->delayed_reply);
	mech_request_free(&req->mech);
	free(req);
}

/* Unlink req from its connection (if any) and free it. */
static void request_destroy(struct auth_request *req)
{
	struct auth_server_conn *conn = req->conn;

	if (conn) {
		for (struct auth_request **pp = &conn->requests; *pp; pp = &(*pp)->next)
			if (*pp == req) {
				*pp = req->next;
				conn->n_requests--;
				break;
			}
	}
	request_free(req);
}

void auth_server_conn_free(struct auth_server_conn **connp)
{
	struct auth_server_conn *conn = *connp;

	if (conn == NULL)
		return;
	while (conn->requests) {
		struct auth_request *req = conn->requests;
		conn->requests = req->next;
		req->conn = NULL;
		req->next = NULL;
		/* A backend still holds req: it is freed when the backend calls back. */
		if (req->state != REQ_BACKEND)
			request_free(req);
	}
	free(conn);
	*connp = NULL;
}

static char *escaped(const char *s, char *buf, size_t size)
{
	return str_escape(s, strlen(s), buf, size);
}

/* One line per outcome, fail2ban-friendly: fixed words, key=value pairs. */
static void log_outcome(struct auth_request *req, bool ok, const char *reason, const char *backend)
{
	char u[300];
	const char *user = req->user[0] ? req->user : (req->mech.authcid ? req->mech.authcid : "");

	escaped(user, u, sizeof(u));
	if (ok)
		log_info("login: service=%s, user=<%s>, rip=%s, mech=%s, backend=%s%s",
			 req->service, u, req->rip[0] ? req->rip : "local", req->mech_name, backend,
			 req->cache_hit ? ", cache=hit" : "");
	else
		log_info("login failed: service=%s, user=<%s>, rip=%s, mech=%s, reason=%s%s",
			 req->service, u, req->rip[0] ? req->rip : "local", req->mech_name, reason,
			 req->cache_hit ? ", cache=hit" : "");
}

static void request_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct auth_request *req = arg;

	(void)fd;
	(void)what;
	if (req->conn) {
		if (req->state == REQ_REPLY_DELAYED)
			conn_printf(req->conn, "%s", req->delayed_reply);
		else
			conn_printf(req->conn, "FAIL\t%u\treason=authentication timed out", req->id);
	}
	request_destroy(req);
}

static void request_arm_timer(struct auth_request *req, long ms)
{
	struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };

	if (req->srv->base == NULL)
		return;
	if (req->timer == NULL)
		req->timer = evtimer_new(req->srv->base, request_timer_cb, req);
	if (req->timer)
		evtimer_add(req->timer, &tv);
}

/*
 * request_fail - answer FAIL (after the failure delay unless temp or
 * protocol-level) and end the request. counts: record in the penalty.
 * The reason goes to the client as is: it must be static, tab-free text
 * that never says whether the user exists.
 */
static void request_fail(struct auth_request *req, const char *reason, bool temp, bool counts,
			 const char *log_reason)
{
	char line[512];
	char u[300];

	log_outcome(req, false, log_reason ? log_reason : reason, NULL);
	if (counts && req->srv->penalty)
		penalty_failure(req->srv->penalty, req->rip[0] ? req->rip : NULL,
				req->user[0] ? req->user : NULL, time(NULL));
	if (req->user[0])
		escaped(req->user, u, sizeof(u));
	snprintf(line, sizeof(line), "FAIL\t%u\treason=%s%s%s%s", req->id, reason,
		 req->user[0] ? "\tuser=" : "", req->user[0] ? u : "", temp ? "\ttemp" : "");
	if (req->conn == NULL) {
		request_free(req);
		return;
	}
	if (req->srv->base == NULL || req->srv->set.failure_delay_ms == 0 || temp || !counts) {
		conn_printf(req->conn, "%s", line);
		request_destroy(req);
		return;
	}
	req->delayed_reply = strdup(line);
	if (req->delayed_reply == NULL) {
		conn_printf(req->conn, "%s", line);
		request_destroy(req);
		return;
	}
	req->state = REQ_REPLY_DELAYED;
	request_arm_timer(req, req->srv->set.failure_delay_ms);
	if (req->timer == NULL) {
		conn_printf(req->conn, "%s", line);
		request_destroy(req);
	}
}

static void request_success(struct auth_request *req, const char *backend)
{
	char u[300];

	log_outcome(req, true, NULL, backend);
	if (req->srv->penalty)
		penalty_success(req->srv->penalty, req->user);
	if (req->conn == NULL) {
		request_free(req);
		return;
	}
	escaped(req->user, u, sizeof(u));
	if (req->mech.out.len > 0) {
		char *b = base64_encode(req->mech.out.data, req->mech.out.len);
		if (b == NULL) {
			request_fail(req, "out of memory", true, false, NULL);
			return;
		}
		conn_printf(req->conn, "OK\t%u\tuser=%s\tresp=%s", req->id, u, b);
		free(b);
	} else {
		conn_printf(req->conn, "OK\t%u\tuser=%s", req->id, u);
	}
	request_destroy(req);
}

bool auth_username_normalize(const struct auth_settings *set, const char *name, char *out,
			     size_t outsize)
{
	bool add_realm = set->default_realm && *set->default_realm && strchr(name, '@') == NULL;
	int n = snprintf(out, outsize, "%s%s%s", name, add_realm ? "@" : "",
			 add_realm ? set->default_realm : "");

	if (n < 0 || (size_t)n >= outsize)
		return false;
	if (set->username_lowercase)
		str_lower(out);
	return true;
}

static void passdb_next(struct auth_request *req);

static void passdb_done(void *ctx, enum passdb_result res)
{
	struct auth_request *req = ctx;
	struct passdb *db = req->srv->passdbs[req->passdb_index];

	if (db->cache_hit)
		req->cache_hit = true;
	if (req->conn == NULL && res != PASSDB_OK) {
		/* Client gone: still count the failure, answer nobody. */
		request_fail(req, "authentication failed", false, true, passdb_result_name(res));
		return;
	}
	switch (res) {
	case PASSDB_OK:
		request_success(req, db->name);
		return;
	case PASSDB_DISABLED:
		request_fail(req, "authentication failed", false, true, "user disabled");
		return;
	case PASSDB_TEMPFAIL:
		req->any_tempfail = true;
		/* fall through */
	case PASSDB_MISMATCH:
	case PASSDB_UNKNOWN:
		req->passdb_index++;
		passdb_next(req);
		return;
	}
}

static void passdb_next(struct auth_request *req)
{
	if (req->passdb_index >= req->srv->n_passdbs) {
		if (req->any_tempfail)
			request_fail(req, "temporary authentication failure, try again later", true,
				     false, "backend unavailable");
		else
			request_fail(req, "authentication failed", false, true, "password mismatch or unknown user");
		return;
	}
	struct passdb *db = req->srv->passdbs[req->passdb_index];
	req->state = REQ_BACKEND;
	db->verify(db, req->user, req->mech.password, passdb_done, req);
}

static void request_handle_step(struct auth_request *req, enum mech_status st)
{
	switch (st) {
	case MECH_CONTINUE: {
		char *b = base64_encode(req->mech.out.data, req->mech.out.len);
		if (b == NULL) {
			request_fail(req, "out of memory", true, false, NULL);
			return;
		}
		conn_printf(req->conn, "CONT\t%u\t%s", req->id, b);
		free(b);
		req->state = REQ_WAIT_CLIENT;
		request_arm_timer(req, AUTH_REQUEST_TIMEOUT * 1000L);
		return;
	}
	case MECH_FAIL:
		if (req->mech.authcid)
			(void)auth_username_normalize(&req->srv->set, req->mech.authcid, req->user,
						      sizeof(req->user));
		request_fail(req, req->mech.fail_reason, req->mech.fail_temp, !req->mech.fail_temp, NULL);
		return;
	case MECH_VERIFY:
	case MECH_SUCCESS:
		break;
	}
	if (req->timer)
		evtimer_del(req->timer);
	if (!auth_username_normalize(&req->srv->set, req->mech.authcid, req->user, sizeof(req->user))) {
		request_fail(req, "invalid user name", false, true, NULL);
		return;
	}
	if (req->srv->penalty &&
	    penalty_blocked(req->srv->penalty, req->rip[0] ? req->rip : NULL, req->user, time(NULL))) {
		request_fail(req, "too many failed logins, try again later", false, true,
			     "too many failed logins (penalty)");
		return;
	}
	if (st == MECH_SUCCESS) {
		request_success(req, "scram");
		return;
	}
	req->passdb_index = 0;
	req->any_tempfail = false;
	req->cache_hit = false;
	passdb_next(req);
}

/* SCRAM credentials from the first backend that has them. */
static int server_scram_lookup(void *ctx, const char *user, struct scram_credentials *c)
{
	struct auth_request *req = ctx;
	char norm[MECH_USERNAME_MAX + 64];
	bool temp = false;

	if (!auth_username_normalize(&req->srv->set, user, norm, sizeof(norm)))
		return 0;
	for (size_t i = 0; i < req->srv->n_passdbs; i++) {
		struct passdb *db = req->srv->passdbs[i];
		if (db->scram_lookup == NULL)
			continue;
		int r = db->scram_lookup(db, norm, c);
		if (r > 0)
			return 1;
		if (r < 0)
			temp = true;
	}
	return temp ? -1 : 0;
}

static bool parse_id(const char *s, unsigned *id_r)
{
	unsigned long v = 0;

	if (*s == '\0' || strlen(s) > 10)
		return false;
	for (const char *p = s; *p; p++) {
		if (!isdigit((unsigned char)*p))
			return false;
		v = v * 10 + (unsigned long)(*p - '0');
	}
	if (v > 0xffffffffUL)
		return false;
	*id_r = (unsigned)v;
	return true;
}

static struct auth_request *find_request(struct auth_server_conn *conn, unsigned id)
{
	for (struct auth_request *r = conn->requests; r; r = r->next)
		if (r->id == id)
			return r;
	return NULL;
}

static bool rip_is_loopback(const char *rip)
{
	unsigned char a[16];

	if (rip[0] == '\0')
		return true;   /* no rip=: a local tool on the unix socket */
	if (inet_pton(AF_INET, rip, a) == 1)
		return a[0] == 127;
	if (inet_pton(AF_INET6, rip, a) == 1) {
		static const unsigned char lo[16] = { [15] = 1 };
		static const unsigned char v4mapped[12] = { [10] = 0xff, [11] = 0xff };
		return memcmp(a, lo, 16) == 0 || (memcmp(a, v4mapped, 12) == 0 && a[12] == 127);
	}
	return false;
}

static bool plaintext_disabled(struct auth_server *srv, int lport)
{
	for (size_t i = 0; i < srv->set.n_lports; i++)
		if (srv->set.lports[i].port == lport)
			return srv->set.lports[i].disable_plaintext_auth;
	return srv->set.disable_plaintext_auth;
}

static int protocol_error(struct auth_server_conn *conn, const char *what)
{
	log_warn("auth: client connection %u: %s; disconnecting", conn->cuid, what);
	return -1;
}

static int cmd_version(struct auth_server_conn *conn, char **f, size_t n)
{
	if (conn->got_version)
		return protocol_error(conn, "VERSION sent twice");
	if (n < 3 || strcmp(f[1], "1") != 0)
		return protocol_error(conn, "unsupported protocol major version (want 1)");
	conn->got_version = true;
	return 0;
}

static int cmd_cpid(struct auth_server_conn *conn, char **f, size_t n)
{
	unsigned pid;

	if (conn->got_cpid)
		return protocol_error(conn, "CPID sent twice");
	if (n < 2 || !parse_id(f[1], &pid))
		return protocol_error(conn, "malformed CPID");
	conn->got_cpid = true;
	return 0;
}

static int cmd_auth(struct auth_server_conn *conn, char **f, size_t n)
{
	struct auth_server *srv = conn->srv;
	struct auth_request *req;
	const char *resp = NULL, *service = NULL, *rip = "";
	bool secured = false;
	int lport = 0;
	unsigned id;

	if (!conn->got_cpid)
		return protocol_error(conn, "AUTH before CPID");
	if (n < 3 || !parse_id(f[1], &id))
		return protocol_error(conn, "malformed AUTH id");
	if (find_request(conn, id))
		return protocol_error(conn, "AUTH with the id of a request in progress");
	if (conn->n_requests >= AUTH_CONN_REQUESTS_MAX)
		return protocol_error(conn, "too many requests in progress");
	for (size_t i = 3; i < n; i++) {
		if (str_has_prefix(f[i], "service="))
			service = f[i] + 8;
		else if (strcmp(f[i], "secured") == 0 || str_has_prefix(f[i], "secured="))
			secured = true;
		else if (str_has_prefix(f[i], "rip="))
			rip = f[i] + 4;
		else if (str_has_prefix(f[i], "lport="))
			lport = parse_port(f[i] + 6);
		else if (str_has_prefix(f[i], "resp="))
			resp = f[i] + 5;
		/* others (lip, rport, nologin, session, ...) are informational */
	}
	if (service == NULL || *service == '\0' || strlen(service) >= 32)
		return protocol_error(conn, "AUTH without a valid service=");
	for (const char *p = service; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_')
			return protocol_error(conn, "AUTH with a malformed service=");
	if (strlen(rip) >= 64)
		return protocol_error(conn, "AUTH with an overlong rip=");

	const struct mech_def *mech = NULL;
	for (size_t i = 0; i < srv->set.n_mechs; i++)
		if (strcasecmp(srv->set.mechs[i]->name, f[2]) == 0)
			mech = srv->set.mechs[i];
	req = calloc(1, sizeof(*req));
	if (req == NULL)
		return protocol_error(conn, "out of memory");
	req->srv = srv;
	req->conn = conn;
	req->id = id;
	str_copy(req->service, service, sizeof(req->service));
	str_copy(req->rip, rip, sizeof(req->rip));
	str_escape(f[2], strlen(f[2]), req->mech_name, sizeof(req->mech_name));
	req->secured = secured;
	req->next = conn->requests;
	conn->requests = req;
	conn->n_requests++;
	mech_request_init(&req->mech, mech ? mech : &mech_plain);
	req->mech.scram_lookup = server_scram_lookup;
	req->mech.scram_lookup_ctx = req;

	if (mech == NULL) {
		request_fail(req, "unsupported authentication mechanism", false, false, "unsupported mechanism");
		return 0;
	}
	if (mech->plaintext && !secured && !rip_is_loopback(rip) && plaintext_disabled(srv, lport)) {
		request_fail(req, "plaintext authentication disallowed on non-secure connections; use TLS (STARTTLS) first",
			     false, false, "plaintext on non-secure connection");
		return 0;
	}
	if (resp == NULL) {
		request_handle_step(req, mech_request_step(&req->mech, NULL, 0));
		return 0;
	}
	unsigned char *data;
	size_t len;
	const char *err;
	if (base64_decode(resp, strlen(resp), MECH_DATA_MAX, &data, &len, &err) < 0) {
		request_fail(req, "invalid base64 data in the response", false, true, err);
		return 0;
	}
	request_handle_step(req, mech_request_step(&req->mech, data, len));
	free(data);
	return 0;
}

static int cmd_cont(struct auth_server_conn *conn, char **f, size_t n)
{
	struct auth_request *req;
	unsigned id;

	if (!conn->got_cpid)
		return protocol_error(conn, "CONT before CPID");
	if (n < 2 || !parse_id(f[1], &id))
		return protocol_error(conn, "malformed CONT id");
	req = find_request(conn, id);
	if (req == NULL) {
		/* Timed out meanwhile, or never existed: the client learns so. */
		conn_printf(conn, "FAIL\t%u\treason=unknown or expired request id", id);
		return 0;
	}
	if (req->state != REQ_WAIT_CLIENT)
		return protocol_error(conn, "CONT for a request that is not waiting for the client");
	if (req->timer)
		evtimer_del(req->timer);
	const char *b = n >= 3 ? f[2] : "";
	unsigned char *data;
	size_t len;
	const char *err;
	if (base64_decode(b, strlen(b), MECH_DATA_MAX, &data, &len, &err) < 0) {
		request_fail(req, "invalid base64 data in the response", false, true, err);
		return 0;
	}
	request_handle_step(req, mech_request_step(&req->mech, data, len));
	free(data);
	return 0;
}

static const struct {
	const char *name;
	int (*fn)(struct auth_server_conn *conn, char **f, size_t n);
	bool needs_version;
} auth_commands[] = {
	{ "VERSION", cmd_version, false },
	{ "CPID", cmd_cpid, true },
	{ "AUTH", cmd_auth, true },
	{ "CONT", cmd_cont, true },
};

int auth_server_conn_line(struct auth_server_conn *conn, const char *line, size_t len)
{
	char buf[AUTH_LINE_MAX + 1];
	char *f[AUTH_FIELDS_MAX];
	size_t n = 0;

	if (len > 0 && line[len - 1] == '\r')
		len--;
	if (len > AUTH_LINE_MAX)
		return protocol_error(conn, "line too long");
	if (memchr(line, '\0', len))
		return protocol_error(conn, "NUL byte in a line");
	memcpy(buf, line, len);
	buf[len] = '\0';
	f[n++] = buf;
	for (char *p = buf; *p; p++) {
		if (*p != '\t')
			continue;
		if (n >= AUTH_FIELDS_MAX)
			return protocol_error(conn, "too many fields in a line");
		*p = '\0';
		f[n++] = p + 1;
	}
	for (size_t i = 0; i < sizeof(auth_commands) / sizeof(auth_commands[0]); i++) {
		if (strcmp(f[0], auth_commands[i].name) != 0)
			continue;
		if (auth_commands[i].needs_version && !conn->got_version)
			return protocol_error(conn, "command before VERSION");
		return auth_commands[i].fn(conn, f, n);
	}
	char esc[64];
	str_escape(f[0], strlen(f[0]), esc, sizeof(esc));
	log_warn("auth: client connection %u: unknown command \"%s\"; disconnecting", conn->cuid, esc);
	return -1;
}
