/*
 * userdb-sync.c - a blocking client of the auth role's userdb socket
 * (auth/auth-userdb.h), for the queue role's worker threads:
 *
 *   S: VERSION\t1\t0  SPID\tpid       C: VERSION\t1\t0
 *   C: USER\tid\tname\tservice=smtp
 *   S: USER\tid\tcanonical\tbackend=virtual|pam[\tenabled=0][\tquota_bytes=N][\tmail=LOC]
 *    | NOTFOUND\tid | FAIL\tid\treason=R
 *
 * Each thread has its own connection (a pthread key), made on first use
 * and made again after any error; a look-up waits at most
 * USERDB_TIMEOUT_MS for each reply. backend=pam users get uid, gid and
 * home from getpwnam_r (their ~/.forward is read from there).
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "smtp/resolve/resolve-private.h"

#define USERDB_TIMEOUT_MS 10000
#define USERDB_LINE_MAX 8192

struct resolve_userdb {
	char *path;
	pthread_key_t key;
};

struct userdb_conn {
	int fd;
	unsigned next_id;
	char buf[USERDB_LINE_MAX];
	size_t len;
};

static void conn_destroy(void *p)
{
	struct userdb_conn *c = p;

	if (c) {
		if (c->fd >= 0)
			close(c->fd);
		free(c);
	}
}

struct resolve_userdb *resolve_userdb_new(const char *socket_path)
{
	struct resolve_userdb *u = calloc(1, sizeof(*u));

	if (u == NULL)
		return NULL;
	u->path = strdup(socket_path);
	if (u->path == NULL || pthread_key_create(&u->key, conn_destroy) != 0) {
		free(u->path);
		free(u);
		return NULL;
	}
	return u;
}

void resolve_userdb_free(struct resolve_userdb **up)
{
	struct resolve_userdb *u = *up;

	if (u == NULL)
		return;
	/* Only the calling thread's connection can be reached here; the
	 * others are closed by their threads' exit (the key's destructor). */
	conn_destroy(pthread_getspecific(u->key));
	pthread_setspecific(u->key, NULL);
	pthread_key_delete(u->key);
	free(u->path);
	free(u);
	*up = NULL;
}

/* read_line - the next line (without \n) into line; 0, or -1. */
static int read_line(struct userdb_conn *c, char *line, size_t size)
{
	for (;;) {
		char *nl = memchr(c->buf, '\n', c->len);
		struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
		ssize_t n;

		if (nl) {
			size_t l = (size_t)(nl - c->buf);

			if (l >= size)
				return -1;
			memcpy(line, c->buf, l);
			line[l] = '\0';
			if (l > 0 && line[l - 1] == '\r')
				line[l - 1] = '\0';
			memmove(c->buf, nl + 1, c->len - l - 1);
			c->len -= l + 1;
			return 0;
		}
		if (c->len == sizeof(c->buf))
			return -1;
		if (poll(&pfd, 1, USERDB_TIMEOUT_MS) <= 0)
			return -1;
		n = read(c->fd, c->buf + c->len, sizeof(c->buf) - c->len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		c->len += (size_t)n;
	}
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* conn_get - this thread's connection; *fresh_r: made just now. */
static struct userdb_conn *conn_get(struct resolve_userdb *u, bool *fresh_r)
{
	struct userdb_conn *c = pthread_getspecific(u->key);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char line[USERDB_LINE_MAX];

	*fresh_r = c == NULL;
	if (c)
		return c;
	if (str_copy(sa.sun_path, u->path, sizeof(sa.sun_path)) >= sizeof(sa.sun_path))
		return NULL;
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return NULL;
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		log_warn("resolve: userdb %s: %s; is the auth role running?", u->path, strerror(errno));
		goto fail;
	}
	if (write_all(c->fd, "VERSION\t1\t0\n", 12) < 0)
		goto fail;
	/* The greeting: VERSION 1 x, then SPID. */
	if (read_line(c, line, sizeof(line)) < 0 || strncmp(line, "VERSION\t1\t", 10) != 0) {
		log_warn("resolve: userdb %s: no VERSION 1 greeting", u->path);
		goto fail;
	}
	pthread_setspecific(u->key, c);
	return c;
fail:
	conn_destroy(c);
	return NULL;
}

static void conn_drop(struct resolve_userdb *u)
{
	conn_destroy(pthread_getspecific(u->key));
	pthread_setspecific(u->key, NULL);
}

static bool field_ok(const char *s)
{
	return s[0] != '\0' && strlen(s) < 512 && strpbrk(s, "\t\r\n") == NULL;
}

/* Fill out from the USER reply fields after the id. */
static void parse_user(char *rest, struct resolve_user *out)
{
	char *save = NULL, *f = strtok_r(rest, "\t", &save);

	if (f)
		str_copy(out->name, f, sizeof(out->name));
	while ((f = strtok_r(NULL, "\t", &save)) != NULL) {
		if (strcmp(f, "backend=pam") == 0)
			out->system = true;
		else if (str_has_prefix(f, "mail="))
			str_copy(out->mail, f + 5, sizeof(out->mail));
		else if (str_has_prefix(f, "quota_bytes="))
			out->quota_bytes = strtoull(f + 12, NULL, 10);
	}
	if (out->system) {
		char acct[256], buf[4096];
		struct passwd pw, *res = NULL;

		str_copy(acct, out->name, sizeof(acct));
		if (strchr(acct, '@'))
			*strchr(acct, '@') = '\0';
		if (getpwnam_r(acct, &pw, buf, sizeof(buf), &res) == 0 && res) {
			out->uid = pw.pw_uid;
			out->gid = pw.pw_gid;
			str_copy(out->home, pw.pw_dir, sizeof(out->home));
		} else {
			/* The auth role saw it a moment ago; without home no .forward. */
			out->system = false;
		}
	}
}

enum resolve_lookup resolve_userdb_lookup(void *ctx, const char *name, struct resolve_user *out)
{
	struct resolve_userdb *u = ctx;
	char req[700], line[USERDB_LINE_MAX], idstr[16];

	memset(out, 0, sizeof(*out));
	if (!field_ok(name))
		return RESOLVE_NOTFOUND;
	/* A kept connection may have been closed by a restarted auth role
	 * meanwhile: a failure on it is tried once more on a new one. */
	for (int attempt = 0; attempt < 2; attempt++) {
		bool fresh;
		struct userdb_conn *c = conn_get(u, &fresh);
		unsigned id;
		int n;

		if (c == NULL)
			return RESOLVE_TEMPFAIL;
		id = ++c->next_id;
		n = snprintf(req, sizeof(req), "USER\t%u\t%s\tservice=smtp\n", id, name);
		snprintf(idstr, sizeof(idstr), "%u", id);
		if (n < 0 || (size_t)n >= sizeof(req) || write_all(c->fd, req, (size_t)n) < 0) {
			conn_drop(u);
			if (fresh)
				return RESOLVE_TEMPFAIL;
			continue;
		}
		for (;;) {
			char *save = NULL, *cmd, *rid, *rest;

			if (read_line(c, line, sizeof(line)) < 0) {
				conn_drop(u);
				break;
			}
			cmd = strtok_r(line, "\t", &save);
			rid = strtok_r(NULL, "\t", &save);
			rest = save;
			/* The greeting's SPID (whose pid may look like an id), an
			 * old answer: not ours. */
			if (cmd == NULL || rid == NULL || strcmp(rid, idstr) != 0 ||
			    (strcmp(cmd, "USER") != 0 && strcmp(cmd, "NOTFOUND") != 0 &&
			     strcmp(cmd, "FAIL") != 0))
				continue;
			if (strcmp(cmd, "USER") == 0) {
				parse_user(rest ? rest : (char *)"", out);
				if (out->name[0] == '\0')
					str_copy(out->name, name, sizeof(out->name));
				return RESOLVE_FOUND;
			}
			if (strcmp(cmd, "NOTFOUND") == 0)
				return RESOLVE_NOTFOUND;
			log_warn("resolve: userdb look-up of %s: %s %s", name, cmd, rest ? rest : "");
			return RESOLVE_TEMPFAIL;
		}
		if (fresh)
			return RESOLVE_TEMPFAIL;
	}
	return RESOLVE_TEMPFAIL;
}
