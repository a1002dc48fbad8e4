/*
 * bounce-dsn.c - compose one delivery status notification into a queue
 * file: RFC 3464 message/delivery-status inside RFC 6522 multipart/report
 * (report-type=delivery-status), in the layout of Postfix's bounce(8):
 *
 *   headers (Received, Date, From MAILER-DAEMON, Subject, To,
 *   Auto-Submitted: auto-replied (RFC 3834 5), MIME-Version, Content-Type,
 *   Message-Id), "This is a MIME-encapsulated message.", then
 *   1. text/plain "Notification": the template and one line per recipient;
 *   2. message/delivery-status "Delivery report": per-message fields
 *      (Reporting-MTA, Original-Envelope-Id when ENVID was given (RFC 3461
 *      6.3, xtext decoded), X-Postern-Queue-ID, X-Postern-Sender,
 *      Arrival-Date) and per recipient Final-Recipient, Original-Recipient
 *      (ORCPT), Action, Status, Remote-MTA, Diagnostic-Code,
 *      Will-Retry-Until (delayed);
 *   3. message/rfc822 "Undelivered Message" (the whole original), or
 *      text/rfc822-headers "... Message Headers" for RET=HDRS, delay and
 *      success notices, postmaster copies, and an original bigger than
 *      bounce_size_limit (Postfix: cutting a message would break its MIME
 *      structure, so only its headers go back).
 *
 * Called by bounce.c. The original is read with pread() from
 * m->content_offset: the caller's fd position is never moved. Text that
 * came from the network (replies, addresses) is cleaned of controls and
 * 8-bit bytes before it enters the report (bounce-text.c).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "smtp/queue/bounce-private.h"

#define CHUNK 65536
/* Where no bounce_size_limit bounds it, the search for the end of the
 * original's headers stops here. */
#define HEADER_SEARCH_MAX (4u * 1024 * 1024)

/* read_at - pread exactly len bytes (a short file is an error: the
 * reader checked the size). 0, or -1 with errno. */
static int read_at(int fd, void *buf, size_t len, off_t off)
{
	char *p = buf;

	while (len > 0) {
		ssize_t r = pread(fd, p, len, off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			if (r == 0)
				errno = EIO;
			return -1;
		}
		p += r;
		len -= (size_t)r;
		off += r;
	}
	return 0;
}

/* What goes back to the sender. */
struct attachment {
	bool headers_only;
	char *hdr;          /* headers_only: the header section (len bytes) */
	off_t len;
	bool eight_bit;
};

/* header_end - length of the header section at the start of buf (up to
 * and including the line end before the empty line), or of its complete
 * lines when no empty line is within len. */
static size_t header_end(const char *buf, size_t len)
{
	size_t last_line_end = 0;

	if (len > 0 && buf[0] == '\n')
		return 0;
	if (len > 1 && buf[0] == '\r' && buf[1] == '\n')
		return 0;
	for (size_t i = 0; i < len; i++) {
		if (buf[i] != '\n')
			continue;
		last_line_end = i + 1;
		if (i + 1 < len && buf[i + 1] == '\n')
			return i + 1;
		if (i + 2 < len && buf[i + 1] == '\r' && buf[i + 2] == '\n')
			return i + 1;
	}
	return last_line_end;
}

static bool has_8bit(const char *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)p[i] >= 0x80)
			return true;
	return false;
}

/* attachment_prepare - decide headers or whole message, find the header
 * section, and look for 8-bit bytes (the MIME labels depend on it, and
 * clients send 8-bit mail without BODY=8BITMIME). 0, or -1 with errno. */
static int attachment_prepare(const struct bounce *b, const struct bounce_notice *n, const struct qmsg *m,
			      int fd, struct attachment *a)
{
	off_t size = m->content_size;

	memset(a, 0, sizeof(*a));
	a->headers_only = n->headers_only || (b->size_limit > 0 && size > b->size_limit);
	if (!a->headers_only) {
		char *buf = malloc(CHUNK);
		if (buf == NULL)
			return -1;
		for (off_t off = 0; off < size && !a->eight_bit;) {
			size_t want = size - off < CHUNK ? (size_t)(size - off) : CHUNK;
			if (read_at(fd, buf, want, m->content_offset + off) < 0) {
				free(buf);
				return -1;
			}
			a->eight_bit = has_8bit(buf, want);
			off += (off_t)want;
		}
		free(buf);
		a->len = size;
		return 0;
	}
	size_t window = b->size_limit > 0 && (unsigned long long)b->size_limit < HEADER_SEARCH_MAX
				? (size_t)b->size_limit
				: HEADER_SEARCH_MAX;
	if ((off_t)window > size)
		window = (size_t)size;
	a->hdr = malloc(window + 1);
	if (a->hdr == NULL)
		return -1;
	if (read_at(fd, a->hdr, window, m->content_offset) < 0) {
		free(a->hdr);
		a->hdr = NULL;
		return -1;
	}
	a->len = (off_t)header_end(a->hdr, window);
	a->eight_bit = has_8bit(a->hdr, (size_t)a->len);
	return 0;
}

static const char *action(const struct bounce_notice *n, const struct qdest *d)
{
	switch (n->kind) {
	case BOUNCE_FAILED:
		return "failed";
	case BOUNCE_DELAYED:
		return "delayed";
	case BOUNCE_SUCCESS:
		break;
	}
	/* RFC 3464 2.3.3: "relayed" when the next hop takes no DSN
	 * responsibility; a mailbox, command or file is the end. */
	if (d->kind != QDEST_ADDR || d->relay == NULL || strncmp(d->relay, "local", 5) == 0)
		return "delivered";
	return "relayed";
}

/* status_code - d->dsn when it is a RFC 3463 code of the right class,
 * else the class default. */
static void status_code(const struct bounce_notice *n, const struct qdest *d, char *out, size_t size)
{
	char cls = n->kind == BOUNCE_FAILED ? '5' : n->kind == BOUNCE_DELAYED ? '4' : '2';
	unsigned a, b2, c;
	int used = 0;

	if (d->dsn[0] == cls && sscanf(d->dsn, "%1u.%3u.%3u%n", &a, &b2, &c, &used) == 3 &&
	    d->dsn[used] == '\0') {
		str_copy(out, d->dsn, size);
		return;
	}
	snprintf(out, size, "%c.0.0", cls);
}

/* remote_mta - "mx.example.com" out of "mx.example.com[192.0.2.1]:25";
 * "" for local deliveries and unknown relays. */
static void remote_mta(const struct qdest *d, char *out, size_t size)
{
	out[0] = '\0';
	if (d->kind != QDEST_ADDR || d->relay == NULL || strcmp(d->relay, "local") == 0 ||
	    strcmp(d->relay, "none") == 0 || *d->relay == '\0')
		return;
	size_t len = strcspn(d->relay, "[:");
	if (len >= size)
		len = size - 1;
	memcpy(out, d->relay, len);
	out[len] = '\0';
}

static int original_recipient(struct strbuf *sb, const char *orcpt, bool utf8)
{
	const char *semi = strchr(orcpt, ';');
	char *decoded, *field;
	int rc;

	if (semi == NULL)
		return bounce_text_field(sb, "Original-Recipient", orcpt, utf8);
	decoded = bounce_text_xtext_decode(semi + 1);
	field = decoded != NULL ? must_asprintf("%.*s;%s", (int)(semi - orcpt), orcpt, decoded) : NULL;
	rc = bounce_text_field(sb, "Original-Recipient", field != NULL ? field : orcpt, utf8);
	free(field);
	free(decoded);
	return rc;
}

static int per_recipient(struct strbuf *sb, const struct bounce *b, const struct bounce_notice *n,
			 const struct qmsg *m, const struct qdest *d)
{
	const struct qrcpt *r = d->orig < m->n_rcpts ? &m->rcpts[d->orig] : NULL;
	char status[16], mta[256], date[80];
	int rc;

	status_code(n, d, status, sizeof(status));
	remote_mta(d, mta, sizeof(mta));
	const char *final = bounce_final_recipient(m, d);
	if (strbuf_printf(sb, "\r\nFinal-Recipient: %s; ", n->utf8 ? bounce_text_addr_type(final) : "rfc822") < 0 ||
	    bounce_text_clean(sb, final, BOUNCE_FIELD_MAX, n->utf8) < 0 ||
	    strbuf_puts(sb, "\r\n") < 0)
		return -1;
	if (r != NULL && r->orcpt != NULL && *r->orcpt && original_recipient(sb, r->orcpt, n->utf8) < 0)
		return -1;
	if (strbuf_printf(sb, "Action: %s\r\nStatus: %s\r\n", action(n, d), status) < 0)
		return -1;
	if (*mta && (strbuf_puts(sb, "Remote-MTA: dns; ") < 0 || bounce_text_clean(sb, mta, sizeof(mta), false) < 0 ||
		     strbuf_puts(sb, "\r\n") < 0))
		return -1;
	if (d->diag != NULL && *d->diag) {
		if (bounce_text_field(sb, "Diagnostic-Code", d->diag, n->utf8) < 0)
			return -1;
	} else if (d->text != NULL && *d->text) {
		char *diag = must_asprintf("X-Postern; %.*s", BOUNCE_FIELD_MAX, d->text);
		rc = bounce_text_field(sb, "Diagnostic-Code", diag, n->utf8);
		free(diag);
		if (rc < 0)
			return -1;
	}
	if (n->kind == BOUNCE_DELAYED) {
		long long life = *qmsg_sender(m) ? b->max_lifetime : b->bounce_lifetime;
		bounce_text_date((time_t)(m->arrival.tv_sec + life), date, sizeof(date));
		if (strbuf_printf(sb, "Will-Retry-Until: %s\r\n", date) < 0)
			return -1;
	}
	return 0;
}

/* report - everything before the attachment's bytes. */
static int report(struct strbuf *sb, const struct bounce *b, const struct bounce_notice *n, const struct qmsg *m,
		  const struct attachment *a, const char *boundary)
{
	char date[80], msgid_time[32];
	struct tm utc;
	const char *sender = qmsg_sender(m);
	/* UTF-8 addresses and text may appear in the first two parts. */
	const char *cte8 = n->utf8 ? "Content-Transfer-Encoding: 8bit\r\n" : "";

	bounce_text_date(n->now, date, sizeof(date));
	gmtime_r(&n->now, &utc);
	strftime(msgid_time, sizeof(msgid_time), "%Y%m%d%H%M%S", &utc);
	if (strbuf_printf(sb, "Received: by %s (%s) id %s; %s\r\n", b->myhostname, b->mail_name, n->id, date) < 0 ||
	    strbuf_printf(sb, "Date: %s\r\n", date) < 0 ||
	    strbuf_printf(sb, "From: MAILER-DAEMON@%s (Mail Delivery System)\r\n", b->myhostname) < 0 ||
	    strbuf_printf(sb, "Subject: %s\r\n", bounce_text_subject(n)) < 0 ||
	    strbuf_puts(sb, "To: ") < 0 || bounce_text_clean(sb, n->to, BOUNCE_FIELD_MAX, n->utf8) < 0 ||
	    strbuf_puts(sb, "\r\nAuto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\n") < 0 ||
	    strbuf_printf(sb, "Content-Type: multipart/report; report-type=%sdelivery-status;\r\n"
			      "\tboundary=\"%s\"\r\n", n->utf8 ? "global-" : "", boundary) < 0 ||
	    ((a->eight_bit || n->utf8) && strbuf_puts(sb, "Content-Transfer-Encoding: 8bit\r\n") < 0) ||
	    strbuf_printf(sb, "Message-Id: <%s.%s@%s>\r\n", msgid_time, n->id, b->myhostname) < 0 ||
	    strbuf_puts(sb, "\r\nThis is a MIME-encapsulated message.\r\n\r\n") < 0)
		return -1;
	/* 1: for people. */
	if (strbuf_printf(sb, "--%s\r\nContent-Description: Notification\r\n"
			      "Content-Type: text/plain; charset=%s\r\n%s\r\n", boundary,
			  n->utf8 ? "utf-8" : "us-ascii", cte8) < 0 ||
	    bounce_text_human(sb, b, n, m) < 0)
		return -1;
	/* 2: for programs. */
	bounce_text_date(m->arrival.tv_sec, date, sizeof(date));
	if (strbuf_printf(sb, "--%s\r\nContent-Description: Delivery report\r\n"
			      "Content-Type: message/%sdelivery-status\r\n%s\r\n", boundary,
			  n->utf8 ? "global-" : "", cte8) < 0 ||
	    strbuf_printf(sb, "Reporting-MTA: dns; %s\r\n", b->myhostname) < 0)
		return -1;
	if (m->envid != NULL && *m->envid) {
		char *envid = bounce_text_xtext_decode(m->envid);
		int rc = bounce_text_field(sb, "Original-Envelope-Id", envid != NULL ? envid : m->envid, false);
		free(envid);
		if (rc < 0)
			return -1;
	}
	if (strbuf_printf(sb, "X-Postern-Queue-ID: %s\r\nX-Postern-Sender: %s; ", m->id,
			  n->utf8 ? bounce_text_addr_type(sender) : "rfc822") < 0 ||
	    bounce_text_clean(sb, sender, BOUNCE_FIELD_MAX, n->utf8) < 0 ||
	    strbuf_printf(sb, "\r\nArrival-Date: %s\r\n", date) < 0)
		return -1;
	for (size_t i = 0; i < n->n; i++)
		if (per_recipient(sb, b, n, m, &m->dests[n->dests[i]]) < 0)
			return -1;
	/* 3: the original, or its headers. */
	if (strbuf_printf(sb, "\r\n--%s\r\n", boundary) < 0)
		return -1;
	const char *what = n->kind == BOUNCE_FAILED ? "Undelivered" : n->kind == BOUNCE_DELAYED ? "Delayed"
												: "Delivered";
	/* RFC 6533 3: message/global and message/global-headers for an
	 * SMTPUTF8 original. */
	if (a->headers_only)
		return strbuf_printf(sb, "Content-Description: %s Message Headers\r\nContent-Type: %s\r\n%s\r\n",
				     what, n->utf8 ? "message/global-headers" : "text/rfc822-headers",
				     a->eight_bit ? "Content-Transfer-Encoding: 8bit\r\n" : "");
	return strbuf_printf(sb, "Content-Description: %s Message\r\nContent-Type: %s\r\n%s\r\n", what,
			     n->utf8 ? "message/global" : "message/rfc822",
			     a->eight_bit ? "Content-Transfer-Encoding: 8bit\r\n" : "");
}

/* copy_content - the whole original, streamed from the queue file. */
static int copy_content(const struct qmsg *m, int fd, struct queue_file *qf, char *last_r, const char **error_r)
{
	char *buf = malloc(CHUNK);

	if (buf == NULL) {
		*error_r = "out of memory";
		return -1;
	}
	for (off_t off = 0; off < m->content_size;) {
		size_t want = m->content_size - off < CHUNK ? (size_t)(m->content_size - off) : CHUNK;
		if (read_at(fd, buf, want, m->content_offset + off) < 0) {
			*error_r = strerror(errno);
			free(buf);
			return -1;
		}
		if (queue_file_write(qf, buf, want, error_r) < 0) {
			free(buf);
			return -1;
		}
		*last_r = buf[want - 1];
		off += (off_t)want;
	}
	free(buf);
	return 0;
}

int bounce_dsn_write(const struct bounce *b, const struct bounce_notice *n, const struct qmsg *m, int fd,
		     struct queue_file *qf, char **error_r)
{
	struct attachment a;
	struct strbuf sb;
	char boundary[QUEUE_ID_SIZE + 300], last = '\n';
	const char *err = NULL;
	int rc = -1;

	if (attachment_prepare(b, n, m, fd, &a) < 0) {
		*error_r = must_asprintf("%s: bounce: reading the message: %s", m->id, strerror(errno));
		return -1;
	}
	/* The notice's id is unique in the queue, so the boundary cannot
	 * collide with another notice's; within the original it could only
	 * appear by someone guessing a future id. */
	snprintf(boundary, sizeof(boundary), "%s.%lld/%s", n->id, (long long)n->now, b->myhostname);
	strbuf_init(&sb, BOUNCE_REPORT_MAX);
	if (report(&sb, b, n, m, &a, boundary) < 0) {
		*error_r = must_asprintf("%s: bounce: composing the report about %zu recipients failed (out of memory, or more than %u bytes)",
					 m->id, n->n, BOUNCE_REPORT_MAX);
		goto out;
	}
	if (queue_file_write(qf, sb.data, sb.len, &err) < 0)
		goto werr;
	if (a.headers_only) {
		if (a.len > 0 && queue_file_write(qf, a.hdr, (size_t)a.len, &err) < 0)
			goto werr;
		if (a.len > 0)
			last = a.hdr[a.len - 1];
	} else if (copy_content(m, fd, qf, &last, &err) < 0) {
		goto werr;
	}
	strbuf_reset(&sb);
	if (strbuf_printf(&sb, "%s\r\n--%s--\r\n", last == '\n' ? "" : "\r\n", boundary) < 0 ||
	    queue_file_write(qf, sb.data, sb.len, &err) < 0) {
		if (err == NULL)
			err = "out of memory";
		goto werr;
	}
	rc = 0;
	goto out;
werr:
	*error_r = must_asprintf("%s: bounce: writing notice %s: %s", m->id, n->id, err);
out:
	strbuf_free(&sb);
	free(a.hdr);
	return rc;
}
