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
			if (rc < 0 || (answered && __atomic_load_n(&close_after_one, __ATOMIC_RELAXED)))
				goto out;
		}
	}
out:
	auth_userdb_conn_free(&c);
	close(fd);
	return NULL;
}

static int conn_count(void)
{
	int n;

	pthread_mutex_lock(&server_lock);
	n = connections;
	pthread_mutex_unlock(&server_lock);
	return n;
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
	__atomic_store_n(&close_after_one, true, __ATOMIC_RELAXED);
	before = conn_count();
	for (int i = 0; i < 3; i++)
		assert_int_equal(resolve_userdb_lookup(u, "root", &out), RESOLVE_FOUND);
	/* Each answer closed the connection; each next look-up made a new one. */
	assert_int_equal(conn_count() - before, 3);
	__atomic_store_n(&close_after_one, false, __ATOMIC_RELAXED);
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
	int before = conn_count();

	(void)state;
	for (int i = 0; i < 3; i++)
		pthread_create(&t[i], NULL, thread_lookups, u);
	for (int i = 0; i < 3; i++) {
		void *ok;

		pthread_join(t[i], &ok);
		assert_true(ok == (void *)1);
	}
	/* One connection per thread, kept across its look-ups. */
	assert_int_equal(conn_count() - before, 3);
	resolve_userdb_free(&u);
}

/* A scripted server: greeting with "SPID 1" (an id-like pid), then for
 * each USER line the canned answers below, by name. */
static void *scripted_server(void *arg)
{
	int lfd = (int)(intptr_t)arg, fd = accept(lfd, NULL, NULL);
	char buf[4096];
	size_t len = 0;
	const char greet[] = "VERSION\t1\t0\nSPID\t1\n";

	if (fd < 0)
		return NULL;
	write_fd(&fd, greet, strlen(greet));
	for (;;) {
		ssize_t n = read(fd, buf + len, sizeof(buf) - len - 1);
		char *nl;

		if (n <= 0)
			break;
		len += (size_t)n;
		buf[len] = '\0';
		while ((nl = memchr(buf, '\n', len)) != NULL) {
			char id[16] = "", name[256] = "", out[600];

			*nl = '\0';
			if (sscanf(buf, "USER\t%15[0-9]\t%255[^\t]", id, name) == 2) {
				if (strcmp(name, "vuser@virt.example") == 0)
					snprintf(out, sizeof(out), "USER\t%s\tvuser@virt.example\tbackend=virtual"
						 "\tquota_bytes=1048576\tmail=maildir:/srv/mail/vuser\n", id);
				else if (strcmp(name, "broken") == 0)
					snprintf(out, sizeof(out), "FAIL\t%s\treason=user database unavailable\n", id);
				else
					snprintf(out, sizeof(out), "NOTFOUND\t%s\n", id);
				write_fd(&fd, out, strlen(out));
			}
			len -= (size_t)(nl + 1 - buf);
			memmove(buf, nl + 1, len);
		}
	}
	close(fd);
	return NULL;
}

static void test_fields_and_fail(void **state)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char *p = must_asprintf("%s/scripted", rs_dir);
	int lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	struct resolve_userdb *u;
	struct resolve_user out;
	pthread_t t;

	(void)state;
	str_copy(sa.sun_path, p, sizeof(sa.sun_path));
	assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(lfd, 1), 0);
	pthread_create(&t, NULL, scripted_server, (void *)(intptr_t)lfd);
	u = resolve_userdb_new(p);
	/* id 1 is asked first: the greeting's "SPID 1" must not answer it. */
	assert_int_equal(resolve_userdb_lookup(u, "vuser@virt.example", &out), RESOLVE_FOUND);
	assert_string_equal(out.name, "vuser@virt.example");
	assert_false(out.system);
	assert_int_equal(out.quota_bytes, 1048576);
	assert_string_equal(out.mail, "maildir:/srv/mail/vuser");
	assert_int_equal(resolve_userdb_lookup(u, "broken", &out), RESOLVE_TEMPFAIL);
	assert_int_equal(resolve_userdb_lookup(u, "other", &out), RESOLVE_NOTFOUND);
	resolve_userdb_free(&u);
	pthread_join(t, NULL);
	close(lfd);
	free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lookups),
		cmocka_unit_test(test_reconnect),
		cmocka_unit_test(test_no_server),
		cmocka_unit_test(test_threads),
		cmocka_unit_test(test_fields_and_fail),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
