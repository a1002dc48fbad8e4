/*
 * client.c - the SMTP client's public side (smtp-client.h): settings and
 * TLS contexts (smtpc_new), deliveries (smtpc_deliver / smtpc_cancel),
 * the next-host loop and the per-recipient results.
 *
 * Called by the queue role for every remote delivery. One job: find the
 * hosts (hosts.c), then one session (session.c) per host until every
 * recipient has a final result or the hosts run out. Postfix smtp(8)'s
 * rules: the next host is tried after a connection failure, a 4xx (or,
 * with smtp_skip_5xx_greeting, a 5xx) greeting, a lost connection or
 * timeout, a 4xx to MAIL FROM, or when every RCPT TO got a 4xx; at most
 * smtp_mx_session_limit sessions (a session is a connection that got a
 * greeting) and smtp_mx_address_limit addresses. Recipients still open
 * at the end are DEFERRED with their own last reply from the last host,
 * or else with the last host's reason.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <fcntl.h>
#include <unistd.h>

#include <event2/event.h>
#include <openssl/err.h>

#include "config.h"
#include "conn.h"
#include "log.h"
#include "maps.h"
#include "smtp/client/client-private.h"
#include "tls.h"

struct smtpc_closing {
	struct smtpc *c;
	struct conn *conn;
	struct smtpc_closing *next, **prevp;
};

/* ---- reasons ---- */

int smtpc_why_set(struct smtpc_why *w, enum qdest_state state, const char *dsn,
		  const char *relay, const char *diag, const char *fmt, ...)
{
	char *text = NULL, *r = strdup(relay != NULL ? relay : "none"),
	     *dg = strdup(diag != NULL ? diag : "");
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&text, fmt, ap);
	va_end(ap);
	if (n < 0)
		text = NULL;
	free(w->relay);
	free(w->diag);
	free(w->text);
	w->state = state;
	str_copy(w->dsn, dsn, sizeof(w->dsn));
	w->relay = r;
	w->diag = dg;
	w->text = text;
	if (r == NULL || dg == NULL || text == NULL)
		return -1;
	return 0;
}

void smtpc_why_clear(struct smtpc_why *w)
{
	x_free(&w->relay);
	x_free(&w->diag);
	x_free(&w->text);
	w->dsn[0] = '\0';
	w->state = QDEST_PENDING;
}

char *smtpc_relay_name(const struct smtpc_host *h, char *buf, size_t size)
{
	snprintf(buf, size, "%s[%s]:%d", h->name, h->addr, h->port);
	return buf;
}

/* ---- settings ---- */

static int where_error(const struct config *cfg, const char *name, char **error_r,
		       const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int where_error(const struct config *cfg, const char *name, char **error_r,
		       const char *fmt, ...)
{
	const char *file = NULL;
	int line = config_where(cfg, name, &file);
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (line > 0)
		*error_r = must_asprintf("%s:%d: %s: %s", file, line, name, msg);
	else
		*error_r = must_asprintf("%s: %s: %s", config_path(cfg) != NULL ? config_path(cfg) : "(config)",
					 name, msg);
	return -1;
}

static bool list_has(const struct config *cfg, const char *name, const char *word)
{
	const char *const *items = config_list(cfg, name, NULL);

	for (; items != NULL && *items != NULL; items++)
		if (strcasecmp(*items, word) == 0)
			return true;
	return false;
}

static void read_settings(const struct config *cfg, struct smtpc_settings *s)
{
	const char *pref = config_str(cfg, "smtp_address_preference");
	const char *level = config_str(cfg, "smtp_tls_security_level");

	s->helo_name = (char *)config_str(cfg, "smtp_helo_name");
	s->tcp_port = (int)config_int(cfg, "smtp_tcp_port");
	s->bind4 = (char *)config_str(cfg, "smtp_bind_address");
	s->bind6 = (char *)config_str(cfg, "smtp_bind_address6");
	s->addr_pref = strcmp(pref, "ipv6") == 0 ? 6 : strcmp(pref, "ipv4") == 0 ? 4 : 0;
	s->mx_address_limit = (int)config_int(cfg, "smtp_mx_address_limit");
	s->mx_session_limit = (int)config_int(cfg, "smtp_mx_session_limit");
	s->skip_5xx_greeting = config_bool(cfg, "smtp_skip_5xx_greeting");
	s->connect_timeout = (int)config_time(cfg, "smtp_connect_timeout");
	s->helo_timeout = (int)config_time(cfg, "smtp_helo_timeout");
	s->starttls_timeout = (int)config_time(cfg, "smtp_starttls_timeout");
	s->mail_timeout = (int)config_time(cfg, "smtp_mail_timeout");
	s->rcpt_timeout = (int)config_time(cfg, "smtp_rcpt_timeout");
	s->data_init_timeout = (int)config_time(cfg, "smtp_data_init_timeout");
	s->data_xfer_timeout = (int)config_time(cfg, "smtp_data_xfer_timeout");
	s->data_done_timeout = (int)config_time(cfg, "smtp_data_done_timeout");
	s->quit_timeout = (int)config_time(cfg, "smtp_quit_timeout");
	s->tls_level = strcmp(level, "none") == 0 ? SMTPC_TLS_NONE
		       : strcmp(level, "encrypt") == 0 ? SMTPC_TLS_ENCRYPT
		       : strcmp(level, "verify") == 0 ? SMTPC_TLS_VERIFY
		       : strcmp(level, "secure") == 0 ? SMTPC_TLS_SECURE : SMTPC_TLS_MAY;
	s->tls_loglevel = (int)config_int(cfg, "smtp_tls_loglevel");
	s->sasl_enable = config_bool(cfg, "smtp_sasl_auth_enable");
	s->sasl_noplaintext = list_has(cfg, "smtp_sasl_security_options", "noplaintext");
	s->sasl_tls_noplaintext = list_has(cfg, "smtp_sasl_tls_security_options", "noplaintext");
	s->line_length_limit = (int)config_int(cfg, "smtp_line_length_limit");
	s->reply_limit = (size_t)config_size(cfg, "smtp_reply_limit");
	s->recipient_limit = (int)config_int(cfg, "smtp_destination_recipient_limit");
}

/* next_table - the next "type:name" of a table list: separated by
 * commas or white space, except inside braces (inline:{ a=b, c=d }).
 * Terminates it in place; NULL at the end. */
static char *next_table(char **pp)
{
	char *p = *pp, *start;
	int depth = 0;

	while (*p == ',' || *p == ' ' || *p == '\t' || *p == '\n')
		p++;
	if (*p == '\0')
		return NULL;
	start = p;
	for (; *p != '\0'; p++) {
		if (*p == '{')
			depth++;
		else if (*p == '}' && depth > 0)
			depth--;
		else if (depth == 0 && (*p == ',' || *p == ' ' || *p == '\t' || *p == '\n'))
			break;
	}
	if (*p != '\0')
		*p++ = '\0';
	*pp = p;
	return start;
}

/* open_sasl_maps - the tables of smtp_sasl_password_maps (separated by
 * commas or white space); NULL-terminated array in *maps_r (NULL when
 * the parameter is empty). */
static int open_sasl_maps(const struct config *cfg, struct map ***maps_r, char **error_r)
{
	const char *spec = config_str(cfg, "smtp_sasl_password_maps");
	char *copy = must_strdup(spec), *p = copy, *tok;
	struct map **maps = NULL;
	size_t n = 0, i;

	*maps_r = NULL;
	while ((tok = next_table(&p)) != NULL) {
		const char *err = NULL;
		struct map *m = map_open(tok, 0, &err);

		if (m == NULL) {
			where_error(cfg, "smtp_sasl_password_maps", error_r,
				    "cannot open table %s: %s; fix the table or the parameter", tok, err);
			goto fail;
		}
		maps = must_realloc(maps, (n + 2) * sizeof(*maps));
		maps[n++] = m;
		maps[n] = NULL;
	}
	free(copy);
	*maps_r = maps;
	return 0;
fail:
	for (i = 0; i < n; i++)
		map_close(&maps[i]);
	free(maps);
	free(copy);
	return -1;
}

static void close_sasl_maps(struct map ***mapsp)
{
	size_t i;

	if (*mapsp == NULL)
		return;
	for (i = 0; (*mapsp)[i] != NULL; i++)
		map_close(&(*mapsp)[i]);
	free(*mapsp);
	*mapsp = NULL;
}

static SSL_CTX *verify_ctx_new(const struct config *cfg, char **error_r)
{
	const char *cafile = config_str(cfg, "smtp_tls_CAfile");
	const char *capath = config_str(cfg, "smtp_tls_CApath");
	SSL_CTX *ctx = tls_client_ctx_new(error_r);
	char buf[256];

	if (ctx == NULL)
		return NULL;
	if ((cafile[0] != '\0' || capath[0] != '\0') &&
	    SSL_CTX_load_verify_locations(ctx, cafile[0] != '\0' ? cafile : NULL,
					  capath[0] != '\0' ? capath : NULL) != 1) {
		tls_last_error(buf, sizeof(buf), "unreadable");
		SSL_CTX_free(ctx);
		where_error(cfg, cafile[0] != '\0' ? "smtp_tls_CAfile" : "smtp_tls_CApath", error_r,
			    "cannot load CA certificates from %s: %s; give a readable PEM file",
			    cafile[0] != '\0' ? cafile : capath, buf);
		return NULL;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	return ctx;
}

int smtpc_check_config(const struct config *cfg, char **error_r)
{
	struct map **maps = NULL;
	SSL_CTX *ctx;
	const char *level = config_str(cfg, "smtp_tls_security_level");

	if (config_bool(cfg, "smtp_sasl_auth_enable")) {
		if (open_sasl_maps(cfg, &maps, error_r) < 0)
			return -1;
		close_sasl_maps(&maps);
	}
	if (strcmp(level, "verify") == 0 || strcmp(level, "secure") == 0) {
		ctx = verify_ctx_new(cfg, error_r);
		if (ctx == NULL)
			return -1;
		SSL_CTX_free(ctx);
	}
	return 0;
}

struct smtpc *smtpc_new(struct event_base *base, struct dns *dns, const struct config *cfg,
			char **error_r)
{
	struct smtpc *c = calloc(1, sizeof(*c));

	if (c == NULL) {
		*error_r = must_strdup("out of memory for the SMTP client");
		return NULL;
	}
	c->base = base;
	c->dns = dns;
	read_settings(cfg, &c->set);
	c->set.helo_name = strdup(c->set.helo_name);
	c->set.bind4 = strdup(c->set.bind4);
	c->set.bind6 = strdup(c->set.bind6);
	if (c->set.helo_name == NULL || c->set.bind4 == NULL || c->set.bind6 == NULL) {
		*error_r = must_strdup("out of memory for the SMTP client");
		goto fail;
	}
	if (c->set.sasl_enable && open_sasl_maps(cfg, &c->sasl_maps, error_r) < 0)
		goto fail;
	if (c->set.tls_level != SMTPC_TLS_NONE) {
		c->tls_ctx = tls_client_ctx_new(error_r);
		if (c->tls_ctx == NULL)
			goto fail;
	}
	if (c->set.tls_level >= SMTPC_TLS_VERIFY) {
		c->tls_verify_ctx = verify_ctx_new(cfg, error_r);
		if (c->tls_verify_ctx == NULL)
			goto fail;
	}
	return c;
fail:
	smtpc_free(&c);
	return NULL;
}

/* ---- retiring connections ---- */

static void closing_on_close(struct conn *conn, enum conn_close_reason reason, const char *detail,
			     void *ctx)
{
	struct smtpc_closing *cl = ctx;

	(void)reason;
	(void)detail;
	conn_free(conn);
	*cl->prevp = cl->next;
	if (cl->next != NULL)
		cl->next->prevp = cl->prevp;
	free(cl);
}

static void closing_on_line(struct conn *conn, char *line, size_t len, void *ctx)
{
	(void)conn;
	(void)line;
	(void)len;
	(void)ctx;
}

static const struct conn_callbacks closing_cb = {
	.on_line = closing_on_line,
	.on_close = closing_on_close,
};

void smtpc_conn_retire(struct smtpc *c, struct conn **connp)
{
	struct conn *conn = *connp;
	struct smtpc_closing *cl;

	*connp = NULL;
	if (conn == NULL)
		return;
	cl = conn_is_closing(conn) ? calloc(1, sizeof(*cl)) : NULL;
	if (cl == NULL) {
		conn_free(conn);
		return;
	}
	cl->c = c;
	cl->conn = conn;
	cl->next = c->closing;
	cl->prevp = &c->closing;
	if (c->closing != NULL)
		c->closing->prevp = &cl->next;
	c->closing = cl;
	conn_set_callbacks(conn, &closing_cb, cl);
}

/* ---- jobs ---- */

static void job_unlink(struct smtpc_job *job)
{
	if (job->prevp == NULL)
		return;
	*job->prevp = job->next;
	if (job->next != NULL)
		job->next->prevp = job->prevp;
	job->prevp = NULL;
	job->next = NULL;
}

static void job_free(struct smtpc_job *job)
{
	size_t i;

	job_unlink(job);
	smtpc_hosts_cancel(&job->hreq);
	smtpc_session_free(&job->sess);
	smtpc_hosts_free(job->hosts, job->n_hosts);
	if (job->ev_done != NULL)
		event_free(job->ev_done);
	if (job->fd >= 0)
		close(job->fd);
	for (i = 0; i < job->n_rcpts; i++) {
		if (job->rcpts != NULL) {
			free((char *)job->rcpts[i].addr);
			free((char *)job->rcpts[i].orcpt);
		}
		if (job->rs != NULL)
			smtpc_why_clear(&job->rs[i].why);
	}
	free(job->rcpts);
	free(job->rs);
	smtpc_why_clear(&job->last);
	free(job->nexthop);
	free(job->sender);
	free(job->envid);
	free(job->ret);
	if (job->sasl_pass != NULL)
		explicit_bzero(job->sasl_pass, strlen(job->sasl_pass));
	free(job->sasl_user);
	free(job->sasl_pass);
	free(job);
}

/* complete - every recipient gets its result; done runs; job freed. */
static void complete(struct smtpc_job *job)
{
	struct smtpc_result *res = calloc(job->n_rcpts ? job->n_rcpts : 1, sizeof(*res));
	size_t i;

	smtpc_session_free(&job->sess);
	job_unlink(job);
	if (res == NULL) {
		/* cannot even say what happened: report every recipient
		 * deferred through a static result, one at a time */
		struct smtpc_result one = { QDEST_DEFERRED, "4.3.0", "none", "", "out of memory" };

		for (i = 0; i < job->n_rcpts; i++)
			job->done(job->ctx, &one, 1);
		job_free(job);
		return;
	}
	if (job->last.text == NULL)
		smtpc_why_set(&job->last, QDEST_DEFERRED, "4.4.1", "none", "",
			      "delivery temporarily suspended: no host could be tried");
	for (i = 0; i < job->n_rcpts; i++) {
		const struct smtpc_why *w = job->rs[i].have && job->rs[i].why.text != NULL
					    ? &job->rs[i].why : &job->last;

		res[i].result = w->state == QDEST_SENT || w->state == QDEST_BOUNCED ? w->state
				: QDEST_DEFERRED;
		str_copy(res[i].dsn, w->dsn, sizeof(res[i].dsn));
		res[i].relay = w->relay != NULL ? w->relay : "none";
		res[i].diag = w->diag != NULL ? w->diag : "";
		res[i].text = w->text != NULL ? w->text : "out of memory";
	}
	job->done(job->ctx, res, job->n_rcpts);
	free(res);
	job_free(job);
}

static bool all_final(const struct smtpc_job *job)
{
	size_t i;

	for (i = 0; i < job->n_rcpts; i++)
		if (!job->rs[i].final)
			return false;
	return true;
}

/* try_next - a session with the next host, or the end of the job. */
static void try_next(struct smtpc_job *job, bool no_tls)
{
	struct smtpc *c = job->c;
	const struct smtpc_host *h;
	const char *error = NULL;
	size_t i;
	int ret;

	if (all_final(job) || job->next_host >= job->n_hosts ||
	    (c->set.mx_session_limit > 0 && job->sessions >= c->set.mx_session_limit)) {
		complete(job);
		return;
	}
	h = &job->hosts[job->next_host++];
	/* results of an earlier host do not count for this one */
	for (i = 0; i < job->n_rcpts; i++)
		if (!job->rs[i].final)
			job->rs[i].have = false;
	x_free(&job->sasl_user);
	x_free(&job->sasl_pass);
	if (c->set.sasl_enable) {
		ret = smtpc_sasl_lookup(c, job->nexthop, h->name, h->port, &job->sasl_user,
					&job->sasl_pass, &error);
		if (ret < 0) {
			smtpc_why_set(&job->last, QDEST_DEFERRED, "4.3.0", "none", "",
				      "smtp_sasl_password_maps lookup error: %s", error);
			complete(job);
			return;
		}
	}
	job->sess = smtpc_session_start(job, h, no_tls);
	if (job->sess == NULL) {
		smtpc_why_set(&job->last, QDEST_DEFERRED, "4.3.0", "none", "", "out of memory");
		complete(job);
	}
}

void smtpc_session_ended(struct smtpc_job *job, enum smtpc_sess_end end, bool greeted)
{
	smtpc_session_free(&job->sess);
	if (greeted)
		job->sessions++;
	switch (end) {
	case SMTPC_END_DONE:
	case SMTPC_END_FINAL:
		complete(job);
		return;
	case SMTPC_END_NEXT_PLAIN:
		/* the same host once more, without STARTTLS; this does not
		 * count as another session (Postfix retries it at once) */
		if (greeted)
			job->sessions--;
		job->next_host--;
		try_next(job, true);
		return;
	case SMTPC_END_NEXT:
		try_next(job, false);
		return;
	}
}

static void hosts_cb(void *ctx, struct smtpc_host *hosts, size_t n, const struct smtpc_why *why)
{
	struct smtpc_job *job = ctx;

	job->hreq = NULL;
	if (hosts == NULL) {
		smtpc_why_set(&job->last, why->state, why->dsn, why->relay, why->diag, "%s", why->text);
		if (why->state == QDEST_BOUNCED) {
			size_t i;

			for (i = 0; i < job->n_rcpts; i++) {
				smtpc_why_set(&job->rs[i].why, why->state, why->dsn, why->relay, why->diag,
					      "%s", why->text);
				job->rs[i].have = true;
				job->rs[i].final = true;
			}
		}
		complete(job);
		return;
	}
	job->hosts = hosts;
	job->n_hosts = n;
	try_next(job, false);
}

/* address_ok - an address from the queue file goes into a command line
 * between < and >: no control bytes (no CR/LF: no command injection),
 * no '>' and not absurdly long (RFC 5321 4.5.3.1.3: 256 octets). */
static bool address_ok(const char *a)
{
	size_t n = 0;

	for (; *a != '\0'; a++, n++)
		if ((unsigned char)*a < 0x20 || *a == 0x7f || *a == '>' || *a == '<')
			return false;
	return n <= 256;
}

static void refuse(struct smtpc_rstate *rs, const char *dsn, const char *text)
{
	smtpc_why_set(&rs->why, QDEST_BOUNCED, dsn, "none", "", "%s", text);
	rs->have = true;
	rs->final = true;
}

static char *dup_or_null(const char *s, bool *fail)
{
	char *d;

	if (s == NULL)
		return NULL;
	d = strdup(s);
	if (d == NULL)
		*fail = true;
	return d;
}

struct smtpc_job *smtpc_deliver(struct smtpc *c, const struct smtpc_req *req, smtpc_done_fn *done,
				void *ctx)
{
	struct smtpc_job *job = calloc(1, sizeof(*job));
	bool fail = false;
	size_t i;

	if (job == NULL)
		return NULL;
	job->c = c;
	job->fd = -1;
	job->done = done;
	job->ctx = ctx;
	job->nexthop = dup_or_null(req->nexthop != NULL ? req->nexthop : "", &fail);
	job->sender = dup_or_null(req->sender != NULL ? req->sender : "", &fail);
	job->envid = dup_or_null(req->envid, &fail);
	job->ret = dup_or_null(req->ret, &fail);
	job->body_8bit = req->body_8bit;
	job->smtputf8 = req->smtputf8;
	job->offset = req->offset;
	job->size = req->size;
	job->n_rcpts = req->n_rcpts;
	job->rcpts = calloc(req->n_rcpts ? req->n_rcpts : 1, sizeof(*job->rcpts));
	job->rs = calloc(req->n_rcpts ? req->n_rcpts : 1, sizeof(*job->rs));
	if (job->rcpts == NULL || job->rs == NULL)
		fail = true;
	for (i = 0; !fail && i < req->n_rcpts; i++) {
		job->rcpts[i].addr = dup_or_null(req->rcpts[i].addr != NULL ? req->rcpts[i].addr : "",
						 &fail);
		job->rcpts[i].orcpt = dup_or_null(req->rcpts[i].orcpt, &fail);
		job->rcpts[i].notify = req->rcpts[i].notify;
	}
	if (!fail) {
		job->fd = fcntl(req->fd, F_DUPFD_CLOEXEC, 0);
		if (job->fd < 0)
			fail = true;
	}
	if (fail) {
		job_free(job);
		return NULL;
	}
	for (i = 0; i < job->n_rcpts; i++) {
		if (!address_ok(job->sender))
			refuse(&job->rs[i], "5.1.7", "bad sender address syntax");
		else if (!address_ok(job->rcpts[i].addr) || job->rcpts[i].addr[0] == '\0')
			refuse(&job->rs[i], "5.1.3", "bad recipient address syntax");
	}
	job->next = c->jobs;
	job->prevp = &c->jobs;
	if (c->jobs != NULL)
		c->jobs->prevp = &job->next;
	c->jobs = job;
	job->hreq = smtpc_hosts_find(c, job->nexthop, hosts_cb, job);
	if (job->hreq == NULL) {
		job_free(job);
		return NULL;
	}
	return job;
}

void smtpc_cancel(struct smtpc_job **jobp)
{
	struct smtpc_job *job = *jobp;

	if (job == NULL)
		return;
	/* "closed without QUIT": the conn goes at once, no retiring */
	if (job->sess != NULL)
		smtpc_session_abort(job->sess);
	job_free(job);
	*jobp = NULL;
}

void smtpc_free(struct smtpc **cp)
{
	struct smtpc *c = *cp;

	if (c == NULL)
		return;
	while (c->jobs != NULL) {
		struct smtpc_job *job = c->jobs;

		smtpc_cancel(&job);
	}
	while (c->closing != NULL) {
		struct smtpc_closing *cl = c->closing;

		c->closing = cl->next;
		conn_free(cl->conn);
		free(cl);
	}
	close_sasl_maps(&c->sasl_maps);
	if (c->tls_ctx != NULL)
		SSL_CTX_free(c->tls_ctx);
	if (c->tls_verify_ctx != NULL)
		SSL_CTX_free(c->tls_verify_ctx);
	free(c->set.helo_name);
	free(c->set.bind4);
	free(c->set.bind6);
	free(c);
	*cp = NULL;
}
