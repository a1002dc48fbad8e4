/*
 * test_master_unix.c - unit tests for master-unix.c, the unix sockets the
 * master creates for roles: mode and group of a new socket, a missing
 * parent directory, removal of a stale socket, refusal of a file that is
 * not a socket and of a socket someone still accepts on, the auth role's
 * declaration (auth_socket_mode must be octal, unknown group), and reuse
 * versus re-creation on reload. The process-level behaviour (the auth
 * role gets the fds, Postfix connects) is tests/integration/test_auth.py
 * and tests/interop/test_postfix_sasl.py.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "auth/auth-role.h"
#include "config.h"
#include "master/master.h"
#include "role.h"
#include "util.h"

struct fixture {
	char dir[64];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/postern-unix-XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

/* A group to give sockets: "mail" as root (any group works), otherwise
 * our own. */
static gid_t test_gid(void)
{
	struct group *gr = geteuid() == 0 ? getgrnam("mail") : NULL;

	return gr ? gr->gr_gid : getegid();
}

static void test_create_mode_and_group(void **state)
{
	struct fixture *f = *state;
	char *path = must_asprintf("%s/sub/auth", f->dir);
	char *sub = must_asprintf("%s/sub", f->dir);
	char *err = NULL;
	struct stat st, sst;
	int fd = -1;

	assert_int_equal(master_unix_create("auth_socket_path", path, 0660, geteuid(), test_gid(),
					    &fd, &sst, &err), 0);
	assert_null(err);
	assert_true(fd >= 0);
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0660);
	assert_int_equal(st.st_gid, test_gid());
	assert_int_equal(st.st_uid, geteuid());
	assert_int_equal(st.st_ino, sst.st_ino);
	/* The missing directory was made, 0755, whatever the umask. */
	assert_int_equal(stat(sub, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0755);
	/* It accepts connections, and the fd is non-blocking and CLOEXEC. */
	assert_true(fcntl(fd, F_GETFL) & O_NONBLOCK);
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	{
		struct sockaddr_un sun = { .sun_family = AF_UNIX };
		int c = socket(AF_UNIX, SOCK_STREAM, 0);

		str_copy(sun.sun_path, path, sizeof(sun.sun_path));
		assert_int_equal(connect(c, (struct sockaddr *)&sun, sizeof(sun)), 0);
		close(c);
	}
	close(fd);
	free(path);
	free(sub);
}

static void test_stale_socket_is_replaced(void **state)
{
	struct fixture *f = *state;
	char *path = must_asprintf("%s/auth", f->dir);
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct stat before, after;
	char *err = NULL;
	int old, fd = -1;

	/* A socket file nobody listens on: what a killed posternd leaves. */
	str_copy(sun.sun_path, path, sizeof(sun.sun_path));
	old = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_int_equal(bind(old, (struct sockaddr *)&sun, sizeof(sun)), 0);
	close(old);
	assert_int_equal(lstat(path, &before), 0);
	assert_int_equal(master_unix_create("auth_socket_path", path, 0600, geteuid(), getegid(),
					    &fd, NULL, &err), 0);
	assert_int_equal(lstat(path, &after), 0);
	assert_true(S_ISSOCK(after.st_mode));
	assert_int_equal(after.st_mode & 07777, 0600);
	close(fd);
	free(path);
}

static void test_refuses_what_is_not_ours_to_remove(void **state)
{
	struct fixture *f = *state;
	char *path = must_asprintf("%s/auth", f->dir);
	char *expect;
	char *err = NULL;
	struct stat st;
	int fd = -1, live = -1;

	/* A regular file: never removed. */
	assert_int_equal(close(open(path, O_WRONLY | O_CREAT, 0644)), 0);
	assert_int_equal(master_unix_create("F:3: auth_socket_path", path, 0660, geteuid(), getegid(),
					    &fd, NULL, &err), -1);
	assert_int_equal(fd, -1);
	expect = must_asprintf("F:3: auth_socket_path: %s exists and is not a socket; remove it or choose another path",
			       path);
	assert_string_equal(err, expect);
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	x_free(&err);
	free(expect);
	unlink(path);

	/* A socket some program accepts on: not stale, not ours. */
	assert_int_equal(master_unix_create("x", path, 0660, geteuid(), getegid(), &live, NULL, &err), 0);
	assert_int_equal(master_unix_create("F:3: auth_socket_path", path, 0660, geteuid(), getegid(),
					    &fd, NULL, &err), -1);
	expect = must_asprintf("F:3: auth_socket_path: %s is in use by another program (maybe another posternd or Dovecot); stop it or choose another path",
			       path);
	assert_string_equal(err, expect);
	x_free(&err);
	free(expect);
	close(live);

	/* Relative and overlong paths. */
	assert_int_equal(master_unix_create("p", "run/auth", 0660, geteuid(), getegid(), &fd, NULL, &err), -1);
	assert_string_equal(err, "p: \"run/auth\" is not an absolute path; give the full path of the socket");
	x_free(&err);
	{
		char longp[200];

		memset(longp, 'a', sizeof(longp) - 1);
		longp[0] = '/';
		longp[sizeof(longp) - 1] = '\0';
		assert_int_equal(master_unix_create("p", longp, 0660, geteuid(), getegid(), &fd, NULL, &err), -1);
		assert_non_null(strstr(err, "is longer than 107 bytes, the limit for a unix socket; choose a shorter path"));
		x_free(&err);
	}
	free(path);
}

/* A configuration in f->dir with the given extra lines. */
static struct config *load(struct fixture *f, const char *extra)
{
	char *conf = must_asprintf("%s/postern.conf", f->dir);
	FILE *fp = fopen(conf, "w");
	struct config *cfg;

	assert_non_null(fp);
	fprintf(fp, "run_directory = %s/run\ndata_directory = %s/data\nqueue_directory = %s/queue\n%s",
		f->dir, f->dir, f->dir, extra);
	fclose(fp);
	cfg = config_load(conf, NULL, NULL);
	assert_non_null(cfg);
	free(conf);
	return cfg;
}

static void identity(struct master_identity *id)
{
	memset(id, 0, sizeof(*id));
	id->drop = false;
	id->uid = geteuid();
	id->gid = getegid();
	id->user = (char *)"tester";
}

static void test_auth_declaration(void **state)
{
	struct fixture *f = *state;
	struct role_unix_socket specs[ROLE_MAX_UNIX_SOCKETS];
	struct config *cfg = load(f, "auth_socket_mode = 0640\nauth_socket_group = mail\n");
	char *err = NULL;
	char *path;

	assert_int_equal(auth_role_unix_sockets(cfg, specs, ROLE_MAX_UNIX_SOCKETS, &err), 2);
	assert_string_equal(specs[0].name, "auth");
	path = must_asprintf("%s/run/auth", f->dir);
	assert_string_equal(specs[0].path, path);
	free(path);
	assert_int_equal(specs[0].mode, 0640);
	assert_string_equal(specs[0].group, "mail");
	assert_string_equal(specs[1].name, "auth-userdb");
	assert_int_equal(specs[1].mode, 0600);
	assert_string_equal(specs[1].group, "");
	config_free(&cfg);

	cfg = load(f, "auth_socket_mode = rw-rw----\n");
	assert_int_equal(auth_role_unix_sockets(cfg, specs, ROLE_MAX_UNIX_SOCKETS, &err), -1);
	path = must_asprintf("%s/postern.conf:4: auth_socket_mode: \"rw-rw----\" is not an octal mode; write e.g. 0660",
			     f->dir);
	assert_string_equal(err, path);
	free(path);
	x_free(&err);
	config_free(&cfg);
}

static void test_prepare_unknown_group(void **state)
{
	struct fixture *f = *state;
	struct config *cfg = load(f, "auth_socket_group = postfx-no-such\n");
	struct master_unix_sockets out;
	struct master_identity id;
	char *err = NULL;
	char *expect;
	char *sock = must_asprintf("%s/run/auth", f->dir);

	identity(&id);
	assert_int_equal(master_unix_prepare(cfg, &id, NULL, &out, &err), -1);
	expect = must_asprintf("%s/postern.conf:4: auth_socket_group: no group \"postfx-no-such\"; create it or fix the name",
			       f->dir);
	assert_string_equal(err, expect);
	assert_int_equal(out.n, 0);
	/* All or nothing: the userdb socket declared later was not made, and
	 * nothing is left behind. */
	assert_int_equal(access(sock, F_OK), -1);
	free(expect);
	free(err);
	free(sock);
	config_free(&cfg);
}

static const struct master_unix_socket *by_name(const struct master_unix_sockets *s, const char *name)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->items[i].name, name) == 0)
			return &s->items[i];
	return NULL;
}

static void test_reload_keeps_or_recreates(void **state)
{
	struct fixture *f = *state;
	struct config *cfg = load(f, "auth_socket_mode = 0660\n");
	struct master_unix_sockets run, next;
	struct master_identity id;
	char *err = NULL;
	char *auth = must_asprintf("%s/run/auth", f->dir);
	char *userdb = must_asprintf("%s/run/auth-userdb", f->dir);
	struct stat a1, a2, u1, u2;
	int auth_fd;

	identity(&id);
	assert_int_equal(master_unix_prepare(cfg, &id, NULL, &run, &err), 0);
	master_unix_commit(NULL, &run);
	/* auth's two sockets and the queue role's pickup and control */
	assert_int_equal(run.n, 4);
	assert_non_null(by_name(&run, "pickup"));
	assert_non_null(by_name(&run, "control"));
	assert_int_equal(lstat(auth, &a1), 0);
	assert_int_equal(lstat(userdb, &u1), 0);
	assert_int_equal(a1.st_mode & 0777, 0660);
	assert_int_equal(u1.st_mode & 0777, 0600);
	auth_fd = by_name(&run, "auth")->fd;
	config_free(&cfg);

	/* Unchanged: same fd, same inode. */
	cfg = load(f, "auth_socket_mode = 0660\n");
	assert_int_equal(master_unix_prepare(cfg, &id, &run, &next, &err), 0);
	assert_int_equal(by_name(&next, "auth")->fd, auth_fd);
	master_unix_commit(&run, &next);
	run = next;
	assert_int_equal(lstat(auth, &a2), 0);
	assert_int_equal(a2.st_ino, a1.st_ino);
	config_free(&cfg);

	/* An aborted reload leaves the running sockets alone. */
	cfg = load(f, "auth_socket_mode = 0600\n");
	assert_int_equal(master_unix_prepare(cfg, &id, &run, &next, &err), 0);
	master_unix_abort(&next);
	assert_int_equal(lstat(auth, &a2), 0);
	assert_int_equal(a2.st_ino, a1.st_ino);
	assert_int_equal(a2.st_mode & 0777, 0660);
	assert_true(fcntl(auth_fd, F_GETFD) >= 0);
	config_free(&cfg);

	/* Mode changed: a new socket at the same path; the other one stays. */
	cfg = load(f, "auth_socket_mode = 0600\n");
	assert_int_equal(master_unix_prepare(cfg, &id, &run, &next, &err), 0);
	master_unix_commit(&run, &next);
	run = next;
	assert_int_equal(lstat(auth, &a2), 0);
	assert_true(S_ISSOCK(a2.st_mode));
	assert_int_not_equal(a2.st_ino, a1.st_ino);
	assert_int_equal(a2.st_mode & 0777, 0600);
	assert_int_equal(lstat(userdb, &u2), 0);
	assert_int_equal(u2.st_ino, u1.st_ino);
	config_free(&cfg);

	/* Path changed: the old file goes, the new one appears. */
	cfg = load(f, "auth_socket_mode = 0600\nauth_socket_path = $run_directory/auth2\n");
	assert_int_equal(master_unix_prepare(cfg, &id, &run, &next, &err), 0);
	master_unix_commit(&run, &next);
	run = next;
	assert_int_equal(access(auth, F_OK), -1);
	assert_non_null(by_name(&run, "auth"));
	assert_non_null(strstr(by_name(&run, "auth")->path, "/run/auth2"));
	config_free(&cfg);

	/* Stop: every socket file is removed. */
	master_unix_close(&run, true);
	assert_int_equal(access(userdb, F_OK), -1);
	free(auth);
	free(userdb);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_create_mode_and_group, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stale_socket_is_replaced, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refuses_what_is_not_ours_to_remove, setup, teardown),
		cmocka_unit_test_setup_teardown(test_auth_declaration, setup, teardown),
		cmocka_unit_test_setup_teardown(test_prepare_unknown_group, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reload_keeps_or_recreates, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
