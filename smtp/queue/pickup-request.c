/*
 * pickup-request.c - the request lines of the pickup protocol (pickup.h):
 * SENDER, FULLNAME, RCPT, EXTRACT, NOTIFY, RET, ENVID and DATA, one line
 * at a time, each checked before it changes anything. The peer is any
 * local user, so every field is bounded (the line: PICKUP_LINE_MAX),
 * control bytes are refused, and every answer is a "ERR 5.x.x" text a
 * person can act on (sendmail prints it as is).
 *
 * Addresses go through the SMTP server's path parser (smtp/address.h,
 * RFC 5321 4.1.2) and, for "Name <addr>" forms, the RFC 5322 address-list
 * parser (store/mime.h); a bare "user" gets @$myorigin as Postfix's
 * append_at_myorigin does (trivial-rewrite, canonical form for local
 * submissions). Called by pickup.c and pickup-message.c; fuzzed by
 * tests/fuzz/fuzz_pickup.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "smtp/address.h"
#include "smtp/queue/pickup-private.h"
#include "smtp/smtp-params.h"
#include "store/mime.h"

enum {
	SEEN_SENDER = 1 << 0,
	SEEN_FULLNAME = 1 << 1,
	SEEN_EXTRACT = 1 << 2,
	SEEN_NOTIFY = 1 << 3,
	SEEN_RET = 1 << 4,
	SEEN_ENVID = 1 << 5,
};

static char *join_address(const char *local, const char *domain, const struct pickup_limits *lim)
{
	if (domain && *domain)
		return must_asprintf("%s@%s", local, domain);
	if (lim->append_at_myorigin && lim->myorigin && *lim->myorigin)
		return must_asprintf("%s@%s", local, lim->myorigin);
	return must_strdup(local);
}

/* One "Name <addr>" / "addr (comment)" mailbox through the RFC 5322
 * parser; NULL unless it is exactly one mailbox. */
static char *from_mailbox_syntax(const char *text, size_t len)
{
	struct mime_address *list = NULL;
	size_t n = 0, found = 0;
	char *out = NULL;

	if (mime_address_parse(text, len, &list, &n) < 0)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		if (list[i].mailbox == NULL || list[i].host == NULL)
			continue;   /* group markers */
		found++;
		if (out == NULL && strcmp(list[i].mailbox, "MISSING_MAILBOX") != 0)
			out = strcmp(list[i].host, "MISSING_DOMAIN") == 0 ? must_strdup(list[i].mailbox)
				: must_asprintf("%s@%s", list[i].mailbox, list[i].host);
	}
	mime_address_free(&list, n);
	if (found != 1) {
		free(out);
		return NULL;
	}
	return out;
}

char *pickup_address(const char *text, size_t len, const struct pickup_limits *lim, bool *utf8_r,
		     const char **why_r)
{
	struct smtp_address a;
	const char *reply;
	char *alt = NULL, *out;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)text[i];
		if (c < 0x20 || c == 0x7f) {
			*why_r = "control characters (CR, LF, NUL, ...) are not allowed in an address";
			return NULL;
		}
	}
	if (smtp_address_parse(text, len, SMTP_ADDR_SMTPUTF8, &a, &reply) < 0) {
		/* "Name <addr>" or "addr (Name)" only: the RFC 5322 parser's
		 * obsolete forms would also turn "a b@c" into "ab@c". */
		if (memchr(text, '<', len) || memchr(text, '(', len))
			alt = from_mailbox_syntax(text, len);
		if (alt == NULL || smtp_address_parse(alt, strlen(alt), SMTP_ADDR_SMTPUTF8, &a, &reply) < 0) {
			free(alt);
			*why_r = strstr(reply, "too long") ? "address too long (RFC 5321 4.5.3.1: 64 bytes before @, 255 after)"
							   : "bad address syntax; write it as user@example.com";
			return NULL;
		}
		free(alt);
	}
	out = join_address(a.local, a.domain, lim);
	*utf8_r = a.utf8;
	smtp_address_free(&a);
	return out;
}

int pickup_request_add_rcpt(struct pickup_request *r, const struct pickup_limits *lim, char *addr,
			    char *reply, size_t size)
{
	for (size_t i = 0; i < r->n_rcpts; i++) {
		if (strcmp(r->rcpts[i], addr) == 0) {
			free(addr);
			return 0;
		}
	}
	if (r->n_rcpts >= lim->rcpt_limit) {
		snprintf(reply, size, "ERR 5.5.3 too many recipients (smtpd_recipient_limit is %zu)",
			 lim->rcpt_limit);
		free(addr);
		return -1;
	}
	if (r->n_rcpts == r->cap_rcpts) {
		size_t cap = r->cap_rcpts ? r->cap_rcpts * 2 : 8;
		char **n = realloc(r->rcpts, cap * sizeof(*n));

		if (n == NULL) {
			snprintf(reply, size, "ERR 4.3.0 out of memory in the queue role");
			free(addr);
			return -1;
		}
		r->rcpts = n;
		r->cap_rcpts = cap;
	}
	r->rcpts[r->n_rcpts++] = addr;
	return 0;
}

/* NOTIFY never | success,failure,delay (sendmail -N, RFC 3461 4.1). */
static int parse_notify(const char *arg, unsigned *bits_r)
{
	unsigned bits = 0;
	const char *p = arg;

	while (*p) {
		size_t n = strcspn(p, ",");
		if (n == 5 && strncasecmp(p, "never", 5) == 0)
			bits |= SMTP_NOTIFY_NEVER;
		else if (n == 7 && strncasecmp(p, "success", 7) == 0)
			bits |= SMTP_NOTIFY_SUCCESS;
		else if (n == 7 && strncasecmp(p, "failure", 7) == 0)
			bits |= SMTP_NOTIFY_FAILURE;
		else if (n == 5 && strncasecmp(p, "delay", 5) == 0)
			bits |= SMTP_NOTIFY_DELAY;
		else
			return -1;
		p += n;
		if (*p == ',')
			p++;
	}
	if (bits == 0 || ((bits & SMTP_NOTIFY_NEVER) && bits != SMTP_NOTIFY_NEVER))
		return -1;
	*bits_r = bits;
	return 0;
}

static int once(struct pickup_request *r, unsigned bit, const char *word, char *reply, size_t size)
{
	if (r->seen & bit) {
		snprintf(reply, size, "ERR 5.5.2 %s given twice", word);
		return -1;
	}
	r->seen |= bit;
	return 0;
}

static int parse_size(const char *arg, unsigned long long *size_r)
{
	unsigned long long v = 0;

	if (*arg == '\0' || strlen(arg) > 15)
		return -1;
	for (const char *p = arg; *p; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		v = v * 10 + (unsigned)(*p - '0');
	}
	*size_r = v;
	return 0;
}

int pickup_request_line(struct pickup_request *r, const struct pickup_limits *lim, const char *line,
			size_t len, char *reply, size_t size)
{
	char buf[PICKUP_LINE_MAX + 1];
	const char *arg, *why;
	size_t vlen;
	bool utf8 = false;
	char *addr;

	if (len > 0 && line[len - 1] == '\r')
		len--;
	if (len > PICKUP_LINE_MAX) {
		snprintf(reply, size, "ERR 5.5.2 request line too long (the limit is %d bytes)", PICKUP_LINE_MAX);
		return PICKUP_LINE_ERROR;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)line[i];
		if ((c < 0x20 && c != '\t') || c == 0x7f) {
			snprintf(reply, size, "ERR 5.5.2 control character (CR, LF, NUL, ...) in a request; "
				 "each field must be one line of text");
			return PICKUP_LINE_ERROR;
		}
	}
	memcpy(buf, line, len);
	buf[len] = '\0';
	vlen = strcspn(buf, " ");
	arg = buf[vlen] ? buf + vlen + 1 : buf + vlen;
	buf[vlen] = '\0';

	if (strcmp(buf, "SENDER") == 0) {
		if (once(r, SEEN_SENDER, "SENDER (-f)", reply, size) < 0)
			return PICKUP_LINE_ERROR;
		if (*arg == '\0' || strcmp(arg, "<>") == 0) {
			addr = must_strdup("");
		} else if ((addr = pickup_address(arg, strlen(arg), lim, &utf8, &why)) == NULL) {
			char esc[200];
			snprintf(reply, size, "ERR 5.1.7 bad sender address \"%s\" (-f): %s",
				 str_escape(arg, strlen(arg), esc, sizeof(esc)), why);
			return PICKUP_LINE_ERROR;
		}
		r->sender = addr;
		r->has_sender = true;
		r->smtputf8 |= utf8;
		return PICKUP_LINE_OK;
	}
	if (strcmp(buf, "FULLNAME") == 0) {
		if (once(r, SEEN_FULLNAME, "FULLNAME (-F)", reply, size) < 0)
			return PICKUP_LINE_ERROR;
		r->full_name = must_strdup(arg);
		return PICKUP_LINE_OK;
	}
	if (strcmp(buf, "RCPT") == 0) {
		if ((addr = pickup_address(arg, strlen(arg), lim, &utf8, &why)) == NULL) {
			char esc[200];
			snprintf(reply, size, "ERR 5.1.3 bad recipient address \"%s\": %s",
				 str_escape(arg, strlen(arg), esc, sizeof(esc)), why);
			return PICKUP_LINE_ERROR;
		}
		r->smtputf8 |= utf8;
		return pickup_request_add_rcpt(r, lim, addr, reply, size) < 0 ? PICKUP_LINE_ERROR : PICKUP_LINE_OK;
	}
	if (strcmp(buf, "EXTRACT") == 0 && *arg == '\0') {
		if (once(r, SEEN_EXTRACT, "EXTRACT (-t)", reply, size) < 0)
			return PICKUP_LINE_ERROR;
		r->extract = true;
		return PICKUP_LINE_OK;
	}
	if (strcmp(buf, "NOTIFY") == 0) {
		if (once(r, SEEN_NOTIFY, "NOTIFY (-N)", reply, size) < 0)
			return PICKUP_LINE_ERROR;
		if (parse_notify(arg, &r->notify) < 0) {
			snprintf(reply, size, "ERR 5.5.4 bad -N value; use never, or a list of success, failure, delay");
			return PICKUP_LINE_ERROR;
		}
		return PICKUP_LINE_OK;
	}
	if (strcmp(buf, "RET") == 0) {
		if (once(r, SEEN_RET, "RET (-R)", reply, size) < 0)
			return PICKUP_LINE_ERROR;
		if (strcasecmp(arg, "full") != 0 && strcasecmp(arg, "hdrs") != 0) {
			snprintf(reply, size, "ERR 5.5.4 bad -R value; use full or hdrs");
			return PICKUP_LINE_ERROR;
		}
		r->ret = must_strdup(strcasecmp(arg, "full") == 0 ? "FULL" : "HDRS");
		return PICKUP_LINE_OK;
	}
	if (strcmp(buf, "ENVID") == 0) {
		if (once(r, SEEN_ENVID, "ENVID (-V)", reply, size) < 0)
			return PICKUP_LINE_ERROR;
		if (*arg == '\0' || strlen(arg) > SMTP_ENVID_MAX || !smtp_xtext_valid(arg, strlen(arg))) {
			snprintf(reply, size, "ERR 5.5.4 bad -V value; at most %d printable characters (RFC 3461 4.4)",
				 SMTP_ENVID_MAX);
			return PICKUP_LINE_ERROR;
		}
		r->envid = must_strdup(arg);
		return PICKUP_LINE_OK;
	}
	if (strcmp(buf, "DATA") == 0) {
		if (parse_size(arg, &r->size) < 0) {
			snprintf(reply, size, "ERR 5.5.2 DATA needs the message size in bytes");
			return PICKUP_LINE_ERROR;
		}
		if (r->size > lim->size_limit) {
			snprintf(reply, size, "ERR 5.3.4 message file too big: %llu bytes; message_size_limit is %llu bytes",
				 r->size, lim->size_limit);
			return PICKUP_LINE_ERROR;
		}
		if (r->n_rcpts == 0 && !r->extract) {
			snprintf(reply, size, "ERR 5.5.2 no recipients specified; give them as arguments or use -t");
			return PICKUP_LINE_ERROR;
		}
		return PICKUP_LINE_DATA;
	}
	{
		char esc[64];
		snprintf(reply, size, "ERR 5.5.2 unknown request \"%s\"; is this sendmail from the same Postern version?",
			 str_escape(buf, strlen(buf), esc, sizeof(esc)));
	}
	return PICKUP_LINE_ERROR;
}

void pickup_request_free(struct pickup_request *r)
{
	for (size_t i = 0; i < r->n_rcpts; i++)
		free(r->rcpts[i]);
	free(r->rcpts);
	free(r->sender);
	free(r->full_name);
	free(r->ret);
	free(r->envid);
	memset(r, 0, sizeof(*r));
}
