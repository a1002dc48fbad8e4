/*
 * fuzz_pop3_command.c - libFuzzer harness for the POP3 command parser
 * (pop3/pop3-parse.c): the keyword split, the argument split, message
 * numbers, the pop3_uidl_format checker and formatter (the input used as
 * a format), and the RETR/TOP converter on the input as message bytes,
 * with its invariants checked: the output never exceeds the documented
 * bound, every LF goes out as CRLF, and no line on the wire starts with a
 * single dot (which would end the reply early).
 * Input: one command line as a client sends it (without CR LF).
 * Corpus: tests/fuzz/corpus/pop3_command/.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pop3/pop3-parse.h"

static void check_wire(const char *w, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (w[i] == '\n' && (i == 0 || w[i - 1] != '\r'))
			abort();
	}
}

static void stuff(const uint8_t *data, size_t size, bool top, uint64_t lines)
{
	struct pop3_stuffer st;
	char *out = malloc(2 * size + 8);
	size_t o = 0, half = size / 2;

	if (out == NULL)
		return;
	pop3_stuffer_init(&st, top, lines);
	/* two pieces: state must carry across a cut */
	o += pop3_stuffer_feed(&st, (const char *)data, half, out + o);
	o += pop3_stuffer_feed(&st, (const char *)data + half, size - half, out + o);
	if (o > 2 * size + 2)
		abort();
	o += pop3_stuffer_finish(&st, out + o);
	if (o > 2 * size + 5 || o < 3 || memcmp(out + o - 3, ".\r\n", 3) != 0)
		abort();
	check_wire(out, o);
	/* no line but the last may be a lone "." */
	for (size_t i = 0; i + 3 < o; i++)
		if ((i == 0 || out[i - 1] == '\n') && out[i] == '.' && out[i + 1] == '\r')
			abort();
	free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *line = malloc(size + 1);
	char verb[POP3_VERB_MAX + 1];
	size_t args_off;

	if (line == NULL)
		return 0;
	memcpy(line, data, size);
	line[size] = '\0';
	if (pop3_command_split(line, size, verb, &args_off) == 0) {
		const char *argv[POP3_ARGS_MAX];
		size_t argl[POP3_ARGS_MAX];
		int n;

		if (args_off > size || strlen(verb) > POP3_VERB_MAX || verb[0] == '\0')
			abort();
		n = pop3_args_split(line + args_off, size - args_off, argv, argl, POP3_ARGS_MAX);
		for (int i = 0; i < n; i++) {
			uint32_t v;
			if (argv[i] < line + args_off || argv[i] + argl[i] > line + size || argl[i] == 0)
				abort();
			(void)pop3_msgnum_parse(argv[i], argl[i], &v);
		}
	}
	const char *err;
	if (pop3_uidl_check(line, &err) == 0) {
		char out[POP3_UIDL_MAX + 1];
		if (pop3_uidl_make(line, 12345, 0xdeadbeef, "1700000000.M1P2.host", out, sizeof(out)) == 0 &&
		    (strlen(out) == 0 || strlen(out) > POP3_UIDL_MAX))
			abort();
	}
	stuff(data, size, false, 0);
	stuff(data, size, true, size % 4);
	free(line);
	return 0;
}
