/*
 * fuzz_smtp_command.c - libFuzzer harness for the SMTP command-line
 * parser (smtp/smtp-params.c): the verb split, the MAIL FROM:/RCPT TO:
 * path split, the ESMTP parameters of both, and the path itself through
 * smtp_address_parse(). Input: one command line as a client sends it
 * (without CR LF). Corpus: tests/fuzz/corpus/smtp_command/.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtp/address.h"
#include "smtp/smtp-params.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *line = malloc(size + 1);
	size_t args, path_off, path_len, params_off;
	char buf[512];
	const char *reply;

	if (line == NULL)
		return 0;
	memcpy(line, data, size);
	line[size] = '\0';
	size_t verb = smtp_command_split(line, size, &args);
	if (verb > size || args > size)
		abort();
	const char *a = line + args;
	size_t alen = size - args;
	const char *keys[] = { "FROM:", "TO:" };
	for (int k = 0; k < 2; k++) {
		if (smtp_path_split(a, alen, keys[k], &path_off, &path_len, &params_off) < 0)
			continue;
		if (path_off + path_len > alen || params_off > alen)
			abort();
		struct smtp_address addr;
		unsigned flags = k == 0 ? SMTP_ADDR_ALLOW_NULL | SMTP_ADDR_SMTPUTF8 : SMTP_ADDR_RCPT;
		if (smtp_address_parse(a + path_off, path_len, flags, &addr, &reply) == 0) {
			char *t = smtp_address_text(&addr);
			free(t);
			smtp_address_free(&addr);
		} else if (reply == NULL || strlen(reply) < 4) {
			abort();
		}
		if (k == 0) {
			struct smtp_mail_params p;
			if (smtp_mail_params_parse(a + params_off, alen - params_off, 10240000, &p, buf,
						   sizeof(buf), &reply) == 0)
				smtp_mail_params_free(&p);
			else if (strlen(reply) < 4)
				abort();
		} else {
			unsigned notify;
			char *orcpt;
			if (smtp_rcpt_params_parse(a + params_off, alen - params_off, &notify, &orcpt, buf,
						   sizeof(buf), &reply) == 0)
				free(orcpt);
			else if (strlen(reply) < 4)
				abort();
		}
	}
	(void)smtp_xtext_valid(line, size);
	free(line);
	return 0;
}
