/*
 * test_pop3_parse.c - table-driven tests of the POP3 role's pure parts
 * (pop3/pop3-parse.c): the keyword split, argument split, message
 * numbers, the pop3_uidl_format checker and formatter (Dovecot's
 * %08Xu%08Xv), and the RETR/TOP converter (bare LF -> CRLF, dot-stuffing,
 * TOP's line count), including input cut at every byte boundary.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "pop3/pop3-parse.h"

static void test_command_split(void **state)
{
	static const struct {
		const char *line;
		int rc;
		const char *verb;
		size_t args;
	} cases[] = {
		{ "QUIT", 0, "QUIT", 4 },
		{ "quit", 0, "QUIT", 4 },
		{ "retr 1", 0, "RETR", 5 },
		{ "TOP 1 10", 0, "TOP", 4 },
		{ "LIST ", 0, "LIST", 5 },
		{ "", -1, "", 0 },
		{ " QUIT", -1, "", 0 },
		{ "QUITX", -1, "", 0 },          /* longer than 4: unknown */
		{ "STA\x01", -1, "", 0 },
	};
	char verb[POP3_VERB_MAX + 1];
	size_t args;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = pop3_command_split(cases[i].line, strlen(cases[i].line), verb, &args);
		assert_int_equal(rc, cases[i].rc);
		if (rc == 0) {
			assert_string_equal(verb, cases[i].verb);
			assert_int_equal(args, cases[i].args);
		}
	}
	/* a NUL in the arguments is refused */
	assert_int_equal(pop3_command_split("USER a\0b", 8, verb, &args), -1);
}

static void test_args_split(void **state)
{
	const char *argv[POP3_ARGS_MAX];
	size_t argl[POP3_ARGS_MAX];

	(void)state;
	assert_int_equal(pop3_args_split("", 0, argv, argl, 2), 0);
	assert_int_equal(pop3_args_split("1", 1, argv, argl, 2), 1);
	assert_int_equal(argl[0], 1);
	assert_int_equal(pop3_args_split("12 345", 6, argv, argl, 2), 2);
	assert_memory_equal(argv[1], "345", 3);
	assert_int_equal(argl[1], 3);
	assert_int_equal(pop3_args_split("1 2 3", 5, argv, argl, 2), -1);
	assert_int_equal(pop3_args_split("1  2", 4, argv, argl, 2), -1);
	assert_int_equal(pop3_args_split("1 ", 2, argv, argl, 2), -1);
	assert_int_equal(pop3_args_split(" 1", 2, argv, argl, 2), -1);
	assert_int_equal(pop3_args_split("1 2", 3, argv, argl, 1), -1);
}

static void test_msgnum(void **state)
{
	uint32_t n = 0;

	(void)state;
	assert_int_equal(pop3_msgnum_parse("1", 1, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(pop3_msgnum_parse("0", 1, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(pop3_msgnum_parse("4294967295", 10, &n), 0);
	assert_int_equal(n, 4294967295u);
	assert_int_equal(pop3_msgnum_parse("4294967296", 10, &n), -1);
	assert_int_equal(pop3_msgnum_parse("99999999999", 11, &n), -1);
	assert_int_equal(pop3_msgnum_parse("", 0, &n), -1);
	assert_int_equal(pop3_msgnum_parse("-1", 2, &n), -1);
	assert_int_equal(pop3_msgnum_parse("+1", 2, &n), -1);
	assert_int_equal(pop3_msgnum_parse("1a", 2, &n), -1);
}

static void test_uidl_format(void **state)
{
	const char *err = NULL;
	char out[POP3_UIDL_MAX + 1];

	(void)state;
	assert_int_equal(pop3_uidl_check("%08Xu%08Xv", &err), 0);
	assert_int_equal(pop3_uidl_check("%u.%v", &err), 0);
	assert_int_equal(pop3_uidl_check("%f", &err), 0);
	assert_int_equal(pop3_uidl_check("%v", &err), -1);
	assert_string_equal(err, "needs %u or %f, or every message would get the same UIDL; use e.g. %08Xu%08Xv");
	assert_int_equal(pop3_uidl_check("%m", &err), -1);
	assert_int_equal(pop3_uidl_check("a b%u", &err), -1);
	assert_int_equal(pop3_uidl_check("", &err), -1);
	assert_int_equal(pop3_uidl_check("%08Xf", &err), -1);
	assert_int_equal(pop3_uidl_check("%u%", &err), -1);
	assert_true(pop3_uidl_uses_name("x%fy"));
	assert_false(pop3_uidl_uses_name("%08Xu%08Xv"));

	assert_int_equal(pop3_uidl_make("%08Xu%08Xv", 26, 0x5f3e1a2b, NULL, out, sizeof(out)), 0);
	assert_string_equal(out, "0000001A5F3E1A2B");
	assert_int_equal(pop3_uidl_make("%u.%v", 7, 99, NULL, out, sizeof(out)), 0);
	assert_string_equal(out, "7.99");
	assert_int_equal(pop3_uidl_make("%f", 7, 99, "1700000000.M1P2.host,S=12", out, sizeof(out)), 0);
	assert_string_equal(out, "1700000000.M1P2.host,S=12");
	assert_int_equal(pop3_uidl_make("%%%u", 5, 1, NULL, out, sizeof(out)), 0);
	assert_string_equal(out, "%5");
	/* %f without a name is empty: refused, the caller falls back */
	assert_int_equal(pop3_uidl_make("%f", 7, 99, NULL, out, sizeof(out)), -1);
	/* longer than 70 */
	char longname[100];
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	assert_int_equal(pop3_uidl_make("%f", 7, 99, longname, out, sizeof(out)), -1);
	assert_int_equal(pop3_uidl_make("%f", 7, 99, "with space", out, sizeof(out)), -1);
}

/* convert in with chunks of `step` bytes; returns the wire bytes (static) */
static const char *convert(const char *in, bool top, uint64_t lines, size_t step, size_t *len_r)
{
	static char out[4096];
	char buf[2 * 64 + 8];
	struct pop3_stuffer st;
	size_t o = 0, n = strlen(in);

	pop3_stuffer_init(&st, top, lines);
	for (size_t i = 0; i < n; i += step) {
		size_t k = n - i < step ? n - i : step;
		size_t w = pop3_stuffer_feed(&st, in + i, k, buf);
		memcpy(out + o, buf, w);
		o += w;
	}
	o += pop3_stuffer_finish(&st, out + o);
	out[o] = '\0';
	*len_r = o;
	return out;
}

static void test_stuffer(void **state)
{
	static const struct {
		const char *in;
		bool top;
		uint64_t lines;
		const char *wire;
	} cases[] = {
		{ "a\nb\n", false, 0, "a\r\nb\r\n.\r\n" },
		{ "a\r\nb\r\n", false, 0, "a\r\nb\r\n.\r\n" },
		{ ".\n..\n.x\n", false, 0, "..\r\n...\r\n..x\r\n.\r\n" },
		{ "no end", false, 0, "no end\r\n.\r\n" },
		{ "", false, 0, ".\r\n" },
		{ "cr\ronly\n", false, 0, "cr\ronly\r\n.\r\n" },
		{ "S: x\n\n1\n2\n3\n", true, 0, "S: x\r\n\r\n.\r\n" },
		{ "S: x\n\n1\n.2\n3\n", true, 2, "S: x\r\n\r\n1\r\n..2\r\n.\r\n" },
		{ "S: x\r\n\r\nb\r\n", true, 5, "S: x\r\n\r\nb\r\n.\r\n" },
		{ "S: x\n", true, 0, "S: x\r\n.\r\n" },
		{ "H: \r\n\r\n", true, 0, "H: \r\n\r\n.\r\n" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		for (size_t step = 1; step <= 64; step = step * 2 + 1) {
			size_t len;
			const char *w = convert(cases[i].in, cases[i].top, cases[i].lines, step, &len);
			assert_int_equal(len, strlen(cases[i].wire));
			assert_memory_equal(w, cases[i].wire, len);
		}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_command_split),
		cmocka_unit_test(test_args_split),
		cmocka_unit_test(test_msgnum),
		cmocka_unit_test(test_uidl_format),
		cmocka_unit_test(test_stuffer),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
