/*
 * test_mime_limits.c - the MIME parser's memory bounds: a 1 MB header
 * line (value capped, offsets exact, HEADER.FIELDS still whole), a 100 MB
 * base64 attachment written to a temporary file at run time and parsed
 * through an fd (buffer high-water mark and RSS growth stay small,
 * offsets exact, SEARCH text of the part after it found), and a header
 * with more fields than max_fields.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include "mime_test_util.h"

static long max_rss_kb(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss;
}

static void test_long_header_line(void **state)
{
	const size_t big = 1024 * 1024;
	struct strbuf msg, sb;
	struct mt_msg t;
	struct mime_limits lim;
	const char *err;
	char *s;

	(void)state;
	strbuf_init(&msg, 0);
	strbuf_puts(&msg, "Subject: ");
	for (size_t i = 0; i < big; i++)
		strbuf_putc(&msg, (char)('a' + i % 26));
	strbuf_puts(&msg, "\r\nX-After: yes\r\n\r\nbody\r\n");
	mt_mem(&t, msg.data, msg.len);
	mime_limits_default(&lim);
	strbuf_init(&sb, 0);
	assert_int_equal(mime_header_get(t.m, 0, "subject", &sb, &err), 1);
	/* the cap counts the raw value, including the space after the colon */
	assert_int_equal(sb.len, lim.max_field_len - 1);
	assert_true(str_has_prefix(sb.data, "abcdefghijklmnopqrstuvwxyzabc"));
	strbuf_reset(&sb);
	assert_int_equal(mime_header_get(t.m, 0, "X-After", &sb, &err), 1);
	assert_string_equal(sb.data, "yes");
	strbuf_free(&sb);
	assert_int_equal(mime_part_get(t.m, 0)->body_off, 9 + big + 2 + 14 + 2);
	mt_assert_section(&t, "TEXT", "body\r\n");
	mt_assert_section(&t, "HEADER.FIELDS (x-after)", "X-After: yes\r\n\r\n");
	s = mt_section(&t, "HEADER.FIELDS (SUBJECT)", NULL);
	assert_int_equal(strlen(s), 9 + big + 2 + 2);
	free(s);
	/* the parser and the header walk never held the line */
	assert_true(mime_buffer_peak(t.m) < 256 * 1024);
	mt_free(&t);
	strbuf_free(&msg);
}

static void test_100mb_attachment(void **state)
{
	static const char head[] =
		"From: big@example.com\r\nSubject: big\r\n"
		"Content-Type: multipart/mixed; boundary=\"big\"\r\n\r\n"
		"--big\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n";
	static const char tail[] =
		"\r\n--big\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nneedle after the attachment\r\n--big--\r\n";
	char dir[] = "/tmp/test_mime_limits_XXXXXX", path[64];
	char line[78];
	const uint64_t target = 100ULL * 1024 * 1024;
	uint64_t lines = 0, size;
	struct mime_message *m;
	struct mime_section sec;
	struct strbuf sb;
	const char *err = NULL;
	char *buf;
	size_t blen = 0, bcap = 1 << 20;
	int fd;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/big.eml", dir);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, head, sizeof(head) - 1), (ssize_t)(sizeof(head) - 1));
	for (int i = 0; i < 76; i++)
		line[i] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"[i % 64];
	line[76] = '\r';
	line[77] = '\n';
	buf = malloc(bcap);
	assert_non_null(buf);
	while (lines * 78 < target) {
		memcpy(buf + blen, line, 78);
		blen += 78;
		lines++;
		if (blen + 78 > bcap) {
			assert_int_equal(write(fd, buf, blen), (ssize_t)blen);
			blen = 0;
		}
	}
	/* the last line has no CRLF of its own: it belongs to the boundary */
	blen -= 2;
	assert_int_equal(write(fd, buf, blen), (ssize_t)blen);
	free(buf);
	assert_int_equal(write(fd, tail, sizeof(tail) - 1), (ssize_t)(sizeof(tail) - 1));
	size = (uint64_t)lseek(fd, 0, SEEK_END);

	long rss0 = max_rss_kb();
	m = mime_parse_fd(fd, size, NULL, &err);
	assert_non_null(m);
	assert_int_equal(mime_part_count(m), 3);
	const struct mime_part *att = mime_part_get(m, 1);
	assert_int_equal(att->body_off, sizeof(head) - 1);
	assert_int_equal(att->end_off - att->body_off, lines * 78 - 2);
	assert_int_equal(att->body_crlf_size, lines * 78 - 2);
	assert_int_equal(att->body_lines, lines);
	assert_int_equal(mime_section_find(m, "2", &sec, &err), 0);
	assert_int_equal(sec.length, 27);
	mime_section_free(&sec);
	strbuf_init(&sb, 0);
	assert_int_equal(mime_bodystructure(m, 0, true, &sb, &err), 0);
	char want[128];
	snprintf(want, sizeof(want), "\"BASE64\" %llu NIL", (unsigned long long)(lines * 78 - 2));
	assert_non_null(strstr(sb.data, want));
	strbuf_free(&sb);
	assert_int_equal(mime_text_contains(m, MIME_TEXT_BODY, "NEEDLE after", &err), 1);
	/* bounded: a 64 KiB window and small accumulators, whatever the size */
	assert_true(mime_buffer_peak(m) < 512 * 1024);
	assert_true(max_rss_kb() - rss0 < 16 * 1024);
	mime_message_free(&m);
	close(fd);
	unlink(path);
	rmdir(dir);
}

static void test_many_fields(void **state)
{
	struct strbuf msg, sb;
	struct mime_limits lim;
	struct mime_message *m;
	const char *err;

	(void)state;
	strbuf_init(&msg, 0);
	for (int i = 0; i < 200; i++)
		strbuf_printf(&msg, "X-F%d: %d\n", i, i);
	strbuf_puts(&msg, "Subject: late\n\nbody\n");
	mime_limits_default(&lim);
	lim.max_fields = 100;
	m = mime_parse_mem(msg.data, msg.len, &lim, &err);
	assert_non_null(m);
	strbuf_init(&sb, 0);
	assert_int_equal(mime_header_get(m, 0, "X-F99", &sb, &err), 1);
	/* fields past the limit are not looked at */
	assert_int_equal(mime_header_get(m, 0, "Subject", &sb, &err), 0);
	strbuf_free(&sb);
	mime_message_free(&m);
	strbuf_free(&msg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_100mb_attachment),
		cmocka_unit_test(test_long_header_line),
		cmocka_unit_test(test_many_fields),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
