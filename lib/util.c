/*
 * util.c - checked allocation, strbuf, string helpers, escaping.
 * See util.h for the contract of each function.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

static void oom(size_t size)
{
	log_fatal("out of memory allocating %zu bytes", size);
}

void *must_malloc(size_t size)
{
	void *p = malloc(size ? size : 1);
	if (p == NULL)
		oom(size);
	return p;
}

void *must_calloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	if (p == NULL)
		oom(n * size);
	return p;
}

void *must_realloc(void *ptr, size_t size)
{
	void *p = realloc(ptr, size ? size : 1);
	if (p == NULL)
		oom(size);
	return p;
}

char *must_strdup(const char *s)
{
	char *p = strdup(s);
	if (p == NULL)
		oom(strlen(s) + 1);
	return p;
}

char *must_strndup(const char *s, size_t n)
{
	char *p = strndup(s, n);
	if (p == NULL)
		oom(n + 1);
	return p;
}

char *must_asprintf(const char *fmt, ...)
{
	va_list ap;
	char *p;

	va_start(ap, fmt);
	if (vasprintf(&p, fmt, ap) < 0)
		oom(strlen(fmt));
	va_end(ap);
	return p;
}

void strbuf_init(struct strbuf *sb, size_t max)
{
	sb->data = NULL;
	sb->len = 0;
	sb->cap = 0;
	sb->max = max ? max : SIZE_MAX - 1;
}

/* Make room for n more bytes plus the terminator. */
static int strbuf_reserve(struct strbuf *sb, size_t n)
{
	size_t need, cap;
	char *p;

	if (n > sb->max || sb->len > sb->max - n)
		return -1;
	need = sb->len + n + 1;
	if (need <= sb->cap)
		return 0;
	cap = sb->cap ? sb->cap : 64;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	p = realloc(sb->data, cap);
	if (p == NULL)
		return -1;
	sb->data = p;
	sb->cap = cap;
	return 0;
}

int strbuf_append(struct strbuf *sb, const void *p, size_t n)
{
	if (strbuf_reserve(sb, n) < 0)
		return -1;
	if (n)
		memcpy(sb->data + sb->len, p, n);
	sb->len += n;
	sb->data[sb->len] = '\0';
	return 0;
}

int strbuf_puts(struct strbuf *sb, const char *s)
{
	return strbuf_append(sb, s, strlen(s));
}

int strbuf_putc(struct strbuf *sb, char c)
{
	return strbuf_append(sb, &c, 1);
}

int strbuf_vprintf(struct strbuf *sb, const char *fmt, va_list ap)
{
	va_list ap2;
	int n;

	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0 || strbuf_reserve(sb, (size_t)n) < 0)
		return -1;
	vsnprintf(sb->data + sb->len, (size_t)n + 1, fmt, ap);
	sb->len += (size_t)n;
	return 0;
}

int strbuf_printf(struct strbuf *sb, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = strbuf_vprintf(sb, fmt, ap);
	va_end(ap);
	return r;
}

void strbuf_reset(struct strbuf *sb)
{
	sb->len = 0;
	if (sb->data)
		sb->data[0] = '\0';
}

char *strbuf_steal(struct strbuf *sb)
{
	char *p = sb->data;

	if (p == NULL)
		p = strdup("");
	sb->data = NULL;
	sb->len = sb->cap = 0;
	return p;
}

void strbuf_free(struct strbuf *sb)
{
	x_free(&sb->data);
	sb->len = sb->cap = 0;
}

size_t str_copy(char *dst, const char *src, size_t dstsize)
{
	size_t n = strlen(src);

	if (dstsize) {
		size_t c = n < dstsize - 1 ? n : dstsize - 1;
		memcpy(dst, src, c);
		dst[c] = '\0';
	}
	return n;
}

char *str_trim(char *s)
{
	char *e;

	while (*s && isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

char *str_lower(char *s)
{
	for (char *p = s; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	return s;
}

bool str_has_prefix(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

char *str_escape(const void *in, size_t len, char *out, size_t outsize)
{
	const unsigned char *p = in;
	size_t o = 0;
	static const char hex[] = "0123456789abcdef";

	if (outsize == 0)
		return out;
	for (size_t i = 0; i < len; i++) {
		char tmp[4];
		size_t n = 0;

		switch (p[i]) {
		case '\r': tmp[n++] = '\\'; tmp[n++] = 'r'; break;
		case '\n': tmp[n++] = '\\'; tmp[n++] = 'n'; break;
		case '\t': tmp[n++] = '\\'; tmp[n++] = 't'; break;
		case '\\': tmp[n++] = '\\'; tmp[n++] = '\\'; break;
		default:
			if (p[i] >= 0x20 && p[i] < 0x7f) {
				tmp[n++] = (char)p[i];
			} else {
				tmp[n++] = '\\';
				tmp[n++] = 'x';
				tmp[n++] = hex[p[i] >> 4];
				tmp[n++] = hex[p[i] & 15];
			}
		}
		if (o + n + 4 > outsize) {
			/* Not enough room for this piece and a "..." marker. */
			if (outsize >= 4) {
				while (o + 4 > outsize)
					o--;
				memcpy(out + o, "...", 3);
				o += 3;
			}
			break;
		}
		memcpy(out + o, tmp, n);
		o += n;
	}
	out[o < outsize ? o : outsize - 1] = '\0';
	return out;
}

size_t str_levenshtein(const char *a, const char *b, size_t cap)
{
	size_t la = strlen(a), lb = strlen(b);
	size_t *row, prev, best;

	if (la > 256 || lb > 256)
		return cap;
	row = malloc((lb + 1) * sizeof(*row));
	if (row == NULL)
		return cap;
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		prev = row[0];
		row[0] = i;
		best = row[0];
		for (size_t j = 1; j <= lb; j++) {
			size_t cur = row[j];
			size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
			size_t v = prev + cost;
			if (row[j] + 1 < v)
				v = row[j] + 1;
			if (row[j - 1] + 1 < v)
				v = row[j - 1] + 1;
			row[j] = v;
			prev = cur;
			if (v < best)
				best = v;
		}
		if (best >= cap) {
			free(row);
			return cap;
		}
	}
	best = row[lb];
	free(row);
	return best < cap ? best : cap;
}

int parse_port(const char *s)
{
	char *end;
	long v;

	if (!isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v < 1 || v > 65535)
		return -1;
	return (int)v;
}

char *file_read_all(const char *path, size_t max, size_t *len_r, const char **error_r)
{
	static __thread char err[512];
	struct stat st;
	struct strbuf sb;
	char chunk[8192];
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		snprintf(err, sizeof(err), "%s", strerror(errno));
		*error_r = err;
		return NULL;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, sizeof(err), "not a regular file");
		*error_r = err;
		close(fd);
		return NULL;
	}
	strbuf_init(&sb, max);
	for (;;) {
		n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(err, sizeof(err), "read: %s", strerror(errno));
			goto fail;
		}
		if (n == 0)
			break;
		if (strbuf_append(&sb, chunk, (size_t)n) < 0) {
			snprintf(err, sizeof(err), "file is larger than %zu bytes", max);
			goto fail;
		}
	}
	close(fd);
	if (len_r)
		*len_r = sb.len;
	return strbuf_steal(&sb);
fail:
	*error_r = err;
	strbuf_free(&sb);
	close(fd);
	return NULL;
}

int fsync_directory(const char *dir)
{
	int fd, r, saved;

	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	r = fsync(fd);
	saved = errno;
	close(fd);
	errno = saved;
	return r;
}

int fsync_parent_dir(const char *path)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');

	if (slash == NULL)
		str_copy(dir, ".", sizeof(dir));
	else if (slash == path)
		str_copy(dir, "/", sizeof(dir));
	else if ((size_t)(slash - path) < sizeof(dir)) {
		memcpy(dir, path, (size_t)(slash - path));
		dir[slash - path] = '\0';
	} else {
		errno = ENAMETOOLONG;
		return -1;
	}
	return fsync_directory(dir);
}
