/* media/crypto: SRTP and SRTCP (RFC 3711) on libsrtp2 for the media relay,
 * with SDES keys (RFC 4568). One struct sps_srtp protects or unprotects one
 * direction of one leg, RTP and RTCP, for any SSRC. Replay protection is on
 * (RFC 3711 3.3.2, window of 1024 packets).
 *
 * Key material (struct sps_srtp_key, the buffers of sps_srtp_keygen) is
 * secret: never log it, wipe it with sps_srtp_key_wipe when done. libsrtp
 * keeps its own copy inside the context.
 *
 * Threads: sps_srtp_init once (any thread; the other calls do it too); a
 * context is used by one thread at a time. */
#ifndef SPS_MEDIA_CRYPTO_H
#define SPS_MEDIA_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/slice.h"

/* The SDES crypto suites we do (RFC 4568 6.2, RFC 7714 12). */
enum sps_srtp_suite {
	SPS_SRTP_NONE = 0,
	SPS_SRTP_AES_CM_128_HMAC_SHA1_80, /* RFC 4568 6.2.1: 128-bit key, 112-bit salt */
	SPS_SRTP_AES_CM_128_HMAC_SHA1_32, /* RFC 4568 6.2.2: same key, 32-bit tag on RTP */
	SPS_SRTP_AEAD_AES_128_GCM,        /* RFC 7714 12: 128-bit key, 96-bit salt, 16-byte tag */
	SPS_SRTP_AEAD_AES_256_GCM,        /* RFC 7714 12: 256-bit key, 96-bit salt */
};
#define SPS_SRTP_SUITES 4

/* Master key || master salt, longest for AEAD_AES_256_GCM (32 + 12). */
#define SPS_SRTP_KEY_MAX 44
/* Bytes SRTP/SRTCP adds to a packet at most: auth tag (16) + SRTCP index (4) + MKI (4). */
#define SPS_SRTP_OVERHEAD 24

struct sps_srtp_key {
	enum sps_srtp_suite suite;
	uint8_t key[SPS_SRTP_KEY_MAX]; /* master key || master salt */
	uint8_t mki_len;               /* 0: no MKI in packets (RFC 3711 3.1), else 1..4 */
	uint32_t mki;
};

/* "AES_CM_128_HMAC_SHA1_80", ...; NULL for NONE. */
const char *sps_srtp_suite_name(enum sps_srtp_suite s);
/* The suite named s (exactly, RFC 4568 names are case-sensitive); SPS_SRTP_NONE if unknown. */
enum sps_srtp_suite sps_srtp_suite_parse(struct sps_slice s);
/* Length of master key + salt of suite s (30, 30, 28, 44), 0 for NONE. */
size_t sps_srtp_key_len(enum sps_srtp_suite s);

/* Initialise libsrtp (once per process) with our OpenSSL crypto kernels
 * in place of its own (media/srtp_ossl.c). Returns 0 or EIO. */
int sps_srtp_init(void);
/* For benchmarks: leave libsrtp's own kernels in place (Debian: NSS).
 * Takes effect only when called before the first sps_srtp_init. */
void sps_srtp_use_stock_kernels(void);
/* Fill k with fresh random key material for suite (OpenSSL RAND_bytes, a
 * CSPRNG), no MKI. Returns 0, EINVAL or EIO. */
int sps_srtp_keygen(struct sps_srtp_key *k, enum sps_srtp_suite suite);
/* Set k from the decoded inline key of an a=crypto line (key||salt of
 * exactly sps_srtp_key_len(suite) bytes). Returns 0 or EINVAL. */
int sps_srtp_key_set(struct sps_srtp_key *k, enum sps_srtp_suite suite, const uint8_t *key,
		     size_t len, uint32_t mki, uint8_t mki_len);
void sps_srtp_key_wipe(struct sps_srtp_key *k);

struct sps_srtp;

/* A context for sending (outbound: protect) or receiving (inbound:
 * unprotect) with key k. Returns 0, EINVAL (bad suite, MKI over 4 bytes),
 * ENOTSUP (libsrtp built without that suite, or AES_CM_128_HMAC_SHA1_32
 * with an MKI on libsrtp < 2.7, whose SRTCP is broken), or ENOMEM. */
int sps_srtp_new(struct sps_srtp **out, const struct sps_srtp_key *k, bool outbound);
void sps_srtp_free(struct sps_srtp *s);

/* Protect an RTP (or RTCP) packet of *len bytes in place; buf must have
 * room for *len + SPS_SRTP_OVERHEAD. Returns 0 (and the new *len), EINVAL
 * (not an RTP packet, too short), or EIO. */
int sps_srtp_protect(struct sps_srtp *s, uint8_t *buf, size_t *len);
int sps_srtcp_protect(struct sps_srtp *s, uint8_t *buf, size_t *len);
/* Unprotect in place. Returns 0 (and the new *len), EBADMSG when the
 * authentication failed (RFC 3711 3.3: drop it), EALREADY for a replayed
 * or too old packet (RFC 3711 3.3.2), EINVAL for a malformed one. */
int sps_srtp_unprotect(struct sps_srtp *s, uint8_t *buf, size_t *len);
int sps_srtcp_unprotect(struct sps_srtp *s, uint8_t *buf, size_t *len);

#endif
