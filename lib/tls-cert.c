/*
 * tls-cert.c - generate a self-signed server certificate and key with the
 * OpenSSL 3 API, so that `postern init` gives a new install working
 * STARTTLS/IMAPS before the admin obtains a real certificate (e.g. from
 * Let's Encrypt).
 *
 * Called by `postern init` (cli/) and by tests.
 *
 * Key type: RSA 2048 rather than EC P-256. P-256 is smaller and faster, but
 * the certificate of a mail server is also presented to old MTAs and
 * mail clients (embedded devices, scanners that mail PDFs, old Outlook and
 * Java stacks) of which some still offer only RSA key exchange or RSA
 * signature suites; an RSA certificate works with all of them. RFC 8446
 * and every modern client handle RSA as well.
 *
 * Extensions follow what browsers and MTAs check (RFC 5280, CA/B Forum
 * baseline): the name lives in subjectAltName (RFC 6125 section 6.4.4 says
 * clients must not use the CN when a SAN is present), CA:FALSE,
 * keyUsage digitalSignature+keyEncipherment, extendedKeyUsage serverAuth,
 * and a positive random serial of 159 bits (RFC 5280 4.1.2.2: at most 20
 * octets).
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "tls.h"
#include "util.h"

#define TLS_CERT_RSA_BITS 2048

/* hostname_ok - letters, digits, '-', '.' only: the name is pasted into an
 * OpenSSL extension string ("DNS:name"), where a ',' would add entries. */
static bool hostname_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 253 || s[0] == '.' || s[0] == '-')
		return false;
	for (; *s != '\0'; s++) {
		if (!isalnum((unsigned char)*s) && *s != '-' && *s != '.')
			return false;
	}
	return true;
}

static int add_ext(X509 *x, int nid, const char *value)
{
	X509V3_CTX v3;
	X509_EXTENSION *ext;
	int ok;

	X509V3_set_ctx_nodb(&v3);
	X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &v3, nid, value);
	if (ext == NULL)
		return -1;
	ok = X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	return ok == 1 ? 0 : -1;
}

static int random_serial(X509 *x)
{
	BIGNUM *bn = BN_new();
	int ret = -1;

	if (bn == NULL)
		return -1;
	/* top bit set: exactly 159 bits, so the DER integer is positive and
	 * fits 20 octets */
	if (BN_rand(bn, 159, BN_RAND_TOP_ONE, BN_RAND_BOTTOM_ANY) == 1 &&
	    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL)
		ret = 0;
	BN_free(bn);
	return ret;
}

static X509 *make_cert(EVP_PKEY *pkey, const char *hostname, int days)
{
	X509 *x = X509_new();
	X509_NAME *name;
	char san[300];

	if (x == NULL)
		return NULL;
	snprintf(san, sizeof(san), "DNS:%s", hostname);
	name = X509_get_subject_name(x);
	if (X509_set_version(x, X509_VERSION_3) != 1 || random_serial(x) < 0 ||
	    X509_gmtime_adj(X509_getm_notBefore(x), 0) == NULL ||
	    X509_time_adj_ex(X509_getm_notAfter(x), days, 0, NULL) == NULL ||
	    X509_set_pubkey(x, pkey) != 1)
		goto fail;
	/* CN is limited to 64 characters (RFC 5280 ub-common-name); longer
	 * names live in the SAN only, which is what clients check anyway. */
	if (strlen(hostname) <= 64 &&
	    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
				       (const unsigned char *)hostname, -1, -1, 0) != 1)
		goto fail;
	if (X509_set_issuer_name(x, name) != 1 ||
	    add_ext(x, NID_subject_alt_name, san) < 0 ||
	    add_ext(x, NID_basic_constraints, "critical,CA:FALSE") < 0 ||
	    add_ext(x, NID_key_usage, "critical,digitalSignature,keyEncipherment") < 0 ||
	    add_ext(x, NID_ext_key_usage, "serverAuth") < 0 ||
	    add_ext(x, NID_subject_key_identifier, "hash") < 0 ||
	    X509_sign(x, pkey, EVP_sha256()) <= 0)
		goto fail;
	return x;
fail:
	X509_free(x);
	return NULL;
}

/*
 * write_pem - create path with exactly mode (O_EXCL, then fchmod so the
 * umask cannot widen or narrow it), write the key and/or cert, fsync.
 * Returns 0, or -1 with *error_r; on failure the file is removed.
 */
static int write_pem(const char *path, mode_t mode, EVP_PKEY *pkey, X509 *x, char **error_r)
{
	char why[256];
	FILE *fp;
	int fd, ok;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0) {
		if (errno == EEXIST)
			*error_r = must_asprintf("%s: already exists; remove it first if it should be replaced, "
						 "or choose another file name", path);
		else
			*error_r = must_asprintf("%s: cannot create: %s", path, strerror(errno));
		return -1;
	}
	if (fchmod(fd, mode) < 0) {
		*error_r = must_asprintf("%s: cannot set mode %04o: %s", path, (unsigned)mode, strerror(errno));
		close(fd);
		unlink(path);
		return -1;
	}
	fp = fdopen(fd, "w");
	if (fp == NULL) {
		*error_r = must_asprintf("%s: cannot write: %s", path, strerror(errno));
		close(fd);
		unlink(path);
		return -1;
	}
	ERR_clear_error();
	ok = 1;
	if (pkey != NULL)
		ok = PEM_write_PrivateKey(fp, pkey, NULL, NULL, 0, NULL, NULL);
	if (ok == 1 && x != NULL)
		ok = PEM_write_X509(fp, x);
	if (ok != 1) {
		*error_r = must_asprintf("%s: cannot write PEM data: %s", path,
					 tls_last_error(why, sizeof(why), "write error"));
		fclose(fp);
		unlink(path);
		return -1;
	}
	if (fflush(fp) != 0 || fsync(fileno(fp)) != 0) {
		*error_r = must_asprintf("%s: cannot write: %s", path, strerror(errno));
		fclose(fp);
		unlink(path);
		return -1;
	}
	if (fclose(fp) != 0) {
		*error_r = must_asprintf("%s: cannot write: %s", path, strerror(errno));
		unlink(path);
		return -1;
	}
	return 0;
}

int tls_generate_self_signed(const char *cert_path, const char *key_path,
			     const char *hostname, int days, char **error_r)
{
	char why[256];
	EVP_PKEY *pkey = NULL;
	X509 *x = NULL;
	int ret = -1;

	*error_r = NULL;
	if (!hostname_ok(hostname)) {
		*error_r = must_asprintf("\"%s\" is not a valid host name for a certificate; "
					 "use a DNS name such as mail.example.com (set myhostname)", hostname);
		return -1;
	}
	if (days < 1 || days > 3650) {
		*error_r = must_asprintf("certificate lifetime %d days is out of range; use 1 to 3650 days", days);
		return -1;
	}
	ERR_clear_error();
	pkey = EVP_RSA_gen(TLS_CERT_RSA_BITS);
	if (pkey == NULL) {
		*error_r = must_asprintf("cannot generate an RSA key: %s",
					 tls_last_error(why, sizeof(why), "unknown error"));
		goto out;
	}
	x = make_cert(pkey, hostname, days);
	if (x == NULL) {
		*error_r = must_asprintf("cannot build the certificate for %s: %s", hostname,
					 tls_last_error(why, sizeof(why), "unknown error"));
		goto out;
	}
	if (strcmp(cert_path, key_path) == 0) {
		/* one file with both: it holds the key, so it gets the key's mode */
		if (write_pem(key_path, 0600, pkey, x, error_r) < 0)
			goto out;
	} else {
		if (write_pem(key_path, 0600, pkey, NULL, error_r) < 0)
			goto out;
		if (write_pem(cert_path, 0644, NULL, x, error_r) < 0) {
			unlink(key_path);
			goto out;
		}
	}
	/* the new names must survive a crash as well as the contents */
	(void)fsync_parent_dir(key_path);
	if (strcmp(cert_path, key_path) != 0)
		(void)fsync_parent_dir(cert_path);
	ret = 0;
out:
	X509_free(x);
	EVP_PKEY_free(pkey);
	return ret;
}
