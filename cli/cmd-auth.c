/*
 * cmd-auth.c - `postern auth test ADDRESS [PASSWORD]`, like `doveadm auth
 * test` or testsaslauthd: authenticates with PLAIN through the running
 * auth role's socket, exactly as smtp/imap or Postfix would, and prints
 * "passdb: ADDRESS auth succeeded" or "passdb: ADDRESS auth failed".
 * Without PASSWORD it is asked for on the terminal (or --password-stdin).
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "auth/auth-client.h"
#include "base64.h"
#include "cli/cli-private.h"
#include "cli/cli.h"
#include "log.h"

struct auth_test {
	struct event_base *base;
	const char *user;
	int rc;
};

static void test_done(void *ctx, const struct auth_client_reply *r)
{
	struct auth_test *t = ctx;
	char esc[512];

	if (r->status == AUTH_CLIENT_OK) {
		printf("passdb: %s auth succeeded\n", t->user);
		if (r->user)
			printf("extra fields:\n  user=%s\n", str_escape(r->user, strlen(r->user), esc, sizeof(esc)));
		t->rc = 0;
	} else {
		const char *reason = r->reason ? r->reason : "";
		printf("passdb: %s auth failed%s\n", t->user, r->temp ? " (temporary)" : "");
		if (*reason)
			printf("reason: %s\n", str_escape(reason, strlen(reason), esc, sizeof(esc)));
		t->rc = 1;
	}
	event_base_loopexit(t->base, NULL);
}

int cmd_auth(int argc, char **argv, const char *conf)
{
	struct auth_test t = { .rc = 1 };
	struct config *cfg;
	struct auth_client *c = NULL;
	char *err = NULL, *password = NULL, *b64 = NULL;
	bool from_stdin = false;
	const char *pwarg = NULL;
	int i = 2;

	if (argc < 3 || strcmp(argv[1], "test") != 0)
		return cli_usage_error(argv[0]);
	if (strcmp(argv[i], "--password-stdin") == 0) {
		from_stdin = true;
		i++;
	}
	if (i >= argc || argc - i > 2)
		return cli_usage_error(argv[0]);
	t.user = argv[i];
	pwarg = i + 1 < argc ? argv[i + 1] : NULL;
	cfg = cli_load_config(conf);
	if (cfg == NULL)
		return 1;
	password = pwarg ? must_strdup(pwarg) : cli_read_password("Password: ", false, from_stdin);
	if (password == NULL)
		goto out;
	size_t ulen = strlen(t.user), plen = strlen(password);
	char *msg = must_malloc(ulen + plen + 2);
	msg[0] = '\0';
	memcpy(msg + 1, t.user, ulen);
	msg[1 + ulen] = '\0';
	memcpy(msg + 2 + ulen, password, plen);
	b64 = base64_encode(msg, ulen + plen + 2);
	sodium_memzero(msg, ulen + plen + 2);
	free(msg);
	t.base = event_base_new();
	if (t.base == NULL || b64 == NULL)
		goto out;
	c = auth_client_new(t.base, config_str(cfg, "auth_socket_path"), AUTH_CLIENT_SASL, &err);
	if (c == NULL) {
		log_error("%s", err);
		goto out;
	}
	struct auth_client_params p = { .service = "postern" };
	if (auth_client_start(c, "PLAIN", &p, b64, test_done, &t) == 0) {
		log_error("cannot send the request to the auth service");
		goto out;
	}
	event_base_dispatch(t.base);
out:
	auth_client_free(&c);
	if (t.base)
		event_base_free(t.base);
	if (password) {
		sodium_memzero(password, strlen(password));
		free(password);
	}
	if (b64) {
		sodium_memzero(b64, strlen(b64));
		free(b64);
	}
	free(err);
	config_free(&cfg);
	return t.rc;
}
