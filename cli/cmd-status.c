/*
 * cmd-status.c - `postern status`: is the mail system running, and what
 * runs (Postfix: `postfix status`, plus what `ps` would have to tell).
 *
 * Asks the master over its control socket (STATUS) and prints its
 * "master ..." / "role ..." / "listener ..." key=value lines as a table.
 * Exit 0 when running, 1 when not (with Postfix's wording).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli-private.h"
#include "cli/cli.h"
#include "log.h"

/* status_field - value of KEY= in a key=value line into buf ("-" if none). */
static const char *status_field(const char *line, const char *key, char *buf, size_t size)
{
	size_t klen = strlen(key);
	const char *p = line;

	while ((p = strstr(p, key)) != NULL) {
		if ((p == line || p[-1] == ' ') && p[klen] == '=') {
			const char *v = p + klen + 1;
			/* config= is last and may hold spaces. */
			size_t n = strcmp(key, "config") == 0 ? strlen(v) : strcspn(v, " ");

			if (n >= size)
				n = size - 1;
			memcpy(buf, v, n);
			buf[n] = '\0';
			return buf;
		}
		p += klen;
	}
	str_copy(buf, "-", size);
	return buf;
}

static void print_uptime(long long s, char *buf, size_t size)
{
	if (s >= 86400)
		snprintf(buf, size, "%lldd %lldh", s / 86400, s % 86400 / 3600);
	else if (s >= 3600)
		snprintf(buf, size, "%lldh %lldm", s / 3600, s % 3600 / 60);
	else if (s >= 60)
		snprintf(buf, size, "%lldm %llds", s / 60, s % 60);
	else
		snprintf(buf, size, "%llds", s);
}

int cmd_status(int argc, char **argv, const char *conf)
{
	struct config *cfg;
	struct strbuf out;
	char *err = NULL;
	bool roles_hdr = false, listeners_hdr = false;
	char a[256], b[256], c[256], d[256], e[256], up[64];

	if (argc != 1)
		return cli_usage_error(argv[0]);
	cfg = cli_load_config(conf);
	if (cfg == NULL)
		return 1;
	if (cli_master_pid(cfg) <= 0) {
		log_error(CLI_NOT_RUNNING);
		config_free(&cfg);
		return 1;
	}
	strbuf_init(&out, 1024 * 1024);
	if (cli_control(config_str(cfg, "run_directory"), "STATUS", &out, &err) < 0) {
		log_error("the mail system is running but does not answer: %s", err);
		free(err);
		strbuf_free(&out);
		config_free(&cfg);
		return 1;
	}
	for (char *line = out.data, *nl; line && *line; line = nl + 1) {
		nl = strchr(line, '\n');
		if (nl == NULL)
			break;
		*nl = '\0';
		if (str_has_prefix(line, "master ")) {
			print_uptime(atoll(status_field(line, "uptime", a, sizeof(a))), up, sizeof(up));
			printf("postern: the mail system is running: PID: %s\n",
			       status_field(line, "pid", b, sizeof(b)));
			printf("master   pid %s, up %s, %s reload(s), configuration %s\n", b, up,
			       status_field(line, "reloads", c, sizeof(c)),
			       status_field(line, "config", d, sizeof(d)));
		} else if (str_has_prefix(line, "role ")) {
			if (!roles_hdr) {
				printf("%-10s %-8s %-10s %-9s %-10s %s\n", "ROLE", "PID", "STATE",
				       "RESTARTS", "USER", "LISTENERS");
				roles_hdr = true;
			}
			printf("%-10s %-8s %-10s %-9s %-10s %s\n",
			       status_field(line, "name", a, sizeof(a)),
			       status_field(line, "pid", b, sizeof(b)),
			       status_field(line, "state", c, sizeof(c)),
			       status_field(line, "restarts", d, sizeof(d)),
			       status_field(line, "user", e, sizeof(e)),
			       status_field(line, "listeners", up, sizeof(up)));
		} else if (str_has_prefix(line, "listener ")) {
			char addr[300], port[16];

			if (!listeners_hdr) {
				if (!roles_hdr)
					printf("(no role processes)\n");
				roles_hdr = true;
				printf("%-12s %-8s %-28s %s\n", "LISTENER", "PROTOCOL", "ADDRESS", "TLS");
				listeners_hdr = true;
			}
			status_field(line, "address", a, sizeof(a));
			status_field(line, "port", port, sizeof(port));
			snprintf(addr, sizeof(addr), strchr(a, ':') ? "[%s]:%s" : "%s:%s", a, port);
			printf("%-12s %-8s %-28s %s\n", status_field(line, "name", b, sizeof(b)),
			       status_field(line, "protocol", c, sizeof(c)), addr,
			       status_field(line, "tls", d, sizeof(d)));
		}
	}
	if (!roles_hdr)
		printf("(no role processes)\n");
	if (!listeners_hdr)
		printf("(no listeners configured)\n");
	strbuf_free(&out);
	config_free(&cfg);
	return 0;
}
