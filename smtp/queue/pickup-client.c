/*
 * pickup-client.c - sendmail's end of the pickup socket (pickup.h): copy
 * the message from the caller's FILE into an unnamed temporary file (the
 * protocol sends DATA SIZE first, and a message may be far larger than
 * memory should hold), honouring sendmail's rule that a line with a single
 * "." ends the message unless -i/-oi was given; then connect, send the
 * request lines and the bytes, and turn the one answer into a sysexits(3)
 * status the way Postfix's sendmail(1) does (temporary trouble: 75, so
 * that cron, PHP and scripts keep the message and retry).
 *
 * Callers: cli/sendmail.c (deliver mode and -bs).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sysexits.h>
#include <unistd.h>

#include "smtp/queue/pickup.h"
#include "util.h"

/* The largest message_size_limit a configuration may set. */
#define PICKUP_CLIENT_MAX 2147483647LL
/* How long to wait for the answer after the last byte (the commit fsyncs). */
#define PICKUP_CLIENT_WAIT_MS (300 * 1000)

struct out {
	int fd;
	char buf[65536];
	size_t len;
	long long total;
	bool failed;
};

static void out_flush(struct out *o)
{
	size_t off = 0;

	while (!o->failed && off < o->len) {
		ssize_t n = write(o->fd, o->buf + off, o->len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			o->failed = true;
		else
			off += (size_t)n;
	}
	o->len = 0;
}

static void out_put(struct out *o, int c)
{
	if (o->len == sizeof(o->buf))
		out_flush(o);
	o->buf[o->len++] = (char)c;
	o->total++;
}

static int temp_file(void)
{
	const char *dir = getenv("TMPDIR");
	int fd = -1;
	FILE *f;

	if (dir && *dir)
		fd = open(dir, O_TMPFILE | O_RDWR | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		fd = open("/tmp", O_TMPFILE | O_RDWR | O_EXCL | O_CLOEXEC, 0600);
	if (fd >= 0)
		return fd;
	/* File systems without O_TMPFILE: an unlinked file all the same. */
	f = tmpfile();
	if (f == NULL)
		return -1;
	fd = dup(fileno(f));
	fclose(f);
	return fd;
}

/* copy_message - in -> fd; without dot_ok a line "." (LF or CR LF or the
 * end after it) ends the message and is not part of it. Returns the size,
 * or -1 with *why_r. */
static long long copy_message(FILE *in, int fd, bool dot_ok, const char **why_r)
{
	struct out *o = malloc(sizeof(*o));
	bool bol = true;
	long long total;
	int c;

	if (o == NULL) {
		*why_r = "out of memory";
		return -1;
	}
	o->fd = fd;
	o->len = 0;
	o->total = 0;
	o->failed = false;
	while ((c = getc_unlocked(in)) != EOF && !o->failed) {
		if (bol && c == '.' && !dot_ok) {
			int n1 = getc_unlocked(in);

			if (n1 == EOF || n1 == '\n')
				break;
			if (n1 == '\r') {
				int n2 = getc_unlocked(in);
				if (n2 == EOF || n2 == '\n')
					break;
				ungetc(n2, in);
			} else {
				ungetc(n1, in);
			}
			/* "." followed by more: an ordinary line; n1 (or CR)
			 * comes next round. */
			out_put(o, '.');
			if (n1 == '\r')
				out_put(o, '\r');
			bol = false;
			continue;
		}
		out_put(o, c);
		bol = c == '\n';
		if (o->total > PICKUP_CLIENT_MAX) {
			free(o);
			*why_r = "the message is larger than 2 GB";
			return -2;
		}
	}
	if (ferror(in)) {
		free(o);
		*why_r = "error reading the message from standard input";
		return -1;
	}
	out_flush(o);
	total = o->failed ? -1 : o->total;
	free(o);
	if (total < 0)
		*why_r = "cannot write the temporary copy of the message (is /tmp full?)";
	return total;
}

static bool has_line_break(const char *s)
{
	return strpbrk(s, "\r\n") != NULL;
}

/* send_all - 0, or -1 (the peer went away: its answer says why). */
static int send_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len > 0) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int build_request(struct strbuf *b, const struct pickup_submission *s, long long size, char **error_r)
{
	if (s->sender) {
		if (has_line_break(s->sender)) {
			*error_r = must_strdup("the sender address (-f) contains a line break");
			return EX_USAGE;
		}
		strbuf_printf(b, "SENDER %s\n", *s->sender ? s->sender : "<>");
	}
	if (s->full_name) {
		if (has_line_break(s->full_name)) {
			*error_r = must_strdup("the full name (-F) contains a line break");
			return EX_USAGE;
		}
		strbuf_printf(b, "FULLNAME %s\n", s->full_name);
	}
	for (size_t i = 0; i < s->n_rcpts; i++) {
		if (has_line_break(s->rcpts[i])) {
			*error_r = must_strdup("a recipient address contains a line break");
			return EX_USAGE;
		}
		strbuf_printf(b, "RCPT %s\n", s->rcpts[i]);
	}
	if (s->extract)
		strbuf_puts(b, "EXTRACT\n");
	if (s->notify) {
		if (has_line_break(s->notify)) {
			*error_r = must_strdup("the -N value contains a line break");
			return EX_USAGE;
		}
		strbuf_printf(b, "NOTIFY %s\n", s->notify);
	}
	if (s->ret) {
		if (has_line_break(s->ret)) {
			*error_r = must_strdup("the -R value contains a line break");
			return EX_USAGE;
		}
		strbuf_printf(b, "RET %s\n", s->ret);
	}
	if (s->envid) {
		/* RFC 3461 4: xtext, so that any -V text travels as printable ASCII. */
		strbuf_puts(b, "ENVID ");
		for (const unsigned char *p = (const unsigned char *)s->envid; *p; p++) {
			if (*p > 32 && *p < 127 && *p != '+' && *p != '=')
				strbuf_putc(b, (char)*p);
			else
				strbuf_printf(b, "+%02X", *p);
		}
		strbuf_putc(b, '\n');
	}
	if (strbuf_printf(b, "DATA %lld\n", size) < 0) {
		*error_r = must_strdup("out of memory");
		return EX_OSERR;
	}
	return 0;
}

/* read_answer - one line (at most 1023 bytes) into buf; "" when the peer
 * closed without one. */
static void read_answer(int fd, char *buf, size_t size)
{
	size_t len = 0;

	buf[0] = '\0';
	while (len + 1 < size) {
		struct pollfd pfd = { fd, POLLIN, 0 };
		ssize_t n;

		if (poll(&pfd, 1, PICKUP_CLIENT_WAIT_MS) <= 0)
			break;
		n = recv(fd, buf + len, size - 1 - len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
		buf[len] = '\0';
		if (memchr(buf, '\n', len))
			break;
	}
	buf[len] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0';
}

/* Postfix's sendmail exit statuses for a refusal (sysexits.h). */
static int status_of(const char *code)
{
	if (code[0] == '4')
		return EX_TEMPFAIL;
	if (strncmp(code, "5.1.", 4) == 0)
		return EX_NOUSER;
	if (strncmp(code, "5.3.4", 5) == 0 || strncmp(code, "5.5.", 4) == 0 || strncmp(code, "5.6.", 4) == 0)
		return EX_DATAERR;
	return EX_UNAVAILABLE;
}

int pickup_submit(const char *socket_path, const struct pickup_submission *s, char *id_r, char **error_r)
{
	struct sockaddr_un sun;
	struct strbuf req;
	const char *why;
	char answer[1024], buf[65536];
	long long size;
	int tmp, sock = -1, rc;
	off_t off = 0;

	*error_r = NULL;
	id_r[0] = '\0';
	tmp = temp_file();
	if (tmp < 0) {
		*error_r = must_asprintf("cannot create a temporary file for the message: %s", strerror(errno));
		return EX_CANTCREAT;
	}
	size = copy_message(s->message, tmp, s->dot_ok, &why);
	if (size < 0) {
		close(tmp);
		*error_r = must_strdup(why);
		return size == -2 ? EX_DATAERR : EX_IOERR;
	}
	strbuf_init(&req, 0);
	rc = build_request(&req, s, size, error_r);
	if (rc != 0)
		goto out;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (str_copy(sun.sun_path, socket_path, sizeof(sun.sun_path)) >= sizeof(sun.sun_path)) {
		*error_r = must_asprintf("queue_pickup_socket %s: path too long for a unix socket; "
					 "choose a shorter run_directory", socket_path);
		rc = EX_CONFIG;
		goto out;
	}
	sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (sock < 0 || connect(sock, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		*error_r = must_asprintf("cannot submit mail: cannot connect to the queue role at %s: %s; "
					 "is posternd running? (postern start)", socket_path, strerror(errno));
		rc = EX_TEMPFAIL;
		goto out;
	}
	if (send_all(sock, req.data, req.len) == 0) {
		while (off < size) {
			ssize_t n = pread(tmp, buf, sizeof(buf), off);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				*error_r = must_strdup("cannot read back the temporary copy of the message");
				rc = EX_IOERR;
				goto out;
			}
			if (send_all(sock, buf, (size_t)n) < 0)
				break;   /* refused early: the answer says why */
			off += n;
		}
	}
	read_answer(sock, answer, sizeof(answer));
	if (strncmp(answer, "OK ", 3) == 0 && strlen(answer + 3) > 0 && strlen(answer + 3) < QUEUE_ID_SIZE) {
		str_copy(id_r, answer + 3, QUEUE_ID_SIZE);
		rc = 0;
	} else if (strncmp(answer, "ERR ", 4) == 0 && (answer[4] == '4' || answer[4] == '5')) {
		const char *text = strchr(answer + 4, ' ');
		char esc[1100];

		text = text ? text + 1 : answer + 4;
		rc = status_of(answer + 4);
		*error_r = must_strdup(str_escape(text, strlen(text), esc, sizeof(esc)));
	} else if (answer[0] == '\0') {
		*error_r = must_strdup("cannot submit mail: the queue role closed the connection without an answer; "
				       "the message was not queued (see the mail log)");
		rc = EX_TEMPFAIL;
	} else {
		char esc[200];
		*error_r = must_asprintf("cannot submit mail: unexpected answer from the queue role: \"%s\"",
					 str_escape(answer, strlen(answer), esc, sizeof(esc)));
		rc = EX_TEMPFAIL;
	}
out:
	strbuf_free(&req);
	if (sock >= 0)
		close(sock);
	close(tmp);
	return rc;
}
