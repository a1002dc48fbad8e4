/*
 * pop3-parse.h - the pure parts of the POP3 role: splitting a command
 * line into its keyword and arguments, message numbers, the UIDL format
 * (pop3_uidl_format) and the RETR/TOP byte converter (bare LF -> CRLF,
 * dot-stuffing, TOP's line limit). No I/O, no allocation: used by the
 * session (pop3/), the unit tests (tests/unit/test_pop3_parse.c) and the
 * fuzz harness (tests/fuzz/fuzz_pop3_command.c).
 *
 * RFC 1939 3 (keywords of 3-4 characters, arguments up to 40 characters
 * separated by single spaces), RFC 2449 4 (command lines up to 255 octets
 * including CRLF; AUTH lines exempt, RFC 5034 4), RFC 1939 7 (UIDL: 1 to
 * 70 characters in the range 0x21 to 0x7E).
 */
#ifndef POSTERN_POP3_PARSE_H
#define POSTERN_POP3_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A command line (without CRLF) may be this long (RFC 2449 4: 255 with CRLF). */
#define POP3_LINE_MAX 253
/* Longest keyword we look up; longer ones are unknown commands. */
#define POP3_VERB_MAX 4
/* At most this many arguments are split (TOP has two). */
#define POP3_ARGS_MAX 2
/* RFC 1939 7: a UIDL is 1..70 characters. */
#define POP3_UIDL_MAX 70

/*
 * pop3_command_split - the keyword of line (len bytes, may contain NULs):
 * verb_r gets it upper-cased and NUL-terminated, *args_off_r the offset of
 * the arguments (after exactly one space; len when there are none).
 * Returns 0, or -1 when the line has no keyword, a keyword longer than
 * POP3_VERB_MAX, a NUL byte, or something other than one space after the
 * keyword (the caller answers "unknown command").
 */
int pop3_command_split(const char *line, size_t len, char verb_r[POP3_VERB_MAX + 1],
		       size_t *args_off_r);

/*
 * pop3_args_split - split args (len bytes) at single spaces into at most
 * max pieces; each piece is (argv_r[i], argl_r[i]) pointing into args.
 * Returns the number of arguments (0 for an empty string), or -1 when
 * there are more than max, or an empty argument (two spaces in a row, a
 * leading or trailing space).
 */
int pop3_args_split(const char *args, size_t len, const char **argv_r, size_t *argl_r, size_t max);

/*
 * pop3_msgnum_parse - a message number or TOP's line count: decimal
 * digits only, no sign, at most 10 digits, value <= UINT32_MAX. Returns
 * 0 with *n_r, or -1.
 */
int pop3_msgnum_parse(const char *s, size_t len, uint32_t *n_r);

/*
 * pop3_uidl_check - validate a pop3_uidl_format value: %u (UID), %v
 * (UIDVALIDITY), %f (Maildir file base name), %% and an optional
 * zero-padded width and X for hex (%08Xu, Dovecot's syntax); at least one
 * of %u and %f. Returns 0, or -1 with *error_r (static text: the problem
 * and the fix).
 */
int pop3_uidl_check(const char *format, const char **error_r);

/* pop3_uidl_uses_name - true when format contains %f. */
bool pop3_uidl_uses_name(const char *format);

/*
 * pop3_uidl_make - the UIDL of one message into out (size >=
 * POP3_UIDL_MAX + 1) from a checked format; name may be NULL or "" when
 * %f is not used or unknown. Returns 0, or -1 when the result is empty,
 * longer than POP3_UIDL_MAX or has a character outside 0x21..0x7E (the
 * caller falls back to the default format).
 */
int pop3_uidl_make(const char *format, uint32_t uid, uint32_t uidvalidity, const char *name,
		   char *out, size_t size);

/* ---- RETR / TOP: the message as it goes on the wire ---- */

struct pop3_stuffer {
	bool line_start;     /* the next byte begins a line */
	bool prev_cr;        /* the last byte seen was CR */
	bool in_body;        /* past the empty line ending the header */
	bool line_empty;     /* the current header line had nothing but CR so far */
	bool limited;        /* TOP: count body lines */
	bool done;           /* TOP: enough lines sent; ignore the rest */
	uint64_t lines_left; /* TOP: body lines still to send */
	uint64_t in_bytes;   /* message bytes consumed */
};

/* pop3_stuffer_init - RETR (limited false) or TOP with lines body lines. */
void pop3_stuffer_init(struct pop3_stuffer *st, bool limited, uint64_t lines);

/*
 * pop3_stuffer_feed - convert message bytes for the wire: a LF without a
 * CR before it becomes CRLF, a line starting with '.' gets another '.'
 * (RFC 1939 3), and for TOP the header, the empty line and the first N
 * body lines pass. out must hold 2 * len + 2 bytes (the worst case: every
 * byte a bare LF or a dot at a line start). Returns the bytes written to
 * out; st->done tells that TOP needs no more input.
 */
size_t pop3_stuffer_feed(struct pop3_stuffer *st, const char *in, size_t len, char *out);

/*
 * pop3_stuffer_finish - the end of the multi-line reply into out (>= 5
 * bytes): CRLF when the message did not end with a line end (not counted
 * in the size, RFC 1939 leaves this case open), then ".\r\n". Returns the
 * bytes written.
 */
size_t pop3_stuffer_finish(struct pop3_stuffer *st, char *out);

#endif
