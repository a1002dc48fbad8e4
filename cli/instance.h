/*
 * instance.h - facts about an instance's layout and users shared by
 * `postern init` and `postern check` (cli/ private).
 */
#ifndef POSTERN_CLI_INSTANCE_H
#define POSTERN_CLI_INSTANCE_H

#include <stdbool.h>
#include <sys/types.h>

/* The standard listeners `postern init` writes, in this order. */
struct instance_listener {
	const char *name;
	const char *protocol;
	int port;
	const char *tls;
};
extern const struct instance_listener instance_listeners[];
extern const size_t instance_listener_count;

/* Queue subdirectories (DESIGN.md: one file per message moves between them). */
extern const char *const instance_queue_dirs[];

/*
 * instance_unreachable - the first ancestor directory of path (including
 * path itself when it is a directory) that user uid/gid cannot search, in
 * new memory, or NULL when every component is searchable. Root always can.
 */
char *instance_unreachable(const char *path, uid_t uid, gid_t gid);

/* instance_listen_text - "ADDR:PORT" with IPv6 in brackets, into buf. */
const char *instance_listen_text(const char *addr, int port, char *buf, size_t size);

#endif
