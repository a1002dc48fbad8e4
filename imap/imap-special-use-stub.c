/*
 * imap-special-use-stub.c - TEMPORARY weak stand-ins so that the imapcore
 * branch links before the imapmbox branch is merged: the special-use
 * autocreation (no-op) and a minimal mailbox name conversion (INBOX in
 * any case, the '.' separator, no modified UTF-7). The imapmbox branch
 * deletes this file; its imap-special-use.c and imap-mutf7.c are the real
 * ones.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap/imap-private.h"

__attribute__((weak)) void imap_special_use_autocreate(struct imap_session *s)
{
	(void)s;
}

__attribute__((weak)) char *imap_mailbox_from_client(const struct imap_session *s, const char *name,
						     const char **error_r)
{
	char *r;

	if (strcasecmp(name, "INBOX") == 0)
		return strdup("INBOX");
	r = strdup(name);
	if (r == NULL) {
		*error_r = "Out of memory";
		return NULL;
	}
	if (s->hierarchy_sep == '.')
		for (char *p = r; *p; p++)
			if (*p == '.')
				*p = '/';
	if (!store_mailbox_name_valid(r)) {
		free(r);
		*error_r = "Invalid mailbox name";
		return NULL;
	}
	return r;
}

__attribute__((weak)) char *imap_mailbox_to_client(const struct imap_session *s, const char *name)
{
	(void)s;
	return strdup(name);
}
