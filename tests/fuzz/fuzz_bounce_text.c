/*
 * fuzz_bounce_text.c - libFuzzer harness for smtp/queue/bounce-text.c,
 * the code that puts a remote server's reply and hostile addresses into
 * a notice. The first byte picks the kind, the postmaster wording and
 * UTF-8 mode; the rest is split at NUL bytes into the final address, the
 * original recipient, the status text, the diagnostic and the ORCPT.
 * Checks: every line ends in CR LF (no bare CR or LF that would end a
 * header or smuggle one), no other control byte, no 8-bit byte unless
 * UTF-8 mode, every continuation line of a field starts with spaces, and
 * the xtext decoder returns printable ASCII or NULL. Built by `make fuzz`;
 * seeds in tests/fuzz/corpus/fuzz_bounce_text/.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtp/queue/bounce-private.h"

static void check_lines(const struct strbuf *sb, bool utf8, bool field)
{
	for (size_t i = 0; i < sb->len; i++) {
		unsigned char c = (unsigned char)sb->data[i];
		if (c == '\r' && (i + 1 >= sb->len || sb->data[i + 1] != '\n'))
			abort();
		if (c == '\n' && (i == 0 || sb->data[i - 1] != '\r'))
			abort();
		if (c < 0x20 && c != '\r' && c != '\n')
			abort();
		if ((c == 0x7f) || (c >= 0x80 && !utf8))
			abort();
		if (field && c == '\n' && i + 1 < sb->len && sb->data[i + 1] != ' ')
			abort();
	}
	if (sb->len < 2 || memcmp(sb->data + sb->len - 2, "\r\n", 2) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *copy, *fields[5] = { "", "", "", "", "" };
	size_t nf = 0;
	struct bounce b = { .myhostname = "mail.example.com", .max_lifetime = 432000, .bounce_lifetime = 432000 };
	struct qrcpt rcpt;
	struct qdest dest;
	struct qmsg m;
	struct bounce_notice n;
	struct strbuf sb;
	size_t idx = 0;
	bool utf8;

	if (size < 1 || size > 20000)
		return 0;
	utf8 = data[0] & 4;
	copy = malloc(size);
	if (copy == NULL)
		return 0;
	memcpy(copy, data + 1, size - 1);
	copy[size - 1] = '\0';
	/* Fields at NUL bytes; the last one is NUL-terminated by the copy. */
	for (char *p = copy; nf < 5 && p < copy + size;) {
		fields[nf++] = p;
		p += strlen(p) + 1;
	}
	memset(&rcpt, 0, sizeof(rcpt));
	memset(&dest, 0, sizeof(dest));
	memset(&m, 0, sizeof(m));
	rcpt.addr = fields[1];
	rcpt.orcpt = fields[4];
	dest.kind = (data[0] & 8) ? QDEST_PIPE : QDEST_ADDR;
	dest.value = fields[0];
	dest.text = fields[2];
	dest.diag = fields[3];
	str_copy(dest.dsn, "5.1.1", sizeof(dest.dsn));
	m.sender = (data[0] & 16) ? "" : "a@example.com";
	m.rcpts = &rcpt;
	m.n_rcpts = 1;
	m.dests = &dest;
	m.n_dests = 1;
	m.arrival.tv_sec = 1700000000;
	n = (struct bounce_notice){ .kind = (enum bounce_kind)(data[0] % 3), .postmaster = data[0] & 32,
				    .utf8 = utf8, .to = fields[1], .id = "0123456789AB", .now = 1700003600,
				    .dests = &idx, .n = 1 };

	strbuf_init(&sb, BOUNCE_REPORT_MAX);
	if (bounce_text_human(&sb, &b, &n, &m) == 0)
		check_lines(&sb, utf8, false);
	strbuf_free(&sb);
	for (int i = 0; i < 5; i++) {
		strbuf_init(&sb, BOUNCE_REPORT_MAX);
		if (bounce_text_field(&sb, "Diagnostic-Code", fields[i], utf8) == 0)
			check_lines(&sb, utf8, true);
		strbuf_free(&sb);
		char *dec = bounce_text_xtext_decode(fields[i]);
		if (dec != NULL) {
			for (char *p = dec; *p; p++)
				if (*p < 0x21 || *p > 0x7e)
					abort();
			free(dec);
		}
	}
	free(copy);
	return 0;
}
