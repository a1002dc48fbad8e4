/*
 * fuzz_smtp_address.c - libFuzzer harness for smtp/address.c: the first
 * byte picks the flags, the rest is the MAIL FROM / RCPT TO argument.
 * Checks the invariants address.h promises (limits, lower-case domain,
 * no '@' in an unquoted local part, a reply on every error). Built by
 * `make fuzz`; seeds in tests/fuzz/corpus/fuzz_smtp_address/.
 */
#include <ctype.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtp/address.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct smtp_address a;
	const char *reply = NULL;
	unsigned flags;
	char *text;

	if (size < 1)
		return 0;
	flags = data[0] & 0x0f;
	if (smtp_address_parse((const char *)data + 1, size - 1, flags, &a, &reply) < 0) {
		if (reply == NULL || strlen(reply) < 4 || a.local != NULL)
			abort();
		return 0;
	}
	if (strlen(a.domain) > SMTP_ADDR_DOMAIN_MAX || strlen(a.raw) > SMTP_ADDR_PATH_MAX)
		abort();
	if (!a.quoted_local && strlen(a.local) > SMTP_ADDR_LOCAL_MAX)
		abort();
	if (!a.quoted_local && strchr(a.local, '@'))
		abort();
	for (const char *p = a.domain; *p; p++)
		if (isupper((unsigned char)*p) || *p == '@' || (unsigned char)*p < 32)
			abort();
	if (a.null && !(flags & SMTP_ADDR_ALLOW_NULL))
		abort();
	if (a.utf8 && !(flags & SMTP_ADDR_SMTPUTF8))
		abort();
	text = smtp_address_text(&a);
	free(text);
	smtp_address_free(&a);
	return 0;
}
