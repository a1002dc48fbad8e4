/*
 * config.c - the configuration object: load/parse, the assignments sorted
 * into global values (listeners: config-views.c), the typed getters and
 * the listener accessors. Public contract: config.h. Every
 * role, the master and the postern tool call config_load() and the
 * getters.
 *
 * Postfix behaviour kept (postconf(5)): the last assignment of a name
 * wins, an unknown name is only a warning. Listeners and their overrides
 * are Postern's form of master.cf services and their -o options
 * (master(5)); an override may not touch a parameter that only makes sense
 * once per instance (PARAM_F_GLOBAL).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config-private.h"
#include "log.h"

/* ---- name -> registry index ---- */

static int *param_sorted; /* registry indexes sorted by name */
static size_t param_sorted_n;

static int cmp_param_idx(const void *a, const void *b)
{
	return strcmp(param_at((size_t) * (const int *)a)->name, param_at((size_t) * (const int *)b)->name);
}

int config_param_index(const char *name)
{
	size_t lo = 0, hi;

	if (param_sorted == NULL) {
		param_sorted_n = param_count();
		param_sorted = must_calloc(param_sorted_n, sizeof(*param_sorted));
		for (size_t i = 0; i < param_sorted_n; i++)
			param_sorted[i] = (int)i;
		qsort(param_sorted, param_sorted_n, sizeof(*param_sorted), cmp_param_idx);
	}
	hi = param_sorted_n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(name, param_at((size_t)param_sorted[mid])->name);

		if (c == 0)
			return param_sorted[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return -1;
}

/* ---- loading ---- */

/* Report where the file went over CONFIG_MAX_FILE, as FILE:LINE. */
static void report_oversize(struct config_reporter *r, const char *name, const char *text)
{
	int line = 1;

	for (size_t i = 0; i < CONFIG_MAX_FILE; i++)
		if (text[i] == '\n')
			line++;
	config_reportf(r, CONFIG_ERROR,
		       "%s:%d: file is larger than %d bytes; move tables into lookup tables "
		       "(postern map) and keep this file short", name, line, CONFIG_MAX_FILE);
}

/* Is name listed in the last smtpd_restriction_classes assignment? Those
 * names are parameters the user defines (postconf(5)), not unknown ones. */
static bool is_restriction_class(const struct config *cfg, const char *name)
{
	const char *list = NULL;
	size_t n = strlen(name);

	for (size_t i = 0; i < cfg->nassigns; i++)
		if (strcmp(cfg->assigns[i].name, "smtpd_restriction_classes") == 0)
			list = cfg->assigns[i].value;
	for (const char *p = list; p && *p;) {
		size_t k;

		p += strspn(p, ", \t\r\n");
		k = strcspn(p, ", \t\r\n");
		if (k == n && strncmp(p, name, n) == 0)
			return true;
		p += k;
	}
	return false;
}

const char *config_unregistered(const struct config *cfg, const char *name,
				const char **file_r, int *line_r)
{
	const struct config *g = cfg->global ? cfg->global : cfg;
	const struct config_assign *plain = NULL, *mine = NULL;
	size_t plen = cfg->listener ? strlen(cfg->listener) : 0;

	for (size_t i = 0; i < g->nassigns; i++) {
		const struct config_assign *a = &g->assigns[i];

		if (strcmp(a->name, name) == 0)
			plain = a;
		else if (plen > 0 && strncmp(a->name, cfg->listener, plen) == 0 &&
			 a->name[plen] == '/' && strcmp(a->name + plen + 1, name) == 0)
			mine = a;
	}
	/* A listener's own override beats the global assignment. */
	if (mine != NULL)
		plain = mine;
	if (plain == NULL)
		return NULL;
	*file_r = g->path;
	*line_r = plain->line;
	return plain->value;
}

struct config *config_parse(const char *name, const char *text, size_t len,
			    config_report_fn *report, void *ctx)
{
	struct config_reporter r = { .fn = report, .ctx = ctx };
	struct config *cfg;
	size_t nparams = param_count();

	if (len > CONFIG_MAX_FILE) {
		report_oversize(&r, name, text);
		return NULL;
	}
	cfg = must_calloc(1, sizeof(*cfg));
	cfg->path = must_strdup(name);
	cfg->text = must_malloc(len + 1);
	memcpy(cfg->text, text, len);
	cfg->text[len] = '\0';
	cfg->text_len = len;
	cfg->values = must_calloc(nparams, sizeof(*cfg->values));
	cfg->nassigns = config_lex(cfg->path, text, len, &r, &cfg->assigns);
	for (size_t i = 0; i < cfg->nassigns; i++) {
		const struct config_assign *a = &cfg->assigns[i];
		int idx;

		if (strchr(a->name, '/'))
			continue;
		idx = config_param_index(a->name);
		if (idx < 0 && is_restriction_class(cfg, a->name))
			continue;
		if (idx < 0) {
			config_report_unknown(&r, cfg->path, a->line, a->name, a->name);
			continue;
		}
		cfg->values[idx].raw = a->value;
		cfg->values[idx].file = cfg->path;
		cfg->values[idx].line = a->line;
	}
	config_build(cfg, &r);
	config_listeners_build(cfg, &r);
	if (r.errors > 0) {
		config_free(&cfg);
		return NULL;
	}
	return cfg;
}

/* The first max bytes of a regular file (more is not read: the caller
 * only needs to see that there is more). New memory, NUL-terminated. */
static char *read_head(const char *path, size_t max, size_t *len_r, const char **error_r)
{
	struct strbuf sb;
	struct stat st;
	char chunk[8192];
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

	if (fd < 0) {
		*error_r = strerror(errno);
		return NULL;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		*error_r = "not a regular file";
		close(fd);
		return NULL;
	}
	strbuf_init(&sb, max);
	while (sb.len < max) {
		size_t want = max - sb.len < sizeof(chunk) ? max - sb.len : sizeof(chunk);
		ssize_t n = read(fd, chunk, want);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || strbuf_append(&sb, chunk, (size_t)(n < 0 ? 0 : n)) < 0) {
			*error_r = n < 0 ? strerror(errno) : "out of memory";
			strbuf_free(&sb);
			close(fd);
			return NULL;
		}
		if (n == 0)
			break;
	}
	close(fd);
	*len_r = sb.len;
	return strbuf_steal(&sb);
}

struct config *config_load(const char *path, config_report_fn *report, void *ctx)
{
	struct config_reporter r = { .fn = report, .ctx = ctx };
	const char *error = NULL;
	struct config *cfg;
	size_t len = 0;
	/* One byte over the limit, so that config_parse() sees the excess. */
	char *text = read_head(path, CONFIG_MAX_FILE + 1, &len, &error);

	if (text == NULL) {
		config_reportf(&r, CONFIG_ERROR,
			       "%s: cannot read configuration: %s; create it with postern init "
			       "DIR or point -c / POSTERN_CONF at it", path, error);
		return NULL;
	}
	cfg = config_parse(path, text, len, report, ctx);
	free(text);
	return cfg;
}

void config_free(struct config **cfgp)
{
	struct config *cfg = *cfgp;
	size_t nparams = param_count();

	if (cfg == NULL)
		return;
	if (cfg->global)
		log_panic("config_free: called on the view of listener %s", cfg->listener);
	config_listeners_free(cfg);
	for (size_t i = 0; i < nparams; i++)
		config_value_free(&cfg->values[i]);
	free(cfg->values);
	config_assigns_free(cfg->assigns, cfg->nassigns);
	free(cfg->text);
	free(cfg->path);
	free(cfg);
	*cfgp = NULL;
}

const char *config_path(const struct config *cfg)
{
	return cfg->path;
}

/* ---- getters ---- */

static const struct config_value *config_get(const struct config *cfg, const char *name,
					     const char *getter, int type1, int type2)
{
	int idx = config_param_index(name);
	const struct param_def *def;

	if (idx < 0)
		log_panic("%s: unknown parameter \"%s\"", getter, name);
	def = param_at((size_t)idx);
	if (type1 >= 0 && (int)def->type != type1 && (int)def->type != type2)
		log_panic("%s: parameter %s is of type %s", getter, name, param_type_name(def->type));
	if (cfg->values[idx].state != CV_DONE)
		log_panic("%s: parameter %s has no valid value", getter, name);
	return &cfg->values[idx];
}

const char *config_str(const struct config *cfg, const char *name)
{
	return config_get(cfg, name, "config_str", -1, -1)->text;
}

bool config_bool(const struct config *cfg, const char *name)
{
	return config_get(cfg, name, "config_bool", PARAM_BOOL, PARAM_BOOL)->b;
}

long long config_int(const struct config *cfg, const char *name)
{
	return config_get(cfg, name, "config_int", PARAM_INT, PARAM_INT)->num;
}

long long config_time(const struct config *cfg, const char *name)
{
	return config_get(cfg, name, "config_time", PARAM_TIME, PARAM_TIME)->num;
}

long long config_size(const struct config *cfg, const char *name)
{
	return config_get(cfg, name, "config_size", PARAM_SIZE, PARAM_SIZE)->num;
}

const char *const *config_list(const struct config *cfg, const char *name, size_t *count_r)
{
	const struct config_value *v = config_get(cfg, name, "config_list", PARAM_LIST, PARAM_MAPS);

	if (count_r)
		*count_r = v->nitems;
	return (const char *const *)v->items;
}

const char *config_raw(const struct config *cfg, const char *name)
{
	int idx = config_param_index(name);

	if (idx < 0)
		log_panic("config_raw: unknown parameter \"%s\"", name);
	return cfg->values[idx].raw;
}

int config_where(const struct config *cfg, const char *name, const char **file_r)
{
	int idx = config_param_index(name);

	if (idx < 0)
		log_panic("config_where: unknown parameter \"%s\"", name);
	if (file_r)
		*file_r = cfg->values[idx].raw ? cfg->values[idx].file : cfg->path;
	return cfg->values[idx].raw ? cfg->values[idx].line : 0;
}

/* ---- listeners ---- */

static const struct config *config_root(const struct config *cfg)
{
	return cfg->global ? cfg->global : cfg;
}

size_t config_listener_count(const struct config *cfg)
{
	return config_root(cfg)->nlisteners;
}

const struct config_listener *config_listener_at(const struct config *cfg, size_t i)
{
	cfg = config_root(cfg);
	return i < cfg->nlisteners ? &cfg->listeners[i] : NULL;
}

const struct config_listener *config_listener_find(const struct config *cfg, const char *name)
{
	cfg = config_root(cfg);
	for (size_t i = 0; i < cfg->nlisteners; i++)
		if (strcmp(cfg->listeners[i].name, name) == 0)
			return &cfg->listeners[i];
	return NULL;
}

const char *const *config_overrides(const struct config *cfg, const char *listener)
{
	static const char *const none[] = { NULL };

	cfg = config_root(cfg);
	for (size_t i = 0; i < cfg->nlisteners; i++)
		if (strcmp(cfg->listeners[i].name, listener) == 0)
			return (const char *const *)cfg->overrides[i].names;
	return none;
}

const char *config_text(const struct config *cfg, size_t *len_r)
{
	const struct config *g = cfg->global ? cfg->global : cfg;

	*len_r = g->text_len;
	return g->text;
}
