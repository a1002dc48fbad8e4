/*
 * control-client.c - the `postern` side of the master's control socket
 * (protocol in master/master-control.c and docs/ARCHITECTURE.md), plus the
 * small lookups the start/stop/reload/status commands share.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "cli/cli-private.h"
#include "log.h"
#include "master/master.h"

struct config *cli_load_config(const char *conf)
{
	if (access(conf, R_OK) < 0) {
		log_error("cannot read configuration file %s: %s; create an instance with \"postern init DIR\" or pass -c FILE",
			  conf, strerror(errno));
		return NULL;
	}
	return config_load(conf, NULL, NULL);
}

int cli_control(const char *run_dir, const char *command, struct strbuf *out, char **error_r)
{
	struct sockaddr_un sun;
	struct timeval tv = { 60, 0 };
	char buf[4096];
	int fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if ((size_t)snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/%s", run_dir,
			     MASTER_CONTROL_SOCKET) >= sizeof(sun.sun_path)) {
		*error_r = must_asprintf("control socket path under %s is too long", run_dir);
		return -1;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		*error_r = must_asprintf("socket: %s", strerror(errno));
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		*error_r = must_asprintf("cannot connect to %s: %s", sun.sun_path, strerror(errno));
		close(fd);
		return -1;
	}
	snprintf(buf, sizeof(buf), "%s\n", command);
	if (send(fd, buf, strlen(buf), MSG_NOSIGNAL) < 0) {
		*error_r = must_asprintf("cannot send to %s: %s", sun.sun_path, strerror(errno));
		close(fd);
		return -1;
	}
	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (strbuf_append(out, buf, (size_t)n) < 0)
			break;
		if (out->len >= 2 && (strcmp(out->data, ".\n") == 0 ||
				      (out->len >= 3 && strcmp(out->data + out->len - 3, "\n.\n") == 0)))
			break;
	}
	close(fd);
	if (out->len >= 2 && strcmp(out->data + out->len - 2, ".\n") == 0 &&
	    (out->len == 2 || out->data[out->len - 3] == '\n')) {
		out->len -= 2;
		out->data[out->len] = '\0';
		return 0;
	}
	*error_r = must_asprintf("the master closed the control connection before answering");
	return -1;
}

pid_t cli_master_pid(const struct config *cfg)
{
	char *path = must_asprintf("%s/%s", config_str(cfg, "run_directory"), MASTER_PID_FILE);
	pid_t pid = master_pidfile_read(path);

	free(path);
	return pid > 0 ? pid : 0;
}

char *cli_self_dir_program(const char *program)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	char *slash, *path;

	if (n > 0) {
		exe[n] = '\0';
		slash = strrchr(exe, '/');
		if (slash) {
			*slash = '\0';
			path = must_asprintf("%s/%s", exe, program);
			if (access(path, X_OK) == 0)
				return path;
			free(path);
		}
	}
	return must_strdup(program);
}
