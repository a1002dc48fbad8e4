/*
 * mime-downgrade.c - placeholder: passes lines through unchanged.
 */
#include "smtp/client/data-private.h"

int smtpc_mime_init(struct smtpc_data *d)
{
	(void)d;
	return 0;
}

void smtpc_mime_free(struct smtpc_data *d)
{
	(void)d;
}

int smtpc_mime_line(struct smtpc_data *d, struct strbuf *out, const char *p, size_t n,
		    bool complete, bool *bounce_r, const char **error_r)
{
	(void)bounce_r;
	if (smtpc_emit(d, out, p, n) < 0 || (complete && smtpc_emit_eol(d, out) < 0)) {
		*error_r = "out of memory";
		return -1;
	}
	return 0;
}

int smtpc_mime_end(struct smtpc_data *d, struct strbuf *out, bool *bounce_r, const char **error_r)
{
	(void)d;
	(void)out;
	(void)bounce_r;
	(void)error_r;
	return 0;
}
