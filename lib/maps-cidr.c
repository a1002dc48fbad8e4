/*
 * maps-cidr.c - cidr:/path tables (cidr_table(5)): lines
 * "network_address/prefix_length result" or "network_address result" (a
 * single host), IPv4 or IPv6, optionally "[address]" or "[address]/len",
 * optionally negated with "!"; the first matching line wins. Queries are
 * IP addresses; any other string is simply not found.
 *
 * Postfix warns about "non-null host address bits" (10.1.2.3/8) and skips
 * the rule. Postern makes it an error instead: the admin almost always
 * meant a different network, and silently ignoring a line of an access
 * table is worse than refusing to start. The if/endif blocks of Postfix
 * 3.2 are not supported; such a line is reported as an error.
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "maps-private.h"

struct cidr_rule {
	int family;           /* AF_INET or AF_INET6 */
	unsigned char addr[16];
	unsigned prefix;
	bool negate;
	char *value;
};

struct maps_cidr {
	struct map map;
	struct cidr_rule *rules;
	size_t n;
};

/* Does addr match the first prefix bits of rule? */
static bool cidr_match(const struct cidr_rule *r, const unsigned char *addr)
{
	unsigned full = r->prefix / 8, rest = r->prefix % 8;

	if (memcmp(r->addr, addr, full) != 0)
		return false;
	if (rest) {
		unsigned char mask = (unsigned char)(0xff << (8 - rest));

		if ((r->addr[full] & mask) != (addr[full] & mask))
			return false;
	}
	return true;
}

/* Parse a query: plain IPv4 or IPv6 text. */
static int cidr_parse_addr(const char *text, unsigned char *addr)
{
	if (strchr(text, ':') != NULL)
		return inet_pton(AF_INET6, text, addr) == 1 ? AF_INET6 : 0;
	return inet_pton(AF_INET, text, addr) == 1 ? AF_INET : 0;
}

static enum map_status maps_cidr_lookup(struct map *m, const char *key,
					const char **value_r, const char **error_r)
{
	struct maps_cidr *t = (struct maps_cidr *)m;
	unsigned char addr[16];
	int family;

	*value_r = NULL;
	if (strlen(key) >= INET6_ADDRSTRLEN || (family = cidr_parse_addr(key, addr)) == 0)
		return MAP_NOTFOUND;
	for (size_t i = 0; i < t->n; i++) {
		const struct cidr_rule *r = &t->rules[i];

		if (r->family == family && cidr_match(r, addr) != r->negate) {
			*value_r = r->value;
			return MAP_FOUND;
		}
	}
	return MAP_NOTFOUND;
}

static void maps_cidr_close(struct map *m)
{
	struct maps_cidr *t = (struct maps_cidr *)m;

	for (size_t i = 0; i < t->n; i++)
		free(t->rules[i].value);
	free(t->rules);
	maps_free_common(m);
	free(t);
}

/* Parse "addr", "addr/len", "[addr]", "[addr]/len" into r; 0 or -1. */
static int cidr_parse_pattern(const char *name, unsigned lineno, const char *pattern,
			      struct cidr_rule *r, const char **error_r)
{
	char text[INET6_ADDRSTRLEN + 8];
	const char *p = pattern, *slash;
	size_t alen;
	unsigned max;

	r->negate = false;
	if (*p == '!') {
		r->negate = true;
		p++;
	}
	slash = strchr(p, '/');
	alen = slash ? (size_t)(slash - p) : strlen(p);
	if (alen >= 2 && p[0] == '[' && p[alen - 1] == ']') {
		p++;
		alen -= 2;
	}
	if (alen == 0 || alen >= sizeof(text))
		goto bad_addr;
	memcpy(text, p, alen);
	text[alen] = '\0';
	r->family = cidr_parse_addr(text, r->addr);
	if (r->family == 0)
		goto bad_addr;
	max = r->family == AF_INET ? 32 : 128;
	r->prefix = max;
	if (slash) {
		const char *d = slash + 1;
		unsigned v = 0;

		if (*d == '\0' || strlen(d) > 3)
			goto bad_len;
		for (; *d; d++) {
			if (*d < '0' || *d > '9')
				goto bad_len;
			v = v * 10 + (unsigned)(*d - '0');
		}
		if (v > max)
			goto bad_len;
		r->prefix = v;
	}
	/* Host bits below the prefix must be zero. */
	for (unsigned bit = r->prefix; bit < max; bit++) {
		if (r->addr[bit / 8] & (0x80 >> (bit % 8))) {
			unsigned char net[16];
			char fixed[INET6_ADDRSTRLEN];

			memcpy(net, r->addr, sizeof(net));
			for (unsigned b = r->prefix; b < max; b++)
				net[b / 8] &= (unsigned char)~(0x80 >> (b % 8));
			inet_ntop(r->family, net, fixed, sizeof(fixed));
			maps_error(error_r, "%s:%u: non-null host address bits in \"%s\"; write "
				   "%s/%u", name, lineno, maps_quote(pattern, 0), fixed, r->prefix);
			return -1;
		}
	}
	return 0;
bad_len:
	maps_error(error_r, "%s:%u: bad CIDR pattern \"%s\"; prefix length must be 0..%u "
		   "for %s", name, lineno, maps_quote(pattern, 0), max,
		   max == 32 ? "IPv4" : "IPv6");
	return -1;
bad_addr:
	maps_error(error_r, "%s:%u: bad CIDR pattern \"%s\"; write an IPv4 or IPv6 "
		   "address, optionally followed by /PREFIX_LENGTH", name, lineno,
		   maps_quote(pattern, 0));
	return -1;
}

struct map *maps_cidr_open_mem(const char *name, const char *text, size_t len,
			       const char **error_r)
{
	struct maps_cidr *t = must_calloc(1, sizeof(*t));
	struct maps_source src;
	size_t cap = 0;
	char *line, *pattern, *value;
	unsigned lineno;
	int r;

	maps_init_common(&t->map, &maps_cidr_ops, name, 0);
	maps_source_init(&src, name, text, len);
	while ((r = maps_source_next(&src, &line, &lineno, error_r)) > 0) {
		struct cidr_rule rule;

		if (strncmp(line, "if", 2) == 0 && (line[2] == ' ' || line[2] == '\t' ||
						     line[2] == '\0')) {
			maps_error(error_r, "%s:%u: if/endif is not supported in cidr tables; "
				   "write one NETWORK/LEN RESULT line per network", name, lineno);
			r = -1;
			break;
		}
		if (strcmp(line, "endif") == 0) {
			maps_error(error_r, "%s:%u: if/endif is not supported in cidr tables; "
				   "write one NETWORK/LEN RESULT line per network", name, lineno);
			r = -1;
			break;
		}
		if (maps_source_split(name, lineno, line, &pattern, &value, error_r) < 0 ||
		    cidr_parse_pattern(name, lineno, pattern, &rule, error_r) < 0) {
			r = -1;
			break;
		}
		if (t->n == cap) {
			cap = cap ? cap * 2 : 16;
			t->rules = must_realloc(t->rules, cap * sizeof(*t->rules));
		}
		rule.value = must_strdup(value);
		t->rules[t->n++] = rule;
	}
	maps_source_free(&src);
	if (r < 0) {
		maps_cidr_close(&t->map);
		return NULL;
	}
	return &t->map;
}

static struct map *maps_cidr_open(const char *name, unsigned open_flags, const char **error_r)
{
	size_t len;
	char *text = maps_read_file(name, &len, error_r);
	struct map *m;

	if (text == NULL)
		return NULL;
	m = maps_cidr_open_mem(name, text, len, error_r);
	free(text);
	return m;
}

const struct map_ops maps_cidr_ops = {
	.type = "cidr",
	.flags = MAP_OPS_FILE,
	.open = maps_cidr_open,
	.lookup = maps_cidr_lookup,
	.close = maps_cidr_close,
};
