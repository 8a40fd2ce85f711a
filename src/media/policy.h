/* media/policy: per-user SRTP policy and the decision, per call, of what the
 * relay does on each leg - or why the call is refused with 488.
 *
 * Modes (as Polycom phones name them, sip.conf-style):
 *   off     plain RTP only
 *   enable  accept SRTP when the other side offers it; our offers are plain
 *   offer   put SRTP in our offers, accept plain RTP
 *   require secure media only: every leg of the call must be SRTP
 *
 * System default: offer. It encrypts every leg that can carry keys safely
 * (a TLS hop) without refusing calls to gateways and legacy phones, which
 * the relay bridges to plain RTP; `require` would refuse every call with a
 * phone registered over UDP or TCP, `enable` would leave TLS phones whose
 * callers did not offer SRTP in the clear.
 *
 * Key-leak guard (RFC 4568 8.3: SDES keys need a secure signalling
 * channel): a=crypto is never sent on a hop without TLS, and an offer whose
 * keys came over such a hop is not answered with keys. */
#ifndef SPS_MEDIA_POLICY_H
#define SPS_MEDIA_POLICY_H

#include <stdbool.h>

enum sps_srtp_mode {
	SPS_SRTP_MODE_UNSET = 0, /* a user without its own setting: the system default */
	SPS_SRTP_OFF,
	SPS_SRTP_ENABLE,
	SPS_SRTP_OFFER,
	SPS_SRTP_REQUIRE,
};
#define SPS_SRTP_MODE_DEFAULT SPS_SRTP_OFFER

/* "off", "enable", "offer", "require" (and "default" for UNSET). Returns 0 or EINVAL. */
int sps_srtp_mode_parse(const char *s, enum sps_srtp_mode *out);
/* The name of m ("default" for UNSET). */
const char *sps_srtp_mode_name(enum sps_srtp_mode m);
/* A user's mode with UNSET replaced by the system's (itself UNSET: offer). */
enum sps_srtp_mode sps_srtp_mode_resolve(enum sps_srtp_mode user, enum sps_srtp_mode system);

/* How an SDP offer (or what we offer) secures media. */
enum sps_offer_sec {
	SPS_OFFER_PLAIN = 0,  /* RTP/AVP(F), no a=crypto */
	SPS_OFFER_BEST_EFFORT, /* RTP/AVP(F) with a=crypto: SRTP if the answer has keys */
	SPS_OFFER_SRTP,       /* RTP/SAVP(F) with a=crypto (RFC 4568) */
};

struct sps_media_in {
	enum sps_srtp_mode caller;  /* resolved (not UNSET) */
	enum sps_srtp_mode callee;
	bool caller_tls;            /* the hop from the caller is TLS */
	bool callee_tls;            /* the hop to the callee is TLS */
	enum sps_offer_sec offer;   /* the caller's offer */
	bool offer_suite_ok;        /* it has an a=crypto with a suite we do */
	bool e2e_keys;              /* the system allows end-to-end keys (pass-through) */
};

enum sps_media_action {
	SPS_MEDIA_REFUSE = 0,  /* 488 Not Acceptable Here (RFC 3261 21.4.26) with reason */
	SPS_MEDIA_PLAIN,       /* RTP on both legs */
	SPS_MEDIA_PASSTHROUGH, /* SRTP on both legs, the caller's keys end to end */
	SPS_MEDIA_TRANSCRYPT,  /* SRTP on both legs, fresh keys per leg */
	SPS_MEDIA_BRIDGE,      /* SRTP on one leg, RTP on the other */
};

struct sps_media_plan {
	enum sps_media_action action;   /* what happens when the callee accepts our offer */
	bool caller_srtp;               /* our answer to the caller has a=crypto */
	enum sps_offer_sec callee_offer; /* what we offer the callee */
	int warn_code;                  /* REFUSE: Warning code (RFC 3261 20.43) */
	const char *reason;             /* REFUSE: why, for Warning and the log; else a summary */
};

/* Decide, from both policies, both hops and the caller's offer, what the
 * relay does and what we offer the callee (the table is in policy.c). Fills
 * *out; returns its action. */
enum sps_media_action sps_media_decide(const struct sps_media_in *in, struct sps_media_plan *out);

/* The callee answered (with a=crypto or not): the final action, REFUSE
 * (with *reason) when it answered plain RTP to an RTP/SAVP offer. */
enum sps_media_action sps_media_decide_answer(const struct sps_media_plan *plan, bool answer_srtp,
					      const char **reason);

const char *sps_media_action_name(enum sps_media_action a);

#endif
