/*
 * location.c - mail_location expansion (Dovecot's syntax, the subset that
 * matters here):
 *
 *   maildir:PATH[:INDEX=PATH]
 *   mbox:PATH[:INBOX=PATH][:INDEX=PATH]
 *
 * Variables: %u the whole user, %n its local part, %d its domain (empty
 * without '@'), %h the home directory, %% a percent sign; a leading "~/"
 * is the home directory too. The user comes from a login or an envelope
 * recipient, so it is checked before it becomes part of a path: no '/',
 * no leading '.', no control bytes, bounded length.
 *
 * Called by: store_user_open (store.c), the CLI through it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store-private.h"
#include "util.h"

#define LOCATION_MAX 4096

static bool user_safe(const char *user)
{
	size_t n = strlen(user);

	if (n == 0 || n > 255 || user[0] == '.' || user[0] == '@')
		return false;
	for (const unsigned char *p = (const unsigned char *)user; *p; p++)
		if (*p < 0x20 || *p == 0x7f || *p == '/' || *p == '\\')
			return false;
	return strstr(user, "..") == NULL;
}

/* Expand one path; NULL with err on a bad variable or missing home. */
static char *expand(const char *text, size_t len, const char *user, const char *home,
		    struct store_error *err)
{
	const char *at = strchr(user, '@');
	struct strbuf sb;

	strbuf_init(&sb, LOCATION_MAX);
	if (len >= 1 && text[0] == '~' && (len == 1 || text[1] == '/')) {
		if (home == NULL || home[0] != '/') {
			store_error_set(err, STORE_ERR_PERM, "mail_location uses ~ but the user has no home");
			strbuf_free(&sb);
			return NULL;
		}
		strbuf_puts(&sb, home);
		text++;
		len--;
	}
	for (size_t i = 0; i < len; i++) {
		int rc = 0;

		if (text[i] != '%') {
			rc = strbuf_putc(&sb, text[i]);
		} else if (i + 1 < len) {
			switch (text[++i]) {
			case 'u': rc = strbuf_puts(&sb, user); break;
			case 'n': rc = strbuf_append(&sb, user, at ? (size_t)(at - user) : strlen(user)); break;
			case 'd': rc = strbuf_puts(&sb, at ? at + 1 : ""); break;
			case 'h':
				if (home == NULL || home[0] != '/') {
					store_error_set(err, STORE_ERR_PERM,
							"mail_location uses %%h but the user has no home");
					strbuf_free(&sb);
					return NULL;
				}
				rc = strbuf_puts(&sb, home);
				break;
			case '%': rc = strbuf_putc(&sb, '%'); break;
			default:
				store_error_set(err, STORE_ERR_PERM,
						"mail_location: unknown variable %%%c; use %%u %%n %%d %%h",
						text[i]);
				strbuf_free(&sb);
				return NULL;
			}
		} else {
			rc = -1;
		}
		if (rc < 0) {
			store_error_set(err, STORE_ERR_PERM, "mail_location is malformed or too long");
			strbuf_free(&sb);
			return NULL;
		}
	}
	if (sb.len == 0 || sb.data[0] != '/') {
		store_error_set(err, STORE_ERR_PERM, "mail_location must expand to an absolute path");
		strbuf_free(&sb);
		return NULL;
	}
	/* "/x/" and "/x" name the same directory; keep one form. */
	while (sb.len > 1 && sb.data[sb.len - 1] == '/')
		sb.data[--sb.len] = '\0';
	return strbuf_steal(&sb);
}

void store_location_free(struct store_location *loc)
{
	x_free(&loc->root);
	x_free(&loc->inbox);
	x_free(&loc->index_dir);
}

int store_location_expand(const struct store_settings *set, const char *location,
			  const char *user, const char *home, struct store_location *loc,
			  struct store_error *err)
{
	const char *p, *end, *colon;
	const char *at = strchr(user, '@');

	memset(loc, 0, sizeof(*loc));
	if (!user_safe(user)) {
		store_error_set(err, STORE_ERR_PERM, "Invalid user name");
		return -1;
	}
	if (strncmp(location, "maildir:", 8) == 0) {
		loc->format = STORE_FORMAT_MAILDIR;
		p = location + 8;
	} else if (strncmp(location, "mbox:", 5) == 0) {
		loc->format = STORE_FORMAT_MBOX;
		p = location + 5;
	} else {
		store_error_set(err, STORE_ERR_PERM,
				"mail_location must start with maildir: or mbox:");
		return -1;
	}
	end = p + strlen(p);
	colon = strchr(p, ':');
	loc->root = expand(p, (size_t)((colon ? colon : end) - p), user, home, err);
	if (loc->root == NULL)
		return -1;
	while (colon != NULL) {
		const char *opt = colon + 1;
		const char *next = strchr(opt, ':');
		size_t olen = (size_t)((next ? next : end) - opt);
		char **dst = NULL;

		if (olen > 6 && strncmp(opt, "INBOX=", 6) == 0)
			dst = &loc->inbox;
		else if (olen > 6 && strncmp(opt, "INDEX=", 6) == 0)
			dst = &loc->index_dir;
		if (dst == NULL || *dst != NULL) {
			store_error_set(err, STORE_ERR_PERM,
					"mail_location: unknown or repeated option; use INBOX= or INDEX=");
			store_location_free(loc);
			return -1;
		}
		*dst = expand(opt + 6, olen - 6, user, home, err);
		if (*dst == NULL) {
			store_location_free(loc);
			return -1;
		}
		colon = next;
	}
	if (loc->inbox == NULL)
		loc->inbox = must_strdup(loc->root);
	if (loc->index_dir == NULL) {
		if (loc->format == STORE_FORMAT_MAILDIR)
			loc->index_dir = must_asprintf("%s/postern-index", loc->root);
		else
			loc->index_dir = must_asprintf("%s/index/%s/%.*s",
						       set->data_directory ? set->data_directory
									   : "/var/lib/postern",
						       at ? at + 1 : "_local",
						       (int)(at ? (size_t)(at - user) : strlen(user)), user);
	}
	return 0;
}
