/*
 * util.h - small helpers every module uses: checked allocation, a bounded
 * growable byte string, safe copies and the one escape function for client
 * bytes.
 *
 * Allocation: the must_* functions are for start-up and command-line paths
 * where running out of memory cannot be survived; they log a fatal error and
 * exit. Code that serves a network session calls malloc() itself and ends
 * only that session on failure.
 */
#ifndef POSTERN_UTIL_H
#define POSTERN_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

/* must_malloc - malloc or exit via log_fatal(). Never returns NULL. */
void *must_malloc(size_t size);
void *must_calloc(size_t n, size_t size);
void *must_realloc(void *ptr, size_t size);
char *must_strdup(const char *s);
char *must_strndup(const char *s, size_t n);
/* must_asprintf - formatted string in new memory; caller frees. */
char *must_asprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* x_free - free *pp and set it to NULL, so a second free is harmless. */
#define x_free(pp) do { free(*(pp)); *(pp) = NULL; } while (0)

/*
 * strbuf - binary-safe growable byte string with a hard maximum.
 * data is always NUL-terminated (not counted in len). max == 0 means no
 * limit beyond SIZE_MAX. Appends return 0, or -1 when the result would
 * exceed max or memory ran out; on -1 the buffer is unchanged.
 */
struct strbuf {
	char *data;
	size_t len;
	size_t cap;
	size_t max;
};

void strbuf_init(struct strbuf *sb, size_t max);
int strbuf_append(struct strbuf *sb, const void *p, size_t n);
int strbuf_puts(struct strbuf *sb, const char *s);
int strbuf_putc(struct strbuf *sb, char c);
int strbuf_printf(struct strbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int strbuf_vprintf(struct strbuf *sb, const char *fmt, va_list ap);
void strbuf_reset(struct strbuf *sb);
/* strbuf_steal - return data (caller frees; "" if empty) and reset sb. NULL on OOM. */
char *strbuf_steal(struct strbuf *sb);
void strbuf_free(struct strbuf *sb);

/* str_copy - copy src into dst of size dstsize, always terminated.
 * Returns strlen(src); a value >= dstsize means it was truncated. */
size_t str_copy(char *dst, const char *src, size_t dstsize);

/* str_trim - strip leading and trailing ASCII whitespace in place; returns s+skip. */
char *str_trim(char *s);

/* str_lower - ASCII lower-case in place; returns s. */
char *str_lower(char *s);

/* str_has_prefix / str_casecmp_prefix - prefix tests. */
bool str_has_prefix(const char *s, const char *prefix);

/*
 * str_escape - make arbitrary bytes safe for a log line or a protocol reply:
 * printable ASCII is kept, everything else (CR, LF, controls, 8-bit bytes)
 * becomes \r, \n, \t, \\ or \xHH. Output is truncated to fit outsize (with
 * "..." at the end when cut). Returns out.
 */
char *str_escape(const void *in, size_t len, char *out, size_t outsize);

/* str_levenshtein - edit distance, capped at cap (returns cap when >= cap). */
size_t str_levenshtein(const char *a, const char *b, size_t cap);

/* parse_port - "1".."65535" to a port; -1 otherwise. */
int parse_port(const char *s);

/* file_read_all - read a whole regular file up to max bytes into new
 * memory (NUL-terminated, caller frees). On error returns NULL and sets
 * *error_r to a static or thread-unsafe message naming the problem. */
char *file_read_all(const char *path, size_t max, size_t *len_r, const char **error_r);

/* fsync_dir - fsync the directory holding path (after create/rename/unlink). 0 or -1/errno. */
int fsync_parent_dir(const char *path);
/* fsync_directory - fsync the directory dir itself. 0 or -1/errno. */
int fsync_directory(const char *dir);

#endif
