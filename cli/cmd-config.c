/*
 * cmd-config.c - `postern config`: show or edit the configuration, as
 * postconf(1) does for main.cf.
 *
 *   postern config                every parameter as written, else its default
 *   postern config -n             only what the file sets
 *   postern config -d             only defaults (reads no file)
 *   postern config -x ...         with $name expanded
 *   postern config NAME...        only these (LISTENER/NAME for a listener)
 *   postern config -e NAME=VALUE...   edit the file in place (config_edit)
 *   postern config --markdown     the parameter reference (docs/CONFIG.md)
 *
 * Parameters print sorted by name like postconf; then each listener in
 * file order with its listen line and its overrides. Called from
 * cli/postern.c through the command table.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "config-doc.h"
#include "config.h"
#include "log.h"
#include "params.h"
#include "util.h"

struct show_opts {
	bool only_set;  /* -n */
	bool defaults;  /* -d */
	bool expand;    /* -x */
};

static int cmp_def_name(const void *a, const void *b)
{
	return strcmp((*(const struct param_def *const *)a)->name,
		      (*(const struct param_def *const *)b)->name);
}

static void print_assignment(const char *name, const char *value)
{
	printf("%s =%s%s\n", name, *value ? " " : "", value);
}

/* The value of def as this invocation shows it, or NULL to skip it.
 * cfg is the loaded file, or with -d an empty configuration. */
static const char *shown_value(const struct config *cfg, const struct param_def *def,
			       const struct show_opts *o)
{
	const char *raw = o->defaults ? NULL : config_raw(cfg, def->name);

	if (o->only_set && raw == NULL)
		return NULL;
	if (o->expand)
		return config_str(cfg, def->name);
	if (raw)
		return raw;
	/* A computed default is a value, not a template: show what it is. */
	if (def->default_fn)
		return config_str(cfg, def->name);
	return param_default_text(def, NULL, NULL);
}

static void print_listen_line(const struct config_listener *l)
{
	bool v6 = strchr(l->address, ':') != NULL;

	printf("%s/listen = %s %s%s%s:%d", l->name, l->protocol, v6 ? "[" : "", l->address,
	       v6 ? "]" : "", l->port);
	if (l->tls != TLS_MODE_NONE)
		printf(" tls=%s", tls_mode_name(l->tls));
	printf("\n");
}

static void print_override(const struct config_listener *l, const char *param,
			   const struct show_opts *o)
{
	char name[300];
	const char *value = o->expand ? config_str(l->view, param) : config_raw(l->view, param);

	snprintf(name, sizeof(name), "%s/%s", l->name, param);
	print_assignment(name, value ? value : "");
}

static void show_all(const struct config *cfg, const struct show_opts *o)
{
	size_t n = param_count();
	const struct param_def **defs = must_calloc(n, sizeof(*defs));

	for (size_t i = 0; i < n; i++)
		defs[i] = param_at(i);
	qsort(defs, n, sizeof(*defs), cmp_def_name);
	for (size_t i = 0; i < n; i++) {
		const char *value = shown_value(cfg, defs[i], o);

		if (value)
			print_assignment(defs[i]->name, value);
	}
	free(defs);
	if (o->defaults)
		return;
	for (size_t i = 0; i < config_listener_count(cfg); i++) {
		const struct config_listener *l = config_listener_at(cfg, i);
		const char *const *over = config_overrides(cfg, l->name);

		print_listen_line(l);
		for (size_t k = 0; over[k]; k++)
			print_override(l, over[k], o);
	}
}

/* One NAME or LISTENER/NAME argument. Returns 0, or -1 if unknown. */
static int show_one(const struct config *cfg, const char *arg, const struct show_opts *o)
{
	const char *slash = strchr(arg, '/');
	const struct param_def *def = param_lookup(slash ? slash + 1 : arg);
	const struct config_listener *l = NULL;

	if (slash && !o->defaults) {
		char *lname = must_strndup(arg, (size_t)(slash - arg));

		l = config_listener_find(cfg, lname);
		free(lname);
		if (l && strcmp(slash + 1, "listen") == 0) {
			print_listen_line(l);
			return 0;
		}
	}
	if (def == NULL || (slash && l == NULL)) {
		log_warn("unknown parameter: %s", arg);
		return -1;
	}
	if (l) {
		const char *value = o->expand ? config_str(l->view, def->name)
					      : config_raw(l->view, def->name);

		if (value == NULL && !o->only_set)
			value = shown_value(l->view, def, o);
		if (value)
			print_assignment(arg, value);
		return 0;
	}
	{
		const char *value = shown_value(cfg, def, o);

		if (value)
			print_assignment(arg, value);
	}
	return 0;
}

static int edit_all(const char *conf, int argc, char **argv)
{
	int status = 0;

	if (argc == 0)
		return cli_usage_error("config");
	for (int i = 0; i < argc; i++) {
		const char *eq = strchr(argv[i], '=');
		char *name, *error = NULL;

		if (eq == NULL) {
			log_error("\"%s\": missing '='; write -e NAME=VALUE", argv[i]);
			status = 1;
			continue;
		}
		name = must_strndup(argv[i], (size_t)(eq - argv[i]));
		if (config_edit(conf, str_trim(name), eq + 1, &error) < 0) {
			log_error("%s", error);
			free(error);
			status = 1;
		}
		free(name);
	}
	return status;
}

int cmd_config(int argc, char **argv, const char *conf)
{
	struct show_opts o = { 0 };
	bool edit = false, markdown = false;
	struct config *cfg;
	int i, status = 0;

	for (i = 1; i < argc && argv[i][0] == '-' && argv[i][1]; i++) {
		if (strcmp(argv[i], "--") == 0) {
			i++;
			break;
		}
		if (strcmp(argv[i], "--markdown") == 0) {
			markdown = true;
			continue;
		}
		for (const char *p = argv[i] + 1; *p; p++) {
			switch (*p) {
			case 'n': o.only_set = true; break;
			case 'd': o.defaults = true; break;
			case 'x': o.expand = true; break;
			case 'e': edit = true; break;
			default: return cli_usage_error("config");
			}
		}
	}
	if (markdown) {
		if (edit || i < argc)
			return cli_usage_error("config");
		config_doc_markdown(stdout);
		return 0;
	}
	if (edit) {
		if (o.only_set || o.defaults || o.expand)
			return cli_usage_error("config");
		return edit_all(conf, argc - i, argv + i);
	}
	if (o.defaults && o.only_set)
		return cli_usage_error("config");
	/* -d reads no file: every value at its default, expanded against defaults. */
	cfg = o.defaults ? config_parse("(defaults)", "", 0, NULL, NULL)
			 : config_load(conf, NULL, NULL);
	if (cfg == NULL)
		return 1;
	if (i >= argc)
		show_all(cfg, &o);
	for (; i < argc; i++)
		if (show_one(cfg, argv[i], &o) < 0)
			status = 1;
	config_free(&cfg);
	if (fflush(stdout) != 0) {
		log_error("cannot write the output: standard output failed");
		return 1;
	}
	return status;
}
