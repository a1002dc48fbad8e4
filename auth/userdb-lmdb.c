/*
 * userdb-lmdb.c - the virtual user database on LMDB; see userdb.h for the
 * layout and record format. Callers: cli/cmd-user.c, cli/cmd-domain.c,
 * passdb-virtual.c and auth-userdb.c in the auth role.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <lmdb.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth/userdb.h"
#include "util.h"

/* The database holds a few thousand users at most; 256 MiB of address
 * space is reserved, not used. */
#define USERDB_MAP_SIZE ((size_t)256 << 20)

struct userdb {
	MDB_env *env;
	MDB_dbi users, domains, aliases;
	char *dir;
};

static int db_err(char **error_r, const char *what, const char *dir, int rc)
{
	*error_r = must_asprintf("user database %s: %s: %s", dir, what, mdb_strerror(rc));
	return -1;
}

int userdb_open(const char *dir, unsigned flags, struct userdb **db_r, char **error_r)
{
	struct userdb *db;
	MDB_txn *txn = NULL;
	unsigned dbflags = (flags & USERDB_CREATE) ? MDB_CREATE : 0;
	int rc;

	if ((flags & USERDB_CREATE) && mkdir(dir, 0700) < 0 && errno != EEXIST) {
		*error_r = must_asprintf("user database %s: cannot create directory: %s; "
					 "check that its parent exists and is writable",
					 dir, strerror(errno));
		return -1;
	}
	db = must_calloc(1, sizeof(*db));
	db->dir = must_strdup(dir);
	if ((rc = mdb_env_create(&db->env)) != 0 ||
	    (rc = mdb_env_set_maxdbs(db->env, 4)) != 0 ||
	    (rc = mdb_env_set_mapsize(db->env, USERDB_MAP_SIZE)) != 0) {
		db_err(error_r, "cannot create environment", dir, rc);
		goto fail;
	}
	/* NOTLS: read transactions are not tied to a thread. */
	if ((rc = mdb_env_open(db->env, dir, MDB_NOTLS, 0600)) != 0) {
		if (rc == ENOENT)
			*error_r = must_asprintf("user database %s does not exist; create it with "
						 "\"postern domain add DOMAIN\" or \"postern init\"", dir);
		else
			db_err(error_r, "cannot open", dir, rc);
		goto fail;
	}
	if ((rc = mdb_txn_begin(db->env, NULL, 0, &txn)) != 0 ||
	    (rc = mdb_dbi_open(txn, "users", dbflags, &db->users)) != 0 ||
	    (rc = mdb_dbi_open(txn, "domains", dbflags, &db->domains)) != 0 ||
	    (rc = mdb_dbi_open(txn, "aliases", dbflags, &db->aliases)) != 0 ||
	    (rc = mdb_txn_commit(txn)) != 0) {
		if (txn && rc != 0)
			mdb_txn_abort(txn);
		db_err(error_r, "cannot open databases", dir, rc);
		goto fail;
	}
	*db_r = db;
	return 0;
fail:
	mdb_env_close(db->env);
	free(db->dir);
	free(db);
	return -1;
}

void userdb_close(struct userdb **dbp)
{
	struct userdb *db = *dbp;

	if (db == NULL)
		return;
	mdb_env_close(db->env);
	free(db->dir);
	free(db);
	*dbp = NULL;
}

int userdb_chown(const char *dir, uid_t uid, gid_t gid, char **error_r)
{
	static const char *const files[] = { "", "/data.mdb", "/lock.mdb" };

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		char *p = must_asprintf("%s%s", dir, files[i]);
		if (chown(p, uid, gid) < 0 || chmod(p, i == 0 ? 0700 : 0600) < 0) {
			*error_r = must_asprintf("%s: cannot set owner and mode: %s", p, strerror(errno));
			free(p);
			return -1;
		}
		free(p);
	}
	return 0;
}

/* Value bytes allowed in a record: no controls (TAB and LF separate). */
static bool value_valid(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

bool userdb_domain_valid(const char *d)
{
	size_t len = strlen(d);

	if (len == 0 || len > 253 || d[0] == '.' || d[0] == '-' || d[len - 1] == '.' ||
	    strstr(d, ".."))
		return false;
	for (; *d; d++)
		if (!isalnum((unsigned char)*d) && *d != '-' && *d != '.' && *d != '_')
			return false;
	return true;
}

bool userdb_address_valid(const char *a)
{
	const char *at = strrchr(a, '@');
	size_t len = strlen(a);

	if (at == NULL || at == a || len > USERDB_ADDRESS_MAX || !userdb_domain_valid(at + 1))
		return false;
	for (const char *p = a; p < at; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f || *p == ',' || *p == '@')
			return false;
	return true;
}

int userdb_record_encode(const struct userdb_user *u, struct strbuf *out, const char **error_r)
{
	int r = strbuf_printf(out, "%d\tenabled=%d", USERDB_RECORD_VERSION, u->enabled ? 1 : 0);

	if ((u->password && !value_valid(u->password)) || (u->scram && !value_valid(u->scram)) ||
	    (u->mail && !value_valid(u->mail))) {
		*error_r = "control character in a user attribute";
		return -1;
	}
	if (u->password)
		r |= strbuf_printf(out, "\tpassword=%s", u->password);
	if (u->scram)
		r |= strbuf_printf(out, "\tscram=%s", u->scram);
	if (u->quota_bytes > 0)
		r |= strbuf_printf(out, "\tquota=%lld", u->quota_bytes);
	if (u->mail)
		r |= strbuf_printf(out, "\tmail=%s", u->mail);
	if (u->n_aliases > USERDB_ALIASES_MAX) {
		*error_r = "too many aliases";
		return -1;
	}
	for (size_t i = 0; i < u->n_aliases; i++) {
		if (!userdb_address_valid(u->aliases[i])) {
			*error_r = "invalid alias address";
			return -1;
		}
		r |= strbuf_printf(out, "%s%s", i == 0 ? "\taliases=" : ",", u->aliases[i]);
	}
	if (r < 0 || out->len > USERDB_RECORD_MAX) {
		*error_r = "user record too large";
		return -1;
	}
	return 0;
}

void userdb_user_clear(struct userdb_user *u)
{
	free(u->address);
	if (u->password) {
		sodium_memzero(u->password, strlen(u->password));
		free(u->password);
	}
	free(u->scram);
	free(u->mail);
	for (size_t i = 0; i < u->n_aliases; i++)
		free(u->aliases[i]);
	free(u->aliases);
	memset(u, 0, sizeof(*u));
}

/* Split the comma list of aliases; -1 on a bad or out-of-memory list. */
static int record_aliases(struct userdb_user *u, const char *v, size_t vlen)
{
	size_t n = 1;

	for (size_t i = 0; i < vlen; i++)
		if (v[i] == ',')
			n++;
	if (vlen == 0 || n > USERDB_ALIASES_MAX || u->aliases)
		return -1;
	u->aliases = calloc(n, sizeof(char *));
	if (u->aliases == NULL)
		return -1;
	const char *p = v, *end = v + vlen;
	while (p <= end && u->n_aliases < n) {
		const char *c = memchr(p, ',', (size_t)(end - p));
		if (c == NULL)
			c = end;
		char *a = strndup(p, (size_t)(c - p));
		if (a == NULL)
			return -1;
		u->aliases[u->n_aliases++] = a;
		if (!userdb_address_valid(a))
			return -1;
		p = c + 1;
	}
	return 0;
}

static int record_field(struct userdb_user *u, const char *f, size_t flen)
{
	const char *eq = memchr(f, '=', flen);
	char **dst = NULL;

	if (eq == NULL)
		return -1;
	size_t klen = (size_t)(eq - f);
	const char *v = eq + 1;
	size_t vlen = flen - klen - 1;
	for (size_t i = 0; i < vlen; i++)
		if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f)
			return -1;
	if (klen == 7 && memcmp(f, "enabled", 7) == 0) {
		if (vlen != 1 || (v[0] != '0' && v[0] != '1'))
			return -1;
		u->enabled = v[0] == '1';
		return 0;
	}
	if (klen == 5 && memcmp(f, "quota", 5) == 0) {
		long long q = 0;
		if (vlen == 0 || vlen > 18)
			return -1;
		for (size_t i = 0; i < vlen; i++) {
			if (!isdigit((unsigned char)v[i]))
				return -1;
			q = q * 10 + (v[i] - '0');
		}
		u->quota_bytes = q;
		return 0;
	}
	if (klen == 7 && memcmp(f, "aliases", 7) == 0)
		return record_aliases(u, v, vlen);
	if (klen == 8 && memcmp(f, "password", 8) == 0)
		dst = &u->password;
	else if (klen == 5 && memcmp(f, "scram", 5) == 0)
		dst = &u->scram;
	else if (klen == 4 && memcmp(f, "mail", 4) == 0)
		dst = &u->mail;
	else
		return 0;   /* a field added later: ignored by this version */
	if (*dst)
		return -1;  /* duplicate */
	*dst = strndup(v, vlen);
	return *dst ? 0 : -1;
}

int userdb_record_decode(const char *address, const void *data, size_t len,
			 struct userdb_user *u, const char **error_r)
{
	const char *p = data, *end = p + len;

	memset(u, 0, sizeof(*u));
	if (len > USERDB_RECORD_MAX) {
		*error_r = "user record too large";
		return -1;
	}
	if (len < 2 || p[0] != '0' + USERDB_RECORD_VERSION || (len > 1 && p[1] != '\t')) {
		*error_r = "unknown user record version (written by a newer Postern?)";
		return -1;
	}
	u->address = strdup(address);
	if (u->address == NULL) {
		*error_r = "out of memory";
		return -1;
	}
	p += 2;
	while (p < end) {
		const char *t = memchr(p, '\t', (size_t)(end - p));
		if (t == NULL)
			t = end;
		if (record_field(u, p, (size_t)(t - p)) < 0) {
			userdb_user_clear(u);
			*error_r = "malformed user record";
			return -1;
		}
		p = t + 1;
	}
	return 0;
}

static MDB_val mkval(const char *s)
{
	MDB_val v = { .mv_size = strlen(s), .mv_data = (void *)s };
	return v;
}

static int get_in(struct userdb *db, MDB_txn *txn, const char *address,
		  struct userdb_user *u, char **error_r)
{
	MDB_val k = mkval(address), v;
	const char *err;
	int rc = mdb_get(txn, db->users, &k, &v);

	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc != 0)
		return db_err(error_r, "read failed", db->dir, rc);
	if (userdb_record_decode(address, v.mv_data, v.mv_size, u, &err) < 0) {
		*error_r = must_asprintf("user database %s: user %s: %s", db->dir, address, err);
		return -1;
	}
	return 1;
}

int userdb_user_get(struct userdb *db, const char *address, struct userdb_user *u, char **error_r)
{
	MDB_txn *txn;
	int rc = mdb_txn_begin(db->env, NULL, MDB_RDONLY, &txn);

	if (rc != 0)
		return db_err(error_r, "cannot begin read", db->dir, rc);
	int r = get_in(db, txn, address, u, error_r);
	mdb_txn_abort(txn);
	return r;
}

static const char *domain_of(const char *address)
{
	const char *at = strrchr(address, '@');
	return at ? at + 1 : "";
}

static int write_user(struct userdb *db, MDB_txn *txn, const struct userdb_user *u, char **error_r)
{
	struct strbuf sb;
	const char *err;
	MDB_val k = mkval(u->address), v;
	int rc;

	strbuf_init(&sb, USERDB_RECORD_MAX);
	if (userdb_record_encode(u, &sb, &err) < 0) {
		strbuf_free(&sb);
		*error_r = must_asprintf("user %s: %s", u->address, err);
		return -1;
	}
	v.mv_data = sb.data;
	v.mv_size = sb.len;
	rc = mdb_put(txn, db->users, &k, &v, 0);
	sodium_memzero(sb.data, sb.len);
	strbuf_free(&sb);
	if (rc != 0)
		return db_err(error_r, "write failed", db->dir, rc);
	return 0;
}

int userdb_user_put(struct userdb *db, const struct userdb_user *u, enum userdb_put_mode mode,
		    char **error_r)
{
	MDB_txn *txn;
	struct userdb_user old;
	int rc, r;

	if (!userdb_address_valid(u->address)) {
		*error_r = must_asprintf("\"%s\" is not a valid address; use user@domain", u->address);
		return -1;
	}
	if ((rc = mdb_txn_begin(db->env, NULL, 0, &txn)) != 0)
		return db_err(error_r, "cannot begin write", db->dir, rc);
	MDB_val dk = mkval(domain_of(u->address)), dv;
	rc = mdb_get(txn, db->domains, &dk, &dv);
	if (rc == MDB_NOTFOUND) {
		*error_r = must_asprintf("domain %s does not exist; add it first with "
					 "\"postern domain add %s\"", domain_of(u->address),
					 domain_of(u->address));
		goto fail;
	} else if (rc != 0) {
		db_err(error_r, "read failed", db->dir, rc);
		goto fail;
	}
	memset(&old, 0, sizeof(old));
	r = get_in(db, txn, u->address, &old, error_r);
	if (r < 0)
		goto fail;
	if (r == 1 && mode == USERDB_PUT_NEW) {
		userdb_user_clear(&old);
		*error_r = must_asprintf("user %s already exists; change it with \"postern user "
					 "passwd\" or remove it with \"postern user del\"", u->address);
		goto fail;
	}
	if (r == 0 && mode == USERDB_PUT_REPLACE) {
		*error_r = must_asprintf("user %s does not exist; add it with \"postern user add %s\"",
					 u->address, u->address);
		goto fail;
	}
	/* Drop the aliases this user no longer owns, then claim the new ones. */
	for (size_t i = 0; i < old.n_aliases; i++) {
		MDB_val ak = mkval(old.aliases[i]);
		rc = mdb_del(txn, db->aliases, &ak, NULL);
		if (rc != 0 && rc != MDB_NOTFOUND) {
			userdb_user_clear(&old);
			db_err(error_r, "alias update failed", db->dir, rc);
			goto fail;
		}
	}
	userdb_user_clear(&old);
	for (size_t i = 0; i < u->n_aliases; i++) {
		MDB_val ak = mkval(u->aliases[i]), av, uk = mkval(u->aliases[i]);
		if (mdb_get(txn, db->users, &uk, &av) == 0) {
			*error_r = must_asprintf("alias %s is a user of its own; an address is either "
						 "a user or an alias", u->aliases[i]);
			goto fail;
		}
		rc = mdb_get(txn, db->aliases, &ak, &av);
		if (rc == 0 && (av.mv_size != strlen(u->address) ||
				memcmp(av.mv_data, u->address, av.mv_size) != 0)) {
			*error_r = must_asprintf("alias %s is already owned by %.*s; remove it there first",
						 u->aliases[i], (int)av.mv_size, (char *)av.mv_data);
			goto fail;
		}
		MDB_val ov = mkval(u->address);
		if ((rc = mdb_put(txn, db->aliases, &ak, &ov, 0)) != 0) {
			db_err(error_r, "alias update failed", db->dir, rc);
			goto fail;
		}
	}
	if (write_user(db, txn, u, error_r) < 0)
		goto fail;
	if ((rc = mdb_txn_commit(txn)) != 0)
		return db_err(error_r, "commit failed", db->dir, rc);
	return 0;
fail:
	mdb_txn_abort(txn);
	return -1;
}

int userdb_user_del(struct userdb *db, const char *address, char **error_r)
{
	MDB_txn *txn;
	struct userdb_user old;
	int rc, r;

	if ((rc = mdb_txn_begin(db->env, NULL, 0, &txn)) != 0)
		return db_err(error_r, "cannot begin write", db->dir, rc);
	r = get_in(db, txn, address, &old, error_r);
	if (r <= 0) {
		mdb_txn_abort(txn);
		return r;
	}
	for (size_t i = 0; i < old.n_aliases; i++) {
		MDB_val ak = mkval(old.aliases[i]);
		(void)mdb_del(txn, db->aliases, &ak, NULL);
	}
	userdb_user_clear(&old);
	MDB_val k = mkval(address);
	if ((rc = mdb_del(txn, db->users, &k, NULL)) != 0 || (rc = mdb_txn_commit(txn)) != 0) {
		if (rc != 0)
			mdb_txn_abort(txn);
		return db_err(error_r, "delete failed", db->dir, rc);
	}
	return 1;
}

int userdb_user_upgrade(struct userdb *db, const char *address, const char *old_password,
			const char *new_password, const char *new_scram, char **error_r)
{
	MDB_txn *txn;
	struct userdb_user u;
	int rc, r;

	if ((rc = mdb_txn_begin(db->env, NULL, 0, &txn)) != 0)
		return db_err(error_r, "cannot begin write", db->dir, rc);
	r = get_in(db, txn, address, &u, error_r);
	if (r <= 0 || u.password == NULL || strcmp(u.password, old_password) != 0) {
		if (r > 0)
			userdb_user_clear(&u);
		mdb_txn_abort(txn);
		return r < 0 ? -1 : 0;
	}
	char *np = strdup(new_password), *ns = new_scram ? strdup(new_scram) : NULL;
	if (np == NULL || (new_scram && ns == NULL)) {
		free(np);
		free(ns);
		userdb_user_clear(&u);
		mdb_txn_abort(txn);
		*error_r = must_strdup("out of memory");
		return -1;
	}
	sodium_memzero(u.password, strlen(u.password));
	free(u.password);
	free(u.scram);
	u.password = np;
	u.scram = ns;
	r = write_user(db, txn, &u, error_r);
	userdb_user_clear(&u);
	if (r < 0) {
		mdb_txn_abort(txn);
		return -1;
	}
	if ((rc = mdb_txn_commit(txn)) != 0)
		return db_err(error_r, "commit failed", db->dir, rc);
	return 1;
}

int userdb_user_list(struct userdb *db, const char *domain, userdb_user_fn *fn, void *ctx,
		     char **error_r)
{
	MDB_txn *txn;
	MDB_cursor *cur;
	MDB_val k, v;
	int rc, ret = 0;

	if ((rc = mdb_txn_begin(db->env, NULL, MDB_RDONLY, &txn)) != 0)
		return db_err(error_r, "cannot begin read", db->dir, rc);
	if ((rc = mdb_cursor_open(txn, db->users, &cur)) != 0) {
		mdb_txn_abort(txn);
		return db_err(error_r, "cannot open cursor", db->dir, rc);
	}
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		struct userdb_user u;
		const char *err;
		char *addr = strndup(k.mv_data, k.mv_size);
		if (addr == NULL)
			continue;
		if (domain && strcmp(domain_of(addr), domain) != 0) {
			free(addr);
			continue;
		}
		if (userdb_record_decode(addr, v.mv_data, v.mv_size, &u, &err) < 0) {
			*error_r = must_asprintf("user database %s: user %s: %s", db->dir, addr, err);
			free(addr);
			ret = -1;
			break;
		}
		free(addr);
		int stop = fn(&u, ctx);
		userdb_user_clear(&u);
		if (stop)
			break;
	}
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	return ret;
}

int userdb_domain_list(struct userdb *db, userdb_domain_fn *fn, void *ctx, char **error_r)
{
	MDB_txn *txn;
	MDB_cursor *cur;
	MDB_val k, v;
	int rc;

	if ((rc = mdb_txn_begin(db->env, NULL, MDB_RDONLY, &txn)) != 0)
		return db_err(error_r, "cannot begin read", db->dir, rc);
	if ((rc = mdb_cursor_open(txn, db->domains, &cur)) != 0) {
		mdb_txn_abort(txn);
		return db_err(error_r, "cannot open cursor", db->dir, rc);
	}
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		char *d = strndup(k.mv_data, k.mv_size);
		int stop = d ? fn(d, ctx) : 0;
		free(d);
		if (stop)
			break;
	}
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	return 0;
}

int userdb_domain_add(struct userdb *db, const char *domain, char **error_r)
{
	MDB_txn *txn;
	MDB_val k = mkval(domain), v = mkval("1");
	int rc;

	if (!userdb_domain_valid(domain)) {
		*error_r = must_asprintf("\"%s\" is not a valid domain name", domain);
		return -1;
	}
	if ((rc = mdb_txn_begin(db->env, NULL, 0, &txn)) != 0)
		return db_err(error_r, "cannot begin write", db->dir, rc);
	rc = mdb_put(txn, db->domains, &k, &v, MDB_NOOVERWRITE);
	if (rc == MDB_KEYEXIST) {
		mdb_txn_abort(txn);
		return 0;
	}
	if (rc != 0 || (rc = mdb_txn_commit(txn)) != 0) {
		if (rc != 0)
			mdb_txn_abort(txn);
		return db_err(error_r, "write failed", db->dir, rc);
	}
	return 1;
}

static int count_user(const struct userdb_user *u, void *ctx)
{
	(void)u;
	(*(size_t *)ctx)++;
	return 0;
}

int userdb_domain_del(struct userdb *db, const char *domain, char **error_r)
{
	MDB_txn *txn;
	MDB_val k = mkval(domain);
	size_t n = 0;
	int rc;

	if (userdb_user_list(db, domain, count_user, &n, error_r) < 0)
		return -1;
	if (n > 0) {
		*error_r = must_asprintf("domain %s still has %zu user(s); remove them first "
					 "(\"postern user list %s\", \"postern user del ADDRESS\")",
					 domain, n, domain);
		return -1;
	}
	if ((rc = mdb_txn_begin(db->env, NULL, 0, &txn)) != 0)
		return db_err(error_r, "cannot begin write", db->dir, rc);
	rc = mdb_del(txn, db->domains, &k, NULL);
	if (rc == MDB_NOTFOUND) {
		mdb_txn_abort(txn);
		return 0;
	}
	if (rc != 0 || (rc = mdb_txn_commit(txn)) != 0) {
		if (rc != 0)
			mdb_txn_abort(txn);
		return db_err(error_r, "delete failed", db->dir, rc);
	}
	return 1;
}

int userdb_domain_exists(struct userdb *db, const char *domain, char **error_r)
{
	MDB_txn *txn;
	MDB_val k = mkval(domain), v;
	int rc;

	if ((rc = mdb_txn_begin(db->env, NULL, MDB_RDONLY, &txn)) != 0)
		return db_err(error_r, "cannot begin read", db->dir, rc);
	rc = mdb_get(txn, db->domains, &k, &v);
	mdb_txn_abort(txn);
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc != 0)
		return db_err(error_r, "read failed", db->dir, rc);
	return 1;
}

int userdb_alias_owner(struct userdb *db, const char *alias, char **owner_r, char **error_r)
{
	MDB_txn *txn;
	MDB_val k = mkval(alias), v;
	int rc;

	if ((rc = mdb_txn_begin(db->env, NULL, MDB_RDONLY, &txn)) != 0)
		return db_err(error_r, "cannot begin read", db->dir, rc);
	rc = mdb_get(txn, db->aliases, &k, &v);
	if (rc == 0)
		*owner_r = must_strndup(v.mv_data, v.mv_size);
	mdb_txn_abort(txn);
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc != 0)
		return db_err(error_r, "read failed", db->dir, rc);
	return 1;
}
