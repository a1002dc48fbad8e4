/*
 * imap-special-use.c - SPECIAL-USE folders at login (RFC 6154): make
 * sure the user has a Sent, Drafts, Trash, Junk and Archive mailbox
 * carrying the \Sent, \Drafts, \Trash, \Junk and \Archive attribute, so
 * that Thunderbird, Apple Mail, Outlook, K-9 and Foxmail all file their
 * copies in the same folders instead of each creating its own.
 *
 * Called by the session code right after a successful login
 * (imap_special_use_autocreate), when imap_autocreate_special_use = yes.
 *
 * For each use with no mailbox flagged yet: an existing folder with a
 * name other servers and clients use for it ("Sent Items", "Deleted
 * Messages", "Spam", Foxmail's and other Chinese clients' "已发送",
 * "草稿箱", "已删除", "垃圾邮件", ...; at the top level or below INBOX,
 * case-insensitively) gets the flag, the first in the table's order;
 * only when there is none is the default name created (and subscribed).
 * This runs at every login and is idempotent: a use that already has a
 * mailbox is left alone, a deleted special folder comes back at the next
 * login (as Dovecot's auto = create does). Failures are logged, never
 * fatal: the login goes on.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "imap/imap-private.h"
#include "log.h"
#include "store/store.h"

struct special_def {
	unsigned flag;
	const char *create;         /* default name to create */
	const char *const *aliases; /* existing names to adopt, best first */
};

static const char *const sent_names[] = {
	"Sent", "Sent Messages", "Sent Items", "Sent Mail", "Sent-Mail", "Outbox sent",
	"\xe5\xb7\xb2\xe5\x8f\x91\xe9\x80\x81",                         /* 已发送 */
	"\xe5\xb7\xb2\xe5\x8f\x91\xe9\x80\x81\xe9\x82\xae\xe4\xbb\xb6", /* 已发送邮件 */
	"\xe5\xb7\xb2\xe5\x82\xb3\xe9\x80\x81",                         /* 已傳送 */
	"Gesendet", "Gesendete Objekte", "Envoy\xc3\xa9s", NULL,
};
static const char *const drafts_names[] = {
	"Drafts", "Draft", "\xe8\x8d\x89\xe7\xa8\xbf\xe7\xae\xb1", /* 草稿箱 */
	"\xe8\x8d\x89\xe7\xa8\xbf",                                 /* 草稿 */
	"Entw\xc3\xbcrfe", "Brouillons", NULL,
};
static const char *const trash_names[] = {
	"Trash", "Deleted Messages", "Deleted Items", "Deleted", "Bin",
	"\xe5\xb7\xb2\xe5\x88\xa0\xe9\x99\xa4",                         /* 已删除 */
	"\xe5\xb7\xb2\xe5\x88\xa0\xe9\x99\xa4\xe9\x82\xae\xe4\xbb\xb6", /* 已删除邮件 */
	"\xe5\xb7\xb2\xe5\x88\xaa\xe9\x99\xa4",                         /* 已刪除 */
	"Papierkorb", "Gel\xc3\xb6scht", "Corbeille", NULL,
};
static const char *const junk_names[] = {
	"Junk", "Spam", "Junk E-mail", "Junk Email", "Junk Mail", "Bulk Mail",
	"\xe5\x9e\x83\xe5\x9c\xbe\xe9\x82\xae\xe4\xbb\xb6", /* 垃圾邮件 */
	"\xe5\x9e\x83\xe5\x9c\xbe\xe7\xae\xb1",             /* 垃圾箱 */
	"\xe5\x9e\x83\xe5\x9c\xbe\xe9\x83\xb5\xe4\xbb\xb6", /* 垃圾郵件 */
	NULL,
};
static const char *const archive_names[] = {
	"Archive", "Archives", "\xe5\xbd\x92\xe6\xa1\xa3", /* 归档 */
	"\xe5\xad\x98\xe6\xa1\xa3",                         /* 存档 */
	"Archiv", NULL,
};

static const struct special_def defs[] = {
	{ STORE_SPECIAL_SENT, "Sent", sent_names },
	{ STORE_SPECIAL_DRAFTS, "Drafts", drafts_names },
	{ STORE_SPECIAL_TRASH, "Trash", trash_names },
	{ STORE_SPECIAL_JUNK, "Junk", junk_names },
	{ STORE_SPECIAL_ARCHIVE, "Archive", archive_names },
};
#define N_DEFS (sizeof(defs) / sizeof(defs[0]))

struct scan {
	unsigned have;                /* uses some mailbox already carries */
	char *adopt[N_DEFS];          /* existing mailbox to flag, per def */
	size_t adopt_rank[N_DEFS];    /* its position in the alias list */
	unsigned adopt_flags[N_DEFS]; /* its current flags */
	bool oom;
};

/* Position of name (top level or below INBOX) in aliases, or SIZE_MAX. */
static size_t alias_rank(const char *const *aliases, const char *name)
{
	if (strncmp(name, "INBOX/", 6) == 0)
		name += 6;
	for (size_t i = 0; aliases[i]; i++)
		if (strcasecmp(aliases[i], name) == 0)
			return i;
	return (size_t)-1;
}

static int scan_cb(const struct store_mailbox_info *info, void *ctx)
{
	struct scan *sc = ctx;

	if (!info->exists)
		return 0;
	sc->have |= info->special_use;
	for (size_t d = 0; d < N_DEFS; d++) {
		size_t rank = alias_rank(defs[d].aliases, info->name);

		/* a folder already flagged for another use is not adopted */
		if (rank == (size_t)-1 || (info->special_use & ~defs[d].flag) != 0)
			continue;
		if (sc->adopt[d] != NULL && sc->adopt_rank[d] <= rank)
			continue;
		free(sc->adopt[d]);
		if ((sc->adopt[d] = strdup(info->name)) == NULL) {
			sc->oom = true;
			return 1;
		}
		sc->adopt_rank[d] = rank;
		sc->adopt_flags[d] = info->special_use;
	}
	return 0;
}

void imap_special_use_autocreate(struct imap_session *s)
{
	struct scan sc;
	struct store_error err;

	if (s->store == NULL || (s->cfg != NULL && !config_bool(s->cfg, "imap_autocreate_special_use")))
		return;
	memset(&sc, 0, sizeof(sc));
	if (store_mailbox_list(s->store, scan_cb, &sc, &err) < 0 || sc.oom) {
		log_warn("imap %s: user %s: special-use folders not checked: %s", s->id,
			 s->user ? s->user : "?", sc.oom ? "out of memory" : err.text);
		goto out;
	}
	for (size_t d = 0; d < N_DEFS; d++) {
		const char *name = sc.adopt[d] ? sc.adopt[d] : defs[d].create;

		if (sc.have & defs[d].flag)
			continue;
		if (sc.adopt[d] != NULL) {
			if (store_mailbox_set_special_use(s->store, name,
							  sc.adopt_flags[d] | defs[d].flag, &err) < 0)
				goto fail;
			log_info("imap %s: user %s: existing folder %s marked as special-use %s",
				 s->id, s->user ? s->user : "?", name, defs[d].create);
		} else {
			/* EXISTS here means the default name is taken by a folder
			 * flagged for another use: leave it as the user has it. */
			if (store_mailbox_create(s->store, name, defs[d].flag, &err) < 0)
				goto fail;
			if (store_mailbox_subscribe(s->store, name, true, &err) < 0)
				goto fail;
			log_info("imap %s: user %s: created special-use folder %s", s->id,
				 s->user ? s->user : "?", name);
		}
		sc.have |= defs[d].flag;
		continue;
fail:
		log_warn("imap %s: user %s: special-use folder %s: %s", s->id,
			 s->user ? s->user : "?", name, err.text);
	}
out:
	for (size_t d = 0; d < N_DEFS; d++)
		free(sc.adopt[d]);
}
