/*
 * resolve_test_util.h - helpers for the smtp/resolve unit tests
 * (test_resolve_*.c, test_alias_file.c): a mkdtemp directory with table
 * files, a configuration from text with DIR replaced by that directory,
 * a fake userdb (resolve_user_fn) and the expansion result as one
 * string, so a test states its exact expectation in one line.
 */
#ifndef RESOLVE_TEST_UTIL_H
#define RESOLVE_TEST_UTIL_H

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "smtp/resolve/resolve.h"
#include "util.h"

static char rs_dir[256];
static char rs_errors[4096];

static inline void rs_report(enum config_level level, const char *msg, void *ctx)
{
	size_t n = strlen(rs_errors);

	(void)ctx;
	if (level == CONFIG_ERROR)
		snprintf(rs_errors + n, sizeof(rs_errors) - n, "%s\n", msg);
}

static inline void rs_rmtree(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *de;

	if (d == NULL) {
		unlink(path);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		char *p;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		p = must_asprintf("%s/%s", path, de->d_name);
		rs_rmtree(p);
		free(p);
	}
	closedir(d);
	rmdir(path);
}

static inline int rs_setup(void **state)
{
	(void)state;
	str_copy(rs_dir, "/tmp/postern-resolve-XXXXXX", sizeof(rs_dir));
	if (mkdtemp(rs_dir) == NULL)
		return -1;
	log_init("test", 0);
	return 0;
}

static inline int rs_teardown(void **state)
{
	(void)state;
	rs_rmtree(rs_dir);
	return 0;
}

/* Replace every "DIR" in s by rs_dir; new memory. */
static inline char *rs_subst(const char *s)
{
	struct strbuf sb;

	strbuf_init(&sb, 0);
	while (*s) {
		if (strncmp(s, "DIR", 3) == 0) {
			strbuf_puts(&sb, rs_dir);
			s += 3;
		} else {
			strbuf_putc(&sb, *s++);
		}
	}
	return strbuf_steal(&sb);
}

static inline void rs_write(const char *name, const char *text)
{
	char *path = must_asprintf("%s/%s", rs_dir, name);
	char *t = rs_subst(text);
	FILE *f;

	f = fopen(path, "w");
	if (f) {
		fputs(t, f);
		fclose(f);
	}
	free(t);
	free(path);
}

static inline void rs_mkdir(const char *name)
{
	char *path = must_asprintf("%s/%s", rs_dir, name);

	mkdir(path, 0700);
	free(path);
}

/* The base of every test configuration. */
static const char rs_base[] = "myhostname = mail.example.com\n"
			      "mydomain = example.com\n"
			      "mydestination = $myhostname, localhost, example.com\n"
			      "myorigin = example.com\n";

static inline struct config *rs_config(const char *extra)
{
	char *t = rs_subst(extra ? extra : "");
	char *text = must_asprintf("%s%s", rs_base, t);
	struct config *cfg;

	rs_errors[0] = '\0';
	cfg = config_parse("t.cf", text, strlen(text), rs_report, NULL);
	if (cfg == NULL)
		fprintf(stderr, "config errors:\n%s", rs_errors);
	free(text);
	free(t);
	return cfg;
}

/* ---- fake userdb ---- */

static int rs_user_calls;
static bool rs_user_tempfail;

/* Known: alice, bob, sys (a system user with home DIR/home/sys),
 * vuser@virt.example, admin, selfie. */
static inline enum resolve_lookup rs_user(void *ctx, const char *name, struct resolve_user *out)
{
	static const char *const users[] = { "alice", "bob", "sys", "vuser@virt.example", "admin", "selfie", NULL };

	(void)ctx;
	__atomic_fetch_add(&rs_user_calls, 1, __ATOMIC_RELAXED);
	if (rs_user_tempfail)
		return RESOLVE_TEMPFAIL;
	for (size_t i = 0; users[i]; i++)
		if (strcmp(name, users[i]) == 0) {
			memset(out, 0, sizeof(*out));
			str_copy(out->name, name, sizeof(out->name));
			if (strcmp(name, "sys") == 0) {
				out->system = true;
				out->uid = getuid();
				out->gid = getgid();
				snprintf(out->home, sizeof(out->home), "%s/home/sys", rs_dir);
			}
			return RESOLVE_FOUND;
		}
	return RESOLVE_NOTFOUND;
}

/* ---- running an expansion ---- */

static const char *const rs_kinds[] = { "addr", "pipe", "file", "discard" };

/* rs_format - "ORIG:KIND:VALUE" per dest, "ORIG:FAIL:VALUE:DSN:TEXT" for
 * a failed one, joined with " | ". */
static inline char *rs_format(const struct resolve_result *res)
{
	struct strbuf sb;

	strbuf_init(&sb, 0);
	for (size_t i = 0; i < res->n_dests; i++) {
		const struct qstatus *f = NULL;

		for (size_t k = 0; k < res->n_failed; k++)
			if (res->failed[k].dest == i)
				f = &res->failed[k];
		if (i > 0)
			strbuf_puts(&sb, " | ");
		if (f)
			strbuf_printf(&sb, "%zu:FAIL:%s:%s:%s", res->dests[i].orig, res->dests[i].value, f->dsn,
				      f->text);
		else
			strbuf_printf(&sb, "%zu:%s:%s%s%s", res->dests[i].orig, rs_kinds[res->dests[i].kind],
				      res->dests[i].runas ? res->dests[i].runas : "",
				      res->dests[i].runas ? ":" : "", res->dests[i].value);
	}
	return strbuf_steal(&sb);
}

/* rs_expand - expand the recipients (a NULL-terminated list) and return
 * the formatted result (new memory), or "TEMP: reason". */
static inline char *rs_expand_hdr(struct resolve *r, const char *sender, const char *header, const char *const *rcpts,
			   char **xsender_r)
{
	struct qrcpt q[32];
	size_t n = 0;
	struct resolve_input in = { .sender = sender, .header = header,
				    .header_len = header ? strlen(header) : 0 };
	struct resolve_result res;
	char *err = NULL, *s;

	for (; rcpts[n] && n < 32; n++) {
		memset(&q[n], 0, sizeof(q[n]));
		q[n].addr = (char *)rcpts[n];
	}
	in.rcpts = q;
	in.n_rcpts = n;
	if (resolve_expand(r, &in, rs_user, NULL, &res, &err) < 0) {
		s = must_asprintf("TEMP: %s", err);
		free(err);
		return s;
	}
	s = rs_format(&res);
	if (xsender_r)
		*xsender_r = res.xsender ? must_strdup(res.xsender) : NULL;
	resolve_result_free(&res);
	return s;
}

static inline char *rs_expand(struct resolve *r, const char *const *rcpts)
{
	return rs_expand_hdr(r, "sender@remote.example", NULL, rcpts, NULL);
}

#define RS_EXPECT(r, expected, ...)                                                   \
	do {                                                                          \
		const char *const rcpts_[] = { __VA_ARGS__, NULL };                   \
		char *got_ = rs_expand((r), rcpts_);                                  \
		assert_string_equal(got_, (expected));                                \
		free(got_);                                                           \
	} while (0)

#endif
