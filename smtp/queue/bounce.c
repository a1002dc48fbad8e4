/*
 * bounce.c - who is told what about a message's recipients (Postfix's
 * bounce(8) policy) and the queue files that carry the notices.
 *
 * Called by the queue role on a worker thread (bounce.h). The message
 * itself is composed by bounce-dsn.c.
 *
 * Policy, as Postfix (bounce(8), postconf(5) notify_classes):
 * - sender is double_bounce_sender: nothing at all (a postmaster notice
 *   that failed; telling anyone again could loop);
 * - null sender (the original is itself a notice): failed dests go to
 *   2bounce_notice_recipient (with the whole message) when
 *   notify_classes has 2bounce or bounce, delayed ones to
 *   delay_notice_recipient when it has delay (Postfix's default
 *   "resource, software" has neither: the double bounce is logged and
 *   dropped); success notices are never sent for it;
 * - otherwise the sender gets a notice about the dests whose NOTIFY asks
 *   for it (RFC 3461 4.1: none given means FAILURE,DELAY; NEVER means
 *   nothing), with the message or its headers (RET, bounce_size_limit),
 *   and postmaster gets a copy with the headers only when notify_classes
 *   has bounce (failed) or delay (delayed), about every dest.
 * Notices to postmaster come from double_bounce_sender, so that one that
 * cannot be delivered ends here; notices to the sender come from <>.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "config.h"
#include "log.h"
#include "util.h"
#include "smtp/queue/bounce-private.h"

/* qualify - addr, or addr@domain when it has no domain (Postfix's
 * cleanup appends myorigin to a bare local part the same way). */
static char *qualify(const char *addr, const char *domain)
{
	if (strchr(addr, '@') != NULL || *addr == '\0')
		return strdup(addr);
	size_t len = strlen(addr) + strlen(domain) + 2;
	char *s = malloc(len);
	if (s != NULL)
		snprintf(s, len, "%s@%s", addr, domain);
	return s;
}

static bool list_has(const char *const *list, const char *word)
{
	for (; list != NULL && *list != NULL; list++)
		if (strcasecmp(*list, word) == 0)
			return true;
	return false;
}

struct bounce *bounce_new(const struct config *cfg, char **error_r)
{
	struct bounce *b = calloc(1, sizeof(*b));
	const char *const *classes;

	if (b == NULL) {
		*error_r = strdup("bounce: out of memory");
		return NULL;
	}
	b->myhostname = strdup(config_str(cfg, "myhostname"));
	b->myorigin = strdup(config_str(cfg, "myorigin"));
	b->mydomain = strdup(config_str(cfg, "mydomain"));
	b->mail_name = strdup(config_str(cfg, "mail_name"));
	b->double_bounce = strdup(config_str(cfg, "double_bounce_sender"));
	b->size_limit = config_size(cfg, "bounce_size_limit");
	b->max_lifetime = config_time(cfg, "maximal_queue_lifetime");
	b->bounce_lifetime = config_time(cfg, "bounce_queue_lifetime");
	classes = config_list(cfg, "notify_classes", NULL);
	b->class_bounce = list_has(classes, "bounce");
	b->class_2bounce = list_has(classes, "2bounce");
	b->class_delay = list_has(classes, "delay");
	if (b->myorigin != NULL) {
		b->bounce_rcpt = qualify(config_str(cfg, "bounce_notice_recipient"), b->myorigin);
		b->twobounce_rcpt = qualify(config_str(cfg, "2bounce_notice_recipient"), b->myorigin);
		b->delay_rcpt = qualify(config_str(cfg, "delay_notice_recipient"), b->myorigin);
		if (b->double_bounce != NULL)
			b->double_bounce_addr = qualify(b->double_bounce, b->myorigin);
	}
	if (b->myhostname == NULL || b->myorigin == NULL || b->mydomain == NULL || b->mail_name == NULL ||
	    b->double_bounce == NULL || b->bounce_rcpt == NULL || b->twobounce_rcpt == NULL ||
	    b->delay_rcpt == NULL || b->double_bounce_addr == NULL) {
		bounce_free(&b);
		*error_r = strdup("bounce: out of memory");
		return NULL;
	}
	return b;
}

void bounce_free(struct bounce **bp)
{
	struct bounce *b = *bp;

	if (b == NULL)
		return;
	free(b->myhostname);
	free(b->myorigin);
	free(b->mydomain);
	free(b->mail_name);
	free(b->bounce_rcpt);
	free(b->twobounce_rcpt);
	free(b->delay_rcpt);
	free(b->double_bounce);
	free(b->double_bounce_addr);
	free(b);
	*bp = NULL;
}

/* is_double_bounce - sender is double_bounce_sender, bare or in one of
 * this host's domains (the rewritten sender carries @myorigin). */
static bool is_double_bounce(const struct bounce *b, const char *sender)
{
	const char *at = strrchr(sender, '@');
	size_t local_len = at != NULL ? (size_t)(at - sender) : strlen(sender);

	if (local_len != strlen(b->double_bounce) || strncasecmp(sender, b->double_bounce, local_len) != 0)
		return false;
	if (at == NULL)
		return true;
	return strcasecmp(at + 1, b->myorigin) == 0 || strcasecmp(at + 1, b->myhostname) == 0 ||
	       strcasecmp(at + 1, b->mydomain) == 0;
}

/* wants - whether the sender asked to hear about this dest (RFC 3461
 * 4.1: no NOTIFY means FAILURE,DELAY). */
static bool wants(const struct qmsg *m, const struct qdest *d, enum bounce_kind kind)
{
	unsigned notify = d->orig < m->n_rcpts ? m->rcpts[d->orig].notify : 0;

	if (notify & QMSG_NOTIFY_NEVER)
		return false;
	switch (kind) {
	case BOUNCE_FAILED:
		return notify == 0 || (notify & QMSG_NOTIFY_FAILURE);
	case BOUNCE_DELAYED:
		return notify == 0 || (notify & QMSG_NOTIFY_DELAY);
	case BOUNCE_SUCCESS:
		return (notify & QMSG_NOTIFY_SUCCESS) != 0;
	}
	return false;
}

/* A notice written but not yet committed. */
struct pending {
	struct queue_file *qf;
	char id[QUEUE_ID_SIZE];
	const char *to;
};

/* prepare - create a queue file from env_sender to n->to and compose the
 * notice into it. 0, or -1 with *error_r (new) and nothing left behind. */
static int prepare(const struct bounce *b, struct queue_dir *qd, const struct qmsg *m, int fd,
		   struct bounce_notice *n, const char *env_sender, struct pending *p, char **error_r)
{
	const char *err = NULL;
	struct queue_rcpt rcpt = { .addr = n->to, .orcpt = NULL, .notify = 0 };
	struct queue_envelope env = {
		.sender = env_sender,
		.body = m->smtputf8 || (m->body != NULL && strcasecmp(m->body, "8BITMIME") == 0) ? "8BITMIME" : NULL,
		.smtputf8 = m->smtputf8,
		.proto = "BOUNCE",
		.rcpts = &rcpt,
		.n_rcpts = 1,
	};

	clock_gettime(CLOCK_REALTIME, &env.arrival);
	p->qf = queue_file_create_in(qd, p->id, &err);
	if (p->qf == NULL) {
		*error_r = must_asprintf("%s: bounce: cannot create a notice in %s: %s", m->id, queue_dir_path(qd),
					 err);
		return -1;
	}
	p->to = n->to;
	n->id = p->id;
	n->utf8 = m->smtputf8;
	n->now = env.arrival.tv_sec;
	if (queue_file_envelope(p->qf, &env, &err) < 0) {
		*error_r = must_asprintf("%s: bounce: writing notice %s: %s", m->id, p->id, err);
		queue_file_abort(&p->qf);
		return -1;
	}
	if (bounce_dsn_write(b, n, m, fd, p->qf, error_r) < 0) {
		queue_file_abort(&p->qf);
		return -1;
	}
	return 0;
}

int bounce_notify(const struct bounce *b, struct queue_dir *qd, const struct qmsg *m, int fd,
		  enum bounce_kind kind, const size_t *dests, size_t n, unsigned *n_queued_r, char **error_r)
{
	const char *sender = qmsg_sender(m);
	struct pending pend[2] = { { 0 }, { 0 } };
	struct bounce_notice notice[2];
	size_t n_pend = 0, n_wanted = 0, *wanted = NULL;
	unsigned queued = 0;
	const char *err = NULL;

	if (n_queued_r != NULL)
		*n_queued_r = 0;
	for (size_t i = 0; i < n; i++)
		if (dests[i] >= m->n_dests) {
			*error_r = must_asprintf("%s: bounce: dest %zu of %zu does not exist (a bug)", m->id,
						 dests[i], m->n_dests);
			return -1;
		}
	if (n == 0 || is_double_bounce(b, sender)) {
		if (n > 0)
			log_info("%s: discarding a notice about an undeliverable postmaster notification", m->id);
		return 0;
	}
	memset(notice, 0, sizeof(notice));
	if (*sender == '\0') {
		/* A notice about a notice: postmaster, or nobody. */
		if (kind == BOUNCE_SUCCESS)
			return 0;
		/* Postfix: a failed notice goes to 2bounce_notice_recipient
		 * when notify_classes has 2bounce or bounce; a delayed one to
		 * delay_notice_recipient when it has delay. */
		bool send = kind == BOUNCE_FAILED ? b->class_2bounce || b->class_bounce : b->class_delay;
		if (!send) {
			log_info("%s: discarding an undeliverable notification from <> (see notify_classes)", m->id);
			return 0;
		}
		notice[0] = (struct bounce_notice){ .kind = kind, .postmaster = true,
						    .headers_only = kind != BOUNCE_FAILED,
						    .to = kind == BOUNCE_FAILED ? b->twobounce_rcpt : b->delay_rcpt,
						    .dests = dests, .n = n };
		if (prepare(b, qd, m, fd, &notice[0], b->double_bounce_addr, &pend[0], error_r) < 0)
			return -1;
		n_pend = 1;
	} else {
		wanted = malloc(n * sizeof(*wanted));
		if (wanted == NULL) {
			*error_r = must_asprintf("%s: bounce: out of memory", m->id);
			return -1;
		}
		for (size_t i = 0; i < n; i++)
			if (wants(m, &m->dests[dests[i]], kind))
				wanted[n_wanted++] = dests[i];
		if (n_wanted > 0) {
			/* RET=HDRS, and delay and success notices, carry the
			 * headers only (Postfix: the message is still queued, or
			 * it arrived). */
			bool hdrs = kind != BOUNCE_FAILED ||
				    (m->ret != NULL && strcasecmp(m->ret, "HDRS") == 0);
			notice[0] = (struct bounce_notice){ .kind = kind, .headers_only = hdrs, .to = sender,
							    .dests = wanted, .n = n_wanted };
			if (prepare(b, qd, m, fd, &notice[0], "", &pend[0], error_r) < 0)
				goto fail;
			n_pend = 1;
		}
		const char *copy_to = kind == BOUNCE_FAILED && b->class_bounce ? b->bounce_rcpt
				      : kind == BOUNCE_DELAYED && b->class_delay ? b->delay_rcpt
										 : NULL;
		if (copy_to != NULL) {
			notice[n_pend] = (struct bounce_notice){ .kind = kind, .postmaster = true,
								 .headers_only = true, .to = copy_to,
								 .dests = dests, .n = n };
			if (prepare(b, qd, m, fd, &notice[n_pend], b->double_bounce_addr, &pend[n_pend], error_r) < 0)
				goto fail;
			n_pend++;
		}
	}
	/* The sender's notice first: once it is committed, -1 would make
	 * the caller send it again, so a postmaster copy that then fails is
	 * only logged. */
	for (size_t i = 0; i < n_pend; i++) {
		if (queue_file_commit(&pend[i].qf, &err) == 0) {
			log_info("%s: %s %s notification: %s", m->id, notice[i].postmaster ? "postmaster" : "sender",
				 kind == BOUNCE_FAILED ? "non-delivery" : kind == BOUNCE_DELAYED ? "delay" : "delivery status",
				 pend[i].id);
			queued++;
			continue;
		}
		if (queued == 0) {
			*error_r = must_asprintf("%s: bounce: committing notice %s to <%s>: %s", m->id, pend[i].id,
						 pend[i].to, err);
			goto fail;
		}
		log_error("%s: bounce: postmaster copy %s to <%s> lost: %s", m->id, pend[i].id, pend[i].to, err);
	}
	free(wanted);
	if (n_queued_r != NULL)
		*n_queued_r = queued;
	return 0;
fail:
	for (size_t i = 0; i < 2; i++)
		queue_file_abort(&pend[i].qf);
	free(wanted);
	return -1;
}
