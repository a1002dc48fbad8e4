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
#include <unistd.h>

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

char *store_cache_header(int fd, off_t offset, uint64_t size)
{
	char buf[STORE_HEADER_CACHE_MAX + 1];
	size_t want = size < sizeof(buf) ? (size_t)size : sizeof(buf);
	ssize_t n = pread(fd, buf, want, offset);
	size_t end = 0;
	char *out;

	if (n <= 0)
		return NULL;
	/* the header ends at its first empty line (LF or CRLF); a message
	 * that is all header (no blank line) is cached whole when it fits */
	if (buf[0] == '\n')
		end = 1;
	else if (n >= 2 && buf[0] == '\r' && buf[1] == '\n')
		end = 2;
	for (ssize_t i = 0; end == 0 && i + 1 < n; i++) {
		if (buf[i] != '\n')
			continue;
		if (buf[i + 1] == '\n')
			end = (size_t)i + 2;
		else if (buf[i + 1] == '\r' && i + 2 < n && buf[i + 2] == '\n')
			end = (size_t)i + 3;
	}
	if (end == 0 && (uint64_t)n == size)
		end = (size_t)n;
	if (end == 0 || end > STORE_HEADER_CACHE_MAX || memchr(buf, '\0', end) != NULL)
		return NULL;
	out = malloc(end + 1);
	if (out == NULL)
		return NULL;
	memcpy(out, buf, end);
	out[end] = '\0';
	return out;
}
