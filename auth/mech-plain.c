/*
 * mech-plain.c - SASL PLAIN (RFC 4616): message = [authzid] NUL authcid NUL
 * passwd. Postern does not support acting as another user, so authzid must
 * be empty or equal to authcid (section 2 leaves the policy to the server).
 */
#include <string.h>

#include "auth/mech.h"

static enum mech_status mech_plain_step(struct mech_request *req, const unsigned char *data,
					size_t len)
{
	const unsigned char *nul1, *nul2;

	if (data == NULL) {
		/* No initial response: empty challenge, the client sends it next. */
		if (req->steps > 1)
			return mech_fail(req, "PLAIN response missing");
		return MECH_CONTINUE;
	}
	nul1 = memchr(data, '\0', len);
	if (nul1 == NULL)
		return mech_fail(req, "malformed PLAIN response (no NUL separator)");
	nul2 = memchr(nul1 + 1, '\0', len - (size_t)(nul1 + 1 - data));
	if (nul2 == NULL)
		return mech_fail(req, "malformed PLAIN response (one NUL separator, want two)");
	size_t zlen = (size_t)(nul1 - data);
	size_t ulen = (size_t)(nul2 - nul1 - 1);
	size_t plen = len - (size_t)(nul2 + 1 - data);
	if (memchr(nul2 + 1, '\0', plen))
		return mech_fail(req, "malformed PLAIN response (NUL in password)");
	if (zlen > 0 && (zlen != ulen || memcmp(data, nul1 + 1, ulen) != 0))
		return mech_fail(req, "authorization identity differs from authentication identity");
	return mech_set_credentials(req, nul1 + 1, ulen, nul2 + 1, plen);
}

const struct mech_def mech_plain = {
	.name = "PLAIN",
	.plaintext = true,
	.step = mech_plain_step,
};
