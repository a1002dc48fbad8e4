/*
 * bounce-text.c - the words of a notice: subject lines and the
 * human-readable part in Postfix's default bounce templates
 * (bounce(5): failure, delay and success templates, and the postmaster
 * copy), one "<rcpt>: reason" line per recipient, RFC 5322 dates, and the
 * cleaning and folding of untrusted text (a remote server's reply) before
 * it goes into a header-like field.
 *
 * Called by bounce-dsn.c. Lines end in CR LF, like the rest of the
 * queue file's content.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "smtp/queue/bounce-private.h"

#define FOLD_WIDTH 78
#define FOLD_INDENT "    "

static const char signoff[] = "                   The mail system\r\n";

static const char failure_text[] =
	"I'm sorry to have to inform you that your message could not\r\n"
	"be delivered to one or more recipients. It's attached below.\r\n"
	"\r\n"
	"For further assistance, please send mail to postmaster.\r\n"
	"\r\n"
	"If you do so, please include this problem report. You can\r\n"
	"delete your own text from the attached returned message.\r\n"
	"\r\n";

static const char delay_banner[] =
	"####################################################################\r\n"
	"# THIS IS A WARNING ONLY.  YOU DO NOT NEED TO RESEND YOUR MESSAGE. #\r\n"
	"####################################################################\r\n"
	"\r\n";

static const char delay_tail[] =
	"For further assistance, please send mail to postmaster.\r\n"
	"\r\n"
	"If you do so, please include this problem report. You can\r\n"
	"delete your own text from the attached returned message.\r\n"
	"\r\n";

static const char success_text[] =
	"Your message was successfully delivered to the destination(s)\r\n"
	"listed below. If the message was delivered to mailbox you will\r\n"
	"receive no further notifications. Otherwise you may still receive\r\n"
	"notifications of mail delivery errors from other systems.\r\n"
	"\r\n";

static const char postmaster_text[] =
	"Enclosed is the mail delivery report that you requested.\r\n"
	"\r\n";

const char *bounce_text_subject(const struct bounce_notice *n)
{
	switch (n->kind) {
	case BOUNCE_FAILED:
		return n->postmaster ? "Postmaster Copy: Undelivered Mail" : "Undelivered Mail Returned to Sender";
	case BOUNCE_DELAYED:
		return n->postmaster ? "Postmaster Warning: Delayed Mail" : "Delayed Mail (still being retried)";
	case BOUNCE_SUCCESS:
		break;
	}
	return "Successful Mail Delivery Report";
}

void bounce_text_date(time_t t, char *buf, size_t size)
{
	struct tm tm;
	static const char *const days[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
	static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
					      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	long off;

	/* Names by hand: strftime's %a/%b follow the locale, RFC 5322's
	 * do not. */
	if (localtime_r(&t, &tm) == NULL) {
		str_copy(buf, "Thu, 01 Jan 1970 00:00:00 +0000", size);
		return;
	}
	off = tm.tm_gmtoff / 60;
	snprintf(buf, size, "%s, %02d %s %04d %02d:%02d:%02d %c%02ld%02ld (%s)", days[tm.tm_wday % 7],
		 tm.tm_mday, months[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec,
		 off < 0 ? '-' : '+', labs(off) / 60, labs(off) % 60, tm.tm_zone != NULL ? tm.tm_zone : "UTC");
}

/* utf8_len - length of the valid UTF-8 sequence (2 to 4 bytes, no
 * overlong forms, surrogates or values past U+10FFFF) at p, or 0. */
static size_t utf8_len(const unsigned char *p, size_t avail)
{
	unsigned char c = p[0];
	size_t len = c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;

	if (len == 0 || len > avail)
		return 0;
	for (size_t i = 1; i < len; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	if ((c == 0xe0 && p[1] < 0xa0) || (c == 0xed && p[1] > 0x9f) || (c == 0xf0 && p[1] < 0x90) ||
	    (c == 0xf4 && p[1] > 0x8f))
		return 0;
	return len;
}

int bounce_text_clean(struct strbuf *sb, const char *s, size_t max, bool utf8)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t len = strnlen(s, max);

	for (size_t i = 0; i < len; i++) {
		unsigned char c = u[i];
		size_t seq = utf8 && c >= 0x80 ? utf8_len(u + i, len - i) : 0;
		if (seq > 0) {
			if (strbuf_append(sb, u + i, seq) < 0)
				return -1;
			i += seq - 1;
			continue;
		}
		char out = c < 0x20 || c == 0x7f ? ' ' : c >= 0x80 ? '?' : (char)c;
		if (strbuf_putc(sb, out) < 0)
			return -1;
	}
	return 0;
}

const char *bounce_text_addr_type(const char *addr)
{
	for (; *addr != '\0'; addr++)
		if ((unsigned char)*addr >= 0x80)
			return "utf-8";
	return "rfc822";
}

/* fold - append text (already clean) wrapped at spaces near FOLD_WIDTH,
 * where col is the column text starts at; continuation lines are
 * indented. A word longer than a line stays whole. */
static int fold(struct strbuf *sb, const char *text, size_t col)
{
	const char *p = text;

	while (*p != '\0') {
		size_t word = strcspn(p, " ");
		if (strbuf_append(sb, p, word) < 0)
			return -1;
		col += word;
		p += word;
		if (*p != ' ')
			continue;
		size_t spaces = strspn(p, " ");
		size_t next = strcspn(p + spaces, " ");
		/* The spaces at a fold point vanish into the line break. */
		if (next > 0 && col + spaces + next > FOLD_WIDTH) {
			if (strbuf_puts(sb, "\r\n" FOLD_INDENT) < 0)
				return -1;
			col = strlen(FOLD_INDENT);
		} else {
			if (strbuf_append(sb, p, spaces) < 0)
				return -1;
			col += spaces;
		}
		p += spaces;
	}
	return strbuf_puts(sb, "\r\n");
}

int bounce_text_field(struct strbuf *sb, const char *name, const char *value, bool utf8)
{
	struct strbuf clean;
	int rc;

	strbuf_init(&clean, 0);
	if (bounce_text_clean(&clean, value, BOUNCE_FIELD_MAX, utf8) < 0) {
		strbuf_free(&clean);
		return -1;
	}
	rc = strbuf_printf(sb, "%s: ", name);
	if (rc == 0)
		rc = fold(sb, clean.len > 0 ? clean.data : "", strlen(name) + 2);
	strbuf_free(&clean);
	return rc;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

char *bounce_text_xtext_decode(const char *s)
{
	size_t len = strlen(s), o = 0;
	char *out = malloc(len + 1);

	if (out == NULL)
		return NULL;
	for (size_t i = 0; i < len; i++) {
		int c = (unsigned char)s[i];
		if (c == '+') {
			int hi = i + 2 < len ? hexval(s[i + 1]) : -1;
			int lo = hi >= 0 ? hexval(s[i + 2]) : -1;
			if (lo < 0) {
				free(out);
				return NULL;
			}
			c = hi * 16 + lo;
			i += 2;
		}
		if (c < 0x21 || c > 0x7e) {
			free(out);
			return NULL;
		}
		out[o++] = (char)c;
	}
	out[o] = '\0';
	return out;
}

const char *bounce_final_recipient(const struct qmsg *m, const struct qdest *d)
{
	if (d->kind == QDEST_ADDR || d->orig >= m->n_rcpts)
		return d->value;
	return m->rcpts[d->orig].addr;
}

/* rcpt_line - "<final> (expanded from <orig>): reason", folded; the
 * reason is the status text (what the logs say), else the DSN diag. */
static int rcpt_line(struct strbuf *sb, const struct qmsg *m, const struct qdest *d, bool utf8)
{
	const char *final = bounce_final_recipient(m, d);
	const char *orig = d->orig < m->n_rcpts ? m->rcpts[d->orig].addr : final;
	const char *why = d->text != NULL && *d->text ? d->text
			  : d->diag != NULL && *d->diag ? d->diag
							: d->dsn;
	struct strbuf line;
	int rc = -1;

	strbuf_init(&line, BOUNCE_FIELD_MAX * 3);
	if (strbuf_putc(&line, '<') < 0 || bounce_text_clean(&line, final, BOUNCE_FIELD_MAX, utf8) < 0 ||
	    strbuf_putc(&line, '>') < 0)
		goto out;
	if (strcasecmp(orig, final) != 0 &&
	    (strbuf_puts(&line, " (expanded from <") < 0 || bounce_text_clean(&line, orig, BOUNCE_FIELD_MAX, utf8) < 0 ||
	     strbuf_puts(&line, ">)") < 0))
		goto out;
	if (strbuf_puts(&line, ": ") < 0 || bounce_text_clean(&line, why, BOUNCE_FIELD_MAX, utf8) < 0)
		goto out;
	rc = fold(sb, line.data, 0);
out:
	strbuf_free(&line);
	return rc;
}

int bounce_text_human(struct strbuf *sb, const struct bounce *b, const struct bounce_notice *n,
		      const struct qmsg *m)
{
	if (strbuf_printf(sb, "This is the mail system at host %s.\r\n\r\n", b->myhostname) < 0)
		return -1;
	if (n->postmaster) {
		if (strbuf_puts(sb, postmaster_text) < 0)
			return -1;
	} else if (n->kind == BOUNCE_FAILED) {
		if (strbuf_puts(sb, failure_text) < 0)
			return -1;
	} else if (n->kind == BOUNCE_DELAYED) {
		double waited = (double)(n->now - m->arrival.tv_sec) / 3600.0;
		long long life = *qmsg_sender(m) ? b->max_lifetime : b->bounce_lifetime;
		if (waited < 0)
			waited = 0;
		if (strbuf_puts(sb, delay_banner) < 0 ||
		    strbuf_printf(sb, "Your message could not be delivered for %.1f hour(s).\r\n", waited) < 0 ||
		    strbuf_printf(sb, "It will be retried until it is %.1f day(s) old.\r\n\r\n",
				  (double)life / 86400.0) < 0 ||
		    strbuf_puts(sb, delay_tail) < 0)
			return -1;
	} else if (strbuf_puts(sb, success_text) < 0) {
		return -1;
	}
	if (strbuf_puts(sb, signoff) < 0 || strbuf_puts(sb, "\r\n") < 0)
		return -1;
	for (size_t i = 0; i < n->n; i++)
		if (rcpt_line(sb, m, &m->dests[n->dests[i]], n->utf8) < 0 || strbuf_puts(sb, "\r\n") < 0)
			return -1;
	return 0;
}
