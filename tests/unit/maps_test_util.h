/*
 * maps_test_util.h - helpers for the lib/maps unit tests (test_maps*.c):
 * a private mkdtemp directory with files written into it, removed again
 * at the end, and a capture of log_warn() lines.
 */
#ifndef MAPS_TEST_UTIL_H
#define MAPS_TEST_UTIL_H

#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "maps.h"
#include "util.h"

static char mt_dir[256];
static char mt_warnings[8192];

static void mt_capture(const char *severity, const char *text, void *ctx)
{
	(void)ctx;
	if (strcmp(severity, "warning") != 0)
		return;
	size_t n = strlen(mt_warnings);
	snprintf(mt_warnings + n, sizeof(mt_warnings) - n, "%s\n", text);
}

static int mt_setup(void **state)
{
	(void)state;
	str_copy(mt_dir, "/tmp/postern-maps-XXXXXX", sizeof(mt_dir));
	if (mkdtemp(mt_dir) == NULL)
		return -1;
	mt_warnings[0] = '\0';
	log_init("test", 0);
	log_set_capture(mt_capture, NULL);
	return 0;
}

static int mt_teardown(void **state)
{
	DIR *d;
	struct dirent *de;

	(void)state;
	d = opendir(mt_dir);
	if (d != NULL) {
		while ((de = readdir(d)) != NULL) {
			char p[512];

			if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
				continue;
			snprintf(p, sizeof(p), "%s/%s", mt_dir, de->d_name);
			unlink(p);
		}
		closedir(d);
	}
	rmdir(mt_dir);
	log_set_capture(NULL, NULL);
	return 0;
}

/* mt_path - DIR/name in a static buffer (one of 4 rotating). */
static const char *mt_path(const char *name)
{
	static char bufs[4][512];
	static int slot;
	char *b = bufs[slot++ & 3];

	snprintf(b, sizeof(bufs[0]), "%s/%s", mt_dir, name);
	return b;
}

/* mt_write - write len bytes (or strlen when len == (size_t)-1); returns path. */
static const char *mt_write_len(const char *name, const char *text, size_t len)
{
	const char *path = mt_path(name);
	FILE *f = fopen(path, "w");

	if (f == NULL || fwrite(text, 1, len, f) != len || fclose(f) != 0)
		abort();
	return path;
}

static const char *mt_write(const char *name, const char *text)
{
	return mt_write_len(name, text, strlen(text));
}

/* mt_spec - "type:DIR/name" in a static buffer. */
static const char *mt_spec(const char *type, const char *name)
{
	static char buf[600];

	snprintf(buf, sizeof(buf), "%s:%s", type, mt_path(name));
	return buf;
}

/* mt_expect_error - open spec, expect NULL and the exact error (after
 * replacing "@D" in want with the directory). */
static void mt_expect_error_fn(const char *spec, const char *want, const char *file, int line)
{
	const char *err = NULL;
	struct map *m = map_open(spec, 0, &err);
	char expect[2048];
	struct strbuf sb;
	const char *p = want, *at;

	strbuf_init(&sb, 0);
	while ((at = strstr(p, "@D")) != NULL) {
		strbuf_append(&sb, p, (size_t)(at - p));
		strbuf_puts(&sb, mt_dir);
		p = at + 2;
	}
	strbuf_puts(&sb, p);
	str_copy(expect, sb.data, sizeof(expect));
	strbuf_free(&sb);
	if (m != NULL) {
		map_close(&m);
		_fail(file, line);
	}
	if (err == NULL || strcmp(err, expect) != 0) {
		print_error("error mismatch\n  got:  %s\n  want: %s\n", err ? err : "(null)", expect);
		_fail(file, line);
	}
}
#define mt_expect_error(spec, want) mt_expect_error_fn((spec), (want), __FILE__, __LINE__)

/* mt_get - lookup; returns the value or NULL, asserting no tempfail. */
static const char *mt_get(struct map *m, const char *key)
{
	const char *v = NULL, *err = NULL;
	enum map_status st = map_lookup(m, key, &v, &err);

	if (st == MAP_TEMPFAIL) {
		print_error("tempfail for %s: %s\n", key, err);
		return "(TEMPFAIL)";
	}
	return st == MAP_FOUND ? v : NULL;
}

#define mt_assert_value(m, key, want) do { \
		const char *v_ = mt_get((m), (key)); \
		if ((want) == NULL) \
			assert_null(v_); \
		else { \
			assert_non_null(v_); \
			assert_string_equal(v_, (want)); \
		} \
	} while (0)

#endif
