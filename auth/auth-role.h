/*
 * auth-role.h - the auth role's entry points for the master's role table
 * (master/roles.c): started always, with no TCP listeners.
 */
#ifndef POSTERN_AUTH_ROLE_H
#define POSTERN_AUTH_ROLE_H

#include <stdbool.h>

#include "role.h"

/* auth_role_main - serve auth_socket_path and auth_userdb_socket_path
 * until SIGTERM. Returns the exit status (role_main_fn). */
int auth_role_main(const struct role_env *env);

/* auth_role_keeps_root - true when pam is among auth_backends: pam_unix
 * needs root to read /etc/shadow (role_keeps_root_fn). */
bool auth_role_keeps_root(const struct config *cfg);

#endif
