/* auth/ha1: HA1 = H(username ":" realm ":" password) (RFC 7616 3.4.2), the
 * only form in which sipsec keeps a password. */
#include <errno.h>
#include <string.h>

#include <openssl/evp.h>

#include "auth/digest.h"

int sps_digest_ha1(enum sps_digest_alg alg, const char *user, const char *realm,
		   const char *password, char *out, size_t size)
{
	const EVP_MD *md = alg == SPS_DIGEST_SHA256 ? EVP_sha256() : EVP_md5();
	size_t hexlen = (size_t)EVP_MD_get_size(md) * 2;
	if (!user || !realm || !password || !out || size < hexlen + 1)
		return EINVAL;

	unsigned char h[EVP_MAX_MD_SIZE];
	unsigned int hl = 0;
	int err = EIO;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	if (!ctx)
		return ENOMEM;
	if (EVP_DigestInit_ex(ctx, md, NULL) != 1 ||
	    EVP_DigestUpdate(ctx, user, strlen(user)) != 1 ||
	    EVP_DigestUpdate(ctx, ":", 1) != 1 ||
	    EVP_DigestUpdate(ctx, realm, strlen(realm)) != 1 ||
	    EVP_DigestUpdate(ctx, ":", 1) != 1 ||
	    EVP_DigestUpdate(ctx, password, strlen(password)) != 1 ||
	    EVP_DigestFinal_ex(ctx, h, &hl) != 1)
		goto out;
	static const char hex[] = "0123456789abcdef";
	for (unsigned i = 0; i < hl; i++) {
		out[2 * i] = hex[h[i] >> 4];
		out[2 * i + 1] = hex[h[i] & 15];
	}
	out[2 * hl] = '\0';
	err = 0;
out:
	EVP_MD_CTX_free(ctx);
	return err;
}
