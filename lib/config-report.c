/*
 * config-report.c - delivery of configuration problems: to the caller's
 * callback, to the log, or into a pending list while config-build.c does
 * not yet know whether a listener view's problem is its own or a repeat of
 * the global one. Used only by lib/config*.c.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "config-private.h"
#include "log.h"

static void config_emit(struct config_reporter *r, enum config_level level, const char *text)
{
	if (level == CONFIG_ERROR)
		r->errors++;
	else
		r->warnings++;
	if (r->fn)
		r->fn(level, text, r->ctx);
	else if (level == CONFIG_ERROR)
		log_error("%s", text);
	else
		log_warn("%s", text);
}

void config_reportf(struct config_reporter *r, enum config_level level, const char *fmt, ...)
{
	va_list ap;
	char *text;

	va_start(ap, fmt);
	if (vasprintf(&text, fmt, ap) < 0)
		log_fatal("out of memory formatting a configuration message");
	va_end(ap);
	if (r->pending) {
		struct config_msgs *m = r->pending;

		if (m->count == m->cap) {
			m->cap = m->cap ? m->cap * 2 : 4;
			m->msgs = must_realloc(m->msgs, m->cap * sizeof(*m->msgs));
		}
		m->msgs[m->count].level = level;
		m->msgs[m->count].text = text;
		m->count++;
		return;
	}
	config_emit(r, level, text);
	free(text);
}

void config_msgs_flush(struct config_reporter *r, struct config_msgs *m)
{
	for (size_t i = 0; i < m->count; i++)
		config_emit(r, m->msgs[i].level, m->msgs[i].text);
	config_msgs_drop(m);
}

void config_msgs_drop(struct config_msgs *m)
{
	for (size_t i = 0; i < m->count; i++)
		free(m->msgs[i].text);
	x_free(&m->msgs);
	m->count = m->cap = 0;
}

void config_report_unknown(struct config_reporter *r, const char *file, int line,
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
