/*
 * config-edit.c - config_edit(): change one assignment of the
 * configuration file in place, as `postconf -e` does, for `postern config
 * -e` and the web admin.
 *
 * The last assignment of the name (the one that wins) is replaced together
 * with its continuation lines; comment and blank lines between them are
 * kept, right after the new line. Without an assignment, "name = value" is
 * appended. Every other byte stays as it was. The result is parsed before
 * anything is written, and refused if it has an error the file did not
 * already have (so a file with an old problem can still be fixed one
 * parameter at a time). The new file replaces the old through a temporary
 * file in the same directory: write, fsync, rename, fsync the directory,
 * with the old file's mode and owner.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config-private.h"

/* Errors of one parse, for comparing before and after. */
struct edit_errors {
	char **msgs;
	size_t count, cap;
};

static void edit_collect(enum config_level level, const char *msg, void *ctx)
{
	struct edit_errors *e = ctx;

	if (level != CONFIG_ERROR)
		return;
	if (e->count == e->cap) {
		e->cap = e->cap ? e->cap * 2 : 8;
		e->msgs = must_realloc(e->msgs, e->cap * sizeof(*e->msgs));
	}
	e->msgs[e->count++] = must_strdup(msg);
}

static void edit_errors_free(struct edit_errors *e)
{
	for (size_t i = 0; i < e->count; i++)
		free(e->msgs[i]);
	free(e->msgs);
}

static void edit_discard(enum config_level level, const char *msg, void *ctx)
{
	(void)level;
	(void)msg;
	(void)ctx;
}

/* The message without its "FILE:LINE: " prefix: lines move when an
 * assignment with continuation lines is replaced. */
static const char *msg_body(const char *msg, size_t file_len)
{
	const char *p = msg + file_len;

	if (*p == ':')
		p++;
	while (*p >= '0' && *p <= '9')
		p++;
	if (*p == ':')
		p++;
	if (*p == ' ')
		p++;
	return p;
}

/* Errors of the new text that the old text did not have, joined by
 * newlines into new memory; NULL when there are none. */
static char *new_errors(const char *path, const char *old_text, size_t old_len,
			const char *new_text, size_t new_len)
{
	struct edit_errors before = { 0 }, after = { 0 };
	struct config *cfg;
	struct strbuf sb;
	size_t flen = strlen(path);
	bool *used;

	cfg = config_parse(path, old_text, old_len, edit_collect, &before);
	config_free(&cfg);
	cfg = config_parse(path, new_text, new_len, edit_collect, &after);
	config_free(&cfg);
	used = must_calloc(before.count + 1, sizeof(*used));
	strbuf_init(&sb, 0);
	for (size_t i = 0; i < after.count; i++) {
		bool known = false;

		for (size_t j = 0; j < before.count && !known; j++) {
			if (!used[j] && strcmp(msg_body(after.msgs[i], flen),
					       msg_body(before.msgs[j], flen)) == 0) {
				used[j] = true;
				known = true;
			}
		}
		if (!known && strbuf_printf(&sb, "%s%s", sb.len ? "\n" : "", after.msgs[i]) < 0)
			break;
	}
	free(used);
	edit_errors_free(&before);
	edit_errors_free(&after);
	return sb.len ? strbuf_steal(&sb) : (strbuf_free(&sb), NULL);
}

static bool blank_or_comment(const char *p, const char *end)
{
	while (p < end && *p != '\n' && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\v' || *p == '\f'))
		p++;
	return p == end || *p == '\n' || *p == '#';
}

/* Build the edited text in sb. */
static int edit_text(const char *path, const char *text, size_t len, const char *name,
		     const char *value, struct strbuf *sb)
{
	struct config_reporter quiet = { .fn = edit_discard };
	struct config_assign *assigns;
	size_t n = config_lex(path, text, len, &quiet, &assigns);
	const struct config_assign *last = NULL;
	int r = 0;

	for (size_t i = 0; i < n; i++)
		if (strcmp(assigns[i].name, name) == 0)
			last = &assigns[i];
	if (last) {
		const char *p = text + last->start, *end = text + last->end;
		bool nl = last->end > last->start && end[-1] == '\n';
		struct strbuf kept;

		/* Comment and blank lines inside the old assignment stay. */
		strbuf_init(&kept, 0);
		while (p < end) {
			const char *eol = memchr(p, '\n', (size_t)(end - p));
			const char *next = eol ? eol + 1 : end;

			if (blank_or_comment(p, next))
				r |= strbuf_append(&kept, p, (size_t)(next - p));
			p = next;
		}
		r |= strbuf_append(sb, text, last->start);
		r |= strbuf_printf(sb, "%s =%s%s%s", name, *value ? " " : "", value,
				   nl || kept.len ? "\n" : "");
		r |= strbuf_append(sb, kept.data ? kept.data : "", kept.len);
		r |= strbuf_append(sb, text + last->end, len - last->end);
		strbuf_free(&kept);
	} else {
		r |= strbuf_append(sb, text, len);
		if (len > 0 && text[len - 1] != '\n')
			r |= strbuf_putc(sb, '\n');
		r |= strbuf_printf(sb, "%s =%s%s\n", name, *value ? " " : "", value);
	}
	config_assigns_free(assigns, n);
	return r < 0 ? -1 : 0;
}

/* Only registered parameters (and LISTENER/listen) can be written: a typo
 * would only turn into a warning on every start. */
static int edit_check_name(const char *name, const char *value, char **error_r)
{
	const char *slash = strchr(name, '/');
	const char *param = slash ? slash + 1 : name;
	const char *near;

	if (!config_name_valid(name, slash ? (size_t)(slash - name) : strlen(name), slash != NULL) ||
	    (slash && !config_name_valid(param, strlen(param), false))) {
		*error_r = must_asprintf("\"%s\": not a valid parameter name; use letters, digits "
					 "and _, or LISTENER/NAME", name);
		return -1;
	}
	if (strpbrk(value, "\r\n")) {
		*error_r = must_asprintf("%s: the value contains a line break; give it on one line",
					 name);
		return -1;
	}
	if ((slash && strcmp(param, "listen") == 0) || config_param_index(param) >= 0)
		return 0;
	near = param_nearest(param);
	if (near)
		*error_r = must_asprintf("%s: unknown parameter; did you mean \"%s\"?", name, near);
	else
		*error_r = must_asprintf("%s: unknown parameter; see postern config -d for the list",
					 name);
	return -1;
}

/* Write data to a temporary file next to path and rename it over path. */
static int edit_replace(const char *path, const struct stat *st, const char *data, size_t len,
			char **error_r)
{
	char *tmp = must_asprintf("%s.editXXXXXX", path);
	size_t off = 0;
	int fd = mkstemp(tmp);

	if (fd < 0) {
		*error_r = must_asprintf("%s: cannot create a temporary file: %s; check the "
					 "permissions of its directory", tmp, strerror(errno));
		free(tmp);
		return -1;
	}
	if (fchmod(fd, st->st_mode & 07777) < 0) {
		*error_r = must_asprintf("%s: cannot set mode: %s", tmp, strerror(errno));
		goto fail;
	}
	if ((st->st_uid != geteuid() || st->st_gid != getegid()) &&
	    fchown(fd, st->st_uid, st->st_gid) < 0) {
		*error_r = must_asprintf("%s: cannot keep the file's owner: %s; run this as root "
					 "or as the file's owner", path, strerror(errno));
		goto fail;
	}
	while (off < len) {
		ssize_t n = write(fd, data + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			*error_r = must_asprintf("%s: write: %s", tmp, n < 0 ? strerror(errno) : "no progress");
			goto fail;
		}
		off += (size_t)n;
	}
	if (fsync(fd) < 0) {
		*error_r = must_asprintf("%s: fsync: %s", tmp, strerror(errno));
		goto fail;
	}
	if (close(fd) < 0) {
		fd = -1;
		*error_r = must_asprintf("%s: close: %s", tmp, strerror(errno));
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path) < 0) {
		*error_r = must_asprintf("%s: cannot replace: %s", path, strerror(errno));
		goto fail;
	}
	if (fsync_parent_dir(path) < 0) {
		*error_r = must_asprintf("%s: fsync of the directory: %s", path, strerror(errno));
		free(tmp);
		return -1;
	}
	free(tmp);
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	free(tmp);
	return -1;
}

int config_edit(const char *path, const char *name, const char *value, char **error_r)
{
	char resolved[PATH_MAX];
	const char *real = path, *why = NULL;
	char *text, *copy, *trimmed, *errors;
	struct strbuf out;
	struct stat st;
	size_t len = 0;
	int ret = -1;

	if (edit_check_name(name, value, error_r) < 0)
		return -1;
	/* Edit the file a symlink points to, not replace the link. */
	if (lstat(path, &st) == 0 && S_ISLNK(st.st_mode) && realpath(path, resolved))
		real = resolved;
	text = file_read_all(real, CONFIG_MAX_FILE, &len, &why);
	if (text == NULL) {
		*error_r = must_asprintf("%s: cannot read configuration: %s; create it with postern "
					 "init DIR or point -c / POSTERN_CONF at it", path, why);
		return -1;
	}
	if (stat(real, &st) < 0) {
		*error_r = must_asprintf("%s: stat: %s", real, strerror(errno));
		free(text);
		return -1;
	}
	copy = must_strdup(value);
	trimmed = str_trim(copy);
	strbuf_init(&out, CONFIG_MAX_FILE);
	if (edit_text(path, text, len, name, trimmed, &out) < 0) {
		*error_r = must_asprintf("%s: the edited file would be larger than %d bytes",
					 path, CONFIG_MAX_FILE);
		goto out;
	}
	errors = new_errors(path, text, len, out.data ? out.data : "", out.len);
	if (errors) {
		*error_r = errors;
		goto out;
	}
	ret = edit_replace(real, &st, out.data ? out.data : "", out.len, error_r);
out:
	free(text);
	free(copy);
	strbuf_free(&out);
	return ret;
}
