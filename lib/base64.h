/*
 * base64.h - strict base64 (RFC 4648 section 4) for SASL data on the auth
 * socket and in stored SCRAM keys (auth/, `postern auth test`), and the
 * alphabet lookup that the MIME decoder's lenient streaming Content-
 * Transfer-Encoding decoder uses (store/mime-*.c).
 *
 * Decoding is strict because the input is hostile: only the standard
 * alphabet, length a multiple of 4, '=' only as final padding, unused bits
 * of the last group zero. Whitespace is an error (SASL responses never
 * contain it).
 */
#ifndef POSTERN_BASE64_H
#define POSTERN_BASE64_H

#include <stddef.h>

/* base64_encode - encode n bytes; returns new NUL-terminated memory (caller
 * frees), NULL when out of memory. */
char *base64_encode(const void *data, size_t n);

/* base64_decode - decode len characters of in. Fails if the decoded size
 * would exceed max. On success returns 0, *out_r is new memory (caller
 * frees; NUL-terminated for convenience, the NUL not counted) and *outlen_r
 * its length. On error returns -1 with *error_r a static reason. */
int base64_decode(const char *in, size_t len, size_t max, unsigned char **out_r,
		  size_t *outlen_r, const char **error_r);

/* base64_value - the 6-bit value of an alphabet character, -1 for any
 * other byte ('=' included). */
int base64_value(unsigned char c);

#endif
