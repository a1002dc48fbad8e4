/*
 * restrict-policy.c - check_policy_service (Postfix SMTPD_POLICY_README,
 * "Policy delegation protocol"): send the facts of the current SMTP stage
 * as "name=value" lines ended by an empty line to a policy server
 * (inet:host:port or unix:/path), read "action=..." lines up to an empty
 * line, and apply the action as an access(5) result (restrict-access.c).
 *
 * Called through the rule table (restrict-parse.c) by restrict-eval.c.
 * The request is asynchronous on the restrictions' event loop: the rule
 * returns RULE_PENDING, the answer lands in the check's look-up cache
 * and the rule runs again (restrict-eval.c). One connection per request
 * (Postfix keeps connections for reuse; a policy server must accept both).
 *
 * A connection refused or closed before any reply byte is tried again
 * (smtpd_policy_service_try_limit, _retry_delay), for a daemon that is
 * restarting. Failures (the last attempt refused, a timeout after
 * smtpd_policy_service_timeout, a reply without action=, more than
 * POLICY_MAX_REPLY bytes) are logged and answered with
 * smtpd_policy_service_default_action, "451 4.3.5 Server configuration
 * problem" by default: never a permanent reject.
 */
#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <netdb.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "log.h"
#include "restrict-private.h"
#include "util.h"

#define POLICY_MAX_REPLY 8192
#define POLICY_MAX_SPEC 256

struct policy_call {
	struct restrict_req *q;
	struct bufferevent *bev;
	struct event *timer;
	char *key;       /* cache key "POLICY spec" */
	char *spec;
	char *action;    /* the first action= value */
	size_t got;      /* reply bytes so far */
	char *request;   /* kept for another attempt */
	size_t request_len;
	struct sockaddr_storage ss;
	socklen_t sslen;
	int tries;
	bool retrying;   /* the timer waits smtpd_policy_service_retry_delay */
};

int restrict_policy_spec_check(const char *spec, char **error_r)
{
	const char *colon;

	if (strlen(spec) > POLICY_MAX_SPEC) {
		*error_r = must_asprintf("policy service \"%.40s...\" is longer than %d bytes",
					 spec, POLICY_MAX_SPEC);
		return -1;
	}
	if (strncmp(spec, "unix:", 5) == 0) {
		if (spec[5] == '\0' ||
		    strlen(spec + 5) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
			*error_r = must_asprintf("policy service \"%s\": the socket path is empty or "
						 "too long; write unix:/path/to/socket", spec);
			return -1;
		}
		return 0;
	}
	if (strncmp(spec, "inet:", 5) == 0) {
		colon = strrchr(spec + 5, ':');
		if (colon == NULL || colon == spec + 5 || colon[1] == '\0' ||
		    strspn(colon + 1, "0123456789") != strlen(colon + 1) ||
		    atoi(colon + 1) < 1 || atoi(colon + 1) > 65535) {
			*error_r = must_asprintf("policy service \"%s\": expected inet:host:port, "
						 "e.g. inet:127.0.0.1:10023", spec);
			return -1;
		}
		return 0;
	}
	*error_r = must_asprintf("policy service \"%s\": expected inet:host:port or "
				 "unix:/path", spec);
	return -1;
}

void restrict_policy_cancel(struct policy_call **cp)
{
	struct policy_call *c = *cp;

	if (c == NULL)
		return;
	*cp = NULL;
	if (c->bev)
		bufferevent_free(c->bev);
	if (c->timer)
		event_free(c->timer);
	free(c->key);
	free(c->spec);
	free(c->action);
	free(c->request);
	free(c);
}

/* The request is over: store the outcome in the check's cache, go on. */
static void policy_finish(struct policy_call *c, const char *why)
{
	struct restrict_req *q = c->q;
	char *key = c->key;

	c->key = NULL;
	if (why)
		log_warn("restrictions: policy service %s: %s; using "
			 "smtpd_policy_service_default_action", c->spec, why);
	q->policy = NULL;
	restrict_answer(q, key, why ? 1 : 0, why ? NULL : c->action);
	free(key);
	restrict_policy_cancel(&c);
	restrict_resume(q);
}

static int policy_attempt(struct policy_call *c, const char **why_r);

/* A failure before any reply byte (refused, closed at once) is tried
 * again after smtpd_policy_service_retry_delay, up to
 * smtpd_policy_service_try_limit attempts (a restarting policy daemon);
 * anything else ends the request. */
static void policy_fail(struct policy_call *c, const char *why, bool retriable)
{
	const struct restrictions *r = c->q->r;

	if (retriable && c->got == 0 && c->tries < r->policy_try_limit) {
		struct timeval tv = { .tv_sec = r->policy_retry_delay };

		log_info("restrictions: policy service %s: %s; trying again", c->spec, why);
		if (c->bev)
			bufferevent_free(c->bev);
		c->bev = NULL;
		c->retrying = true;
		evtimer_add(c->timer, &tv);
		return;
	}
	policy_finish(c, why);
}

static void policy_read(struct bufferevent *bev, void *ctx)
{
	struct policy_call *c = ctx;
	struct evbuffer *in = bufferevent_get_input(bev);
	char *line;
	size_t n;

	while ((line = evbuffer_readln(in, &n, EVBUFFER_EOL_CRLF)) != NULL) {
		/* Many short lines count too: the reply is bounded as a whole. */
		c->got += n + 1;
		if (c->got > POLICY_MAX_REPLY) {
			free(line);
			policy_finish(c, "reply longer than 8192 bytes");
			return;
		}
		if (n == 0) {
			free(line);
			if (c->action == NULL) {
				policy_finish(c, "reply without action=");
				return;
			}
			policy_finish(c, NULL);
			return;
		}
		if (c->action == NULL && strncasecmp(line, "action=", 7) == 0)
			c->action = must_strdup(line + 7);
		free(line);
	}
	if (c->got + evbuffer_get_length(in) > POLICY_MAX_REPLY)
		policy_finish(c, "reply longer than 8192 bytes");
}

static void policy_event(struct bufferevent *bev, short what, void *ctx)
{
	struct policy_call *c = ctx;

	(void)bev;
	if (what & BEV_EVENT_CONNECTED)
		return;
	if (what & BEV_EVENT_EOF)
		policy_fail(c, "connection closed before the reply ended", true);
	else if (what & BEV_EVENT_ERROR)
		policy_fail(c, evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()), true);
}

static void policy_timeout(evutil_socket_t fd, short what, void *ctx)
{
	struct policy_call *c = ctx;
	const char *why;

	(void)fd;
	(void)what;
	if (c->retrying) {
		c->retrying = false;
		if (policy_attempt(c, &why) < 0)
			policy_fail(c, why, true);
		return;
	}
	policy_finish(c, "timed out (smtpd_policy_service_timeout)");
}

/* One attribute line; control characters become '?' so that a value
 * can never end the request early. */
static void attr(struct strbuf *sb, const char *name, const char *value)
{
	strbuf_puts(sb, name);
	strbuf_putc(sb, '=');
	for (const char *p = value ? value : ""; *p; p++)
		strbuf_putc(sb, (unsigned char)*p < 0x20 || *p == 0x7f ? '?' : *p);
	strbuf_putc(sb, '\n');
}

static const char *stage_name(const struct restrict_req *q)
{
	switch (q->stage) {
	case RESTRICT_CONNECT: return "CONNECT";
	case RESTRICT_HELO: return q->f->esmtp ? "EHLO" : "HELO";
	case RESTRICT_MAIL: return "MAIL";
	case RESTRICT_RCPT: return "RCPT";
	case RESTRICT_DATA: return "DATA";
	case RESTRICT_END_OF_DATA: return "END-OF-MESSAGE";
	}
	return "RCPT";
}

/* A stable id for the mail transaction: the facts live as long as the
 * session, the sender names the transaction (Postfix: "instance"). */
static unsigned long transaction_hash(const struct restrict_facts *f)
{
	unsigned long h = (unsigned long)(uintptr_t)f;

	for (const char *p = f->sender ? f->sender : ""; *p; p++)
		h = h * 31 + (unsigned char)*p;
	return h;
}

static void build_request(const struct restrict_req *q, struct strbuf *sb)
{
	const struct restrict_facts *f = q->f;
	char num[64];

	attr(sb, "request", "smtpd_access_policy");
	attr(sb, "protocol_state", stage_name(q));
	attr(sb, "protocol_name", f->esmtp ? "ESMTP" : "SMTP");
	attr(sb, "client_address", f->client_addr);
	attr(sb, "client_name", f->client_name ? f->client_name : "unknown");
	attr(sb, "reverse_client_name", f->reverse_client_name ? f->reverse_client_name : "unknown");
	attr(sb, "helo_name", f->helo);
	attr(sb, "sender", f->sender);
	attr(sb, "recipient", f->recipient);
	snprintf(num, sizeof(num), "%u", f->rcpt_count);
	attr(sb, "recipient_count", num);
	attr(sb, "queue_id", f->queue_id);
	snprintf(num, sizeof(num), "%lx", transaction_hash(f));
	attr(sb, "instance", num);
	snprintf(num, sizeof(num), "%zu", f->message_size);
	attr(sb, "size", num);
	attr(sb, "sasl_method", f->sasl_method);
	attr(sb, "sasl_username", f->sasl_username);
	attr(sb, "sasl_sender", "");
	attr(sb, "encryption_protocol", f->tls ? "TLS" : "");
	attr(sb, "policy_context", q->r->policy_context);
	attr(sb, "mail_version", "postern");
	strbuf_putc(sb, '\n');
}

/* One connection attempt: connect, queue the request, arm the timer.
 * -1 with *why_r when it failed at once. */
static int policy_attempt(struct policy_call *c, const char **why_r)
{
	struct timeval tv = { .tv_sec = c->q->r->policy_timeout };

	c->tries++;
	c->got = 0;
	c->bev = bufferevent_socket_new(c->q->r->base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL) {
		*why_r = "out of memory";
		return -1;
	}
	bufferevent_setcb(c->bev, policy_read, NULL, policy_event, c);
	if (bufferevent_write(c->bev, c->request, c->request_len) < 0 ||
	    bufferevent_enable(c->bev, EV_READ) < 0) {
		*why_r = "out of memory";
		return -1;
	}
	if (bufferevent_socket_connect(c->bev, (struct sockaddr *)&c->ss, (int)c->sslen) < 0) {
		*why_r = "cannot connect";
		return -1;
	}
	evtimer_add(c->timer, &tv);
	return 0;
}

/* Start the request; -1 with *why_r when it cannot even start (then
 * nothing is pending). 0: q->policy is set, the answer comes later or
 * has already come (restrict_answer inside the call). */
static int policy_start(struct restrict_req *q, const char *spec, const char *key,
			const char **why_r)
{
	struct policy_call *c;
	struct sockaddr_storage ss;
	socklen_t sslen = 0;
	struct strbuf sb;
	const char *why;

	memset(&ss, 0, sizeof(ss));
	if (strncmp(spec, "unix:", 5) == 0) {
		struct sockaddr_un *su = (struct sockaddr_un *)&ss;

		su->sun_family = AF_UNIX;
		str_copy(su->sun_path, spec + 5, sizeof(su->sun_path));
		sslen = sizeof(*su);
	} else {
		char host[POLICY_MAX_SPEC + 1];
		const char *colon = strrchr(spec + 5, ':');
		struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV };
		struct addrinfo *ai = NULL;
		size_t hl = (size_t)(colon - (spec + 5));

		if (hl >= sizeof(host))
			hl = sizeof(host) - 1;
		memcpy(host, spec + 5, hl);
		host[hl] = '\0';
		if (host[0] == '[' && hl >= 2 && host[hl - 1] == ']') {
			host[hl - 1] = '\0';
			memmove(host, host + 1, hl - 1);
		}
		/* Host names come from the configuration (localhost, /etc/hosts):
		 * resolving them here does not wait on the network in practice. */
		if (getaddrinfo(host, colon + 1, &hints, &ai) != 0 || ai == NULL) {
			*why_r = "cannot resolve the host name";
			return -1;
		}
		memcpy(&ss, ai->ai_addr, ai->ai_addrlen);
		sslen = ai->ai_addrlen;
		freeaddrinfo(ai);
	}
	c = must_calloc(1, sizeof(*c));
	c->q = q;
	c->key = must_strdup(key);
	c->spec = must_strdup(spec);
	c->ss = ss;
	c->sslen = sslen;
	c->timer = evtimer_new(q->r->base, policy_timeout, c);
	strbuf_init(&sb, 0);
	build_request(q, &sb);
	c->request_len = sb.len;
	c->request = strbuf_steal(&sb);
	strbuf_free(&sb);
	if (c->timer == NULL || c->request == NULL) {
		restrict_policy_cancel(&c);
		*why_r = "out of memory";
		return -1;
	}
	q->policy = c;
	if (policy_attempt(c, &why) < 0)
		policy_fail(c, why, true); /* may answer at once: run() re-runs the rule */
	return 0;
}

enum rule_status rule_policy_service(struct restrict_req *q, const struct rule *rule)
{
	enum restrict_list kind = restrict_cur_kind(q);
	const struct restrict_cached *c;
	const char *why = NULL, *action;
	char key[POLICY_MAX_SPEC + 16], what[300], source[POLICY_MAX_SPEC + 32];

	snprintf(key, sizeof(key), "POLICY %s", rule->arg);
	snprintf(source, sizeof(source), "policy service %s", rule->arg);
	restrict_list_name(q, kind, what, sizeof(what));
	c = restrict_cache_get(q, key);
	if (c == NULL) {
		if (q->lookups >= RESTRICT_MAX_LOOKUPS || q->r->base == NULL)
			why = "too many look-ups in one check";
		else if (policy_start(q, rule->arg, key, &why) == 0) {
			q->lookups++;
			return RULE_PENDING;
		}
		log_warn("restrictions: policy service %s: %s; using "
			 "smtpd_policy_service_default_action", rule->arg, why);
		action = q->r->policy_default_action;
	} else {
		action = c->status == 0 && c->n > 0 ? c->rr[0] : q->r->policy_default_action;
	}
	return restrict_access_action(q, source, kind, what, action);
}
