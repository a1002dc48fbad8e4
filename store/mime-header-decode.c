/*
 * mime-header-decode.c - RFC 2047 encoded words in header values, decoded to UTF-8
 * for SEARCH, for file names and for anyone showing a header to a person.
 * Called by store/mime-*.c and the IMAP role.
 *
 * RFC 2047 2 (syntax "=?charset?B|Q?text?="), 4.1/4.2 (B and Q), 6.2
 * (whitespace between adjacent encoded words is ignored), RFC 2231 5
 * (charset*language). Lenient where mail is broken in practice: words not
 * separated by whitespace from text, bad base64 (invalid characters
 * skipped, missing padding accepted), lone '=' in Q kept. An encoded word
 * contains no whitespace, so a stray "=?" in text is left alone. Raw
 * 8-bit text outside encoded words is kept when it is UTF-8, read as
 * GB18030 when it converts cleanly (raw GBK headers from Chinese mailers),
 * and otherwise gets U+FFFD for each bad byte.
 */
#include <errno.h>
#include <string.h>
#include <strings.h>

#include "base64.h"
#include "mime-private.h"

struct ew {
	size_t cs, cs_len;      /* charset */
	char enc;               /* 'B' or 'Q' */
	size_t text, text_len;
	size_t end;             /* index after "?=" */
};

static bool ew_parse(const char *s, size_t len, size_t i, struct ew *w)
{
	size_t j;

	if (i + 1 >= len || s[i] != '=' || s[i + 1] != '?')
		return false;
	j = i + 2;
	w->cs = j;
	while (j < len && s[j] != '?' && !mime_is_ws((unsigned char)s[j]) && j - w->cs < 60)
		j++;
	if (j >= len || s[j] != '?' || j == w->cs)
		return false;
	w->cs_len = j - w->cs;
	j++;
	if (j + 1 >= len || s[j + 1] != '?')
		return false;
	w->enc = (char)(s[j] & ~0x20);
	if (w->enc != 'B' && w->enc != 'Q')
		return false;
	j += 2;
	w->text = j;
	while (j + 1 < len && !(s[j] == '?' && s[j + 1] == '=')) {
		if (mime_is_ws((unsigned char)s[j]))
			return false;
		j++;
	}
	if (j + 1 >= len)
		return false;
	w->text_len = j - w->text;
	w->end = j + 2;
	return true;
}

static int decode_b(const char *t, size_t n, struct strbuf *out)
{
	unsigned acc = 0;
	int bits = 0;

	for (size_t i = 0; i < n; i++) {
		int v = base64_value((unsigned char)t[i]);

		if (v < 0)
			continue;
		acc = (acc << 6) | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (strbuf_putc(out, (char)((acc >> bits) & 0xFF)) < 0)
				return -1;
		}
	}
	return 0;
}

static int decode_q(const char *t, size_t n, struct strbuf *out)
{
	for (size_t i = 0; i < n; i++) {
		char c = t[i];
		int h, l;

		if (c == '_') {
			c = ' ';
		} else if (c == '=' && i + 2 < n && (h = mime_hex_value((unsigned char)t[i + 1])) >= 0 &&
			   (l = mime_hex_value((unsigned char)t[i + 2])) >= 0) {
			c = (char)(h * 16 + l);
			i += 2;
		}
		if (strbuf_putc(out, c) < 0)
			return -1;
	}
	return 0;
}

struct dec {
	struct strbuf *out;
	struct strbuf pend;      /* decoded bytes of adjacent words */
	char cs[64];
	size_t raw_start, raw_len;  /* raw text waiting for the UTF-8 check */
	const char *s;
};

static int flush_words(struct dec *d)
{
	if (d->pend.len == 0)
		return 0;
	int r = mime_charset_to_utf8(d->cs, d->pend.data, d->pend.len, d->out);
	strbuf_reset(&d->pend);
	return r < 0 ? -1 : 0;
}

/* raw 8-bit text that is not UTF-8: GB18030 when it converts without a
 * single error (Chinese mailers send raw GBK headers), else U+FFFD */
static int raw_8bit(const char *p, size_t n, struct strbuf *out)
{
	iconv_t cd = iconv_open("UTF-8", "GB18030");
	char *in = (char *)p, obuf[1024];
	size_t inleft = n, start = out->len;
	bool ok = cd != (iconv_t)-1;

	while (ok && inleft > 0) {
		char *op = obuf;
		size_t oleft = sizeof(obuf);
		size_t r = iconv(cd, &in, &inleft, &op, &oleft);
		int e = errno;

		if (strbuf_append(out, obuf, (size_t)(op - obuf)) < 0)
			ok = false;
		if (r == (size_t)-1 && e != E2BIG)
			ok = false;
	}
	if (cd != (iconv_t)-1)
		iconv_close(cd);
	if (ok)
		return 0;
	out->len = start;
	if (out->data != NULL)
		out->data[start] = '\0';
	return mime_utf8_sanitize(p, n, out);
}

static int flush_raw(struct dec *d)
{
	int r = 0;
	struct strbuf tmp;

	if (d->raw_len > 0) {
		/* valid UTF-8 (or ASCII) passes unchanged */
		strbuf_init(&tmp, 0);
		r = mime_utf8_sanitize(d->s + d->raw_start, d->raw_len, &tmp);
		if (r == 0 && tmp.len == d->raw_len)
			r = strbuf_append(d->out, tmp.data, tmp.len);
		else if (r == 0)
			r = raw_8bit(d->s + d->raw_start, d->raw_len, d->out);
		strbuf_free(&tmp);
	}
	d->raw_len = 0;
	return r;
}

int mime_header_decode(const char *in, size_t len, struct strbuf *out)
{
	struct dec d;
	struct ew w;
	size_t i = 0;
	bool last_ew = false;
	int rc = -1;

	if (in == NULL)
		in = "";
	memset(&d, 0, sizeof(d));
	d.out = out;
	d.s = in;
	strbuf_init(&d.pend, 0);
	while (i < len) {
		if (mime_is_ws((unsigned char)in[i]) && last_ew) {
			size_t j = i;

			while (j < len && mime_is_ws((unsigned char)in[j]))
				j++;
			if (ew_parse(in, len, j, &w)) {
				i = j;          /* RFC 2047 6.2: the whitespace vanishes */
				continue;
			}
			last_ew = false;
			continue;
		}
		if (in[i] == '=' && ew_parse(in, len, i, &w)) {
			char cs[64];

			memcpy(cs, in + w.cs, w.cs_len);
			cs[w.cs_len] = '\0';
			if (flush_raw(&d) < 0)
				goto out;
			if (d.pend.len > 0 && strcasecmp(cs, d.cs) != 0 && flush_words(&d) < 0)
				goto out;
			str_copy(d.cs, cs, sizeof(d.cs));
			if ((w.enc == 'B' ? decode_b(in + w.text, w.text_len, &d.pend) :
					    decode_q(in + w.text, w.text_len, &d.pend)) < 0)
				goto out;
			i = w.end;
			last_ew = true;
			continue;
		}
		if (flush_words(&d) < 0)
			goto out;
		if (d.raw_len == 0)
			d.raw_start = i;
		d.raw_len++;
		i++;
		last_ew = false;
	}
	if (flush_words(&d) < 0 || flush_raw(&d) < 0)
		goto out;
	rc = 0;
out:
	strbuf_free(&d.pend);
	return rc;
}
