/*
 * pickup-private.h - the socket-free halves of the pickup server, so that
 * the unit tests and tests/fuzz/fuzz_pickup.c can drive them with plain
 * bytes:
 *
 *   pickup-request.c  the request lines before DATA (SENDER, RCPT, ...):
 *                     one line in, the request updated or an "ERR ..." text
 *   pickup-message.c  the message bytes after DATA: header block collected
 *                     and rewritten (-t extraction, Bcc: removed, Received:,
 *                     From:, Date:, Message-ID: added when missing), body
 *                     streamed out with CR LF line ends
 *
 * pickup.c (the queue role's listener) glues them to a socket and a queue
 * file. Protocol and contract: pickup.h.
 */
#ifndef POSTERN_SMTP_PICKUP_PRIVATE_H
#define POSTERN_SMTP_PICKUP_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#include "util.h"

/* One protocol line, without its LF. */
#define PICKUP_LINE_MAX 4096
/* Connections served at once; more are told to retry (4.3.2). */
#define PICKUP_CONN_MAX 100
/* A client silent this long is dropped (nothing queued). */
#define PICKUP_TIMEOUT_SECS 60
/* "ERR 5.x.x text" replies, without the LF. */
#define PICKUP_REPLY_MAX 512

/* What the server's configuration says, read once by pickup_new(). */
struct pickup_limits {
	unsigned long long size_limit;   /* message_size_limit */
	size_t rcpt_limit;               /* smtpd_recipient_limit */
	size_t header_limit;             /* header_size_limit */
	const char *myhostname, *myorigin, *mail_name;
	bool append_at_myorigin;
};

/* Who is submitting: SO_PEERCRED + the password file. */
struct pickup_peer {
	uid_t uid;
	bool known;             /* the uid has a password file entry */
	char login[64];         /* login name, or "uid N" */
	char gecos[128];        /* full name from the password file, or "" */
};

/* One submission as the request lines built it. */
struct pickup_request {
	bool has_sender;
	char *sender;           /* normalised envelope sender ("" for <>) */
	char *full_name;        /* FULLNAME, or NULL */
	char **rcpts;           /* normalised, distinct */
	size_t n_rcpts, cap_rcpts;
	bool extract;           /* EXTRACT (-t) */
	unsigned notify;        /* SMTP_NOTIFY_* bits, 0: not given */
	char *ret;              /* "FULL", "HDRS" or NULL */
	char *envid;            /* xtext or NULL */
	bool smtputf8;          /* an address had UTF-8 */
	unsigned long long size; /* DATA SIZE */
	unsigned seen;          /* request words already given (each at most once) */
};

enum pickup_line_result {
	PICKUP_LINE_ERROR = -1, /* *reply holds "ERR ..."; drop the connection */
	PICKUP_LINE_OK = 0,     /* more request lines follow */
	PICKUP_LINE_DATA = 1,   /* DATA: r->size message bytes follow */
};

/*
 * pickup_request_line - apply one request line (len bytes, no LF; a final
 * CR is ignored) to r. Returns a pickup_line_result; on PICKUP_LINE_ERROR
 * reply (size bytes) holds the "ERR 5.x.x ..." answer for the client.
 */
int pickup_request_line(struct pickup_request *r, const struct pickup_limits *lim, const char *line,
			size_t len, char *reply, size_t size);

/* pickup_request_free - free r's strings and zero it; a zeroed r is fine. */
void pickup_request_free(struct pickup_request *r);

/*
 * pickup_address - normalise one address given by the submitter (argv,
 * -f, or one mailbox of a To:/Cc:/Bcc: header): "user@domain", a bare
 * "user" (gets @myorigin with append_at_myorigin), "<user@domain>" or
 * "Name <user@domain>". Returns new memory, or NULL with *why_r (static)
 * naming the problem. *utf8_r is set when the address has UTF-8.
 */
char *pickup_address(const char *text, size_t len, const struct pickup_limits *lim, bool *utf8_r,
		     const char **why_r);

/* pickup_request_add_rcpt - append addr (taken over) unless present.
 * 0, or -1 with reply filled (limit reached, out of memory). */
int pickup_request_add_rcpt(struct pickup_request *r, const struct pickup_limits *lim, char *addr,
			    char *reply, size_t size);

/* Where pickup-message.c sends its output. begin() is called once, when
 * the recipients are final (after the header block), before the first
 * write(); both return 0, or -1 with *error_r (static) to stop. */
struct pickup_sink {
	int (*begin)(void *ctx, const char **error_r);
	int (*write)(void *ctx, const void *data, size_t len, const char **error_r);
	void *ctx;
};

struct pickup_message {
	const struct pickup_limits *lim;
	struct pickup_request *req;
	const struct pickup_peer *peer;
	const char *id;
	time_t now;
	struct pickup_sink sink;
	struct strbuf line;     /* header line being collected */
	struct strbuf header;   /* the header block so far, CR LF line ends */
	bool headers_done;
	bool last_cr;           /* body: the previous byte was CR */
	bool last_lf;           /* body: the previous byte was LF (or nothing written) */
	bool first_seen;        /* a line was seen (an mbox "From " line may only be first) */
	bool failed;
	char reply[PICKUP_REPLY_MAX];
};

/* pickup_message_init - start a message of req from peer with queue id
 * (both borrowed for the message's life). */
void pickup_message_init(struct pickup_message *m, const struct pickup_limits *lim,
			 struct pickup_request *req, const struct pickup_peer *peer, const char *id,
			 time_t now, const struct pickup_sink *sink);

/* pickup_message_feed - len message bytes. 0, or -1 with m->reply set
 * ("ERR ..."): refuse the message. */
int pickup_message_feed(struct pickup_message *m, const char *data, size_t len);

/* pickup_message_end - the last byte came. 0 (everything went to the
 * sink), or -1 with m->reply set. */
int pickup_message_end(struct pickup_message *m);

/* pickup_message_free - free the buffers (not req/peer/id). */
void pickup_message_free(struct pickup_message *m);

/* pickup_peer_lookup - fill peer for uid from the password file. */
void pickup_peer_lookup(struct pickup_peer *peer, uid_t uid);

#endif
