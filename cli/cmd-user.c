/*
 * cmd-user.c - `postern user`: virtual users in the LMDB user database
 * (auth/userdb.h), written directly; the running auth role sees a change
 * at its next lookup, no reload needed.
 *
 *   postern user add ADDRESS [--password-stdin | --password-hash HASH]
 *                            [--quota SIZE] [--mail LOCATION] [--alias ADDRESS]...
 *   postern user passwd ADDRESS [--password-stdin | --password-hash HASH]
 *   postern user del|show|enable|disable ADDRESS
 *   postern user list [DOMAIN]
 *
 * Passwords are read from /dev/tty without echo (asked twice) or from the
 * first line of stdin, and stored as argon2id plus SCRAM-SHA-256 keys.
 * --password-hash imports a Dovecot-style {SCHEME}hash unchanged; it is
 * upgraded to argon2id at the user's next login.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/password.h"
#include "auth/scram.h"
#include "auth/userdb.h"
#include "cli/cli-private.h"
#include "cli/cli.h"
#include "log.h"

struct user_opts {
	const char *address;
	bool password_stdin;
	const char *password_hash;
	const char *quota;
	const char *mail;
	char *aliases[USERDB_ALIASES_MAX];
	size_t n_aliases;
};

static int parse_opts(int argc, char **argv, struct user_opts *o, bool allow_extra)
{
	memset(o, 0, sizeof(*o));
	for (int i = 2; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--password-stdin") == 0) {
			o->password_stdin = true;
		} else if (strcmp(a, "--password-hash") == 0 && i + 1 < argc) {
			o->password_hash = argv[++i];
		} else if (allow_extra && strcmp(a, "--quota") == 0 && i + 1 < argc) {
			o->quota = argv[++i];
		} else if (allow_extra && strcmp(a, "--mail") == 0 && i + 1 < argc) {
			o->mail = argv[++i];
		} else if (allow_extra && strcmp(a, "--alias") == 0 && i + 1 < argc) {
			if (o->n_aliases >= USERDB_ALIASES_MAX) {
				log_error("more than %d aliases", USERDB_ALIASES_MAX);
				return -1;
			}
			o->aliases[o->n_aliases++] = str_lower(must_strdup(argv[++i]));
		} else if (a[0] != '-' && o->address == NULL) {
			o->address = a;
		} else {
			return -1;
		}
	}
	return o->address ? 0 : -1;
}

static void free_opts(struct user_opts *o)
{
	for (size_t i = 0; i < o->n_aliases; i++)
		free(o->aliases[i]);
}

/* Fill password and scram of u from the options; 0 or -1 (printed). */
static int set_password(struct userdb_user *u, const struct user_opts *o)
{
	const char *err;

	if (o->password_hash) {
		if (password_check_import(o->password_hash, &err) < 0) {
			log_error("--password-hash: %s", err);
			return -1;
		}
		u->password = must_strdup(o->password_hash);
		u->scram = NULL;   /* SCRAM works again after the first login upgrades it */
		return 0;
	}
	char *pw = cli_read_password("New password: ", true, o->password_stdin);
	if (pw == NULL)
		return -1;
	u->password = password_hash(pw, &err);
	u->scram = u->password ? scram_credentials_new(pw, &err) : NULL;
	sodium_memzero(pw, strlen(pw));
	free(pw);
	if (u->password == NULL || u->scram == NULL) {
		log_error("cannot hash the password: %s", err);
		return -1;
	}
	return 0;
}

static int user_add(const struct config *cfg, struct userdb *db, struct user_opts *o)
{
	struct userdb_user u = { .enabled = true };
	char *err = NULL;
	int rc = 1;

	u.address = str_lower(must_strdup(o->address));
	if (!userdb_address_valid(u.address)) {
		log_error("\"%s\" is not a valid address; use user@domain", o->address);
		goto out;
	}
	if (userdb_domain_exists(db, strrchr(u.address, '@') + 1, &err) == 0) {
		const char *d = strrchr(u.address, '@') + 1;
		log_error("domain %s does not exist; add it first with \"postern domain add %s\"", d, d);
		goto out;
	}
	if (o->quota) {
		const char *perr;
		if (config_parse_size(o->quota, &u.quota_bytes, &perr) < 0) {
			log_error("--quota %s: %s; write e.g. 500M or 2G", o->quota, perr);
			goto out;
		}
	}
	if (o->mail)
		u.mail = must_strdup(o->mail);
	u.aliases = o->aliases;
	u.n_aliases = o->n_aliases;
	if (set_password(&u, o) < 0)
		goto out;
	if (userdb_user_put(db, &u, USERDB_PUT_NEW, &err) < 0) {
		log_error("%s", err);
		goto out;
	}
	printf("user %s added\n", u.address);
	rc = 0;
out:
	u.aliases = NULL;   /* owned by o */
	u.n_aliases = 0;
	userdb_user_clear(&u);
	free(err);
	(void)cfg;
	return rc;
}

static int user_modify(struct userdb *db, const char *cmd, struct user_opts *o)
{
	struct userdb_user u;
	char *err = NULL, *addr = str_lower(must_strdup(o->address));
	int rc = 1, r = userdb_user_get(db, addr, &u, &err);

	if (r <= 0) {
		if (r == 0)
			log_error("user %s does not exist; see \"postern user list\"", addr);
		else
			log_error("%s", err);
		free(err);
		free(addr);
		return 1;
	}
	if (strcmp(cmd, "passwd") == 0) {
		if (u.password)
			sodium_memzero(u.password, strlen(u.password));
		x_free(&u.password);
		x_free(&u.scram);
		if (set_password(&u, o) < 0)
			goto out;
	} else {
		u.enabled = strcmp(cmd, "enable") == 0;
	}
	if (userdb_user_put(db, &u, USERDB_PUT_REPLACE, &err) < 0) {
		log_error("%s", err);
		goto out;
	}
	printf("user %s: %s\n", addr, strcmp(cmd, "passwd") == 0 ? "password changed" :
	       u.enabled ? "enabled" : "disabled");
	rc = 0;
out:
	userdb_user_clear(&u);
	free(err);
	free(addr);
	return rc;
}

static const char *scheme_of(const char *pw)
{
	static char buf[32];
	const char *end = pw ? strchr(pw, '}') : NULL;

	if (pw == NULL)
		return "none";
	if (end == NULL || end - pw >= (long)sizeof(buf))
		return "unknown";
	snprintf(buf, sizeof(buf), "%.*s", (int)(end - pw - 1), pw + 1);
	return buf;
}

static int print_user(const struct userdb_user *u, void *ctx)
{
	bool verbose = *(bool *)ctx;

	if (!verbose) {
		printf("%s%s\n", u->address, u->enabled ? "" : " (disabled)");
		return 0;
	}
	printf("address: %s\nenabled: %s\npassword scheme: %s%s\nscram-sha-256: %s\n",
	       u->address, u->enabled ? "yes" : "no", scheme_of(u->password),
	       u->password && password_needs_upgrade(u->password) ? " (upgraded at next login)" : "",
	       u->scram ? "yes" : "no");
	if (u->quota_bytes > 0)
		printf("quota: %lld bytes\n", u->quota_bytes);
	else
		printf("quota: none\n");
	printf("mail: %s\n", u->mail ? u->mail : "(mail_location)");
	for (size_t i = 0; i < u->n_aliases; i++)
		printf("alias: %s\n", u->aliases[i]);
	return 0;
}

int cmd_user(int argc, char **argv, const char *conf)
{
	struct user_opts o;
	struct config *cfg;
	struct userdb *db = NULL;
	char *err = NULL;
	const char *cmd = argc >= 2 ? argv[1] : "";
	int rc = 1;

	if (strcmp(cmd, "list") == 0) {
		if (argc > 3)
			return cli_usage_error(argv[0]);
		o.address = argc == 3 ? argv[2] : NULL;
	} else if (strcmp(cmd, "add") == 0) {
		if (parse_opts(argc, argv, &o, true) < 0) {
			free_opts(&o);
			return cli_usage_error(argv[0]);
		}
	} else if (strcmp(cmd, "passwd") == 0 || strcmp(cmd, "del") == 0 || strcmp(cmd, "show") == 0 ||
		   strcmp(cmd, "enable") == 0 || strcmp(cmd, "disable") == 0) {
		if (parse_opts(argc, argv, &o, false) < 0 ||
		    (strcmp(cmd, "passwd") != 0 && (o.password_stdin || o.password_hash)))
			return cli_usage_error(argv[0]);
	} else {
		return cli_usage_error(argv[0]);
	}
	if (password_init((const char **)&err) < 0)
		return 1;
	cfg = cli_load_config(conf);
	if (cfg == NULL)
		goto out_opts;
	if (cli_userdb_open(cfg, &db) < 0)
		goto out;
	if (strcmp(cmd, "add") == 0) {
		rc = user_add(cfg, db, &o);
	} else if (strcmp(cmd, "del") == 0) {
		char *addr = str_lower(must_strdup(o.address));
		int r = userdb_user_del(db, addr, &err);
		if (r < 0)
			log_error("%s", err);
		else if (r == 0)
			log_error("user %s does not exist; see \"postern user list\"", addr);
		else
			printf("user %s deleted (its mail is left in place)\n", addr);
		rc = r == 1 ? 0 : 1;
		free(addr);
	} else if (strcmp(cmd, "list") == 0 || strcmp(cmd, "show") == 0) {
		bool verbose = cmd[0] == 's';
		if (verbose) {
			struct userdb_user u;
			char *addr = str_lower(must_strdup(o.address));
			int r = userdb_user_get(db, addr, &u, &err);
			if (r > 0) {
				print_user(&u, &verbose);
				userdb_user_clear(&u);
			} else if (r == 0) {
				log_error("user %s does not exist; see \"postern user list\"", addr);
			} else {
				log_error("%s", err);
			}
			rc = r > 0 ? 0 : 1;
			free(addr);
		} else {
			rc = userdb_user_list(db, o.address, print_user, &verbose, &err) < 0 ? 1 : 0;
			if (rc)
				log_error("%s", err);
		}
	} else {
		rc = user_modify(db, cmd, &o);
	}
	if (cli_userdb_close(cfg, &db) < 0)
		rc = 1;
out:
	userdb_close(&db);
	config_free(&cfg);
	free(err);
out_opts:
	if (strcmp(cmd, "add") == 0)
		free_opts(&o);
	return rc;
}
