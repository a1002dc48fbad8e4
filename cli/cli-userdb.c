/*
 * cli-userdb.c - what `postern user`, `postern domain`, `postern auth` and
 * `postern init` share: opening the user database with the right owner,
 * and reading a password without echo (/dev/tty + termios, like passwd(1)).
 */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "auth/password.h"
#include "auth/userdb.h"
#include "cli/cli-private.h"
#include "log.h"

int cli_userdb_open(const struct config *cfg, struct userdb **db_r)
{
	const char *dir = config_str(cfg, "auth_user_database");
	char *err = NULL;

	if (userdb_open(dir, USERDB_CREATE, db_r, &err) < 0) {
		log_error("auth_user_database: %s", err);
		free(err);
		return -1;
	}
	return 0;
}

int cli_userdb_close(const struct config *cfg, struct userdb **db)
{
	const char *dir = config_str(cfg, "auth_user_database");
	char *err = NULL;

	userdb_close(db);
	if (geteuid() != 0)
		return 0;
	const char *owner = config_str(cfg, "mail_owner");
	struct passwd *pw = getpwnam(owner);
	if (pw == NULL) {
		log_error("mail_owner: no such user \"%s\"; the user database stays owned by root, "
			  "create the user or fix mail_owner", owner);
		return -1;
	}
	if (userdb_chown(dir, pw->pw_uid, pw->pw_gid, &err) < 0) {
		log_error("%s", err);
		free(err);
		return -1;
	}
	return 0;
}

/* One line from f into buf without the newline; -1 on EOF/overlong. */
static int read_line(FILE *f, char *buf, size_t size)
{
	if (fgets(buf, (int)size, f) == NULL)
		return -1;
	size_t n = strlen(buf);
	if (n > 0 && buf[n - 1] == '\n')
		buf[--n] = '\0';
	else if (!feof(f))
		return -1;
	if (n > 0 && buf[n - 1] == '\r')
		buf[--n] = '\0';
	return 0;
}

static int tty_prompt(FILE *tty, const char *prompt, char *buf, size_t size)
{
	struct termios old, noecho;
	int fd = fileno(tty), r;

	fprintf(tty, "%s", prompt);
	fflush(tty);
	if (tcgetattr(fd, &old) < 0)
		return -1;
	noecho = old;
	noecho.c_lflag &= ~(tcflag_t)ECHO;
	noecho.c_lflag |= ECHONL;
	tcsetattr(fd, TCSAFLUSH, &noecho);
	r = read_line(tty, buf, size);
	tcsetattr(fd, TCSAFLUSH, &old);
	return r;
}

char *cli_read_password(const char *prompt, bool confirm, bool from_stdin)
{
	char a[PASSWORD_MAX_LEN + 2], b[PASSWORD_MAX_LEN + 2];
	char *res = NULL;

	if (from_stdin) {
		if (read_line(stdin, a, sizeof(a)) < 0) {
			log_error("--password-stdin: no password line on standard input (or longer than %d bytes)",
				  PASSWORD_MAX_LEN);
			return NULL;
		}
	} else {
		FILE *tty = fopen("/dev/tty", "r+");
		if (tty == NULL) {
			log_error("no terminal to ask for the password (%s); use --password-stdin",
				  strerror(errno));
			return NULL;
		}
		int r = tty_prompt(tty, prompt, a, sizeof(a));
		if (r == 0 && confirm) {
			r = tty_prompt(tty, "Retype password: ", b, sizeof(b));
			if (r == 0 && strcmp(a, b) != 0) {
				log_error("the passwords differ; nothing changed");
				r = -2;
			}
		}
		fclose(tty);
		sodium_memzero(b, sizeof(b));
		if (r < 0) {
			if (r == -1)
				log_error("could not read the password from the terminal");
			sodium_memzero(a, sizeof(a));
			return NULL;
		}
	}
	if (a[0] == '\0') {
		log_error("empty password refused");
	} else if (strlen(a) > PASSWORD_MAX_LEN) {
		log_error("password longer than %d bytes refused", PASSWORD_MAX_LEN);
	} else {
		res = must_strdup(a);
	}
	sodium_memzero(a, sizeof(a));
	return res;
}
