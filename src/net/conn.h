/* net/conn: stream connections (TCP and TLS), their listeners, and the
 * connection table that admits them (global and per-source-IP limits), times
 * them out and finds them by id. Everything here runs on the table's loop
 * thread; TLS handshakes of accepted connections may run on worker threads
 * (see docs/threading.md) but the upper layer only ever sees a connection on
 * the loop thread, once it is open.
 *
 * Byte streams only: framing is the upper layer's job (recv_h says how many
 * bytes it consumed). This layer does not depend on sip/. */
#ifndef SPS_NET_CONN_H
#define SPS_NET_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "core/loop.h"
#include "net/sa.h"

enum sps_transport {
	SPS_TP_UDP = 0,
	SPS_TP_TCP = 1,
	SPS_TP_TLS = 2,
};

enum sps_conn_state {
	SPS_CONN_CONNECTING = 0, /* outgoing, TCP connect in progress */
	SPS_CONN_HANDSHAKE,      /* TLS handshake in progress */
	SPS_CONN_OPEN,
	SPS_CONN_CLOSED,
};

/* Input is buffered up to this many bytes (a 65535-byte SIP message plus
 * headroom); a peer that sends more without recv_h consuming is closed. */
#define SPS_CONN_IN_MAX (65535 + 8192)

struct sps_conn;
struct sps_conntab;

/* All pending input, buf[0..len). Set *consumed (<= len) to what was used;
 * the rest is offered again, with more bytes, on the next read. Return 0, or
 * an errno to close the connection with that error (a framing error). The
 * connection is valid during the call (the caller holds a reference) even if
 * the handler closes it. */
typedef int(sps_conn_recv_h)(struct sps_conn *c, const char *buf, size_t len, size_t *consumed,
			     void *arg);
/* The connection became open: accepted (after its TLS handshake) or connected.
 * Take a reference to keep it beyond the table's lifetime of it. */
typedef void(sps_conn_estab_h)(struct sps_conn *c, void *arg);
/* Called once for every connection that reached estab_h or was created by
 * sps_conn_connect, when it closes: err is ECANCELED (sps_conn_close or
 * close_all), ECONNRESET (peer closed or reset), ETIMEDOUT (idle, connect or
 * handshake timeout), EMSGSIZE (input over SPS_CONN_IN_MAX), ENOBUFS (output
 * queue over its max), EPROTO (TLS error), or the socket error. */
typedef void(sps_conn_close_h)(struct sps_conn *c, int err, void *arg);

struct sps_conn_handlers {
	sps_conn_estab_h *estab_h; /* may be NULL */
	sps_conn_recv_h *recv_h;
	sps_conn_close_h *close_h; /* may be NULL */
	void *arg;
};

/* Limits and timers; 0 selects the default. */
struct sps_conntab_conf {
	unsigned max_conns;    /* 16384, counting handshakes and outgoing */
	unsigned max_per_ip;   /* 64 accepted connections per source address */
	uint64_t idle_ms;      /* 3600 s without bytes in either direction */
	uint64_t handshake_ms; /* 10 s for an accepted TLS handshake, also connect */
	size_t out_max;        /* 256 KiB queued output, then the conn is closed */
	int hs_workers;        /* TLS handshake threads: -1 = none (handshakes on the
				* loop), 0 = number of CPUs - 1 (at least 1) */
};

/* Create a table on loop (which must outlive it). h is copied. Starts the
 * handshake workers. Returns 0 or an errno. */
int sps_conntab_new(struct sps_conntab **out, struct sps_loop *loop,
		    const struct sps_conntab_conf *conf, const struct sps_conn_handlers *h);
/* sps_conntab_close_all, then release the table. Connections the upper layer
 * still references stay valid (closed) until their last sps_mem_deref. */
void sps_conntab_free(struct sps_conntab *tab);
/* Shutdown: close the listeners, stop the handshake workers (their
 * connections are dropped) and close every connection (close_h with
 * ECANCELED). Later accepts and connects fail with ESHUTDOWN. */
void sps_conntab_close_all(struct sps_conntab *tab);
/* Listen on local for TCP (ctx NULL) or TLS (ctx set; the listener holds a
 * reference to ctx). bound, if not NULL, receives the address with the port
 * the kernel picked. Returns 0 or an errno. */
int sps_conntab_listen(struct sps_conntab *tab, const struct sps_sa *local,
		       enum sps_transport tp, SSL_CTX *ctx, struct sps_sa *bound);
/* Certificate reload: every TLS listener whose context is old gets ctx
 * (taking a reference, dropping its reference to old). Connections accepted
 * from now on use ctx; established ones and handshakes under way keep the
 * context they started with. Loop thread only. Returns how many listeners
 * changed. */
unsigned sps_conntab_swap_tls_ctx(struct sps_conntab *tab, SSL_CTX *old, SSL_CTX *ctx);
/* The open (or connecting) connection with this id, or NULL. Borrowed: take
 * a reference to keep it past the current handler. O(1). */
struct sps_conn *sps_conntab_lookup(struct sps_conntab *tab, uint64_t id);
/* Connections counted against max_conns (including handshakes). */
unsigned sps_conntab_count(const struct sps_conntab *tab);
/* Accepted connections from ip's address (port ignored), including handshakes. */
unsigned sps_conntab_count_ip(const struct sps_conntab *tab, const struct sps_sa *ip);

/* Open an outgoing connection to dst (non-blocking). For TLS, client_ctx
 * must be set; verify_host (if not NULL) is checked against the server's
 * certificate (SSL_set1_host) and sent as SNI. Data sent before the
 * connection is open is queued. On success *out is the connection with a
 * reference for the caller; estab_h or close_h follows. Returns 0, ESHUTDOWN,
 * EMFILE (table full), EINVAL, or an errno. */
int sps_conn_connect(struct sps_conn **out, struct sps_conntab *tab, const struct sps_sa *dst,
		     enum sps_transport tp, SSL_CTX *client_ctx, const char *verify_host);

/* Queue len bytes for sending (the socket is written at once when possible).
 * Returns 0; ENOTCONN when closed; ENOBUFS when the queue would exceed
 * out_max: the connection is then closed (close_h follows from the loop, not
 * from inside this call). */
int sps_conn_send(struct sps_conn *c, const void *data, size_t len);

/* Batch writes: between cork and uncork, sps_conn_send on this table's
 * connections queues the bytes (TLS records sealed as usual), and uncork
 * writes each connection's queue with one system call - e.g. the 100 and
 * the 407 answering one INVITE, or an ACK and a BYE relayed together.
 * Corks nest; the outermost uncork writes. Use it around the handling of
 * one input event, so that nothing waits longer than that. */
void sps_conntab_cork(struct sps_conntab *tab);
void sps_conntab_uncork(struct sps_conntab *tab);
/* Close now (close_h with ECANCELED, inside this call). Idempotent. Queued
 * output is discarded. */
void sps_conn_close(struct sps_conn *c);
/* Take a reference; release it with sps_mem_deref. */
struct sps_conn *sps_conn_ref(struct sps_conn *c);

/* Never 0, never reused within a process. */
uint64_t sps_conn_id(const struct sps_conn *c);
const struct sps_sa *sps_conn_peer(const struct sps_conn *c);
const struct sps_sa *sps_conn_local(const struct sps_conn *c);
enum sps_transport sps_conn_transport(const struct sps_conn *c);
enum sps_conn_state sps_conn_state(const struct sps_conn *c);
bool sps_conn_outgoing(const struct sps_conn *c);
/* The SSL of a TLS connection (peer certificate, cipher), or NULL: also for
 * an accepted TLS 1.3 connection once its handshake is over, whose records
 * net/tls13.c protects without OpenSSL's per-connection state. */
SSL *sps_conn_ssl(const struct sps_conn *c);
void sps_conn_set_udata(struct sps_conn *c, void *udata);
void *sps_conn_udata(const struct sps_conn *c);
/* Close the connection after secs seconds without traffic (the registrar
 * extends it for connections that carry a registration). secs 0 = the
 * table's default. Returns 0 or ENOTCONN. */
int sps_conn_set_idle(struct sps_conn *c, unsigned secs);

#endif
