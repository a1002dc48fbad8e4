/*
 * pickup-message.c - what the pickup server does to a locally submitted
 * message, as Postfix's cleanup does to mail from sendmail/postdrop
 * (cleanup(8): "insert missing message headers", "extract envelope
 * recipient addresses from To:, Cc: and Bcc:"):
 *
 *   - the header block (RFC 5322 2.2; folded lines, 2.2.3) is collected up
 *     to header_size_limit; with EXTRACT (sendmail -t) the recipients of
 *     To:, Cc: and Bcc: (Resent-To:/-Cc:/-Bcc: instead when the message
 *     has any, RFC 5322 3.6.6) are added to the envelope, groups and
 *     comments handled by store/mime.h's address-list parser, and the
 *     Bcc: header is removed so that no recipient sees it;
 *   - "Received: by HOST (Postern, from userid UID) id ID; DATE" goes on
 *     top (RFC 5321 4.4), From:, Date: and Message-ID: are added at the end
 *     of the header block when missing (RFC 5322 3.6: From and Date are
 *     required);
 *   - a leading mbox "From " line is dropped (it is not a header);
 *   - every line ends in CR LF (RFC 5322 2.1), also the last.
 *
 * The output goes to a pickup_sink (the queue file in pickup.c; nothing
 * in the fuzz harness). Called by pickup.c, tests/fuzz/fuzz_pickup.c.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "base64.h"
#include "smtp/queue/pickup-private.h"
#include "store/mime.h"

static int fail(struct pickup_message *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(struct pickup_message *m, const char *fmt, ...)
{
	va_list ap;

	if (!m->failed) {
		va_start(ap, fmt);
		vsnprintf(m->reply, sizeof(m->reply), fmt, ap);
		va_end(ap);
		m->failed = true;
	}
	return -1;
}

static int out(struct pickup_message *m, const void *data, size_t len)
{
	const char *err;

	if (m->failed)
		return -1;
	if (len == 0)
		return 0;
	if (m->sink.write(m->sink.ctx, data, len, &err) < 0)
		return fail(m, "ERR 4.3.0 queue file write error: %s", err);
	return 0;
}

void pickup_message_init(struct pickup_message *m, const struct pickup_limits *lim,
			 struct pickup_request *req, const struct pickup_peer *peer, const char *id,
			 time_t now, const struct pickup_sink *sink)
{
	memset(m, 0, sizeof(*m));
	m->lim = lim;
	m->req = req;
	m->peer = peer;
	m->id = id;
	m->now = now;
	m->sink = *sink;
	m->last_lf = true;
	strbuf_init(&m->line, lim->header_limit + 2);
	strbuf_init(&m->header, lim->header_limit + 2);
}

void pickup_message_free(struct pickup_message *m)
{
	strbuf_free(&m->line);
	strbuf_free(&m->header);
}

/* body - message bytes after the header block, LF -> CR LF. */
static int body(struct pickup_message *m, const char *data, size_t len)
{
	while (len > 0) {
		const char *lf = memchr(data, '\n', len);
		size_t seg;
		bool cr;

		if (lf == NULL) {
			if (out(m, data, len) < 0)
				return -1;
			m->last_cr = data[len - 1] == '\r';
			m->last_lf = false;
			return 0;
		}
		seg = (size_t)(lf - data);
		cr = seg > 0 ? data[seg - 1] == '\r' : m->last_cr;
		if (out(m, data, seg) < 0 || out(m, cr ? "\n" : "\r\n", cr ? 1 : 2) < 0)
			return -1;
		m->last_cr = false;
		m->last_lf = true;
		data += seg + 1;
		len -= seg + 1;
	}
	return 0;
}

/* A header field in the collected block: [start, end) including its CR LF
 * lines; name_len bytes of name before the ':'. */
struct field {
	const char *start;
	size_t len, name_len;
};

static bool next_field(const struct strbuf *h, size_t *pos, struct field *f)
{
	const char *p = h->data + *pos, *end = h->data + h->len, *colon, *q;

	if (p >= end)
		return false;
	q = p;
	do {
		const char *eol = memchr(q, '\n', (size_t)(end - q));
		q = eol ? eol + 1 : end;
	} while (q < end && (*q == ' ' || *q == '\t'));
	colon = memchr(p, ':', (size_t)(q - p));
	f->start = p;
	f->len = (size_t)(q - p);
	f->name_len = colon ? (size_t)(colon - p) : 0;
	*pos = (size_t)(q - h->data);
	return true;
}

static bool field_is(const struct field *f, const char *name)
{
	return f->name_len == strlen(name) && strncasecmp(f->start, name, f->name_len) == 0;
}

static bool is_rcpt_field(const struct field *f, bool resent)
{
	if (resent)
		return field_is(f, "Resent-To") || field_is(f, "Resent-Cc") || field_is(f, "Resent-Bcc");
	return field_is(f, "To") || field_is(f, "Cc") || field_is(f, "Bcc");
}

/* extract_field - add the mailboxes of one To:/Cc:/Bcc: field (sendmail -t). */
static int extract_field(struct pickup_message *m, const struct field *f)
{
	const char *v = f->start + f->name_len + 1;
	size_t vlen = f->len - f->name_len - 1, n = 0;
	struct mime_address *list = NULL;
	char *unfolded = malloc(vlen + 1);
	size_t ulen = 0;
	int rc = 0;

	if (unfolded == NULL)
		return fail(m, "ERR 4.3.0 out of memory in the queue role");
	for (size_t i = 0; i < vlen; i++)
		if (v[i] != '\r' && v[i] != '\n')
			unfolded[ulen++] = v[i];
	unfolded[ulen] = '\0';
	if (mime_address_parse(unfolded, ulen, &list, &n) < 0) {
		free(unfolded);
		return fail(m, "ERR 4.3.0 out of memory in the queue role");
	}
	for (size_t i = 0; i < n && rc == 0; i++) {
		char *text, *addr, esc[200];
		const char *why;
		bool utf8 = false;

		if (list[i].mailbox == NULL || list[i].host == NULL)
			continue;   /* group start or end (RFC 3501 7.4.2's form) */
		if (strcmp(list[i].mailbox, "MISSING_MAILBOX") == 0)
			text = must_strdup("<>");
		else if (strcmp(list[i].host, "MISSING_DOMAIN") == 0)
			text = must_strdup(list[i].mailbox);   /* "root": gets @myorigin */
		else
			text = must_asprintf("%s@%s", list[i].mailbox, list[i].host);
		addr = pickup_address(text, strlen(text), m->lim, &utf8, &why);
		if (addr == NULL) {
			rc = fail(m, "ERR 5.1.3 bad recipient address \"%s\" in the %.*s: header: %s",
				  str_escape(text, strlen(text), esc, sizeof(esc)), (int)f->name_len, f->start, why);
		} else {
			m->req->smtputf8 |= utf8;
			if (pickup_request_add_rcpt(m->req, m->lim, addr, m->reply, sizeof(m->reply)) < 0) {
				m->failed = true;
				rc = -1;
			}
		}
		free(text);
	}
	mime_address_free(&list, n);
	free(unfolded);
	return rc;
}

/* Is every byte of s fine in an RFC 5322 phrase without quotes? */
static bool phrase_atoms(const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == ' ' || strchr("!#$%&'*+-/=?^_`{|}~", c)))
			return false;
	}
	return true;
}

/* append_display_name - the full name as an RFC 5322 phrase: as is, as a
 * quoted string, or (8-bit) as RFC 2047 "B" encoded words of at most 45
 * bytes each, cut at UTF-8 character boundaries. */
static int append_display_name(struct strbuf *b, const char *name)
{
	bool eight = false;

	for (const char *p = name; *p; p++)
		if ((unsigned char)*p >= 0x80)
			eight = true;
	if (!eight) {
		if (phrase_atoms(name))
			return strbuf_puts(b, name);
		if (strbuf_putc(b, '"') < 0)
			return -1;
		for (const char *p = name; *p; p++) {
			if ((*p == '"' || *p == '\\') && strbuf_putc(b, '\\') < 0)
				return -1;
			if (strbuf_putc(b, *p) < 0)
				return -1;
		}
		return strbuf_putc(b, '"');
	}
	for (size_t off = 0, len = strlen(name); off < len;) {
		size_t take = len - off > 45 ? 45 : len - off;
		char *enc;
		int rc;

		while (off + take < len && take > 1 && ((unsigned char)name[off + take] & 0xc0) == 0x80)
			take--;
		enc = base64_encode(name + off, take);
		if (enc == NULL)
			return -1;
		rc = strbuf_printf(b, "%s=?UTF-8?B?%s?=", off ? " " : "", enc);
		free(enc);
		if (rc < 0)
			return -1;
		off += take;
	}
	return 0;
}

/* The name for an added From:: -F, else the password file's. Control
 * bytes are dropped (the gecos field is not checked by anyone else). */
static char *full_name(const struct pickup_message *m)
{
	const char *src = m->req->full_name ? m->req->full_name : m->peer->gecos;
	char *s = must_strdup(src), *d = s;

	for (const char *p = src; *p; p++)
		if ((unsigned char)*p >= 0x20 && *p != 0x7f)
			*d++ = *p;
	*d = '\0';
	return s;
}

static int added_headers(struct pickup_message *m, struct strbuf *b, bool has_from, bool has_date,
			 bool has_msgid)
{
	char date[64];
	struct tm tm;

	localtime_r(&m->now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S %z (%Z)", &tm);
	if (!has_from) {
		const char *s = m->req->sender;
		char *addr = (m->req->has_sender && s && *s) ? must_strdup(s)
			     : must_asprintf("%s@%s", m->peer->login, m->lim->myorigin);
		char *name = full_name(m);
		int rc = strbuf_puts(b, "From: ");

		if (rc == 0 && *name)
			rc = (append_display_name(b, name) < 0 || strbuf_printf(b, " <%s>\r\n", addr) < 0) ? -1 : 0;
		else if (rc == 0)
			rc = strbuf_printf(b, "%s\r\n", addr);
		free(name);
		free(addr);
		if (rc < 0)
			return -1;
	}
	if (!has_date && strbuf_printf(b, "Date: %s\r\n", date) < 0)
		return -1;
	if (!has_msgid && strbuf_printf(b, "Message-ID: <%s.%lld@%s>\r\n", m->id, (long long)m->now,
					m->lim->myhostname) < 0)
		return -1;
	return 0;
}

/* finish_headers - the header block is complete: recipients final, the
 * queue file begins, the rewritten header block goes out. */
static int finish_headers(struct pickup_message *m)
{
	bool has_from = false, has_date = false, has_msgid = false, resent = false;
	struct strbuf b;
	struct field f;
	size_t pos = 0;
	const char *err;
	char date[64];
	struct tm tm;
	int rc = 0;

	m->headers_done = true;
	while (next_field(&m->header, &pos, &f)) {
		has_from |= field_is(&f, "From");
		has_date |= field_is(&f, "Date");
		has_msgid |= field_is(&f, "Message-ID");
		resent |= is_rcpt_field(&f, true);
	}
	if (m->req->extract) {
		for (pos = 0; next_field(&m->header, &pos, &f);)
			if (is_rcpt_field(&f, resent) && extract_field(m, &f) < 0)
				return -1;
	}
	if (m->req->n_rcpts == 0)
		return fail(m, "ERR 5.5.2 no recipient addresses found in the message header (To:, Cc:, Bcc:); "
			    "sendmail -t needs at least one, or give recipients as arguments");
	if (m->sink.begin(m->sink.ctx, &err) < 0)
		return fail(m, "ERR 4.3.0 queue file write error: %s", err);

	strbuf_init(&b, 0);
	localtime_r(&m->now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S %z (%Z)", &tm);
	if (strbuf_printf(&b, "Received: by %s (%s, from userid %lu)\r\n\tid %s; %s\r\n", m->lim->myhostname,
			  m->lim->mail_name, (unsigned long)m->peer->uid, m->id, date) < 0)
		rc = -1;
	for (pos = 0; rc == 0 && next_field(&m->header, &pos, &f);) {
		if (m->req->extract && (field_is(&f, "Bcc") || field_is(&f, "Resent-Bcc")))
			continue;
		if (strbuf_append(&b, f.start, f.len) < 0)
			rc = -1;
	}
	if (rc == 0)
		rc = added_headers(m, &b, has_from, has_date, has_msgid);
	if (rc < 0) {
		strbuf_free(&b);
		return fail(m, "ERR 4.3.0 out of memory in the queue role");
	}
	rc = out(m, b.data, b.len);
	strbuf_free(&b);
	strbuf_free(&m->header);
	return rc;
}

/* header_line - one complete line (in m->line, LF removed) while the
 * header block is open; had_lf: it ended in LF (not at the end of data). */
static int header_line(struct pickup_message *m, bool had_lf)
{
	const char *line = m->line.data;
	size_t len = m->line.len, l = len;

	if (l > 0 && line[l - 1] == '\r')
		l--;
	if (!m->first_seen && l >= 5 && memcmp(line, "From ", 5) == 0) {
		m->first_seen = true;   /* only the very first line may be an mbox From_ line */
		strbuf_reset(&m->line);
		return 0;
	}
	m->first_seen = true;
	if (l > 0 && (line[0] == ' ' || line[0] == '\t') && m->header.len > 0) {
		/* folded: part of the field before */
	} else if (l == 0 || !mime_header_field_start(line, l)) {
		/* The header block ends here; a body without the empty line
		 * gets one, as RFC 5322 2.1 needs and Postfix's cleanup does. */
		if (finish_headers(m) < 0)
			return -1;
		if (l > 0 && out(m, "\r\n", 2) < 0)
			return -1;
		if (body(m, line, len) < 0 || (had_lf && body(m, "\n", 1) < 0))
			return -1;
		strbuf_reset(&m->line);
		return 0;
	}
	if (strbuf_append(&m->header, line, l) < 0 || strbuf_append(&m->header, "\r\n", 2) < 0)
		return fail(m, "ERR 5.6.0 message header too big: header_size_limit is %zu bytes",
			    m->lim->header_limit);
	strbuf_reset(&m->line);
	return 0;
}

int pickup_message_feed(struct pickup_message *m, const char *data, size_t len)
{
	if (m->failed)
		return -1;
	while (len > 0 && !m->headers_done) {
		const char *lf = memchr(data, '\n', len);
		size_t take = lf ? (size_t)(lf - data) : len;

		if (strbuf_append(&m->line, data, take) < 0)
			return fail(m, "ERR 5.6.0 message header too big: header_size_limit is %zu bytes",
				    m->lim->header_limit);
		if (lf == NULL)
			return 0;
		data += take + 1;
		len -= take + 1;
		if (header_line(m, true) < 0)
			return -1;
	}
	if (len > 0 && body(m, data, len) < 0)
		return -1;
	return 0;
}

int pickup_message_end(struct pickup_message *m)
{
	if (m->failed)
		return -1;
	if (!m->headers_done && m->line.len > 0 && header_line(m, false) < 0)
		return -1;
	if (!m->headers_done && finish_headers(m) < 0)
		return -1;
	if (!m->last_lf && out(m, "\r\n", 2) < 0)
		return -1;
	return 0;
}
