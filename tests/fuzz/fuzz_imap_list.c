/*
 * fuzz_imap_list.c - libFuzzer harness for the LIST pattern matcher
 * (imap/imap-list.c): the bit-parallel NFA must agree with a plain
 * dynamic-programming matcher written here from RFC 3501 6.3.8 ('*' any
 * bytes, '%' any bytes but '/', the first level "INBOX" matched without
 * case) on every pattern and name.
 *
 * Input: first byte = pattern length (mod 200), then the pattern, then
 * the name (at most 300 bytes; NUL bytes end it). Corpus:
 * tests/fuzz/corpus/imap_list/.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "imap/imap-private.h"

static bool ref_match(const char *pat, size_t m, const char *name, size_t n)
{
	/* ok[j] after i name bytes: pat[0..j) matches name[0..i) */
	bool *ok = calloc(m + 1, sizeof(bool)), *nx = calloc(m + 1, sizeof(bool));
	bool inbox = n >= 5 && strncmp(name, "INBOX", 5) == 0 && (n == 5 || name[5] == '/');
	bool r;

	if (ok == NULL || nx == NULL)
		abort();
	ok[0] = true;
	for (size_t j = 1; j <= m; j++)
		ok[j] = ok[j - 1] && (pat[j - 1] == '*' || pat[j - 1] == '%');
	for (size_t i = 1; i <= n; i++) {
		unsigned char c = (unsigned char)name[i - 1];

		nx[0] = false;
		for (size_t j = 1; j <= m; j++) {
			unsigned char p = (unsigned char)pat[j - 1];

			if (p == '*')
				nx[j] = nx[j - 1] || ok[j];
			else if (p == '%')
				nx[j] = nx[j - 1] || (ok[j] && c != '/');
			else
				nx[j] = ok[j - 1] && (p == c || (inbox && i <= 5 && tolower(p) == tolower(c)));
		}
		bool *t = ok;

		ok = nx;
		nx = t;
	}
	r = ok[m];
	free(ok);
	free(nx);
	return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char pat[256], name[301];
	size_t m, n;
	const char *error = NULL;
	struct imap_list_pattern *p;

	if (size < 1)
		return 0;
	m = data[0] % 200;
	if (m > size - 1)
		m = size - 1;
	memcpy(pat, data + 1, m);
	pat[m] = '\0';
	m = strlen(pat);
	n = size - 1 - (size_t)(data[0] % 200 > size - 1 ? size - 1 : data[0] % 200);
	if (n > 300)
		n = 300;
	memcpy(name, data + size - n, n);
	name[n] = '\0';
	n = strlen(name);

	p = imap_list_pattern_new("", pat, &error);
	if (p == NULL)
		abort();
	if (imap_list_pattern_match(p, name) != ref_match(pat, m, name, n))
		abort();
	imap_list_pattern_free(&p);
	return 0;
}
