/*
 * imap-sync.c - the selected mailbox as this session sees it: the view
 * (message sequence number -> UID), \Recent ownership, and the untagged
 * updates that bring the client's view in line with the store: EXPUNGE,
 * EXISTS, RECENT and FETCH (FLAGS) for changes by other sessions.
 *
 * Called by cmd-select.c (open/close), imap-session.c (before every tagged
 * reply), cmd-idle.c (at once while idling) and the handlers of FETCH,
 * STORE, SEARCH, COPY, MOVE (seq<->uid).
 *
 * RFC 3501 7.4.1 (EXPUNGE renumbers: we send them from the highest
 * sequence number down, so every number sent is right as it stands, and
 * never while a sequence-number FETCH/STORE/SEARCH is answered:
 * allow_expunge false keeps the vanished UIDs in the view until a later
 * report may send them), 7.3.1/7.3.2 (EXISTS, RECENT), 2.3.2 (\Recent:
 * one session gets it), RFC 2177 (IDLE).
 *
 * Change detection costs nothing when nothing changed: the store's sync is
 * cheap without changes, and the full comparison (one pass over the
 * mailbox's UIDs in the index) runs only when the store reports a change,
 * a notification arrived, or HIGHESTMODSEQ/the message count moved.
 * Flag changes are found by modseq (messages with modseq > the last one
 * reported), which is also what CONDSTORE/QRESYNC will build on.
 *
 * \Recent: at SELECT the store hands the first read-write opener the
 * messages above the mailbox's recent floor (they are the top
 * status.recent UIDs); messages that arrive while the mailbox is selected
 * read-write are claimed with store_mailbox_claim_recent when EXISTS
 * reports them, which moves the floor past them: they are \Recent in
 * this session only, unless another session's SELECT took them first.
 */
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "log.h"
#include "imap/imap-private.h"

/* Own flag changes remembered between reports by UID; beyond them, by
 * runs of modseqs (each change takes highestmodseq + 1, so a STORE over
 * thousands of messages is one run); beyond those: a redundant FETCH. */
#define OWN_MAX 256
#define OWN_RUNS 16

struct sync_priv {
	bool notify_ok;
	struct strbuf keywords;     /* " kw1 kw2": keywords the client was told in FLAGS */
	uint32_t first_unseen_uid;  /* at SELECT */
	struct imap_cmd *idle_cmd;
	/* allocated on the first own change, freed at the report: an idle
	 * session keeps no room for them (was 4 KB per selected session) */
	struct own_change { uint32_t uid; uint64_t modseq; } *own;
	size_t n_own, cap_own;
	struct { uint64_t lo, hi; } own_runs[OWN_RUNS]; /* every modseq in lo..hi is ours */
	size_t n_own_runs;
	bool in_report;
};

/* The view keeps its private part right after the public struct. */
struct sel_full {
	struct imap_selected pub;
	struct sync_priv priv;
};

static struct sync_priv *sp(const struct imap_session *s)
{
	return &((struct sel_full *)s->sel)->priv;
}

/* ---- lookups ---- */

uint32_t imap_seq_to_uid(const struct imap_session *s, uint32_t seq)
{
	if (s->sel == NULL || seq == 0 || seq > s->sel->count)
		return 0;
	return s->sel->uids[seq - 1];
}

static size_t lower_bound(const uint32_t *a, size_t n, uint32_t v)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (a[mid] < v)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

uint32_t imap_uid_to_seq(const struct imap_session *s, uint32_t uid)
{
	size_t i;

	if (s->sel == NULL || uid == 0)
		return 0;
	i = lower_bound(s->sel->uids, s->sel->count, uid);
	return i < s->sel->count && s->sel->uids[i] == uid ? (uint32_t)(i + 1) : 0;
}

bool imap_has_recent(const struct imap_session *s, uint32_t uid)
{
	size_t i;

	if (s->sel == NULL || s->sel->n_recent_uids == 0)
		return false;
	i = lower_bound(s->sel->recent_uids, s->sel->n_recent_uids, uid);
	return i < s->sel->n_recent_uids && s->sel->recent_uids[i] == uid;
}

void imap_sync_own_change(struct imap_session *s, uint32_t uid, uint64_t modseq)
{
	struct sync_priv *p;

	if (s->sel == NULL)
		return;
	p = sp(s);
	for (size_t i = 0; i < p->n_own; i++) {
		if (p->own[i].uid == uid) {
			p->own[i].modseq = modseq;
			return;
		}
	}
	if (p->n_own == p->cap_own && p->cap_own < OWN_MAX) {
		size_t cap = p->cap_own ? p->cap_own * 2 : 16;
		struct own_change *o = realloc(p->own, cap * sizeof(*o));

		if (o != NULL) { /* else the runs below, or a redundant FETCH */
			p->own = o;
			p->cap_own = cap;
		}
	}
	if (p->n_own < p->cap_own) {
		p->own[p->n_own].uid = uid;
		p->own[p->n_own].modseq = modseq;
		p->n_own++;
		return;
	}
	/* A modseq names one change of one message, so "the message's
	 * modseq is one we were given" is as good as the UID entry; a run
	 * grows only by the very next modseq, so no other session's change
	 * can hide inside it. */
	for (size_t i = 0; i < p->n_own_runs; i++)
		if (modseq >= p->own_runs[i].lo && modseq <= p->own_runs[i].hi)
			return;
	if (p->n_own_runs > 0 && modseq == p->own_runs[p->n_own_runs - 1].hi + 1) {
		p->own_runs[p->n_own_runs - 1].hi = modseq;
	} else if (p->n_own_runs < OWN_RUNS) {
		p->own_runs[p->n_own_runs].lo = modseq;
		p->own_runs[p->n_own_runs].hi = modseq;
		p->n_own_runs++;
	}
}

static void own_reset(struct sync_priv *p)
{
	free(p->own);
	p->own = NULL;
	p->n_own = p->cap_own = 0;
	p->n_own_runs = 0;
}

static bool own_change(const struct sync_priv *p, uint32_t uid, uint64_t modseq)
{
	for (size_t i = 0; i < p->n_own; i++)
		if (p->own[i].uid == uid)
			return p->own[i].modseq >= modseq;
	for (size_t i = 0; i < p->n_own_runs; i++)
		if (modseq >= p->own_runs[i].lo && modseq <= p->own_runs[i].hi)
			return true;
	return false;
}

/* ---- the current UIDs from the store ---- */

struct uid_list {
	uint32_t *uids;
	size_t n, cap;
	bool oom;
	struct strbuf *keywords;    /* add keywords seen here (NULL: don't) */
	bool new_keyword;
	uint32_t first_unseen_uid;
};

/* Keywords the client knows: one bounded list per view. RFC 3501 7.2.6:
 * a FLAGS response lists them, and a new one is announced with FLAGS. */
#define KEYWORDS_LIST_MAX (STORE_KEYWORDS_MAX * 4)

static bool keyword_known(const struct strbuf *sb, const char *kw, size_t n)
{
	const char *p = sb->data;

	while (p && (p = strstr(p, kw)) != NULL) {
		if (p > sb->data && p[-1] == ' ' && (p[n] == ' ' || p[n] == '\0'))
			return true;
		p++;
	}
	return false;
}

/* keywords_add - the keywords of one message; true when one was new. */
static bool keywords_add(struct strbuf *sb, const char *keywords)
{
	const char *p = keywords;
	bool added = false;

	while (p && *p) {
		const char *e = strchr(p, ' ');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		char kw[256];

		if (n > 0 && n < sizeof(kw)) {
			memcpy(kw, p, n);
			kw[n] = '\0';
			if (!keyword_known(sb, kw, n) && sb->len + n + 1 <= KEYWORDS_LIST_MAX &&
			    strbuf_putc(sb, ' ') == 0) {
				if (strbuf_puts(sb, kw) == 0)
					added = true;
				else
					sb->data[--sb->len] = '\0';
			}
		}
		p += n;
		while (*p == ' ')
			p++;
	}
	return added;
}

static int push(struct uid_list *l, uint32_t uid)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		uint32_t *u = realloc(l->uids, cap * sizeof(*u));
		if (u == NULL) {
			l->oom = true;
			return -1;
		}
		l->uids = u;
		l->cap = cap;
	}
	l->uids[l->n++] = uid;
	return 0;
}

static int collect_cb(const struct store_msg *m, void *ctx)
{
	struct uid_list *l = ctx;

	if (l->keywords && m->keywords && *m->keywords && keywords_add(l->keywords, m->keywords))
		l->new_keyword = true;
	if (l->first_unseen_uid == 0 && !(m->flags & STORE_FLAG_SEEN))
		l->first_unseen_uid = m->uid;
	return push(l, m->uid) < 0 ? -1 : 0;
}

static int recent_add(struct imap_selected *sel, uint32_t uid)
{
	if (sel->n_recent_uids > 0 && sel->recent_uids[sel->n_recent_uids - 1] >= uid)
		return 0;
	uint32_t *r = realloc(sel->recent_uids, (sel->n_recent_uids + 1) * sizeof(*r));
	if (r == NULL)
		return -1;
	sel->recent_uids = r;
	sel->recent_uids[sel->n_recent_uids++] = uid;
	return 0;
}

/* ---- open / close ---- */

static void parked_drop(struct imap_session *s);

static void notify_cb(struct store_mailbox *box, void *ctx)
{
	struct imap_session *s = ctx;

	(void)box;
	if (s->sel == NULL)
		return;
	s->sel->changed = true;
	if (sp(s)->idle_cmd && !sp(s)->in_report)
		imap_sync_report(s, true);
}

int imap_select_open(struct imap_session *s, const char *name, bool readonly,
		     struct store_error *err)
{
	struct sel_full *f;
	struct imap_selected *sel;
	struct store_status st;
	struct uid_list l = { 0 };
	struct store_mailbox *keep = NULL;
	bool keep_notify = false;

	if (s->sel)
		imap_select_close_keep(s);
	/* A re-SELECT of the same mailbox keeps the store's mailbox and its
	 * change notification: the watch's events let the sync trust the
	 * index, where a fresh open would re-read a cur/ that changed in
	 * the last 2 s (every round of STORE/APPEND/EXPUNGE then SELECT). */
	if (s->parked_box != NULL && s->parked_readonly == readonly &&
	    strcmp(s->parked_name, name) == 0) {
		keep = s->parked_box;
		keep_notify = s->parked_notify;
		s->parked_box = NULL;
	}
	parked_drop(s);
	if (keep != NULL && store_mailbox_reopen(keep, err) < 0) {
		store_mailbox_close(&keep);
		keep_notify = false;
	}
	f = calloc(1, sizeof(*f));
	if (f == NULL || (f->pub.name = strdup(name)) == NULL) {
		free(f);
		store_mailbox_close(&keep);
		memset(err, 0, sizeof(*err));
		err->cls = STORE_ERR_TEMP;
		str_copy(err->text, "Out of memory", sizeof(err->text));
		return -1;
	}
	sel = &f->pub;
	strbuf_init(&f->priv.keywords, KEYWORDS_LIST_MAX + 1);
	l.keywords = &f->priv.keywords;
	sel->box = keep != NULL ? keep
			 : store_mailbox_open(s->store, name, readonly ? STORE_OPEN_READONLY : 0, err);
	if (sel->box == NULL) {
		strbuf_free(&f->priv.keywords);
		free(sel->name);
		free(f);
		return -1;
	}
	sel->readonly = readonly;
	if (store_mailbox_foreach(sel->box, 0, collect_cb, &l, err) != 0) {
		if (l.oom) {
			err->cls = STORE_ERR_TEMP;
			str_copy(err->text, "Out of memory", sizeof(err->text));
		}
		free(l.uids);
		strbuf_free(&f->priv.keywords);
		store_mailbox_close(&sel->box);
		free(sel->name);
		free(f);
		return -1;
	}
	f->priv.first_unseen_uid = l.first_unseen_uid;
	store_mailbox_status(sel->box, &st);
	sel->uids = l.uids;
	sel->count = (uint32_t)l.n;
	sel->alloc = (uint32_t)l.cap;
	sel->uidvalidity = st.uidvalidity;
	sel->uidnext = st.uidnext;
	sel->highestmodseq = st.highestmodseq;
	/* the recent messages are the top st.recent UIDs (all above the floor) */
	uint32_t nrec = st.recent <= sel->count ? st.recent : sel->count;
	if (nrec > 0) {
		sel->recent_uids = malloc(nrec * sizeof(uint32_t));
		if (sel->recent_uids) {
			memcpy(sel->recent_uids, sel->uids + (sel->count - nrec), nrec * sizeof(uint32_t));
			sel->n_recent_uids = nrec;
		}
	}
	sel->recent = sel->n_recent_uids;
	s->sel = sel;
	struct store_error nerr;
	if (keep_notify) {
		f->priv.notify_ok = true; /* the watch kept from the last SELECT */
		return 0;
	}
	f->priv.notify_ok = store_mailbox_notify(sel->box, s->role->base, notify_cb, s, &nerr) == 0;
	if (!f->priv.notify_ok)
		log_warn("imap(%s): no change notification for %s (%s); polling instead", s->user ? s->user : "?",
			 name, nerr.text);
	return 0;
}

/* parked_drop - close a parked mailbox (none: nothing). */
static void parked_drop(struct imap_session *s)
{
	store_mailbox_close(&s->parked_box);
	x_free(&s->parked_name);
}

static void select_close(struct imap_session *s, bool keep)
{
	struct imap_selected *sel = s->sel;

	parked_drop(s);
	if (sel == NULL)
		return;
	if (keep && sel->box != NULL && (s->parked_name = strdup(sel->name)) != NULL) {
		s->parked_box = sel->box;
		s->parked_readonly = sel->readonly;
		s->parked_notify = sp(s)->notify_ok;
		sel->box = NULL;
	}
	store_mailbox_close(&sel->box);
	strbuf_free(&((struct sel_full *)sel)->priv.keywords);
	own_reset(&((struct sel_full *)sel)->priv);
	free(sel->uids);
	free(sel->recent_uids);
	free(sel->name);
	s->sel = NULL;
	free((struct sel_full *)sel);
}

void imap_select_close(struct imap_session *s)
{
	select_close(s, false);
}

void imap_select_close_keep(struct imap_session *s)
{
	select_close(s, true);
}

void imap_sync_set_idle(struct imap_session *s, struct imap_cmd *idle_cmd)
{
	if (s->sel)
		sp(s)->idle_cmd = idle_cmd;
}

bool imap_sync_poll_needed(const struct imap_session *s)
{
	return s->sel && !sp(s)->notify_ok;
}

const char *imap_select_keywords(const struct imap_session *s)
{
	if (s->sel == NULL || sp(s)->keywords.data == NULL)
		return "";
	return sp(s)->keywords.data;
}

uint32_t imap_select_first_unseen(const struct imap_session *s)
{
	return s->sel ? imap_uid_to_seq(s, sp(s)->first_unseen_uid) : 0;
}

void imap_sync_send_flags(struct imap_session *s)
{
	const char *kws = imap_select_keywords(s);

	if (s->sel == NULL)
		return;
	imap_send_untagged(s, "FLAGS (" IMAP_SYSTEM_FLAGS "%s)", kws);
	if (s->sel->readonly)
		imap_send_untagged(s, "OK [PERMANENTFLAGS ()] Read-only mailbox.");
	else
		imap_send_untagged(s, "OK [PERMANENTFLAGS (" IMAP_SYSTEM_FLAGS "%s \\*)] Flags permitted.", kws);
}

/* ---- the report ---- */

struct changed_ctx {
	struct imap_session *s;
	uint32_t known_max;   /* UIDs above are new: reported by EXISTS, not FETCH */
};

static int changed_cb(const struct store_msg *m, void *ctx)
{
	struct changed_ctx *c = ctx;
	struct imap_session *s = c->s;
	uint32_t seq;
	struct strbuf sb;

	if (m->uid > c->known_max)
		return 0;
	/* A keyword the client has not seen: FLAGS (and PERMANENTFLAGS) before
	 * any line using it (RFC 3501 7.2.6). Checked before the own-change
	 * skip: this session's own STORE may be what added the keyword, and
	 * the client must be told even though its FETCH is not echoed. */
	if (m->keywords && *m->keywords && keywords_add(&sp(s)->keywords, m->keywords))
		imap_sync_send_flags(s);
	if (own_change(sp(s), m->uid, m->modseq))
		return 0;
	seq = imap_uid_to_seq(s, m->uid);
	if (seq == 0)
		return 0;
	strbuf_init(&sb, 4096);
	if (imap_flags_format(&sb, m->flags, m->keywords, imap_has_recent(s, m->uid)) < 0) {
		strbuf_free(&sb);
		log_warn("imap(%s): flags of UID %u do not fit a FETCH line; left out", s->user ? s->user : "?",
			 m->uid);
		return 0;
	}
	if (s->enabled & IMAP_ENABLED_CONDSTORE)
		imap_send_untagged(s, "%u FETCH (UID %u FLAGS (%s) MODSEQ (%llu))", seq, m->uid,
				   sb.data ? sb.data : "", (unsigned long long)m->modseq);
	else
		imap_send_untagged(s, "%u FETCH (UID %u FLAGS (%s))", seq, m->uid, sb.data ? sb.data : "");
	strbuf_free(&sb);
	return 0;
}

void imap_sync_report(struct imap_session *s, bool allow_expunge)
{
	struct imap_selected *sel = s->sel;
	struct sync_priv *p;
	struct store_error err;
	struct store_status st;
	struct uid_list cur = { 0 };
	int rc;

	if (sel == NULL)
		return;
	p = sp(s);
	if (p->in_report)
		return;
	p->in_report = true;
	rc = store_mailbox_sync(sel->box, &err);
	if (rc < 0) {
		log_warn("imap(%s): sync of %s failed: %s", s->user ? s->user : "?", sel->name, err.text);
		p->in_report = false;
		return;
	}
	store_mailbox_status(sel->box, &st);
	if (rc == 0 && !sel->changed && st.highestmodseq == sel->highestmodseq &&
	    st.messages == sel->count && st.uidnext == sel->uidnext) {
		own_reset(p);
		p->in_report = false;
		return;
	}
	sel->changed = false;
	uint32_t known_max = sel->count ? sel->uids[sel->count - 1] : 0;
	/* Same number of messages and the same UIDNEXT: nothing was expunged
	 * (the count would drop) and nothing added (UIDNEXT would move), so
	 * only flags changed and one pass by modseq is enough. */
	if (st.messages == sel->count && st.uidnext == sel->uidnext)
		goto flags;
	cur.keywords = &p->keywords;
	if (store_mailbox_foreach(sel->box, 0, collect_cb, &cur, &err) != 0) {
		free(cur.uids);
		p->in_report = false;
		sel->changed = true;   /* try again at the next report */
		return;
	}

	/* 1. expunges: view UIDs gone from the store, announced from the
	 * highest sequence number down (each number is right as sent), then
	 * the view is compacted in one pass */
	if (allow_expunge) {
		size_t j = cur.n, gone = 0;
		for (size_t i = sel->count; i > 0; i--) {
			uint32_t uid = sel->uids[i - 1];
			while (j > 0 && cur.uids[j - 1] > uid)
				j--;
			if (j > 0 && cur.uids[j - 1] == uid)
				continue;
			imap_send_untagged(s, "%zu EXPUNGE", i);
			gone++;
		}
		if (gone > 0) {
			size_t k = 0, r = 0;
			j = 0;
			for (size_t i = 0; i < sel->count; i++) {
				uint32_t uid = sel->uids[i];
				while (j < cur.n && cur.uids[j] < uid)
					j++;
				if (j < cur.n && cur.uids[j] == uid)
					sel->uids[k++] = uid;
			}
			sel->count = (uint32_t)k;
			j = 0;
			for (size_t i = 0; i < sel->n_recent_uids; i++) {
				uint32_t uid = sel->recent_uids[i];
				while (j < cur.n && cur.uids[j] < uid)
					j++;
				if (j < cur.n && cur.uids[j] == uid)
					sel->recent_uids[r++] = uid;
			}
			sel->n_recent_uids = (uint32_t)r;
		}
	}
	/* 2. a keyword the client has not seen: FLAGS first, so the FETCH
	 * and EXISTS that follow use only announced flags */
	if (cur.new_keyword)
		imap_sync_send_flags(s);
	/* 3. new messages: UIDs above the highest known */
	size_t first_new = lower_bound(cur.uids, cur.n, known_max + 1);
	size_t n_new = cur.n - first_new;
	if (n_new > 0) {
		if (sel->count + n_new > sel->alloc) {
			size_t want = sel->count + n_new;
			uint32_t *u = realloc(sel->uids, want * sizeof(*u));
			if (u == NULL) {
				n_new = 0;
				sel->changed = true;
			} else {
				sel->uids = u;
				sel->alloc = (uint32_t)want;
			}
		}
		/* \Recent for mail that arrived while selected: claimed in the
		 * store, so a session opening the mailbox later does not get it
		 * too; UIDs another session's SELECT took first are not ours */
		uint32_t recent_from = UINT32_MAX;
		if (n_new > 0 && !sel->readonly &&
		    store_mailbox_claim_recent(sel->box, cur.uids[first_new + n_new - 1], &recent_from,
					       &err) < 0) {
			log_warn("imap(%s): claiming \\Recent in %s failed: %s", s->user ? s->user : "?",
				 sel->name, err.text);
			recent_from = UINT32_MAX;
		}
		for (size_t i = 0; i < n_new; i++) {
			uint32_t uid = cur.uids[first_new + i];
			sel->uids[sel->count++] = uid;
			if (!sel->readonly && uid >= recent_from)
				recent_add(sel, uid);
		}
		imap_send_untagged(s, "%u EXISTS", sel->count);
	}
	/* RFC 3501 7.3.2: RECENT goes with a change of the mailbox's size
	 * by new messages; after expunges the client counts itself */
	if (n_new > 0)
		imap_send_untagged(s, "%u RECENT", sel->n_recent_uids);
	sel->recent = sel->n_recent_uids;
	free(cur.uids);
flags:
	/* 4. flag changes by others since the last report */
	if (st.highestmodseq > sel->highestmodseq) {
		struct changed_ctx c = { .s = s, .known_max = known_max };
		if (store_mailbox_foreach(sel->box, sel->highestmodseq, changed_cb, &c, &err) < 0)
			log_warn("imap(%s): reading flag changes of %s failed: %s", s->user ? s->user : "?",
				 sel->name, err.text);
	}
	sel->highestmodseq = st.highestmodseq;
	sel->uidnext = st.uidnext;
	own_reset(p);
	p->in_report = false;
}

void imap_sync_poke_others(struct imap_session *s)
{
	const char *user = s->user;

	if (s->sel == NULL || user == NULL)
		return;
	for (struct imap_session *o = imap_session_first(s->role); o; o = imap_session_next(o)) {
		if (o == s || o->sel == NULL || o->user == NULL || strcmp(o->user, user) != 0 ||
		    strcmp(o->sel->name, s->sel->name) != 0)
			continue;
		o->sel->changed = true;
		if (sp(o)->idle_cmd && !sp(o)->in_report)
			imap_sync_report(o, true);
	}
}
