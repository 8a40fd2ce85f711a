/* libFuzzer target: the PEM bundle reader of `sipsec cert import` (pki) and
 * every import check on the certificates it accepts. The input is PEM text;
 * when it holds no key, a fixed P-256 key is used so the checks still run. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>

#include "pki/pki_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static EVP_PKEY *fixed_key(void)
{
	static EVP_PKEY *k;
	if (!k && !(k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256")))
		abort();
	return k;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sps_pki_bundle *b = NULL;
	struct sps_pki_report rep;
	struct sps_pki_certinfo ci;
	char why[SPS_PKI_WHY_MAX];

	if (size > 100000)
		return 0;
	int rc = sps_pki_bundle_add_pem(&b, data, size, "input.pem", why, sizeof(why));
	if (rc != 0 && memchr(why, '\n', strnlen(why, sizeof(why))))
		abort(); /* reasons are one line */
	if (b && sps_pki_bundle_count(b) > 0) {
		if (!b->key) {
			b->key = fixed_key();
			EVP_PKEY_up_ref(b->key);
		}
		struct sps_pki_check_opts o = {.domain = "sip.example.com", .now = 1700000000};
		if (sps_pki_check(b, &o, &rep) != 0)
			abort();
		for (int i = 0; i < sps_pki_bundle_count(b); i++)
			if (sps_pki_bundle_info(b, i, &ci) != 0)
				abort();
	}
	sps_pki_bundle_free(b);
	ERR_clear_error();
	return 0;
}
