/* media/relay: sessions, worker threads and the messages between them
 * (relay.h has the model; the packet path is relay_io.c). */
#define SPS_LOG_MODULE "media"
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "media/relay_int.h"

#define MAX_WORKERS 64

/* A message from the owner to a worker, or back. Holds key copies: wiped
 * before it is freed. */
struct msg {
	enum { MSG_ADD, MSG_UPDATE } type;
	struct sps_relay_sess *h;
	struct sps__wsess *ws;
	struct sps_relay_spec spec;
	struct sps_loop_task task;
};

static void msg_free(struct msg *m)
{
	sps_srtp_key_wipe(&m->spec.leg[0].rx);
	sps_srtp_key_wipe(&m->spec.leg[0].tx);
	sps_srtp_key_wipe(&m->spec.leg[1].rx);
	sps_srtp_key_wipe(&m->spec.leg[1].tx);
	free(m);
}

/* ---- worker side ---- */

static void wleg_free_crypto(struct sps__wleg *l)
{
	sps_srtp_free(l->rx);
	sps_srtp_free(l->tx);
	l->rx = l->tx = NULL;
	sps_srtp_key_wipe(&l->rx_key);
	sps_srtp_key_wipe(&l->tx_key);
}

/* Free the worker side: sockets out of the loop and closed, contexts gone. */
static void wsess_free(struct sps__wsess *s)
{
	struct sps__worker *w = s->w;
	sps_timer_cancel(&s->timer);
	for (int i = 0; i < 2; i++) {
		for (int k = 0; k < 2; k++) {
			if (s->leg[i].sock[k].fd >= 0) {
				(void)sps_loop_fd_del(w->loop, s->leg[i].sock[k].fd);
				close(s->leg[i].sock[k].fd);
			}
		}
		wleg_free_crypto(&s->leg[i]);
	}
	if (s->prev)
		s->prev->next = s->next;
	else if (w->sessions == s)
		w->sessions = s->next;
	if (s->next)
		s->next->prev = s->prev;
	free(s);
}

static void owner_freed(void *arg);
static void owner_timeout(void *arg);

/* Worker: END arrived. Free our side and hand the handle back. The owner
 * posts nothing after END, so no message can name s afterwards. */
static void w_end(struct sps__wsess *s)
{
	struct sps_relay *r = s->w->r;
	struct sps_relay_sess *h = s->h;
	wsess_free(s);
	sps_loop_post_task(r->owner, &h->freed_task, owner_freed, h);
}

/* Media stopped: stop relaying and ask the owner to end the session (the
 * session is freed when its END comes back, so messages already posted
 * for it stay valid). */
static void on_timer(void *arg)
{
	struct sps__wsess *s = arg;
	uint64_t now = sps_loop_now(s->w->loop), to = s->w->r->timeout_ms;
	if (now - s->last_rx >= to) {
		s->timed_out = true;
		s->configured = false;
		sps_loop_post_task(s->w->r->owner, &s->h->timeout_task, owner_timeout, s->h);
		return;
	}
	(void)sps_timer_start(s->w->loop, &s->timer, s->last_rx + to - now, on_timer, s);
}

static void w_add(struct sps__worker *w, struct sps__wsess *s)
{
	s->w = w;
	s->next = w->sessions;
	if (s->next)
		s->next->prev = s;
	w->sessions = s;
	s->last_rx = sps_loop_now(w->loop);
	for (int i = 0; i < 2; i++)
		for (int k = 0; k < 2; k++)
			if (sps_loop_fd_add(w->loop, s->leg[i].sock[k].fd, SPS_LOOP_READ,
					    sps__relay_on_read, &s->leg[i].sock[k]) != 0)
				SPS_ERROR("media: cannot watch a relay socket");
	if (w->r->timeout_ms)
		(void)sps_timer_start(w->loop, &s->timer, w->r->timeout_ms, on_timer, s);
}

static bool key_eq(const struct sps_srtp_key *a, const struct sps_srtp_key *b)
{
	return a->suite == b->suite && a->mki == b->mki && a->mki_len == b->mki_len &&
	       memcmp(a->key, b->key, sizeof(a->key)) == 0;
}

/* (Re)build one direction's context unless its key is unchanged (keeps the
 * rollover counter and replay window, RFC 3711 3.3.1). */
static int set_ctx(struct sps_srtp **ctx, struct sps_srtp_key *cur, const struct sps_srtp_key *k,
		   bool outbound)
{
	if (*ctx && key_eq(cur, k))
		return 0;
	struct sps_srtp *n = NULL;
	int err = sps_srtp_new(&n, k, outbound);
	if (err)
		return err;
	sps_srtp_free(*ctx);
	*ctx = n;
	*cur = *k;
	return 0;
}

static void w_update(struct sps__wsess *s, const struct sps_relay_spec *spec)
{
	if (s->timed_out)
		return; /* the owner's END is on its way */
	s->passthrough = spec->passthrough;
	for (int i = 0; i < 2; i++) {
		const struct sps_relay_leg *in = &spec->leg[i];
		struct sps__wleg *l = &s->leg[i];
		int err = 0;
		l->srtp = in->srtp;
		if (in->srtp) {
			err = set_ctx(&l->rx, &l->rx_key, &in->rx, false);
			if (!err)
				err = set_ctx(&l->tx, &l->tx_key, &in->tx, true);
		}
		if (!in->srtp || err) {
			wleg_free_crypto(l);
			/* a leg that should be SRTP but has no context relays nothing */
			l->srtp = in->srtp;
			if (err)
				SPS_ERROR("media: cannot set up SRTP for a leg: %s", strerror(err));
		}
		l->mux = in->rtcp_mux;
		l->no_send = in->no_send;
		/* a new address in the SDP: learn the source again */
		if (!sps_sa_eq(&l->sdp_rtp, &in->rtp) || !l->latched) {
			l->sdp_rtp = in->rtp;
			l->rtp = in->rtp;
			l->rtcp = in->rtcp;
			if (!l->rtcp.len && l->rtp.len) {
				l->rtcp = l->rtp;
				sps_sa_set_port(&l->rtcp, (uint16_t)(sps_sa_port(&l->rtp) + 1));
			}
			l->latched = l->latched_rtcp = false;
		}
	}
	s->configured = true;
}

static void worker_end(void *arg)
{
	struct sps_relay_sess *h = arg;
	w_end(h->ws);
}

static void worker_msg(void *arg)
{
	struct msg *m = arg;
	struct sps__worker *w = m->h->w;
	switch (m->type) {
	case MSG_ADD:
		w_add(w, m->ws);
		break;
	case MSG_UPDATE:
		w_update(m->ws, &m->spec);
		break;
	default:
		break;
	}
	msg_free(m);
}

static void *worker_main(void *arg)
{
	struct sps__worker *w = arg;
	int err = sps_loop_run(w->loop);
	if (err)
		SPS_ERROR("media worker %u stopped: %s", w->idx, strerror(err));
	return NULL;
}

/* ---- owner side ---- */

static void handle_release(struct sps_relay *r, struct sps_relay_sess *h)
{
	sps__ports_put(&r->ports, h->port[0]);
	sps__ports_put(&r->ports, h->port[1]);
	if (h->prev)
		h->prev->next = h->next;
	else if (r->sessions == h)
		r->sessions = h->next;
	if (h->next)
		h->next->prev = h->prev;
	r->nsess--;
	free(h);
}

/* Owner: the worker has freed its side of h. */
static void owner_freed(void *arg)
{
	struct sps_relay_sess *h = arg;
	handle_release(h->r, h);
}

static void post_end(struct sps_relay_sess *h)
{
	h->ended = true;
	sps_loop_post_task(h->w->loop, &h->end_task, worker_end, h);
}

/* Owner: the worker saw no media for timeout_ms. */
static void owner_timeout(void *arg)
{
	struct sps_relay_sess *h = arg;
	if (h->ended || h->r->closing)
		return;
	if (h->eh)
		h->eh(h, ETIMEDOUT, h->arg);
	post_end(h);
}

static int post(struct sps_relay_sess *h, int type, const struct sps_relay_spec *spec)
{
	struct msg *m = calloc(1, sizeof(*m));
	if (!m)
		return ENOMEM;
	m->type = type;
	m->h = h;
	m->ws = h->ws;
	if (spec)
		m->spec = *spec;
	sps_loop_post_task(h->w->loop, &m->task, worker_msg, m);
	return 0;
}

int sps_relay_new(struct sps_relay **out, const struct sps_relay_conf *conf,
		  struct sps_loop *owner)
{
	struct sps_sa base;
	const char *addr = conf->addr ? conf->addr : "0.0.0.0";
	uint16_t min = conf->port_min ? conf->port_min : SPS_RELAY_PORT_MIN;
	uint16_t max = conf->port_min ? conf->port_max : SPS_RELAY_PORT_MAX;
	if (sps_sa_set_str(&base, addr, 0) || strlen(addr) >= sizeof(((struct sps_relay *)0)->addr))
		return EINVAL;
	int err = sps_srtp_init();
	if (err)
		return err;
	struct sps_relay *r = calloc(1, sizeof(*r));
	if (!r)
		return ENOMEM;
	r->owner = owner;
	snprintf(r->addr, sizeof(r->addr), "%s", addr);
	r->timeout_ms = conf->timeout_ms;
	if ((err = sps__ports_init(&r->ports, &base, min, max))) {
		free(r);
		return err;
	}
	unsigned n = conf->workers;
	if (!n) {
		long c = sysconf(_SC_NPROCESSORS_ONLN);
		n = c > 0 ? (unsigned)c : 1;
	}
	n = n > MAX_WORKERS ? MAX_WORKERS : n;
	r->workers = calloc(n, sizeof(*r->workers));
	if (!r->workers) {
		sps__ports_fini(&r->ports);
		free(r);
		return ENOMEM;
	}
	r->nworkers = n;
	/* media threads take no signals: they go to the main loop's signalfd */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (unsigned i = 0; i < n && !err; i++) {
		struct sps__worker *w = &r->workers[i];
		w->r = r;
		w->idx = i;
		err = sps_loop_new(&w->loop);
		if (!err)
			err = pthread_create(&w->thr, NULL, worker_main, w);
		if (!err) {
			w->running = true;
			char name[16];
			snprintf(name, sizeof(name), "sps-media-%u", i);
			pthread_setname_np(w->thr, name);
		}
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err) {
		sps_relay_free(r);
		return err;
	}
	*out = r;
	return 0;
}

void sps_relay_free(struct sps_relay *r)
{
	if (!r)
		return;
	r->closing = true;
	for (unsigned i = 0; i < r->nworkers; i++) {
		struct sps__worker *w = &r->workers[i];
		if (w->running) {
			sps_loop_stop(w->loop);
			pthread_join(w->thr, NULL);
			w->running = false;
		}
	}
	/* the threads are joined: their loops and sessions are ours now. Run
	 * what was posted to them, then free what is left. */
	for (unsigned i = 0; i < r->nworkers; i++) {
		struct sps__worker *w = &r->workers[i];
		if (!w->loop)
			continue;
		sps_loop_flush_posts(w->loop);
		while (w->sessions)
			wsess_free(w->sessions);
	}
	/* FREED and TIMEOUT messages the workers posted name handles: run them now */
	sps_loop_flush_posts(r->owner);
	while (r->sessions) {
		r->sessions->ended = true;
		handle_release(r, r->sessions);
	}
	for (unsigned i = 0; i < r->nworkers; i++)
		if (r->workers[i].loop)
			sps_loop_free(r->workers[i].loop);
	free(r->workers);
	sps__ports_fini(&r->ports);
	free(r);
}

int sps_relay_sess_new(struct sps_relay *r, struct sps_relay_sess **out, sps_relay_end_h *eh,
		       void *arg)
{
	int fds[2][2] = {{-1, -1}, {-1, -1}};
	uint16_t port[2] = {0, 0};
	struct sps_relay_sess *h = calloc(1, sizeof(*h));
	struct sps__wsess *s = calloc(1, sizeof(*s));
	struct msg *m = calloc(1, sizeof(*m));
	int err = h && s && m ? 0 : ENOMEM;
	for (int i = 0; i < 2 && !err; i++)
		err = sps__ports_get(&r->ports, fds[i], &port[i]);
	if (err) {
		for (int i = 0; i < 2; i++) {
			if (fds[i][0] >= 0) {
				close(fds[i][0]);
				close(fds[i][1]);
				sps__ports_put(&r->ports, port[i]);
			}
		}
		free(h);
		free(s);
		free(m);
		return err;
	}
	struct sps__worker *w = &r->workers[r->next_worker++ % r->nworkers];
	h->r = r;
	h->ws = s;
	h->w = w;
	h->eh = eh;
	h->arg = arg;
	h->port[0] = port[0];
	h->port[1] = port[1];
	h->next = r->sessions;
	if (h->next)
		h->next->prev = h;
	r->sessions = h;
	r->nsess++;
	s->h = h;
	sps_timer_init(&s->timer);
	for (int i = 0; i < 2; i++) {
		for (int k = 0; k < 2; k++) {
			s->leg[i].sock[k].s = s;
			s->leg[i].sock[k].fd = fds[i][k];
			s->leg[i].sock[k].leg = (uint8_t)i;
			s->leg[i].sock[k].rtcp = k == 1;
		}
	}
	m->type = MSG_ADD;
	m->h = h;
	m->ws = s;
	/* from here the worker owns s */
	sps_loop_post_task(w->loop, &m->task, worker_msg, m);
	*out = h;
	return 0;
}

uint16_t sps_relay_sess_port(const struct sps_relay_sess *s, int leg)
{
	return s->port[leg ? 1 : 0];
}

const char *sps_relay_addr(const struct sps_relay *r)
{
	return r->addr;
}

static bool leg_ok(const struct sps_relay_leg *l)
{
	return !l->srtp ||
	       (sps_srtp_key_len(l->rx.suite) && sps_srtp_key_len(l->tx.suite));
}

int sps_relay_sess_update(struct sps_relay_sess *s, const struct sps_relay_spec *spec)
{
	if (s->ended || !leg_ok(&spec->leg[0]) || !leg_ok(&spec->leg[1]) ||
	    (spec->passthrough && !(spec->leg[0].srtp && spec->leg[1].srtp)))
		return EINVAL;
	return post(s, MSG_UPDATE, spec);
}

void sps_relay_sess_stats(const struct sps_relay_sess *s, int leg, struct sps_relay_leg_stats *out)
{
	const struct sps__leg_counters *c = &s->ctr[leg ? 1 : 0];
	memset(out, 0, sizeof(*out));
	out->rx = atomic_load_explicit(&c->rx, memory_order_relaxed);
	out->relayed = atomic_load_explicit(&c->relayed, memory_order_relaxed);
	out->auth_failed = atomic_load_explicit(&c->auth_failed, memory_order_relaxed);
	out->replayed = atomic_load_explicit(&c->replayed, memory_order_relaxed);
	out->dropped = atomic_load_explicit(&c->dropped, memory_order_relaxed);
	out->latched = atomic_load_explicit(&c->latched, memory_order_acquire);
	if (out->latched)
		out->source = c->source;
}

void sps_relay_sess_end(struct sps_relay_sess *s)
{
	if (s && !s->ended)
		post_end(s);
}

unsigned sps_relay_sess_count(const struct sps_relay *r)
{
	return r->nsess;
}
