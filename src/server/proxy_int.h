/* server/proxy internals that are pure functions of a message, kept apart
 * from proxy.c so that unit tests can drive them (proxy_util.c). */
#ifndef SPS_SERVER_PROXY_INT_H
#define SPS_SERVER_PROXY_INT_H

#include <stdbool.h>

#include "net/sa.h"
#include "sip/msg.h"

/* RFC 3261 16.6 item 8: the loop-detection part of the branch we put on a
 * forwarded request, 16 hex digits and a NUL: a hash of what decides where
 * the request goes - Request-URI as received, From tag, To tag, Call-ID,
 * CSeq number, the Route and Proxy-Require values. Proxy-Authorization is
 * left out: we remove it when forwarding, so a request that comes back to
 * us has none, and a loop must hash the same on every turn. */
void sps__proxy_loop_hash(const struct sps_sip_msg *m, char out[17]);

/* Is this Via entry one we inserted (our sent-by)? */
typedef bool(sps__proxy_via_ours_h)(const struct sps_via *v, void *arg);

enum sps_loop_verdict {
	SPS_LOOP_NONE = 0, /* no Via of ours: first visit */
	SPS_LOOP_SPIRAL,   /* we forwarded it before, but something that
			    * routes it has changed since (RFC 3261 16.3 item 4) */
	SPS_LOOP_LOOP,     /* a Via of ours with the same hash: answer 482 */
};

/* RFC 3261 16.3 item 4 (and RFC 5393 4.2, which makes it a MUST for a
 * forking proxy): look for Via entries of ours whose branch ends in
 * ".<hash>" equal to the request's current hash. */
enum sps_loop_verdict sps__proxy_loop_check(const struct sps_sip_msg *m,
					    sps__proxy_via_ours_h *ours, void *arg);

/* RFC 3261 16.7 item 6: rank of a final response for choosing the best one,
 * lower is better: any 6xx first, then the lowest class; within 4xx the
 * codes that let the caller retry (401, 407, 415, 420, 484) before the
 * others; 503 counts as 500. */
int sps__proxy_rank(unsigned code);

/* Record-Route flow tokens (RFC 5626 5.2 style, bound to the dialog): the
 * user part of our Record-Route URIs, "FLOW.MAC" where FLOW is "c<conn id>"
 * or "u" and MAC 16 hex digits of HMAC-SHA256(key, FLOW "|" Call-ID). Only
 * a Route we issued for this Call-ID routes an in-dialog request, so a
 * forged Route cannot make us relay to anywhere (no open relay). */
#define SPS_ROUTE_KEY_LEN 32
/* The keyed MAC, set up once per key: a token then costs the hashing of
 * its bytes only (no algorithm fetch or key schedule per call). Used on one
 * thread at a time. */
struct sps__proxy_mac;
int sps__proxy_mac_new(struct sps__proxy_mac **out, const unsigned char key[SPS_ROUTE_KEY_LEN]);
void sps__proxy_mac_free(struct sps__proxy_mac *m);
int sps__proxy_token_make(struct sps__proxy_mac *m, const char *flow, struct sps_slice call_id,
			  char *out, size_t size);
/* Check user against call_id; on success copy FLOW into flow and return 0,
 * else EBADMSG (not a token of ours, or for another dialog). */
int sps__proxy_token_check(struct sps__proxy_mac *m, struct sps_slice user,
			   struct sps_slice call_id, char *flow, size_t size);

/* A UDP flow token's flow part: "u" + 8 (IPv4) or 32 (IPv6) hex digits of
 * the peer's IP + 4 of its port; in-dialog requests go to that address
 * (RFC 5626 5.2), whatever their Request-URI says. */
void sps__proxy_udp_flow(const struct sps_sa *a, char *flow, size_t size);
/* Its address back. Returns 0 or EBADMSG. */
int sps__proxy_udp_flow_addr(const char *flow, struct sps_sa *out);

#endif
