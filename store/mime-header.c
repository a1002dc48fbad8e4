/*
 * mime-header.c - the header fields of one part: walking them, the
 * unfolded value of a field, HEADER.FIELDS output. Called by the IMAP
 * views in store/mime-*.c, by the store and by the IMAP role (SEARCH
 * HEADER).
 *
 * RFC 5322 2.2 (fields), 2.2.3 (unfolding: a line end followed by
 * whitespace is removed), 4.5.1 (obsolete whitespace before the colon);
 * RFC 3501 6.4.5 (HEADER.FIELDS returns the matching lines and the blank
 * line). A line that is neither a field nor a continuation ends the
 * current field and is skipped. Values keep at most max_field_len bytes;
 * raw ranges always cover the whole field.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mime-private.h"

struct field {
	char name[256];
	uint64_t raw_off, raw_end;
	bool open;
};

static int emit(struct field *f, struct strbuf *val, mime_header_fn *fn, void *ctx)
{
	const char *d = val->data != NULL ? val->data : "";
	size_t a = 0, b = val->len;

	if (!f->open)
		return 0;
	f->open = false;
	while (a < b && mime_is_ws((unsigned char)d[a]))
		a++;
	while (b > a && mime_is_ws((unsigned char)d[b - 1]))
		b--;
	return fn(f->name, d + a, b - a, f->raw_off, f->raw_end - f->raw_off, ctx);
}

int mime_header_foreach(struct mime_message *msg, uint32_t part, mime_header_fn *fn, void *ctx,
			const char **error_r)
{
	const struct mime_part *p = mime_part_get(msg, part);
	struct mime_line l;
	struct field f;
	struct strbuf val;
	char name[sizeof(f.name)];
	uint64_t off;
	unsigned count = 0;
	int r, stop = 0;

	if (p == NULL) {
		*error_r = "no such part";
		return -1;
	}
	strbuf_init(&val, msg->lim.max_field_len + 1);
	memset(&f, 0, sizeof(f));
	off = p->hdr_off;
	while (stop == 0 && (r = mime_src_line(&msg->src, off, p->body_off, &l)) > 0) {
		size_t content = (size_t)(l.eol - l.start), colon, nlen;

		off = l.next;
		if (content == 0)
			break;
		if ((l.head[0] == ' ' || l.head[0] == '\t') && f.open) {
			if (mime_src_append(&msg->src, l.start, content, &val, msg->lim.max_field_len) < 0)
				goto oom;
			f.raw_end = l.next;
			continue;
		}
		/* take the name before emit(): the callback may move the
		 * window under l.head */
		nlen = mime_field_name_len(l.head, l.head_len, &colon);
		if (nlen >= sizeof(name))
			nlen = sizeof(name) - 1;
		memcpy(name, l.head, nlen);
		name[nlen] = '\0';
		stop = emit(&f, &val, fn, ctx);
		if (stop != 0)
			break;
		if (nlen == 0)
			continue;
		if (++count > msg->lim.max_fields)
			break;
		memcpy(f.name, name, nlen + 1);
		f.raw_off = l.start;
		f.raw_end = l.next;
		f.open = true;
		strbuf_reset(&val);
		if (mime_src_append(&msg->src, l.start + colon + 1, content - colon - 1, &val,
				    msg->lim.max_field_len) < 0)
			goto oom;
		mime_note_peak(msg, msg->src.cap + val.cap);
	}
	if (stop == 0 && r < 0) {
		strbuf_free(&val);
		*error_r = "read error on the message file";
		return -1;
	}
	if (stop == 0)
		emit(&f, &val, fn, ctx);
	strbuf_free(&val);
	return 0;
oom:
	strbuf_free(&val);
	*error_r = msg->src.read_error ? "read error on the message file" : "out of memory";
	return -1;
}

struct get_ctx {
	const char *name;
	const char *sep;
	struct strbuf *out;
	bool all, found, oom;
};

static int get_cb(const char *name, const char *value, size_t len, uint64_t raw_off,
		  uint64_t raw_len, void *ctx)
{
	struct get_ctx *g = ctx;

	if (strcasecmp(name, g->name) != 0)
		return 0;
	if (g->found && strbuf_puts(g->out, g->sep) < 0)
		g->oom = true;
	if (strbuf_append(g->out, value, len) < 0)
		g->oom = true;
	g->found = true;
	return g->all && !g->oom ? 0 : 1;
}

static int header_get(struct mime_message *msg, uint32_t part, const char *name, const char *sep,
		      bool all, struct strbuf *out, const char **error_r)
{
	struct get_ctx g = { name, sep, out, all, false, false };

	if (mime_header_foreach(msg, part, get_cb, &g, error_r) < 0)
		return -1;
	if (g.oom) {
		*error_r = "header value too long for the buffer";
		return -1;
	}
	return g.found ? 1 : 0;
}

int mime_header_get(struct mime_message *msg, uint32_t part, const char *name,
		    struct strbuf *out, const char **error_r)
{
	return header_get(msg, part, name, "", false, out, error_r);
}

int mime_header_get_all(struct mime_message *msg, uint32_t part, const char *name,
			const char *sep, struct strbuf *out, const char **error_r)
{
	return header_get(msg, part, name, sep, true, out, error_r);
}

struct fields_ctx {
	struct mime_message *msg;
	const char *const *names;
	size_t nnames;
	bool exclude;
	struct strbuf *out;
	int err;
};

/* append [off, off+len) with every line end made CRLF */
static int append_crlf(struct mime_message *msg, uint64_t off, uint64_t len, struct strbuf *out)
{
	unsigned char prev = 0;

	while (len > 0) {
		size_t avail, start = 0;
		const unsigned char *p = mime_src_get(&msg->src, off, &avail);

		if (p == NULL)
			return -1;
		if (avail > len)
			avail = (size_t)len;
		for (size_t i = 0; i < avail; i++) {
			if (p[i] != '\n' || (i > 0 ? p[i - 1] : prev) == '\r')
				continue;
			if (strbuf_append(out, p + start, i - start) < 0 || strbuf_append(out, "\r", 1) < 0)
				return -1;
			start = i;
		}
		if (strbuf_append(out, p + start, avail - start) < 0)
			return -1;
		prev = p[avail - 1];
		off += avail;
		len -= avail;
	}
	/* a header field cut by the end of the data still ends its line */
	if (prev != '\n' && strbuf_append(out, "\r\n", 2) < 0)
		return -1;
	return 0;
}

static int fields_cb(const char *name, const char *value, size_t len, uint64_t raw_off,
		     uint64_t raw_len, void *ctx)
{
	struct fields_ctx *fc = ctx;
	bool match = false;

	for (size_t i = 0; i < fc->nnames && !match; i++)
		match = strcasecmp(name, fc->names[i]) == 0;
	if (match == fc->exclude)
		return 0;
	if (append_crlf(fc->msg, raw_off, raw_len, fc->out) < 0) {
		fc->err = 1;
		return 1;
	}
	return 0;
}

int mime_header_fields(struct mime_message *msg, uint32_t part, const char *const *names,
		       size_t nnames, bool exclude, struct strbuf *out, const char **error_r)
{
	struct fields_ctx fc = { msg, names, nnames, exclude, out, 0 };

	if (mime_header_foreach(msg, part, fields_cb, &fc, error_r) < 0)
		return -1;
	if (fc.err || strbuf_append(out, "\r\n", 2) < 0) {
		*error_r = "header fields too long for the buffer or read error";
		return -1;
	}
	return 0;
}

bool mime_header_field_start(const char *line, size_t len)
{
	size_t i = 0;

	while (i < len && line[i] != ':') {
		unsigned char c = (unsigned char)line[i];

		if (c < 33 || c > 126)
			return false;
		i++;
	}
	return i > 0 && i < len;
}
