/*
 * test_restrict_more.c - the restriction features added after the first
 * set (smtp/restrict-access.c _a/_mx/_ns access, restrict-addr.c
 * relay_recipient_maps, restrict-dnsbl.c + restrict-template.c
 * rbl_reply_maps / default_rbl_reply, restrict-policy.c
 * check_policy_service, restrict-parse.c refusals): facts in, exact reply
 * out, with the fake resolver and userdb of restrict_test_util.h and a
 * policy server thread on a unix socket.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "restrict_test_util.h"

#define STRICT_RELAY "smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination\n"
#define POLICY_SOCK "/tmp/postern-test-policy.sock"

struct mcase {
	const char *config;
	const char *helo, *sender, *recipient;
	const char *expect;
	const char *sasl;
};

static const struct mcase cases[] = {
	/* relay_recipient_maps */
	{ STRICT_RELAY, .recipient = "anyone@relay.example", .expect = "accept" },
	{ STRICT_RELAY "relay_recipient_maps = inline:{ known@relay.example=x, @open.relay.example=x }\n"
	  "relay_domains = relay.example, open.relay.example\n",
	  .recipient = "known@relay.example", .expect = "accept" },
	{ STRICT_RELAY "relay_recipient_maps = inline:{ known@relay.example=x, @open.relay.example=x }\n"
	  "relay_domains = relay.example, open.relay.example\n",
	  .recipient = "who@open.relay.example", .expect = "accept" },
	{ STRICT_RELAY "relay_recipient_maps = inline:{ known@relay.example=x }\n",
	  .recipient = "other@relay.example",
	  .expect = "550 5.1.1 <other@relay.example>: Recipient address rejected: User unknown in "
		    "relay recipient table" },
	{ STRICT_RELAY "relay_recipient_maps = inline:{ known@relay.example=x }\n"
	  "unknown_relay_recipient_reject_code = 450\n",
	  .recipient = "other@relay.example",
	  .expect = "450 4.1.1 <other@relay.example>: Recipient address rejected: User unknown in "
		    "relay recipient table" },
	/* a sender in a relay domain is checked only with smtpd_reject_unlisted_sender */
	{ STRICT_RELAY "relay_recipient_maps = inline:{ known@relay.example=x }\n",
	  .sender = "other@relay.example", .expect = "accept" },
	{ STRICT_RELAY "relay_recipient_maps = inline:{ known@relay.example=x }\n"
	  "smtpd_reject_unlisted_sender = yes\n", .sender = "other@relay.example",
	  .expect = "550 5.1.0 <other@relay.example>: Sender address rejected: User unknown in "
		    "relay recipient table" },
	/* rbl_reply_maps and default_rbl_reply */
	{ "smtpd_client_restrictions = reject_rbl_client zen.example\n"
	  "rbl_reply_maps = inline:{ { zen.example = 521 5.7.1 $$rbl_what is listed: $${rbl_reason} } }\n",
	  .expect = "521 5.7.1 203.0.113.9 is listed: Blocked: see https://zen.example/q?203.0.113.9" },
	{ "smtpd_client_restrictions = reject_rbl_client zen.example\n"
	  "default_rbl_reply = $rbl_code Go away $client${rbl_reason?{ ($rbl_domain)}}\n",
	  .expect = "554 5.7.1 Go away unknown[203.0.113.9] (zen.example)" },
	{ "smtpd_client_restrictions = reject_rbl_client zen.example\n"
	  "rbl_reply_maps = inline:{ { other.example = 521 no } }\n",
	  .expect = "554 5.7.1 Service unavailable; Client host [203.0.113.9] blocked using "
		    "zen.example; Blocked: see https://zen.example/q?203.0.113.9" },
	{ "smtpd_sender_restrictions = reject_rhsbl_sender dbl.example\n"
	  "rbl_reply_maps = inline:{ { dbl.example = 550 go away $$sender_name at $$sender_domain } }\n",
	  .sender = "eve@spam.example",
	  .expect = "550 5.7.1 go away eve at spam.example" },
	/* a template without a code: Postfix's generic temporary reply */
	{ "smtpd_sender_restrictions = reject_rhsbl_sender dbl.example\n"
	  "rbl_reply_maps = inline:{ { dbl.example = go away } }\n",
	  .sender = "eve@spam.example", .expect = "450 4.7.1 Service unavailable" },
	{ "smtpd_sender_restrictions = reject_rhsbl_sender dbl.example\n"
	  "rbl_reply_maps = inline:{ { dbl.example = 521 } }\n",
	  .sender = "eve@spam.example", .expect = "521 5.7.1 Service unavailable" },
	/* check_*_{a,mx,ns}_access */
	{ "smtpd_sender_restrictions = check_sender_mx_access inline:{ { mx.good.example = REJECT bad mx } }\n",
	  .expect = "554 5.7.1 <s@good.example>: Sender address rejected: bad mx" },
	{ "smtpd_sender_restrictions = check_sender_mx_access inline:{ { 192.0.2.20 = REJECT bad ip } }\n",
	  .expect = "554 5.7.1 <s@good.example>: Sender address rejected: bad ip" },
	{ "smtpd_sender_restrictions = check_sender_mx_access cidr:/tmp/postern-test-more.cidr\n",
	  .expect = "554 5.7.1 <s@good.example>: Sender address rejected: cidr net" },
	{ "smtpd_sender_restrictions = check_sender_mx_access inline:{ mx.good.example=OK }, reject\n",
	  .expect = "554 5.7.1 <s@good.example>: Sender address rejected: Access denied" },
	/* no MX: the domain is its own mail host (aonly.example A 192.0.2.11) */
	{ "smtpd_sender_restrictions = check_sender_mx_access inline:{ { 192.0.2.11 = REJECT direct } }\n",
	  .sender = "s@aonly.example",
	  .expect = "554 5.7.1 <s@aonly.example>: Sender address rejected: direct" },
	{ "smtpd_sender_restrictions = check_sender_ns_access inline:{ { ns1.good.example = REJECT bad ns } }\n",
	  .sender = "s@deep.sub.good.example",
	  .expect = "554 5.7.1 <s@deep.sub.good.example>: Sender address rejected: bad ns" },
	{ "smtpd_sender_restrictions = check_sender_ns_access inline:{ { 2001:db8::53 = REJECT v6 ns } }\n",
	  .expect = "554 5.7.1 <s@good.example>: Sender address rejected: v6 ns" },
	{ "smtpd_helo_restrictions = check_helo_a_access inline:{ { 192.0.2.10 = DEFER try later } }\n",
	  .expect = "450 4.7.1 <good.example>: Helo command rejected: try later" },
	{ "smtpd_helo_restrictions = check_helo_a_access inline:{ 192.0.2.10=OK }, reject\n",
	  .expect = "accept" },
	{ "relay_domains = good.example\nsmtpd_recipient_restrictions = check_recipient_mx_access inline:{ mx.good.example=REJECT }\n",
	  .recipient = "x@good.example",
	  .expect = "554 5.7.1 <x@good.example>: Recipient address rejected: Access denied" },
	{ "smtpd_client_restrictions = check_client_mx_access inline:{ mx.good.example=REJECT }\n",
	  .expect = "accept" /* the client name is unknown */ },
	/* a failed MX look-up skips the table (Postfix: a warning, DUNNO) */
	{ "smtpd_sender_restrictions = check_sender_mx_access inline:{ x=y }, reject\n",
	  .sender = "s@tempdom.example",
	  .expect = "554 5.7.1 <s@tempdom.example>: Sender address rejected: Access denied" },
	/* an address literal is its own server */
	{ "smtpd_sender_restrictions = check_sender_mx_access inline:{ { 192.0.2.99 = REJECT lit } }\n",
	  .sender = "s@[192.0.2.99]",
	  .expect = "554 5.7.1 <s@[192.0.2.99]>: Sender address rejected: lit" },
	{ "smtpd_helo_restrictions = check_helo_a_access inline:{ { 192.0.2.98 = REJECT bare } }\n",
	  .helo = "[192.0.2.98]", .expect = "554 5.7.1 <[192.0.2.98]>: Helo command rejected: bare" },
	{ "smtpd_sender_restrictions = check_sender_mx_access inline:{ x=y }\n",
	  .sender = "s@tempdom.example", .expect = "accept" },
	/* the null sender has no domain */
	{ "smtpd_sender_restrictions = check_sender_a_access inline:{ 192.0.2.10=REJECT }\n",
	  .sender = "", .expect = "accept" },
	/* check_sasl_access: the login name is the key; no login, no look-up */
	{ "smtpd_sender_restrictions = check_sasl_access inline:{ { alice = REJECT account locked } }\n",
	  .sasl = "alice",
	  .expect = "554 5.7.1 <alice>: SASL login name rejected: account locked" },
	{ "smtpd_sender_restrictions = check_sasl_access inline:{ { alice = REJECT account locked } }\n",
	  .sasl = "bob", .expect = "accept" },
	{ "smtpd_sender_restrictions = check_sasl_access inline:{ { alice = REJECT account locked } }\n",
	  .expect = "accept" },
	/* a class as the result: alice may not relay although she logged in */
#define SASL_CLASS "smtpd_relay_restrictions = permit_sasl_authenticated, reject_unauth_destination\n" \
	"smtpd_restriction_classes = locked\nlocked = reject_unauth_destination\n" \
	"smtpd_sender_restrictions = check_sasl_access inline:{ alice=locked }\n"
	{ SASL_CLASS, .sasl = "alice", .recipient = "x@other.example",
	  .expect = "554 5.7.1 <x@other.example>: Relay access denied" },
	{ SASL_CLASS, .sasl = "bob", .recipient = "x@other.example", .expect = "accept" },
	/* reject_known_sender_login_mismatch: only senders listed in
	 * smtpd_sender_login_maps (boss@example.com = alice) are checked */
	{ "smtpd_sender_restrictions = reject_known_sender_login_mismatch\n",
	  .sender = "boss@example.com", .sasl = "bob",
	  .expect = "553 5.7.1 <boss@example.com>: Sender address rejected: not owned by user bob" },
	{ "smtpd_sender_restrictions = reject_known_sender_login_mismatch\n",
	  .sender = "boss@example.com",
	  .expect = "553 5.7.1 <boss@example.com>: Sender address rejected: not logged in" },
	{ "smtpd_sender_restrictions = reject_known_sender_login_mismatch\n",
	  .sender = "boss@example.com", .sasl = "alice", .expect = "accept" },
	{ "smtpd_sender_restrictions = reject_known_sender_login_mismatch\n",
	  .sender = "nobody@example.com", .sasl = "bob", .expect = "accept" },
	{ "smtpd_sender_restrictions = reject_sender_login_mismatch\n",
	  .sender = "nobody@example.com", .sasl = "bob",
	  .expect = "553 5.7.1 <nobody@example.com>: Sender address rejected: not owned by user bob" },
	/* check_policy_service (server thread: see policy_server) */
	{ "smtpd_recipient_restrictions = check_policy_service unix:" POLICY_SOCK "\n",
	  .recipient = "bob@example.com",
	  .expect = "554 5.7.1 <bob@example.com>: Recipient address rejected: policy says no" },
	{ "smtpd_recipient_restrictions = check_policy_service unix:" POLICY_SOCK "\n",
	  .recipient = "alice@example.com", .expect = "accept" },
	{ "smtpd_recipient_restrictions = check_policy_service unix:" POLICY_SOCK "\n",
	  .recipient = "dora@example.com",
	  .expect = "451 4.3.5 <dora@example.com>: Recipient address rejected: Server configuration "
		    "problem" },
	{ "smtpd_recipient_restrictions = check_policy_service unix:" POLICY_SOCK "\n",
	  .recipient = "long@example.com",
	  .expect = "451 4.3.5 <long@example.com>: Recipient address rejected: Server configuration "
		    "problem" },
	{ "smtpd_recipient_restrictions = check_policy_service unix:/nonexistent/postern.sock\n"
	  "smtpd_policy_service_retry_delay = 0\n",
	  .expect = "451 4.3.5 <bob@example.com>: Recipient address rejected: Server configuration "
		    "problem" },
	{ "smtpd_recipient_restrictions = check_policy_service unix:/nonexistent/postern.sock\n"
	  "smtpd_policy_service_default_action = DUNNO\n", .expect = "accept" },
	/* closed before replying: tried again (smtpd_policy_service_try_limit = 2) */
	{ "smtpd_recipient_restrictions = check_policy_service unix:" POLICY_SOCK "\n"
	  "smtpd_policy_service_retry_delay = 0\n", .recipient = "flaky@example.com",
	  .expect = "554 5.7.1 <flaky@example.com>: Recipient address rejected: flaky, second try" },
	{ "smtpd_recipient_restrictions = check_policy_service unix:" POLICY_SOCK "\n"
	  "smtpd_policy_service_try_limit = 1\n", .recipient = "flaky@example.com",
	  .expect = "451 4.3.5 <flaky@example.com>: Recipient address rejected: Server configuration "
		    "problem" },
	{ "smtpd_sender_restrictions = check_policy_service inet:127.0.0.1:1\n"
	  "smtpd_policy_service_retry_delay = 0\n",
	  .expect = "451 4.3.5 <s@good.example>: Sender address rejected: Server configuration problem" },
};

/* ---- a policy server thread: bob -> REJECT, alice -> DUNNO, others: no action ---- */

static int policy_fd = -1;
static pthread_t policy_thread;
static char policy_last[2048];

static char long_reply[12000];
static unsigned flaky;

static void *policy_server(void *arg)
{
	(void)arg;
	/* many short lines, over 8192 bytes before the action */
	for (size_t i = 0; i + 4 <= sizeof(long_reply) - 40; i += 4)
		memcpy(long_reply + i, "x=y\n", 4);
	str_copy(long_reply + sizeof(long_reply) - 40, "action=OK\n\n", 40);
	for (;;) {
		char buf[4096];
		size_t n = 0;
		int c = accept(policy_fd, NULL, NULL);
		const char *reply;

		if (c < 0)
			return NULL;
		while (n < sizeof(buf) - 1) {
			ssize_t r = read(c, buf + n, sizeof(buf) - 1 - n);

			if (r <= 0)
				break;
			n += (size_t)r;
			buf[n] = '\0';
			if (strstr(buf, "\n\n"))
				break;
		}
		buf[n] = '\0';
		str_copy(policy_last, buf, sizeof(policy_last));
		if (strstr(buf, "recipient=bob@example.com\n"))
			reply = "action=REJECT policy says no\n\n";
		else if (strstr(buf, "recipient=alice@example.com\n"))
			reply = "ignored=1\naction=DUNNO\n\n";
		else if (strstr(buf, "recipient=long@example.com\n"))
			reply = long_reply;
		else if (strstr(buf, "recipient=flaky@example.com\n") && flaky++ % 2 == 0) {
			close(c); /* a daemon restarting: closed before replying */
			continue;
		} else if (strstr(buf, "recipient=flaky@example.com\n"))
			reply = "action=REJECT flaky, second try\n\n";
		else
			reply = "result=nothing\n\n";
		if (write(c, reply, strlen(reply)) < 0)
			(void)0;
		close(c);
	}
}

static int setup(void **state)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	FILE *f = fopen("/tmp/postern-test-more.cidr", "w");

	(void)state;
	log_init("test", 0);
	if (f == NULL)
		return -1;
	fputs("192.0.2.16/28 REJECT cidr net\n", f);
	fclose(f);
	unlink(POLICY_SOCK);
	str_copy(sun.sun_path, POLICY_SOCK, sizeof(sun.sun_path));
	policy_fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (policy_fd < 0 || bind(policy_fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 ||
	    listen(policy_fd, 8) < 0)
		return -1;
	return pthread_create(&policy_thread, NULL, policy_server, NULL) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	shutdown(policy_fd, SHUT_RDWR);
	close(policy_fd);
	pthread_join(policy_thread, NULL);
	unlink(POLICY_SOCK);
	unlink("/tmp/postern-test-more.cidr");
	if (rt_base)
		event_base_free(rt_base);
	rt_base = NULL;
	return 0;
}

static void run_one(size_t i, const struct mcase *c, struct rt_outcome *o)
{
	struct config *cfg = NULL;
	char *err = NULL;
	struct restrictions *r = rt_new(&cfg, c->config, &err);
	struct restrict_facts f;

	if (r == NULL)
		fail_msg("case %zu: %s", i, err ? err : rt_errors);
	rt_default_facts(&f);
	if (c->helo)
		f.helo = c->helo;
	if (c->sender)
		f.sender = c->sender;
	if (c->recipient)
		f.recipient = c->recipient;
	f.sasl_username = c->sasl;
	memset(o, 0, sizeof(*o));
	{
		struct restrict_req *req = restrict_check(r, RESTRICT_RCPT, &f, rt_done, o);

		/* the policy server answers from another thread: wait for it */
		for (int k = 0; k < 500 && req && !o->done; k++)
			event_base_loop(rt_base, EVLOOP_ONCE);
		if (!o->done) {
			restrict_cancel(&req);
			str_copy(o->text, "NOT DONE", sizeof(o->text));
		}
	}
	restrictions_free(&r);
	config_free(&cfg);
}

static void test_cases(void **state)
{
	const char *only = getenv("RESTRICT_CASE");

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct rt_outcome o;

		if (only && (size_t)atoi(only) != i)
			continue;
		run_one(i, &cases[i], &o);
		if (strcmp(o.text, cases[i].expect) != 0)
			fail_msg("case %zu (%s): got \"%s\", want \"%s\"", i, cases[i].config, o.text,
				 cases[i].expect);
	}
}

/* What the policy server receives (Postfix SMTPD_POLICY_README). */
static void test_policy_request(void **state)
{
	static const struct mcase c = {
		"smtpd_recipient_restrictions = check_policy_service unix:" POLICY_SOCK "\n"
		"smtpd_policy_service_policy_context = mx-in\n",
		.recipient = "alice@example.com", .expect = "accept",
	};
	struct rt_outcome o;

	(void)state;
	run_one(0, &c, &o);
	assert_string_equal(o.text, "accept");
	assert_non_null(strstr(policy_last, "request=smtpd_access_policy\nprotocol_state=RCPT\n"
					    "protocol_name=ESMTP\nclient_address=203.0.113.9\n"
					    "client_name=unknown\nreverse_client_name=unknown\n"
					    "helo_name=good.example\nsender=s@good.example\n"
					    "recipient=alice@example.com\nrecipient_count=0\n"));
	assert_non_null(strstr(policy_last, "\npolicy_context=mx-in\n"));
	assert_non_null(strstr(policy_last, "\ninstance="));
	/* the request ends with one empty line */
	assert_int_equal(strlen(policy_last) - (size_t)(strstr(policy_last, "\n\n") - policy_last), 2);
}

struct ecase {
	const char *config;
	const char *expect;
};

static const struct ecase errors[] = {
	{ "smtpd_recipient_restrictions = reject_unverified_recipient\n",
	  "smtpd_recipient_restrictions: reject_unverified_recipient is not supported: it needs the "
	  "queue's address verification (issue #7), which is not built yet; use "
	  "reject_unknown_recipient_domain or reject_unlisted_recipient meanwhile" },
	{ "smtpd_sender_restrictions = reject_unverified_sender\n",
	  "smtpd_sender_restrictions: reject_unverified_sender is not supported: it needs the "
	  "queue's address verification (issue #7)" },
	{ "smtpd_recipient_restrictions = check_policy_service\n",
	  "smtpd_recipient_restrictions: check_policy_service needs a policy server; write "
	  "check_policy_service inet:127.0.0.1:10023 or check_policy_service unix:/path" },
	{ "smtpd_recipient_restrictions = check_policy_service tcp:1.2.3.4:5\n",
	  "smtpd_recipient_restrictions: check_policy_service: policy service \"tcp:1.2.3.4:5\": "
	  "expected inet:host:port or unix:/path" },
	{ "smtpd_recipient_restrictions = check_policy_service inet:localhost\n",
	  "expected inet:host:port, e.g. inet:127.0.0.1:10023" },
	{ "smtpd_sender_restrictions = check_sender_mx_access\n",
	  "smtpd_sender_restrictions: check_sender_mx_access needs a table" },
	{ "relay_recipient_maps = texthash:/nonexistent/postern-rr\n",
	  "relay_recipient_maps: /nonexistent/postern-rr: No such file or directory" },
	{ "rbl_reply_maps = texthash:/nonexistent/postern-rbl\n",
	  "rbl_reply_maps: /nonexistent/postern-rbl: No such file or directory" },
};

static void test_errors(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(errors) / sizeof(errors[0]); i++) {
		struct config *cfg = NULL;
		char *err = NULL;
		struct restrictions *r;

		if (rt_base == NULL)
			rt_base = event_base_new();
		cfg = rt_config(errors[i].config);
		assert_non_null(cfg);
		r = restrictions_new(cfg, rt_base, &err);
		if (r != NULL)
			fail_msg("error case %zu accepted", i);
		if (err == NULL || strstr(err, errors[i].expect) == NULL)
			fail_msg("error case %zu: got \"%s\", want \"%s\"", i, err ? err : "(null)",
				 errors[i].expect);
		free(err);
		config_free(&cfg);
	}
}

/* A relative unix: path lands in run_directory. */
static void test_policy_relative_path(void **state)
{
	struct config *cfg = NULL;
	char *err = NULL;
	struct restrictions *r;

	(void)state;
	r = rt_new(&cfg, "run_directory = /nonexistent-run\nsmtpd_policy_service_retry_delay = 0\n"
		   "smtpd_recipient_restrictions = check_policy_service unix:policy\n", &err);
	if (r == NULL)
		fail_msg("%s", err ? err : rt_errors);
	{
		struct restrict_facts f;
		struct rt_outcome o;

		rt_default_facts(&f);
		rt_run(r, RESTRICT_RCPT, &f, &o);
		assert_string_equal(o.text, "451 4.3.5 <bob@example.com>: Recipient address rejected: "
					    "Server configuration problem");
	}
	restrictions_free(&r);
	config_free(&cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cases),
		cmocka_unit_test(test_policy_request),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_policy_relative_path),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
