/*
 * fuzz_maps_cidr.c - libFuzzer harness for cidr: tables (IPv4/IPv6 networks, prefix lengths, host bits, negation).
 * Parses the input from memory (no file I/O), does a few lookups when it
 * parsed, and closes the table. Seeds: tests/fuzz/corpus/fuzz_maps_cidr/.
 */
#include "fuzz_maps_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *err = NULL;
	struct map *m;

	fuzz_maps_quiet();
	m = maps_cidr_open_mem("fuzz", (const char *)data, size, &err);
	if (m != NULL) {
		fuzz_maps_lookups(m, data, size);
		map_close(&m);
	}
	return 0;
}
