/* bench/reg_bench: how many REGISTERs with digest authentication over TLS
 * `sipsec serve` answers per second, and how long each takes. One command:
 * it makes a temp data dir with N users (added straight through the store
 * API), starts the server on 127.0.0.1 with free ports, drives it, and
 * stops it.
 *
 *   build/release/bench/reg_bench --sipsec build/release/sipsec [-n 1000] [-r 10]
 *
 * Every client verifies the server against DATA/certs/ca.pem and the host
 * name bench.test (the SIP domain, sent as SNI too), like a phone would.
 *
 * 1. "new connection each": for each user a new TLS connection, REGISTER,
 *    401 with the challenges, REGISTER with Digest credentials (qop=auth,
 *    nc=00000001), 200. The connection is kept open, as a phone keeps its
 *    flow. -c registrations are in flight at once. The latency of one is
 *    from connect() (the first byte sent) to its 200 received: TCP and TLS
 *    handshakes, both REGISTERs and the group commit.
 * 2. "refresh over kept connections": -r rounds in which every user sends
 *    a refresh REGISTER on its connection, reusing the last nonce with the
 *    next nonce-count (RFC 7616 3.4: nc=00000002, ...); up to -w refreshes
 *    are outstanding across the connections (one per connection, as RFC
 *    3261 10.2 asks of a UA). A 401 (stale=true, or a new challenge) is
 *    answered with fresh credentials and counted. The latency is from the
 *    refresh written to its 200 read.
 * Each 200 must list the user's Contact. Afterwards the bindings in the
 * database are counted (bindings_in_db) while the server still runs.
 *
 * Client and server share the machine's cores: the server's CPU time per
 * operation (utime+stime of all its threads, /proc/PID/stat, 10 ms ticks)
 * and the share of one core it used are printed, so a rate limited by the
 * client (or by other work on the machine) can be told from one limited by
 * the server. The client is one thread (epoll, non-blocking sockets).
 * SIPSEC_STORE_SYNC=full in the environment reaches the server (an fsync
 * per group commit); the default is synchronous=NORMAL in WAL mode.
 * -a picks the digest algorithm, --serve-arg passes more options to
 * `sipsec serve` (e.g. --nonce-ttl 1 to exercise stale nonces).
 *
 * Exit status: 0 when every user registered and refreshed without error
 * and the database holds a binding for each; 1 otherwise; 2 for bad usage. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>

#include "auth/digest.h"
#include "core/arena.h"
#include "core/log.h"
#include "sip/frame.h"
#include "sip/msg.h"
#include "store/store.h"

#define DOMAIN "bench.test"
#define RURI "sip:" DOMAIN
#define EPOLL_BATCH 256
#define LOOP_MAX 1000000000UL  /* iteration bound of the event loop */
#define START_TIMEOUT_S 30.0
#define STOP_TIMEOUT_S 10.0

#include "bench_serve.h"
#define REQ_TIMEOUT_S 32.0     /* RFC 3261 Timer F: a request unanswered this long failed */
#define SCAN_EVERY_S 0.5       /* how often requests are checked for that timeout */
#define MAX_REAUTH 2           /* 401s answered per request before it counts as refused */
#define OUT_MAX 1536           /* one REGISTER with credentials */
#define IN_MAX (SPS_SIP_MAX_MSG + 1)
#define NONCE_MAX 128
#define MAX_EXTRA 16           /* --serve-arg options */
#define OPAQUE_MAX 128

/* ---- digest (RFC 7616 3.4.1), computed here with EVP, not with src/auth ---- */

struct hasher {
	EVP_MD_CTX *ctx;
	EVP_MD *md[2]; /* indexed by enum sps_digest_alg */
};

/* hex = H(data) in lowercase hex for alg. Returns 0 or -1. */
static int hash_hex(struct hasher *h, enum sps_digest_alg alg, const char *data, size_t len,
		    char *hex)
{
	static const char digits[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned ml = 0;
	if (EVP_DigestInit_ex(h->ctx, h->md[alg], NULL) != 1 ||
	    EVP_DigestUpdate(h->ctx, data, len) != 1 || EVP_DigestFinal_ex(h->ctx, md, &ml) != 1)
		return -1;
	for (unsigned i = 0; i < ml; i++) {
		hex[2 * i] = digits[md[i] >> 4];
		hex[2 * i + 1] = digits[md[i] & 15];
	}
	hex[2 * ml] = '\0';
	return 0;
}

/* ---- the benchmark's state ---- */

enum cstate {
	C_NEW = 0,   /* no connection yet */
	C_HANDSHAKE, /* TCP connect and TLS handshake */
	C_WAIT,      /* a REGISTER is outstanding */
	C_IDLE,      /* registered, connection kept, nothing outstanding */
	C_DEAD,      /* failed; connection closed */
};

/* One user and its connection (a phone). */
struct conn {
	unsigned idx;
	int fd;
	SSL *ssl;
	enum cstate st;
	unsigned events;	   /* what epoll watches */
	uint16_t lport;		   /* our port: Via sent-by and Contact */
	char name[24];		   /* "user42" */
	char ha1[2][SPS_HA1_SHA256_HEX + 1]; /* by enum sps_digest_alg */
	char call_id[48];
	char from_tag[24];
	uint32_t cseq;		   /* of the last request sent */
	/* the challenge in use: nonce reused with an increasing nc */
	bool have_nonce;
	enum sps_digest_alg alg;
	char nonce[NONCE_MAX];
	char opaque[OPAQUE_MAX];
	uint32_t nc;
	/* the outstanding request */
	double t0;		   /* first byte sent (connect, or the refresh written) */
	double t_hs, t_chal;	   /* phase 1: TLS handshake done, 401 received */
	double deadline;	   /* REQ_TIMEOUT_S later: counted as a timeout */
	unsigned reauth;	   /* 401s to credentials answered for it */
	bool authed;		   /* it carries credentials */
	unsigned refreshes_left;
	/* bytes: a request waiting for the socket, and what was read */
	char out[OUT_MAX];
	size_t out_len;
	char *in;
	size_t in_len, in_cap;
};

struct errors {
	unsigned long connect, tls, closed, timeout, status_403, status_other, bad_msg,
		no_challenge, no_contact, auth_refused, unexpected;
	unsigned last_status; /* an example of status_other */
};

struct bench {
	struct conn *conns;
	unsigned n;
	int epfd;
	SSL_CTX *ctx;
	struct sockaddr_in dst;
	struct sps_arena *arena;
	struct hasher hs;
	char ha2[2][SPS_HA1_SHA256_HEX + 1]; /* H("REGISTER:" RURI), by algorithm */
	int want_alg;  /* -1: the first challenge offered */
	char run_id[17];
	unsigned long branch_seq, cnonce_seq;
	/* the phase */
	int phase;	       /* 1: new connection each, 2: refresh */
	unsigned inflight;     /* requests outstanding (phase 1: users being registered) */
	unsigned long done;    /* 200s of the phase */
	unsigned long stale, rechallenged; /* 401 stale=true / other 401 to credentials */
	unsigned *q;	       /* phase 2: users whose next refresh may go (a ring of n) */
	size_t qhead, qlen;
	double *lat;	       /* latencies of the phase, seconds */
	size_t nlat, caplat;
	/* phase 1, by step: connect to handshake done, to 401, to 200 */
	double *step[3];
	size_t nstep;
	struct errors err;
};

static unsigned long errors_total(const struct errors *e)
{
	return e->connect + e->tls + e->closed + e->timeout + e->status_403 + e->status_other +
	       e->bad_msg + e->no_challenge + e->no_contact + e->auth_refused + e->unexpected;
}

static void conn_close(struct bench *b, struct conn *c)
{
	if (c->ssl) {
		SSL_set_shutdown(c->ssl, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
		SSL_free(c->ssl);
		c->ssl = NULL;
	}
	if (c->fd >= 0) {
		struct linger lg = {1, 0}; /* RST: no TIME_WAIT left behind */
		(void)setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		(void)epoll_ctl(b->epfd, EPOLL_CTL_DEL, c->fd, NULL);
		close(c->fd);
		c->fd = -1;
	}
	free(c->in);
	c->in = NULL;
	c->in_len = c->in_cap = 0;
}

/* c failed: count it under *counter, close it, and free its slot. */
static void conn_fail(struct bench *b, struct conn *c, unsigned long *counter)
{
	(*counter)++;
	if (c->st == C_HANDSHAKE || c->st == C_WAIT)
		b->inflight--;
	c->st = C_DEAD;
	conn_close(b, c);
}

static int set_events(struct bench *b, struct conn *c, unsigned want)
{
	if (want == c->events)
		return 0;
	struct epoll_event ev = {.events = want, .data.ptr = c};
	if (epoll_ctl(b->epfd, EPOLL_CTL_MOD, c->fd, &ev) != 0)
		return -1;
	c->events = want;
	return 0;
}

/* ---- requests ---- */

/* Write the REGISTER (RFC 3261 10.2) of c into c->out: a new branch and the
 * next CSeq; with credentials for c's challenge and the next nc when auth.
 * Returns 0, or -1 when it does not fit or hashing failed. */
static int build_register(struct bench *b, struct conn *c, bool auth)
{
	char authz[640] = "";
	c->cseq++;
	if (auth) {
		char cnonce[32], ncs[9], buf[512], resp[SPS_HA1_SHA256_HEX + 1];
		snprintf(cnonce, sizeof(cnonce), "%08lx%08x", ++b->cnonce_seq, c->idx);
		snprintf(ncs, sizeof(ncs), "%08x", ++c->nc);
		/* response = H(HA1 ":" nonce ":" nc ":" cnonce ":" qop ":" HA2) */
		int l = snprintf(buf, sizeof(buf), "%s:%s:%s:%s:auth:%s", c->ha1[c->alg], c->nonce,
				 ncs, cnonce, b->ha2[c->alg]);
		if (l < 0 || (size_t)l >= sizeof(buf) ||
		    hash_hex(&b->hs, c->alg, buf, (size_t)l, resp) != 0)
			return -1;
		l = snprintf(authz, sizeof(authz),
			     "Authorization: Digest username=\"%s\", realm=\"" DOMAIN "\", "
			     "nonce=\"%s\", uri=\"" RURI "\", response=\"%s\", algorithm=%s, "
			     "cnonce=\"%s\",%s%s%s qop=auth, nc=%s\r\n",
			     c->name, c->nonce, resp, c->alg == SPS_DIGEST_SHA256 ? "SHA-256" : "MD5",
			     cnonce, c->opaque[0] ? " opaque=\"" : "", c->opaque,
			     c->opaque[0] ? "\"," : "", ncs);
		if (l < 0 || (size_t)l >= sizeof(authz))
			return -1;
	}
	int l = snprintf(c->out, sizeof(c->out),
			 "REGISTER " RURI " SIP/2.0\r\n"
			 "Via: SIP/2.0/TLS 127.0.0.1:%u;branch=z9hG4bK%s%lx;rport\r\n"
			 "Max-Forwards: 70\r\n"
			 "From: <sip:%s@" DOMAIN ">;tag=%s\r\n"
			 "To: <sip:%s@" DOMAIN ">\r\n"
			 "Call-ID: %s\r\n"
			 "CSeq: %u REGISTER\r\n"
			 "Contact: <sip:%s@127.0.0.1:%u;transport=tls>\r\n"
			 "Expires: 3600\r\n"
			 "%s"
			 "User-Agent: sipsec-reg-bench\r\n"
			 "Content-Length: 0\r\n\r\n",
			 c->lport, b->run_id, ++b->branch_seq, c->name, c->from_tag, c->name,
			 c->call_id, c->cseq, c->name, c->lport, authz);
	if (l < 0 || (size_t)l >= sizeof(c->out))
		return -1;
	c->out_len = (size_t)l;
	return 0;
}

/* Push c->out into the TLS connection. Returns 0 (written, or waiting for
 * EPOLLOUT with the same bytes) or -1 (connection broken). */
static int flush_out(struct bench *b, struct conn *c)
{
	if (!c->out_len)
		return set_events(b, c, EPOLLIN);
	ERR_clear_error();
	int r = SSL_write(c->ssl, c->out, (int)c->out_len);
	if (r > 0) {
		c->out_len = 0;
		return set_events(b, c, EPOLLIN);
	}
	int e = SSL_get_error(c->ssl, r);
	if (e == SSL_ERROR_WANT_WRITE)
		return set_events(b, c, EPOLLIN | EPOLLOUT);
	if (e == SSL_ERROR_WANT_READ)
		return set_events(b, c, EPOLLIN);
	return -1;
}

/* Build and send c's REGISTER; starts its clock when fresh (not a retry
 * after a 401). Returns 0 or -1 (c failed and was counted). */
static int send_register(struct bench *b, struct conn *c, bool auth, bool fresh)
{
	if (build_register(b, c, auth) != 0) {
		conn_fail(b, c, &b->err.bad_msg);
		return -1;
	}
	if (fresh) {
		c->t0 = now_s();
		c->reauth = 0;
	}
	c->authed = auth;
	c->deadline = now_s() + REQ_TIMEOUT_S;
	if (flush_out(b, c) != 0) {
		conn_fail(b, c, &b->err.closed);
		return -1;
	}
	return 0;
}

/* ---- responses ---- */

static void lat_add(struct bench *b, double secs)
{
	if (b->nlat < b->caplat)
		b->lat[b->nlat++] = secs;
}

/* Take the challenge of a 401 into c: the one for b->want_alg, or the first
 * offered with an algorithm we know. Returns 0, or -1 when none fits.
 * *stale tells whether it said stale=true. */
static int take_challenge(struct bench *b, struct conn *c, const struct sps_sip_msg *m,
			  bool *stale)
{
	for (const struct sps_sip_hdr *h = sps_sip_msg_hdr_next(m, SPS_HDR_WWW_AUTHENTICATE, NULL);
	     h; h = sps_sip_msg_hdr_next(m, SPS_HDR_WWW_AUTHENTICATE, h)) {
		const struct sps_auth *a = h->parsed;
		enum sps_digest_alg alg;
		if (!a || !sps_slice_eq_cstr_ci(a->scheme, "Digest") || !a->nonce.p)
			continue;
		if (!a->algorithm.p || sps_slice_eq_cstr_ci(a->algorithm, "MD5"))
			alg = SPS_DIGEST_MD5;
		else if (sps_slice_eq_cstr_ci(a->algorithm, "SHA-256"))
			alg = SPS_DIGEST_SHA256;
		else
			continue;
		if (b->want_alg >= 0 && (int)alg != b->want_alg)
			continue;
		if (!a->realm.p || !sps_slice_eq_cstr_ci(a->realm, DOMAIN) ||
		    (a->qop.p && !memmem(a->qop.p, a->qop.l, "auth", 4)) ||
		    sps_slice_to_cstr(a->nonce, c->nonce, sizeof(c->nonce)) != 0)
			return -1;
		if (!a->opaque.p)
			c->opaque[0] = '\0';
		else if (sps_slice_to_cstr(a->opaque, c->opaque, sizeof(c->opaque)) != 0)
			return -1;
		*stale = a->stale.p && sps_slice_eq_cstr_ci(a->stale, "true");
		c->alg = alg;
		c->nc = 0;
		c->have_nonce = true;
		return 0;
	}
	return -1;
}

/* Does a 200 list c's Contact (RFC 3261 10.3 step 8)? */
static bool lists_contact(const struct conn *c, const struct sps_sip_msg *m)
{
	char uri[96];
	snprintf(uri, sizeof(uri), "sip:%s@127.0.0.1:%u;transport=tls", c->name, c->lport);
	for (const struct sps_sip_hdr *h = sps_sip_msg_hdr_next(m, SPS_HDR_CONTACT, NULL); h;
	     h = sps_sip_msg_hdr_next(m, SPS_HDR_CONTACT, h)) {
		const struct sps_contact *ct = h->parsed;
		if (ct && !ct->star && sps_slice_eq_cstr_ci(ct->na.uri_s, uri) && ct->expires > 0)
			return true;
	}
	return false;
}

/* Up to -w refreshes outstanding: the users whose next refresh may go. */
static void queue_push(struct bench *b, struct conn *c)
{
	if (b->qlen < b->n)
		b->q[(b->qhead + b->qlen++) % b->n] = c->idx;
}

/* One response m on c (m lives in b->arena and c->in until the next one). */
static void on_response(struct bench *b, struct conn *c, const struct sps_sip_msg *m)
{
	if (m->status < 200)
		return; /* provisional: keep waiting */
	if (c->st != C_WAIT || !m->has_cseq || m->cseq.num != c->cseq ||
	    m->cseq.meth != SPS_METHOD_REGISTER) {
		b->err.unexpected++;
		return;
	}
	if (m->status == 401) {
		bool stale = false;
		/* a 401 to credentials: the nonce went stale (stale=true) or
		 * was not accepted; answered with the new one, a few times */
		if (c->authed && ++c->reauth > MAX_REAUTH) {
			conn_fail(b, c, &b->err.auth_refused);
			return;
		}
		if (take_challenge(b, c, m, &stale) != 0) {
			conn_fail(b, c, &b->err.no_challenge);
			return;
		}
		if (c->authed)
			(*(stale ? &b->stale : &b->rechallenged))++;
		else
			c->t_chal = now_s();
		(void)send_register(b, c, true, false);
		return;
	}
	if (m->status == 200) {
		if (!lists_contact(c, m)) {
			conn_fail(b, c, &b->err.no_contact);
			return;
		}
		double now = now_s();
		lat_add(b, now - c->t0);
		if (b->phase == 1 && b->nstep < b->n) {
			b->step[0][b->nstep] = c->t_hs - c->t0;
			b->step[1][b->nstep] = c->t_chal - c->t_hs;
			b->step[2][b->nstep++] = now - c->t_chal;
		}
		b->done++;
		b->inflight--;
		c->st = C_IDLE;
		if (b->phase == 2 && c->refreshes_left)
			queue_push(b, c);
		return;
	}
	if (m->status == 403) {
		conn_fail(b, c, &b->err.status_403);
		return;
	}
	b->err.last_status = m->status;
	conn_fail(b, c, &b->err.status_other);
}

/* Read what c's connection holds and handle each message in it. */
static void conn_read(struct bench *b, struct conn *c)
{
	for (int i = 0; i < 256 && c->st != C_DEAD; i++) {
		if (c->in_cap - c->in_len < 2048) {
			size_t cap = c->in_cap ? c->in_cap * 2 : 4096;
			char *p = cap <= 2 * IN_MAX ? realloc(c->in, cap) : NULL;
			if (!p) {
				conn_fail(b, c, &b->err.bad_msg);
				return;
			}
			c->in = p;
			c->in_cap = cap;
		}
		ERR_clear_error();
		int r = SSL_read(c->ssl, c->in + c->in_len, (int)(c->in_cap - c->in_len));
		if (r <= 0) {
			int e = SSL_get_error(c->ssl, r);
			if (e == SSL_ERROR_WANT_READ)
				return;
			if (e == SSL_ERROR_WANT_WRITE) {
				if (set_events(b, c, EPOLLIN | EPOLLOUT) != 0)
					conn_fail(b, c, &b->err.closed);
				return;
			}
			/* the server closed it (or it broke) */
			conn_fail(b, c, &b->err.closed);
			return;
		}
		c->in_len += (size_t)r;
		/* RFC 3261 18.3: cut the stream into messages */
		size_t off = 0;
		for (int k = 0; k < 1024 && off < c->in_len; k++) {
			struct sps_frame f;
			const char *why = NULL;
			int rc = sps_sip_frame(c->in + off, c->in_len - off, &f, &why);
			if (rc == ENODATA)
				break;
			if (rc) {
				conn_fail(b, c, &b->err.bad_msg);
				return;
			}
			if (f.kind == SPS_FRAME_MSG) {
				struct sps_sip_msg *m;
				sps_arena_reset(b->arena);
				if (sps_sip_msg_parse(c->in + off, f.len, b->arena, &m, &why) != 0 ||
				    m->is_request)
					b->err.bad_msg++;
				else
					on_response(b, c, m);
				if (c->st == C_DEAD)
					return; /* c->in is gone */
			} else if (f.kind == SPS_FRAME_PING && !c->out_len) {
				memcpy(c->out, "\r\n", 2); /* RFC 5626 4.4.1 pong */
				c->out_len = 2;
				if (flush_out(b, c) != 0) {
					conn_fail(b, c, &b->err.closed);
					return;
				}
			}
			off += f.len;
		}
		memmove(c->in, c->in + off, c->in_len - off);
		c->in_len -= off;
	}
}

/* ---- connections ---- */

static char g_tls_err[256]; /* the first TLS failure, for the report */

static void note_tls_error(struct conn *c)
{
	if (g_tls_err[0])
		return;
	unsigned long e = ERR_peek_error();
	long vr = c->ssl ? SSL_get_verify_result(c->ssl) : X509_V_OK;
	if (vr != X509_V_OK)
		snprintf(g_tls_err, sizeof(g_tls_err), "certificate: %s",
			 X509_verify_cert_error_string(vr));
	else if (e)
		ERR_error_string_n(e, g_tls_err, sizeof(g_tls_err));
	else
		snprintf(g_tls_err, sizeof(g_tls_err), "connection closed during the handshake (%s)",
			 strerror(errno));
}

/* Open c's TCP connection (non-blocking) and set its TLS client up: the
 * server's certificate must chain to the CA and name DOMAIN. */
static void conn_start(struct bench *b, struct conn *c)
{
	int one = 1;
	struct sockaddr_in local;
	socklen_t ll = sizeof(local);
	c->st = C_HANDSHAKE;
	b->inflight++;
	c->t0 = now_s();
	c->deadline = c->t0 + REQ_TIMEOUT_S;
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		conn_fail(b, c, &b->err.connect);
		return;
	}
	(void)setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if ((connect(c->fd, (struct sockaddr *)&b->dst, sizeof(b->dst)) < 0 &&
	     errno != EINPROGRESS) ||
	    getsockname(c->fd, (struct sockaddr *)&local, &ll) != 0) {
		conn_fail(b, c, &b->err.connect);
		return;
	}
	c->lport = ntohs(local.sin_port);
	struct epoll_event ev = {.events = EPOLLOUT, .data.ptr = c};
	if (!(c->ssl = SSL_new(b->ctx)) || SSL_set_fd(c->ssl, c->fd) != 1 ||
	    SSL_set1_host(c->ssl, DOMAIN) != 1 || SSL_set_tlsext_host_name(c->ssl, DOMAIN) != 1 ||
	    epoll_ctl(b->epfd, EPOLL_CTL_ADD, c->fd, &ev) != 0) {
		note_tls_error(c);
		conn_fail(b, c, &b->err.tls);
		return;
	}
	c->events = EPOLLOUT;
	SSL_set_connect_state(c->ssl);
}

/* Drive c's TLS handshake; once done, send the first REGISTER (no
 * credentials yet: RFC 3261 22.4, the 401 brings the challenge). */
static void conn_handshake(struct bench *b, struct conn *c, unsigned ev)
{
	if (ev & EPOLLERR) {
		int soerr = 0;
		socklen_t sl = sizeof(soerr);
		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0 && soerr) {
			conn_fail(b, c, &b->err.connect);
			return;
		}
	}
	ERR_clear_error();
	int r = SSL_do_handshake(c->ssl);
	if (r == 1) {
		c->t_hs = now_s();
		c->st = C_WAIT;
		(void)send_register(b, c, false, false);
		return;
	}
	int e = SSL_get_error(c->ssl, r);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
		if (set_events(b, c, e == SSL_ERROR_WANT_READ ? EPOLLIN : EPOLLOUT) != 0)
			conn_fail(b, c, &b->err.tls);
		return;
	}
	note_tls_error(c);
	conn_fail(b, c, &b->err.tls);
}

static void conn_event(struct bench *b, struct conn *c, unsigned ev)
{
	if (c->st == C_DEAD || c->st == C_NEW)
		return;
	if (c->st == C_HANDSHAKE) {
		conn_handshake(b, c, ev);
		return;
	}
	if ((ev & EPOLLOUT) && flush_out(b, c) != 0) {
		conn_fail(b, c, &b->err.closed);
		return;
	}
	if (ev & (EPOLLIN | EPOLLERR | EPOLLHUP))
		conn_read(b, c);
}

/* ---- the two phases ---- */

/* Run phase 1 (a new connection per user) or 2 (refreshes of the users in
 * b->q) with at most window requests outstanding, until all are answered
 * or deadline. Requests still outstanding at the deadline count as
 * timeouts. Returns the wall-clock seconds it took; *cut tells whether the
 * deadline ended it. */
static double run_phase(struct bench *b, int phase, unsigned window, double deadline, bool *cut)
{
	struct epoll_event evs[EPOLL_BATCH];
	double t0 = now_s(), next_scan = t0 + SCAN_EVERY_S;
	unsigned next_new = 0;
	b->phase = phase;
	b->inflight = 0;
	b->done = b->stale = b->rechallenged = 0;
	b->nlat = 0;
	*cut = true;
	for (unsigned long it = 0; it < LOOP_MAX && !g_stop; it++) {
		double now = now_s();
		if (now >= deadline)
			break;
		if (phase == 1) {
			while (b->inflight < window && next_new < b->n)
				conn_start(b, &b->conns[next_new++]);
		} else {
			while (b->inflight < window && b->qlen) {
				struct conn *c = &b->conns[b->q[b->qhead]];
				b->qhead = (b->qhead + 1) % b->n;
				b->qlen--;
				if (c->st != C_IDLE)
					continue;
				c->refreshes_left--;
				c->st = C_WAIT;
				b->inflight++;
				(void)send_register(b, c, c->have_nonce, true);
			}
		}
		if (!b->inflight && (phase == 1 ? next_new >= b->n : !b->qlen)) {
			*cut = false;
			break;
		}
		int n = epoll_wait(b->epfd, evs, EPOLL_BATCH, 50);
		for (int i = 0; i < n; i++)
			conn_event(b, evs[i].data.ptr, evs[i].events);
		if (now >= next_scan) {
			for (unsigned i = 0; i < b->n; i++) {
				struct conn *c = &b->conns[i];
				if ((c->st == C_HANDSHAKE || c->st == C_WAIT) && c->deadline < now)
					conn_fail(b, c, &b->err.timeout);
			}
			next_scan = now + SCAN_EVERY_S;
		}
	}
	double el = now_s() - t0;
	for (unsigned i = 0; i < b->n; i++) {
		struct conn *c = &b->conns[i];
		if (c->st == C_HANDSHAKE || c->st == C_WAIT)
			conn_fail(b, c, &b->err.timeout);
	}
	return el;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* The p-quantile (0 < p <= 1) of the sorted v, in milliseconds (nearest rank). */
static double pct_ms(const double *v, size_t n, double p)
{
	if (!n)
		return 0;
	size_t k = (size_t)ceil(p * (double)n);
	return 1000.0 * v[k ? k - 1 : 0];
}

static void print_lat(const char *prefix, struct bench *b)
{
	qsort(b->lat, b->nlat, sizeof(double), cmp_double);
	printf("%sp50_ms=%.2f p90_ms=%.2f p99_ms=%.2f max_ms=%.2f", prefix,
	       pct_ms(b->lat, b->nlat, 0.50), pct_ms(b->lat, b->nlat, 0.90),
	       pct_ms(b->lat, b->nlat, 0.99), pct_ms(b->lat, b->nlat, 1.0));
}

/* ---- users in the store ---- */

static void user_password(const struct bench *b, unsigned i, char *out, size_t size)
{
	snprintf(out, size, "pw-%s-%u", b->run_id, i);
}

/* Add the n users to the store of data (one transaction) with their HA1s
 * from sps_digest_ha1, set the realm, and fill in each conn's own HA1s,
 * hashed here with EVP. Returns 0 or -1 (reported). */
static int make_users(struct bench *b, const char *data)
{
	struct sps_store *st = NULL;
	const char *why = NULL;
	int err = sps_store_open(&st, data, &why);
	if (err) {
		fprintf(stderr, "reg_bench: cannot open the store in %s: %s\n", data,
			why ? why : strerror(err));
		return -1;
	}
	err = sps_store_begin(st);
	for (unsigned i = 0; i < b->n && !err; i++) {
		struct conn *c = &b->conns[i];
		struct sps_user u;
		char pw[64], buf[256];
		memset(&u, 0, sizeof(u));
		user_password(b, i, pw, sizeof(pw));
		snprintf(u.name, sizeof(u.name), "%s", c->name);
		snprintf(u.realm, sizeof(u.realm), "%s", DOMAIN);
		u.created = (int64_t)time(NULL);
		if ((err = sps_digest_ha1(SPS_DIGEST_MD5, u.name, DOMAIN, pw, u.ha1_md5,
					  sizeof(u.ha1_md5))) ||
		    (err = sps_digest_ha1(SPS_DIGEST_SHA256, u.name, DOMAIN, pw, u.ha1_sha256,
					  sizeof(u.ha1_sha256))) ||
		    (err = sps_store_user_add(st, &u)))
			break;
		/* HA1 = H(user ":" realm ":" password) (RFC 7616 3.4.2) */
		int l = snprintf(buf, sizeof(buf), "%s:" DOMAIN ":%s", c->name, pw);
		for (int a = 0; a < 2 && !err; a++)
			if (hash_hex(&b->hs, (enum sps_digest_alg)a, buf, (size_t)l, c->ha1[a]) != 0)
				err = EIO;
	}
	if (!err)
		err = sps_store_commit(st);
	if (!err)
		err = sps_store_setting_set(st, "realm", DOMAIN);
	sps_store_close(st);
	if (err) {
		fprintf(stderr, "reg_bench: cannot add %u users to %s: %s\n", b->n, data,
			strerror(err));
		return -1;
	}
	return 0;
}

static int count_binding(const struct sps_binding *bd, void *arg)
{
	(void)bd;
	(*(unsigned long *)arg)++;
	return 0;
}

/* Live bindings in the database of data (read while the server runs), or -1. */
static long count_bindings(const char *data)
{
	struct sps_store *st = NULL;
	unsigned long n = 0;
	if (sps_store_open(&st, data, NULL) != 0)
		return -1;
	int err = sps_store_binding_each(st, NULL, (int64_t)time(NULL), count_binding, &n);
	sps_store_close(st);
	return err ? -1 : (long)n;
}

/* ---- starting and stopping the server ---- */

/* fork/exec `sipsec serve` on data, 127.0.0.1, the given ports, room for
 * conns connections (all from 127.0.0.1), and the nextra options in extra;
 * wait for its pid file. Returns the pid, or 0 (reported). */
static pid_t start_server(const char *sipsec, const char *data, const char *log,
			  unsigned sip_port, unsigned tls_port, unsigned conns,
			  const char *const *extra, unsigned nextra)
{
	char sip_s[16], tls_s[16], max_s[16];
	snprintf(sip_s, sizeof(sip_s), "%u", sip_port);
	snprintf(tls_s, sizeof(tls_s), "%u", tls_port);
	snprintf(max_s, sizeof(max_s), "%u", conns);
	const char *argv[20 + MAX_EXTRA + 1] = {
		sipsec, "serve", "--data", data, "--domain", DOMAIN, "--listen", "127.0.0.1",
		"--sip-port", sip_s, "--tls-port", tls_s, "--https-port", "0", "--max-connections",
		max_s, "--max-connections-per-ip", max_s, "--log-level", "warn"};
	for (unsigned i = 0; i < nextra && i < MAX_EXTRA; i++)
		argv[20 + i] = extra[i];
	return spawn_server("reg_bench", argv, data, log);
}

/* ---- main ---- */

static void usage(void)
{
	fprintf(stderr,
		"usage: reg_bench [--sipsec PATH] [-n USERS] [-r ROUNDS] [-t SECONDS] [-c N] [-w N]\n"
		"                 [-a ALG] [--serve-arg OPTION]...\n"
		"  --sipsec PATH  the sipsec binary to start (default: ../sipsec next to this program)\n"
		"  -n USERS       users, each on its own TLS connection (1000)\n"
		"  -r ROUNDS      refresh REGISTERs per user over the kept connections (10)\n"
		"  -t SECONDS     wall-clock limit of the whole run (300)\n"
		"  -c N           new-connection registrations in flight at once (64)\n"
		"  -w N           refreshes outstanding at once, one per connection (200)\n"
		"  -a ALG         answer the SHA-256 or the MD5 challenge (default: the first offered)\n"
		"  --serve-arg OPTION  one more argument for `sipsec serve` (repeat it for each word;\n"
		"                 e.g. --serve-arg=--nonce-ttl --serve-arg=2), at most 16\n"
		"SIPSEC_STORE_SYNC=full in the environment makes the server fsync every group commit.\n");
}

static bool parse_uint(const char *s, unsigned lo, unsigned hi, unsigned *out)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi)
		return false;
	*out = (unsigned)v;
	return true;
}

static SSL_CTX *client_ctx(const char *ca)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx)
		return NULL;
	if (SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	/* a phone is a new client each: no session resumption */
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_mode(ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	return ctx;
}

int main(int argc, char **argv)
{
	unsigned n = 1000, rounds = 10, max_s = 300, conc = 64, window = 200;
	const char *sipsec = NULL, *extra[MAX_EXTRA];
	unsigned nextra = 0;
	char self[PATH_MAX], sipsec_buf[PATH_MAX + 16], dir[] = "/tmp/sps-regbench.XXXXXX";
	char data[PATH_MAX], log[PATH_MAX], ca[PATH_MAX + 16];
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
	b->epfd = -1;
	sps_log_set_level(SPS_LOG_WARN); /* the store API here: no "schema migrated" */
	setvbuf(stdout, NULL, _IOLBF, 0);  /* in order with the server log on stderr */
	b->want_alg = -1;
	while ((opt = getopt_long(argc, argv, "s:n:r:t:c:w:a:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 's':
			sipsec = optarg;
			break;
		case 'x':
			if (nextra == MAX_EXTRA)
				goto bad;
			extra[nextra++] = optarg;
			break;
		case 'n':
			if (!parse_uint(optarg, 1, 1000000, &n))
				goto bad;
			break;
		case 'r':
			if (!parse_uint(optarg, 0, 100000, &rounds))
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
		case 'w':
			if (!parse_uint(optarg, 1, 1000000, &window))
				goto bad;
			break;
		case 'a':
			if (strcasecmp(optarg, "SHA-256") == 0 || strcasecmp(optarg, "sha256") == 0)
				b->want_alg = SPS_DIGEST_SHA256;
			else if (strcasecmp(optarg, "MD5") == 0)
				b->want_alg = SPS_DIGEST_MD5;
			else
				goto bad;
			break;
		default:
			goto bad;
		}
	}
	if (optind != argc)
		goto bad;
	if ((unsigned long long)n * rounds > 100000000ULL) {
		fprintf(stderr, "reg_bench: -n %u x -r %u is over 10^8 refreshes; lower one\n", n,
			rounds);
		return 2;
	}
	double t_end = now_s() + max_s;

	struct sigaction sa = {.sa_handler = on_signal};
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	/* n connections here and n in the server (which inherits the limit) */
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	getrlimit(RLIMIT_NOFILE, &rl);
	if ((unsigned long long)n + 256 > (unsigned long long)rl.rlim_cur) {
		fprintf(stderr,
			"reg_bench: -n %u needs more open files than the limit of %llu; lower -n or "
			"raise the limit (ulimit -n)\n",
			n, (unsigned long long)rl.rlim_cur);
		return 1;
	}

	if (!sipsec) {
		ssize_t l = readlink("/proc/self/exe", self, sizeof(self) - 1);
		if (l <= 0)
			goto bad;
		self[l] = '\0';
		char *slash = strrchr(self, '/');
		if (slash)
			*slash = '\0';
		snprintf(sipsec_buf, sizeof(sipsec_buf), "%s/../sipsec", self);
		sipsec = sipsec_buf;
	}
	if (access(sipsec, X_OK) != 0) {
		fprintf(stderr, "reg_bench: %s: %s; name the sipsec binary with --sipsec\n", sipsec,
			strerror(errno));
		return 1;
	}

	/* client state */
	uint8_t rnd[8];
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		return 1;
	for (int i = 0; i < 8; i++)
		snprintf(b->run_id + 2 * i, 3, "%02x", rnd[i]);
	b->n = n;
	b->conns = calloc(n, sizeof(*b->conns));
	b->q = calloc(n, sizeof(*b->q));
	b->caplat = (size_t)n * (rounds > 1 ? rounds : 1);
	b->lat = calloc(b->caplat, sizeof(double));
	for (int i = 0; i < 3; i++)
		b->step[i] = calloc(n, sizeof(double));
	b->hs.ctx = EVP_MD_CTX_new();
	b->hs.md[SPS_DIGEST_MD5] = EVP_MD_fetch(NULL, "MD5", NULL);
	b->hs.md[SPS_DIGEST_SHA256] = EVP_MD_fetch(NULL, "SHA256", NULL);
	b->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (!b->conns || !b->q || !b->lat || !b->step[0] || !b->step[1] || !b->step[2] || !b->hs.ctx || !b->hs.md[0] || !b->hs.md[1] ||
	    b->epfd < 0 || sps_arena_new(&b->arena, 0) != 0) {
		fprintf(stderr, "reg_bench: out of memory for %u users\n", n);
		goto out;
	}
	for (int a = 0; a < 2; a++) {
		static const char ha2_in[] = "REGISTER:" RURI; /* HA2 = H(method ":" uri) */
		if (hash_hex(&b->hs, (enum sps_digest_alg)a, ha2_in, sizeof(ha2_in) - 1,
			     b->ha2[a]) != 0)
			goto out;
	}
	for (unsigned i = 0; i < n; i++) {
		struct conn *c = &b->conns[i];
		c->idx = i;
		c->fd = -1;
		snprintf(c->name, sizeof(c->name), "user%u", i);
		snprintf(c->call_id, sizeof(c->call_id), "%.16s-%u@reg-bench", b->run_id, i);
		snprintf(c->from_tag, sizeof(c->from_tag), "%.8s%x", b->run_id, i);
	}

	/* the server, with the users in its store */
	if (!mkdtemp(dir)) {
		perror("reg_bench: mkdtemp");
		goto out;
	}
	made_dir = true;
	snprintf(data, sizeof(data), "%s/data", dir);
	snprintf(log, sizeof(log), "%s/serve.log", dir);
	double t_users = now_s();
	if (make_users(b, data) != 0)
		goto out;
	t_users = now_s() - t_users;
	unsigned sip_port = free_port(), tls_port = free_port();
	if (!sip_port || !tls_port || sip_port == tls_port) {
		fprintf(stderr, "reg_bench: no free ports on 127.0.0.1\n");
		goto out;
	}
	pid = start_server(sipsec, data, log, sip_port, tls_port, n + 100, extra, nextra);
	if (!pid)
		goto out;
	snprintf(ca, sizeof(ca), "%s/certs/ca.pem", data);
	if (!(b->ctx = client_ctx(ca))) {
		fprintf(stderr, "reg_bench: cannot load the CA %s\n", ca);
		goto out;
	}
	b->dst.sin_family = AF_INET;
	b->dst.sin_port = htons((uint16_t)tls_port);
	b->dst.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	const char *sync = getenv("SIPSEC_STORE_SYNC");
	printf("# reg_bench: server pid %ld, TLS 127.0.0.1:%u, domain " DOMAIN ", store sync %s; "
	       "%ld cpus shared by server and client (1 thread); %u users added in %.2f s\n",
	       (long)pid, tls_port, sync && *sync ? sync : "normal",
	       sysconf(_SC_NPROCESSORS_ONLN), n, t_users);

	/* 1. a new connection each */
	conc = conc < n ? conc : n;
	double s_cpu0 = proc_cpu_s(pid), c_cpu0 = self_cpu_s();
	double el1 = run_phase(b, 1, conc, t_end, &cut1);
	double s_cpu1 = proc_cpu_s(pid) - s_cpu0, c_cpu1 = self_cpu_s() - c_cpu0;
	unsigned long regs = b->done;
	printf("reg_bench: users=%u new_conn_regs_per_s=%.0f ", n, el1 > 0 ? regs / el1 : 0);
	print_lat("", b);
	printf(" server_cpu_us_per_reg=%.0f\n", regs ? s_cpu1 * 1e6 / regs : 0);
	printf("# new connection each: %lu of %u registered in %.2f s, %u in flight; server cpu "
	       "%.2f s (%.0f%% of one core), client cpu %.0f us/registration%s\n",
	       regs, n, el1, conc, s_cpu1, el1 > 0 ? 100 * s_cpu1 / el1 : 0,
	       regs ? c_cpu1 * 1e6 / regs : 0, cut1 ? "; stopped at the -t limit" : "");
	unsigned long stale1 = b->stale + b->rechallenged;
	for (int i = 0; i < 3; i++)
		qsort(b->step[i], b->nstep, sizeof(double), cmp_double);
	printf("# new connection each, median by step: TCP+TLS handshake %.2f ms, REGISTER to 401 "
	       "%.2f ms, REGISTER with credentials to 200 %.2f ms\n",
	       pct_ms(b->step[0], b->nstep, 0.5), pct_ms(b->step[1], b->nstep, 0.5),
	       pct_ms(b->step[2], b->nstep, 0.5));

	/* 2. refreshes over the kept connections */
	b->qhead = b->qlen = 0;
	for (unsigned i = 0; i < n; i++) {
		struct conn *c = &b->conns[i];
		if (c->st == C_IDLE && rounds) {
			c->refreshes_left = rounds;
			queue_push(b, c);
		}
	}
	unsigned long refreshes = 0, reauth = 0;
	if (b->qlen && !g_stop) {
		window = window < b->qlen ? window : b->qlen;
		s_cpu0 = proc_cpu_s(pid);
		c_cpu0 = self_cpu_s();
		double el2 = run_phase(b, 2, window, t_end, &cut2);
		double s_cpu2 = proc_cpu_s(pid) - s_cpu0, c_cpu2 = self_cpu_s() - c_cpu0;
		refreshes = b->done;
		reauth = b->stale + b->rechallenged;
		printf("reg_bench: refreshes=%lu refresh_regs_per_s=%.0f ", refreshes,
		       el2 > 0 ? refreshes / el2 : 0);
		print_lat("", b);
		printf(" server_cpu_us_per_refresh=%.1f\n", refreshes ? s_cpu2 * 1e6 / refreshes : 0);
		printf("# refresh: %lu in %.2f s, %u outstanding, %u rounds; server cpu %.2f s (%.0f%% "
		       "of one core: %.0f refreshes per server cpu second), client cpu %.1f "
		       "us/refresh; re-authenticated %lu (stale %lu, new challenge %lu)%s\n",
		       refreshes, el2, window, rounds, s_cpu2, el2 > 0 ? 100 * s_cpu2 / el2 : 0,
		       s_cpu2 > 0 ? refreshes / s_cpu2 : 0, refreshes ? c_cpu2 * 1e6 / refreshes : 0,
		       reauth, b->stale, b->rechallenged, cut2 ? "; stopped at the -t limit" : "");
	}
	long nb = count_bindings(data);
	const struct errors *e = &b->err;
	printf("reg_bench: errors=%lu bindings_in_db=%ld\n", errors_total(e), nb);
	printf("# errors: connect=%lu tls=%lu closed=%lu timeout=%lu 403=%lu other_status=%lu",
	       e->connect, e->tls, e->closed, e->timeout, e->status_403, e->status_other);
	if (e->last_status)
		printf(" (e.g. %u)", e->last_status);
	printf(" bad_response=%lu no_usable_challenge=%lu no_contact_in_200=%lu auth_refused=%lu "
	       "unexpected=%lu; 401 to credentials in phase 1: %lu\n",
	       e->bad_msg, e->no_challenge, e->no_contact, e->auth_refused, e->unexpected, stale1);
	if (g_tls_err[0])
		printf("# first TLS failure: %s\n", g_tls_err);
	rc = errors_total(e) || cut1 || cut2 || g_stop || nb != (long)regs ? 1 : 0;
out:
	for (unsigned i = 0; b->conns && i < n; i++)
		conn_close(b, &b->conns[i]);
	if (pid) {
		int st = stop_server(pid);
		if (st != 0) {
			fprintf(stderr, "reg_bench: the server exited with %d on SIGTERM\n", st);
			rc = 1;
		}
		struct stat lst;
		if (stat(log, &lst) == 0 && lst.st_size > 0) {
			fprintf(stderr, "# the server's log (--log-level warn):\n");
			print_log(log, "  | ", 20);
		}
	}
	if (b->ctx)
		SSL_CTX_free(b->ctx);
	if (b->arena)
		sps_arena_free(b->arena);
	EVP_MD_free(b->hs.md[0]);
	EVP_MD_free(b->hs.md[1]);
	EVP_MD_CTX_free(b->hs.ctx);
	if (b->epfd >= 0)
		close(b->epfd);
	free(b->conns);
	free(b->q);
	free(b->lat);
	for (int i = 0; i < 3; i++)
		free(b->step[i]);
	if (made_dir)
		nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	return rc;
bad:
	usage();
	return 2;
}
