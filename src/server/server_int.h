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
#include "pki/pki.h"
#include "server/server.h"
#include "sip/msg.h"
#include "sip/tsx.h"
#include "sip/write.h"

/* The running server. Owned by sps_server_run; lives on its stack frame.
 * Invariant: every pointer is valid from setup until teardown. */
struct call;
struct sps_calls;
struct sps_admin;
struct sps_prov_server;
struct sps_cmedia_tab;
struct sps__proxy_mac;

struct sps_server {
	const struct sps_server_conf *conf;
	struct sps_loop *loop;
	struct sps_conntab *conns;
	struct sps_udp *udp;
	struct sps_tsx_layer *tsx;
	struct sps_store *store;
	struct sps_digest *digest;
	struct sps_registrar *reg;
	uint16_t tls_port;  /* the bound TLS port (Record-Route) */
	struct call *calls; /* proxied requests still in progress (proxy.c) */
	size_t ncalls;
	struct sps_calls *calltab; /* calls in progress, `sipsec calls` (calls.c) */
	struct sps_admin *admin;   /* the control socket, NULL when it could not open */
	struct sps_cmedia_tab *media; /* the media relay and each call's media (call_media.h) */
	unsigned char route_key[32]; /* MAC key of our Record-Route flow tokens (proxy.c) */
	struct sps__proxy_mac *route_mac; /* that key set up (proxy_int.h), NULL if it failed */
	struct sps_prov_server *prov; /* HTTPS provisioning (provision/prov_server.h) */
	struct sps_timer sweep_timer;
	int algs[2];     /* enum sps_digest_alg, most preferred first */
	unsigned nalgs;
	char boot_id[33];
	struct sps_timer expire_timer;
	/* replies held until the store's group commit (register.c) */
	struct sps_pending *pending;
	size_t npending, cap_pending;
	bool store_failed; /* logged once */
	SSL_CTX *tls;	     /* the server context new TLS connections get (swapped
				on a certificate reload, server.c) */
	SSL_CTX *tls_client; /* outgoing TLS: trusts --tls-ca-bundle, or the system
				store plus the built-in CA */
	struct sps_timer ticket_timer;
	struct sps_timer cert_timer;	 /* polls the certificate files (reload) */
	struct sps_pki_paths pki;	 /* DATA/certs/... */
	struct sps_pki_stamp cert_stamp; /* of the pair s->tls was built from */
	struct sps_pki_stamp cert_bad;	 /* a pair that failed to load */
	bool cert_bad_set, cert_bad_logged;
	unsigned cert_ticks;		 /* timer runs until the next expiry check */
	struct sps_arena *arena; /* per message, reset after each; the proxy may
				    take it (sps__server_take_arena) */
	struct sps_arena *spare_arena; /* the next s->arena once one is taken, or NULL */
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

/* Build a response to req into s->out (To tag stable per request). */
int sps__server_build(struct sps_server *s, const struct sps_sip_msg *req, unsigned code,
		      const char *reason, const struct sps_sip_newhdr *extra, size_t nextra);

/* Is the Request-URI host this server (our domain or listen address)? */
bool sps__server_is_us(const struct sps_server *s, struct sps_slice host);

/* REGISTER (register.c): digest authentication, then the registrar; the
 * reply waits for the group commit when bindings were written. */
void sps__server_register(struct sps_server *s, const struct sps_origin *o,
			  const struct sps_sip_msg *m, struct sps_tsx *t);
/* RFC 3261 22.4 / RFC 7616: authenticate m (REGISTER: 401 and
 * Authorization; proxy: 407 and Proxy-Authorization). Returns 0 with the
 * user name in user, or non-zero after answering the request itself. */
int sps__server_authenticate(struct sps_server *s, const struct sps_origin *o,
			     const struct sps_sip_msg *m, struct sps_tsx *t, bool proxy,
			     char user[65]);

/* The stateful proxy (proxy.c): requests other than REGISTER/OPTIONS to
 * the server; CANCEL of a proxied INVITE; setup and teardown. */
void sps__server_proxy(struct sps_server *s, const struct sps_origin *o, struct sps_sip_msg *m,
		       struct sps_tsx *t);
void sps__server_proxy_cancel(struct sps_server *s, struct sps_tsx *invite);
void sps__server_proxy_init(struct sps_server *s);
void sps__server_proxy_fini(struct sps_server *s);

/* Start/stop the registrar side: store, digest secret, registrar, idle hook
 * for the group commit, expiry timer. Returns 0 or an errno with err set. */
int sps__server_register_init(struct sps_server *s, char *err, size_t errsize);
void sps__server_register_fini(struct sps_server *s);
/* A stream connection closed: its flows are gone. */
void sps__server_conn_closed(struct sps_server *s, struct sps_conn *c);

/* Handle one received message in data[0..len) (copied into s->arena
 * first). Answers on the origin's transport. */
void sps__server_handle(struct sps_server *s, const struct sps_origin *o, const char *data,
			size_t len);

/* The arena of the message being handled (the message's bytes, its parse
 * and what handlers allocated for it) for a caller that keeps the parsed
 * message beyond this message (the proxy's pending requests): the caller
 * owns it and frees it with sps_arena_free; the server goes on with a fresh
 * one. NULL when there is no memory for that fresh one - never after
 * sps__server_arena_reserve() succeeded during the same message. */
struct sps_arena *sps__server_take_arena(struct sps_server *s);
/* Make the next sps__server_take_arena() succeed. Returns 0 or ENOMEM. */
int sps__server_arena_reserve(struct sps_server *s);

#endif
