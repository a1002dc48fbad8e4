/*
 * imap-parser.c - the IMAP command parser: turns the lines and literals a
 * client sends into a tag, a command name (with the UID prefix) and a tree
 * of arguments (struct imap_arg), without ever recursing on input depth.
 *
 * Called by imap-session.c (one parser per session, created at the first
 * command) and by the unit tests and the fuzz harness, which feed it lines
 * and literal bytes without a network.
 *
 * RFC 3501 9 (formal syntax: tag, atom, quoted, literal, list), RFC 7888
 * (LITERAL+: "{n+}" needs no continuation; one that is too big must still
 * be read and thrown away), RFC 3516 ("~{n}" literal8 is recognised),
 * RFC 5530 (TOOBIG, CLIENTBUG, LIMIT codes).
 *
 * How a command flows: imap_parser_line() reads a line. When it ends with
 * a literal announcement the parser checks the size first (the in-memory
 * budget IMAP_MAX_MEMORY_LITERALS, or for APPEND the literal size limit)
 * and answers IMAP_PARSE_LITERAL only for a literal it will take; the
 * session then sends "+ OK" for a synchronizing one and feeds the bytes
 * with imap_parser_literal(), and the next line continues the command.
 * An APPEND literal bigger than IMAP_LITERAL_SPOOL_MIN goes straight into
 * an unlinked file in tmp_dir (IMAP_ARG_LITERAL_FD) and never into memory.
 *
 * After an error in the middle of a command the parser skips what is left
 * of it: a non-synchronizing literal announced at the end of a skipped
 * line must still be read and dropped (out->discard), a synchronizing one
 * is never sent by the client because it got no "+".
 *
 * Memory: the strings and argument arrays of one command live in a small
 * arena freed by imap_parser_reset(); an idle parser holds nothing but
 * itself.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "imap/imap-private.h"

/* ---- a small arena for one command ---- */

struct pool_block {
	struct pool_block *next;
	size_t used, size;
	char data[];
};

#define POOL_MIN_BLOCK 1024
#define POOL_MAX_BLOCK (64 * 1024)

/* One level of an open list: a growable array of arguments. */
struct level {
	struct imap_arg *items;
	size_t n, cap;
};

enum pstate {
	PS_START,    /* expecting a new command line */
	PS_ARGS,     /* inside a command, after a literal: more arguments follow */
	PS_LITERAL,  /* reading literal bytes */
	PS_SKIP,     /* the rest of a refused command */
};

struct imap_parser {
	struct imap_parser_settings set;
	enum pstate state;
	char tag[IMAP_TAG_MAX + 1];
	char name[32];
	bool uid;
	int cmd_flags;
	struct pool_block *pool;
	size_t pool_bytes;
	struct level stack[IMAP_MAX_DEPTH + 1];
	size_t depth;
	size_t total_args;
	uint64_t mem_literals;
	/* the literal being read: where its argument is */
	size_t lit_level, lit_index;
	uint64_t lit_size, lit_got;
	int lit_fd;
	bool lit_failed;
	/* spool files of this command, closed on reset */
	int *fds;
	size_t n_fds;
	/* the last error */
	bool err_tagged, err_bad;
	const char *err_code;
	char err_text[160];
	/* the finished command */
	const struct imap_arg *args;
	size_t nargs;
};

static void *pool_alloc(struct imap_parser *p, size_t n)
{
	struct pool_block *b = p->pool;
	size_t align = n + ((8 - (n % 8)) % 8);

	if (align < n)
		return NULL;
	if (b == NULL || b->size - b->used < align) {
		size_t size = b ? b->size * 2 : POOL_MIN_BLOCK;

		if (size > POOL_MAX_BLOCK)
			size = POOL_MAX_BLOCK;
		if (size < align)
			size = align;
		b = malloc(sizeof(*b) + size);
		if (b == NULL)
			return NULL;
		b->size = size;
		b->used = 0;
		b->next = p->pool;
		p->pool = b;
		p->pool_bytes += sizeof(*b) + size;
	}
	void *r = b->data + b->used;
	b->used += align;
	return r;
}

static char *pool_strndup(struct imap_parser *p, const char *s, size_t n)
{
	char *r = pool_alloc(p, n + 1);

	if (r) {
		memcpy(r, s, n);
		r[n] = '\0';
	}
	return r;
}

struct imap_parser *imap_parser_new(const struct imap_parser_settings *set)
{
	struct imap_parser *p = calloc(1, sizeof(*p));

	if (p == NULL)
		return NULL;
	p->set = *set;
	p->lit_fd = -1;
	return p;
}

void imap_parser_reset(struct imap_parser *p)
{
	while (p->pool) {
		struct pool_block *next = p->pool->next;
		free(p->pool);
		p->pool = next;
	}
	p->pool_bytes = 0;
	for (size_t i = 0; i <= IMAP_MAX_DEPTH; i++) {
		free(p->stack[i].items);
		memset(&p->stack[i], 0, sizeof(p->stack[i]));
	}
	for (size_t i = 0; i < p->n_fds; i++)
		close(p->fds[i]);
	free(p->fds);
	p->fds = NULL;
	p->n_fds = 0;
	p->lit_fd = -1;
	p->depth = 0;
	p->total_args = 0;
	p->mem_literals = 0;
	p->tag[0] = '\0';
	p->name[0] = '\0';
	p->uid = false;
	p->cmd_flags = 0;
	p->args = NULL;
	p->nargs = 0;
	p->lit_failed = false;
	p->state = PS_START;
}

void imap_parser_free(struct imap_parser **pp)
{
	if (*pp == NULL)
		return;
	imap_parser_reset(*pp);
	x_free(pp);
}

size_t imap_parser_memory(const struct imap_parser *p)
{
	size_t n = sizeof(*p) + p->pool_bytes;

	for (size_t i = 0; i <= IMAP_MAX_DEPTH; i++)
		n += p->stack[i].cap * sizeof(struct imap_arg);
	return n;
}

/* ---- errors ---- */

/* fail - remember the reply and leave the command: skip what is left of
 * it (the caller decides whether a literal must still be discarded). */
static enum imap_parse_result fail(struct imap_parser *p, bool bad, const char *code,
				   const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static enum imap_parse_result fail(struct imap_parser *p, bool bad, const char *code,
				   const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(p->err_text, sizeof(p->err_text), fmt, ap);
	va_end(ap);
	p->err_tagged = p->tag[0] != '\0';
	p->err_bad = bad;
	p->err_code = code;
	return IMAP_PARSE_ERROR;
}

void imap_parser_error(const struct imap_parser *p, const char **tag_r, bool *bad_r,
		       const char **code_r, const char **text_r)
{
	*tag_r = p->err_tagged ? p->tag : "";
	*bad_r = p->err_bad;
	*code_r = p->err_code;
	*text_r = p->err_text;
}

/* ---- syntax classes (RFC 3501 9) ---- */

/* tag characters: ASTRING-CHAR except '+' */
static bool is_tag_char(unsigned char c)
{
	if (c <= 0x20 || c >= 0x7f)
		return false;
	return strchr("(){%*\"\\+", c) == NULL;
}

/* Characters that end an atom outside brackets. Wildcards, '\\' (flags)
 * and ']' are kept: LIST patterns, flags and section texts need them. */
static bool ends_atom(unsigned char c)
{
	return c == ' ' || c == '(' || c == ')' || c == '"' || c == '{' || c < 0x20 || c == 0x7f;
}

/* ---- building the tree ---- */

static struct imap_arg *new_arg(struct imap_parser *p, enum imap_arg_type type)
{
	struct level *lv = &p->stack[p->depth];

	if (p->total_args >= IMAP_MAX_ARGS)
		return NULL;
	if (lv->n == lv->cap) {
		size_t cap = lv->cap ? lv->cap * 2 : 8;
		struct imap_arg *items = realloc(lv->items, cap * sizeof(*items));
		if (items == NULL)
			return NULL;
		lv->items = items;
		lv->cap = cap;
	}
	p->total_args++;
	struct imap_arg *a = &lv->items[lv->n++];
	memset(a, 0, sizeof(*a));
	a->type = type;
	a->fd = -1;
	return a;
}

/* close_level - the list at the top of the stack becomes one LIST
 * argument of its parent. The children move into the arena. */
static int close_level(struct imap_parser *p)
{
	struct level *lv = &p->stack[p->depth];
	struct imap_arg *children = NULL;
	size_t n = lv->n;

	if (n > 0) {
		children = pool_alloc(p, n * sizeof(*children));
		if (children == NULL)
			return -1;
		memcpy(children, lv->items, n * sizeof(*children));
	}
	lv->n = 0;
	p->depth--;
	/* new_arg counts it again: the LIST itself was counted when opened */
	p->total_args--;
	struct imap_arg *a = new_arg(p, IMAP_ARG_LIST);
	if (a == NULL)
		return -1;
	a->list = children;
	a->list_count = n;
	return 0;
}

/* ---- one line ---- */

/* literal_at_end - whether line ends with "{N}" / "{N+}" / "~{N}"; the
 * start of the announcement in *start_r. */
static bool literal_at_end(const char *line, size_t len, size_t *start_r, uint64_t *size_r,
			   bool *sync_r, bool *overflow_r)
{
	size_t i, e;
	uint64_t v = 0;

	*overflow_r = false;
	if (len < 3 || line[len - 1] != '}')
		return false;
	e = len - 1;
	*sync_r = true;
	if (line[e - 1] == '+') {
		*sync_r = false;
		e--;
	}
	i = e;
	while (i > 0 && line[i - 1] >= '0' && line[i - 1] <= '9')
		i--;
	if (i == e || i == 0 || line[i - 1] != '{')
		return false;
	for (size_t k = i; k < e; k++) {
		if (v > (UINT64_MAX - 9) / 10)
			*overflow_r = true;
		else
			v = v * 10 + (uint64_t)(line[k] - '0');
	}
	*start_r = i - 1;
	if (*start_r > 0 && line[*start_r - 1] == '~')
		(*start_r)--;
	*size_r = v;
	return true;
}

/* skip_line - a line of a refused command: only a trailing
 * non-synchronizing literal matters (its bytes must be read). */
static enum imap_parse_result skip_line(struct imap_parser *p, const char *line, size_t len,
					struct imap_parse_out *out)
{
	size_t start;
	uint64_t size;
	bool sync, overflow;

	if (literal_at_end(line, len, &start, &size, &sync, &overflow) && !sync && !overflow) {
		out->discard = size;
		p->state = PS_SKIP;
	} else {
		imap_parser_reset(p);
	}
	return IMAP_PARSE_IGNORE;
}

/* reset_keep_tag - forget the command but keep its tag for the reply. */
static void reset_keep_tag(struct imap_parser *p)
{
	char tag[IMAP_TAG_MAX + 1];

	str_copy(tag, p->tag, sizeof(tag));
	imap_parser_reset(p);
	str_copy(p->tag, tag, sizeof(p->tag));
}

/* refuse - an error in the middle of a command: reply now, then skip the
 * rest of the command (line holds the rest of the current line). */
static enum imap_parse_result refuse(struct imap_parser *p, const char *line, size_t len,
				     struct imap_parse_out *out)
{
	char tag[IMAP_TAG_MAX + 1];

	/* keep the reply fields across the reset (tag lives in p) */
	str_copy(tag, p->tag, sizeof(tag));
	skip_line(p, line, len, out);
	str_copy(p->tag, tag, sizeof(p->tag));
	return IMAP_PARSE_ERROR;
}

static enum imap_parse_result finish(struct imap_parser *p)
{
	struct level *lv = &p->stack[0];
	struct imap_arg *args = NULL;

	if (lv->n > 0) {
		args = pool_alloc(p, lv->n * sizeof(*args));
		if (args == NULL)
			return IMAP_PARSE_ERROR;
		memcpy(args, lv->items, lv->n * sizeof(*args));
	}
	p->args = args;
	p->nargs = lv->n;
	lv->n = 0;
	p->state = PS_START;
	return IMAP_PARSE_DONE;
}

static int open_spool(struct imap_parser *p)
{
	const char *dir = p->set.tmp_dir && *p->set.tmp_dir ? p->set.tmp_dir : "/tmp";
	int fd = open(dir, O_TMPFILE | O_RDWR | O_EXCL | O_CLOEXEC, 0600);

	if (fd < 0) {
		/* Filesystems without O_TMPFILE: a named file, unlinked at once. */
		char path[4096];

		snprintf(path, sizeof(path), "%s/imap-literal.XXXXXX", dir);
		fd = mkostemp(path, O_CLOEXEC);
		if (fd < 0)
			return -1;
		unlink(path);
	}
	int *fds = realloc(p->fds, (p->n_fds + 1) * sizeof(*fds));
	if (fds == NULL) {
		close(fd);
		return -1;
	}
	p->fds = fds;
	p->fds[p->n_fds++] = fd;
	return fd;
}

/* start_literal - the line ended with a literal announcement. */
static enum imap_parse_result start_literal(struct imap_parser *p, const char *ann, size_t alen,
					    struct imap_parse_out *out)
{
	size_t start;
	uint64_t size;
	bool sync, overflow, lit8;
	bool append = p->cmd_flags > 0 && (p->cmd_flags & IMAP_CMD_FLAG_APPEND);
	uint64_t limit = p->set.literal_size_limit;

	if (!literal_at_end(ann, alen, &start, &size, &sync, &overflow) || start != 0) {
		refuse(p, ann, alen, out);
		return fail(p, true, NULL, "Invalid literal");
	}
	lit8 = ann[0] == '~';
	if (overflow) {
		/* cannot even be counted: nothing sensible can be discarded */
		reset_keep_tag(p);
		return fail(p, true, "TOOBIG", "Literal size is not a number we accept");
	}
	if (append && limit > 0 && size > limit) {
		reset_keep_tag(p);
		if (!sync) {
			out->discard = size;
			p->state = PS_SKIP;
		}
		return fail(p, false, "TOOBIG", "Message too big (the limit is %llu bytes)",
			    (unsigned long long)limit);
	}
	bool spool = append && size > IMAP_LITERAL_SPOOL_MIN &&
		     !(p->cmd_flags & IMAP_CMD_FLAG_NO_LITERAL_FD);
	if (!spool && p->mem_literals + size > IMAP_MAX_MEMORY_LITERALS) {
		reset_keep_tag(p);
		if (!sync) {
			out->discard = size;
			p->state = PS_SKIP;
		}
		return fail(p, false, "TOOBIG", "Literal too big (at most %u bytes per command here)",
			    (unsigned)IMAP_MAX_MEMORY_LITERALS);
	}
	struct imap_arg *a = new_arg(p, spool ? IMAP_ARG_LITERAL_FD : IMAP_ARG_LITERAL);
	if (a == NULL) {
		reset_keep_tag(p);
		if (!sync) {
			out->discard = size;
			p->state = PS_SKIP;
		}
		return fail(p, true, "LIMIT", "Too many arguments");
	}
	a->literal8 = lit8;
	a->len = (size_t)size;
	if (spool) {
		a->fd = open_spool(p);
		if (a->fd < 0) {
			reset_keep_tag(p);
			if (!sync) {
				out->discard = size;
				p->state = PS_SKIP;
			}
			return fail(p, false, "UNAVAILABLE", "Cannot store the message now; try again later");
		}
		p->lit_fd = a->fd;
	} else {
		a->data = pool_alloc(p, (size_t)size + 1);
		if (a->data == NULL) {
			reset_keep_tag(p);
			if (!sync) {
				out->discard = size;
				p->state = PS_SKIP;
			}
			return fail(p, false, "UNAVAILABLE", "Out of memory");
		}
		a->data[size] = '\0';
		p->mem_literals += size;
		p->lit_fd = -1;
	}
	p->lit_level = p->depth;
	p->lit_index = p->stack[p->depth].n - 1;
	p->lit_size = size;
	p->lit_got = 0;
	/* an empty literal is complete already: the next line continues */
	p->state = size > 0 ? PS_LITERAL : PS_ARGS;
	out->literal_size = size;
	out->literal_sync = sync;
	return IMAP_PARSE_LITERAL;
}

/* parse_args - arguments from line[i..len). */
static enum imap_parse_result parse_args(struct imap_parser *p, const char *line, size_t len,
					 size_t i, struct imap_parse_out *out)
{
	while (i < len) {
		unsigned char c = (unsigned char)line[i];

		if (c == ' ') {
			i++;
			continue;
		}
		if (c == '(') {
			if (p->depth >= IMAP_MAX_DEPTH) {
				refuse(p, line + i, len - i, out);
				return fail(p, true, "CLIENTBUG", "Too deep nesting");
			}
			/* count the list now so a flood of "(((" hits the limit */
			if (p->total_args >= IMAP_MAX_ARGS) {
				refuse(p, line + i, len - i, out);
				return fail(p, true, "LIMIT", "Too many arguments");
			}
			p->total_args++;
			p->depth++;
			p->stack[p->depth].n = 0;
			i++;
			continue;
		}
		if (c == ')') {
			if (p->depth == 0) {
				refuse(p, line + i, len - i, out);
				return fail(p, true, "CLIENTBUG", "Unexpected ')'");
			}
			if (close_level(p) < 0) {
				refuse(p, line + i, len - i, out);
				return fail(p, true, "LIMIT", "Too many arguments");
			}
			i++;
			continue;
		}
		if (c == '"') {
			size_t j = i + 1, n = 0;
			char *buf = pool_alloc(p, len - i);

			if (buf == NULL) {
				refuse(p, line + i, len - i, out);
				return fail(p, false, "UNAVAILABLE", "Out of memory");
			}
			for (; j < len && line[j] != '"'; j++) {
				if (line[j] == '\\') {
					if (j + 1 >= len || (line[j + 1] != '\\' && line[j + 1] != '"')) {
						refuse(p, line + j, len - j, out);
						return fail(p, true, NULL, "Invalid escape in a quoted string (only \\\\ and \\\" are allowed)");
					}
					j++;
				} else if (line[j] == '\0') {
					refuse(p, line + j, len - j, out);
					return fail(p, true, NULL, "NUL byte in a quoted string");
				}
				buf[n++] = line[j];
			}
			if (j >= len) {
				refuse(p, "", 0, out);
				return fail(p, true, NULL, "Missing '\"'");
			}
			buf[n] = '\0';
			struct imap_arg *a = new_arg(p, IMAP_ARG_STRING);
			if (a == NULL) {
				refuse(p, line + j, len - j, out);
				return fail(p, true, "LIMIT", "Too many arguments");
			}
			a->data = buf;
			a->len = n;
			i = j + 1;
			continue;
		}
		if (c == '{' || (c == '~' && i + 1 < len && line[i + 1] == '{')) {
			return start_literal(p, line + i, len - i, out);
		}
		/* an atom, with bracketed parts kept whole */
		size_t j = i;
		int brackets = 0;
		while (j < len) {
			unsigned char d = (unsigned char)line[j];
			if (d == '\0')
				break;
			if (brackets > 0) {
				if (d == '[')
					brackets++;
				else if (d == ']')
					brackets--;
				j++;
				continue;
			}
			if (d == '[') {
				brackets++;
				j++;
				continue;
			}
			if (ends_atom(d))
				break;
			j++;
		}
		if (j < len && line[j] == '\0') {
			refuse(p, line + j, len - j, out);
			return fail(p, true, NULL, "NUL byte in the command");
		}
		if (brackets > 0) {
			refuse(p, "", 0, out);
			return fail(p, true, NULL, "Missing ']'");
		}
		if (j == i) {
			/* a byte no atom may start with: a stray control byte */
			refuse(p, line + i, len - i, out);
			return fail(p, true, NULL, "Invalid characters in the command");
		}
		struct imap_arg *a = new_arg(p, IMAP_ARG_ATOM);
		if (a == NULL || (a->data = pool_strndup(p, line + i, j - i)) == NULL) {
			refuse(p, line + j, len - j, out);
			return fail(p, true, "LIMIT", "Too many arguments");
		}
		a->len = j - i;
		i = j;
	}
	if (p->depth > 0) {
		reset_keep_tag(p);
		return fail(p, true, "CLIENTBUG", "Missing ')'");
	}
	return finish(p);
}

static enum imap_parse_result parse_start(struct imap_parser *p, const char *line, size_t len,
					  struct imap_parse_out *out)
{
	size_t i = 0, t;

	imap_parser_reset(p);
	if (len == 0)
		return IMAP_PARSE_IGNORE;
	while (i < len && is_tag_char((unsigned char)line[i]))
		i++;
	if (i == 0 || i > IMAP_TAG_MAX || (i < len && line[i] != ' ')) {
		skip_line(p, line, len, out);
		return fail(p, true, NULL, "Invalid tag");
	}
	memcpy(p->tag, line, i);
	p->tag[i] = '\0';
	/* the command name, perhaps after UID */
	for (int word = 0; word < 2; word++) {
		char name[32];

		while (i < len && line[i] == ' ')
			i++;
		t = i;
		while (i < len && ((line[i] >= 'A' && line[i] <= 'Z') || (line[i] >= 'a' && line[i] <= 'z') ||
				   (line[i] >= '0' && line[i] <= '9') || line[i] == '-'))
			i++;
		if (i == t) {
			refuse(p, line + i, len - i, out);
			return fail(p, true, NULL, word == 0 ? "Missing command name" : "Missing command name after UID");
		}
		if (i - t >= sizeof(name) || (i < len && line[i] != ' ')) {
			refuse(p, line + i, len - i, out);
			return fail(p, true, NULL, "Unknown command");
		}
		memcpy(name, line + t, i - t);
		name[i - t] = '\0';
		for (char *c = name; *c; c++)
			if (*c >= 'a' && *c <= 'z')
				*c = (char)(*c - 'a' + 'A');
		if (word == 0 && strcmp(name, "UID") == 0) {
			p->uid = true;
			continue;
		}
		str_copy(p->name, name, sizeof(p->name));
		break;
	}
	p->cmd_flags = p->set.flags_fn ? p->set.flags_fn(p->name, p->uid, p->set.flags_ctx) : 0;
	if (p->cmd_flags < 0) {
		refuse(p, line + i, len - i, out);
		return fail(p, true, NULL, "Unknown command");
	}
	p->state = PS_ARGS;
	return parse_args(p, line, len, i, out);
}

enum imap_parse_result imap_parser_line(struct imap_parser *p, const char *line, size_t len,
					struct imap_parse_out *out)
{
	memset(out, 0, sizeof(*out));
	switch (p->state) {
	case PS_START:
		return parse_start(p, line, len, out);
	case PS_ARGS:
		if (p->lit_failed) {
			refuse(p, line, len, out);
			return fail(p, false, "UNAVAILABLE", "Cannot store the literal now; try again later");
		}
		return parse_args(p, line, len, 0, out);
	case PS_SKIP:
		return skip_line(p, line, len, out);
	case PS_LITERAL:
		/* the session feeds literal bytes before lines; a line here is
		 * a caller bug: start over */
		imap_parser_reset(p);
		return parse_start(p, line, len, out);
	}
	return IMAP_PARSE_IGNORE;
}

int imap_parser_literal(struct imap_parser *p, const void *data, size_t len)
{
	struct imap_arg *a;

	if (p->state != PS_LITERAL || len > p->lit_size - p->lit_got)
		return -1;
	a = &p->stack[p->lit_level].items[p->lit_index];
	if (a->type == IMAP_ARG_LITERAL_FD) {
		const char *d = data;
		size_t left = len;
		while (left > 0 && !p->lit_failed) {
			ssize_t w = write(a->fd, d, left);
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0) {
				p->lit_failed = true;
				break;
			}
			d += w;
			left -= (size_t)w;
		}
	} else {
		memcpy(a->data + p->lit_got, data, len);
	}
	p->lit_got += len;
	if (p->lit_got == p->lit_size) {
		if (a->type == IMAP_ARG_LITERAL_FD && lseek(a->fd, 0, SEEK_SET) < 0)
			p->lit_failed = true;
		p->state = PS_ARGS;
	}
	return p->lit_failed ? -1 : 0;
}

void imap_parser_command(const struct imap_parser *p, const char **tag_r, const char **name_r,
			 bool *uid_r, const struct imap_arg **args_r, size_t *nargs_r)
{
	*tag_r = p->tag;
	*name_r = p->name;
	*uid_r = p->uid;
	*args_r = p->args;
	*nargs_r = p->nargs;
}

/* ---- helpers on arguments ---- */

bool imap_arg_is_atom(const struct imap_arg *a, const char *upper_name)
{
	return a && a->type == IMAP_ARG_ATOM && strcasecmp(a->data, upper_name) == 0;
}

const char *imap_arg_astring(const struct imap_arg *a)
{
	if (a == NULL)
		return NULL;
	if (a->type != IMAP_ARG_ATOM && a->type != IMAP_ARG_STRING && a->type != IMAP_ARG_LITERAL)
		return NULL;
	if (memchr(a->data, '\0', a->len) != NULL)
		return NULL;
	return a->data;
}

bool imap_arg_is_nil(const struct imap_arg *a)
{
	return imap_arg_is_atom(a, "NIL");
}
