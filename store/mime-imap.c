/*
 * mime-imap.c - IMAP FETCH views of a parsed message: ENVELOPE, BODY and
 * BODYSTRUCTURE (RFC 3501 7.4.2 and the formal syntax in 9), and the
 * string/literal quoting they need. Called by the store (to cache them
 * in the index) and by the IMAP role.
 *
 * Strings are quoted when they are printable 7-bit without '"' or '\',
 * otherwise sent as literals; NULs are dropped (RFC 3501 9: CHAR8 has no
 * NUL). Envelope values are the raw unfolded header values (clients decode
 * RFC 2047). Types, subtypes, encodings, disposition types and parameter
 * names are upper-cased; a text part without a charset gets CHARSET
 * us-ascii (RFC 2045 5.2). RFC 2231 parameters appear joined as one
 * "NAME*" with the charset''%XX value. Sizes count bare LF as CRLF.
 * The part tree is walked with an explicit stack (its depth is bounded by
 * the parser's max_depth).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mime-private.h"

int mime_imap_nstring(struct strbuf *out, const char *data, size_t len)
{
	bool quoted = true;
	size_t nuls = 0;

	if (data == NULL)
		return strbuf_puts(out, "NIL");
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)data[i];

		if (c == 0)
			nuls++;
		if (c < 0x20 || c > 0x7e || c == '"' || c == '\\')
			quoted = false;
	}
	if (quoted) {
		if (strbuf_putc(out, '"') < 0 || strbuf_append(out, data, len) < 0 ||
		    strbuf_putc(out, '"') < 0)
			return -1;
		return 0;
	}
	if (strbuf_printf(out, "{%zu}\r\n", len - nuls) < 0)
		return -1;
	for (size_t i = 0, st = 0; i <= len; i++) {
		if (i == len || data[i] == '\0') {
			if (strbuf_append(out, data + st, i - st) < 0)
				return -1;
			st = i + 1;
		}
	}
	return 0;
}

static int nstring_sb(struct strbuf *out, const struct strbuf *v, bool present)
{
	return mime_imap_nstring(out, present ? (v->data ? v->data : "") : NULL, v->len);
}

static int upper_string(struct strbuf *out, const char *s)
{
	char buf[256];
	size_t n = str_copy(buf, s, sizeof(buf));

	if (n >= sizeof(buf))
		n = sizeof(buf) - 1;
	for (size_t i = 0; i < n; i++)
		if (buf[i] >= 'a' && buf[i] <= 'z')
			buf[i] = (char)(buf[i] - 32);
	return mime_imap_nstring(out, buf, n);
}

/* ---- ENVELOPE ---- */

enum { E_DATE, E_SUBJECT, E_FROM, E_SENDER, E_REPLY_TO, E_TO, E_CC, E_BCC, E_IN_REPLY_TO,
       E_MESSAGE_ID, E_COUNT };
static const char *const env_names[E_COUNT] = {
	"date", "subject", "from", "sender", "reply-to", "to", "cc", "bcc", "in-reply-to", "message-id",
};

struct collect {
	const char *const *names;
	size_t n;
	struct strbuf *vals;
	bool *have;
	bool oom;
};

static int collect_cb(const char *name, const char *value, size_t len, uint64_t raw_off,
		      uint64_t raw_len, void *ctx)
{
	struct collect *c = ctx;

	for (size_t i = 0; i < c->n; i++) {
		if (c->have[i] || strcasecmp(name, c->names[i]) != 0)
			continue;
		c->have[i] = true;
		if (strbuf_append(&c->vals[i], value, len) < 0)
			c->oom = true;
	}
	return c->oom ? 1 : 0;
}

static int collect_fields(struct mime_message *msg, uint32_t part, const char *const *names, size_t n,
			  struct strbuf *vals, bool *have, const char **error_r)
{
	struct collect c = { names, n, vals, have, false };

	for (size_t i = 0; i < n; i++) {
		strbuf_init(&vals[i], 0);
		have[i] = false;
	}
	if (mime_header_foreach(msg, part, collect_cb, &c, error_r) < 0)
		return -1;
	if (c.oom) {
		*error_r = "out of memory";
		return -1;
	}
	return 0;
}

static void free_fields(struct strbuf *vals, size_t n)
{
	for (size_t i = 0; i < n; i++)
		strbuf_free(&vals[i]);
}

/* address list, or 0 entries; returns -1 on OOM */
static int addr_list(struct strbuf *out, const struct strbuf *v, bool have, size_t *count_r, bool write)
{
	struct mime_address *a = NULL;
	size_t n = 0;
	int r = 0;

	*count_r = 0;
	if (!have)
		return write ? strbuf_puts(out, "NIL") : 0;
	if (mime_address_parse(v->data ? v->data : "", v->len, &a, &n) < 0)
		return -1;
	*count_r = n;
	if (write) {
		if (n == 0)
			r = strbuf_puts(out, "NIL");
		else
			r = strbuf_putc(out, '(');
		for (size_t i = 0; i < n && r == 0; i++) {
			r |= strbuf_putc(out, '(');
			r |= mime_imap_nstring(out, a[i].name, a[i].name ? strlen(a[i].name) : 0);
			r |= strbuf_putc(out, ' ');
			r |= mime_imap_nstring(out, a[i].adl, a[i].adl ? strlen(a[i].adl) : 0);
			r |= strbuf_putc(out, ' ');
			r |= mime_imap_nstring(out, a[i].mailbox, a[i].mailbox ? strlen(a[i].mailbox) : 0);
			r |= strbuf_putc(out, ' ');
			r |= mime_imap_nstring(out, a[i].host, a[i].host ? strlen(a[i].host) : 0);
			r |= strbuf_putc(out, ')');
		}
		if (n > 0 && r == 0)
			r = strbuf_putc(out, ')');
	}
	mime_address_free(&a, n);
	return r < 0 ? -1 : 0;
}

int mime_envelope(struct mime_message *msg, uint32_t part, struct strbuf *out, const char **error_r)
{
	struct strbuf v[E_COUNT];
	bool have[E_COUNT];
	size_t n;
	int r = 0;

	if (collect_fields(msg, part, env_names, E_COUNT, v, have, error_r) < 0) {
		free_fields(v, E_COUNT);
		return -1;
	}
	r |= strbuf_putc(out, '(');
	r |= nstring_sb(out, &v[E_DATE], have[E_DATE]);
	r |= strbuf_putc(out, ' ');
	r |= nstring_sb(out, &v[E_SUBJECT], have[E_SUBJECT]);
	r |= strbuf_putc(out, ' ');
	r |= addr_list(out, &v[E_FROM], have[E_FROM], &n, true);
	for (int k = E_SENDER; k <= E_REPLY_TO && r == 0; k++) {
		size_t cnt;

		/* RFC 3501 7.4.2: absent or empty Sender/Reply-To are From */
		r |= strbuf_putc(out, ' ');
		r |= addr_list(out, &v[k], have[k], &cnt, false);
		if (r == 0)
			r |= cnt > 0 ? addr_list(out, &v[k], true, &cnt, true) :
				       addr_list(out, &v[E_FROM], have[E_FROM], &cnt, true);
	}
	for (int k = E_TO; k <= E_BCC && r == 0; k++) {
		r |= strbuf_putc(out, ' ');
		r |= addr_list(out, &v[k], have[k], &n, true);
	}
	r |= strbuf_putc(out, ' ');
	r |= nstring_sb(out, &v[E_IN_REPLY_TO], have[E_IN_REPLY_TO]);
	r |= strbuf_putc(out, ' ');
	r |= nstring_sb(out, &v[E_MESSAGE_ID], have[E_MESSAGE_ID]);
	r |= strbuf_putc(out, ')');
	free_fields(v, E_COUNT);
	if (r != 0) {
		*error_r = "envelope too long for the buffer or out of memory";
		return -1;
	}
	return 0;
}

/* ---- BODY / BODYSTRUCTURE ---- */

enum { B_TYPE, B_ID, B_DESC, B_ENC, B_MD5, B_DSP, B_LANG, B_LOC, B_COUNT };
static const char *const body_names[B_COUNT] = {
	"content-type", "content-id", "content-description", "content-transfer-encoding",
	"content-md5", "content-disposition", "content-language", "content-location",
};

struct bhdr {
	struct strbuf v[B_COUNT];
	bool have[B_COUNT];
	struct mime_content ct;
	bool ct_ok;
};

static int bhdr_read(struct mime_message *msg, uint32_t part, struct bhdr *h, const char **error_r)
{
	memset(&h->ct, 0, sizeof(h->ct));
	h->ct_ok = false;
	if (collect_fields(msg, part, body_names, B_COUNT, h->v, h->have, error_r) < 0)
		return -1;
	if (h->have[B_TYPE]) {
		int r = mime_content_parse(h->v[B_TYPE].data, h->v[B_TYPE].len, false, &h->ct);

		if (r < 0) {
			*error_r = "out of memory";
			return -1;
		}
		h->ct_ok = r == 0;
	}
	return 0;
}

static void bhdr_free(struct bhdr *h)
{
	free_fields(h->v, B_COUNT);
	mime_content_free(&h->ct);
}

static int params(struct strbuf *out, const struct mime_param *p, size_t n, bool add_charset)
{
	int r = 0;

	if (n == 0 && !add_charset)
		return strbuf_puts(out, "NIL");
	r |= strbuf_putc(out, '(');
	if (add_charset)
		r |= strbuf_puts(out, n ? "\"CHARSET\" \"us-ascii\" " : "\"CHARSET\" \"us-ascii\"");
	for (size_t i = 0; i < n && r == 0; i++) {
		char name[256];

		snprintf(name, sizeof(name), "%s%s", p[i].name, p[i].extended ? "*" : "");
		if (i > 0)
			r |= strbuf_putc(out, ' ');
		r |= upper_string(out, name);
		r |= strbuf_putc(out, ' ');
		r |= mime_imap_nstring(out, p[i].raw, strlen(p[i].raw));
	}
	r |= strbuf_putc(out, ')');
	return r;
}

static int ext_fields(struct strbuf *out, struct bhdr *h, bool with_md5)
{
	int r = 0;

	if (with_md5) {
		r |= strbuf_putc(out, ' ');
		r |= nstring_sb(out, &h->v[B_MD5], h->have[B_MD5]);
	}
	r |= strbuf_putc(out, ' ');
	struct mime_content d;
	int dr = h->have[B_DSP] ? mime_content_parse(h->v[B_DSP].data, h->v[B_DSP].len, true, &d) : 1;
	if (dr < 0)
		return -1;
	if (dr == 0) {
		r |= strbuf_putc(out, '(');
		r |= upper_string(out, d.type);
		r |= strbuf_putc(out, ' ');
		r |= params(out, d.params, d.nparams, false);
		r |= strbuf_putc(out, ')');
		mime_content_free(&d);
	} else {
		r |= strbuf_puts(out, "NIL");
	}
	r |= strbuf_putc(out, ' ');
	/* Content-Language: one tag as a string, several as a list */
	if (!h->have[B_LANG] || h->v[B_LANG].len == 0) {
		r |= strbuf_puts(out, "NIL");
	} else {
		const char *s = h->v[B_LANG].data;
		size_t len = h->v[B_LANG].len, count = 0;
		struct strbuf tmp;

		strbuf_init(&tmp, 0);
		for (size_t i = 0; i < len;) {
			while (i < len && (mime_is_ws((unsigned char)s[i]) || s[i] == ','))
				i++;
			size_t st = i;
			while (i < len && !mime_is_ws((unsigned char)s[i]) && s[i] != ',')
				i++;
			if (i == st)
				continue;
			if (count++ > 0)
				r |= strbuf_putc(&tmp, ' ');
			r |= mime_imap_nstring(&tmp, s + st, i - st);
		}
		if (count == 0)
			r |= strbuf_puts(out, "NIL");
		else if (count == 1)
			r |= strbuf_append(out, tmp.data, tmp.len);
		else
			r |= strbuf_putc(out, '(') | strbuf_append(out, tmp.data, tmp.len) | strbuf_putc(out, ')');
		strbuf_free(&tmp);
	}
	r |= strbuf_putc(out, ' ');
	r |= nstring_sb(out, &h->v[B_LOC], h->have[B_LOC]);
	return r;
}

/* the fields up to and including octets (and lines for text) */
static int leaf_start(struct strbuf *out, const struct mime_part *p, struct bhdr *h)
{
	bool opaque = (p->flags & MIME_PART_OPAQUE) != 0;
	const char *type = opaque ? "text" : p->type, *sub = opaque ? "plain" : p->subtype;
	bool text = strcmp(type, "text") == 0;
	const struct mime_param *pp = NULL;
	size_t np = 0;
	int r = 0;

	/* the header's type can differ from the part's when the header was
	 * cut short by a boundary: then its parameters do not apply */
	if (h->ct_ok && !opaque && strcmp(h->ct.type, p->type) == 0 &&
	    strcmp(h->ct.subtype, p->subtype) == 0) {
		pp = h->ct.params;
		np = h->ct.nparams;
	}
	r |= strbuf_putc(out, '(');
	r |= upper_string(out, type);
	r |= strbuf_putc(out, ' ');
	r |= upper_string(out, sub);
	r |= strbuf_putc(out, ' ');
	r |= params(out, pp, np, text && (pp == NULL || !mime_content_param(&h->ct, "charset")));
	r |= strbuf_putc(out, ' ');
	r |= nstring_sb(out, &h->v[B_ID], h->have[B_ID]);
	r |= strbuf_putc(out, ' ');
	r |= nstring_sb(out, &h->v[B_DESC], h->have[B_DESC]);
	r |= strbuf_putc(out, ' ');
	if (h->have[B_ENC] && h->v[B_ENC].len > 0) {
		char enc[64];
		size_t n = 0;

		while (n < h->v[B_ENC].len && n + 1 < sizeof(enc) &&
		       !mime_is_ws((unsigned char)h->v[B_ENC].data[n]) && h->v[B_ENC].data[n] != ';' &&
		       h->v[B_ENC].data[n] != '(') {
			enc[n] = h->v[B_ENC].data[n];
			n++;
		}
		enc[n] = '\0';
		r |= upper_string(out, n ? enc : "7bit");
	} else {
		r |= strbuf_puts(out, "\"7BIT\"");
	}
	r |= strbuf_printf(out, " %llu", (unsigned long long)p->body_crlf_size);
	if (text)
		r |= strbuf_printf(out, " %llu", (unsigned long long)p->body_lines);
	return r;
}

struct bframe {
	uint32_t part;
	int state;
	uint32_t next;
};

int mime_bodystructure(struct mime_message *msg, uint32_t part, bool extended,
		       struct strbuf *out, const char **error_r)
{
	struct bframe *st;
	unsigned top = 0, cap = msg->lim.max_depth + 4;
	int r = 0;

	if (part >= msg->nparts) {
		*error_r = "no such part";
		return -1;
	}
	st = calloc(cap, sizeof(*st));
	if (st == NULL) {
		*error_r = "out of memory";
		return -1;
	}
	st[top++] = (struct bframe){ part, 0, MIME_NONE };
	while (top > 0 && r == 0) {
		struct bframe *f = &st[top - 1];
		const struct mime_part *p = &msg->parts[f->part];
		struct bhdr h;

		if (mime_part_is_multipart(p)) {
			if (f->state == 0) {
				r |= strbuf_putc(out, '(');
				f->state = 1;
				f->next = p->first_child;
			}
			if (f->next != MIME_NONE) {
				uint32_t c = f->next;

				f->next = msg->parts[c].next_sibling;
				if (top >= cap) {
					r = -1;
					break;
				}
				st[top++] = (struct bframe){ c, 0, MIME_NONE };
				continue;
			}
			if (bhdr_read(msg, f->part, &h, error_r) < 0) {
				bhdr_free(&h);
				free(st);
				return -1;
			}
			r |= strbuf_putc(out, ' ');
			r |= upper_string(out, p->subtype);
			if (extended) {
				r |= strbuf_putc(out, ' ');
				r |= params(out, h.ct_ok ? h.ct.params : NULL, h.ct_ok ? h.ct.nparams : 0, false);
				r |= ext_fields(out, &h, false);
			}
			r |= strbuf_putc(out, ')');
			bhdr_free(&h);
			top--;
			continue;
		}
		if (bhdr_read(msg, f->part, &h, error_r) < 0) {
			bhdr_free(&h);
			free(st);
			return -1;
		}
		if (mime_part_is_message(p) && f->state == 0) {
			r |= leaf_start(out, p, &h);
			r |= strbuf_putc(out, ' ');
			if (r == 0 && mime_envelope(msg, p->first_child, out, error_r) < 0) {
				bhdr_free(&h);
				free(st);
				return -1;
			}
			r |= strbuf_putc(out, ' ');
			f->state = 1;
			bhdr_free(&h);
			if (top >= cap) {
				r = -1;
				break;
			}
			st[top++] = (struct bframe){ p->first_child, 0, MIME_NONE };
			continue;
		}
		if (f->state == 0)
			r |= leaf_start(out, p, &h);
		else
			r |= strbuf_printf(out, " %llu", (unsigned long long)p->body_lines);
		if (extended)
			r |= ext_fields(out, &h, true);
		r |= strbuf_putc(out, ')');
		bhdr_free(&h);
		top--;
	}
	free(st);
	if (r != 0) {
		*error_r = "body structure too long for the buffer or out of memory";
		return -1;
	}
	return 0;
}
