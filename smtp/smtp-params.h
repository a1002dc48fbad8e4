/*
 * smtp-params.h - the SMTP command line parser: the verb, the path of
 * MAIL FROM:/RCPT TO: and the ESMTP parameters after it (RFC 5321 4.1.2
 * esmtp-param; RFC 1870 SIZE, RFC 6152 BODY, RFC 3461 RET/ENVID/NOTIFY/
 * ORCPT, RFC 6531 SMTPUTF8, RFC 4954 AUTH=). Pure functions, no I/O:
 * called by smtp/cmd-mail.c, smtp/cmd-rcpt.c and the fuzz harness
 * tests/fuzz/fuzz_smtp_command.c. The path itself is parsed by
 * smtp/address.h.
 *
 * Error replies are complete SMTP reply lines (static text or written into
 * the caller's buffer), Postfix's wording where Postfix has one.
 */
#ifndef POSTERN_SMTP_PARAMS_H
#define POSTERN_SMTP_PARAMS_H

#include <stdbool.h>
#include <stddef.h>

/* At most this many ESMTP parameters per command (RFC 5321 4.1.2 has no
 * limit; real clients send at most five). */
#define SMTP_PARAMS_MAX 16
/* ENVID / ORCPT xtext: RFC 3461 4.4 (100) and 4.2 (500) octets. */
#define SMTP_ENVID_MAX 100
#define SMTP_ORCPT_MAX 500

enum smtp_body { SMTP_BODY_NONE, SMTP_BODY_7BIT, SMTP_BODY_8BITMIME };
enum smtp_ret { SMTP_RET_NONE, SMTP_RET_FULL, SMTP_RET_HDRS };

#define SMTP_NOTIFY_NEVER   1u
#define SMTP_NOTIFY_SUCCESS 2u
#define SMTP_NOTIFY_FAILURE 4u
#define SMTP_NOTIFY_DELAY   8u

struct smtp_mail_params {
	bool has_size;
	unsigned long long size;
	enum smtp_body body;
	bool smtputf8;
	enum smtp_ret ret;
	char *envid;      /* xtext as sent, or NULL */
	char *auth;       /* AUTH=<mailbox> xtext as sent, or NULL */
};

/*
 * smtp_command_split - the verb of line (letters up to the first space)
 * and where its arguments start (after one or more spaces). Returns the
 * verb length (0: no verb, e.g. an empty line or one starting with a
 * space); *args_r is the offset of the arguments (== len when none).
 */
size_t smtp_command_split(const char *line, size_t len, size_t *args_r);

/*
 * smtp_path_split - in args of MAIL/RCPT, after the keyword ("FROM:" or
 * "TO:", case-insensitive; blanks after the colon are tolerated, as
 * Postfix does), find the path: "<...>" up to the matching ">" (quoted
 * strings and backslash escapes inside are skipped), or a bare word.
 * Returns 0 with the path at *path_off and *path_len (brackets included) and
 * the ESMTP parameters starting at *params_off (blanks skipped; == len
 * when none), or -1 when the keyword or the path is missing/unbalanced.
 */
int smtp_path_split(const char *args, size_t len, const char *keyword,
		    size_t *path_off, size_t *path_len, size_t *params_off);

/*
 * smtp_mail_params_parse - the parameters of MAIL FROM (text/len may
 * contain anything). size_limit is message_size_limit (SIZE= above it is
 * refused). Returns 0 and fills *out (free with smtp_mail_params_free),
 * or -1 with *reply_r a static reply such as "555 5.5.4 Unsupported
 * option: ..." (written into buf, size bytes) and *out cleared.
 */
int smtp_mail_params_parse(const char *text, size_t len, unsigned long long size_limit,
			   struct smtp_mail_params *out, char *buf, size_t size, const char **reply_r);
void smtp_mail_params_free(struct smtp_mail_params *p);

/*
 * smtp_rcpt_params_parse - NOTIFY= and ORCPT= of RCPT TO. Returns 0 with
 * *notify_r (0 when absent) and *orcpt_r (new memory or NULL), or -1 with
 * *reply_r as above.
 */
int smtp_rcpt_params_parse(const char *text, size_t len, unsigned *notify_r, char **orcpt_r,
			   char *buf, size_t size, const char **reply_r);

/* smtp_xtext_valid - RFC 3461 4: printable ASCII except '+' and '=',
 * "+XX" with upper-case hex. */
bool smtp_xtext_valid(const char *s, size_t len);

#endif
