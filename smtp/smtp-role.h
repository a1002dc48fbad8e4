/*
 * smtp-role.h - the SMTP server role's entry for the master's role table
 * (master/roles.c): one process serves every listener of protocol smtp
 * (mx, submission, smtps). See smtp/README.md and docs/ARCHITECTURE.md
 * "SMTP role".
 */
#ifndef POSTERN_SMTP_ROLE_H
#define POSTERN_SMTP_ROLE_H

#include "role.h"

/* smtp_role_main - run until SIGTERM; 0 after a clean stop, 1 when the
 * configuration cannot be served (the reason is logged). */
int smtp_role_main(const struct role_env *env);

/* smtp_role_check_config - role_check_config_fn: every smtp listener's
 * restriction lists, classes, tables and header/body checks parse as the
 * role will parse them at start. */
int smtp_role_check_config(const struct config *cfg, char **error_r);

#endif
