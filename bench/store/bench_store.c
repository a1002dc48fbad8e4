/*
 * bench_store.c - store benchmark (issue "Store", bench/store): deliver N
 * small messages into one mailbox through store_deliver() (the LDA path,
 * fsyncs included), then time:
 *   first open   - the first session after the deliveries (scans new/,
 *                  moves everything to cur/)
 *   warm open    - nothing changed since (2.5 s later, outside the mtime
 *                  dirty window): must read no directory
 *   cold rebuild - the index deleted and rebuilt from the files
 *   cold open    - the first open after the rebuild
 *   all flags    - iterate every message's flags from the index
 *   header search- open every message and look for a Subject substring
 *                  in its header (what SEARCH HEADER does without a cache)
 * "cold" means the index is rebuilt; the page cache is not dropped (that
 * needs root and affects the whole machine), so file data may be cached.
 *
 * Usage: bench_store DIR [N]   (DIR must not exist; default N = 100000)
 * Prints one "name seconds" line per figure. Built by `make bench-store`.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "store/store.h"

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int count_flags(const struct store_msg *m, void *ctx)
{
	unsigned long *n = ctx;

	if (m->flags & STORE_FLAG_SEEN)
		n[0]++;
	n[1]++;
	return 0;
}

struct search {
	struct store_mailbox *box;
	const char *needle;
	unsigned long hits;
};

static int search_one(const struct store_msg *m, void *ctx)
{
	struct search *s = ctx;
	struct store_error err;
	char buf[4096];
	off_t off;
	uint64_t size;
	ssize_t n;
	int fd;

	if (store_msg_open(s->box, m->uid, &fd, &off, &size, &err) < 0)
		return 0;
	n = pread(fd, buf, sizeof(buf) - 1, off);
	close(fd);
	if (n > 0) {
		char *end;

		buf[n] = '\0';
		end = strstr(buf, "\n\n");
		if (end)
			*end = '\0';
		if (strstr(buf, s->needle))
			s->hits++;
	}
	return 0;
}

static struct store_mailbox *open_inbox(struct store_user *u)
{
	struct store_error err;
	struct store_mailbox *box = store_mailbox_open(u, "INBOX", 0, &err);

	if (box == NULL) {
		fprintf(stderr, "open: %s\n", err.text);
		exit(1);
	}
	return box;
}

int main(int argc, char **argv)
{
	struct store_settings set;
	struct store_error err;
	struct store_user *u;
	struct store_mailbox *box;
	struct store_status st;
	char loc[1024], path[] = "/tmp/bench-store-msg.XXXXXX";
	unsigned long n = argc > 2 ? strtoul(argv[2], NULL, 10) : 100000, flags[2] = { 0, 0 };
	uint64_t rebuilt = 0;
	double t;
	int fd;

	if (argc < 2) {
		fprintf(stderr, "usage: bench_store DIR [N]\n");
		return 2;
	}
	log_init("bench_store", LOG_DEST_STDERR_TOOL);
	if (mkdir(argv[1], 0700) < 0) {
		fprintf(stderr, "%s: %s (it must not exist)\n", argv[1], strerror(errno));
		return 1;
	}
	store_settings_defaults(&set);
	snprintf(loc, sizeof(loc), "maildir:%s/%%n", argv[1]);
	set.mail_location = loc;
	set.hostname = "bench.example";

	fd = mkstemp(path);
	unlink(path);
	t = now();
	for (unsigned long i = 0; i < n; i++) {
		char msg[512];
		int len = snprintf(msg, sizeof(msg),
				   "From: sender%lu@example.net\nTo: bench@example.org\n"
				   "Subject: message %lu%s\nMessage-ID: <%lu@bench>\n\nHello %lu\n",
				   i % 100, i, i % 1000 == 0 ? " needle" : "", i, i);
		struct store_deliver_req req = { .user = "bench", .sender = "s@example.net", .fd = fd };

		if (ftruncate(fd, 0) < 0 || pwrite(fd, msg, (size_t)len, 0) != len)
			return 1;
		lseek(fd, 0, SEEK_SET);
		if (store_deliver(&set, &req, NULL, &err) != 0) {
			fprintf(stderr, "deliver %lu: %s\n", i, err.text);
			return 1;
		}
	}
	printf("deliver_%lu %.3f\n", n, now() - t);
	close(fd);

	u = store_user_open(&set, "bench", NULL, NULL, 0, &err);
	if (u == NULL)
		return 1;
	t = now();
	box = open_inbox(u);
	printf("first_open %.4f\n", now() - t);
	store_mailbox_close(&box);
	sleep(3);
	box = open_inbox(u); /* re-stamps outside the dirty window */
	store_mailbox_close(&box);
	t = now();
	box = open_inbox(u);
	printf("warm_open %.6f\n", now() - t);
	store_mailbox_status(box, &st);
	if (st.messages != n)
		fprintf(stderr, "expected %lu messages, index has %u\n", n, st.messages);
	t = now();
	store_mailbox_foreach(box, 0, count_flags, flags, &err);
	printf("all_flags %.4f\n", now() - t);
	{
		/* The LMDB file's size: what the per-message records (and the
		 * cached ENVELOPE/BODYSTRUCTURE) cost on disk. */
		char ip[600];
		struct stat ist;

		snprintf(ip, sizeof(ip), "%s/bench/postern-index/data.mdb", argv[1]);
		if (stat(ip, &ist) == 0)
			printf("index_kib %lld\n", (long long)ist.st_blocks / 2);
	}
	{
		struct search s = { .box = box, .needle = "needle" };

		t = now();
		store_mailbox_foreach(box, 0, search_one, &s, &err);
		printf("header_search %.4f (%lu hits)\n", now() - t, s.hits);
	}
	store_mailbox_close(&box);
	t = now();
	if (store_index_rebuild(u, &rebuilt, &err) < 0)
		return 1;
	printf("cold_rebuild %.4f (%llu messages)\n", now() - t, (unsigned long long)rebuilt);
	store_user_close(&u);
	u = store_user_open(&set, "bench", NULL, NULL, 0, &err);
	t = now();
	box = open_inbox(u);
	printf("cold_open %.4f\n", now() - t);
	store_mailbox_close(&box);
	store_user_close(&u);
	return 0;
}
