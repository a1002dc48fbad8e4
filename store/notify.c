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

struct store_notify_watch {
	struct store_mailbox *box;
	int wd[NOTIFY_PATHS_MAX];
	size_t n_wd;
	bool pending;
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

static void notify_read(evutil_socket_t fd, short what, void *arg)
{
	char buf[8192] __attribute__((aligned(__alignof__(struct inotify_event))));

	(void)what;
	(void)arg;
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));

		if (n <= 0)
			break;
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *ev = (const struct inotify_event *)p;

			for (struct store_notify_watch *w = watches; w; w = w->next)
				for (size_t i = 0; i < w->n_wd; i++)
					if (w->wd[i] == ev->wd || (ev->mask & IN_Q_OVERFLOW))
						w->pending = true;
			p += sizeof(*ev) + ev->len;
		}
	}
	notify_dispatch();
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
	free(w);
	box->watch = NULL;
	box->notify_fn = NULL;
	notify_maybe_shutdown();
}
