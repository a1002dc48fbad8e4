/*
 * cmd-check.c - `postern check`: everything that would stop the mail
 * system from working, checked before it is started or reloaded (Postfix:
 * `postfix check`).
 *
 * Checks: the configuration loads and validates; every listener's role is
 * built; mail_owner exists; every table (PARAM_MAPS value, globally and
 * per listener) opens with map_open(); the certificate and key load and
 * belong together (tls_server_ctx_new()) and the certificate is valid for
 * more than 30 days; the queue, data, run and mail directories exist, are
 * owned by mail_owner, are not writable by group or others, and can be
 * reached by mail_owner; the unix sockets roles declare (auth_socket_path,
 * auth_userdb_socket_path): path length, group exists (and, without root,
 * is one of ours), the directory exists or can be created, is not
 * writable by everyone, and members of the socket's group can reach it.
 *
 * Like postfix check it prints nothing and exits 0 when all is well.
 * Otherwise one line per problem, saying what to do; exit 1 when any of
 * them is an error (warnings alone: exit 0).
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/x509.h>

#include "cli/cli-private.h"
#include "cli/cli.h"
#include "cli/instance.h"
#include "log.h"
#include "maps.h"
#include "master/master.h"
#include "tls.h"

#define CHECK_CERT_MIN_DAYS 30

struct check {
	const struct config *cfg;
	int errors;
	uid_t owner_uid;
	gid_t owner_gid;
	const char *owner;
	bool owner_known;
};

/* "FILE:LINE: NAME" for the assignment of name, or "CONF: NAME" when it
 * has its default. */
static const char *where(const struct config *cfg, const char *name, char *buf, size_t size)
{
	const char *file = NULL;
	int line = config_where(cfg, name, &file);

	if (line > 0)
		snprintf(buf, size, "%s:%d: %s", file, line, name);
	else
		snprintf(buf, size, "%s: %s (default)", config_path(cfg), name);
	return buf;
}

static void check_owner(struct check *c)
{
	const char *owner = config_str(c->cfg, "mail_owner");
	struct passwd *pw = getpwnam(owner);
	char w[512];

	where(c->cfg, "mail_owner", w, sizeof(w));
	if (geteuid() != 0) {
		struct passwd *me = getpwuid(geteuid());

		/* posternd without root runs every role as the invoking user. */
		c->owner_uid = geteuid();
		c->owner_gid = getegid();
		c->owner = me ? me->pw_name : owner;
		c->owner_known = true;
		if (config_raw(c->cfg, "mail_owner") && (me == NULL || strcmp(me->pw_name, owner) != 0))
			log_warn("%s: is %s, but without root posternd runs every role as %s; set mail_owner = %s",
				 w, owner, c->owner, c->owner);
		return;
	}
	if (pw == NULL) {
		log_error("%s: no such user \"%s\"; create it (useradd --system --home-dir /nonexistent --shell /usr/sbin/nologin %s) or set mail_owner",
			  w, owner, owner);
		c->errors++;
		return;
	}
	if (pw->pw_uid == 0) {
		log_error("%s: \"%s\" is root; set mail_owner to an unprivileged user such as postern", w, owner);
		c->errors++;
		return;
	}
	c->owner_uid = pw->pw_uid;
	c->owner_gid = pw->pw_gid;
	c->owner = owner;
	c->owner_known = true;
}

static void check_dir(struct check *c, const char *param, const char *path, const char *label)
{
	struct stat st;
	char w[512];
	char *block;

	where(c->cfg, param, w, sizeof(w));
	if (path == NULL || *path == '\0')
		return;
	if (stat(path, &st) < 0) {
		log_error("%s: %s %s: %s; create it: mkdir -p -m 0700 %s && chown %s %s", w, label, path,
			  strerror(errno), path, c->owner ? c->owner : "MAIL_OWNER", path);
		c->errors++;
		return;
	}
	if (!S_ISDIR(st.st_mode)) {
		log_error("%s: %s %s is not a directory; remove it or change %s", w, label, path, param);
		c->errors++;
		return;
	}
	if (c->owner_known && st.st_uid != c->owner_uid) {
		struct passwd *pw = getpwuid(st.st_uid);

		log_error("%s: %s %s is owned by %s, not mail_owner %s; fix: chown %s %s", w, label, path,
			  pw ? pw->pw_name : "an unknown user", c->owner, c->owner, path);
		c->errors++;
	}
	if (st.st_mode & (S_IWGRP | S_IWOTH)) {
		log_error("%s: %s %s is writable by %s (mode %04o); fix: chmod go-w %s", w, label, path,
			  (st.st_mode & S_IWOTH) ? "everyone" : "its group",
			  (unsigned)(st.st_mode & 07777), path);
		c->errors++;
	}
	if (c->owner_known && geteuid() == 0 &&
	    (block = instance_unreachable(path, c->owner_uid, c->owner_gid)) != NULL) {
		log_error("%s: mail_owner %s cannot enter %s on the way to %s; fix: chmod o+x %s", w,
			  c->owner, block, path, block);
		c->errors++;
		free(block);
	}
}

/* The fixed part of a Dovecot-style mail_location: "maildir:/a/b/%d/%n"
 * -> "/a/b". NULL when there is none (e.g. "mbox:~/mail"). */
static char *mail_location_base(const char *loc)
{
	const char *colon = strchr(loc, ':');
	const char *path = colon ? colon + 1 : loc;
	const char *pct = strchr(path, '%');
	char *base;
	char *slash;

	if (*path != '/')
		return NULL;
	base = must_strndup(path, pct ? (size_t)(pct - path) : strlen(path));
	/* Options after the path (":INDEX=...") are not part of it. */
	if ((slash = strchr(base, ':')) != NULL)
		*slash = '\0';
	if (pct && (slash = strrchr(base, '/')) != NULL && slash != base)
		*slash = '\0';
	return base;
}

static void check_dirs(struct check *c)
{
	const char *queue = config_str(c->cfg, "queue_directory");
	char *mail;

	check_dir(c, "queue_directory", queue, "queue_directory");
	for (size_t i = 0; instance_queue_dirs[i]; i++) {
		char *sub = must_asprintf("%s/%s", queue, instance_queue_dirs[i]);
		char label[64];

		snprintf(label, sizeof(label), "queue subdirectory");
		check_dir(c, "queue_directory", sub, label);
		free(sub);
	}
	check_dir(c, "data_directory", config_str(c->cfg, "data_directory"), "data_directory");
	check_dir(c, "run_directory", config_str(c->cfg, "run_directory"), "run_directory");
	mail = mail_location_base(config_str(c->cfg, "mail_location"));
	if (mail) {
		check_dir(c, "mail_location", mail, "mail store");
		free(mail);
	}
}

static void check_maps_of(struct check *c, const struct config *view, const char *prefix)
{
	for (size_t i = 0; i < param_count(); i++) {
		const struct param_def *d = param_at(i);
		const char *const *items;
		char w[512];

		if (d->type != PARAM_MAPS)
			continue;
		items = config_list(view, d->name, NULL);
		for (size_t k = 0; items && items[k]; k++) {
			const char *err = NULL;
			struct map *m = map_open(items[k], 0, &err);

			if (m) {
				map_close(&m);
				continue;
			}
			where(view, d->name, w, sizeof(w));
			log_error("%s%s: cannot open table %s: %s", prefix, w, items[k],
				  err ? err : "unknown error");
			c->errors++;
		}
	}
}

static void check_maps(struct check *c)
{
	check_maps_of(c, c->cfg, "");
	for (size_t i = 0; i < config_listener_count(c->cfg); i++) {
		const struct config_listener *l = config_listener_at(c->cfg, i);
		const char *const *ov = config_overrides(c->cfg, l->name);
		bool has_maps = false;

		/* Only overridden tables differ from the global check. */
		for (size_t k = 0; ov && ov[k]; k++) {
			const struct param_def *d = param_lookup(ov[k]);
			if (d && d->type == PARAM_MAPS)
				has_maps = true;
		}
		if (has_maps) {
			char prefix[128];

			snprintf(prefix, sizeof(prefix), "listener %s: ", l->name);
			check_maps_of(c, l->view, prefix);
		}
	}
}

static void check_cert_expiry(struct check *c, const char *cert_path)
{
	FILE *f = fopen(cert_path, "r");
	X509 *x;
	int days = 0, secs = 0;
	char w[512];

	if (f == NULL)
		return;
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (x == NULL)
		return;
	where(c->cfg, "tls_cert_file", w, sizeof(w));
	if (ASN1_TIME_diff(&days, &secs, NULL, X509_get0_notAfter(x)) == 1) {
		if (days < 0 || (days == 0 && secs <= 0)) {
			log_error("%s: certificate %s has expired; renew it and run postern reload", w, cert_path);
			c->errors++;
		} else if (days < CHECK_CERT_MIN_DAYS) {
			log_warn("%s: certificate %s expires in %d day(s); renew it and run postern reload",
				 w, cert_path, days);
		}
	}
	X509_free(x);
}

static void check_tls(struct check *c)
{
	const char *cert = config_str(c->cfg, "tls_cert_file");
	const char *key = config_str(c->cfg, "tls_key_file");
	const char *needs = NULL;
	char *err = NULL;
	SSL_CTX *ctx;
	char w[512];

	for (size_t i = 0; i < config_listener_count(c->cfg); i++)
		if (config_listener_at(c->cfg, i)->tls != TLS_MODE_NONE)
			needs = config_listener_at(c->cfg, i)->name;
	if (cert == NULL || *cert == '\0') {
		if (needs) {
			log_error("%s: is empty but listener %s uses TLS; set tls_cert_file and tls_key_file (postern init makes a self-signed pair)",
				  where(c->cfg, "tls_cert_file", w, sizeof(w)), needs);
			c->errors++;
		}
		return;
	}
	ctx = tls_server_ctx_new(cert, key && *key ? key : cert, config_str(c->cfg, "tls_chain_file"),
				 config_str(c->cfg, "tls_min_protocol"),
				 config_str(c->cfg, "tls_cipher_list"), &err);
	if (ctx == NULL) {
		log_error("%s: %s", where(c->cfg, "tls_cert_file", w, sizeof(w)),
			  err ? err : "cannot load the certificate and key");
		free(err);
		c->errors++;
		return;
	}
	SSL_CTX_free(ctx);
	check_cert_expiry(c, cert);
}

static bool in_my_groups(gid_t gid)
{
	gid_t groups[256];
	int n = getgroups(256, groups);

	if (getegid() == gid)
		return true;
	for (int i = 0; i < n; i++)
		if (groups[i] == gid)
			return true;
	return false;
}

/* Who connects through a socket's group: the user of the same name when
 * there is one (postfix:postfix, whose smtpd may own the directory, as
 * /var/spool/postfix/private), else any member that owns nothing. */
static uid_t group_user(const struct group *gr)
{
	struct passwd *pw = getpwnam(gr->gr_name);

	return pw && pw->pw_gid == gr->gr_gid && pw->pw_uid != 0 ? pw->pw_uid : (uid_t)-2;
}

/* The directory a socket lives in: sane for the master to create the
 * socket in and for clients to reach it. */
static void check_socket_dir(struct check *c, const struct role_unix_socket *s, const char *w,
			     const struct group *gr)
{
	char *dir = must_strdup(s->path);
	char *slash = strrchr(dir, '/');
	struct stat st;
	char *block;

	if (slash == NULL || slash == dir) {
		free(dir);
		return;
	}
	*slash = '\0';
	if (stat(dir, &st) < 0) {
		char *parent = must_strdup(dir);
		char *ps = strrchr(parent, '/');

		if (ps && ps != parent)
			*ps = '\0';
		else
			str_copy(parent, "/", 2);
		/* posternd creates one missing level (0755); more is a typo. */
		if (stat(parent, &st) < 0 || !S_ISDIR(st.st_mode)) {
			log_error("%s: directory %s does not exist and neither does %s; create it (mkdir -p -m 0755 %s) or fix the path",
				  w, dir, parent, dir);
			c->errors++;
		}
		free(parent);
		free(dir);
		return;
	}
	if (!S_ISDIR(st.st_mode)) {
		log_error("%s: %s is not a directory; fix the path", w, dir);
		c->errors++;
	} else if ((st.st_mode & S_IWOTH) && !(st.st_mode & S_ISVTX)) {
		log_error("%s: directory %s is writable by everyone, so anyone could replace the socket; fix: chmod o-w %s",
			  w, dir, dir);
		c->errors++;
	} else if (gr && (block = instance_unreachable(dir, group_user(gr), gr->gr_gid)) != NULL) {
		log_warn("%s: members of group %s cannot enter %s on the way to %s, so they cannot connect; fix: chmod o+x %s, or put the socket elsewhere",
			 w, gr->gr_name, block, s->path, block);
		free(block);
	}
	free(dir);
}

static void check_unix_sockets(struct check *c)
{
	for (size_t r = 0; r < role_count(); r++) {
		const struct role_def *def = role_at(r);
		struct role_unix_socket specs[ROLE_MAX_UNIX_SOCKETS];
		char *err = NULL;
		int n;

		if (def->unix_sockets == NULL)
			continue;
		memset(specs, 0, sizeof(specs));
		n = def->unix_sockets(c->cfg, specs, ROLE_MAX_UNIX_SOCKETS, &err);
		if (n < 0) {
			log_error("%s", err);
			free(err);
			c->errors++;
			continue;
		}
		for (int i = 0; i < n; i++) {
			const struct role_unix_socket *s = &specs[i];
			const struct group *gr = NULL;
			char w[512], wg[512];
			struct stat st;

			where(c->cfg, s->path_param, w, sizeof(w));
			if (s->path == NULL || s->path[0] != '/') {
				log_error("%s: \"%s\" is not an absolute path; give the full path of the socket",
					  w, s->path ? s->path : "");
				c->errors++;
				continue;
			}
			if (strlen(s->path) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
				log_error("%s: %s is longer than %zu bytes, the limit for a unix socket; choose a shorter path",
					  w, s->path, sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
				c->errors++;
				continue;
			}
			if (lstat(s->path, &st) == 0 && !S_ISSOCK(st.st_mode)) {
				log_error("%s: %s exists and is not a socket; remove it or choose another path",
					  w, s->path);
				c->errors++;
			}
			if (s->group && *s->group) {
				where(c->cfg, s->group_param ? s->group_param : s->path_param, wg, sizeof(wg));
				gr = getgrnam(s->group);
				if (gr == NULL) {
					log_error("%s: no group \"%s\"; create it or fix the name", wg, s->group);
					c->errors++;
				} else if (geteuid() != 0 && !in_my_groups(gr->gr_gid)) {
					log_error("%s: without root posternd cannot give %s the group \"%s\", which %s is not in; start posternd as root, add the user to the group, or leave %s empty",
						  wg, s->path, s->group, c->owner ? c->owner : "this user",
						  s->group_param ? s->group_param : s->path_param);
					c->errors++;
				}
			}
			check_socket_dir(c, s, w, gr);
		}
	}
}

int cmd_check(int argc, char **argv, const char *conf)
{
	struct check c;
	struct config *cfg;
	char *err = NULL;

	if (argc != 1)
		return cli_usage_error(argv[0]);
	cfg = cli_load_config(conf);
	if (cfg == NULL)
		return 1;
	memset(&c, 0, sizeof(c));
	c.cfg = cfg;
	if (master_check_config(cfg, &err) < 0) {
		log_error("%s", err);
		free(err);
		c.errors++;
	}
	check_owner(&c);
	check_maps(&c);
	check_tls(&c);
	check_dirs(&c);
	check_unix_sockets(&c);
	config_free(&cfg);
	return c.errors ? 1 : 0;
}
