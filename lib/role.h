/*
 * role.h - the contract between posternd's master and every role.
 *
 * A role is one kind of process the master starts: auth, smtp, queue,
 * imap, pop3, web. The master binds every listening socket, then runs
 * `posternd --role NAME -c CONF` for each role it needs (fork + exec of
 * itself) with only that role's listening sockets open, at fd 3, 4, ...,
 * named in the environment variable POSTERN_LISTEN_FDS.
 * The role process parses the configuration again - from the text the
 * master validated, passed in a memfd (ROLE_CONFIG_FD_ENV), not from the
 * file, which may have been edited since - matches each fd to its
 * config_listener, and calls the role's main function with a role_env.
 *
 * POSTERN_LISTEN_FDS (the one place its format is defined): a comma
 * separated list of NAME:FD entries, FD >= ROLE_FIRST_LISTEN_FD, e.g.
 * "mx:3,submission:4,unix:auth:5,unix:auth-userdb:6". NAME is a listener
 * name (TCP) or "unix:" + the name a role gave one of its unix sockets
 * (role_def.unix_sockets); the fd number follows the last ':'.
 *
 * Unix sockets: a role that serves local sockets (auth) declares them in
 * role_def.unix_sockets. The master creates them while it still is root -
 * path, mode, owner mail_owner, group - and passes the listening fds like
 * TCP listeners, so a role never needs the privilege to chgrp a socket or
 * to write the socket's directory; on reload a socket whose path, mode and
 * group are unchanged is kept (same inode), on stop it is unlinked.
 *
 * Privileges: before exec, the master drops every role to mail_owner
 * (when it runs as root); only a role whose keeps_root() says so for the
 * current configuration stays root (auth, when PAM needs /etc/shadow).
 *
 * Signals: SIGTERM means stop (finish sessions, at most
 * master_stop_timeout); SIGINT arrives ignored (Ctrl-C under posternd -f
 * is the master's to handle); everything else is at its default.
 *
 * A role's main runs its own event loop and returns the exit status:
 * 0 after SIGTERM was handled (sessions finished or master_stop_timeout
 * reached), non-zero on a fatal error, which makes the master log
 * "warning: process posternd/NAME pid N exit status S" and restart it
 * with backoff.
 *
 * The table of roles built into this posternd is master/roles.c; see
 * role_lookup(). A listener whose protocol's role is not in the table makes
 * posternd refuse to start: nothing pretends to serve a protocol it does
 * not implement.
 */
#ifndef POSTERN_ROLE_H
#define POSTERN_ROLE_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "config.h"

/* The environment variable naming the fd from which a role reads the
 * configuration text the master validated (a memfd, read from offset 0,
 * closed by the role). Without it the role reads the file named by -c. */
#define ROLE_CONFIG_FD_ENV "POSTERN_CONFIG_FD"

/* The environment variable naming the passed listening sockets. */
#define ROLE_LISTEN_FDS_ENV "POSTERN_LISTEN_FDS"
/* First fd number a passed listening socket gets in a role process. */
#define ROLE_FIRST_LISTEN_FD 3

struct role_listener {
	const struct config_listener *listener; /* owned by env->cfg */
	int fd;                                  /* non-blocking, CLOEXEC, listening */
};

/* Most unix sockets one role may declare. */
#define ROLE_MAX_UNIX_SOCKETS 8
/* Prefix of a unix socket's name in POSTERN_LISTEN_FDS. */
#define ROLE_UNIX_PREFIX "unix:"

/* A unix socket as a role declares it (role_unix_sockets_fn). The strings
 * point into the configuration (or are static) and live as long as it. */
struct role_unix_socket {
	const char *name;        /* "auth": passed as "unix:auth"; [a-z0-9-], < 48 bytes */
	const char *path;        /* absolute path of the socket */
	const char *path_param;  /* parameter naming path, for messages: "auth_socket_path" */
	unsigned mode;           /* permission bits, e.g. 0660 */
	const char *group;       /* group name; "" = mail_owner's primary group */
	const char *group_param; /* parameter naming group, or NULL when fixed */
};

/* A passed unix socket in the role process. */
struct role_unix_fd {
	const char *name;        /* "auth" (without the prefix) */
	int fd;                  /* non-blocking, CLOEXEC, listening; closed after main returns */
};

struct role_env {
	const struct config *cfg;             /* the configuration this role was started with */
	const struct role_listener *listeners; /* this role's listeners, in config order */
	size_t n_listeners;
	const struct role_unix_fd *unix_fds;  /* the unix sockets the master created for it */
	size_t n_unix_fds;
	const char *name;                      /* "smtp" */
	bool foreground;                       /* posternd -f: the role also logs to stderr */
};

/* role_main_fn - run the role until it is told to stop. Returns the
 * process exit status. env and everything in it stay valid until return. */
typedef int role_main_fn(const struct role_env *env);

/* role_keeps_root_fn - true when this role must stay root under cfg (only
 * the auth role with PAM); NULL in the table means "never". */
typedef bool role_keeps_root_fn(const struct config *cfg);

/* role_unix_sockets_fn - the unix sockets this role needs under cfg, into
 * out[0..max). Returns the count, or -1 with *error_r set to one line in
 * new memory (caller frees), "FILE:LINE: NAME: problem; fix", for a value
 * that cannot be used (e.g. a mode that is not octal). */
typedef int role_unix_sockets_fn(const struct config *cfg, struct role_unix_socket *out,
				 size_t max, char **error_r);

/* role_check_config_fn - whether cfg is usable for this role, checked the
 * way the role itself will read it at start (restriction lists, formats),
 * so that posternd refuses a bad configuration before it starts anything
 * and `postern check` / reload report it. Returns 0, or -1 with *error_r
 * set to one line in new memory (caller frees): "FILE:LINE: NAME:
 * problem; fix". Called only for roles cfg runs (see role_check_configs). */
typedef int role_check_config_fn(const struct config *cfg, char **error_r);

struct role_def {
	const char *name;              /* matches protocol_def.role for listener roles */
	role_main_fn *main;
	role_keeps_root_fn *keeps_root;
	/* Unix sockets the master creates and passes; NULL: none. */
	role_unix_sockets_fn *unix_sockets;
	/* Configuration check before start and reload; NULL: nothing to check. */
	role_check_config_fn *check_config;
	/* Started even when no listener needs it (auth, queue). */
	bool always;
	/* Never run two processes of this role at once, not even for a moment
	 * during reload (the queue manager owns queue files exclusively): on
	 * reload it is stopped first, then started. Others are started first
	 * and the old process is stopped after, so no connection is refused. */
	bool exclusive;
	const char *doc;               /* one line, for `postern status` and docs */
};

/* role_unix_fd - the fd of the passed unix socket called name, or -1 when
 * the master did not pass it. */
static inline int role_unix_fd(const struct role_env *env, const char *name)
{
	for (size_t i = 0; i < env->n_unix_fds; i++)
		if (strcmp(env->unix_fds[i].name, name) == 0)
			return env->unix_fds[i].fd;
	return -1;
}

/* role_lookup - the built role called name, or NULL when it is not built
 * into this posternd. Static data. */
const struct role_def *role_lookup(const char *name);

/* role_count / role_at - every built role, in start order. */
size_t role_count(void);
const struct role_def *role_at(size_t i);

/* role_for_protocol - the built role serving protocol (by the protocol
 * table in params.h), or NULL when the protocol is unknown or its role is
 * not built. */
const struct role_def *role_for_protocol(const char *protocol);

/*
 * role_check_listeners - every listener of cfg must have a built role.
 * Returns 0, or -1 with *error_r set to one line in new memory (caller
 * frees): "FILE:LINE: NAME/listen: protocol P is not built into this
 * posternd yet; comment the line out".
 */
int role_check_listeners(const struct config *cfg, char **error_r);

/*
 * role_check_configs - run check_config of every built role cfg runs (a
 * role with a listener in cfg, or an always-started one). Returns 0, or -1
 * with *error_r from the first role that refused (caller frees).
 */
int role_check_configs(const struct config *cfg, char **error_r);

#endif
