/*
 * maildir-dovecot.h - Dovecot's Maildir side files, so that a Maildir
 * Dovecot used is taken over without clients noticing (store/maildir.c,
 * the unit tests, the fuzz harness tests/fuzz/fuzz_maildir_name.c).
 *
 * dovecot-uidlist (Dovecot's Maildir format documentation, "IMAP UID
 * mapping"): a header line, version 3: "3 V<uidvalidity> N<nextuid>
 * G<guid>" (fields in any order, others ignored); version 1 (Courier's
 * courierimapuiddb layout): "1 <uidvalidity> <nextuid>". Then one line
 * per message: "<uid> [<ext fields>] :<file name>" (v3) or "<uid> <file
 * name>" (v1). The name may carry an old ":2,FLAGS" part; files are
 * matched by their base (up to ':'). The header's N is updated lazily by
 * Dovecot, so the real next UID is max(N, highest listed UID + 1).
 *
 * dovecot-keywords: lines "<index> <keyword>"; index 0..25 is the letter
 * 'a'..'z' in the ":2," info of the file names (after the standard flag
 * letters).
 *
 * Parsers take memory (pure, fuzzable); readers add bounded file I/O.
 */
#ifndef POSTERN_MAILDIR_DOVECOT_H
#define POSTERN_MAILDIR_DOVECOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util.h"

#define MAILDIR_KEYWORDS_MAX 26       /* letters a..z */
#define MAILDIR_SIDE_FILE_MAX (64u << 20) /* bytes read of a side file */

struct maildir_uidlist_entry {
	char *base;      /* file base name (no ":2,...") */
	uint32_t uid;
};

struct maildir_uidlist {
	unsigned version;        /* 1 or 3 */
	uint32_t uidvalidity;    /* 0: header had none */
	uint32_t nextuid;        /* max(N, highest listed UID + 1) */
	struct maildir_uidlist_entry *v; /* sorted by base */
	size_t n;
};

/*
 * maildir_uidlist_parse - parse len bytes of a dovecot-uidlist. Lines
 * that do not parse (and a name listed twice: neither is used) are
 * skipped. Returns 0 (ul filled, free with maildir_uidlist_free), or -1
 * with *error_r (static text): not a uidlist version 1 or 3, no
 * UIDVALIDITY, out of memory.
 */
int maildir_uidlist_parse(const char *data, size_t len, struct maildir_uidlist *ul,
			  const char **error_r);
/* maildir_uidlist_read - read path (at most MAILDIR_SIDE_FILE_MAX bytes,
 * symlinks not followed) and parse it. 1 read, 0 no such file, -1 with
 * *error_r (static). */
int maildir_uidlist_read(const char *path, struct maildir_uidlist *ul, const char **error_r);
/* maildir_uidlist_lookup - the UID listed for base[0..len), 0 if none. */
uint32_t maildir_uidlist_lookup(const struct maildir_uidlist *ul, const char *base, size_t len);
void maildir_uidlist_free(struct maildir_uidlist *ul);

struct maildir_keywords {
	char *name[MAILDIR_KEYWORDS_MAX]; /* NULL: letter unused */
};

/* maildir_keywords_parse - parse a dovecot-keywords file's bytes; bad
 * lines, indexes over 25 and names that are no IMAP atom are skipped.
 * 0, or -1 on out of memory. Free with maildir_keywords_free. */
int maildir_keywords_parse(const char *data, size_t len, struct maildir_keywords *kw);
/* maildir_keywords_read - read and parse path: 1, 0 no such file, -1. */
int maildir_keywords_read(const char *path, struct maildir_keywords *kw);
void maildir_keywords_free(struct maildir_keywords *kw);
/* maildir_keywords_from_letters - the keywords named by the letters a..z
 * in letters (other characters ignored), space-separated, appended to out.
 * 0, or -1 when out is full. */
int maildir_keywords_from_letters(const struct maildir_keywords *kw, const char *letters,
				  struct strbuf *out);
/* maildir_keywords_format - the dovecot-keywords text of kw into out.
 * 0 or -1 (out full). */
int maildir_keywords_format(const struct maildir_keywords *kw, struct strbuf *out);

#endif
