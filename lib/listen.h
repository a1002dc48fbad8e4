/*
 * listen.h - create listening TCP sockets.
 *
 * The master calls listen_bind() for every configured listener while it
 * still has the privileges to bind ports below 1024, then passes the fds to
 * the roles, which accept on them with server_new() (server.h).
 */
#ifndef POSTERN_LISTEN_H
#define POSTERN_LISTEN_H

/* Backlog passed to listen(2); the kernel caps it at net.core.somaxconn. */
#define LISTEN_BACKLOG 511

/*
 * listen_bind - a non-blocking, close-on-exec, SO_REUSEADDR TCP socket
 * listening on address:port. address is "*" (every address: one IPv6
 * socket with IPV6_V6ONLY=0 that also takes IPv4, or 0.0.0.0 when the host
 * has no IPv6), an IPv4 address, or an IPv6 address without brackets.
 * port 0 lets the kernel pick a free port (tests; see listen_local_port).
 * Returns 0 and the fd in *fd_r (caller closes it), or -1 with *error_r
 * set to one line in new memory (caller frees), e.g.
 * "cannot listen on 127.0.0.1:25: Address already in use; another program
 * (maybe Postfix, exim or an earlier posternd) is using the port: stop it
 * or change the port".
 */
int listen_bind(const char *address, int port, int *fd_r, char **error_r);

/* listen_local_port - the port a socket is bound to, or -1. */
int listen_local_port(int fd);

#endif
