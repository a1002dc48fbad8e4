/*
 * imap-search.h - the SEARCH program: parsed from a command's arguments
 * into a tree (imap-search.c) and evaluated per message (imap-search-eval.c).
 *
 * Callers: cmd-search.c (SEARCH, UID SEARCH), the unit tests and the
 * fuzz harness. Nothing here touches the session or the network, so the
 * parser runs on arguments a test builds by hand.
 *
 * RFC 3501 6.4.4 (SEARCH) and 9 ("search-key", "date"); RFC 5530
 * (BADCHARSET response code).
 *
 * Matching rules (what a client can rely on):
 * - Strings match as case-insensitive substrings of UTF-8 text. Folding
 *   is simple one-to-one lower-casing of ASCII, Latin-1, Greek and
 *   Cyrillic letters (the same as store/mime-text.c); no normalisation,
 *   so "Muller" does not find "Müller".
 * - Header keys (FROM, TO, CC, BCC, SUBJECT, HEADER) look at every field
 *   of that name in the message's own header, with RFC 2047 encoded words
 *   decoded to UTF-8. HEADER with an empty string matches when the field
 *   exists. When the index holds the message's ENVELOPE (cached by
 *   FETCH), SUBJECT, HEADER Subject and SENT* are answered from its Date
 *   and Subject without opening the file (they are the first such fields;
 *   a message with two Subject fields is then matched on the first).
 * - BODY searches every text/ part after transfer decoding (quoted-
 *   printable, base64) and charset conversion to UTF-8; TEXT searches the
 *   decoded header too.
 * - BEFORE/ON/SINCE compare the date part of INTERNALDATE in the server's
 *   local time zone (posternd's TZ; UTC when unset). SENTBEFORE/SENTON/
 *   SENTSINCE compare the date part of the Date header in the header's own
 *   zone (RFC 3501 6.4.4); a message without a readable Date header
 *   matches none of them.
 * - A sequence set or UID set with '*' means the highest number in use;
 *   "7:*" with fewer than 7 messages names the last one (RFC 3501 9).
 */
#ifndef POSTERN_IMAP_SEARCH_H
#define POSTERN_IMAP_SEARCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "store/store.h"
#include "util.h"

struct imap_arg;
struct imap_seq_range;
struct mime_message;

/* NOT, OR and parenthesised groups may nest this deep; deeper programs get
 * BAD (hostile input must not drive recursion). */
#define IMAP_SEARCH_MAX_DEPTH 64
/* A search string may be this long (bytes). */
#define IMAP_SEARCH_STRING_MAX 4096

enum imap_search_type {
	IMAP_SEARCH_ALL,
	IMAP_SEARCH_AND,      /* children, all must match */
	IMAP_SEARCH_OR,       /* two children */
	IMAP_SEARCH_NOT,      /* one child */
	IMAP_SEARCH_FLAG,     /* flag (one STORE_FLAG_*) set */
	IMAP_SEARCH_KEYWORD,  /* str set as keyword */
	IMAP_SEARCH_RECENT,   /* this session holds \Recent */
	IMAP_SEARCH_LARGER,   /* RFC822.SIZE > number */
	IMAP_SEARCH_SMALLER,  /* RFC822.SIZE < number */
	IMAP_SEARCH_BEFORE,   /* INTERNALDATE date < date */
	IMAP_SEARCH_ON,
	IMAP_SEARCH_SINCE,    /* >= */
	IMAP_SEARCH_SENTBEFORE, /* Date header */
	IMAP_SEARCH_SENTON,
	IMAP_SEARCH_SENTSINCE,
	IMAP_SEARCH_HEADER,   /* name (field), str (value) */
	IMAP_SEARCH_BODY,     /* str */
	IMAP_SEARCH_TEXT,     /* str */
	IMAP_SEARCH_SEQSET,   /* ranges: message sequence numbers */
	IMAP_SEARCH_UIDSET,   /* ranges: UIDs */
};

struct imap_search_node {
	enum imap_search_type type;
	struct imap_search_node *child;  /* AND: first of a list; OR: first of
					  * two; NOT: the one */
	struct imap_search_node *next;   /* next sibling */
	unsigned flag;                   /* FLAG */
	uint64_t number;                 /* LARGER, SMALLER */
	int date;                        /* date keys: y*10000 + m*100 + d */
	char *name;                      /* HEADER field name */
	char *str;                       /* KEYWORD, HEADER, BODY, TEXT */
	struct imap_seq_range *ranges;   /* SEQSET, UIDSET; '*' = UINT32_MAX */
	size_t nranges;
};

struct imap_search {
	struct imap_search_node *root;   /* an AND of the top-level keys */
	bool needs_message;              /* some key reads the message file */
	bool needs_body;                 /* BODY or TEXT: more than the header */
};

/* Result codes of imap_search_parse besides 0. */
#define IMAP_SEARCH_ERR_BAD (-1) /* syntax: tagged BAD */
#define IMAP_SEARCH_ERR_NO  (-2) /* NO with *code_r (BADCHARSET, or NULL on OOM) */

/*
 * imap_search_parse - the arguments of SEARCH after the command name:
 * [CHARSET name] search-key+. CHARSET UTF-8 and US-ASCII are known (case
 * insensitive); any other gives IMAP_SEARCH_ERR_NO with *code_r
 * "BADCHARSET (UTF-8 US-ASCII)". Returns 0 with a new program in
 * *search_r (free with imap_search_free), IMAP_SEARCH_ERR_BAD or
 * IMAP_SEARCH_ERR_NO with *error_r (static text, or text in an internal
 * buffer valid until the next call in this thread; client bytes escaped)
 * and *code_r (response code without brackets, or NULL).
 */
int imap_search_parse(const struct imap_arg *args, size_t nargs, struct imap_search **search_r,
		      const char **code_r, const char **error_r);
/* imap_search_free - free *s and set it NULL; NULL is fine. */
void imap_search_free(struct imap_search **s);

/*
 * imap_search_dump - the program in a canonical prefix form for tests and
 * debug logs, e.g. "(AND (FLAG \Seen) (NOT (FLAG \Deleted)))". 0 or -1
 * when out is full.
 */
int imap_search_dump(const struct imap_search *s, struct strbuf *out);

/* imap_search_parse_date - "d-Mon-yyyy" (RFC 3501 9 "date-text", also
 * quoted) to y*10000 + m*100 + d; -1 when it is not a valid date. */
int imap_search_parse_date(const char *s);

/* ---- evaluation (imap-search-eval.c) ---- */

/* The message's bytes on demand: a parsed message that stays the
 * opener's (it frees the message and closes its fd after
 * imap_search_match returned), or NULL with *error_r. */
typedef struct mime_message *imap_search_open_fn(void *ctx, const char **error_r);

struct imap_search_msg {
	const struct store_msg *msg;  /* uid, flags, keywords, size, internaldate */
	uint32_t seq;                 /* message sequence number */
	bool recent;                  /* the session holds \Recent for it */
	uint32_t max_seq, max_uid;    /* what '*' means */
	imap_search_open_fn *open;    /* NULL: the message cannot be read */
	void *open_ctx;
};

/* Three-valued result of the index-only pass. */
enum imap_search_match {
	IMAP_SEARCH_NO_MATCH = 0,
	IMAP_SEARCH_MATCH = 1,
	IMAP_SEARCH_UNKNOWN = 2,   /* decided only by reading the message */
};

/*
 * imap_search_match_index - decide with what the index knows (flags,
 * keywords, size, dates, numbers); keys that need the file give UNKNOWN,
 * and AND/OR/NOT combine the three values (Kleene logic), so "SEEN BODY x"
 * on an unseen message is NO_MATCH without opening it.
 */
enum imap_search_match imap_search_match_index(const struct imap_search *s,
					       const struct imap_search_msg *m);

/*
 * imap_search_match - the full decision: the index pass first; the message
 * is opened (m->open, at most once) only when that pass gives UNKNOWN.
 * Returns 1 match, 0 no match, -1 with *error_r when the message could
 * not be opened or read (the caller decides: an expunged message simply
 * does not match).
 */
int imap_search_match(const struct imap_search *s, const struct imap_search_msg *m,
		      const char **error_r);

#endif
