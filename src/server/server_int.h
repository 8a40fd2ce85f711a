/* server internals shared by its files. */
#ifndef SPS_SERVER_INT_H
#define SPS_SERVER_INT_H

#include <openssl/ssl.h>

#include "core/arena.h"
#include "core/loop.h"
#include "core/mbuf.h"
#include "net/conn.h"
#include "net/sa.h"
#include "net/udp.h"
#include "server/server.h"
#include "sip/msg.h"
#include "sip/tsx.h"
#include "sip/write.h"

/* The running server. Owned by sps_server_run; lives on its stack frame.
 * Invariant: every pointer is valid from setup until teardown. */
struct sps_server {
	const struct sps_server_conf *conf;
	struct sps_loop *loop;
	struct sps_conntab *conns;
	struct sps_udp *udp;
	struct sps_tsx_layer *tsx;
	SSL_CTX *tls;
	struct sps_timer ticket_timer;
	struct sps_arena *arena; /* per message, reset after each */
	struct sps_mbuf out;     /* per response, reset after each */
	struct sps_sa local_ip;  /* the listen address (port 0) */
	int stop_signal;
};

/* Where a message came from and how to answer it. */
struct sps_origin {
	enum sps_transport tp;
	struct sps_sa src;
	struct sps_conn *conn; /* TCP/TLS: borrowed for the call */
};

/* The transaction layer's send callback (server.c). */
int sps__server_send(const struct sps_tsx_dest *d, const char *buf, size_t len, void *arg);

/* Route a request that has its server transaction t (NULL: answered
 * statelessly) to the part of the server that handles it (handle.c). */
void sps__server_dispatch(struct sps_server *s, const struct sps_origin *o,
			  struct sps_sip_msg *m, struct sps_tsx *t);

/* Answer req with code (and extra headers) through t, or statelessly when t
 * is NULL. */
void sps__server_respond(struct sps_server *s, const struct sps_origin *o,
			 const struct sps_sip_msg *req, struct sps_tsx *t, unsigned code,
			 const char *reason, const struct sps_sip_newhdr *extra, size_t nextra);

/* Handle one received message in buf[0..len) (writable, as the parser
 * folds lines in place). Answers on the origin's transport. */
void sps__server_handle(struct sps_server *s, const struct sps_origin *o, char *buf, size_t len);

#endif
