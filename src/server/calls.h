/* server/calls: the calls in progress through the proxy, as `sipsec calls`
 * shows them (issue 5) - one record per INVITE dialog attempt, keyed by
 * Call-ID and the caller's From tag (RFC 3261 12: the dialog id without the
 * To tag, so that forked early dialogs count as one call).
 *
 * The proxy feeds it: begin when an initial INVITE is forwarded, progress
 * with each response passed upstream, end when an in-dialog BYE passes or
 * the INVITE fails. A record whose BYE never came through (a phone that
 * vanished) is dropped after SPS_CALLS_MAX_AGE_S; one that never got a final
 * response after SPS_CALLS_MAX_SETUP_S. Loop thread only. */
#ifndef SPS_SERVER_CALLS_H
#define SPS_SERVER_CALLS_H

#include <stdint.h>

#include <jansson.h>

#include "core/slice.h"
#include "net/conn.h"
#include "net/sa.h"

#define SPS_CALLS_MAX 200000          /* records at most; more calls are not listed */
#define SPS_CALLS_MAX_AGE_S 86400     /* an established call without BYE */
#define SPS_CALLS_MAX_SETUP_S 900     /* a setup that never got a final response */

enum sps_call_state {
	SPS_CALL_TRYING = 0, /* INVITE forwarded, no ringing yet */
	SPS_CALL_RINGING,    /* a 18x came back */
	SPS_CALL_ESTABLISHED /* a 2xx came back */
};

/* One side of a call as the proxy sees it: the transport and the peer. */
struct sps_call_leg {
	enum sps_transport tp;
	struct sps_sa addr;
};

/* A leg's media as the relay sees it (issue 6); profile "" until known. */
struct sps_call_media {
	char profile[32];
	uint64_t packets_in, packets_out;
	uint64_t auth_failed; /* SRTP/SRTCP packets from its phone that failed authentication */
};

struct sps_calls;

int sps__calls_new(struct sps_calls **out);
void sps__calls_free(struct sps_calls *cs);
size_t sps__calls_count(const struct sps_calls *cs);

/* An initial INVITE from caller_uri to callee_uri was forwarded; now is unix
 * seconds. The same Call-ID and From tag again (the INVITE retried with
 * credentials, or a new attempt) restarts the record. Returns 0, ENOSPC at
 * SPS_CALLS_MAX, or ENOMEM. */
int sps__calls_begin(struct sps_calls *cs, struct sps_slice call_id, struct sps_slice from_tag,
		     struct sps_slice caller_uri, struct sps_slice callee_uri,
		     const struct sps_call_leg *caller, int64_t now);

/* A response to that INVITE went upstream: 18x -> ringing; 2xx ->
 * established with the callee's leg and To tag; 3xx-6xx ends a call that
 * is not established. Unknown calls are ignored. */
void sps__calls_progress(struct sps_calls *cs, struct sps_slice call_id,
			 struct sps_slice from_tag, unsigned code, struct sps_slice to_tag,
			 const struct sps_call_leg *callee, int64_t now);

/* A BYE within the dialog (either side's From tag first) passed: the call
 * is over. Returns true when a record was removed. */
bool sps__calls_end(struct sps_calls *cs, struct sps_slice call_id, struct sps_slice tag_a,
		    struct sps_slice tag_b);

/* The media relay (issue 6) reports a leg's media: side 0 caller, 1 callee;
 * profile such as "RTP/SAVP" (copied, at most 31 bytes), packet counters.
 * Until called, the leg's media keys are null. Unknown calls are ignored. */
void sps__calls_media(struct sps_calls *cs, struct sps_slice call_id, struct sps_slice from_tag,
		      unsigned side, const char *profile, uint64_t packets_in,
		      uint64_t packets_out);

/* The same leg's packets dropped because SRTP/SRTCP authentication failed
 * (RFC 3711 3.3); call after sps__calls_media. Unknown calls are ignored. */
void sps__calls_media_auth_failed(struct sps_calls *cs, struct sps_slice call_id,
				  struct sps_slice from_tag, unsigned side, uint64_t auth_failed);

/* Drop records past SPS_CALLS_MAX_AGE_S / SPS_CALLS_MAX_SETUP_S. */
void sps__calls_sweep(struct sps_calls *cs, int64_t now);

/* The calls as a JSON array (oldest first), keys as in the README
 * (`sipsec calls --json`). NULL on ENOMEM. */
json_t *sps__calls_json(const struct sps_calls *cs, int64_t now);

#endif
