/*
 * auth-userdb.c - server side of the userdb socket (auth-userdb.h): user
 * lookups for delivery and login (mail location, quota) and the
 * sender-login data for smtpd's reject_sender_login_mismatch (a user's own
 * address plus the aliases it owns).
 */
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth/auth-userdb.h"
#include "auth/userdb.h"
#include "log.h"
#include "util.h"

struct auth_userdb_conn {
	const struct auth_userdb_settings *set;
	auth_write_fn *write;
	void *io_ctx;
	bool got_version;
};

static void out_line(struct auth_userdb_conn *conn, struct strbuf *sb)
{
	if (strbuf_putc(sb, '\n') == 0)
		conn->write(conn->io_ctx, sb->data, sb->len);
	strbuf_free(sb);
}

struct auth_userdb_conn *auth_userdb_conn_new(const struct auth_userdb_settings *set,
					      auth_write_fn *write, void *io_ctx)
{
	struct auth_userdb_conn *conn = calloc(1, sizeof(*conn));
	char greet[64];
	int n;

	if (conn == NULL)
		return NULL;
	conn->set = set;
	conn->write = write;
	conn->io_ctx = io_ctx;
	n = snprintf(greet, sizeof(greet), "VERSION\t1\t0\nSPID\t%ld\n", (long)getpid());
	write(io_ctx, greet, (size_t)n);
	return conn;
}

void auth_userdb_conn_free(struct auth_userdb_conn **conn)
{
	x_free(conn);
}

/* A system account for name under the PAM mapping: 1 yes, 0 no. */
static int system_user(const struct auth_userdb_settings *set, const char *name)
{
	char acct[256], buf[4096];
	struct passwd pw, *res = NULL;
	const char *at = strrchr(name, '@');
	size_t n = set->pam_localpart && at ? (size_t)(at - name) : strlen(name);

	if (!set->pam || n == 0 || n >= sizeof(acct))
		return 0;
	memcpy(acct, name, n);
	acct[n] = '\0';
	return getpwnam_r(acct, &pw, buf, sizeof(buf), &res) == 0 && res != NULL;
}

static int cmd_lookup(struct auth_userdb_conn *conn, const char *id, const char *name, bool senders)
{
	const struct auth_userdb_settings *set = conn->set;
	char user[MECH_USERNAME_MAX + 64];
	struct strbuf sb;
	struct userdb_user u;
	char *err = NULL;
	int r = 0;

	strbuf_init(&sb, AUTH_LINE_MAX);
	if (!mech_username_valid(name, strlen(name)) ||
	    !auth_username_normalize(set->auth, name, user, sizeof(user))) {
		strbuf_printf(&sb, "NOTFOUND\t%s", id);
		out_line(conn, &sb);
		return 0;
	}
	if (set->db)
		r = userdb_user_get(set->db, user, &u, &err);
	if (r < 0) {
		log_error("auth: userdb lookup of %s: %s", user, err);
		free(err);
		strbuf_printf(&sb, "FAIL\t%s\treason=user database unavailable", id);
	} else if (r > 0) {
		if (senders) {
			strbuf_printf(&sb, "SENDERS\t%s\t%s", id, u.address);
			for (size_t i = 0; i < u.n_aliases; i++)
				strbuf_printf(&sb, "\t%s", u.aliases[i]);
		} else {
			strbuf_printf(&sb, "USER\t%s\t%s\tbackend=virtual", id, u.address);
			if (!u.enabled)
				strbuf_puts(&sb, "\tenabled=0");
			if (u.quota_bytes > 0)
				strbuf_printf(&sb, "\tquota_bytes=%lld", u.quota_bytes);
			if (u.mail)
				strbuf_printf(&sb, "\tmail=%s", u.mail);
		}
		userdb_user_clear(&u);
	} else if (system_user(set, user)) {
		if (senders)
			strbuf_printf(&sb, "SENDERS\t%s\t%s", id, user);
		else
			strbuf_printf(&sb, "USER\t%s\t%s\tbackend=pam", id, user);
	} else {
		strbuf_printf(&sb, "NOTFOUND\t%s", id);
	}
	out_line(conn, &sb);
	return 0;
}

static bool id_valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 10)
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

int auth_userdb_conn_line(struct auth_userdb_conn *conn, const char *line, size_t len)
{
	char buf[AUTH_LINE_MAX + 1];
	char *f[8];
	size_t n = 0;

	if (len > 0 && line[len - 1] == '\r')
		len--;
	if (len > AUTH_LINE_MAX || memchr(line, '\0', len)) {
		log_warn("auth: userdb client: overlong line or NUL byte; disconnecting");
		return -1;
	}
	memcpy(buf, line, len);
	buf[len] = '\0';
	f[n++] = buf;
	for (char *p = buf; *p && n < 8; p++)
		if (*p == '\t') {
			*p = '\0';
			f[n++] = p + 1;
		}
	if (strcmp(f[0], "VERSION") == 0 && !conn->got_version && n >= 3 && strcmp(f[1], "1") == 0) {
		conn->got_version = true;
		return 0;
	}
	if (!conn->got_version) {
		log_warn("auth: userdb client: first line is not VERSION 1; disconnecting");
		return -1;
	}
	if ((strcmp(f[0], "USER") == 0 || strcmp(f[0], "SENDERS") == 0) && n >= 3 && id_valid(f[1]))
		return cmd_lookup(conn, f[1], f[2], f[0][0] == 'S');
	log_warn("auth: userdb client: unknown or malformed command; disconnecting");
	return -1;
}
