/* media/sdes: SDP Security Descriptions (RFC 4568) between the SDP parser
 * and the relay: which a=crypto line of an offer or answer we use, how an
 * m= section secures its media, where it wants media, and the edit that
 * points it at the relay with our keys. */
#ifndef SPS_MEDIA_SDES_H
#define SPS_MEDIA_SDES_H

#include <stdint.h>

#include "media/crypto.h"
#include "media/policy.h"
#include "net/sa.h"
#include "sdp/sdp.h"

/* Pick the first a=crypto line of m that we can do (RFC 4568 7.1.1: the
 * offerer lists them in its order of preference; the answerer picks one):
 * a suite of crypto.h, a key of that suite's length, one key-param, an MKI
 * of at most 4 bytes, no session parameters (RFC 4568 6.3: an unknown or
 * unsupported one makes the line unusable), and a context libsrtp can
 * build. Fills *key (secret: wipe it) and *tag. Returns 0 or ENOENT. */
int sps_sdes_pick(const struct sps_sdp_media *m, struct sps_srtp_key *key, uint32_t *tag);

/* How m secures media: RTP/SAVP(F) = SRTP, RTP/AVP(F) with a=crypto = best
 * effort, else plain. */
enum sps_offer_sec sps_sdes_sec(const struct sps_sdp_media *m);

/* The address media section i of sdp wants RTP and RTCP at (RFC 8866 5.7
 * c=, 5.14 m= port; RFC 3605 a=rtcp, else port + 1; RFC 5761 rtcp-mux: the
 * RTP port). A port 0 (rejected stream, RFC 3264 6) or the address 0.0.0.0
 * (hold the RFC 2543 way) leaves rtp->len 0: nothing is sent there.
 * Returns 0, or EINVAL for a connection address that is not an IP literal
 * (a host name or multicast "/ttl"), which the relay does not resolve. */
int sps_sdes_remote(const struct sps_sdp *sdp, size_t i, struct sps_sa *rtp, struct sps_sa *rtcp);

/* Fill e->media[i] so that section m of the SDP we forward points at the
 * relay's port `port` (RTCP on port + 1, or on port with rtcp-mux) and
 * carries our security: SRTP = RTP/SAVP(F) with one a=crypto, BEST_EFFORT =
 * RTP/AVP(F) with one a=crypto, PLAIN = RTP/AVP(F) without. The a=crypto
 * value ("TAG SUITE inline:KEY", RFC 4568 9.1: in an answer, the tag of the
 * offer's line we chose) is written into line, which e then points at:
 * keep it alive while writing and wipe it afterwards. Returns 0, EINVAL
 * (a profile that is not RTP/AVP-family, no key for a secure section) or
 * ENOSPC. */
int sps_sdes_edit_media(struct sps_sdp_edit *e, size_t i, const struct sps_sdp_media *m,
			uint16_t port, enum sps_offer_sec sec, const struct sps_srtp_key *key,
			uint32_t tag, char *line, size_t linesize);

#endif
