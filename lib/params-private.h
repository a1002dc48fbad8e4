/*
 * params-private.h - what the params-<area>.c tables share with params.c.
 * Only files of the registry include it.
 */
#ifndef POSTERN_PARAMS_PRIVATE_H
#define POSTERN_PARAMS_PRIVATE_H

#include "params.h"

/* Each table ends with an entry whose name is NULL. */
extern const struct param_def params_core[];
extern const struct param_def params_tls[];
extern const struct param_def params_smtpd[];
extern const struct param_def params_smtpd_restrictions[];
extern const struct param_def params_auth[];
extern const struct param_def params_store[];
extern const struct param_def params_mbox[];
extern const struct param_def params_imap[];
extern const struct param_def params_pop3[];
extern const struct param_def params_queue[];

#endif
