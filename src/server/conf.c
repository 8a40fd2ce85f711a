/* server/conf: the one table of `sipsec serve` options (flags, INI file, --help). */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server/server.h"

#define OFF(f) offsetof(struct sps_server_conf, f)
#define STR(f) OFF(f), sizeof(((struct sps_server_conf *)0)->f)

const struct sps_opt sps_server_opts[] = {
	{"data", SPS_OPT_STR, STR(data), 0, 0, NULL, false, false,
	 "data directory: database, keys, certificates ($SIPSEC_DATA or ./sipsec-data)", "DIR"},
	{"config", SPS_OPT_STR, STR(config), 0, 0, NULL, false, true,
	 "INI file with any of these options (flags override it)", "FILE"},
	{"domain", SPS_OPT_STR, STR(domain), 0, 0, NULL, false, false,
	 "SIP domain, the realm and the certificate name (default: the host name)", "NAME"},
	{"listen", SPS_OPT_STR, STR(listen), 0, 0, "0.0.0.0", false, false,
	 "address to listen on", "ADDR"},
	{"sip-port", SPS_OPT_INT, OFF(sip_port), 0, 0, 65535, "5060", false, false,
	 "UDP and TCP port (0 picks a free one)", "PORT"},
	{"tls-port", SPS_OPT_INT, OFF(tls_port), 0, 0, 65535, "5061", false, false,
	 "TLS port (0 picks a free one)", "PORT"},
	{"https-port", SPS_OPT_INT, OFF(https_port), 0, 0, 65535, "8443", false, false,
	 "HTTPS port of the phone provisioning server (/prov/FILE; 0 picks a free one)",
	 "PORT"},
	{"http-port", SPS_OPT_INT, OFF(http_port), 0, -1, 65535, "-1", false, false,
	 "plain HTTP provisioning port for phones that do not trust the CA yet: serves only "
	 "the CA and a bootstrap file, never configs (-1: off)", "PORT"},
	{"log-level", SPS_OPT_STR, STR(log_level), 0, 0, "info", true, false,
	 "error, warn, info or debug", "LEVEL"},
	{"max-connections", SPS_OPT_INT, OFF(max_connections), 0, 16, 1000000, "16384", false,
	 false, "TCP and TLS connections at most", "N"},
	{"max-connections-per-ip", SPS_OPT_INT, OFF(max_connections_per_ip), 0, 1, 1000000, "64",
	 false, false, "connections at most from one source address", "N"},
	{"idle-timeout", SPS_OPT_INT, OFF(idle_timeout), 0, 1, 86400, "3600", false, false,
	 "seconds before a silent connection is closed", "SECONDS"},
	{"tls-handshake-timeout", SPS_OPT_INT, OFF(tls_handshake_timeout), 0, 1, 60, "10", false,
	 false, "seconds a TLS handshake may take", "SECONDS"},
	{"handshake-workers", SPS_OPT_INT, OFF(handshake_workers), 0, -1, 256, "0", false, false,
	 "TLS handshake threads (0: one per core but one, -1: none)", "N"},
	{"verify-client", SPS_OPT_BOOL, OFF(verify_client), 0, 0, 0, "false", false, false,
	 "require TLS client certificates issued by --tls-client-ca", NULL},
	{"tls-client-ca", SPS_OPT_STR, STR(tls_client_ca), 0, 0, NULL, false, false,
	 "CA file for client certificates (default: the built-in CA)", "FILE"},
	{"tls-ca-bundle", SPS_OPT_STR, STR(tls_ca_bundle), 0, 0, NULL, false, false,
	 "CA certificates (PEM) trusted when sipsec connects to other servers over TLS "
	 "(default: the system's trust store plus the built-in CA)", "FILE"},
	{"ticket-rotate", SPS_OPT_INT, OFF(ticket_rotate), 0, 60, 604800, "43200", false, false,
	 "seconds between TLS session ticket key rotations (a TLS 1.2 session resumes for "
	 "one period, a TLS 1.3 ticket for 7 days or 15 periods if that is shorter)", "SECONDS"},
	{"digest-algorithms", SPS_OPT_STR, STR(digest_algorithms), 0, 0, "SHA-256,MD5", false,
	 false,
	 "digest challenges offered, most preferred first (RFC 8760); give MD5 alone for "
	 "clients that fail on SHA-256 (baresip 1.0, SIPp 3.6)", "LIST"},
	{"nonce-ttl", SPS_OPT_INT, OFF(nonce_ttl), 0, 1, 86400, "300", false, false,
	 "seconds a digest nonce stays fresh (then stale=true)", "SECONDS"},
	{"min-expires", SPS_OPT_INT, OFF(min_expires), 0, 1, 86400, "60", false, false,
	 "shortest registration accepted; shorter ones get 423 (RFC 3261 10.3)", "SECONDS"},
	{"default-expires", SPS_OPT_INT, OFF(default_expires), 0, 1, 604800, "3600", false, false,
	 "registration time when the phone names none", "SECONDS"},
	{"max-expires", SPS_OPT_INT, OFF(max_expires), 0, 1, 604800, "86400", false, false,
	 "longest registration granted; longer requests are shortened", "SECONDS"},
	{"max-contacts", SPS_OPT_INT, OFF(max_contacts), 0, 1, 1000, "10", false, false,
	 "registered contacts per user at most", "N"},
	{"timer-c", SPS_OPT_INT, OFF(timer_c), 0, 1, 86400, "181", false, false,
	 "seconds a forwarded INVITE waits for a final answer, restarted by each 18x; then "
	 "the branch is cancelled and counts as 408 (RFC 3261 Timer C; the RFC asks for "
	 "more than 180)", "SECONDS"},
	{"srtp-default", SPS_OPT_STR, STR(srtp_default), 0, 0, "offer", false, false,
	 "SRTP policy of users without their own ('sipsec user set NAME --srtp'): off, "
	 "enable, offer (SRTP wherever the hop is TLS, plain RTP bridged) or require", "MODE"},
	{"media-port-min", SPS_OPT_INT, OFF(media_port_min), 0, 1024, 65534, "30000", false, false,
	 "lowest UDP port of the SRTP/RTP media relay (RTP even, RTCP the next)", "PORT"},
	{"media-port-max", SPS_OPT_INT, OFF(media_port_max), 0, 1025, 65535, "39999", false, false,
	 "highest UDP port of the media relay", "PORT"},
	{"media-timeout", SPS_OPT_INT, OFF(media_timeout), 0, 0, 86400, "60", false, false,
	 "seconds without valid media before the relay drops a call's media session (0: never)",
	 "SECONDS"},
};
const size_t sps_server_nopts = sizeof(sps_server_opts) / sizeof(sps_server_opts[0]);

void sps_server_conf_finish(struct sps_server_conf *conf)
{
	if (!conf->data[0]) {
		const char *env = getenv("SIPSEC_DATA");
		snprintf(conf->data, sizeof(conf->data), "%s", env && *env ? env : "./sipsec-data");
	}
	if (!conf->domain[0]) {
		char host[256] = "";
		if (gethostname(host, sizeof(host) - 1) != 0 || !host[0])
			strcpy(host, "localhost");
		snprintf(conf->domain, sizeof(conf->domain), "%s", host);
	}
}
