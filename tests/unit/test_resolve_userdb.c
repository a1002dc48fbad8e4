/*
 * test_resolve_userdb.c - the blocking userdb client (smtp/resolve/
 * userdb-sync.c) against the auth role's real userdb protocol code
 * (auth/auth-userdb.c) served on a unix socket by a thread: system users
 * (uid, gid, home from getpwnam), unknown users, hostile names, a server
 * that closes the connection (one reconnect), no server (TEMPFAIL), and
 * one connection per thread.
 */
#include <pthread.h>
#include <pwd.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "auth/auth-userdb.h"
#include "resolve_test_util.h"

static char sock_path[300];
static int listen_fd = -1;
static pthread_t server_thread;
static int connections;
static bool close_after_one;   /* the server hangs up after each answer */
static pthread_mutex_t server_lock = PTHREAD_MUTEX_INITIALIZER;

static struct auth_settings aset = { .username_lowercase = true, .default_realm = "" };
static struct auth_userdb_settings uset = { .db = NULL, .pam = true, .pam_localpart = true,
					    .auth = &aset };

static void write_fd(void *ctx, const char *data, size_t len)
{
	int fd = *(int *)ctx;

	while (len > 0) {
		ssize_t w = send(fd, data, len, MSG_NOSIGNAL);

		if (w <= 0)
			return;
		data += w;
		len -= (size_t)w;
	}
}

static void *serve_conn(void *arg)
{
	int fd = (int)(intptr_t)arg;
	struct auth_userdb_conn *c = auth_userdb_conn_new(&uset, write_fd, &fd);
	char buf[8192];
	size_t len = 0;
	bool answered = false;

	for (;;) {
		ssize_t n = read(fd, buf + len, sizeof(buf) - len);
		char *nl;

		if (n <= 0)
			break;
		len += (size_t)n;
		while ((nl = memchr(buf, '\n', len)) != NULL) {
			size_t l = (size_t)(nl - buf);
			int rc = auth_userdb_conn_line(c, buf, l);

			if (l > 4 && strncmp(buf, "USER", 4) == 0)
				answered = true;
			memmove(buf, nl + 1, len - l - 1);
			len -= l + 1;
			if (rc < 0 || (answered && close_after_one))
				goto out;
		}
	}
out:
	auth_userdb_conn_free(&c);
	close(fd);
	return NULL;
}

static void *server(void *arg)
{
	(void)arg;
	for (;;) {
		int fd = accept(listen_fd, NULL, NULL);
		pthread_t t;

		if (fd < 0)
			return NULL;
		pthread_mutex_lock(&server_lock);
		connections++;
		pthread_mutex_unlock(&server_lock);
		pthread_create(&t, NULL, serve_conn, (void *)(intptr_t)fd);
		pthread_detach(t);
	}
}

static int setup(void **state)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	if (rs_setup(state) < 0)
		return -1;
	snprintf(sock_path, sizeof(sock_path), "%s/userdb", rs_dir);
	str_copy(sa.sun_path, sock_path, sizeof(sa.sun_path));
	listen_fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (listen_fd < 0 || bind(listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(listen_fd, 16) < 0)
		return -1;
	return pthread_create(&server_thread, NULL, server, NULL) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
	shutdown(listen_fd, SHUT_RDWR);
	close(listen_fd);
	pthread_join(server_thread, NULL);
	return rs_teardown(state);
}

static void test_lookups(void **state)
{
	struct resolve_userdb *u = resolve_userdb_new(sock_path);
	struct resolve_user out;
	struct passwd *pw = getpwnam("root");

	(void)state;
	assert_non_null(u);
	assert_non_null(pw);
	assert_int_equal(resolve_userdb_lookup(u, "root", &out), RESOLVE_FOUND);
	assert_string_equal(out.name, "root");
	assert_true(out.system);
	assert_int_equal(out.uid, 0);
	assert_int_equal(out.gid, pw->pw_gid);
	assert_string_equal(out.home, pw->pw_dir);
	/* auth_pam_username = localpart: user@domain is the account user. */
	assert_int_equal(resolve_userdb_lookup(u, "Root@Example.com", &out), RESOLVE_FOUND);
	assert_string_equal(out.name, "root@example.com");
	assert_true(out.system);
	assert_string_equal(out.home, pw->pw_dir);
	assert_int_equal(resolve_userdb_lookup(u, "no-such-user-xq7", &out), RESOLVE_NOTFOUND);
	/* Names that could break the protocol never reach the socket. */
	assert_int_equal(resolve_userdb_lookup(u, "a\tb", &out), RESOLVE_NOTFOUND);
	assert_int_equal(resolve_userdb_lookup(u, "a\nUSER\t1\troot", &out), RESOLVE_NOTFOUND);
	assert_int_equal(resolve_userdb_lookup(u, "", &out), RESOLVE_NOTFOUND);
	resolve_userdb_free(&u);
	assert_null(u);
}

static void test_reconnect(void **state)
{
	struct resolve_userdb *u = resolve_userdb_new(sock_path);
	struct resolve_user out;
	int before;

	(void)state;
	close_after_one = true;
	before = connections;
	for (int i = 0; i < 3; i++)
		assert_int_equal(resolve_userdb_lookup(u, "root", &out), RESOLVE_FOUND);
	/* Each answer closed the connection; each next look-up made a new one. */
	assert_int_equal(connections - before, 3);
	close_after_one = false;
	resolve_userdb_free(&u);
}

static void test_no_server(void **state)
{
	char *p = must_asprintf("%s/nothing-here", rs_dir);
	struct resolve_userdb *u = resolve_userdb_new(p);
	struct resolve_user out;

	(void)state;
	assert_int_equal(resolve_userdb_lookup(u, "root", &out), RESOLVE_TEMPFAIL);
	resolve_userdb_free(&u);
	free(p);
}

static void *thread_lookups(void *arg)
{
	struct resolve_userdb *u = arg;
	struct resolve_user out;
	intptr_t ok = 1;

	for (int i = 0; i < 20; i++)
		if (resolve_userdb_lookup(u, "root", &out) != RESOLVE_FOUND || out.uid != 0)
			ok = 0;
	return (void *)ok;
}

static void test_threads(void **state)
{
	struct resolve_userdb *u = resolve_userdb_new(sock_path);
	pthread_t t[3];
	int before = connections;

	(void)state;
	for (int i = 0; i < 3; i++)
		pthread_create(&t[i], NULL, thread_lookups, u);
	for (int i = 0; i < 3; i++) {
		void *ok;

		pthread_join(t[i], &ok);
		assert_true(ok == (void *)1);
	}
	/* One connection per thread, kept across its look-ups. */
	assert_int_equal(connections - before, 3);
	resolve_userdb_free(&u);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lookups),
		cmocka_unit_test(test_reconnect),
		cmocka_unit_test(test_no_server),
		cmocka_unit_test(test_threads),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
