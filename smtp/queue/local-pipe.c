/*
 * local-pipe.c - deliver a message to a |command named by an alias
 * (Postfix local(8) "EXTERNAL COMMAND DELIVERY", pipe(8) for the exit
 * status), from a worker thread of the multi-threaded queue role.
 *
 * The command runs as "/bin/sh -c COMMAND" in a new session (so that the
 * time limit can kill it and everything it started, as one process
 * group), in "/", with local(8)'s environment and nothing inherited:
 * every descriptor but 0, 1, 2 is closed (close_range), signal
 * dispositions and the mask are reset. Between fork() and exec the
 * child calls only async-signal-safe functions; everything it needs
 * (argv, envp) is built before fork().
 *
 * stdin gets the message (local-pipe-content.c), stdout and stderr go to
 * one pipe of which the first LOCAL_PIPE_OUTPUT_KEEP bytes are kept for
 * the bounce text; the rest is read and dropped so the command never
 * blocks on a full pipe. SIGPIPE (a command that does not read its
 * input) is blocked on this thread for the delivery and a pending one is
 * consumed, so it never kills the role; EPIPE simply ends the input.
 *
 * Exit status, as Postfix (global/sys_exits.c, pipe_command.c):
 *   0                     sent, 2.0.0
 *   EX_TEMPFAIL, EX_OSERR deferred 4.3.0 "temporary failure" etc.
 *   other sysexits codes  bounced with their code (EX_NOUSER 5.1.1, ...)
 *   anything else         bounced 5.3.0 "Command died with status N: ..."
 *   killed by a signal    deferred 4.3.0 "Command died with signal N: ..."
 *   command_time_limit    deferred 4.3.0 "Command time limit exceeded: ..."
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "util.h"
#include "smtp/queue/local-pipe-private.h"

/* Output kept for the bounce text (the header promises 512). */
#define LOCAL_PIPE_OUTPUT_KEEP 512
/* After the command exits, wait this long for descendants that still
 * hold its stdout before giving up on the rest of the output. */
#define LOCAL_PIPE_DRAIN_MS 1000

void local_pipe_set(struct local_pipe_result *out, enum qdest_state result, const char *dsn, const char *fmt, ...)
{
	va_list ap;

	out->result = result;
	str_copy(out->dsn, dsn, sizeof(out->dsn));
	va_start(ap, fmt);
	vsnprintf(out->text, sizeof(out->text), fmt, ap);
	va_end(ap);
}

bool local_pipe_soft_errno(int e)
{
	return e == ENOSPC || e == EDQUOT || e == ENOMEM || e == EMFILE || e == ENFILE || e == EAGAIN ||
	       e == EIO || e == EINTR || e == ETIMEDOUT || e == ENOLCK;
}

static const struct {
	int status;
	const char *dsn;
	const char *text;
} sysexits_table[] = {
	{ EX_USAGE, "5.3.0", "command line usage error" },
	{ EX_DATAERR, "5.6.0", "data format error" },
	{ EX_NOINPUT, "5.3.0", "cannot open input" },
	{ EX_NOUSER, "5.1.1", "user unknown" },
	{ EX_NOHOST, "5.1.2", "host name unknown" },
	{ EX_UNAVAILABLE, "5.3.0", "service unavailable" },
	{ EX_SOFTWARE, "5.3.0", "internal software error" },
	{ EX_OSERR, "4.3.0", "system resource problem" },
	{ EX_OSFILE, "5.3.0", "critical OS file missing" },
	{ EX_CANTCREAT, "5.2.0", "can't create user output file" },
	{ EX_IOERR, "5.3.0", "input/output error" },
	{ EX_TEMPFAIL, "4.3.0", "temporary failure" },
	{ EX_PROTOCOL, "5.5.0", "remote error in protocol" },
	{ EX_NOPERM, "5.7.0", "permission denied" },
	{ EX_CONFIG, "5.3.5", "local configuration error" },
};

/* env_var - "NAME=value" in new memory, value cleaned of controls (a
 * hostile address must not smuggle anything into the environment). */
static char *env_var(const char *name, const char *value, size_t len)
{
	size_t nlen = strlen(name);
	char *s = malloc(nlen + 1 + len + 1);

	if (s == NULL)
		return NULL;
	memcpy(s, name, nlen);
	s[nlen] = '=';
	for (size_t i = 0; i < len; i++)
		s[nlen + 1 + i] = (unsigned char)value[i] < 0x20 || value[i] == 0x7f ? '?' : value[i];
	s[nlen + 1 + len] = '\0';
	return s;
}

#define N_ENV 11

/* build_env - local(8)'s variables: SENDER, RECIPIENT, LOCAL (the local
 * part), USER and LOGNAME (it without the +extension), EXTENSION,
 * DOMAIN, HOME=/, SHELL, PATH. false when out of memory. */
static bool build_env(const struct local_pipe_req *req, char **env)
{
	const char *rcpt = req->recipient, *at = strrchr(rcpt, '@');
	size_t local_len = at != NULL ? (size_t)(at - rcpt) : strlen(rcpt);
	const char *plus = memchr(rcpt, '+', local_len);
	size_t user_len = plus != NULL ? (size_t)(plus - rcpt) : local_len;
	const char *ext = plus != NULL ? plus + 1 : "";
	size_t ext_len = plus != NULL ? local_len - user_len - 1 : 0;
	const char *domain = at != NULL ? at + 1 : "";
	size_t i = 0;

	env[i++] = env_var("SENDER", req->sender, strlen(req->sender));
	env[i++] = env_var("RECIPIENT", rcpt, strlen(rcpt));
	env[i++] = env_var("LOCAL", rcpt, local_len);
	env[i++] = env_var("USER", rcpt, user_len);
	env[i++] = env_var("LOGNAME", rcpt, user_len);
	env[i++] = env_var("EXTENSION", ext, ext_len);
	env[i++] = env_var("DOMAIN", domain, strlen(domain));
	env[i++] = env_var("HOME", "/", 1);
	env[i++] = env_var("SHELL", "/bin/sh", 7);
	env[i++] = env_var("PATH", "/usr/bin:/bin", 13);
	env[i] = NULL;
	for (size_t j = 0; j < i; j++)
		if (env[j] == NULL)
			return false;
	return true;
}

static void free_env(char **env)
{
	for (size_t i = 0; i < N_ENV; i++)
		free(env[i]);
}

/* child - after fork(): async-signal-safe calls only, then exec. */
static void child(int in_fd, int out_fd, char *const argv[], char *const envp[])
{
	struct sigaction dfl;
	sigset_t none;

	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	for (int sig = 1; sig < NSIG; sig++)
		sigaction(sig, &dfl, NULL); /* fails harmlessly for KILL, STOP and the RT ones in use */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	setsid();
	if (dup2(in_fd, 0) < 0 || dup2(out_fd, 1) < 0 || dup2(out_fd, 2) < 0)
		_exit(EX_OSERR);
	if (close_range(3, ~0U, 0) < 0) {
		for (int fd = 3; fd < 65536; fd++)
			close(fd);
	}
	if (chdir("/") < 0)
		_exit(EX_OSERR);
	execve("/bin/sh", argv, envp);
	_exit(EX_OSERR);
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* What the parent saw. */
struct run {
	pid_t pid;
	int in_fd, out_fd;           /* our ends; -1 when closed */
	struct local_pipe_content content;
	char buf[LOCAL_PIPE_CHUNK];
	size_t buf_pos, buf_len;
	bool input_done;
	int read_errno;              /* reading the queue file failed */
	char output[LOCAL_PIPE_OUTPUT_KEEP + 1];
	size_t output_len;
	bool exited;
	int status;
	bool timed_out;
};

/* feed - write what the pipe takes now. */
static void feed(struct run *r)
{
	while (!r->input_done) {
		if (r->buf_pos == r->buf_len) {
			ssize_t n = local_pipe_content_read(&r->content, r->buf, sizeof(r->buf));
			if (n <= 0) {
				if (n < 0)
					r->read_errno = errno;
				r->input_done = true;
				break;
			}
			r->buf_pos = 0;
			r->buf_len = (size_t)n;
		}
		ssize_t w = write(r->in_fd, r->buf + r->buf_pos, r->buf_len - r->buf_pos);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return;
			/* EPIPE: the command does not want (the rest of) the
			 * message; its exit status decides. */
			r->input_done = true;
			break;
		}
		r->buf_pos += (size_t)w;
	}
	close(r->in_fd);
	r->in_fd = -1;
}

/* drain - read what the output pipe has; false at EOF. */
static bool drain(struct run *r)
{
	char tmp[4096];

	for (;;) {
		ssize_t n = read(r->out_fd, tmp, sizeof(tmp));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EAGAIN;
		if (n == 0)
			return false;
		size_t room = LOCAL_PIPE_OUTPUT_KEEP - r->output_len;
		size_t keep = (size_t)n < room ? (size_t)n : room;
		memcpy(r->output + r->output_len, tmp, keep);
		r->output_len += keep;
	}
}

/* supervise - feed stdin, collect output, reap the child, enforce the
 * time limit (SIGKILL to the whole process group). */
static void supervise(struct run *r, unsigned time_limit)
{
	long long deadline = now_ms() + (long long)time_limit * 1000, drain_until = 0;

	for (;;) {
		struct pollfd pfd[2];
		nfds_t n = 0;
		long long now = now_ms();

		if (!r->exited) {
			pid_t w = waitpid(r->pid, &r->status, WNOHANG);
			if (w == r->pid) {
				r->exited = true;
				drain_until = now + LOCAL_PIPE_DRAIN_MS;
				if (r->in_fd >= 0) {
					close(r->in_fd);
					r->in_fd = -1;
				}
			}
		}
		if (r->exited && (r->out_fd < 0 || now >= drain_until))
			return;
		if (!r->exited && now >= deadline) {
			kill(-r->pid, SIGKILL);
			kill(r->pid, SIGKILL);
			waitpid(r->pid, &r->status, 0);
			r->exited = true;
			r->timed_out = true;
			return;
		}
		if (r->in_fd >= 0) {
			pfd[n].fd = r->in_fd;
			pfd[n++].events = POLLOUT;
		}
		if (r->out_fd >= 0) {
			pfd[n].fd = r->out_fd;
			pfd[n++].events = POLLIN;
		}
		/* Short waits: the child's exit is noticed by polling waitpid
		 * (a SIGCHLD handler would belong to the whole process). */
		long long limit = (r->exited ? drain_until : deadline) - now;
		int timeout = limit < 50 ? (int)limit : 50;
		if (poll(pfd, n, timeout < 0 ? 0 : timeout) < 0)
			continue; /* EINTR; anything else shows up as revents next time */
		for (nfds_t i = 0; i < n; i++) {
			if (pfd[i].revents == 0)
				continue;
			if (pfd[i].fd == r->in_fd)
				feed(r);
			else if (pfd[i].fd == r->out_fd && !drain(r)) {
				close(r->out_fd);
				r->out_fd = -1;
			}
		}
	}
}

/* first_line - the output's first line, controls made spaces. */
static void first_line(const struct run *r, char *out, size_t size)
{
	size_t o = 0;

	for (size_t i = 0; i < r->output_len && o + 1 < size; i++) {
		char c = r->output[i];
		if (c == '\n' || (c == '\r' && i + 1 < r->output_len && r->output[i + 1] == '\n')) {
			if (o > 0)
				break;
			continue;
		}
		out[o++] = (unsigned char)c < 0x20 || c == 0x7f ? ' ' : c;
	}
	out[o] = '\0';
}

static void outcome(const struct run *r, const char *command, struct local_pipe_result *out)
{
	char line[LOCAL_PIPE_OUTPUT_KEEP + 1], cmd[160];
	const char *sep;

	first_line(r, line, sizeof(line));
	sep = *line ? ". Command output: " : "";
	str_escape(command, strlen(command), cmd, sizeof(cmd));
	if (r->timed_out) {
		local_pipe_set(out, QDEST_DEFERRED, "4.3.0", "Command time limit exceeded: \"%s\"%s%s", cmd, sep, line);
		return;
	}
	if (r->read_errno != 0) {
		local_pipe_set(out, QDEST_DEFERRED, "4.3.0", "cannot read the queue file: %s", strerror(r->read_errno));
		return;
	}
	if (WIFSIGNALED(r->status)) {
		local_pipe_set(out, QDEST_DEFERRED, "4.3.0", "Command died with signal %d: \"%s\"%s%s",
			       WTERMSIG(r->status), cmd, sep, line);
		return;
	}
	int code = WIFEXITED(r->status) ? WEXITSTATUS(r->status) : 255;
	if (code == 0) {
		local_pipe_set(out, QDEST_SENT, "2.0.0", "delivered to command: %s", cmd);
		return;
	}
	for (size_t i = 0; i < sizeof(sysexits_table) / sizeof(sysexits_table[0]); i++) {
		if (sysexits_table[i].status != code)
			continue;
		local_pipe_set(out, sysexits_table[i].dsn[0] == '4' ? QDEST_DEFERRED : QDEST_BOUNCED,
			       sysexits_table[i].dsn, "%s%s%s", sysexits_table[i].text, sep, line);
		return;
	}
	local_pipe_set(out, QDEST_BOUNCED, "5.3.0", "Command died with status %d: \"%s\"%s%s", code, cmd, sep, line);
}

void local_pipe_command(const struct local_pipe_req *req, const char *command, struct local_pipe_result *out)
{
	char *env[N_ENV] = { NULL };
	char *argv[] = { "sh", "-c", (char *)command, NULL };
	int in_pipe[2] = { -1, -1 }, out_pipe[2] = { -1, -1 };
	struct run *r = calloc(1, sizeof(*r));
	sigset_t pipe_set, old_mask, pending;
	bool was_pending;

	if (r == NULL || !build_env(req, env) ||
	    local_pipe_content_init(&r->content, req, false, time(NULL)) < 0) {
		local_pipe_set(out, QDEST_DEFERRED, "4.3.0", "cannot run command: out of memory");
		goto out;
	}
	if (pipe2(in_pipe, O_CLOEXEC) < 0 || pipe2(out_pipe, O_CLOEXEC) < 0) {
		local_pipe_set(out, QDEST_DEFERRED, "4.3.0", "cannot run command: pipe: %s", strerror(errno));
		goto out;
	}
	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_set, &old_mask);
	sigpending(&pending);
	was_pending = sigismember(&pending, SIGPIPE);
	r->pid = fork();
	if (r->pid == 0)
		child(in_pipe[0], out_pipe[1], argv, env);
	if (r->pid < 0) {
		local_pipe_set(out, QDEST_DEFERRED, "4.3.0", "cannot run command: fork: %s", strerror(errno));
	} else {
		close(in_pipe[0]);
		close(out_pipe[1]);
		in_pipe[0] = out_pipe[1] = -1;
		r->in_fd = in_pipe[1];
		r->out_fd = out_pipe[0];
		in_pipe[1] = out_pipe[0] = -1;
		fcntl(r->in_fd, F_SETFL, O_NONBLOCK);
		fcntl(r->out_fd, F_SETFL, O_NONBLOCK);
		supervise(r, req->time_limit > 0 ? req->time_limit : 1);
		if (r->in_fd >= 0)
			close(r->in_fd);
		if (r->out_fd >= 0)
			close(r->out_fd);
		outcome(r, command, out);
	}
	/* Consume the SIGPIPE our writes raised on this thread, if any,
	 * before the mask comes back. */
	sigpending(&pending);
	if (!was_pending && sigismember(&pending, SIGPIPE)) {
		struct timespec zero = { 0, 0 };
		sigtimedwait(&pipe_set, NULL, &zero);
	}
	pthread_sigmask(SIG_SETMASK, &old_mask, NULL);
out:
	for (int i = 0; i < 2; i++) {
		if (in_pipe[i] >= 0)
			close(in_pipe[i]);
		if (out_pipe[i] >= 0)
			close(out_pipe[i]);
	}
	if (r != NULL)
		local_pipe_content_free(&r->content);
	free(r);
	free_env(env);
}
