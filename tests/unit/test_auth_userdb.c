/*
 * test_auth_userdb.c - the LMDB user database (auth/userdb-lmdb.c): record
 * codec and versioning, domain and user CRUD with the documented errors,
 * aliases ownership, and the password upgrade after login.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth/userdb.h"

static char dir[64];

static int setup(void **state)
{
	snprintf(dir, sizeof(dir), "/tmp/test_userdb.XXXXXX");
	assert_non_null(mkdtemp(dir));
	rmdir(dir);   /* userdb_open(USERDB_CREATE) creates it */
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void test_record_codec(void **state)
{
	char *aliases[] = { "a@example.org", "b@example.org" };
	struct userdb_user u = {
		.address = "x@example.org", .enabled = true, .password = "{ARGON2ID}$argon2id$v=19$x",
		.scram = "4096,AA==,AA==,AA==", .quota_bytes = 1048576, .mail = "maildir:/m/x",
		.aliases = aliases, .n_aliases = 2,
	};
	struct userdb_user d;
	struct strbuf sb;
	const char *err;

	strbuf_init(&sb, 0);
	assert_int_equal(userdb_record_encode(&u, &sb, &err), 0);
	assert_string_equal(sb.data, "1\tenabled=1\tpassword={ARGON2ID}$argon2id$v=19$x\tscram=4096,AA==,AA==,AA=="
			    "\tquota=1048576\tmail=maildir:/m/x\taliases=a@example.org,b@example.org");
	assert_int_equal(userdb_record_decode("x@example.org", sb.data, sb.len, &d, &err), 0);
	assert_true(d.enabled);
	assert_string_equal(d.password, u.password);
	assert_string_equal(d.scram, u.scram);
	assert_int_equal(d.quota_bytes, 1048576);
	assert_string_equal(d.mail, "maildir:/m/x");
	assert_int_equal(d.n_aliases, 2);
	assert_string_equal(d.aliases[1], "b@example.org");
	userdb_user_clear(&d);
	strbuf_free(&sb);

	/* unknown fields are skipped; unknown versions and junk refused */
	const char *future = "1\tenabled=0\tnewfield=zz";
	assert_int_equal(userdb_record_decode("x@y", future, strlen(future), &d, &err), 0);
	assert_false(d.enabled);
	userdb_user_clear(&d);
	static const char *const bad[] = {
		"2\tenabled=1", "", "1", "1\tenabled=2", "1\tquota=12a", "1\tpassword=a\tpassword=b",
		"1\tnoequals", "1\taliases=", "1\taliases=notanaddress", "1\tmail=a\x01",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(userdb_record_decode("x@y", bad[i], strlen(bad[i]), &d, &err), -1);
	assert_int_equal(userdb_record_decode("x@y", "2\tx", 3, &d, &err), -1);
	assert_string_equal(err, "unknown user record version (written by a newer Postern?)");

	u.password = "bad\tvalue";
	strbuf_init(&sb, 0);
	assert_int_equal(userdb_record_encode(&u, &sb, &err), -1);
	strbuf_free(&sb);
}

static void test_validation(void **state)
{
	assert_true(userdb_address_valid("alice@example.org"));
	assert_false(userdb_address_valid("alice"));
	assert_false(userdb_address_valid("@example.org"));
	assert_false(userdb_address_valid("al ice@example.org"));
	assert_false(userdb_address_valid("alice@exa mple.org"));
	assert_false(userdb_address_valid("alice@"));
	assert_true(userdb_domain_valid("mail.example.org"));
	assert_false(userdb_domain_valid("example..org"));
	assert_false(userdb_domain_valid(".example.org"));
}

static int collect(const struct userdb_user *u, void *ctx)
{
	strcat((char *)ctx, u->address);
	strcat((char *)ctx, ";");
	return 0;
}

static int collect_domain(const char *d, void *ctx)
{
	strcat((char *)ctx, d);
	strcat((char *)ctx, ";");
	return 0;
}

static void test_crud(void **state)
{
	struct userdb *db = NULL;
	char *err = NULL, *owner = NULL;
	struct userdb_user u = { .address = "alice@example.org", .enabled = true,
				 .password = "{SHA256-CRYPT}$5$saltsalt$vCVzagwpKquSflhQxH0D10Fgy2Km11eLAozR93EkXT6" };
	struct userdb_user g;
	char list[512] = "";

	assert_int_equal(userdb_open(dir, 0, &db, &err), -1);
	assert_non_null(strstr(err, "does not exist"));
	free(err);
	assert_int_equal(userdb_open(dir, USERDB_CREATE, &db, &err), 0);

	/* user in a missing domain: the error says how to fix it */
	assert_int_equal(userdb_user_put(db, &u, USERDB_PUT_NEW, &err), -1);
	assert_string_equal(err, "domain example.org does not exist; add it first with \"postern domain add example.org\"");
	free(err);
	assert_int_equal(userdb_domain_add(db, "example.org", &err), 1);
	assert_int_equal(userdb_domain_add(db, "example.org", &err), 0);
	assert_int_equal(userdb_domain_add(db, "a.net", &err), 1);
	assert_int_equal(userdb_domain_add(db, "bad domain", &err), -1);
	free(err);
	assert_int_equal(userdb_domain_exists(db, "example.org", &err), 1);
	assert_int_equal(userdb_domain_exists(db, "example.com", &err), 0);

	assert_int_equal(userdb_user_put(db, &u, USERDB_PUT_NEW, &err), 0);
	assert_int_equal(userdb_user_put(db, &u, USERDB_PUT_NEW, &err), -1);
	assert_non_null(strstr(err, "already exists"));
	free(err);
	assert_int_equal(userdb_user_get(db, "alice@example.org", &g, &err), 1);
	assert_true(g.enabled);
	assert_string_equal(g.password, u.password);
	userdb_user_clear(&g);
	assert_int_equal(userdb_user_get(db, "bob@example.org", &g, &err), 0);

	/* aliases: owned, visible, exclusive */
	char *al[] = { "postmaster@example.org" };
	u.aliases = al;
	u.n_aliases = 1;
	assert_int_equal(userdb_user_put(db, &u, USERDB_PUT_REPLACE, &err), 0);
	assert_int_equal(userdb_alias_owner(db, "postmaster@example.org", &owner, &err), 1);
	assert_string_equal(owner, "alice@example.org");
	free(owner);
	struct userdb_user b = { .address = "bob@example.org", .enabled = true, .aliases = al, .n_aliases = 1 };
	assert_int_equal(userdb_user_put(db, &b, USERDB_PUT_NEW, &err), -1);
	assert_string_equal(err, "alias postmaster@example.org is already owned by alice@example.org; remove it there first");
	free(err);
	b.n_aliases = 0;
	assert_int_equal(userdb_user_put(db, &b, USERDB_PUT_NEW, &err), 0);
	struct userdb_user c = { .address = "carol@example.org", .enabled = true };
	assert_int_equal(userdb_user_put(db, &c, USERDB_PUT_REPLACE, &err), -1);
	assert_non_null(strstr(err, "does not exist; add it with"));
	free(err);

	assert_int_equal(userdb_user_list(db, NULL, collect, list, &err), 0);
	assert_string_equal(list, "alice@example.org;bob@example.org;");
	list[0] = '\0';
	assert_int_equal(userdb_domain_list(db, collect_domain, list, &err), 0);
	assert_string_equal(list, "a.net;example.org;");

	/* domain with users cannot go */
	assert_int_equal(userdb_domain_del(db, "example.org", &err), -1);
	assert_string_equal(err, "domain example.org still has 2 user(s); remove them first (\"postern user list example.org\", \"postern user del ADDRESS\")");
	free(err);
	assert_int_equal(userdb_domain_del(db, "a.net", &err), 1);
	assert_int_equal(userdb_domain_del(db, "a.net", &err), 0);

	/* upgrade only when the stored hash is still the verified one */
	assert_int_equal(userdb_user_upgrade(db, "alice@example.org", "{X}other", "{ARGON2ID}$argon2id$new", "1,AA==,AA==,AA==", &err), 0);
	assert_int_equal(userdb_user_upgrade(db, "alice@example.org", u.password, "{ARGON2ID}$argon2id$new", "1,AA==,AA==,AA==", &err), 1);
	assert_int_equal(userdb_user_get(db, "alice@example.org", &g, &err), 1);
	assert_string_equal(g.password, "{ARGON2ID}$argon2id$new");
	assert_string_equal(g.scram, "1,AA==,AA==,AA==");
	assert_int_equal(g.n_aliases, 1);
	userdb_user_clear(&g);

	/* delete drops the aliases too */
	assert_int_equal(userdb_user_del(db, "alice@example.org", &err), 1);
	assert_int_equal(userdb_user_del(db, "alice@example.org", &err), 0);
	assert_int_equal(userdb_alias_owner(db, "postmaster@example.org", &owner, &err), 0);
	userdb_close(&db);
	assert_null(db);

	/* a second handle sees what the first wrote (the CLI/role case) */
	assert_int_equal(userdb_open(dir, 0, &db, &err), 0);
	assert_int_equal(userdb_user_get(db, "bob@example.org", &g, &err), 1);
	userdb_user_clear(&g);
	userdb_close(&db);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_record_codec),
		cmocka_unit_test(test_validation),
		cmocka_unit_test_setup_teardown(test_crud, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
