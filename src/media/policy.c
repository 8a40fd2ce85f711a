/* media/policy: SRTP modes and the per-call media decision.
 *
 * The decision, leg by leg (caller = leg 0, callee = leg 1):
 *
 * caller's offer  | refused (488) when                          | else leg 0 is
 * ----------------+---------------------------------------------+----------------------------
 * plain RTP       | caller is require                           | RTP
 * RTP/SAVP        | no suite we do; hop not TLS (key guard);    | SRTP
 *                 | caller is off                               |
 * AVP + a=crypto  | caller is require and leg 0 cannot be SRTP  | SRTP if TLS, a suite we do
 *                 |                                             | and caller not off, else RTP
 *
 * "require" on either side means every leg must be SRTP:
 *
 * callee          | refused (488) when                          | we offer the callee
 * ----------------+---------------------------------------------+----------------------------
 * any             | someone requires and leg 0 is RTP           |
 * off             | someone requires                            | plain RTP
 * hop not TLS     | someone requires (key guard)                | plain RTP
 * require         |                                             | RTP/SAVP
 * caller requires |                                             | RTP/SAVP
 * offer           |                                             | RTP/SAVP if the caller sent
 *                 |                                             | RTP/SAVP, else AVP + a=crypto
 *                 |                                             | (best effort)
 * enable          |                                             | RTP/SAVP if leg 0 is SRTP,
 *                 |                                             | else plain RTP
 *
 * Then: SRTP on both legs = transcrypt (pass-through when end-to-end keys
 * are allowed, both hops are TLS and the caller sent RTP/SAVP), one leg
 * SRTP = bridge, none = plain. */
#include "media/policy.h"

#include <errno.h>
#include <string.h>

static const char *const mode_names[] = {
	[SPS_SRTP_MODE_UNSET] = "default", [SPS_SRTP_OFF] = "off",
	[SPS_SRTP_ENABLE] = "enable",      [SPS_SRTP_OFFER] = "offer",
	[SPS_SRTP_REQUIRE] = "require",
};

int sps_srtp_mode_parse(const char *s, enum sps_srtp_mode *out)
{
	for (int i = 0; s && i <= SPS_SRTP_REQUIRE; i++) {
		if (strcmp(s, mode_names[i]) == 0) {
			*out = (enum sps_srtp_mode)i;
			return 0;
		}
	}
	return EINVAL;
}

const char *sps_srtp_mode_name(enum sps_srtp_mode m)
{
	return (unsigned)m <= SPS_SRTP_REQUIRE ? mode_names[m] : "?";
}

enum sps_srtp_mode sps_srtp_mode_resolve(enum sps_srtp_mode user, enum sps_srtp_mode system)
{
	if (user != SPS_SRTP_MODE_UNSET)
		return user;
	return system != SPS_SRTP_MODE_UNSET ? system : SPS_SRTP_MODE_DEFAULT;
}

const char *sps_media_action_name(enum sps_media_action a)
{
	switch (a) {
	case SPS_MEDIA_PLAIN:
		return "plain";
	case SPS_MEDIA_PASSTHROUGH:
		return "pass-through";
	case SPS_MEDIA_TRANSCRYPT:
		return "transcrypt";
	case SPS_MEDIA_BRIDGE:
		return "bridge";
	default:
		return "refuse";
	}
}

/* Warning codes of RFC 3261 20.43 */
#define WARN_INCOMPATIBLE_MEDIA 305
#define WARN_MISC 399

static enum sps_media_action refuse(struct sps_media_plan *p, int code, const char *why)
{
	p->action = SPS_MEDIA_REFUSE;
	p->warn_code = code;
	p->reason = why;
	return SPS_MEDIA_REFUSE;
}

static enum sps_media_action action_of(bool leg0, bool leg1)
{
	if (leg0 && leg1)
		return SPS_MEDIA_TRANSCRYPT;
	return leg0 || leg1 ? SPS_MEDIA_BRIDGE : SPS_MEDIA_PLAIN;
}

enum sps_media_action sps_media_decide(const struct sps_media_in *in, struct sps_media_plan *p)
{
	memset(p, 0, sizeof(*p));
	enum sps_srtp_mode caller = sps_srtp_mode_resolve(in->caller, SPS_SRTP_MODE_UNSET);
	enum sps_srtp_mode callee = sps_srtp_mode_resolve(in->callee, SPS_SRTP_MODE_UNSET);
	bool caller_req = caller == SPS_SRTP_REQUIRE, callee_req = callee == SPS_SRTP_REQUIRE;

	/* leg 0: answer the caller's offer (RFC 3264 6; RFC 4568 7.1.2) */
	switch (in->offer) {
	case SPS_OFFER_PLAIN:
		if (caller_req)
			return refuse(p, WARN_INCOMPATIBLE_MEDIA,
				      "the caller's media policy is require (SRTP only) but its offer "
				      "is plain RTP");
		break;
	case SPS_OFFER_SRTP:
		if (!in->offer_suite_ok)
			return refuse(p, WARN_INCOMPATIBLE_MEDIA,
				      "no crypto suite in common: sipsec does AES_CM_128_HMAC_SHA1_80, "
				      "AES_CM_128_HMAC_SHA1_32, AEAD_AES_128_GCM, AEAD_AES_256_GCM");
		if (!in->caller_tls)
			return refuse(p, WARN_MISC,
				      "the offer carries SRTP keys over a hop without TLS; sipsec does "
				      "not send keys back over it - use TLS transport");
		if (caller == SPS_SRTP_OFF)
			return refuse(p, WARN_INCOMPATIBLE_MEDIA,
				      "the caller's media policy is off (plain RTP only) but its offer "
				      "is RTP/SAVP");
		p->caller_srtp = true;
		break;
	case SPS_OFFER_BEST_EFFORT:
		p->caller_srtp = in->caller_tls && in->offer_suite_ok && caller != SPS_SRTP_OFF;
		if (!p->caller_srtp && caller_req)
			return refuse(p, in->caller_tls ? WARN_INCOMPATIBLE_MEDIA : WARN_MISC,
				      in->caller_tls ? "no crypto suite in common with the caller's "
						       "offer and its media policy is require"
						     : "the caller's media policy is require but its "
						       "hop is not TLS, so SRTP keys cannot be sent");
		break;
	}

	/* leg 1: what we offer the callee */
	bool any_req = caller_req || callee_req;
	if (any_req && !p->caller_srtp)
		return refuse(p, WARN_INCOMPATIBLE_MEDIA,
			      "the callee's media policy is require (SRTP only) but the caller's "
			      "leg is plain RTP");
	if (callee == SPS_SRTP_OFF) {
		if (any_req)
			return refuse(p, WARN_INCOMPATIBLE_MEDIA,
				      "the caller's media policy is require (SRTP only) but the "
				      "callee's is off (plain RTP only)");
		p->callee_offer = SPS_OFFER_PLAIN;
	} else if (!in->callee_tls) {
		if (any_req)
			return refuse(p, WARN_MISC,
				      "SRTP is required but the hop to the callee is not TLS, so "
				      "SRTP keys cannot be sent to it");
		p->callee_offer = SPS_OFFER_PLAIN;
	} else if (any_req) {
		p->callee_offer = SPS_OFFER_SRTP;
	} else if (callee == SPS_SRTP_OFFER) {
		/* mirror a caller that insists on SRTP (phones set to SRTP-only,
		 * e.g. baresip srtp-mand, refuse an RTP/AVP offer); otherwise
		 * best effort, so that the callee may still answer plain RTP */
		p->callee_offer = in->offer == SPS_OFFER_SRTP ? SPS_OFFER_SRTP : SPS_OFFER_BEST_EFFORT;
	} else { /* enable: SRTP when the other side has it */
		p->callee_offer = p->caller_srtp ? SPS_OFFER_SRTP : SPS_OFFER_PLAIN;
	}

	p->action = action_of(p->caller_srtp, p->callee_offer != SPS_OFFER_PLAIN);
	if (p->action == SPS_MEDIA_TRANSCRYPT && in->e2e_keys && in->caller_tls &&
	    in->callee_tls && in->offer == SPS_OFFER_SRTP)
		p->action = SPS_MEDIA_PASSTHROUGH;
	p->reason = sps_media_action_name(p->action);
	return p->action;
}

enum sps_media_action sps_media_decide_answer(const struct sps_media_plan *plan, bool answer_srtp,
					      const char **reason)
{
	static const char *unused;
	if (!reason)
		reason = &unused;
	*reason = NULL;
	switch (plan->callee_offer) {
	case SPS_OFFER_SRTP:
		if (!answer_srtp) {
			*reason = "the callee answered plain RTP to an RTP/SAVP offer";
			return SPS_MEDIA_REFUSE;
		}
		return plan->action;
	case SPS_OFFER_BEST_EFFORT:
		return action_of(plan->caller_srtp, answer_srtp);
	default:
		/* keys in an answer to a plain offer are ignored (RFC 3264 6: the
		 * answer cannot add what was not offered) */
		return action_of(plan->caller_srtp, false);
	}
}
