/* media/relay: the SRTP/RTP media relay (anchor) of sipsec.
 *
 * A session joins two call legs (0: the caller side, 1: the callee side).
 * Each leg has a pair of UDP ports from the configured range (RTP on an
 * even port, RTCP on the next, RFC 3550 11; RTCP may share the RTP port,
 * RFC 5761) and its own mode:
 *   - plain RTP;
 *   - SRTP with keys of its own: what its phone sends is unprotected with
 *     the phone's key (rx), what we send it is protected with a key sipsec
 *     generated for that leg (tx). Two SRTP legs = transcrypting, one SRTP
 *     and one plain leg = bridging;
 *   - pass-through: both legs SRTP with end-to-end keys, packets forwarded
 *     unchanged (the keys are still used to authenticate before latching).
 * Packets that fail SRTP/SRTCP authentication are dropped and counted
 * (RFC 3711 3.3); replayed ones too (RFC 3711 3.3.2). Latching: a leg's
 * phone address is learnt from its first authenticated packet (its first
 * packet on a plain leg); after that, packets from other sources are dropped.
 *
 * Threads (docs/threading.md): the relay is created on an owner loop (the
 * SIP thread) and runs W worker threads, each with its own sps_loop. Every
 * session lives on one worker; the owner creates, updates and ends it with
 * posted messages and never touches it otherwise. Ports are allocated and
 * sockets bound on the owner thread, then handed over. Counters are
 * written by the worker with relaxed atomics and read by the owner.
 * Every function here is for the owner thread. */
#ifndef SPS_MEDIA_RELAY_H
#define SPS_MEDIA_RELAY_H

#include <stdbool.h>
#include <stdint.h>

#include "core/loop.h"
#include "media/crypto.h"
#include "net/sa.h"

#define SPS_RELAY_PORT_MIN 30000
#define SPS_RELAY_PORT_MAX 39999

struct sps_relay_conf {
	const char *addr;     /* local address to bind, e.g. "127.0.0.1" or "0.0.0.0" (copied) */
	uint16_t port_min;    /* UDP range, both ends included; 0: 30000-39999 */
	uint16_t port_max;
	unsigned workers;     /* media threads; 0: one per online core */
	unsigned timeout_ms;  /* end a session after this long without a valid packet; 0: never */
};

/* One leg as the SDP of the call describes it. Keys are copied. */
struct sps_relay_leg {
	bool srtp;                /* this leg speaks SRTP */
	struct sps_srtp_key rx;   /* the key its phone sends with (its a=crypto) */
	struct sps_srtp_key tx;   /* the key we send with (our a=crypto to it) */
	struct sps_sa rtp;        /* where its phone wants RTP (SDP c= and m=); len 0: learn it */
	struct sps_sa rtcp;       /* a=rtcp (RFC 3605); len 0: RTP port + 1 */
	bool rtcp_mux;            /* RTCP on the RTP port (RFC 5761 5.1.1 a=rtcp-mux agreed) */
	bool no_send;             /* its phone does not want media (sendonly/inactive: hold) */
};

struct sps_relay_spec {
	bool passthrough;         /* both legs SRTP, keys end to end: forward unchanged */
	struct sps_relay_leg leg[2];
};

/* Counters of packets that arrived on one leg. */
struct sps_relay_leg_stats {
	uint64_t rx;          /* datagrams received */
	uint64_t relayed;     /* sent on to the other leg */
	uint64_t auth_failed; /* SRTP/SRTCP authentication failed (dropped) */
	uint64_t replayed;    /* replayed or too old (dropped) */
	uint64_t dropped;     /* other drops: unknown source, not RTP, hold, not set up */
	bool latched;         /* the phone's RTP source was learnt (at least once) */
	struct sps_sa source; /* the first address learnt (a re-INVITE may move it later) */
};

struct sps_relay;
struct sps_relay_sess;

/* Called on the owner loop when the relay ended a session by itself
 * (reason ETIMEDOUT: no valid media for timeout_ms). s is released right
 * after the call: do not use it afterwards, do not call sps_relay_sess_end. */
typedef void(sps_relay_end_h)(struct sps_relay_sess *s, int reason, void *arg);

/* Start the relay with its worker threads. Returns 0, EINVAL (bad address
 * or range), or an errno. */
int sps_relay_new(struct sps_relay **out, const struct sps_relay_conf *conf,
		  struct sps_loop *owner);
/* Stop the workers and free every session still open (no end handler is
 * called). Runs the tasks already posted to the owner loop. */
void sps_relay_free(struct sps_relay *r);

/* A new session: two port pairs bound, nothing relayed until the first
 * sps_relay_sess_update. Returns 0, EADDRINUSE when the range is full, or
 * an errno. */
int sps_relay_sess_new(struct sps_relay *r, struct sps_relay_sess **out, sps_relay_end_h *eh,
		       void *arg);
/* The local RTP port of leg 0 or 1 (RTCP is the next one). */
uint16_t sps_relay_sess_port(const struct sps_relay_sess *s, int leg);
/* The relay's local address (for c= lines). */
const char *sps_relay_addr(const struct sps_relay *r);
/* Set or change (re-INVITE: new keys, hold, new address) what the session
 * does. Unchanged keys keep their SRTP state (rollover counter, replay
 * window). Returns 0, EINVAL (an SRTP leg without a usable key, a
 * passthrough that is not SRTP on both legs) or ENOMEM. */
int sps_relay_sess_update(struct sps_relay_sess *s, const struct sps_relay_spec *spec);
/* Counters of leg 0 or 1 so far. */
void sps_relay_sess_stats(const struct sps_relay_sess *s, int leg, struct sps_relay_leg_stats *out);
/* End the session (call over). s must not be used afterwards. */
void sps_relay_sess_end(struct sps_relay_sess *s);
/* Number of sessions alive (tests, metrics). */
unsigned sps_relay_sess_count(const struct sps_relay *r);

#endif
