/*
 * listen.c - bind listening sockets for the master (see listen.h).
 *
 * The error texts are the ones an admin meets on the first start: a port
 * taken by the Postfix or Dovecot that Postern replaces, or a port below
 * 1024 without root. Each says what to do.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "listen.h"
#include "util.h"

static char *bind_error(const char *shown, int err)
{
	switch (err) {
	case EADDRINUSE:
		return must_asprintf("cannot listen on %s: %s; another program (maybe Postfix, exim or an "
				     "earlier posternd) is using the port: stop it or change the port",
				     shown, strerror(err));
	case EACCES:
	case EPERM:
		return must_asprintf("cannot listen on %s: %s; ports below 1024 need root: start posternd "
				     "as root or use postern init --port-base", shown, strerror(err));
	case EADDRNOTAVAIL:
		return must_asprintf("cannot listen on %s: %s; the address is not configured on this host: "
				     "use * or one of its addresses", shown, strerror(err));
	default:
		return must_asprintf("cannot listen on %s: %s", shown, strerror(err));
	}
}

/* try_bind - socket + options + bind + listen; 0, or -1 with errno set. */
static int try_bind(int family, const struct sockaddr *sa, socklen_t salen, bool v6only, int *fd_r)
{
	int fd, one = 1, err;

	fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	/* SO_REUSEADDR: a restarted master must be able to bind again while
	 * old connections sit in TIME_WAIT. */
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0)
		goto fail;
	if (family == AF_INET6) {
		int v = v6only ? 1 : 0;

		if (setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v, sizeof(v)) < 0)
			goto fail;
	}
	if (bind(fd, sa, salen) < 0 || listen(fd, LISTEN_BACKLOG) < 0)
		goto fail;
	*fd_r = fd;
	return 0;
fail:
	err = errno;
	close(fd);
	errno = err;
	return -1;
}

int listen_bind(const char *address, int port, int *fd_r, char **error_r)
{
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;
	char shown[80];
	bool is_v6;

	*fd_r = -1;
	*error_r = NULL;
	is_v6 = strchr(address, ':') != NULL;
	snprintf(shown, sizeof(shown), is_v6 ? "[%.60s]:%d" : "%.60s:%d", address, port);
	if (port < 0 || port > 65535) {
		*error_r = must_asprintf("cannot listen on %s: port out of range; use a port from 1 to 65535",
					 shown);
		return -1;
	}
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((unsigned short)port);
	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_family = AF_INET6;
	sin6.sin6_port = htons((unsigned short)port);

	if (strcmp(address, "*") == 0) {
		sin6.sin6_addr = in6addr_any;
		if (try_bind(AF_INET6, (struct sockaddr *)&sin6, sizeof(sin6), false, fd_r) == 0)
			return 0;
		/* No IPv6 on this host (module not loaded, disabled by sysctl):
		 * fall back to IPv4 only. Any other error is the real one. */
		if (errno != EAFNOSUPPORT && errno != EADDRNOTAVAIL && errno != EPROTONOSUPPORT) {
			*error_r = bind_error(shown, errno);
			return -1;
		}
		sin.sin_addr.s_addr = htonl(INADDR_ANY);
		if (try_bind(AF_INET, (struct sockaddr *)&sin, sizeof(sin), false, fd_r) == 0)
			return 0;
		*error_r = bind_error(shown, errno);
		return -1;
	}
	if (!is_v6 && inet_pton(AF_INET, address, &sin.sin_addr) == 1) {
		if (try_bind(AF_INET, (struct sockaddr *)&sin, sizeof(sin), false, fd_r) == 0)
			return 0;
		*error_r = bind_error(shown, errno);
		return -1;
	}
	if (is_v6 && inet_pton(AF_INET6, address, &sin6.sin6_addr) == 1) {
		/* an explicit IPv6 address means IPv6 only */
		if (try_bind(AF_INET6, (struct sockaddr *)&sin6, sizeof(sin6), true, fd_r) == 0)
			return 0;
		*error_r = bind_error(shown, errno);
		return -1;
	}
	*error_r = must_asprintf("cannot listen on %s: \"%.60s\" is not an IP address; "
				 "use *, an IPv4 address or an IPv6 address", shown, address);
	return -1;
}

int listen_local_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return -1;
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return -1;
}
