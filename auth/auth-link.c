/*
 * auth-link.c - the clients of a network role and one session's SASL
 * exchange (see auth-link.h: callers, the sequence, why broken clients
 * live until auth_link_free).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth/auth-link.h"
#include "config.h"
#include "log.h"

void auth_link_init(struct auth_link *link, struct event_base *base, const char *name)
{
	memset(link, 0, sizeof(*link));
	link->base = base;
	link->name = name;
}

static struct auth_client *client_get(struct auth_link *link, struct auth_client **slot,
				      const char *path, enum auth_client_kind kind)
{
	char *err = NULL;

	if (*slot)
		return *slot;
	*slot = auth_client_new(link->base, path, kind, &err);
	if (*slot == NULL) {
		log_warn("%s: cannot connect to the auth role at %s: %s; is it running?", link->name, path,
			 err ? err : "unknown error");
		free(err);
	}
	return *slot;
}

struct auth_client *auth_link_sasl(struct auth_link *link, const char *path)
{
	return client_get(link, &link->sasl, path, AUTH_CLIENT_SASL);
}

struct auth_client *auth_link_userdb(struct auth_link *link, const char *path)
{
	return client_get(link, &link->userdb, path, AUTH_CLIENT_USERDB);
}

void auth_link_broken(struct auth_link *link, struct auth_client *c)
{
	struct auth_client **b;

	if (c == NULL || (c != link->sasl && c != link->userdb))
		return;
	b = realloc(link->broken, (link->n_broken + 1) * sizeof(*b));
	if (b == NULL)
		return;
	link->broken = b;
	link->broken[link->n_broken++] = c;
	if (c == link->sasl)
		link->sasl = NULL;
	else
		link->userdb = NULL;
}

void auth_link_free(struct auth_link *link)
{
	auth_client_free(&link->sasl);
	auth_client_free(&link->userdb);
	for (size_t i = 0; i < link->n_broken; i++)
		auth_client_free(&link->broken[i]);
	free(link->broken);
	link->broken = NULL;
	link->n_broken = 0;
}

unsigned auth_link_start(struct auth_link *link, struct auth_link_req *req, const char *path,
			 const char *mech, const struct auth_client_params *p,
			 const char *initial_b64, auth_client_cb *cb, void *ctx)
{
	struct auth_client *c = auth_link_sasl(link, path);

	memset(req, 0, sizeof(*req));
	if (c == NULL)
		return 0;
	req->id = auth_client_start(c, mech, p, initial_b64, cb, ctx);
	if (req->id == 0) {
		auth_link_broken(link, c);
		return 0;
	}
	req->client = c;
	return req->id;
}

void auth_link_reply(struct auth_link_req *req, const struct auth_client_reply *rep)
{
	req->id = 0;
	req->waiting = rep->status == AUTH_CLIENT_CONTINUE ? rep->id : 0;
}

enum auth_link_answer auth_link_answer(struct auth_link *link, struct auth_link_req *req,
				       const char *line, size_t len)
{
	char *resp;
	unsigned id = req->waiting;

	if (len == 1 && line[0] == '*') {
		auth_link_cancel(req);
		return AUTH_LINK_ABORTED;
	}
	if (!auth_link_base64_ok(line, len) || req->client == NULL || id == 0) {
		auth_link_cancel(req);
		return AUTH_LINK_BAD_BASE64;
	}
	resp = strndup(line, len);
	if (resp == NULL || auth_client_continue(req->client, id, resp) < 0) {
		struct auth_client *c = req->client;
		free(resp);
		auth_link_cancel(req);
		auth_link_broken(link, c);
		return AUTH_LINK_UNAVAILABLE;
	}
	free(resp);
	req->waiting = 0;
	req->id = id;
	return AUTH_LINK_SENT;
}

void auth_link_cancel(struct auth_link_req *req)
{
	if (req->client && req->id)
		auth_client_cancel(req->client, req->id);
	if (req->client && req->waiting)
		auth_client_cancel(req->client, req->waiting);
	memset(req, 0, sizeof(*req));
}

void auth_link_mechs(const struct config *view, char *buf, size_t size)
{
	size_t n;
	const char *const *mechs = config_list(view, "auth_mechanisms", &n);

	if (size == 0)
		return;
	buf[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		size_t off = strlen(buf);
		snprintf(buf + off, size - off, "%s%s", off ? " " : "", mechs[i]);
	}
	for (char *p = buf; *p; p++)
		*p = (char)toupper((unsigned char)*p);
}

bool auth_link_mech_listed(const char *mechs, const char *mech)
{
	const char *p = mechs;
	size_t ml = strlen(mech);

	while (*p) {
		const char *e = strchr(p, ' ');
		size_t l = e ? (size_t)(e - p) : strlen(p);
		if (l == ml && strncasecmp(p, mech, l) == 0)
			return true;
		p += l;
		while (*p == ' ')
			p++;
	}
	return false;
}

bool auth_link_mech_plaintext(const char *mech)
{
	return strcmp(mech, "PLAIN") == 0 || strcmp(mech, "LOGIN") == 0;
}

bool auth_link_base64_ok(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '+' && s[i] != '/' && s[i] != '=')
			return false;
	return true;
}
