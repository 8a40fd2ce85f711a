/* auth/digest: HTTP Digest authentication for SIP (RFC 3261 22.4, RFC 7616,
 * RFC 8760): HA1 hashing, stateless nonces, challenges, credential checks,
 * nonce-count replay protection and a per-source failure limiter.
 *
 * Nonces carry their own timestamp and an HMAC-SHA256 over it under a
 * server secret, so a check needs no per-nonce state; only the highest nc
 * seen per nonce is remembered (a bounded table) to refuse replays.
 *
 * Never log a password, an HA1 or a digest response (DESIGN.md).
 * Everything here runs on one thread (the SIP loop); no locking. */
#ifndef SPS_AUTH_DIGEST_H
#define SPS_AUTH_DIGEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/mbuf.h"
#include "core/slice.h"
#include "sip/msg.h"

enum sps_digest_alg {
	SPS_DIGEST_MD5 = 0,
	SPS_DIGEST_SHA256 = 1, /* "SHA-256" */
};

/* HA1 = H(user ":" realm ":" password) in lowercase hex, NUL-terminated, into
 * out (33 bytes for MD5, 65 for SHA-256). Returns 0 or EINVAL. */
int sps_digest_ha1(enum sps_digest_alg alg, const char *user, const char *realm,
		   const char *password, char *out, size_t size);

struct sps_digest;

struct sps_digest_conf {
	uint32_t nonce_ttl;     /* seconds a nonce is fresh: 300 */
	unsigned nc_slots;      /* remembered nonces for nc replay checks: 65536 */
	unsigned fail_max;      /* failures from one address before blocking: 10 */
	uint32_t fail_window;   /* ... within this many seconds: 60 */
	uint32_t block_secs;    /* how long a blocked address is refused: 300 */
};

/* Create with a 32-byte secret (the server keeps it in the data dir, so
 * nonces survive a restart). conf NULL or zero fields: the defaults above. */
int sps_digest_new(struct sps_digest **out, const uint8_t secret[32],
		   const struct sps_digest_conf *conf);
void sps_digest_free(struct sps_digest *d);

/* Write the value of one WWW-Authenticate / Proxy-Authenticate header for
 * alg (RFC 7616 3.3): Digest realm="..", qop="auth", algorithm=.., nonce="..",
 * opaque="..", and stale=true when `stale`. A challenge offers SHA-256 first,
 * then MD5 (RFC 8760 2.4): call this once per algorithm, one header each.
 * now is unix seconds. Returns 0 or the mbuf's error. */
int sps_digest_challenge(struct sps_digest *d, struct sps_mbuf *mb, enum sps_digest_alg alg,
			 const char *realm, bool stale, int64_t now);

enum sps_digest_result {
	SPS_DIGEST_OK = 0,
	SPS_DIGEST_STALE,     /* right password, nonce expired: challenge with stale=true */
	SPS_DIGEST_BAD,       /* wrong response, or nonce not ours: 403 or a new challenge */
	SPS_DIGEST_REPLAY,    /* nc not above the last one seen for this nonce */
	SPS_DIGEST_MALFORMED, /* missing or invalid fields: 400 */
};

/* Check credentials `cred` (a parsed Authorization / Proxy-Authorization)
 * for a request with this method, against the user's HA1 for the
 * credential's algorithm (ha1_hex of that algorithm; the caller picks it
 * with sps_digest_cred_alg). The credential's realm must equal `realm`.
 * With qop=auth: nc must be 8 hex digits and increase per nonce. */
enum sps_digest_result sps_digest_check(struct sps_digest *d, const struct sps_auth *cred,
					struct sps_slice method, const char *realm,
					const char *ha1_hex, int64_t now);

/* The algorithm a credential names (absent means MD5). Returns 0 or EINVAL
 * for an algorithm we do not offer (e.g. "MD5-sess", "SHA-512-256"). */
int sps_digest_cred_alg(const struct sps_auth *cred, enum sps_digest_alg *alg);

/* The first credential in m (Authorization when proxy is false, else
 * Proxy-Authorization) whose realm equals realm (RFC 3261 22.4), or NULL. */
const struct sps_auth *sps_digest_find_cred(const struct sps_sip_msg *m, bool proxy,
					    const char *realm);

/* Failure limiter, keyed by source address (a bounded table, oldest entry
 * evicted). sps_digest_fail records a failure and returns true exactly once
 * when the address becomes blocked (so the caller logs once);
 * sps_digest_blocked says whether requests from it are refused now;
 * sps_digest_success forgets the address's failures. addr is the IP as
 * text or bytes, len its length. */
bool sps_digest_fail(struct sps_digest *d, const void *addr, size_t len, int64_t now);
bool sps_digest_blocked(struct sps_digest *d, const void *addr, size_t len, int64_t now);
void sps_digest_success(struct sps_digest *d, const void *addr, size_t len);

/* The credential's username with its quoted-pairs undone (RFC 3261 25.1),
 * NUL-terminated, for looking up the user's HA1. Returns 0, EINVAL when the
 * credential has no username, ENOSPC when it does not fit in size bytes. */
int sps_digest_cred_user(const struct sps_auth *cred, char *out, size_t size);

#endif
