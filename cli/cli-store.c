/*
 * cli-store.c - what the store subcommands (mailbox, index, quota,
 * deliver) share: load the configuration, become mail_owner when run as
 * root (so every file the store creates belongs to the store's owner, as
 * in the daemons), and find a user's mail location: the auth userdb's
 * mail= and quota= for a virtual user, mail_location with %u/%n/%d for
 * anyone else. A user in a virtual domain who is not in the userdb does
 * not exist (EX_NOUSER for deliver).
 *
 * Called by: cli/cmd-mailbox.c, cmd-index.c, cmd-quota.c, cmd-deliver.c.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth/userdb.h"
#include "cli/cli-private.h"
#include "cli/cli-store.h"
#include "log.h"

int cli_store_drop_privileges(const struct config *cfg)
{
	const char *owner = config_str(cfg, "mail_owner");
	struct passwd *pw;

	if (geteuid() != 0)
		return 0;
	pw = getpwnam(owner);
	if (pw == NULL) {
		log_error("mail_owner: no such user \"%s\"; create it or set mail_owner in %s",
			  owner, config_path(cfg));
		return -1;
	}
	if (pw->pw_uid == 0) {
		log_error("mail_owner: \"%s\" is root; set mail_owner to an unprivileged user", owner);
		return -1;
	}
	if (setgroups(0, NULL) < 0 || setgid(pw->pw_gid) < 0 || setuid(pw->pw_uid) < 0) {
		log_error("cannot become mail_owner %s: %s", owner, strerror(errno));
		return -1;
	}
	return 0;
}

enum cli_store_lookup cli_store_lookup(const struct config *cfg, const struct store_settings *set,
				       const char *address, struct cli_store_user *cu)
{
	const char *dir = config_str(cfg, "auth_user_database");
	char ext[256];
	struct userdb *db = NULL;
	struct userdb_user uu;
	const char *at;
	char *err = NULL;
	struct stat st;
	int rc;

	memset(cu, 0, sizeof(*cu));
	store_split_extension(set, address, cu->user, sizeof(cu->user), ext, sizeof(ext));
	str_lower(cu->user);
	if (dir == NULL || dir[0] == '\0' || stat(dir, &st) < 0)
		return CLI_STORE_FOUND; /* no virtual users: mail_location */
	if (userdb_open(dir, 0, &db, &err) < 0) {
		log_error("auth_user_database: %s", err);
		free(err);
		return CLI_STORE_TEMPFAIL;
	}
	memset(&uu, 0, sizeof(uu));
	rc = userdb_user_get(db, cu->user, &uu, &err);
	if (rc > 0) {
		if (uu.mail)
			cu->location = must_strdup(uu.mail);
		cu->quota_bytes = uu.quota_bytes > 0 ? (uint64_t)uu.quota_bytes : 0;
		userdb_user_clear(&uu);
	} else if (rc == 0 && (at = strchr(cu->user, '@')) != NULL) {
		rc = userdb_domain_exists(db, at + 1, &err);
		if (rc > 0) {
			userdb_close(&db);
			return CLI_STORE_NOUSER;
		}
	}
	if (rc < 0) {
		log_error("auth_user_database: %s", err);
		free(err);
		userdb_close(&db);
		return CLI_STORE_TEMPFAIL;
	}
	userdb_close(&db);
	return CLI_STORE_FOUND;
}

void cli_store_user_clear(struct cli_store_user *cu)
{
	x_free(&cu->location);
}

struct store_user *cli_store_open(const struct config *cfg, struct store_settings *set,
				  const char *address, unsigned flags, struct cli_store_user *cu)
{
	struct store_error err;
	struct store_user *u;

	switch (cli_store_lookup(cfg, set, address, cu)) {
	case CLI_STORE_NOUSER:
		log_error("%s: no such user in %s", address, config_str(cfg, "auth_user_database"));
		return NULL;
	case CLI_STORE_TEMPFAIL:
		return NULL;
	case CLI_STORE_FOUND:
		break;
	}
	u = store_user_open(set, cu->user, cu->location, NULL, flags, &err);
	if (u == NULL) {
		log_error("%s: %s", cu->user, err.text);
		return NULL;
	}
	if (cu->quota_bytes)
		store_user_set_quota(u, cu->quota_bytes, 0);
	return u;
}
