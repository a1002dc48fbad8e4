/*
 * log.c - Postfix-style log lines to syslog, stderr and/or a file.
 * See log.h. Message bodies are expected to be escaped already where they
 * carry client bytes (str_escape()); here only the line framing happens.
 *
 * Cost per line matters: the SMTP role logs four lines per message on its
 * event loop. Where nothing listens on /dev/log (containers, test VMs),
 * glibc's syslog() tries socket + connect + close again for every line;
 * a profile of the smtp role put 15% of its loop there. So syslog() is
 * skipped while _PATH_LOG is not a socket, looked at again at most once a
 * second (a syslog daemon that starts later is picked up within a
 * second; lines in between would have been dropped by glibc as well).
 * The host name for file/stderr lines is read once per process.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

static char log_ident[64] = "postern";
static unsigned log_dests = LOG_DEST_STDERR_TOOL;
static int log_facility = LOG_MAIL;
static int log_file_fd = -1;
static log_capture_fn *log_capture;
static void *log_capture_ctx;
static char log_host[256];
static time_t syslog_checked;   /* second of the last look at _PATH_LOG */
static int syslog_present;      /* what that look found */

static const struct {
	const char *name;
	int value;
} facilities[] = {
	{ "mail", LOG_MAIL }, { "daemon", LOG_DAEMON }, { "user", LOG_USER },
	{ "local0", LOG_LOCAL0 }, { "local1", LOG_LOCAL1 }, { "local2", LOG_LOCAL2 },
	{ "local3", LOG_LOCAL3 }, { "local4", LOG_LOCAL4 }, { "local5", LOG_LOCAL5 },
	{ "local6", LOG_LOCAL6 }, { "local7", LOG_LOCAL7 },
};

void log_init(const char *ident, unsigned dests)
{
	log_host[0] = '\0';   /* re-read: the role may be a new process */
	__atomic_store_n(&syslog_checked, 0, __ATOMIC_RELAXED);
	str_copy(log_ident, ident, sizeof(log_ident));
	log_dests = dests;
	if (dests & LOG_DEST_SYSLOG) {
		closelog();
		openlog(log_ident, LOG_PID | LOG_NDELAY, log_facility);
	}
}

void log_set_ident(const char *ident)
{
	log_init(ident, log_dests);
}

int log_set_syslog_facility(const char *name)
{
	for (size_t i = 0; i < sizeof(facilities) / sizeof(facilities[0]); i++) {
		if (strcasecmp(facilities[i].name, name) == 0) {
			log_facility = facilities[i].value;
			if (log_dests & LOG_DEST_SYSLOG)
				log_init(log_ident, log_dests);
			return 0;
		}
	}
	return -1;
}

int log_set_file(const char *path)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0640);

	if (fd < 0)
		return -1;
	if (log_file_fd >= 0)
		close(log_file_fd);
	log_file_fd = fd;
	return 0;
}

void log_set_capture(log_capture_fn *fn, void *ctx)
{
	log_capture = fn;
	log_capture_ctx = ctx;
}

/* Write one whole line with a single write(2), so that lines from several
 * processes sharing stderr or a log file never interleave. */
static void write_line(int fd, const char *line, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, line, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		line += n;
		len -= (size_t)n;
	}
}

/* short_host - the host name up to its first dot, as Postfix logs it;
 * read once (a race between threads only reads it twice). */
static const char *short_host(void)
{
	char host[sizeof(log_host)];

	if (log_host[0])
		return log_host;
	if (gethostname(host, sizeof(host)) < 0)
		str_copy(host, "localhost", sizeof(host));
	host[sizeof(host) - 1] = '\0';
	char *dot = strchr(host, '.');
	if (dot)
		*dot = '\0';
	str_copy(log_host, host, sizeof(log_host));
	return log_host;
}

/* syslog_reachable - whether _PATH_LOG is a socket, looked at no more
 * than once a second (see the top of the file). */
static bool syslog_reachable(time_t now)
{
	struct stat st;

	if (__atomic_load_n(&syslog_checked, __ATOMIC_RELAXED) == now)
		return __atomic_load_n(&syslog_present, __ATOMIC_RELAXED);
	int present = stat(_PATH_LOG, &st) == 0 && S_ISSOCK(st.st_mode);
	__atomic_store_n(&syslog_present, present, __ATOMIC_RELAXED);
	__atomic_store_n(&syslog_checked, now, __ATOMIC_RELAXED);
	return present;
}

static void full_line(char *buf, size_t size, const char *body, time_t now)
{
	char stamp[32];
	struct tm tm;

	localtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%b %e %H:%M:%S", &tm);
	snprintf(buf, size, "%s %s %s[%ld]: %s\n", stamp, short_host(), log_ident, (long)getpid(), body);
}

void log_vmsg(int priority, const char *severity, const char *fmt, va_list ap)
{
	char text[2048], body[2200], line[2600];
	int saved = errno;
	time_t now = time(NULL);

	vsnprintf(text, sizeof(text), fmt, ap);
	if (severity)
		snprintf(body, sizeof(body), "%s: %s", severity, text);
	else
		snprintf(body, sizeof(body), "%s", text);

	if (log_capture)
		log_capture(severity ? severity : "info", text, log_capture_ctx);
	if ((log_dests & LOG_DEST_SYSLOG) && syslog_reachable(now))
		syslog(log_facility | priority, "%s", body);
	if (log_dests & (LOG_DEST_STDERR_DAEMON | LOG_DEST_FILE)) {
		full_line(line, sizeof(line), body, now);
		if (log_dests & LOG_DEST_STDERR_DAEMON)
			write_line(STDERR_FILENO, line, strlen(line));
		if ((log_dests & LOG_DEST_FILE) && log_file_fd >= 0)
			write_line(log_file_fd, line, strlen(line));
	}
	if (log_dests & LOG_DEST_STDERR_TOOL) {
		snprintf(line, sizeof(line), "%s: %s\n", log_ident, body);
		write_line(STDERR_FILENO, line, strlen(line));
	}
	errno = saved;
}

#define LOG_FN(fn, prio, sev)                        \
	void fn(const char *fmt, ...)                \
	{                                            \
		va_list ap;                          \
		va_start(ap, fmt);                   \
		log_vmsg(prio, sev, fmt, ap);        \
		va_end(ap);                          \
	}

LOG_FN(log_info, LOG_INFO, NULL)
LOG_FN(log_warn, LOG_WARNING, "warning")
LOG_FN(log_error, LOG_ERR, "error")
LOG_FN(log_reject, LOG_INFO, "reject")

void log_fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(LOG_CRIT, "fatal", fmt, ap);
	va_end(ap);
	exit(1);
}

void log_panic(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(LOG_CRIT, "panic", fmt, ap);
	va_end(ap);
	abort();
}
