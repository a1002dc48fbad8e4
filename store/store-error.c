/*
 * store-error.c - the store's error classes (Dovecot's mail-error idea:
 * a class that picks the protocol reply, a client-safe text, details in
 * the log) and the one copy loop every format uses to write a message.
 *
 * Called by: every store/ file; store_error_class_name also by the CLI.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "store/store-private.h"
#include "util.h"

const char *store_error_class_name(enum store_error_class cls)
{
	switch (cls) {
	case STORE_OK: return "OK";
	case STORE_ERR_TEMP: return "TEMP";
	case STORE_ERR_PERM: return "PERM";
	case STORE_ERR_NOTFOUND: return "NOTFOUND";
	case STORE_ERR_EXISTS: return "EXISTS";
	case STORE_ERR_QUOTA: return "QUOTA";
	case STORE_ERR_NOUSER: return "NOUSER";
	case STORE_ERR_EXPUNGED: return "EXPUNGED";
	}
	return "UNKNOWN";
}

void store_error_set(struct store_error *err, enum store_error_class cls, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL)
		return;
	err->cls = cls;
	va_start(ap, fmt);
	vsnprintf(err->text, sizeof(err->text), fmt, ap);
	va_end(ap);
	/* Client-safe: never a line break inside a protocol reply. */
	for (char *p = err->text; *p; p++)
		if (*p == '\r' || *p == '\n')
			*p = ' ';
}

void store_error_sys(struct store_error *err, const char *fmt, ...)
{
	int saved = errno;
	char what[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	switch (saved) {
	case ENOENT:
	case ENOTDIR:
		log_info("store: %s: %s", what, strerror(saved));
		store_error_set(err, STORE_ERR_NOTFOUND, "Mailbox or message does not exist");
		break;
	case EDQUOT:
		log_error("store: %s: %s", what, strerror(saved));
		store_error_set(err, STORE_ERR_QUOTA, "Quota exceeded (file system quota)");
		break;
	case ENOSPC:
		log_error("store: %s: %s", what, strerror(saved));
		store_error_set(err, STORE_ERR_TEMP, "Not enough disk space, try again later");
		break;
	case EIO:
	case ENOMEM:
	case EAGAIN:
	case EMFILE:
	case ENFILE:
	case EINTR:
	case ETIMEDOUT:
	case ESTALE:
		log_error("store: %s: %s", what, strerror(saved));
		store_error_set(err, STORE_ERR_TEMP, "Temporary mail storage failure, see server log");
		break;
	default:
		log_error("store: %s: %s", what, strerror(saved));
		store_error_set(err, STORE_ERR_TEMP, "Internal mail storage error, see server log");
		break;
	}
	errno = saved;
}

/* Count bytes and the LFs that RFC822.SIZE will see as CRLF. *prev_cr
 * carries the last byte's CR-ness across buffers. */
static void count_crlf(const char *p, size_t n, bool *prev_cr, uint64_t *vsize)
{
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '\n' && !*prev_cr)
			(*vsize)++;
		*prev_cr = p[i] == '\r';
	}
	*vsize += n;
}

static int write_full(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int store_copy_source(int out_fd, const char *path, const struct store_source *src,
		      uint64_t *physical_r, uint64_t *vsize_r, struct store_error *err)
{
	char buf[65536];
	uint64_t phys = 0, vsize = 0;
	bool prev_cr = false;

	if (src->prefix_len > 0) {
		if (write_full(out_fd, src->prefix, src->prefix_len) < 0) {
			store_error_sys(err, "write %s", path);
			return -1;
		}
		count_crlf(src->prefix, src->prefix_len, &prev_cr, &vsize);
		phys += src->prefix_len;
	}
	for (;;) {
		size_t want = sizeof(buf);
		ssize_t n;

		if (src->limit > 0) {
			if (phys - src->prefix_len >= src->limit)
				break;
			if (src->limit - (phys - src->prefix_len) < want)
				want = (size_t)(src->limit - (phys - src->prefix_len));
		}
		n = read(src->fd, buf, want);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			store_error_sys(err, "read message for %s", path);
			return -1;
		}
		if (n == 0)
			break;
		if (write_full(out_fd, buf, (size_t)n) < 0) {
			store_error_sys(err, "write %s", path);
			return -1;
		}
		count_crlf(buf, (size_t)n, &prev_cr, &vsize);
		phys += (uint64_t)n;
	}
	*physical_r = phys;
	*vsize_r = vsize;
	return 0;
}
