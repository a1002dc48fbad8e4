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
 * HONEST LIMIT: the mail queue does not exist yet (a later issue builds
 * the queue role). Until it does, every request that needs it fails with
 * EX_TEMPFAIL (75) and says so - "sendmail: fatal: cannot submit mail: the
 * queue role is not built into this Postern yet" - rather than pretending
 * to accept a message that would be lost. 75 tells well-behaved callers to
 * keep the message and retry. The message on stdin is read and discarded
 * first (when stdin is not a terminal), so the writer sees a failed exit
 * status rather than a broken pipe.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "util.h"

#define QUEUE_MISSING "the queue role is not built into this Postern yet"
/* Enough to drain any message a caller is about to write. */
#define SENDMAIL_DRAIN_MAX (1024LL * 1024 * 1024)

enum sendmail_mode { MODE_DELIVER, MODE_SMTP, MODE_MAILQ, MODE_NEWALIASES, MODE_FLUSH };

struct sendmail_opts {
	enum sendmail_mode mode;
	bool extract_rcpt;      /* -t */
	bool dot_ok;            /* -i / -oi: a lone "." does not end the message */
	int verbose;            /* -v */
	const char *sender;     /* -f / -r */
	const char *full_name;  /* -F */
	const char *conf;       /* -C */
	int n_rcpts;
};

static int usage_fail(const char *prog, const char *why)
{
	fprintf(stderr, "%s: fatal: %s\n"
		"usage: %s [-t] [-i] [-f sender] [-F name] [-C conf] [-bm|-bs|-bp|-bi] [-q] recipient...\n",
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
		case 'B': case 'N': case 'R': case 'V': case 'X': case 'O': case 'h':
		case 'L': case 'p': case 'd':
			break; /* accepted; meaningful only once the queue exists */
		case 'o':
			if (strcmp(a, "-oi") == 0)
				o->dot_ok = true;
			/* -om, -o7, -o8, -oeX, -oA...: Postfix ignores them too. */
			break;
		case 'q':
			o->mode = MODE_FLUSH;
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

static void drain_stdin(void)
{
	char buf[65536];
	long long total = 0;
	ssize_t n;

	if (isatty(STDIN_FILENO))
		return;
	while (total < SENDMAIL_DRAIN_MAX && (n = read(STDIN_FILENO, buf, sizeof(buf))) > 0)
		total += n;
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
	if (o.mode == MODE_DELIVER && !o.extract_rcpt && o.n_rcpts == 0) {
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
	config_free(&cfg);
	free(conf_buf);
	switch (o.mode) {
	case MODE_DELIVER:
		drain_stdin();
		fprintf(stderr, "%s: fatal: cannot submit mail: " QUEUE_MISSING "\n", prog);
		break;
	case MODE_SMTP:
		/* The client on the other end speaks SMTP: tell it in SMTP. */
		printf("421 4.3.0 cannot accept mail: " QUEUE_MISSING "\r\n");
		fflush(stdout);
		fprintf(stderr, "%s: fatal: cannot submit mail: " QUEUE_MISSING "\n", prog);
		break;
	case MODE_MAILQ:
		fprintf(stderr, "%s: fatal: cannot list the mail queue: " QUEUE_MISSING "\n", prog);
		break;
	case MODE_FLUSH:
		fprintf(stderr, "%s: fatal: cannot flush the mail queue: " QUEUE_MISSING "\n", prog);
		break;
	case MODE_NEWALIASES:
		fprintf(stderr, "%s: fatal: cannot rebuild the aliases: aliases are read by the queue role, and " QUEUE_MISSING "\n",
			prog);
		break;
	}
	return EX_TEMPFAIL;
}
