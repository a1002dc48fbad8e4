/*
 * config.c - the configuration object: load/parse, the assignments sorted
 * into global values, listeners and per-listener overrides, the typed
 * getters and the listener accessors. Public contract: config.h. Every
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

/* ---- building ---- */

static void report_unknown(struct config_reporter *r, const char *file, int line,
			   const char *shown, const char *param)
{
	const char *near = param_nearest(param);

	if (near)
		config_reportf(r, CONFIG_WARNING, "%s:%d: %s: unknown parameter; did you mean \"%s\"?",
			       file, line, shown, near);
	else
		config_reportf(r, CONFIG_WARNING,
			       "%s:%d: %s: unknown parameter; see postern config -d for the list",
			       file, line, shown);
}

/* One LISTENER/NAME assignment, for grouping by listener. */
struct lref {
	const char *name; /* the assignment's name, "LISTENER/..." */
	size_t name_len;  /* length of LISTENER */
	size_t ai;        /* assignment index: file order */
};

static int cmp_lref(const void *a, const void *b)
{
	const struct lref *x = a, *y = b;
	size_t n = x->name_len < y->name_len ? x->name_len : y->name_len;
	int c = memcmp(x->name, y->name, n);

	if (c)
		return c;
	if (x->name_len != y->name_len)
		return x->name_len < y->name_len ? -1 : 1;
	return x->ai < y->ai ? -1 : x->ai > y->ai;
}

static int cmp_override_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Listener under construction: its listen line, validity, overrides. */
struct lbuild {
	struct config_listener l;
	bool valid;
	struct config_override_set set;
	size_t *over_ai; /* per registry index: assignment + 1, 0 = none */
};

/* The overrides of one listener group [first, last) of refs. */
static void collect_overrides(struct config *cfg, struct config_reporter *r, struct lref *refs,
			      size_t first, size_t last, struct lbuild *lb)
{
	size_t nparams = param_count();

	for (size_t k = first; k < last; k++) {
		const struct config_assign *a = &cfg->assigns[refs[k].ai];
		const char *param = a->name + refs[k].name_len + 1;
		const struct param_def *def;
		int idx;

		if (strcmp(param, "listen") == 0)
			continue;
		if (lb == NULL) {
			config_reportf(r, CONFIG_ERROR, "%s:%d: %s: no listener \"%.*s\"; define %.*s/listen first",
				       cfg->path, a->line, a->name, (int)refs[k].name_len, a->name,
				       (int)refs[k].name_len, a->name);
			continue;
		}
		idx = config_param_index(param);
		if (idx < 0) {
			report_unknown(r, cfg->path, a->line, a->name, param);
			continue;
		}
		def = param_at((size_t)idx);
		if (def->flags & PARAM_F_GLOBAL) {
			config_reportf(r, CONFIG_ERROR, "%s:%d: %s: cannot be set per listener; set it globally",
				       cfg->path, a->line, a->name);
			continue;
		}
		if (lb->over_ai == NULL)
			lb->over_ai = must_calloc(nparams, sizeof(*lb->over_ai));
		lb->over_ai[idx] = refs[k].ai + 1;
	}
	if (lb == NULL)
		return;
	lb->set.names = must_calloc(nparams + 1, sizeof(*lb->set.names));
	for (size_t i = 0; lb->over_ai && i < nparams; i++)
		if (lb->over_ai[i])
			lb->set.names[lb->set.count++] = (char *)param_at(i)->name;
	qsort(lb->set.names, lb->set.count, sizeof(*lb->set.names), cmp_override_name);
}

static int cmp_lbuild_line(const void *a, const void *b)
{
	const struct lbuild *x = a, *y = b;

	return (x->l.line > y->l.line) - (x->l.line < y->l.line);
}

static int cmp_lbuild_endpoint(const void *a, const void *b)
{
	const struct lbuild *x = *(struct lbuild *const *)a, *y = *(struct lbuild *const *)b;
	int c;

	if (x->l.port != y->l.port)
		return x->l.port < y->l.port ? -1 : 1;
	c = strcmp(x->l.address, y->l.address);
	if (c)
		return c;
	return (x->l.line > y->l.line) - (x->l.line < y->l.line);
}

static void report_clash(struct config *cfg, struct config_reporter *r, const struct lbuild *l,
			 const struct lbuild *first)
{
	const char *open = strchr(l->l.address, ':') ? "[" : "", *close = *open ? "]" : "";

	config_reportf(r, CONFIG_ERROR,
		       "%s:%d: %s/listen: %s%s%s:%d is already used by listener %s (line %d); "
		       "use another address or port", cfg->path, l->l.line, l->l.name, open,
		       l->l.address, close, l->l.port, first->l.name, first->l.line);
}

/* Two listeners may not share an address and port, and "*" takes every
 * address of its port (the master could not bind the second one). */
static void check_clashes(struct config *cfg, struct config_reporter *r, struct lbuild *lbs, size_t n)
{
	struct lbuild **v = must_calloc(n, sizeof(*v));
	size_t m = 0;

	for (size_t i = 0; i < n; i++)
		if (lbs[i].valid)
			v[m++] = &lbs[i];
	qsort(v, m, sizeof(*v), cmp_lbuild_endpoint);
	for (size_t g = 0; g < m;) {
		size_t end = g;
		struct lbuild *earliest = NULL, *star = NULL;

		while (end < m && v[end]->l.port == v[g]->l.port)
			end++;
		for (size_t i = g; i < end; i++) {
			if (earliest == NULL || v[i]->l.line < earliest->l.line)
				earliest = v[i];
			if (strcmp(v[i]->l.address, "*") == 0 && (star == NULL || v[i]->l.line < star->l.line))
				star = v[i];
		}
		for (size_t i = g; i < end; i++) {
			struct lbuild *l = v[i];

			if (l == earliest)
				continue;
			if (star && star->l.line < l->l.line)
				report_clash(cfg, r, l, star);
			else if (l == star)
				report_clash(cfg, r, l, earliest);
			else if (i > g && strcmp(v[i - 1]->l.address, l->l.address) == 0)
				report_clash(cfg, r, l, v[i - 1]);
		}
		g = end;
	}
	free(v);
}

/* Sort the LISTENER/... assignments into listeners with their overrides. */
static void config_setup_listeners(struct config *cfg, struct config_reporter *r,
				   struct lbuild **lbs_r, size_t *count_r)
{
	struct lref *refs = must_calloc(cfg->nassigns, sizeof(*refs));
	struct lbuild *lbs;
	size_t nrefs = 0, nl = 0;

	for (size_t i = 0; i < cfg->nassigns; i++) {
		const char *slash = strchr(cfg->assigns[i].name, '/');

		if (slash) {
			refs[nrefs].name = cfg->assigns[i].name;
			refs[nrefs].name_len = (size_t)(slash - cfg->assigns[i].name);
			refs[nrefs].ai = i;
			nrefs++;
		}
	}
	qsort(refs, nrefs, sizeof(*refs), cmp_lref);
	lbs = must_calloc(nrefs ? nrefs : 1, sizeof(*lbs));
	for (size_t g = 0; g < nrefs;) {
		size_t end = g;
		const struct config_assign *listen = NULL;
		struct lbuild *lb = NULL;

		while (end < nrefs && refs[end].name_len == refs[g].name_len &&
		       memcmp(refs[end].name, refs[g].name, refs[g].name_len) == 0)
			end++;
		for (size_t k = g; k < end; k++)
			if (strcmp(refs[k].name + refs[k].name_len, "/listen") == 0)
				listen = &cfg->assigns[refs[k].ai];
		if (listen) {
			char *msg = NULL;

			lb = &lbs[nl++];
			lb->l.name = must_strndup(listen->name, refs[g].name_len);
			lb->l.file = cfg->path;
			lb->l.line = listen->line;
			if (config_listen_parse(listen->value, &lb->l, &msg) < 0) {
				config_reportf(r, CONFIG_ERROR, "%s:%d: %s: %s", cfg->path, listen->line,
					       listen->name, msg);
				free(msg);
			} else {
				lb->valid = true;
			}
		}
		collect_overrides(cfg, r, refs, g, end, lb);
		g = end;
	}
	free(refs);
	qsort(lbs, nl, sizeof(*lbs), cmp_lbuild_line);
	check_clashes(cfg, r, lbs, nl);
	*lbs_r = lbs;
	*count_r = nl;
}

/* A listener view: the global values with this listener's overrides. */
static struct config *config_view_new(struct config *cfg, struct lbuild *lb, struct config_reporter *r)
{
	struct config *view = must_calloc(1, sizeof(*view));
	size_t nparams = param_count();

	view->path = cfg->path;
	view->global = cfg;
	view->listener = lb->l.name;
	view->values = must_calloc(nparams, sizeof(*view->values));
	for (size_t i = 0; i < nparams; i++) {
		struct config_value *v = &view->values[i];
		const struct config_value *g = &cfg->values[i];

		if (lb->over_ai && lb->over_ai[i]) {
			const struct config_assign *a = &cfg->assigns[lb->over_ai[i] - 1];

			v->raw = a->value;
			v->file = cfg->path;
			v->line = a->line;
			v->overridden = true;
		} else {
			v->raw = g->raw;
			v->file = g->file;
			v->line = g->line;
		}
	}
	config_build(view, r);
	return view;
}

static void config_view_free(struct config *view)
{
	size_t nparams = param_count();

	if (view == NULL)
		return;
	for (size_t i = 0; i < nparams; i++)
		config_value_free(&view->values[i]);
	free(view->values);
	free(view);
}

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

struct config *config_parse(const char *name, const char *text, size_t len,
			    config_report_fn *report, void *ctx)
{
	struct config_reporter r = { .fn = report, .ctx = ctx };
	struct config *cfg;
	struct lbuild *lbs = NULL;
	size_t nl = 0, nparams = param_count();

	if (len > CONFIG_MAX_FILE) {
		report_oversize(&r, name, text);
		return NULL;
	}
	cfg = must_calloc(1, sizeof(*cfg));
	cfg->path = must_strdup(name);
	cfg->values = must_calloc(nparams, sizeof(*cfg->values));
	cfg->nassigns = config_lex(cfg->path, text, len, &r, &cfg->assigns);
	for (size_t i = 0; i < cfg->nassigns; i++) {
		const struct config_assign *a = &cfg->assigns[i];
		int idx;

		if (strchr(a->name, '/'))
			continue;
		idx = config_param_index(a->name);
		if (idx < 0) {
			report_unknown(&r, cfg->path, a->line, a->name, a->name);
			continue;
		}
		cfg->values[idx].raw = a->value;
		cfg->values[idx].file = cfg->path;
		cfg->values[idx].line = a->line;
	}
	config_setup_listeners(cfg, &r, &lbs, &nl);
	config_build(cfg, &r);

	cfg->listeners = must_calloc(nl ? nl : 1, sizeof(*cfg->listeners));
	cfg->overrides = must_calloc(nl ? nl : 1, sizeof(*cfg->overrides));
	for (size_t i = 0; i < nl; i++) {
		if (lbs[i].valid) {
			lbs[i].l.view = config_view_new(cfg, &lbs[i], &r);
			cfg->listeners[cfg->nlisteners] = lbs[i].l;
			cfg->overrides[cfg->nlisteners] = lbs[i].set;
			cfg->nlisteners++;
		} else {
			free((char *)lbs[i].l.name);
			free((char *)lbs[i].l.address);
			free(lbs[i].set.names);
		}
		free(lbs[i].over_ai);
	}
	free(lbs);
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
	for (size_t i = 0; i < cfg->nlisteners; i++) {
		config_view_free((struct config *)cfg->listeners[i].view);
		free((char *)cfg->listeners[i].name);
		free((char *)cfg->listeners[i].address);
		free(cfg->overrides[i].names);
	}
	free(cfg->listeners);
	free(cfg->overrides);
	for (size_t i = 0; i < nparams; i++)
		config_value_free(&cfg->values[i]);
	free(cfg->values);
	config_assigns_free(cfg->assigns, cfg->nassigns);
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
