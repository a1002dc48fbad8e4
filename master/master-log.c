/*
 * master-log.c - where posternd's lines go once the configuration is known.
 *
 * Before that (argument and configuration errors) the master logs to
 * stderr as a tool would ("posternd: error: FILE:LINE: ..."), so a
 * mistake reads like a compiler message on the terminal. After, the
 * master and every role log like Postfix daemons: syslog with the ident
 * SYSLOG_NAME/master or SYSLOG_NAME/ROLE, plus maillog_file, plus stderr
 * with timestamps under -f (what systemd's journal and `make run` show).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "master/master.h"
#include "util.h"

void master_log_setup(const struct config *cfg, const char *what, bool foreground)
{
	char ident[64];
	unsigned dests = LOG_DEST_SYSLOG;
	const char *file = config_str(cfg, "maillog_file");
	int file_errno = 0;

	snprintf(ident, sizeof(ident), "%s/%s", config_str(cfg, "syslog_name"), what);
	(void)log_set_syslog_facility(config_str(cfg, "syslog_facility"));
	if (file && *file) {
		if (log_set_file(file) == 0)
			dests |= LOG_DEST_FILE;
		else
			file_errno = errno;
	}
	if (foreground)
		dests |= LOG_DEST_STDERR_DAEMON;
	log_init(ident, dests);
	if (file_errno)
		log_warn("cannot open maillog_file %s: %s; logging to syslog%s only", file,
			 strerror(file_errno), foreground ? " and stderr" : "");
}
