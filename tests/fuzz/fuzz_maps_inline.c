/*
 * fuzz_maps_inline.c - libFuzzer harness for the table specs written in a
 * parameter value: inline:{ ... } items and braces, static:{ ... }, and
 * the table-list splitter (map_list_open) over inline:/static: specs. The
 * input becomes the text after "inline:" (and after "static:"); a list is
 * tried only when the input names no file-based type, so no file is read.
 */
#include "fuzz_maps_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *err = NULL;
	struct map *m;
	struct map_list *ml;
	char *text, *spec;

	fuzz_maps_quiet();
	if (size > 65536)
		return 0;
	text = must_strndup((const char *)data, size);
	spec = must_asprintf("inline:%s", text);
	m = map_open(spec, 0, &err);
	if (m != NULL) {
		fuzz_maps_lookups(m, data, size);
		map_close(&m);
	}
	free(spec);
	spec = must_asprintf("static:%s", text);
	m = map_open(spec, 0, &err);
	if (m != NULL) {
		fuzz_maps_lookups(m, data, size);
		map_close(&m);
	}
	free(spec);
	if (strstr(text, "lmdb:") == NULL && strstr(text, "texthash:") == NULL &&
	    strstr(text, "cidr:") == NULL && strstr(text, "regexp:") == NULL &&
	    strstr(text, "pcre:") == NULL) {
		ml = map_list_open(text, 0, &err);
		if (ml != NULL) {
			const char *v;

			(void)map_list_lookup(ml, "key", &v, &err);
			(void)map_list_lookup_address(ml, "user@example.com", MAP_ADDR_VIRTUAL,
						      &v, &err);
			map_list_close(&ml);
		}
	}
	free(text);
	return 0;
}
