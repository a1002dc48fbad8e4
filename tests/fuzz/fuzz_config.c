/*
 * fuzz_config.c - libFuzzer harness for the configuration loader: the
 * input is a whole configuration file given to config_parse(); when it
 * loads, every getter runs over every registered parameter in the global
 * configuration and in each listener view, and the input is also used as
 * an expansion template. Built by `make fuzz`; seeds in
 * tests/fuzz/corpus/config/.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "params.h"

static void quiet(enum config_level level, const char *msg, void *ctx)
{
	size_t *count = ctx;

	(void)level;
	/* Every message is one line: a newline would break the log format. */
	if (strchr(msg, '\n'))
		abort();
	(*count)++;
}

static void read_all(const struct config *cfg)
{
	for (size_t i = 0; i < param_count(); i++) {
		const struct param_def *d = param_at(i);
		const char *file = NULL;
		size_t n = 0;

		(void)strlen(config_str(cfg, d->name));
		(void)config_raw(cfg, d->name);
		(void)config_where(cfg, d->name, &file);
		switch (d->type) {
		case PARAM_BOOL: (void)config_bool(cfg, d->name); break;
		case PARAM_INT: (void)config_int(cfg, d->name); break;
		case PARAM_TIME: (void)config_time(cfg, d->name); break;
		case PARAM_SIZE: (void)config_size(cfg, d->name); break;
		case PARAM_LIST:
		case PARAM_MAPS: {
			const char *const *items = config_list(cfg, d->name, &n);

			for (size_t k = 0; k < n; k++)
				(void)strlen(items[k]);
			if (items[n] != NULL)
				abort();
			break;
		}
		default: break;
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t messages = 0;
	struct config *cfg = config_parse("fuzz.cf", (const char *)data, size, quiet, &messages);
	const char *why = NULL;
	char *text, *expanded;

	if (cfg == NULL)
		return 0;
	read_all(cfg);
	for (size_t i = 0; i < config_listener_count(cfg); i++) {
		const struct config_listener *l = config_listener_at(cfg, i);
		const char *const *over = config_overrides(cfg, l->name);

		if (config_listener_find(cfg, l->name) != l || l->port < 1 || l->port > 65535)
			abort();
		read_all(l->view);
		for (size_t k = 0; over[k]; k++)
			(void)config_raw(l->view, over[k]);
	}
	text = malloc(size + 1);
	if (text) {
		memcpy(text, data, size);
		text[size] = '\0';
		expanded = config_expand(cfg, text, &why);
		free(expanded);
		free(text);
	}
	config_free(&cfg);
	return 0;
}
