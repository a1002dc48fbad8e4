/*
 * cmd-init.c - `postern init DIR`: create a self-contained instance.
 *
 *   postern init DIR [--hostname H] [--domain D] [--port-base N] [--listen ADDR]
 *
 * Writes DIR/postern.conf (commented, every choice spelled out), a
 * self-signed certificate (tls_generate_self_signed, no openssl command),
 * and the directories queue/{incoming,active,deferred,hold,corrupt},
 * mail/, data/, run/, log/ owned by mail_owner, not writable by others,
 * and the virtual user database data/users with the instance's domain.
 *
 * As root: mail_owner = postern (the system user is created with useradd
 * when missing), standard ports unless --port-base. As anyone else:
 * mail_owner = that user, and without --port-base the first base among
 * 10000, 20000, ..., 60000 whose eight ports are all free on the listen
 * address (ports below 1024 need root). Listeners whose role is not built
 * into this Postern are written commented out, saying so. An existing
 * DIR/postern.conf is never overwritten.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "auth/userdb.h"
#include "cli/cli.h"
#include "cli/instance.h"
#include "listen.h"
#include "log.h"
#include "params.h"
#include "role.h"
#include "tls.h"
#include "util.h"

#define INIT_CERT_DAYS 3650

struct init_opts {
	const char *dir;
	const char *hostname;
	const char *domain;
	const char *listen;
	int port_base;      /* -1: not given */
};

struct init_state {
	char dir[PATH_MAX];
	char *owner;
	uid_t uid;
	gid_t gid;
	bool root;
	int port_base;
	char hostname[256];
	char domain[256];
};

static int parse_args(int argc, char **argv, struct init_opts *o)
{
	o->port_base = -1;
	o->listen = "*";
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(a, "--hostname") == 0 && v) {
			o->hostname = v;
			i++;
		} else if (strcmp(a, "--domain") == 0 && v) {
			o->domain = v;
			i++;
		} else if (strcmp(a, "--listen") == 0 && v) {
			o->listen = v;
			i++;
		} else if (strcmp(a, "--port-base") == 0 && v) {
			char *end;
			long n = strtol(v, &end, 10);

			if (*end || end == v || n < 0 || n > 65535 - 995) {
				log_error("--port-base %s: expected a number from 0 to %d, e.g. 10000 (listeners at 10025, 10587, ...)",
					  v, 65535 - 995);
				return -1;
			}
			o->port_base = (int)n;
			i++;
		} else if (a[0] == '-' || o->dir) {
			return -1;
		} else {
			o->dir = a;
		}
	}
	return o->dir ? 0 : -1;
}

/* Hostnames go into the configuration file unquoted: keep them to the
 * characters a DNS name may have. */
static bool valid_name(const char *s)
{
	if (*s == '\0' || strlen(s) > 253)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '-' || *s == '.'))
			return false;
	return true;
}

static bool valid_address(const char *s)
{
	if (strcmp(s, "*") == 0)
		return true;
	for (; *s; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f') ||
		      (*s >= 'A' && *s <= 'F') || *s == '.' || *s == ':'))
			return false;
	return true;
}

static bool ports_free(const char *addr, int base)
{
	int fds[16];
	size_t n = 0;
	bool ok = true;

	for (size_t i = 0; i < instance_listener_count && ok; i++) {
		char *err = NULL;

		if (listen_bind(addr, base + instance_listeners[i].port, &fds[n], &err) < 0) {
			ok = false;
			free(err);
		} else {
			n++;
		}
	}
	while (n > 0)
		close(fds[--n]);
	return ok;
}

static int ensure_system_user(const char *user)
{
	pid_t pid;
	int status;

	if (getpwnam(user))
		return 0;
	printf("creating system user %s\n", user);
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		execlp("useradd", "useradd", "--system", "--home-dir", "/nonexistent", "--shell",
		       "/usr/sbin/nologin", user, (char *)NULL);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0 ||
	    getpwnam(user) == NULL) {
		log_error("cannot create the system user %s with useradd; create it yourself (useradd --system --home-dir /nonexistent --shell /usr/sbin/nologin %s) and run postern init again",
			  user, user);
		return -1;
	}
	return 0;
}

static int make_dir(const struct init_state *st, const char *rel, mode_t mode)
{
	char *path = must_asprintf("%s/%s", st->dir, rel);
	int rc = 0;

	if (mkdir(path, mode) < 0 && errno != EEXIST) {
		log_error("cannot create %s: %s", path, strerror(errno));
		rc = -1;
	} else if (chmod(path, mode) < 0 || (st->root && chown(path, st->uid, st->gid) < 0)) {
		log_error("cannot set mode/owner of %s: %s", path, strerror(errno));
		rc = -1;
	} else {
		printf("  %-40s %04o %s\n", path, (unsigned)mode, st->owner);
	}
	free(path);
	return rc;
}

/* write_submission_overrides - what makes submission (587) and smtps
 * (465) safe out of the box, as Postfix's documented master.cf entries:
 * TLS before anything else on submission, SASL on, and mail only from
 * authenticated users who own their sender address. The restriction
 * lines are written only when the restrictions' parameters are built in. */
static void write_submission_overrides(FILE *f, const char *name, bool starttls)
{
	fprintf(f, "# Mail clients: authentication required%s.\n",
		starttls ? ", and STARTTLS before it" : " (TLS from the start)");
	if (starttls)
		fprintf(f, "%s/smtpd_tls_security_level = encrypt\n", name);
	fprintf(f, "%s/smtpd_sasl_auth_enable = yes\n", name);
	if (param_lookup("smtpd_client_restrictions"))
		fprintf(f, "%s/smtpd_client_restrictions = permit_sasl_authenticated, reject\n", name);
	if (param_lookup("smtpd_sender_restrictions"))
		fprintf(f, "%s/smtpd_sender_restrictions = reject_sender_login_mismatch\n", name);
	if (param_lookup("smtpd_relay_restrictions"))
		fprintf(f, "%s/smtpd_relay_restrictions = permit_sasl_authenticated, reject\n", name);
}

static void write_listeners(FILE *f, const struct init_state *st, const char *addr)
{
	fprintf(f, "# --- Listeners ---------------------------------------------------------\n"
		"# NAME/listen = PROTOCOL ADDRESS:PORT tls=none|starttls|implicit\n"
		"# One line per listening socket, like a service line in master.cf;\n"
		"# NAME/PARAMETER = VALUE overrides a parameter for one listener (-o).\n");
	if (st->port_base > 0)
		fprintf(f, "# Ports are %d + the standard port (postern init --port-base).\n",
			st->port_base);
	for (size_t i = 0; i < instance_listener_count; i++) {
		const struct instance_listener *l = &instance_listeners[i];
		const struct protocol_def *p = protocol_lookup(l->protocol);
		bool built = p && role_lookup(p->role);
		char where[300];

		instance_listen_text(addr, st->port_base + l->port, where, sizeof(where));
		if (!built)
			fprintf(f, "# (the %s role is not built yet)\n#", p ? p->role : l->protocol);
		fprintf(f, "%s/listen = %s %s tls=%s\n", l->name, l->protocol, where, l->tls);
		if (built && (strcmp(l->name, "submission") == 0 || strcmp(l->name, "smtps") == 0))
			write_submission_overrides(f, l->name, strcmp(l->name, "submission") == 0);
	}
}

static int write_config(const struct init_state *st, const char *addr, const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
	char stamp[64];
	time_t now = time(NULL);
	struct tm tm;
	FILE *f;

	if (fd < 0) {
		if (errno == EEXIST)
			log_error("%s already exists; not overwriting it. Edit it, or choose another directory", path);
		else
			log_error("cannot create %s: %s", path, strerror(errno));
		return -1;
	}
	f = fdopen(fd, "w");
	if (f == NULL) {
		close(fd);
		return -1;
	}
	localtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%d %H:%M", &tm);
	fprintf(f,
		"# postern.conf - the configuration of the Postern instance in %s,\n"
		"# written by \"postern init\" on %s.\n"
		"#\n"
		"# Syntax as Postfix's main.cf: NAME = VALUE; lines starting with # are\n"
		"# comments; a line starting with whitespace continues the previous one;\n"
		"# $name expands to another parameter. The last assignment wins.\n"
		"#   postern -c %s/postern.conf config -n   what is set here\n"
		"#   postern -c %s/postern.conf config -d   every parameter and its default\n"
		"#   postern -c %s/postern.conf check       validate before (re)starting\n"
		"\n"
		"# --- Identity ----------------------------------------------------------\n"
		"# The name in greetings and Received: headers, and the local domain.\n"
		"myhostname = %s\n"
		"mydomain = %s\n"
		"# Domains whose users live in the user database (postern user add):\n"
		"# mail to them is stored here. Add each domain of `postern domain add`.\n"
		"virtual_mailbox_domains = $mydomain\n"
		"\n"
		"# --- Where things live (all inside this instance) -----------------------\n"
		"queue_directory = %s/queue\n"
		"data_directory = %s/data\n"
		"run_directory = %s/run\n"
		"# Each user's mail, Dovecot syntax: %%d = domain, %%n = local part.\n"
		"mail_location = maildir:%s/mail/%%d/%%n\n"
		"# Log lines also go here (and to syslog), like Postfix's maillog_file.\n"
		"maillog_file = %s/log/postern.log\n"
		"\n"
		"# --- Privileges --------------------------------------------------------\n"
		"# The unprivileged user that owns queue and mail and runs every role but\n"
		"# auth. %s\n"
		"mail_owner = %s\n"
		"\n"
		"# --- TLS ---------------------------------------------------------------\n"
		"# A self-signed certificate made by postern init for %s (valid %d\n"
		"# days). Replace both with a real certificate (e.g. Let's Encrypt's\n"
		"# fullchain.pem and privkey.pem) and run postern reload.\n"
		"tls_cert_file = %s/tls/cert.pem\n"
		"tls_key_file = %s/tls/key.pem\n"
		"\n"
		"# --- Authentication: one password for SMTP, IMAP, POP3 and web ---------\n"
		"# virtual = the user database below (postern domain add / user add);\n"
		"# add pam (auth_backends = virtual pam) to let system accounts log in\n"
		"# too; the auth role then stays root to read /etc/shadow.\n"
		"auth_backends = virtual\n"
		"auth_user_database = $data_directory/users\n"
		"# An existing Postfix can use this socket (smtpd_sasl_type = dovecot):\n"
		"# set auth_socket_group = postfix and a path user postfix can reach\n"
		"# (%s/run is 0750), e.g. auth_socket_path =\n"
		"# /var/spool/postfix/private/postern-auth with smtpd_sasl_path =\n"
		"# private/postern-auth; see README.md, Using Postern's auth from Postfix.\n"
		"auth_socket_path = $run_directory/auth\n"
		"# PLAIN/LOGIN only over TLS or from loopback (smtpd_tls_auth_only).\n"
		"disable_plaintext_auth = yes\n"
		"# Failed logins: answered after this delay; after auth_penalty_limit\n"
		"# failures from one address, refused for auth_penalty_time.\n"
		"auth_failure_delay = 2s\n"
		"auth_penalty_limit = 10\n"
		"auth_penalty_time = 15m\n"
		"# Logins answered from memory for auth_cache_ttl after a success with\n"
		"# the same password (keyed tags, never the password itself), so that\n"
		"# mail clients polling every few minutes do not each pay the argon2id\n"
		"# hash; a changed password or a disabled user takes effect at once.\n"
		"auth_cache_size = 10M\n"
		"\n",
		st->dir, stamp, st->dir, st->dir, st->dir, st->hostname, st->domain, st->dir,
		st->dir, st->dir, st->dir, st->dir,
		st->root ? "Created as a system user by postern init if it was missing."
			 : "posternd runs without root here, so this is you.",
		st->owner, st->hostname, INIT_CERT_DAYS, st->dir, st->dir, st->dir);
	write_listeners(f, st, addr);
	if (fclose(f) != 0) {
		log_error("cannot write %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

/* The virtual user database with mydomain as its first domain, so that
 * "postern user add someone@DOMAIN" works right away. */
static int make_userdb(const struct init_state *st)
{
	char *dir = must_asprintf("%s/data/users", st->dir);
	struct userdb *db = NULL;
	char *err = NULL;
	int rc = -1;

	if (userdb_open(dir, USERDB_CREATE, &db, &err) < 0 ||
	    userdb_domain_add(db, st->domain, &err) < 0) {
		log_error("%s", err);
		goto out;
	}
	userdb_close(&db);
	if (st->root && userdb_chown(dir, st->uid, st->gid, &err) < 0) {
		log_error("%s", err);
		goto out;
	}
	printf("  %-40s user database (domain %s)\n", dir, st->domain);
	rc = 0;
out:
	userdb_close(&db);
	free(err);
	free(dir);
	return rc;
}

static int make_tls(const struct init_state *st)
{
	char *cert = must_asprintf("%s/tls/cert.pem", st->dir);
	char *key = must_asprintf("%s/tls/key.pem", st->dir);
	char *err = NULL;
	int rc = 0;

	if (tls_generate_self_signed(cert, key, st->hostname, INIT_CERT_DAYS, &err) < 0) {
		log_error("cannot create the self-signed certificate: %s", err ? err : "unknown error");
		rc = -1;
	} else if (chmod(key, 0600) < 0 || chmod(cert, 0644) < 0 ||
		   (st->root && (chown(key, st->uid, st->gid) < 0 || chown(cert, st->uid, st->gid) < 0))) {
		log_error("cannot set mode/owner of %s: %s", key, strerror(errno));
		rc = -1;
	} else {
		printf("  %-40s self-signed for %s, %d days\n", cert, st->hostname, INIT_CERT_DAYS);
		printf("  %-40s 0600 %s\n", key, st->owner);
	}
	free(err);
	free(cert);
	free(key);
	return rc;
}

static int choose_identity(struct init_state *st)
{
	struct passwd *pw;

	st->root = geteuid() == 0;
	if (st->root) {
		if (ensure_system_user("postern") < 0)
			return -1;
		pw = getpwnam("postern");
	} else {
		pw = getpwuid(geteuid());
	}
	if (pw == NULL) {
		log_error("cannot look up the user id %ld in the password database", (long)geteuid());
		return -1;
	}
	st->owner = must_strdup(pw->pw_name);
	st->uid = pw->pw_uid;
	st->gid = pw->pw_gid;
	return 0;
}

static int choose_ports(struct init_state *st, const struct init_opts *o)
{
	if (o->port_base >= 0) {
		st->port_base = o->port_base;
		return 0;
	}
	if (st->root) {
		st->port_base = 0;
		return 0;
	}
	for (int base = 10000; base <= 60000; base += 10000) {
		if (ports_free(o->listen, base)) {
			st->port_base = base;
			return 0;
		}
	}
	log_error("no free port base among 10000, 20000, ..., 60000 on %s; pass --port-base N",
		  o->listen);
	return -1;
}

int cmd_init(int argc, char **argv, const char *conf)
{
	struct init_opts o = { 0 };
	struct init_state st;
	char *conf_path = NULL, *block = NULL;
	const char *hostname;
	int rc = 1;

	(void)conf;
	memset(&st, 0, sizeof(st));
	if (parse_args(argc, argv, &o) < 0)
		return cli_usage_error(argv[0]);
	hostname = o.hostname ? o.hostname : param_default_text(param_lookup("myhostname"), NULL, NULL);
	if (!valid_name(hostname) || (o.domain && !valid_name(o.domain))) {
		log_error("invalid host or domain name; use letters, digits, '-' and '.' (e.g. --hostname mail.example.com)");
		return 1;
	}
	if (!valid_address(o.listen)) {
		log_error("--listen %s: expected * or an IPv4/IPv6 address such as 127.0.0.1 or ::1", o.listen);
		return 1;
	}
	str_copy(st.hostname, hostname, sizeof(st.hostname));
	str_lower(st.hostname);
	if (o.domain) {
		str_copy(st.domain, o.domain, sizeof(st.domain));
	} else {
		const char *dot = strchr(st.hostname, '.');
		str_copy(st.domain, dot && dot[1] ? dot + 1 : "localdomain", sizeof(st.domain));
	}
	str_lower(st.domain);
	if (mkdir(o.dir, 0755) < 0 && errno != EEXIST) {
		log_error("cannot create %s: %s", o.dir, strerror(errno));
		return 1;
	}
	if (realpath(o.dir, st.dir) == NULL) {
		log_error("cannot resolve %s: %s", o.dir, strerror(errno));
		return 1;
	}
	conf_path = must_asprintf("%s/postern.conf", st.dir);
	if (access(conf_path, F_OK) == 0) {
		log_error("%s already exists; not overwriting it. Edit it, or choose another directory",
			  conf_path);
		goto out;
	}
	if (choose_identity(&st) < 0 || choose_ports(&st, &o) < 0)
		goto out;
	printf("creating a Postern instance in %s (mail_owner %s)\n", st.dir, st.owner);
	if (make_dir(&st, "queue", 0700) < 0)
		goto out;
	for (size_t i = 0; instance_queue_dirs[i]; i++) {
		char *rel = must_asprintf("queue/%s", instance_queue_dirs[i]);
		int r = make_dir(&st, rel, 0700);

		free(rel);
		if (r < 0)
			goto out;
	}
	/* data/tmp: where the IMAP role spools big APPEND literals */
	if (make_dir(&st, "mail", 0700) < 0 || make_dir(&st, "data", 0700) < 0 ||
	    make_dir(&st, "data/tmp", 0700) < 0 ||
	    make_dir(&st, "run", 0750) < 0 || make_dir(&st, "log", 0750) < 0 ||
	    make_dir(&st, "tls", 0750) < 0 || make_tls(&st) < 0)
		goto out;
	if (write_config(&st, o.listen, conf_path) < 0 || make_userdb(&st) < 0)
		goto out;
	printf("  %-40s configuration\n", conf_path);
	if (st.root && (block = instance_unreachable(st.dir, st.uid, st.gid)) != NULL)
		log_warn("mail_owner %s cannot enter %s, so roles will not reach the instance; fix: chmod o+x %s, or init somewhere else",
			 st.owner, block, block);
	printf("\nlisteners:%s\n", st.port_base ? "" : " standard ports");
	for (size_t i = 0; i < instance_listener_count; i++) {
		const struct instance_listener *l = &instance_listeners[i];
		const struct protocol_def *p = protocol_lookup(l->protocol);
		char where[300];

		printf("  %-11s %-5s %-24s %s\n", l->name, l->protocol,
		       instance_listen_text(o.listen, st.port_base + l->port, where, sizeof(where)),
		       p && role_lookup(p->role) ? "" : "(commented out: role not built yet)");
	}
	printf("\nnext: posternd -c %s -f      (foreground, Ctrl-C stops)\n"
	       "  or: postern -c %s start\n", conf_path, conf_path);
	rc = 0;
out:
	free(block);
	free(conf_path);
	free(st.owner);
	return rc;
}
