/*
 * mime-section.c - IMAP BODY[section] (RFC 3501 6.4.5): from a section
 * spec to the byte range of the stored message to send, or to the built
 * HEADER.FIELDS text. Called by the IMAP role's FETCH; <partial> is
 * applied by the caller to what this returns.
 *
 * Numbering (6.4.5): the parts of a multipart are 1..n; a message that is
 * not multipart has only part 1, its body; the numbers after a
 * message/rfc822 part number the parts of the encapsulated message the
 * same way. HEADER, HEADER.FIELDS[.NOT] and TEXT apply to the message
 * itself (empty part number) or to a message/rfc822 part; MIME to any
 * numbered part. A number that names no part gives "does not exist"
 * (return 1), which IMAP answers with an empty string, as Dovecot does.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mime-private.h"

#define MAX_FIELD_NAMES 128

static uint32_t nth_child(const struct mime_message *msg, uint32_t part, unsigned long k)
{
	uint32_t c = msg->parts[part].first_child;

	while (c != MIME_NONE && --k > 0)
		c = msg->parts[c].next_sibling;
	return c;
}

/* child k of a message's body: the k-th part of a multipart, or the
 * message itself for k == 1 */
static uint32_t message_child(const struct mime_message *msg, uint32_t m, unsigned long k)
{
	if (mime_part_is_multipart(&msg->parts[m]))
		return nth_child(msg, m, k);
	return k == 1 ? m : MIME_NONE;
}

static uint32_t step(const struct mime_message *msg, uint32_t cur, unsigned long k)
{
	const struct mime_part *p;

	if (cur == MIME_NONE)
		return message_child(msg, 0, k);
	p = &msg->parts[cur];
	if (mime_part_is_multipart(p))
		return nth_child(msg, cur, k);
	if (mime_part_is_message(p))
		return message_child(msg, p->first_child, k);
	return MIME_NONE;
}

/* parse "(name name ...)" of HEADER.FIELDS into names; -1 malformed */
static int field_list(const char *s, char names[][256], size_t *n_r)
{
	size_t n = 0;

	while (*s == ' ')
		s++;
	if (*s++ != '(')
		return -1;
	for (;;) {
		size_t len = 0;

		while (*s == ' ')
			s++;
		if (*s == ')')
			break;
		if (*s == '\0' || n >= MAX_FIELD_NAMES)
			return -1;
		if (*s == '"') {
			for (s++; *s && *s != '"'; s++) {
				if (*s == '\\' && s[1])
					s++;
				if (len + 1 < 256)
					names[n][len++] = *s;
			}
			if (*s++ != '"')
				return -1;
		} else {
			while (*s && *s != ' ' && *s != ')' && *s != '(') {
				if (len + 1 < 256)
					names[n][len++] = *s;
				s++;
			}
		}
		if (len == 0)
			return -1;
		names[n++][len] = '\0';
	}
	s++;
	while (*s == ' ')
		s++;
	if (*s != '\0' || n == 0)
		return -1;
	*n_r = n;
	return 0;
}

static void set_range(struct mime_section *sec, uint32_t part, uint64_t a, uint64_t b, uint64_t crlf)
{
	sec->kind = MIME_SECTION_RANGE;
	sec->part = part;
	sec->offset = a;
	sec->length = b - a;
	sec->crlf_length = crlf;
}

int mime_section_find(struct mime_message *msg, const char *spec, struct mime_section *sec,
		      const char **error_r)
{
	const char *s = spec;
	uint32_t cur = MIME_NONE;
	bool numbered = false;

	memset(sec, 0, sizeof(*sec));
	strbuf_init(&sec->data, 0);
	while (*s >= '0' && *s <= '9') {
		unsigned long k = 0;
		unsigned digits = 0;

		while (*s >= '0' && *s <= '9') {
			if (++digits > 9) {
				*error_r = "section part number too large";
				return -1;
			}
			k = k * 10 + (unsigned long)(*s++ - '0');
		}
		if (k == 0) {
			*error_r = "section part number 0";
			return -1;
		}
		if (*s == '.')
			s++;
		else if (*s != '\0') {
			*error_r = "malformed section";
			return -1;
		}
		numbered = true;
		cur = step(msg, cur, k);
		if (cur == MIME_NONE)
			return 1;
	}
	if (s > spec && s[-1] == '.' && *s == '\0') {
		*error_r = "malformed section";
		return -1;
	}
	if (*s == '\0') {
		if (!numbered) {
			const struct mime_part *r = &msg->parts[0];
			set_range(sec, 0, 0, r->end_off, r->hdr_crlf_size + r->body_crlf_size);
		} else {
			const struct mime_part *p = &msg->parts[cur];
			set_range(sec, cur, p->body_off, p->end_off, p->body_crlf_size);
		}
		return 0;
	}
	if (strcasecmp(s, "MIME") == 0) {
		if (!numbered) {
			*error_r = "MIME needs a part number";
			return -1;
		}
		const struct mime_part *p = &msg->parts[cur];
		set_range(sec, cur, p->hdr_off, p->body_off, p->hdr_crlf_size);
		return 0;
	}

	bool is_text = strcasecmp(s, "TEXT") == 0, is_header = strcasecmp(s, "HEADER") == 0;
	bool fields = strncasecmp(s, "HEADER.FIELDS", 13) == 0 && (s[13] == ' ' || s[13] == '(' || s[13] == '.');
	bool not = fields && strncasecmp(s + 13, ".NOT", 4) == 0;
	char (*names)[256] = NULL;
	size_t nnames = 0;

	if (!is_text && !is_header && !fields) {
		*error_r = "unknown section text";
		return -1;
	}
	if (fields) {
		names = calloc(MAX_FIELD_NAMES, sizeof(*names));
		if (names == NULL) {
			*error_r = "out of memory";
			return -1;
		}
		if (field_list(s + 13 + (not ? 4 : 0), names, &nnames) < 0) {
			free(names);
			*error_r = "malformed HEADER.FIELDS list";
			return -1;
		}
	}
	uint32_t m = 0;
	if (numbered) {
		if (!mime_part_is_message(&msg->parts[cur])) {
			free(names);
			return 1;
		}
		m = msg->parts[cur].first_child;
	}
	const struct mime_part *mp = &msg->parts[m];
	if (is_text) {
		set_range(sec, m, mp->body_off, mp->end_off, mp->body_crlf_size);
		return 0;
	}
	if (is_header) {
		set_range(sec, m, mp->hdr_off, mp->body_off, mp->hdr_crlf_size);
		return 0;
	}
	const char *ptrs[MAX_FIELD_NAMES];
	for (size_t i = 0; i < nnames; i++)
		ptrs[i] = names[i];
	sec->kind = MIME_SECTION_DATA;
	sec->part = m;
	int r = mime_header_fields(msg, m, ptrs, nnames, not, &sec->data, error_r);
	free(names);
	if (r < 0) {
		strbuf_free(&sec->data);
		return -1;
	}
	sec->length = sec->crlf_length = sec->data.len;
	return 0;
}

void mime_section_free(struct mime_section *sec)
{
	strbuf_free(&sec->data);
}

int mime_section_reader_init(struct mime_section_reader *r, struct mime_message *msg,
			     const struct mime_section *sec, uint64_t skip, const char **error_r)
{
	unsigned char scratch[4096];

	memset(r, 0, sizeof(*r));
	r->msg = msg;
	r->pos = sec->offset;
	r->end = sec->offset + sec->length;
	if (sec->kind != MIME_SECTION_RANGE) {
		*error_r = "not a range section";
		return -1;
	}
	/* No bare LF in the range: sent bytes are stored bytes. */
	if (sec->crlf_length == sec->length) {
		r->pos += skip < sec->length ? skip : sec->length;
		if (r->pos > sec->offset) {
			size_t avail;
			const unsigned char *p = mime_src_get(&msg->src, r->pos - 1, &avail);

			if (p == NULL) {
				*error_r = "read error on the message file";
				return -1;
			}
			r->prev = p[0];
		}
		return 0;
	}
	/* <partial> counts bytes as sent, so the skip walks the converted
	 * stream; ranges start at a line start, so no CR is lost before. */
	while (skip > 0) {
		ssize_t n = mime_section_reader_read(r, scratch, skip < sizeof(scratch) ? (size_t)skip :
							  sizeof(scratch), error_r);
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		skip -= (uint64_t)n;
	}
	return 0;
}

ssize_t mime_section_reader_read(struct mime_section_reader *r, void *buf, size_t len,
				 const char **error_r)
{
	unsigned char *out = buf;
	size_t o = 0;

	if (r->pending_lf && len > 0) {
		out[o++] = '\n';
		r->pending_lf = false;
	}
	while (o < len && r->pos < r->end) {
		size_t avail;
		const unsigned char *p = mime_src_get(&r->msg->src, r->pos, &avail);

		if (p == NULL) {
			*error_r = "read error on the message file";
			return -1;
		}
		if (avail > r->end - r->pos)
			avail = (size_t)(r->end - r->pos);
		size_t i = 0;
		while (i < avail && o < len) {
			unsigned char c = p[i++];

			if (c == '\n' && r->prev != '\r') {
				out[o++] = '\r';
				if (o == len) {
					r->pending_lf = true;
					r->prev = c;
					break;
				}
			}
			out[o++] = c;
			r->prev = c;
		}
		r->pos += i;
	}
	return (ssize_t)o;
}
