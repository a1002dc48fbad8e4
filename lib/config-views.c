/*
 * config-views.c - the LISTENER/NAME assignments sorted into listeners,
 * their overrides and a view per listener. Called by config.c after the
 * global values are built (a view starts from them).
 *
 * Rules (Postern's form of master.cf services and their -o overrides,
 * master(5)): a listener exists when NAME/listen is set anywhere in the
 * file, the last such line wins; an override needs an existing listener
 * and a registered parameter without PARAM_F_GLOBAL; two listeners may
 * not take the same address and port, and "*" takes every address of its
 * port. At most CONFIG_MAX_LISTENERS listeners.
 */
#include <stdlib.h>
#include <string.h>

#include "config-private.h"

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
			config_report_unknown(r, cfg->path, a->line, a->name, param);
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
	for (size_t i = CONFIG_MAX_LISTENERS; i < nl; i++) {
		if (i == CONFIG_MAX_LISTENERS)
			config_reportf(r, CONFIG_ERROR, "%s:%d: %s/listen: more than %d listeners; "
				       "serve more addresses with one listener on *", cfg->path,
				       lbs[i].l.line, lbs[i].l.name, CONFIG_MAX_LISTENERS);
		lbs[i].valid = false;
	}
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

void config_listeners_build(struct config *cfg, struct config_reporter *r)
{
	struct lbuild *lbs = NULL;
	size_t nl = 0;

	config_setup_listeners(cfg, r, &lbs, &nl);
	cfg->listeners = must_calloc(nl ? nl : 1, sizeof(*cfg->listeners));
	cfg->overrides = must_calloc(nl ? nl : 1, sizeof(*cfg->overrides));
	for (size_t i = 0; i < nl; i++) {
		if (lbs[i].valid) {
			lbs[i].l.view = config_view_new(cfg, &lbs[i], r);
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
}

void config_listeners_free(struct config *cfg)
{
	for (size_t i = 0; i < cfg->nlisteners; i++) {
		config_view_free((struct config *)cfg->listeners[i].view);
		free((char *)cfg->listeners[i].name);
		free((char *)cfg->listeners[i].address);
		free(cfg->overrides[i].names);
	}
	x_free(&cfg->listeners);
	x_free(&cfg->overrides);
	cfg->nlisteners = 0;
}
