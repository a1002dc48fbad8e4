/*
 * queue-control-client.c - the client side of the queue role's control
 * socket (queue-admin.h: queue_control_request): one request line, the
 * reply lines until the role closes the connection.
 *
 * Called by cli/cmd-queue.c (postern queue flush/delete/hold/release/
 * requeue) and cli/sendmail.c (sendmail -q). A socket that is missing or
 * refuses connections means no queue role runs, and the caller may act
 * on the files itself; any later failure means the role is alive, and
 * acting behind its back could race its deliveries, so it is reported
 * differently (-2).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "smtp/queue/queue-admin.h"
#include "util.h"

/* A flush or an ALL over a large queue may take the role a while. */
#define CONTROL_TIMEOUT_SECONDS 120

int queue_control_request(const char *socket_path, const char *line, char *reply, size_t reply_size,
			  char **error_r)
{
	struct sockaddr_un sun;
	struct timeval tv = { CONTROL_TIMEOUT_SECONDS, 0 };
	size_t len = 0, llen = strlen(line);
	char *msg;
	int fd;

	if (reply_size == 0) {
		*error_r = must_strdup("no room for the reply");
		return -2;
	}
	reply[0] = '\0';
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (str_copy(sun.sun_path, socket_path, sizeof(sun.sun_path)) >= sizeof(sun.sun_path)) {
		*error_r = must_asprintf("%s: socket path too long (at most %zu bytes)", socket_path,
					 sizeof(sun.sun_path) - 1);
		return -1;
	}
	if (strchr(line, '\n') != NULL || strchr(line, '\r') != NULL) {
		*error_r = must_strdup("the request must be one line");
		return -2;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		*error_r = must_asprintf("socket: %s", strerror(errno));
		return -2;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		int e = errno;
		*error_r = must_asprintf("cannot connect to %s: %s", socket_path, strerror(e));
		close(fd);
		return e == ENOENT || e == ECONNREFUSED || e == ENOTDIR ? -1 : -2;
	}
	msg = must_asprintf("%s\n", line);
	for (size_t off = 0; off < llen + 1;) {
		ssize_t n = send(fd, msg + off, llen + 1 - off, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			*error_r = must_asprintf("cannot send to %s: %s", socket_path, strerror(errno));
			free(msg);
			close(fd);
			return -2;
		}
		off += (size_t)n;
	}
	free(msg);
	for (;;) {
		ssize_t n;
		if (len + 1 >= reply_size) {
			*error_r = must_asprintf("%s: reply longer than %zu bytes", socket_path, reply_size - 1);
			close(fd);
			return -2;
		}
		n = recv(fd, reply + len, reply_size - 1 - len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			*error_r = must_asprintf("reading from %s: %s", socket_path,
						 errno == EAGAIN ? "no reply in time" : strerror(errno));
			close(fd);
			return -2;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	reply[len] = '\0';
	if (len == 0 || reply[len - 1] != '\n') {
		*error_r = must_asprintf("%s: the queue role closed the connection before a full reply", socket_path);
		return -2;
	}
	reply[len - 1] = '\0';
	return 0;
}
