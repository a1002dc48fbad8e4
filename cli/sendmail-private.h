/*
 * sendmail-private.h - between cli/sendmail.c (options, modes),
 * cli/sendmail-smtp.c (the -bs mode) and cli/sendmail-verify.c (-bv).
 * Nothing else includes it.
 */
#ifndef POSTERN_CLI_SENDMAIL_PRIVATE_H
#define POSTERN_CLI_SENDMAIL_PRIVATE_H

#include <stdio.h>

#include "config.h"

/*
 * sendmail_smtp - speak SMTP (RFC 5321) with the client on in/out, as
 * Postfix's "sendmail -bs" does, submitting each message through the
 * pickup socket (pickup_submit). Returns the exit status: 0 after QUIT or
 * the end of input, EX_TEMPFAIL after a 421.
 */
int sendmail_smtp(const struct config *cfg, const char *prog, const char *full_name, FILE *in, FILE *out);

/*
 * sendmail_verify - "sendmail -bv": print what becomes of each of the n
 * recipients (resolve.h) on out. Returns 0 (all deliverable), EX_NOUSER
 * (one is not), EX_TEMPFAIL or EX_CONFIG (after a message on stderr).
 */
int sendmail_verify(const struct config *cfg, const char *prog, char *const *rcpts, size_t n, FILE *out);

#endif
