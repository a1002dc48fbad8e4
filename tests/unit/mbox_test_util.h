/*
 * mbox_test_util.h - helpers of the mbox unit tests (test_mbox_*.c): a
 * private mkdtemp directory (removed with its files at the end), writing
 * and reading whole files, scanning an mbox into an array, exporting one
 * message into memory, and a capture of log_warn() lines. Tests run with
 * TZ=UTC so From_ dates are predictable.
 */
#ifndef MBOX_TEST_UTIL_H
#define MBOX_TEST_UTIL_H

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "store/mbox-private.h"
#include "util.h"

static char mbt_dir[256];
static char mbt_warnings[16384];

static __attribute__((unused)) void mbt_capture(const char *severity, const char *text, void *ctx)
{
	size_t n = strlen(mbt_warnings);

	(void)ctx;
	if (strcmp(severity, "warning") == 0)
		snprintf(mbt_warnings + n, sizeof(mbt_warnings) - n, "%s\n", text);
}

static __attribute__((unused)) int mbt_setup(void **state)
{
	(void)state;
	setenv("TZ", "UTC", 1);
	tzset();
	str_copy(mbt_dir, "/tmp/postern-mbox-XXXXXX", sizeof(mbt_dir));
	if (mkdtemp(mbt_dir) == NULL)
		return -1;
	mbt_warnings[0] = '\0';
	log_init("test", getenv("MBT_LOG") ? LOG_DEST_STDERR_TOOL : 0);
	log_set_capture(mbt_capture, NULL);
	return 0;
}

static __attribute__((unused)) void mbt_rm_tree(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	if (d != NULL) {
		while ((de = readdir(d)) != NULL) {
			char p[1024];
			struct stat st;

			if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
				continue;
			snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
			if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
				mbt_rm_tree(p);
			else
				unlink(p);
		}
		closedir(d);
	}
	rmdir(dir);
}

static __attribute__((unused)) int mbt_teardown(void **state)
{
	(void)state;
	mbt_rm_tree(mbt_dir);
	log_set_capture(NULL, NULL);
	return 0;
}

/* mbt_path - DIR/name in a static buffer (one of 8 rotating). */
static __attribute__((unused)) const char *mbt_path(const char *name)
{
	static char bufs[8][512];
	static int slot;
	char *b = bufs[slot++ & 7];

	snprintf(b, sizeof(bufs[0]), "%s/%s", mbt_dir, name);
	return b;
}

static __attribute__((unused)) void mbt_write(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	if (fd < 0 || write(fd, data, len) != (ssize_t)len)
		abort();
	close(fd);
}

/* mbt_read - whole file, NUL-terminated; caller frees. */
static __attribute__((unused)) char *mbt_read(const char *path, size_t *len_r)
{
	const char *err = NULL;
	char *data = file_read_all(path, 1u << 28, len_r, &err);

	if (data == NULL)
		abort();
	return data;
}

static __attribute__((unused)) off_t mbt_size(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? st.st_size : -1;
}

/* mbt_scan - every message of the mbox at path; returns the count, or -1
 * (-2) on a reader error. *msgs_r is new memory. */
static __attribute__((unused)) int mbt_scan(const char *path, struct mbox_msg **msgs_r)
{
	int fd = open(path, O_RDONLY);
	struct mbox_reader *r;
	struct mbox_msg *msgs = NULL;
	int n = 0, ret;
	char *err = NULL;

	*msgs_r = NULL;
	if (fd < 0)
		return -1;
	r = mbox_reader_open(fd);
	for (;;) {
		msgs = must_realloc(msgs, (size_t)(n + 1) * sizeof(*msgs));
		ret = mbox_reader_next(r, &msgs[n], &err);
		if (ret <= 0)
			break;
		n++;
	}
	mbox_reader_free(&r);
	close(fd);
	free(err);
	*msgs_r = msgs;
	return ret < 0 ? ret : n;
}

static __attribute__((unused)) int mbt_out(void *ctx, const void *data, size_t len)
{
	return strbuf_append(ctx, data, len);
}

/* mbt_export - one message's bytes (unquoted; crlf as asked), new memory. */
static __attribute__((unused)) char *mbt_export(const char *path, const struct mbox_msg *msg, bool crlf, size_t *len_r)
{
	struct strbuf sb;
	char *err = NULL;
	int fd = open(path, O_RDONLY);

	strbuf_init(&sb, 0);
	if (fd < 0 || mbox_message_export(fd, msg, crlf, mbt_out, &sb, &err) < 0)
		abort();
	close(fd);
	*len_r = sb.len;
	return strbuf_steal(&sb);
}

static __attribute__((unused)) void mbt_settings(struct mbox_lock_settings *set, const char *write_locks, unsigned timeout)
{
	const char *err;

	mbox_lock_settings_default(set);
	if (write_locks && mbox_lock_methods_parse(write_locks, &set->write, &err) < 0)
		abort();
	set->timeout_secs = timeout;
}

#endif
