/*
 * cmd-status.c - STATUS mailbox (items) (RFC 3501 6.3.10), with
 * HIGHESTMODSEQ (RFC 7162 3.1.7) and SIZE (RFC 8438) besides MESSAGES,
 * RECENT, UIDNEXT, UIDVALIDITY and UNSEEN.
 *
 * Called through the command table (imap-commands.c) in the
 * authenticated and selected states.
 *
 * The numbers come from store_mailbox_status_get(), which opens the
 * mailbox read-only on its own: it neither takes \Recent (RFC 3501
 * 2.3.2: only a SELECT does) nor touches the session's view of the
 * selected mailbox, whose sequence numbers change only through
 * imap-sync.c. Items come back in the order asked.
 */
#include <stdlib.h>
#include <string.h>

#include "imap/imap-private.h"
#include "store/store.h"

enum status_item { ST_MESSAGES, ST_RECENT, ST_UIDNEXT, ST_UIDVALIDITY, ST_UNSEEN,
		   ST_HIGHESTMODSEQ, ST_SIZE };

static const char *const item_names[] = {
	[ST_MESSAGES] = "MESSAGES", [ST_RECENT] = "RECENT", [ST_UIDNEXT] = "UIDNEXT",
	[ST_UIDVALIDITY] = "UIDVALIDITY", [ST_UNSEEN] = "UNSEEN",
	[ST_HIGHESTMODSEQ] = "HIGHESTMODSEQ", [ST_SIZE] = "SIZE",
};
#define N_ITEMS (sizeof(item_names) / sizeof(item_names[0]))

enum imap_cmd_result imap_cmd_status(struct imap_cmd *cmd)
{
	struct imap_session *s = cmd->sess;
	const struct imap_arg *items;
	enum status_item want[32];
	size_t nwant = 0;
	const char *text, *error = NULL;
	struct store_status st;
	struct store_error err;
	struct strbuf line;
	char *name, *client;

	if (cmd->nargs != 2 || cmd->args[1].type != IMAP_ARG_LIST ||
	    (text = imap_arg_astring(&cmd->args[0])) == NULL)
		return imap_cmd_bad(cmd, NULL, "Usage: STATUS mailbox (items)");
	items = &cmd->args[1];
	if (items->list_count == 0 || items->list_count > sizeof(want) / sizeof(want[0]))
		return imap_cmd_bad(cmd, NULL, "STATUS needs 1 to 32 items");
	for (size_t i = 0; i < items->list_count; i++) {
		size_t k;

		for (k = 0; k < N_ITEMS; k++)
			if (imap_arg_is_atom(&items->list[i], item_names[k]))
				break;
		if (k == N_ITEMS)
			return imap_cmd_bad(cmd, NULL,
					    "Unknown STATUS item; use MESSAGES RECENT UIDNEXT "
					    "UIDVALIDITY UNSEEN HIGHESTMODSEQ or SIZE");
		want[nwant++] = (enum status_item)k;
	}
	if ((name = imap_mailbox_from_client(s, text, &error)) == NULL)
		return imap_cmd_no(cmd, "CANNOT", "%s", error);
	if (store_mailbox_status_get(s->store, name, &st, &err) < 0) {
		free(name);
		return imap_cmd_store_error(cmd, &err);
	}
	client = imap_mailbox_to_client(s, name);
	free(name);
	strbuf_init(&line, 0);
	if (client == NULL || strbuf_puts(&line, "STATUS ") < 0 || imap_list_quote(&line, client) < 0 ||
	    strbuf_puts(&line, " (") < 0) {
		free(client);
		strbuf_free(&line);
		return imap_cmd_no(cmd, "SERVERBUG", "Out of memory");
	}
	free(client);
	for (size_t i = 0; i < nwant; i++) {
		unsigned long long v = 0;

		switch (want[i]) {
		case ST_MESSAGES: v = st.messages; break;
		case ST_RECENT: v = st.recent; break;
		case ST_UIDNEXT: v = st.uidnext; break;
		case ST_UIDVALIDITY: v = st.uidvalidity; break;
		case ST_UNSEEN: v = st.unseen; break;
		case ST_HIGHESTMODSEQ: v = st.highestmodseq; break;
		case ST_SIZE: v = st.size; break;
		}
		if (strbuf_printf(&line, "%s%s %llu", i ? " " : "", item_names[want[i]], v) < 0) {
			strbuf_free(&line);
			return imap_cmd_no(cmd, "SERVERBUG", "Out of memory");
		}
	}
	if (strbuf_putc(&line, ')') < 0) {
		strbuf_free(&line);
		return imap_cmd_no(cmd, "SERVERBUG", "Out of memory");
	}
	imap_send_untagged(s, "%s", line.data);
	strbuf_free(&line);
	return imap_cmd_ok(cmd, NULL, "Status completed.");
}
