/*
 * queue-role.h - the queue role (Postfix's qmgr + local + smtp + bounce
 * drivers in one event-driven process, running as mail_owner): the entry
 * points master/roles.c lists.
 *
 * It owns $queue_directory exclusively (role_def.exclusive): picks up new
 * files in active/ at once (the FIFO $run_directory/queue.wake written by
 * the SMTP role, the pickup socket, and a scan at start), scans deferred/
 * every queue_run_delay for files whose mtime (next attempt) has come,
 * expands and routes recipients (smtp/resolve/resolve.h), delivers
 * locally through the store (store_deliver) and to |command / /file
 * (local-pipe.h) on worker threads, remotely through the SMTP client
 * (smtp/client/smtp-client.h) on its loop, within the concurrency limits,
 * records each outcome in the queue file before acting on it (qmsg.h),
 * queues notices (bounce.h), and removes a file only when every
 * destination is final. It serves queue_pickup_socket (pickup.h) and
 * queue_control_socket (queue-admin.h's protocol).
 */
#ifndef POSTERN_SMTP_QUEUE_ROLE_H
#define POSTERN_SMTP_QUEUE_ROLE_H

#include <stddef.h>

#include "role.h"

int queue_role_main(const struct role_env *env);
int queue_role_check_config(const struct config *cfg, char **error_r);
int queue_role_unix_sockets(const struct config *cfg, struct role_unix_socket *out, size_t max,
			    char **error_r);

#endif
