/*
 * mime-text.c - the text SEARCH looks at: decoded header values and the
 * body of every text/ part, transfer-decoded (RFC 2045 6.7 quoted-
 * printable, 6.8 base64) and converted to UTF-8, produced chunk by chunk
 * so a 100 MB part never sits in memory. Called by the IMAP role (SEARCH
 * BODY/TEXT/SUBJECT...) and the store.
 *
 * Decoding is lenient the way mail readers are: base64 skips characters
 * outside its alphabet, quoted-printable keeps a '=' not followed by two
 * hex digits. The header of an attached message is searched with the
 * bodies (it is body text of the outer message). Parts left opaque by the parser's limits are searched as
 * raw text. Each part's text ends with a newline so that words of two
 * parts never join.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base64.h"
#include "mime-private.h"

#define TEXT_CHUNK (48 * 1024)

enum cte { CTE_IDENTITY, CTE_BASE64, CTE_QP };

struct mime_text_iter {
	struct mime_message *msg;
	unsigned flags;
	int phase;               /* 0 header, 1 parts, 2 done */
	uint32_t part;
	bool in_part, hdr_done;
	uint64_t pos, end;
	enum cte cte;
	unsigned b64acc;
	int b64bits;
	unsigned char carry[4];
	size_t ncarry;
	struct mime_conv conv;
	struct strbuf out, dec;
	unsigned char *raw;
};

struct mime_text_iter *mime_text_iter_new(struct mime_message *msg, unsigned flags)
{
	struct mime_text_iter *it = calloc(1, sizeof(*it));

	if (it == NULL)
		return NULL;
	it->raw = malloc(TEXT_CHUNK + sizeof(it->carry));
	if (it->raw == NULL) {
		free(it);
		return NULL;
	}
	it->msg = msg;
	it->flags = flags;
	it->conv.cd = (iconv_t)-1;
	strbuf_init(&it->out, 0);
	strbuf_init(&it->dec, 0);
	it->phase = (flags & MIME_TEXT_HEADERS) ? 0 : 1;
	return it;
}

void mime_text_iter_free(struct mime_text_iter **itp)
{
	struct mime_text_iter *it = *itp;

	if (it == NULL)
		return;
	mime_conv_close(&it->conv);
	strbuf_free(&it->out);
	strbuf_free(&it->dec);
	free(it->raw);
	x_free(itp);
}

static int header_cb(const char *name, const char *value, size_t len, uint64_t raw_off,
		     uint64_t raw_len, void *ctx)
{
	struct strbuf *out = ctx;

	/* a header of absurd size is searched only in its first megabyte */
	if (out->len > 1024 * 1024)
		return 1;
	if (strbuf_puts(out, name) < 0 || strbuf_puts(out, ": ") < 0 ||
	    mime_header_decode(value, len, out) < 0 || strbuf_putc(out, '\n') < 0)
		return 1;
	return 0;
}

static const char *const part_fields[] = { "content-type", "content-transfer-encoding" };

struct pf_ctx {
	struct strbuf v[2];
	bool have[2];
};

static int pf_cb(const char *name, const char *value, size_t len, uint64_t raw_off,
		 uint64_t raw_len, void *ctx)
{
	struct pf_ctx *c = ctx;

	for (int i = 0; i < 2; i++)
		if (!c->have[i] && strcasecmp(name, part_fields[i]) == 0) {
			c->have[i] = true;
			if (strbuf_append(&c->v[i], value, len < 1024 ? len : 1024) < 0)
				return 1;
		}
	return 0;
}

static int start_part(struct mime_text_iter *it, const struct mime_part *p, const char **error_r)
{
	struct pf_ctx c;
	char charset[64] = "us-ascii";
	int r;

	memset(&c, 0, sizeof(c));
	strbuf_init(&c.v[0], 0);
	strbuf_init(&c.v[1], 0);
	r = mime_header_foreach(it->msg, it->part, pf_cb, &c, error_r);
	it->cte = CTE_IDENTITY;
	if (r == 0 && c.have[1]) {
		const char *e = c.v[1].data;
		while (*e == ' ' || *e == '\t')
			e++;
		if (strncasecmp(e, "base64", 6) == 0)
			it->cte = CTE_BASE64;
		else if (strncasecmp(e, "quoted-printable", 16) == 0)
			it->cte = CTE_QP;
	}
	if (r == 0 && c.have[0]) {
		struct mime_content ct;

		if (mime_content_parse(c.v[0].data, c.v[0].len, false, &ct) == 0) {
			const char *cs = mime_content_param(&ct, "charset");
			if (cs != NULL && cs[0] != '\0')
				str_copy(charset, cs, sizeof(charset));
			mime_content_free(&ct);
		}
	}
	strbuf_free(&c.v[0]);
	strbuf_free(&c.v[1]);
	if (r < 0)
		return -1;
	mime_conv_close(&it->conv);
	mime_conv_open(&it->conv, charset);
	it->pos = p->body_off;
	it->end = p->end_off;
	it->b64acc = 0;
	it->b64bits = 0;
	it->ncarry = 0;
	it->in_part = true;
	return 0;
}

/* decode raw[0..n) into dec; leaves an unfinished QP escape in carry */
static int cte_decode(struct mime_text_iter *it, const unsigned char *b, size_t n, bool final)
{
	struct strbuf *d = &it->dec;

	if (it->cte == CTE_IDENTITY)
		return strbuf_append(d, b, n);
	if (it->cte == CTE_BASE64) {
		for (size_t i = 0; i < n; i++) {
			int v = base64_value(b[i]);
			if (v < 0)
				continue;
			it->b64acc = (it->b64acc << 6) | (unsigned)v;
			it->b64bits += 6;
			if (it->b64bits >= 8) {
				it->b64bits -= 8;
				if (strbuf_putc(d, (char)((it->b64acc >> it->b64bits) & 0xFF)) < 0)
					return -1;
			}
		}
		return 0;
	}
	size_t i = 0, st = 0;
	while (i < n) {
		if (b[i] != '=') {
			i++;
			continue;
		}
		if (strbuf_append(d, b + st, i - st) < 0)
			return -1;
		size_t left = n - i;
		if (!final && left < 3) {
			memcpy(it->carry, b + i, left);
			it->ncarry = left;
			return 0;
		}
		int h = left > 1 ? mime_hex_value(b[i + 1]) : -1;
		int l = left > 2 ? mime_hex_value(b[i + 2]) : -1;
		if (left > 1 && b[i + 1] == '\n') {
			i += 2;                         /* soft line break */
		} else if (left > 2 && b[i + 1] == '\r' && b[i + 2] == '\n') {
			i += 3;
		} else if (h >= 0 && l >= 0) {
			if (strbuf_putc(d, (char)(h * 16 + l)) < 0)
				return -1;
			i += 3;
		} else {
			if (strbuf_putc(d, '=') < 0)
				return -1;
			i++;
		}
		st = i;
	}
	return strbuf_append(d, b + st, n - st);
}

static int part_chunk(struct mime_text_iter *it, const char **error_r)
{
	size_t n = it->ncarry, want = TEXT_CHUNK;
	bool final;

	memcpy(it->raw, it->carry, it->ncarry);
	it->ncarry = 0;
	if (it->end - it->pos < want)
		want = (size_t)(it->end - it->pos);
	if (want > 0 && mime_read(it->msg, it->pos, it->raw + n, want, error_r) < 0)
		return -1;
	it->pos += want;
	n += want;
	final = it->pos >= it->end;
	strbuf_reset(&it->dec);
	if (cte_decode(it, it->raw, n, final) < 0 ||
	    mime_conv_feed(&it->conv, it->dec.data ? it->dec.data : "", it->dec.len, final, &it->out) < 0) {
		*error_r = "out of memory";
		return -1;
	}
	mime_note_peak(it->msg, TEXT_CHUNK + it->dec.cap + it->out.cap + it->msg->src.cap);
	if (final) {
		it->in_part = false;
		it->part++;
		it->hdr_done = false;
		if (strbuf_putc(&it->out, '\n') < 0) {
			*error_r = "out of memory";
			return -1;
		}
	}
	return 0;
}

int mime_text_iter_next(struct mime_text_iter *it, const char **data_r, size_t *len_r,
			const char **error_r)
{
	strbuf_reset(&it->out);
	if (it->phase == 0) {
		it->phase = 1;
		if (mime_header_foreach(it->msg, 0, header_cb, &it->out, error_r) < 0)
			return -1;
		if (it->out.len > 0) {
			*data_r = it->out.data;
			*len_r = it->out.len;
			return 1;
		}
	}
	if (it->phase == 1 && !(it->flags & MIME_TEXT_BODY))
		it->phase = 2;
	while (it->phase == 1) {
		if (!it->in_part) {
			while (it->part < it->msg->nparts) {
				const struct mime_part *p = &it->msg->parts[it->part];

				/* an attached message's header is text of the
				 * outer message (SEARCH TEXT, RFC 3501 6.4.4) */
				if (!it->hdr_done && p->parent != MIME_NONE &&
				    mime_part_is_message(&it->msg->parts[p->parent])) {
					it->hdr_done = true;
					if (mime_header_foreach(it->msg, it->part, header_cb, &it->out, error_r) < 0)
						return -1;
					if (it->out.len > 0) {
						*data_r = it->out.data;
						*len_r = it->out.len;
						return 1;
					}
				}
				if ((p->flags & (MIME_PART_TEXT | MIME_PART_OPAQUE)) && p->first_child == MIME_NONE)
					break;
				it->part++;
				it->hdr_done = false;
			}
			if (it->part >= it->msg->nparts) {
				it->phase = 2;
				break;
			}
			if (start_part(it, &it->msg->parts[it->part], error_r) < 0)
				return -1;
		}
		if (part_chunk(it, error_r) < 0)
			return -1;
		if (it->out.len > 0) {
			*data_r = it->out.data;
			*len_r = it->out.len;
			return 1;
		}
	}
	return 0;
}

/*
 * fold - lower-case in place: ASCII, Latin-1 letters, Greek and Cyrillic
 * capitals (the scripts where case matters to our users; CJK has none).
 * Each mapping keeps the UTF-8 length, so offsets do not move.
 */
static void fold(unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = p[i];

		if (c >= 'A' && c <= 'Z') {
			p[i] = (unsigned char)(c + 32);
			continue;
		}
		if (i + 1 >= n)
			break;
		unsigned char d = p[i + 1];
		if (c == 0xC3 && d >= 0x80 && d <= 0x9E && d != 0x97) {
			p[i + 1] = (unsigned char)(d + 0x20);           /* À..Þ */
		} else if (c == 0xCE && d >= 0x91 && d <= 0x9F) {
			p[i + 1] = (unsigned char)(d + 0x20);           /* Α..Ο */
		} else if (c == 0xCE && d >= 0xA0 && d <= 0xA9) {
			p[i] = 0xCF;                                    /* Π..Ω */
			p[i + 1] = (unsigned char)(d - 0x20);
		} else if (c == 0xD0 && d >= 0x90 && d <= 0x9F) {
			p[i + 1] = (unsigned char)(d + 0x20);           /* А..П */
		} else if (c == 0xD0 && d >= 0xA0 && d <= 0xAF) {
			p[i] = 0xD1;                                    /* Р..Я */
			p[i + 1] = (unsigned char)(d - 0x20);
		} else if (c == 0xD0 && d >= 0x80 && d <= 0x8F) {
			p[i] = 0xD1;                                    /* Ѐ..Џ */
			p[i + 1] = (unsigned char)(d + 0x10);
		}
		if (c >= 0xC0)
			i++;
	}
}

int mime_text_contains(struct mime_message *msg, unsigned flags, const char *needle,
		       const char **error_r)
{
	size_t nl = strlen(needle);
	struct mime_text_iter *it;
	struct strbuf win;
	const char *data;
	size_t len;
	char *fneedle;
	int r = 0, found = 0;

	if (nl == 0)
		return 1;
	fneedle = strdup(needle);
	it = mime_text_iter_new(msg, flags);
	if (it == NULL || fneedle == NULL) {
		free(fneedle);
		mime_text_iter_free(&it);
		*error_r = "out of memory";
		return -1;
	}
	fold((unsigned char *)fneedle, nl);
	strbuf_init(&win, 0);
	while (!found && (r = mime_text_iter_next(it, &data, &len, error_r)) > 0) {
		size_t old = win.len;

		if (strbuf_append(&win, data, len) < 0) {
			r = -1;
			*error_r = "out of memory";
			break;
		}
		/* chunks hold whole UTF-8 sequences, so fold each as it comes */
		fold((unsigned char *)win.data + old, len);
		found = memmem(win.data, win.len, fneedle, nl) != NULL;
		/* keep the last nl-1 bytes so a match across chunks is seen */
		if (win.len >= nl) {
			size_t keep = nl - 1;
			memmove(win.data, win.data + win.len - keep, keep);
			win.len = keep;
		}
	}
	strbuf_free(&win);
	free(fneedle);
	mime_text_iter_free(&it);
	if (!found && r < 0)
		return -1;
	return found;
}
