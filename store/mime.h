/*
 * mime.h - streaming RFC 5322 / MIME parser and the IMAP views built on it.
 *
 * Called by the store (index: cached ENVELOPE and BODYSTRUCTURE), by the
 * IMAP role (FETCH BODY[section], SEARCH) and by local delivery.
 *
 * RFCs: 5322 (message format, dates, addresses), 2045-2049 (MIME), 2047
 * (encoded words), 2231 (parameter continuations and charsets), 3501
 * sections 6.4.5 (BODY[section]) and 7.4.2 (ENVELOPE, BODYSTRUCTURE).
 *
 * Model: mime_parse_fd()/mime_parse_mem() read the message once through a
 * bounded window and keep only a tree of parts with byte offsets. Every
 * later view (headers, envelope, sections, search text) re-reads the bytes
 * it needs from the same source, so the fd or memory given to the parser
 * must stay valid and unchanged until mime_message_free(). The stored bytes
 * are never changed.
 *
 * Line ends: LF ends a line; a CR before it belongs to the line end. IMAP
 * sends CRLF, so the "crlf" sizes count every bare LF as two bytes (what a
 * server that converts LF to CRLF on output sends); ranges are physical
 * offsets in the stored message.
 *
 * Error convention: functions that can fail return -1 (or NULL) and set
 * *error_r to a static message when error_r is not NULL. Failures are
 * read errors on the fd and out-of-memory; malformed input never fails.
 */
#ifndef POSTERN_MIME_H
#define POSTERN_MIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "util.h"

#define MIME_NONE UINT32_MAX

struct mime_limits {
	unsigned max_depth;      /* deeper multipart/message parts are opaque (64) */
	unsigned max_parts;      /* part records per message (10000) */
	size_t max_field_len;    /* bytes kept of one unfolded header field (64 KiB) */
	unsigned max_fields;     /* header fields looked at per header (10000) */
	size_t window;           /* read window of the parser (64 KiB) */
};

/* mime_limits_default - fill *lim with the defaults named above. */
void mime_limits_default(struct mime_limits *lim);

enum mime_part_flags {
	MIME_PART_MULTIPART = 1 << 0, /* has children, split at its boundary */
	MIME_PART_MESSAGE = 1 << 1,   /* message/rfc822: one child, the message */
	MIME_PART_TEXT = 1 << 2,      /* text/ major type (lines are reported) */
	/* A multipart or message left unsplit (depth or part limit, missing
	 * boundary, no parts found): reported to IMAP as text/plain. */
	MIME_PART_OPAQUE = 1 << 3,
	MIME_PART_NO_HEADER_END = 1 << 4, /* header ran into a boundary or EOF */
};

/*
 * One part. Offsets are physical byte offsets in the message. The body of
 * a part inside a multipart ends before the line end that precedes the
 * next boundary line (RFC 2046 5.1.1). body_lines counts LFs in the body
 * plus one for an unterminated last line.
 */
struct mime_part {
	uint64_t hdr_off, body_off, end_off;
	uint64_t hdr_crlf_size, body_crlf_size;
	uint64_t body_lines;
	uint32_t parent, first_child, next_sibling, last_child;
	uint32_t depth, nchildren, flags;
	char type[64], subtype[64];   /* lower case, "text" "plain" by default */
	/* parser bookkeeping: LF and bare-LF counts before hdr_off, body_off */
	uint64_t lf_hdr, lf_body, blf_hdr, blf_body;
};

struct mime_message;

/*
 * mime_parse_fd - parse size bytes of the message in fd (read with
 * pread, so the file offset is untouched); fd must stay open until
 * mime_message_free(). lim may be NULL for the defaults. Returns the
 * message (free with mime_message_free), or NULL with *error_r on a read
 * error or out of memory.
 */
struct mime_message *mime_parse_fd(int fd, uint64_t size, const struct mime_limits *lim,
				   const char **error_r);
/* mime_parse_fd_at - (added) mime_parse_fd for a message that starts at
 * offset in fd (an mbox file, as store_msg_open() returns it); every
 * offset the views report stays relative to the message's first byte. */
struct mime_message *mime_parse_fd_at(int fd, uint64_t offset, uint64_t size,
				      const struct mime_limits *lim, const char **error_r);
/* mime_parse_mem - the same for a message in memory; data is not copied
 * and must outlive the returned message. */
struct mime_message *mime_parse_mem(const void *data, size_t size, const struct mime_limits *lim,
				    const char **error_r);
/* mime_message_free - free *msg (not the fd or memory) and set it NULL. */
void mime_message_free(struct mime_message **msg);

/* mime_part_count / mime_part_get - the part tree; part 0 is the message.
 * Parts are in stream order. The pointer stays valid until free. */
uint32_t mime_part_count(const struct mime_message *msg);
const struct mime_part *mime_part_get(const struct mime_message *msg, uint32_t idx);
/* mime_message_size - bytes of the message; crlf: with bare LF as CRLF. */
uint64_t mime_message_size(const struct mime_message *msg, bool crlf);
/* mime_buffer_peak - the largest number of bytes the parser and the views
 * held in buffers at once (window + accumulators), for memory tests. */
size_t mime_buffer_peak(const struct mime_message *msg);
/* mime_read - copy len bytes at off into buf; 0, or -1 with *error_r. */
int mime_read(struct mime_message *msg, uint64_t off, void *buf, size_t len, const char **error_r);

/* ---- headers (mime-header.c) ---- */

/*
 * mime_header_foreach_fn - one header field: name as written (NUL
 * terminated, at most 255 bytes), the unfolded value (leading and trailing
 * whitespace removed, capped at max_field_len, NULs kept), and the raw
 * field's physical range including its line end. Return 0 to go on,
 * 1 to stop.
 */
typedef int mime_header_fn(const char *name, const char *value, size_t value_len,
			   uint64_t raw_off, uint64_t raw_len, void *ctx);
/* mime_header_foreach - call fn for each field of part's header (at most
 * max_fields). Returns 0, or -1 with *error_r on a read error/OOM. */
int mime_header_foreach(struct mime_message *msg, uint32_t part, mime_header_fn *fn, void *ctx,
			const char **error_r);
/*
 * mime_header_get - unfolded value of the first field called name (case
 * insensitive) appended to out. Returns 1 found, 0 absent, -1 error.
 * mime_header_get_all - every occurrence, joined with sep.
 */
int mime_header_get(struct mime_message *msg, uint32_t part, const char *name,
		    struct strbuf *out, const char **error_r);
int mime_header_get_all(struct mime_message *msg, uint32_t part, const char *name,
			const char *sep, struct strbuf *out, const char **error_r);

/* ---- decoding (mime-header-decode.c, mime-charset.c) ---- */

/*
 * mime_header_decode - RFC 2047: decode encoded words of a header value
 * to UTF-8, appending to out. Whitespace between adjacent encoded words
 * vanishes; adjacent words of one charset are converted together (so a
 * character split across words survives). Unknown charsets, bad base64/Q
 * and raw 8-bit bytes that are not UTF-8 come out with U+FFFD in place of
 * what cannot be decoded. Returns 0, or -1 when out is full / OOM.
 */
int mime_header_decode(const char *in, size_t len, struct strbuf *out);

/* mime_charset_to_utf8 - convert len bytes in charset to UTF-8 (appended
 * to out); invalid sequences become U+FFFD. Returns 0, 1 when the charset
 * is unknown (bytes then copied through the UTF-8 check), -1 out full. */
int mime_charset_to_utf8(const char *charset, const void *in, size_t len, struct strbuf *out);
/* mime_utf8_sanitize - append in, replacing bytes that are not valid
 * UTF-8 with U+FFFD. 0 or -1 when out is full. */
int mime_utf8_sanitize(const void *in, size_t len, struct strbuf *out);

/* ---- Content-Type / Content-Disposition (mime-content.c) ---- */

struct mime_param {
	char *name;     /* lower case, without the RFC 2231 "*n*" suffix */
	char *raw;      /* value for IMAP: continuations joined; RFC 2231
			 * extended values keep their charset'lang'%XX form */
	char *value;    /* decoded UTF-8 value (2231 charset converted, 2047
			 * words in quoted values decoded as mail clients do) */
	bool extended;  /* raw is in charset'lang'%XX form (name ends in *) */
};

struct mime_content {
	char *type, *subtype;   /* lower case; for a disposition subtype is NULL */
	struct mime_param *params;
	size_t nparams;
};

/*
 * mime_content_parse - parse a Content-Type (disposition false) or a
 * Content-Disposition value. Returns 0 and fills *c (free with
 * mime_content_free), 1 when the value has no valid type (c empty),
 * -1 on OOM. At most 64 parameters and 100 continuation sections each.
 */
int mime_content_parse(const char *value, size_t len, bool disposition, struct mime_content *c);
void mime_content_free(struct mime_content *c);
/* mime_content_param - decoded value of parameter name, or NULL.
 * mime_content_param_raw - its raw value (what boundary= needs). */
const char *mime_content_param(const struct mime_content *c, const char *name);
const char *mime_content_param_raw(const struct mime_content *c, const char *name);

/* ---- addresses (mime-addr.c) ---- */

/*
 * One entry of an IMAP address list. A group start is (NULL NULL group
 * NULL), its end (NULL NULL NULL NULL), as RFC 3501 7.4.2 writes them.
 * Strings are raw (encoded words kept), quotes removed.
 */
struct mime_address {
	char *name, *adl, *mailbox, *host;
};

/* mime_address_parse - parse an RFC 5322 address-list (obsolete forms
 * tolerated, at most 1000 entries). Returns 0 with a new array in *list_r
 * (may be empty, free with mime_address_free), or -1 on OOM. */
int mime_address_parse(const char *value, size_t len, struct mime_address **list_r, size_t *count_r);
void mime_address_free(struct mime_address **list, size_t count);

/* ---- dates (mime-date.c) ---- */

/* mime_date_parse - RFC 5322 date-time (obsolete forms: 2/3-digit years,
 * named and military zones, comments, missing seconds or weekday).
 * Returns 0 with the UTC time in *t_r and the zone in minutes east of
 * UTC in *tz_min_r, or -1 when no date can be read. */
int mime_date_parse(const char *s, size_t len, time_t *t_r, int *tz_min_r);

/* ---- IMAP output (mime-imap.c) ---- */

/* mime_imap_nstring - append len bytes as an IMAP string: quoted when it
 * is 7-bit printable without '"' or '\', otherwise a literal {n}CRLF...;
 * NULs are dropped. data NULL gives NIL. 0 or -1 when out is full. */
int mime_imap_nstring(struct strbuf *out, const char *data, size_t len);

/* mime_envelope - the ENVELOPE of the message whose header is part's
 * (0 for the message, the child of a message/rfc822 part for nested
 * ones), appended to out. 0, or -1 with *error_r. */
int mime_envelope(struct mime_message *msg, uint32_t part, struct strbuf *out, const char **error_r);

/* mime_bodystructure - BODY (extended false) or BODYSTRUCTURE of part
 * (0 = the message), appended to out. 0, or -1 with *error_r. */
int mime_bodystructure(struct mime_message *msg, uint32_t part, bool extended,
		       struct strbuf *out, const char **error_r);

/* ---- BODY[section] (mime-section.c) ---- */

enum mime_section_kind {
	MIME_SECTION_RANGE,   /* stream [offset, offset+length) of the message */
	MIME_SECTION_DATA,    /* send data (HEADER.FIELDS[.NOT], built here) */
};

struct mime_section {
	enum mime_section_kind kind;
	uint32_t part;               /* part the section belongs to */
	uint64_t offset, length;     /* RANGE: physical bytes */
	uint64_t crlf_length;        /* size as sent with bare LF -> CRLF */
	struct strbuf data;          /* DATA: bytes to send, CRLF line ends */
};

/*
 * mime_section_find - resolve an IMAP section spec (the text between the
 * brackets, e.g. "", "1.2", "1.2.MIME", "3.HEADER", "TEXT",
 * "HEADER.FIELDS (From Subject)", "2.HEADER.FIELDS.NOT (X-A)"), case
 * insensitive. Returns 0 and fills *sec (release with
 * mime_section_free), 1 when the section does not exist in this message
 * (IMAP then sends an empty string), -1 with *error_r for a malformed spec,
 * a read error or OOM. <partial> is applied by the caller.
 */
int mime_section_find(struct mime_message *msg, const char *spec, struct mime_section *sec,
		      const char **error_r);
void mime_section_free(struct mime_section *sec);

/*
 * mime_section_reader - a RANGE section as IMAP sends it: each bare LF
 * becomes CRLF (so exactly crlf_length bytes come out). init skips the
 * first skip bytes of that stream (the <partial> origin); 0, or -1 with
 * *error_r. read fills up to len bytes: the count, 0 at the end, -1 with
 * *error_r on a read error. The reader holds no memory; msg must outlive it.
 */
struct mime_section_reader {
	struct mime_message *msg;
	uint64_t pos, end;
	unsigned char prev;
	bool pending_lf;
};
int mime_section_reader_init(struct mime_section_reader *r, struct mime_message *msg,
			     const struct mime_section *sec, uint64_t skip, const char **error_r);
ssize_t mime_section_reader_read(struct mime_section_reader *r, void *buf, size_t len,
				 const char **error_r);

/*
 * mime_header_fields - HEADER.FIELDS output for the header of part: each
 * field whose name is (not, when exclude) in names, exactly as stored
 * except that line ends become CRLF, then a blank line. 0 or -1.
 */
int mime_header_fields(struct mime_message *msg, uint32_t part, const char *const *names,
		       size_t nnames, bool exclude, struct strbuf *out, const char **error_r);

/* ---- text for SEARCH (mime-text.c) ---- */

enum mime_text_flags {
	MIME_TEXT_HEADERS = 1 << 0, /* "Name: decoded value\n" of the message header */
	MIME_TEXT_BODY = 1 << 1,    /* every text/ part, transfer-decoded, as UTF-8,
				     * and the decoded headers of attached messages */
};

struct mime_text_iter;

/* mime_text_iter_new - NULL on OOM. Chunks are at most about 64 KiB. */
struct mime_text_iter *mime_text_iter_new(struct mime_message *msg, unsigned flags);
/* mime_text_iter_next - 1 with the next UTF-8 chunk in *data_r and *len_r
 * (valid until the next call), 0 at the end, -1 with *error_r. */
int mime_text_iter_next(struct mime_text_iter *it, const char **data_r, size_t *len_r,
			const char **error_r);
void mime_text_iter_free(struct mime_text_iter **it);

/* mime_text_contains - 1 when needle (UTF-8) occurs in the text selected
 * by flags, 0 when not, -1 with *error_r. Case-insensitive for ASCII,
 * Latin-1, Greek and Cyrillic letters (simple one-to-one folding, no
 * normalisation); matches across chunk borders. */
int mime_text_contains(struct mime_message *msg, unsigned flags, const char *needle,
		       const char **error_r);

/* mime_header_field_start - whether line (len bytes, no line end) starts
 * a header field: a non-empty name of printable non-space characters
 * (RFC 5322 2.2 ftext) followed by ':'. The SMTP role and the pickup
 * socket use it to find where a message's header block ends. */
bool mime_header_field_start(const char *line, size_t len);

#endif
