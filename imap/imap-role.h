/*
 * imap-role.h - the IMAP server role's entry for the master's role table
 * (master/roles.c): one role process per posternd serves every listener
 * of protocol imap (imap on 143 with STARTTLS, imaps on 993 with implicit
 * TLS) with imap_processes worker processes. See imap/README.md and
 * docs/ARCHITECTURE.md "IMAP role".
 */
#ifndef POSTERN_IMAP_ROLE_H
#define POSTERN_IMAP_ROLE_H

#include "role.h"

/* imap_role_main - run until SIGTERM; 0 after a clean stop, 1 when the
 * configuration cannot be served or the workers keep dying (the reason
 * is logged). In a worker process it returns the worker's status. */
int imap_role_main(const struct role_env *env);

#endif
