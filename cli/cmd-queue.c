/*
 * cmd-queue.c - `postern queue`: Postfix's postqueue and postsuper.
 *
 *   postern queue list                    postqueue -p / mailq
 *   postern queue cat ID                  postcat -q ID
 *   postern queue flush [ID]              postqueue -f / postqueue -i ID
 *   postern queue delete ID|ALL|- [QUEUE]   postsuper -d
 *   postern queue hold ID|ALL|- [QUEUE]     postsuper -h
 *   postern queue release ID|ALL|-          postsuper -H
 *   postern queue requeue ID|ALL|- [QUEUE]  postsuper -r
 *
 * QUEUE is active, deferred, hold or incoming; "-" reads queue ids from
 * stdin, one per line, as postsuper does (mailq | awk ... | postern
 * queue delete -). list and cat only read the
 * files. The changes go to the queue role over queue_control_socket
 * (smtp/queue/queue-admin.h) when it runs - it knows which messages are
 * in delivery - and are done on the files directly (queue_admin_apply)
 * when nothing runs; flush needs the role and exits 75 (EX_TEMPFAIL)
 * without it. Reports are postsuper's lines on stderr, as postsuper
 * prints them: "postsuper: ID: removed", "postsuper: Deleted: 1 message".
 *
 * Called from cli/postern.c.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli-private.h"
#include "cli/cli.h"
#include "log.h"
#include "smtp/queue/queue-admin.h"

#define EX_TEMPFAIL 75

struct change {
	const char *verb;          /* subcommand */
	const char *request;       /* control protocol verb */
	enum queue_admin_op op;
	bool takes_queue;
	const char *done_one;      /* "ID: removed" */
	const char *summary;       /* "Deleted" */
};

static const struct change changes[] = {
	{ "delete", "DELETE", QADMIN_DELETE, true, "removed", "Deleted" },
	{ "hold", "HOLD", QADMIN_HOLD, true, "placed on hold", "Placed on hold" },
	{ "release", "RELEASE", QADMIN_RELEASE, false, "released from hold", "Released from hold" },
	{ "requeue", "REQUEUE", QADMIN_REQUEUE, true, "requeued", "Requeued" },
};

static int parse_queue(const char *name, enum qdir *d_r)
{
	static const enum qdir ok[] = { QDIR_ACTIVE, QDIR_DEFERRED, QDIR_HOLD, QDIR_INCOMING };

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		if (strcmp(name, qdir_name(ok[i])) == 0) {
			*d_r = ok[i];
			return 0;
		}
	}
	return -1;
}

/* report_one / report_total - postsuper's lines. */
static void report_one(const struct change *c, const char *id)
{
	fprintf(stderr, "postsuper: %s: %s\n", id, c->done_one);
}

static void report_total(const struct change *c, long n)
{
	if (n > 0)
		fprintf(stderr, "postsuper: %s: %ld message%s\n", c->summary, n, n > 1 ? "s" : "");
}

/* ask - one request to the queue role. 0 with the reply, -1 when the
 * role does not run, or 1 after printing a failure. */
static int ask(const struct config *cfg, const char *verb, const char *line, char *reply, size_t size)
{
	char *err = NULL;
	int rc = queue_control_request(config_str(cfg, "queue_control_socket"), line, reply, size, &err);

	if (rc == -1) {
		free(err);
		return -1;
	}
	if (rc < 0) {
		fprintf(stderr, "postern queue %s: %s\n", verb, err);
		free(err);
		return 1;
	}
	if (strncmp(reply, "ERR ", 4) == 0) {
		fprintf(stderr, "postern queue %s: %s\n", verb, reply + 4);
		return 1;
	}
	if (strncmp(reply, "OK", 2) != 0) {
		fprintf(stderr, "postern queue %s: unexpected reply from the queue role: %s\n", verb, reply);
		return 1;
	}
	return 0;
}

/*
 * change_one - c on id (a queue id or ALL) through the queue role, or on
 * the files once *direct says the role does not run (set here the first
 * time the socket is missing or refused). Returns the number of messages
 * changed, or -1 after printing why. quiet_missing: an id that is not in
 * the queue counts 0 without a word (postsuper -d - reading a list).
 */
static long change_one(const struct config *cfg, const struct change *c, const char *id, const char *queue,
		       enum qdir only, bool *direct, bool quiet_missing)
{
	char line[128], reply[1024], *err = NULL;
	enum qdir where;
	int n;

	if (!*direct) {
		snprintf(line, sizeof(line), "%s %s%s%s", c->request, id, queue ? " " : "", queue ? queue : "");
		int rc = ask(cfg, c->verb, line, reply, sizeof(reply));
		if (rc > 0)
			return -1;
		if (rc == 0)
			return strtol(reply + 2, NULL, 10);
		*direct = true;   /* no queue role: nothing else touches the files */
	}
	if (quiet_missing && qmsg_find(config_str(cfg, "queue_directory"), id, &where) < 0)
		return 0;
	n = queue_admin_apply(config_str(cfg, "queue_directory"), c->op, id, only, NULL, NULL, &err);
	if (n < 0) {
		fprintf(stderr, "postern queue %s: %s\n", c->verb, err);
		free(err);
		return -1;
	}
	return n;
}

/* change_stdin - postsuper's "-": one queue id per line of stdin. */
static int change_stdin(const struct config *cfg, const struct change *c, const char *queue, enum qdir only)
{
	char buf[256];
	bool direct = false;
	long total = 0;
	int rc = 0;

	while (fgets(buf, sizeof(buf), stdin) != NULL) {
		size_t len = strcspn(buf, "\r\n");
		bool whole = buf[len] != '\0' || feof(stdin);
		buf[len] = '\0';
		if (!whole) {
			/* An overlong line: skip the rest of it. */
			int ch;
			while ((ch = getchar()) != EOF && ch != '\n')
				;
		}
		if (buf[0] == '\0')
			continue;
		if (!whole || !qmsg_id_valid(buf)) {
			fprintf(stderr, "postsuper: warning: invalid mail queue id: %s\n", buf);
			continue;
		}
		long n = change_one(cfg, c, buf, queue, only, &direct, true);
		if (n < 0) {
			rc = 1;
			continue;
		}
		if (n > 0)
			report_one(c, buf);
		total += n;
	}
	report_total(c, total);
	return rc;
}

static int do_change(const struct config *cfg, const struct change *c, int argc, char **argv)
{
	const char *id, *queue = NULL;
	enum qdir only = QDIR_COUNT;
	bool direct = false;
	long n;

	if (argc < 3 || argc > (c->takes_queue ? 4 : 3))
		return -2;
	id = argv[2];
	if (argc == 4) {
		queue = argv[3];
		if (parse_queue(queue, &only) < 0) {
			fprintf(stderr, "postern queue %s: %s: unknown queue; use active, deferred, hold or incoming\n",
				c->verb, queue);
			return 2;
		}
	}
	if (strcmp(id, "-") == 0)
		return change_stdin(cfg, c, queue, only);
	if (strcmp(id, "ALL") != 0 && !qmsg_id_valid(id)) {
		fprintf(stderr, "postern queue %s: %s: not a queue id (12 upper-case hex digits, ALL or -)\n",
			c->verb, id);
		return 2;
	}
	n = change_one(cfg, c, id, queue, only, &direct, false);
	if (n < 0)
		return 1;
	if (n > 0 && strcmp(id, "ALL") != 0)
		report_one(c, id);
	report_total(c, n);
	return 0;
}

static int do_flush(const struct config *cfg, int argc, char **argv)
{
	char line[64], reply[1024];
	int rc;

	if (argc > 3)
		return -2;
	if (argc == 3 && !qmsg_id_valid(argv[2])) {
		fprintf(stderr, "postern queue flush: %s: not a queue id (12 upper-case hex digits)\n", argv[2]);
		return 2;
	}
	snprintf(line, sizeof(line), "FLUSH%s%s", argc == 3 ? " " : "", argc == 3 ? argv[2] : "");
	rc = ask(cfg, "flush", line, reply, sizeof(reply));
	if (rc < 0) {
		fprintf(stderr, "postern queue flush: the queue role is not running (start posternd)\n");
		return EX_TEMPFAIL;
	}
	return rc;
}

int cmd_queue(int argc, char **argv, const char *conf)
{
	struct config *cfg;
	const char *sub;
	char *err = NULL;
	int rc = -2;

	if (argc < 2)
		return cli_usage_error(argv[0]);
	sub = argv[1];
	cfg = cli_load_config(conf);
	if (cfg == NULL)
		return 1;
	if (strcmp(sub, "list") == 0 && argc == 2) {
		rc = queue_admin_list(config_str(cfg, "queue_directory"), stdout, &err) < 0 ? 1 : 0;
	} else if (strcmp(sub, "cat") == 0 && argc == 3) {
		rc = queue_admin_cat(config_str(cfg, "queue_directory"), argv[2], stdout, &err) < 0 ? 1 : 0;
	} else if (strcmp(sub, "flush") == 0) {
		rc = do_flush(cfg, argc, argv);
	} else {
		for (size_t i = 0; i < sizeof(changes) / sizeof(changes[0]); i++)
			if (strcmp(sub, changes[i].verb) == 0)
				rc = do_change(cfg, &changes[i], argc, argv);
	}
	if (err != NULL) {
		fprintf(stderr, "postern queue %s: %s\n", sub, err);
		free(err);
	}
	config_free(&cfg);
	return rc == -2 ? cli_usage_error(argv[0]) : rc;
}
