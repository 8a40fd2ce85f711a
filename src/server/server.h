/* server: `sipsec serve` assembled from the layers below: the loop, the
 * UDP/TCP/TLS listeners, the built-in CA and the SIP request handling. */
#ifndef SPS_SERVER_SERVER_H
#define SPS_SERVER_SERVER_H

#include <stdbool.h>
#include <stddef.h>

#include "core/conf.h"

#define SPS_PATH_MAX 1024

/* Every option of `sipsec serve`; described by sps_server_opts. */
struct sps_server_conf {
	char data[SPS_PATH_MAX];
	char config[SPS_PATH_MAX];
	char domain[256];
	char listen[64];
	int sip_port;
	int tls_port;
	int https_port;
	int http_port; /* plain HTTP provisioning (CA, bootstrap); -1 = off */
	char log_level[8];
	int max_connections;
	int max_connections_per_ip;
	int idle_timeout;
	int tls_handshake_timeout;
	int handshake_workers;
	bool verify_client;
	char tls_client_ca[SPS_PATH_MAX];
	char tls_ca_bundle[SPS_PATH_MAX]; /* outgoing TLS trust; "" = system + built-in CA */
	int ticket_rotate;
	char digest_algorithms[32];
	int nonce_ttl;
	int min_expires;
	int default_expires;
	int max_expires;
	int max_contacts;
	int timer_c; /* seconds, RFC 3261 16.6 item 11 */
	char srtp_default[8]; /* media/policy.h mode of users without their own */
	int media_port_min;   /* UDP range of the media relay (media/relay.h) */
	int media_port_max;
	int media_timeout;    /* seconds without media before a relay session ends; 0 never */
};

extern const struct sps_opt sps_server_opts[];
extern const size_t sps_server_nopts;

/* Resolve the defaults that depend on the machine: data dir from
 * $SIPSEC_DATA, domain from the host name. */
void sps_server_conf_finish(struct sps_server_conf *conf);

/* Run the server until SIGINT/SIGTERM. Logs one line per listener and a
 * "ready" line, and writes DATA/sipsec.pid once every socket is bound.
 * Returns 0 after a clean stop; otherwise an errno, with a one-line message
 * (what failed and what to do) in err. */
int sps_server_run(const struct sps_server_conf *conf, char *err, size_t errsize);

#endif
