/*
 * params.h - the typed registry of every configuration parameter.
 *
 * One entry per parameter: name, type, default, bounds, one-line doc. The
 * registry drives validation (config.c), `postern config -d/-n`, and
 * docs/CONFIG.md. Tables are pure data, one file per area
 * (params-core.c, params-tls.c, ...), listed in params.c. A later
 * subsystem adds its own params-<area>.c and one line in params.c.
 *
 * Names follow Postfix where the meaning is the same, Dovecot where
 * Postfix has none.
 */
#ifndef POSTERN_PARAMS_H
#define POSTERN_PARAMS_H

#include <stddef.h>

enum param_type {
	PARAM_STRING, /* free text */
	PARAM_BOOL,   /* yes | no (also true/false, on/off) */
	PARAM_INT,    /* decimal integer within [min, max] */
	PARAM_TIME,   /* number with optional unit s m h d w; bare number uses time_unit */
	PARAM_SIZE,   /* bytes, optional suffix k M G (powers of 1024) */
	PARAM_LIST,   /* items separated by commas and/or whitespace */
	PARAM_MAPS,   /* list of type:name table references */
	PARAM_ENUM,   /* one of choices[] */
	PARAM_PATH,   /* an absolute file or directory path, or empty */
};

/* flags */
#define PARAM_F_RESTART  0x01 /* takes effect only after stop+start, not reload */
#define PARAM_F_GLOBAL   0x02 /* may not be overridden per listener */
#define PARAM_F_TEMPLATE 0x04 /* a template with its own $name syntax (default_rbl_reply): never expanded */

/* How a computed default reads other parameters' effective values. */
typedef const char *param_getter_fn(void *ctx, const char *name);

struct param_def {
	const char *name;
	enum param_type type;
	/* Default as text, exactly as `postern config -d` prints it; may use
	 * $name expansion. NULL when default_fn computes it. */
	const char *default_value;
	/* Computed default (e.g. myhostname from gethostname(), mydomain from
	 * the effective myhostname). get(ctx, name) returns the effective
	 * expanded value of another parameter. Returns a string owned by the
	 * registry (valid until the next call). NULL when default_value is used. */
	const char *(*default_fn)(param_getter_fn *get, void *ctx);
	long long min, max;          /* PARAM_INT/TIME (seconds)/SIZE (bytes); 0,0 = unbounded */
	char time_unit;              /* PARAM_TIME: unit of a bare number */
	const char *const *choices;  /* PARAM_ENUM: NULL-terminated */
	unsigned flags;
	const char *section;         /* docs heading: "General", "TLS", ... */
	const char *doc;             /* one line, ends without a period */
};

/* param_count / param_at - every registered parameter, in registry order. */
size_t param_count(void);
const struct param_def *param_at(size_t i);

/* param_lookup - the definition of name, or NULL if unknown. */
const struct param_def *param_lookup(const char *name);

/* param_nearest - the known name closest to an unknown one (for "did you
 * mean"), or NULL when nothing is close. */
const char *param_nearest(const char *name);

/* param_default_text - the default as text: default_value, or
 * default_fn(get, ctx); with get == NULL, other parameters are read at
 * their own defaults. */
const char *param_default_text(const struct param_def *def, param_getter_fn *get, void *ctx);

/* param_type_name - "string", "boolean", "time", ... for docs and errors. */
const char *param_type_name(enum param_type type);

/*
 * Listener protocols. The master starts the role named here for a listener
 * of this protocol; `postern init --port-base N` puts a listener at N + the
 * standard port.
 */
struct protocol_def {
	const char *name;      /* as written in NAME/listen = PROTOCOL ... */
	const char *role;      /* role process serving it */
	const char *doc;
};
const struct protocol_def *protocol_lookup(const char *name);
size_t protocol_count(void);
const struct protocol_def *protocol_at(size_t i);

#endif
