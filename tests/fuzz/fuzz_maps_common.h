/*
 * fuzz_maps_common.h - shared part of the lib/maps table-parser harnesses
 * (fuzz_maps_*.c): quiet logging, and a few lookups on a table that
 * parsed - fixed keys, the input's first line, and address lookups in both
 * orders - so that the matchers and $n substitution run on fuzzed rules.
 */
#ifndef FUZZ_MAPS_COMMON_H
#define FUZZ_MAPS_COMMON_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "maps-private.h"

static void fuzz_maps_quiet(void)
{
	static int done;

	if (!done) {
		log_init("fuzz", 0);
		done = 1;
	}
}

static void fuzz_maps_lookups(struct map *m, const uint8_t *data, size_t size)
{
	static const char *const keys[] = {
		"user@example.com", "Example.COM", "10.1.2.3", "2001:db8::1", "::", "",
		"a", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab",
	};
	const char *v, *err;
	char first[257];
	size_t n = 0;

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		(void)map_lookup(m, keys[i], &v, &err);
	while (n < size && n < sizeof(first) - 1 && data[n] != '\n' && data[n] != '\0') {
		first[n] = (char)data[n];
		n++;
	}
	first[n] = '\0';
	(void)map_lookup(m, first, &v, &err);
	(void)map_lookup_address(m, "User@Sub.Example.com", MAP_ADDR_ACCESS, &v, &err);
	(void)map_lookup_address(m, "user@sub.example.com",
				 MAP_ADDR_VIRTUAL | MAP_ADDR_LOCAL_DOMAIN, &v, &err);
}

#endif
