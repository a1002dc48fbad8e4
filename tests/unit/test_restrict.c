/*
 * test_restrict.c - smtp/restrict*.c, table-driven: extra configuration
 * and SMTP facts in, the exact reply line (or accept/DISCARD/HOLD/
 * REDIRECT) out, for every rule and every access(5) action. DNS answers
 * come from a fake resolver and users from a fake userdb (see
 * restrict_test_util.h): client 203.0.113.9 is outside mynetworks.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <unistd.h>

#include "restrict_test_util.h"

/* The tables below name only the fields that differ from the defaults. */
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

struct rcase {
	const char *config;
	enum restrict_stage stage;
	const char *client_addr, *client_name, *helo, *sender, *recipient, *sasl;
	unsigned rcpt_count;
	bool pipelining, name_tempfail;
	const char *expect;
	const char *reverse_name;
};

#define CIDR_FILE_PATH "/tmp/postern-test-restrict.cidr"
#define STRICT_RELAY "smtpd_relay_restrictions = permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination\n"

static const struct rcase cases[] = {
	/* Postfix >= 2.10 defaults: local users yes, relaying deferred */
	{ "", RESTRICT_RCPT, .expect = "accept" },
	{ "", RESTRICT_RCPT, .recipient = "x@other.example",
	  .expect = "450 4.7.1 <x@other.example>: Relay access denied" },
	{ STRICT_RELAY, RESTRICT_RCPT, .recipient = "x@other.example",
	  .expect = "554 5.7.1 <x@other.example>: Relay access denied" },
	{ STRICT_RELAY, RESTRICT_RCPT, .client_addr = "192.168.1.5", .recipient = "x@other.example",
	  .expect = "accept" },
	{ STRICT_RELAY, RESTRICT_RCPT, .client_addr = "2001:db8::5", .recipient = "x@other.example",
	  .expect = "accept" },
	{ STRICT_RELAY, RESTRICT_RCPT, .sasl = "alice", .recipient = "x@other.example",
	  .expect = "accept" },
	{ STRICT_RELAY, RESTRICT_RCPT, .recipient = "x@relay.example", .expect = "accept" },
	{ STRICT_RELAY, RESTRICT_RCPT, .recipient = "x@sub.relay.example", .expect = "accept" },
	{ STRICT_RELAY "relay_domains =\n", RESTRICT_RCPT, .recipient = "x@relay.example",
	  .expect = "554 5.7.1 <x@relay.example>: Relay access denied" },
	{ "relay_code_unused = 1\n" STRICT_RELAY, RESTRICT_RCPT, .recipient = "x@example.com.other",
	  .expect = "554 5.7.1 <x@example.com.other>: Relay access denied" },
	/* mynetworks: networks, tables, and mynetworks_style when unset */
	{ STRICT_RELAY "mynetworks = inline:{ 203.0.113.9=yes }\n", RESTRICT_RCPT,
	  .recipient = "x@other.example", .expect = "accept" },
	{ STRICT_RELAY "mynetworks = cidr:" CIDR_FILE_PATH "\n", RESTRICT_RCPT,
	  .client_addr = "192.0.2.77", .recipient = "x@other.example", .expect = "accept" },
	{ STRICT_RELAY "mynetworks = 203.0.113.0/25\n", RESTRICT_RCPT,
	  .recipient = "x@other.example", .expect = "accept" },
	{ STRICT_RELAY "mynetworks = 203.0.113.128/25\n", RESTRICT_RCPT,
	  .recipient = "x@other.example", .expect = "554 5.7.1 <x@other.example>: Relay access denied" },
	{ STRICT_RELAY "mynetworks = [2001:db8::]/32\n", RESTRICT_RCPT, .client_addr = "2001:db9::1",
	  .recipient = "x@other.example", .expect = "554 5.7.1 <x@other.example>: Relay access denied" },
	/* unlisted recipients (smtpd_reject_unlisted_recipient = yes) */
	{ "", RESTRICT_RCPT, .recipient = "nobody@example.com",
	  .expect = "550 5.1.1 <nobody@example.com>: Recipient address rejected: User unknown in local recipient table" },
	{ "", RESTRICT_RCPT, .recipient = "Bob@Example.COM", .expect = "accept" },
	{ "", RESTRICT_RCPT, .recipient = "dora@example.com", .expect = "accept" },
	{ "", RESTRICT_RCPT, .recipient = "dora@mail.example.com",
	  .expect = "550 5.1.1 <dora@mail.example.com>: Recipient address rejected: User unknown in local recipient table" },
	{ "", RESTRICT_RCPT, .recipient = "alias@example.com", .expect = "accept" },
	{ "", RESTRICT_RCPT, .recipient = "info@valias.example", .expect = "accept" },
	{ "", RESTRICT_RCPT, .recipient = "zed@valias.example",
	  .expect = "550 5.1.1 <zed@valias.example>: Recipient address rejected: User unknown in virtual alias table" },
	{ "", RESTRICT_RCPT, .recipient = "carol@vmail.example", .expect = "accept" },
	{ "", RESTRICT_RCPT, .recipient = "dave@vmail.example",
	  .expect = "550 5.1.1 <dave@vmail.example>: Recipient address rejected: User unknown in virtual mailbox table" },
	{ "", RESTRICT_RCPT, .recipient = "tempuser@example.com",
	  .expect = "451 4.3.0 <tempuser@example.com>: Temporary lookup failure" },
	{ "smtpd_reject_unlisted_recipient = no\n", RESTRICT_RCPT, .recipient = "nobody@example.com",
	  .expect = "accept" },
	{ "luser_relay = bob\n", RESTRICT_RCPT, .recipient = "nobody@example.com", .expect = "accept" },
	{ "local_recipient_maps =\n", RESTRICT_RCPT, .recipient = "nobody@example.com", .expect = "accept" },
	{ "smtpd_reject_unlisted_recipient = no\nsmtpd_recipient_restrictions = reject_unlisted_recipient\n",
	  RESTRICT_RCPT, .recipient = "nobody@example.com",
	  .expect = "550 5.1.1 <nobody@example.com>: Recipient address rejected: User unknown in local recipient table" },
	{ "unknown_local_recipient_reject_code = 450\n", RESTRICT_RCPT, .recipient = "nobody@example.com",
	  .expect = "450 4.1.1 <nobody@example.com>: Recipient address rejected: User unknown in local recipient table" },
	{ "smtpd_sender_restrictions = reject_unlisted_sender\n", RESTRICT_RCPT,
	  .sender = "nobody@example.com",
	  .expect = "550 5.1.0 <nobody@example.com>: Sender address rejected: User unknown in local recipient table" },
	{ "smtpd_reject_unlisted_sender = yes\n", RESTRICT_RCPT, .sender = "nobody@example.com",
	  .expect = "550 5.1.0 <nobody@example.com>: Sender address rejected: User unknown in local recipient table" },
	/* generic rules */
	{ "smtpd_client_restrictions = reject\n", RESTRICT_RCPT,
	  .expect = "554 5.7.1 <unknown[203.0.113.9]>: Client host rejected: Access denied" },
	{ "smtpd_helo_restrictions = reject\n", RESTRICT_RCPT,
	  .expect = "554 5.7.1 <good.example>: Helo command rejected: Access denied" },
	{ "smtpd_sender_restrictions = defer\n", RESTRICT_RCPT,
	  .expect = "450 4.3.2 <s@good.example>: Sender address rejected: Try again later" },
	{ "smtpd_recipient_restrictions = permit_mynetworks, reject\n", RESTRICT_RCPT,
	  .expect = "554 5.7.1 <bob@example.com>: Recipient address rejected: Access denied" },
	{ "smtpd_recipient_restrictions = permit_mynetworks, reject\n", RESTRICT_RCPT,
	  .client_addr = "192.168.7.7", .expect = "accept" },
	{ "reject_code = 550\nsmtpd_recipient_restrictions = reject\n", RESTRICT_RCPT,
	  .expect = "550 5.7.1 <bob@example.com>: Recipient address rejected: Access denied" },
	{ "smtpd_client_restrictions = permit\nsmtpd_recipient_restrictions = reject\n", RESTRICT_RCPT,
	  .expect = "554 5.7.1 <bob@example.com>: Recipient address rejected: Access denied" },
	{ "smtpd_recipient_restrictions = warn_if_reject reject\n", RESTRICT_RCPT, .expect = "accept" },
	{ "smtpd_recipient_restrictions = defer_if_reject, reject\n", RESTRICT_RCPT,
	  .expect = "450 4.7.0 <bob@example.com>: Recipient address rejected: defer_if_reject requested" },
	{ "smtpd_recipient_restrictions = defer_if_reject\n", RESTRICT_RCPT, .expect = "accept" },
	{ "smtpd_recipient_restrictions = defer_if_permit\n", RESTRICT_RCPT,
	  .expect = "450 4.7.0 <bob@example.com>: Recipient address rejected: defer_if_permit requested" },
	{ "smtpd_recipient_restrictions = defer_if_permit, reject\n", RESTRICT_RCPT,
	  .expect = "554 5.7.1 <bob@example.com>: Recipient address rejected: Access denied" },
	{ "smtpd_relay_restrictions = permit_auth_destination, reject\n", RESTRICT_RCPT,
	  .expect = "accept" },
	{ "smtpd_relay_restrictions = permit_auth_destination, reject\n", RESTRICT_RCPT,
	  .recipient = "x@other.example",
	  .expect = "554 5.7.1 <x@other.example>: Recipient address rejected: Access denied" },
	/* smtpd_delay_reject */
	{ "smtpd_client_restrictions = reject\n", RESTRICT_CONNECT, .expect = "accept" },
	{ "smtpd_delay_reject = no\nsmtpd_client_restrictions = reject\n", RESTRICT_CONNECT,
	  .expect = "554 5.7.1 <unknown[203.0.113.9]>: Client host rejected: Access denied" },
	{ "smtpd_delay_reject = no\nsmtpd_client_restrictions = reject\n", RESTRICT_RCPT,
	  .expect = "accept" },
	{ "smtpd_delay_reject = no\nsmtpd_helo_restrictions = reject_non_fqdn_helo_hostname\n",
	  RESTRICT_HELO, .helo = "localhost",
	  .expect = "504 5.5.2 <localhost>: Helo command rejected: need fully-qualified hostname" },
	{ "smtpd_delay_reject = no\nsmtpd_sender_restrictions = reject_non_fqdn_sender\n",
	  RESTRICT_MAIL, .sender = "joe",
	  .expect = "504 5.5.2 <joe>: Sender address rejected: need fully-qualified address" },
	{ "smtpd_data_restrictions = reject\n", RESTRICT_DATA,
	  .expect = "554 5.7.1 <DATA>: Data command rejected: Access denied" },
	{ "smtpd_end_of_data_restrictions = reject\n", RESTRICT_END_OF_DATA,
	  .expect = "554 5.7.1 <END-OF-MESSAGE>: End-of-data rejected: Access denied" },
	/* HELO rules */
	{ "smtpd_helo_restrictions = reject_invalid_helo_hostname\n", RESTRICT_RCPT, .helo = "bad_helo!",
	  .expect = "501 5.5.2 <bad_helo!>: Helo command rejected: Invalid name" },
	{ "smtpd_helo_restrictions = reject_invalid_helo_hostname\n", RESTRICT_RCPT, .helo = "[192.0.2.1]",
	  .expect = "accept" },
	{ "smtpd_helo_restrictions = reject_non_fqdn_helo_hostname\n", RESTRICT_RCPT, .helo = "localhost",
	  .expect = "504 5.5.2 <localhost>: Helo command rejected: need fully-qualified hostname" },
	{ "smtpd_helo_restrictions = reject_non_fqdn_helo_hostname\n", RESTRICT_RCPT, .helo = "[192.0.2.1]",
	  .expect = "accept" },
	{ "smtpd_helo_restrictions = reject_unknown_helo_hostname\n", RESTRICT_RCPT, .helo = "nohost.example",
	  .expect = "450 4.7.1 <nohost.example>: Helo command rejected: Host not found" },
	{ "smtpd_helo_restrictions = reject_unknown_helo_hostname\n", RESTRICT_RCPT, .helo = "good.example",
	  .expect = "accept" },
	{ "smtpd_helo_restrictions = reject_unknown_helo_hostname\n", RESTRICT_RCPT, .helo = "tempfail.example",
	  .expect = "450 4.7.1 <tempfail.example>: Helo command rejected: Host not found" },
	{ "smtpd_helo_restrictions = reject_unknown_helo_hostname\nunknown_hostname_reject_code = 550\n",
	  RESTRICT_RCPT, .helo = "tempfail.example",
	  .expect = "450 4.7.1 <tempfail.example>: Helo command rejected: Host not found" },
	{ "smtpd_helo_restrictions = reject_unknown_helo_hostname\nunknown_hostname_reject_code = 550\n",
	  RESTRICT_RCPT, .helo = "nohost.example",
	  .expect = "550 5.7.1 <nohost.example>: Helo command rejected: Host not found" },
	/* sender / recipient address rules */
	{ "smtpd_recipient_restrictions = reject_non_fqdn_recipient\n", RESTRICT_RCPT, .recipient = "bob",
	  .expect = "504 5.5.2 <bob>: Recipient address rejected: need fully-qualified address" },
	{ "smtpd_sender_restrictions = reject_non_fqdn_sender\n", RESTRICT_RCPT, .sender = "",
	  .expect = "accept" },
	{ "smtpd_sender_restrictions = reject_unknown_sender_domain\n", RESTRICT_RCPT,
	  .sender = "x@nodomain.example",
	  .expect = "450 4.1.8 <x@nodomain.example>: Sender address rejected: Domain not found" },
	{ "smtpd_sender_restrictions = reject_unknown_sender_domain\nunknown_address_reject_code = 550\n",
	  RESTRICT_RCPT, .sender = "x@nodomain.example",
	  .expect = "550 5.1.8 <x@nodomain.example>: Sender address rejected: Domain not found" },
	{ "smtpd_sender_restrictions = reject_unknown_sender_domain\nunknown_address_reject_code = 550\n",
	  RESTRICT_RCPT, .sender = "x@tempdom.example",
	  .expect = "450 4.1.8 <x@tempdom.example>: Sender address rejected: Domain not found" },
	{ "smtpd_sender_restrictions = reject_unknown_sender_domain\n", RESTRICT_RCPT,
	  .sender = "x@nullmx.example",
	  .expect = "550 5.7.27 <x@nullmx.example>: Sender address rejected: Domain nullmx.example does not accept mail (nullMX)" },
	{ "smtpd_sender_restrictions = reject_unknown_sender_domain\n", RESTRICT_RCPT,
	  .sender = "x@aonly.example", .expect = "accept" },
	{ "smtpd_sender_restrictions = reject_unknown_sender_domain\n", RESTRICT_RCPT,
	  .sender = "x@example.com", .expect = "accept" },
	{ "smtpd_recipient_restrictions = reject_unknown_recipient_domain\n", RESTRICT_RCPT,
	  .client_addr = "192.168.1.1", .recipient = "x@nodomain.example",
	  .expect = "450 4.1.2 <x@nodomain.example>: Recipient address rejected: Domain not found" },
	/* client name rules */
	{ "smtpd_client_restrictions = reject_unknown_client_hostname\n", RESTRICT_RCPT,
	  .expect = "450 4.7.25 Client host rejected: cannot find your hostname, [203.0.113.9]" },
	{ "smtpd_client_restrictions = reject_unknown_client_hostname\nunknown_client_reject_code = 550\n",
	  RESTRICT_RCPT, .expect = "550 5.7.25 Client host rejected: cannot find your hostname, [203.0.113.9]" },
	{ "smtpd_client_restrictions = reject_unknown_client_hostname\nunknown_client_reject_code = 550\n",
	  RESTRICT_RCPT, .name_tempfail = true,
	  .expect = "450 4.7.25 Client host rejected: cannot find your hostname, [203.0.113.9]" },
	{ "smtpd_client_restrictions = reject_unknown_client_hostname\n", RESTRICT_RCPT,
	  .client_name = "mail.good.example", .expect = "accept" },
	{ "smtpd_client_restrictions = reject_unknown_reverse_client_hostname\n", RESTRICT_RCPT,
	  .expect = "450 4.7.1 Client host rejected: cannot find your reverse hostname, [203.0.113.9]" },
	{ "smtpd_client_restrictions = reject_unknown_reverse_client_hostname\n", RESTRICT_RCPT,
	  .reverse_name = "ptr.good.example", .expect = "accept" },
	/* DNS block lists */
	{ "smtpd_client_restrictions = reject_rbl_client zen.example\n", RESTRICT_RCPT,
	  .expect = "554 5.7.1 Service unavailable; Client host [203.0.113.9] blocked using zen.example; Blocked: see https://zen.example/q?203.0.113.9" },
	{ "smtpd_client_restrictions = reject_rbl_client zen.example=127.0.0.[1..3]\n", RESTRICT_RCPT,
	  .expect = "554 5.7.1 Service unavailable; Client host [203.0.113.9] blocked using zen.example; Blocked: see https://zen.example/q?203.0.113.9" },
	{ "smtpd_client_restrictions = reject_rbl_client zen.example=127.0.0.[5..9]\n", RESTRICT_RCPT,
	  .expect = "accept" },
	{ "smtpd_client_restrictions = reject_rbl_client temp.example\n", RESTRICT_RCPT, .expect = "accept" },
	{ "smtpd_client_restrictions = reject_rbl_client nolist.example\n", RESTRICT_RCPT, .expect = "accept" },
	{ "smtpd_client_restrictions = permit_mynetworks, reject_rbl_client zen.example\n", RESTRICT_RCPT,
	  .client_addr = "192.168.0.9", .expect = "accept" },
	{ "smtpd_sender_restrictions = reject_rhsbl_sender dbl.example\n", RESTRICT_RCPT,
	  .sender = "x@spam.example",
	  .expect = "554 5.7.1 Service unavailable; Sender address [spam.example] blocked using dbl.example" },
	{ "smtpd_helo_restrictions = reject_rhsbl_helo dbl.example\n", RESTRICT_RCPT, .helo = "spam.example",
	  .expect = "554 5.7.1 Service unavailable; Helo command [spam.example] blocked using dbl.example" },
	{ "smtpd_client_restrictions = reject_rhsbl_client dbl.example\n", RESTRICT_RCPT,
	  .client_name = "host.spam.example",
	  .expect = "554 5.7.1 Service unavailable; Client host [host.spam.example] blocked using dbl.example" },
	{ "smtpd_client_restrictions = reject_rhsbl_recipient dbl.example\n", RESTRICT_RCPT,
	  .recipient = "x@spam.example",
	  .expect = "554 5.7.1 Service unavailable; Recipient address [spam.example] blocked using dbl.example" },
	{ "smtpd_client_restrictions = permit_dnswl_client zen.example, reject\n", RESTRICT_RCPT,
	  .expect = "accept" },
	{ "smtpd_client_restrictions = permit_dnswl_client nolist.example, reject\n", RESTRICT_RCPT,
	  .expect = "554 5.7.1 <unknown[203.0.113.9]>: Client host rejected: Access denied" },
	{ "smtpd_relay_restrictions = permit_dnswl_client zen.example, reject_unauth_destination\n",
	  RESTRICT_RCPT, .recipient = "x@other.example",
	  .expect = "554 5.7.1 <x@other.example>: Relay access denied" },
	{ "smtpd_client_restrictions = permit_rhswl_client dbl.example, reject\n", RESTRICT_RCPT,
	  .client_name = "host.spam.example", .expect = "accept" },
	/* protocol rules */
	{ "smtpd_recipient_restrictions = reject_plaintext_session\n", RESTRICT_RCPT,
	  .expect = "450 4.7.1 Session encryption is required" },
	{ "smtpd_data_restrictions = reject_unauth_pipelining\n", RESTRICT_DATA, .pipelining = true,
	  .expect = "503 5.5.0 <DATA>: Data command rejected: Improper use of SMTP command pipelining" },
	{ "smtpd_data_restrictions = reject_unauth_pipelining\n", RESTRICT_DATA, .expect = "accept" },
	{ "smtpd_recipient_restrictions = reject_multi_recipient_bounce\n", RESTRICT_RCPT, .sender = "",
	  .rcpt_count = 1,
	  .expect = "550 5.5.3 <bob@example.com>: Recipient address rejected: Multi-recipient bounce" },
	{ "smtpd_recipient_restrictions = reject_multi_recipient_bounce\n", RESTRICT_RCPT, .sender = "",
	  .expect = "accept" },
	{ "smtpd_data_restrictions = reject_multi_recipient_bounce\n", RESTRICT_DATA, .sender = "",
	  .rcpt_count = 2, .expect = "550 5.5.3 <DATA>: Data command rejected: Multi-recipient bounce" },
	/* sender ownership (seed 000: "not owned by user") */
	{ "smtpd_sender_restrictions = reject_sender_login_mismatch\n", RESTRICT_RCPT, .sasl = "bob",
	  .sender = "alice@example.com",
	  .expect = "553 5.7.1 <alice@example.com>: Sender address rejected: not owned by user bob" },
	{ "smtpd_sender_restrictions = reject_sender_login_mismatch\n", RESTRICT_RCPT, .sasl = "alice",
	  .sender = "alice@example.com", .expect = "accept" },
	{ "smtpd_sender_restrictions = reject_sender_login_mismatch\n", RESTRICT_RCPT, .sasl = "alice",
	  .sender = "anything@alice.example", .expect = "accept" },
	{ "smtpd_sender_restrictions = reject_sender_login_mismatch\n", RESTRICT_RCPT, .sasl = "alice",
	  .sender = "boss@example.com", .expect = "accept" },
	{ "smtpd_sender_restrictions = reject_sender_login_mismatch\n", RESTRICT_RCPT, .sasl = "bob",
	  .sender = "shared@example.com", .expect = "accept" },
	{ "smtpd_sender_restrictions = reject_sender_login_mismatch\n", RESTRICT_RCPT, .sasl = "carol",
	  .sender = "boss@example.com",
	  .expect = "553 5.7.1 <boss@example.com>: Sender address rejected: not owned by user carol" },
	{ "smtpd_sender_restrictions = reject_sender_login_mismatch\n", RESTRICT_RCPT,
	  .sender = "boss@example.com",
	  .expect = "553 5.7.1 <boss@example.com>: Sender address rejected: not logged in" },
	{ "smtpd_sender_restrictions = reject_authenticated_sender_login_mismatch\n", RESTRICT_RCPT,
	  .sender = "boss@example.com", .expect = "accept" },
	{ "smtpd_sender_restrictions = reject_unauthenticated_sender_login_mismatch\n", RESTRICT_RCPT,
	  .sasl = "bob", .sender = "alice@example.com", .expect = "accept" },
	/* access tables: every action */
	{ "smtpd_client_restrictions = check_client_access inline:{ 203.0.113.9=REJECT }\n", RESTRICT_RCPT,
	  .expect = "554 5.7.1 <unknown[203.0.113.9]>: Client host rejected: Access denied" },
	{ "smtpd_client_restrictions = check_client_access inline:{ { 203.0.113 = REJECT Go away } }\n",
	  RESTRICT_RCPT, .expect = "554 5.7.1 <unknown[203.0.113.9]>: Client host rejected: Go away" },
	{ "smtpd_client_restrictions = check_client_access inline:{ { 203 = REJECT 5.7.0 Whole net } }\n",
	  RESTRICT_RCPT, .expect = "554 5.7.0 <unknown[203.0.113.9]>: Client host rejected: Whole net" },
	{ "smtpd_client_restrictions = check_client_access inline:{ { bad.example = 550 No thanks } }\n",
	  RESTRICT_RCPT, .client_name = "host.bad.example",
	  .expect = "550 5.7.1 <host.bad.example[203.0.113.9]>: Client host rejected: No thanks" },
	{ "smtpd_client_restrictions = check_client_access inline:{ 203.0.113.9=DEFER }\n", RESTRICT_RCPT,
	  .expect = "450 4.7.1 <unknown[203.0.113.9]>: Client host rejected: Access denied" },
	{ "smtpd_client_restrictions = check_client_access inline:{ { 203.0.113.9 = DEFER Not now } }\n",
	  RESTRICT_RCPT, .expect = "450 4.7.1 <unknown[203.0.113.9]>: Client host rejected: Not now" },
	{ "smtpd_client_restrictions = check_client_access inline:{ { 203.0.113.9 = 421 4.7.0 Slow down } }\n",
	  RESTRICT_RCPT, .expect = "421 4.7.0 <unknown[203.0.113.9]>: Client host rejected: Slow down" },
	{ "smtpd_client_restrictions = check_client_access inline:{ 203.0.113.9=OK }\n"
	  "smtpd_recipient_restrictions = reject\n", RESTRICT_RCPT,
	  .expect = "554 5.7.1 <bob@example.com>: Recipient address rejected: Access denied" },
	{ "smtpd_client_restrictions = check_client_access inline:{ 203.0.113.9=OK }, reject\n",
	  RESTRICT_RCPT, .expect = "accept" },
	{ "smtpd_client_restrictions = check_client_access inline:{ 203.0.113.9=12345 }, reject\n",
	  RESTRICT_RCPT, .expect = "accept" },
	{ "smtpd_client_restrictions = check_client_access inline:{ 203.0.113.9=DUNNO }, reject\n",
	  RESTRICT_RCPT, .expect = "554 5.7.1 <unknown[203.0.113.9]>: Client host rejected: Access denied" },
	{ "smtpd_client_restrictions = check_client_access inline:{ 203.0.113.9=DISCARD }\n", RESTRICT_RCPT,
	  .expect = "DISCARD" },
	{ "smtpd_client_restrictions = check_client_access inline:{ 203.0.113.9=HOLD }\n", RESTRICT_RCPT,
	  .expect = "HOLD" },
	{ "smtpd_client_restrictions = check_client_access inline:{ { 203.0.113.9 = REDIRECT other@example.com } }\n",
	  RESTRICT_RCPT, .expect = "REDIRECT other@example.com" },
	{ "smtpd_client_restrictions = check_client_access inline:{ 203.0.113.9=HOLD }, reject\n",
	  RESTRICT_RCPT, .expect = "554 5.7.1 <unknown[203.0.113.9]>: Client host rejected: Access denied" },
	{ "smtpd_client_restrictions = check_client_access inline:{ { 203.0.113.9 = WARN watch this } }, reject\n",
	  RESTRICT_RCPT, .expect = "554 5.7.1 <unknown[203.0.113.9]>: Client host rejected: Access denied" },
	{ "smtpd_client_restrictions = check_client_access inline:{ 203.0.113.9=DEFER_IF_PERMIT }\n",
	  RESTRICT_RCPT, .expect = "450 4.7.1 <unknown[203.0.113.9]>: Client host rejected: Service unavailable" },
	{ "smtpd_client_restrictions = check_client_access inline:{ 203.0.113.9=DEFER_IF_REJECT }, reject\n",
	  RESTRICT_RCPT, .expect = "450 4.7.1 <unknown[203.0.113.9]>: Client host rejected: Service unavailable" },
	{ "smtpd_client_restrictions = check_client_access inline:{ 203.0.113.9=DISCARD }\n"
	  "smtpd_recipient_restrictions = reject\n", RESTRICT_RCPT, .expect = "DISCARD" },
	{ "smtpd_client_restrictions = check_client_access inline:{ { 203.0.113.9 = REDIRECT nobody } }\n",
	  RESTRICT_RCPT, .expect = "accept" },
	{ "smtpd_client_restrictions = check_client_access inline:{ { 203.0.113.9 = check_client_access inline:{a=b} } }\n",
	  RESTRICT_RCPT, .expect = "451 4.3.5 Server configuration error" },
	{ "smtpd_client_restrictions = inline:{ 203.0.113.9=REJECT }\n", RESTRICT_RCPT,
	  .expect = "554 5.7.1 <unknown[203.0.113.9]>: Client host rejected: Access denied" },
	{ "smtpd_sender_restrictions = inline:{ { s@good.example = REJECT Implicit } }\n", RESTRICT_RCPT,
	  .expect = "554 5.7.1 <s@good.example>: Sender address rejected: Implicit" },
	{ STRICT_RELAY "smtpd_relay_restrictions = check_recipient_access inline:{ example.com=OK }, reject_unauth_destination\n",
	  RESTRICT_RCPT, .recipient = "user%other.example@example.com",
	  .expect = "554 5.7.1 <user%other.example@example.com>: Relay access denied" },
	{ "smtpd_client_restrictions = reject_rbl_client multi.example\n", RESTRICT_RCPT,
	  .expect = "554 5.7.1 Service unavailable; Client host [203.0.113.9] blocked using multi.example; first / second" },
	{ "smtpd_recipient_restrictions = check_recipient_access inline:{ x@other.example=RELAY }\n"
	  "smtpd_relay_restrictions = check_recipient_access inline:{ x@other.example=RELAY }, reject_unauth_destination\n",
	  RESTRICT_RCPT, .recipient = "x@other.example", .expect = "accept" },
	{ "smtpd_helo_restrictions = check_helo_access inline:{ { good.example = REJECT Bad helo } }\n",
	  RESTRICT_RCPT, .expect = "554 5.7.1 <good.example>: Helo command rejected: Bad helo" },
	{ "smtpd_helo_restrictions = check_helo_access inline:{ { example = REJECT Parent } }\n",
	  RESTRICT_RCPT, .expect = "554 5.7.1 <good.example>: Helo command rejected: Parent" },
	{ "smtpd_sender_restrictions = check_sender_access inline:{ { <> = REJECT no bounces } }\n",
	  RESTRICT_RCPT, .sender = "", .expect = "554 5.7.1 <>: Sender address rejected: no bounces" },
	{ "smtpd_sender_restrictions = check_sender_access inline:{ { good.example = REJECT Domain } }\n",
	  RESTRICT_RCPT, .expect = "554 5.7.1 <s@good.example>: Sender address rejected: Domain" },
	{ "smtpd_sender_restrictions = check_sender_access inline:{ { s@ = REJECT Local part } }\n",
	  RESTRICT_RCPT, .expect = "554 5.7.1 <s@good.example>: Sender address rejected: Local part" },
	{ "smtpd_recipient_restrictions = check_recipient_access inline:{ bob@example.com=REJECT }\n",
	  RESTRICT_RCPT, .expect = "554 5.7.1 <bob@example.com>: Recipient address rejected: Access denied" },
	{ "smtpd_sender_restrictions = check_sender_access inline:{ { s@good.example = permit_mynetworks, reject } }\n",
	  RESTRICT_RCPT, .expect = "554 5.7.1 <s@good.example>: Sender address rejected: Access denied" },
	{ "smtpd_sender_restrictions = check_sender_access inline:{ { s@good.example = permit_mynetworks, reject } }\n",
	  RESTRICT_RCPT, .client_addr = "192.168.3.3", .expect = "accept" },
	{ "smtpd_sender_restrictions = check_sender_access inline:{ { s@good.example = no_such_rule } }\n",
	  RESTRICT_RCPT, .expect = "451 4.3.5 Server configuration error" },
	{ "smtpd_client_restrictions = check_client_access cidr:" CIDR_FILE_PATH "\n", RESTRICT_RCPT,
	  .expect = "554 5.7.1 <unknown[203.0.113.9]>: Client host rejected: cidr says no" },
	/* restriction classes */
	{ "smtpd_restriction_classes = strict, loopy\nstrict = reject_unknown_sender_domain, reject\n"
	  "loopy = loopy\n"
	  "smtpd_sender_restrictions = check_sender_access inline:{ s@good.example=strict }\n",
	  RESTRICT_RCPT, .expect = "554 5.7.1 <s@good.example>: Sender address rejected: Access denied" },
	{ "smtpd_restriction_classes = strict\nstrict = permit_mynetworks, reject\n"
	  "smtpd_client_restrictions = strict\n", RESTRICT_RCPT,
	  .expect = "554 5.7.1 <unknown[203.0.113.9]>: Client host rejected: Access denied" },
	{ "smtpd_restriction_classes = loopy\nloopy = loopy\nsmtpd_client_restrictions = loopy\n",
	  RESTRICT_RCPT, .expect = "451 4.3.5 Server configuration error" },
};



static int setup(void **state)
{
	FILE *f = fopen(CIDR_FILE_PATH, "w");

	(void)state;
	log_init("test", 0);
	if (f == NULL)
		return -1;
	fputs("192.0.2.0/24 OK\n203.0.113.0/24 REJECT cidr says no\n", f);
	fclose(f);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	unlink(CIDR_FILE_PATH);
	if (rt_base)
		event_base_free(rt_base);
	rt_base = NULL;
	return 0;
}

static void run_case(size_t i, const struct rcase *c)
{
	struct config *cfg = NULL;
	char *err = NULL;
	struct restrictions *r = rt_new(&cfg, c->config, &err);
	struct restrict_facts f;
	struct rt_outcome o;

	if (r == NULL)
		fail_msg("case %zu: %s", i, err ? err : rt_errors);
	rt_default_facts(&f);
	if (c->client_addr)
		f.client_addr = c->client_addr;
	if (c->client_name)
		f.client_name = c->client_name;
	if (c->reverse_name)
		f.reverse_client_name = c->reverse_name;
	if (c->helo)
		f.helo = c->helo;
	if (c->sender)
		f.sender = c->sender;
	if (c->recipient)
		f.recipient = c->recipient;
	f.sasl_username = c->sasl;
	f.rcpt_count = c->rcpt_count;
	f.pipelining_violation = c->pipelining;
	f.client_name_tempfail = c->name_tempfail;
	rt_run(r, c->stage, &f, &o);
	if (strcmp(o.text, c->expect) != 0)
		fail_msg("case %zu (%s): got \"%s\", want \"%s\"", i, c->config, o.text, c->expect);
	restrictions_free(&r);
	config_free(&cfg);
}

static void test_cases(void **state)
{
	(void)state;
	const char *only = getenv("RESTRICT_CASE"); /* debugging one case */

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (only == NULL || (size_t)atoi(only) == i)
			run_case(i, &cases[i]);
}

/* Configuration errors are found by restrictions_new, with the fix. */
struct ecase {
	const char *config;
	const char *expect; /* substring of the error */
};

static const struct ecase errors[] = {
	{ "smtpd_recipient_restrictions = reject_unath_destination\n",
	  "t.cf:12: smtpd_recipient_restrictions: unknown rule \"reject_unath_destination\"; did you mean reject_unauth_destination?" },
	{ "smtpd_client_restrictions = check_client_access\n",
	  "smtpd_client_restrictions: check_client_access needs a table; write check_client_access type:name" },
	{ "smtpd_client_restrictions = check_client_access texthash:/nonexistent/postern-x\n",
	  "smtpd_client_restrictions: check_client_access texthash:/nonexistent/postern-x: " },
	{ "smtpd_client_restrictions = reject_rbl_client\n",
	  "smtpd_client_restrictions: reject_rbl_client needs a DNS list domain" },
	{ "smtpd_relay_restrictions = permit\n", "so this server would be an open relay; add reject_unauth_destination" },
	{ "smtpd_relay_restrictions = permit_mynetworks, warn_if_reject reject_unauth_destination\n",
	  "open relay" },
	{ "smtpd_restriction_classes = strict\n", "class \"strict\" has no definition; add a line \"strict = restrictions...\"" },
	{ "smtpd_restriction_classes = reject\nreject = permit\n", "\"reject\" is already a rule or parameter name" },
	{ "smtpd_restriction_classes = c\nc = permit, bogus_rule\n", "t.cf:13: c: unknown rule \"bogus_rule\"" },
	{ "mynetworks = mail.example.com\n", "mynetworks: \"mail.example.com\" is not an address" },
	{ "smtpd_helo_restrictions = reject, warn_if_reject\n", "warn_if_reject at the end of the list" },
	{ "smtpd_data_restrictions = inline:{a=b}\n", "table \"inline:{a=b}\" without a rule" },
	{ "smtpd_client_restrictions = texthash:/nonexistent/postern-y\n",
	  "smtpd_client_restrictions: texthash:/nonexistent/postern-y: " },
	{ "relay_domains = /etc/relay\n", "relay_domains: \"/etc/relay\": file names are not supported here; write texthash:/etc/relay" },
	{ "dns_nameservers = not an address\n", "dns_nameservers: \"not an address\"" },
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

/* mynetworks_style = host when mynetworks is not set: loopback is trusted,
 * a foreign address is not. */
static void test_mynetworks_style(void **state)
{
	static const char base_cfg[] =
		"myhostname = mail.example.com\nmydestination = example.com\n"
		"smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination\n";
	struct config *cfg;
	char *err = NULL;
	struct restrictions *r;
	struct restrict_facts f;
	struct rt_outcome o;

	(void)state;
	if (rt_base == NULL)
		rt_base = event_base_new();
	cfg = config_parse("t.cf", base_cfg, sizeof(base_cfg) - 1, NULL, NULL);
	assert_non_null(cfg);
	r = restrictions_new(cfg, rt_base, &err);
	assert_non_null(r);
	restrictions_set_dns(r, dns_new_fake(rt_base, rt_fake_dns, NULL));
	restrictions_set_userdb(r, rt_userdb_lookup, rt_userdb_cancel, NULL);
	rt_default_facts(&f);
	f.recipient = "x@other.example";
	f.client_addr = "127.0.0.1";
	rt_run(r, RESTRICT_RCPT, &f, &o);
	assert_string_equal(o.text, "accept");
	f.client_addr = "::1";
	rt_run(r, RESTRICT_RCPT, &f, &o);
	assert_string_equal(o.text, "accept");
	f.client_addr = "203.0.113.9";
	rt_run(r, RESTRICT_RCPT, &f, &o);
	assert_string_equal(o.text, "554 5.7.1 <x@other.example>: Relay access denied");
	restrictions_free(&r);
	config_free(&cfg);
}

/* Without an event base, restrictions_new only checks (postern check). */
static void test_check_only(void **state)
{
	struct config *cfg = rt_config("smtpd_client_restrictions = reject_rbl_client zen.example\n");
	char *err = NULL;
	struct restrictions *r = restrictions_new(cfg, NULL, &err);

	(void)state;
	assert_non_null(r);
	assert_null(restrictions_dns(r));
	restrictions_free(&r);
	assert_null(r);
	config_free(&cfg);
}

/* A check waiting for DNS can be cancelled; done never runs. */
static void test_cancel(void **state)
{
	struct config *cfg = NULL;
	char *err = NULL;
	struct restrictions *r = rt_new(&cfg, "smtpd_client_restrictions = reject_rbl_client zen.example\n", &err);
	struct restrict_facts f;
	struct rt_outcome o = { 0 };
	struct restrict_req *req;

	(void)state;
	assert_non_null(r);
	rt_default_facts(&f);
	req = restrict_check(r, RESTRICT_RCPT, &f, rt_done, &o);
	assert_non_null(req);
	assert_false(o.done);
	restrict_cancel(&req);
	assert_null(req);
	for (int i = 0; i < 10; i++)
		event_base_loop(rt_base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
	assert_false(o.done);
	/* A check that needs nothing asynchronous completes at once and
	 * returns a marker restrict_cancel ignores. */
	f.client_addr = NULL;
	f.recipient = "x@other.example";
	req = restrict_check(r, RESTRICT_HELO, &f, rt_done, &o);
	assert_true(o.done);
	restrict_cancel(&req);
	restrictions_free(&r);
	config_free(&cfg);
}

/* The default userdb (auth role socket) unreachable: unknown-user checks
 * answer 451 4.3.0, never 550 and never accept. */
static void test_userdb_unreachable(void **state)
{
	struct config *cfg = rt_config("auth_userdb_socket_path = /nonexistent/postern/userdb\n");
	char *err = NULL;
	struct restrictions *r;
	struct restrict_facts f;
	struct rt_outcome o;

	(void)state;
	assert_non_null(cfg);
	r = restrictions_new(cfg, rt_base, &err);
	assert_non_null(r);
	restrictions_set_dns(r, dns_new_fake(rt_base, rt_fake_dns, NULL));
	rt_default_facts(&f);
	f.recipient = "nobody@example.com";
	rt_run(r, RESTRICT_RCPT, &f, &o);
	assert_string_equal(o.text, "451 4.3.0 <nobody@example.com>: Temporary lookup failure");
	f.recipient = "alias@example.com"; /* known from virtual_alias_maps alone */
	rt_run(r, RESTRICT_RCPT, &f, &o);
	assert_string_equal(o.text, "accept");
	restrictions_free(&r);
	config_free(&cfg);
}

/* The log detail reads like Postfix's (the session adds the queue id). */
static void test_log_line(void **state)
{
	struct config *cfg = NULL;
	char *err = NULL;
	struct restrictions *r = rt_new(&cfg, STRICT_RELAY, &err);
	struct restrict_facts f;
	struct rt_outcome o;

	(void)state;
	assert_non_null(r);
	rt_default_facts(&f);
	f.recipient = "x@other.example";
	rt_run(r, RESTRICT_RCPT, &f, &o);
	assert_string_equal(o.log, "reject: RCPT from unknown[203.0.113.9]: 554 5.7.1 "
			    "<x@other.example>: Relay access denied; from=<s@good.example> "
			    "to=<x@other.example> proto=ESMTP helo=<good.example>");
	restrictions_free(&r);
	config_free(&cfg);
}

/* DNS answers are kept across checks: a second RCPT asks nothing. */
static void test_dns_cache(void **state)
{
	struct config *cfg = NULL;
	char *err = NULL;
	struct restrictions *r = rt_new(&cfg, "smtpd_client_restrictions = reject_rbl_client nolist.example\n", &err);
	struct restrict_facts f;
	struct rt_outcome o;
	unsigned before;

	(void)state;
	assert_non_null(r);
	rt_default_facts(&f);
	before = rt_dns_queries;
	rt_run(r, RESTRICT_RCPT, &f, &o);
	assert_string_equal(o.text, "accept");
	assert_int_equal(rt_dns_queries, before + 1);
	rt_run(r, RESTRICT_RCPT, &f, &o);
	assert_string_equal(o.text, "accept");
	assert_int_equal(rt_dns_queries, before + 1);
	restrictions_free(&r);
	config_free(&cfg);
}

/* A listener's view may override a list. */
static void test_listener_view(void **state)
{
	struct config *cfg = rt_config("submission/listen = smtp 127.0.0.1:10587\n"
				       "submission/smtpd_relay_restrictions = permit_sasl_authenticated, reject\n");
	const struct config_listener *l;
	char *err = NULL;
	struct restrictions *r;
	struct restrict_facts f;
	struct rt_outcome o;

	(void)state;
	assert_non_null(cfg);
	l = config_listener_find(cfg, "submission");
	assert_non_null(l);
	r = restrictions_new(l->view, rt_base, &err);
	assert_non_null(r);
	restrictions_set_dns(r, dns_new_fake(rt_base, rt_fake_dns, NULL));
	restrictions_set_userdb(r, rt_userdb_lookup, rt_userdb_cancel, NULL);
	rt_default_facts(&f);
	rt_run(r, RESTRICT_RCPT, &f, &o);
	assert_string_equal(o.text, "554 5.7.1 <bob@example.com>: Recipient address rejected: Access denied");
	f.sasl_username = "bob";
	rt_run(r, RESTRICT_RCPT, &f, &o);
	assert_string_equal(o.text, "accept");
	restrictions_free(&r);
	config_free(&cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cases),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_check_only),
		cmocka_unit_test(test_mynetworks_style),
		cmocka_unit_test(test_cancel),
		cmocka_unit_test(test_listener_view),
		cmocka_unit_test(test_dns_cache),
		cmocka_unit_test(test_log_line),
		cmocka_unit_test(test_userdb_unreachable),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
