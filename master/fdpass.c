/*
 * fdpass.c - how listening sockets reach a role process across exec.
 *
 * The master puts a role's sockets at fd 3, 4, ... in the child
 * (fdpass_install) and names them in POSTERN_LISTEN_FDS="mx:3,sub:4"
 * (fdpass_format); the role parses that (fdpass_parse) and matches each
 * name to its config listener or, for "unix:NAME", to a unix socket its
 * role declared. The format is defined in lib/role.h. This is the systemd LISTEN_FDS idea with
 * names inline, so a role never has to guess which socket is which.
 *
 * The variable is input to the role process, so the parser is strict:
 * bounded count, bounded names, no duplicates, fds in the passed range.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "master/master.h"
#include "log.h"
#include "util.h"

char *fdpass_format(const struct fdpass_entry *entries, size_t n)
{
	struct strbuf sb;
	char *s;

	strbuf_init(&sb, 0);
	for (size_t i = 0; i < n; i++)
		if (strbuf_printf(&sb, "%s%s:%d", i ? "," : "", entries[i].name, entries[i].fd) < 0)
			log_fatal("fdpass_format: out of memory");
	s = strbuf_steal(&sb);
	if (s == NULL)
		log_fatal("fdpass_format: out of memory");
	return s;
}

int fdpass_parse(const char *text, size_t max, struct fdpass_entry **entries_r,
		 const char **error_r)
{
	struct fdpass_entry *e = NULL;
	size_t n = 0;
	const char *p = text;

	*entries_r = NULL;
	if (*p == '\0')
		return 0;
	e = must_calloc(max ? max : 1, sizeof(*e));
	for (;;) {
		const char *colon = NULL;
		const char *end = strchr(p, ',');
		size_t name_len;
		long fd = 0;
		const char *q;

		if (end == NULL)
			end = p + strlen(p);
		/* The fd follows the last ':', so "unix:auth:5" names "unix:auth". */
		for (q = p; q < end; q++)
			if (*q == ':')
				colon = q;
		if (colon == NULL) {
			*error_r = "entry without \":fd\"";
			goto fail;
		}
		name_len = (size_t)(colon - p);
		if (name_len == 0 || name_len >= sizeof(e[0].name)) {
			*error_r = "empty or overlong listener name";
			goto fail;
		}
		if (colon + 1 == end) {
			*error_r = "missing fd number";
			goto fail;
		}
		for (q = colon + 1; q < end; q++) {
			if (*q < '0' || *q > '9' || fd > 65535) {
				*error_r = "fd is not a number in range";
				goto fail;
			}
			fd = fd * 10 + (*q - '0');
		}
		if (fd < ROLE_FIRST_LISTEN_FD || fd > 65535) {
			*error_r = "fd is not a number in range";
			goto fail;
		}
		if (n >= max) {
			*error_r = "too many listeners";
			goto fail;
		}
		memcpy(e[n].name, p, name_len);
		e[n].name[name_len] = '\0';
		e[n].fd = (int)fd;
		for (size_t i = 0; i < n; i++) {
			if (strcmp(e[i].name, e[n].name) == 0 || e[i].fd == e[n].fd) {
				*error_r = "duplicate listener name or fd";
				goto fail;
			}
		}
		n++;
		if (*end == '\0')
			break;
		p = end + 1;
	}
	*entries_r = e;
	return (int)n;
fail:
	free(e);
	return -1;
}

int fdpass_install(const int *fds, size_t n)
{
	int high[256];
	/* Move every fd above the target range first, so that a dup2 onto
	 * ROLE_FIRST_LISTEN_FD + i never overwrites a socket still to be moved. */
	int floor_fd = ROLE_FIRST_LISTEN_FD + (int)n;

	if (n > sizeof(high) / sizeof(high[0]))
		return -1;
	for (size_t i = 0; i < n; i++) {
		high[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, floor_fd);
		if (high[i] < 0)
			return -1;
	}
	for (size_t i = 0; i < n; i++) {
		/* dup2 leaves FD_CLOEXEC clear on the new descriptor. */
		if (dup2(high[i], ROLE_FIRST_LISTEN_FD + (int)i) < 0)
			return -1;
	}
	if (close_range((unsigned)floor_fd, ~0U, 0) < 0) {
		/* Old kernels: the moved copies are CLOEXEC anyway. */
		for (size_t i = 0; i < n; i++)
			close(high[i]);
	}
	return 0;
}
