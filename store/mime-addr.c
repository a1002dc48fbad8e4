/*
 * mime-addr.c - RFC 5322 address lists in IMAP's form (name adl mailbox
 * host), groups as RFC 3501 7.4.2 writes them. Called by mime_envelope()
 * and by anyone needing the addresses of From/To/Cc.
 *
 * RFC 5322 3.4 (mailbox, group, angle-addr), 4.4 (obsolete: routes
 * "@a,@b:", phrases with dots, CFWS around dots). Display names and
 * local parts lose their quotes; encoded words stay raw (IMAP clients
 * decode them). A bare "user (Name)" takes the comment as the name, as
 * mail readers show it. A missing domain or mailbox becomes
 * MISSING_DOMAIN / MISSING_MAILBOX (never NIL, which would mean a group).
 */
#include <stdlib.h>
#include <string.h>

#include "mime-private.h"

#define MAX_ADDRESSES 1000

struct alist {
	struct mime_address *v;
	size_t n, cap;
	bool oom;
};

struct aparse {
	const char *s;
	size_t len, i;
	struct strbuf phrase, local, comment;
	unsigned nwords;
};

static bool is_special(int c)
{
	return strchr("()<>[]:;@\\,\"", c) != NULL;
}

static char *dup_sb(const struct strbuf *sb, bool *oom)
{
	char *d = strndup(sb->len ? sb->data : "", sb->len);

	if (d == NULL)
		*oom = true;
	return d;
}

static void push(struct alist *al, const char *name, const char *adl, const char *mailbox,
		 const char *host)
{
	struct mime_address *a;

	if (al->oom || al->n >= MAX_ADDRESSES)
		return;
	if (al->n == al->cap) {
		size_t ncap = al->cap ? al->cap * 2 : 4;
		struct mime_address *nv = realloc(al->v, ncap * sizeof(*nv));

		if (nv == NULL) {
			al->oom = true;
			return;
		}
		al->v = nv;
		al->cap = ncap;
	}
	a = &al->v[al->n];
	a->name = name ? strdup(name) : NULL;
	a->adl = adl ? strdup(adl) : NULL;
	a->mailbox = mailbox ? strdup(mailbox) : NULL;
	a->host = host ? strdup(host) : NULL;
	if ((name && !a->name) || (adl && !a->adl) || (mailbox && !a->mailbox) || (host && !a->host)) {
		free(a->name);
		free(a->adl);
		free(a->mailbox);
		free(a->host);
		al->oom = true;
		return;
	}
	al->n++;
}

/* skip whitespace and comments; the text of the last comment is kept */
static void skip_cfws(struct aparse *ap)
{
	while (ap->i < ap->len) {
		char c = ap->s[ap->i];

		if (mime_is_ws((unsigned char)c)) {
			ap->i++;
			continue;
		}
		if (c != '(')
			break;
		unsigned depth = 0;
		strbuf_reset(&ap->comment);
		do {
			c = ap->s[ap->i];
			if (c == '\\' && ap->i + 1 < ap->len) {
				ap->i++;
				strbuf_putc(&ap->comment, ap->s[ap->i]);
			} else if (c == '(') {
				if (depth++ > 0)
					strbuf_putc(&ap->comment, c);
			} else if (c == ')') {
				if (--depth > 0)
					strbuf_putc(&ap->comment, c);
			} else {
				strbuf_putc(&ap->comment, c);
			}
			ap->i++;
		} while (ap->i < ap->len && depth > 0);
	}
}

/* read one word (atom with dots, or quoted string) into w */
static bool read_word(struct aparse *ap, struct strbuf *w)
{
	strbuf_reset(w);
	if (ap->i < ap->len && ap->s[ap->i] == '"') {
		for (ap->i++; ap->i < ap->len && ap->s[ap->i] != '"'; ap->i++) {
			char c = ap->s[ap->i];

			if (c == '\\' && ap->i + 1 < ap->len)
				c = ap->s[++ap->i];
			if (c != '\r' && c != '\n')
				strbuf_putc(w, c);
		}
		if (ap->i < ap->len)
			ap->i++;
		return true;
	}
	size_t st = ap->i;
	while (ap->i < ap->len && !is_special((unsigned char)ap->s[ap->i]) &&
	       !mime_is_ws((unsigned char)ap->s[ap->i]))
		ap->i++;
	strbuf_append(w, ap->s + st, ap->i - st);
	return ap->i > st;
}

static void add_word(struct aparse *ap, const struct strbuf *w)
{
	if (ap->nwords++ > 0)
		strbuf_putc(&ap->phrase, ' ');
	strbuf_append(&ap->phrase, w->data ? w->data : "", w->len);
	strbuf_append(&ap->local, w->data ? w->data : "", w->len);
}

/* domain after '@': atoms, dots and [literals], CFWS between them */
static void read_domain(struct aparse *ap, struct strbuf *d)
{
	strbuf_reset(d);
	for (;;) {
		skip_cfws(ap);
		if (ap->i >= ap->len)
			break;
		char c = ap->s[ap->i];
		if (c == '[') {
			size_t st = ap->i;
			while (ap->i < ap->len && ap->s[ap->i] != ']')
				ap->i++;
			if (ap->i < ap->len)
				ap->i++;
			strbuf_append(d, ap->s + st, ap->i - st);
		} else if (!is_special((unsigned char)c)) {
			struct strbuf w;
			strbuf_init(&w, 0);
			read_word(ap, &w);
			strbuf_append(d, w.data ? w.data : "", w.len);
			strbuf_free(&w);
		} else {
			break;
		}
		/* continue only over an obsolete "a . b" */
		size_t save = ap->i;
		skip_cfws(ap);
		if (d->len > 0 && d->data[d->len - 1] == '.')
			continue;
		if (ap->i < ap->len && ap->s[ap->i] == '.')
			continue;
		ap->i = save;
		break;
	}
}

static void reset_entry(struct aparse *ap)
{
	strbuf_reset(&ap->phrase);
	strbuf_reset(&ap->local);
	strbuf_reset(&ap->comment);
	ap->nwords = 0;
}

static const char *or_missing(const struct strbuf *sb, const char *missing)
{
	return sb->len > 0 ? sb->data : missing;
}

static void angle_addr(struct aparse *ap, struct alist *al)
{
	struct strbuf adl, local, dom, w;
	char *name = ap->nwords > 0 ? dup_sb(&ap->phrase, &al->oom) : NULL;

	strbuf_init(&adl, 0);
	strbuf_init(&local, 0);
	strbuf_init(&dom, 0);
	strbuf_init(&w, 0);
	ap->i++; /* '<' */
	skip_cfws(ap);
	/* obsolete route: @a,@b: */
	if (ap->i < ap->len && ap->s[ap->i] == '@') {
		size_t st = ap->i;
		while (ap->i < ap->len && ap->s[ap->i] != ':' && ap->s[ap->i] != '>')
			ap->i++;
		if (ap->i < ap->len && ap->s[ap->i] == ':') {
			for (size_t k = st; k < ap->i; k++)
				if (!mime_is_ws((unsigned char)ap->s[k]))
					strbuf_putc(&adl, ap->s[k]);
			ap->i++;
		} else {
			ap->i = st;
		}
	}
	for (;;) {
		skip_cfws(ap);
		if (ap->i >= ap->len || ap->s[ap->i] == '>' || ap->s[ap->i] == '@')
			break;
		if (!read_word(ap, &w)) {
			ap->i++;
			continue;
		}
		strbuf_append(&local, w.data ? w.data : "", w.len);
	}
	if (ap->i < ap->len && ap->s[ap->i] == '@') {
		ap->i++;
		read_domain(ap, &dom);
	}
	while (ap->i < ap->len && ap->s[ap->i] != '>' && ap->s[ap->i] != ',' && ap->s[ap->i] != ';')
		ap->i++;
	if (ap->i < ap->len && ap->s[ap->i] == '>')
		ap->i++;
	if (local.len > 0 || dom.len > 0 || name != NULL)
		push(al, name, adl.len ? adl.data : NULL, or_missing(&local, "MISSING_MAILBOX"),
		     or_missing(&dom, "MISSING_DOMAIN"));
	free(name);
	strbuf_free(&adl);
	strbuf_free(&local);
	strbuf_free(&dom);
	strbuf_free(&w);
	reset_entry(ap);
}

static void flush_bare(struct aparse *ap, struct alist *al, struct strbuf *dom)
{
	if (ap->nwords == 0 && (dom == NULL || dom->len == 0))
		return;
	push(al, ap->comment.len ? ap->comment.data : NULL, NULL, or_missing(&ap->local, "MISSING_MAILBOX"),
	     dom && dom->len ? dom->data : "MISSING_DOMAIN");
	reset_entry(ap);
}

int mime_address_parse(const char *value, size_t len, struct mime_address **list_r, size_t *count_r)
{
	struct aparse ap = { value, len, 0, { 0 }, { 0 }, { 0 }, 0 };
	struct alist al = { NULL, 0, 0, false };
	struct strbuf w, dom;
	bool in_group = false;

	strbuf_init(&ap.phrase, 0);
	strbuf_init(&ap.local, 0);
	strbuf_init(&ap.comment, 0);
	strbuf_init(&w, 0);
	strbuf_init(&dom, 0);
	while (!al.oom && al.n < MAX_ADDRESSES) {
		skip_cfws(&ap);
		if (ap.i >= len)
			break;
		char c = value[ap.i];
		if (c == '<') {
			angle_addr(&ap, &al);
		} else if (c == ':' && ap.nwords > 0 && !in_group) {
			char *g = dup_sb(&ap.phrase, &al.oom);
			push(&al, NULL, NULL, g, NULL);
			free(g);
			in_group = true;
			reset_entry(&ap);
			ap.i++;
		} else if (c == '@') {
			ap.i++;
			strbuf_reset(&ap.comment);
			read_domain(&ap, &dom);
			skip_cfws(&ap);  /* a trailing "(Real Name)" */
			flush_bare(&ap, &al, &dom);
			if (ap.nwords == 0 && dom.len == 0)
				reset_entry(&ap);
			strbuf_reset(&dom);
		} else if (c == ',' || c == ';') {
			flush_bare(&ap, &al, NULL);
			reset_entry(&ap);
			if (c == ';' && in_group) {
				push(&al, NULL, NULL, NULL, NULL);
				in_group = false;
			}
			ap.i++;
		} else if (read_word(&ap, &w)) {
			add_word(&ap, &w);
		} else {
			ap.i++;  /* stray special: '>', ')', '[', ']', '\\', ':' */
		}
	}
	if (!al.oom) {
		flush_bare(&ap, &al, NULL);
		if (in_group)
			push(&al, NULL, NULL, NULL, NULL);
	}
	strbuf_free(&ap.phrase);
	strbuf_free(&ap.local);
	strbuf_free(&ap.comment);
	strbuf_free(&w);
	strbuf_free(&dom);
	if (al.oom) {
		mime_address_free(&al.v, al.n);
		return -1;
	}
	*list_r = al.v;
	*count_r = al.n;
	return 0;
}

void mime_address_free(struct mime_address **list, size_t count)
{
	if (*list == NULL)
		return;
	for (size_t i = 0; i < count; i++) {
		free((*list)[i].name);
		free((*list)[i].adl);
		free((*list)[i].mailbox);
		free((*list)[i].host);
	}
	x_free(list);
}
