/*
 * cmd-map.c - `postern map`, Postfix's postmap(1).
 *
 *   postern map [-f] [-N] FILE | lmdb:FILE     build FILE.lmdb from FILE
 *   postern map [-f] -q KEY TABLE              query a table of any type
 *
 * TABLE is TYPE:NAME or a plain FILE, which means lmdb:FILE (Postfix's
 * default_database_type). A query prints the value and exits 0, exits 1
 * without output when the key is not found, and 2 on errors, as postmap -q
 * does. Building a texthash:, cidr:, regexp: or pcre: table only checks
 * it: those are read directly and need no compiled form. -f keeps the case
 * of keys (building) and of the query (querying). -N is accepted for
 * postmap compatibility and changes nothing: keys are always stored with
 * their NUL, like postmap's default, and lookups try both forms.
 *
 * Called from cli/postern.c; the table code is lib/maps.c.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "log.h"
#include "maps.h"
#include "util.h"

/* A plain FILE means lmdb:FILE. Returns new memory. */
static char *table_spec(const char *arg)
{
	const char *colon = strchr(arg, ':');
	const char *slash = strchr(arg, '/');

	/* "./a:b" or "/x/y:z" is a path, not TYPE:NAME. */
	if (colon != NULL && (slash == NULL || colon < slash))
		return must_strdup(arg);
	return must_asprintf("lmdb:%s", arg);
}

static int map_query(const char *key, const char *arg, bool nofold)
{
	char *spec = table_spec(arg);
	const char *err, *value;
	struct map *m;
	enum map_status st;

	m = map_open(spec, nofold ? MAP_OPEN_NOFOLD : 0, &err);
	free(spec);
	if (m == NULL) {
		log_error("%s", err);
		return 2;
	}
	st = map_lookup(m, key, &value, &err);
	if (st == MAP_FOUND)
		printf("%s\n", value);
	else if (st == MAP_TEMPFAIL)
		log_error("%s", err);
	map_close(&m);
	if (fflush(stdout) != 0) {
		log_error("writing the result failed");
		return 2;
	}
	return st == MAP_FOUND ? 0 : st == MAP_NOTFOUND ? 1 : 2;
}

static int map_build(const char *arg, bool nofold)
{
	char *spec = table_spec(arg);
	const char *colon = strchr(spec, ':');
	char *err = NULL;
	int rc = 0;

	if (strncmp(spec, "lmdb:", 5) == 0) {
		if (map_build_lmdb(colon + 1, nofold ? MAP_BUILD_NOFOLD : 0, &err) < 0) {
			log_error("%s", err);
			free(err);
			rc = 1;
		}
	} else {
		/* Nothing to compile: open it to validate, like `postern check`. */
		const char *e;
		struct map *m = map_open(spec, 0, &e);

		if (m == NULL) {
			log_error("%s", e);
			rc = 1;
		}
		map_close(&m);
	}
	free(spec);
	return rc;
}

int cmd_map(int argc, char **argv, const char *conf)
{
	const char *query = NULL;
	bool nofold = false;
	int c;

	(void)conf;
	optind = 1;
	while ((c = getopt(argc, argv, "+fNq:")) != -1) {
		switch (c) {
		case 'f': nofold = true; break;
		case 'N': break;
		case 'q': query = optarg; break;
		default: return cli_usage_error(argv[0]);
		}
	}
	if (optind + 1 != argc)
		return cli_usage_error(argv[0]);
	if (query != NULL)
		return map_query(query, argv[optind], nofold);
	return map_build(argv[optind], nofold);
}
