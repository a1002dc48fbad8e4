/*
 * cmd-deliver.c - `postern deliver [-f SENDER] [-a RECIPIENT] [-m MAILBOX]
 * USER < message`: a local delivery agent like dovecot-lda, for other
 * MTAs (Postfix mailbox_command / pipe(8)) and for tests.
 *
 * Exit status (sysexits.h, what MTAs expect from an LDA):
 *   0  delivered (or a duplicate that was already delivered)
 *   64 EX_USAGE      bad arguments
 *   67 EX_NOUSER     USER is in a virtual domain but not in the userdb
 *   75 EX_TEMPFAIL   try again later (I/O, locks, quota with quota_full_tempfail)
 *   77 EX_NOPERM     permanent failure: over quota, mail loop, bad location
 *   78 EX_CONFIG     the configuration cannot be loaded
 * The reason goes to stderr, which MTAs put into the bounce or log.
 *
 * The message is read from stdin; a pipe is first spooled to an unlinked
 * temporary file, so the store never holds its index lock while waiting
 * for a slow writer. Run as root, it becomes mail_owner first.
 * Called from cli/postern.c; the work is store_deliver().
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli-private.h"
#include "cli/cli-store.h"
#include "cli/cli.h"
#include "log.h"

#define EX_OK_ 0
#define EX_USAGE_ 64
#define EX_NOUSER_ 67
#define EX_TEMPFAIL_ 75
#define EX_NOPERM_ 77
#define EX_CONFIG_ 78

/* stdin as a seekable file: itself when it is a regular file, else a
 * spooled copy. -1 on error (printed). */
static int spool_stdin(void)
{
	struct stat st;
	char buf[65536];
	FILE *f;
	int fd;

	if (fstat(0, &st) == 0 && S_ISREG(st.st_mode))
		return dup(0);
	if ((f = tmpfile()) == NULL) {
		log_error("cannot create a temporary file for the message: %s", strerror(errno));
		return -1;
	}
	for (;;) {
		ssize_t n = read(0, buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			log_error("reading the message from stdin: %s", strerror(errno));
			fclose(f);
			return -1;
		}
		if (n == 0)
			break;
		if (fwrite(buf, 1, (size_t)n, f) != (size_t)n) {
			log_error("spooling the message: %s", strerror(errno));
			fclose(f);
			return -1;
		}
	}
	if (fflush(f) != 0 || (fd = dup(fileno(f))) < 0) {
		log_error("spooling the message: %s", strerror(errno));
		fclose(f);
		return -1;
	}
	fclose(f);
	lseek(fd, 0, SEEK_SET);
	return fd;
}

int cmd_deliver(int argc, char **argv, const char *conf)
{
	const char *sender = "MAILER-DAEMON", *mailbox = NULL, *recipient = NULL;
	struct store_deliver_req req;
	struct store_settings set;
	char *serr = NULL;
	struct cli_store_user cu;
	struct store_error err;
	struct config *cfg;
	uint32_t uid = 0;
	int i, rc, fd;

	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "-f") == 0 && i + 1 < argc)
			sender = argv[++i];
		else if (strcmp(argv[i], "-m") == 0 && i + 1 < argc)
			mailbox = argv[++i];
		else if (strcmp(argv[i], "-a") == 0 && i + 1 < argc)
			recipient = argv[++i];
		else {
			cli_usage_error(argv[0]);
			return EX_USAGE_;
		}
	}
	if (i != argc - 1) {
		cli_usage_error(argv[0]);
		return EX_USAGE_;
	}
	if ((cfg = cli_load_config(conf)) == NULL)
		return EX_CONFIG_;
	if (store_settings_from_config(&set, cfg, &serr) < 0) {
		log_error("%s", serr);
		free(serr);
		config_free(&cfg);
		return EX_CONFIG_;
	}
	if (cli_store_drop_privileges(cfg) < 0) {
		config_free(&cfg);
		return EX_TEMPFAIL_;
	}
	switch (cli_store_lookup(cfg, &set, argv[i], &cu)) {
	case CLI_STORE_NOUSER:
		log_error("%s: user unknown", argv[i]);
		config_free(&cfg);
		return EX_NOUSER_;
	case CLI_STORE_TEMPFAIL:
		config_free(&cfg);
		return EX_TEMPFAIL_;
	case CLI_STORE_FOUND:
		break;
	}
	if ((fd = spool_stdin()) < 0) {
		cli_store_user_clear(&cu);
		config_free(&cfg);
		return EX_TEMPFAIL_;
	}
	memset(&req, 0, sizeof(req));
	/* keep the +extension: store_deliver uses it for the folder */
	req.user = argv[i];
	req.location = cu.location;
	req.quota_bytes = cu.quota_bytes;
	req.mailbox = mailbox;
	req.sender = strcmp(sender, "<>") == 0 ? "" : sender;
	req.recipient = recipient;
	req.fd = fd;
	{
		char lower[512];

		str_copy(lower, argv[i], sizeof(lower));
		str_lower(lower);
		req.user = lower;
		rc = store_deliver(&set, &req, &uid, &err);
	}
	close(fd);
	cli_store_user_clear(&cu);
	if (rc < 0) {
		log_error("%s: delivery failed: %s", argv[i], err.text);
		rc = store_error_is_temp(&set, &err) ? EX_TEMPFAIL_ : EX_NOPERM_;
	} else {
		rc = EX_OK_;
	}
	config_free(&cfg);
	return rc;
}
