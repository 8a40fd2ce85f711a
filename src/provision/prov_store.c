/* provision/prov_store: the model of a stored device (see prov_store.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "auth/digest.h"
#include "pki/pki.h"
#include "provision/prov_store.h"

static uint16_t port_setting(struct sps_store *st, const char *key, uint16_t def)
{
	char buf[16];
	if (sps_store_setting_get(st, key, buf, sizeof(buf)) != 0)
		return def;
	char *end;
	long v = strtol(buf, &end, 10);
	return *end == '\0' && v > 0 && v < 65536 ? (uint16_t)v : def;
}

int sps_prov_env_read_ca(struct sps_prov_env *env)
{
	sps_mbuf_reset(&env->ca_pem);
	return sps_pki_cert_pem(env->ca_path, &env->ca_pem);
}

int sps_prov_env_load(struct sps_prov_env *env, struct sps_store *st, const char *data,
		      const char *default_domain)
{
	struct sps_pki_paths paths;
	memset(env, 0, sizeof(*env));
	sps_mbuf_init(&env->ca_pem, 64 * 1024);
	if (sps_store_setting_get(st, "realm", env->domain, sizeof(env->domain)) != 0)
		snprintf(env->domain, sizeof(env->domain), "%s",
			 default_domain ? default_domain : "localhost");
	env->sip_port = port_setting(st, SPS_PROV_SETTING_SIP_PORT, 5060);
	env->tls_port = port_setting(st, SPS_PROV_SETTING_TLS_PORT, 5061);
	env->https_port = port_setting(st, SPS_PROV_SETTING_HTTPS_PORT, 8443);
	int err = sps_pki_paths(data, &paths);
	if (err)
		return err;
	snprintf(env->ca_path, sizeof(env->ca_path), "%s", paths.ca_cert);
	return sps_prov_env_read_ca(env);
}

void sps_prov_env_free(struct sps_prov_env *env)
{
	if (env)
		sps_mbuf_free(&env->ca_pem);
}

/* Does password still give the user's stored HA1? (A `user passwd` after the
 * device was added makes the provisioned password wrong.) */
static bool line_current(struct sps_store *st, const struct sps_device_line *l)
{
	struct sps_user u;
	char ha1[SPS_HA1_SHA256_HEX + 1];
	bool ok = false;
	if (sps_store_user_get(st, l->user, &u) != 0)
		return false;
	if (u.ha1_sha256[0])
		ok = sps_digest_ha1(SPS_DIGEST_SHA256, u.name, u.realm, l->sip_password, ha1,
				    sizeof(ha1)) == 0 &&
		     strcmp(ha1, u.ha1_sha256) == 0;
	else
		ok = sps_digest_ha1(SPS_DIGEST_MD5, u.name, u.realm, l->sip_password, ha1,
				    sizeof(ha1)) == 0 &&
		     strcmp(ha1, u.ha1_md5) == 0;
	OPENSSL_cleanse(ha1, sizeof(ha1));
	OPENSSL_cleanse(&u, sizeof(u));
	return ok;
}

int sps_prov_device_files(struct sps_store *st, const struct sps_device *d,
			  const struct sps_prov_env *env, struct sps_prov_files *out,
			  unsigned *stale_lines)
{
	struct sps_device_line lines[SPS_DEVICE_LINES_MAX];
	struct sps_prov_line pl[SPS_DEVICE_LINES_MAX];
	struct sps_prov_device m;
	size_t n = 0;
	unsigned stale = 0;

	memset(out, 0, sizeof(*out));
	memset(&m, 0, sizeof(m));
	int err = sps_store_device_lines(st, d->mac, lines, SPS_DEVICE_LINES_MAX, &n);
	if (err)
		return err;
	for (size_t i = 0; i < n; i++) {
		pl[i].user = lines[i].user;
		pl[i].password = lines[i].sip_password;
		if (!line_current(st, &lines[i]))
			stale++;
	}
	m.mac = d->mac;
	m.vendor = d->vendor;
	m.model = d->model;
	if (sps_prov_transport_parse(d->transport, &m.transport) ||
	    sps_prov_srtp_parse(d->srtp, &m.srtp)) {
		err = EINVAL;
		goto out;
	}
	m.domain = env->domain;
	m.sip_port = env->sip_port;
	m.tls_port = env->tls_port;
	m.https_port = env->https_port;
	m.ca_pem = env->ca_pem.buf ? env->ca_pem.buf : "";
	m.lines = pl;
	m.nlines = n;
	err = sps_prov_generate(&m, out);
	if (!err && stale_lines)
		*stale_lines = stale;
out:
	OPENSSL_cleanse(lines, sizeof(lines));
	return err;
}

int sps_prov_env_public_files(const struct sps_prov_env *env, struct sps_prov_files *out)
{
	struct sps_prov_device m;
	memset(&m, 0, sizeof(m));
	m.domain = env->domain;
	m.sip_port = env->sip_port;
	m.tls_port = env->tls_port;
	m.https_port = env->https_port;
	m.ca_pem = env->ca_pem.buf ? env->ca_pem.buf : "";
	return sps_prov_public_files(&m, out);
}
