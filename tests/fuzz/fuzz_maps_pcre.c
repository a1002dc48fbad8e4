/*
 * fuzz_maps_pcre.c - libFuzzer harness for pcre: tables (the same layout with PCRE2 and its match limits).
 * Parses the input from memory (no file I/O), does a few lookups when it
 * parsed, and closes the table. Seeds: tests/fuzz/corpus/fuzz_maps_pcre/.
 */
#include "fuzz_maps_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *err = NULL;
	struct map *m;

	fuzz_maps_quiet();
	m = maps_pcre_open_mem("fuzz", (const char *)data, size, &err);
	if (m != NULL) {
		fuzz_maps_lookups(m, data, size);
		map_close(&m);
	}
	return 0;
}
