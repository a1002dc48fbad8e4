/*
 * config-build.c - compute the effective value of every registered
 * parameter, for the global configuration and for each listener view, and
 * check it against its type. Called by config.c once the assignments are
 * known; the getters then only read what was computed here.
 *
 * Each parameter is expanded once per configuration (memoised), reading
 * other parameters through the same memo; a parameter that is being
 * computed and is reached again is an expansion loop. Computed defaults
 * (param_def.default_fn, e.g. mydomain from the effective myhostname) read
 * other parameters through the same path, so they follow the file too.
 *
 * In a listener view, only values that depend on one of its overrides can
 * differ from the global ones. Problems found while computing a view value
 * are held back until that is known: a value that does not depend on an
 * override shares the global result, and its problems, already reported
 * for the global configuration, are dropped instead of repeated per view.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config-private.h"
#include "log.h"

struct build {
	struct config *cfg;
	struct config_reporter *r;
	bool view;
	int stack[CONFIG_MAX_EXPAND_DEPTH + 64]; /* parameters being computed */
	int sp;
};

/* The parameter being computed. */
struct frame {
	struct build *b;
	int idx;
	int depth;
	bool dep;               /* view: depends on an override */
	bool failed;            /* a parameter it reads failed (already reported) */
	const char *cause_file; /* first assignment it read from */
	int cause_line;
};

static int compute(struct build *b, int idx, int depth);

/* "mydomain" for the global configuration, "submission/mydomain" in a view. */
static const char *shown_name(struct build *b, int idx, char *buf, size_t size)
{
	if (b->view)
		snprintf(buf, size, "%s/%s", b->cfg->listener, param_at((size_t)idx)->name);
	else
		snprintf(buf, size, "%s", param_at((size_t)idx)->name);
	return buf;
}

/* Where a problem of value idx is reported: the assignment itself, or for
 * a value that is not set here, the assignment that made it what it is. */
static void value_loc(struct build *b, int idx, const struct frame *f, const char **file_r,
		      int *line_r)
{
	const struct config_value *v = &b->cfg->values[idx];

	if (v->raw && (!b->view || v->overridden)) {
		*file_r = v->file;
		*line_r = v->line;
	} else if (f && f->cause_file) {
		*file_r = f->cause_file;
		*line_r = f->cause_line;
	} else if (v->raw) {
		*file_r = v->file;
		*line_r = v->line;
	} else {
		*file_r = b->cfg->path;
		*line_r = 0;
	}
}

static void report_at(struct build *b, enum config_level level, const char *file, int line,
		      int idx, const char *problem)
{
	char name[300];

	shown_name(b, idx, name, sizeof(name));
	if (line > 0)
		config_reportf(b->r, level, "%s:%d: %s: %s", file, line, name, problem);
	else
		config_reportf(b->r, level, "%s: %s: %s", file, name, problem);
}

/* x was reached while it is being computed: report the cycle once, at the
 * member written first in the file (in a view: the first override; a
 * cycle without override is the global one, reported there already). */
static void report_loop(struct build *b, int x)
{
	struct config *cfg = b->cfg;
	struct strbuf chain;
	int pos = b->sp - 1, best = -1, n, idx, line;
	const char *file;
	char msg[400];

	while (pos > 0 && b->stack[pos] != x)
		pos--;
	n = b->sp - pos;
	for (int i = 0; i < n; i++) {
		const struct config_value *v = &cfg->values[b->stack[pos + i]];

		if (v->raw == NULL || (b->view && !v->overridden))
			continue;
		if (best < 0 || v->line < cfg->values[b->stack[pos + best]].line)
			best = i;
	}
	if (best < 0 && b->view)
		return;
	if (best < 0)
		best = 0;
	strbuf_init(&chain, 300);
	for (int i = 0; i <= n; i++)
		(void)strbuf_printf(&chain, "%s$%s", i ? " -> " : "",
				    param_at((size_t)b->stack[pos + (best + i) % n])->name);
	snprintf(msg, sizeof(msg), "expansion loop %s; remove one of the references",
		 chain.data ? chain.data : "");
	strbuf_free(&chain);
	idx = b->stack[pos + best];
	value_loc(b, idx, NULL, &file, &line);
	report_at(b, CONFIG_ERROR, file, line, idx, msg);
}

static int frame_lookup(void *ctx, const char *name, int depth, const char **value_r)
{
	struct frame *f = ctx;
	struct build *b = f->b;
	int x = config_param_index(name);
	struct config_value *xv;

	if (x < 0)
		return 0;
	xv = &b->cfg->values[x];
	if (xv->state == CV_BUSY) {
		report_loop(b, x);
		f->failed = true;
		f->dep = true;
		return -1;
	}
	if (compute(b, x, depth) < 0) {
		f->failed = true;
		f->dep = true;
		return -1;
	}
	if (b->view ? xv->dep_override : true) {
		if (xv->dep_override)
			f->dep = true;
		if (f->cause_file == NULL && xv->cause_file) {
			f->cause_file = xv->cause_file;
			f->cause_line = xv->cause_line;
		}
	}
	*value_r = xv->text ? xv->text : "";
	return 1;
}

static void frame_unknown(void *ctx, const char *name)
{
	struct frame *f = ctx;
	struct build *b = f->b;
	const struct config_value *v = &b->cfg->values[f->idx];
	char problem[400];

	snprintf(problem, sizeof(problem), "unknown parameter $%s in value; expands to empty", name);
	report_at(b, CONFIG_WARNING, v->raw ? v->file : b->cfg->path, v->raw ? v->line : 0, f->idx,
		  problem);
}

/* For computed defaults: the effective value of another parameter. */
static const char *frame_getter(void *ctx, const char *name)
{
	struct frame *f = ctx;
	const char *value = "";

	if (frame_lookup(f, name, f->depth + 1, &value) <= 0)
		return "";
	return value;
}

static const struct config_expand_ops frame_ops = { frame_lookup, frame_unknown };

/* View value that does not depend on an override: the global result. */
static int share_global(struct config_value *v, const struct config_value *g)
{
	v->text = g->text;
	v->items = g->items;
	v->nitems = g->nitems;
	v->b = g->b;
	v->num = g->num;
	v->cause_file = g->cause_file;
	v->cause_line = g->cause_line;
	v->shared = true;
	v->dep_override = false;
	v->state = g->state;
	return g->state == CV_DONE ? 0 : -1;
}

static int compute(struct build *b, int idx, int depth)
{
	struct config *cfg = b->cfg;
	struct config_value *v = &cfg->values[idx];
	const struct param_def *def = param_at((size_t)idx);
	struct frame f = { .b = b, .idx = idx, .depth = depth };
	struct config_msgs pending = { 0 }, *saved = b->r->pending;
	struct strbuf out;
	const char *why = NULL, *file;
	char *msg = NULL;
	int line, r = 0;

	if (v->state == CV_DONE)
		return 0;
	if (v->state != CV_TODO)
		return -1;
	if ((size_t)b->sp >= sizeof(b->stack) / sizeof(b->stack[0])) {
		/* Deeper than the registry could ever chain without a loop. */
		value_loc(b, idx, NULL, &file, &line);
		report_at(b, CONFIG_ERROR, file, line, idx,
			  "expansion nested too deep; simplify the $name references");
		v->state = CV_FAILED;
		return -1;
	}
	v->state = CV_BUSY;
	b->stack[b->sp++] = idx;
	if (b->view)
		b->r->pending = &pending;
	f.dep = v->overridden;
	if (v->raw && (!b->view || v->overridden)) {
		f.cause_file = v->file;
		f.cause_line = v->line;
	}
	strbuf_init(&out, CONFIG_MAX_LINE);
	if (def->flags & PARAM_F_TEMPLATE) {
		/* Expanded later by its user, with its own names. */
		if (strbuf_puts(&out, v->raw ? v->raw : param_default_text(def, NULL, NULL)) < 0) {
			why = "value expands to more than 65536 bytes; shorten it";
			r = -1;
		}
	} else if (v->raw || def->default_fn == NULL) {
		r = config_expand_text(v->raw ? v->raw : param_default_text(def, NULL, NULL),
				       &frame_ops, &f, depth, &out, &why);
	} else {
		/* A computed default is already a value, not a template. */
		const char *text = param_default_text(def, frame_getter, &f);

		if (strbuf_puts(&out, text ? text : "") < 0) {
			why = "value expands to more than 65536 bytes; shorten it";
			r = -1;
		}
	}
	if (f.failed && r == 0)
		r = -2;
	b->sp--;

	if (b->view && !f.dep) {
		config_msgs_drop(&pending);
		b->r->pending = saved;
		strbuf_free(&out);
		return share_global(v, &cfg->global->values[idx]);
	}
	v->dep_override = f.dep;
	v->cause_file = f.cause_file;
	v->cause_line = f.cause_line;
	value_loc(b, idx, &f, &file, &line);
	if (r == -1) {
		report_at(b, CONFIG_ERROR, file, line, idx, why);
	} else if (r == 0) {
		v->text = strbuf_steal(&out);
		if (v->text == NULL)
			log_fatal("out of memory storing the value of %s", def->name);
		if (config_value_check(def, v->text, v, &msg) < 0) {
			report_at(b, CONFIG_ERROR, file, line, idx, msg);
			free(msg);
			r = -1;
		}
	}
	strbuf_free(&out);
	if (b->view) {
		b->r->pending = saved;
		config_msgs_flush(b->r, &pending);
	}
	v->state = r == 0 ? CV_DONE : CV_FAILED;
	return r == 0 ? 0 : -1;
}

void config_build(struct config *cfg, struct config_reporter *r)
{
	struct build b = { .cfg = cfg, .r = r, .view = cfg->global != NULL };
	size_t n = param_count();

	for (size_t i = 0; i < n; i++)
		(void)compute(&b, (int)i, 0);
}

void config_value_free(struct config_value *v)
{
	if (!v->shared) {
		x_free(&v->text);
		config_items_free(v->items);
	}
	v->items = NULL;
}
