/*
 * reply.c - the SMTP client's reply parser: bytes in, complete replies out.
 *
 * Callers: session.c (each line the connection delivers), the unit tests
 * and tests/fuzz/fuzz_smtp_reply.c. RFC 5321 4.2 (reply syntax:
 * "CODE-text" continuation lines then "CODE[ SP text]"), 4.5.3.1.5 (512
 * is the least a reply line may be; we allow SMTPC_REPLY_LINE_MAX),
 * RFC 3463 / RFC 2034 (the enhanced status code after the reply code).
 *
 * Lines are parsed as they arrive, so memory is bounded by the reply
 * limit (smtp_reply_limit) plus one line, whatever a hostile server sends:
 * a 10 MB greeting fails as soon as the reply passes the limit, and the
 * parser then stays in its error state (the caller drops the connection).
 * Complete replies wait in a small queue until smtpc_reply_next takes
 * them; their number is bounded by what the caller fed.
 */
#include <stdlib.h>
#include <string.h>

#include "smtp/client/client-private.h"
#include "util.h"

struct reply_item {
	struct reply_item *next;
	int code;
	char dsn[12];
	char *text;
	size_t n_lines;
	char **lines;
};

struct smtpc_reply_parser {
	size_t limit;
	char line[SMTPC_REPLY_LINE_MAX + 2];
	size_t line_len;
	bool line_cr;           /* the last byte was CR */
	/* the reply being assembled */
	int code;
	size_t bytes;
	size_t n_lines, cap_lines;
	char **lines;
	/* complete replies, oldest first */
	struct reply_item *head, **tail;
	struct reply_item *current;  /* returned by the last next(), freed on the next call */
	const char *error;
};

struct smtpc_reply_parser *smtpc_reply_parser_new(size_t limit)
{
	struct smtpc_reply_parser *p = calloc(1, sizeof(*p));

	if (p == NULL)
		return NULL;
	p->limit = limit < 512 ? 512 : limit;
	p->tail = &p->head;
	return p;
}

static void item_free(struct reply_item *it)
{
	size_t i;

	if (it == NULL)
		return;
	for (i = 0; i < it->n_lines; i++)
		free(it->lines[i]);
	free(it->lines);
	free(it->text);
	free(it);
}

static void drop_lines(struct smtpc_reply_parser *p)
{
	size_t i;

	for (i = 0; i < p->n_lines; i++)
		free(p->lines[i]);
	free(p->lines);
	p->lines = NULL;
	p->n_lines = p->cap_lines = 0;
	p->bytes = 0;
	p->code = 0;
}

void smtpc_reply_parser_free(struct smtpc_reply_parser **pp)
{
	struct smtpc_reply_parser *p = *pp;
	struct reply_item *it, *next;

	if (p == NULL)
		return;
	drop_lines(p);
	for (it = p->head; it != NULL; it = next) {
		next = it->next;
		item_free(it);
	}
	item_free(p->current);
	free(p);
	*pp = NULL;
}

/* set_error - the first protocol error sticks; the rest of the input is
 * ignored (the caller drops the connection). */
static void set_error(struct smtpc_reply_parser *p, const char *error)
{
	if (p->error == NULL)
		p->error = error;
	drop_lines(p);
}

/* smtpc_enhanced_code - the RFC 3463 code at the start of text, when its
 * class matches the reply's first digit: "5.1.1" into dsn (size >= 12).
 * Returns the length consumed (with the following space), 0 if none. */
size_t smtpc_enhanced_code(const char *text, int reply_code, char dsn[12])
{
	size_t i = 0, n, part;

	dsn[0] = '\0';
	if (text[0] < '2' || text[0] > '5' || text[0] - '0' != reply_code / 100 || text[1] != '.')
		return 0;
	i = 2;
	for (part = 0; part < 2; part++) {
		for (n = 0; n < 3 && text[i + n] >= '0' && text[i + n] <= '9'; n++)
			;
		if (n == 0)
			return 0;
		i += n;
		if (part == 0) {
			if (text[i] != '.')
				return 0;
			i++;
		}
	}
	if (text[i] >= '0' && text[i] <= '9')
		return 0;
	if (text[i] != '\0' && text[i] != ' ')
		return 0;
	memcpy(dsn, text, i);
	dsn[i] = '\0';
	return text[i] == ' ' ? i + 1 : i;
}

static int finish_reply(struct smtpc_reply_parser *p)
{
	struct reply_item *it = calloc(1, sizeof(*it));
	struct strbuf sb;
	size_t i;

	if (it == NULL)
		return -1;
	strbuf_init(&sb, 0);
	for (i = 0; i < p->n_lines; i++) {
		const char *t = p->lines[i] + 3;

		if (*t == '-' || *t == ' ')
			t++;
		if ((i > 0 && strbuf_putc(&sb, ' ') < 0) || strbuf_puts(&sb, t) < 0) {
			strbuf_free(&sb);
			free(it);
			return -1;
		}
	}
	it->text = strbuf_steal(&sb);
	if (it->text == NULL) {
		free(it);
		return -1;
	}
	it->code = p->code;
	(void)smtpc_enhanced_code(it->text, it->code, it->dsn);
	it->lines = p->lines;
	it->n_lines = p->n_lines;
	p->lines = NULL;
	p->n_lines = p->cap_lines = 0;
	p->bytes = 0;
	p->code = 0;
	*p->tail = it;
	p->tail = &it->next;
	return 0;
}

/* take_line - one complete line (without CR LF) of the reply being built. */
static void take_line(struct smtpc_reply_parser *p, const char *line, size_t len)
{
	int code;
	bool last;
	char *copy;

	if (len < 3 || line[0] < '2' || line[0] > '5' || line[1] < '0' || line[1] > '9' ||
	    line[2] < '0' || line[2] > '9' || (len > 3 && line[3] != ' ' && line[3] != '-') ||
	    memchr(line, '\0', len) != NULL) {
		set_error(p, "reply line is not CODE SP/- text");
		return;
	}
	code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
	if (p->n_lines > 0 && code != p->code) {
		set_error(p, "reply codes differ between lines");
		return;
	}
	p->bytes += len + 2;
	if (p->bytes > p->limit) {
		set_error(p, "reply longer than smtp_reply_limit");
		return;
	}
	if (p->n_lines == p->cap_lines) {
		size_t cap = p->cap_lines ? p->cap_lines * 2 : 4;
		char **nl = realloc(p->lines, cap * sizeof(*nl));

		if (nl == NULL) {
			set_error(p, "out of memory for a reply");
			return;
		}
		p->lines = nl;
		p->cap_lines = cap;
	}
	copy = malloc(len + 1);
	if (copy == NULL) {
		set_error(p, "out of memory for a reply");
		return;
	}
	memcpy(copy, line, len);
	copy[len] = '\0';
	p->lines[p->n_lines++] = copy;
	p->code = code;
	last = len == 3 || line[3] == ' ';
	if (last && finish_reply(p) < 0)
		set_error(p, "out of memory for a reply");
}

int smtpc_reply_feed(struct smtpc_reply_parser *p, const char *data, size_t len)
{
	size_t i;

	for (i = 0; i < len && p->error == NULL; i++) {
		char ch = data[i];

		if (ch == '\n') {
			/* CR LF or a bare LF ends a line: servers that send bare
			 * LF exist, and being lenient here costs nothing */
			take_line(p, p->line, p->line_len);
			p->line_len = 0;
			p->line_cr = false;
			continue;
		}
		if (p->line_cr) {
			/* a CR not followed by LF is part of the text */
			if (p->line_len >= SMTPC_REPLY_LINE_MAX) {
				set_error(p, "reply line longer than 4096 bytes");
				break;
			}
			p->line[p->line_len++] = '\r';
			p->line_cr = false;
		}
		if (ch == '\r') {
			p->line_cr = true;
			continue;
		}
		if (p->line_len >= SMTPC_REPLY_LINE_MAX) {
			set_error(p, "reply line longer than 4096 bytes");
			break;
		}
		/* a line cannot be longer than the whole reply may be */
		if (p->bytes + p->line_len + 2 > p->limit) {
			set_error(p, "reply longer than smtp_reply_limit");
			break;
		}
		p->line[p->line_len++] = ch;
	}
	return p->error != NULL ? -1 : 0;
}

int smtpc_reply_next(struct smtpc_reply_parser *p, struct smtpc_reply *r, const char **error_r)
{
	struct reply_item *it;

	item_free(p->current);
	p->current = NULL;
	it = p->head;
	if (it != NULL) {
		p->head = it->next;
		if (p->head == NULL)
			p->tail = &p->head;
		it->next = NULL;
		p->current = it;
		r->code = it->code;
		str_copy(r->dsn, it->dsn, sizeof(r->dsn));
		r->text = it->text;
		r->n_lines = it->n_lines;
		r->lines = (const char *const *)it->lines;
		return 1;
	}
	if (p->error != NULL) {
		*error_r = p->error;
		return -1;
	}
	return 0;
}

bool smtpc_reply_pending(const struct smtpc_reply_parser *p)
{
	return p->n_lines > 0 || p->line_len > 0 || p->line_cr;
}
