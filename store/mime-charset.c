/*
 * mime-charset.c - conversion of message bytes in any charset to UTF-8
 * with iconv(3), for RFC 2047 words, RFC 2231 parameters and SEARCH text.
 * Called by store/mime-*.c.
 *
 * Mail labels charsets loosely: GB2312 mail is usually GBK, ISO-8859-1 is
 * usually Windows-1252, Shift_JIS is usually CP932; convert with the
 * superset (as WHATWG's encoding table does) so that no text is lost.
 * Bytes that cannot be converted become U+FFFD; unknown charsets fall
 * back to "UTF-8 with replacement", never to an error.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mime-private.h"

static const char REPLACEMENT[] = "\xEF\xBF\xBD";

static const struct {
	const char *name, *iconv_name;
} aliases[] = {
	{ "gb2312", "GB18030" }, { "gbk", "GB18030" }, { "x-gbk", "GB18030" },
	{ "cp936", "GB18030" }, { "euc-cn", "GB18030" }, { "gb_2312-80", "GB18030" },
	{ "x-gb2312", "GB18030" }, { "iso-8859-1", "WINDOWS-1252" },
	{ "latin1", "WINDOWS-1252" }, { "iso_8859-1", "WINDOWS-1252" },
	{ "shift_jis", "CP932" }, { "x-sjis", "CP932" }, { "sjis", "CP932" },
	{ "ks_c_5601-1987", "CP949" }, { "euc-kr", "CP949" }, { "big5", "BIG5-HKSCS" },
	{ "tis-620", "CP874" }, { "iso-8859-9", "WINDOWS-1254" },
};

/*
 * utf8_seq - length of the valid UTF-8 sequence at p (1-4), 0 when the
 * byte at p cannot start one, -1 when the sequence is cut off by the end.
 */
static int utf8_seq(const unsigned char *p, size_t len)
{
	unsigned char c = p[0];
	int n;
	unsigned lo = 0x80, hi = 0xBF;

	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF)
		n = 2;
	else if (c >= 0xE0 && c <= 0xEF)
		n = 3;
	else if (c >= 0xF0 && c <= 0xF4)
		n = 4;
	else
		return 0;
	if (c == 0xE0)
		lo = 0xA0;
	else if (c == 0xED)
		hi = 0x9F;
	else if (c == 0xF0)
		lo = 0x90;
	else if (c == 0xF4)
		hi = 0x8F;
	for (int i = 1; i < n; i++) {
		if ((size_t)i >= len)
			return -1;
		if (p[i] < (i == 1 ? lo : 0x80) || p[i] > (i == 1 ? hi : 0xBF))
			return 0;
	}
	return n;
}

/* utf8_run - sanitize; returns bytes consumed (an incomplete tail is
 * left when !final), or -1 when out is full. */
static ssize_t utf8_run(const unsigned char *p, size_t len, bool final, struct strbuf *out)
{
	size_t i = 0, start = 0;

	if (len == 0)
		return 0;
	while (i < len) {
		int n = utf8_seq(p + i, len - i);

		if (n > 0) {
			i += (size_t)n;
			continue;
		}
		if (strbuf_append(out, p + start, i - start) < 0)
			return -1;
		if (n < 0 && !final)
			return (ssize_t)i;
		if (strbuf_append(out, REPLACEMENT, 3) < 0)
			return -1;
		/* a cut-off sequence at the very end is one bad character */
		i = n < 0 ? len : i + 1;
		start = i;
	}
	if (strbuf_append(out, p + start, i - start) < 0)
		return -1;
	return (ssize_t)i;
}

int mime_utf8_sanitize(const void *in, size_t len, struct strbuf *out)
{
	return utf8_run(in, len, true, out) < 0 ? -1 : 0;
}

int mime_conv_open(struct mime_conv *c, const char *charset)
{
	char name[64];
	const char *use;
	size_t n = 0;

	memset(c, 0, sizeof(*c));
	c->cd = (iconv_t)-1;
	c->utf8 = true;
	/* RFC 2231 5: "charset*language" */
	while (charset[n] && charset[n] != '*' && n + 1 < sizeof(name)) {
		name[n] = (charset[n] >= 'A' && charset[n] <= 'Z') ? (char)(charset[n] + 32) : charset[n];
		n++;
	}
	name[n] = '\0';
	if (strcmp(name, "utf-8") == 0 || strcmp(name, "utf8") == 0 || strcmp(name, "us-ascii") == 0 ||
	    strcmp(name, "ascii") == 0 || name[0] == '\0')
		return name[0] == '\0' ? 1 : 0;
	/* only plain names reach iconv: no "//TRANSLIT" suffixes, no paths */
	for (size_t i = 0; i < n; i++) {
		char ch = name[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || strchr("-_.:+", ch)))
			return 1;
	}
	use = name;
	for (size_t i = 0; i < sizeof(aliases) / sizeof(aliases[0]); i++)
		if (strcmp(name, aliases[i].name) == 0)
			use = aliases[i].iconv_name;
	c->cd = iconv_open("UTF-8", use);
	if (c->cd == (iconv_t)-1)
		return 1;
	c->utf8 = false;
	return 0;
}

static int conv_run(struct mime_conv *c, const unsigned char *p, size_t len, bool final,
		    struct strbuf *out, size_t *used_r)
{
	char obuf[4096];
	char *inp = (char *)p;
	size_t inleft = len;

	*used_r = len;
	if (c->utf8) {
		ssize_t u = utf8_run(p, len, final, out);
		if (u < 0)
			return -1;
		*used_r = (size_t)u;
		return 0;
	}
	while (inleft > 0) {
		char *op = obuf;
		size_t oleft = sizeof(obuf);
		size_t r = iconv(c->cd, &inp, &inleft, &op, &oleft);
		int e = errno;

		if (strbuf_append(out, obuf, (size_t)(op - obuf)) < 0)
			return -1;
		if (r != (size_t)-1 || e == E2BIG)
			continue;
		if (e == EINVAL && !final) {
			*used_r = len - inleft;
			return 0;
		}
		if (strbuf_append(out, REPLACEMENT, 3) < 0)
			return -1;
		if (e == EINVAL) {
			inleft = 0;
			break;
		}
		/* EILSEQ: skip one byte and go on */
		inp++;
		inleft--;
	}
	if (final) {
		/* stateful charsets (ISO-2022-JP) end in their initial state */
		char *op = obuf;
		size_t oleft = sizeof(obuf);

		iconv(c->cd, NULL, NULL, &op, &oleft);
		if (strbuf_append(out, obuf, (size_t)(op - obuf)) < 0)
			return -1;
	}
	*used_r = len - inleft;
	return 0;
}

int mime_conv_feed(struct mime_conv *c, const void *in, size_t len, bool final, struct strbuf *out)
{
	const unsigned char *p = in != NULL ? in : (const void *)"";
	size_t used;

	if (c->ncarry > 0) {
		/* Complete the carried sequence with a few new bytes first. */
		unsigned char tmp[sizeof(c->carry) * 2];
		size_t take = sizeof(tmp) - c->ncarry;

		if (take > len)
			take = len;
		memcpy(tmp, c->carry, c->ncarry);
		memcpy(tmp + c->ncarry, p, take);
		size_t tlen = c->ncarry + take;
		if (conv_run(c, tmp, tlen, final && take == len, out, &used) < 0)
			return -1;
		if (used < c->ncarry) {
			if (take == len && !final && tlen <= sizeof(c->carry)) {
				memcpy(c->carry, tmp, tlen);
				c->ncarry = tlen;
				return 0;
			}
			/* cannot be completed: drop it */
			c->ncarry = 0;
			if (strbuf_append(out, REPLACEMENT, 3) < 0)
				return -1;
			used = 0;
		} else {
			used -= c->ncarry;
		}
		c->ncarry = 0;
		p += used;
		len -= used;
	}
	if (conv_run(c, p, len, final, out, &used) < 0)
		return -1;
	if (used < len) {
		size_t rest = len - used;

		if (rest > sizeof(c->carry)) {
			if (strbuf_append(out, REPLACEMENT, 3) < 0)
				return -1;
			rest = 0;
		}
		memcpy(c->carry, p + used, rest);
		c->ncarry = rest;
	}
	return 0;
}

void mime_conv_close(struct mime_conv *c)
{
	if (c->cd != (iconv_t)-1)
		iconv_close(c->cd);
	c->cd = (iconv_t)-1;
}

int mime_charset_to_utf8(const char *charset, const void *in, size_t len, struct strbuf *out)
{
	struct mime_conv c;
	int unknown = mime_conv_open(&c, charset);
	int r = mime_conv_feed(&c, in, len, true, out);

	mime_conv_close(&c);
	return r < 0 ? -1 : unknown;
}
