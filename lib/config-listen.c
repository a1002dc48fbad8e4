/*
 * config-listen.c - the value of a NAME/listen line:
 *
 *   PROTOCOL ADDRESS:PORT [tls=none|starttls|implicit]
 *
 * PROTOCOL is one that protocol_lookup() knows; ADDRESS is "*" (every
 * address), an IPv4 dotted quad or an IPv6 address in brackets (as in
 * master.cf service names); PORT is 1-65535. The value is taken
 * literally: no $name expansion. Called by config.c for each listener; the
 * master binds what this produced.
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "config-private.h"

static const char listen_syntax[] = "PROTOCOL ADDRESS:PORT [tls=none|starttls|implicit]";

const char *tls_mode_name(enum tls_mode mode)
{
	switch (mode) {
	case TLS_MODE_NONE: return "none";
	case TLS_MODE_STARTTLS: return "starttls";
	case TLS_MODE_IMPLICIT: return "implicit";
	}
	return "none";
}

static char *protocol_choices(void)
{
	struct strbuf sb;

	strbuf_init(&sb, 0);
	for (size_t i = 0; i < protocol_count(); i++)
		(void)strbuf_printf(&sb, "%s%s", i ? ", " : "", protocol_at(i)->name);
	return sb.data ? strbuf_steal(&sb) : must_strdup("");
}

/* Split "ADDRESS:PORT" and normalise the address (inet_ntop form, so that
 * ::1 and 0::1 are recognised as the same listener). */
static int parse_endpoint(char *tok, struct config_listener *l, char *addr_out, size_t addr_size,
			  char **msg_r)
{
	char shown[100];
	char *colon, *host;
	unsigned char bin[16];

	str_escape(tok, strlen(tok), shown, 64);
	if (tok[0] == '[') {
		char *close = strchr(tok, ']');

		if (close == NULL || close[1] != ':') {
			*msg_r = must_asprintf("\"%s\" is not ADDRESS:PORT; write an IPv6 address "
					       "as [ADDRESS]:PORT", shown);
			return -1;
		}
		*close = '\0';
		host = tok + 1;
		colon = close + 1;
		if (inet_pton(AF_INET6, host, bin) != 1) {
			*msg_r = must_asprintf("\"%s\" is not a valid IPv6 address; use *, an IPv4 "
					       "address or [IPv6]", shown);
			return -1;
		}
		inet_ntop(AF_INET6, bin, addr_out, (socklen_t)addr_size);
	} else {
		colon = strrchr(tok, ':');
		if (colon == NULL) {
			*msg_r = must_asprintf("\"%s\" has no port; use ADDRESS:PORT, e.g. *:25", shown);
			return -1;
		}
		*colon = '\0';
		host = tok;
		if (strcmp(host, "*") == 0) {
			str_copy(addr_out, "*", addr_size);
		} else if (strchr(host, ':')) {
			*msg_r = must_asprintf("\"%s\": write an IPv6 address in brackets, "
					       "[ADDRESS]:PORT", shown);
			return -1;
		} else if (inet_pton(AF_INET, host, bin) != 1) {
			*msg_r = must_asprintf("\"%s\" is not a valid address; use *, an IPv4 address "
					       "or [IPv6]", shown);
			return -1;
		} else {
			inet_ntop(AF_INET, bin, addr_out, (socklen_t)addr_size);
		}
	}
	l->port = parse_port(colon + 1);
	if (l->port < 0) {
		*msg_r = must_asprintf("\"%s\" has no valid port; use a port from 1 to 65535", shown);
		return -1;
	}
	return 0;
}

int config_listen_parse(const char *value, struct config_listener *l, char **msg_r)
{
	char addr[INET6_ADDRSTRLEN + 1], shown[100];
	char *copy = must_strdup(value), *save = NULL;
	char *proto, *endpoint, *opt;
	const struct protocol_def *pd;
	int ret = -1;

	proto = strtok_r(copy, " \t\r\n\v\f", &save);
	endpoint = proto ? strtok_r(NULL, " \t\r\n\v\f", &save) : NULL;
	if (endpoint == NULL) {
		*msg_r = must_asprintf("missing %s; use %s, e.g. smtp *:25",
				       proto ? "ADDRESS:PORT" : "PROTOCOL", listen_syntax);
		goto out;
	}
	pd = protocol_lookup(proto);
	if (pd == NULL) {
		char *choices = protocol_choices();

		*msg_r = must_asprintf("unknown protocol \"%s\"; use one of %s",
				       str_escape(proto, strlen(proto), shown, 64), choices);
		free(choices);
		goto out;
	}
	if (parse_endpoint(endpoint, l, addr, sizeof(addr), msg_r) < 0)
		goto out;
	l->tls = TLS_MODE_NONE;
	while ((opt = strtok_r(NULL, " \t\r\n\v\f", &save)) != NULL) {
		if (strcmp(opt, "tls=none") == 0) {
			l->tls = TLS_MODE_NONE;
		} else if (strcmp(opt, "tls=starttls") == 0) {
			l->tls = TLS_MODE_STARTTLS;
		} else if (strcmp(opt, "tls=implicit") == 0) {
			l->tls = TLS_MODE_IMPLICIT;
		} else {
			*msg_r = must_asprintf("unexpected \"%s\"; use %s",
					       str_escape(opt, strlen(opt), shown, 64), listen_syntax);
			goto out;
		}
	}
	l->protocol = pd->name;
	l->address = must_strdup(addr);
	ret = 0;
out:
	free(copy);
	return ret;
}
