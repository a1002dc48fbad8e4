/*
 * test_resolve_expand.c - resolve_expand (smtp/resolve/expand.c and the
 * files it calls): aliases (with :include:, commands, files, one-to-many,
 * \user and self references), virtual aliases (catch-all, one-to-many,
 * extensions, loops), relocated, luser_relay, +extension, unknown users,
 * ~/.forward, Delivered-To and hop count loops, duplicates, and the
 * temporary failure of the userdb - each with the exact result and text.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "resolve_test_util.h"

static const char tables[] =
	"virtual_alias_maps = texthash:DIR/virtual\n"
	"virtual_alias_domains = alias.example, alias2.example\n"
	"virtual_mailbox_domains = virt.example\n"
	"alias_maps = lmdb:DIR/aliases\n"
	"relocated_maps = texthash:DIR/relocated\n";

static void write_tables(void)
{
	rs_write("aliases", "# local aliases\n"
			    "postmaster: root\n"
			    "root: alice\n"
			    "team: alice, bob,\n"
			    "  carol@remote.example\n"
			    "list: :include:DIR/list.inc\n"
			    "pipe: \"|/usr/bin/procmail -a x\"\n"
			    "tofile: /var/log/mail-archive\n"
			    "selfie: selfie, bob\n"
			    "bobby: \\bob\n"
			    "ghost: nobody-here\n"
			    "owner-team: alice\n"
			    "team-request: bob\n");
	rs_write("list.inc", "# the list\nalice\n\nbob@example.com, dave@remote.example\n");
	rs_write("virtual", "info@example.com alice\n"
			    "sales@virt.example bob@example.com, vuser@virt.example\n"
			    "@alias.example admin@example.com\n"
			    "known@alias.example bob\n"
			    "loop1@example.com loop2@example.com\n"
			    "loop2@example.com loop1@example.com\n"
			    "keep@remote.example keep@remote.example, alice\n"
			    "fan@example.com team@example.com, info@example.com\n");
	rs_write("relocated", "gone@example.com new@elsewhere.example\n");
}

static struct resolve *new_resolve(const char *extra)
{
	char *text = must_asprintf("%s%s", tables, extra ? extra : "");
	struct config *cfg;
	struct resolve *r;
	char *err = NULL;

	write_tables();
	cfg = rs_config(text);
	free(text);
	assert_non_null(cfg);
	if (resolve_aliases_build(cfg, NULL, &err) < 0)
		fail_msg("aliases build: %s", err);
	r = resolve_new(cfg, &err);
	if (r == NULL)
		fail_msg("resolve_new: %s", err);
	config_free(&cfg);
	rs_user_tempfail = false;
	return r;
}

static void test_local_users(void **state)
{
	struct resolve *r = new_resolve(NULL);

	(void)state;
	RS_EXPECT(r, "0:addr:alice@example.com", "alice@example.com");
	/* append_at_myorigin: a bare name is user@$myorigin. */
	RS_EXPECT(r, "0:addr:alice@example.com", "alice");
	/* Every domain of mydestination is local; case is folded. */
	RS_EXPECT(r, "0:addr:bob@mail.example.com", "Bob@MAIL.example.com");
	RS_EXPECT(r, "0:FAIL:nobody@example.com:5.1.1:unknown user: \"nobody\"", "nobody@example.com");
	resolve_free(&r);
}

static void test_extension(void **state)
{
	struct resolve *r = new_resolve(NULL);

	(void)state;
	/* The user is looked up without the extension, the dest keeps it. */
	RS_EXPECT(r, "0:addr:alice+news@example.com", "alice+news@example.com");
	RS_EXPECT(r, "0:FAIL:nobody+x@example.com:5.1.1:unknown user: \"nobody\"", "nobody+x@example.com");
	/* Aliases: team+x is not an alias, team is; the extension is not
	 * propagated to alias results by default (propagate_unmatched_extensions). */
	RS_EXPECT(r, "0:addr:alice@example.com | 0:addr:bob@example.com | 0:addr:carol@remote.example",
		  "team+x@example.com");
	/* Virtual: propagated by default. */
	RS_EXPECT(r, "0:addr:alice+x@example.com", "info+x@example.com");
	resolve_free(&r);
	r = new_resolve("recipient_delimiter = -\n");
	RS_EXPECT(r, "0:addr:alice-news@example.com", "alice-news@example.com");
	/* owner-list and list-request are names, not extensions. */
	RS_EXPECT(r, "0:addr:alice@example.com", "owner-team@example.com");
	RS_EXPECT(r, "0:addr:bob@example.com", "team-request@example.com");
	RS_EXPECT(r, "0:FAIL:owner-nobody@example.com:5.1.1:unknown user: \"owner-nobody\"",
		  "owner-nobody@example.com");
	resolve_free(&r);
}

static void test_aliases(void **state)
{
	struct resolve *r = new_resolve(NULL);

	(void)state;
	RS_EXPECT(r, "0:addr:alice@example.com", "postmaster@example.com");
	RS_EXPECT(r, "0:addr:alice@example.com | 0:addr:bob@example.com | 0:addr:carol@remote.example",
		  "team@example.com");
	RS_EXPECT(r, "0:addr:alice@example.com | 0:addr:bob@example.com | 0:addr:dave@remote.example",
		  "list@example.com");
	RS_EXPECT(r, "0:pipe:postern:/usr/bin/procmail -a x", "pipe@example.com");
	RS_EXPECT(r, "0:file:postern:/var/log/mail-archive", "tofile@example.com");
	/* An alias naming itself goes to its mailbox, no loop. */
	RS_EXPECT(r, "0:addr:selfie@example.com | 0:addr:bob@example.com", "selfie@example.com");
	RS_EXPECT(r, "0:addr:bob@example.com", "bobby@example.com");
	RS_EXPECT(r, "0:FAIL:nobody-here@example.com:5.1.1:unknown user: \"nobody-here\"",
		  "ghost@example.com");
	/* Aliases apply to local domains only. */
	RS_EXPECT(r, "0:addr:team@remote.example", "team@remote.example");
	resolve_free(&r);
}

static void test_aliases_restricted(void **state)
{
	struct resolve *r = new_resolve("allow_mail_to_commands =\nallow_mail_to_files = include\n");

	(void)state;
	RS_EXPECT(r, "0:FAIL:pipe@example.com:5.7.1:mail to command is restricted", "pipe@example.com");
	RS_EXPECT(r, "0:FAIL:tofile@example.com:5.7.1:mail to file is restricted", "tofile@example.com");
	resolve_free(&r);
}

static void test_virtual(void **state)
{
	struct resolve *r = new_resolve(NULL);

	(void)state;
	RS_EXPECT(r, "0:addr:alice@example.com", "info@example.com");
	RS_EXPECT(r, "0:addr:bob@example.com | 0:addr:vuser@virt.example", "sales@virt.example");
	/* Catch-all, and user@domain before @domain. */
	RS_EXPECT(r, "0:addr:admin@example.com", "whoever@alias.example");
	RS_EXPECT(r, "0:addr:bob@example.com", "known@alias.example");
	/* No entry in a virtual alias domain without a catch-all. */
	RS_EXPECT(r, "0:FAIL:x@alias2.example:5.1.1:User unknown in virtual alias table", "x@alias2.example");
	/* An address that maps to itself is delivered as it is. */
	RS_EXPECT(r, "0:addr:keep@remote.example | 0:addr:alice@example.com", "keep@remote.example");
	/* Virtual results go through the aliases; duplicates are dropped. */
	RS_EXPECT(r, "0:addr:alice@example.com | 0:addr:bob@example.com | 0:addr:carol@remote.example",
		  "fan@example.com");
	RS_EXPECT(r, "0:addr:vuser@virt.example", "vuser@virt.example");
	RS_EXPECT(r, "0:FAIL:nobody@virt.example:5.1.1:unknown user: \"nobody@virt.example\"",
		  "nobody@virt.example");
	resolve_free(&r);
}

static void test_virtual_loop(void **state)
{
	struct resolve *r = new_resolve("virtual_alias_recursion_limit = 5\n");

	(void)state;
	RS_EXPECT(r, "0:FAIL:loop1@example.com:5.4.6:unreasonable virtual_alias_maps map nesting for "
		     "loop1@example.com", "loop1@example.com");
	resolve_free(&r);
	/* fan -> team, info (2 addresses), info -> alice (3). */
	r = new_resolve("virtual_alias_expansion_limit = 3\n");
	RS_EXPECT(r, "0:addr:alice@example.com | 0:addr:bob@example.com | 0:addr:carol@remote.example",
		  "fan@example.com");
	resolve_free(&r);
	r = new_resolve("virtual_alias_expansion_limit = 2\n");
	RS_EXPECT(r, "0:addr:alice@example.com | 0:addr:bob@example.com | 0:addr:carol@remote.example | "
		     "0:FAIL:fan@example.com:5.4.6:unreasonable virtual_alias_maps map expansion size for "
		     "fan@example.com", "fan@example.com");
	resolve_free(&r);
}

static void test_relocated(void **state)
{
	struct resolve *r = new_resolve(NULL);

	(void)state;
	RS_EXPECT(r, "0:FAIL:gone@example.com:5.1.6:user has moved to new@elsewhere.example",
		  "gone@example.com");
	RS_EXPECT(r, "0:FAIL:gone+x@example.com:5.1.6:user has moved to new@elsewhere.example",
		  "gone+x@example.com");
	resolve_free(&r);
}

static void test_luser_relay(void **state)
{
	struct resolve *r = new_resolve("luser_relay = admin\n");

	(void)state;
	RS_EXPECT(r, "0:addr:admin@example.com", "nobody@example.com");
	RS_EXPECT(r, "0:addr:alice@example.com", "alice@example.com");
	/* Not for virtual mailbox domains. */
	RS_EXPECT(r, "0:FAIL:nobody@virt.example:5.1.1:unknown user: \"nobody@virt.example\"",
		  "nobody@virt.example");
	resolve_free(&r);
	/* Templates ($user, $extension ...) and no second relay for a relay
	 * address that is unknown too. */
	r = new_resolve("luser_relay = lost+$user@example.com\n");
	RS_EXPECT(r, "0:FAIL:lost+nobody@example.com:5.1.1:unknown user: \"lost\"", "nobody@example.com");
	resolve_free(&r);
	r = new_resolve("luser_relay = admin+$user@example.com\n");
	RS_EXPECT(r, "0:addr:admin+nobody@example.com", "nobody+ext@example.com");
	resolve_free(&r);
}

static void test_forward(void **state)
{
	struct resolve *r = new_resolve(NULL);

	(void)state;
	/* No .forward: the mailbox. */
	RS_EXPECT(r, "0:addr:sys@example.com", "sys@example.com");
	rs_mkdir("home");
	rs_mkdir("home/sys");
	rs_write("home/sys/.forward", "# keep a copy\nalice, \\sys\n");
	RS_EXPECT(r, "0:addr:alice@example.com | 0:addr:sys@example.com", "sys@example.com");
	rs_write("home/sys/.forward", "\"|/usr/bin/vacation sys\"\n");
	RS_EXPECT(r, "0:FAIL:sys@example.com:5.7.1:mail to command is restricted: \"|/usr/bin/vacation sys\" in the "
		     ".forward file of sys; Postern runs commands as mail_owner, so only alias files "
		     "may name them", "sys@example.com");
	rs_write("home/sys/.forward", "/home/sys/mbox\n");
	RS_EXPECT(r, "0:FAIL:sys@example.com:5.7.1:mail to file is restricted: \"/home/sys/mbox\" in the .forward "
		     "file of sys; Postern runs files as mail_owner, so only alias files may name them",
		  "sys@example.com");
	/* Extension: .forward+ext first. */
	rs_write("home/sys/.forward+lists", "bob\n");
	rs_write("home/sys/.forward", "alice\n");
	RS_EXPECT(r, "0:addr:bob@example.com", "sys+lists@example.com");
	RS_EXPECT(r, "0:addr:alice@example.com", "sys+other@example.com");
	/* A .forward of somebody else (not the user, not root) is ignored. */
	if (getuid() == 0) {
		char *p = must_asprintf("%s/home/sys/.forward", rs_dir);

		assert_int_equal(chown(p, 4242, 4242), 0);
		RS_EXPECT(r, "0:addr:sys+other@example.com", "sys+other@example.com");
		free(p);
	}
	resolve_free(&r);
	r = new_resolve("forward_path =\n");
	RS_EXPECT(r, "0:addr:sys@example.com", "sys@example.com");
	resolve_free(&r);
}

static void test_loops(void **state)
{
	struct resolve *r = new_resolve("hopcount_limit = 3\n");
	const char *const one[] = { "alice@example.com", "team@example.com", NULL };
	char *got;

	(void)state;
	got = rs_expand_hdr(r, "s@remote.example",
			    "Delivered-To: Alice@example.com\r\nSubject: x\r\n\r\n", one, NULL);
	/* team's alice has had the message already, too. */
	assert_string_equal(got, "0:FAIL:alice@example.com:5.4.6:mail forwarding loop for alice@example.com"
				 " | 1:FAIL:alice@example.com:5.4.6:mail forwarding loop for alice@example.com"
				 " | 1:addr:bob@example.com | 1:addr:carol@remote.example");
	free(got);
	got = rs_expand_hdr(r, "s@remote.example",
			    "Received: a\r\nReceived: b\r\n\tcontinued\r\nReceived: c\r\nReceived: d\r\n\r\n"
			    "Received: in the body\r\n", one, NULL);
	assert_string_equal(got, "0:FAIL:alice@example.com:5.4.6:too many hops | "
				 "1:FAIL:team@example.com:5.4.6:too many hops");
	free(got);
	got = rs_expand_hdr(r, "s@remote.example", "Received: a\r\nReceived: b\r\nReceived: c\r\n\r\n", one,
			    NULL);
	assert_string_equal(got, "0:addr:alice@example.com | 1:addr:bob@example.com | "
				 "1:addr:carol@remote.example");
	free(got);
	resolve_free(&r);
}

static void test_duplicates_and_orig(void **state)
{
	struct resolve *r = new_resolve(NULL);

	(void)state;
	RS_EXPECT(r, "0:addr:alice@example.com | 2:addr:bob@example.com",
		  "alice@example.com", "root@example.com", "bob@example.com", "ALICE@example.com");
	resolve_free(&r);
}

static void test_tempfail(void **state)
{
	struct resolve *r = new_resolve(NULL);

	(void)state;
	rs_user_tempfail = true;
	RS_EXPECT(r, "TEMP: user look-up of \"alice@example.com\" failed", "alice@example.com");
	/* Remote recipients need no userdb. */
	RS_EXPECT(r, "0:addr:x@remote.example", "x@remote.example");
	rs_user_tempfail = false;
	resolve_free(&r);
}

static void test_sender(void **state)
{
	struct resolve *r = new_resolve("sender_canonical_maps = inline:{ bob@example.com=robert@example.com }\n");
	const char *const one[] = { "alice", NULL };
	char *xs = NULL, *got;

	(void)state;
	got = rs_expand_hdr(r, "bob", NULL, one, &xs);
	assert_string_equal(got, "0:addr:alice@example.com");
	assert_non_null(xs);
	assert_string_equal(xs, "robert@example.com");
	free(got);
	free(xs);
	xs = NULL;
	got = rs_expand_hdr(r, "x@remote.example", NULL, one, &xs);
	assert_null(xs);
	free(got);
	got = rs_expand_hdr(r, "", NULL, one, &xs);
	assert_null(xs);
	free(got);
	resolve_free(&r);
}

/* One struct resolve shared by threads (the queue role's workers): lmdb:,
 * texthash: and the domain lists are looked up under the module's lock. */
static void *expand_thread(void *arg)
{
	struct resolve *r = arg;
	const char *const rcpts[] = { "team@example.com", "info+x@example.com", "x@alias.example",
				      "gone@example.com", NULL };
	intptr_t ok = 1;

	for (int i = 0; i < 200 && ok; i++) {
		char *got = rs_expand(r, rcpts);

		ok = strcmp(got, "0:addr:alice@example.com | 0:addr:bob@example.com | "
				 "0:addr:carol@remote.example | 1:addr:alice+x@example.com | "
				 "2:addr:admin@example.com | "
				 "3:FAIL:gone@example.com:5.1.6:user has moved to new@elsewhere.example") == 0;
		if (!ok)
			fprintf(stderr, "got: %s\n", got);
		free(got);
	}
	return (void *)ok;
}

static void test_threads(void **state)
{
	struct resolve *r = new_resolve(NULL);
	pthread_t t[4];

	(void)state;
	for (int i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, expand_thread, r);
	for (int i = 0; i < 4; i++) {
		void *ok;

		pthread_join(t[i], &ok);
		assert_true(ok == (void *)1);
	}
	resolve_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_local_users),
		cmocka_unit_test(test_extension),
		cmocka_unit_test(test_aliases),
		cmocka_unit_test(test_aliases_restricted),
		cmocka_unit_test(test_virtual),
		cmocka_unit_test(test_virtual_loop),
		cmocka_unit_test(test_relocated),
		cmocka_unit_test(test_luser_relay),
		cmocka_unit_test(test_forward),
		cmocka_unit_test(test_loops),
		cmocka_unit_test(test_duplicates_and_orig),
		cmocka_unit_test(test_tempfail),
		cmocka_unit_test(test_sender),
		cmocka_unit_test(test_threads),
	};

	return cmocka_run_group_tests(tests, rs_setup, rs_teardown);
}
