/*
 * mime-private.h - internals shared by the store/mime-*.c files: the byte
 * source (fd or memory) with its bounded read window, the line reader and
 * the message structure. Nothing outside store/mime-*.c includes this.
 */
#ifndef POSTERN_MIME_PRIVATE_H
#define POSTERN_MIME_PRIVATE_H

#include <iconv.h>

#include "mime.h"

/* Bytes of a long line's start that the line reader copies aside. */
#define MIME_LINE_HEAD 1024

struct mime_src {
	int fd;                      /* -1 for memory */
	const unsigned char *mem;
	uint64_t size;
	uint64_t base;               /* fd: file offset of the message's byte 0 */
	unsigned char *buf;          /* fd window */
	size_t cap;                  /* window size */
	uint64_t buf_off;
	size_t buf_len;
	bool read_error;             /* a pread failed or the file was short */
};

struct mime_line {
	uint64_t start;      /* first byte */
	uint64_t eol;        /* first byte of the line end (or end of data) */
	uint64_t next;       /* first byte after the line */
	const unsigned char *head;  /* first content bytes, at most MIME_LINE_HEAD */
	size_t head_len;
	bool has_lf, bare_lf;
	unsigned char headbuf[MIME_LINE_HEAD];
};

struct mime_message {
	struct mime_src src;
	struct mime_limits lim;
	struct mime_part *parts;
	uint32_t nparts, parts_cap;
	size_t peak;
};

/* mime_src_get - pointer to the bytes at off: *avail_r is at least
 * min(2 * MIME_LINE_HEAD, size - off) and at most the window (0 at the
 * end). The pointer is valid until the next call. NULL on a read error. */
const unsigned char *mime_src_get(struct mime_src *s, uint64_t off, size_t *avail_r);
/* mime_src_line - the line starting at off, not going past limit.
 * 1 with *l filled, 0 when off >= limit, -1 on a read error. */
int mime_src_line(struct mime_src *s, uint64_t off, uint64_t limit, struct mime_line *l);
/* mime_src_append - append the bytes [off, off+len) to out, stopping
 * silently when out reaches cap bytes. 0, or -1 read error / OOM. */
int mime_src_append(struct mime_src *s, uint64_t off, uint64_t len, struct strbuf *out, size_t cap);

/* mime_sb_append_cap - append as much of p as fits below cap bytes total.
 * 0, or -1 on OOM. */
int mime_sb_append_cap(struct strbuf *out, const void *p, size_t n, size_t cap);

/* mime_note_peak - remember a buffer use for mime_buffer_peak(). */
void mime_note_peak(struct mime_message *msg, size_t bytes);

/* mime_is_ws - the whitespace of header folding. */
static inline bool mime_is_ws(int c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* mime_field_name_len - length of the field name when head starts a
 * header field ("Name:" or obsolete "Name  :"), else 0. *colon_r gets the
 * index of the colon. */
size_t mime_field_name_len(const unsigned char *head, size_t len, size_t *colon_r);

/* mime_part_is_message / mime_part_is_multipart - split parts only. */
static inline bool mime_part_is_multipart(const struct mime_part *p)
{
	return (p->flags & MIME_PART_MULTIPART) && !(p->flags & MIME_PART_OPAQUE);
}

static inline bool mime_part_is_message(const struct mime_part *p)
{
	return (p->flags & MIME_PART_MESSAGE) && !(p->flags & MIME_PART_OPAQUE) &&
	       p->first_child != MIME_NONE;
}

/* mime_hex_value - 0..15 or -1. */
int mime_hex_value(unsigned char c);

/*
 * mime_conv - a streaming charset -> UTF-8 converter (mime-charset.c).
 * open: 0, or 1 when the charset is unknown (input is then treated as
 * UTF-8 with invalid bytes replaced). feed: convert len bytes; an
 * incomplete sequence at the end is kept for the next feed unless final.
 * 0 or -1 when out is full / OOM.
 */
struct mime_conv {
	iconv_t cd;
	bool utf8;
	unsigned char carry[16];
	size_t ncarry;
};
int mime_conv_open(struct mime_conv *c, const char *charset);
int mime_conv_feed(struct mime_conv *c, const void *in, size_t len, bool final, struct strbuf *out);
void mime_conv_close(struct mime_conv *c);

#endif
