/*
 * auth-client.c - client side of the auth sockets (auth-client.h). One
 * bufferevent per client; replies are matched to requests by id, lines
 * bounded like on the server side.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "auth/auth-client.h"
#include "auth/auth-server.h"
#include "log.h"
#include "util.h"

struct auth_client_request {
	unsigned id;
	auth_client_cb *cb;
	void *ctx;
	struct auth_client_request *next;
};

struct auth_client {
	enum auth_client_kind kind;
	struct bufferevent *bev;
	struct auth_client_request *requests;
	unsigned next_id;
	bool broken;
};

static struct auth_client_request *take_request(struct auth_client *c, unsigned id, bool remove)
{
	for (struct auth_client_request **pp = &c->requests; *pp; pp = &(*pp)->next) {
		struct auth_client_request *r = *pp;
		if (r->id == id) {
			if (remove)
				*pp = r->next;
			return r;
		}
	}
	return NULL;
}

static void fail_all(struct auth_client *c, const char *reason)
{
	c->broken = true;
	while (c->requests) {
		struct auth_client_request *r = c->requests;
		struct auth_client_reply rep = { .status = AUTH_CLIENT_FAIL, .id = r->id, .temp = true,
						 .reason = reason };
		c->requests = r->next;
		r->cb(r->ctx, &rep);
		free(r);
	}
}

static void handle_line(struct auth_client *c, char *line)
{
	const char *f[AUTH_FIELDS_MAX];
	size_t n = 0;
	struct auth_client_reply rep;
	char *end;

	f[n++] = line;
	for (char *p = line; *p && n < AUTH_FIELDS_MAX; p++)
		if (*p == '\t') {
			*p = '\0';
			f[n++] = p + 1;
		}
	memset(&rep, 0, sizeof(rep));
	if (strcmp(f[0], "OK") == 0 || (c->kind == AUTH_CLIENT_USERDB &&
					 (strcmp(f[0], "USER") == 0 || strcmp(f[0], "SENDERS") == 0)))
		rep.status = AUTH_CLIENT_OK;
	else if (strcmp(f[0], "CONT") == 0)
		rep.status = AUTH_CLIENT_CONTINUE;
	else if (strcmp(f[0], "FAIL") == 0)
		rep.status = AUTH_CLIENT_FAIL;
	else if (strcmp(f[0], "NOTFOUND") == 0)
		rep.status = AUTH_CLIENT_NOTFOUND;
	else
		return;   /* greeting: VERSION, MECH, SPID, CUID, COOKIE, DONE */
	if (n < 2)
		return;
	rep.id = (unsigned)strtoul(f[1], &end, 10);
	if (*end)
		return;
	rep.fields = f + 2;
	rep.n_fields = n - 2;
	for (size_t i = 2; i < n; i++) {
		if (str_has_prefix(f[i], "user="))
			rep.user = f[i] + 5;
		else if (str_has_prefix(f[i], "reason="))
			rep.reason = f[i] + 7;
		else if (str_has_prefix(f[i], "resp="))
			rep.data = f[i] + 5;
		else if (strcmp(f[i], "temp") == 0)
			rep.temp = true;
	}
	if (rep.status == AUTH_CLIENT_CONTINUE)
		rep.data = n >= 3 ? f[2] : "";
	if (c->kind == AUTH_CLIENT_USERDB && rep.status == AUTH_CLIENT_OK && n >= 3)
		rep.user = f[2];
	struct auth_client_request *r = take_request(c, rep.id, rep.status != AUTH_CLIENT_CONTINUE);
	if (r == NULL)
		return;
	r->cb(r->ctx, &rep);
	if (rep.status != AUTH_CLIENT_CONTINUE)
		free(r);
}

static void client_read(struct bufferevent *bev, void *arg)
{
	struct auth_client *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	char line[AUTH_LINE_MAX + 2];

	while (!c->broken) {
		struct evbuffer_ptr eol = evbuffer_search_eol(in, NULL, NULL, EVBUFFER_EOL_LF);
		if (eol.pos < 0 || (size_t)eol.pos > AUTH_LINE_MAX) {
			if (eol.pos >= 0 || evbuffer_get_length(in) > AUTH_LINE_MAX) {
				log_error("auth client: overlong line from the auth service");
				bufferevent_disable(bev, EV_READ);
				fail_all(c, "auth service protocol error");
			}
			return;
		}
		evbuffer_remove(in, line, (size_t)eol.pos + 1);
		line[eol.pos] = '\0';
		if (eol.pos > 0 && line[eol.pos - 1] == '\r')
			line[eol.pos - 1] = '\0';
		handle_line(c, line);
	}
}

static void client_event(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		fail_all(arg, "auth service connection lost");
}

struct auth_client *auth_client_new(struct event_base *base, const char *path,
				    enum auth_client_kind kind, char **error_r)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct auth_client *c;
	int fd;

	if (str_copy(sun.sun_path, path, sizeof(sun.sun_path)) >= sizeof(sun.sun_path)) {
		*error_r = must_asprintf("auth socket path %s is too long", path);
		return NULL;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		*error_r = must_asprintf("cannot connect to the auth service at %s: %s; is posternd "
					 "running (postern status) and may this user open the socket?",
					 path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	evutil_make_socket_nonblocking(fd);
	c = calloc(1, sizeof(*c));
	if (c == NULL || (c->bev = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE)) == NULL) {
		free(c);
		close(fd);
		*error_r = must_strdup("out of memory");
		return NULL;
	}
	c->kind = kind;
	bufferevent_setcb(c->bev, client_read, NULL, client_event, c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	if (kind == AUTH_CLIENT_SASL)
		evbuffer_add_printf(bufferevent_get_output(c->bev), "VERSION\t1\t2\nCPID\t%ld\n",
				    (long)getpid());
	else
		evbuffer_add_printf(bufferevent_get_output(c->bev), "VERSION\t1\t0\n");
	return c;
}

/* A field value we may put on a line: no TAB, CR, LF. */
static bool field_ok(const char *s)
{
	return s == NULL || strpbrk(s, "\t\r\n") == NULL;
}

static unsigned add_request(struct auth_client *c, auth_client_cb *cb, void *ctx)
{
	struct auth_client_request *r = calloc(1, sizeof(*r));

	if (r == NULL)
		return 0;
	if (++c->next_id == 0)
		c->next_id = 1;
	r->id = c->next_id;
	r->cb = cb;
	r->ctx = ctx;
	r->next = c->requests;
	c->requests = r;
	return r->id;
}

unsigned auth_client_start(struct auth_client *c, const char *mech,
			   const struct auth_client_params *p, const char *initial_b64,
			   auth_client_cb *cb, void *ctx)
{
	struct strbuf sb;
	unsigned id;

	if (c->broken || p->service == NULL || !field_ok(mech) || !field_ok(p->service) ||
	    !field_ok(p->rip) || !field_ok(p->lip) || !field_ok(initial_b64))
		return 0;
	id = add_request(c, cb, ctx);
	if (id == 0)
		return 0;
	strbuf_init(&sb, AUTH_LINE_MAX);
	int r = strbuf_printf(&sb, "AUTH\t%u\t%s\tservice=%s", id, mech, p->service);
	if (p->secured)
		r |= strbuf_puts(&sb, "\tsecured");
	if (p->rip)
		r |= strbuf_printf(&sb, "\trip=%s", p->rip);
	if (p->lip)
		r |= strbuf_printf(&sb, "\tlip=%s", p->lip);
	if (p->lport)
		r |= strbuf_printf(&sb, "\tlport=%d", p->lport);
	if (initial_b64)
		r |= strbuf_printf(&sb, "\tresp=%s", initial_b64);
	r |= strbuf_putc(&sb, '\n');
	if (r < 0) {
		free(take_request(c, id, true));
		strbuf_free(&sb);
		return 0;
	}
	bufferevent_write(c->bev, sb.data, sb.len);
	strbuf_free(&sb);
	return id;
}

int auth_client_continue(struct auth_client *c, unsigned id, const char *resp_b64)
{
	if (c->broken || take_request(c, id, false) == NULL || !field_ok(resp_b64) ||
	    strlen(resp_b64) > AUTH_LINE_MAX - 32)
		return -1;
	evbuffer_add_printf(bufferevent_get_output(c->bev), "CONT\t%u\t%s\n", id, resp_b64);
	return 0;
}

unsigned auth_client_lookup(struct auth_client *c, const char *what, const char *user,
			    const char *service, auth_client_cb *cb, void *ctx)
{
	unsigned id;

	if (c->broken || c->kind != AUTH_CLIENT_USERDB || !field_ok(user) || !field_ok(service) ||
	    strlen(user) > 512 || (strcmp(what, "USER") != 0 && strcmp(what, "SENDERS") != 0))
		return 0;
	id = add_request(c, cb, ctx);
	if (id == 0)
		return 0;
	evbuffer_add_printf(bufferevent_get_output(c->bev), "%s\t%u\t%s%s%s\n", what, id, user,
			    service ? "\tservice=" : "", service ? service : "");
	return id;
}

void auth_client_cancel(struct auth_client *c, unsigned id)
{
	free(take_request(c, id, true));
}

void auth_client_free(struct auth_client **cp)
{
	struct auth_client *c = *cp;

	if (c == NULL)
		return;
	while (c->requests) {
		struct auth_client_request *r = c->requests;
		c->requests = r->next;
		free(r);
	}
	bufferevent_free(c->bev);
	free(c);
	*cp = NULL;
}
