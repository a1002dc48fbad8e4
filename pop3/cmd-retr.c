/*
 * cmd-retr.c - RETR msg and TOP msg n (RFC 1939 7, 8): argument checks
 * here, the streaming in retr.c. TOP's n may be 0 (header only) and more
 * lines than the body has (the whole message).
 */
#include "pop3/pop3-private.h"

void pop3_cmd_retr(struct pop3_session *s, const char *args, size_t len)
{
	const char *argv[POP3_ARGS_MAX];
	size_t argl[POP3_ARGS_MAX];
	const struct pop3_msg *m;

	if (pop3_args_split(args, len, argv, argl, 1) != 1) {
		pop3_session_err(s, "Usage: RETR message-number");
		return;
	}
	if ((m = pop3_maildrop_msg(s, argv[0], argl[0])) == NULL)
		return;
	pop3_retr_start(s, (uint32_t)(m - s->drop.msgs), false, 0);
}

void pop3_cmd_top(struct pop3_session *s, const char *args, size_t len)
{
	const char *argv[POP3_ARGS_MAX];
	size_t argl[POP3_ARGS_MAX];
	const struct pop3_msg *m;
	uint32_t lines;

	if (pop3_args_split(args, len, argv, argl, 2) != 2) {
		pop3_session_err(s, "Usage: TOP message-number lines");
		return;
	}
	if (pop3_msgnum_parse(argv[1], argl[1], &lines) < 0) {
		pop3_session_err(s, "Invalid number of lines: TOP message-number lines");
		return;
	}
	if ((m = pop3_maildrop_msg(s, argv[0], argl[0])) == NULL)
		return;
	pop3_retr_start(s, (uint32_t)(m - s->drop.msgs), true, lines);
}
