/*
 * maps-lmdb.c - lmdb:/path tables (lmdb_table(5)): the file /path.lmdb,
 * compiled from the postmap source /path by map_build_lmdb() (`postern
 * map`, Postfix's postmap).
 *
 * On-disk format: one unnamed LMDB database in a single file
 * (MDB_NOSUBDIR); keys and values carry a trailing NUL, as postmap writes
 * them, and lookups try the key with and then without the NUL, so tables
 * built by Postfix's postmap read the same.
 *
 * Updates never happen in place: the builder writes a temporary file next
 * to the table and renames it over the old one. That is why readers open
 * with MDB_NOLOCK (no lock file, so an unprivileged role can read a table
 * in a root-owned directory) without risk: a mapped file never changes
 * under them. A reader notices a rebuilt table (new inode) at most one
 * second late and reopens it, so `postern map` takes effect without a
 * reload - like Postfix daemons, which restart when a table changes.
 */
#include <errno.h>
#include <fcntl.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "maps-private.h"

struct maps_lmdb {
	struct map map;
	char *path;        /* NAME.lmdb */
	MDB_env *env;
	MDB_dbi dbi;
	dev_t dev;
	ino_t ino;
	time_t checked;    /* last stat() for a rebuilt file */
	struct strbuf value;
};

static void lmdb_env_close(struct maps_lmdb *t)
{
	if (t->env != NULL) {
		mdb_env_close(t->env);
		t->env = NULL;
	}
}

/* lmdb_env_open - open t->path read-only; 0, or -1 with *error_r. */
static int lmdb_env_open(struct maps_lmdb *t, const char *name, const char **error_r)
{
	MDB_txn *txn = NULL;
	struct stat st;
	int rc;

	if (stat(t->path, &st) < 0) {
		if (errno == ENOENT)
			maps_error(error_r, "lmdb:%s: %s: %s; run \"postern map %s\" to build it",
				   name, t->path, strerror(errno), name);
		else
			maps_error(error_r, "lmdb:%s: %s: %s; check its permissions", name,
				   t->path, strerror(errno));
		return -1;
	}
	rc = mdb_env_create(&t->env);
	if (rc == 0)
		rc = mdb_env_open(t->env, t->path,
				  MDB_RDONLY | MDB_NOSUBDIR | MDB_NOLOCK | MDB_NOTLS, 0);
	if (rc == 0)
		rc = mdb_txn_begin(t->env, NULL, MDB_RDONLY, &txn);
	if (rc == 0)
		rc = mdb_dbi_open(txn, NULL, 0, &t->dbi);
	if (txn != NULL)
		mdb_txn_abort(txn);
	if (rc != 0) {
		maps_error(error_r, "lmdb:%s: %s: %s; rebuild it with \"postern map %s\"",
			   name, t->path, mdb_strerror(rc), name);
		lmdb_env_close(t);
		return -1;
	}
	t->dev = st.st_dev;
	t->ino = st.st_ino;
	t->checked = time(NULL);
	return 0;
}

/* lmdb_refresh - reopen when `postern map` replaced the file. A failed
 * reopen keeps serving the old table (and logs why). */
static void lmdb_refresh(struct maps_lmdb *t)
{
	time_t now = time(NULL);
	struct stat st;
	const char *err;

	if (now == t->checked)
		return;
	t->checked = now;
	if (stat(t->path, &st) < 0 || (st.st_dev == t->dev && st.st_ino == t->ino))
		return;
	{
		struct maps_lmdb fresh = { .path = t->path };
		const char *name = t->map.spec + strlen("lmdb:");

		if (lmdb_env_open(&fresh, name, &err) < 0) {
			log_warn("%s; still using the table opened before", err);
			return;
		}
		lmdb_env_close(t);
		t->env = fresh.env;
		t->dbi = fresh.dbi;
		t->dev = fresh.dev;
		t->ino = fresh.ino;
	}
}

static enum map_status maps_lmdb_lookup(struct map *m, const char *key,
					const char **value_r, const char **error_r)
{
	struct maps_lmdb *t = (struct maps_lmdb *)m;
	size_t klen = strlen(key);
	MDB_txn *txn;
	MDB_val k, v;
	int rc;

	*value_r = NULL;
	lmdb_refresh(t);
	rc = mdb_txn_begin(t->env, NULL, MDB_RDONLY, &txn);
	if (rc != 0) {
		maps_error(error_r, "%s: %s", t->path, mdb_strerror(rc));
		return MAP_TEMPFAIL;
	}
	/* postmap stores the NUL; a table built with postmap -N would not. */
	k.mv_data = (void *)key;
	k.mv_size = klen + 1;
	rc = mdb_get(txn, t->dbi, &k, &v);
	if (rc == MDB_NOTFOUND && klen > 0) {
		k.mv_size = klen;
		rc = mdb_get(txn, t->dbi, &k, &v);
	}
	if (rc == MDB_NOTFOUND || rc == MDB_BAD_VALSIZE) {
		mdb_txn_abort(txn);
		return MAP_NOTFOUND;
	}
	if (rc != 0) {
		mdb_txn_abort(txn);
		maps_error(error_r, "%s: %s", t->path, mdb_strerror(rc));
		return MAP_TEMPFAIL;
	}
	if (v.mv_size > 0 && ((const char *)v.mv_data)[v.mv_size - 1] == '\0')
		v.mv_size--;
	strbuf_reset(&t->value);
	rc = strbuf_append(&t->value, v.mv_data, v.mv_size);
	mdb_txn_abort(txn);
	if (rc < 0) {
		maps_error(error_r, "%s: out of memory copying a value", t->path);
		return MAP_TEMPFAIL;
	}
	*value_r = t->value.data;
	return MAP_FOUND;
}

static void maps_lmdb_close(struct map *m)
{
	struct maps_lmdb *t = (struct maps_lmdb *)m;

	lmdb_env_close(t);
	free(t->path);
	strbuf_free(&t->value);
	maps_free_common(m);
	free(t);
}

static struct map *maps_lmdb_open(const char *name, unsigned open_flags, const char **error_r)
{
	struct maps_lmdb *t = must_calloc(1, sizeof(*t));
	char *spec = must_asprintf("lmdb:%s", name);

	maps_init_common(&t->map, &maps_lmdb_ops, spec, open_flags);
	free(spec);
	t->path = must_asprintf("%s.lmdb", name);
	strbuf_init(&t->value, 0);
	if (lmdb_env_open(t, name, error_r) < 0) {
		maps_lmdb_close(&t->map);
		return NULL;
	}
	return &t->map;
}

const struct map_ops maps_lmdb_ops = {
	.type = "lmdb",
	.flags = MAP_OPS_INDEXED | MAP_OPS_FILE,
	.open = maps_lmdb_open,
	.lookup = maps_lmdb_lookup,
	.close = maps_lmdb_close,
};

/*
 * Builder (postmap).
 */

/* build_write - write the sorted entries into a new file at tmp. Returns 0,
 * MDB_MAP_FULL (retry bigger) or another LMDB error / errno. */
static int build_write(const char *tmp, const struct maps_kv *kv, size_t mapsize,
		       mode_t mode)
{
	MDB_env *env = NULL;
	MDB_txn *txn = NULL;
	MDB_dbi dbi;
	int rc;

	rc = mdb_env_create(&env);
	if (rc == 0)
		rc = mdb_env_set_mapsize(env, mapsize);
	if (rc == 0)
		rc = mdb_env_open(env, tmp, MDB_NOSUBDIR | MDB_NOLOCK | MDB_NOTLS, mode);
	if (rc == 0)
		rc = mdb_txn_begin(env, NULL, 0, &txn);
	if (rc == 0)
		rc = mdb_dbi_open(txn, NULL, 0, &dbi);
	for (size_t i = 0; rc == 0 && i < kv->n; i++) {
		MDB_val k = { strlen(kv->v[i].key) + 1, kv->v[i].key };
		MDB_val v = { strlen(kv->v[i].value) + 1, kv->v[i].value };

		/* The keys are sorted and unique, so appending is exact. */
		rc = mdb_put(txn, dbi, &k, &v, MDB_APPEND);
	}
	if (rc == 0) {
		rc = mdb_txn_commit(txn);  /* syncs the data file */
		txn = NULL;
	}
	if (txn != NULL)
		mdb_txn_abort(txn);
	if (env != NULL)
		mdb_env_close(env);
	return rc;
}

/* build_from_kv - write the finished set kv as source_path.lmdb (len: the
 * source's size, for the first map size guess). 0, or -1 with *error_r. */
static int build_from_kv(const char *source_path, const struct maps_kv *kv, size_t len,
			 char **error_r);

int map_build_lmdb(const char *source_path, unsigned flags, char **error_r)
{
	struct maps_kv kv = { 0 };
	const char *err;
	char *text;
	size_t len;
	int rc = -1;

	text = maps_read_file(source_path, &len, &err);
	if (text == NULL) {
		*error_r = must_strdup(err);
		return -1;
	}
	if (maps_kv_load(&kv, source_path, text, len, (flags & MAP_BUILD_NOFOLD) != 0,
			 &err) < 0)
		*error_r = must_strdup(err);
	else
		rc = build_from_kv(source_path, &kv, len, error_r);
	maps_kv_free(&kv);
	free(text);
	return rc;
}

int map_build_lmdb_entries(const char *source_path, const struct map_build_entry *e, size_t n,
			   unsigned flags, char **error_r)
{
	struct maps_kv kv = { 0 };
	size_t len = 0;
	int rc;

	for (size_t i = 0; i < n; i++) {
		maps_kv_add(&kv, e[i].key, e[i].value, e[i].line);
		if (!(flags & MAP_BUILD_NOFOLD))
			str_lower(kv.v[kv.n - 1].key);
		len += strlen(e[i].key) + strlen(e[i].value) + 2;
	}
	maps_kv_finish(&kv, source_path);
	rc = build_from_kv(source_path, &kv, len, error_r);
	maps_kv_free(&kv);
	return rc;
}

static int build_from_kv(const char *source_path, const struct maps_kv *kv0, size_t len,
			 char **error_r)
{
	const struct maps_kv kv = *kv0;
	char *final = NULL, *tmp = NULL;
	size_t mapsize, maxkey;
	struct stat st;
	int fd, rc = -1;

	/* LMDB's key size limit (511 bytes unless built otherwise). */
	{
		MDB_env *probe;

		maxkey = 511;
		if (mdb_env_create(&probe) == 0) {
			maxkey = (size_t)mdb_env_get_maxkeysize(probe);
			mdb_env_close(probe);
		}
	}
	for (size_t i = 0; i < kv.n; i++) {
		if (strlen(kv.v[i].key) + 1 > maxkey) {
			*error_r = must_asprintf("%s:%u: key \"%s\" is longer than %zu bytes, the "
						 "LMDB limit; shorten it or use texthash:",
						 source_path, kv.v[i].line,
						 maps_quote(kv.v[i].key, 0), maxkey - 1);
			goto out;
		}
	}
	if (stat(source_path, &st) < 0) {
		*error_r = must_asprintf("%s: %s", source_path, strerror(errno));
		goto out;
	}
	final = must_asprintf("%s.lmdb", source_path);
	tmp = must_asprintf("%s.lmdb.XXXXXX", source_path);
	fd = mkstemp(tmp);
	if (fd < 0) {
		*error_r = must_asprintf("%s: cannot create a temporary file: %s; check that the "
					 "directory is writable", tmp, strerror(errno));
		goto out;
	}
	/* Same permission bits as the source: a 0600 secret stays 0600. */
	if (fchmod(fd, st.st_mode & 0666) < 0) {
		*error_r = must_asprintf("%s: chmod: %s", tmp, strerror(errno));
		close(fd);
		unlink(tmp);
		goto out;
	}
	close(fd);
	/* Generous first guess; the map is sparse, only used pages are written. */
	mapsize = 1024 * 1024 + len * 4 + kv.n * 64;
	for (int attempt = 0;; attempt++) {
		int wr = build_write(tmp, &kv, mapsize, st.st_mode & 0666);

		if (wr == 0)
			break;
		if (wr == MDB_MAP_FULL && attempt < 6) {
			/* Start over in an empty file, twice as big. */
			if (truncate(tmp, 0) == 0) {
				mapsize *= 2;
				continue;
			}
			wr = errno;
		}
		*error_r = must_asprintf("%s: writing the table failed: %s", tmp,
					 mdb_strerror(wr));
		unlink(tmp);
		goto out;
	}
	if (rename(tmp, final) < 0) {
		*error_r = must_asprintf("%s: rename to %s: %s", tmp, final, strerror(errno));
		unlink(tmp);
		goto out;
	}
	if (fsync_parent_dir(final) < 0)
		log_warn("%s: fsync of the directory: %s", final, strerror(errno));
	rc = 0;
out:
	free(final);
	free(tmp);
	return rc;
}
