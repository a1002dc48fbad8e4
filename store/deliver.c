/*
 * deliver.c - local delivery (the LDA): one message into one user's
 * mailbox, as Postfix local(8) / dovecot-lda do it.
 *
 *  - user+ext (recipient_delimiter, Postfix): the extension names the
 *    folder when lmtp_save_to_detail_mailbox is on, else INBOX;
 *  - the target folder is created when missing if lda_mailbox_autocreate
 *    (and subscribed if lda_mailbox_autosubscribe), else INBOX is used;
 *    INBOX itself is always created on first delivery;
 *  - Return-Path: <sender> and Delivered-To: recipient are prepended
 *    (Postfix local(8)); a message that already carries our
 *    Delivered-To is a mail forwarding loop (5.4.6) and is refused;
 *  - one Message-ID is delivered once per store_dedup set (the caller's
 *    set spans the recipients of one queue file);
 *  - quota: QUOTA error, which the caller turns into 4xx or 5xx by
 *    quota_full_tempfail (store_error_is_temp);
 *  - the message file and its directory are fsynced before success.
 *
 * Called by: the queue role's local transport, `postern deliver`.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "store/store-private.h"
#include "util.h"

#define DELIVER_HEAD_MAX (1024 * 1024) /* header bytes read ahead of the copy */
#define DEDUP_MAX 10000

struct store_dedup {
	char **keys;
	size_t n, cap;
};

struct store_dedup *store_dedup_new(void)
{
	return calloc(1, sizeof(struct store_dedup));
}

void store_dedup_free(struct store_dedup **d)
{
	if (*d == NULL)
		return;
	for (size_t i = 0; i < (*d)->n; i++)
		free((*d)->keys[i]);
	free((*d)->keys);
	x_free(d);
}

static bool dedup_has(const struct store_dedup *d, const char *key)
{
	for (size_t i = 0; i < d->n; i++)
		if (strcmp(d->keys[i], key) == 0)
			return true;
	return false;
}

static void dedup_add(struct store_dedup *d, const char *key)
{
	char *k;

	if (d->n >= DEDUP_MAX)
		return;
	if (d->n == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 8;
		char **n = realloc(d->keys, cap * sizeof(*n));

		if (n == NULL)
			return;
		d->keys = n;
		d->cap = cap;
	}
	if ((k = strdup(key)) != NULL)
		d->keys[d->n++] = k;
}

bool store_error_is_temp(const struct store_settings *set, const struct store_error *err)
{
	return err->cls == STORE_ERR_TEMP ||
	       (err->cls == STORE_ERR_QUOTA && set->quota_full_tempfail);
}

/* Read the header block (up to the empty line, or DELIVER_HEAD_MAX) from
 * fd into sb. 0, or -1 with err on a read error. */
/* Length of the header block at the start of p[0..len) including the
 * empty line that ends it, or 0 when it does not end within len. */
static size_t head_end(const char *p, size_t len)
{
	if (len >= 1 && p[0] == '\n')
		return 1;
	if (len >= 2 && p[0] == '\r' && p[1] == '\n')
		return 2;
	for (size_t i = 1; i < len; i++) {
		if (p[i] == '\n' && p[i - 1] == '\n')
			return i + 1;
		if (p[i] == '\n' && i >= 2 && p[i - 1] == '\r' && p[i - 2] == '\n')
			return i + 1;
	}
	return 0;
}

static int read_head(int fd, struct strbuf *sb, struct store_error *err)
{
	off_t start = lseek(fd, 0, SEEK_CUR);
	char buf[65536];
	char c;

	/* A seekable file: read blocks, then seek back to the end of the
	 * header so the streaming copy continues from there. */
	if (start >= 0) {
		while (sb->len < DELIVER_HEAD_MAX) {
			size_t want = DELIVER_HEAD_MAX - sb->len < sizeof(buf) ?
				      DELIVER_HEAD_MAX - sb->len : sizeof(buf);
			ssize_t n = read(fd, buf, want);
			size_t end;

			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0) {
				store_error_sys(err, "read message");
				return -1;
			}
			if (n == 0)
				break;
			if (strbuf_append(sb, buf, (size_t)n) < 0) {
				store_error_set(err, STORE_ERR_TEMP, "Out of memory");
				return -1;
			}
			if ((end = head_end(sb->data, sb->len)) > 0) {
				sb->len = end;
				sb->data[end] = '\0';
				break;
			}
		}
		if (sb->len > DELIVER_HEAD_MAX)
			sb->len = DELIVER_HEAD_MAX;
		if (sb->data)
			sb->data[sb->len] = '\0';
		if (lseek(fd, start + (off_t)sb->len, SEEK_SET) < 0) {
			store_error_sys(err, "seek in message");
			return -1;
		}
		return 0;
	}
	/* A pipe: byte reads, so that the body stays in the pipe. */
	while (sb->len < DELIVER_HEAD_MAX) {
		ssize_t n = read(fd, &c, 1);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			store_error_sys(err, "read message");
			return -1;
		}
		if (n == 0)
			break;
		if (strbuf_putc(sb, c) < 0) {
			store_error_set(err, STORE_ERR_TEMP, "Out of memory");
			return -1;
		}
		if (c == '\n' && (sb->len == 1 || sb->data[sb->len - 2] == '\n' ||
				  (sb->len == 2 && sb->data[0] == '\r') ||
				  (sb->len >= 3 && sb->data[sb->len - 2] == '\r' &&
				   sb->data[sb->len - 3] == '\n')))
			break;
	}
	return 0;
}

/* Value of the first header name in head (unfolded, trimmed) into out,
 * starting the search at *pos (updated past the match for repeats).
 * true if found. */
static bool header_find(const char *head, size_t len, const char *name, size_t *pos, char *out,
			size_t outsize)
{
	size_t nl = strlen(name);

	for (size_t i = *pos; i < len;) {
		const char *line = head + i;
		const char *eol = memchr(line, '\n', len - i);
		size_t ll = eol ? (size_t)(eol - line) : len - i;

		if (ll == 0 || (ll == 1 && line[0] == '\r'))
			return false; /* end of header */
		if (ll > nl && strncasecmp(line, name, nl) == 0 && line[nl] == ':') {
			size_t o = 0;
			size_t j = i + nl + 1;

			/* value with continuation lines */
			for (;;) {
				const char *e = memchr(head + j, '\n', len - j);
				size_t end = e ? (size_t)(e - head) : len;

				for (size_t k = j; k < end && o + 1 < outsize; k++)
					if (head[k] != '\r')
						out[o++] = head[k] == '\t' ? ' ' : head[k];
				j = end + 1;
				if (j >= len || (head[j] != ' ' && head[j] != '\t'))
					break;
			}
			out[o] = '\0';
			*pos = j;
			{
				char *t = str_trim(out);

				memmove(out, t, strlen(t) + 1);
			}
			return true;
		}
		i += ll + 1;
	}
	return false;
}

void store_split_extension(const struct store_settings *set, const char *addr, char *user,
			   size_t usize, char *ext, size_t esize)
{
	const char *delims = set->recipient_delimiter;
	const char *at = strrchr(addr, '@');
	size_t local_len = at ? (size_t)(at - addr) : strlen(addr);
	size_t cut = local_len;

	ext[0] = '\0';
	if (delims && *delims) {
		for (size_t i = 0; i < local_len; i++) {
			if (strchr(delims, addr[i])) {
				cut = i;
				break;
			}
		}
	}
	if (cut == local_len || cut == 0) {
		str_copy(user, addr, usize);
		return;
	}
	snprintf(ext, esize, "%.*s", (int)(local_len - cut - 1), addr + cut + 1);
	snprintf(user, usize, "%.*s%s", (int)cut, addr, at ? at : "");
}

static bool has_header_value(const struct strbuf *head, const char *name, const char *value)
{
	char v[1024];
	size_t pos = 0;

	while (header_find(head->data, head->len, name, &pos, v, sizeof(v)))
		if (strcasecmp(v, value) == 0)
			return true;
	return false;
}

int store_deliver(const struct store_settings *set, const struct store_deliver_req *req,
		  uint32_t *uid_r, struct store_error *err)
{
	char user[512], ext[256], msgid[1024], key[2048];
	const char *recipient, *target, *eol;
	struct strbuf head, prefix;
	struct store_user *u = NULL;
	struct store_mailbox *box = NULL;
	struct store_source src;
	struct stat st;
	off_t pos;
	uint64_t estimate;
	size_t mpos = 0;
	bool have_msgid;
	int ret = -1;

	memset(err, 0, sizeof(*err));
	if (uid_r)
		*uid_r = 0;
	store_split_extension(set, req->user, user, sizeof(user), ext, sizeof(ext));
	recipient = req->recipient ? req->recipient : req->user;
	strbuf_init(&head, DELIVER_HEAD_MAX + 16);
	strbuf_init(&prefix, DELIVER_HEAD_MAX + 4096);
	if (read_head(req->fd, &head, err) < 0)
		goto out;
	if (head.data == NULL)
		strbuf_puts(&head, "");

	if (has_header_value(&head, "Delivered-To", recipient)) {
		log_info("store: %s: mail forwarding loop (Delivered-To: %s present)", user, recipient);
		store_error_set(err, STORE_ERR_PERM, "mail forwarding loop for %s", recipient);
		goto out;
	}
	have_msgid = header_find(head.data, head.len, "Message-ID", &mpos, msgid, sizeof(msgid)) &&
		     msgid[0];
	if (req->dedup && have_msgid) {
		snprintf(key, sizeof(key), "%s\n%s", user, msgid);
		if (dedup_has(req->dedup, key)) {
			log_info("store: %s: duplicate Message-ID %s suppressed", user, msgid);
			ret = 1;
			goto out;
		}
	}

	/* Our headers use the message's own line ending. */
	eol = memchr(head.data, '\n', head.len);
	eol = (eol && eol > head.data && eol[-1] == '\r') ? "\r\n" : "\n";
	if (strbuf_printf(&prefix, "Return-Path: <%s>%sDelivered-To: %s%s",
			  req->sender ? req->sender : "", eol, recipient, eol) < 0 ||
	    strbuf_append(&prefix, head.data, head.len) < 0) {
		store_error_set(err, STORE_ERR_TEMP, "Out of memory");
		goto out;
	}

	u = store_user_open(set, user, req->location, req->home, STORE_USER_CREATE, err);
	if (u == NULL)
		goto out;
	if (req->quota_bytes)
		store_user_set_quota(u, req->quota_bytes, 0);

	target = req->mailbox ? req->mailbox
		 : (ext[0] && set->save_to_detail_mailbox) ? ext : "INBOX";
	if (!store_mailbox_name_valid(target))
		target = "INBOX";
	if (strcasecmp(target, "INBOX") != 0) {
		int ex = u->backend->mailbox_exists(u, target, err);

		if (ex < 0)
			goto out;
		if (ex == 0 && set->mailbox_autocreate) {
			struct store_error e2;

			if (store_mailbox_create(u, target, 0, &e2) < 0 && e2.cls != STORE_ERR_EXISTS) {
				log_warn("store: %s: could not create %s (%s); delivering to INBOX",
					 user, target, e2.text);
				target = "INBOX";
			} else if (set->mailbox_autosubscribe) {
				(void)store_mailbox_subscribe(u, target, true, &e2);
			}
		} else if (ex == 0) {
			target = "INBOX";
		}
	}
	box = store_mailbox_open(u, target, STORE_OPEN_NOSYNC, err);
	if (box == NULL)
		goto out;

	pos = lseek(req->fd, 0, SEEK_CUR);
	estimate = prefix.len;
	if (pos >= 0 && fstat(req->fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > pos)
		estimate += (uint64_t)(st.st_size - pos);
	if (store_quota_check(u, estimate, 1, err) < 0) {
		log_info("store: %s: delivery refused: over quota", user);
		goto out;
	}
	memset(&src, 0, sizeof(src));
	src.prefix = prefix.data;
	src.prefix_len = prefix.len;
	src.fd = req->fd;
	if (store_msg_append_locked(box, &src, STORE_FLAG_RECENT, NULL, 0, NULL, uid_r, err) < 0)
		goto out;
	if (req->dedup && have_msgid)
		dedup_add(req->dedup, key);
	ret = 0;
out:
	store_mailbox_close(&box);
	store_user_close(&u);
	strbuf_free(&head);
	strbuf_free(&prefix);
	return ret;
}
