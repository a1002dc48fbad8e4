/*
 * imap-fetch.h - FETCH attributes: parsing the client's list and
 * rendering one message's "* n FETCH (...)" response, streaming big
 * BODY[...] literals in chunks. Pure code: no session, no store calls;
 * cmd-fetch.c feeds it messages and an output, tests/unit/test_imap_fetch.c
 * feeds it parsed sample messages.
 *
 * RFC 3501 6.4.5 (FETCH), 6.4.8 (UID FETCH includes UID), 7.4.2 (the
 * FETCH response), 9 "fetch-att", "section", "date-time".
 */
#ifndef POSTERN_IMAP_FETCH_H
#define POSTERN_IMAP_FETCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "imap/imap-private.h"
#include "store/mime.h"

enum imap_fetch_kind {
	IMAP_FETCH_UID,
	IMAP_FETCH_FLAGS,
	IMAP_FETCH_INTERNALDATE,
	IMAP_FETCH_RFC822_SIZE,
	IMAP_FETCH_ENVELOPE,
	IMAP_FETCH_BODY,          /* BODY without brackets: non-extended structure */
	IMAP_FETCH_BODYSTRUCTURE,
	/* BODY[...], BODY.PEEK[...], and RFC822 / RFC822.HEADER / RFC822.TEXT,
	 * which are sections with their own response names. */
	IMAP_FETCH_SECTION,
};

struct imap_fetch_item {
	enum imap_fetch_kind kind;
	char *section;      /* SECTION: spec between the brackets, upper case */
	const char *name;   /* SECTION: "RFC822", "RFC822.HEADER", "RFC822.TEXT"; NULL: BODY[...] */
	bool peek;          /* does not set \Seen (BODY.PEEK, RFC822.HEADER) */
	bool partial;       /* <origin.count> given */
	uint32_t origin, count;
};

struct imap_fetch_query {
	struct imap_fetch_item *items;
	size_t n;
	bool sets_seen;     /* an item sets \Seen (RFC 3501 6.4.5) */
	bool has_flags;     /* FLAGS was asked for */
	bool has_uid;       /* UID was asked for */
	bool needs_body;    /* BODY or a section: the message must be parsed */
	bool has_envelope, has_bodystructure;
};

/*
 * imap_fetch_parse - the FETCH argument after the sequence set: a macro
 * (ALL, FAST, FULL), a single attribute atom, or a list of attributes.
 * Fills *q (free with imap_fetch_query_free). 0, or -1 with *error_r
 * (static text for the BAD reply).
 */
int imap_fetch_parse(const struct imap_arg *arg, struct imap_fetch_query *q, const char **error_r);
void imap_fetch_query_free(struct imap_fetch_query *q);

/* imap_fetch_section_check - syntax of a section spec (RFC 3501 9
 * "section-spec"), the text between the brackets. 0, or -1 with *error_r. */
int imap_fetch_section_check(const char *spec, const char **error_r);

/* imap_fetch_internaldate - append "dd-Mon-yyyy hh:mm:ss +0000" (quoted,
 * day space-padded as "date-day-fixed"), always in UTC: the answer does
 * not depend on the zone files being visible in the role's chroot. 0 or
 * -1 when out is full. */
int imap_fetch_internaldate(struct strbuf *out, time_t t);

/* One message as the renderer sees it; the caller fills it. */
struct imap_fetch_msg {
	uint32_t seq, uid;
	unsigned flags;            /* STORE_FLAG_* after any \Seen this FETCH set */
	bool recent;               /* the session holds \Recent for it */
	const char *keywords;
	time_t internaldate;
	uint64_t size;             /* RFC822.SIZE */
	const char *envelope;      /* cached text or NULL */
	const char *bodystructure; /* cached text or NULL */
	struct mime_message *mime; /* parsed message, NULL when not needed */
	bool add_uid;              /* UID FETCH: UID even when not asked (6.4.8) */
	bool add_flags;            /* this FETCH set \Seen: FLAGS even when not asked */
};

/* imap_fetch_needs_mime - whether rendering m for q needs m->mime (a
 * section, BODY, or an ENVELOPE/BODYSTRUCTURE that is not cached). */
bool imap_fetch_needs_mime(const struct imap_fetch_query *q, const struct imap_fetch_msg *m);

/* imap_fetch_header_only - whether every item of q can be answered from
 * the message's header alone (HEADER, HEADER.FIELDS[.NOT] of the message,
 * RFC822.HEADER, ENVELOPE and the index items): then the caller parses
 * only the header's bytes instead of the whole (maybe 50 MB) message. */
bool imap_fetch_header_only(const struct imap_fetch_query *q);

/* Where the renderer writes: write copies the bytes (the session's
 * output); full tells it to stop streaming for now. */
struct imap_fetch_out {
	void (*write)(void *ctx, const void *data, size_t len);
	bool (*full)(void *ctx);
	void *ctx;
};

struct imap_fetch_render {
	const struct imap_fetch_query *q;
	const struct imap_fetch_msg *m;
	size_t item;               /* next item to render */
	bool wrote;                /* bytes of this response went out */
	bool streaming;            /* inside a literal from rd */
	bool uid_done, flags_done;
	struct mime_section sec;
	bool have_sec;
	struct mime_section_reader rd;
	uint64_t left;             /* literal bytes still to stream */
	struct strbuf line;        /* text not yet written */
	/* ENVELOPE / BODYSTRUCTURE computed here (not cached before): new
	 * memory the caller may take (set to NULL) to fill the cache. */
	char *new_envelope, *new_bodystructure;
};

/* imap_fetch_render_init - start rendering m (both must outlive r). */
void imap_fetch_render_init(struct imap_fetch_render *r, const struct imap_fetch_query *q,
			    const struct imap_fetch_msg *m);
/*
 * imap_fetch_render_run - write as much of the response as possible.
 * Returns 1 when the whole "* n FETCH (...)\r\n" was written, 0 when it
 * stopped inside a literal because out->full() said so (call again
 * later), -1 with *error_r on a read error or out of memory: if r->wrote
 * the response is broken off mid-way and the connection must end;
 * otherwise nothing of it was sent and the message may be skipped.
 */
int imap_fetch_render_run(struct imap_fetch_render *r, const struct imap_fetch_out *out,
			  const char **error_r);
/* imap_fetch_render_free - release the section, line and new_* texts. */
void imap_fetch_render_free(struct imap_fetch_render *r);

#endif
