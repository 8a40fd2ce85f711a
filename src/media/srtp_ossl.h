/* media/srtp_ossl: the crypto kernels libsrtp2 runs for our SRTP suites,
 * on OpenSSL 3 EVP, installed in place of the library's own through its
 * replacement API (srtp_replace_cipher_type, srtp_replace_auth_type).
 * Internal to media/ (crypto.c installs them); tests may include it.
 *
 * Threads: sps__srtp_ossl_install runs once (crypto.c calls it inside its
 * pthread_once); after it the kernels may be used from any thread. Each
 * libsrtp cipher or auth instance (one per direction of a session) owns its
 * OpenSSL contexts; the only shared objects are the fetched algorithms,
 * which OpenSSL allows to be used concurrently. */
#ifndef SPS_MEDIA_SRTP_OSSL_H
#define SPS_MEDIA_SRTP_OSSL_H

#include <srtp2/auth.h>
#include <srtp2/cipher.h>

/* The kernel tables. Each carries known-answer vectors in test_data
 * (RFC 3711 B.2 / RFC 6188 7.1 AES-CM, RFC 7714 16 AES-GCM, RFC 2202 3
 * HMAC-SHA1), run by libsrtp's self test when installed. */
extern const srtp_cipher_type_t sps__srtp_ossl_aes_icm_128;
extern const srtp_cipher_type_t sps__srtp_ossl_aes_icm_256;
extern const srtp_cipher_type_t sps__srtp_ossl_aes_gcm_128;
extern const srtp_cipher_type_t sps__srtp_ossl_aes_gcm_256;
extern const srtp_auth_type_t sps__srtp_ossl_hmac_sha1;

/* Fetch the OpenSSL algorithms (once, process-wide), then replace libsrtp's
 * SRTP_AES_ICM_128/256, SRTP_AES_GCM_128/256 and SRTP_HMAC_SHA1 with ours;
 * libsrtp first runs our vectors and the replaced type's own vectors on
 * each. Call after srtp_init() and before any srtp_create(). Returns 0, or
 * EIO (an algorithm missing from OpenSSL, or a kernel failed a vector:
 * nothing should then be protected with it). */
int sps__srtp_ossl_install(void);

#endif
