/* media/sdes: choosing an a=crypto line (RFC 4568 7.1) and classifying an
 * m= section. */
#include "media/sdes.h"

#include <errno.h>
#include <string.h>

#include <openssl/crypto.h>

#include "core/base64.h"

/* One line usable? Fills *key on success. */
static int usable(const struct sps_sdp_crypto *c, struct sps_srtp_key *key)
{
	uint8_t raw[SPS_SDP_KEY_MAX];
	size_t n = 0;
	enum sps_srtp_suite suite = sps_srtp_suite_parse(c->suite);
	if (suite == SPS_SRTP_NONE || c->nkeys != 1 || c->session_params.l ||
	    (c->has_mki && c->mki_len > 4))
		return EINVAL;
	int err = sps_base64_decode(c->key_b64, raw, sizeof(raw), &n, SPS_B64_PAD);
	if (!err)
		err = sps_srtp_key_set(key, suite, raw, n, c->mki, (uint8_t)(c->has_mki ? c->mki_len : 0));
	OPENSSL_cleanse(raw, sizeof(raw));
	if (err)
		return err;
	/* the libsrtp we run may refuse a combination (crypto.c) */
	struct sps_srtp *probe = NULL;
	err = sps_srtp_new(&probe, key, false);
	sps_srtp_free(probe);
	if (err)
		sps_srtp_key_wipe(key);
	return err;
}

int sps_sdes_pick(const struct sps_sdp_media *m, struct sps_srtp_key *key, uint32_t *tag)
{
	for (size_t i = 0; i < m->ncrypto; i++) {
		if (usable(&m->crypto[i], key) == 0) {
			*tag = m->crypto[i].tag;
			return 0;
		}
	}
	return ENOENT;
}

enum sps_offer_sec sps_sdes_sec(const struct sps_sdp_media *m)
{
	if (sps_sdp_proto_secure(m->proto))
		return SPS_OFFER_SRTP;
	if (m->ncrypto && (m->proto == SPS_SDP_RTP_AVP || m->proto == SPS_SDP_RTP_AVPF))
		return SPS_OFFER_BEST_EFFORT;
	return SPS_OFFER_PLAIN;
}

static int conn_sa(const struct sps_sdp_conn *c, uint16_t port, struct sps_sa *out)
{
	char ip[64];
	if (!c || sps_slice_to_cstr(c->addr, ip, sizeof(ip)) || sps_sa_set_str(out, ip, port))
		return EINVAL;
	return 0;
}

int sps_sdes_remote(const struct sps_sdp *sdp, size_t i, struct sps_sa *rtp, struct sps_sa *rtcp)
{
	if (i >= sdp->nmedia)
		return EINVAL;
	const struct sps_sdp_media *m = &sdp->media[i];
	struct sps_sa a, b;
	memset(&b, 0, sizeof(b));
	if (conn_sa(sps_sdp_media_conn(sdp, i), m->port, &a))
		return EINVAL;
	if (m->port == 0 || sps_sa_is_any(&a)) {
		memset(rtp, 0, sizeof(*rtp));
		memset(rtcp, 0, sizeof(*rtcp));
		return 0;
	}
	if (m->rtcp_mux) {
		b = a;
	} else if (m->has_rtcp && m->rtcp_conn.addr.l) {
		if (conn_sa(&m->rtcp_conn, m->rtcp_port, &b))
			return EINVAL;
	} else if (m->has_rtcp) {
		b = a;
		sps_sa_set_port(&b, m->rtcp_port);
	} else {
		b = a;
		sps_sa_set_port(&b, (uint16_t)(m->port + 1)); /* RFC 3605 1, RFC 3550 11 */
	}
	*rtp = a;
	*rtcp = b;
	return 0;
}

int sps_sdes_edit_media(struct sps_sdp_edit *e, size_t i, const struct sps_sdp_media *m,
			uint16_t port, enum sps_offer_sec sec, const struct sps_srtp_key *key,
			uint32_t tag, char *line, size_t linesize)
{
	bool feedback = m->proto == SPS_SDP_RTP_AVPF || m->proto == SPS_SDP_RTP_SAVPF;
	if (i >= SPS_SDP_MAX_MEDIA || m->proto == SPS_SDP_PROTO_OTHER ||
	    (sec != SPS_OFFER_PLAIN && (!key || !sps_srtp_key_len(key->suite))))
		return EINVAL;
	struct sps_sdp_media_edit *me = &e->media[i];
	memset(me, 0, sizeof(*me));
	me->set = true;
	me->port = port;
	if (sec == SPS_OFFER_SRTP)
		me->proto = feedback ? SPS_SDP_RTP_SAVPF : SPS_SDP_RTP_SAVP;
	else
		me->proto = feedback ? SPS_SDP_RTP_AVPF : SPS_SDP_RTP_AVP;
	/* a=rtcp only where the section had one; with rtcp-mux RTCP shares the port */
	me->set_rtcp = m->has_rtcp;
	me->rtcp_port = m->rtcp_mux ? port : (uint16_t)(port + 1);
	me->replace_crypto = true;
	if (sec != SPS_OFFER_PLAIN) {
		int err = sps_sdp_crypto_format(line, linesize, tag, sps_srtp_suite_name(key->suite),
						key->key, sps_srtp_key_len(key->suite));
		if (err)
			return err;
		me->crypto[0] = line;
		me->ncrypto = 1;
	}
	return 0;
}
