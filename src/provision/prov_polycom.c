/* provision/prov_polycom: Polycom / Poly UC Software 4.x, 5.x and later.
 *
 * Files (fetched in this order by the phone, names relative to the
 * provisioning URL):
 *   <mac>.cfg      the master file: CONFIG_FILES names the two below
 *   <mac>-sec.cfg  the CA (device.sec.TLS.customCaCert1) with the TLS profile
 *                  selection that makes SIP over TLS and provisioning trust it,
 *                  and the SRTP flags (sec.srtp.*); no passwords
 *   <mac>-reg.cfg  the lines (reg.N.*), with the SIP passwords
 * Parameters are XML attributes (the phone ignores element names); every
 * value is escaped. */
#include <errno.h>
#include <stdio.h>

#include "provision/provision.h"

/* The three sec.srtp flags per mode: enable (accept SRTP), offer (put it in
 * our offers), require (refuse calls without it). Issue 8: off 0/0/0,
 * enable 1/0/0, offer 1/1/0, require 1/1/1. */
static const char srtp_flags[4][3] = {
	[SPS_PROV_SRTP_OFF] = {0, 0, 0},
	[SPS_PROV_SRTP_ENABLE] = {1, 0, 0},
	[SPS_PROV_SRTP_OFFER] = {1, 1, 0},
	[SPS_PROV_SRTP_REQUIRE] = {1, 1, 1},
};

static void attr(struct sps_mbuf *mb, const char *indent, const char *key, const char *val)
{
	sps_mbuf_printf(mb, "%s%s=\"", indent, key);
	sps__prov_xml_esc(mb, val);
	sps_mbuf_puts(mb, "\"\n");
}

static void attr_n(struct sps_mbuf *mb, size_t n, const char *key, const char *val)
{
	sps_mbuf_printf(mb, "    reg.%zu.%s=\"", n, key);
	sps__prov_xml_esc(mb, val);
	sps_mbuf_puts(mb, "\"\n");
}

static const char head[] = "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n";

static int polycom_generate(const struct sps_prov_device *d, struct sps_prov_files *out)
{
	char name[SPS_PROV_NAME_MAX], sec[SPS_PROV_NAME_MAX], reg[SPS_PROV_NAME_MAX];
	snprintf(name, sizeof(name), "%s.cfg", d->mac);
	snprintf(sec, sizeof(sec), "%s-sec.cfg", d->mac);
	snprintf(reg, sizeof(reg), "%s-reg.cfg", d->mac);

	/* master configuration file: names the others; APP_FILE_PATH is the
	 * firmware image the phone looks for (not served by sipsec: the phone
	 * keeps the firmware it has) */
	struct sps_mbuf *mb = sps__prov_file_add(out, name, false);
	if (!mb)
		return ENOMEM;
	sps_mbuf_printf(mb,
			"<?xml version=\"1.0\" standalone=\"yes\"?>\n"
			"<!-- sipsec: master configuration file of %s -->\n"
			"<APPLICATION APP_FILE_PATH=\"sip.ld\" CONFIG_FILES=\"%s, %s\" MISC_FILES=\"\" "
			"LOG_FILE_DIRECTORY=\"\" OVERRIDES_DIRECTORY=\"\" CONTACTS_DIRECTORY=\"\" "
			"LICENSE_DIRECTORY=\"\" USER_PROFILES_DIRECTORY=\"\" "
			"CALL_LISTS_DIRECTORY=\"\"/>\n",
			d->mac, sec, reg);

	/* security: the CA and which TLS profile uses it, SRTP */
	mb = sps__prov_file_add(out, sec, false);
	if (!mb)
		return ENOMEM;
	const char *f = srtp_flags[d->srtp];
	sps_mbuf_printf(mb, "%s<!-- sipsec: CA, TLS profile and SRTP of %s -->\n<polycomConfig>\n",
			head, d->mac);
	sps_mbuf_puts(mb, "  <device\n");
	/* device.* values apply only with device.set=1 and their own .set=1 */
	attr(mb, "    ", "device.set", "1");
	attr(mb, "    ", "device.sec.TLS.customCaCert1.set", "1");
	attr(mb, "    ", "device.sec.TLS.customCaCert1", d->ca_pem);
	/* platform profile 1 trusts the built-in CAs and custom CA 1 (the
	 * "Platform1" CA slot is device.sec.TLS.customCaCert1) */
	attr(mb, "    ", "device.sec.TLS.profile.caCertList1.set", "1");
	attr(mb, "    ", "device.sec.TLS.profile.caCertList1", "BuiltinAndPlatform1");
	attr(mb, "    ", "device.sec.TLS.profileSelection.provisioning.set", "1");
	attr(mb, "    ", "device.sec.TLS.profileSelection.provisioning", "PlatformProfile1");
	sps_mbuf_puts(mb, "  />\n  <sec\n");
	/* SIP over TLS uses platform profile 1, so the sipsec CA is trusted
	 * for the server certificate of the registrar */
	attr(mb, "    ", "sec.TLS.profileSelection.SIP", "PlatformProfile1");
	attr(mb, "    ", "sec.TLS.SIP.strictCertCommonNameValidation", "1");
	sps_mbuf_printf(mb,
			"    sec.srtp.enable=\"%d\"\n"
			"    sec.srtp.offer=\"%d\"\n"
			"    sec.srtp.require=\"%d\"\n"
			/* sipsec keys SRTP with AES_CM_128_HMAC_SHA1_80 (RFC 4568 6.2.1) */
			"    sec.srtp.offer.HMAC_SHA1_80=\"%d\"\n"
			"    sec.srtp.offer.HMAC_SHA1_32=\"0\"\n"
			"  />\n</polycomConfig>\n",
			f[0], f[1], f[2], f[0]);

	/* registrations, with the SIP passwords */
	mb = sps__prov_file_add(out, reg, true);
	if (!mb)
		return ENOMEM;
	sps_mbuf_printf(mb, "%s<!-- sipsec: lines of %s -->\n<polycomConfig>\n  <reg\n", head,
			d->mac);
	/* 0: the transport's default port (5060, or 5061 for TLS); another
	 * port the server listens on is written out */
	char port[8] = "0";
	uint16_t p = sps__prov_port(d);
	bool tls = d->transport == SPS_PROV_TP_TLS;
	if (p && p != (tls ? 5061 : 5060))
		snprintf(port, sizeof(port), "%u", (unsigned)p);
	for (size_t i = 0; i < d->nlines; i++) {
		const struct sps_prov_line *l = &d->lines[i];
		size_t n = i + 1;
		attr_n(mb, n, "address", l->user);
		attr_n(mb, n, "auth.userId", l->user);
		attr_n(mb, n, "auth.password", l->password);
		attr_n(mb, n, "label", l->user);
		attr_n(mb, n, "server.1.address", d->domain);
		attr_n(mb, n, "server.1.port", port);
		attr_n(mb, n, "server.1.transport", sps_prov_transport_name(d->transport));
		attr_n(mb, n, "server.1.expires", "3600");
		/* seconds before expiry that the phone re-registers */
		attr_n(mb, n, "server.1.expires.overlap", "60");
		attr_n(mb, n, "server.1.register", "1");
		attr_n(mb, n, "server.1.retryTimeOut", "0");
		attr_n(mb, n, "server.1.retryMaxCount", "3");
		attr_n(mb, n, "server.1.expires.lineSeize", "30");
		attr_n(mb, n, "lineKeys", "1");
	}
	sps_mbuf_puts(mb, "  />\n</polycomConfig>\n");
	return 0;
}

const struct sps_prov_vendor sps__prov_polycom = {"polycom", "VVX450", 12, polycom_generate};
