/*
 * auth-role.h - the auth role's entry points for the master's role table
 * (master/roles.c): started always, with no TCP listeners; its two unix
 * sockets are created by the master (auth_role_unix_sockets).
 */
#ifndef POSTERN_AUTH_ROLE_H
#define POSTERN_AUTH_ROLE_H

#include <stdbool.h>

#include "role.h"

/* Names of the unix sockets in POSTERN_LISTEN_FDS ("unix:auth"). */
#define AUTH_UNIX_AUTH "auth"
#define AUTH_UNIX_USERDB "auth-userdb"

/* auth_role_unix_sockets - auth_socket_path (auth_socket_mode,
 * auth_socket_group) and auth_userdb_socket_path (0600, mail_owner's
 * group), for the master to create (role_unix_sockets_fn). Returns 2, or
 * -1 with *error_r (new memory) for an auth_socket_mode that is not octal. */
int auth_role_unix_sockets(const struct config *cfg, struct role_unix_socket *out, size_t max,
			   char **error_r);

/* auth_role_main - serve auth_socket_path and auth_userdb_socket_path,
 * on the fds the master passed, until SIGTERM. Returns the exit status (role_main_fn). */
int auth_role_main(const struct role_env *env);

/* auth_role_keeps_root - true when pam is among auth_backends: pam_unix
 * needs root to read /etc/shadow (role_keeps_root_fn). */
bool auth_role_keeps_root(const struct config *cfg);

#endif
