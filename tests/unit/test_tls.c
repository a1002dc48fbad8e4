/*
 * test_tls.c - TLS contexts and their error texts, self-signed certificate
 * generation, implicit TLS and STARTTLS over real sockets, and the
 * STARTTLS plaintext injection defence (CVE-2011-0411).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sys/stat.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "conn_harness.h"

/* One certificate for the whole run: RSA key generation is the slow part. */
static char tmpdir[64];
static char cert_path[128], key_path[128], cert2_path[128], key2_path[128];

static int group_setup(void **state)
{
	char *error = NULL;

	(void)state;
	str_copy(tmpdir, "/tmp/postern-test-tls-XXXXXX", sizeof(tmpdir));
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	snprintf(cert_path, sizeof(cert_path), "%s/cert.pem", tmpdir);
	snprintf(key_path, sizeof(key_path), "%s/key.pem", tmpdir);
	snprintf(cert2_path, sizeof(cert2_path), "%s/cert2.pem", tmpdir);
	snprintf(key2_path, sizeof(key2_path), "%s/key2.pem", tmpdir);
	if (tls_generate_self_signed(cert_path, key_path, "mail.example.org", 30, &error) < 0 ||
	    tls_generate_self_signed(cert2_path, key2_path, "other.example.org", 30, &error) < 0) {
		fprintf(stderr, "%s\n", error);
		free(error);
		return -1;
	}
	return 0;
}

static int group_teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static int setup(void **state)
{
	struct harness *h = must_calloc(1, sizeof(*h));
	char *error = NULL;

	alarm(30);
	h_init(h);
	h->starttls_ctx = tls_server_ctx_new(cert_path, key_path, NULL, "TLSv1.2", NULL, &error);
	h->client_ctx = tls_client_ctx_new(&error);
	if (h->starttls_ctx == NULL || h->client_ctx == NULL) {
		fprintf(stderr, "%s\n", error);
		free(error);
		return -1;
	}
	*state = h;
	return 0;
}

static int teardown(void **state)
{
	struct harness *h = *state;

	h_cleanup(h);
	free(h);
	alarm(0);
	return 0;
}

/* --- context errors -------------------------------------------------------- */

static void test_missing_cert_file(void **state)
{
	char *error = NULL;

	(void)state;
	assert_null(tls_server_ctx_new("/nonexistent/postern/cert.pem", NULL, NULL, NULL, NULL, &error));
	assert_string_equal(error, "/nonexistent/postern/cert.pem: cannot read certificate: No such file or "
			    "directory; set tls_cert_file to a PEM certificate or run postern init");
	free(error);
	assert_null(tls_server_ctx_new("", NULL, NULL, NULL, NULL, &error));
	assert_string_equal(error, "tls_cert_file is not set; set tls_cert_file to a PEM certificate or run postern init");
	free(error);
}

static void test_missing_key_file(void **state)
{
	char *error = NULL, expect[300];

	(void)state;
	assert_null(tls_server_ctx_new(cert_path, "/nonexistent/key.pem", NULL, NULL, NULL, &error));
	snprintf(expect, sizeof(expect), "/nonexistent/key.pem: cannot read private key: No such file or "
		 "directory; set tls_key_file to the PEM key of tls_cert_file or run postern init");
	assert_string_equal(error, expect);
	free(error);
}

static void test_key_mismatch(void **state)
{
	char *error = NULL, expect[400];

	(void)state;
	assert_null(tls_server_ctx_new(cert_path, key2_path, NULL, NULL, NULL, &error));
	snprintf(expect, sizeof(expect), "%s: private key does not match the certificate in %s; "
		 "set tls_key_file to the key that belongs to tls_cert_file", key2_path, cert_path);
	assert_string_equal(error, expect);
	free(error);
}

static void test_not_a_certificate(void **state)
{
	char *error = NULL, expect[300];

	(void)state;
	/* the key file is PEM, but not a certificate */
	assert_null(tls_server_ctx_new(key_path, key_path, NULL, NULL, NULL, &error));
	snprintf(expect, sizeof(expect), "%s: cannot load certificate: ", key_path);
	assert_true(str_has_prefix(error, expect));
	assert_non_null(strstr(error, "; set tls_cert_file to a PEM certificate"));
	free(error);
}

static void test_bad_min_protocol_and_ciphers(void **state)
{
	char *error = NULL;

	(void)state;
	assert_null(tls_server_ctx_new(cert_path, key_path, NULL, "TLSv1.1", NULL, &error));
	assert_string_equal(error, "tls_min_protocol: unknown value \"TLSv1.1\"; use TLSv1.2 or TLSv1.3");
	free(error);
	assert_null(tls_server_ctx_new(cert_path, key_path, NULL, NULL, "NOSUCHCIPHER", &error));
	assert_true(str_has_prefix(error, "tls_cipher_list: \"NOSUCHCIPHER\" selects no usable cipher"));
	free(error);
}

static void test_ctx_policy(void **state)
{
	char *error = NULL;
	SSL_CTX *ctx;
	uint64_t opts;

	(void)state;
	ctx = tls_server_ctx_new(cert_path, key_path, cert2_path, "TLSv1.3", NULL, &error);
	assert_non_null(ctx);
	assert_int_equal(SSL_CTX_get_min_proto_version(ctx), TLS1_3_VERSION);
	opts = SSL_CTX_get_options(ctx);
	assert_true(opts & SSL_OP_NO_COMPRESSION);
	assert_true(opts & SSL_OP_CIPHER_SERVER_PREFERENCE);
	assert_true(opts & SSL_OP_NO_RENEGOTIATION);
	SSL_CTX_free(ctx);
}

/* --- self-signed generation ------------------------------------------------- */

static void test_self_signed(void **state)
{
	char c[160], k[160], same[160], *error = NULL;
	struct stat st;
	mode_t old;
	X509 *x;
	EVP_PKEY *pkey;
	FILE *fp;
	SSL_CTX *ctx;
	BASIC_CONSTRAINTS *bc;

	(void)state;
	snprintf(c, sizeof(c), "%s/gen-cert.pem", tmpdir);
	snprintf(k, sizeof(k), "%s/gen-key.pem", tmpdir);
	/* the modes must not depend on the umask */
	old = umask(0);
	assert_int_equal(tls_generate_self_signed(c, k, "mx.example.net", 365, &error), 0);
	umask(old);
	assert_int_equal(stat(k, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(stat(c, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0644);

	fp = fopen(c, "r");
	assert_non_null(fp);
	x = PEM_read_X509(fp, NULL, NULL, NULL);
	fclose(fp);
	assert_non_null(x);
	fp = fopen(k, "r");
	assert_non_null(fp);
	pkey = PEM_read_PrivateKey(fp, NULL, NULL, NULL);
	fclose(fp);
	assert_non_null(pkey);
	assert_int_equal(X509_check_private_key(x, pkey), 1);
	assert_int_equal(EVP_PKEY_get_base_id(pkey), EVP_PKEY_RSA);
	assert_int_equal(EVP_PKEY_get_bits(pkey), 2048);
	/* SAN carries the name (and only a SAN match counts, no CN fallback) */
	assert_int_equal(X509_check_host(x, "mx.example.net", 0, X509_CHECK_FLAG_NEVER_CHECK_SUBJECT, NULL), 1);
	assert_int_equal(X509_check_host(x, "other.example.net", 0, 0, NULL), 0);
	assert_int_equal(X509_get_version(x), X509_VERSION_3);
	bc = X509_get_ext_d2i(x, NID_basic_constraints, NULL, NULL);
	assert_non_null(bc);
	assert_false(bc->ca);
	BASIC_CONSTRAINTS_free(bc);
	assert_true(X509_get_extended_key_usage(x) & XKU_SSL_SERVER);
	assert_int_equal(X509_check_purpose(x, X509_PURPOSE_SSL_SERVER, 0), 1);
	X509_free(x);
	EVP_PKEY_free(pkey);

	/* it loads as a server certificate */
	ctx = tls_server_ctx_new(c, k, NULL, NULL, NULL, &error);
	assert_non_null(ctx);
	SSL_CTX_free(ctx);

	/* an existing key is never overwritten */
	assert_int_equal(tls_generate_self_signed(c, k, "mx.example.net", 365, &error), -1);
	assert_non_null(strstr(error, "gen-key.pem: already exists; remove it first"));
	free(error);

	/* cert and key in one file: mode 0600 */
	snprintf(same, sizeof(same), "%s/gen-both.pem", tmpdir);
	assert_int_equal(tls_generate_self_signed(same, same, "mx.example.net", 1, &error), 0);
	assert_int_equal(stat(same, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	ctx = tls_server_ctx_new(same, NULL, NULL, NULL, NULL, &error);
	assert_non_null(ctx);
	SSL_CTX_free(ctx);

	/* a name that would inject into the extension string is refused */
	assert_int_equal(tls_generate_self_signed(c, k, "a.example,DNS:evil.example", 1, &error), -1);
	assert_true(str_has_prefix(error, "\"a.example,DNS:evil.example\" is not a valid host name"));
	free(error);
}

/* --- implicit TLS ------------------------------------------------------------- */

static void client_implicit(struct harness *h)
{
	struct client_conn cc;

	if (cl_connect(h, &cc) < 0)
		return;
	if (cl_tls(h, &cc) < 0) {
		str_copy(h->client_note, "handshake failed", sizeof(h->client_note));
		cl_finish(h, &cc);
		return;
	}
	tls_describe(cc.ssl, h->client_note, sizeof(h->client_note));
	cl_wait_for(&cc, "220 hi\r\n");
	cl_puts(&cc, "HELLO\r\nQUIT\r\n");
	cl_read_eof(&cc);
	cl_finish(h, &cc);
}

static void test_implicit_tls_echo(void **state)
{
	struct harness *h = *state;

	h->implicit_ctx = h->starttls_ctx;
	SSL_CTX_up_ref(h->implicit_ctx);
	h->greeting = true;
	assert_int_equal(h_start(h), 0);
	h_run(h, client_implicit, 10);
	assert_false(h->watchdog_fired);
	assert_true(str_has_prefix(h->client_note, "TLSv1.3 with cipher TLS_"));
	assert_non_null(strstr(h->client_note, " bits)"));
	assert_string_equal(h_received(h), "220 hi\r\n> HELLO\r\n221 bye\r\n");
	assert_true(str_has_prefix(h_events(h), "ACCEPT:127.0.0.1|TLS:TLSv1.3 with cipher TLS_"));
	assert_non_null(strstr(h_events(h), "|L:HELLO|L:QUIT|CLOSE:closed|"));
}

static void client_garbage(struct harness *h)
{
	struct client_conn cc;

	if (cl_connect(h, &cc) < 0)
		return;
	cl_puts(&cc, "EHLO not-tls.example\r\n");
	cl_read_eof(&cc);
	cl_finish(h, &cc);
}

static void test_implicit_tls_garbage(void **state)
{
	struct harness *h = *state;

	h->implicit_ctx = h->starttls_ctx;
	SSL_CTX_up_ref(h->implicit_ctx);
	assert_int_equal(h_start(h), 0);
	h_run(h, client_garbage, 10);
	assert_false(h->watchdog_fired);
	assert_string_equal(h_events(h), "ACCEPT:127.0.0.1|CLOSE:tls|");
}

/* --- STARTTLS ------------------------------------------------------------------- */

static void client_starttls(struct harness *h)
{
	struct client_conn cc;

	if (cl_connect(h, &cc) < 0)
		return;
	cl_puts(&cc, h->client_flags ? "STARTTLS\r\nINJECTED\r\n" : "PLAIN\r\nSTARTTLS\r\n");
	if (!cl_wait_for(&cc, "220 ready\r\n")) {
		cl_finish(h, &cc);
		return;
	}
	if (cl_tls(h, &cc) < 0) {
		str_copy(h->client_note, "handshake failed", sizeof(h->client_note));
		cl_finish(h, &cc);
		return;
	}
	tls_describe(cc.ssl, h->client_note, sizeof(h->client_note));
	cl_puts(&cc, "HELLO\r\nQUIT\r\n");
	cl_read_eof(&cc);
	cl_finish(h, &cc);
}

static void test_starttls_echo(void **state)
{
	struct harness *h = *state;

	assert_int_equal(h_start(h), 0);
	h_run(h, client_starttls, 10);
	assert_false(h->watchdog_fired);
	assert_true(str_has_prefix(h->client_note, "TLSv1.3 with cipher "));
	assert_string_equal(h_received(h), "> PLAIN\r\n220 ready\r\n> HELLO\r\n221 bye\r\n");
	assert_true(str_has_prefix(h_events(h), "ACCEPT:127.0.0.1|L:PLAIN|L:STARTTLS|TLS:TLSv1.3 with cipher "));
	assert_non_null(strstr(h_events(h), "|L:HELLO|L:QUIT|CLOSE:closed|"));
}

/* Direct output on: the 220 goes out at once in the clear, everything
 * after the switch through TLS (a plaintext byte there would break the
 * client's TLS and the test). */
static void test_starttls_direct_output(void **state)
{
	struct harness *h = *state;

	h->direct_output = true;
	test_starttls_echo(state);
}

static void test_starttls_injection_discarded(void **state)
{
	struct harness *h = *state;

	h->client_flags = 1; /* "STARTTLS\r\nINJECTED\r\n" in one write */
	assert_int_equal(h_start(h), 0);
	h_run(h, client_starttls, 10);
	assert_false(h->watchdog_fired);
	assert_null(strstr(h_events(h), "INJECTED"));
	assert_true(str_has_prefix(h->client_note, "TLSv1.3 with cipher "));
	assert_string_equal(h_received(h), "220 ready\r\n> HELLO\r\n221 bye\r\n");
	assert_true(str_has_prefix(h_events(h), "ACCEPT:127.0.0.1|L:STARTTLS|TLS:TLSv1.3"));
	assert_non_null(strstr(h_events(h), "|L:HELLO|L:QUIT|CLOSE:closed|"));
}

static void test_tls12_only_client(void **state)
{
	struct harness *h = *state;

	/* a TLS 1.2 client still works with the default minimum */
	SSL_CTX_set_max_proto_version(h->client_ctx, TLS1_2_VERSION);
	h->implicit_ctx = h->starttls_ctx;
	SSL_CTX_up_ref(h->implicit_ctx);
	h->greeting = true;
	assert_int_equal(h_start(h), 0);
	h_run(h, client_implicit, 10);
	assert_false(h->watchdog_fired);
	assert_true(str_has_prefix(h->client_note, "TLSv1.2 with cipher ECDHE-"));
	assert_string_equal(h_received(h), "220 hi\r\n> HELLO\r\n221 bye\r\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_missing_cert_file),
		cmocka_unit_test(test_missing_key_file),
		cmocka_unit_test(test_key_mismatch),
		cmocka_unit_test(test_not_a_certificate),
		cmocka_unit_test(test_bad_min_protocol_and_ciphers),
		cmocka_unit_test(test_ctx_policy),
		cmocka_unit_test(test_self_signed),
		cmocka_unit_test_setup_teardown(test_implicit_tls_echo, setup, teardown),
		cmocka_unit_test_setup_teardown(test_starttls_direct_output, setup, teardown),
		cmocka_unit_test_setup_teardown(test_implicit_tls_garbage, setup, teardown),
		cmocka_unit_test_setup_teardown(test_starttls_echo, setup, teardown),
		cmocka_unit_test_setup_teardown(test_starttls_injection_discarded, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tls12_only_client, setup, teardown),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
