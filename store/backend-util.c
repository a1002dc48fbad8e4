/*
 * backend-util.c - small file helpers shared by the mailbox formats
 * (maildir.c, mbox-box.c): path formatting and the UID state file. See
 * store-backend.h for the contracts.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

#include "log.h"
#include "store/store-backend.h"

int store_path_fmt(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= size) {
		buf[0] = '\0';
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

int store_uid_state_file_read(const char *path, uint32_t *uidvalidity_r, uint32_t *uidnext_r,
			      struct store_error *err)
{
	char buf[64];
	unsigned long v, n;
	ssize_t len;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0) {
		if (errno == ENOENT)
			return 0;
		store_error_sys(err, "open %s", path);
		return -1;
	}
	len = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (len <= 0)
		return 0;
	buf[len] = '\0';
	if (sscanf(buf, "%lu %lu", &v, &n) != 2 || v == 0 || v > UINT32_MAX || n == 0 ||
	    n > UINT32_MAX) {
		log_warn("store: %s: malformed; a new UIDVALIDITY will be used", path);
		return 0;
	}
	*uidvalidity_r = (uint32_t)v;
	*uidnext_r = (uint32_t)n;
	return 1;
}

int store_uid_state_file_write(const char *path, const char *tmp, uint32_t uidvalidity,
			       uint32_t uidnext, struct store_error *err)
{
	char buf[64];
	int fd, len;

	len = snprintf(buf, sizeof(buf), "%u %u\n", uidvalidity, uidnext);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0 || write(fd, buf, (size_t)len) != len || fsync(fd) < 0) {
		store_error_sys(err, "write %s", tmp);
		if (fd >= 0)
			close(fd);
		(void)unlink(tmp);
		return -1;
	}
	close(fd);
	if (rename(tmp, path) < 0) {
		store_error_sys(err, "rename %s", tmp);
		(void)unlink(tmp);
		return -1;
	}
	return 0;
}
