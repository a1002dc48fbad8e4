/*
 * fuzz_pickup.c - libFuzzer harness for the pickup server's parsers
 * (smtp/queue/pickup-request.c, pickup-message.c), fed as the socket
 * would feed them but without one: the input is split into request lines
 * until a DATA line is accepted; the rest is the message, given to the
 * message builder in pieces of varying size (the first byte picks the
 * piece size) with a sink that keeps only a running length. Whatever the
 * bytes, each line must be answered or accepted, and nothing may leak.
 * Corpus: tests/fuzz/corpus/pickup/.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtp/queue/pickup-private.h"

static int sink_begin(void *ctx, const char **error_r)
{
	return 0;
}

static int sink_write(void *ctx, const void *data, size_t len, const char **error_r)
{
	size_t *total = ctx;

	*total += len;
	if (*total > (size_t)64 << 20) {
		*error_r = "too much output";
		return -1;
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct pickup_limits lim = {
		.size_limit = 1 << 20, .rcpt_limit = 50, .header_limit = 4096,
		.myhostname = "mail.example.com", .myorigin = "example.com", .mail_name = "Postern",
		.append_at_myorigin = true,
	};
	struct pickup_peer peer = { .uid = 1000, .known = true, .login = "alice", .gecos = "Alice A." };
	struct pickup_request req;
	struct pickup_message m;
	size_t total = 0, piece, pos = 0;
	struct pickup_sink sink = { sink_begin, sink_write, &total };
	char reply[PICKUP_REPLY_MAX];
	int rc = PICKUP_LINE_OK;

	if (size < 1)
		return 0;
	piece = (size_t)data[0] % 64 + 1;
	data++;
	size--;
	memset(&req, 0, sizeof(req));
	while (pos < size) {
		const uint8_t *lf = memchr(data + pos, '\n', size - pos);
		size_t len = lf ? (size_t)(lf - (data + pos)) : size - pos;

		reply[0] = '\0';
		rc = pickup_request_line(&req, &lim, (const char *)data + pos, len, reply, sizeof(reply));
		pos += len + (lf ? 1 : 0);
		if (rc == PICKUP_LINE_ERROR) {
			if (strncmp(reply, "ERR ", 4) != 0)
				abort();
			break;
		}
		if (rc == PICKUP_LINE_DATA)
			break;
	}
	if (rc == PICKUP_LINE_DATA) {
		pickup_message_init(&m, &lim, &req, &peer, "0123456789AB", 1700000000, &sink);
		rc = 0;
		while (pos < size && rc == 0) {
			size_t n = size - pos < piece ? size - pos : piece;
			rc = pickup_message_feed(&m, (const char *)data + pos, n);
			pos += n;
		}
		if (rc == 0)
			rc = pickup_message_end(&m);
		if (rc < 0 && strncmp(m.reply, "ERR ", 4) != 0)
			abort();
		pickup_message_free(&m);
	}
	pickup_request_free(&req);
	return 0;
}
