/* provision/prov_store: fill the provisioning model of a stored device and
 * generate its files, the same way for `sipsec device config` and for the
 * HTTPS server, so that both give the phone the same bytes. */
#ifndef SPS_PROVISION_PROV_STORE_H
#define SPS_PROVISION_PROV_STORE_H

#include <stdint.h>

#include "core/mbuf.h"
#include "provision/provision.h"
#include "store/store.h"

/* The server-wide part of the model. The CLI reads it with
 * sps_prov_env_load; the server sets it from its configuration. */
struct sps_prov_env {
	char domain[256];
	uint16_t sip_port, tls_port, https_port;
	struct sps_mbuf ca_pem; /* DATA/certs/ca.pem, the certificate only */
	char ca_path[1024];
};

/* Settings the running server records in the store so that the CLI writes
 * the ports it really listens on ("sip_port", "tls_port", "https_port"). */
#define SPS_PROV_SETTING_SIP_PORT "sip_port"
#define SPS_PROV_SETTING_TLS_PORT "tls_port"
#define SPS_PROV_SETTING_HTTPS_PORT "https_port"

/* Load env for the data dir: the domain is the store's "realm" setting
 * (else default_domain), ports from the settings above (else 5060, 5061,
 * 8443), the CA from DATA/certs/ca.pem. Returns 0, ENOENT (no CA yet: run
 * `sipsec serve` once), or an errno. Free with sps_prov_env_free. */
int sps_prov_env_load(struct sps_prov_env *env, struct sps_store *st, const char *data,
		      const char *default_domain);
/* (Re)read the CA into env->ca_pem from env->ca_path. */
int sps_prov_env_read_ca(struct sps_prov_env *env);
void sps_prov_env_free(struct sps_prov_env *env);

/* Generate the files of the stored device d into *out (see
 * sps_prov_generate). *stale_lines (may be NULL) receives how many lines'
 * stored SIP password no longer matches the user's password (changed with
 * `user passwd` since) or whose user is gone; such lines are still written.
 * Returns 0, ENOTSUP (generic), EINVAL, or an errno of the store. */
int sps_prov_device_files(struct sps_store *st, const struct sps_device *d,
			  const struct sps_prov_env *env, struct sps_prov_files *out,
			  unsigned *stale_lines);

/* The public files (CA, bootstrap) for env. */
int sps_prov_env_public_files(const struct sps_prov_env *env, struct sps_prov_files *out);

#endif
