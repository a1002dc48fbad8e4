/*
 * content-checks.h - header_checks and body_checks (Postfix
 * header_checks(5)) applied line by line while a message streams in.
 *
 * Callers: the SMTP session's DATA/BDAT writer (smtp/cmd-data.c,
 * cmd-bdat.c). Implementation: smtp/content-checks.c.
 *
 * The session passes each header as one logical line: the header with its
 * continuation lines, the line breaks between them kept ("\n" or "\r\n"
 * before the folding whitespace, as Postfix's header_checks see them),
 * without the final line end, bounded by header_size_limit; one call per
 * header. After the empty line it calls content_checks_body_line() per
 * body line (without CRLF).
 *
 * Actions (header_checks(5)): REJECT [text], DISCARD [text], HOLD [text],
 * IGNORE, WARN [text], REPLACE text, PREPEND text, DUNNO, OK. REJECT,
 * DISCARD and HOLD decide the message (the session keeps reading the data
 * and answers at its end: REJECT -> out->reply, e.g. "550 5.7.1 Message
 * content rejected"); IGNORE drops the line; REPLACE puts out->text in its
 * place; PREPEND inserts out->text as a new line before it; WARN only logs.
 */
#ifndef POSTERN_SMTP_CONTENT_CHECKS_H
#define POSTERN_SMTP_CONTENT_CHECKS_H

#include <stddef.h>

struct config;
struct restrict_result;
struct content_checks;

/* What to do with the line that was checked. */
enum content_line {
	CONTENT_LINE_KEEP,     /* write it unchanged */
	CONTENT_LINE_IGNORE,   /* drop it */
	CONTENT_LINE_REPLACE,  /* write out->text instead */
	CONTENT_LINE_PREPEND,  /* write out->text, then the line */
	CONTENT_LINE_TEMPFAIL, /* a table failed: answer out->reply (451) at end */
};

/*
 * content_checks_new - open header_checks and body_checks of view.
 * Returns NULL with *error_r (new memory, caller frees) when a table
 * cannot be opened. With both parameters empty the object checks nothing.
 */
struct content_checks *content_checks_new(const struct config *view, char **error_r);
void content_checks_free(struct content_checks **cc);

/*
 * content_checks_header / content_checks_body_line - check one line.
 * out->action becomes RESTRICT_REJECT / _DISCARD / _HOLD when the line
 * decides the message (keep the first such decision; later ones do not
 * override it), RESTRICT_CONTINUE otherwise; out->log gets the Postfix
 * log detail ("reject: header Subject: spam; from=... : TEXT") for every
 * action including WARN (out->warn_only). For REPLACE/PREPEND, text_r
 * gets the new line (owned by cc, valid until the next call).
 * Returns an enum content_line.
 */
int content_checks_header(struct content_checks *cc, const char *line, size_t len,
			  struct restrict_result *out, const char **text_r);
int content_checks_body_line(struct content_checks *cc, const char *line, size_t len,
			     struct restrict_result *out, const char **text_r);

#endif
