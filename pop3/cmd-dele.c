/*
 * cmd-dele.c - DELE, RSET and NOOP (RFC 1939 5): DELE only marks the
 * message in the session's snapshot; nothing in the store changes until
 * QUIT enters the UPDATE state (cmd-quit.c). RSET unmarks everything, a
 * dropped connection forgets the marks.
 */
#include "pop3/pop3-private.h"

void pop3_cmd_dele(struct pop3_session *s, const char *args, size_t len)
{
	const char *argv[POP3_ARGS_MAX];
	size_t argl[POP3_ARGS_MAX];
	struct pop3_msg *m;

	if (pop3_args_split(args, len, argv, argl, 1) != 1) {
		pop3_session_err(s, "Usage: DELE message-number");
		return;
	}
	if ((m = pop3_maildrop_msg(s, argv[0], argl[0])) == NULL)
		return;
	m->deleted = true;
	s->drop.n_deleted++;
	s->drop.deleted_size += m->size;
	pop3_session_ok(s, "Marked to be deleted.");
}

void pop3_cmd_rset(struct pop3_session *s, const char *args, size_t len)
{
	(void)args;
	if (len > 0) {
		pop3_session_err(s, "RSET takes no arguments.");
		return;
	}
	for (uint32_t i = 0; i < s->drop.n_msgs; i++)
		s->drop.msgs[i].deleted = false;
	s->drop.n_deleted = 0;
	s->drop.deleted_size = 0;
	pop3_session_ok(s, "%u messages (%llu octets)", s->drop.n_msgs, (unsigned long long)s->drop.size);
}

void pop3_cmd_noop(struct pop3_session *s, const char *args, size_t len)
{
	(void)args;
	if (len > 0) {
		pop3_session_err(s, "NOOP takes no arguments.");
		return;
	}
	pop3_session_ok(s, "%s", "");
}
