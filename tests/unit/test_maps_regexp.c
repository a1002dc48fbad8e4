/*
 * test_maps_regexp.c - regexp: (regexp_table(5), POSIX) and pcre:
 * (pcre_table(5), PCRE2) tables. Both share one layout, so most tests run
 * against both types: first match wins, default case-insensitivity and the
 * i flag, $n / ${n} / $(n) / $$ substitution, negation, nested if/endif,
 * and every malformed-line error. Engine-specific tests follow (regexp's
 * x flag and repetition limit; pcre's flags and match limit).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "maps_test_util.h"
#include "maps-private.h"

static const char *const types[] = { "regexp", "pcre" };

static struct map *open_table(const char *type, const char *text)
{
	const char *err = NULL;
	struct map *m;

	mt_write("table", text);
	m = map_open(mt_spec(type, "table"), 0, &err);
	if (m == NULL)
		print_error("open %s: %s\n", type, err);
	assert_non_null(m);
	return m;
}

static void test_first_match_and_case(void **state)
{
	(void)state;
	for (size_t t = 0; t < 2; t++) {
		struct map *m = open_table(types[t],
			"# header checks\n"
			"/^From: .*@spam\\.example$/   REJECT spam\n"
			"/^Subject: Urgent/i           case sensitive\n"
			"/^subject: urgent/            case insensitive\n"
			"/^subject:/                   any subject\n"
			"/a/  first\n"
			"/a/  second\n");
		mt_assert_value(m, "From: x@SPAM.example", "REJECT spam");
		mt_assert_value(m, "Subject: Urgent reply", "case sensitive");
		mt_assert_value(m, "SUBJECT: URGENT reply", "case insensitive");
		mt_assert_value(m, "Subject: hello", "any subject");
		mt_assert_value(m, "banana", "first");
		mt_assert_value(m, "xyz", NULL);
		/* Keys are not folded: the pattern decides about case. */
		assert_string_equal(map_type(m), types[t]);
		map_close(&m);
	}
}

static void test_substitution(void **state)
{
	(void)state;
	for (size_t t = 0; t < 2; t++) {
		struct map *m = open_table(types[t],
			"/^(.*)@(.*)\\.example\\.com$/  $1 at ${2} and $(1)x cost $$5\n"
			"/^([a-z]+)-(x)?([0-9]+)$/     [$1][$2][$3]\n"
			"/^(.*)@/                      $1\n");
		mt_assert_value(m, "joe@Sub.example.com", "joe at Sub and joex cost $5");
		/* An optional group that did not take part is empty. */
		mt_assert_value(m, "abc-12", "[abc][][12]");
		mt_assert_value(m, "abc-x12", "[abc][x][12]");
		mt_assert_value(m, "@other", "");
		map_close(&m);
	}
}

static void test_negation(void **state)
{
	(void)state;
	for (size_t t = 0; t < 2; t++) {
		struct map *m = open_table(types[t],
			"!/@example\\.com$/   REJECT not ours\n"
			"/^postmaster@/      OK\n");
		mt_assert_value(m, "x@evil.test", "REJECT not ours");
		mt_assert_value(m, "postmaster@example.com", "OK");
		mt_assert_value(m, "joe@example.com", NULL);
		map_close(&m);
	}
}

static void test_if_endif(void **state)
{
	(void)state;
	for (size_t t = 0; t < 2; t++) {
		struct map *m = open_table(types[t],
			"if /@example\\.com$/\n"
			"if !/^admin/\n"
			"/^(.*)-sales@/   sales $1\n"
			"/./              inner\n"
			"endif\n"
			"/^admin/         admin\n"
			"endif\n"
			"# a line after the blocks\n"
			"/./              outer\n");
		mt_assert_value(m, "eu-sales@example.com", "sales eu");
		mt_assert_value(m, "joe@example.com", "inner");
		mt_assert_value(m, "admin-sales@example.com", "admin");
		mt_assert_value(m, "joe@example.org", "outer");
		mt_assert_value(m, "", NULL);
		map_close(&m);
	}
}

static void test_if_depth(void **state)
{
	struct strbuf ok, bad;

	(void)state;
	strbuf_init(&ok, 0);
	strbuf_init(&bad, 0);
	for (int i = 0; i < MAPS_IF_DEPTH_MAX; i++)
		strbuf_puts(&ok, "if /a/\n");
	strbuf_puts(&ok, "/a/ deep\n");
	for (int i = 0; i < MAPS_IF_DEPTH_MAX; i++)
		strbuf_puts(&ok, "endif\n");
	for (int i = 0; i <= MAPS_IF_DEPTH_MAX; i++)
		strbuf_puts(&bad, "if /a/\n");
	for (size_t t = 0; t < 2; t++) {
		struct map *m = open_table(types[t], ok.data);
		char want[256];

		mt_assert_value(m, "a", "deep");
		mt_assert_value(m, "b", NULL);
		map_close(&m);
		mt_write("deep", bad.data);
		snprintf(want, sizeof(want), "@D/deep:17: %s: if blocks nested more than 16 deep; "
			 "flatten them", types[t]);
		mt_expect_error(mt_spec(types[t], "deep"), want);
	}
	strbuf_free(&ok);
	strbuf_free(&bad);
}

struct bad_case {
	const char *text;
	const char *error; /* after "@D/bad:"; @T = type, @F = its flags */
};

static void test_errors(void **state)
{
	static const struct bad_case cases[] = {
		{ "/ok/ x\n/abc x\n", "2: @T: missing closing /; write /PATTERN/FLAGS RESULT" },
		{ "abc x\n", "1: @T: a pattern must start with a delimiter such as /; write "
		  "/PATTERN/FLAGS RESULT" },
		{ "/abc/\n", "1: @T: missing result after the pattern; write /PATTERN/FLAGS RESULT" },
		{ "/abc/q x\n", "1: @T: unknown flag \"q\" after /abc/; use one of \"@F\"" },
		{ "/(a)(b)/ $3\n", "1: @T: result refers to $3 but the pattern has 2 groups; use "
		  "$1..$2 or add ( ) around the part to copy" },
		{ "/a/ $1\n", "1: @T: result refers to $1 but the pattern has 0 groups; use "
		  "$1..$0 or add ( ) around the part to copy" },
		{ "!/(a)/ $1\n", "1: @T: $1 in the result of a negated pattern; a pattern that "
		  "does not match has no groups, remove the reference" },
		{ "/(a)/ $1x\n", "1: @T: bad \"$\" in result \"$1x\"; write $N, ${N} or $(N) for "
		  "group N, or $$ for a \"$\"" },
		{ "/(a)/ cost $\n", "1: @T: bad \"$\" in result \"cost $\"; write $N, ${N} or $(N) "
		  "for group N, or $$ for a \"$\"" },
		{ "/(a)/ ${1\n", "1: @T: bad \"$\" in result \"${1\"; write $N, ${N} or $(N) for "
		  "group N, or $$ for a \"$\"" },
		{ "/a/ x\nendif\n", "2: @T: endif without a matching if; remove it" },
		{ "/a/ x\nif /b/\n/c/ y\n", "2: @T: if without a matching endif; add endif" },
		{ "if /b/\n/c/ y\nendif x\n", "3: @T: text after endif; put it on a line of its own" },
		{ "if /b/ x\nendif\n", "1: @T: text after \"if PATTERN\"; put each rule on its own "
		  "line between if and endif" },
		{ "  /a/ x\n", "1: continuation line without a line to continue; remove the "
		  "leading whitespace" },
	};

	(void)state;
	for (size_t t = 0; t < 2; t++) {
		const char *flags = t == 0 ? "imx" : "imsxAEUX";

		for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
			struct strbuf want;
			const char *p;

			strbuf_init(&want, 0);
			strbuf_puts(&want, "@D/bad:");
			for (p = cases[i].error; *p; p++) {
				if (p[0] == '@' && p[1] == 'T') {
					strbuf_puts(&want, types[t]);
					p++;
				} else if (p[0] == '@' && p[1] == 'F') {
					strbuf_puts(&want, flags);
					p++;
				} else {
					strbuf_putc(&want, *p);
				}
			}
			mt_write("bad", cases[i].text);
			mt_expect_error(mt_spec(types[t], "bad"), want.data);
			strbuf_free(&want);
		}
	}
}

static void test_bad_pattern(void **state)
{
	const char *err = NULL;

	(void)state;
	mt_write("bad", "/a(b/ x\n");
	assert_null(map_open(mt_spec("regexp", "bad"), 0, &err));
	assert_non_null(strstr(err, "/bad:1: regexp: bad pattern /a(b/: "));
	assert_non_null(strstr(err, "; fix the regular expression"));
	assert_null(map_open(mt_spec("pcre", "bad"), 0, &err));
	assert_non_null(strstr(err, "/bad:1: pcre: bad pattern /a(b/: missing closing "
			       "parenthesis at offset 3; fix the regular expression"));
}

static void test_other_delimiter(void **state)
{
	(void)state;
	for (size_t t = 0; t < 2; t++) {
		struct map *m = open_table(types[t], "|^/usr/(bin)|   path $1\n"
					   "/a\\/b/  slash\n");
		mt_assert_value(m, "/usr/bin/x", "path bin");
		mt_assert_value(m, "a/b", "slash");
		map_close(&m);
	}
}

static void test_regexp_flags_and_limits(void **state)
{
	struct map *m;

	(void)state;
	/* x toggles extended syntax off: "+" is literal in basic syntax. */
	m = open_table("regexp", "/^a+$/x  basic\n/^a+$/   extended\n");
	mt_assert_value(m, "a+", "basic");
	mt_assert_value(m, "aaa", "extended");
	map_close(&m);
	/* m: ^ and $ match at newlines. */
	m = open_table("regexp", "/^b$/m  multi\n");
	mt_assert_value(m, "a\nb\nc", "multi");
	map_close(&m);
	/* glibc's regcomp would need gigabytes for these (found by fuzzing). */
	{
		static const char *const heavy[] = {
			"/(a{100}){100}/ x\n", "/a{5000}/ x\n",
			"/(((((((a*)+)+)+)+)+)+)+/ x\n",
			"/\\(a\\{70\\}\\)\\{70\\}/x x\n",
		};

		for (size_t i = 0; i < sizeof(heavy) / sizeof(heavy[0]); i++) {
			const char *err = NULL;

			mt_write("bad", heavy[i]);
			assert_null(map_open(mt_spec("regexp", "bad"), 0, &err));
			assert_non_null(strstr(err, "too complex for regexp: (nested) repetitions "
					       "expand to more than 4096 elements; simplify it or "
					       "use a pcre: table; fix the regular expression"));
		}
	}
	mt_write("bad", "/^(.*++)@/ x\n");
	mt_expect_error(mt_spec("regexp", "bad"), "@D/bad:1: regexp: bad pattern /^(.*++)@/: "
			"a repetition operator follows another one, as in \"a*+\"; remove one "
			"of them; fix the regular expression");
	/* Ordinary patterns stay well below the limit. */
	m = open_table("regexp", "/^([a-z0-9-]{1,63}\\.)+[a-z]{2,63}$/ domain\n"
		       "/^[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3}$/ ip\n"
		       "/^a{2,5}[]a-z{}]+$/ brackets\n"
		       "/^a\\{2\\}$/x basic braces\n");
	mt_assert_value(m, "mail.example.com", "domain");
	mt_assert_value(m, "10.0.0.1", "ip");
	mt_assert_value(m, "aa]x{", "brackets");
	mt_assert_value(m, "aa", "basic braces");
	map_close(&m);
}

static void test_pcre_flags_and_limits(void **state)
{
	struct map *m;
	const char *v = NULL, *err = NULL;
	char key[64];

	(void)state;
	m = open_table("pcre", "/\\d+ \\s \\w+/  perl classes\n"
		       "/^a.b$/s   dotall\n"
		       "/b/A       anchored\n"
		       "/^(a+?)/U  ungreedy $1\n"
		       "/c $/E     dollar-endonly\n"
		       "/c $/      dollar\n"
		       "/x  y/x    extended\n");
	mt_assert_value(m, "12 \t word", "perl classes");
	mt_assert_value(m, "a\nb", "dotall");
	mt_assert_value(m, "bz", "anchored");
	mt_assert_value(m, "zb", NULL);
	mt_assert_value(m, "aaa", "ungreedy aaa");
	mt_assert_value(m, "c ", "dollar-endonly");
	mt_assert_value(m, "c \n", "dollar");
	mt_assert_value(m, "xy", "extended");
	map_close(&m);

	/* Catastrophic backtracking ends as a temporary failure, quickly. */
	m = open_table("pcre", "/^(a|aa)+$/ never\n");
	memset(key, 'a', sizeof(key) - 2);
	key[sizeof(key) - 2] = 'b';
	key[sizeof(key) - 1] = '\0';
	assert_int_equal(map_lookup(m, key, &v, &err), MAP_TEMPFAIL);
	assert_null(v);
	assert_non_null(strstr(err, "/table:1: pcre: matching failed: match limit exceeded; "
			       "simplify the pattern"));
	map_close(&m);
}

static void test_from_memory(void **state)
{
	const char *err;
	struct map *m;

	(void)state;
	m = maps_regexp_open_mem("mem", "/(x)/ $1\n", 9, &err);
	assert_non_null(m);
	mt_assert_value(m, "axb", "x");
	map_close(&m);
	m = maps_pcre_open_mem("mem", "/(x)/ $1\n", 9, &err);
	assert_non_null(m);
	mt_assert_value(m, "axb", "x");
	map_close(&m);
	assert_null(maps_pcre_open_mem("mem", "/x", 2, &err));
	assert_string_equal(err, "mem:1: pcre: missing closing /; write /PATTERN/FLAGS RESULT");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_first_match_and_case, mt_setup, mt_teardown),
		cmocka_unit_test_setup_teardown(test_substitution, mt_setup, mt_teardown),
		cmocka_unit_test_setup_teardown(test_negation, mt_setup, mt_teardown),
		cmocka_unit_test_setup_teardown(test_if_endif, mt_setup, mt_teardown),
		cmocka_unit_test_setup_teardown(test_if_depth, mt_setup, mt_teardown),
		cmocka_unit_test_setup_teardown(test_errors, mt_setup, mt_teardown),
		cmocka_unit_test_setup_teardown(test_bad_pattern, mt_setup, mt_teardown),
		cmocka_unit_test_setup_teardown(test_other_delimiter, mt_setup, mt_teardown),
		cmocka_unit_test_setup_teardown(test_regexp_flags_and_limits, mt_setup, mt_teardown),
		cmocka_unit_test_setup_teardown(test_pcre_flags_and_limits, mt_setup, mt_teardown),
		cmocka_unit_test_setup_teardown(test_from_memory, mt_setup, mt_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
