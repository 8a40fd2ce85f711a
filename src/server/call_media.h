/* server/call_media: the glue between the proxy and the media relay
 * (issue 6). For every INVITE dialog whose caller sent an SDP offer (or
 * sent none: then the callee offers in its 2xx, see sps__cmedia_late), one
 * struct sps_cmedia holds a relay session and what each leg (0: caller,
 * 1: callee) speaks, decides with the media policy (media/policy.h) whether
 * the call may go on, and rewrites every SDP that crosses the proxy so that
 * media flows through the relay with keys sipsec generated per leg
 * (RFC 3264 offer/answer, RFC 4568 SDES). a=crypto is only ever written
 * towards a TLS hop (RFC 4568 8.3, the key-leak guard).
 *
 * Only the first RTP-family m= section with a port is anchored; the others
 * are disabled (port 0, RFC 3264 8.2) in the offer we forward.
 * Loop thread only. */
#ifndef SPS_SERVER_CALL_MEDIA_H
#define SPS_SERVER_CALL_MEDIA_H

#include <stdbool.h>
#include <stddef.h>

#include "core/loop.h"
#include "core/slice.h"
#include "media/policy.h"
#include "media/relay.h"
#include "net/sa.h"

struct sps_calls;
struct sps_cmedia;     /* the media of one dialog, refcounted (core/mem.h) */
struct sps_cmedia_tab; /* the relay and every dialog's media */

/* Start the relay (conf as media/relay.h). Returns 0 or an errno with a
 * one-line message in err. */
int sps__cmedia_tab_new(struct sps_cmedia_tab **out, struct sps_loop *loop,
			const struct sps_relay_conf *conf, char *err, size_t errsize);
/* End every session and stop the relay. References still held on
 * sps_cmedia objects stay valid (they no longer have a session). */
void sps__cmedia_tab_free(struct sps_cmedia_tab *t);

/* One side of a call as the policy needs it. */
struct sps_cmedia_side {
	enum sps_srtp_mode mode; /* resolved (not UNSET) */
	bool tls;                /* the signalling hop to that side is TLS */
	struct sps_sa peer;      /* its signalling address (picks our media address) */
};

/* The outcome of one offer or answer passing through. */
struct sps_cmedia_res {
	char *body;          /* the SDP to forward instead (malloc, holds keys: free
			      * with sps__cmedia_body_free); NULL on error */
	size_t len;
	bool keys;           /* body carries a=crypto: only to a TLS hop */
	int warn_code;       /* refused by policy: Warning code (RFC 3261 20.43) */
	const char *reason;  /* refused or failed: why (static) */
};
void sps__cmedia_body_free(char *body, size_t len);

/* Is this message body an SDP (Content-Type application/sdp)? */
bool sps__cmedia_is_sdp(struct sps_slice content_type, struct sps_slice body);

/* Does this SDP body carry an a=crypto attribute (SDES keys)? The guard
 * for SDP that passes without anchoring (an offer in a 2xx, a dialog
 * whose media session ended): never over a hop without TLS. */
bool sps__cmedia_has_keys(struct sps_slice content_type, struct sps_slice body);

/* An initial INVITE with an SDP offer from side 0 to side 1. Returns 0
 * with *out (a reference, also kept in t) and res->body, the offer for
 * the callee; EACCES when the policy refuses (answer 488 with
 * res->warn_code and res->reason); EBADMSG for an SDP we cannot use (400);
 * another errno when the relay failed (500, never pass keys through). */
int sps__cmedia_invite(struct sps_cmedia_tab *t, struct sps_slice call_id,
		       struct sps_slice from_tag, const struct sps_cmedia_side sides[2],
		       struct sps_slice sdp, struct sps_cmedia **out, struct sps_cmedia_res *res);

/* Late offer (RFC 3261 13.2.1, RFC 3264 4): an initial INVITE without SDP.
 * The callee offers in its 2xx, the caller answers in the ACK. sipsec
 * anchors the same way with the roles swapped: the callee's offer is
 * decided by both policies (the callee in the offerer's place), rewritten
 * for the caller with keys of ours, and the ACK's answer rewritten for the
 * callee.
 *
 * sps__cmedia_late: at the INVITE; sets up the relay session and keeps the
 * sides for the decision and caller_target (the caller's Contact URI, for
 * the BYE that ends a refused call). Returns 0 with *out, or an errno.
 *
 * to_tag: the callee's tag (To of the 2xx and of the ACK): only the ACK of
 * the dialog whose 2xx made the offer is its answer.
 *
 * sps__cmedia_late_offer: the SDP of the 2xx. 0 with res->body for the
 * caller. EACCES when the call cannot go on (policy, unusable SDP, relay):
 * res->reason/warn_code say why and res->body (may be NULL) is the offer
 * with the stream disabled (port 0, no keys) - the 2xx must still reach
 * the caller (RFC 3261 13.3.1.4), after its ACK the call is ended.
 * A retransmitted 2xx gets the same body again.
 *
 * sps__cmedia_late_answer: the caller's ACK (ct/body as received). 0 with
 * res->body for the callee and the relay updated. EACCES when the call
 * must end (refused before, the answer is missing or downgrades, RFC 3261
 * 13.3.1.4 an ACK without the answer): res->body, if set, rejects the
 * stream towards the callee. ENOENT when neither the 2xx nor the ACK had
 * an SDP (a dialog without media: end cm's session, the call goes on).
 * After a good answer, the same ACK again (retransmitted) gets the same
 * rewrite; an ACK without SDP then, or any ACK once the late offer is
 * over, returns EALREADY (forward it as it is). */
int sps__cmedia_late(struct sps_cmedia_tab *t, struct sps_slice call_id,
		     struct sps_slice from_tag, const struct sps_cmedia_side sides[2],
		     struct sps_slice caller_target, struct sps_cmedia **out,
		     struct sps_cmedia_res *res);
int sps__cmedia_late_offer(struct sps_cmedia *cm, struct sps_slice to_tag, struct sps_slice sdp,
			   struct sps_cmedia_res *res);
int sps__cmedia_late_answer(struct sps_cmedia *cm, struct sps_slice to_tag,
			    struct sps_slice content_type, struct sps_slice body,
			    struct sps_cmedia_res *res);
/* Was cm set up by a late offer whose 2xx and ACK (and their
 * retransmissions) go through sps__cmedia_late_offer/_answer? False
 * once its session ended. */
bool sps__cmedia_late_pending(const struct sps_cmedia *cm);
/* The caller's Contact URI given to sps__cmedia_late, or NULL. */
const char *sps__cmedia_late_target(const struct sps_cmedia *cm);

/* An offer inside the dialog (re-INVITE, UPDATE: hold, resume, new keys)
 * from side `from`. Returns 0 with res->body for the other side, EACCES
 * (488) when it would change a leg's security, EBADMSG, or an errno. */
int sps__cmedia_reoffer(struct sps_cmedia *cm, unsigned from, struct sps_slice sdp,
			struct sps_cmedia_res *res);

/* An offer in the 2xx to an INVITE without SDP inside the dialog (RFC 3261
 * 14.2, RFC 3264 8: the side that answers the re-INVITE offers, the
 * re-INVITE's sender answers in its ACK), from side `from`. As
 * sps__cmedia_reoffer: 0 with res->body (the offer rewritten for the other
 * side, relay port and that leg's own key); the other side's next ACK with
 * SDP is the answer (sps__cmedia_ack_answer). When the offer cannot be
 * accepted (it would change a leg's security, or cannot be used) the 2xx
 * must still go on (RFC 3261 13.3.1.4): EACCES (or EBADMSG) with res->reason
 * and res->body (may be NULL) the offer with the stream disabled (port 0,
 * no keys); the answer in the ACK is then replaced by a rejection. A
 * retransmitted 2xx gets the same body again. */
int sps__cmedia_reoffer_2xx(struct sps_cmedia *cm, unsigned from, uint32_t cseq,
			    struct sps_slice sdp, struct sps_cmedia_res *res);
/* Does an ACK from `side` with CSeq number cseq go through
 * sps__cmedia_ack_answer: it is the ACK of the re-INVITE (same CSeq number,
 * RFC 3261 13.2.2.4) whose 2xx went through sps__cmedia_reoffer_2xx (cseq:
 * that re-INVITE's), to carry the answer or to repeat it (a retransmitted
 * 2xx may have crossed the first ACK)? */
bool sps__cmedia_ack_answer_pending(const struct sps_cmedia *cm, unsigned side, uint32_t cseq);
/* That ACK (ct/body as received): 0 with res->body, its answer rewritten for
 * the offerer (an ACK with SDP again: the same rewrite); EACCES with
 * res->body rejecting the stream (port 0) when the offer was refused or the
 * answer drops SRTP; ENOENT when the ACK has no SDP: forward it as it is
 * (the first ACK without one leaves the offer unanswered, RFC 3261 13.3.1.4
 * says it must carry one; later ones are other transactions' ACKs). */
int sps__cmedia_ack_answer(struct sps_cmedia *cm, struct sps_slice content_type,
			   struct sps_slice sdp, struct sps_cmedia_res *res);

/* The answer (in a 18x or 2xx) to the offer side `offerer` made; initial:
 * the answer to the INVITE that created cm. Updates the relay session and
 * returns 0 with res->body for the offerer. When the answer cannot be
 * accepted (the callee answered plain RTP to an RTP/SAVP offer) returns
 * EACCES with res->reason and still a res->body, with the stream rejected
 * (port 0, RFC 3264 6), so that no media flows unprotected. */
int sps__cmedia_answer(struct sps_cmedia *cm, unsigned offerer, bool initial,
		       struct sps_slice sdp, struct sps_cmedia_res *res);

/* An answer that must not change the session - a 2xx from a second fork
 * of the INVITE (RFC 3261 16.7 step 5 passes every 2xx up): rewritten for
 * the offerer with the stream rejected (port 0, no keys, RFC 3264 6); the
 * caller is expected to end that dialog. Returns 0 with res->body, or an
 * errno. */
int sps__cmedia_reject(struct sps_cmedia *cm, unsigned offerer, struct sps_slice sdp,
		       struct sps_cmedia_res *res);

/* The media of call_id where one of the two tags is the caller's From tag;
 * *side: the side that uses tag `from` (0 caller, 1 callee). NULL when the
 * call has no media session. *other (may be NULL) tells that the request
 * belongs to another dialog of the call than the one the session follows
 * (sps__cmedia_dialog): a second fork's, whose stream was rejected - its
 * requests must not touch the session (a BYE there ends that dialog only). */
struct sps_cmedia *sps__cmedia_find(struct sps_cmedia_tab *t, struct sps_slice call_id,
				    struct sps_slice from, struct sps_slice to, unsigned *side,
				    bool *other);

/* The dialog the session follows: the callee's To tag in the first 2xx to
 * the INVITE that created cm (RFC 3261 12.1.2); later calls change nothing.
 * Before it is known every dialog of the call is cm's. */
void sps__cmedia_dialog(struct sps_cmedia *cm, struct sps_slice to_tag);

/* The call is over (BYE, CANCEL, failure): free the relay session. */
void sps__cmedia_end(struct sps_cmedia *cm);

/* Copy each call's media profile and counters into the calls table. */
void sps__cmedia_report(struct sps_cmedia_tab *t, struct sps_calls *calls);

/* Sessions alive (tests). */
unsigned sps__cmedia_count(const struct sps_cmedia_tab *t);

#endif
