/*
 * cmd-mailbox.c - `postern mailbox`, a user's folders (doveadm mailbox):
 *
 *   postern mailbox list USER              one name per line, INBOX first
 *   postern mailbox create USER NAME
 *   postern mailbox delete USER NAME       with its messages and children
 *   postern mailbox rename USER OLD NEW
 *   postern mailbox status USER NAME       messages=N unseen=N ... (synced first)
 *
 * Names use '/' as the hierarchy separator ("Lists/postern"). Run as root,
 * the command becomes mail_owner first. Exit 0 ok, 1 failure, 2 usage.
 * Called from cli/postern.c; the work is store/store.c.
 */
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli-private.h"
#include "cli/cli-store.h"
#include "cli/cli.h"
#include "log.h"

static int print_box(const struct store_mailbox_info *info, void *ctx)
{
	(void)ctx;
	if (info->exists)
		printf("%s\n", info->name);
	return 0;
}

int cmd_mailbox(int argc, char **argv, const char *conf)
{
	struct store_settings set;
	char *serr = NULL;
	struct cli_store_user cu;
	struct store_user *u = NULL;
	struct store_error err = { 0 };
	struct config *cfg;
	const char *op;
	int rc = -1;

	if (argc < 3)
		return cli_usage_error(argv[0]);
	op = argv[1];
	if (!((strcmp(op, "list") == 0 && argc == 3) ||
	      ((strcmp(op, "create") == 0 || strcmp(op, "delete") == 0 ||
		strcmp(op, "status") == 0) && argc == 4) ||
	      (strcmp(op, "rename") == 0 && argc == 5)))
		return cli_usage_error(argv[0]);
	if ((cfg = cli_load_config(conf)) == NULL)
		return 1;
	if (store_settings_from_config(&set, cfg, &serr) < 0) {
		log_error("%s", serr);
		free(serr);
		config_free(&cfg);
		return 1;
	}
	if (cli_store_drop_privileges(cfg) < 0) {
		config_free(&cfg);
		return 1;
	}
	u = cli_store_open(cfg, &set, argv[2],
			   strcmp(op, "list") == 0 ? 0 : STORE_USER_CREATE, &cu);
	if (u != NULL) {
		if (strcmp(op, "list") == 0)
			rc = store_mailbox_list(u, print_box, NULL, &err);
		else if (strcmp(op, "create") == 0)
			rc = store_mailbox_create(u, argv[3], 0, &err);
		else if (strcmp(op, "status") == 0) {
			struct store_status st;

			rc = store_mailbox_status_get(u, argv[3], &st, &err);
			if (rc == 0)
				printf("messages=%u unseen=%u recent=%u uidvalidity=%u uidnext=%u "
				       "highestmodseq=%llu size=%llu\n", st.messages, st.unseen, st.recent,
				       st.uidvalidity, st.uidnext, (unsigned long long)st.highestmodseq,
				       (unsigned long long)st.size);
		} else if (strcmp(op, "delete") == 0)
			rc = store_mailbox_delete(u, argv[3], &err);
		else
			rc = store_mailbox_rename(u, argv[3], argv[4], &err);
		if (rc < 0)
			log_error("%s: mailbox %s %s: %s", cu.user, op, argc > 3 ? argv[3] : "", err.text);
	}
	store_user_close(&u);
	cli_store_user_clear(&cu);
	config_free(&cfg);
	if (fflush(stdout) != 0)
		return 1;
	return rc < 0 ? 1 : 0;
}
