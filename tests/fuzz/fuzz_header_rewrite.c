/*
 * fuzz_header_rewrite.c - libFuzzer harness for resolve_rewrite_header
 * (smtp/resolve/header-rewrite.c and the address rewriting of
 * rewrite.c): arbitrary bytes as a header section, with masquerading and
 * canonical maps configured so that addresses really change.
 * Seed corpus: tests/fuzz/corpus/fuzz_header_rewrite/.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "smtp/resolve/resolve.h"

static const char conf[] = "myhostname = mail.example.com\n"
			   "mydomain = example.com\n"
			   "myorigin = example.com\n"
			   "append_dot_mydomain = yes\n"
			   "masquerade_domains = !keep.example.com, example.com\n"
			   "masquerade_exceptions = root\n"
			   "canonical_maps = inline:{ bob@example.com=robert@example.com, "
			   "@legacy.example=@example.com }\n";

static struct resolve *r;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *out = NULL, *err = NULL;
	size_t out_len = 0;
	int rc;

	if (r == NULL) {
		struct config *cfg;

		log_init("fuzz", 0);
		cfg = config_parse("fuzz.cf", conf, strlen(conf), NULL, NULL);
		if (cfg == NULL)
			abort();
		r = resolve_new(cfg, &err);
		if (r == NULL)
			abort();
		config_free(&cfg);
	}
	rc = resolve_rewrite_header(r, (const char *)data, size, &out, &out_len, &err);
	if (rc == 1 && (out == NULL || strlen(out) > out_len))
		abort();
	free(out);
	if (rc < 0)
		free(err);
	return 0;
}
