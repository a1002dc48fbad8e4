/*
 * fuzz_auth_protocol.c - libFuzzer harness for the auth socket's request
 * parser and state machine (auth/auth-server.c): the input is split into
 * lines and fed to one connection, as auth-role.c would after its
 * AUTH_LINE_MAX bound, with a stub backend answering synchronously. Stops
 * at the first line the server rejects (the role would close there).
 * Seed corpus: tests/fuzz/corpus/fuzz_auth_protocol/.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "auth/auth-server.h"
#include "auth/penalty.h"
#include "log.h"

static void sink(void *ctx, const char *data, size_t len)
{
	(void)ctx;
	(void)data;
	(void)len;
}

static void stub_verify(struct passdb *db, const char *user, const char *password,
			passdb_done_fn *done, void *ctx)
{
	(void)db;
	done(ctx, strcmp(user, "alice@example.org") == 0 && strcmp(password, "secret") == 0
		  ? PASSDB_OK : strcmp(user, "t@example.org") == 0 ? PASSDB_TEMPFAIL : PASSDB_MISMATCH);
}

static int stub_scram(struct passdb *db, const char *user, struct scram_credentials *c)
{
	static const unsigned char salt[16] = { 1, 2, 3 };
	const char *err;

	(void)db;
	if (strcmp(user, "alice@example.org") != 0)
		return 0;
	return scram_derive("secret", salt, sizeof(salt), 4096, c, &err) == 0 ? 1 : -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct passdb stub = { .name = "stub", .verify = stub_verify, .scram_lookup = stub_scram };
	static struct passdb *dbs[] = { &stub };
	static struct auth_settings set = { .disable_plaintext_auth = true, .username_lowercase = true,
					    .default_realm = "example.org" };
	static struct penalty *pen;
	static bool init;

	if (!init) {
		log_init("fuzz", 0);
		set.mechs[set.n_mechs++] = &mech_plain;
		set.mechs[set.n_mechs++] = &mech_login;
		set.mechs[set.n_mechs++] = &mech_scram_sha256;
		init = true;
	}
	char *err = NULL;
	const char *const exc[] = { "127.0.0.0/8", NULL };
	pen = penalty_new(3, 60, exc, &err);
	struct auth_server *srv = auth_server_new(&set, dbs, 1, pen, NULL);
	struct auth_server_conn *conn = auth_server_conn_new(srv, sink, NULL);
	const char *p = (const char *)data, *end = p + size;

	while (conn && p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = (size_t)((nl ? nl : end) - p);
		if (len > AUTH_LINE_MAX + 1)
			break;
		if (auth_server_conn_line(conn, p, len) < 0)
			break;
		p += len + 1;
	}
	auth_server_conn_free(&conn);
	auth_server_free(&srv);
	penalty_free(&pen);
	return 0;
}
