/*
 * sendmail.c - the Sendmail-compatible front end: bin/sendmail, also run
 * as mailq (= sendmail -bp) and newaliases (= sendmail -bi) through
 * argv[0], as Postfix's sendmail(1) is.
 *
 * Programs (cron, mail(1), PHP's mail(), git send-email) call
 * /usr/sbin/sendmail with Postfix's options, so those are parsed exactly:
 * -t -i -oi -f SENDER/-r -F NAME -bs -bp -bi -bm -bd -q[INTERVAL] -v -N DSN
 * -R RET -B TYPE -V ENVID -o* -O OPT -C CONF (file, or a directory holding
 * postern.conf; default $POSTERN_CONF, else /etc/postern/postern.conf);
 * an option's argument may be attached (-fme@x) or separate (-f me@x).
 *
 * Modes:
 *   deliver (default, -bm): the message on standard input, recipients
 *     from the arguments and/or its To:/Cc:/Bcc: headers (-t), handed to
 *     the queue role through the pickup socket (smtp/queue/pickup.h,
 *     queue_pickup_socket): no set-gid program, no world-writable
 *     directory. Exit 0 once the queue role has the message on disk.
 *   -bs: an SMTP dialogue on standard input/output (cli/sendmail-smtp.c).
 *   -bp, mailq: the queue as Postfix's mailq prints it (queue_admin_list).
 *   -q: ask the queue role to attempt deferred mail now (FLUSH on
 *     queue_control_socket); -qINTERVAL is accepted and ignored, as Postfix
 *     does (the queue role runs on its own schedule).
 *   -bi, newaliases: rebuild the alias database (resolve_aliases_build).
 *   -bv: print what becomes of each recipient (cli/sendmail-verify.c).
 *
 * Errors are printed as Postfix prints them ("sendmail: fatal: ...") and
 * the exit status is a sysexits(3) code: 75 (EX_TEMPFAIL) when posternd
 * or its queue role does not answer, so that cron, PHP and scripts keep
 * the message and retry rather than lose it; 64 for bad usage, 65/67/69
 * when the queue role refuses the message for good (the text says why).
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include "cli/sendmail-private.h"
#include "config.h"
#include "log.h"
#include "smtp/queue/pickup.h"
#include "smtp/queue/queue-admin.h"
#include "smtp/resolve/resolve.h"
#include "util.h"


enum sendmail_mode { MODE_DELIVER, MODE_SMTP, MODE_MAILQ, MODE_NEWALIASES, MODE_FLUSH, MODE_VERIFY };

struct sendmail_opts {
	enum sendmail_mode mode;
	bool extract_rcpt;      /* -t */
	bool dot_ok;            /* -i / -oi: a lone "." does not end the message */
	int verbose;            /* -v */
	const char *sender;     /* -f / -r */
	const char *full_name;  /* -F */
	const char *conf;       /* -C */
	const char *notify;     /* -N */
	const char *ret;        /* -R */
	const char *envid;      /* -V */
	bool q_interval;        /* -qINTERVAL: ignored */
	int n_rcpts;
};

static int usage_fail(const char *prog, const char *why)
{
	fprintf(stderr, "%s: fatal: %s\n"
		"usage: %s [-t] [-i] [-f sender] [-F name] [-C conf] [-bm|-bs|-bp|-bi|-bv] [-q] recipient...\n",
		prog, why, prog);
	return EX_USAGE;
}

/* Option letters that take an argument (attached or as the next word). */
static bool takes_arg(char c)
{
	return strchr("BCFfNRrVXOhLp", c) != NULL;
}

static int parse(int argc, char **argv, const char *prog, struct sendmail_opts *o)
{
	int i;
	char why[128];

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *arg = NULL;
		char c;

		if (strcmp(a, "--") == 0) {
			i++;
			break;
		}
		if (a[0] != '-' || a[1] == '\0')
			break;
		c = a[1];
		if (c == 'o' || c == 'b' || c == 'q' || c == 'd') {
			/* -oX[value], -bX, -q[interval]: the letters are the option. */
		} else if (takes_arg(c)) {
			if (a[2])
				arg = a + 2;
			else if (i + 1 < argc)
				arg = argv[++i];
			else {
				snprintf(why, sizeof(why), "option -%c requires an argument", c);
				return -usage_fail(prog, why);
			}
		} else if (a[2] && c != 'v') {
			snprintf(why, sizeof(why), "unknown option \"%s\"", a);
			return -usage_fail(prog, why);
		}
		switch (c) {
		case 't': o->extract_rcpt = true; break;
		case 'i': o->dot_ok = true; break;
		case 'v': o->verbose += (int)strspn(a + 1, "v"); break;
		case 'n': case 'm': case 'G': case 'U': case 'A': case 'e': break;
		case 'f': case 'r': o->sender = arg; break;
		case 'F': o->full_name = arg; break;
		case 'C': o->conf = arg; break;
		case 'N': o->notify = arg; break;
		case 'R': o->ret = arg; break;
		case 'V': o->envid = arg; break;
		case 'B': case 'X': case 'O': case 'h': case 'L': case 'p': case 'd':
			break; /* accepted and ignored, as Postfix does */
		case 'o':
			if (strcmp(a, "-oi") == 0)
				o->dot_ok = true;
			/* -om, -o7, -o8, -oeX, -oA...: Postfix ignores them too. */
			break;
		case 'q':
			o->mode = MODE_FLUSH;
			o->q_interval = a[2] != '\0';
			break;
		case 'b':
			if (strcmp(a, "-bm") == 0)
				o->mode = MODE_DELIVER;
			else if (strcmp(a, "-bs") == 0)
				o->mode = MODE_SMTP;
			else if (strcmp(a, "-bp") == 0)
				o->mode = MODE_MAILQ;
			else if (strcmp(a, "-bi") == 0)
				o->mode = MODE_NEWALIASES;
			else if (strcmp(a, "-bv") == 0)
				o->mode = MODE_VERIFY;
			else if (strcmp(a, "-bd") == 0)
				return -usage_fail(prog, "-bd: run the mail system with \"postern start\"");
			else {
				snprintf(why, sizeof(why), "unsupported mode \"%s\"", a);
				return -usage_fail(prog, why);
			}
			break;
		default:
			snprintf(why, sizeof(why), "unknown option \"%s\"", a);
			return -usage_fail(prog, why);
		}
	}
	o->n_rcpts = argc - i;
	return 0;
}

/* split_rcpts - the recipient arguments, each of which may be a comma
 * list ("a@x, b@y"), as Postfix's sendmail accepts; commas inside quotes
 * or angle brackets stay. Returns new memory (each string and the array). */
static char **split_rcpts(char **argv, int n, size_t *count_r)
{
	size_t cap = (size_t)n + 1, count = 0;
	char **out = must_calloc(cap, sizeof(*out));

	for (int i = 0; i < n; i++) {
		const char *p = argv[i], *start = p;
		bool quoted = false;
		int angle = 0;

		for (;; p++) {
			if (*p == '"')
				quoted = !quoted;
			else if (*p == '<' && !quoted)
				angle++;
			else if (*p == '>' && !quoted && angle > 0)
				angle--;
			if (*p == '\0' || (*p == ',' && !quoted && angle == 0)) {
				char *item = must_strndup(start, (size_t)(p - start));
				char *t = str_trim(item);

				if (*t) {
					if (count + 1 >= cap)
						out = must_realloc(out, (cap *= 2) * sizeof(*out));
					out[count++] = must_strdup(t);
				}
				free(item);
				if (*p == '\0')
					break;
				start = p + 1;
			}
		}
	}
	out[count] = NULL;
	*count_r = count;
	return out;
}

static int deliver(const struct config *cfg, const struct sendmail_opts *o, char **argv_rcpts, const char *prog)
{
	struct pickup_submission s;
	char id[QUEUE_ID_SIZE], *err = NULL;
	size_t n = 0;
	char **rcpts = split_rcpts(argv_rcpts, o->n_rcpts, &n);
	int rc;

	memset(&s, 0, sizeof(s));
	s.sender = o->sender;
	s.full_name = o->full_name;
	s.rcpts = (const char *const *)rcpts;
	s.n_rcpts = n;
	s.extract = o->extract_rcpt;
	s.notify = o->notify;
	s.ret = o->ret;
	s.envid = o->envid;
	s.message = stdin;
	s.dot_ok = o->dot_ok;
	rc = pickup_submit(config_str(cfg, "queue_pickup_socket"), &s, id, &err);
	if (rc != 0)
		fprintf(stderr, "%s: fatal: %s\n", prog, err);
	else if (o->verbose)
		fprintf(stderr, "%s: queued as %s\n", prog, id);
	free(err);
	for (size_t i = 0; i < n; i++)
		free(rcpts[i]);
	free(rcpts);
	return rc;
}

static int mailq(const struct config *cfg, const char *prog)
{
	char *err = NULL;

	if (queue_admin_list(config_str(cfg, "queue_directory"), stdout, &err) < 0) {
		fflush(stdout);
		fprintf(stderr, "%s: fatal: cannot list the mail queue: %s\n", prog, err);
		free(err);
		return EX_UNAVAILABLE;
	}
	return fflush(stdout) == 0 ? 0 : EX_IOERR;
}

static int flush(const struct config *cfg, const struct sendmail_opts *o, const char *prog)
{
	char reply[1024], *err = NULL;
	int rc;

	if (o->q_interval)
		return 0;   /* -q1h: the queue role keeps its own schedule (queue_run_delay) */
	rc = queue_control_request(config_str(cfg, "queue_control_socket"), "FLUSH", reply, sizeof(reply), &err);
	if (rc == -1) {
		fprintf(stderr, "%s: fatal: cannot flush the mail queue: the queue role is not running (%s); "
			"start posternd\n", prog, err);
		free(err);
		return EX_TEMPFAIL;
	}
	if (rc < 0) {
		fprintf(stderr, "%s: fatal: cannot flush the mail queue: %s\n", prog, err);
		free(err);
		return EX_TEMPFAIL;
	}
	if (strncmp(reply, "OK", 2) != 0) {
		fprintf(stderr, "%s: fatal: cannot flush the mail queue: %s\n", prog,
			strncmp(reply, "ERR ", 4) == 0 ? reply + 4 : reply);
		return EX_UNAVAILABLE;
	}
	return 0;
}

/* newaliases - silent on success as Postfix's; -v lists each table. */
static int newaliases(const struct config *cfg, const struct sendmail_opts *o, const char *prog)
{
	char *err = NULL;

	if (resolve_aliases_build(cfg, o->verbose ? stdout : NULL, &err) < 0) {
		fflush(stdout);
		fprintf(stderr, "%s: fatal: %s\n", prog, err);
		free(err);
		return EX_DATAERR;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct sendmail_opts o = { 0 };
	const char *slash = strrchr(argv[0], '/');
	const char *prog = slash ? slash + 1 : argv[0];
	char *conf_buf = NULL;
	struct config *cfg;
	struct stat st;
	int rc;

	log_init(prog, LOG_DEST_STDERR_TOOL);
	if (strcmp(prog, "mailq") == 0)
		o.mode = MODE_MAILQ;
	else if (strcmp(prog, "newaliases") == 0)
		o.mode = MODE_NEWALIASES;
	rc = parse(argc, argv, prog, &o);
	if (rc < 0)
		return -rc;
	if (o.conf == NULL)
		o.conf = getenv("POSTERN_CONF");
	if (o.conf == NULL || *o.conf == '\0')
		o.conf = "/etc/postern/postern.conf";
	if (stat(o.conf, &st) == 0 && S_ISDIR(st.st_mode))
		o.conf = conf_buf = must_asprintf("%s/postern.conf", o.conf);
	if ((o.mode == MODE_DELIVER && !o.extract_rcpt && o.n_rcpts == 0) || (o.mode == MODE_VERIFY && o.n_rcpts == 0)) {
		free(conf_buf);
		return usage_fail(prog, "no recipients specified; give them as arguments or use -t");
	}
	cfg = config_load(o.conf, NULL, NULL);
	if (cfg == NULL) {
		fprintf(stderr, "%s: fatal: cannot read the configuration %s; fix it, or pass -C FILE\n",
			prog, o.conf);
		free(conf_buf);
		return EX_CONFIG;
	}
	switch (o.mode) {
	case MODE_DELIVER:
		rc = deliver(cfg, &o, argv + argc - o.n_rcpts, prog);
		break;
	case MODE_SMTP:
		rc = sendmail_smtp(cfg, prog, o.full_name, stdin, stdout);
		break;
	case MODE_MAILQ:
		rc = mailq(cfg, prog);
		break;
	case MODE_FLUSH:
		rc = flush(cfg, &o, prog);
		break;
	case MODE_VERIFY: {
		size_t n = 0;
		char **rcpts = split_rcpts(argv + argc - o.n_rcpts, o.n_rcpts, &n);

		rc = sendmail_verify(cfg, prog, rcpts, n, stdout);
		for (size_t i = 0; i < n; i++)
			free(rcpts[i]);
		free(rcpts);
		break;
	}
	case MODE_NEWALIASES:
	default:
		rc = newaliases(cfg, &o, prog);
		break;
	}
	config_free(&cfg);
	free(conf_buf);
	return rc;
}
