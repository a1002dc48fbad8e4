/*
 * auth-userdb.h - the userdb socket (auth_userdb_socket_path, mode 0600,
 * for Postern's own roles only), in the style of Dovecot's auth-master
 * protocol. Transport-independent like auth-server.h.
 *
 *   S: VERSION 1 0 / SPID pid                         (greeting)
 *   C: VERSION 1 0                                    (first, major 1)
 *   C: USER id name [service=S]
 *   S: USER id canonical backend=virtual|pam [enabled=0] [quota_bytes=N] [mail=LOCATION]
 *    | NOTFOUND id | FAIL id reason=R
 *   C: SENDERS id name        (addresses name may use in MAIL FROM)
 *   S: SENDERS id addr [addr...] | NOTFOUND id | FAIL id reason=R
 *
 * Unknown commands and malformed lines close the connection.
 */
#ifndef POSTERN_AUTH_USERDB_PROTO_H
#define POSTERN_AUTH_USERDB_PROTO_H

#include <stdbool.h>
#include <stddef.h>

#include "auth/auth-server.h"

struct userdb;

struct auth_userdb_settings {
	struct userdb *db;                    /* NULL: virtual backend off */
	bool pam;                             /* system users through getpwnam */
	bool pam_localpart;
	const struct auth_settings *auth;     /* name normalisation */
};

struct auth_userdb_conn;

/* auth_userdb_conn_new - greeting written at once; NULL on OOM. set is borrowed. */
struct auth_userdb_conn *auth_userdb_conn_new(const struct auth_userdb_settings *set,
					      auth_write_fn *write, void *io_ctx);
/* auth_userdb_conn_line - 0 go on, -1 close (logged). */
int auth_userdb_conn_line(struct auth_userdb_conn *conn, const char *line, size_t len);
void auth_userdb_conn_free(struct auth_userdb_conn **conn);

#endif
