/*
 * maildir-dovecot.c - read Dovecot's dovecot-uidlist and dovecot-keywords
 * (format in maildir-dovecot.h), so a Maildir taken over from Dovecot
 * keeps its UIDVALIDITY, UIDs and keywords: IMAP clients keep their
 * caches, POP3 UIDLs built from UID and UIDVALIDITY stay the same.
 *
 * Called by store/maildir.c (first indexing of a folder, scans of files
 * without a U= field, keyword letters) and the unit/fuzz tests.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/maildir-dovecot.h"
#include "store/maildir-name.h"

/* A decimal number at *p (advanced); false if none or it overflows 32 bits. */
static bool parse_u32(const char **p, const char *end, uint32_t *v_r)
{
	uint64_t v = 0;
	const char *s = *p;

	while (s < end && *s >= '0' && *s <= '9') {
		v = v * 10 + (uint64_t)(*s - '0');
		if (v > UINT32_MAX)
			return false;
		s++;
	}
	if (s == *p)
		return false;
	*p = s;
	*v_r = (uint32_t)v;
	return true;
}

static int entry_cmp(const void *a, const void *b)
{
	return strcmp(((const struct maildir_uidlist_entry *)a)->base,
		      ((const struct maildir_uidlist_entry *)b)->base);
}

static bool header_parse(const char *p, const char *end, struct maildir_uidlist *ul)
{
	uint32_t ver;

	if (!parse_u32(&p, end, &ver) || (ver != 1 && ver != 3))
		return false;
	ul->version = ver;
	if (ver == 1) {
		/* "1 UIDVALIDITY NEXTUID" */
		while (p < end && *p == ' ')
			p++;
		if (!parse_u32(&p, end, &ul->uidvalidity))
			return false;
		while (p < end && *p == ' ')
			p++;
		if (!parse_u32(&p, end, &ul->nextuid))
			ul->nextuid = 0;
		return ul->uidvalidity != 0;
	}
	/* "3 V1275660208 N25022 G3085f..." - fields in any order */
	while (p < end) {
		while (p < end && *p == ' ')
			p++;
		if (p >= end)
			break;
		if (*p == 'V' || *p == 'N') {
			char key = *p++;
			uint32_t v;

			if (parse_u32(&p, end, &v)) {
				if (key == 'V')
					ul->uidvalidity = v;
				else
					ul->nextuid = v;
			}
		}
		while (p < end && *p != ' ')
			p++;
	}
	return ul->uidvalidity != 0;
}

/* One message line into *e (base not yet copied): 0, or -1 to skip it. */
static int line_parse(const struct maildir_uidlist *ul, const char *p, const char *end,
		      uint32_t *uid_r, const char **name_r, size_t *len_r)
{
	const char *name;

	if (!parse_u32(&p, end, uid_r) || *uid_r == 0 || p >= end || *p != ' ')
		return -1;
	if (ul->version == 3) {
		/* extension fields, then " :NAME" */
		name = NULL;
		while (p < end) {
			while (p < end && *p == ' ')
				p++;
			if (p < end && *p == ':') {
				name = p + 1;
				break;
			}
			while (p < end && *p != ' ')
				p++;
		}
		if (name == NULL)
			return -1;
	} else {
		while (p < end && *p == ' ')
			p++;
		name = p;
	}
	*len_r = (size_t)(end - name);
	{
		const char *colon = memchr(name, ':', *len_r);

		if (colon)
			*len_r = (size_t)(colon - name);
	}
	*name_r = name;
	if (*len_r == 0 || *len_r > MAILDIR_NAME_MAX || name[0] == '.' ||
	    memchr(name, '/', *len_r) || memchr(name, '\0', *len_r))
		return -1;
	return 0;
}

int maildir_uidlist_parse(const char *data, size_t len, struct maildir_uidlist *ul,
			  const char **error_r)
{
	const char *p = data, *end = data + len;
	const char *nl = memchr(p, '\n', len);
	size_t cap = 0, w = 0;
	uint32_t maxuid = 0;

	memset(ul, 0, sizeof(*ul));
	if (!header_parse(p, nl ? nl : end, ul)) {
		*error_r = "not a dovecot-uidlist (version 1 or 3 header with a UIDVALIDITY)";
		return -1;
	}
	p = nl ? nl + 1 : end;
	while (p < end) {
		const char *le = memchr(p, '\n', (size_t)(end - p)), *name;
		size_t nlen;
		uint32_t uid;

		if (le == NULL)
			le = end; /* a last line without LF: Dovecot appends whole lines, but be lenient */
		if (line_parse(ul, p, le, &uid, &name, &nlen) == 0) {
			if (ul->n == cap) {
				size_t ncap = cap ? cap * 2 : 64;
				struct maildir_uidlist_entry *nv = realloc(ul->v, ncap * sizeof(*nv));

				if (nv == NULL)
					goto oom;
				ul->v = nv;
				cap = ncap;
			}
			ul->v[ul->n].base = strndup(name, nlen);
			if (ul->v[ul->n].base == NULL)
				goto oom;
			ul->v[ul->n].uid = uid;
			ul->n++;
			if (uid > maxuid)
				maxuid = uid;
		}
		p = le < end ? le + 1 : end;
	}
	if (ul->n > 1)
		qsort(ul->v, ul->n, sizeof(*ul->v), entry_cmp);
	/* A name listed twice is ambiguous: use neither (the file then gets
	 * a new UID, which is safe; guessing could give two files one UID). */
	for (size_t i = 0; i < ul->n;) {
		size_t j = i + 1;

		while (j < ul->n && strcmp(ul->v[i].base, ul->v[j].base) == 0)
			j++;
		if (j - i == 1) {
			ul->v[w++] = ul->v[i];
		} else {
			for (size_t k = i; k < j; k++)
				free(ul->v[k].base);
		}
		i = j;
	}
	ul->n = w;
	if (maxuid != UINT32_MAX && maxuid + 1 > ul->nextuid)
		ul->nextuid = maxuid + 1;
	if (ul->nextuid == 0)
		ul->nextuid = 1;
	return 0;
oom:
	maildir_uidlist_free(ul);
	*error_r = "out of memory";
	return -1;
}

/* The whole file at path into new memory: 1, 0 (ENOENT), -1. */
static int read_small_file(const char *path, char **data_r, size_t *len_r)
{
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;
	char *buf;
	size_t got = 0;

	if (fd < 0)
		return errno == ENOENT ? 0 : -1;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    (uint64_t)st.st_size > MAILDIR_SIDE_FILE_MAX) {
		close(fd);
		errno = EFBIG;
		return -1;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (buf == NULL) {
		close(fd);
		return -1;
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break; /* shorter than at fstat: a rewrite raced us, use what we have */
		got += (size_t)n;
	}
	close(fd);
	buf[got] = '\0';
	*data_r = buf;
	*len_r = got;
	return 1;
}

int maildir_uidlist_read(const char *path, struct maildir_uidlist *ul, const char **error_r)
{
	char *data;
	size_t len;
	int rc = read_small_file(path, &data, &len);

	memset(ul, 0, sizeof(*ul));
	if (rc <= 0) {
		if (rc < 0)
			*error_r = "cannot read it";
		return rc;
	}
	rc = maildir_uidlist_parse(data, len, ul, error_r);
	free(data);
	return rc < 0 ? -1 : 1;
}

uint32_t maildir_uidlist_lookup(const struct maildir_uidlist *ul, const char *base, size_t len)
{
	size_t lo = 0, hi = ul->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const char *b = ul->v[mid].base;
		int c = strncmp(b, base, len);

		if (c == 0 && b[len] != '\0')
			c = 1;
		if (c == 0)
			return ul->v[mid].uid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

void maildir_uidlist_free(struct maildir_uidlist *ul)
{
	for (size_t i = 0; i < ul->n; i++)
		free(ul->v[i].base);
	free(ul->v);
	memset(ul, 0, sizeof(*ul));
}

/* ---- dovecot-keywords ---- */

/* An IMAP atom (RFC 3501 atom-char) that is no system flag. */
static bool keyword_valid(const char *s, size_t len)
{
	if (len == 0 || len > 255 || s[0] == '\\')
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c <= 0x20 || c >= 0x7f || strchr("(){%*\"\\]", c) != NULL)
			return false;
	}
	return true;
}

int maildir_keywords_parse(const char *data, size_t len, struct maildir_keywords *kw)
{
	const char *p = data, *end = data + len;

	memset(kw, 0, sizeof(*kw));
	while (p < end) {
		const char *le = memchr(p, '\n', (size_t)(end - p)), *q = p;
		uint32_t idx;

		if (le == NULL)
			le = end;
		if (parse_u32(&q, le, &idx) && idx < MAILDIR_KEYWORDS_MAX && q < le && *q == ' ' &&
		    kw->name[idx] == NULL) {
			const char *name = q + 1, *ne = le;

			if (ne > name && ne[-1] == '\r')
				ne--;
			if (keyword_valid(name, (size_t)(ne - name))) {
				kw->name[idx] = strndup(name, (size_t)(ne - name));
				if (kw->name[idx] == NULL) {
					maildir_keywords_free(kw);
					return -1;
				}
			}
		}
		p = le < end ? le + 1 : end;
	}
	return 0;
}

int maildir_keywords_read(const char *path, struct maildir_keywords *kw)
{
	char *data;
	size_t len;
	int rc = read_small_file(path, &data, &len);

	memset(kw, 0, sizeof(*kw));
	if (rc <= 0)
		return rc;
	rc = maildir_keywords_parse(data, len, kw);
	free(data);
	return rc < 0 ? -1 : 1;
}

void maildir_keywords_free(struct maildir_keywords *kw)
{
	for (size_t i = 0; i < MAILDIR_KEYWORDS_MAX; i++)
		free(kw->name[i]);
	memset(kw, 0, sizeof(*kw));
}

int maildir_keywords_from_letters(const struct maildir_keywords *kw, const char *letters,
				  struct strbuf *out)
{
	for (const char *p = letters; *p; p++) {
		const char *name;

		if (*p < 'a' || *p > 'z')
			continue;
		name = kw->name[*p - 'a'];
		if (name == NULL)
			continue; /* a letter the file does not name: Dovecot drops it too */
		if ((out->len && strbuf_putc(out, ' ') < 0) || strbuf_puts(out, name) < 0)
			return -1;
	}
	return 0;
}

int maildir_keywords_format(const struct maildir_keywords *kw, struct strbuf *out)
{
	for (size_t i = 0; i < MAILDIR_KEYWORDS_MAX; i++)
		if (kw->name[i] && strbuf_printf(out, "%zu %s\n", i, kw->name[i]) < 0)
			return -1;
	return 0;
}
