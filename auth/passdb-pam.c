/*
 * passdb-pam.c - system users through PAM (pam_start(auth_pam_service) ->
 * pam_authenticate -> pam_acct_mgmt), each conversation on a worker
 * thread so a slow module (pam_faildelay, LDAP, a hung NSS lookup) never
 * stalls the socket. The conversation answers every echo-off prompt with
 * the password and fails on anything else it cannot answer.
 *
 * pam_unix reads /etc/shadow, which is why the auth role stays root when
 * pam is in auth_backends (auth-role.c: auth_role_keeps_root). etc/pam.d/
 * postern is the service file installed with Postern.
 *
 * With auth_cache_size set, outcomes are cached (auth-cache.h) against a
 * stamp of /etc/passwd and /etc/shadow (pam_files_stamp): Dovecot caches
 * PAM results too, as its only way to spare a slow PAM stack.
 */
#include <security/pam_appl.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "auth/auth-cache.h"
#include "auth/passdb.h"
#include "worker.h"
#include "log.h"
#include "util.h"

#define PAM_STAMP_MAX 160

struct passdb_pam {
	struct passdb pub;
	char *service;
	bool localpart;
	char **local_domains; /* NULL-terminated, lower case */
	struct worker_pool *pool;
};

struct pam_job {
	struct worker_job job;
	struct passdb_pam *pp;
	char *user;          /* as the client gave it, for the cache */
	char *stamp;         /* pam_files_stamp before the conversation */
	char *service;
	char *account;
	char *password;
	enum passdb_result result;
	int pam_status;
	char pam_error[128];
	passdb_done_fn *done;
	void *ctx;
};

static int pam_conversation(int n, const struct pam_message **msg, struct pam_response **resp,
			    void *appdata)
{
	struct pam_job *j = appdata;
	struct pam_response *r;

	if (n <= 0 || n > PAM_MAX_NUM_MSG)
		return PAM_CONV_ERR;
	r = calloc((size_t)n, sizeof(*r));
	if (r == NULL)
		return PAM_BUF_ERR;
	for (int i = 0; i < n; i++) {
		switch (msg[i]->msg_style) {
		case PAM_PROMPT_ECHO_OFF:
			r[i].resp = strdup(j->password);
			if (r[i].resp == NULL)
				goto fail;
			break;
		case PAM_ERROR_MSG:
		case PAM_TEXT_INFO:
			break;
		default:   /* PAM_PROMPT_ECHO_ON: a question we cannot answer */
			goto fail;
		}
	}
	*resp = r;
	return PAM_SUCCESS;
fail:
	for (int i = 0; i < n; i++)
		if (r[i].resp) {
			sodium_memzero(r[i].resp, strlen(r[i].resp));
			free(r[i].resp);
		}
	free(r);
	return PAM_CONV_ERR;
}

/* The passdb outcome of a pam_authenticate status. */
static enum passdb_result pam_result(int st)
{
	switch (st) {
	case PAM_SUCCESS:
		return PASSDB_OK;
	case PAM_USER_UNKNOWN:
		return PASSDB_UNKNOWN;
	case PAM_AUTH_ERR:
	case PAM_PERM_DENIED:
	case PAM_MAXTRIES:
	case PAM_CRED_INSUFFICIENT:
		return PASSDB_MISMATCH;
	default:   /* module error, PAM_AUTHINFO_UNAVAIL, conversation error */
		return PASSDB_TEMPFAIL;
	}
}

static void pam_job_run(struct worker_job *job)
{
	struct pam_job *j = (struct pam_job *)job;
	struct pam_conv conv = { .conv = pam_conversation, .appdata_ptr = j };
	pam_handle_t *pamh = NULL;
	int st;

	st = pam_start(j->service, j->account, &conv, &pamh);
	if (st == PAM_SUCCESS) {
		st = pam_authenticate(pamh, PAM_SILENT | PAM_DISALLOW_NULL_AUTHTOK);
		if (st == PAM_SUCCESS) {
			st = pam_acct_mgmt(pamh, PAM_SILENT);
			if (st != PAM_SUCCESS && st != PAM_NEW_AUTHTOK_REQD) {
				j->result = PASSDB_DISABLED;
				goto out;
			}
			st = PAM_SUCCESS;
		}
	}
out:
	j->pam_status = st;
	if (pamh)
		str_copy(j->pam_error, pam_strerror(pamh, st), sizeof(j->pam_error));
	else
		str_copy(j->pam_error, "pam_start failed", sizeof(j->pam_error));
	/* PASSDB_DISABLED (account check failed) was decided above. */
	if (j->result != PASSDB_DISABLED)
		j->result = pam_result(st);
	if (pamh)
		pam_end(pamh, st);
}

static void pam_job_free(struct pam_job *j)
{
	free(j->user);
	free(j->stamp);
	free(j->service);
	free(j->account);
	if (j->password) {
		sodium_memzero(j->password, strlen(j->password));
		free(j->password);
	}
	free(j);
}

static void pam_job_done(struct worker_job *job)
{
	struct pam_job *j = (struct pam_job *)job;
	passdb_done_fn *done = j->done;
	void *ctx = j->ctx;
	enum passdb_result res = j->result;

	if (res == PASSDB_TEMPFAIL)
		log_warn("auth: PAM service %s, account %s: %s", j->service, j->account,
			 j->pam_error[0] ? j->pam_error : "not run (worker queue full)");
	if (j->pp->pub.cache)
		auth_cache_store(j->pp->pub.cache, "pam", j->user, j->stamp, j->password, res);
	j->pp->pub.cache_hit = false;
	pam_job_free(j);
	done(ctx, res);
}

/* Only addresses in a local domain (mydestination) are system accounts:
 * otherwise alice@anything.example would log in as the system user alice
 * and then own that address for the sender-login checks. */
static bool pam_domain_is_local(const struct passdb_pam *pp, const char *domain)
{
	for (char **d = pp->local_domains; *d; d++)
		if (strcasecmp(*d, domain) == 0)
			return true;
	return false;
}

/*
 * pam_files_stamp - identity and change times of the files pam_unix reads
 * (inode, size, mtime and ctime in ns), written into out. It is the
 * "state" of a cached PAM result: passwd(1), usermod -L/-e, chage,
 * useradd and userdel all rewrite /etc/shadow or /etc/passwd, so a cached
 * result stops matching at the next login. Changes a PAM module keeps
 * elsewhere (LDAP, sssd) or time-based account expiry are only seen when
 * the entry's auth_cache_ttl runs out (Dovecot caches PAM the same way,
 * without even this check). A file that cannot be stat'ed counts as "-".
 */
static void pam_files_stamp(char *out, size_t size)
{
	static const char *const files[] = { "/etc/passwd", "/etc/shadow" };
	size_t off = 0;

	out[0] = '\0';
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		struct stat st;
		int n;

		if (stat(files[i], &st) < 0)
			n = snprintf(out + off, size - off, "-;");
		else
			n = snprintf(out + off, size - off, "%ju:%jd:%jd.%ld:%jd.%ld;",
				     (uintmax_t)st.st_ino, (intmax_t)st.st_size,
				     (intmax_t)st.st_mtim.tv_sec, st.st_mtim.tv_nsec,
				     (intmax_t)st.st_ctim.tv_sec, st.st_ctim.tv_nsec);
		if (n < 0 || (size_t)n >= size - off)
			return;
		off += (size_t)n;
	}
}

static void pam_verify(struct passdb *pdb, const char *user, const char *password,
		       passdb_done_fn *done, void *ctx)
{
	struct passdb_pam *pp = pdb->ctx;
	const char *at = strrchr(user, '@');
	size_t alen = pp->localpart && at ? (size_t)(at - user) : strlen(user);
	struct pam_job *j;
	char stamp[PAM_STAMP_MAX];

	pdb->cache_hit = false;
	if (pp->localpart && at && !pam_domain_is_local(pp, at + 1)) {
		done(ctx, PASSDB_UNKNOWN);
		return;
	}
	if (alen == 0) {
		done(ctx, PASSDB_UNKNOWN);
		return;
	}
	pam_files_stamp(stamp, sizeof(stamp));
	if (pdb->cache) {
		enum auth_cache_result cr = auth_cache_lookup(pdb->cache, "pam", user, stamp, password);
		if (cr != AUTH_CACHE_MISS) {
			pdb->cache_hit = true;
			done(ctx, cr == AUTH_CACHE_OK ? PASSDB_OK :
				  cr == AUTH_CACHE_MISMATCH ? PASSDB_MISMATCH : PASSDB_UNKNOWN);
			return;
		}
	}
	j = calloc(1, sizeof(*j));

	if (j == NULL || (j->service = strdup(pp->service)) == NULL ||
	    (j->account = strndup(user, alen)) == NULL || (j->password = strdup(password)) == NULL ||
	    (j->user = strdup(user)) == NULL || (j->stamp = strdup(stamp)) == NULL) {
		if (j)
			pam_job_free(j);
		done(ctx, PASSDB_TEMPFAIL);
		return;
	}
	j->job.run = pam_job_run;
	j->job.done = pam_job_done;
	j->pp = pp;
	j->result = PASSDB_TEMPFAIL;
	j->done = done;
	j->ctx = ctx;
	if (worker_pool_submit(pp->pool, &j->job) < 0)
		pam_job_done(&j->job);
}

struct passdb *passdb_pam_new(const char *service, bool localpart,
			      const char *const *local_domains, struct worker_pool *pool)
{
	struct passdb_pam *pp = must_calloc(1, sizeof(*pp));
	size_t n = 0;

	while (local_domains && local_domains[n])
		n++;
	pp->local_domains = must_calloc(n + 1, sizeof(*pp->local_domains));
	for (size_t i = 0; i < n; i++)
		pp->local_domains[i] = str_lower(must_strdup(local_domains[i]));

	pp->pub.name = "pam";
	pp->pub.verify = pam_verify;
	pp->pub.ctx = pp;
	pp->service = must_strdup(service);
	pp->localpart = localpart;
	pp->pool = pool;
	return &pp->pub;
}

void passdb_pam_free(struct passdb **db)
{
	struct passdb_pam *pp;

	if (*db == NULL)
		return;
	pp = (*db)->ctx;
	for (char **d = pp->local_domains; *d; d++)
		free(*d);
	free(pp->local_domains);
	free(pp->service);
	free(pp);
	*db = NULL;
}
