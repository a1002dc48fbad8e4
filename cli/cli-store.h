/*
 * cli-store.h - helpers of the store subcommands (cli/cli-store.c).
 */
#ifndef POSTERN_CLI_STORE_H
#define POSTERN_CLI_STORE_H

#include <stdint.h>

#include "config.h"
#include "store/store.h"

struct cli_store_user {
	char user[512];      /* the address without +extension, lower-case */
	char *location;      /* userdb mail=, NULL: mail_location */
	uint64_t quota_bytes;/* userdb quota=, 0: the settings */
};

enum cli_store_lookup { CLI_STORE_FOUND, CLI_STORE_NOUSER, CLI_STORE_TEMPFAIL };

/* cli_store_drop_privileges - as root, become mail_owner (groups, gid,
 * uid); otherwise nothing. 0, or -1 (printed). */
int cli_store_drop_privileges(const struct config *cfg);

/* cli_store_lookup - fill cu for address (errors printed). */
enum cli_store_lookup cli_store_lookup(const struct config *cfg, const struct store_settings *set,
				       const char *address, struct cli_store_user *cu);
void cli_store_user_clear(struct cli_store_user *cu);

/* cli_store_open - lookup + store_user_open; NULL on error (printed).
 * cu must be cleared by the caller either way. */
struct store_user *cli_store_open(const struct config *cfg, struct store_settings *set,
				  const char *address, unsigned flags, struct cli_store_user *cu);

#endif
