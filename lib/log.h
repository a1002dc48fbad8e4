/*
 * log.h - Postfix-style logging.
 *
 * Lines look like Postfix's so that the usual tools work on them
 * (egrep '(reject|warning|error|fatal|panic):', pflogsumm, fail2ban):
 *
 *   Nov 25 10:00:00 mail posternd/smtp[1234]: 3F2A1C0D: client=...
 *   Nov 25 10:00:00 mail posternd/master[1200]: warning: ...
 *
 * The ident ("posternd/smtp") is set once per process by log_init(). Output
 * goes to syslog (facility from syslog_facility, default mail), and/or to
 * stderr: with a timestamp and host for a daemon in the foreground, or as
 * "postern: warning: ..." for a command-line tool, and/or appended to a file
 * (Postfix's maillog_file).
 *
 * Severity (Postfix's meaning): log_warn - something the program survives;
 * log_error - an operation failed; log_fatal - a broken environment, exit(1);
 * log_panic - a bug, abort().
 */
#ifndef POSTERN_LOG_H
#define POSTERN_LOG_H

#include <stdarg.h>
#include <stdbool.h>

enum log_dest {
	LOG_DEST_SYSLOG = 1 << 0,       /* syslog(3) */
	LOG_DEST_STDERR_DAEMON = 1 << 1,/* stderr, full Postfix-style line */
	LOG_DEST_STDERR_TOOL = 1 << 2,  /* stderr, "ident: warning: text" */
	LOG_DEST_FILE = 1 << 3,         /* append to the file given to log_set_file */
};

/* log_init - set the ident (e.g. "posternd/master") and destinations. */
void log_init(const char *ident, unsigned dests);

/* log_set_ident - change only the ident, e.g. after a role is exec'd. */
void log_set_ident(const char *ident);

/* log_set_syslog_facility - "mail", "local0".."local7", "daemon", "user".
 * Returns 0, or -1 for an unknown name. */
int log_set_syslog_facility(const char *name);

/* log_set_file - open path for appending (LOG_DEST_FILE). 0, or -1 with errno. */
int log_set_file(const char *path);

/* log_set_capture - tests: also send every formatted message body to fn. */
typedef void log_capture_fn(const char *severity, const char *text, void *ctx);
void log_set_capture(log_capture_fn *fn, void *ctx);

void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* log_reject - an SMTP-level rejection; Postfix logs these as "reject:". */
void log_reject(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void log_panic(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void log_vmsg(int priority, const char *severity, const char *fmt, va_list ap);

#endif
