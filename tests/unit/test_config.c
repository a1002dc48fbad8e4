/*
 * test_config.c - unit tests of lib/config*.c: main.cf syntax, $name
 * expansion, typed values, computed defaults, listeners and their views,
 * the exact problem messages (FILE:LINE: NAME: problem; fix) and
 * config_edit(). Run by `make unit`.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config-doc.h"
#include "config-private.h"
#include "config.h"
#include "log.h"
#include "util.h"

/* ---- helpers ---- */

#define MAX_MSGS 32

struct msgs {
	size_t n;
	enum config_level level[MAX_MSGS];
	char *text[MAX_MSGS];
};

static void capture(enum config_level level, const char *msg, void *ctx)
{
	struct msgs *m = ctx;

	assert_true(m->n < MAX_MSGS);
	m->level[m->n] = level;
	m->text[m->n] = must_strdup(msg);
	m->n++;
}

static void msgs_free(struct msgs *m)
{
	for (size_t i = 0; i < m->n; i++)
		free(m->text[i]);
	m->n = 0;
}

static struct config *parse(const char *text, struct msgs *m)
{
	return config_parse("t.cf", text, strlen(text), capture, m);
}

/* The text must parse with no message at all. */
static struct config *parse_ok(const char *text)
{
	struct msgs m = { 0 };
	struct config *cfg = parse(text, &m);

	if (m.n)
		fail_msg("unexpected message for \"%s\": %s", text, m.text[0]);
	assert_non_null(cfg);
	return cfg;
}

/* The text must fail with exactly this one error. */
static void expect_error(const char *text, const char *error)
{
	struct msgs m = { 0 };
	struct config *cfg = parse(text, &m);

	assert_null(cfg);
	if (m.n != 1)
		fail_msg("expected 1 message for \"%s\", got %zu (first: %s)", text, m.n,
			 m.n ? m.text[0] : "none");
	assert_int_equal(m.level[0], CONFIG_ERROR);
	assert_string_equal(m.text[0], error);
	msgs_free(&m);
}

/* The text must load with exactly this one warning. */
static struct config *expect_warning(const char *text, const char *warning)
{
	struct msgs m = { 0 };
	struct config *cfg = parse(text, &m);

	assert_non_null(cfg);
	assert_int_equal(m.n, 1);
	assert_int_equal(m.level[0], CONFIG_WARNING);
	assert_string_equal(m.text[0], warning);
	msgs_free(&m);
	return cfg;
}

/* ---- syntax ---- */

static void test_syntax_table(void **state)
{
	static const struct {
		const char *text, *param, *raw, *value;
		int line;
	} cases[] = {
		{ "mail_location = maildir:/x\n", "mail_location", "maildir:/x", NULL, 1 },
		{ "mail_location=maildir:/x\n", "mail_location", "maildir:/x", NULL, 1 },
		{ "mail_location\t=\tmaildir:/x  \t\n", "mail_location", "maildir:/x", NULL, 1 },
		{ "mail_location =\n", "mail_location", "", NULL, 1 },
		{ "mail_location = maildir:/x", "mail_location", "maildir:/x", NULL, 1 },
		{ "mail_location = maildir:/x\r\n", "mail_location", "maildir:/x", NULL, 1 },
		/* # inside a value is part of it, as in Postfix */
		{ "mail_location = a # b\n", "mail_location", "a # b", NULL, 1 },
		/* continuation keeps the leading whitespace, drops the newline */
		{ "mynetworks = 10.0.0.0/8\n  192.168.0.0/16\n", "mynetworks",
		  "10.0.0.0/8  192.168.0.0/16", NULL, 1 },
		{ "mynetworks = a,\n\tb\n", "mynetworks", "a,\tb", NULL, 1 },
		/* comments and blank lines inside a continuation end nothing */
		{ "mynetworks = a\n# comment\n  b\n", "mynetworks", "a  b", NULL, 1 },
		{ "mynetworks = a\n   # indented comment\n  b\n", "mynetworks", "a  b", NULL, 1 },
		{ "mynetworks = a\n\n  b\n", "mynetworks", "a  b", NULL, 1 },
		{ "mynetworks = a\n \t \n  b\n", "mynetworks", "a  b", NULL, 1 },
		/* comments and blank lines before and between assignments */
		{ "# c\n\n   # c\nmail_location = x\n# c\n", "mail_location", "x", NULL, 4 },
		/* last assignment wins */
		{ "syslog_name = a\nsyslog_name = b\n", "syslog_name", "b", NULL, 2 },
		{ "syslog_name = a\nmail_location = x\nsyslog_name = b\n  c\n", "syslog_name",
		  "b  c", NULL, 3 },
		/* a line in column 1 ends the continuation */
		{ "mynetworks = a\nmail_location = b\n", "mynetworks", "a", NULL, 1 },
		/* expansion */
		{ "syslog_name = s\nmail_location = $syslog_name/x\n", "mail_location",
		  "$syslog_name/x", "s/x", 2 },
		{ "mail_location = $syslog_name/x\nsyslog_name = s\n", "mail_location",
		  "$syslog_name/x", "s/x", 1 },
		{ "syslog_name = s\nmail_location = ${syslog_name}x\n", "mail_location", NULL, "sx", 2 },
		{ "syslog_name = s\nmail_location = $syslog_name.x\n", "mail_location", NULL, "s.x", 2 },
		{ "syslog_name = s\nmail_location = $syslog_name-x\n", "mail_location", NULL, "s-x", 2 },
		{ "syslog_name = s\nmail_location = ${syslog_name?yes}\n", "mail_location", NULL, "yes", 2 },
		{ "syslog_name =\nmail_location = ${syslog_name?yes}\n", "mail_location", NULL, "", 2 },
		{ "syslog_name = s\nmail_location = ${syslog_name:no}\n", "mail_location", NULL, "", 2 },
		{ "syslog_name =\nmail_location = ${syslog_name:no}\n", "mail_location", NULL, "no", 2 },
		{ "mail_location = ${maillog_file:none}\n", "mail_location", NULL, "none", 1 },
		{ "mail_location = a$$b$$\n", "mail_location", "a$$b$$", "a$b$", 1 },
		{ "mail_location = $$syslog_name\n", "mail_location", NULL, "$syslog_name", 1 },
		{ "syslog_name = s\nmail_owner = o\nmail_location = ${syslog_name?<${mail_owner}>}\n",
		  "mail_location", NULL, "<o>", 3 },
		{ "syslog_name = s\nmail_location = ${syslog_name?{a}}\n", "mail_location", NULL, "{a}", 2 },
		/* a default that uses $name follows the file */
		{ "myhostname = mail.example.com\n", "myorigin", NULL, "mail.example.com", 0 },
		{ "tls_cert_file = /etc/c.pem\n", "tls_key_file", NULL, "/etc/c.pem", 0 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct config *cfg = parse_ok(cases[i].text);
		const char *file = NULL;

		if (cases[i].raw)
			assert_string_equal(config_raw(cfg, cases[i].param), cases[i].raw);
		assert_string_equal(config_str(cfg, cases[i].param),
				    cases[i].value ? cases[i].value : cases[i].raw);
		assert_int_equal(config_where(cfg, cases[i].param, &file), cases[i].line);
		assert_string_equal(file, "t.cf");
		config_free(&cfg);
		assert_null(cfg);
	}
}

static void test_syntax_errors(void **state)
{
	static const struct {
		const char *text, *error;
	} cases[] = {
		{ "foo bar\n", "t.cf:1: \"foo bar\": missing '='; write NAME = VALUE, or start the "
			       "line with # to make it a comment" },
		{ "# c\nmail_location = x\nfoo\n", "t.cf:3: \"foo\": missing '='; write NAME = VALUE, "
						   "or start the line with # to make it a comment" },
		{ "# c\n  mail_location = x\n",
		  "t.cf:2: line starts with whitespace, but there is no parameter line before it to "
		  "continue; remove the leading whitespace" },
		{ "my host = x\n", "t.cf:1: \"my host\": not a valid parameter name; use letters, "
				   "digits and _, or LISTENER/NAME" },
		{ "= x\n", "t.cf:1: \"\": not a valid parameter name; use letters, digits and _, or "
			   "LISTENER/NAME" },
		{ "a/b/c = x\n", "t.cf:1: \"a/b/c\": not a valid parameter name; use letters, digits "
				 "and _, or LISTENER/NAME" },
		{ "/listen = smtp *:25\n", "t.cf:1: \"/listen\": not a valid parameter name; use "
					   "letters, digits and _, or LISTENER/NAME" },
		{ "mail_location = a$\n", "t.cf:1: mail_location: '$' at the end of the value; write "
					  "$$ for a literal $" },
		{ "mail_location = a$-b\n", "t.cf:1: mail_location: '$' not followed by a parameter "
					    "name; write $$ for a literal $" },
		{ "mail_location = ${syslog_name\n", "t.cf:1: mail_location: '${' without a closing "
						     "'}'; close it with '}'" },
		{ "mail_location = ${sys log}\n", "t.cf:1: mail_location: bad parameter name inside "
						  "${...}; use ${name}, ${name?text} or ${name:text}" },
		/* errors in the branch not taken are found too */
		{ "mail_location = ${maillog_file?$}\n", "t.cf:1: mail_location: '$' at the end of "
							 "the value; write $$ for a literal $" },
		{ "myorigin = $mydomain\nmydomain = $myorigin\n",
		  "t.cf:1: myorigin: expansion loop $myorigin -> $mydomain -> $myorigin; remove one "
		  "of the references" },
		{ "mail_location = $mail_location\n",
		  "t.cf:1: mail_location: expansion loop $mail_location -> $mail_location; remove "
		  "one of the references" },
		/* the loop goes through a default: reported at the assignment */
		{ "myhostname = x.$myorigin\n",
		  "t.cf:1: myhostname: expansion loop $myhostname -> $myorigin -> $myhostname; "
		  "remove one of the references" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		expect_error(cases[i].text, cases[i].error);
}

static void test_nul_and_long_lines(void **state)
{
	static const char nul[] = "mail_location = a\0b\nsyslog_name = x\n";
	struct msgs m = { 0 };
	struct config *cfg;
	struct strbuf sb;

	(void)state;
	cfg = config_parse("t.cf", nul, sizeof(nul) - 1, capture, &m);
	assert_null(cfg);
	assert_int_equal(m.n, 1);
	assert_string_equal(m.text[0], "t.cf:1: line contains a NUL byte; remove it");
	msgs_free(&m);

	/* A logical line over the limit, made of continuation lines. */
	strbuf_init(&sb, 0);
	assert_int_equal(strbuf_puts(&sb, "# c\nmynetworks = 10.0.0.0/8\n"), 0);
	while (sb.len <= CONFIG_MAX_LINE + CONFIG_MAX_LINE / 4)
		assert_int_equal(strbuf_puts(&sb, "  192.168.100.100/32\n"), 0);
	assert_int_equal(strbuf_puts(&sb, "syslog_name = x\n"), 0);
	cfg = config_parse("t.cf", sb.data, sb.len, capture, &m);
	assert_null(cfg);
	assert_int_equal(m.n, 1);
	assert_string_equal(m.text[0], "t.cf:2: logical line is longer than 65536 bytes; shorten the value");
	msgs_free(&m);
	strbuf_free(&sb);
}

static void test_oversized_file(void **state)
{
	size_t len = CONFIG_MAX_FILE + 10;
	char *text = must_malloc(len + 1);
	struct msgs m = { 0 };
	struct config *cfg;

	(void)state;
	/* 64-byte comment lines: the limit falls on line 65537. */
	for (size_t i = 0; i < len; i++)
		text[i] = i % 64 == 63 ? '\n' : i % 64 == 0 ? '#' : 'x';
	text[len] = '\0';
	cfg = config_parse("big.cf", text, len, capture, &m);
	assert_null(cfg);
	assert_int_equal(m.n, 1);
	assert_string_equal(m.text[0], "big.cf:65537: file is larger than 4194304 bytes; move tables "
				       "into lookup tables (postern map) and keep this file short");
	msgs_free(&m);
	free(text);
}

static void test_depth_limit(void **state)
{
	struct strbuf sb;
	struct config *cfg;

	(void)state;
	/* 31 levels of ${syslog_name?...} nest fine... */
	strbuf_init(&sb, 0);
	assert_int_equal(strbuf_puts(&sb, "syslog_name = s\nmail_location = "), 0);
	for (int i = 0; i < 31; i++)
		assert_int_equal(strbuf_puts(&sb, "${syslog_name?"), 0);
	assert_int_equal(strbuf_puts(&sb, "deep"), 0);
	for (int i = 0; i < 31; i++)
		assert_int_equal(strbuf_putc(&sb, '}'), 0);
	cfg = parse_ok(sb.data);
	assert_string_equal(config_str(cfg, "mail_location"), "deep");
	config_free(&cfg);
	strbuf_free(&sb);

	/* ...40 are refused, also in a branch that is not taken. */
	for (int taken = 0; taken < 2; taken++) {
		strbuf_init(&sb, 0);
		assert_int_equal(strbuf_printf(&sb, "syslog_name =%s\nmail_location = ",
					       taken ? " s" : ""), 0);
		for (int i = 0; i < 40; i++)
			assert_int_equal(strbuf_puts(&sb, "${syslog_name?"), 0);
		for (int i = 0; i < 40; i++)
			assert_int_equal(strbuf_putc(&sb, '}'), 0);
		expect_error(sb.data, "t.cf:2: mail_location: expansion nested deeper than 32 levels; "
				      "simplify the $name references");
		strbuf_free(&sb);
	}
}

static void test_expansion_size_limit(void **state)
{
	struct strbuf sb;

	(void)state;
	/* Each value is short, the expansion is not: 2000 x 40 bytes. */
	strbuf_init(&sb, 0);
	assert_int_equal(strbuf_puts(&sb, "syslog_name = 0123456789012345678901234567890123456789\n"
					  "mail_location = "), 0);
	for (int i = 0; i < 2000; i++)
		assert_int_equal(strbuf_puts(&sb, "$syslog_name"), 0);
	expect_error(sb.data, "t.cf:2: mail_location: value expands to more than 65536 bytes; shorten it");
	strbuf_free(&sb);
}

static void test_unknown_names(void **state)
{
	struct config *cfg;

	(void)state;
	cfg = expect_warning("myhostnme = x\n",
			     "t.cf:1: myhostnme: unknown parameter; did you mean \"myhostname\"?");
	/* Getters never see it. */
	assert_string_not_equal(config_str(cfg, "myhostname"), "x");
	config_free(&cfg);
	cfg = expect_warning("# x\nzzzzzzzzzzzzzzzz = 1\n",
			     "t.cf:2: zzzzzzzzzzzzzzzz: unknown parameter; see postern config -d for the list");
	config_free(&cfg);
	cfg = expect_warning("mail_location = /x$foo\n",
			     "t.cf:1: mail_location: unknown parameter $foo in value; expands to empty");
	assert_string_equal(config_str(cfg, "mail_location"), "/x");
	config_free(&cfg);
	/* Unknown inside ${...?...} is looked up only when taken. */
	cfg = expect_warning("mail_location = ${foo:bar}\n",
			     "t.cf:1: mail_location: unknown parameter $foo in value; expands to empty");
	assert_string_equal(config_str(cfg, "mail_location"), "bar");
	config_free(&cfg);
}

/* ---- typed values ---- */

static void test_typed_params(void **state)
{
	static const struct {
		const char *text, *error;
	} bad[] = {
		{ "connection_limit = 0\n", "t.cf:1: connection_limit: 0 is below the minimum 1" },
		{ "connection_limit = 1000001\n", "t.cf:1: connection_limit: 1000001 is above the maximum 1000000" },
		{ "client_connection_limit = -1\n", "t.cf:1: client_connection_limit: -1 is below the minimum 0" },
		{ "connection_limit = 12abc\n", "t.cf:1: connection_limit: \"12abc\" is not a valid integer; use a decimal number" },
		{ "connection_limit =\n", "t.cf:1: connection_limit: \"\" is not a valid integer; use a decimal number" },
		{ "master_stop_timeout = 2h\n", "t.cf:1: master_stop_timeout: \"2h\" is above the maximum 3600s" },
		{ "master_stop_timeout = 0\n", "t.cf:1: master_stop_timeout: \"0\" is below the minimum 1s" },
		{ "master_stop_timeout = 10x\n", "t.cf:1: master_stop_timeout: \"10x\" is not a valid time; use a number with optional unit s, m, h, d or w" },
		{ "tls_min_protocol = TLSv1.1\n", "t.cf:1: tls_min_protocol: \"TLSv1.1\" is not one of TLSv1.2, TLSv1.3" },
		{ "syslog_facility = mail2\n", "t.cf:1: syslog_facility: \"mail2\" is not one of mail, daemon, user, local0, local1, local2, local3, local4, local5, local6, local7" },
		{ "queue_directory = var/spool\n", "t.cf:1: queue_directory: \"var/spool\" is not an absolute path; start it with / or leave it empty" },
		/* a set value is reported at its own line, also when expansion made it bad */
		{ "# c\nsyslog_name = 5000000\nconnection_limit = $syslog_name\n",
		  "t.cf:3: connection_limit: 5000000 is above the maximum 1000000" },
		{ "mynetworks = {a\n", "t.cf:1: mynetworks: '{' without a closing '}'; close it with '}'" },
	};
	struct config *cfg;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_error(bad[i].text, bad[i].error);

	cfg = parse_ok("connection_limit = 1000000\nclient_connection_limit = 0\n"
		       "master_stop_timeout = 5m\nmaster_restart_delay = 30\n"
		       "tls_min_protocol = TLSv1.3\nqueue_directory = /q\nmaillog_file =\n");
	assert_int_equal(config_int(cfg, "connection_limit"), 1000000);
	assert_int_equal(config_int(cfg, "client_connection_limit"), 0);
	assert_int_equal(config_time(cfg, "master_stop_timeout"), 300);
	assert_int_equal(config_time(cfg, "master_restart_delay"), 30);
	assert_int_equal(config_time(cfg, "master_restart_max_delay"), 60);
	assert_string_equal(config_str(cfg, "tls_min_protocol"), "TLSv1.3");
	assert_string_equal(config_str(cfg, "queue_directory"), "/q");
	assert_string_equal(config_str(cfg, "maillog_file"), "");
	config_free(&cfg);
}

/* A default that only fails through what it expands is reported at the
 * assignment that made it fail; a value that reads a bad value fails
 * silently (the bad one is reported, once). */
static void test_default_fails_through_expansion(void **state)
{
	struct msgs m = { 0 };
	struct config *cfg;
	struct strbuf sb;

	(void)state;
	/* mydestination = $myhostname, localhost.$mydomain, localhost:
	 * each part fits, the whole does not. */
	strbuf_init(&sb, 0);
	assert_int_equal(strbuf_puts(&sb, "# c\nmail_owner = "), 0);
	for (int i = 0; i < 32700; i++)
		assert_int_equal(strbuf_putc(&sb, 'b'), 0);
	assert_int_equal(strbuf_puts(&sb, "\nmyhostname = a.$mail_owner$mail_owner\n"), 0);
	expect_error(sb.data, "t.cf:3: mydestination: value expands to more than 65536 bytes; shorten it");
	strbuf_free(&sb);

	cfg = parse("# c\ntls_cert_file = cert.pem\n", &m);
	assert_null(cfg);
	assert_int_equal(m.n, 1);
	assert_string_equal(m.text[0], "t.cf:2: tls_cert_file: \"cert.pem\" is not an absolute path; "
				       "start it with / or leave it empty");
	msgs_free(&m);
}

static void test_parse_bool(void **state)
{
	static const struct {
		const char *text;
		int value; /* -1: error */
	} cases[] = {
		{ "yes", 1 }, { "YES", 1 }, { "true", 1 }, { "on", 1 }, { "no", 0 }, { "No", 0 },
		{ "false", 0 }, { "off", 0 }, { "", -1 }, { "1", -1 }, { "maybe", -1 }, { "yes ", -1 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *why = NULL;
		bool v = false;
		int r = config_parse_bool(cases[i].text, &v, &why);

		if (cases[i].value < 0) {
			assert_int_equal(r, -1);
			assert_string_equal(why, "not a valid boolean; use yes or no");
		} else {
			assert_int_equal(r, 0);
			assert_int_equal(v, cases[i].value);
		}
	}
}

static void test_parse_time(void **state)
{
	static const struct {
		const char *text;
		char unit;
		long long value; /* -1: error */
	} cases[] = {
		{ "0", 's', 0 }, { "30", 's', 30 }, { "30s", 'd', 30 }, { "2m", 's', 120 },
		{ "3h", 's', 10800 }, { "1d", 's', 86400 }, { "2w", 's', 1209600 }, { "5", 'm', 300 },
		{ "5", 'h', 18000 }, { "", 's', -1 }, { "s", 's', -1 }, { "-1", 's', -1 },
		{ "1h30m", 's', -1 }, { "10x", 's', -1 }, { "10 s", 's', -1 }, { "10S", 's', -1 },
		{ " 10", 's', -1 }, { "99999999999999999999", 's', -1 }, { "9999999999999999w", 's', -1 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *why = NULL;
		long long v = -5;
		int r = config_parse_time(cases[i].text, cases[i].unit, &v, &why);

		if (cases[i].value < 0) {
			if (r != -1)
				fail_msg("\"%s\" was accepted as %lld", cases[i].text, v);
			assert_non_null(why);
		} else {
			if (r != 0)
				fail_msg("\"%s\": %s", cases[i].text, why);
			assert_int_equal(v, cases[i].value);
		}
	}
}

static void test_parse_size(void **state)
{
	static const struct {
		const char *text;
		long long value; /* -1: error */
	} cases[] = {
		{ "0", 0 }, { "10240000", 10240000 }, { "10k", 10240 }, { "10K", 10240 },
		{ "2M", 2097152 }, { "2m", 2097152 }, { "1G", 1073741824LL }, { "", -1 },
		{ "10x", -1 }, { "10kb", -1 }, { "-1", -1 }, { "1.5M", -1 }, { "k", -1 },
		{ "99999999999G", -1 }, { "999999999999999999999", -1 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *why = NULL;
		long long v = -5;
		int r = config_parse_size(cases[i].text, &v, &why);

		if (cases[i].value < 0) {
			if (r != -1)
				fail_msg("\"%s\" was accepted as %lld", cases[i].text, v);
		} else {
			if (r != 0)
				fail_msg("\"%s\": %s", cases[i].text, why);
			assert_int_equal(v, cases[i].value);
		}
	}
	assert_int_equal(config_parse_size("10x", &(long long){ 0 }, &(const char *){ NULL }), -1);
	{
		const char *why = NULL;
		long long v;

		assert_int_equal(config_parse_size("10x", &v, &why), -1);
		assert_string_equal(why, "not a valid size; use a number of bytes with optional k, M or G");
	}
}

/* Types no registered parameter uses yet: checked with local definitions. */
static void test_value_check_types(void **state)
{
	static const struct param_def size_def = { .name = "message_size_limit", .type = PARAM_SIZE,
						   .min = 1, .max = 1LL << 30 };
	static const struct param_def bool_def = { .name = "b", .type = PARAM_BOOL };
	static const struct param_def maps_def = { .name = "alias_maps", .type = PARAM_MAPS };
	static const struct param_def list_def = { .name = "l", .type = PARAM_LIST };
	static const struct param_def int_def = { .name = "i", .type = PARAM_INT };
	static const struct {
		const struct param_def *def;
		const char *text, *error;
		size_t items;
		long long num;
	} cases[] = {
		{ &size_def, "10M", NULL, 0, 10485760 },
		{ &size_def, "10x", "\"10x\" is not a valid size; use a number of bytes with optional k, M or G", 0, 0 },
		{ &size_def, "0", "\"0\" is below the minimum 1 bytes", 0, 0 },
		{ &size_def, "2G", "\"2G\" is above the maximum 1073741824 bytes", 0, 0 },
		{ &bool_def, "yes", NULL, 0, 0 },
		{ &bool_def, "maybe", "\"maybe\" is not a valid boolean; use yes or no", 0, 0 },
		{ &int_def, "-99999", NULL, 0, -99999 },
		{ &maps_def, "", NULL, 0, 0 },
		{ &maps_def, "lmdb:/etc/aliases", NULL, 1, 0 },
		{ &maps_def, "lmdb:/etc/aliases, texthash:/x,,pcre:/y", NULL, 3, 0 },
		{ &maps_def, "inline:{ a=b, c=d } static:OK", NULL, 2, 0 },
		{ &maps_def, "aliases", "\"aliases\" is not a table reference; use type:name, e.g. lmdb:/etc/postern/aliases", 0, 0 },
		{ &maps_def, "lmdb:", "\"lmdb:\" is not a table reference; use type:name, e.g. lmdb:/etc/postern/aliases", 0, 0 },
		{ &maps_def, ":x", "\":x\" is not a table reference; use type:name, e.g. lmdb:/etc/postern/aliases", 0, 0 },
		{ &maps_def, "Lmdb:x", "\"Lmdb:x\" is not a table reference; use type:name, e.g. lmdb:/etc/postern/aliases", 0, 0 },
		{ &maps_def, "inline:{a=b", "'{' without a closing '}'; close it with '}'", 0, 0 },
		{ &maps_def, "inline:a}", "'}' without a matching '{'; remove it or add the '{'", 0, 0 },
		{ &list_def, " , a,b  c\t,,\n d ,", NULL, 4, 0 },
		{ &list_def, "", NULL, 0, 0 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct config_value v = { 0 };
		char *msg = NULL;
		int r = config_value_check(cases[i].def, cases[i].text, &v, &msg);

		if (cases[i].error) {
			assert_int_equal(r, -1);
			assert_string_equal(msg, cases[i].error);
			free(msg);
		} else {
			if (r != 0)
				fail_msg("\"%s\": %s", cases[i].text, msg);
			assert_int_equal(v.nitems, cases[i].items);
			if (cases[i].def->type == PARAM_SIZE || cases[i].def->type == PARAM_INT)
				assert_int_equal(v.num, cases[i].num);
		}
		config_items_free(v.items);
	}
}

static void test_list_items(void **state)
{
	struct config *cfg;
	const char *const *items;
	size_t n = 99;

	(void)state;
	cfg = parse_ok("myhostname = mail.example.com\nmynetworks = 10.0.0.0/8,\n  [::1]/128 ,, 127.0.0.0/8\n");
	items = config_list(cfg, "mydestination", &n);
	assert_int_equal(n, 3);
	assert_string_equal(items[0], "mail.example.com");
	assert_string_equal(items[1], "localhost.example.com");
	assert_string_equal(items[2], "localhost");
	assert_null(items[3]);
	items = config_list(cfg, "mynetworks", NULL);
	assert_string_equal(items[0], "10.0.0.0/8");
	assert_string_equal(items[1], "[::1]/128");
	assert_string_equal(items[2], "127.0.0.0/8");
	assert_null(items[3]);
	/* cached: the same array every time */
	assert_ptr_equal(items, config_list(cfg, "mynetworks", NULL));
	config_free(&cfg);
}

/* ---- computed defaults ---- */

static void test_computed_defaults(void **state)
{
	struct config *cfg;

	(void)state;
	cfg = parse_ok("myhostname = mail.example.org\n");
	assert_string_equal(config_str(cfg, "mydomain"), "example.org");
	assert_string_equal(config_str(cfg, "myorigin"), "mail.example.org");
	assert_null(config_raw(cfg, "mydomain"));
	assert_int_equal(config_where(cfg, "mydomain", NULL), 0);
	config_free(&cfg);

	cfg = parse_ok("myhostname = localhost\n");
	assert_string_equal(config_str(cfg, "mydomain"), "localdomain");
	config_free(&cfg);

	/* myhostname itself through expansion */
	cfg = parse_ok("mail_owner = x\nmyhostname = mx.$mail_owner.example\n");
	assert_string_equal(config_str(cfg, "mydomain"), "x.example");
	config_free(&cfg);

	/* an empty file: every default, computed ones consistent */
	cfg = parse_ok("");
	assert_string_equal(config_str(cfg, "myorigin"), config_str(cfg, "myhostname"));
	assert_string_equal(config_str(cfg, "mydomain"),
			    param_default_text(param_lookup("mydomain"), NULL, NULL));
	assert_string_equal(config_str(cfg, "tls_min_protocol"), "TLSv1.2");
	assert_int_equal(config_int(cfg, "connection_limit"), 1000);
	assert_int_equal(config_listener_count(cfg), 0);
	assert_string_equal(config_path(cfg), "t.cf");
	config_free(&cfg);
}

/* ---- listeners ---- */

static void test_listeners_valid(void **state)
{
	struct config *cfg;
	const struct config_listener *l;
	const char *const *over;

	(void)state;
	cfg = parse_ok("myhostname = mail.example.com\n"
		       "mx/listen = smtp *:25\n"
		       "submission/myhostname = sub.example.net\n" /* before its listen line */
		       "submission/listen = smtp 127.0.0.1:587 tls=starttls\n"
		       "imaps/listen = imap [::1]:993 tls=implicit\n"
		       "imaps/tls_cert_file = /etc/imap.pem\n"
		       "submission/connection_limit = 5\n"
		       "web/listen = web 0.0.0.0:8443\n"
		       "v4/listen = pop3 127.0.0.1:995\n"
		       "v6/listen = pop3 [::1]:995\n");
	assert_int_equal(config_listener_count(cfg), 6);
	l = config_listener_at(cfg, 0);
	assert_string_equal(l->name, "mx");
	assert_string_equal(l->protocol, "smtp");
	assert_string_equal(l->address, "*");
	assert_int_equal(l->port, 25);
	assert_int_equal(l->tls, TLS_MODE_NONE);
	assert_int_equal(l->line, 2);
	assert_string_equal(l->file, "t.cf");
	l = config_listener_at(cfg, 1);
	assert_string_equal(l->name, "submission");
	assert_string_equal(l->address, "127.0.0.1");
	assert_int_equal(l->port, 587);
	assert_int_equal(l->tls, TLS_MODE_STARTTLS);
	l = config_listener_at(cfg, 2);
	assert_string_equal(l->name, "imaps");
	assert_string_equal(l->protocol, "imap");
	assert_string_equal(l->address, "::1");
	assert_int_equal(l->tls, TLS_MODE_IMPLICIT);
	assert_null(config_listener_at(cfg, 6));
	assert_null(config_listener_find(cfg, "nope"));

	/* the view: overrides first, $expansion re-done in the view only */
	l = config_listener_find(cfg, "submission");
	assert_non_null(l);
	assert_string_equal(config_str(l->view, "myhostname"), "sub.example.net");
	assert_string_equal(config_str(l->view, "myorigin"), "sub.example.net");
	assert_string_equal(config_str(l->view, "mydomain"), "example.net");
	assert_int_equal(config_int(l->view, "connection_limit"), 5);
	assert_string_equal(config_raw(l->view, "myhostname"), "sub.example.net");
	assert_int_equal(config_where(l->view, "myhostname", NULL), 3);
	assert_null(config_raw(l->view, "mail_location"));
	assert_string_equal(config_str(l->view, "tls_key_file"), "");
	/* the global values are untouched */
	assert_string_equal(config_str(cfg, "myorigin"), "mail.example.com");
	assert_string_equal(config_str(cfg, "mydomain"), "example.com");
	assert_int_equal(config_int(cfg, "connection_limit"), 1000);
	over = config_overrides(cfg, "submission");
	assert_string_equal(over[0], "connection_limit");
	assert_string_equal(over[1], "myhostname");
	assert_null(over[2]);
	assert_null(config_overrides(cfg, "mx")[0]);
	assert_null(config_overrides(cfg, "nope")[0]);
	/* a view answers listener questions like the global config */
	assert_int_equal(config_listener_count(l->view), 6);
	assert_ptr_equal(config_listener_find(l->view, "mx"), config_listener_at(cfg, 0));

	l = config_listener_find(cfg, "imaps");
	assert_string_equal(config_str(l->view, "tls_key_file"), "/etc/imap.pem");
	assert_string_equal(config_str(l->view, "myorigin"), "mail.example.com");
	assert_string_equal(config_raw(l->view, "myhostname"), "mail.example.com");
	assert_string_equal(tls_mode_name(l->tls), "implicit");
	assert_string_equal(tls_mode_name(TLS_MODE_STARTTLS), "starttls");
	assert_string_equal(tls_mode_name(TLS_MODE_NONE), "none");
	config_free(&cfg);
}

static void test_listener_errors(void **state)
{
	static const struct {
		const char *text, *error;
	} cases[] = {
		{ "mx/listen = smpt *:25\n", "t.cf:1: mx/listen: unknown protocol \"smpt\"; use one of smtp, imap, pop3, web" },
		{ "mx/listen = smtp\n", "t.cf:1: mx/listen: missing ADDRESS:PORT; use PROTOCOL ADDRESS:PORT [tls=none|starttls|implicit], e.g. smtp *:25" },
		{ "mx/listen =\n", "t.cf:1: mx/listen: missing PROTOCOL; use PROTOCOL ADDRESS:PORT [tls=none|starttls|implicit], e.g. smtp *:25" },
		{ "mx/listen = smtp 1.2.3:25\n", "t.cf:1: mx/listen: \"1.2.3:25\" is not a valid address; use *, an IPv4 address or [IPv6]" },
		{ "mx/listen = smtp localhost:25\n", "t.cf:1: mx/listen: \"localhost:25\" is not a valid address; use *, an IPv4 address or [IPv6]" },
		{ "mx/listen = smtp ::1:25\n", "t.cf:1: mx/listen: \"::1:25\": write an IPv6 address in brackets, [ADDRESS]:PORT" },
		{ "mx/listen = smtp [::g]:25\n", "t.cf:1: mx/listen: \"[::g]:25\" is not a valid IPv6 address; use *, an IPv4 address or [IPv6]" },
		{ "mx/listen = smtp [::1]25\n", "t.cf:1: mx/listen: \"[::1]25\" is not ADDRESS:PORT; write an IPv6 address as [ADDRESS]:PORT" },
		{ "mx/listen = smtp *\n", "t.cf:1: mx/listen: \"*\" has no port; use ADDRESS:PORT, e.g. *:25" },
		{ "mx/listen = smtp *:0\n", "t.cf:1: mx/listen: \"*:0\" has no valid port; use a port from 1 to 65535" },
		{ "mx/listen = smtp *:65536\n", "t.cf:1: mx/listen: \"*:65536\" has no valid port; use a port from 1 to 65535" },
		{ "mx/listen = smtp *:\n", "t.cf:1: mx/listen: \"*:\" has no valid port; use a port from 1 to 65535" },
		{ "mx/listen = smtp *:2x5\n", "t.cf:1: mx/listen: \"*:2x5\" has no valid port; use a port from 1 to 65535" },
		{ "mx/listen = smtp *:25 tls=maybe\n", "t.cf:1: mx/listen: unexpected \"tls=maybe\"; use PROTOCOL ADDRESS:PORT [tls=none|starttls|implicit]" },
		{ "a/listen = smtp *:25\nb/listen = smtp *:25\n", "t.cf:2: b/listen: *:25 is already used by listener a (line 1); use another address or port" },
		{ "a/listen = smtp 127.0.0.1:25\nb/listen = imap *:25\n", "t.cf:2: b/listen: *:25 is already used by listener a (line 1); use another address or port" },
		{ "a/listen = smtp *:25\nb/listen = smtp 127.0.0.1:25\n", "t.cf:2: b/listen: 127.0.0.1:25 is already used by listener a (line 1); use another address or port" },
		{ "a/listen = smtp [::1]:25\nb/listen = smtp [0::1]:25\n", "t.cf:2: b/listen: [::1]:25 is already used by listener a (line 1); use another address or port" },
		{ "sub/myhostname = x\n", "t.cf:1: sub/myhostname: no listener \"sub\"; define sub/listen first" },
		{ "mx/listen = smtp *:25\nmx/queue_directory = /x\n", "t.cf:2: mx/queue_directory: cannot be set per listener; set it globally" },
		/* the view is validated like the global configuration */
		{ "mx/listen = smtp *:25\nmx/connection_limit = 0\n", "t.cf:2: mx/connection_limit: 0 is below the minimum 1" },
		{ "mx/listen = smtp *:25\nmx/tls_min_protocol = SSLv3\n", "t.cf:2: mx/tls_min_protocol: \"SSLv3\" is not one of TLSv1.2, TLSv1.3" },
		{ "mx/listen = smtp *:25\nmx/mail_location = $mail_location\n", "t.cf:2: mx/mail_location: expansion loop $mail_location -> $mail_location; remove one of the references" },
	};
	struct config *cfg;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		expect_error(cases[i].text, cases[i].error);

	/* the same port on distinct addresses, or the same address on distinct ports */
	cfg = parse_ok("a/listen = smtp 127.0.0.1:25\nb/listen = smtp 127.0.0.2:25\n"
		       "c/listen = smtp [::1]:25\nd/listen = smtp *:26\ne/listen = smtp 127.0.0.1:27\n");
	assert_int_equal(config_listener_count(cfg), 5);
	config_free(&cfg);
	/* a listener defined twice: the last line wins, no clash with itself */
	cfg = parse_ok("a/listen = smtp *:25\na/listen = smtp *:2525\n");
	assert_int_equal(config_listener_count(cfg), 1);
	assert_int_equal(config_listener_at(cfg, 0)->port, 2525);
	config_free(&cfg);

	/* a hostile number of listeners */
	{
		struct strbuf sb;

		strbuf_init(&sb, 0);
		for (int i = 0; i < CONFIG_MAX_LISTENERS + 5; i++)
			assert_int_equal(strbuf_printf(&sb, "l%d/listen = smtp *:%d\n", i, 1000 + i), 0);
		expect_error(sb.data, "t.cf:1025: l1024/listen: more than 1024 listeners; serve more "
				      "addresses with one listener on *");
		strbuf_free(&sb);
	}

	cfg = expect_warning("mx/listen = smtp *:25\nmx/myhostnme = x\n",
			     "t.cf:2: mx/myhostnme: unknown parameter; did you mean \"myhostname\"?");
	assert_null(config_overrides(cfg, "mx")[0]);
	config_free(&cfg);
}

/* A view problem caused by an override is reported once, at the override;
 * global problems are not repeated per listener. */
static void test_view_reports(void **state)
{
	struct msgs m = { 0 };
	struct config *cfg;

	(void)state;
	cfg = parse("a/listen = smtp *:25\nb/listen = smtp *:26\nmail_location = $foo\n"
		    "b/tls_cert_file = rel\n", &m);
	assert_null(cfg);
	assert_int_equal(m.n, 2);
	assert_string_equal(m.text[0], "t.cf:3: mail_location: unknown parameter $foo in value; expands to empty");
	assert_string_equal(m.text[1], "t.cf:4: b/tls_cert_file: \"rel\" is not an absolute path; start it with / or leave it empty");
	msgs_free(&m);
}

/* ---- config_expand, report fallback, panics ---- */

static void test_config_expand(void **state)
{
	struct config *cfg = parse_ok("myhostname = mail.example.com\n");
	const char *why = NULL;
	char *s;

	(void)state;
	s = config_expand(cfg, "$myhostname ESMTP $mail_name${mydomain?!}$$", &why);
	assert_non_null(s);
	/* mail_name is a parameter (params-smtpd.c), default Postern */
	assert_string_equal(s, "mail.example.com ESMTP Postern!$");
	free(s);
	assert_null(config_expand(cfg, "${myhostname", &why));
	assert_string_equal(why, "'${' without a closing '}'; close it with '}'");
	config_free(&cfg);
}

static int log_count;
static char log_last[512];

static void log_catch(const char *severity, const char *text, void *ctx)
{
	(void)ctx;
	log_count++;
	snprintf(log_last, sizeof(log_last), "%s: %s", severity, text);
}

static void test_report_to_log(void **state)
{
	struct config *cfg;

	(void)state;
	log_init("test", 0);
	log_set_capture(log_catch, NULL);
	cfg = config_parse("t.cf", "myhostnme = x\n", 14, NULL, NULL);
	log_set_capture(NULL, NULL);
	assert_non_null(cfg);
	assert_int_equal(log_count, 1);
	assert_string_equal(log_last, "warning: t.cf:1: myhostnme: unknown parameter; did you mean \"myhostname\"?");
	config_free(&cfg);
}

/* Run fn in a child; it must die of SIGABRT (log_panic). */
static void expect_panic(void (*fn)(const struct config *), const struct config *cfg)
{
	pid_t pid = fork();
	int status = 0;

	assert_true(pid >= 0);
	if (pid == 0) {
		int fd = open("/dev/null", O_WRONLY);

		if (fd >= 0)
			dup2(fd, STDERR_FILENO);
		fn(cfg);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGABRT);
}

static void panic_wrong_type(const struct config *cfg) { (void)config_int(cfg, "myhostname"); }
static void panic_unknown(const struct config *cfg) { (void)config_str(cfg, "no_such_param"); }
static void panic_list(const struct config *cfg) { (void)config_list(cfg, "connection_limit", NULL); }

static void test_getter_panics(void **state)
{
	struct config *cfg = parse_ok("");

	(void)state;
	expect_panic(panic_wrong_type, cfg);
	expect_panic(panic_unknown, cfg);
	expect_panic(panic_list, cfg);
	config_free(&cfg);
}

/* ---- files: load and edit ---- */

static char tmpdir[64];

static int setup_dir(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_config.XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown_dir(void **state)
{
	DIR *d = opendir(tmpdir);
	struct dirent *e;

	(void)state;
	while (d && (e = readdir(d)) != NULL) {
		char p[512];

		if (e->d_name[0] == '.' && (e->d_name[1] == '\0' || (e->d_name[1] == '.' && !e->d_name[2])))
			continue;
		snprintf(p, sizeof(p), "%s/%s", tmpdir, e->d_name);
		unlink(p);
	}
	if (d)
		closedir(d);
	return rmdir(tmpdir);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
	assert_int_equal(fclose(f), 0);
}

static char *read_file(const char *path)
{
	const char *why = NULL;
	char *s = file_read_all(path, 1 << 20, NULL, &why);

	if (s == NULL)
		fail_msg("%s: %s", path, why);
	return s;
}

static size_t dir_entries(void)
{
	DIR *d = opendir(tmpdir);
	size_t n = 0;

	assert_non_null(d);
	while (readdir(d))
		n++;
	closedir(d);
	return n - 2;
}

static void test_load_file(void **state)
{
	char path[128], expected[512];
	struct msgs m = { 0 };
	struct config *cfg;

	(void)state;
	snprintf(path, sizeof(path), "%s/missing.cf", tmpdir);
	assert_null(config_load(path, capture, &m));
	assert_int_equal(m.n, 1);
	snprintf(expected, sizeof(expected), "%s: cannot read configuration: No such file or directory; "
		 "create it with postern init DIR or point -c / POSTERN_CONF at it", path);
	assert_string_equal(m.text[0], expected);
	msgs_free(&m);

	snprintf(path, sizeof(path), "%s/ok.cf", tmpdir);
	write_file(path, "myhostname = mx.example.com\nconnection_limit = 0\n");
	assert_null(config_load(path, capture, &m));
	assert_int_equal(m.n, 1);
	snprintf(expected, sizeof(expected), "%s:2: connection_limit: 0 is below the minimum 1", path);
	assert_string_equal(m.text[0], expected);
	msgs_free(&m);

	/* over the size limit: reported at the line where the limit falls */
	{
		size_t len = CONFIG_MAX_FILE + 1000;
		char *big = must_malloc(len + 1);

		for (size_t i = 0; i < len; i++)
			big[i] = i % 64 == 63 ? '\n' : i % 64 == 0 ? '#' : 'x';
		big[len] = '\0';
		write_file(path, big);
		free(big);
	}
	assert_null(config_load(path, capture, &m));
	assert_int_equal(m.n, 1);
	snprintf(expected, sizeof(expected), "%s:65537: file is larger than 4194304 bytes; move tables "
		 "into lookup tables (postern map) and keep this file short", path);
	assert_string_equal(m.text[0], expected);
	msgs_free(&m);

	write_file(path, "myhostname = mx.example.com\n");
	cfg = config_load(path, capture, &m);
	assert_non_null(cfg);
	assert_int_equal(m.n, 0);
	assert_string_equal(config_path(cfg), path);
	assert_string_equal(config_str(cfg, "mydomain"), "example.com");
	config_free(&cfg);
	unlink(path);
}

static void edit_ok(const char *path, const char *name, const char *value)
{
	char *error = NULL;

	if (config_edit(path, name, value, &error) != 0)
		fail_msg("config_edit %s=%s: %s", name, value, error);
	assert_null(error);
}

static void test_edit(void **state)
{
	static const char before[] =
		"# head comment\n"
		"myhostname = old.example.com\n"
		"mynetworks = 127.0.0.0/8\n"
		"# inner comment\n"
		"    10.0.0.0/8\n"
		"\n"
		"  192.168.0.0/16\n"
		"# trailing comment\n"
		"syslog_name = x   \n"
		"mx/listen = smtp *:25\n";
	static const char after[] =
		"# head comment\n"
		"myhostname = old.example.com\n"
		"mynetworks = 10.1.0.0/16\n"
		"# inner comment\n"
		"\n"
		"# trailing comment\n"
		"syslog_name = x   \n"
		"mx/listen = smtp *:2525\n"
		"mail_location = maildir:~/Maildir\n"
		"mx/myhostname = mx.example.com\n";
	char path[128];
	struct stat st;
	char *text;

	(void)state;
	snprintf(path, sizeof(path), "%s/edit.cf", tmpdir);
	write_file(path, before);
	assert_int_equal(chmod(path, 0640), 0);
	edit_ok(path, "mynetworks", "10.1.0.0/16");
	edit_ok(path, "mx/listen", "smtp *:2525");
	edit_ok(path, "mail_location", "  maildir:~/Maildir ");
	edit_ok(path, "mx/myhostname", "mx.example.com");
	text = read_file(path);
	assert_string_equal(text, after);
	free(text);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0640);
	assert_int_equal(dir_entries(), 1);

	/* the last of several assignments is the one replaced */
	write_file(path, "syslog_name = a\nsyslog_name = b\n  c\n# end");
	edit_ok(path, "syslog_name", "d");
	text = read_file(path);
	assert_string_equal(text, "syslog_name = a\nsyslog_name = d\n# end");
	free(text);

	/* append to a file without a final newline; replace the last line */
	write_file(path, "syslog_name = a");
	edit_ok(path, "mail_owner", "m");
	text = read_file(path);
	assert_string_equal(text, "syslog_name = a\nmail_owner = m\n");
	free(text);
	write_file(path, "syslog_name = a");
	edit_ok(path, "syslog_name", "");
	text = read_file(path);
	assert_string_equal(text, "syslog_name =");
	free(text);
	write_file(path, "");
	edit_ok(path, "syslog_name", "s");
	text = read_file(path);
	assert_string_equal(text, "syslog_name = s\n");
	free(text);
	unlink(path);
}

static void test_edit_refused(void **state)
{
	static const char before[] = "# keep me\nconnection_limit = 10\nmx/listen = smtp *:25\n";
	char path[128], expected[512];
	char *error = NULL, *text;

	(void)state;
	snprintf(path, sizeof(path), "%s/refuse.cf", tmpdir);
	write_file(path, before);

	assert_int_equal(config_edit(path, "connection_limit", "0", &error), -1);
	snprintf(expected, sizeof(expected), "%s:2: connection_limit: 0 is below the minimum 1", path);
	assert_string_equal(error, expected);
	x_free(&error);

	assert_int_equal(config_edit(path, "tls_cert_file", "rel", &error), -1);
	snprintf(expected, sizeof(expected),
		 "%s:4: tls_cert_file: \"rel\" is not an absolute path; start it with / or leave it empty",
		 path);
	assert_string_equal(error, expected);
	x_free(&error);

	assert_int_equal(config_edit(path, "conection_limit", "5", &error), -1);
	assert_string_equal(error, "conection_limit: unknown parameter; did you mean \"connection_limit\"?");
	x_free(&error);

	assert_int_equal(config_edit(path, "sub/myhostname", "x", &error), -1);
	snprintf(expected, sizeof(expected), "%s:4: sub/myhostname: no listener \"sub\"; define sub/listen first", path);
	assert_string_equal(error, expected);
	x_free(&error);

	assert_int_equal(config_edit(path, "mx/listen", "smtp *:0", &error), -1);
	x_free(&error);
	assert_int_equal(config_edit(path, "syslog_name", "a\nb = c", &error), -1);
	assert_string_equal(error, "syslog_name: the value contains a line break; give it on one line");
	x_free(&error);
	assert_int_equal(config_edit(path, "bad name", "x", &error), -1);
	x_free(&error);

	text = read_file(path);
	assert_string_equal(text, before);
	free(text);
	assert_int_equal(dir_entries(), 1);

	/* an old problem elsewhere does not block fixing another one */
	write_file(path, "connection_limit = 0\ntls_min_protocol = SSLv3\n");
	edit_ok(path, "tls_min_protocol", "TLSv1.3");
	edit_ok(path, "connection_limit", "20");
	text = read_file(path);
	assert_string_equal(text, "connection_limit = 20\ntls_min_protocol = TLSv1.3\n");
	free(text);
	unlink(path);

	snprintf(path, sizeof(path), "%s/missing.cf", tmpdir);
	assert_int_equal(config_edit(path, "syslog_name", "x", &error), -1);
	snprintf(expected, sizeof(expected), "%s: cannot read configuration: No such file or directory; "
		 "create it with postern init DIR or point -c / POSTERN_CONF at it", path);
	assert_string_equal(error, expected);
	x_free(&error);
}

static void test_edit_symlink(void **state)
{
	char path[128], link[128];
	struct stat st;
	char *text;

	(void)state;
	snprintf(path, sizeof(path), "%s/real.cf", tmpdir);
	snprintf(link, sizeof(link), "%s/link.cf", tmpdir);
	write_file(path, "syslog_name = a\n");
	assert_int_equal(symlink(path, link), 0);
	edit_ok(link, "syslog_name", "b");
	assert_int_equal(lstat(link, &st), 0);
	assert_true(S_ISLNK(st.st_mode));
	text = read_file(path);
	assert_string_equal(text, "syslog_name = b\n");
	free(text);
	unlink(link);
	unlink(path);
}

/* docs/CONFIG.md is generated from the registry; a registry change
 * without `make docs` fails here. make unit runs from the repository root. */
static void test_docs_up_to_date(void **state)
{
	const char *why = NULL;
	char *committed, *generated = NULL;
	size_t len = 0;
	FILE *f;

	(void)state;
	committed = file_read_all("docs/CONFIG.md", 1 << 22, NULL, &why);
	if (committed == NULL)
		fail_msg("docs/CONFIG.md: %s; run the tests from the repository root", why);
	f = open_memstream(&generated, &len);
	assert_non_null(f);
	config_doc_markdown(f);
	assert_int_equal(fclose(f), 0);
	if (strcmp(committed, generated) != 0)
		fail_msg("docs/CONFIG.md is out of date; run make docs and commit it");
	assert_non_null(strstr(generated, "| <a id=\"tls_min_protocol\"></a>`tls_min_protocol` | choice | `TLSv1.2` |"));
	assert_non_null(strstr(generated, "One of: `TLSv1.2`, `TLSv1.3`."));
	free(committed);
	free(generated);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_syntax_table),
		cmocka_unit_test(test_syntax_errors),
		cmocka_unit_test(test_nul_and_long_lines),
		cmocka_unit_test(test_oversized_file),
		cmocka_unit_test(test_depth_limit),
		cmocka_unit_test(test_expansion_size_limit),
		cmocka_unit_test(test_unknown_names),
		cmocka_unit_test(test_typed_params),
		cmocka_unit_test(test_default_fails_through_expansion),
		cmocka_unit_test(test_parse_bool),
		cmocka_unit_test(test_parse_time),
		cmocka_unit_test(test_parse_size),
		cmocka_unit_test(test_value_check_types),
		cmocka_unit_test(test_list_items),
		cmocka_unit_test(test_computed_defaults),
		cmocka_unit_test(test_listeners_valid),
		cmocka_unit_test(test_listener_errors),
		cmocka_unit_test(test_view_reports),
		cmocka_unit_test(test_config_expand),
		cmocka_unit_test(test_report_to_log),
		cmocka_unit_test(test_getter_panics),
		cmocka_unit_test(test_load_file),
		cmocka_unit_test(test_edit),
		cmocka_unit_test(test_edit_refused),
		cmocka_unit_test(test_edit_symlink),
		cmocka_unit_test(test_docs_up_to_date),
	};

	return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
