/*
 * local-pipe.h - delivery of a message to a |command or a /file/name from
 * an alias (Postfix's local(8) "EXTERNAL FILE DELIVERY" and "EXTERNAL
 * COMMAND DELIVERY"), for the queue role on a worker thread.
 *
 * The queue role runs as mail_owner and never as root, so a command or a
 * file write runs as mail_owner: that is why only the admin's alias files
 * may name them (allow_mail_to_commands, allow_mail_to_files; a user's
 * ~/.forward cannot, since it would run code as mail_owner).
 *
 * Command: /bin/sh -c COMMAND with the message on stdin (a Delivered-To
 * and Return-Path header prepended, lines ending in LF), environment as
 * local(8): SENDER, RECIPIENT, USER, EXTENSION, DOMAIN, LOCAL, HOME=/,
 * SHELL, PATH=/usr/bin:/bin, LOGNAME; killed (process group) after
 * command_time_limit. Exit 0: sent; sysexits EX_TEMPFAIL (75) and the
 * other "try again" codes, a signal, or the time limit: deferred; any
 * other status: bounced with the command's first output line (at most
 * 512 bytes kept). File: opened O_APPEND|O_NOFOLLOW (mode 0600 when
 * created), written in mbox format (From_ line, >From quoting) under an
 * fcntl lock, fsynced; ENOSPC/EDQUOT/lock timeout defer, others bounce.
 */
#ifndef POSTERN_SMTP_LOCAL_PIPE_H
#define POSTERN_SMTP_LOCAL_PIPE_H

#include <sys/types.h>
#include <time.h>

#include "smtp/queue/qmsg.h"

struct local_pipe_req {
	const char *sender;       /* envelope sender, "" for <> */
	const char *recipient;    /* the alias address that named it */
	int fd;                   /* the queue file */
	off_t offset, size;       /* the content */
	unsigned time_limit;      /* seconds (command_time_limit) */
};

/* The outcome, in qmsg.h's terms: result SENT/BOUNCED/DEFERRED, dsn,
 * text (e.g. "Command died with status 1: \"/usr/bin/x\". Command output:
 * no such list"). */
struct local_pipe_result {
	enum qdest_state result;
	char dsn[12];
	char text[700];
};

/* local_pipe_command - run command with the message on stdin. */
void local_pipe_command(const struct local_pipe_req *req, const char *command, struct local_pipe_result *out);
/* local_pipe_file - append the message to path (absolute). */
void local_pipe_file(const struct local_pipe_req *req, const char *path, struct local_pipe_result *out);

#endif
