/*
 * role-process.c - the role side of role.h: `posternd --role NAME -c CONF`.
 *
 * Started only by the master (fork + exec, already running as the role's
 * user). Reads the configuration again (the master validated the same
 * file a moment ago; if it changed meanwhile and is now invalid, the role
 * exits 1 and the master's backoff applies), takes the listening sockets
 * named in POSTERN_LISTEN_FDS (format: lib/role.h), checks each is a
 * listening socket of a listener the configuration knows and that this
 * role serves, or a unix socket ("unix:NAME") the role declares, and
 * calls the role's main function.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "master/master.h"
#include "util.h"

static int is_listening_socket(int fd)
{
	struct stat st;
	int on = 0;
	socklen_t len = sizeof(on);

	if (fstat(fd, &st) < 0 || !S_ISSOCK(st.st_mode))
		return 0;
	if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &on, &len) < 0)
		return 0;
	return on != 0;
}

/* The configuration the master passed in memory (ROLE_CONFIG_FD_ENV), with
 * conf as its name in messages; the file itself when nothing was passed
 * (a role started by hand for debugging). */
static struct config *role_config_load(const char *conf)
{
	const char *env = getenv(ROLE_CONFIG_FD_ENV);
	struct strbuf sb;
	struct config *cfg;
	char buf[8192];
	char *end;
	long fd;
	off_t pos = 0;

	if (env == NULL || *env == '\0')
		return config_load(conf, NULL, NULL);
	fd = strtol(env, &end, 10);
	unsetenv(ROLE_CONFIG_FD_ENV);
	if (*end != '\0' || fd < 0 || fd > INT_MAX) {
		log_error("%s=%s is not a file descriptor; start roles through posternd", ROLE_CONFIG_FD_ENV, env);
		return NULL;
	}
	strbuf_init(&sb, CONFIG_MAX_FILE + 1);
	for (;;) {
		ssize_t n = pread((int)fd, buf, sizeof(buf), pos);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			log_error("cannot read the configuration the master passed (fd %ld): %s", fd, strerror(errno));
			strbuf_free(&sb);
			close((int)fd);
			return NULL;
		}
		if (n == 0)
			break;
		if (strbuf_append(&sb, buf, (size_t)n) < 0)
			break; /* over the limit: config_parse reports the size */
		pos += n;
	}
	close((int)fd);
	cfg = config_parse(conf, sb.len ? sb.data : "", sb.len, NULL, NULL);
	strbuf_free(&sb);
	return cfg;
}

int role_process_main(const struct master_options *opts)
{
	const struct role_def *def = role_lookup(opts->role);
	const char *text = getenv(ROLE_LISTEN_FDS_ENV);
	struct fdpass_entry *entries = NULL;
	struct role_listener *ls = NULL;
	struct role_unix_fd *ufds = NULL;
	struct role_unix_socket specs[ROLE_MAX_UNIX_SOCKETS];
	int n_specs = 0;
	size_t n_ls = 0, n_ufds = 0;
	char *serr = NULL;
	struct role_env env;
	struct config *cfg;
	const char *perr = NULL;
	int n, status;

	log_init("posternd", LOG_DEST_STDERR_TOOL | LOG_DEST_SYSLOG);
	if (def == NULL) {
		log_error("role %s is not built into this posternd", opts->role);
		return 1;
	}
	cfg = role_config_load(opts->conf);
	if (cfg == NULL)
		return 1;
	master_log_setup(cfg, def->name, opts->foreground);
	if (def->unix_sockets) {
		memset(specs, 0, sizeof(specs));
		n_specs = def->unix_sockets(cfg, specs, ROLE_MAX_UNIX_SOCKETS, &serr);
		if (n_specs < 0) {
			log_error("%s", serr);
			free(serr);
			config_free(&cfg);
			return 1;
		}
	}
	n = fdpass_parse(text ? text : "", config_listener_count(cfg) + (size_t)n_specs, &entries,
			 &perr);
	if (n < 0) {
		log_error("bad %s from the master: %s", ROLE_LISTEN_FDS_ENV, perr);
		config_free(&cfg);
		return 1;
	}
	ls = must_calloc(n > 0 ? (size_t)n : 1, sizeof(*ls));
	ufds = must_calloc(n > 0 ? (size_t)n : 1, sizeof(*ufds));
	for (int i = 0; i < n; i++) {
		const struct config_listener *cl;

		if (!is_listening_socket(entries[i].fd)) {
			log_error("fd %d for listener %s is not a listening socket", entries[i].fd,
				  entries[i].name);
			goto fail;
		}
		if (strncmp(entries[i].name, ROLE_UNIX_PREFIX, strlen(ROLE_UNIX_PREFIX)) == 0) {
			const char *uname = entries[i].name + strlen(ROLE_UNIX_PREFIX);
			int k;

			for (k = 0; k < n_specs; k++)
				if (strcmp(specs[k].name, uname) == 0)
					break;
			if (k == n_specs) {
				log_error("unix socket %s passed by the master is not one of role %s's; was posternd upgraded without a restart?",
					  uname, def->name);
				goto fail;
			}
			ufds[n_ufds].name = specs[k].name;
			ufds[n_ufds++].fd = entries[i].fd;
			continue;
		}
		cl = config_listener_find(cfg, entries[i].name);
		if (cl == NULL || role_for_protocol(cl->protocol) != def) {
			log_error("listener %s passed by the master is not one of this role's in %s; was the file changed during a reload?",
				  entries[i].name, opts->conf);
			goto fail;
		}
		ls[n_ls].listener = cl;
		ls[n_ls++].fd = entries[i].fd;
	}
	unsetenv(ROLE_LISTEN_FDS_ENV);
	env.cfg = cfg;
	env.listeners = ls;
	env.n_listeners = n_ls;
	env.unix_fds = ufds;
	env.n_unix_fds = n_ufds;
	env.name = def->name;
	env.foreground = opts->foreground;
	status = def->main(&env);
	for (int i = 0; i < n; i++)
		close(entries[i].fd);
	free(ls);
	free(ufds);
	free(entries);
	config_free(&cfg);
	return status;
fail:
	free(ls);
	free(ufds);
	free(entries);
	config_free(&cfg);
	return 1;
}
