/*
 * fuzz_maildir_name.c - libFuzzer harness for the Maildir file-name parser
 * (store/maildir-name.c): parse any bytes as a name; when it parses, the
 * results must be consistent (base within the name, extra letters
 * printable), and rebuilding the info and the U= field must not overflow
 * and must parse back to the same flags and UID. Seeds:
 * tests/fuzz/corpus/fuzz_maildir_name/ (Postern, mutt, Dovecot, escaped
 * host, malformed fields).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store/maildir-name.h"
#include "store/store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct maildir_name n, n2;
	char info[MAILDIR_EXTRA_MAX + 8], base[MAILDIR_NAME_MAX + 1], full[2 * MAILDIR_NAME_MAX];
	const char *name = (const char *)data;

	if (maildir_name_parse(name, size, &n) < 0)
		return 0;
	if (n.base_len == 0 || n.base_len > size)
		abort();
	for (const char *p = n.extra; *p; p++)
		if (*p <= 0x20 || *p >= 0x7f)
			abort();
	maildir_info_format(info, sizeof(info), n.flags, n.extra);
	if (maildir_base_with_uid(base, sizeof(base), name, n.base_len, 4242) == 0) {
		size_t bl = strlen(base), il = strlen(info);

		memcpy(full, base, bl);
		memcpy(full + bl, info, il);
		if (maildir_name_parse(full, bl + il, &n2) == 0) {
			if (n2.uid != 4242 || n2.flags != n.flags)
				abort();
		}
	}
	return 0;
}
