/* bench/bench_tls.h: one non-blocking TLS connection of a SIP phone, as
 * reg_bench and call_bench drive it on their epoll loop: connect with
 * TCP_NODELAY, a TLS client that verifies the server's certificate and host
 * name, the handshake, queued output flushed with SSL_write, and input cut
 * into SIP messages (RFC 3261 18.3) with RFC 5626 keep-alive pings answered.
 * Each program embeds a struct bench_tls in its own struct conn and keeps its
 * own state machine and error counters: the functions here return what went
 * wrong (enum bench_tls_rc) and the caller counts it. A struct bench_client
 * holds what the connections share (epoll, the TLS context, the server's
 * address, the parse arena). Also what such a phone says and proves: its
 * REGISTER, its digest answer to a 401/407 (RFC 7616) and its account in
 * the server's store. Header-only, like bench_serve.h. */
#ifndef SPS_BENCH_TLS_H
#define SPS_BENCH_TLS_H

#include "bench_serve.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "auth/digest.h"
#include "core/arena.h"
#include "sip/frame.h"
#include "sip/msg.h"
#include "store/store.h"

#define BENCH_TLS_IN_MAX (SPS_SIP_MAX_MSG + 1)

/* What a bench_tls call ended with; each failure is one error kind of the
 * programs' reports. */
enum bench_tls_rc {
	BENCH_TLS_OK = 0,   /* done (or waiting for epoll with nothing wrong) */
	BENCH_TLS_AGAIN,    /* the handshake goes on */
	BENCH_TLS_CONNECT,  /* socket, connect or the TCP connection failed */
	BENCH_TLS_TLS,      /* TLS set-up or handshake failed (noted in bench_tls_first_err) */
	BENCH_TLS_CLOSED,   /* the server closed the connection, or it broke */
	BENCH_TLS_BAD_MSG,  /* input over the size limit, or not SIP framing */
	BENCH_TLS_OVERFLOW, /* the output queue is full */
	BENCH_TLS_UP,       /* bench_tls_event: the handshake just completed */
};

/* The counter of a failure rc among a program's error counters (overflow
 * may be the same as bad_msg). */
BENCH_SHARED unsigned long *bench_tls_counter(int rc, unsigned long *connect, unsigned long *tls,
					      unsigned long *closed, unsigned long *bad_msg,
					      unsigned long *overflow)
{
	switch (rc) {
	case BENCH_TLS_CONNECT:
		return connect;
	case BENCH_TLS_TLS:
		return tls;
	case BENCH_TLS_CLOSED:
		return closed;
	case BENCH_TLS_OVERFLOW:
		return overflow;
	default:
		return bad_msg;
	}
}

/* One connection. out is allocated by bench_tls_init and kept until
 * bench_tls_free; in grows as needed and goes with the connection. wlen
 * bytes of out were handed to SSL_write and not yet accepted: a retry must
 * pass the same length. fd < 0: no connection (never opened, or closed). */
struct bench_tls {
	int fd;
	SSL *ssl;
	int epfd;
	void *owner;	 /* the program's conn: epoll data.ptr and handler argument */
	bool up;	 /* the TLS handshake is done */
	unsigned events; /* what epoll watches */
	uint16_t lport;	 /* our port: Via sent-by and Contact */
	char *out;
	size_t out_len, out_cap, wlen;
	char *in;
	size_t in_len, in_cap, in_first; /* in_first: the first size of in */
};

/* What a program's connections share. */
struct bench_client {
	int epfd;
	SSL_CTX *ctx;		 /* bench_tls_client_ctx */
	struct sockaddr_in dst;	 /* the server's TLS address */
	const char *host;	 /* the name its certificate must carry, sent as SNI */
	struct sps_arena *arena; /* messages read are parsed into it */
};

/* Called with each SIP message read on t; m lives in the arena and t->in
 * until the next one, NULL when the message did not parse (the caller
 * counts that). The handler may close t (bench_tls_close): reading stops. */
typedef void (*bench_tls_msg_h)(struct bench_tls *t, const struct sps_sip_msg *m, void *arg);

/* The first TLS failure of the run, for the report ("" when none). */
BENCH_SHARED char bench_tls_first_err[256];

/* Set t up without a connection: an output queue of out_cap bytes, input
 * read in in_first bytes at first. Returns 0 or -1 (out of memory). */
BENCH_SHARED int bench_tls_init(struct bench_tls *t, size_t out_cap, size_t in_first)
{
	memset(t, 0, sizeof(*t));
	t->fd = -1;
	t->epfd = -1;
	t->out_cap = out_cap;
	t->in_first = in_first;
	t->out = malloc(out_cap);
	return t->out ? 0 : -1;
}

/* Close t's connection (a RST: no TIME_WAIT left behind) and drop what it
 * had queued or read; t can be freed or started again. */
BENCH_SHARED void bench_tls_close(struct bench_tls *t)
{
	if (t->ssl) {
		/* a deliberate close: no close_notify, nothing waits for it */
		SSL_set_shutdown(t->ssl, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
		SSL_free(t->ssl);
		t->ssl = NULL;
	}
	if (t->fd >= 0) {
		struct linger lg = {1, 0};
		(void)setsockopt(t->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		(void)epoll_ctl(t->epfd, EPOLL_CTL_DEL, t->fd, NULL);
		close(t->fd);
		t->fd = -1;
	}
	free(t->in);
	t->in = NULL;
	t->in_len = t->in_cap = 0;
	t->out_len = t->wlen = 0;
	t->up = false;
}

BENCH_SHARED void bench_tls_free(struct bench_tls *t)
{
	bench_tls_close(t);
	free(t->out);
	t->out = NULL;
}

/* Keep the first TLS failure (of t, or of the connection just closed when
 * t->ssl is NULL) in bench_tls_first_err. */
BENCH_SHARED void bench_tls_note_error(const struct bench_tls *t)
{
	if (bench_tls_first_err[0])
		return;
	unsigned long e = ERR_peek_error();
	long vr = t->ssl ? SSL_get_verify_result(t->ssl) : X509_V_OK;
	if (vr != X509_V_OK)
		snprintf(bench_tls_first_err, sizeof(bench_tls_first_err), "certificate: %s",
			 X509_verify_cert_error_string(vr));
	else if (e)
		ERR_error_string_n(e, bench_tls_first_err, sizeof(bench_tls_first_err));
	else
		snprintf(bench_tls_first_err, sizeof(bench_tls_first_err),
			 "connection closed during the handshake (%s)", strerror(errno));
}

/* A client context: the server's certificate must chain to the CA file ca;
 * a phone is a new client each, so no session resumption. NULL on failure. */
BENCH_SHARED SSL_CTX *bench_tls_client_ctx(const char *ca)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx)
		return NULL;
	if (SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_mode(ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	return ctx;
}

/* Set cl up: an epoll set and an arena; no TLS context yet. Returns 0 or
 * -1 (out of memory; bench_client_free cleans up either way). */
BENCH_SHARED int bench_client_init(struct bench_client *cl)
{
	memset(cl, 0, sizeof(*cl));
	cl->epfd = epoll_create1(EPOLL_CLOEXEC);
	return cl->epfd >= 0 && sps_arena_new(&cl->arena, 0) == 0 ? 0 : -1;
}

/* Aim cl's connections at 127.0.0.1:tls_port, verifying the server against
 * DATA/certs/ca.pem and host. Returns 0, or -1 (reported, with prog). */
BENCH_SHARED int bench_client_target(struct bench_client *cl, const char *prog, const char *data,
				     const char *host, unsigned tls_port)
{
	char ca[PATH_MAX + 16];
	snprintf(ca, sizeof(ca), "%s/certs/ca.pem", data);
	if (!(cl->ctx = bench_tls_client_ctx(ca))) {
		fprintf(stderr, "%s: cannot load the CA %s\n", prog, ca);
		return -1;
	}
	cl->host = host;
	cl->dst.sin_family = AF_INET;
	cl->dst.sin_port = htons((uint16_t)tls_port);
	cl->dst.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return 0;
}

BENCH_SHARED void bench_client_free(struct bench_client *cl)
{
	if (cl->ctx)
		SSL_CTX_free(cl->ctx);
	if (cl->arena)
		sps_arena_free(cl->arena);
	if (cl->epfd >= 0)
		close(cl->epfd);
}

/* Watch want on t's socket (epoll data.ptr: t->owner). Returns 0 or -1. */
BENCH_SHARED int bench_tls_want(struct bench_tls *t, unsigned want)
{
	if (want == t->events)
		return 0;
	struct epoll_event ev = {.events = want, .data.ptr = t->owner};
	if (epoll_ctl(t->epfd, EPOLL_CTL_MOD, t->fd, &ev) != 0)
		return -1;
	t->events = want;
	return 0;
}

/* Open t's TCP connection to cl->dst (non-blocking, TCP_NODELAY), learn our
 * port (t->lport), add it to cl's epoll set for EPOLLOUT with data.ptr
 * owner, and set up its TLS client: the server's certificate must chain to
 * the CA and name cl->host, which goes as SNI too. Returns BENCH_TLS_OK,
 * BENCH_TLS_CONNECT or BENCH_TLS_TLS (t is then left for the caller to close). */
BENCH_SHARED int bench_tls_start(struct bench_tls *t, const struct bench_client *cl, void *owner)
{
	int one = 1;
	struct sockaddr_in local;
	socklen_t ll = sizeof(local);
	const char *host = cl->host;
	int epfd = cl->epfd;
	t->epfd = epfd;
	t->owner = owner;
	t->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (t->fd < 0)
		return BENCH_TLS_CONNECT;
	(void)setsockopt(t->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if ((connect(t->fd, (const struct sockaddr *)&cl->dst, sizeof(cl->dst)) < 0 &&
	     errno != EINPROGRESS) ||
	    getsockname(t->fd, (struct sockaddr *)&local, &ll) != 0)
		return BENCH_TLS_CONNECT;
	t->lport = ntohs(local.sin_port);
	struct epoll_event ev = {.events = EPOLLOUT, .data.ptr = owner};
	if (!(t->ssl = SSL_new(cl->ctx)) || SSL_set_fd(t->ssl, t->fd) != 1 ||
	    SSL_set1_host(t->ssl, host) != 1 || SSL_set_tlsext_host_name(t->ssl, host) != 1 ||
	    epoll_ctl(epfd, EPOLL_CTL_ADD, t->fd, &ev) != 0) {
		bench_tls_note_error(t);
		return BENCH_TLS_TLS;
	}
	t->events = EPOLLOUT;
	SSL_set_connect_state(t->ssl);
	return BENCH_TLS_OK;
}

/* Drive t's TCP connect and TLS handshake on the epoll events ev. Returns
 * BENCH_TLS_OK (done), BENCH_TLS_AGAIN (waiting: events updated),
 * BENCH_TLS_CONNECT or BENCH_TLS_TLS. */
BENCH_SHARED int bench_tls_handshake(struct bench_tls *t, unsigned ev)
{
	if (ev & EPOLLERR) {
		int soerr = 0;
		socklen_t sl = sizeof(soerr);
		if (getsockopt(t->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0 && soerr)
			return BENCH_TLS_CONNECT;
	}
	ERR_clear_error();
	int r = SSL_do_handshake(t->ssl);
	if (r == 1)
		return BENCH_TLS_OK;
	int e = SSL_get_error(t->ssl, r);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
		return bench_tls_want(t, e == SSL_ERROR_WANT_READ ? EPOLLIN : EPOLLOUT) != 0
			       ? BENCH_TLS_TLS
			       : BENCH_TLS_AGAIN;
	bench_tls_note_error(t);
	return BENCH_TLS_TLS;
}

/* Append one message (printf-style) to t's output queue. Returns
 * BENCH_TLS_OK or BENCH_TLS_OVERFLOW (nothing added). */
__attribute__((format(printf, 2, 3), unused)) static int bench_tls_printf(struct bench_tls *t,
									  const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int l = vsnprintf(t->out + t->out_len, t->out_cap - t->out_len, fmt, ap);
	va_end(ap);
	if (l < 0 || (size_t)l >= t->out_cap - t->out_len)
		return BENCH_TLS_OVERFLOW;
	t->out_len += (size_t)l;
	return BENCH_TLS_OK;
}

/* Queue a REGISTER (RFC 3261 10.2) for user@domain on t: Via branch
 * z9hG4bK<run_id><branch in hex>, From tag tag, Call-ID call_id, CSeq cseq,
 * t's own address as the Contact (Expires 3600), the credentials header
 * authz ("" for none) and User-Agent ua. Returns BENCH_TLS_OK or
 * BENCH_TLS_OVERFLOW (nothing queued). */
BENCH_SHARED int bench_tls_register(struct bench_tls *t, const char *domain, const char *user,
				    const char *tag, const char *call_id, uint32_t cseq,
				    const char *run_id, unsigned long branch, const char *authz,
				    const char *ua)
{
	return bench_tls_printf(t,
				"REGISTER sip:%s SIP/2.0\r\n"
				"Via: SIP/2.0/TLS 127.0.0.1:%u;branch=z9hG4bK%s%lx;rport\r\n"
				"Max-Forwards: 70\r\n"
				"From: <sip:%s@%s>;tag=%s\r\n"
				"To: <sip:%s@%s>\r\n"
				"Call-ID: %s\r\n"
				"CSeq: %u REGISTER\r\n"
				"Contact: <sip:%s@127.0.0.1:%u;transport=tls>\r\n"
				"Expires: 3600\r\n"
				"%s"
				"User-Agent: %s\r\n"
				"Content-Length: 0\r\n\r\n",
				domain, t->lport, run_id, branch, user, domain, tag, user, domain,
				call_id, cseq, user, t->lport, authz, ua);
}

/* Push what t->out holds into the TLS connection. Returns 0 (written, or
 * waiting for EPOLLOUT) or -1 (the connection broke). */
BENCH_SHARED int bench_tls_flush(struct bench_tls *t)
{
	for (int i = 0; i < 64 && t->out_len; i++) {
		if (!t->wlen)
			t->wlen = t->out_len;
		ERR_clear_error();
		int r = SSL_write(t->ssl, t->out, (int)t->wlen);
		if (r > 0) {
			memmove(t->out, t->out + t->wlen, t->out_len - t->wlen);
			t->out_len -= t->wlen;
			t->wlen = 0;
			continue;
		}
		int e = SSL_get_error(t->ssl, r);
		if (e == SSL_ERROR_WANT_WRITE)
			return bench_tls_want(t, EPOLLIN | EPOLLOUT);
		if (e == SSL_ERROR_WANT_READ)
			return bench_tls_want(t, EPOLLIN);
		return -1;
	}
	return bench_tls_want(t, EPOLLIN);
}

/* Read what t's connection holds (up to 256 reads), cut it into messages
 * (RFC 3261 18.3) and hand each to on_msg, parsed into arena (reset before
 * each); a double-CRLF ping is answered with a CRLF pong (RFC 5626 4.4.1).
 * Returns BENCH_TLS_OK (all read, or on_msg closed t), BENCH_TLS_CLOSED,
 * BENCH_TLS_BAD_MSG or BENCH_TLS_OVERFLOW (the pong did not fit). */
BENCH_SHARED int bench_tls_read(struct bench_tls *t, struct sps_arena *arena,
				bench_tls_msg_h on_msg, void *arg)
{
	for (int i = 0; i < 256 && t->fd >= 0; i++) {
		if (t->in_cap - t->in_len < 2048) {
			size_t cap = t->in_cap ? t->in_cap * 2 : t->in_first;
			char *p = cap <= 2 * BENCH_TLS_IN_MAX ? realloc(t->in, cap) : NULL;
			if (!p)
				return BENCH_TLS_BAD_MSG;
			t->in = p;
			t->in_cap = cap;
		}
		ERR_clear_error();
		int r = SSL_read(t->ssl, t->in + t->in_len, (int)(t->in_cap - t->in_len));
		if (r <= 0) {
			int e = SSL_get_error(t->ssl, r);
			if (e == SSL_ERROR_WANT_READ)
				return BENCH_TLS_OK;
			if (e == SSL_ERROR_WANT_WRITE)
				return bench_tls_want(t, EPOLLIN | EPOLLOUT) != 0 ? BENCH_TLS_CLOSED
										  : BENCH_TLS_OK;
			return BENCH_TLS_CLOSED; /* the server closed it (or it broke) */
		}
		t->in_len += (size_t)r;
		size_t off = 0;
		for (int k = 0; k < 1024 && off < t->in_len; k++) {
			struct sps_frame f;
			const char *why = NULL;
			int rc = sps_sip_frame(t->in + off, t->in_len - off, &f, &why);
			if (rc == ENODATA)
				break;
			if (rc)
				return BENCH_TLS_BAD_MSG;
			if (f.kind == SPS_FRAME_MSG) {
				struct sps_sip_msg *m;
				sps_arena_reset(arena);
				if (sps_sip_msg_parse(t->in + off, f.len, arena, &m, &why) != 0)
					m = NULL;
				on_msg(t, m, arg);
				if (t->fd < 0)
					return BENCH_TLS_OK; /* closed by on_msg: t->in is gone */
			} else if (f.kind == SPS_FRAME_PING) {
				if (bench_tls_printf(t, "\r\n") != BENCH_TLS_OK)
					return BENCH_TLS_OVERFLOW;
				if (bench_tls_flush(t) != 0)
					return BENCH_TLS_CLOSED;
			}
			off += f.len;
		}
		memmove(t->in, t->in + off, t->in_len - off);
		t->in_len -= off;
	}
	return BENCH_TLS_OK;
}

/* An epoll event ev on t: during the handshake, drive it (BENCH_TLS_UP
 * once it is done: the caller sends its first request); then flush on
 * EPOLLOUT and read on EPOLLIN (and errors); nothing once t is closed.
 * Returns BENCH_TLS_OK, BENCH_TLS_UP, what bench_tls_handshake or
 * bench_tls_read fails with, or BENCH_TLS_CLOSED when the flush failed. */
BENCH_SHARED int bench_tls_event(struct bench_tls *t, const struct bench_client *cl, unsigned ev,
				 bench_tls_msg_h on_msg, void *arg)
{
	if (t->fd < 0)
		return BENCH_TLS_OK; /* closed earlier in the same epoll batch */
	if (!t->up) {
		int rc = bench_tls_handshake(t, ev);
		if (rc != BENCH_TLS_OK)
			return rc == BENCH_TLS_AGAIN ? BENCH_TLS_OK : rc;
		t->up = true;
		return BENCH_TLS_UP;
	}
	if ((ev & EPOLLOUT) && bench_tls_flush(t) != 0)
		return BENCH_TLS_CLOSED;
	if (ev & (EPOLLIN | EPOLLERR | EPOLLHUP))
		return bench_tls_read(t, cl->arena, on_msg, arg);
	return BENCH_TLS_OK;
}

/* ---- the phone's digest credentials (RFC 7616), hashed here with EVP, not
 * with src/auth: what the client computes is checked, not assumed ---- */

#define BENCH_NONCE_MAX 128
#define BENCH_OPAQUE_MAX 128

struct bench_hasher {
	EVP_MD_CTX *ctx;
	EVP_MD *md[2]; /* indexed by enum sps_digest_alg */
};

/* A challenge taken from a 401 or 407. */
struct bench_chal {
	enum sps_digest_alg alg;
	char nonce[BENCH_NONCE_MAX];
	char opaque[BENCH_OPAQUE_MAX]; /* "" when none */
};

/* Returns 0 or -1 (out of memory; bench_hasher_free cleans up either way). */
BENCH_SHARED int bench_hasher_init(struct bench_hasher *h)
{
	h->ctx = EVP_MD_CTX_new();
	h->md[SPS_DIGEST_MD5] = EVP_MD_fetch(NULL, "MD5", NULL);
	h->md[SPS_DIGEST_SHA256] = EVP_MD_fetch(NULL, "SHA256", NULL);
	return h->ctx && h->md[0] && h->md[1] ? 0 : -1;
}

BENCH_SHARED void bench_hasher_free(struct bench_hasher *h)
{
	EVP_MD_free(h->md[0]);
	EVP_MD_free(h->md[1]);
	EVP_MD_CTX_free(h->ctx);
}

/* hex = H(data) in lowercase hex for alg. Returns 0 or -1. */
BENCH_SHARED int bench_hash_hex(struct bench_hasher *h, enum sps_digest_alg alg, const char *data,
				size_t len, char *hex)
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

/* -a ALG: *alg = the digest algorithm named by s (SHA-256, sha256, MD5).
 * Returns false when s names none. */
BENCH_SHARED bool bench_parse_alg(const char *s, int *alg)
{
	if (strcasecmp(s, "SHA-256") == 0 || strcasecmp(s, "sha256") == 0)
		*alg = SPS_DIGEST_SHA256;
	else if (strcasecmp(s, "MD5") == 0)
		*alg = SPS_DIGEST_MD5;
	else
		return false;
	return true;
}

/* Take the first Digest challenge of header id (WWW- or Proxy-Authenticate)
 * in m with an algorithm we know that fits want_alg (-1: any) into ch; its
 * realm must be realm and its qop, if any, offer auth. *stale tells whether
 * it said stale=true. Returns 0, or -1 when none fits. */
BENCH_SHARED int bench_take_challenge(const struct sps_sip_msg *m, enum sps_hdr_id id, int want_alg,
				      const char *realm, struct bench_chal *ch, bool *stale)
{
	for (const struct sps_sip_hdr *h = sps_sip_msg_hdr_next(m, id, NULL); h;
	     h = sps_sip_msg_hdr_next(m, id, h)) {
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
		if (want_alg >= 0 && (int)alg != want_alg)
			continue;
		if (!a->realm.p || !sps_slice_eq_cstr_ci(a->realm, realm) ||
		    (a->qop.p && !memmem(a->qop.p, a->qop.l, "auth", 4)) ||
		    sps_slice_to_cstr(a->nonce, ch->nonce, sizeof(ch->nonce)) != 0)
			return -1;
		if (!a->opaque.p)
			ch->opaque[0] = '\0';
		else if (sps_slice_to_cstr(a->opaque, ch->opaque, sizeof(ch->opaque)) != 0)
			return -1;
		*stale = a->stale.p && sps_slice_eq_cstr_ci(a->stale, "true");
		ch->alg = alg;
		return 0;
	}
	return -1;
}

/* The credentials header hname ("Authorization" or "Proxy-Authorization")
 * answering ch (RFC 7616 3.4) for user in realm, whose HA1 for ch->alg is
 * ha1, on a request to uri whose HA2 = H(method ":" uri) is ha2, with
 * nonce-count nc (8 hex digits) and cnonce, qop=auth, into buf. Returns 0,
 * or -1 when it does not fit or hashing failed. */
BENCH_SHARED int bench_credentials(struct bench_hasher *hs, const struct bench_chal *ch,
				   const char *hname, const char *user, const char *realm,
				   const char *uri, const char *ha1, const char *ha2,
				   const char *nc, const char *cnonce, char *buf, size_t size)
{
	char in[512], resp[SPS_HA1_SHA256_HEX + 1];
	/* response = H(HA1 ":" nonce ":" nc ":" cnonce ":" qop ":" HA2) */
	int l = snprintf(in, sizeof(in), "%s:%s:%s:%s:auth:%s", ha1, ch->nonce, nc, cnonce, ha2);
	if (l < 0 || (size_t)l >= sizeof(in) ||
	    bench_hash_hex(hs, ch->alg, in, (size_t)l, resp) != 0)
		return -1;
	l = snprintf(buf, size,
		     "%s: Digest username=\"%s\", realm=\"%s\", nonce=\"%s\", uri=\"%s\", "
		     "response=\"%s\", algorithm=%s, cnonce=\"%s\",%s%s%s qop=auth, nc=%s\r\n",
		     hname, user, realm, ch->nonce, uri, resp,
		     ch->alg == SPS_DIGEST_SHA256 ? "SHA-256" : "MD5", cnonce,
		     ch->opaque[0] ? " opaque=\"" : "", ch->opaque, ch->opaque[0] ? "\"," : "", nc);
	return l < 0 || (size_t)l >= size ? -1 : 0;
}

/* ---- the phones' accounts ---- */

/* One phone's account: its user name and the HA1s it answers challenges
 * with (computed here with EVP from the password, by enum sps_digest_alg). */
struct bench_user {
	char name[24];
	char ha1[2][SPS_HA1_SHA256_HEX + 1];
};

/* The user i of bench_add_users, named already. */
typedef struct bench_user *(*bench_user_h)(unsigned i, void *arg);

/* Add n users (user(i, arg)) to the store of data in one transaction, user i
 * with the password "pw-RUN_ID-i" (run_id: 16 characters) and the HA1s sps_digest_ha1 computes for
 * realm, and set the store's realm; fill in each user's own HA1s, hashed
 * here with hs. prog names the benchmark in messages. Returns 0 or -1
 * (reported). */
BENCH_SHARED int bench_add_users(const char *prog, const char *data, const char *realm,
				 const char *run_id, unsigned n, struct bench_hasher *hs,
				 bench_user_h user, void *arg)
{
	struct sps_store *st = NULL;
	const char *why = NULL;
	int err = sps_store_open(&st, data, &why);
	if (err) {
		fprintf(stderr, "%s: cannot open the store in %s: %s\n", prog, data,
			why ? why : strerror(err));
		return -1;
	}
	err = sps_store_begin(st);
	for (unsigned i = 0; i < n && !err; i++) {
		struct bench_user *bu = user(i, arg);
		struct sps_user u;
		char pw[64], buf[256];
		memset(&u, 0, sizeof(u));
		snprintf(pw, sizeof(pw), "pw-%.16s-%u", run_id, i);
		snprintf(u.name, sizeof(u.name), "%s", bu->name);
		snprintf(u.realm, sizeof(u.realm), "%s", realm);
		u.created = (int64_t)time(NULL);
		if ((err = sps_digest_ha1(SPS_DIGEST_MD5, u.name, realm, pw, u.ha1_md5,
					  sizeof(u.ha1_md5))) ||
		    (err = sps_digest_ha1(SPS_DIGEST_SHA256, u.name, realm, pw, u.ha1_sha256,
					  sizeof(u.ha1_sha256))) ||
		    (err = sps_store_user_add(st, &u)))
			break;
		/* HA1 = H(user ":" realm ":" password) (RFC 7616 3.4.2) */
		int l = snprintf(buf, sizeof(buf), "%s:%s:%s", bu->name, realm, pw);
		for (int a = 0; a < 2 && !err; a++)
			if (bench_hash_hex(hs, (enum sps_digest_alg)a, buf, (size_t)l,
					   bu->ha1[a]) != 0)
				err = EIO;
	}
	if (!err)
		err = sps_store_commit(st);
	if (!err)
		err = sps_store_setting_set(st, "realm", realm);
	sps_store_close(st);
	if (err) {
		fprintf(stderr, "%s: cannot add %u users to %s: %s\n", prog, n, data,
			strerror(err));
		return -1;
	}
	return 0;
}

#endif
