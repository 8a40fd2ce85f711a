/* bench/call_bench: how many calls (setup and teardown) per second `sipsec
 * serve` proxies between phones on TLS connections, and how long each takes.
 * One command: it makes a temp data dir with 2 x P users (callerI, calleeI,
 * added straight through the store API), starts the server on 127.0.0.1 with
 * free ports, drives it, and stops it.
 *
 *   build/release/bench/call_bench --sipsec build/release/sipsec [-p 200] [-n 20000]
 *
 * Every phone is one TLS connection that verifies the server against
 * DATA/certs/ca.pem and the host name bench.test (the SIP domain, sent as SNI
 * too).
 *
 * 1. Registration: each of the 2P phones connects and registers with digest
 *    (REGISTER, 401, REGISTER with credentials, 200; -c in flight), and
 *    keeps its connection: the flow sipsec must use to reach a callee.
 * 2. Calls: callerI calls calleeI, one call at a time per pair, so P calls
 *    are in progress at once, until -n calls were made (or -t ran out):
 *      caller  INVITE (SDP)                 -> 407 (Proxy-Authenticate)
 *              ACK                          (ends the INVITE transaction)
 *              INVITE with Proxy-Authorization (a new nonce each call)
 *      callee  <- INVITE over its registered connection: 180 and 200 (SDP)
 *      caller  <- 180, 200: ACK and BYE along the route set from the 200's
 *              Record-Route (RFC 3261 12.1.2), to the Contact of the 200
 *      callee  <- ACK, BYE: 200
 *      caller  <- 200 to the BYE: the call is complete
 *    Latencies: "setup" from the first INVITE written to the 200 read,
 *    "call" from the first INVITE to the 200 for the BYE. A call counts as
 *    complete only when the callee saw its INVITE, ACK and BYE in order.
 *    A call unanswered after REQ_TIMEOUT_S counts as a timeout.
 * 3. With -l S: the connections stay idle S seconds (an answered INVITE's
 *    transactions end 64*T1 = 32 s after it, RFC 6026), then as many calls
 *    again: the server's memory and CPU per call once the heap the first
 *    round grew is reused (round 1 also pays for growing it).
 *
 * Client and server share the machine's cores: the server's CPU time per
 * call (utime+stime of all its threads, /proc/PID/stat, 10 ms ticks) and the
 * share of one core it used are printed, so a rate limited by the client (one
 * thread, epoll, non-blocking sockets) can be told from one limited by the
 * server. -a picks the digest algorithm, --serve-arg passes more options to
 * `sipsec serve`.
 *
 * Exit status: 0 when every phone registered and every call completed
 * without error; 1 otherwise; 2 for bad usage. */
#include <arpa/inet.h>
#include <ftw.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "auth/digest.h"
#include "core/arena.h"
#include "core/log.h"
#include "sip/msg.h"

#define DOMAIN "bench.test"
#define RURI "sip:" DOMAIN
#define EPOLL_BATCH 256
#define LOOP_MAX 1000000000UL  /* iteration bound of the event loop */
#include "bench_serve.h"
#include "bench_tls.h"
#define REQ_TIMEOUT_S 32.0     /* RFC 3261 Timer B/F: a request unanswered this long failed */
#define SCAN_EVERY_S 0.5       /* how often requests are checked for that timeout */
#define OUT_MAX (64 * 1024)    /* bytes queued on one connection */
#define IN_FIRST 8192        /* the first size of a connection's input buffer */
#define ROUTE_MAX 1024
#define TARGET_MAX 256
#define TAG_MAX 64
#define CALLID_MAX 96
#define MAX_EXTRA SERVE_MAX_EXTRA /* --serve-arg options */

/* The SDP offer and answer: G.711 u-law, plain RTP (this measures signalling). */
#define SDP(port) \
	"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" \
	"m=audio " port " RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
static const char sdp_offer[] = SDP("40000");
static const char sdp_answer[] = SDP("40002");

/* ---- the benchmark's state ---- */

enum cstate {
	C_NEW = 0,   /* no connection yet */
	C_HANDSHAKE, /* TCP connect and TLS handshake */
	C_REG,       /* a REGISTER is outstanding */
	C_READY,     /* registered, connection kept */
	C_DEAD,      /* failed; connection closed */
};

/* Where a caller's call is. */
enum kstate {
	K_IDLE = 0,
	K_INVITE1, /* the INVITE without credentials: waiting for the 407 */
	K_INVITE2, /* the INVITE with credentials: waiting for the 200 */
	K_BYE,     /* ACK and BYE sent: waiting for the 200 to the BYE */
};

/* One phone and its TLS connection: callerI (even slots) or calleeI. */
struct conn {
	struct bench_tls t;      /* the TLS connection, its port and bytes */
	unsigned idx;            /* the pair */
	bool callee;
	enum cstate st;
	struct bench_user u;     /* "caller42" and its HA1s */
	char reg_call_id[48], tag[24];
	uint32_t reg_cseq;
	bool reg_authed;
	struct bench_chal ch;    /* the last challenge (401 to a REGISTER, 407 to an INVITE) */
	double t0, deadline;     /* the outstanding operation */
	/* caller: the call in progress */
	enum kstate k;
	unsigned long calln;     /* calls this caller started */
	char call_id[CALLID_MAX];
	char invite_branch[48];
	char to_tag[TAG_MAX];
	double t_200;
	bool ringing;
	/* callee: the call it is in (Call-ID) and what it saw of it */
	char cur_call[CALLID_MAX];
	bool got_invite, got_ack;
};

struct errors {
	unsigned long connect, tls, closed, timeout, reg_refused, no_challenge, status,
		bad_msg, overflow, unexpected, callee_order;
	unsigned last_status; /* an example of `status` */
};

struct bench {
	struct conn *conns;      /* 2P: caller i at 2i, callee i at 2i+1 */
	unsigned n;              /* 2P */
	struct bench_client cl;  /* epoll, TLS context, server address, parse arena */
	struct bench_hasher hs;
	int want_alg;            /* -1: the first challenge offered */
	char run_id[17];
	unsigned long branch_seq, cnonce_seq;
	int phase;               /* 1: registration, 2: calls */
	unsigned inflight;       /* registrations (phase 1) or calls (phase 2) in progress */
	unsigned long done;      /* registrations (phase 1) or complete calls (phase 2) */
	unsigned long started, max_calls;
	unsigned long ringing, acks_seen, byes_seen;
	double *lat, *setup;     /* latencies of complete calls, seconds */
	size_t nlat, caplat;
	struct errors err;
};

static unsigned long errors_total(const struct errors *e)
{
	return e->connect + e->tls + e->closed + e->timeout + e->reg_refused + e->no_challenge +
	       e->status + e->bad_msg + e->overflow + e->unexpected + e->callee_order;
}

static struct conn *peer_of(struct bench *b, struct conn *c)
{
	return &b->conns[c->callee ? c->idx * 2 : c->idx * 2 + 1];
}

/* c failed: count it under *counter, close it. A caller's call in progress
 * ends with it; a dead callee makes its caller's next calls pointless, so
 * the pair stops (the other phone stays connected). */
static void conn_fail(struct bench *b, struct conn *c, unsigned long *counter)
{
	(*counter)++;
	if (c->st == C_HANDSHAKE || c->st == C_REG)
		b->inflight--;
	if (c->k != K_IDLE) {
		c->k = K_IDLE;
		b->inflight--;
	}
	c->st = C_DEAD;
	bench_tls_close(&c->t);
}

/* The counter of a bench_tls failure. */
static unsigned long *tls_counter(struct bench *b, int rc)
{
	return bench_tls_counter(rc, &b->err.connect, &b->err.tls, &b->err.closed, &b->err.bad_msg,
				 &b->err.overflow);
}

/* Append one message (printf-style) to c's output. Returns 0, or -1 when
 * it does not fit (counted; c failed). */
__attribute__((format(printf, 3, 4))) static int out_add(struct bench *b, struct conn *c,
							  const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int l = vsnprintf(c->t.out + c->t.out_len, c->t.out_cap - c->t.out_len, fmt, ap);
	va_end(ap);
	if (l < 0 || (size_t)l >= c->t.out_cap - c->t.out_len) {
		conn_fail(b, c, &b->err.overflow);
		return -1;
	}
	c->t.out_len += (size_t)l;
	return 0;
}

/* Push c's output into its connection. Returns 0, or -1 (counted; c failed). */
static int send_out(struct bench *b, struct conn *c)
{
	if (bench_tls_flush(&c->t) != 0) {
		conn_fail(b, c, &b->err.closed);
		return -1;
	}
	return 0;
}

/* ---- digest (RFC 7616 3.4) ---- */

/* Take the first challenge of header id (WWW- or Proxy-Authenticate) in m
 * that fits b->want_alg into c. Returns 0, or -1 when none fits. */
static int take_challenge(struct bench *b, struct conn *c, const struct sps_sip_msg *m,
			  enum sps_hdr_id id)
{
	bool stale;
	return bench_take_challenge(m, id, b->want_alg, DOMAIN, &c->ch, &stale);
}

/* The credentials header (name: "Authorization" / "Proxy-Authorization")
 * for method and uri with c's challenge, nc=00000001, into buf. Returns 0 or -1. */
static int credentials(struct bench *b, struct conn *c, const char *name, const char *method,
		       const char *uri, char *buf, size_t size)
{
	char cnonce[32], in[512], ha2[SPS_HA1_SHA256_HEX + 1];
	snprintf(cnonce, sizeof(cnonce), "%08lx%08x", ++b->cnonce_seq, c->idx);
	/* HA2 = H(method ":" uri) */
	int l = snprintf(in, sizeof(in), "%s:%s", method, uri);
	if (l < 0 || (size_t)l >= sizeof(in) ||
	    bench_hash_hex(&b->hs, c->ch.alg, in, (size_t)l, ha2) != 0)
		return -1;
	return bench_credentials(&b->hs, &c->ch, name, c->u.name, DOMAIN, uri, c->u.ha1[c->ch.alg],
				 ha2, "00000001", cnonce, buf, size);
}

/* ---- registration (phase 1) ---- */

/* REGISTER (RFC 3261 10.2) for c, with credentials when auth. */
static int send_register(struct bench *b, struct conn *c, bool auth)
{
	char authz[768] = "";
	if (auth && credentials(b, c, "Authorization", "REGISTER", RURI, authz, sizeof(authz))) {
		conn_fail(b, c, &b->err.bad_msg);
		return -1;
	}
	c->reg_authed = auth;
	if (bench_tls_register(&c->t, DOMAIN, c->u.name, c->tag, c->reg_call_id, ++c->reg_cseq,
			       b->run_id, ++b->branch_seq, authz, "sipsec-call-bench") != 0) {
		conn_fail(b, c, &b->err.overflow);
		return -1;
	}
	return send_out(b, c);
}

static void on_register_resp(struct bench *b, struct conn *c, const struct sps_sip_msg *m)
{
	if (m->status < 200)
		return;
	if (c->st != C_REG || m->cseq.num != c->reg_cseq) {
		b->err.unexpected++;
		return;
	}
	if (m->status == 401 && !c->reg_authed) {
		if (take_challenge(b, c, m, SPS_HDR_WWW_AUTHENTICATE) != 0) {
			conn_fail(b, c, &b->err.no_challenge);
			return;
		}
		(void)send_register(b, c, true);
		return;
	}
	if (m->status != 200) {
		b->err.last_status = m->status;
		conn_fail(b, c, &b->err.reg_refused);
		return;
	}
	c->st = C_READY;
	b->inflight--;
	b->done++;
}

/* ---- calls (phase 2): the caller ---- */

static void lat_add(struct bench *b, double call, double setup)
{
	if (b->nlat < b->caplat) {
		b->lat[b->nlat] = call;
		b->setup[b->nlat++] = setup;
	}
}

/* A new call from caller c to its callee: the INVITE without credentials. */
static void call_start(struct bench *b, struct conn *c)
{
	c->k = K_INVITE1;
	c->calln++;
	b->started++;
	b->inflight++;
	c->ringing = false;
	c->to_tag[0] = '\0';
	c->t0 = now_s();
	c->deadline = c->t0 + REQ_TIMEOUT_S;
	snprintf(c->call_id, sizeof(c->call_id), "%s-%u-%lu@call-bench", b->run_id, c->idx,
		 c->calln);
	snprintf(c->invite_branch, sizeof(c->invite_branch), "z9hG4bK%s%lx", b->run_id,
		 ++b->branch_seq);
	if (out_add(b, c,
		    "INVITE sip:callee%u@" DOMAIN " SIP/2.0\r\n"
		    "Via: SIP/2.0/TLS 127.0.0.1:%u;branch=%s;rport\r\n"
		    "Max-Forwards: 70\r\n"
		    "From: <sip:%s@" DOMAIN ">;tag=%s%lu\r\n"
		    "To: <sip:callee%u@" DOMAIN ">\r\n"
		    "Call-ID: %s\r\n"
		    "CSeq: 1 INVITE\r\n"
		    "Contact: <sip:%s@127.0.0.1:%u;transport=tls>\r\n"
		    "User-Agent: sipsec-call-bench\r\n"
		    "Content-Type: application/sdp\r\n"
		    "Content-Length: %zu\r\n\r\n%s",
		    c->idx, c->t.lport, c->invite_branch, c->u.name, c->tag, c->calln, c->idx,
		    c->call_id, c->u.name, c->t.lport, sizeof(sdp_offer) - 1, sdp_offer))
		return;
	(void)send_out(b, c);
}

/* ACK for a non-2xx final response to the INVITE of CSeq num: hop by hop,
 * the INVITE's branch and the response's To tag (RFC 3261 17.1.1.3). */
static int ack_non2xx(struct bench *b, struct conn *c, unsigned num)
{
	return out_add(b, c,
		       "ACK sip:callee%u@" DOMAIN " SIP/2.0\r\n"
		       "Via: SIP/2.0/TLS 127.0.0.1:%u;branch=%s;rport\r\n"
		       "Max-Forwards: 70\r\n"
		       "From: <sip:%s@" DOMAIN ">;tag=%s%lu\r\n"
		       "To: <sip:callee%u@" DOMAIN ">;tag=%s\r\n"
		       "Call-ID: %s\r\n"
		       "CSeq: %u ACK\r\n"
		       "Content-Length: 0\r\n\r\n",
		       c->idx, c->t.lport, c->invite_branch, c->u.name, c->tag, c->calln, c->idx,
		       c->to_tag, c->call_id, num);
}

/* The 407 came: ACK it, then the INVITE with Proxy-Authorization. */
static void call_authenticate(struct bench *b, struct conn *c, const struct sps_sip_msg *m)
{
	char uri[64], authz[768];
	snprintf(uri, sizeof(uri), "sip:callee%u@" DOMAIN, c->idx);
	if (take_challenge(b, c, m, SPS_HDR_PROXY_AUTHENTICATE) != 0) {
		conn_fail(b, c, &b->err.no_challenge);
		return;
	}
	if (credentials(b, c, "Proxy-Authorization", "INVITE", uri, authz, sizeof(authz))) {
		conn_fail(b, c, &b->err.bad_msg);
		return;
	}
	if (ack_non2xx(b, c, 1))
		return;
	c->k = K_INVITE2;
	c->to_tag[0] = '\0';
	snprintf(c->invite_branch, sizeof(c->invite_branch), "z9hG4bK%s%lx", b->run_id,
		 ++b->branch_seq);
	if (out_add(b, c,
		    "INVITE %s SIP/2.0\r\n"
		    "Via: SIP/2.0/TLS 127.0.0.1:%u;branch=%s;rport\r\n"
		    "Max-Forwards: 70\r\n"
		    "From: <sip:%s@" DOMAIN ">;tag=%s%lu\r\n"
		    "To: <%s>\r\n"
		    "Call-ID: %s\r\n"
		    "CSeq: 2 INVITE\r\n"
		    "Contact: <sip:%s@127.0.0.1:%u;transport=tls>\r\n"
		    "%s"
		    "User-Agent: sipsec-call-bench\r\n"
		    "Content-Type: application/sdp\r\n"
		    "Content-Length: %zu\r\n\r\n%s",
		    uri, c->t.lport, c->invite_branch, c->u.name, c->tag, c->calln, uri, c->call_id,
		    c->u.name, c->t.lport, authz, sizeof(sdp_offer) - 1, sdp_offer))
		return;
	(void)send_out(b, c);
}

/* The 200 to the INVITE: the dialog's route set is the Record-Route in
 * reverse order, its remote target the Contact (RFC 3261 12.1.2); ACK and
 * BYE go along it at once (a call of no duration: this measures signalling). */
static void call_answered(struct bench *b, struct conn *c, const struct sps_sip_msg *m)
{
	const struct sps_sip_hdr *rr[16], *h;
	unsigned nrr = 0;
	char route[ROUTE_MAX], target[TARGET_MAX];
	size_t rl = 0;
	for (h = sps_sip_msg_hdr_next(m, SPS_HDR_RECORD_ROUTE, NULL); h && nrr < 16;
	     h = sps_sip_msg_hdr_next(m, SPS_HDR_RECORD_ROUTE, h))
		rr[nrr++] = h;
	route[0] = '\0';
	for (unsigned i = nrr; i-- > 0;) {
		int l = snprintf(route + rl, sizeof(route) - rl, "Route: %.*s\r\n",
				 SPS_SLICE_FMT(rr[i]->value));
		if (l < 0 || (size_t)l >= sizeof(route) - rl) {
			conn_fail(b, c, &b->err.overflow);
			return;
		}
		rl += (size_t)l;
	}
	h = sps_sip_msg_hdr_next(m, SPS_HDR_CONTACT, NULL);
	const struct sps_contact *ct = h ? h->parsed : NULL;
	if (!nrr || !ct || ct->star || sps_slice_to_cstr(ct->na.uri_s, target, sizeof(target)) ||
	    !m->to || sps_slice_to_cstr(m->to->tag, c->to_tag, sizeof(c->to_tag)) || !c->to_tag[0]) {
		/* sipsec must Record-Route (RFC 3261 16.6 step 4) and the callee's
		 * Contact and tag must come through */
		b->err.bad_msg++;
		c->k = K_IDLE;
		b->inflight--;
		return;
	}
	c->t_200 = now_s();
	c->k = K_BYE;
	c->deadline = c->t_200 + REQ_TIMEOUT_S;
	for (int i = 0; i < 2; i++)
		if (out_add(b, c,
			    "%s %s SIP/2.0\r\n"
			    "Via: SIP/2.0/TLS 127.0.0.1:%u;branch=z9hG4bK%s%lx;rport\r\n"
			    "%s"
			    "Max-Forwards: 70\r\n"
			    "From: <sip:%s@" DOMAIN ">;tag=%s%lu\r\n"
			    "To: <sip:callee%u@" DOMAIN ">;tag=%s\r\n"
			    "Call-ID: %s\r\n"
			    "CSeq: %u %s\r\n"
			    "Content-Length: 0\r\n\r\n",
			    i ? "BYE" : "ACK", target, c->t.lport, b->run_id, ++b->branch_seq,
			    route, c->u.name, c->tag, c->calln, c->idx, c->to_tag, c->call_id,
			    i ? 3 : 2, i ? "BYE" : "ACK"))
			return;
	(void)send_out(b, c);
}

static void on_caller_resp(struct bench *b, struct conn *c, const struct sps_sip_msg *m)
{
	if (c->k == K_IDLE || !sps_slice_eq(m->call_id, sps_slice_cstr(c->call_id))) {
		b->err.unexpected++; /* a late answer to a call that timed out */
		return;
	}
	unsigned want = c->k == K_INVITE1 ? 1 : c->k == K_INVITE2 ? 2 : 3;
	if (m->cseq.num != want) {
		b->err.unexpected++;
		return;
	}
	if (m->status < 200) {
		if (m->status == 180 && c->k == K_INVITE2 && !c->ringing) {
			c->ringing = true;
			b->ringing++;
		}
		return;
	}
	if (c->k == K_INVITE1 && m->status == 407) {
		if (m->to)
			(void)sps_slice_to_cstr(m->to->tag, c->to_tag, sizeof(c->to_tag));
		call_authenticate(b, c, m);
		return;
	}
	if (c->k == K_INVITE2 && m->status < 300) {
		call_answered(b, c, m);
		return;
	}
	if (c->k == K_BYE && m->status == 200) {
		double now = now_s();
		lat_add(b, now - c->t0, c->t_200 - c->t0);
		c->k = K_IDLE;
		b->inflight--;
		b->done++;
		return;
	}
	/* any other final answer fails the call */
	b->err.last_status = m->status;
	b->err.status++;
	if (c->k != K_BYE && m->to) {
		(void)sps_slice_to_cstr(m->to->tag, c->to_tag, sizeof(c->to_tag));
		if (ack_non2xx(b, c, want) || send_out(b, c))
			return;
	}
	c->k = K_IDLE;
	b->inflight--;
}

/* ---- calls: the callee ---- */

/* Append the headers of req a response copies (RFC 3261 8.2.6.2): every
 * Via, Record-Route (for 18x/2xx to an INVITE, 12.1.1), From, To (with our
 * tag unless it has one), Call-ID, CSeq. */
static int resp_head(struct bench *b, struct conn *c, const struct sps_sip_msg *req,
		     const char *status, bool rr)
{
	if (out_add(b, c, "SIP/2.0 %s\r\n", status))
		return -1;
	for (unsigned i = 0; i < req->nhdrs; i++) {
		const struct sps_sip_hdr *h = &req->hdrs[i];
		if (h->id == SPS_HDR_VIA || (rr && h->id == SPS_HDR_RECORD_ROUTE) ||
		    h->id == SPS_HDR_FROM || h->id == SPS_HDR_CALL_ID || h->id == SPS_HDR_CSEQ) {
			if (out_add(b, c, "%s: %.*s\r\n", sps_sip_hdr_name(h->id),
				    SPS_SLICE_FMT(h->value)))
				return -1;
		} else if (h->id == SPS_HDR_TO) {
			bool tagged = req->to && req->to->tag.l;
			if (out_add(b, c, "To: %.*s%s%s%u\r\n", SPS_SLICE_FMT(h->value),
				    tagged ? "" : ";tag=", tagged ? "" : c->tag, c->idx))
				return -1;
		}
	}
	return 0;
}

static void on_callee_req(struct bench *b, struct conn *c, const struct sps_sip_msg *m)
{
	bool same = sps_slice_eq(m->call_id, sps_slice_cstr(c->cur_call));
	switch (m->meth) {
	case SPS_METHOD_INVITE:
		if (sps_slice_to_cstr(m->call_id, c->cur_call, sizeof(c->cur_call))) {
			b->err.bad_msg++;
			return;
		}
		c->got_invite = true;
		c->got_ack = false;
		if (resp_head(b, c, m, "180 Ringing", true) ||
		    out_add(b, c,
			    "Contact: <sip:%s@127.0.0.1:%u;transport=tls>\r\n"
			    "Content-Length: 0\r\n\r\n",
			    c->u.name, c->t.lport) ||
		    resp_head(b, c, m, "200 OK", true) ||
		    out_add(b, c,
			    "Contact: <sip:%s@127.0.0.1:%u;transport=tls>\r\n"
			    "Content-Type: application/sdp\r\n"
			    "Content-Length: %zu\r\n\r\n%s",
			    c->u.name, c->t.lport, sizeof(sdp_answer) - 1, sdp_answer))
			return;
		(void)send_out(b, c);
		return;
	case SPS_METHOD_ACK:
		if (!same || !c->got_invite || c->got_ack)
			b->err.callee_order++;
		c->got_ack = true;
		b->acks_seen++;
		return;
	case SPS_METHOD_BYE:
		/* RFC 3261 15.1.2: the BYE of a call whose 2xx was ACKed */
		if (!same || !c->got_ack)
			b->err.callee_order++;
		c->got_invite = c->got_ack = false;
		b->byes_seen++;
		if (resp_head(b, c, m, "200 OK", false) || out_add(b, c, "Content-Length: 0\r\n\r\n"))
			return;
		(void)send_out(b, c);
		return;
	default:
		b->err.unexpected++;
		return;
	}
}

/* One message m read on c's connection (bench_tls_msg_h; m lives in
 * b->cl.arena and c->t.in until the next one, NULL when it did not parse). */
static void on_message(struct bench_tls *t, const struct sps_sip_msg *m, void *arg)
{
	struct bench *b = arg;
	struct conn *c = t->owner;
	if (!m) {
		b->err.bad_msg++;
		return;
	}
	if (m->is_request) {
		if (c->callee && c->st == C_READY)
			on_callee_req(b, c, m);
		else
			b->err.unexpected++;
		return;
	}
	if (!m->has_cseq) {
		b->err.bad_msg++;
		return;
	}
	if (m->cseq.meth == SPS_METHOD_REGISTER)
		on_register_resp(b, c, m);
	else if (!c->callee)
		on_caller_resp(b, c, m);
	else
		b->err.unexpected++;
}

/* ---- connections ---- */

/* Open c's TCP connection (non-blocking) and set its TLS client up: the
 * server's certificate must chain to the CA and name DOMAIN. */
static void conn_start(struct bench *b, struct conn *c)
{
	c->st = C_HANDSHAKE;
	b->inflight++;
	c->t0 = now_s();
	c->deadline = c->t0 + REQ_TIMEOUT_S;
	int rc = bench_tls_start(&c->t, &b->cl, c);
	if (rc != BENCH_TLS_OK)
		conn_fail(b, c, tls_counter(b, rc));
}

/* An epoll event on c. Once the handshake is done, send the first REGISTER
 * (no credentials yet: RFC 3261 22.4, the 401 brings the challenge). */
static void conn_event(struct bench *b, struct conn *c, unsigned ev)
{
	int rc = bench_tls_event(&c->t, &b->cl, ev, on_message, b);
	if (rc == BENCH_TLS_UP) {
		c->st = C_REG;
		(void)send_register(b, c, false);
	} else if (rc != BENCH_TLS_OK) {
		conn_fail(b, c, tls_counter(b, rc));
	}
}

/* ---- the two phases ---- */

/* Run phase 1 (every phone connects and registers, window at once) or 2
 * (each idle caller whose callee is registered starts its next call while
 * fewer than b->max_calls were started) until all is done or deadline.
 * What is still outstanding then counts as a timeout. Returns the
 * wall-clock seconds it took; *cut tells whether the deadline ended it. */
static double run_phase(struct bench *b, int phase, unsigned window, double deadline, bool *cut)
{
	struct epoll_event evs[EPOLL_BATCH];
	double t0 = now_s(), next_scan = t0 + SCAN_EVERY_S;
	unsigned next = 0;
	b->phase = phase;
	b->inflight = 0;
	b->done = 0;
	*cut = true;
	for (unsigned long it = 0; it < LOOP_MAX && !g_stop; it++) {
		double now = now_s();
		if (now >= deadline)
			break;
		if (phase == 1) {
			while (b->inflight < window && next < b->n)
				conn_start(b, &b->conns[next++]);
		} else {
			for (unsigned i = 0; i < b->n && b->started < b->max_calls; i += 2) {
				struct conn *c = &b->conns[i];
				if (c->st == C_READY && c->k == K_IDLE && !c->t.out_len &&
				    peer_of(b, c)->st == C_READY)
					call_start(b, c);
			}
		}
		if (!b->inflight && (phase == 1 ? next >= b->n : b->started >= b->max_calls)) {
			*cut = false;
			break;
		}
		if (phase == 2 && !b->inflight) {
			*cut = false; /* no pair can call any more (all failed) */
			break;
		}
		int n = epoll_wait(b->cl.epfd, evs, EPOLL_BATCH, 50);
		for (int i = 0; i < n; i++)
			conn_event(b, evs[i].data.ptr, evs[i].events);
		if (now >= next_scan) {
			for (unsigned i = 0; i < b->n; i++) {
				struct conn *c = &b->conns[i];
				if (c->deadline >= now)
					continue;
				if (c->k != K_IDLE) { /* the call failed; the pair goes on */
					b->err.timeout++;
					c->k = K_IDLE;
					b->inflight--;
				} else if (c->st == C_HANDSHAKE || c->st == C_REG) {
					conn_fail(b, c, &b->err.timeout);
				}
			}
			next_scan = now + SCAN_EVERY_S;
		}
	}
	double el = now_s() - t0;
	for (unsigned i = 0; i < b->n; i++) {
		struct conn *c = &b->conns[i];
		if (c->st == C_HANDSHAKE || c->st == C_REG || c->k != K_IDLE)
			conn_fail(b, c, &b->err.timeout);
	}
	return el;
}

/* Serve the connections (pings, stray messages) for secs without calls. */
static void idle(struct bench *b, double secs)
{
	struct epoll_event evs[EPOLL_BATCH];
	double end = now_s() + secs;
	for (unsigned long it = 0; it < LOOP_MAX && !g_stop && now_s() < end; it++) {
		int n = epoll_wait(b->cl.epfd, evs, EPOLL_BATCH, 100);
		for (int i = 0; i < n; i++)
			conn_event(b, evs[i].data.ptr, evs[i].events);
	}
}

static void print_lat(const char *name, double *v, size_t n)
{
	qsort(v, n, sizeof(double), cmp_double);
	printf(" %s_p50_ms=%.2f %s_p90_ms=%.2f %s_p99_ms=%.2f %s_max_ms=%.2f", name,
	       pct_ms(v, n, 0.50), name, pct_ms(v, n, 0.90), name, pct_ms(v, n, 0.99), name,
	       pct_ms(v, n, 1.0));
}

/* ---- users in the store ---- */

static struct bench_user *user_of(unsigned i, void *arg)
{
	struct bench *b = arg;
	return &b->conns[i].u;
}

/* ---- main ---- */

static void usage(void)
{
	fprintf(stderr,
		"usage: call_bench [--sipsec PATH] [-p PAIRS] [-n CALLS] [-t SECONDS] [-c N] [-l SECONDS]\n"
		"                  [-a ALG]"
		" [--serve-arg OPTION]...\n"
		"  --sipsec PATH  the sipsec binary to start (default: ../sipsec next to this program)\n"
		"  -p PAIRS       caller/callee pairs, each phone on its own TLS connection; one call\n"
		"                 at a time per pair, so PAIRS calls are in progress at once (200)\n"
		"  -n CALLS       calls to make in all (20000)\n"
		"  -t SECONDS     wall-clock limit of the whole run (120)\n"
		"  -c N           registrations in flight at once before the calls (64)\n"
		"  -l SECONDS     then keep the connections idle that long (the answered calls'\n"
		"                 transactions end 32 s after them), report the server's memory, and\n"
		"                 make CALLS calls once more: does the server reuse the memory?\n"
		"  -a ALG         answer the SHA-256 or the MD5 challenge (default: the first offered)\n"
		"  --serve-arg OPTION  one more argument for `sipsec serve` (repeat it for each word),\n"
		"                 at most 16\n");
}

int main(int argc, char **argv)
{
	unsigned pairs = 200, ncalls = 20000, max_s = 120, conc = 64, linger = 0;
	const char *sipsec = NULL, *extra[MAX_EXTRA];
	unsigned nextra = 0;
	char sipsec_buf[PATH_MAX + 16], dir[] = "/tmp/sps-callbench.XXXXXX";
	char data[PATH_MAX], log[PATH_MAX];
	struct bench bb, *b = &bb;
	pid_t pid = 0;
	int rc = 1, opt;
	bool made_dir = false, cut1 = false, cut2 = false;
	static const struct option longopts[] = {
		{"sipsec", required_argument, NULL, 's'},
		{"serve-arg", required_argument, NULL, 'x'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};

	memset(b, 0, sizeof(*b));
	b->cl.epfd = -1;
	sps_log_set_level(SPS_LOG_WARN); /* the store API here: no "schema migrated" */
	setvbuf(stdout, NULL, _IOLBF, 0);
	b->want_alg = -1;
	while ((opt = getopt_long(argc, argv, "s:p:n:t:c:l:a:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 's':
			sipsec = optarg;
			break;
		case 'x':
			if (nextra == MAX_EXTRA)
				goto bad;
			extra[nextra++] = optarg;
			break;
		case 'p':
			if (!parse_uint(optarg, 1, 9000, &pairs))
				goto bad;
			break;
		case 'n':
			if (!parse_uint(optarg, 1, 100000000, &ncalls))
				goto bad;
			break;
		case 't':
			if (!parse_uint(optarg, 1, 86400, &max_s))
				goto bad;
			break;
		case 'c':
			if (!parse_uint(optarg, 1, 100000, &conc))
				goto bad;
			break;
		case 'h':
			usage();
			return 0;
		case 'l':
			if (!parse_uint(optarg, 1, 3600, &linger))
				goto bad;
			break;
		case 'a':
			if (!bench_parse_alg(optarg, &b->want_alg))
				goto bad;
			break;
		default:
			goto bad;
		}
	}
	if (optind != argc)
		goto bad;
	double t_end = now_s() + max_s;

	catch_signals();

	unsigned n = 2 * pairs;
	unsigned long long nofile = raise_nofile();
	if ((unsigned long long)n + 256 > nofile) {
		fprintf(stderr,
			"call_bench: -p %u needs %u connections, over the open-file limit of %llu; "
			"lower -p or raise the limit (ulimit -n)\n",
			pairs, n, nofile);
		return 1;
	}

	if (!(sipsec = sipsec_path(sipsec, sipsec_buf, sizeof(sipsec_buf))))
		goto bad;
	if (!sipsec_runnable("call_bench", sipsec, "--sipsec"))
		return 1;

	/* client state */
	if (run_id_new(b->run_id) != 0)
		return 1;
	b->n = n;
	b->max_calls = ncalls;
	b->conns = calloc(n, sizeof(*b->conns));
	b->caplat = ncalls;
	b->lat = calloc(b->caplat, sizeof(double));
	b->setup = calloc(b->caplat, sizeof(double));
	if (bench_hasher_init(&b->hs) != 0 || !b->conns || !b->lat || !b->setup ||
	    bench_client_init(&b->cl) != 0) {
		fprintf(stderr, "call_bench: out of memory for %u pairs\n", pairs);
		goto out;
	}
	for (unsigned i = 0; i < n; i++) {
		struct conn *c = &b->conns[i];
		c->idx = i / 2;
		c->callee = i % 2;
		snprintf(c->u.name, sizeof(c->u.name), "%s%u", c->callee ? "callee" : "caller",
			 c->idx);
		snprintf(c->reg_call_id, sizeof(c->reg_call_id), "%.16s-r%u@call-bench", b->run_id, i);
		snprintf(c->tag, sizeof(c->tag), "%.8s%x", b->run_id, i);
		if (bench_tls_init(&c->t, OUT_MAX, IN_FIRST) != 0) {
			fprintf(stderr, "call_bench: out of memory for %u pairs\n", pairs);
			goto out;
		}
	}

	/* the server, with the users in its store */
	if (!mkdtemp(dir)) {
		perror("call_bench: mkdtemp");
		goto out;
	}
	made_dir = true;
	snprintf(data, sizeof(data), "%s/data", dir);
	snprintf(log, sizeof(log), "%s/serve.log", dir);
	if (bench_add_users("call_bench", data, DOMAIN, b->run_id, n, &b->hs, user_of, b) != 0)
		goto out;
	unsigned sip_port, tls_port;
	if (!sip_server_ports("call_bench", &sip_port, &tls_port))
		goto out;
	pid = start_sip_server("call_bench", sipsec, data, log, DOMAIN, sip_port, tls_port, n + 100,
			       extra, nextra);
	if (!pid)
		goto out;
	if (bench_client_target(&b->cl, "call_bench", data, DOMAIN, tls_port) != 0)
		goto out;
	printf("# call_bench: server pid %ld, TLS 127.0.0.1:%u, domain " DOMAIN "; %ld cpus "
	       "shared by server and client (1 thread); %u pairs = %u TLS connections, %u calls\n",
	       (long)pid, tls_port, sysconf(_SC_NPROCESSORS_ONLN), pairs, n, ncalls);

	/* 1. every phone registers and keeps its connection */
	double el1 = run_phase(b, 1, conc < n ? conc : n, t_end, &cut1);
	unsigned long regs = b->done;
	printf("call_bench: registered=%lu of %u in %.2f s\n", regs, n, el1);

	/* 2. the calls */
	long rss0 = proc_kb(pid, "VmRSS:");
	double s_cpu0 = proc_cpu_s(pid), c_cpu0 = self_cpu_s();
	double el2 = run_phase(b, 2, 0, t_end, &cut2);
	double s_cpu = proc_cpu_s(pid) - s_cpu0, c_cpu = self_cpu_s() - c_cpu0;
	long rss1 = proc_kb(pid, "VmRSS:");
	unsigned long calls = b->done;
	printf("call_bench: calls=%lu calls_per_s=%.0f", calls, el2 > 0 ? calls / el2 : 0);
	print_lat("setup", b->setup, b->nlat);
	print_lat("call", b->lat, b->nlat);
	printf(" server_cpu_us_per_call=%.0f\n", calls ? s_cpu * 1e6 / calls : 0);
	printf("# calls: %lu complete of %lu started in %.2f s, %u pairs; server cpu %.2f s (%.0f%% "
	       "of one core: %.0f calls per server cpu second), client cpu %.0f us/call; callee "
	       "saw %lu ACKs and %lu BYEs; callers saw 180 in %lu calls%s\n",
	       calls, b->started, el2, pairs, s_cpu, el2 > 0 ? 100 * s_cpu / el2 : 0,
	       s_cpu > 0 ? calls / s_cpu : 0, calls ? c_cpu * 1e6 / calls : 0, b->acks_seen,
	       b->byes_seen, b->ringing, cut2 ? "; stopped at the -t limit" : "");
	/* RFC 6026: an answered INVITE's transactions (server and client side)
	 * stay 64*T1 = 32 s in the Accepted state, so a run shorter than that
	 * shows what each call holds in the server for that long */
	printf("# server memory: VmRSS %.1f MB before the calls, %.1f MB after (%.1f KB per call "
	       "made, held until the transactions end), peak VmHWM %.1f MB\n",
	       rss0 / 1024.0, rss1 / 1024.0, calls ? (double)(rss1 - rss0) / (double)calls : 0,
	       proc_kb(pid, "VmHWM:") / 1024.0);
	bool cut3 = false;
	unsigned long calls2 = ncalls;
	if (linger && !cut2 && !g_stop) {
		idle(b, linger);
		long rss2 = proc_kb(pid, "VmRSS:");
		b->max_calls += ncalls;
		b->nlat = 0;
		s_cpu0 = proc_cpu_s(pid);
		double el3 = run_phase(b, 2, 0, t_end, &cut3);
		s_cpu = proc_cpu_s(pid) - s_cpu0;
		calls2 = b->done;
		long rss3 = proc_kb(pid, "VmRSS:");
		printf("call_bench: round2_calls=%lu round2_calls_per_s=%.0f", calls2,
		       el3 > 0 ? calls2 / el3 : 0);
		print_lat("setup", b->setup, b->nlat);
		print_lat("call", b->lat, b->nlat);
		printf(" round2_server_cpu_us_per_call=%.0f\n", calls2 ? s_cpu * 1e6 / calls2 : 0);
		printf("# after %u s idle: VmRSS %.1f MB; %lu more calls in %.2f s: VmRSS %.1f MB "
		       "(%.1f KB per call); server cpu %.2f s (%.0f%% of one core: %.0f calls per "
		       "server cpu second)%s\n",
		       linger, rss2 / 1024.0, calls2, el3, rss3 / 1024.0,
		       calls2 ? (double)(rss3 - rss2) / (double)calls2 : 0, s_cpu,
		       el3 > 0 ? 100 * s_cpu / el3 : 0, s_cpu > 0 ? calls2 / s_cpu : 0,
		       cut3 ? "; stopped at the -t limit" : "");
	}
	const struct errors *e = &b->err;
	printf("call_bench: errors=%lu\n", errors_total(e));
	printf("# errors: connect=%lu tls=%lu closed=%lu timeout=%lu register_refused=%lu "
	       "no_usable_challenge=%lu status=%lu",
	       e->connect, e->tls, e->closed, e->timeout, e->reg_refused, e->no_challenge,
	       e->status);
	if (e->last_status)
		printf(" (e.g. %u)", e->last_status);
	printf(" bad_message=%lu overflow=%lu unexpected=%lu callee_out_of_order=%lu\n", e->bad_msg,
	       e->overflow, e->unexpected, e->callee_order);
	if (bench_tls_first_err[0])
		printf("# first TLS failure: %s\n", bench_tls_first_err);
	rc = errors_total(e) || cut1 || cut2 || cut3 || g_stop || regs != n || calls != ncalls ||
		     calls2 != ncalls
		     ? 1
		     : 0;
out:
	for (unsigned i = 0; b->conns && i < n; i++)
		if (b->conns[i].t.out) /* set up by bench_tls_init */
			bench_tls_free(&b->conns[i].t);
	if (pid && !server_stopped("call_bench", pid, log))
		rc = 1;
	bench_client_free(&b->cl);
	bench_hasher_free(&b->hs);
	free(b->conns);
	free(b->lat);
	free(b->setup);
	if (made_dir)
		nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	return rc;
bad:
	usage();
	return 2;
}
