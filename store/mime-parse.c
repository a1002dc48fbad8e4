/*
 * mime-parse.c - one pass over a message building the MIME part tree
 * (offsets, sizes, line counts); called through mime_parse_fd() and
 * mime_parse_mem() by the store and the IMAP role.
 *
 * RFC 2045 5.2 (default text/plain), RFC 2046 5.1 (boundaries: the line
 * end before a boundary line belongs to it, close delimiter "--b--",
 * preamble and epilogue belong to the multipart), 5.1.5 (digest children
 * default to message/rfc822), 5.2.1 (message/rfc822).
 *
 * Hostile input: the open multiparts live on an explicit stack bounded by
 * max_depth; a multipart or message nested deeper is left whole as an
 * opaque leaf. After max_parts parts no boundary is recognised any more,
 * so the rest is body of the innermost open part. A boundary line matches
 * only when it is "--boundary" exactly, optionally followed by "--" and
 * whitespace; the innermost open multipart is tried first, then its
 * ancestors (an outer boundary ends every inner part, as in Dovecot).
 * Only Content-Type is kept while parsing (at most max_field_len bytes).
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mime-private.h"

struct frame {
	uint32_t part;
	char *boundary;
	size_t blen;
	bool closed;
};

struct pstate {
	struct mime_message *m;
	struct frame *frames;
	unsigned nframes;
	uint32_t cur;
	bool in_header, header_has_line, in_ctype, have_ctype, overflow;
	struct strbuf ctype;
	uint64_t lf, blf;                 /* counts before the current line */
	bool have_prev, prev_nonempty;
	uint64_t prev_eol, prev_lf, prev_blf;
};

void mime_limits_default(struct mime_limits *lim)
{
	lim->max_depth = 64;
	lim->max_parts = 10000;
	lim->max_field_len = 64 * 1024;
	lim->max_fields = 10000;
	lim->window = 64 * 1024;
}

void mime_note_peak(struct mime_message *msg, size_t bytes)
{
	if (bytes > msg->peak)
		msg->peak = bytes;
}

static int new_part(struct pstate *ps, uint32_t parent, uint64_t hdr_off, uint64_t lf, uint64_t blf)
{
	struct mime_message *m = ps->m;
	struct mime_part *p;

	if (m->nparts >= m->lim.max_parts)
		return 1;
	if (m->nparts == m->parts_cap) {
		uint32_t ncap = m->parts_cap ? m->parts_cap * 2 : 8;
		struct mime_part *np;

		if (ncap > m->lim.max_parts)
			ncap = m->lim.max_parts;
		np = realloc(m->parts, (size_t)ncap * sizeof(*np));
		if (np == NULL)
			return -1;
		m->parts = np;
		m->parts_cap = ncap;
	}
	p = &m->parts[m->nparts];
	memset(p, 0, sizeof(*p));
	p->hdr_off = p->body_off = p->end_off = hdr_off;
	p->lf_hdr = p->lf_body = lf;
	p->blf_hdr = p->blf_body = blf;
	p->parent = parent;
	p->first_child = p->next_sibling = p->last_child = MIME_NONE;
	str_copy(p->type, "text", sizeof(p->type));
	str_copy(p->subtype, "plain", sizeof(p->subtype));
	if (parent != MIME_NONE) {
		struct mime_part *pp = &m->parts[parent];

		p->depth = pp->depth + 1;
		if (pp->last_child == MIME_NONE)
			pp->first_child = m->nparts;
		else
			m->parts[pp->last_child].next_sibling = m->nparts;
		pp->last_child = m->nparts;
		pp->nchildren++;
	}
	ps->cur = m->nparts++;
	ps->in_header = true;
	ps->header_has_line = ps->in_ctype = ps->have_ctype = false;
	strbuf_reset(&ps->ctype);
	return 0;
}

/* Whether the content-type of the parent makes this part a digest entry. */
static bool parent_is_digest(const struct mime_message *m, const struct mime_part *p)
{
	if (p->parent == MIME_NONE)
		return false;
	const struct mime_part *pp = &m->parts[p->parent];
	return (pp->flags & MIME_PART_MULTIPART) && strcmp(pp->subtype, "digest") == 0;
}

/* finish_header - the header of cur is complete (body starts at body_off):
 * decide the type, open a multipart frame or the nested message. */
static int finish_header(struct pstate *ps, uint64_t body_off, uint64_t lf, uint64_t blf)
{
	struct mime_message *m = ps->m;
	struct mime_part *p = &m->parts[ps->cur];
	struct mime_content c;
	const char *boundary = NULL;
	int r = 1;

	p->body_off = body_off;
	p->lf_body = lf;
	p->blf_body = blf;
	ps->in_header = false;
	ps->in_ctype = false;
	if (ps->have_ctype) {
		r = mime_content_parse(ps->ctype.data, ps->ctype.len, false, &c);
		if (r < 0)
			return -1;
	}
	if (r == 0) {
		str_copy(p->type, c.type, sizeof(p->type));
		str_copy(p->subtype, c.subtype, sizeof(p->subtype));
		boundary = mime_content_param_raw(&c, "boundary");
	} else if (parent_is_digest(m, p)) {
		str_copy(p->type, "message", sizeof(p->type));
		str_copy(p->subtype, "rfc822", sizeof(p->subtype));
	}
	if (strcmp(p->type, "text") == 0)
		p->flags |= MIME_PART_TEXT;
	if (strcmp(p->type, "multipart") == 0) {
		p->flags |= MIME_PART_MULTIPART;
		if (boundary == NULL || boundary[0] == '\0' || strlen(boundary) > 200 ||
		    p->depth >= m->lim.max_depth || ps->overflow) {
			p->flags |= MIME_PART_OPAQUE;
		} else {
			struct frame *f = &ps->frames[ps->nframes];

			f->blen = strlen(boundary);
			f->boundary = malloc(f->blen + 1);
			if (f->boundary == NULL) {
				mime_content_free(&c);
				return -1;
			}
			memcpy(f->boundary, boundary, f->blen + 1);
			f->part = ps->cur;
			f->closed = false;
			ps->nframes++;
		}
	} else if (strcmp(p->type, "message") == 0 && strcmp(p->subtype, "rfc822") == 0) {
		p->flags |= MIME_PART_MESSAGE;
		if (p->depth >= m->lim.max_depth || ps->overflow) {
			p->flags |= MIME_PART_OPAQUE;
		} else {
			uint32_t parent = ps->cur;
			int nr = new_part(ps, parent, body_off, lf, blf);

			if (nr < 0) {
				if (r == 0)
					mime_content_free(&c);
				return -1;
			}
			if (nr > 0) {
				ps->overflow = true;
				m->parts[parent].flags |= MIME_PART_OPAQUE;
				ps->in_header = false;
			}
		}
	}
	if (r == 0)
		mime_content_free(&c);
	return 0;
}

/* end_part - part idx ends at E; lf/blf are the counts before E and
 * partial says the byte before E is not an LF. */
static void end_part(struct pstate *ps, uint32_t idx, uint64_t E, uint64_t lf, uint64_t blf, bool partial)
{
	struct mime_part *p = &ps->m->parts[idx];

	if (idx == ps->cur && ps->in_header) {
		p->body_off = E;
		p->lf_body = lf;
		p->blf_body = blf;
		p->flags |= MIME_PART_NO_HEADER_END;
		ps->in_header = false;
	}
	p->end_off = E;
	p->body_lines = lf - p->lf_body + (E > p->body_off && partial ? 1 : 0);
	p->hdr_crlf_size = p->body_off - p->hdr_off + (p->blf_body - p->blf_hdr);
	p->body_crlf_size = E - p->body_off + (blf - p->blf_body);
}

/* boundary_match - index of the frame whose boundary this line is, or -1. */
static int boundary_match(const struct pstate *ps, const struct mime_line *l, bool *close_r)
{
	size_t content = (size_t)(l->eol - l->start);

	if (l->head_len < 3 || l->head[0] != '-' || l->head[1] != '-' || content != l->head_len)
		return -1;
	for (int k = (int)ps->nframes - 1; k >= 0; k--) {
		const struct frame *f = &ps->frames[k];
		size_t i;

		if (f->closed || l->head_len < 2 + f->blen ||
		    memcmp(l->head + 2, f->boundary, f->blen) != 0)
			continue;
		i = 2 + f->blen;
		*close_r = false;
		if (i + 1 < l->head_len && l->head[i] == '-' && l->head[i + 1] == '-') {
			*close_r = true;
			i += 2;
		}
		while (i < l->head_len && (l->head[i] == ' ' || l->head[i] == '\t' || l->head[i] == '\r'))
			i++;
		if (i == l->head_len)
			return k;
	}
	return -1;
}

static int on_boundary(struct pstate *ps, const struct mime_line *l, unsigned k, bool close)
{
	struct mime_message *m = ps->m;
	const struct mime_part *cp = &m->parts[ps->cur];
	uint64_t region = ps->in_header ? cp->hdr_off : cp->body_off;
	uint64_t E = region, lf = ps->in_header ? cp->lf_hdr : cp->lf_body;
	uint64_t blf = ps->in_header ? cp->blf_hdr : cp->blf_body;
	bool partial = false;
	uint32_t target = ps->frames[k].part;

	if (ps->have_prev && ps->prev_eol > region) {
		E = ps->prev_eol;
		lf = ps->prev_lf;
		blf = ps->prev_blf;
		partial = ps->prev_nonempty;
	}
	for (uint32_t p = ps->cur; p != target; p = m->parts[p].parent)
		end_part(ps, p, E, lf, blf, partial);
	for (unsigned j = k + 1; j < ps->nframes; j++)
		x_free(&ps->frames[j].boundary);
	ps->nframes = k + 1;
	ps->cur = target;
	ps->in_header = false;
	if (close) {
		ps->frames[k].closed = true;
		return 0;
	}
	int r = new_part(ps, target, l->next, ps->lf + l->has_lf, ps->blf + l->bare_lf);
	if (r > 0) {
		/* Part limit: stop splitting; the rest is body of target. */
		ps->overflow = true;
		for (unsigned j = 0; j < ps->nframes; j++)
			ps->frames[j].closed = true;
		return 0;
	}
	return r;
}

static int header_line(struct pstate *ps, const struct mime_line *l, bool *is_body_r)
{
	struct mime_message *m = ps->m;
	size_t colon, nlen;
	size_t content = (size_t)(l->eol - l->start);

	*is_body_r = false;
	if (l->head_len > 0 && (l->head[0] == ' ' || l->head[0] == '\t') && ps->header_has_line) {
		if (ps->in_ctype && mime_src_append(&m->src, l->start, content, &ps->ctype,
						    m->lim.max_field_len) < 0)
			return -1;
		return 0;
	}
	nlen = mime_field_name_len(l->head, l->head_len, &colon);
	if (nlen == 0 && !ps->header_has_line) {
		/* No header at all: the part starts with its body. */
		*is_body_r = true;
		return 0;
	}
	ps->header_has_line = true;
	ps->in_ctype = nlen == 12 && strncasecmp((const char *)l->head, "content-type", 12) == 0 &&
		       !ps->have_ctype;
	if (ps->in_ctype) {
		ps->have_ctype = true;
		if (mime_src_append(&m->src, l->start + colon + 1, content - colon - 1, &ps->ctype,
				    m->lim.max_field_len) < 0)
			return -1;
	}
	return 0;
}

static int parse_all(struct pstate *ps)
{
	struct mime_message *m = ps->m;
	struct mime_line l;
	uint64_t off = 0;
	int r;

	if (new_part(ps, MIME_NONE, 0, 0, 0) != 0)
		return -1;
	while ((r = mime_src_line(&m->src, off, m->src.size, &l)) > 0) {
		bool close, redo;
		int k = ps->overflow ? -1 : boundary_match(ps, &l, &close);

		if (k >= 0) {
			if (on_boundary(ps, &l, (unsigned)k, close) < 0)
				return -1;
		} else {
			do {
				redo = false;
				if (!ps->in_header)
					break;
				if (l.eol == l.start) {
					if (finish_header(ps, l.next, ps->lf + l.has_lf,
							  ps->blf + l.bare_lf) < 0)
						return -1;
					break;
				}
				bool is_body;
				if (header_line(ps, &l, &is_body) < 0)
					return -1;
				if (is_body) {
					if (finish_header(ps, l.start, ps->lf, ps->blf) < 0)
						return -1;
					/* A nested message starts on this very line. */
					redo = ps->in_header;
				}
			} while (redo);
		}
		ps->have_prev = true;
		ps->prev_eol = l.eol;
		ps->prev_lf = ps->lf;
		ps->prev_blf = ps->blf;
		ps->prev_nonempty = l.eol > l.start;
		ps->lf += l.has_lf;
		ps->blf += l.bare_lf;
		off = l.next;
	}
	if (r < 0)
		return -1;

	uint64_t size = m->src.size;
	bool partial = false;
	if (size > 0) {
		size_t avail;
		const unsigned char *p = mime_src_get(&m->src, size - 1, &avail);

		if (p == NULL)
			return -1;
		partial = p[0] != '\n';
	}
	if (ps->in_header && ps->have_ctype) {
		/* Header without end: still learn the type, for the flags. */
		struct mime_part *cp = &m->parts[ps->cur];
		struct mime_content c;

		if (mime_content_parse(ps->ctype.data, ps->ctype.len, false, &c) == 0) {
			str_copy(cp->type, c.type, sizeof(cp->type));
			str_copy(cp->subtype, c.subtype, sizeof(cp->subtype));
			mime_content_free(&c);
		}
		if (strcmp(cp->type, "text") == 0)
			cp->flags |= MIME_PART_TEXT;
		if (strcmp(cp->type, "multipart") == 0)
			cp->flags |= MIME_PART_MULTIPART | MIME_PART_OPAQUE;
		if (strcmp(cp->type, "message") == 0 && strcmp(cp->subtype, "rfc822") == 0)
			cp->flags |= MIME_PART_MESSAGE | MIME_PART_OPAQUE;
	} else if (ps->in_header && parent_is_digest(m, &m->parts[ps->cur])) {
		str_copy(m->parts[ps->cur].type, "message", sizeof(m->parts[0].type));
		str_copy(m->parts[ps->cur].subtype, "rfc822", sizeof(m->parts[0].subtype));
		m->parts[ps->cur].flags |= MIME_PART_MESSAGE | MIME_PART_OPAQUE;
	} else if (ps->in_header) {
		m->parts[ps->cur].flags |= MIME_PART_TEXT;
	}
	for (uint32_t p = ps->cur; p != MIME_NONE; p = m->parts[p].parent)
		end_part(ps, p, size, ps->lf, ps->blf, partial);
	/* A multipart in which no boundary was found has no parts to show. */
	for (uint32_t i = 0; i < m->nparts; i++) {
		struct mime_part *p = &m->parts[i];

		if ((p->flags & MIME_PART_MULTIPART) && p->nchildren == 0)
			p->flags |= MIME_PART_OPAQUE;
		if ((p->flags & MIME_PART_MESSAGE) && p->nchildren == 0)
			p->flags |= MIME_PART_OPAQUE;
	}
	return 0;
}

static struct mime_message *parse_src(struct mime_message *m, const struct mime_limits *lim,
				      const char **error_r)
{
	struct pstate ps;
	int r;

	if (lim != NULL)
		m->lim = *lim;
	else
		mime_limits_default(&m->lim);
	if (m->lim.window < 2 * MIME_LINE_HEAD)
		m->lim.window = 2 * MIME_LINE_HEAD;
	if (m->lim.max_parts == 0)
		m->lim.max_parts = 1;
	m->src.cap = m->lim.window;
	if (m->src.mem == NULL) {
		m->src.buf = malloc(m->src.cap);
		if (m->src.buf == NULL) {
			free(m);
			*error_r = "out of memory";
			return NULL;
		}
	}
	memset(&ps, 0, sizeof(ps));
	ps.m = m;
	strbuf_init(&ps.ctype, m->lim.max_field_len + 1);
	ps.frames = calloc(m->lim.max_depth + 2, sizeof(*ps.frames));
	r = ps.frames == NULL ? -1 : parse_all(&ps);
	mime_note_peak(m, m->src.cap + ps.ctype.cap + (size_t)m->parts_cap * sizeof(struct mime_part));
	if (ps.frames != NULL) {
		for (unsigned j = 0; j < ps.nframes; j++)
			free(ps.frames[j].boundary);
		free(ps.frames);
	}
	strbuf_free(&ps.ctype);
	if (r < 0) {
		*error_r = m->src.read_error ? "read error on the message file" : "out of memory";
		mime_message_free(&m);
		return NULL;
	}
	return m;
}

struct mime_message *mime_parse_fd(int fd, uint64_t size, const struct mime_limits *lim,
				   const char **error_r)
{
	return mime_parse_fd_at(fd, 0, size, lim, error_r);
}

struct mime_message *mime_parse_fd_at(int fd, uint64_t offset, uint64_t size,
				      const struct mime_limits *lim, const char **error_r)
{
	const char *dummy;
	struct mime_message *m = calloc(1, sizeof(*m));

	if (error_r == NULL)
		error_r = &dummy;
	if (m == NULL) {
		*error_r = "out of memory";
		return NULL;
	}
	m->src.fd = fd;
	m->src.base = offset;
	m->src.size = size;
	return parse_src(m, lim, error_r);
}

struct mime_message *mime_parse_mem(const void *data, size_t size, const struct mime_limits *lim,
				    const char **error_r)
{
	static const unsigned char empty[1];
	const char *dummy;
	struct mime_message *m = calloc(1, sizeof(*m));

	if (error_r == NULL)
		error_r = &dummy;
	if (m == NULL) {
		*error_r = "out of memory";
		return NULL;
	}
	m->src.fd = -1;
	m->src.mem = data != NULL ? data : empty;
	m->src.size = data != NULL ? size : 0;
	return parse_src(m, lim, error_r);
}

void mime_message_free(struct mime_message **msg)
{
	if (*msg == NULL)
		return;
	free((*msg)->src.buf);
	free((*msg)->parts);
	x_free(msg);
}

uint32_t mime_part_count(const struct mime_message *msg)
{
	return msg->nparts;
}

const struct mime_part *mime_part_get(const struct mime_message *msg, uint32_t idx)
{
	return idx < msg->nparts ? &msg->parts[idx] : NULL;
}

uint64_t mime_message_size(const struct mime_message *msg, bool crlf)
{
	const struct mime_part *p = &msg->parts[0];

	return crlf ? p->hdr_crlf_size + p->body_crlf_size : msg->src.size;
}

size_t mime_buffer_peak(const struct mime_message *msg)
{
	return msg->peak;
}

int mime_read(struct mime_message *msg, uint64_t off, void *buf, size_t len, const char **error_r)
{
	unsigned char *out = buf;

	if (off > msg->src.size || len > msg->src.size - off) {
		*error_r = "read past the end of the message";
		return -1;
	}
	while (len > 0) {
		size_t avail;
		const unsigned char *p = mime_src_get(&msg->src, off, &avail);

		if (p == NULL) {
			*error_r = "read error on the message file";
			return -1;
		}
		if (avail > len)
			avail = len;
		memcpy(out, p, avail);
		out += avail;
		off += avail;
		len -= avail;
	}
	return 0;
}
