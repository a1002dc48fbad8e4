/*
 * store_test_util.h - helpers for the tests/unit/test_store_*.c files: a
 * fresh temporary mail root per test, settings pointing at it, message
 * files, and counting files in a Maildir directory.
 */
#ifndef STORE_TEST_UTIL_H
#define STORE_TEST_UTIL_H

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/store.h"

struct st_env {
	char dir[256];
	char location[512];
	struct store_settings set;
};

static inline void st_setup(struct st_env *e)
{
	snprintf(e->dir, sizeof(e->dir), "/tmp/postern-store-test.XXXXXX");
	if (mkdtemp(e->dir) == NULL)
		abort();
	snprintf(e->location, sizeof(e->location), "maildir:%s/%%d/%%n", e->dir);
	store_settings_defaults(&e->set);
	e->set.mail_location = e->location;
	e->set.data_directory = e->dir;
	e->set.hostname = "mx.example.org";
}

static inline void st_teardown(struct st_env *e)
{
	char cmd[600];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", e->dir);
	if (system(cmd) != 0)
		abort();
}

/* A message as an fd positioned at 0 (unlinked temporary file). */
static inline int st_msg_fd(const char *text)
{
	char path[] = "/tmp/postern-store-msg.XXXXXX";
	int fd = mkstemp(path);
	size_t len = strlen(text);

	if (fd < 0 || write(fd, text, len) != (ssize_t)len)
		abort();
	unlink(path);
	lseek(fd, 0, SEEK_SET);
	return fd;
}

/* Number of message files in DIR (entries not starting with '.'). */
static inline int st_count(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

/* The single file name in DIR matching prefix (or the first one); "" if none. */
static inline void st_first(const char *dir, char *out, size_t size)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	out[0] = '\0';
	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.') {
			snprintf(out, size, "%s", de->d_name);
			break;
		}
	closedir(d);
}

static inline int st_deliver(struct st_env *e, const char *user, const char *text,
			     struct store_dedup *dd, uint32_t *uid_r, struct store_error *err)
{
	struct store_deliver_req req = { .user = user, .sender = "sender@example.net",
					 .dedup = dd };
	int rc;

	req.fd = st_msg_fd(text);
	rc = store_deliver(&e->set, &req, uid_r, err);
	close(req.fd);
	return rc;
}

#endif
