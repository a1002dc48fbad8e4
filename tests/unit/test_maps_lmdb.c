/*
 * test_maps_lmdb.c - lmdb: tables and the postmap-style builder
 * (map_build_lmdb): build + lookup, case folding and -f, duplicates with
 * file:line, atomic rebuild (a failed build leaves the old table, no
 * temporary file stays behind, the mode follows the source), postmap
 * compatibility (keys stored without a NUL) and the address order.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <lmdb.h>
#include <sys/stat.h>

#include "maps_test_util.h"

static struct map *open_lmdb(const char *name, unsigned flags)
{
	const char *err = NULL;
	struct map *m = map_open(mt_spec("lmdb", name), flags, &err);

	if (m == NULL)
		print_error("open: %s\n", err);
	assert_non_null(m);
	return m;
}

static void build_ok(const char *name, unsigned flags)
{
	char *err = NULL;

	if (map_build_lmdb(mt_path(name), flags, &err) != 0) {
		print_error("build: %s\n", err);
		free(err);
		fail();
	}
}

static int count_files(void)
{
	DIR *d = opendir(mt_dir);
	struct dirent *de;
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static void test_build_and_lookup(void **state)
{
	struct map *m;

	(void)state;
	mt_write("virtual", "# virtual aliases\n"
		 "Info@Example.com   alice@example.com, bob@example.com\n"
		 "@example.org       catchall@example.com\n"
		 "long  part one\n  part two\n");
	build_ok("virtual", 0);
	/* Only the source and the table: no lock file, no temp file. */
	assert_int_equal(count_files(), 2);
	m = open_lmdb("virtual", 0);
	assert_string_equal(map_type(m), "lmdb");
	mt_assert_value(m, "info@example.com", "alice@example.com, bob@example.com");
	mt_assert_value(m, "INFO@EXAMPLE.COM", "alice@example.com, bob@example.com");
	mt_assert_value(m, "long", "part one part two");
	mt_assert_value(m, "nobody@example.com", NULL);
	mt_assert_value(m, "", NULL);
	{
		const char *v, *err;

		assert_int_equal(map_lookup_address(m, "x@example.org", MAP_ADDR_VIRTUAL, &v,
						    &err), MAP_FOUND);
		assert_string_equal(v, "catchall@example.com");
	}
	map_close(&m);
	assert_int_equal(count_files(), 2);
}

static void test_build_nofold(void **state)
{
	struct map *m;

	(void)state;
	mt_write("t", "MiXed v\n");
	build_ok("t", MAP_BUILD_NOFOLD);
	m = open_lmdb("t", MAP_OPEN_NOFOLD);
	mt_assert_value(m, "MiXed", "v");
	mt_assert_value(m, "mixed", NULL);
	map_close(&m);
	/* A folding reader folds the query, so it cannot find a mixed key. */
	m = open_lmdb("t", 0);
	mt_assert_value(m, "MiXed", NULL);
	map_close(&m);
}

static void test_duplicates(void **state)
{
	struct map *m;
	char want[1024];

	(void)state;
	mt_write("dup", "a first\nb x\nA second\na third\n");
	build_ok("dup", 0);
	snprintf(want, sizeof(want),
		 "%s/dup:3: duplicate entry \"a\"; keeping the first one (line 1); remove or merge the other\n"
		 "%s/dup:4: duplicate entry \"a\"; keeping the first one (line 1); remove or merge the other\n",
		 mt_dir, mt_dir);
	assert_string_equal(mt_warnings, want);
	m = open_lmdb("dup", 0);
	mt_assert_value(m, "a", "first");
	mt_assert_value(m, "b", "x");
	map_close(&m);
}

static void test_rebuild_atomic(void **state)
{
	struct map *old, *m;
	struct stat st;
	char *err = NULL;
	const char *v;

	(void)state;
	mt_write("access", "a 1\n");
	chmod(mt_path("access"), 0600);
	build_ok("access", 0);
	assert_int_equal(stat(mt_path("access.lmdb"), &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	old = open_lmdb("access", 0);

	/* A malformed source fails and leaves the old table alone. */
	mt_write("access", "a 2\nbroken\n");
	assert_int_equal(map_build_lmdb(mt_path("access"), 0, &err), -1);
	{
		char want[1024];

		snprintf(want, sizeof(want), "%s/access:2: missing value after key \"broken\"; "
			 "write KEY VALUE", mt_dir);
		assert_string_equal(err, want);
	}
	free(err);
	assert_int_equal(count_files(), 2);
	m = open_lmdb("access", 0);
	mt_assert_value(m, "a", "1");
	map_close(&m);

	/* A good rebuild replaces it; the handle opened before keeps working
	 * (old or new value, never an error), a new one sees the new table. */
	mt_write("access", "a 2\nb 3\n");
	build_ok("access", 0);
	assert_int_equal(count_files(), 2);
	m = open_lmdb("access", 0);
	mt_assert_value(m, "a", "2");
	mt_assert_value(m, "b", "3");
	map_close(&m);
	v = mt_get(old, "a");
	assert_non_null(v);
	assert_true(strcmp(v, "1") == 0 || strcmp(v, "2") == 0);
	/* After a second the old handle notices the new file. */
	sleep(1);
	mt_assert_value(old, "b", "3");
	map_close(&old);
}

static void test_build_errors(void **state)
{
	char *err = NULL;
	char want[1024];
	char key[600];

	(void)state;
	assert_int_equal(map_build_lmdb(mt_path("missing"), 0, &err), -1);
	snprintf(want, sizeof(want), "%s/missing: No such file or directory; create the file "
		 "or fix the table name", mt_dir);
	assert_string_equal(err, want);
	free(err);

	memset(key, 'k', sizeof(key) - 1);
	key[sizeof(key) - 1] = '\0';
	{
		char *text = must_asprintf("ok 1\n%s v\n", key);

		mt_write("long", text);
		free(text);
	}
	assert_int_equal(map_build_lmdb(mt_path("long"), 0, &err), -1);
	assert_non_null(strstr(err, "/long:2: key \"kkk"));
	assert_non_null(strstr(err, "is longer than 510 bytes, the LMDB limit; shorten it or "
			       "use texthash:"));
	free(err);
	assert_int_equal(count_files(), 1);

	mt_expect_error(mt_spec("lmdb", "nope"), "lmdb:@D/nope: @D/nope.lmdb: No such file or "
			"directory; run \"postern map @D/nope\" to build it");
}

/* postmap -N writes keys without the NUL; such tables must read too. */
static void test_postmap_compat(void **state)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_val k = { 3, "abc" }, v = { 5, "value" };
	struct map *m;

	(void)state;
	assert_int_equal(mdb_env_create(&env), 0);
	assert_int_equal(mdb_env_open(env, mt_path("compat.lmdb"), MDB_NOSUBDIR, 0644), 0);
	assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, NULL, 0, &dbi), 0);
	assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
	m = open_lmdb("compat", 0);
	mt_assert_value(m, "abc", "value");
	mt_assert_value(m, "ab", NULL);
	map_close(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_build_and_lookup, mt_setup, mt_teardown),
		cmocka_unit_test_setup_teardown(test_build_nofold, mt_setup, mt_teardown),
		cmocka_unit_test_setup_teardown(test_duplicates, mt_setup, mt_teardown),
		cmocka_unit_test_setup_teardown(test_rebuild_atomic, mt_setup, mt_teardown),
		cmocka_unit_test_setup_teardown(test_build_errors, mt_setup, mt_teardown),
		cmocka_unit_test_setup_teardown(test_postmap_compat, mt_setup, mt_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
