/* media/relay internals, shared by relay.c (sessions, threads, messages),
 * relay_io.c (the packet path) and ports.c (the port range). Tests may
 * include it. */
#ifndef SPS_MEDIA_RELAY_INT_H
#define SPS_MEDIA_RELAY_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include "media/relay.h"

/* ---- ports.c: pairs of UDP ports (even RTP, odd RTCP) on the owner thread ---- */
struct sps__ports {
	struct sps_sa base;   /* the address to bind, port 0 */
	uint16_t first;       /* even */
	uint32_t npairs;
	uint32_t next;        /* where the next search starts (round robin) */
	uint32_t used;
	uint8_t *busy;        /* one byte per pair */
};
int sps__ports_init(struct sps__ports *p, const struct sps_sa *base, uint16_t min, uint16_t max);
void sps__ports_fini(struct sps__ports *p);
/* Bind a free pair: fds[0] RTP (even port), fds[1] RTCP. Skips ports another
 * process holds. Returns 0 or EADDRINUSE (no pair left) or an errno. */
int sps__ports_get(struct sps__ports *p, int fds[2], uint16_t *port);
/* Give back a pair whose sockets are closed. */
void sps__ports_put(struct sps__ports *p, uint16_t port);

/* ---- the owner's handle of a session ---- */
/* Atomic counters: written by the worker only, read by the owner. */
struct sps__leg_counters {
	atomic_uint_fast64_t rx, relayed, auth_failed, replayed, dropped;
	atomic_bool latched;
	struct sps_sa source; /* written once, before latched is set (release); never again */
};

/* Owned by the owner thread from sps_relay_sess_new until the worker has
 * freed its side (the FREED message); the worker touches only `ctr`. */
struct sps_relay_sess {
	struct sps_relay *r;
	struct sps__wsess *ws;   /* the worker's side: an opaque token here */
	struct sps__worker *w;
	uint16_t port[2];
	sps_relay_end_h *eh;
	void *arg;
	bool ended;              /* END posted (by sps_relay_sess_end or after a timeout) */
	struct sps_loop_task end_task;   /* owner -> worker END, posted once */
	struct sps_loop_task freed_task; /* worker -> owner FREED, posted once by the worker */
	struct sps_loop_task timeout_task; /* worker -> owner TIMEOUT, at most once */
	struct sps_relay_sess *next, *prev; /* r->sessions */
	struct sps__leg_counters ctr[2];
};

/* ---- the worker's side ---- */
struct sps__wsess;

/* One socket of a session: what its fd handler gets. */
struct sps__wsock {
	struct sps__wsess *s;
	int fd;
	uint8_t leg;
	bool rtcp;
};

struct sps__wleg {
	struct sps__wsock sock[2];  /* RTP, RTCP */
	bool srtp;
	bool mux;
	bool no_send;
	struct sps_srtp *rx, *tx;   /* NULL on a plain leg */
	struct sps_srtp_key rx_key, tx_key; /* to keep contexts whose key did not change */
	struct sps_sa rtp, rtcp;    /* where to send; len 0 until known */
	struct sps_sa sdp_rtp;      /* the address the SDP named (reset the latch when it changes) */
	bool latched, latched_rtcp;
};

struct sps__wsess {
	struct sps_relay_sess *h;   /* the owner's handle: only h->ctr is touched */
	struct sps__worker *w;
	struct sps__wleg leg[2];
	bool configured;            /* an update arrived */
	bool passthrough;
	uint64_t last_rx;           /* loop ms of the last valid packet */
	struct sps_timer timer;
	bool timed_out;             /* TIMEOUT posted to the owner; waiting for END */
	struct sps__wsess *next, *prev; /* w->sessions */
};

#define SPS__BATCH 32
#define SPS__PKT_MAX 2048

struct sps__worker {
	struct sps_relay *r;
	struct sps_loop *loop;
	pthread_t thr;
	bool running;
	unsigned idx;
	struct sps__wsess *sessions;
	/* recvmmsg/sendmmsg buffers of this thread */
	uint8_t buf[SPS__BATCH][SPS__PKT_MAX];
};

struct sps_relay {
	struct sps_loop *owner;
	char addr[64];
	unsigned timeout_ms;
	struct sps__ports ports;
	struct sps__worker *workers;
	unsigned nworkers;
	unsigned next_worker;
	unsigned nsess;
	bool closing;               /* sps_relay_free runs: no end handlers */
	struct sps_relay_sess *sessions;
};

/* relay_io.c: the read handler of every session socket (worker thread). */
void sps__relay_on_read(int fd, unsigned events, void *arg);

#endif
