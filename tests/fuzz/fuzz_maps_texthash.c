/*
 * fuzz_maps_texthash.c - libFuzzer harness for texthash: source files (postmap layout: key/value split, continuation lines, comments, duplicate keys).
 * Parses the input from memory (no file I/O), does a few lookups when it
 * parsed, and closes the table. Seeds: tests/fuzz/corpus/fuzz_maps_texthash/.
 */
#include "fuzz_maps_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *err = NULL;
	struct map *m;

	fuzz_maps_quiet();
	m = maps_texthash_open_mem("fuzz", (const char *)data, size, 0, &err);
	if (m != NULL) {
		fuzz_maps_lookups(m, data, size);
		map_close(&m);
	}
	return 0;
}
