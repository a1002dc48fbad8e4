/*
 * fuzz_aliases.c - libFuzzer harness for the aliases(5) parser
 * (smtp/resolve/alias-file.c: alias_file_parse, alias_list_split) and the
 * forward_path / luser_relay template expander (resolve_template): the
 * input is parsed as an alias file, every value split into its items,
 * and the input also expanded as a template.
 * Seed corpus: tests/fuzz/corpus/fuzz_aliases/.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtp/resolve/resolve-private.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct alias_entry *e = NULL;
	size_t n = 0;
	char *err = NULL, *text = malloc(size + 1);

	if (text == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (alias_file_parse("fuzz", text, size, &e, &n, &err) == 0) {
		for (size_t i = 0; i < n; i++) {
			char **items = alias_list_split(e[i].value, RESOLVE_ALIAS_ITEMS_MAX);

			alias_list_free(items);
		}
		alias_entries_free(e, n);
	} else {
		free(err);
	}
	if (memchr(data, '\0', size) == NULL) {
		struct resolve_vars v = { .user = "user", .home = "/home/user", .extension = "ext",
					  .delimiter = "+", .local = "user+ext", .domain = "example.com",
					  .recipient = "user+ext@example.com" };

		free(resolve_template(text, &v));
	}
	free(text);
	return 0;
}
