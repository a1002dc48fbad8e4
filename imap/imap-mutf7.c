/*
 * imap-mutf7.c - mailbox names between the client's form (modified UTF-7,
 * RFC 3501 5.1.3, with the configured hierarchy separator) and the
 * store's form (UTF-8, '/' separators, "INBOX" in upper case).
 *
 * Called by every handler that takes or returns a mailbox name (LIST,
 * LSUB, CREATE, DELETE, RENAME, SUBSCRIBE, STATUS, APPEND, SELECT,
 * COPY/MOVE) and by the fuzz harness tests/fuzz/fuzz_imap_mutf7.c.
 *
 * Decoding is strict, because two spellings of one name would let a
 * client create look-alike mailboxes and would break the round trip
 * store -> client -> store: a printable US-ASCII character inside a
 * BASE64 run, two adjacent runs ("&AAA-&BBB-", which one run spells),
 * leftover bits that are not zero or make a whole extra BASE64
 * character, unpaired UTF-16 surrogates, an unterminated "&...", a
 * character outside the modified BASE64 alphabet, and raw 8-bit or
 * control bytes are all refused. After ENABLE UTF8=ACCEPT (RFC 6855 3)
 * names are UTF-8 as sent and '&' is an ordinary character.
 *
 * Separator: with imap_hierarchy_separator = '/' the client's name is the
 * store's. With '.', the client's '.' becomes the store's '/', and a '/'
 * in a client name is refused (NO with the reason): the store would show
 * it as a level of its own, so no spelling could bring it back. Store
 * names that contain '.' cannot be shown to such a client
 * (imap_mailbox_client_representable() says so; LIST leaves them out).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap/imap-private.h"
#include "store/store.h"
#include "util.h"

/* Longest decoded name or pattern we build (the store allows 512 bytes;
 * patterns may be longer than names, with a reference in front). */
#define MUTF7_OUT_MAX 4096

static const char b64_chars[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

static int b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == ',')
		return 63;
	return -1;
}

static int put_utf8(struct strbuf *out, uint32_t cp)
{
	unsigned char b[4];
	size_t n;

	if (cp < 0x80) {
		b[0] = (unsigned char)cp;
		n = 1;
	} else if (cp < 0x800) {
		b[0] = (unsigned char)(0xc0 | (cp >> 6));
		b[1] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		b[0] = (unsigned char)(0xe0 | (cp >> 12));
		b[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
		b[2] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		b[0] = (unsigned char)(0xf0 | (cp >> 18));
		b[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
		b[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
		b[3] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	return strbuf_append(out, b, n);
}

/* One UTF-8 code point at *p (strict: no overlongs, no surrogates, at most
 * U+10FFFF). Returns its length, or 0 when the bytes are not UTF-8. */
static size_t get_utf8(const unsigned char *p, uint32_t *cp_r)
{
	uint32_t cp;
	size_t n;

	if (p[0] < 0x80) {
		*cp_r = p[0];
		return 1;
	}
	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		cp = p[0] & 0x1f;
		n = 2;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		cp = p[0] & 0x0f;
		n = 3;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		cp = p[0] & 0x07;
		n = 4;
	} else {
		return 0;
	}
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	*cp_r = cp;
	return n;
}

/* Decode one BASE64 run [p, end) (between '&' and '-') into out. */
static int decode_run(const char *p, const char *end, struct strbuf *out, const char **error_r)
{
	uint32_t bits = 0, high = 0;
	unsigned nbits = 0;

	for (; p < end; p++) {
		int v = b64_value((unsigned char)*p);

		if (v < 0) {
			*error_r = "Invalid character in a modified BASE64 run (RFC 3501 5.1.3)";
			return -1;
		}
		bits = (bits << 6) | (uint32_t)v;
		nbits += 6;
		if (nbits < 16)
			continue;
		nbits -= 16;
		uint32_t unit = (bits >> nbits) & 0xffff;

		bits &= (1u << nbits) - 1;
		if (high != 0) {
			if (unit < 0xdc00 || unit > 0xdfff) {
				*error_r = "Unpaired UTF-16 surrogate in modified UTF-7";
				return -1;
			}
			if (put_utf8(out, 0x10000 + ((high - 0xd800) << 10) + (unit - 0xdc00)) < 0) {
				*error_r = "Mailbox name too long";
				return -1;
			}
			high = 0;
			continue;
		}
		if (unit >= 0xd800 && unit <= 0xdbff) {
			high = unit;
			continue;
		}
		if (unit >= 0xdc00 && unit <= 0xdfff) {
			*error_r = "Unpaired UTF-16 surrogate in modified UTF-7";
			return -1;
		}
		if (unit < 0x20 || unit == 0x7f) {
			*error_r = "Control character in mailbox name";
			return -1;
		}
		if (unit < 0x7f) {
			*error_r = "Printable US-ASCII encoded in modified BASE64 "
				   "(non-canonical modified UTF-7; send it as is)";
			return -1;
		}
		if (put_utf8(out, unit) < 0) {
			*error_r = "Mailbox name too long";
			return -1;
		}
	}
	if (high != 0) {
		*error_r = "Unpaired UTF-16 surrogate in modified UTF-7";
		return -1;
	}
	/* Canonical encoders emit no whole spare character and pad with 0. */
	if (nbits >= 6 || bits != 0) {
		*error_r = "Modified BASE64 run does not end on a character boundary "
			   "(non-canonical modified UTF-7)";
		return -1;
	}
	return 0;
}

int imap_mutf7_decode(const char *in, struct strbuf *out, const char **error_r)
{
	const char *p = in;
	bool after_run = false;

	while (*p != '\0') {
		unsigned char c = (unsigned char)*p;

		if (c < 0x20 || c >= 0x7f) {
			*error_r = c >= 0x80 ? "8-bit characters in mailbox name; "
					      "use modified UTF-7 (RFC 3501 5.1.3)"
					    : "Control character in mailbox name";
			return -1;
		}
		if (c != '&') {
			if (strbuf_putc(out, (char)c) < 0) {
				*error_r = "Mailbox name too long";
				return -1;
			}
			after_run = false;
			p++;
			continue;
		}
		if (p[1] == '-') {
			if (strbuf_putc(out, '&') < 0) {
				*error_r = "Mailbox name too long";
				return -1;
			}
			after_run = false;
			p += 2;
			continue;
		}
		if (after_run) {
			*error_r = "Two adjacent modified BASE64 runs; one run spells them "
				   "(non-canonical modified UTF-7)";
			return -1;
		}
		const char *end = strchr(p + 1, '-');

		if (end == NULL) {
			*error_r = "Unterminated '&' sequence in mailbox name; "
				   "a literal '&' is written \"&-\"";
			return -1;
		}
		if (decode_run(p + 1, end, out, error_r) < 0)
			return -1;
		after_run = true;
		p = end + 1;
	}
	return 0;
}

/* A BASE64 run being written: bits not yet emitted. Streaming, so a run
 * of any length stays one run (two adjacent runs would be refused by the
 * decoder, rightly). */
struct run_state {
	bool open;
	uint32_t bits;
	unsigned nbits;
};

static int run_unit(struct strbuf *out, struct run_state *r, uint16_t unit)
{
	if (!r->open) {
		if (strbuf_putc(out, '&') < 0)
			return -1;
		r->open = true;
		r->bits = 0;
		r->nbits = 0;
	}
	r->bits = (r->bits << 16) | unit;
	r->nbits += 16;
	while (r->nbits >= 6) {
		r->nbits -= 6;
		if (strbuf_putc(out, b64_chars[(r->bits >> r->nbits) & 0x3f]) < 0)
			return -1;
	}
	r->bits &= (1u << r->nbits) - 1;
	return 0;
}

static int run_close(struct strbuf *out, struct run_state *r)
{
	if (!r->open)
		return 0;
	r->open = false;
	if (r->nbits > 0 && strbuf_putc(out, b64_chars[(r->bits << (6 - r->nbits)) & 0x3f]) < 0)
		return -1;
	return strbuf_putc(out, '-');
}

int imap_mutf7_encode(const char *in, struct strbuf *out)
{
	const unsigned char *p = (const unsigned char *)in;
	struct run_state run = { 0 };

	while (*p != '\0') {
		uint32_t cp;
		size_t len = get_utf8(p, &cp);

		if (len == 0) {
			cp = 0xfffd; /* not UTF-8: shown as a replacement character */
			len = 1;
		}
		p += len;
		if (cp >= 0x20 && cp < 0x7f) {
			if (run_close(out, &run) < 0)
				return -1;
			if (cp == '&' ? strbuf_puts(out, "&-") : strbuf_putc(out, (char)cp))
				return -1;
		} else if (cp >= 0x10000) {
			cp -= 0x10000;
			if (run_unit(out, &run, (uint16_t)(0xd800 + (cp >> 10))) < 0 ||
			    run_unit(out, &run, (uint16_t)(0xdc00 + (cp & 0x3ff))) < 0)
				return -1;
		} else if (run_unit(out, &run, (uint16_t)cp) < 0) {
			return -1;
		}
	}
	return run_close(out, &run);
}

/* UTF-8 validation for UTF8=ACCEPT names (RFC 6855 3): as sent, strict. */
static int utf8_copy(const char *in, struct strbuf *out, const char **error_r)
{
	const unsigned char *p = (const unsigned char *)in;

	while (*p != '\0') {
		uint32_t cp;
		size_t len = get_utf8(p, &cp);

		if (len == 0) {
			*error_r = "Mailbox name is not valid UTF-8";
			return -1;
		}
		if (cp < 0x20 || cp == 0x7f) {
			*error_r = "Control character in mailbox name";
			return -1;
		}
		if (strbuf_append(out, p, len) < 0) {
			*error_r = "Mailbox name too long";
			return -1;
		}
		p += len;
	}
	return 0;
}

/* Decode (or copy, in UTF-8 mode), map the separator to '/', and turn a
 * first level "inbox" in any case into "INBOX". New memory or NULL. */
static char *client_to_store(const struct imap_session *s, const char *text,
			     const char **error_r)
{
	struct strbuf sb;
	char sep = s->hierarchy_sep == '.' ? '.' : '/';
	char *name;

	strbuf_init(&sb, MUTF7_OUT_MAX);
	if (((s->enabled & IMAP_ENABLED_UTF8) ? utf8_copy(text, &sb, error_r)
					      : imap_mutf7_decode(text, &sb, error_r)) < 0) {
		strbuf_free(&sb);
		return NULL;
	}
	name = strbuf_steal(&sb);
	if (name == NULL) {
		*error_r = "Out of memory";
		return NULL;
	}
	if (sep == '.') {
		for (char *p = name; *p; p++) {
			if (*p == '/') {
				*error_r = "'/' is not allowed in mailbox names: "
					   "the hierarchy separator is '.'";
				free(name);
				return NULL;
			}
			if (*p == '.')
				*p = '/';
		}
	}
	if (strncasecmp(name, "INBOX", 5) == 0 && (name[5] == '\0' || name[5] == '/'))
		memcpy(name, "INBOX", 5);
	return name;
}

/* Why the store would refuse name (static text), or NULL if it is fine. */
static const char *name_problem(const char *name)
{
	const char *level = name;

	if (*name == '\0')
		return "Empty mailbox name";
	for (const char *p = name;; p++) {
		if (*p == '/' || *p == '\0') {
			size_t l = (size_t)(p - level);

			if (l == 0)
				return "Empty hierarchy level in mailbox name";
			if ((l == 1 && level[0] == '.') ||
			    (l == 2 && level[0] == '.' && level[1] == '.'))
				return "'.' and '..' are not allowed as mailbox name levels";
			if (*p == '\0')
				break;
			level = p + 1;
		} else if (*p == '*' || *p == '%') {
			return "Wildcards '*' and '%' are not allowed in mailbox names";
		}
	}
	if (!store_mailbox_name_valid(name))
		return "Mailbox name too long or nested too deeply";
	return NULL;
}

char *imap_mailbox_from_client(const struct imap_session *s, const char *name,
			       const char **error_r)
{
	char *out = client_to_store(s, name, error_r);
	const char *problem;

	if (out == NULL)
		return NULL;
	if ((problem = name_problem(out)) != NULL) {
		*error_r = problem;
		free(out);
		return NULL;
	}
	return out;
}

char *imap_mailbox_pattern_from_client(const struct imap_session *s, const char *pattern,
				       const char **error_r)
{
	return client_to_store(s, pattern, error_r);
}

char *imap_mailbox_to_client(const struct imap_session *s, const char *name)
{
	struct strbuf sb;
	int rc;

	strbuf_init(&sb, 0);
	if (s->enabled & IMAP_ENABLED_UTF8)
		rc = strbuf_puts(&sb, name);
	else
		rc = imap_mutf7_encode(name, &sb);
	if (rc < 0) {
		strbuf_free(&sb);
		return NULL;
	}
	if (s->hierarchy_sep == '.') {
		for (size_t i = 0; i < sb.len; i++)
			if (sb.data[i] == '/')
				sb.data[i] = '.';
	}
	return strbuf_steal(&sb);
}

bool imap_mailbox_client_representable(const struct imap_session *s, const char *name)
{
	return s->hierarchy_sep != '.' || strchr(name, '.') == NULL;
}
