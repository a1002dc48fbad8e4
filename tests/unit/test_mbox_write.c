/*
 * test_mbox_write.c - appending and expunging (store/mbox-write.c):
 * mboxrd round trip (every message reads back byte for byte, From lines
 * at any quoting depth, CRLF, empty and unterminated messages), input in
 * one-byte chunks, a failed append (RLIMIT_FSIZE -> EFBIG mid-write)
 * leaving the file at its old size, repair of a missing separator,
 * in-place expunge, replay of an interrupted expunge with foreign appends
 * since, and several processes delivering while another expunges.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include "mbox_test_util.h"

static const char *const tricky[] = {
	"Subject: plain\n\nhello\n",
	"From the start: a message whose first line looks like a From_ line\n\nx\n",
	">From already quoted at the start\n\n>From x\n>>From y\n>>>From z\n",
	"Subject: from lines\n\nFrom here\n\nFrom someone Wed Nov 25 10:00:00 2026\n\n>From a Wed Nov 25 10:00:00 2026\nFrom\nFro\n>\n>>\n>From\n",
	"Subject: crlf\r\n\r\nbody\r\n\r\nFrom x Wed Nov 25 10:00:00 2026\r\n",
	"Subject: trailing blank lines\n\nbody\n\n\n",
	"",
	"\n",
	"\n\n",
	"Subject: NUL and CR\n\na\0b\rc\n",
	"Subject: ends with quote-ish\n\n>>>",
	"Subject: no final newline\n\nbody",
};

/* What reading gives back: the message, plus a LF if it lacked one. */
static void expect_of(const char *msg, size_t len, struct strbuf *sb)
{
	strbuf_reset(sb);
	strbuf_append(sb, msg, len);
	if (len > 0 && msg[len - 1] != '\n')
		strbuf_putc(sb, '\n');
}

static size_t tricky_len(size_t i)
{
	/* The NUL message has an embedded NUL: measure by hand. */
	if (strstr(tricky[i], "NUL and CR"))
		return strlen(tricky[i]) + 1 + strlen(tricky[i] + strlen(tricky[i]) + 1);
	return strlen(tricky[i]);
}

static int open_rw(const char *path)
{
	int fd = open(path, O_RDWR | O_CREAT, 0600);

	assert_true(fd >= 0);
	return fd;
}

static void test_round_trip(void **state)
{
	const char *path = mbt_path("rt");
	size_t n = sizeof(tricky) / sizeof(tricky[0]);
	struct mbox_msg *m;
	struct strbuf want;
	char *err = NULL;
	uint64_t off;
	int fd = open_rw(path);

	(void)state;
	strbuf_init(&want, 0);
	for (size_t i = 0; i < n; i++) {
		if (mbox_append_mem(fd, path, i == 3 ? "a b\tc" : "sender@example.com",
				    1795600800 + (time_t)i, tricky[i], tricky_len(i), &off, &err) != 0)
			fail_msg("append %zu: %s", i, err);
	}
	close(fd);
	assert_int_equal(mbt_scan(path, &m), (int)n);
	for (size_t i = 0; i < n; i++) {
		size_t len;
		char *b = mbt_export(path, &m[i], false, &len);

		expect_of(tricky[i], tricky_len(i), &want);
		if (len != want.len || memcmp(b, want.data, len) != 0)
			fail_msg("message %zu differs: got %zu bytes, want %zu", i, len, want.len);
		assert_int_equal(m[i].size_unquoted, want.len);
		assert_int_equal(m[i].rfc822_size, mbox_rfc822_size(want.data, want.len));
		assert_int_equal(m[i].internal_date, 1795600800 + (time_t)i);
		assert_true(m[i].from_valid);
		assert_string_equal(m[i].sender, i == 3 ? "a_b_c" : "sender@example.com");
		free(b);
		b = mbt_export(path, &m[i], true, &len);
		assert_int_equal(len, m[i].rfc822_size);
		free(b);
	}
	strbuf_free(&want);
	free(m);
}

struct drip {
	const char *p;
	size_t left;
};

static ssize_t drip_read(void *ctx, void *buf, size_t size)
{
	struct drip *d = ctx;

	(void)size;
	if (d->left == 0)
		return 0;
	*(char *)buf = *d->p++;
	d->left--;
	return 1;
}

/* One byte at a time must write exactly what one big chunk writes. */
static void test_chunking(void **state)
{
	const char *a = mbt_path("whole"), *b = mbt_path("drip");
	int fa = open_rw(a), fb = open_rw(b);
	char *err = NULL, *da, *db;
	size_t la, lb;

	(void)state;
	for (size_t i = 0; i < sizeof(tricky) / sizeof(tricky[0]); i++) {
		struct drip d = { tricky[i], tricky_len(i) };

		assert_int_equal(mbox_append_mem(fa, a, "s", 1795600800, tricky[i], tricky_len(i), NULL, &err), 0);
		assert_int_equal(mbox_append(fb, b, "s", 1795600800, drip_read, &d, NULL, &err), 0);
	}
	close(fa);
	close(fb);
	da = mbt_read(a, &la);
	db = mbt_read(b, &lb);
	assert_int_equal(la, lb);
	assert_memory_equal(da, db, la);
	free(da);
	free(db);
}

/* The file as Postfix local(8) would leave it: message, empty line. */
static void test_file_format(void **state)
{
	const char *path = mbt_path("fmt");
	int fd = open_rw(path);
	char *err = NULL, *data;
	size_t len;

	(void)state;
	assert_int_equal(mbox_append_mem(fd, path, "alice@example.com", 1795600800,
					 "Subject: a\n\nFrom me\n", 20, NULL, &err), 0);
	assert_int_equal(mbox_append_mem(fd, path, "", 1795600801, "x", 1, NULL, &err), 0);
	close(fd);
	data = mbt_read(path, &len);
	assert_string_equal(data,
			    "From alice@example.com Wed Nov 25 10:00:00 2026\n"
			    "Subject: a\n\n>From me\n\n"
			    "From MAILER-DAEMON Wed Nov 25 10:00:01 2026\n"
			    "x\n\n");
	free(data);
}

/* A foreign writer left no empty line (or no LF) at the end. */
static void test_separator_repair(void **state)
{
	const char *path = mbt_path("repair");
	struct mbox_msg *m;
	char *err = NULL, *b;
	size_t len;
	int fd;

	(void)state;
	mbt_write(path, "From a Wed Nov 25 10:00:00 2026\nSubject: a\n\nno newline", 54);
	fd = open_rw(path);
	assert_int_equal(mbox_append_mem(fd, path, "b", 1795600800, "Subject: b\n\nB\n", 14, NULL, &err), 0);
	close(fd);
	assert_int_equal(mbt_scan(path, &m), 2);
	b = mbt_export(path, &m[0], false, &len);
	assert_string_equal(b, "Subject: a\n\nno newline\n");
	free(b);
	b = mbt_export(path, &m[1], false, &len);
	assert_string_equal(b, "Subject: b\n\nB\n");
	free(b);
	free(m);

	mbt_write(path, "From a Wed Nov 25 10:00:00 2026\nSubject: a\n\nbody\n", 49);
	fd = open_rw(path);
	assert_int_equal(mbox_append_mem(fd, path, "b", 1795600800, "B\n", 2, NULL, &err), 0);
	close(fd);
	assert_int_equal(mbt_scan(path, &m), 2);
	b = mbt_export(path, &m[0], false, &len);
	assert_string_equal(b, "Subject: a\n\nbody\n");
	free(b);
	free(m);
}

/* EFBIG in the middle of a 200 KB message: the mbox is cut back to its old
 * size, the earlier message intact. Run in a child: RLIMIT_FSIZE applies
 * to the whole process. */
static void test_append_failure_truncates(void **state)
{
	const char *path = mbt_path("efbig");
	char *err = NULL, *big, *before, *after;
	size_t blen = 200000, l1, l2;
	int fd, status;
	pid_t pid;

	(void)state;
	fd = open_rw(path);
	assert_int_equal(mbox_append_mem(fd, path, "a", 1795600800, "Subject: keep\n\nme\n", 19, NULL, &err), 0);
	close(fd);
	before = mbt_read(path, &l1);
	big = must_malloc(blen);
	memset(big, 'x', blen);
	for (size_t i = 79; i < blen; i += 80)
		big[i] = '\n';

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct rlimit rl = { .rlim_cur = (rlim_t)l1 + 70000, .rlim_max = RLIM_INFINITY };
		int r;

		signal(SIGXFSZ, SIG_IGN);
		if (setrlimit(RLIMIT_FSIZE, &rl) < 0)
			_exit(10);
		fd = open(path, O_RDWR);
		r = mbox_append_mem(fd, path, "b", 1795600800, big, blen, NULL, &err);
		if (r != -1 || strstr(err, "File too large") == NULL ||
		    strstr(err, "the mailbox is unchanged") == NULL)
			_exit(11);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	after = mbt_read(path, &l2);
	assert_int_equal(l1, l2);
	assert_memory_equal(before, after, l1);
	free(before);
	free(after);
	free(big);
}

static bool keep_not_deleted(void *ctx, const struct mbox_msg *msg)
{
	(void)ctx;
	return (msg->flags & MBOX_FLAG_DELETED) == 0;
}

static void fill_numbered(const char *path, int count, const char *deleted_pattern)
{
	int fd = open_rw(path);
	char *err = NULL;

	for (int i = 0; i < count; i++) {
		char msg[256];
		bool del = deleted_pattern && deleted_pattern[i] == 'D';

		snprintf(msg, sizeof(msg), "Subject: %d\n%s\nFrom body %d\n", i,
			 del ? "X-Status: D\n" : "", i);
		assert_int_equal(mbox_append_mem(fd, path, "n", 1795600800 + i, msg, strlen(msg), NULL, &err), 0);
	}
	close(fd);
}

static void assert_subjects(const char *path, const char *expect)
{
	struct mbox_msg *m;
	struct strbuf got;
	int n = mbt_scan(path, &m);

	assert_true(n >= 0);
	strbuf_init(&got, 0);
	for (int i = 0; i < n; i++) {
		size_t len;
		char *b = mbt_export(path, &m[i], false, &len);
		int subj = -1, body = -2;

		assert_int_equal(sscanf(b, "Subject: %d", &subj), 1);
		assert_non_null(strstr(b, "From body "));
		body = atoi(strstr(b, "From body ") + 10);
		assert_int_equal(subj, body);
		strbuf_printf(&got, "%s%d", i ? " " : "", subj);
		free(b);
	}
	assert_string_equal(got.data ? got.data : "", expect);
	strbuf_free(&got);
	free(m);
}

static void test_expunge(void **state)
{
	const char *path = mbt_path("exp");
	char jpath[PATH_MAX];
	unsigned removed;
	char *err = NULL;
	int fd;

	(void)state;
	fill_numbered(path, 6, "D.D..D");
	fd = open_rw(path);
	assert_int_equal(mbox_expunge(fd, path, keep_not_deleted, NULL, &removed, &err), 0);
	assert_int_equal(removed, 3);
	close(fd);
	assert_subjects(path, "1 3 4");
	assert_int_equal(mbox_journal_path(path, jpath, sizeof(jpath)), 0);
	assert_int_equal(access(jpath, F_OK), -1);
	/* Nothing to remove: the file is not touched. */
	fd = open_rw(path);
	assert_int_equal(mbox_expunge(fd, path, keep_not_deleted, NULL, &removed, &err), 0);
	assert_int_equal(removed, 0);
	close(fd);
	assert_subjects(path, "1 3 4");
	/* Everything. */
	unlink(path);
	fill_numbered(path, 2, "DD");
	fd = open_rw(path);
	assert_int_equal(mbox_expunge(fd, path, keep_not_deleted, NULL, &removed, &err), 0);
	close(fd);
	assert_int_equal(mbt_size(path), 0);
}

/* Build the journal an expunge of message 1 (of 0 1 2) writes, then leave
 * the mbox as a crash at four moments would (before copying back, half
 * copied, copied and marked, truncated), with a foreign delivery
 * after the crash; mbox_recover() must give 0 2 + the foreign one. */
static void crash_case(int moment)
{
	const char *path = mbt_path("crash");
	char jpath[PATH_MAX], hdr[MBOX_JOURNAL_HEADER + 1];
	struct mbox_msg *m;
	char *data, *err = NULL;
	size_t len;
	uint64_t x, s, tail_off, tail_len;
	int fd, jfd;

	unlink(path);
	fill_numbered(path, 3, "...");
	assert_int_equal(mbt_scan(path, &m), 3);
	data = mbt_read(path, &len);
	x = m[1].from_offset;
	s = len;
	tail_off = m[2].from_offset;
	tail_len = len - tail_off;
	free(m);
	assert_int_equal(mbox_journal_path(path, jpath, sizeof(jpath)), 0);
	jfd = open(jpath, O_RDWR | O_CREAT | O_TRUNC, 0600);
	memset(hdr, ' ', sizeof(hdr));
	snprintf(hdr, sizeof(hdr), "POSTERN-MBOX-EXPUNGE 1 %020llu %020llu %c",
		 (unsigned long long)x, (unsigned long long)s, moment >= 2 ? 'T' : 'C');
	hdr[strlen(hdr)] = ' ';
	hdr[MBOX_JOURNAL_HEADER - 1] = '\n';
	assert_int_equal(write(jfd, hdr, MBOX_JOURNAL_HEADER), MBOX_JOURNAL_HEADER);
	assert_int_equal(write(jfd, data + tail_off, tail_len), (ssize_t)tail_len);
	close(jfd);

	fd = open_rw(path);
	if (moment >= 1) /* tail partly written back */
		assert_int_equal(pwrite(fd, data + tail_off, tail_len / 2, (off_t)x), (ssize_t)(tail_len / 2));
	if (moment >= 2) { /* written back, marker written, phase T */
		assert_int_equal(pwrite(fd, data + tail_off, tail_len, (off_t)x), (ssize_t)tail_len);
		assert_int_equal(pwrite(fd, "\0\0\0\0\0\0\0\0", 8, (off_t)(x + tail_len)), 8);
	}
	if (moment >= 3) /* and truncated, journal not yet removed */
		assert_int_equal(ftruncate(fd, (off_t)(x + tail_len)), 0);
	/* Someone (Postfix, mutt) appends after the crash. */
	{
		char msg[] = "Subject: 9\n\nFrom body 9\n";

		assert_int_equal(mbox_append_mem(fd, path, "n", 1795600800, msg, strlen(msg), NULL, &err), 0);
	}
	if (mbox_recover(fd, path, &err) != 1)
		fail_msg("recover (moment %d): %s", moment, err);
	assert_int_equal(mbox_recover(fd, path, &err), 0);
	close(fd);
	assert_int_equal(access(jpath, F_OK), -1);
	assert_subjects(path, "0 2 9");
	free(data);
}

static void test_recover(void **state)
{
	(void)state;
	crash_case(0);
	crash_case(1);
	crash_case(2);
	crash_case(3);
	assert_non_null(strstr(mbt_warnings, "completing an expunge interrupted by a crash"));
	assert_non_null(strstr(mbt_warnings, "removing the journal of a completed expunge"));
}

static void test_deliver(void **state)
{
	const char *path = mbt_path("new-inbox");
	struct mbox_lock_settings set;
	char *err = NULL;
	struct stat st;

	(void)state;
	mbt_settings(&set, "fcntl dotlock", 5);
	assert_int_equal(mbox_deliver(path, &set, "a@b", 1795600800, "Subject: 0\n\nFrom body 0\n", 24, &err), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(access(mbt_path("new-inbox.lock"), F_OK), -1);
	assert_subjects(path, "0");
	/* A symlink is refused, permanently. */
	assert_int_equal(symlink(path, mbt_path("link")), 0);
	assert_int_equal(mbox_deliver(mbt_path("link"), &set, "a@b", 1795600800, "x\n", 2, &err), -2);
	assert_non_null(strstr(err, "symbolic link"));
	free(err);
}

/* Four processes deliver 30 messages each (every third one marked deleted)
 * while a fifth keeps expunging the marked ones; in the end every unmarked
 * message is there exactly once, intact, and nothing marked is left. */
#define WRITERS 4
#define PER_WRITER 30

static bool keep_unmarked(void *ctx, const struct mbox_msg *msg)
{
	(void)ctx;
	return (msg->flags & MBOX_FLAG_DELETED) == 0;
}

static int expunge_once(const char *path, const struct mbox_lock_settings *set)
{
	struct mbox_lock *lock = NULL;
	unsigned removed;
	char *err = NULL;
	int fd = open(path, O_RDWR), r;

	if (fd < 0)
		return errno == ENOENT ? 0 : -1;
	r = mbox_lock_acquire(fd, path, MBOX_LOCK_WRITE, set, &lock, &err);
	if (r == 0) {
		r = mbox_recover(fd, path, &err);
		if (r >= 0)
			r = mbox_expunge(fd, path, keep_unmarked, NULL, &removed, &err);
		mbox_lock_release(&lock);
	}
	if (r < 0)
		fprintf(stderr, "expunge: %s\n", err);
	free(err);
	close(fd);
	return r < 0 ? -1 : 0;
}

static void test_concurrency(void **state)
{
	const char *path = mbt_path("busy");
	const char *stop = mbt_path("stop");
	struct mbox_lock_settings set;
	pid_t writers[WRITERS], expunger;
	struct mbox_msg *m;
	int n, seen[WRITERS][PER_WRITER], status;

	(void)state;
	mbt_settings(&set, "fcntl dotlock", 60);
	expunger = fork();
	assert_true(expunger >= 0);
	if (expunger == 0) {
		int rounds = 0;

		while (access(stop, F_OK) < 0 || rounds < 3) {
			if (expunge_once(path, &set) < 0)
				_exit(1);
			rounds++;
			usleep(2000);
		}
		_exit(expunge_once(path, &set) < 0 ? 1 : 0);
	}
	for (int w = 0; w < WRITERS; w++) {
		writers[w] = fork();
		assert_true(writers[w] >= 0);
		if (writers[w] == 0) {
			for (int i = 0; i < PER_WRITER; i++) {
				char msg[512], *err = NULL;

				snprintf(msg, sizeof(msg),
					 "Message-ID: <%d.%d@test>\nSubject: w%d m%d\n%s\n"
					 "From a line that needs quoting\n>From one that is quoted\nw%d m%d end\n",
					 w, i, w, i, i % 3 == 0 ? "X-Status: D\n" : "", w, i);
				if (mbox_deliver(path, &set, "writer@test", time(NULL), msg, strlen(msg), &err) != 0) {
					fprintf(stderr, "deliver: %s\n", err);
					_exit(1);
				}
			}
			_exit(0);
		}
	}
	for (int w = 0; w < WRITERS; w++) {
		assert_int_equal(waitpid(writers[w], &status, 0), writers[w]);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	mbt_write(stop, "", 0);
	assert_int_equal(waitpid(expunger, &status, 0), expunger);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);

	memset(seen, 0, sizeof(seen));
	n = mbt_scan(path, &m);
	assert_true(n > 0);
	for (int i = 0; i < n; i++) {
		size_t len;
		char *b = mbt_export(path, &m[i], false, &len);
		int w = -1, k = -1;
		char want[512];

		assert_int_equal(sscanf(b, "Message-ID: <%d.%d@test>", &w, &k), 2);
		assert_true(w >= 0 && w < WRITERS && k >= 0 && k < PER_WRITER);
		snprintf(want, sizeof(want),
			 "Message-ID: <%d.%d@test>\nSubject: w%d m%d\n\n"
			 "From a line that needs quoting\n>From one that is quoted\nw%d m%d end\n",
			 w, k, w, k, w, k);
		assert_string_equal(b, want);
		seen[w][k]++;
		free(b);
	}
	for (int w = 0; w < WRITERS; w++)
		for (int k = 0; k < PER_WRITER; k++)
			assert_int_equal(seen[w][k], k % 3 == 0 ? 0 : 1);
	assert_int_equal(access(mbt_path("busy.lock"), F_OK), -1);
	free(m);
}

/* A second, independent reader: Python's mailbox.mbox (mboxo: it splits
 * at every line starting with "From ") must see the same messages in a
 * file Postern wrote, with the same raw bytes - so every From line inside
 * a message was quoted. Skipped when python3 is missing. */
static void test_python_mailbox_agrees(void **state)
{
	const char *path = mbt_path("py");
	size_t n = sizeof(tricky) / sizeof(tricky[0]);
	struct mbox_msg *m;
	char *err = NULL, cmd[2048];
	int fd = open_rw(path), count;

	(void)state;
	if (system("python3 -c 'import mailbox' >/dev/null 2>&1") != 0)
		skip();
	for (size_t i = 0; i < n; i++)
		assert_int_equal(mbox_append_mem(fd, path, "s@example.org", 1795600800, tricky[i],
						 tricky_len(i), NULL, &err), 0);
	close(fd);
	snprintf(cmd, sizeof(cmd),
		 "python3 -c 'import mailbox, sys\n"
		 "mb = mailbox.mbox(sys.argv[1], create=False)\n"
		 "keys = sorted(mb.keys())\n"
		 "for i, k in enumerate(keys):\n"
		 "    open(sys.argv[1] + \".%%d\" %% i, \"wb\").write(mb.get_bytes(k))\n"
		 "print(len(keys))' %s > %s.count", path, path);
	assert_int_equal(system(cmd), 0);
	{
		char cpath[600];
		size_t len;
		char *c;

		snprintf(cpath, sizeof(cpath), "%s.count", path);
		c = mbt_read(cpath, &len);
		count = atoi(c);
		free(c);
	}
	assert_int_equal(mbt_scan(path, &m), (int)n);
	assert_int_equal(count, (int)n);
	{
		size_t flen;
		char *file = mbt_read(path, &flen);

		for (size_t i = 0; i < n; i++) {
			char ppath[600];
			size_t plen;
			char *py;

			snprintf(ppath, sizeof(ppath), "%s.%zu", path, i);
			py = mbt_read(ppath, &plen);
			if (plen != m[i].end_offset - m[i].header_offset ||
			    memcmp(py, file + m[i].header_offset, plen) != 0)
				fail_msg("message %zu: python reads %zu bytes, we %llu", i, plen,
					 (unsigned long long)(m[i].end_offset - m[i].header_offset));
			free(py);
		}
		free(file);
	}
	free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_round_trip, mbt_setup, mbt_teardown),
		cmocka_unit_test_setup_teardown(test_chunking, mbt_setup, mbt_teardown),
		cmocka_unit_test_setup_teardown(test_file_format, mbt_setup, mbt_teardown),
		cmocka_unit_test_setup_teardown(test_separator_repair, mbt_setup, mbt_teardown),
		cmocka_unit_test_setup_teardown(test_append_failure_truncates, mbt_setup, mbt_teardown),
		cmocka_unit_test_setup_teardown(test_expunge, mbt_setup, mbt_teardown),
		cmocka_unit_test_setup_teardown(test_recover, mbt_setup, mbt_teardown),
		cmocka_unit_test_setup_teardown(test_deliver, mbt_setup, mbt_teardown),
		cmocka_unit_test_setup_teardown(test_concurrency, mbt_setup, mbt_teardown),
		cmocka_unit_test_setup_teardown(test_python_mailbox_agrees, mbt_setup, mbt_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
