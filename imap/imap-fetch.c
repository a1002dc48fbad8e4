/*
 * imap-fetch.c - one message's FETCH response: "* n FETCH (UID u FLAGS
 * (...) ... BODY[] {n}\r\n<bytes>)\r\n". Called by cmd-fetch.c, which
 * supplies the message (struct imap_fetch_msg) and the session output;
 * tested by tests/unit/test_imap_fetch.c with in-memory messages.
 *
 * RFC 3501 6.4.5 (items, partial: "BODY[]<0>" names the origin only; an
 * origin past the end gives an empty string), 6.4.8 (UID FETCH always
 * includes UID; we put it first), 7.4.2 (the response items). A section
 * that does not exist in this message is sent as an empty string (what
 * mime_section_find documents, as Dovecot does).
 *
 * Memory: everything but section bytes goes through r->line (ENVELOPE and
 * BODYSTRUCTURE are small, bounded by the MIME parser's limits); BODY[...]
 * ranges are streamed in CHUNK-sized pieces straight from the file, and
 * streaming stops whenever out->full() says the client is not keeping up,
 * so a 50 MB message costs one chunk of memory, not 50 MB.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imap/imap-fetch.h"

#define CHUNK (32 * 1024)

bool imap_fetch_needs_mime(const struct imap_fetch_query *q, const struct imap_fetch_msg *m)
{
	return q->needs_body || (q->has_envelope && m->envelope == NULL) ||
	       (q->has_bodystructure && m->bodystructure == NULL);
}

bool imap_fetch_header_only(const struct imap_fetch_query *q)
{
	for (size_t i = 0; i < q->n; i++) {
		const struct imap_fetch_item *it = &q->items[i];

		if (it->kind == IMAP_FETCH_BODY || it->kind == IMAP_FETCH_BODYSTRUCTURE)
			return false;
		/* sections are upper case; a part number would start with a digit */
		if (it->kind == IMAP_FETCH_SECTION && strcmp(it->section, "HEADER") != 0 &&
		    !str_has_prefix(it->section, "HEADER.FIELDS"))
			return false;
	}
	return true;
}

int imap_fetch_internaldate(struct strbuf *out, time_t t)
{
	static const char months[12][4] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
					    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL || tm.tm_year + 1900 > 9999 || tm.tm_year + 1900 < 0) {
		/* a date the grammar cannot hold: say the epoch, not garbage */
		memset(&tm, 0, sizeof(tm));
		tm.tm_mday = 1;
		tm.tm_year = 70;
	}
	return strbuf_printf(out, "\"%2d-%s-%04d %02d:%02d:%02d +0000\"", tm.tm_mday,
			     months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

void imap_fetch_render_init(struct imap_fetch_render *r, const struct imap_fetch_query *q,
			    const struct imap_fetch_msg *m)
{
	memset(r, 0, sizeof(*r));
	r->q = q;
	r->m = m;
	strbuf_init(&r->line, 0);
}

void imap_fetch_render_free(struct imap_fetch_render *r)
{
	if (r->have_sec)
		mime_section_free(&r->sec);
	r->have_sec = false;
	strbuf_free(&r->line);
	x_free(&r->new_envelope);
	x_free(&r->new_bodystructure);
}

static void flush_line(struct imap_fetch_render *r, const struct imap_fetch_out *out)
{
	if (r->line.len == 0)
		return;
	out->write(out->ctx, r->line.data, r->line.len);
	r->wrote = true;
	strbuf_reset(&r->line);
}

/* separator before an item: none after "(" */
static int item_sep(struct imap_fetch_render *r)
{
	size_t len = r->line.len;

	if (r->wrote || (len > 0 && r->line.data[len - 1] != '('))
		return strbuf_putc(&r->line, ' ');
	return 0;
}

static int put_flags(struct imap_fetch_render *r)
{
	const struct imap_fetch_msg *m = r->m;

	if (item_sep(r) < 0 || strbuf_puts(&r->line, "FLAGS (") < 0 ||
	    imap_flags_format(&r->line, m->flags, m->keywords, m->recent) < 0 ||
	    strbuf_putc(&r->line, ')') < 0)
		return -1;
	r->flags_done = true;
	return 0;
}

/* ENVELOPE / BODYSTRUCTURE: cached text, or computed (kept in *fresh
 * for the caller's cache) */
static int put_structure(struct imap_fetch_render *r, const char *label, const char *cached,
			 bool envelope, bool extended, char **fresh, const char **error_r)
{
	if (item_sep(r) < 0 || strbuf_puts(&r->line, label) < 0 || strbuf_putc(&r->line, ' ') < 0)
		goto oom;
	if (cached != NULL)
		return strbuf_puts(&r->line, cached) < 0 ? (*error_r = "Out of memory", -1) : 0;
	if (fresh != NULL && *fresh != NULL)
		return strbuf_puts(&r->line, *fresh) < 0 ? (*error_r = "Out of memory", -1) : 0;

	struct strbuf sb;
	int rc;

	strbuf_init(&sb, 0);
	if (envelope)
		rc = mime_envelope(r->m->mime, 0, &sb, error_r);
	else
		rc = mime_bodystructure(r->m->mime, 0, extended, &sb, error_r);
	if (rc < 0 || strbuf_append(&r->line, sb.data ? sb.data : "", sb.len) < 0) {
		strbuf_free(&sb);
		if (rc >= 0)
			*error_r = "Out of memory";
		return -1;
	}
	if (fresh != NULL) {
		*fresh = strbuf_steal(&sb);
		if (*fresh == NULL)
			goto oom;
	}
	strbuf_free(&sb);
	return 0;
oom:
	*error_r = "Out of memory";
	return -1;
}

/* "BODY[spec]<origin>" or "RFC822..." */
static int put_section_label(struct imap_fetch_render *r, const struct imap_fetch_item *it)
{
	if (item_sep(r) < 0)
		return -1;
	if (it->name != NULL)
		return strbuf_puts(&r->line, it->name);
	if (strbuf_printf(&r->line, "BODY[%s]", it->section) < 0)
		return -1;
	if (it->partial && strbuf_printf(&r->line, "<%u>", it->origin) < 0)
		return -1;
	return 0;
}

/*
 * Start a section item: small ones (missing, empty, built header fields)
 * go into the line; a range writes the line and the literal header and
 * arms the reader. 0 or -1.
 */
static int section_start(struct imap_fetch_render *r, const struct imap_fetch_item *it,
			 const struct imap_fetch_out *out, const char **error_r)
{
	uint64_t total, origin = 0, n;
	int rc;

	if (put_section_label(r, it) < 0)
		goto oom;
	rc = mime_section_find(r->m->mime, it->section, &r->sec, error_r);
	if (rc < 0)
		return -1;
	r->have_sec = true;
	if (rc == 1) {
		mime_section_free(&r->sec);
		r->have_sec = false;
		return strbuf_puts(&r->line, " \"\"") < 0 ? (*error_r = "Out of memory", -1) : 0;
	}
	total = r->sec.crlf_length;
	if (it->partial)
		origin = it->origin;
	n = origin >= total ? 0 : total - origin;
	if (it->partial && n > it->count)
		n = it->count;
	if (n == 0) {
		mime_section_free(&r->sec);
		r->have_sec = false;
		return strbuf_puts(&r->line, " \"\"") < 0 ? (*error_r = "Out of memory", -1) : 0;
	}
	if (strbuf_printf(&r->line, " {%llu}\r\n", (unsigned long long)n) < 0)
		goto oom;
	if (r->sec.kind == MIME_SECTION_DATA) {
		if (strbuf_append(&r->line, r->sec.data.data + origin, (size_t)n) < 0)
			goto oom;
		mime_section_free(&r->sec);
		r->have_sec = false;
		return 0;
	}
	if (mime_section_reader_init(&r->rd, r->m->mime, &r->sec, origin, error_r) < 0)
		return -1;
	flush_line(r, out);
	r->left = n;
	r->streaming = true;
	return 0;
oom:
	*error_r = "Out of memory";
	return -1;
}

/* stream the armed literal; 1 finished, 0 paused, -1 error */
static int section_stream(struct imap_fetch_render *r, const struct imap_fetch_out *out,
			  const char **error_r)
{
	char buf[CHUNK];

	while (r->left > 0) {
		size_t want = r->left < sizeof(buf) ? (size_t)r->left : sizeof(buf);
		ssize_t got;

		if (out->full != NULL && out->full(out->ctx))
			return 0;
		got = mime_section_reader_read(&r->rd, buf, want, error_r);
		if (got < 0)
			return -1;
		if (got == 0) {
			/* the file shrank under us: the literal length is
			 * promised, so the response cannot be completed */
			*error_r = "Message file shorter than its index entry";
			return -1;
		}
		out->write(out->ctx, buf, (size_t)got);
		r->wrote = true;
		r->left -= (uint64_t)got;
	}
	r->streaming = false;
	mime_section_free(&r->sec);
	r->have_sec = false;
	return 1;
}

static int put_item(struct imap_fetch_render *r, const struct imap_fetch_item *it,
		    const struct imap_fetch_out *out, const char **error_r)
{
	const struct imap_fetch_msg *m = r->m;

	switch (it->kind) {
	case IMAP_FETCH_UID:
		if (r->uid_done)
			return 0; /* already first, for UID FETCH */
		r->uid_done = true;
		if (item_sep(r) < 0 || strbuf_printf(&r->line, "UID %u", m->uid) < 0)
			goto oom;
		return 0;
	case IMAP_FETCH_FLAGS:
		return put_flags(r) < 0 ? (*error_r = "Out of memory", -1) : 0;
	case IMAP_FETCH_INTERNALDATE:
		if (item_sep(r) < 0 || strbuf_puts(&r->line, "INTERNALDATE ") < 0 ||
		    imap_fetch_internaldate(&r->line, m->internaldate) < 0)
			goto oom;
		return 0;
	case IMAP_FETCH_RFC822_SIZE:
		if (item_sep(r) < 0 ||
		    strbuf_printf(&r->line, "RFC822.SIZE %llu", (unsigned long long)m->size) < 0)
			goto oom;
		return 0;
	case IMAP_FETCH_ENVELOPE:
		return put_structure(r, "ENVELOPE", m->envelope, true, false, &r->new_envelope, error_r);
	case IMAP_FETCH_BODYSTRUCTURE:
		return put_structure(r, "BODYSTRUCTURE", m->bodystructure, false, true,
				     &r->new_bodystructure, error_r);
	case IMAP_FETCH_BODY:
		/* computed each time: the cache holds the extended form only */
		return put_structure(r, "BODY", NULL, false, false, NULL, error_r);
	case IMAP_FETCH_SECTION:
		return section_start(r, it, out, error_r);
	}
	return 0;
oom:
	*error_r = "Out of memory";
	return -1;
}

int imap_fetch_render_run(struct imap_fetch_render *r, const struct imap_fetch_out *out,
			  const char **error_r)
{
	const struct imap_fetch_msg *m = r->m;
	int rc;

	if (r->item == 0 && !r->streaming && !r->wrote && r->line.len == 0) {
		if (strbuf_printf(&r->line, "* %u FETCH (", m->seq) < 0)
			goto oom;
		if (m->add_uid) {
			r->uid_done = true;
			if (strbuf_printf(&r->line, "UID %u", m->uid) < 0)
				goto oom;
		}
	}
	for (;;) {
		if (r->streaming) {
			rc = section_stream(r, out, error_r);
			if (rc <= 0)
				return rc;
		}
		if (r->item >= r->q->n)
			break;
		if (put_item(r, &r->q->items[r->item++], out, error_r) < 0)
			return -1;
	}
	if (m->add_flags && !r->flags_done && put_flags(r) < 0)
		goto oom;
	if (strbuf_puts(&r->line, ")\r\n") < 0)
		goto oom;
	flush_line(r, out);
	return 1;
oom:
	*error_r = "Out of memory";
	return -1;
}
