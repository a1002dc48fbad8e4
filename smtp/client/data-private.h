/*
 * data-private.h - the content encoder's state, shared by data.c (lines,
 * dot-stuffing, folding) and mime-downgrade.c (8-bit to
 * quoted-printable). Only these two files include it.
 */
#ifndef POSTERN_SMTP_CLIENT_DATA_PRIVATE_H
#define POSTERN_SMTP_CLIENT_DATA_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "util.h"

struct smtpc_mime;

struct smtpc_data {
	int fd;
	off_t pos, end;             /* next byte to read, end of content */
	int line_limit;
	char *rbuf;
	size_t rlen, rpos;
	bool bol;                   /* at the start of an output line */
	size_t col;                 /* bytes on the current output line */
	bool finished;
	struct smtpc_mime *mime;    /* NULL: no downgrade */
};

/* data.c: output with the wire rules; 0, or -1 when out of memory */
int smtpc_emit(struct smtpc_data *d, struct strbuf *out, const char *p, size_t n);
int smtpc_emit_eol(struct smtpc_data *d, struct strbuf *out);

/* mime-downgrade.c */
int smtpc_mime_init(struct smtpc_data *d);
void smtpc_mime_free(struct smtpc_data *d);
/* one input line (complete: it had its LF); -1 with *error_r, *bounce_r
 * set when the content cannot be converted */
int smtpc_mime_line(struct smtpc_data *d, struct strbuf *out, const char *p, size_t n,
		    bool complete, bool *bounce_r, const char **error_r);
int smtpc_mime_end(struct smtpc_data *d, struct strbuf *out, bool *bounce_r, const char **error_r);

#endif
