/*
 * cmd-append.c - APPEND mailbox [(flags)] ["date-time"] literal
 * (RFC 3501 6.3.11), with APPENDUID (RFC 4315 3) in the tagged OK and
 * the RFC 5530 codes TRYCREATE (no such mailbox), OVERQUOTA and TOOBIG.
 *
 * Called through the command table (imap-commands.c, flag
 * IMAP_CMD_FLAG_APPEND) in the authenticated and selected states.
 *
 * The message arrives as IMAP_ARG_LITERAL_FD (a big literal the parser
 * spooled to a file, so memory stays bounded) or IMAP_ARG_LITERAL (small,
 * in memory: written to a memfd so the store reads every message from a
 * descriptor). The target is opened on its own with STORE_OPEN_NOSYNC,
 * as delivery does: it must not take \Recent from the session that has
 * the mailbox selected (the new message is \Recent there, RFC 3501
 * 2.3.2). When the target is the selected mailbox, the new message
 * appears as EXISTS through imap_cmd_ok's sync. Flags come from
 * imap_flags_parse (imap-flags.c); \Recent in them is a BAD.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "imap/imap-private.h"
#include "log.h"
#include "store/store.h"

/* A descriptor at offset 0 holding the literal; -1 on failure. *owned_r
 * tells whether the caller must close it (the spooled fd belongs to the
 * command). */
static int literal_fd(const struct imap_arg *a, bool *owned_r)
{
	int fd;

	*owned_r = false;
	if (a->type == IMAP_ARG_LITERAL_FD) {
		if (lseek(a->fd, 0, SEEK_SET) != 0)
			return -1;
		return a->fd;
	}
	fd = memfd_create("postern-append", MFD_CLOEXEC);
	if (fd < 0)
		return -1;
	for (size_t off = 0; off < a->len;) {
		ssize_t n = write(fd, a->data + off, a->len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			close(fd);
			return -1;
		}
		off += (size_t)n;
	}
	if (lseek(fd, 0, SEEK_SET) != 0) {
		close(fd);
		return -1;
	}
	*owned_r = true;
	return fd;
}

enum imap_cmd_result imap_cmd_append(struct imap_cmd *cmd)
{
	struct imap_session *s = cmd->sess;
	const struct imap_arg *a = cmd->args, *msg;
	size_t n = cmd->nargs, i = 1;
	const char *text, *error = NULL;
	unsigned flags = 0;
	char *keywords = NULL, *name = NULL;
	time_t date = 0;
	struct store_mailbox *box = NULL;
	struct store_status st;
	struct store_error err;
	uint32_t uid = 0;
	enum imap_cmd_result res;
	bool owned = false;
	int fd = -1;

	if (n < 2 || (text = imap_arg_astring(&a[0])) == NULL)
		return imap_cmd_bad(cmd, NULL, "Usage: APPEND mailbox [(flags)] [\"date-time\"] literal");
	if (i < n - 1 && a[i].type == IMAP_ARG_LIST) {
		if (imap_flags_parse(&a[i], &flags, &keywords, &error) < 0)
			return imap_cmd_bad(cmd, NULL, "%s", error);
		i++;
	}
	if (i < n - 1 && a[i].type == IMAP_ARG_STRING) {
		if (imap_datetime_parse(a[i].data, &date, &error) < 0) {
			free(keywords);
			return imap_cmd_bad(cmd, NULL, "%s", error);
		}
		i++;
	}
	msg = &a[i];
	if (i != n - 1 || (msg->type != IMAP_ARG_LITERAL && msg->type != IMAP_ARG_LITERAL_FD)) {
		free(keywords);
		return imap_cmd_bad(cmd, NULL,
				    "Usage: APPEND mailbox [(flags)] [\"date-time\"] literal "
				    "(one message, sent as a literal)");
	}
	if (msg->len == 0) {
		free(keywords);
		return imap_cmd_no(cmd, "CANNOT", "Empty message; nothing to append");
	}
	if ((name = imap_mailbox_from_client(s, text, &error)) == NULL) {
		free(keywords);
		return imap_cmd_no(cmd, "CANNOT", "%s", error);
	}
	box = store_mailbox_open(s->store, name, STORE_OPEN_NOSYNC, &err);
	if (box == NULL) {
		if (err.cls == STORE_ERR_NOTFOUND)
			res = imap_cmd_no(cmd, "TRYCREATE", "Mailbox does not exist; CREATE it first");
		else
			res = imap_cmd_store_error(cmd, &err);
		goto out;
	}
	if ((fd = literal_fd(msg, &owned)) < 0) {
		log_error("imap %s: APPEND: cannot buffer the message: %m", s->id);
		res = imap_cmd_no(cmd, "UNAVAILABLE", "Cannot buffer the message, try again later");
		goto out;
	}
	if (store_mailbox_append(box, fd, flags, keywords, date, &uid, &err) < 0) {
		res = imap_cmd_store_error(cmd, &err);
		goto out;
	}
	store_mailbox_status(box, &st);
	s->appended++;
	{
		char code[64];

		snprintf(code, sizeof(code), "APPENDUID %u %u", st.uidvalidity, uid);
		store_mailbox_close(&box);
		res = imap_cmd_ok(cmd, code, "Append completed.");
	}
out:
	if (owned)
		close(fd);
	store_mailbox_close(&box);
	free(name);
	free(keywords);
	return res;
}
