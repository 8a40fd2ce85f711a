/* provision/prov_yealink: Yealink T2x/T4x/T5x phones (firmware 8x and later).
 *
 * One file, <mac>.cfg, in Yealink's "key = value" format (the first line
 * must be "#!version:1.0.0.1"). Per line N:
 *   account.N.transport       0 UDP, 1 TCP, 2 TLS, 3 DNS-NAPTR
 *   account.N.srtp_encryption 0 off, 1 optional, 2 compulsory
 * The CA is installed as a custom trusted certificate fetched from the
 * provisioning server (static.trusted_certificates.url, public ca.pem), and
 * the phone is told to accept custom certificates and check the server name
 * (static.security.*). Values are one line each: the model check
 * (sps__prov_check) refuses control characters and blanks in them. */
#include <errno.h>
#include <stdio.h>

#include "provision/provision.h"

static int transport_code(enum sps_prov_transport t)
{
	switch (t) {
	case SPS_PROV_TP_TCPONLY:
	case SPS_PROV_TP_TCPPREFERRED:
		return 1;
	case SPS_PROV_TP_TLS:
		return 2;
	case SPS_PROV_TP_DNSNAPTR:
		return 3;
	default:
		return 0;
	}
}

/* Yealink has no "accept but do not offer": enable and offer both map to
 * optional (the phone offers SRTP and accepts RTP). */
static int srtp_code(enum sps_prov_srtp s)
{
	return s == SPS_PROV_SRTP_OFF ? 0 : s == SPS_PROV_SRTP_REQUIRE ? 2 : 1;
}

static int yealink_generate(const struct sps_prov_device *d, struct sps_prov_files *out)
{
	char name[SPS_PROV_NAME_MAX];
	snprintf(name, sizeof(name), "%s.cfg", d->mac);
	struct sps_mbuf *mb = sps__prov_file_add(out, name, true);
	if (!mb)
		return ENOMEM;
	unsigned port = sps__prov_port(d);
	sps_mbuf_printf(mb,
			"#!version:1.0.0.1\n"
			"## sipsec: configuration of %s\n"
			"\n"
			"## trust the sipsec CA (custom certificates), check server names\n"
			"static.security.trust_certificates = 1\n"
			"static.security.ca_cert = 2\n"
			"static.security.cn_validation = 1\n"
			"static.trusted_certificates.url = https://%s:%u/prov/ca.pem\n",
			d->mac, d->domain, (unsigned)d->https_port);
	for (size_t i = 0; i < d->nlines; i++) {
		const struct sps_prov_line *l = &d->lines[i];
		size_t n = i + 1;
		sps_mbuf_printf(mb,
				"\n## line %zu\n"
				"account.%zu.enable = 1\n"
				"account.%zu.label = %s\n"
				"account.%zu.display_name = %s\n"
				"account.%zu.auth_name = %s\n"
				"account.%zu.user_name = %s\n"
				"account.%zu.password = %s\n"
				"account.%zu.sip_server.1.address = %s\n"
				"account.%zu.sip_server.1.port = %u\n"
				"account.%zu.sip_server.1.expires = 3600\n"
				"account.%zu.transport = %d\n"
				"account.%zu.sip_server.1.transport_type = %d\n"
				"account.%zu.srtp_encryption = %d\n",
				n, n, n, l->user, n, l->user, n, l->user, n, l->user, n, l->password, n,
				d->domain, n, port, n, n, transport_code(d->transport), n,
				transport_code(d->transport), n, srtp_code(d->srtp));
	}
	return 0;
}

const struct sps_prov_vendor sps__prov_yealink = {"yealink", "T54W", 16, yealink_generate};
