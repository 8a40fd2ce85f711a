/* diag/verify_media: RTP (RFC 3550 5.1) and RTCP (RFC 3550 6.4) streams and
 * whether they were encrypted (SRTP/SRTCP, RFC 3711 3.1, 3.4).
 *
 * SRTP leaves the RTP header in clear and encrypts the payload: encrypted
 * payload bytes are uniformly distributed (chi-square near its 255 degrees of
 * freedom, entropy near 8 bits/byte), plaintext audio is not (G.711 about
 * 5.5 bits/byte). For G.711/G.722, where one payload byte is one timestamp
 * tick, the bytes beyond the samples are the authentication tag (10 bytes
 * for HMAC-SHA1-80, 4 for HMAC-SHA1-32; RFC 4568 6.2). */
#include "diag/verify_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MIN_JUDGE_PACKETS 10
#define MIN_JUDGE_BYTES 1500 /* > 5 expected per byte value: chi-square holds */
#define HIST_CAP (64u * 1024 * 1024) /* bytes counted per stream at most */
#define SRTCP_TAG 10 /* RFC 4568 6.2: 80-bit SRTCP tag for both SDES AES suites */

static uint16_t be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

void sps__byte_stats(const uint32_t hist[256], double *chi2, double *entropy)
{
	double n = 0, c = 0, h = 0;
	for (int i = 0; i < 256; i++)
		n += hist[i];
	if (n == 0) {
		*chi2 = 0;
		*entropy = 0;
		return;
	}
	double e = n / 256.0;
	for (int i = 0; i < 256; i++) {
		double d = hist[i] - e;
		c += d * d / e;
		if (hist[i]) {
			double p = hist[i] / n;
			h -= p * log2(p);
		}
	}
	*chi2 = c;
	*entropy = h;
}

int sps__rtcp_kind(const uint8_t *d, size_t len)
{
	if (len < 8 || (d[0] >> 6) != 2 || d[1] < 200 || d[1] > 207)
		return -1;
	/* walk the compound packet (RFC 3550 6.1): length is in 32-bit words - 1 */
	size_t o = 0;
	bool app_only = true;
	while (o + 4 <= len) {
		if ((d[o] >> 6) != 2 || d[o + 1] < 192 || d[o + 1] > 223)
			break;
		app_only &= d[o + 1] == 204;
		o += ((size_t)be16(d + o + 2) + 1) * 4;
		if (o == len)
			return app_only ? 3 : 0;
	}
	/* SRTCP: the first 8 bytes stay clear, then E flag + 31-bit index and the tag */
	size_t first = ((size_t)be16(d + 2) + 1) * 4;
	if (first > len || len < first + 4 + SRTCP_TAG)
		return -1;
	bool e = d[len - SRTCP_TAG - 4] & 0x80;
	if (e)
		return 1;
	/* E clear: the compound is readable and must end right before E||index */
	return o == len - SRTCP_TAG - 4 ? 2 : -1;
}

static uint32_t hash_bytes(uint32_t h, const void *p, size_t l)
{
	const uint8_t *b = p;
	for (size_t i = 0; i < l; i++)
		h = (h ^ b[i]) * 16777619u;
	return h;
}

static struct sps__stream *stream_get(struct sps__verify *v, const struct sps__pkt *p,
				      bool rtcp, uint32_t ssrc)
{
	uint32_t h = hash_bytes(2166136261u, p->src, 16);
	h = hash_bytes(h, p->dst, 16);
	h = hash_bytes(h, &p->sport, 2);
	h = hash_bytes(h, &p->dport, 2);
	h = hash_bytes(h, &ssrc, 4) & (SPS__BUCKETS - 1);
	for (struct sps__stream *s = v->streams[h]; s; s = s->hnext) {
		if (s->rtcp == rtcp && s->ssrc == ssrc && s->src.port == p->sport &&
		    s->dst.port == p->dport && s->src.af == p->af &&
		    memcmp(s->src.addr, p->src, 16) == 0 && memcmp(s->dst.addr, p->dst, 16) == 0)
			return s;
	}
	if (v->nstreams >= v->lim.max_streams) {
		v->streams_dropped++;
		return NULL;
	}
	struct sps__stream *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->rtcp = rtcp;
	s->ssrc = ssrc;
	s->src.af = s->dst.af = p->af;
	memcpy(s->src.addr, p->src, 16);
	memcpy(s->dst.addr, p->dst, 16);
	s->src.port = p->sport;
	s->dst.port = p->dport;
	s->order = v->order++;
	s->hnext = v->streams[h];
	v->streams[h] = s;
	v->nstreams++;
	return s;
}

/* Payload types whose payload is one byte per timestamp tick (RFC 3551 4.5):
 * PCMU, PCMA, G722. */
static bool byte_per_tick(uint8_t pt) { return pt == 0 || pt == 8 || pt == 9; }

void sps__media_packet(struct sps__verify *v, const struct sps__pkt *p)
{
	const uint8_t *d = p->pl;
	size_t len = p->len;
	if (len < 8 || (d[0] >> 6) != 2)
		return;
	/* RTCP packet types 192-223 cannot be RTP payload types (RFC 5761 4) */
	if (d[1] >= 192 && d[1] <= 223) {
		int k = sps__rtcp_kind(d, len);
		if (k < 0)
			return;
		struct sps__stream *s = stream_get(v, p, true, 0);
		if (!s)
			return;
		s->packets++;
		if (k == 0)
			s->rtcp_plain++;
		else if (k == 3)
			s->rtcp_app++;
		else if (k == 1)
			s->srtcp_enc++;
		else
			s->srtcp_clear++;
		return;
	}
	if (len < 12)
		return;
	size_t hl = 12 + 4 * (size_t)(d[0] & 0x0f);
	if (d[0] & 0x10) { /* header extension, in clear in SRTP too */
		if (hl + 4 > len)
			return;
		hl += 4 + 4 * (size_t)be16(d + hl + 2);
	}
	if (hl > len)
		return;
	uint8_t pt = d[1] & 0x7f;
	uint16_t seq = be16(d + 2);
	uint32_t ts = be32(d + 4);
	struct sps__stream *s = stream_get(v, p, false, be32(d + 8));
	if (!s)
		return;
	size_t pl = len - hl;
	s->packets++;
	if (s->have_prev) {
		uint16_t ds = (uint16_t)(seq - s->prev_seq);
		if (ds >= 1 && ds <= 10 && pt == s->pt)
			s->seq_ok++;
		else if (ds == 0)
			s->seq_dup++; /* captured twice (e.g. on two interfaces) */
		uint32_t dts = ts - s->prev_ts;
		if (ds == 1 && pt == s->pt && byte_per_tick(pt) && !p->cut && dts > 0 &&
		    dts <= 4000) {
			int64_t extra = (int64_t)pl - (int64_t)dts;
			if (extra == 0)
				s->tag0++;
			else if (extra == 4)
				s->tag4++;
			else if (extra == 10)
				s->tag10++;
			else
				s->tag_other++;
		}
	} else {
		s->pt = pt;
	}
	s->have_prev = true;
	s->prev_seq = seq;
	s->prev_ts = ts;
	if (s->payload_bytes < HIST_CAP) {
		for (size_t i = hl; i < len; i++)
			s->hist[d[i]]++;
		s->payload_bytes += pl;
	}
}

static bool ep_match(const struct sps__ep *m, const struct sps__ep *e, bool rtcp)
{
	if (m->af != e->af || memcmp(m->addr, e->addr, 16) != 0)
		return false;
	/* RTCP on the next port (RFC 3550 11) or multiplexed (RFC 5761) */
	return e->port == m->port || (rtcp && e->port == (uint16_t)(m->port + 1));
}

struct sps__call *sps__call_by_media(struct sps__verify *v, const struct sps__ep *e, bool rtcp)
{
	for (unsigned i = v->ncalls; i-- > 0;) {
		struct sps__call *c = v->calls[i];
		for (unsigned j = 0; j < c->nmedia; j++)
			if (ep_match(&c->media[j], e, rtcp))
				return c;
	}
	return NULL;
}

/* An RTP stream from the same source to the same destination address, on
 * the port below (RFC 3550 11) or the same port (RFC 5761): makes a lone
 * RTCP packet believable. */
static bool rtp_beside(struct sps__verify *v, const struct sps__stream *r)
{
	for (unsigned b = 0; b < SPS__BUCKETS; b++)
		for (struct sps__stream *s = v->streams[b]; s; s = s->hnext)
			if (!s->rtcp && s->packets >= 5 && s->src.af == r->src.af &&
			    memcmp(s->src.addr, r->src.addr, 16) == 0 &&
			    memcmp(s->dst.addr, r->dst.addr, 16) == 0 &&
			    (s->dst.port == r->dst.port || s->dst.port + 1 == r->dst.port))
				return true;
	return false;
}

static const char *codec_name(uint8_t pt)
{
	/* static payload types, RFC 3551 6 */
	switch (pt) {
	case 0:
		return "PCMU";
	case 3:
		return "GSM";
	case 8:
		return "PCMA";
	case 9:
		return "G722";
	case 18:
		return "G729";
	default:
		return NULL;
	}
}

json_t *sps__stream_json(struct sps__verify *v, const struct sps__stream *s, int *judgement)
{
	char src[64], dst[64], ssrc[16];
	struct sps__call *c = sps__call_by_media(v, &s->dst, s->rtcp);
	if (!c)
		c = sps__call_by_media(v, &s->src, s->rtcp);
	*judgement = J_IGNORE;
	if (s->rtcp) {
		/* only APP packets in clear (baresip's "PING"/"PONG" that opens NAT
		 * pinholes before SRTP starts) carry nothing worth protecting */
		if (s->rtcp_app == s->packets)
			return NULL;
		if (!c && s->packets < 3 && !rtp_beside(v, s))
			return NULL;
	} else if (!c) {
		/* no SDP: believe it is RTP when the sequence numbers run on */
		if (s->packets < 5 + s->seq_dup ||
		    (uint64_t)s->seq_ok * 10 < (uint64_t)(s->packets - 1 - s->seq_dup) * 8)
			return NULL;
	} else if (s->packets < 2) {
		return NULL;
	}
	json_t *o = json_object();
	if (!o)
		return NULL;
	sps__ep_fmt(src, sizeof(src), s->src.af, s->src.addr, s->src.port);
	sps__ep_fmt(dst, sizeof(dst), s->dst.af, s->dst.addr, s->dst.port);
	json_object_set_new(o, "type", json_string(s->rtcp ? "rtcp" : "rtp"));
	json_object_set_new(o, "src", json_string(src));
	json_object_set_new(o, "dst", json_string(dst));
	json_object_set_new(o, "packets", json_integer(s->packets));
	json_object_set_new(o, "call_id", c ? sps__jtext(c->call_id) : json_null());
	json_object_set_new(o, "associated_by", json_string(c ? "sdp" : "heuristic"));
	const char *enc;
	if (s->rtcp) {
		json_object_set_new(o, "plain_packets", json_integer(s->rtcp_plain));
		json_object_set_new(o, "plain_app_packets", json_integer(s->rtcp_app));
		json_object_set_new(o, "srtcp_encrypted_packets", json_integer(s->srtcp_enc));
		json_object_set_new(o, "srtcp_unencrypted_packets", json_integer(s->srtcp_clear));
		if (s->rtcp_plain) {
			enc = "plaintext";
			*judgement = J_PLAIN;
		} else if (s->srtcp_clear) {
			enc = "srtcp-unencrypted"; /* E flag clear: RFC 3711 3.4 */
			*judgement = J_PLAIN;
		} else {
			enc = "srtcp";
			*judgement = J_ENCRYPTED;
		}
		json_object_set_new(o, "encryption", json_string(enc));
		return o;
	}
	double chi2, ent;
	sps__byte_stats(s->hist, &chi2, &ent);
	const char *codec = codec_name(s->pt);
	snprintf(ssrc, sizeof(ssrc), "0x%08x", s->ssrc);
	json_object_set_new(o, "ssrc", json_string(ssrc));
	json_object_set_new(o, "payload_type", json_integer(s->pt));
	json_object_set_new(o, "codec", codec ? json_string(codec) : json_null());
	json_object_set_new(o, "payload_bytes", json_integer((json_int_t)s->payload_bytes));
	json_object_set_new(o, "entropy_bits_per_byte", json_real(round(ent * 1000) / 1000));
	json_object_set_new(o, "chi_square", json_real(round(chi2 * 10) / 10));
	/* the tag length most packets show, when the codec lets us see it */
	unsigned best = s->tag0;
	json_t *tag = s->tag0 ? json_integer(0) : json_null();
	if (s->tag4 > best) {
		best = s->tag4;
		json_decref(tag);
		tag = json_integer(4);
	}
	if (s->tag10 > best) {
		best = s->tag10;
		json_decref(tag);
		tag = json_integer(10);
	}
	if (s->tag_other > best) {
		json_decref(tag);
		tag = json_null();
	}
	bool tagged = json_integer_value(tag) > 0;
	json_object_set_new(o, "auth_tag_bytes", tag);
	if (s->packets < MIN_JUDGE_PACKETS || s->payload_bytes < MIN_JUDGE_BYTES) {
		enc = "undetermined";
		*judgement = J_UNKNOWN;
	} else if (chi2 < SPS__CHI2_RANDOM) {
		enc = "srtp";
		*judgement = J_ENCRYPTED;
	} else {
		/* readable payload; with a tag it is SRTP with the NULL cipher
		 * (RFC 3711 5): authenticated but not encrypted */
		enc = tagged ? "srtp-null-cipher" : "plaintext";
		*judgement = J_PLAIN;
	}
	json_object_set_new(o, "encryption", json_string(enc));
	return o;
}
