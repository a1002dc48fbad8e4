/*
 * mbox-parse.c - the streaming mbox reader: splits a file into messages
 * and reports, per message, its byte offsets, the flags its Status: /
 * X-Status: / X-Keywords: headers carry, the X-UID / X-IMAPbase UIDs that
 * Dovecot and UW-IMAP leave, and its RFC822.SIZE as IMAP and POP3 must
 * announce it. Also exports one message's bytes, unquoted and with CRLF
 * line ends, for FETCH and RETR.
 *
 * Splitting rule (mboxrd, as Postfix local(8) writes and mutt reads): a
 * line "From " that follows an empty line (or starts the file) and parses
 * as a From_ line (mbox-from.c) starts a message; the empty line before it
 * belongs to neither message. Content-Length: is recorded but not used:
 * it is often wrong after a foreign MUA edited the file, and believing it
 * would let one message hide others. LF and CRLF files are both read.
 *
 * Memory: one fixed buffer per reader. A line longer than the buffer is
 * streamed through; only its first MBOX_LINE_PEEK bytes are looked at,
 * which is all any decision here needs.
 *
 * Called by mbox-write.c (expunge), mbox-backend.c (sync, fetch), the unit
 * tests and tests/fuzz/fuzz_mbox.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "mbox-private.h"
#include "util.h"

#define MBOX_READ_BUFFER (64 * 1024)

/* One physical line. data is the whole line when it fit in the buffer,
 * NULL for a longer one; peek is always its first bytes. Both stay valid
 * until the next line_next(). */
struct mbox_line {
	uint64_t offset;
	uint64_t len;       /* including the LF */
	const char *data;
	const char *peek;
	size_t peek_len;
	bool has_lf;
	bool crlf;          /* ends with CR LF */
	bool quoted;        /* ^>+From_: loses one '>' when read */
};

struct line_reader {
	int fd;
	uint64_t base;      /* file offset of buf[0] */
	uint64_t limit;     /* stop reading here (UINT64_MAX: end of file) */
	size_t pos, len;
	bool eof;
	char buf[MBOX_READ_BUFFER];
	char peek[MBOX_LINE_PEEK];
};

struct mbox_reader {
	struct line_reader lr;
	bool started;
	bool have_next;        /* a From_ line is waiting to start the next message */
	uint64_t next_from, next_from_len;
	bool next_valid;
	time_t next_date;
	char next_sender[MBOX_SENDER_MAX];
	uint64_t seq;
};

static void lr_init(struct line_reader *lr, int fd, uint64_t start, uint64_t limit)
{
	lr->fd = fd;
	lr->base = start;
	lr->limit = limit;
	lr->pos = lr->len = 0;
	lr->eof = false;
}

/* More bytes into the buffer: >0 read, 0 at the end, -1 with errno. */
static ssize_t lr_fill(struct line_reader *lr)
{
	uint64_t at;
	size_t room;
	ssize_t n;

	if (lr->pos > 0) {
		memmove(lr->buf, lr->buf + lr->pos, lr->len - lr->pos);
		lr->base += lr->pos;
		lr->len -= lr->pos;
		lr->pos = 0;
	}
	if (lr->eof)
		return 0;
	at = lr->base + lr->len;
	room = sizeof(lr->buf) - lr->len;
	if (lr->limit != UINT64_MAX) {
		if (at >= lr->limit) {
			lr->eof = true;
			return 0;
		}
		if (lr->limit - at < room)
			room = (size_t)(lr->limit - at);
	}
	if (room == 0)
		return 1; /* full; the caller handles the long line */
	do
		n = pread(lr->fd, lr->buf + lr->len, room, (off_t)at);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -1;
	if (n == 0)
		lr->eof = true;
	lr->len += (size_t)n;
	return n;
}

/* The next line: 1, 0 at the end, -1 on a read error (errno). */
static int lr_next(struct line_reader *lr, struct mbox_line *line)
{
	struct mbox_quote q;
	char *nl;
	char last = '\0';
	ssize_t r;

	for (;;) {
		nl = lr->pos < lr->len ? memchr(lr->buf + lr->pos, '\n', lr->len - lr->pos) : NULL;
		if (nl != NULL || (lr->eof && lr->pos < lr->len)) {
			size_t n = nl ? (size_t)(nl - (lr->buf + lr->pos)) + 1 : lr->len - lr->pos;

			line->offset = lr->base + lr->pos;
			line->len = n;
			line->data = line->peek = lr->buf + lr->pos;
			line->peek_len = n < MBOX_LINE_PEEK ? n : MBOX_LINE_PEEK;
			line->has_lf = nl != NULL;
			line->crlf = nl != NULL && n >= 2 && nl[-1] == '\r';
			line->quoted = mbox_quote_test(line->data, n);
			lr->pos += n;
			return 1;
		}
		if (lr->eof && lr->pos >= lr->len)
			return 0;
		if (lr->pos == 0 && lr->len == sizeof(lr->buf))
			break; /* a line longer than the buffer */
		r = lr_fill(lr);
		if (r < 0)
			return -1;
	}

	/* Long line: remember its start, stream the rest through. */
	line->offset = lr->base;
	line->data = NULL;
	memcpy(lr->peek, lr->buf, MBOX_LINE_PEEK);
	line->peek = lr->peek;
	line->peek_len = MBOX_LINE_PEEK;
	line->len = 0;
	mbox_quote_init(&q);
	for (;;) {
		if (lr->len > lr->pos)
			mbox_quote_feed(&q, lr->buf + lr->pos, lr->len - lr->pos);
		nl = lr->pos < lr->len ? memchr(lr->buf + lr->pos, '\n', lr->len - lr->pos) : NULL;
		if (nl != NULL) {
			size_t n = (size_t)(nl - (lr->buf + lr->pos));

			if (n > 0)
				last = nl[-1];
			line->len += n + 1;
			lr->pos += n + 1;
			line->has_lf = true;
			line->crlf = last == '\r';
			line->quoted = q.state == MBOX_QUOTE_YES && q.run > 0;
			return 1;
		}
		if (lr->len > lr->pos) {
			last = lr->buf[lr->len - 1];
			line->len += lr->len - lr->pos;
			lr->pos = lr->len;
		}
		if (lr->eof) {
			line->has_lf = line->crlf = false;
			line->quoted = q.state == MBOX_QUOTE_YES && q.run > 0;
			return 1;
		}
		r = lr_fill(lr);
		if (r < 0)
			return -1;
	}
}

static bool line_is_empty(const struct mbox_line *line)
{
	return line->has_lf && (line->len == 1 || (line->len == 2 && line->crlf));
}

struct mbox_reader *mbox_reader_open(int fd)
{
	struct mbox_reader *r = calloc(1, sizeof(*r));

	if (r == NULL)
		return NULL;
	lr_init(&r->lr, fd, 0, UINT64_MAX);
	return r;
}

struct mbox_reader *mbox_reader_open_at(int fd, uint64_t offset)
{
	struct mbox_reader *r = calloc(1, sizeof(*r));

	if (r == NULL)
		return NULL;
	lr_init(&r->lr, fd, offset, UINT64_MAX);
	r->seq = 1; /* not the first message: X-IMAPbase is not looked at */
	return r;
}

void mbox_reader_free(struct mbox_reader **reader)
{
	x_free(reader);
}

static bool header_is(const struct mbox_line *line, const char *name, const char **value_r,
		      size_t *value_len_r)
{
	size_t n = strlen(name);
	size_t len = line->peek_len;

	if (len <= n || strncasecmp(line->peek, name, n) != 0)
		return false;
	*value_r = line->peek + n;
	len -= n;
	while (len > 0 && ((*value_r)[len - 1] == '\n' || (*value_r)[len - 1] == '\r'))
		len--;
	while (len > 0 && (**value_r == ' ' || **value_r == '\t')) {
		(*value_r)++;
		len--;
	}
	*value_len_r = len;
	return true;
}

static unsigned long long value_number(const char *v, size_t n, size_t *used_r)
{
	unsigned long long x = 0;
	size_t i = 0;

	while (i < n && v[i] >= '0' && v[i] <= '9' && x < 100000000000000000ULL) {
		x = x * 10 + (unsigned)(v[i] - '0');
		i++;
	}
	if (used_r)
		*used_r = i;
	return x;
}

static void parse_header_line(struct mbox_msg *msg, const struct mbox_line *line)
{
	const char *v;
	size_t n, used;

	if (header_is(line, "Status:", &v, &n)) {
		for (size_t i = 0; i < n; i++) {
			if (v[i] == 'R')
				msg->flags |= MBOX_FLAG_SEEN;
			else if (v[i] == 'O')
				msg->flags |= MBOX_FLAG_OLD;
		}
	} else if (header_is(line, "X-Status:", &v, &n)) {
		for (size_t i = 0; i < n; i++) {
			if (v[i] == 'A')
				msg->flags |= MBOX_FLAG_ANSWERED;
			else if (v[i] == 'F')
				msg->flags |= MBOX_FLAG_FLAGGED;
			else if (v[i] == 'D')
				msg->flags |= MBOX_FLAG_DELETED;
			else if (v[i] == 'T')
				msg->flags |= MBOX_FLAG_DRAFT;
		}
	} else if (header_is(line, "X-Keywords:", &v, &n)) {
		size_t k = 0;

		for (size_t i = 0; i < n && k + 1 < sizeof(msg->keywords); i++) {
			unsigned char c = (unsigned char)v[i];

			if (c < 0x21 || c == 0x7f || c == ',')
				c = ' ';
			if (c == ' ' && (k == 0 || msg->keywords[k - 1] == ' '))
				continue;
			msg->keywords[k++] = (char)c;
		}
		while (k > 0 && msg->keywords[k - 1] == ' ')
			k--;
		msg->keywords[k] = '\0';
	} else if (header_is(line, "X-UID:", &v, &n)) {
		unsigned long long uid = value_number(v, n, &used);

		if (used > 0 && uid > 0 && uid <= UINT32_MAX)
			msg->uid = (uint32_t)uid;
	} else if (msg->seq == 1 && header_is(line, "X-IMAPbase:", &v, &n)) {
		unsigned long long validity = value_number(v, n, &used), next;

		if (used > 0 && validity <= UINT32_MAX) {
			v += used;
			n -= used;
			while (n > 0 && *v == ' ') {
				v++;
				n--;
			}
			next = value_number(v, n, &used);
			if (used > 0 && next <= UINT32_MAX) {
				msg->uidvalidity = (uint32_t)validity;
				msg->uidnext = (uint32_t)next;
			}
		}
	} else if (header_is(line, "Content-Length:", &v, &n)) {
		unsigned long long cl = value_number(v, n, &used);

		if (used > 0 && cl <= (unsigned long long)INT64_MAX / 2)
			msg->content_length = (long long)cl;
	}
}

#define FNV_OFFSET 14695981039346656037ULL
#define FNV_PRIME 1099511628211ULL

static uint64_t fnv(uint64_t h, const void *data, size_t n)
{
	const unsigned char *p = data;

	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= FNV_PRIME;
	}
	return h;
}

/* Header fields that mutt, Dovecot or UW-IMAP rewrite in place: not part
 * of a message's identity. */
static bool header_volatile(const struct mbox_line *line)
{
	static const char *const names[] = { "Status:", "X-Status:", "X-Keywords:", "X-UID:",
					     "X-IMAPbase:", "X-IMAP:", "Content-Length:", "Lines:" };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		size_t n = strlen(names[i]);

		if (line->peek_len >= n && strncasecmp(line->peek, names[i], n) == 0)
			return true;
	}
	return false;
}

/* Count one line into the message's size and line figures. */
static void account_line(struct mbox_msg *msg, const struct mbox_line *line)
{
	uint64_t n = line->len;

	if (line->quoted)
		n--;
	msg->lines++;
	msg->size_unquoted += n;
	msg->rfc822_size += n + (line->has_lf && !line->crlf ? 1 : 0);
}

static void start_message(struct mbox_reader *r, struct mbox_msg *msg)
{
	memset(msg, 0, sizeof(*msg));
	msg->seq = ++r->seq;
	msg->from_offset = r->next_from;
	msg->header_offset = r->next_from + r->next_from_len;
	msg->body_offset = UINT64_MAX;
	msg->from_valid = r->next_valid;
	msg->internal_date = r->next_valid ? r->next_date : 0;
	str_copy(msg->sender, r->next_sender, sizeof(msg->sender));
	msg->content_length = -1;
	msg->ident = fnv(FNV_OFFSET, msg->sender, strlen(msg->sender));
	msg->ident = fnv(msg->ident, &msg->internal_date, sizeof(msg->internal_date));
	r->have_next = false;
}

static void remember_from(struct mbox_reader *r, const struct mbox_line *line, bool valid,
			  time_t date, const char *sender)
{
	r->have_next = true;
	r->next_from = line->offset;
	r->next_from_len = line->len;
	r->next_valid = valid;
	r->next_date = date;
	str_copy(r->next_sender, sender, sizeof(r->next_sender));
}

int mbox_reader_next(struct mbox_reader *r, struct mbox_msg *msg, char **error_r)
{
	struct mbox_line line;
	bool in_header = true, pending_blank = false;
	uint64_t blank_off = 0;
	struct mbox_line blank = { 0 };
	char sender[MBOX_SENDER_MAX];
	time_t date = 0;
	int n;

	if (!r->started) {
		r->started = true;
		n = lr_next(&r->lr, &line);
		if (n < 0)
			goto read_error;
		if (n == 0)
			return 0;
		if (line.peek_len < 5 || memcmp(line.peek, "From ", 5) != 0) {
			*error_r = must_asprintf("the file does not start with a \"From \" line; it is not "
						 "an mbox (a Maildir needs mail_location = maildir:...)");
			return -2;
		}
		sender[0] = '\0';
		if (mbox_from_parse(line.peek, line.peek_len, sender, sizeof(sender), &date) == 0)
			remember_from(r, &line, true, date, sender);
		else
			remember_from(r, &line, false, 0, "");
	}
	if (!r->have_next)
		return 0;
	start_message(r, msg);

	for (;;) {
		n = lr_next(&r->lr, &line);
		if (n < 0)
			goto read_error;
		if (n == 0) {
			uint64_t eof = r->lr.base + r->lr.len;

			msg->end_offset = pending_blank ? blank_off : eof;
			msg->next_offset = eof;
			break;
		}
		if (pending_blank && line.peek_len >= 5 && memcmp(line.peek, "From ", 5) == 0 &&
		    mbox_from_parse(line.peek, line.peek_len, sender, sizeof(sender), &date) == 0) {
			msg->end_offset = blank_off;
			msg->next_offset = line.offset;
			remember_from(r, &line, true, date, sender);
			break;
		}
		if (pending_blank) {
			account_line(msg, &blank);
			if (in_header) {
				in_header = false;
				msg->body_offset = blank_off + blank.len;
			}
			pending_blank = false;
		}
		if (line_is_empty(&line)) {
			/* Maybe the separator before the next From_: decided by the
			 * next line. Its fields are copied, its data is not used. */
			pending_blank = true;
			blank_off = line.offset;
			blank = line;
			blank.data = NULL;
			blank.peek = "\n";
			blank.peek_len = 1;
			continue;
		}
		if (in_header) {
			parse_header_line(msg, &line);
			if (!header_volatile(&line))
				msg->ident = fnv(msg->ident, line.peek, line.peek_len);
		}
		account_line(msg, &line);
	}
	if (msg->body_offset == UINT64_MAX || msg->body_offset > msg->end_offset)
		msg->body_offset = msg->end_offset;
	{
		uint64_t body_len = msg->end_offset - msg->body_offset;

		msg->ident = fnv(msg->ident, &body_len, sizeof(body_len));
	}
	return 1;

read_error:
	*error_r = must_asprintf("read error at offset %llu: %s",
				 (unsigned long long)(r->lr.base + r->lr.pos), strerror(errno));
	return -1;
}

static int export_span(int fd, uint64_t off, uint64_t len, mbox_out_fn *out, void *ctx,
		       char **error_r)
{
	char buf[16384];

	while (len > 0) {
		size_t want = len < sizeof(buf) ? (size_t)len : sizeof(buf);
		ssize_t n = pread(fd, buf, want, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			*error_r = must_asprintf("read error at offset %llu: %s", (unsigned long long)off,
						 n < 0 ? strerror(errno) : "file shrank while reading");
			return -1;
		}
		if (out(ctx, buf, (size_t)n) < 0) {
			*error_r = must_strdup("output stopped");
			return -1;
		}
		off += (uint64_t)n;
		len -= (uint64_t)n;
	}
	return 0;
}

int mbox_message_export(int fd, const struct mbox_msg *msg, bool crlf, mbox_out_fn *out,
			void *ctx, char **error_r)
{
	struct line_reader *lr;
	struct mbox_line line;
	int n, ret = 0;

	if (msg->end_offset < msg->header_offset) {
		*error_r = must_strdup("bad message offsets");
		return -1;
	}
	lr = malloc(sizeof(*lr));
	if (lr == NULL) {
		*error_r = must_strdup("out of memory");
		return -1;
	}
	lr_init(lr, fd, msg->header_offset, msg->end_offset);
	while ((n = lr_next(lr, &line)) > 0) {
		uint64_t skip = line.quoted ? 1 : 0;
		uint64_t body = line.len - skip - (line.has_lf ? 1 : 0);
		bool convert = crlf && line.has_lf && !line.crlf;

		if (line.data != NULL) {
			if (body > 0 && out(ctx, line.data + skip, (size_t)body) < 0)
				goto stopped;
		} else if (export_span(fd, line.offset + skip, body, out, ctx, error_r) < 0) {
			ret = -1;
			break;
		}
		if (line.has_lf && out(ctx, convert ? "\r\n" : "\n", convert ? 2 : 1) < 0)
			goto stopped;
	}
	if (n < 0) {
		*error_r = must_asprintf("read error: %s", strerror(errno));
		ret = -1;
	}
	free(lr);
	return ret;

stopped:
	*error_r = must_strdup("output stopped");
	free(lr);
	return -1;
}

uint64_t mbox_rfc822_size(const void *data, size_t len)
{
	const unsigned char *p = data;
	uint64_t size = len;

	for (size_t i = 0; i < len; i++)
		if (p[i] == '\n' && (i == 0 || p[i - 1] != '\r'))
			size++;
	return size;
}
