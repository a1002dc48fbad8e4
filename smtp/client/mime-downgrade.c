/*
 * mime-downgrade.c - 8-bit content made 7-bit for a server without
 * 8BITMIME (RFC 6152 3: "the SMTP client MUST either ... convert the
 * message to 7 bit ... or return a non-delivery notification"), as
 * Postfix's smtp(8) does with its MIME state machine: each leaf part whose
 * Content-Transfer-Encoding is 8bit, binary or absent is sent as
 * quoted-printable (RFC 2045 6.7) with its Content-Transfer-Encoding
 * header replaced; a multipart or message/rfc822 that claims 8bit is
 * relabelled 7bit (its parts are converted one by one); headers are sent
 * as they are.
 *
 * Called by data.c line by line. Memory is bounded: one header block of
 * at most MIME_HEADER_MAX bytes (a longer one is sent as it is, its part
 * unconverted) and MIME_DEPTH_MAX nested multiparts / messages; 8-bit
 * content beyond that depth cannot be converted and the message bounces
 * with 5.6.3, as Postfix does for content it cannot downgrade.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "smtp/client/data-private.h"

#define MIME_DEPTH_MAX 20
#define MIME_HEADER_MAX (64 * 1024)
#define MIME_BOUNDARY_MAX 200   /* RFC 2046 5.1.1: at most 70 */
#define QP_LINE_MAX 76

enum mstate { M_HEADER, M_BODY };

struct smtpc_mime {
	enum mstate state;
	char bound[MIME_DEPTH_MAX][MIME_BOUNDARY_MAX + 1];
	size_t n_bound;
	int depth;                  /* nested multiparts + messages so far */
	int bound_depth[MIME_DEPTH_MAX];
	struct strbuf hdr;          /* the header block: lines separated by '\n' */
	bool hdr_overflow;          /* the block was too long: passed through */
	bool convert;               /* quoted-printable for this body */
	bool opaque;                /* too deep to parse: 8-bit here bounces */
	size_t qp_col;
};

int smtpc_mime_init(struct smtpc_data *d)
{
	d->mime = calloc(1, sizeof(*d->mime));
	if (d->mime == NULL)
		return -1;
	strbuf_init(&d->mime->hdr, MIME_HEADER_MAX);
	d->mime->state = M_HEADER;
	return 0;
}

void smtpc_mime_free(struct smtpc_data *d)
{
	if (d->mime == NULL)
		return;
	strbuf_free(&d->mime->hdr);
	free(d->mime);
	d->mime = NULL;
}

static int nomem(const char **error_r)
{
	*error_r = "out of memory";
	return -1;
}

/* ---- header block ---- */

/* param_value - value of parameter name in a Content-Type header value
 * (quoted or token) into buf; false if absent. */
static bool param_value(const char *v, const char *name, char *buf, size_t size)
{
	size_t nl = strlen(name);
	const char *p = v;

	while ((p = strchr(p, ';')) != NULL) {
		p++;
		while (*p == ' ' || *p == '\t')
			p++;
		if (strncasecmp(p, name, nl) != 0)
			continue;
		p += nl;
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p != '=')
			continue;
		p++;
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '"') {
			size_t n = 0;

			for (p++; *p != '\0' && *p != '"' && n + 1 < size; p++)
				buf[n++] = *p;
			buf[n] = '\0';
		} else {
			size_t n = strcspn(p, "; \t");

			if (n >= size)
				n = size - 1;
			memcpy(buf, p, n);
			buf[n] = '\0';
		}
		return buf[0] != '\0';
	}
	return false;
}

/* header_is - the logical header starting at h is "name:" (any case). */
static bool header_is(const char *h, const char *name)
{
	size_t n = strlen(name);

	return strncasecmp(h, name, n) == 0 && h[n] == ':';
}

/* unfold - the value of the logical header h (lines joined) into buf. */
static void unfold(const char *h, size_t len, char *buf, size_t size)
{
	const char *colon = memchr(h, ':', len);
	size_t i, n = 0;

	buf[0] = '\0';
	if (colon == NULL)
		return;
	for (i = (size_t)(colon - h) + 1; i < len && n + 1 < size; i++)
		buf[n++] = h[i] == '\n' ? ' ' : h[i];
	buf[n] = '\0';
}

static bool is_8bit_cte(const char *v)
{
	char tok[32];
	size_t n;

	while (*v == ' ' || *v == '\t')
		v++;
	n = strcspn(v, " \t;(");
	if (n >= sizeof(tok))
		return false;
	memcpy(tok, v, n);
	tok[n] = '\0';
	return strcasecmp(tok, "8bit") == 0 || strcasecmp(tok, "binary") == 0;
}

/* emit_lines - the physical lines of h[0..len) ('\n'-separated). */
static int emit_lines(struct smtpc_data *d, struct strbuf *out, const char *h, size_t len)
{
	while (len > 0) {
		const char *nl = memchr(h, '\n', len);
		size_t n = nl != NULL ? (size_t)(nl - h) : len;

		if (smtpc_emit(d, out, h, n) < 0 || smtpc_emit_eol(d, out) < 0)
			return -1;
		if (nl == NULL)
			break;
		h += n + 1;
		len -= n + 1;
	}
	return 0;
}

/* end_of_header - the blank line after a header block: decide what the
 * body is, write the headers (with a new Content-Transfer-Encoding when
 * needed), then the blank line. */
static int end_of_header(struct smtpc_data *d, struct strbuf *out, const char **error_r)
{
	struct smtpc_mime *m = d->mime;
	const char *h = m->hdr.data != NULL ? m->hdr.data : "", *end = h + m->hdr.len, *p;
	char value[1024], type[128] = "", boundary[MIME_BOUNDARY_MAX + 1] = "";
	bool have_cte = false, cte_8bit = false, multipart, message;

	/* pass 1: Content-Type and Content-Transfer-Encoding */
	for (p = h; p < end;) {
		const char *q = p;

		/* a logical header ends before a line that does not start
		 * with white space */
		while ((q = memchr(q, '\n', (size_t)(end - q))) != NULL && q + 1 < end &&
		       (q[1] == ' ' || q[1] == '\t'))
			q++;
		if (q == NULL)
			q = end;
		if (header_is(p, "Content-Type")) {
			size_t n;

			unfold(p, (size_t)(q - p), value, sizeof(value));
			for (p = value; *p == ' ' || *p == '\t'; p++)
				;
			n = strcspn(p, "; \t");
			if (n >= sizeof(type))
				n = sizeof(type) - 1;
			memcpy(type, p, n);
			type[n] = '\0';
			if (!param_value(value, "boundary", boundary, sizeof(boundary)))
				boundary[0] = '\0';
		} else if (header_is(p, "Content-Transfer-Encoding")) {
			unfold(p, (size_t)(q - p), value, sizeof(value));
			have_cte = true;
			cte_8bit = is_8bit_cte(value);
		}
		p = q < end ? q + 1 : end;
	}
	multipart = strncasecmp(type, "multipart/", 10) == 0 && boundary[0] != '\0';
	message = strcasecmp(type, "message/rfc822") == 0;
	m->convert = !multipart && !message && !m->opaque && (!have_cte || cte_8bit);

	/* pass 2: write, without the old Content-Transfer-Encoding where
	 * it is replaced */
	for (p = h; p < end;) {
		const char *q = p;

		while ((q = memchr(q, '\n', (size_t)(end - q))) != NULL && q + 1 < end &&
		       (q[1] == ' ' || q[1] == '\t'))
			q++;
		if (q == NULL)
			q = end;
		if (!(header_is(p, "Content-Transfer-Encoding") && (m->convert || cte_8bit)) &&
		    emit_lines(d, out, p, (size_t)(q - p)) < 0)
			return nomem(error_r);
		p = q < end ? q + 1 : end;
	}
	if (m->convert) {
		static const char qp[] = "Content-Transfer-Encoding: quoted-printable";

		if (smtpc_emit(d, out, qp, sizeof(qp) - 1) < 0 || smtpc_emit_eol(d, out) < 0)
			return nomem(error_r);
	} else if (cte_8bit) {
		static const char sb[] = "Content-Transfer-Encoding: 7bit";

		if (smtpc_emit(d, out, sb, sizeof(sb) - 1) < 0 || smtpc_emit_eol(d, out) < 0)
			return nomem(error_r);
	}
	if (smtpc_emit_eol(d, out) < 0)
		return nomem(error_r);
	strbuf_reset(&m->hdr);
	m->qp_col = 0;
	if (m->opaque) {
		m->state = M_BODY;
		return 0;
	}
	if (message || multipart) {
		if (m->depth >= MIME_DEPTH_MAX || (multipart && m->n_bound >= MIME_DEPTH_MAX)) {
			/* too deep to follow: its content must be 7-bit */
			m->opaque = true;
			m->state = M_BODY;
			return 0;
		}
		m->depth++;
	}
	if (multipart) {
		str_copy(m->bound[m->n_bound], boundary, sizeof(m->bound[0]));
		m->bound_depth[m->n_bound] = m->depth;
		m->n_bound++;
		m->state = M_BODY;   /* the preamble */
		return 0;
	}
	m->state = message ? M_HEADER : M_BODY;
	return 0;
}

/* ---- body ---- */

/* boundary_line - the line is "--B" or "--B--" for a boundary on the
 * stack: 1 (next part), 2 (closing), 0 no; *level_r its stack index. */
static int boundary_line(const struct smtpc_mime *m, const char *p, size_t n, size_t *level_r)
{
	size_t i, bl;

	if (n < 3 || p[0] != '-' || p[1] != '-')
		return 0;
	while (n > 2 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
		n--;    /* RFC 2046 5.1.1: transport padding */
	for (i = m->n_bound; i-- > 0;) {
		bl = strlen(m->bound[i]);
		if (n >= bl + 2 && memcmp(p + 2, m->bound[i], bl) == 0) {
			*level_r = i;
			if (n == bl + 2)
				return 1;
			if (n == bl + 4 && p[bl + 2] == '-' && p[bl + 3] == '-')
				return 2;
		}
	}
	return 0;
}

static int qp_token(struct smtpc_data *d, struct strbuf *out, const char *tok, size_t len)
{
	struct smtpc_mime *m = d->mime;

	/* soft line break: "=" then CR LF, lines of at most 76 */
	if (m->qp_col + len > QP_LINE_MAX - 1) {
		if (smtpc_emit(d, out, "=", 1) < 0 || smtpc_emit_eol(d, out) < 0)
			return -1;
		m->qp_col = 0;
	}
	if (smtpc_emit(d, out, tok, len) < 0)
		return -1;
	m->qp_col += len;
	return 0;
}

static int qp_line(struct smtpc_data *d, struct strbuf *out, const char *p, size_t n, bool complete)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		bool last = complete && i + 1 == n;

		if ((c >= 33 && c <= 126 && c != '=') || ((c == ' ' || c == '\t') && !last)) {
			if (qp_token(d, out, (const char *)&p[i], 1) < 0)
				return -1;
		} else {
			char enc[3] = { '=', hex[c >> 4], hex[c & 15] };

			if (qp_token(d, out, enc, 3) < 0)
				return -1;
		}
	}
	if (complete) {
		d->mime->qp_col = 0;
		return smtpc_emit_eol(d, out);
	}
	return 0;
}

static bool has_8bit(const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if ((unsigned char)p[i] & 0x80)
			return true;
	return false;
}

int smtpc_mime_line(struct smtpc_data *d, struct strbuf *out, const char *p, size_t n,
		    bool complete, bool *bounce_r, const char **error_r)
{
	struct smtpc_mime *m = d->mime;
	size_t level = 0;
	int b = complete ? boundary_line(m, p, n, &level) : 0;

	if (b != 0 && m->state == M_HEADER && m->hdr.len > 0) {
		/* a part that ends inside its header: send it as it is */
		if (emit_lines(d, out, m->hdr.data, m->hdr.len) < 0)
			return nomem(error_r);
		strbuf_reset(&m->hdr);
	}
	if (b != 0) {
		if (m->state == M_BODY && m->convert && m->qp_col > 0) {
			/* the part's last line had no LF of its own */
			if (smtpc_emit_eol(d, out) < 0)
				return nomem(error_r);
		}
		if (smtpc_emit(d, out, p, n) < 0 || smtpc_emit_eol(d, out) < 0)
			return nomem(error_r);
		m->depth = m->bound_depth[level];
		m->opaque = false;
		m->convert = false;
		m->qp_col = 0;
		m->hdr_overflow = false;
		if (b == 1) {
			m->n_bound = level + 1;
			m->state = M_HEADER;
		} else {
			m->n_bound = level;
			m->state = M_BODY;   /* the epilogue */
		}
		return 0;
	}
	if (m->state == M_HEADER) {
		if (m->hdr_overflow) {
			if (smtpc_emit(d, out, p, n) < 0 || (complete && smtpc_emit_eol(d, out) < 0))
				return nomem(error_r);
			if (complete && n == 0) {
				m->hdr_overflow = false;
				m->convert = false;
				m->state = M_BODY;
			}
			return 0;
		}
		if (complete && n == 0)
			return end_of_header(d, out, error_r);
		if (complete) {
			size_t before = m->hdr.len;

			if ((before == 0 || strbuf_putc(&m->hdr, '\n') == 0) &&
			    strbuf_append(&m->hdr, p, n) == 0)
				return 0;
			if (m->hdr.data != NULL) {
				m->hdr.len = before;
				m->hdr.data[before] = '\0';
			}
		}
		/* too long (or a line longer than the read buffer): no
		 * conversion for this part; send what we have as it is */
		if (m->hdr.len > 0 && emit_lines(d, out, m->hdr.data, m->hdr.len) < 0)
			return nomem(error_r);
		strbuf_reset(&m->hdr);
		m->hdr_overflow = true;
		if (smtpc_emit(d, out, p, n) < 0 || (complete && smtpc_emit_eol(d, out) < 0))
			return nomem(error_r);
		return 0;
	}
	if (m->convert)
		return qp_line(d, out, p, n, complete) < 0 ? nomem(error_r) : 0;
	if (m->opaque && has_8bit(p, n)) {
		*bounce_r = true;
		*error_r = "8-bit content that cannot be converted to 7-bit for a server without "
			   "8BITMIME: MIME nesting too deep";
		return -1;
	}
	if (smtpc_emit(d, out, p, n) < 0 || (complete && smtpc_emit_eol(d, out) < 0))
		return nomem(error_r);
	return 0;
}

int smtpc_mime_end(struct smtpc_data *d, struct strbuf *out, bool *bounce_r, const char **error_r)
{
	struct smtpc_mime *m = d->mime;

	(void)bounce_r;
	/* a message that is all header: send the header as it is */
	if (m->state == M_HEADER && m->hdr.len > 0) {
		if (emit_lines(d, out, m->hdr.data, m->hdr.len) < 0)
			return nomem(error_r);
		strbuf_reset(&m->hdr);
	}
	return 0;
}
