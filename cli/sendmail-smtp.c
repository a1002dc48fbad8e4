/*
 * sendmail-smtp.c - "sendmail -bs": an SMTP dialogue (RFC 5321) on
 * standard input and output, as Postfix's sendmail -bs runs smtpd on
 * them; used by mail clients and scripts that speak SMTP to a local pipe
 * instead of a socket (some PHP mailers, fetchmail's --mda alternatives,
 * mutt with "set sendmail").
 *
 * Commands: HELO, EHLO, MAIL, RCPT, DATA, RSET, NOOP, QUIT (VRFY is
 * refused, anything else is "not recognized"); replies are worded as the
 * SMTP role words them (smtp/cmd-*.c). Each message is unstuffed (RFC
 * 5321 4.5.2), copied into an unnamed temporary file and handed to the
 * queue role through pickup_submit() (smtp/queue/pickup.h), so it gets
 * the same envelope and headers as "sendmail -t". The path and its
 * parameters are parsed by the SMTP server's parsers (smtp/address.h,
 * smtp/smtp-params.h). Lines are bounded by line_length_limit; the peer
 * is the local user who ran us, but the input is still treated as
 * hostile. The end of data is "." alone on a line, with CR LF or LF
 * (local programs often write bare LF; there is no second hop here to
 * smuggle a message to).
 *
 * Called by cli/sendmail.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sysexits.h>
#include <unistd.h>

#include "cli/sendmail-private.h"
#include "smtp/address.h"
#include "smtp/queue/pickup.h"
#include "smtp/smtp-params.h"
#include "util.h"

/* After this many error replies the dialogue ends, as smtpd_hard_error_limit. */
#define BS_ERROR_LIMIT 20

struct bs {
	const struct config *cfg;
	const char *prog, *full_name, *hostname;
	FILE *in, *out;
	long long size_limit;
	size_t line_limit, rcpt_limit;
	int errors;
	bool helo, mail;
	char *sender;
	struct smtp_mail_params params;
	char **rcpts;
	size_t n_rcpts;
	size_t rcpt_rejected;   /* in this transaction: DATA then says "no valid recipients" */
	unsigned notify;
};

static void reply(struct bs *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void reply(struct bs *b, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfprintf(b->out, fmt, ap);
	va_end(ap);
	fputs("\r\n", b->out);
	fflush(b->out);
	if (fmt[0] == '4' || fmt[0] == '5')
		b->errors++;
}

static void reset(struct bs *b)
{
	for (size_t i = 0; i < b->n_rcpts; i++)
		free(b->rcpts[i]);
	x_free(&b->rcpts);
	b->n_rcpts = 0;
	x_free(&b->sender);
	smtp_mail_params_free(&b->params);
	b->mail = false;
	b->notify = 0;
	b->rcpt_rejected = 0;
}

/* read_line - one line without its CR LF into buf (line_limit + 1
 * bytes). Returns its length, -1 at the end of input, -2 when it was too
 * long (the rest of it has been read and dropped). */
static long read_line(struct bs *b, char *buf)
{
	size_t len = 0;
	bool too_long = false;
	int c;

	while ((c = getc(b->in)) != EOF && c != '\n') {
		if (len < b->line_limit)
			buf[len++] = (char)c;
		else
			too_long = true;
	}
	if (c == EOF && len == 0 && !too_long)
		return -1;
	if (len > 0 && buf[len - 1] == '\r')
		len--;
	buf[len] = '\0';
	return too_long ? -2 : (long)len;
}

static void cmd_helo(struct bs *b, const char *args, bool esmtp)
{
	if (*args == '\0') {
		reply(b, "501 Syntax: %s hostname", esmtp ? "EHLO" : "HELO");
		return;
	}
	reset(b);
	b->helo = true;
	if (!esmtp) {
		reply(b, "250 %s", b->hostname);
		return;
	}
	fprintf(b->out, "250-%s\r\n250-PIPELINING\r\n250-SIZE %lld\r\n250-ENHANCEDSTATUSCODES\r\n"
		"250-8BITMIME\r\n250-DSN\r\n", b->hostname, b->size_limit);
	reply(b, "250 SMTPUTF8");
}

static void cmd_mail(struct bs *b, const char *args)
{
	size_t len = strlen(args), path_off, path_len, params_off;
	struct smtp_address a;
	const char *r;
	char buf[256];

	if (!b->helo) {
		reply(b, "503 5.5.1 Error: send HELO/EHLO first");
		return;
	}
	if (b->mail) {
		reply(b, "503 5.5.1 Error: nested MAIL command");
		return;
	}
	if (smtp_path_split(args, len, "FROM:", &path_off, &path_len, &params_off) < 0) {
		reply(b, "501 5.5.4 Syntax: MAIL FROM:<address>");
		return;
	}
	if (smtp_address_parse(args + path_off, path_len, SMTP_ADDR_ALLOW_NULL | SMTP_ADDR_SMTPUTF8, &a, &r) < 0) {
		reply(b, "%s", r);
		return;
	}
	if (smtp_mail_params_parse(args + params_off, len - params_off, (unsigned long long)b->size_limit, &b->params,
				   buf, sizeof(buf), &r) < 0) {
		smtp_address_free(&a);
		reply(b, "%s", r);
		return;
	}
	b->sender = smtp_address_text(&a);
	smtp_address_free(&a);
	if (b->sender == NULL) {
		smtp_mail_params_free(&b->params);
		reply(b, "451 4.3.0 Error: out of memory");
		return;
	}
	b->mail = true;
	reply(b, "250 2.1.0 Ok");
}

static void cmd_rcpt(struct bs *b, const char *args)
{
	size_t len = strlen(args), path_off, path_len, params_off;
	struct smtp_address a;
	const char *r;
	char buf[256], *orcpt = NULL, **n;
	unsigned notify = 0;

	if (!b->mail) {
		reply(b, "503 5.5.1 Error: need MAIL command");
		return;
	}
	if (smtp_path_split(args, len, "TO:", &path_off, &path_len, &params_off) < 0) {
		reply(b, "501 5.5.4 Syntax: RCPT TO:<address>");
		return;
	}
	if (smtp_address_parse(args + path_off, path_len, SMTP_ADDR_RCPT | SMTP_ADDR_SMTPUTF8, &a, &r) < 0) {
		b->rcpt_rejected++;
		reply(b, "%s", r);
		return;
	}
	if (smtp_rcpt_params_parse(args + params_off, len - params_off, &notify, &orcpt, buf, sizeof(buf), &r) < 0) {
		smtp_address_free(&a);
		reply(b, "%s", r);
		return;
	}
	free(orcpt);
	if (b->n_rcpts >= b->rcpt_limit) {
		smtp_address_free(&a);
		reply(b, "452 4.5.3 Error: too many recipients");
		return;
	}
	n = realloc(b->rcpts, (b->n_rcpts + 1) * sizeof(*n));
	if (n == NULL || (n[b->n_rcpts] = smtp_address_text(&a)) == NULL) {
		if (n)
			b->rcpts = n;
		smtp_address_free(&a);
		reply(b, "451 4.3.0 Error: out of memory");
		return;
	}
	b->rcpts = n;
	b->n_rcpts++;
	/* The pickup protocol has one NOTIFY per message: the last given. */
	if (notify)
		b->notify = notify;
	smtp_address_free(&a);
	reply(b, "250 2.1.5 Ok");
}

/* read_data - the message up to "." into f, unstuffed. Returns its size,
 * or -1 at the end of input (the client went away mid-message). */
static long long read_data(struct bs *b, FILE *f)
{
	long long size = 0;
	bool bol = true;
	int c;

	while ((c = getc(b->in)) != EOF) {
		if (bol && c == '.') {
			int n1 = getc(b->in);

			if (n1 == EOF)
				return -1;
			if (n1 == '\n')
				return size;          /* ".", LF */
			if (n1 == '\r') {
				int n2 = getc(b->in);
				if (n2 == EOF)
					return -1;
				if (n2 == '\n')
					return size;  /* ".", CR LF */
				ungetc(n2, b->in);
			}
			c = n1;   /* the leading dot was stuffing (RFC 5321 4.5.2) */
		}
		if (size <= b->size_limit && putc(c, f) == EOF)
			size = b->size_limit + 1;   /* cannot write: treated as too big */
		size++;
		bol = c == '\n';
	}
	return -1;
}

static const char *notify_text(unsigned bits, char *buf, size_t size)
{
	if (bits == 0)
		return NULL;
	if (bits & SMTP_NOTIFY_NEVER)
		return "never";
	snprintf(buf, size, "%s%s%s%s%s", bits & SMTP_NOTIFY_SUCCESS ? "success" : "",
		 (bits & SMTP_NOTIFY_SUCCESS) && (bits & (SMTP_NOTIFY_FAILURE | SMTP_NOTIFY_DELAY)) ? "," : "",
		 bits & SMTP_NOTIFY_FAILURE ? "failure" : "",
		 (bits & SMTP_NOTIFY_FAILURE) && (bits & SMTP_NOTIFY_DELAY) ? "," : "",
		 bits & SMTP_NOTIFY_DELAY ? "delay" : "");
	return buf;
}

/* xtext_decode - ENVID= as sent (RFC 3461 4: "+XX" hex escapes, already
 * checked by smtp_mail_params_parse) back to text, for pickup_submit,
 * which encodes it again. New memory. */
static char *xtext_decode(const char *x)
{
	char *out = must_malloc(strlen(x) + 1), *o = out;

	while (*x) {
		unsigned v;
		if (x[0] == '+' && x[1] && x[2] && sscanf(x + 1, "%2X", &v) == 1) {
			*o++ = (char)v;
			x += 3;
		} else {
			*o++ = *x++;
		}
	}
	*o = '\0';
	return out;
}

/* Returns -1 when the input ended mid-message. */
static int cmd_data(struct bs *b, const char *args)
{
	struct pickup_submission s;
	char id[QUEUE_ID_SIZE], nbuf[64], *err = NULL, *envid;
	long long size;
	FILE *f;
	int rc;

	if (*args) {
		reply(b, "501 5.5.4 Syntax: DATA");
		return 0;
	}
	if (!b->mail || b->n_rcpts == 0) {
		reply(b, b->mail && b->rcpt_rejected ? "554 5.5.1 Error: no valid recipients"
						     : "503 5.5.1 Error: need RCPT command");
		return 0;
	}
	f = tmpfile();
	if (f == NULL) {
		reply(b, "451 4.3.0 Error: cannot create a temporary file: %s", strerror(errno));
		return 0;
	}
	reply(b, "354 End data with <CR><LF>.<CR><LF>");
	size = read_data(b, f);
	if (size < 0) {
		fclose(f);
		return -1;
	}
	if (size > b->size_limit) {
		fclose(f);
		reset(b);
		reply(b, "552 5.3.4 Error: message file too big");
		return 0;
	}
	if (fflush(f) != 0 || fseek(f, 0, SEEK_SET) != 0) {
		fclose(f);
		reset(b);
		reply(b, "451 4.3.0 Error: cannot write the temporary file");
		return 0;
	}
	memset(&s, 0, sizeof(s));
	s.sender = b->sender;
	s.full_name = b->full_name;
	s.rcpts = (const char *const *)b->rcpts;
	s.n_rcpts = b->n_rcpts;
	s.notify = notify_text(b->notify, nbuf, sizeof(nbuf));
	s.ret = b->params.ret == SMTP_RET_FULL ? "full" : b->params.ret == SMTP_RET_HDRS ? "hdrs" : NULL;
	s.envid = envid = b->params.envid ? xtext_decode(b->params.envid) : NULL;
	s.message = f;
	s.dot_ok = true;   /* unstuffed already: a "." line is content now */
	rc = pickup_submit(config_str(b->cfg, "queue_pickup_socket"), &s, id, &err);
	free(envid);
	fclose(f);
	reset(b);
	if (rc == 0)
		reply(b, "250 2.0.0 Ok: queued as %s", id);
	else if (rc == EX_TEMPFAIL)
		reply(b, "451 4.3.0 Error: %s", err);
	else
		reply(b, "554 5.0.0 Error: %s", err);
	free(err);
	return 0;
}

int sendmail_smtp(const struct config *cfg, const char *prog, const char *full_name, FILE *in, FILE *out)
{
	struct bs b;
	char *line;
	int status = 0;

	memset(&b, 0, sizeof(b));
	b.cfg = cfg;
	b.prog = prog;
	b.full_name = full_name;
	b.in = in;
	b.out = out;
	b.hostname = config_str(cfg, "myhostname");
	b.size_limit = config_size(cfg, "message_size_limit");
	b.line_limit = (size_t)config_int(cfg, "line_length_limit");
	b.rcpt_limit = (size_t)config_int(cfg, "smtpd_recipient_limit");
	line = must_malloc(b.line_limit + 1);
	reply(&b, "220 %s", config_str(cfg, "smtpd_banner"));
	for (;;) {
		long len = read_line(&b, line);
		size_t vlen;
		const char *args;

		if (len == -1)
			break;
		if (b.errors >= BS_ERROR_LIMIT) {
			reply(&b, "421 4.7.0 %s Error: too many errors", b.hostname);
			status = EX_TEMPFAIL;
			break;
		}
		if (len == -2) {
			reply(&b, "500 5.5.0 Error: line too long");
			continue;
		}
		vlen = strcspn(line, " ");
		args = line + vlen;
		while (*args == ' ')
			args++;
		line[vlen] = '\0';
		if (strcasecmp(line, "HELO") == 0 || strcasecmp(line, "EHLO") == 0) {
			cmd_helo(&b, args, strcasecmp(line, "EHLO") == 0);
		} else if (strcasecmp(line, "MAIL") == 0) {
			cmd_mail(&b, args);
		} else if (strcasecmp(line, "RCPT") == 0) {
			cmd_rcpt(&b, args);
		} else if (strcasecmp(line, "DATA") == 0) {
			if (cmd_data(&b, args) < 0)
				break;
		} else if (strcasecmp(line, "RSET") == 0) {
			reset(&b);
			reply(&b, "250 2.0.0 Ok");
		} else if (strcasecmp(line, "NOOP") == 0) {
			reply(&b, "250 2.0.0 Ok");
		} else if (strcasecmp(line, "QUIT") == 0) {
			reply(&b, "221 2.0.0 Bye");
			break;
		} else if (strcasecmp(line, "VRFY") == 0) {
			reply(&b, "502 5.5.1 VRFY command is disabled");
		} else {
			reply(&b, "502 5.5.2 Error: command not recognized");
		}
	}
	reset(&b);
	free(line);
	return status;
}
