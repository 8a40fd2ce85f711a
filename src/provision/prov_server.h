/* provision/prov_server: the HTTPS provisioning server inside `sipsec serve`
 * (issue 8). HTTP/1.1 on the server's own event loop and TLS layer: a
 * connection table of its own (net/conn.h) on the same loop, with the SIP
 * server's SSL_CTX, and our own bounded request parser (http.h; why:
 * docs/http.md).
 *
 * GET/HEAD /prov/<file>:
 *   - ca.pem, 000000000000.cfg, sipsec-bootstrap.cfg: public, no secrets;
 *   - any other file belongs to one device and needs that device's
 *     provisioning credentials (HTTP Digest, RFC 7616, or Basic, RFC 7617,
 *     over TLS): none -> 401, wrong -> 401 (logged), another device's file
 *     -> 403 (logged), no such file -> 404.
 * Plain HTTP (off unless a port is given) serves only the public files, for
 * phones that do not trust the CA yet; any other file is 404 there, so that a
 * Polycom falls back to 000000000000.cfg. */
#ifndef SPS_PROVISION_PROV_SERVER_H
#define SPS_PROVISION_PROV_SERVER_H

#include <stdint.h>

#include <openssl/ssl.h>

#include "core/loop.h"
#include "net/sa.h"
#include "store/store.h"

struct sps_prov_server;

struct sps_prov_server_conf {
	const char *data;      /* data dir: CA file, digest secret */
	const char *domain;    /* SIP domain: config contents and digest realm */
	struct sps_sa https;   /* address and port to listen on for HTTPS */
	int http_port;         /* plain HTTP port, -1: off (0: any free port) */
	SSL_CTX *tls;          /* the server context; the listener takes a reference */
	struct sps_store *store; /* borrowed; used on the loop thread only */
	uint16_t sip_port, tls_port; /* written into the configs */
	unsigned max_conns;    /* 0: 256 */
	unsigned max_per_ip;   /* 0: 16 */
};

/* Start listening. Records the ports in the store settings (prov_store.h)
 * so that `sipsec device config` prints what the server serves. On error
 * returns an errno with a one-line message in err. */
int sps_prov_server_start(struct sps_prov_server **out, struct sps_loop *loop,
			  const struct sps_prov_server_conf *conf, char *err, size_t errsize);
/* Close every connection and free. NULL is fine. */
void sps_prov_server_free(struct sps_prov_server *ps);
/* A certificate reload: new HTTPS connections get ctx instead of old (the
 * same swap as for SIP, so both serve the same certificate). NULL ps is fine. */
void sps_prov_server_swap_tls(struct sps_prov_server *ps, SSL_CTX *old, SSL_CTX *ctx);
/* The bound HTTPS port. */
uint16_t sps_prov_server_https_port(const struct sps_prov_server *ps);

#endif
