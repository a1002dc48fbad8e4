/*
 * maildir-name.h - Maildir file names: parse and build (store/maildir*.c,
 * the fuzz harness tests/fuzz/fuzz_maildir_name.c, the unit tests).
 *
 * A name is BASE[:2,INFO] (https://cr.yp.to/proto/maildir.html): BASE is
 * the unique name, "SECONDS.M<usec>P<pid>Q<n>.HOST" for ours (the spec's
 * "modern" form; '/' ':' ',' in HOST are written \057 \072 \054 as
 * Dovecot does), possibly followed by ",KEY=VALUE" fields: S= physical
 * size and W= RFC822.SIZE (Dovecot's), U= the IMAP UID (Postern's; as
 * mbsync does, other readers ignore it). INFO is the flag letters in ASCII
 * order: D draft, F flagged, P passed, R replied, S seen, T trashed;
 * letters Postern has no flag for (P, Dovecot's keyword letters a-z) are
 * kept as "extra" and survive flag changes.
 */
#ifndef POSTERN_MAILDIR_NAME_H
#define POSTERN_MAILDIR_NAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define MAILDIR_NAME_MAX 255
#define MAILDIR_EXTRA_MAX 64

struct maildir_name {
	size_t base_len;        /* bytes of BASE (the name up to ':') */
	uint32_t uid;           /* U=, 0 if absent or malformed */
	uint64_t size;          /* S=, 0 if absent */
	uint64_t vsize;         /* W=, 0 if absent */
	time_t time;            /* leading SECONDS, 0 if not a number */
	bool has_info;          /* ":2," present */
	unsigned flags;         /* STORE_FLAG_* from INFO */
	char extra[MAILDIR_EXTRA_MAX]; /* other INFO letters, sorted, NUL-terminated */
};

/* maildir_name_parse - parse name[0..len). 0, or -1 for a name that is not
 * a message file (empty, too long, starts with '.', contains '/' or NUL). */
int maildir_name_parse(const char *name, size_t len, struct maildir_name *n);

/* maildir_info_format - ":2," + the letters of flags and extra in ASCII
 * order (duplicates dropped) into buf. Returns the length (truncated to
 * size - 1). */
size_t maildir_info_format(char *buf, size_t size, unsigned flags, const char *extra);

/* maildir_base_with_uid - base (base_len bytes) with its U= field set to
 * uid (added or replaced) into buf. Returns 0, or -1 when it does not fit. */
int maildir_base_with_uid(char *buf, size_t size, const char *base, size_t base_len,
			  uint32_t uid);

/* maildir_unique_name - a new "SECONDS.M<usec>P<pid>Q<n>.HOST" into buf;
 * *counter is the per-process Q number. 0, or -1 when it does not fit. */
int maildir_unique_name(char *buf, size_t size, const char *host, unsigned *counter);

#endif
