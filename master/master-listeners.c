/*
 * master-listeners.c - bind every listener of a configuration, all or
 * nothing.
 *
 * Called by the master at start (keep == NULL) and on reload (keep = the
 * running set, so that an unchanged listener keeps its socket: clients
 * never see a refused connection during a reload). Sockets come from
 * listen_bind() (lib/listen.h), whose error text already says what to do
 * about EADDRINUSE or EACCES; here it gets the FILE:LINE: NAME/listen:
 * prefix of the line that asked for it.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "listen.h"
#include "master/master.h"
#include "util.h"

/* Two listeners asking for the same address and port would make the
 * second bind fail with "address in use" naming ourselves; say it plainly.
 * config.c rejects such files already; this keeps the all-or-nothing
 * contract of master_listeners_bind() independent of that. */
static int check_duplicates(const struct config *cfg, char **error_r)
{
	size_t n = config_listener_count(cfg);

	for (size_t i = 0; i < n; i++) {
		const struct config_listener *a = config_listener_at(cfg, i);

		for (size_t j = 0; j < i; j++) {
			const struct config_listener *b = config_listener_at(cfg, j);

			if (a->port == b->port && (strcmp(a->address, b->address) == 0 ||
						   strcmp(a->address, "*") == 0 ||
						   strcmp(b->address, "*") == 0)) {
				*error_r = must_asprintf("%s:%d: %s/listen: port %d is also used by listener %s (%s:%d); give one of them another port",
							 a->file, a->line, a->name, a->port, b->name,
							 b->file, b->line);
				return -1;
			}
		}
	}
	return 0;
}

static struct master_listener *find_kept(struct master_listeners *keep,
					 const struct config_listener *cl)
{
	if (keep == NULL)
		return NULL;
	for (size_t i = 0; i < keep->n; i++) {
		struct master_listener *k = &keep->items[i];

		if (k->fd >= 0 && k->cl->port == cl->port &&
		    strcmp(k->cl->address, cl->address) == 0)
			return k;
	}
	return NULL;
}

int master_listeners_bind(const struct config *cfg, struct master_listeners *keep,
			  struct master_listeners *out, char **error_r)
{
	size_t n = config_listener_count(cfg);
	struct master_listener *items;
	struct master_listener **kept;

	out->items = NULL;
	out->n = 0;
	if (check_duplicates(cfg, error_r) < 0)
		return -1;
	items = must_calloc(n ? n : 1, sizeof(*items));
	kept = must_calloc(n ? n : 1, sizeof(*kept));
	for (size_t i = 0; i < n; i++) {
		const struct config_listener *cl = config_listener_at(cfg, i);
		char *err = NULL;

		items[i].cl = cl;
		items[i].fd = -1;
		kept[i] = find_kept(keep, cl);
		if (kept[i]) {
			/* Claimed for now; handed over only when all succeeded. */
			items[i].fd = kept[i]->fd;
			continue;
		}
		if (listen_bind(cl->address, cl->port, &items[i].fd, &err) < 0) {
			*error_r = must_asprintf("%s:%d: %s/listen: %s", cl->file, cl->line,
						 cl->name, err ? err : "cannot listen");
			free(err);
			for (size_t j = 0; j < i; j++)
				if (kept[j] == NULL && items[j].fd >= 0)
					close(items[j].fd);
			free(items);
			free(kept);
			return -1;
		}
	}
	for (size_t i = 0; i < n; i++)
		if (kept[i])
			kept[i]->fd = -1;
	free(kept);
	out->items = items;
	out->n = n;
	return 0;
}

void master_listeners_close(struct master_listeners *ls)
{
	for (size_t i = 0; i < ls->n; i++)
		if (ls->items[i].fd >= 0)
			close(ls->items[i].fd);
	x_free(&ls->items);
	ls->n = 0;
}
