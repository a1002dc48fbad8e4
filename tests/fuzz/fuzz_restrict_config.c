/*
 * fuzz_restrict_config.c - libFuzzer harness for the restriction-list
 * parser (smtp/restrict.c, restrict-parse.c): the input becomes the
 * value of smtpd_recipient_restrictions next to two restriction classes,
 * and restrictions_new() parses everything in check-only mode (no event
 * base). Inputs naming files ('/') are skipped so the harness never reads
 * the disk. Every error must be one line. Built by `make fuzz`; seeds in
 * tests/fuzz/corpus/fuzz_restrict_config/.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "smtp/restrict.h"
#include "util.h"

static void quiet(enum config_level level, const char *msg, void *ctx)
{
	(void)level;
	(void)msg;
	(void)ctx;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char head[] =
		"myhostname = mail.example.com\n"
		"smtpd_restriction_classes = strict, loose\n"
		"strict = reject_unknown_sender_domain, reject\n"
		"loose = permit\n"
		"smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination\n"
		"smtpd_recipient_restrictions = ";
	struct config *cfg;
	struct restrictions *r;
	char *text, *err = NULL;

	if (size > 4096 || memchr(data, '/', size) || memchr(data, '\0', size))
		return 0;
	text = must_malloc(sizeof(head) + size + 2);
	memcpy(text, head, sizeof(head) - 1);
	memcpy(text + sizeof(head) - 1, data, size);
	text[sizeof(head) - 1 + size] = '\n';
	text[sizeof(head) + size] = '\0';
	cfg = config_parse("fuzz.cf", text, strlen(text), quiet, NULL);
	free(text);
	if (cfg == NULL)
		return 0;
	r = restrictions_new(cfg, NULL, &err);
	if (r == NULL) {
		if (err == NULL || strchr(err, '\n'))
			abort();
		free(err);
	}
	restrictions_free(&r);
	config_free(&cfg);
	return 0;
}
