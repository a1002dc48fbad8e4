/*
 * bounce-private.h - what bounce.c (who gets a notice), bounce-dsn.c (the
 * MIME message) and bounce-text.c (the wording, dates, folding) share.
 * Not for other modules: they use bounce.h.
 */
#ifndef POSTERN_SMTP_BOUNCE_PRIVATE_H
#define POSTERN_SMTP_BOUNCE_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "util.h"
#include "smtp/queue/bounce.h"

/* Settings copied out of the configuration at bounce_new(), so that the
 * worker threads never touch the config. */
struct bounce {
	char *myhostname;
	char *myorigin;
	char *mydomain;
	char *mail_name;
	long long size_limit;          /* bounce_size_limit; 0: no limit */
	bool class_bounce, class_2bounce, class_delay;
	char *bounce_rcpt;             /* bounce_notice_recipient, qualified */
	char *twobounce_rcpt;          /* 2bounce_notice_recipient, qualified */
	char *delay_rcpt;              /* delay_notice_recipient, qualified */
	char *double_bounce;           /* double_bounce_sender as configured */
	char *double_bounce_addr;      /* the same @myorigin (sender of postmaster mail) */
	long long max_lifetime;        /* maximal_queue_lifetime, seconds */
	long long bounce_lifetime;     /* bounce_queue_lifetime, seconds */
};

/* One notice to compose. */
struct bounce_notice {
	enum bounce_kind kind;
	bool postmaster;        /* postmaster copy or double bounce: its wording */
	bool headers_only;      /* attach text/rfc822-headers, not the message */
	bool utf8;              /* SMTPUTF8 original: RFC 6533 global types, UTF-8 kept */
	const char *to;         /* the notice's recipient (To: header) */
	const char *id;         /* the notice's own queue id */
	time_t now;
	const size_t *dests;    /* indexes into m->dests */
	size_t n;
};

/* A field of the report longer than this is cut (remote replies). */
#define BOUNCE_FIELD_MAX 2000
/* Bound on the composed text before the attachment (many recipients). */
#define BOUNCE_REPORT_MAX (16u * 1024 * 1024)

/*
 * bounce_dsn_write - write the whole notice (headers, the three MIME
 * parts, the original or its headers read with pread from fd) into qf,
 * whose envelope is already written. 0, or -1 with *error_r (new memory).
 */
int bounce_dsn_write(const struct bounce *b, const struct bounce_notice *n, const struct qmsg *m,
		     int fd, struct queue_file *qf, char **error_r);

/* bounce_text_human - the text/plain part's body: Postfix's template for
 * the kind (sender or postmaster wording) and one line per dest. -1 only
 * when sb is full or memory ran out. */
int bounce_text_human(struct strbuf *sb, const struct bounce *b, const struct bounce_notice *n,
		      const struct qmsg *m);

/* bounce_text_subject - "Undelivered Mail Returned to Sender" etc. */
const char *bounce_text_subject(const struct bounce_notice *n);

/* bounce_text_date - RFC 5322 date "Tue, 14 Nov 2023 22:13:20 +0000 (UTC)". */
void bounce_text_date(time_t t, char *buf, size_t size);

/* bounce_text_clean - copy at most max bytes of s into sb with CR, LF,
 * tabs and other controls turned into spaces and 8-bit bytes into '?'
 * (with utf8: only those not part of a valid UTF-8 sequence): a remote
 * server's text must not break the report's syntax. */
int bounce_text_clean(struct strbuf *sb, const char *s, size_t max, bool utf8);

/* bounce_text_addr_type - "utf-8" for an address with non-ASCII bytes
 * (RFC 6533 3), else "rfc822". */
const char *bounce_text_addr_type(const char *addr);

/* bounce_text_field - "Name: value" with value cleaned and folded at
 * spaces near 78 columns (continuation lines start with 4 spaces), then
 * CR LF. */
int bounce_text_field(struct strbuf *sb, const char *name, const char *value, bool utf8);

/* bounce_text_xtext_decode - RFC 3461 xtext ("+2B" is '+') into new
 * memory; NULL when s is not valid xtext or decodes to a control byte,
 * so that the caller keeps the raw text. */
char *bounce_text_xtext_decode(const char *s);

/* bounce_final_recipient - the address a dest stands for in the report:
 * its address, or for a command/file/discard the recipient it came from. */
const char *bounce_final_recipient(const struct qmsg *m, const struct qdest *d);

#endif
