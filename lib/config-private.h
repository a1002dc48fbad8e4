/*
 * config-private.h - what the config-*.c files share; nothing outside
 * lib/config*.c includes it (the public contract is config.h).
 *
 * Data flow of config_parse():
 *   config-parse.c   text -> assignments (name, value, file:line, byte span)
 *   config.c         assignments -> global values
 *   config-build.c   every parameter of the global config and of each
 *                    listener view: expanded (config-expand.c) and checked
 *                    against its type (config-value.c)
 *   config-views.c   LISTENER/NAME assignments -> listeners, overrides, views
 *   config-listen.c  "PROTOCOL ADDRESS:PORT [tls=...]" -> struct config_listener
 * config-edit.c reuses the lexer to find the span of the last assignment.
 */
#ifndef POSTERN_CONFIG_PRIVATE_H
#define POSTERN_CONFIG_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "params.h"
#include "util.h"

/* Each listener carries a full view; no real server needs more, and a
 * hostile file must not make the loader build a hundred thousand views. */
#define CONFIG_MAX_LISTENERS 1024

/* ---- reporting (config-report.c) ---- */

/* One buffered message, for problems found while it is not yet known
 * whether they belong to a listener view (see config-build.c). */
struct config_msg {
	enum config_level level;
	char *text;
};

struct config_msgs {
	struct config_msg *msgs;
	size_t count, cap;
};

struct config_reporter {
	config_report_fn *fn; /* NULL: log_warn()/log_error() */
	void *ctx;
	unsigned errors, warnings;
	struct config_msgs *pending; /* non-NULL: collect instead of emitting */
};

/* config_reportf - report (or collect into r->pending) one message. */
void config_reportf(struct config_reporter *r, enum config_level level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* config_msgs_flush - emit collected messages through r (bypassing any
 * pending list) and empty the list. config_msgs_drop - discard them. */
void config_msgs_flush(struct config_reporter *r, struct config_msgs *m);
void config_msgs_drop(struct config_msgs *m);

/* config_report_unknown - the warning for an unknown parameter name
 * (shown as written, e.g. "mx/nme"; param is the part looked up), with
 * the nearest known name when there is one. */
void config_report_unknown(struct config_reporter *r, const char *file, int line,
			   const char *shown, const char *param);

/* ---- lexing (config-parse.c) ---- */

struct config_assign {
	char *name;   /* "myhostname" or "submission/myhostname" */
	char *value;  /* trimmed, continuation lines joined */
	int line;     /* first physical line */
	size_t start; /* byte offset of the first physical line */
	size_t end;   /* byte offset just past the last physical line that
		       * contributed (its newline included, if any) */
};

/* config_lex - split text into assignments in file order. Syntax problems
 * are reported (as "FILE:LINE: ...") and the offending logical line is
 * skipped. Returns the number of assignments; *assigns_r is new memory
 * (free with config_assigns_free) even when the count is 0. */
size_t config_lex(const char *file, const char *text, size_t len, struct config_reporter *r,
		  struct config_assign **assigns_r);
void config_assigns_free(struct config_assign *a, size_t count);

/* config_name_valid - name is [A-Za-z0-9_]+ (listener == false) or
 * [A-Za-z0-9_-]+ (listener == true). */
bool config_name_valid(const char *name, size_t len, bool listener);

/* ---- expansion (config-expand.c) ---- */

/*
 * How the expander reads another parameter. lookup returns 1 with
 * *value_r set, 0 for an unknown name, or -1 when that parameter failed
 * (its problem was already reported, the caller just gives up). depth is
 * the nesting level of the reference, for the depth limit.
 */
struct config_expand_ops {
	int (*lookup)(void *ctx, const char *name, int depth, const char **value_r);
	void (*unknown)(void *ctx, const char *name);
};

/*
 * config_expand_text - expand text into out at nesting depth.
 * Returns 0; -1 for a syntax or limit problem (*error_r: static text
 * without location); -2 when a lookup failed (already reported).
 */
int config_expand_text(const char *text, const struct config_expand_ops *ops, void *ctx,
		       int depth, struct strbuf *out, const char **error_r);

/* ---- typed values (config-value.c) ---- */

struct config_value {
	const char *raw;        /* as written, NULL when the default applies */
	const char *file;       /* where raw was written */
	int line;
	bool overridden;        /* view: raw is this listener's override */
	const char *cause_file; /* first assignment this value came from */
	int cause_line;
	char *text;             /* expanded */
	bool b;                 /* PARAM_BOOL */
	long long num;          /* PARAM_INT, _TIME (seconds), _SIZE (bytes) */
	char **items;           /* PARAM_LIST, _MAPS: NULL-terminated */
	size_t nitems;
	unsigned char state;    /* enum config_value_state */
	bool shared;            /* view: text/items belong to the global config */
	bool dep_override;      /* view: differs because of an override */
};

enum config_value_state { CV_TODO, CV_BUSY, CV_DONE, CV_FAILED };

/* config_value_check - check text against def's type, filling v->b,
 * v->num, v->items. Returns 0, or -1 with *msg_r (new memory: the
 * problem and fix without location, e.g. "\"10x\" is not a valid size;
 * ..."). */
int config_value_check(const struct param_def *def, const char *text, struct config_value *v,
		       char **msg_r);

/* config_split_list - items separated by commas and/or whitespace; a
 * {...} group stays inside its item. Returns 0 with a NULL-terminated
 * new array (free with config_items_free), or -1 with *error_r (static). */
int config_split_list(const char *text, char ***items_r, size_t *count_r, const char **error_r);
void config_items_free(char **items);

/* ---- listeners (config-listen.c) ---- */

/* config_listen_parse - fill l from a listen value. Returns 0, or -1 with
 * *msg_r (new memory, problem and fix without location). */
int config_listen_parse(const char *value, struct config_listener *l, char **msg_r);

/* ---- the object (config.c) ---- */

struct config_override_set {
	char **names; /* NULL-terminated, sorted */
	size_t count;
};

struct config {
	char *path;                  /* global: owned; view: the global's */
	struct config *global;       /* NULL for the global config */
	const char *listener;        /* view: its name */
	struct config_value *values; /* one per registered parameter, param_at order */
	/* global only: */
	struct config_assign *assigns;
	size_t nassigns;
	struct config_listener *listeners;
	size_t nlisteners;
	struct config_override_set *overrides; /* per listener */
	char *text;                  /* global only: the text parsed (config_text) */
	size_t text_len;
};

/* config_param_index - registry index of name, or -1. */
int config_param_index(const char *name);

/* config_build - compute and check every value of cfg (global: from
 * defaults and assignments; view: also from its overrides, on top of the
 * finished global). Problems go to r. */
void config_build(struct config *cfg, struct config_reporter *r);

/* config_listeners_build - listeners, overrides and views of cfg, whose
 * global values are built. config_listeners_free - free them. */
void config_listeners_build(struct config *cfg, struct config_reporter *r);
void config_listeners_free(struct config *cfg);

/* config_value_free - free what v owns. */
void config_value_free(struct config_value *v);

#endif
