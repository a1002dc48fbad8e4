/*
 * local-pipe-private.h - what local-pipe.c (|command), local-pipe-file.c
 * (/file) and local-pipe-content.c (the message as they write it) share.
 * Not for other modules: they use local-pipe.h.
 */
#ifndef POSTERN_SMTP_LOCAL_PIPE_PRIVATE_H
#define POSTERN_SMTP_LOCAL_PIPE_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#include "smtp/queue/local-pipe.h"

#define LOCAL_PIPE_CHUNK 65536

/*
 * The message as a command or a file gets it, produced a piece at a
 * time from the queue file (pread, the fd position untouched): the
 * prefix (mbox From_ line for files, Return-Path:, Delivered-To:), then
 * the content with CR LF turned into LF, for mbox with "From " at the
 * start of a line quoted as ">From " and an empty line at the end.
 */
struct local_pipe_content {
	int fd;
	off_t off, end;
	bool mbox;
	char *prefix;            /* new memory */
	size_t prefix_len, prefix_pos;
	char in[LOCAL_PIPE_CHUNK];
	size_t in_pos, in_len;
	bool line_start;         /* the next content byte starts a line */
	bool pending_cr;
	char held[5];            /* a possible "From " at a line start */
	size_t n_held;
	char last;               /* last byte produced (mbox: end with "\n\n") */
	int tail;                /* mbox end: 0 not yet, 1 done */
	bool eof;
};

/* local_pipe_content_init - 0, or -1 (out of memory). now is the From_
 * line's time. */
int local_pipe_content_init(struct local_pipe_content *c, const struct local_pipe_req *req, bool mbox,
			    time_t now);
void local_pipe_content_free(struct local_pipe_content *c);

/* local_pipe_content_read - up to cap (>= 16) bytes of output into out.
 * Returns the count, 0 at the end, -1 with errno when reading failed. */
ssize_t local_pipe_content_read(struct local_pipe_content *c, char *out, size_t cap);

/* local_pipe_set - fill in *out (text is cut to fit). */
void local_pipe_set(struct local_pipe_result *out, enum qdest_state result, const char *dsn, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* local_pipe_soft_errno - whether errno e is worth another try later
 * (full disk, quota, no memory or descriptors, I/O error). */
bool local_pipe_soft_errno(int e);

#endif
