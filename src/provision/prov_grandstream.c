/* provision/prov_grandstream: Grandstream GXP/GRP phones, XML P-values.
 *
 * One file, cfg<mac>.xml: <gs_provision version="1"><mac/><config
 * version="1"> with one element per P-value. Account 1 has its own numbers;
 * account n >= 2 uses P<n+2>01.. (P401 for account 2, P501 for account 3,
 * P601 for account 4):
 *                 acct 1   acct n
 *   active        P271     P<n+2>01
 *   account name  P270     P<n+2>17
 *   SIP server    P47      P<n+2>02
 *   SIP user ID   P35      P<n+2>04
 *   auth ID       P36      P<n+2>05
 *   password      P34      P<n+2>06
 *   display name  P3       P<n+2>07
 *   transport     P130     P<n+2>48   0 UDP, 1 TCP, 2 TLS
 *   SRTP mode     P183     P<n+2>43   0 disabled, 1 enabled but not forced,
 *                                     2 enabled and forced
 * The CA goes into the trusted CA certificate slot (P8433; the account
 * P-values above follow Grandstream's published templates, the CA slot has
 * not been checked against a phone yet). Grandstream has no NAPTR transport
 * value: DNSnaptr is written as UDP. */
#include <errno.h>
#include <stdio.h>

#include "provision/provision.h"

#define GS_MAX_LINES 4
#define GS_TRUSTED_CA "8433"

static int transport_code(enum sps_prov_transport t)
{
	switch (t) {
	case SPS_PROV_TP_TCPONLY:
	case SPS_PROV_TP_TCPPREFERRED:
		return 1;
	case SPS_PROV_TP_TLS:
		return 2;
	default:
		return 0;
	}
}

static int srtp_code(enum sps_prov_srtp s)
{
	return s == SPS_PROV_SRTP_OFF ? 0 : s == SPS_PROV_SRTP_REQUIRE ? 2 : 1;
}

/* <Pnum>value</Pnum>, the value escaped. */
static void pval(struct sps_mbuf *mb, const char *num, const char *val)
{
	sps_mbuf_printf(mb, "    <P%s>", num);
	sps__prov_xml_esc(mb, val);
	sps_mbuf_printf(mb, "</P%s>\n", num);
}

static void pval_acct(struct sps_mbuf *mb, size_t n, const char *acct1, unsigned suffix,
		      const char *val)
{
	char num[16];
	if (n == 1)
		snprintf(num, sizeof(num), "%s", acct1);
	else
		snprintf(num, sizeof(num), "%zu%02u", n + 2, suffix);
	pval(mb, num, val);
}

static int grandstream_generate(const struct sps_prov_device *d, struct sps_prov_files *out)
{
	char name[SPS_PROV_NAME_MAX], server[300], v[8];
	snprintf(name, sizeof(name), "cfg%s.xml", d->mac);
	struct sps_mbuf *mb = sps__prov_file_add(out, name, true);
	if (!mb)
		return ENOMEM;
	snprintf(server, sizeof(server), "%s:%u", d->domain, (unsigned)sps__prov_port(d));
	sps_mbuf_printf(mb,
			"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
			"<!-- sipsec: configuration of %s -->\n"
			"<gs_provision version=\"1\">\n"
			"  <mac>%s</mac>\n"
			"  <config version=\"1\">\n",
			d->mac, d->mac);
	pval(mb, GS_TRUSTED_CA, d->ca_pem);
	for (size_t i = 0; i < d->nlines; i++) {
		const struct sps_prov_line *l = &d->lines[i];
		size_t n = i + 1;
		pval_acct(mb, n, "271", 1, "1");
		pval_acct(mb, n, "270", 17, l->user);
		pval_acct(mb, n, "47", 2, server);
		pval_acct(mb, n, "35", 4, l->user);
		pval_acct(mb, n, "36", 5, l->user);
		pval_acct(mb, n, "34", 6, l->password);
		pval_acct(mb, n, "3", 7, l->user);
		snprintf(v, sizeof(v), "%d", transport_code(d->transport));
		pval_acct(mb, n, "130", 48, v);
		snprintf(v, sizeof(v), "%d", srtp_code(d->srtp));
		pval_acct(mb, n, "183", 43, v);
	}
	sps_mbuf_puts(mb, "  </config>\n</gs_provision>\n");
	return 0;
}

const struct sps_prov_vendor sps__prov_grandstream = {"grandstream", "GRP2614", GS_MAX_LINES,
						       grandstream_generate};
