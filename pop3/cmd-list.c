/*
 * cmd-list.c - STAT, LIST and UIDL (RFC 1939 5 and 7): numbers and sizes
 * from the snapshot taken at login (maildrop.c); deleted messages are
 * neither counted nor listed. Sizes are RFC822.SIZE, the octets RETR
 * sends before dot-stuffing. A multi-line listing of 50,000 messages is
 * queued in pieces below the conn's output limit: the listing is small
 * per line and the conn's limit (1 MiB) holds about 40,000 lines, so it
 * is written in batches from on_drained like RETR (retr.c).
 */
#include <stdio.h>

#include "conn.h"
#include "pop3/pop3-private.h"

void pop3_cmd_stat(struct pop3_session *s, const char *args, size_t len)
{
	const struct pop3_maildrop *d = &s->drop;

	(void)args;
	if (len > 0) {
		pop3_session_err(s, "STAT takes no arguments.");
		return;
	}
	pop3_session_ok(s, "%u %llu", d->n_msgs - d->n_deleted,
		   (unsigned long long)(d->size - d->deleted_size));
}

static void one_line(struct pop3_session *s, bool uidl, uint32_t i, char *buf, size_t size)
{
	if (uidl) {
		char u[POP3_UIDL_MAX + 1];
		pop3_maildrop_uidl(s, i, u, sizeof(u));
		snprintf(buf, size, "%u %s", i + 1, u);
	} else {
		snprintf(buf, size, "%u %llu", i + 1, (unsigned long long)s->drop.msgs[i].size);
	}
}

static void list_or_uidl(struct pop3_session *s, const char *args, size_t len, bool uidl)
{
	const char *argv[POP3_ARGS_MAX];
	size_t argl[POP3_ARGS_MAX];
	int argc = pop3_args_split(args, len, argv, argl, 1);
	char line[128];

	if (argc < 0) {
		pop3_session_err(s, "Usage: %s [message number]", uidl ? "UIDL" : "LIST");
		return;
	}
	if (argc == 1) {
		const struct pop3_msg *m = pop3_maildrop_msg(s, argv[0], argl[0]);
		if (m == NULL)
			return;
		one_line(s, uidl, (uint32_t)(m - s->drop.msgs), line, sizeof(line));
		pop3_session_ok(s, "%s", line);
		return;
	}
	if (uidl)
		pop3_session_ok(s, "Unique-ID listing follows");
	else
		pop3_session_ok(s, "%u messages (%llu octets)", s->drop.n_msgs - s->drop.n_deleted,
			   (unsigned long long)(s->drop.size - s->drop.deleted_size));
	s->stream.active = true;
	s->stream.listing = true;
	s->stream.uidl = uidl;
	s->stream.fd = -1;
	s->stream.index = 0;
	conn_pause(s->conn);
	pop3_retr_drained(s);
}

void pop3_cmd_list(struct pop3_session *s, const char *args, size_t len)
{
	list_or_uidl(s, args, len, false);
}

void pop3_cmd_uidl(struct pop3_session *s, const char *args, size_t len)
{
	list_or_uidl(s, args, len, true);
}

bool pop3_list_more(struct pop3_session *s)
{
	char line[128];

	while (s->stream.index < s->drop.n_msgs) {
		uint32_t i = s->stream.index++;
		if (s->drop.msgs[i].deleted)
			continue;
		one_line(s, s->stream.uidl, i, line, sizeof(line) - 2);
		conn_printf(s->conn, "%s\r\n", line);
		if (conn_output_pending(s->conn) > POP3_STREAM_HIGH)
			return false;
	}
	pop3_session_raw(s, ".\r\n");
	return true;
}
