/*
 * notify.c - change notification for open mailboxes (IMAP IDLE, several
 * sessions on one mailbox): one inotify instance per process, shared by
 * every watched mailbox, read from the process's libevent loop. One per
 * process because fs.inotify.max_user_instances is only 128 per user and
 * every IMAP process of the store owner counts against it.
 *
 * The callback only says "something changed"; the caller runs
 * store_mailbox_sync() and compares, so a burst of events costs one sync.
 *
 * Called by: imap/ (IDLE, and between commands), store_mailbox_close.
 */
#include <errno.h>
#include <event2/event.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "log.h"
#include "store/store-private.h"

#define NOTIFY_PATHS_MAX 4
/* Name events kept per watch until the mailbox's next sync looks at them
 * (store_notify_take); more than this and the watch only says "lost"
 * (the sync then scans), so an idle session costs at most this many. */
#define NOTIFY_NAMES_MAX 64

/* One directory entry event: the path index (watch_paths order), the
 * inotify mask, the entry's name. */
struct notify_name {
	uint32_t mask;
	uint8_t path;
	char *name;
};

struct store_notify_watch {
	struct store_mailbox *box;
	int wd[NOTIFY_PATHS_MAX];
	size_t n_wd;
	bool pending;
	/* name events since the last store_notify_take; lost: some were
	 * dropped (queue overflow, too many, a watched directory went) */
	struct notify_name *names;
	size_t n_names;
	bool lost;
	bool fresh; /* not taken from yet: what came before it is unknown */
	struct store_notify_watch *next;
};

static int notify_fd = -1;
static pid_t notify_pid;         /* the process that made notify_fd */
static struct event *notify_ev;
static struct event_base *notify_base;
static struct store_notify_watch *watches;

static void notify_dispatch(void)
{
	/* Callbacks may close mailboxes (and so unlink watches): find the
	 * next pending one from the head each time. */
	for (;;) {
		struct store_notify_watch *w;

		for (w = watches; w && !w->pending; w = w->next)
			;
		if (w == NULL)
			break;
		w->pending = false;
		if (w->box->notify_fn)
			w->box->notify_fn(w->box, w->box->notify_ctx);
	}
}

static void names_clear(struct store_notify_watch *w)
{
	for (size_t i = 0; i < w->n_names; i++)
		free(w->names[i].name);
	free(w->names);
	w->names = NULL;
	w->n_names = 0;
}

/* Entry events a sync may reason about; everything else about an entry
 * (content, attributes) no scan looks at either. */
#define NOTIFY_NAME_EVENTS (IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO)

static void names_add(struct store_notify_watch *w, size_t path, const struct inotify_event *ev)
{
	struct notify_name *n;

	if (w->lost)
		return;
	/* the directory itself went or moved, the kernel dropped events, a
	 * subdirectory appeared: nothing to reason about, scan */
	if ((ev->mask & (IN_Q_OVERFLOW | IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF |
			 IN_UNMOUNT)) ||
	    ((ev->mask & NOTIFY_NAME_EVENTS) &&
	     ((ev->mask & IN_ISDIR) || ev->len == 0 || ev->name[0] == '\0'))) {
		w->lost = true;
		names_clear(w);
		return;
	}
	if (!(ev->mask & NOTIFY_NAME_EVENTS))
		return;
	if (w->n_names == NOTIFY_NAMES_MAX) {
		w->lost = true;
		names_clear(w);
		return;
	}
	if (w->names == NULL && (w->names = malloc(NOTIFY_NAMES_MAX * sizeof(*w->names))) == NULL) {
		w->lost = true;
		return;
	}
	n = &w->names[w->n_names];
	n->mask = ev->mask;
	n->path = (uint8_t)path;
	if ((n->name = strndup(ev->name, ev->len)) == NULL) {
		w->lost = true;
		names_clear(w);
		return;
	}
	w->n_names++;
}

/* Read what the kernel queued (never waits): mark the watches pending and
 * keep their name events. true when some watch became pending. */
static bool notify_drain(void)
{
	char buf[8192] __attribute__((aligned(__alignof__(struct inotify_event))));
	bool any = false;

	if (notify_fd < 0 || notify_pid != getpid())
		return false;
	for (;;) {
		ssize_t n = read(notify_fd, buf, sizeof(buf));

		if (n <= 0)
			break;
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *ev = (const struct inotify_event *)p;

			for (struct store_notify_watch *w = watches; w; w = w->next) {
				if (ev->mask & IN_Q_OVERFLOW) {
					w->pending = any = true;
					names_add(w, 0, ev);
					continue;
				}
				for (size_t i = 0; i < w->n_wd; i++)
					if (w->wd[i] == ev->wd) {
						w->pending = any = true;
						names_add(w, i, ev);
					}
			}
			p += sizeof(*ev) + ev->len;
		}
	}
	return any;
}

static void notify_read(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	notify_drain();
	notify_dispatch();
}

int store_notify_take(struct store_mailbox *box, store_notify_name_fn *fn, void *ctx)
{
	struct store_notify_watch *w = box->watch;
	int rc = 0;

	if (w == NULL)
		return -1;
	/* Events a sync reads here no longer wake the loop: let it run the
	 * callbacks (other sessions of this process) at its next turn. */
	if (notify_drain() && notify_ev != NULL)
		event_active(notify_ev, EV_READ, 0);
	if (w->lost || w->fresh) {
		w->lost = w->fresh = false;
		names_clear(w);
		return -1;
	}
	for (size_t i = 0; i < w->n_names && rc == 0 && fn; i++)
		rc = fn(w->names[i].path, w->names[i].mask, w->names[i].name, ctx);
	names_clear(w);
	return rc;
}

static int notify_init(struct event_base *base, struct store_error *err)
{
	if (notify_fd >= 0 && notify_pid != getpid()) {
		/* inherited through fork: the parent's instance (sharing it would
		 * split the events between the processes); closing our
		 * reference is cheap, the parent still holds it */
		close(notify_fd);
		notify_fd = -1;
		notify_ev = NULL; /* the parent's, on the parent's loop */
		notify_base = NULL;
	}
	if (notify_ev != NULL) {
		if (base != notify_base) {
			store_error_set(err, STORE_ERR_TEMP, "Change notification bound to another loop");
			return -1;
		}
		return 0;
	}
	if (notify_fd < 0) {
		notify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
		if (notify_fd < 0) {
			store_error_sys(err, "inotify_init1 (fs.inotify.max_user_instances?)");
			store_error_set(err, STORE_ERR_TEMP, "Change notification unavailable");
			return -1;
		}
		notify_pid = getpid();
	}
	notify_ev = event_new(base, notify_fd, EV_READ | EV_PERSIST, notify_read, NULL);
	if (notify_ev == NULL || event_add(notify_ev, NULL) < 0) {
		if (notify_ev)
			event_free(notify_ev);
		notify_ev = NULL;
		store_error_set(err, STORE_ERR_TEMP, "Change notification unavailable");
		return -1;
	}
	notify_base = base;
	return 0;
}

/* Once nothing is watched the event leaves the loop (the caller may free
 * the loop: tests, a process that forks), but the inotify descriptor
 * stays open for the next mailbox: closing an inotify instance waits for
 * a kernel grace period (synchronize_srcu), 15 ms measured, and a
 * session that SELECTs again closed and reopened it every time. One
 * descriptor per process, CLOEXEC; a forked child makes its own. */
static void notify_maybe_shutdown(void)
{
	if (watches != NULL || notify_ev == NULL)
		return;
	event_free(notify_ev);
	notify_ev = NULL;
	notify_base = NULL;
}

int store_mailbox_notify(struct store_mailbox *box, struct event_base *base,
			 store_notify_fn *fn, void *ctx, struct store_error *err)
{
	const char *paths[NOTIFY_PATHS_MAX];
	struct store_notify_watch *w;
	size_t n;

	memset(err, 0, sizeof(*err));
	if (box->watch) {
		box->notify_fn = fn;
		box->notify_ctx = ctx;
		return 0;
	}
	if (box->user->backend->watch_paths == NULL) {
		store_error_set(err, STORE_ERR_TEMP, "Change notification not supported");
		return -1;
	}
	if (notify_init(base, err) < 0)
		return -1;
	w = calloc(1, sizeof(*w));
	if (w == NULL) {
		store_error_set(err, STORE_ERR_TEMP, "Out of memory");
		notify_maybe_shutdown();
		return -1;
	}
	n = box->user->backend->watch_paths(box, paths, NOTIFY_PATHS_MAX);
	for (size_t i = 0; i < n; i++) {
		int wd = inotify_add_watch(notify_fd, paths[i],
					   IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO |
					   IN_MODIFY | IN_CLOSE_WRITE | IN_ATTRIB);

		if (wd < 0) {
			store_error_sys(err, "inotify_add_watch %s (fs.inotify.max_user_watches?)",
					paths[i]);
			for (size_t j = 0; j < w->n_wd; j++) {
				bool shared = false;

				for (struct store_notify_watch *o = watches; o; o = o->next)
					for (size_t k = 0; k < o->n_wd; k++)
						shared |= o->wd[k] == w->wd[j];
				if (!shared)
					inotify_rm_watch(notify_fd, w->wd[j]);
			}
			free(w);
			notify_maybe_shutdown();
			return -1;
		}
		w->wd[w->n_wd++] = wd;
	}
	w->box = box;
	w->fresh = true;
	w->next = watches;
	watches = w;
	box->watch = w;
	box->notify_fn = fn;
	box->notify_ctx = ctx;
	return 0;
}

void store_mailbox_notify_stop(struct store_mailbox *box)
{
	struct store_notify_watch *w = box->watch;

	if (w == NULL)
		return;
	for (struct store_notify_watch **pp = &watches; *pp; pp = &(*pp)->next) {
		if (*pp == w) {
			*pp = w->next;
			break;
		}
	}
	/* The same directory watched by another mailbox of this process
	 * shares the wd: remove it only when the last user goes. */
	for (size_t j = 0; j < w->n_wd; j++) {
		bool shared = false;

		for (struct store_notify_watch *o = watches; o; o = o->next)
			for (size_t k = 0; k < o->n_wd; k++)
				shared |= o->wd[k] == w->wd[j];
		if (!shared)
			inotify_rm_watch(notify_fd, w->wd[j]);
	}
	names_clear(w);
	free(w);
	box->watch = NULL;
	box->notify_fn = NULL;
	notify_maybe_shutdown();
}
