/*
 * alias.c - local(8)'s aliasing for the domains in mydestination:
 * alias_maps (aliases(5)), :include: files, "|command" and "/file"
 * deliveries, and the ~/.forward file of system users (forward_path),
 * plus the $name templates of forward_path and luser_relay.
 *
 * Postfix runs an alias's commands and files as the owner of the alias
 * database and those of a .forward as the user. Postern's queue role
 * runs them as mail_owner only, so:
 *   - "|command" / "/file" are allowed where allow_mail_to_commands /
 *     allow_mail_to_files say (alias, include); otherwise 5.7.1 "mail to
 *     command is restricted" / "mail to file is restricted", Postfix's
 *     texts;
 *   - in a ~/.forward (and files it includes) they are always refused,
 *     with a text saying why, because the user wrote them and mail_owner
 *     would run them.
 * "\user" delivers to user's mailbox without further aliasing, and an
 * alias or .forward naming its own user does the same (aliases(5)).
 *
 * Called by expand.c. Files are read with bounds (RESOLVE_INCLUDE_FILE_MAX,
 * RESOLVE_ALIAS_ITEMS_MAX); nesting is bounded by RESOLVE_LOCAL_DEPTH_MAX.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "smtp/resolve/resolve-private.h"

char *resolve_template(const char *tmpl, const struct resolve_vars *v)
{
	struct strbuf sb;
	const char *p = tmpl;

	strbuf_init(&sb, 4096);
	while (*p) {
		char name[64], alt[512];
		const char *val = NULL;
		char op = 0;
		size_t n = 0;

		if (*p != '$') {
			if (strbuf_putc(&sb, *p++) < 0)
				break;
			continue;
		}
		p++;
		if (*p == '$') {
			strbuf_putc(&sb, *p++);
			continue;
		}
		alt[0] = '\0';
		if (*p == '{') {
			const char *e;

			p++;
			while (*p && (*p == '_' || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')) &&
			       n + 1 < sizeof(name))
				name[n++] = *p++;
			if (*p == '?' || *p == ':') {
				op = *p++;
				e = strchr(p, '}');
				if (e == NULL)
					e = p + strlen(p);
				snprintf(alt, sizeof(alt), "%.*s", (int)(e - p), p);
				p = e;
			}
			if (*p == '}')
				p++;
		} else {
			while (*p && (*p == '_' || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')) &&
			       n + 1 < sizeof(name))
				name[n++] = *p++;
		}
		name[n] = '\0';
		if (strcmp(name, "user") == 0)
			val = v->user;
		else if (strcmp(name, "home") == 0)
			val = v->home;
		else if (strcmp(name, "extension") == 0)
			val = v->extension;
		else if (strcmp(name, "recipient_delimiter") == 0)
			val = v->delimiter;
		else if (strcmp(name, "local") == 0)
			val = v->local;
		else if (strcmp(name, "domain") == 0)
			val = v->domain;
		else if (strcmp(name, "recipient") == 0)
			val = v->recipient;
		if (val == NULL)
			val = "";
		if (op == '?')
			val = val[0] ? alt : "";
		else if (op == ':')
			val = val[0] ? "" : alt;
		strbuf_puts(&sb, val);
	}
	return strbuf_steal(&sb);
}

int alias_lookup_local(struct expand_state *st, const char *lp, char **value_r, bool *unmatched_ext_r)
{
	struct resolve *r = st->r;
	char *base = must_malloc(strlen(lp) + 1), *ext = must_malloc(strlen(lp) + 1);
	enum map_status ms;

	*unmatched_ext_r = false;
	ms = resolve_lookup(r, r->alias, lp, false, 0, value_r, &st->error);
	if (ms == MAP_NOTFOUND && resolve_split_ext(r, lp, base, strlen(lp) + 1, ext, strlen(lp) + 1)) {
		ms = resolve_lookup(r, r->alias, base, false, 0, value_r, &st->error);
		*unmatched_ext_r = true;
	}
	free(base);
	free(ext);
	return ms == MAP_FOUND ? 1 : ms == MAP_NOTFOUND ? 0 : -1;
}

/* read_list_file - a :include: or .forward file as one list value (lines
 * joined with commas, # comment lines dropped). owner != (uid_t)-1: the
 * file must belong to that user or root (a .forward: local(8) reads it
 * with the user's rights; Postern reads as mail_owner, so a user must
 * not be able to point it at a file of somebody else). NULL with errno. */
static char *read_list_file(const char *path, uid_t owner)
{
	struct strbuf sb;
	struct stat stt;
	char *buf, *line, *save = NULL;
	ssize_t got;
	size_t len = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);

	if (fd < 0)
		return NULL;
	if (fstat(fd, &stt) < 0 || !S_ISREG(stt.st_mode) || stt.st_size > RESOLVE_INCLUDE_FILE_MAX) {
		close(fd);
		errno = EINVAL;
		return NULL;
	}
	if (owner != (uid_t)-1 && stt.st_uid != owner && stt.st_uid != 0) {
		close(fd);
		errno = EPERM;
		return NULL;
	}
	buf = must_malloc((size_t)stt.st_size + 1);
	while (len < (size_t)stt.st_size &&
	       (got = read(fd, buf + len, (size_t)stt.st_size - len)) > 0)
		len += (size_t)got;
	close(fd);
	buf[len] = '\0';
	strbuf_init(&sb, RESOLVE_INCLUDE_FILE_MAX * 2);
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *t = str_trim(line);

		if (t[0] == '\0' || t[0] == '#')
			continue;
		strbuf_puts(&sb, t);
		strbuf_putc(&sb, ',');
	}
	free(buf);
	return strbuf_steal(&sb);
}

static int refuse(struct expand_state *st, const char *name, const char *addr, const char *item,
		  bool command, unsigned origin)
{
	const char *what = command ? "command" : "file";

	if (origin & ALLOW_FORWARD)
		expand_fail(st, addr, "5.7.1",
			    "mail to %s is restricted: \"%s\" in the .forward file of %s; Postern runs "
			    "%ss as mail_owner, so only alias files may name them",
			    what, item, name, what);
	else
		expand_fail(st, addr, "5.7.1", "mail to %s is restricted", what);
	return 0;
}

/* self - is a (qualified) the alias's own name in a local domain? */
static int self_reference(struct expand_state *st, const char *name, const char *a)
{
	const char *at = resolve_addr_at(a);
	size_t nl = strlen(name);
	int local;

	if (at == NULL || (size_t)(at - a) != nl || strncasecmp(a, name, nl) != 0)
		return 0;
	local = resolve_is_local_domain(st->r, at + 1);
	if (local < 0)
		st->error = must_asprintf("domain look-up of \"%s\" failed", at + 1);
	return local;
}

int alias_items_expand(struct expand_state *st, const char *name, const char *addr, const char *value,
		       unsigned origin, const char *ext, unsigned depth)
{
	struct resolve *r = st->r;
	char **items = alias_list_split(value, RESOLVE_ALIAS_ITEMS_MAX);
	int rc = 0;

	if (items == NULL) {
		expand_fail(st, addr, "5.3.5", "alias %s: unbalanced quote or too many items", name);
		return 0;
	}
	if (depth >= RESOLVE_LOCAL_DEPTH_MAX) {
		expand_fail(st, addr, "5.4.6", "mail forwarding loop for %s", addr);
		alias_list_free(items);
		return 0;
	}
	for (size_t i = 0; items[i] && rc >= 0; i++) {
		const char *it = items[i];

		if (it[0] == '|') {
			if ((origin & ALLOW_FORWARD) || !(r->allow_commands & origin))
				rc = refuse(st, name, addr, it, true, origin);
			else
				rc = expand_add_dest(st, QDEST_PIPE, r->mail_owner, it + 1);
		} else if (it[0] == '/') {
			if ((origin & ALLOW_FORWARD) || !(r->allow_files & origin))
				rc = refuse(st, name, addr, it, false, origin);
			else
				rc = expand_add_dest(st, QDEST_FILE, r->mail_owner, it);
		} else if (str_has_prefix(it, ":include:")) {
			const char *path = it + 9;
			char *inc;

			while (*path == ' ' || *path == '\t')
				path++;
			inc = path[0] == '/' ? read_list_file(path, (uid_t)-1) : NULL;
			if (inc == NULL) {
				expand_fail(st, addr, "5.3.5", "cannot open include file %s: %s", path,
					    path[0] == '/' ? strerror(errno) : "not an absolute path");
				continue;
			}
			rc = alias_items_expand(st, name, addr, inc, ALLOW_INCLUDE | (origin & ALLOW_FORWARD),
						(ext && (r->propagate & PROP_INCLUDE)) ? ext : NULL,
						depth + 1);
			free(inc);
		} else {
			bool direct = it[0] == '\\';
			char *a = resolve_qualify(r, direct ? it + 1 : it);
			int self = direct ? 1 : self_reference(st, name, a);

			if (self < 0) {
				free(a);
				rc = -1;
				break;
			}
			if (ext && !direct && !self) {
				char *e = resolve_add_ext(r, a, a, ext);

				free(a);
				a = e;
			}
			if (strlen(a) > RESOLVE_ADDR_MAX)
				expand_fail(st, addr, "5.1.3", "alias %s: address too long", name);
			else if (self) {
				const char *at = resolve_addr_at(a);
				int local = at ? resolve_is_local_domain(r, at + 1) : 1;

				if (local < 0) {
					st->error = must_asprintf("domain look-up of \"%s\" failed", at + 1);
					rc = -1;
				} else if (local) {
					rc = expand_local(st, a, depth + 1, true);
				} else {
					rc = expand_address(st, a, depth + 1);
				}
			} else {
				rc = expand_address(st, a, depth + 1);
			}
			free(a);
		}
	}
	alias_list_free(items);
	return rc < 0 ? -1 : 0;
}

int alias_forward(struct expand_state *st, const struct resolve_user *u, const char *addr,
		  const char *ext, unsigned depth)
{
	struct resolve *r = st->r;
	const char *at = resolve_addr_at(addr);
	char local[RESOLVE_ADDR_MAX + 1], user[256], delim[2] = { r->delim[0], '\0' };
	char *paths, *save = NULL;
	int rc = 0;

	if (r->forward_path[0] == '\0' || !u->system || u->home[0] == '\0')
		return 0;
	snprintf(local, sizeof(local), "%.*s", (int)(at ? at - addr : (long)strlen(addr)), addr);
	str_copy(user, u->name, sizeof(user));
	if (strchr(user, '@'))
		*strchr(user, '@') = '\0';
	{
		struct resolve_vars v = { .user = user, .home = u->home, .extension = ext ? ext : "",
					  .delimiter = ext && ext[0] ? delim : "", .local = local,
					  .domain = at ? at + 1 : "", .recipient = addr };

		paths = resolve_template(r->forward_path, &v);
	}
	if (paths == NULL)
		return 0;
	for (char *p = strtok_r(paths, ", \t", &save); p; p = strtok_r(NULL, ", \t", &save)) {
		char *list = read_list_file(p, u->uid);

		if (list == NULL) {
			if (errno != ENOENT && errno != ENOTDIR)
				log_warn("resolve: forward file %s: %s; ignored", p, strerror(errno));
			continue;
		}
		if (list[0] == '\0') {
			free(list);
			break;   /* an empty .forward: deliver to the mailbox */
		}
		rc = alias_items_expand(st, user, addr, list, ALLOW_FORWARD,
					(ext && (r->propagate & PROP_FORWARD)) ? ext : NULL, depth + 1);
		free(list);
		rc = rc < 0 ? -1 : 1;
		break;
	}
	free(paths);
	return rc;
}
