/*
 * pop3-role.h - the public entry of the POP3 server role (pop3/), for the
 * master's role table (master/roles.c). Everything else in pop3/ is
 * private (pop3-private.h) except the pure parser (pop3-parse.h).
 */
#ifndef POSTERN_POP3_ROLE_H
#define POSTERN_POP3_ROLE_H

#include "role.h"

/*
 * pop3_role_main - run the pop3 role on env's listeners (protocol pop3:
 * tls=starttls for 110, tls=implicit for 995) until SIGTERM. Returns 0
 * after a clean stop, 1 when the configuration cannot be served (the
 * reason is logged as FILE:LINE: NAME: problem; fix).
 */
int pop3_role_main(const struct role_env *env);

/* pop3_role_check_config - role_check_config_fn: pop3_uidl_format,
 * pop3_expire and pop3_enable_apop of every pop3 listener. */
int pop3_role_check_config(const struct config *cfg, char **error_r);

#endif
