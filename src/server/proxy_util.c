/* server/proxy_util: loop detection and response ranking (see proxy_int.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "server/proxy_int.h"

static void mix(uint64_t *h, struct sps_slice s)
{
	for (size_t i = 0; i < s.l; i++)
		*h = (*h ^ (unsigned char)s.p[i]) * 1099511628211ull;
	*h = (*h ^ 0xff) * 1099511628211ull; /* field separator: "ab","c" != "a","bc" */
}

void sps__proxy_loop_hash(const struct sps_sip_msg *m, char out[17])
{
	uint64_t h = 1469598103934665603ull;
	char num[16];
	int nl = snprintf(num, sizeof(num), "%u", m->cseq.num);
	mix(&h, m->ruri_s);
	mix(&h, m->from ? m->from->tag : SPS_SLICE_NULL);
	mix(&h, m->to ? m->to->tag : SPS_SLICE_NULL);
	mix(&h, m->call_id);
	mix(&h, sps_slice_make(num, (size_t)nl));
	static const enum sps_hdr_id ids[] = {SPS_HDR_ROUTE, SPS_HDR_PROXY_REQUIRE};
	for (size_t k = 0; k < 2; k++)
		for (const struct sps_sip_hdr *e = sps_sip_msg_hdr_next(m, ids[k], NULL); e;
		     e = sps_sip_msg_hdr_next(m, ids[k], e))
			mix(&h, e->value);
	snprintf(out, 17, "%016llx", (unsigned long long)h);
}

enum sps_loop_verdict sps__proxy_loop_check(const struct sps_sip_msg *m,
					    sps__proxy_via_ours_h *ours, void *arg)
{
	enum sps_loop_verdict v = SPS_LOOP_NONE;
	char hash[17];
	bool hashed = false;
	for (const struct sps_sip_hdr *e = sps_sip_msg_hdr_next(m, SPS_HDR_VIA, NULL); e;
	     e = sps_sip_msg_hdr_next(m, SPS_HDR_VIA, e)) {
		const struct sps_via *via = e->parsed;
		if (!via || !ours(via, arg))
			continue;
		v = SPS_LOOP_SPIRAL;
		struct sps_slice b = via->branch;
		if (b.l < 17 || b.p[b.l - 17] != '.')
			continue; /* not a branch of ours with a hash */
		if (!hashed) {
			sps__proxy_loop_hash(m, hash);
			hashed = true;
		}
		if (memcmp(b.p + b.l - 16, hash, 16) == 0)
			return SPS_LOOP_LOOP;
	}
	return v;
}

int sps__proxy_rank(unsigned code)
{
	if (code >= 600)
		return 0;
	if (code == 503)
		code = 500;
	unsigned cls = code / 100;
	if (code == 401 || code == 407 || code == 415 || code == 420 || code == 484)
		return (int)(cls * 1000);
	return (int)(cls * 1000 + code);
}

struct sps__proxy_mac {
	EVP_MAC_CTX *ctx; /* HMAC-SHA256 with the key set */
};

int sps__proxy_mac_new(struct sps__proxy_mac **out, const unsigned char key[SPS_ROUTE_KEY_LEN])
{
	struct sps__proxy_mac *m = calloc(1, sizeof(*m));
	if (!m)
		return ENOMEM;
	EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	m->ctx = mac ? EVP_MAC_CTX_new(mac) : NULL;
	EVP_MAC_free(mac);
	OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string("digest", (char *)"SHA256", 0),
			       OSSL_PARAM_construct_end()};
	if (!m->ctx || EVP_MAC_init(m->ctx, key, SPS_ROUTE_KEY_LEN, params) != 1) {
		sps__proxy_mac_free(m);
		return EIO;
	}
	*out = m;
	return 0;
}

void sps__proxy_mac_free(struct sps__proxy_mac *m)
{
	if (!m)
		return;
	EVP_MAC_CTX_free(m->ctx); /* cleanses the key */
	free(m);
}

/* n bytes as 2n lowercase hex digits and a NUL. */
static void hex_encode(const unsigned char *p, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 15];
	}
	out[2 * n] = '\0';
}

/* 16 hex digits of HMAC-SHA256(key, flow | "|" | call_id) into mac. */
static int token_mac(struct sps__proxy_mac *m, struct sps_slice flow, struct sps_slice call_id,
		     char mac[17])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	size_t mdlen = 0;
	/* a NULL key restarts the MAC with the key set at creation */
	if (EVP_MAC_init(m->ctx, NULL, 0, NULL) != 1 ||
	    EVP_MAC_update(m->ctx, (const unsigned char *)flow.p, flow.l) != 1 ||
	    EVP_MAC_update(m->ctx, (const unsigned char *)"|", 1) != 1 ||
	    EVP_MAC_update(m->ctx, (const unsigned char *)call_id.p, call_id.l) != 1 ||
	    EVP_MAC_final(m->ctx, md, &mdlen, sizeof(md)) != 1 || mdlen < 8)
		return EIO;
	hex_encode(md, 8, mac);
	return 0;
}

int sps__proxy_token_make(struct sps__proxy_mac *m, const char *flow, struct sps_slice call_id,
			  char *out, size_t size)
{
	char mac[17];
	int err = token_mac(m, sps_slice_cstr(flow), call_id, mac);
	if (err)
		return err;
	int n = snprintf(out, size, "%s.%s", flow, mac);
	return n < 0 || (size_t)n >= size ? ENOSPC : 0;
}

int sps__proxy_token_check(struct sps__proxy_mac *m, struct sps_slice user,
			   struct sps_slice call_id, char *flow, size_t size)
{
	if (user.l < 18 || user.p[user.l - 17] != '.')
		return EBADMSG;
	struct sps_slice f = sps_slice_make(user.p, user.l - 17);
	if (f.l + 1 > size || (f.p[0] != 'c' && f.p[0] != 'u'))
		return EBADMSG;
	char mac[17];
	if (token_mac(m, f, call_id, mac) || CRYPTO_memcmp(mac, user.p + user.l - 16, 16) != 0)
		return EBADMSG;
	memcpy(flow, f.p, f.l);
	flow[f.l] = '\0';
	return 0;
}

/* A UDP flow names the peer's address: "u" + 8 (IPv4) or 32 (IPv6) hex
 * digits of the IP + 4 of the port (RFC 5626 5.2: the flow is where the
 * side's messages come from, so in-dialog requests reach a phone behind
 * NAT, and a Request-URI pointing elsewhere cannot redirect them). */
void sps__proxy_udp_flow(const struct sps_sa *a, char *flow, size_t size)
{
	uint8_t ip[16];
	static const uint8_t v4[12] = {[10] = 0xff, [11] = 0xff};
	sps_sa_ip16(a, ip);
	size_t off = memcmp(ip, v4, 12) == 0 ? 12 : 0, n = 0;
	n += (size_t)snprintf(flow, size, "u");
	for (size_t i = off; i < 16 && n < size; i++)
		n += (size_t)snprintf(flow + n, size - n, "%02x", ip[i]);
	if (n < size)
		snprintf(flow + n, size - n, "%04x", sps_sa_port(a));
}

/* The address of a UDP flow ("u..." as above). Returns 0 or EBADMSG. */
int sps__proxy_udp_flow_addr(const char *flow, struct sps_sa *out)
{
	size_t l = strlen(flow);
	uint8_t ip[16] = {[10] = 0xff, [11] = 0xff};
	if (flow[0] != 'u' || (l != 1 + 8 + 4 && l != 1 + 32 + 4))
		return EBADMSG;
	size_t nip = (l - 5) / 2, off = 16 - nip;
	unsigned port;
	for (size_t i = 0; i < nip; i++) {
		unsigned v;
		if (sscanf(flow + 1 + 2 * i, "%2x", &v) != 1)
			return EBADMSG;
		ip[off + i] = (uint8_t)v;
	}
	if (sscanf(flow + 1 + 2 * nip, "%4x", &port) != 1)
		return EBADMSG;
	char txt[64];
	if (!inet_ntop(nip == 4 ? AF_INET : AF_INET6, nip == 4 ? ip + 12 : ip, txt, sizeof(txt)))
		return EBADMSG;
	return sps_sa_set_str(out, txt, (uint16_t)port) ? EBADMSG : 0;
}
