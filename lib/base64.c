/*
 * base64.c - strict base64 encoder/decoder (RFC 4648 section 4).
 * See base64.h for the rules and the callers.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base64.h"

static const char b64_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *base64_encode(const void *data, size_t n)
{
	const unsigned char *p = data;
	size_t outlen, i, o = 0;
	char *out;

	if (n > (SIZE_MAX - 1) / 4 * 3 - 3)
		return NULL;
	outlen = (n + 2) / 3 * 4;
	out = malloc(outlen + 1);
	if (out == NULL)
		return NULL;
	for (i = 0; i + 2 < n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
		out[o++] = b64_alphabet[v >> 18];
		out[o++] = b64_alphabet[(v >> 12) & 63];
		out[o++] = b64_alphabet[(v >> 6) & 63];
		out[o++] = b64_alphabet[v & 63];
	}
	if (i < n) {
		uint32_t v = (uint32_t)p[i] << 16;
		if (i + 1 < n)
			v |= (uint32_t)p[i + 1] << 8;
		out[o++] = b64_alphabet[v >> 18];
		out[o++] = b64_alphabet[(v >> 12) & 63];
		out[o++] = i + 1 < n ? b64_alphabet[(v >> 6) & 63] : '=';
		out[o++] = '=';
	}
	out[o] = '\0';
	return out;
}

int base64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int base64_decode(const char *in, size_t len, size_t max, unsigned char **out_r,
		  size_t *outlen_r, const char **error_r)
{
	size_t pad = 0, outlen, o = 0;
	unsigned char *out;

	if (len % 4 != 0) {
		*error_r = "invalid base64 length";
		return -1;
	}
	if (len >= 1 && in[len - 1] == '=')
		pad++;
	if (pad == 1 && len >= 2 && in[len - 2] == '=')
		pad++;
	outlen = len / 4 * 3 - pad;
	if (outlen > max) {
		*error_r = "base64 data too long";
		return -1;
	}
	out = malloc(outlen + 1);
	if (out == NULL) {
		*error_r = "out of memory";
		return -1;
	}
	for (size_t i = 0; i < len; i += 4) {
		int v[4];
		bool last = i + 4 == len;
		for (int k = 0; k < 4; k++) {
			v[k] = base64_value((unsigned char)in[i + k]);
			if (v[k] < 0 && !(last && in[i + k] == '=' && k >= 4 - (int)pad)) {
				free(out);
				*error_r = "invalid base64 character";
				return -1;
			}
		}
		uint32_t w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12;

		out[o++] = (unsigned char)(w >> 16);
		if (last && pad == 2) {
			if (v[1] & 15)
				goto noncanon;
			break;
		}
		w |= (uint32_t)v[2] << 6;
		out[o++] = (unsigned char)(w >> 8);
		if (last && pad == 1) {
			if (v[2] & 3)
				goto noncanon;
			break;
		}
		w |= (uint32_t)v[3];
		out[o++] = (unsigned char)w;
	}
	out[o] = '\0';
	*out_r = out;
	*outlen_r = o;
	return 0;
noncanon:
	free(out);
	*error_r = "non-canonical base64 padding bits";
	return -1;
}
