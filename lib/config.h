/*
 * config.h - the one configuration file, in Postfix main.cf syntax.
 *
 * Syntax (postconf(5)): "name = value"; a line starting with whitespace
 * continues the previous one; a line whose first non-blank character is #
 * is a comment (# inside a value is part of the value, as in Postfix);
 * $name and ${name} expand to another parameter's value, also
 * ${name?text} (text if name is non-empty) and ${name:text} (text if name
 * is empty); $$ is a literal $; the last assignment of a name wins.
 *
 * Listeners live in the same file, one per line, and per-listener
 * overrides use the listener's name as a prefix (like master.cf's -o and
 * postconf -P's service/type/parameter):
 *
 *   submission/listen = smtp *:587 tls=starttls
 *   submission/smtpd_tls_auth_only = yes
 *
 * listen value: PROTOCOL ADDRESS:PORT [tls=none|starttls|implicit]
 * ADDRESS is "*" (every address), an IPv4 address, or [IPv6].
 *
 * Problems are reported through a callback, each as one line
 * "FILE:LINE: NAME: problem; fix". An unknown name is a warning that names
 * the nearest known parameter; a bad value (type, bounds, unknown enum,
 * malformed listener, expansion loop) is an error. The whole file is
 * validated before anything is returned: config_load() returns NULL if
 * there was any error, so a bad file never half-applies.
 */
#ifndef POSTERN_CONFIG_H
#define POSTERN_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "params.h"

/* Size limit for a configuration file and a single logical line. */
#define CONFIG_MAX_FILE (4 * 1024 * 1024)
#define CONFIG_MAX_LINE (64 * 1024)
/* Nesting limit for $name expansion (loops are detected, depth bounded). */
#define CONFIG_MAX_EXPAND_DEPTH 32

enum config_level { CONFIG_WARNING, CONFIG_ERROR };

/* Called once per problem with a complete message (no trailing newline).
 * With report == NULL, problems go to log_warn()/log_error(). */
typedef void config_report_fn(enum config_level level, const char *msg, void *ctx);

enum tls_mode { TLS_MODE_NONE, TLS_MODE_STARTTLS, TLS_MODE_IMPLICIT };
const char *tls_mode_name(enum tls_mode mode);

struct config;

struct config_listener {
	const char *name;      /* "submission" */
	const char *protocol;  /* "smtp": a name protocol_lookup() knows */
	const char *address;   /* "*", "127.0.0.1", "::1" (no brackets) */
	int port;
	enum tls_mode tls;
	const char *file;      /* where it was defined */
	int line;
	/* The configuration as seen by this listener: its overrides applied on
	 * top of the global values (expansion re-done with them). Use it with
	 * the config_* getters exactly like the global config. */
	const struct config *view;
};

/* config_load - read and validate path. NULL on any error (all reported). */
struct config *config_load(const char *path, config_report_fn *report, void *ctx);

/* config_parse - same from memory; name is used in messages as the file. */
struct config *config_parse(const char *name, const char *text, size_t len,
			    config_report_fn *report, void *ctx);

/* config_free - free a config from config_load/config_parse; sets *cfg to NULL. */
void config_free(struct config **cfg);

/* config_text - the exact text cfg was parsed from (for a view: its
 * global's), *len_r bytes, NUL-terminated; owned by cfg. The master hands
 * it to the roles it starts, so a role runs the configuration the master
 * validated even if the file was edited meanwhile. */
const char *config_text(const struct config *cfg, size_t *len_r);

/* config_path - the file it was read from. */
const char *config_path(const struct config *cfg);

/*
 * Typed getters of the effective, expanded value. The name must be a
 * registered parameter of the matching type: anything else is a bug and
 * panics. Values were validated at load, so these cannot fail.
 */
const char *config_str(const struct config *cfg, const char *name);
bool config_bool(const struct config *cfg, const char *name);
long long config_int(const struct config *cfg, const char *name);
long long config_time(const struct config *cfg, const char *name);   /* seconds */
long long config_size(const struct config *cfg, const char *name);   /* bytes */
/* config_list - items of a PARAM_LIST/PARAM_MAPS value, NULL-terminated,
 * owned by cfg; *count_r (if not NULL) gets the number of items. */
const char *const *config_list(const struct config *cfg, const char *name, size_t *count_r);

/* config_raw - the value as written (unexpanded) if set in the file (for a
 * listener view: its override or else the global one), NULL if not set. */
const char *config_raw(const struct config *cfg, const char *name);

/*
 * config_unregistered - the value as written (unexpanded) of a name that
 * is not a registered parameter, such as a restriction class listed in
 * smtpd_restriction_classes (those are not reported as unknown). For a
 * listener view its "LISTENER/name" override wins. NULL if not set;
 * *file_r / *line_r get where it was set. Owned by cfg.
 */
const char *config_unregistered(const struct config *cfg, const char *name,
				const char **file_r, int *line_r);

/* config_where - file and line of the effective assignment; 0 if default. */
int config_where(const struct config *cfg, const char *name, const char **file_r);

/* Listeners, in file order. */
size_t config_listener_count(const struct config *cfg);
const struct config_listener *config_listener_at(const struct config *cfg, size_t i);
const struct config_listener *config_listener_find(const struct config *cfg, const char *name);

/* config_overrides - the per-listener override names set for a listener,
 * NULL-terminated, owned by cfg (for `postern config` output). */
const char *const *config_overrides(const struct config *cfg, const char *listener);

/*
 * config_expand - expand $name references in text against cfg (used for
 * values that are not parameters, e.g. a smtpd_banner template).
 * Returns new memory, or NULL with *error_r set.
 */
char *config_expand(const struct config *cfg, const char *text, const char **error_r);

/*
 * config_edit - set name = value in the file at path, in place: the last
 * assignment of name (with its continuation lines) is replaced, or a new
 * line is appended; comments and everything else stay byte for byte. The
 * result is validated first and written through a temporary file +
 * rename, keeping the file's mode. name may be "listener/param".
 * Returns 0, or -1 with *error_r (new memory, caller frees).
 */
int config_edit(const char *path, const char *name, const char *value, char **error_r);

/*
 * Value parsers shared with other modules (table values, CLI flags).
 * Each returns 0, or -1 with *error_r pointing to a static reason.
 */
int config_parse_bool(const char *text, bool *value_r, const char **error_r);
int config_parse_time(const char *text, char default_unit, long long *seconds_r, const char **error_r);
int config_parse_size(const char *text, long long *bytes_r, const char **error_r);

#endif
