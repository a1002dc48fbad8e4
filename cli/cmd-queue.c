/*
 * cmd-queue.c - `postern queue`: Postfix's postqueue and postsuper.
 *
 *   postern queue list                    postqueue -p / mailq
 *   postern queue cat ID                  postcat -q ID
 *   postern queue flush [ID]              postqueue -f / postqueue -i ID
 *   postern queue delete ID|ALL [QUEUE]   postsuper -d
 *   postern queue hold ID|ALL [QUEUE]     postsuper -h
 *   postern queue release ID|ALL          postsuper -H
 *   postern queue requeue ID|ALL [QUEUE]  postsuper -r
 *
 * QUEUE is active, deferred, hold or incoming. list and cat only read the
 * files. The changes go to the queue role over queue_control_socket
 * (smtp/queue/queue-admin.h) when it runs - it knows which messages are
 * in delivery - and are done on the files directly (queue_admin_apply)
 * when nothing runs; flush needs the role and exits 75 (EX_TEMPFAIL)
 * without it. Reports are postsuper's lines on stderr, as postsuper
 * prints them: "postsuper: ID: removed", "postsuper: Deleted: 1 message".
 *
 * Called from cli/postern.c.
 */
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

static void report(const struct change *c, const char *id, int n)
{
	if (n <= 0)
		return;
	if (strcmp(id, "ALL") != 0)
		fprintf(stderr, "postsuper: %s: %s\n", id, c->done_one);
	fprintf(stderr, "postsuper: %s: %d message%s\n", c->summary, n, n > 1 ? "s" : "");
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

static int do_change(const struct config *cfg, const struct change *c, int argc, char **argv)
{
	const char *id, *queue = NULL;
	enum qdir only = QDIR_COUNT;
	char line[128], reply[1024], *err = NULL;
	int n, rc;

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
	if (strcmp(id, "ALL") != 0 && !qmsg_id_valid(id)) {
		fprintf(stderr, "postern queue %s: %s: not a queue id (12 upper-case hex digits, or ALL)\n", c->verb,
			id);
		return 2;
	}
	snprintf(line, sizeof(line), "%s %s%s%s", c->request, id, queue ? " " : "", queue ? queue : "");
	rc = ask(cfg, c->verb, line, reply, sizeof(reply));
	if (rc > 0)
		return 1;
	if (rc == 0) {
		n = atoi(reply + 2);
		report(c, id, n);
		return 0;
	}
	/* No queue role: nothing else touches the files. */
	n = queue_admin_apply(config_str(cfg, "queue_directory"), c->op, id, only, NULL, NULL, &err);
	if (n < 0) {
		fprintf(stderr, "postern queue %s: %s\n", c->verb, err);
		free(err);
		return 1;
	}
	report(c, id, n);
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
