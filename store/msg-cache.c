/*
 * msg-cache.c - the ENVELOPE and BODYSTRUCTURE texts the index caches
 * per message (RFC 3501 7.4.2), built once when a message is stored so
 * that FETCH ENVELOPE / BODYSTRUCTURE of a whole mailbox (what every
 * IMAP client does on first sync) reads no message file.
 *
 * Called by msg.c (store_msg_append_locked: APPEND, COPY of a message
 * whose source had no cache, delivery). The texts are exactly what the
 * IMAP role sends after "ENVELOPE " / "BODYSTRUCTURE " (mime_envelope(),
 * mime_bodystructure(extended)), so it can send a cached one as it is.
 */
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "store/mime.h"
#include "store/store-private.h"
#include "util.h"

/* A bigger text (a message with thousands of parts) is not cached: every
 * flag change rewrites the whole record, and the IMAP role can still
 * build it from the file. */
#define CACHE_TEXT_MAX (1024 * 1024)

int store_cache_build(int fd, off_t offset, uint64_t size, char **env_r, char **bs_r)
{
	struct mime_message *msg;
	struct strbuf env, bs;
	const char *why = NULL;
	int rc = -1;

	*env_r = *bs_r = NULL;
	msg = mime_parse_fd_at(fd, (uint64_t)offset, size, NULL, &why);
	if (msg == NULL) {
		log_warn("store: cannot parse a message to cache its ENVELOPE: %s; "
			    "it is built on its first FETCH instead", why ? why : "?");
		return -1;
	}
	strbuf_init(&env, CACHE_TEXT_MAX);
	strbuf_init(&bs, CACHE_TEXT_MAX);
	if (mime_envelope(msg, 0, &env, &why) < 0 || mime_bodystructure(msg, 0, true, &bs, &why) < 0)
		goto out;
	why = "text contains a NUL";
	/* The index keeps C strings; the views drop NULs, check anyway. */
	if (env.len == 0 || bs.len == 0 || memchr(env.data, '\0', env.len) != NULL ||
	    memchr(bs.data, '\0', bs.len) != NULL)
		goto out;
	*env_r = strbuf_steal(&env);
	*bs_r = strbuf_steal(&bs);
	if (*env_r == NULL || *bs_r == NULL) {
		free(*env_r);
		free(*bs_r);
		*env_r = *bs_r = NULL;
		why = "out of memory";
		goto out;
	}
	rc = 0;
out:
	if (rc < 0)
		log_warn("store: not caching ENVELOPE/BODYSTRUCTURE of a new message: %s; "
			    "it is built on its first FETCH instead",
			    why ? why : "text too long");
	strbuf_free(&env);
	strbuf_free(&bs);
	mime_message_free(&msg);
	return rc;
}
