/*
 * instance.c - the standard listener set and directory layout of an
 * instance, and the "can mail_owner reach this path" test, shared by
 * `postern init` (cmd-init.c) and `postern check` (cmd-check.c).
 */
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/instance.h"
#include "util.h"

const struct instance_listener instance_listeners[] = {
	{ "mx", "smtp", 25, "starttls" },
	{ "submission", "smtp", 587, "starttls" },
	{ "smtps", "smtp", 465, "implicit" },
	{ "imap", "imap", 143, "starttls" },
	{ "imaps", "imap", 993, "implicit" },
	{ "pop3", "pop3", 110, "starttls" },
	{ "pop3s", "pop3", 995, "implicit" },
	{ "web", "web", 443, "implicit" },
};
const size_t instance_listener_count = sizeof(instance_listeners) / sizeof(instance_listeners[0]);

const char *const instance_queue_dirs[] = {
	"incoming", "active", "deferred", "hold", "corrupt", NULL
};

static bool in_groups(uid_t uid, gid_t gid, gid_t want)
{
	struct passwd *pw;
	gid_t groups[256];
	int n = 256;

	if (gid == want)
		return true;
	pw = getpwuid(uid);
	if (pw == NULL || getgrouplist(pw->pw_name, gid, groups, &n) < 0)
		return false;
	for (int i = 0; i < n; i++)
		if (groups[i] == want)
			return true;
	return false;
}

static bool can_search(const struct stat *st, uid_t uid, gid_t gid)
{
	if (uid == 0)
		return true;
	if (st->st_uid == uid)
		return (st->st_mode & S_IXUSR) != 0;
	if (in_groups(uid, gid, st->st_gid))
		return (st->st_mode & S_IXGRP) != 0;
	return (st->st_mode & S_IXOTH) != 0;
}

char *instance_unreachable(const char *path, uid_t uid, gid_t gid)
{
	char *copy = must_strdup(path);
	size_t len = strlen(copy);

	/* Check "/", "/a", "/a/b", ... in order, so the message names the
	 * outermost directory that blocks. */
	for (size_t i = 1; i <= len; i++) {
		struct stat st;
		char saved;

		if (i < len && copy[i] != '/')
			continue;
		saved = copy[i];
		copy[i] = '\0';
		if (stat(i == 0 ? "/" : copy, &st) == 0 && S_ISDIR(st.st_mode) &&
		    !can_search(&st, uid, gid)) {
			return copy;
		}
		copy[i] = saved;
	}
	free(copy);
	return NULL;
}

const char *instance_listen_text(const char *addr, int port, char *buf, size_t size)
{
	snprintf(buf, size, strchr(addr, ':') ? "[%s]:%d" : "%s:%d", addr, port);
	return buf;
}
