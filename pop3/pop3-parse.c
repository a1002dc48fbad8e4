/*
 * pop3-parse.c - command line split, message numbers and the UIDL format
 * of pop3-parse.h. Pure functions on bounded input; the session
 * (session.c, cmd-*.c), the unit tests and the fuzz harness call them.
 * RFC 1939 3 and 7, RFC 2449 4.
 */
#include <stdio.h>
#include <string.h>

#include "pop3/pop3-parse.h"

int pop3_command_split(const char *line, size_t len, char verb_r[POP3_VERB_MAX + 1],
		       size_t *args_off_r)
{
	size_t i = 0;

	verb_r[0] = '\0';
	while (i < len && line[i] != ' ') {
		char c = line[i];
		if (i >= POP3_VERB_MAX || c < 0x21 || c > 0x7e)
			return -1;
		verb_r[i] = c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c;
		i++;
	}
	verb_r[i] = '\0';
	if (i == 0)
		return -1;
	if (i == len) {
		*args_off_r = len;
		return 0;
	}
	/* exactly one space, then the arguments (possibly empty: "LIST " is
	 * what some clients send; the argument split decides) */
	if (memchr(line + i, '\0', len - i) != NULL)
		return -1;
	*args_off_r = i + 1;
	return 0;
}

int pop3_args_split(const char *args, size_t len, const char **argv_r, size_t *argl_r, size_t max)
{
	size_t n = 0, i = 0;

	if (len == 0)
		return 0;
	while (i <= len) {
		size_t start = i;
		while (i < len && args[i] != ' ')
			i++;
		if (i == start || n >= max)
			return -1;    /* empty argument or too many */
		argv_r[n] = args + start;
		argl_r[n] = i - start;
		n++;
		if (i == len)
			break;
		i++;                  /* the space */
		if (i == len)
			return -1;    /* trailing space */
	}
	return (int)n;
}

int pop3_msgnum_parse(const char *s, size_t len, uint32_t *n_r)
{
	uint64_t v = 0;

	if (len == 0 || len > 10)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v > UINT32_MAX)
		return -1;
	*n_r = (uint32_t)v;
	return 0;
}

/* One conversion of the format: width, hex, the letter. Returns the
 * bytes it spans after the '%', or 0 when it is not valid. */
static size_t conv_parse(const char *p, unsigned *width_r, bool *hex_r, char *letter_r)
{
	size_t i = 0;
	unsigned w = 0;

	while (p[i] >= '0' && p[i] <= '9' && i < 3) {
		w = w * 10 + (unsigned)(p[i] - '0');
		i++;
	}
	*hex_r = false;
	if (p[i] == 'X' || p[i] == 'x') {
		*hex_r = true;
		i++;
	}
	if (p[i] != 'u' && p[i] != 'v' && p[i] != 'f' && p[i] != '%')
		return 0;
	if (w > 32)
		return 0;
	*width_r = w;
	*letter_r = p[i];
	return i + 1;
}

int pop3_uidl_check(const char *format, const char **error_r)
{
	bool key = false;

	if (*format == '\0') {
		*error_r = "empty; use e.g. %08Xu%08Xv (Dovecot's default) or %f for migrated Maildirs";
		return -1;
	}
	for (const char *p = format; *p; p++) {
		unsigned w;
		bool hex;
		char letter;
		size_t n;

		if (*p != '%') {
			if (*p < 0x21 || *p > 0x7e) {
				*error_r = "contains a space or a non-ASCII character; a UIDL may only use 0x21-0x7E";
				return -1;
			}
			continue;
		}
		n = conv_parse(p + 1, &w, &hex, &letter);
		if (n == 0) {
			*error_r = "unknown %-conversion; use %u (UID), %v (UIDVALIDITY), %f (Maildir file name), with 08X for zero-padded hex, or %%";
			return -1;
		}
		if (letter == 'f' && (hex || w)) {
			*error_r = "%f takes no width or X; write %f";
			return -1;
		}
		if (letter == 'u' || letter == 'f')
			key = true;
		p += n;
	}
	if (!key) {
		*error_r = "needs %u or %f, or every message would get the same UIDL; use e.g. %08Xu%08Xv";
		return -1;
	}
	return 0;
}

bool pop3_uidl_uses_name(const char *format)
{
	for (const char *p = format; *p; p++) {
		unsigned w;
		bool hex;
		char letter;
		size_t n;

		if (*p != '%')
			continue;
		n = conv_parse(p + 1, &w, &hex, &letter);
		if (n == 0)
			return false;
		if (letter == 'f')
			return true;
		p += n;
	}
	return false;
}

int pop3_uidl_make(const char *format, uint32_t uid, uint32_t uidvalidity, const char *name,
		   char *out, size_t size)
{
	size_t off = 0;

	if (size < 2)
		return -1;
	for (const char *p = format; *p; p++) {
		char piece[64];
		const char *text = piece;
		size_t tl;

		if (*p != '%') {
			piece[0] = *p;
			piece[1] = '\0';
		} else {
			unsigned w;
			bool hex;
			char letter;
			size_t n = conv_parse(p + 1, &w, &hex, &letter);

			if (n == 0)
				return -1;
			p += n;
			if (letter == '%')
				snprintf(piece, sizeof(piece), "%%");
			else if (letter == 'f')
				text = name ? name : "";
			else
				snprintf(piece, sizeof(piece), hex ? "%0*X" : "%0*u", (int)w,
					 letter == 'u' ? uid : uidvalidity);
		}
		tl = strlen(text);
		if (off + tl >= size || off + tl > POP3_UIDL_MAX)
			return -1;
		memcpy(out + off, text, tl);
		off += tl;
	}
	out[off] = '\0';
	if (off == 0)
		return -1;
	for (size_t i = 0; i < off; i++)
		if (out[i] < 0x21 || out[i] > 0x7e)
			return -1;
	return 0;
}

/* ---- the RETR/TOP converter ---- */

void pop3_stuffer_init(struct pop3_stuffer *st, bool limited, uint64_t lines)
{
	memset(st, 0, sizeof(*st));
	st->line_start = true;
	st->line_empty = true;
	st->limited = limited;
	st->lines_left = lines;
}

/* A line ended (its LF was just written). */
static void line_end(struct pop3_stuffer *st)
{
	st->line_start = true;
	if (!st->in_body) {
		if (st->line_empty) {
			st->in_body = true;
			if (st->limited && st->lines_left == 0)
				st->done = true;
		}
		st->line_empty = true;
		return;
	}
	if (st->limited && --st->lines_left == 0)
		st->done = true;
}

size_t pop3_stuffer_feed(struct pop3_stuffer *st, const char *in, size_t len, char *out)
{
	size_t o = 0, i = 0;

	/* Line by line: memchr finds the line end, the bytes before it are
	 * copied in one go (RETR of a big message is mostly this copy). */
	while (i < len && !st->done) {
		const char *nl;
		size_t end, run;

		if (st->line_start) {
			st->line_start = false;
			if (in[i] == '.')
				out[o++] = '.';
		}
		nl = memchr(in + i, '\n', len - i);
		end = nl ? (size_t)(nl - in) : len;
		run = end - i;
		if (run > 0) {
			memcpy(out + o, in + i, run);
			o += run;
			if (st->limited && !st->in_body && st->line_empty) {
				for (size_t k = i; k < end; k++)
					if (in[k] != '\r') {
						st->line_empty = false;
						break;
					}
			}
			st->prev_cr = in[end - 1] == '\r';
			st->in_bytes += run;
			i = end;
		}
		if (nl == NULL)
			break;
		if (!st->prev_cr)
			out[o++] = '\r';
		out[o++] = '\n';
		st->prev_cr = false;
		st->in_bytes++;
		i++;
		line_end(st);
	}
	return o;
}

size_t pop3_stuffer_finish(struct pop3_stuffer *st, char *out)
{
	size_t o = 0;

	if (!st->line_start && !st->done) {
		if (!st->prev_cr)
			out[o++] = '\r';
		out[o++] = '\n';
	}
	memcpy(out + o, ".\r\n", 3);
	return o + 3;
}
