/* diag/verify: captures built here packet by packet (libpcap's pcap_dump,
 * and a pcapng written by hand) for every link type, IPv4 and IPv6, SIP and
 * TLS split across TCP segments, RTP/SRTP/RTCP/SRTCP, and bad files. */
#include <errno.h>
#include <math.h>
#include <pcap/pcap.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include "diag/diag_int.h"
#include "diag/verify.h"
#include "test.h"

/* ------------------------------------------------------------ building captures */

struct bb {
	uint8_t d[70000];
	size_t l;
};
static void put8(struct bb *b, unsigned v) { b->d[b->l++] = (uint8_t)v; }
static void put16(struct bb *b, unsigned v)
{
	put8(b, v >> 8);
	put8(b, v);
}
static void put24(struct bb *b, size_t v)
{
	put8(b, (unsigned)(v >> 16));
	put16(b, (unsigned)v & 0xffff);
}
static void put32(struct bb *b, uint32_t v)
{
	put16(b, v >> 16);
	put16(b, v & 0xffff);
}
static void putb(struct bb *b, const void *p, size_t l)
{
	memcpy(b->d + b->l, p, l);
	b->l += l;
}
/* back-patch a 16/24-bit length at offset o: bytes after the field */
static void patch16(struct bb *b, size_t o)
{
	size_t v = b->l - o - 2;
	b->d[o] = (uint8_t)(v >> 8);
	b->d[o + 1] = (uint8_t)v;
}
static void patch24(struct bb *b, size_t o)
{
	size_t v = b->l - o - 3;
	b->d[o] = (uint8_t)(v >> 16);
	b->d[o + 1] = (uint8_t)(v >> 8);
	b->d[o + 2] = (uint8_t)v;
}

struct cap {
	pcap_t *pd;
	pcap_dumper_t *dd;
	int dlt;
	unsigned n;
};

static int cap_open(struct cap *c, const char *path, int dlt)
{
	c->dlt = dlt;
	c->n = 0;
	c->pd = pcap_open_dead(dlt, 262144);
	c->dd = c->pd ? pcap_dump_open(c->pd, path) : NULL;
	return c->dd ? 0 : EIO;
}

static void cap_close(struct cap *c)
{
	pcap_dump_close(c->dd);
	pcap_close(c->pd);
}

/* One IP packet, with the link-layer header of the capture's type. */
static void cap_ip(struct cap *c, int af, const uint8_t *ip, size_t len)
{
	struct bb *f = malloc(sizeof(*f));
	if (!f)
		abort();
	f->l = 0;
	switch (c->dlt) {
	case DLT_EN10MB:
		for (int i = 0; i < 12; i++)
			put8(f, i);
		put16(f, af == 6 ? 0x86dd : 0x0800);
		break;
	case DLT_LINUX_SLL:
		put16(f, 0);   /* to us */
		put16(f, 772); /* ARPHRD_LOOPBACK */
		put16(f, 6);
		for (int i = 0; i < 8; i++)
			put8(f, 0);
		put16(f, af == 6 ? 0x86dd : 0x0800);
		break;
	case DLT_LINUX_SLL2:
		put16(f, af == 6 ? 0x86dd : 0x0800);
		put16(f, 0);
		put32(f, 1);
		put16(f, 772);
		put8(f, 0);
		put8(f, 6);
		for (int i = 0; i < 8; i++)
			put8(f, 0);
		break;
	case DLT_NULL: { /* host byte order */
		uint32_t fam = af == 6 ? 24 : 2;
		putb(f, &fam, 4);
		break;
	}
	case DLT_LOOP:
		put32(f, af == 6 ? 24 : 2);
		break;
	default: /* DLT_RAW */
		break;
	}
	putb(f, ip, len);
	struct pcap_pkthdr h = {.ts = {.tv_sec = 1700000000 + c->n / 50,
				       .tv_usec = (c->n % 50) * 20000},
				.caplen = (bpf_u_int32)f->l,
				.len = (bpf_u_int32)f->l};
	pcap_dump((u_char *)c->dd, &h, f->d);
	c->n++;
	free(f);
}

/* An IPv4 or IPv6 packet with a UDP (proto 17) or TCP (6) header. */
static void cap_l4(struct cap *c, int af, const char *src, uint16_t sp, const char *dst,
		   uint16_t dp, int proto, uint32_t seq, uint8_t flags, const void *pl,
		   size_t len)
{
	struct bb *b = malloc(sizeof(*b));
	if (!b)
		abort();
	b->l = 0;
	size_t l4 = (proto == 17 ? 8 : 20) + len;
	uint8_t a[16];
	if (af == 4) {
		put8(b, 0x45);
		put8(b, 0);
		put16(b, (unsigned)(20 + l4));
		put32(b, 0);
		put8(b, 64);
		put8(b, (unsigned)proto);
		put16(b, 0);
		inet_pton(AF_INET, src, a);
		putb(b, a, 4);
		inet_pton(AF_INET, dst, a);
		putb(b, a, 4);
	} else {
		put32(b, 0x60000000);
		put16(b, (unsigned)l4);
		put8(b, (unsigned)proto);
		put8(b, 64);
		inet_pton(AF_INET6, src, a);
		putb(b, a, 16);
		inet_pton(AF_INET6, dst, a);
		putb(b, a, 16);
	}
	put16(b, sp);
	put16(b, dp);
	if (proto == 17) {
		put16(b, (unsigned)l4);
		put16(b, 0);
	} else {
		put32(b, seq);
		put32(b, 0);
		put8(b, 5 << 4);
		put8(b, flags);
		put16(b, 65535);
		put32(b, 0);
	}
	putb(b, pl, len);
	cap_ip(c, af, b->d, b->l);
	free(b);
}

#define UDP(c, af, s, sp, d, dp, pl, l) cap_l4(c, af, s, sp, d, dp, 17, 0, 0, pl, l)
#define TCP(c, af, s, sp, d, dp, seq, fl, pl, l) cap_l4(c, af, s, sp, d, dp, 6, seq, fl, pl, l)

static const char key_text[] = "WVNfX19XZW1pbmF0aW9uIGtleSBmb3IgdGVzdGluZ19fX0FC";

/* An INVITE with an SDP offer (RTP/SAVP with a=crypto when crypto). */
static size_t invite(char *buf, size_t size, const char *ip, uint16_t mport, bool crypto,
		     const char *callid)
{
	char sdp[600];
	int sl = snprintf(sdp, sizeof(sdp),
			  "v=0\r\no=- 1 1 IN IP4 %s\r\ns=-\r\nc=IN IP4 %s\r\nt=0 0\r\n"
			  "m=audio %u RTP/%s 0\r\n%s%s%s",
			  ip, ip, mport, crypto ? "SAVP" : "AVP",
			  crypto ? "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" : "",
			  crypto ? key_text : "", crypto ? "\r\n" : "");
	return (size_t)snprintf(buf, size,
				"INVITE sip:bob@sip.test SIP/2.0\r\n"
				"Via: SIP/2.0/UDP %s:5062;branch=z9hG4bK-1\r\n"
				"Max-Forwards: 70\r\n"
				"From: <sip:alice@sip.test>;tag=a1\r\n"
				"To: <sip:bob@sip.test>\r\n"
				"Call-ID: %s\r\n"
				"CSeq: 1 INVITE\r\n"
				"Contact: <sip:alice@%s:5062>\r\n"
				"Content-Type: application/sdp\r\n"
				"Content-Length: %d\r\n\r\n%s",
				ip, callid, ip, sl, sdp);
}

/* n RTP packets of PCMU, 20 ms each: a tone in clear, or random bytes plus
 * a 10-byte tag (what SRTP with AES_CM_128_HMAC_SHA1_80 looks like). */
static void rtp_stream(struct cap *c, int af, const char *s, uint16_t sp, const char *d,
		       uint16_t dp, uint32_t ssrc, int n, bool srtp)
{
	uint8_t p[12 + 170];
	for (int i = 0; i < n; i++) {
		struct bb b = {.l = 0};
		put8(&b, 0x80);
		put8(&b, 0);
		put16(&b, (unsigned)(1000 + i));
		put32(&b, (uint32_t)(5000 + 160 * i));
		put32(&b, ssrc);
		memcpy(p, b.d, 12);
		if (srtp) {
			RAND_bytes(p + 12, 170);
		} else {
			for (int k = 0; k < 160; k++) {
				double x = sin(2 * M_PI * 440 * (i * 160 + k) / 8000.0);
				/* a G.711-like companded byte: few distinct values */
				p[12 + k] = (uint8_t)(x >= 0 ? 0xff - (int)(x * 40) : 0x7f + (int)(x * 40));
			}
		}
		UDP(c, af, s, sp, d, dp, p, srtp ? sizeof(p) : sizeof(p) - 10);
	}
}

/* One SRTCP packet: an SR header in clear, encrypted rest, E||index, tag. */
static void srtcp(struct cap *c, int af, const char *s, uint16_t sp, const char *d, uint16_t dp)
{
	struct bb b = {.l = 0};
	put8(&b, 0x80);
	put8(&b, 200);
	put16(&b, 6); /* 28 bytes */
	put32(&b, 0x11223344);
	uint8_t r[20 + 20];
	RAND_bytes(r, sizeof(r));
	putb(&b, r, 20);   /* rest of the SR, encrypted */
	putb(&b, r, 8);    /* an SDES, encrypted */
	put32(&b, 0x80000001); /* E=1, index 1 */
	putb(&b, r + 20, 10);
	UDP(c, af, s, sp, d, dp, b.d, b.l);
}

static void rtcp_plain(struct cap *c, int af, const char *s, uint16_t sp, const char *d,
		       uint16_t dp)
{
	struct bb b = {.l = 0};
	put8(&b, 0x80);
	put8(&b, 200);
	put16(&b, 6);
	put32(&b, 0x11223344);
	for (int i = 0; i < 5; i++)
		put32(&b, (uint32_t)i);
	put8(&b, 0x81); /* SDES with one chunk: CNAME "a" */
	put8(&b, 202);
	put16(&b, 2);
	put32(&b, 0x11223344);
	put8(&b, 1);
	put8(&b, 1);
	put8(&b, 'a');
	put8(&b, 0);
	UDP(c, af, s, sp, d, dp, b.d, b.l);
}

static char tmpdir[64];

static const char *tpath(const char *name)
{
	static char p[128];
	if (!tmpdir[0]) {
		strcpy(tmpdir, "/tmp/sps-verify-XXXXXX");
		if (!mkdtemp(tmpdir))
			abort();
	}
	snprintf(p, sizeof(p), "%s/%s", tmpdir, name);
	return p;
}

/* The report as text and as JSON, for "the key never appears" checks. */
static char *render(json_t *r)
{
	char *text = NULL;
	size_t tl = 0;
	FILE *m = open_memstream(&text, &tl);
	if (!m)
		return NULL;
	sps_verify_print(m, r);
	char *js = json_dumps(r, 0);
	fprintf(m, "\n%s\n", js ? js : "");
	free(js);
	fclose(m);
	return text;
}

static json_t *jget(json_t *o, const char *path)
{
	/* "media/0/encryption" */
	char buf[128];
	snprintf(buf, sizeof(buf), "%s", path);
	for (char *tok = strtok(buf, "/"); o && tok; tok = strtok(NULL, "/")) {
		if (json_is_array(o))
			o = json_array_get(o, strtoul(tok, NULL, 10));
		else
			o = json_object_get(o, tok);
	}
	return o;
}
#define JSTR(r, p) json_string_value(jget(r, p))
#define JINT(r, p) json_integer_value(jget(r, p))

/* ------------------------------------------------------------ tests */

/* Plaintext SIP with a=crypto and a plain RTP stream, in each link type:
 * INSECURE, the key reported as leaked for the call but never printed. */
int test_diag_verify_link_types(void)
{
	static const int dlts[] = {DLT_EN10MB, DLT_LINUX_SLL, DLT_LINUX_SLL2,
				   DLT_NULL,   DLT_LOOP,      DLT_RAW};
	static const char *const names[] = {"EN10MB", "LINUX_SLL", "LINUX_SLL2",
					    "NULL",   "LOOP",      "RAW"};
	char msg[2048];
	for (size_t i = 0; i < sizeof(dlts) / sizeof(dlts[0]); i++) {
		struct cap c;
		const char *path = tpath("link.pcap");
		ASSERT_INT_EQ(cap_open(&c, path, dlts[i]), 0);
		size_t l = invite(msg, sizeof(msg), "10.0.0.1", 4000, true, "call-1@test");
		UDP(&c, 4, "10.0.0.1", 5062, "10.0.0.2", 5060, msg, l);
		rtp_stream(&c, 4, "10.0.0.1", 4000, "10.0.0.3", 4002, 0xaabbccdd, 60, false);
		rtcp_plain(&c, 4, "10.0.0.1", 4001, "10.0.0.3", 4003);
		/* a 200 OK the parser refuses (no CSeq) still shows its key */
		l = invite(msg, sizeof(msg), "10.0.0.9", 4100, true, "call-2@test");
		char *cseq = strstr(msg, "CSeq: 1 INVITE\r\n");
		ASSERT(cseq != NULL);
		memcpy(cseq, "XSeq", 4);
		memcpy(msg, "SIP/2.0 200 OK\r\n", 16); /* over "INVITE sip:bob@s" */
		UDP(&c, 4, "10.0.0.2", 5060, "10.0.0.1", 5062, msg, l);
		cap_close(&c);

		json_t *r = NULL;
		char err[256] = "";
		int rc = sps_verify_file(path, NULL, &r, err, sizeof(err));
		if (rc)
			TEST_FAIL("%s: %s", names[i], err);
		ASSERT_STR_EQ(JSTR(r, "capture/link_type"), names[i]);
		ASSERT_STR_EQ(JSTR(r, "verdict"), "INSECURE");
		ASSERT_INT_EQ(sps_verify_verdict(r), SPS_VERDICT_INSECURE);
		ASSERT_STR_EQ(JSTR(r, "signalling/0/protocol"), "sip");
		ASSERT_STR_EQ(JSTR(r, "signalling/0/methods/0"), "INVITE");
		ASSERT_INT_EQ(JINT(r, "signalling/0/sdes_keys_seen"), 2);
		ASSERT_STR_EQ(JSTR(r, "calls/0/call_id"), "call-1@test");
		ASSERT_STR_EQ(JSTR(r, "calls/0/from"), "alice@sip.test");
		ASSERT(json_is_true(jget(r, "calls/0/sdes_keys_leaked")));
		ASSERT_STR_EQ(JSTR(r, "media/0/type"), "rtp");
		ASSERT_STR_EQ(JSTR(r, "media/0/encryption"), "plaintext");
		ASSERT_STR_EQ(JSTR(r, "media/0/ssrc"), "0xaabbccdd");
		ASSERT_STR_EQ(JSTR(r, "media/0/call_id"), "call-1@test");
		ASSERT_STR_EQ(JSTR(r, "media/0/associated_by"), "sdp");
		ASSERT_INT_EQ(JINT(r, "media/0/auth_tag_bytes"), 0);
		ASSERT_STR_EQ(JSTR(r, "media/1/type"), "rtcp");
		ASSERT_STR_EQ(JSTR(r, "media/1/encryption"), "plaintext");
		/* the leaked key is the first reason */
		ASSERT(strstr(JSTR(r, "reasons/0"), "SRTP keys leaked") != NULL);
		ASSERT(strstr(JSTR(r, "reasons/0"), "call-1@test") != NULL);
		ASSERT_STR_EQ(JSTR(r, "calls/1/call_id"), "call-2@test");
		ASSERT(json_is_true(jget(r, "calls/1/sdes_keys_leaked")));
		char *out = render(r);
		ASSERT(out != NULL);
		int leaked = strstr(out, key_text) != NULL || strstr(out, "inline:") != NULL;
		free(out);
		json_decref(r);
		ASSERT(!leaked);
	}
	return 0;
}

/* A self-signed certificate (CN=sip.test) in DER. */
static int make_cert(unsigned char **der, int *len)
{
	EVP_PKEY *k = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	int rc = 1;
	if (!k || !x)
		goto out;
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 7);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, k);
	X509_NAME *n = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)"sip.test", -1,
				   -1, 0);
	X509_set_issuer_name(x, n);
	if (!X509_sign(x, k, EVP_sha256()))
		goto out;
	*der = NULL;
	*len = i2d_X509(x, der);
	rc = *len > 0 ? 0 : 1;
out:
	X509_free(x);
	EVP_PKEY_free(k);
	return rc;
}

/* A TLS handshake record: ServerHello (version, cipher, optional
 * supported_versions), then, for TLS 1.2, the Certificate. */
static void server_flight(struct bb *b, uint16_t legacy, uint16_t sv, uint16_t cs,
			  const unsigned char *cert, int certlen)
{
	put8(b, 22);
	put16(b, legacy >= 0x0301 ? legacy : 0x0301);
	size_t rl = b->l;
	put16(b, 0);
	put8(b, 2);
	size_t hl = b->l;
	put24(b, 0);
	put16(b, legacy);
	for (int i = 0; i < 32; i++)
		put8(b, (unsigned)i);
	put8(b, 0);
	put16(b, cs);
	put8(b, 0);
	size_t el = b->l;
	put16(b, 0);
	if (sv) {
		put16(b, 43);
		put16(b, 2);
		put16(b, sv);
	}
	patch16(b, el);
	patch24(b, hl);
	if (cert) {
		put8(b, 11);
		size_t cl = b->l;
		put24(b, 0);
		put24(b, (size_t)certlen + 3);
		put24(b, (size_t)certlen);
		putb(b, cert, (size_t)certlen);
		patch24(b, cl);
	}
	patch16(b, rl);
}

static void client_hello(struct bb *b)
{
	put8(b, 22);
	put16(b, 0x0301);
	size_t rl = b->l;
	put16(b, 0);
	put8(b, 1);
	size_t hl = b->l;
	put24(b, 0);
	put16(b, 0x0303);
	for (int i = 0; i < 32; i++)
		put8(b, 0);
	put8(b, 0);
	put16(b, 2);
	put16(b, 0xc02b);
	put8(b, 1);
	put8(b, 0);
	size_t el = b->l;
	put16(b, 0);
	put16(b, 0); /* server_name */
	size_t sl = b->l;
	put16(b, 0);
	size_t ll = b->l;
	put16(b, 0);
	put8(b, 0);
	put16(b, 8);
	putb(b, "sip.test", 8);
	patch16(b, ll);
	patch16(b, sl);
	patch16(b, el);
	patch24(b, hl);
	patch16(b, rl);
}

static void app_data(struct bb *b, uint16_t ver, size_t n)
{
	put8(b, 23);
	put16(b, ver);
	put16(b, (unsigned)n);
	uint8_t r[512];
	RAND_bytes(r, sizeof(r));
	putb(b, r, n);
}

/* A TCP conversation: SYNs, then each side's bytes cut into segments of
 * `seg` bytes (the server's after the client's). */
static void tcp_conv(struct cap *c, int af, const char *cl, uint16_t cp, const char *sv,
		     uint16_t sp, const struct bb *up, const struct bb *down, size_t seg,
		     bool retransmit)
{
	uint32_t cs = 1000, ss = 9000;
	TCP(c, af, cl, cp, sv, sp, cs, SPS__TCP_SYN, "", 0);
	TCP(c, af, sv, sp, cl, cp, ss, SPS__TCP_SYN | 0x10, "", 0);
	cs++;
	ss++;
	for (size_t o = 0; o < up->l; o += seg) {
		size_t n = up->l - o < seg ? up->l - o : seg;
		TCP(c, af, cl, cp, sv, sp, cs + (uint32_t)o, 0x18, up->d + o, n);
		if (retransmit) /* the same segment again */
			TCP(c, af, cl, cp, sv, sp, cs + (uint32_t)o, 0x18, up->d + o, n);
	}
	for (size_t o = 0; o < down->l; o += seg) {
		size_t n = down->l - o < seg ? down->l - o : seg;
		TCP(c, af, sv, sp, cl, cp, ss + (uint32_t)o, 0x18, down->d + o, n);
	}
}

/* IPv6: TLS 1.2 signalling with the handshake split across TCP segments,
 * SRTP both ways and SRTCP: SECURE, with version, cipher and subject. */
int test_diag_verify_tls12_srtp_ipv6(void)
{
	unsigned char *der = NULL;
	int derlen = 0;
	ASSERT_INT_EQ(make_cert(&der, &derlen), 0);
	struct bb *up = calloc(1, sizeof(*up)), *down = calloc(1, sizeof(*down));
	ASSERT(up && down);
	client_hello(up);
	app_data(up, 0x0303, 300);
	server_flight(down, 0x0303, 0, 0xc02b, der, derlen);
	app_data(down, 0x0303, 200);
	OPENSSL_free(der);

	struct cap c;
	const char *path = tpath("tls12.pcap");
	ASSERT_INT_EQ(cap_open(&c, path, DLT_EN10MB), 0);
	tcp_conv(&c, 6, "fd00::1", 40000, "fd00::2", 5061, up, down, 97, true);
	free(up);
	free(down);
	rtp_stream(&c, 6, "fd00::1", 4000, "fd00::3", 4002, 0x01020304, 50, true);
	rtp_stream(&c, 6, "fd00::3", 4002, "fd00::1", 4000, 0x05060708, 50, true);
	srtcp(&c, 6, "fd00::1", 4001, "fd00::3", 4003);
	cap_close(&c);

	json_t *r = NULL;
	char err[256];
	ASSERT_INT_EQ(sps_verify_file(path, NULL, &r, err, sizeof(err)), 0);
	int ok = 0;
	const char *why = JSTR(r, "reasons/0");
	if (sps_verify_verdict(r) != SPS_VERDICT_SECURE)
		fprintf(stderr, "    verdict %s: %s\n", JSTR(r, "verdict"), why ? why : "-");
	else if (!JSTR(r, "signalling/0/cipher_suite") ||
		 strcmp(JSTR(r, "signalling/0/cipher_suite"),
			"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256") != 0)
		fprintf(stderr, "    cipher %s\n", JSTR(r, "signalling/0/cipher_suite"));
	else
		ok = 1;
	ASSERT(ok);
	ASSERT_STR_EQ(JSTR(r, "signalling/0/protocol"), "tls");
	ASSERT_STR_EQ(JSTR(r, "signalling/0/client"), "[fd00::1]:40000");
	ASSERT_STR_EQ(JSTR(r, "signalling/0/tls_version"), "TLS 1.2");
	ASSERT_STR_EQ(JSTR(r, "signalling/0/certificate_subject"), "CN=sip.test");
	ASSERT_STR_EQ(JSTR(r, "signalling/0/server_name"), "sip.test");
	ASSERT(json_is_false(jget(r, "signalling/0/below_tls12")));
	ASSERT_INT_EQ(JINT(r, "summary/encrypted_streams"), 3);
	ASSERT_STR_EQ(JSTR(r, "media/0/encryption"), "srtp");
	ASSERT_INT_EQ(JINT(r, "media/0/auth_tag_bytes"), 10);
	ASSERT_STR_EQ(JSTR(r, "media/0/associated_by"), "heuristic");
	ASSERT_STR_EQ(JSTR(r, "media/2/encryption"), "srtcp");
	json_decref(r);
	return 0;
}

/* TLS 1.0 (ServerHello version 0x0301) is INSECURE; TLS 1.3 is named from
 * supported_versions; a TLS flow joined after its handshake is judged from
 * the record version. Without media: INCONCLUSIVE. */
int test_diag_verify_tls_versions(void)
{
	struct bb *up = calloc(1, sizeof(*up)), *down = calloc(1, sizeof(*down));
	ASSERT(up && down);
	struct cap c;
	const char *path = tpath("tlsv.pcap");
	json_t *r = NULL;
	char err[256];

	/* TLS 1.0 */
	client_hello(up);
	server_flight(down, 0x0301, 0, 0x002f, NULL, 0);
	app_data(down, 0x0301, 100);
	ASSERT_INT_EQ(cap_open(&c, path, DLT_LINUX_SLL2), 0);
	tcp_conv(&c, 4, "127.0.0.1", 40001, "127.0.0.1", 5061, up, down, 1000, false);
	cap_close(&c);
	ASSERT_INT_EQ(sps_verify_file(path, NULL, &r, err, sizeof(err)), 0);
	ASSERT_STR_EQ(JSTR(r, "verdict"), "INSECURE");
	ASSERT_STR_EQ(JSTR(r, "signalling/0/tls_version"), "TLS 1.0");
	ASSERT_STR_EQ(JSTR(r, "signalling/0/cipher_suite"), "TLS_RSA_WITH_AES_128_CBC_SHA");
	ASSERT(json_is_true(jget(r, "signalling/0/below_tls12")));
	ASSERT(strstr(JSTR(r, "reasons/0"), "TLS 1.0") != NULL);
	json_decref(r);

	/* TLS 1.3, no media */
	up->l = down->l = 0;
	client_hello(up);
	server_flight(down, 0x0303, 0x0304, 0x1301, NULL, 0);
	app_data(down, 0x0303, 100);
	ASSERT_INT_EQ(cap_open(&c, path, DLT_EN10MB), 0);
	tcp_conv(&c, 4, "127.0.0.1", 40002, "127.0.0.1", 5061, up, down, 40, false);
	cap_close(&c);
	ASSERT_INT_EQ(sps_verify_file(path, NULL, &r, err, sizeof(err)), 0);
	ASSERT_STR_EQ(JSTR(r, "verdict"), "INCONCLUSIVE");
	ASSERT_INT_EQ(sps_verify_verdict(r), SPS_VERDICT_INCONCLUSIVE);
	ASSERT_STR_EQ(JSTR(r, "signalling/0/tls_version"), "TLS 1.3");
	ASSERT_STR_EQ(JSTR(r, "signalling/0/cipher_suite"), "TLS_AES_128_GCM_SHA256");
	ASSERT(strstr(JSTR(r, "reasons/0"), "no RTP media") != NULL);
	json_decref(r);

	/* only application data (the capture started after the handshake),
	 * the first segment starting inside a record */
	up->l = down->l = 0;
	putb(up, "\x01\x02\x03\x04\x05\x06\x07", 7);
	app_data(up, 0x0303, 120);
	app_data(down, 0x0303, 80);
	ASSERT_INT_EQ(cap_open(&c, path, DLT_EN10MB), 0);
	TCP(&c, 4, "127.0.0.1", 40003, "127.0.0.1", 5061, 777, 0x18, up->d, up->l);
	TCP(&c, 4, "127.0.0.1", 5061, "127.0.0.1", 40003, 555, 0x18, down->d, down->l);
	rtp_stream(&c, 4, "127.0.0.1", 4000, "127.0.0.1", 4002, 9, 30, true);
	cap_close(&c);
	free(up);
	free(down);
	ASSERT_INT_EQ(sps_verify_file(path, NULL, &r, err, sizeof(err)), 0);
	ASSERT_STR_EQ(JSTR(r, "verdict"), "SECURE");
	ASSERT(json_is_null(jget(r, "signalling/0/tls_version")));
	ASSERT_STR_EQ(JSTR(r, "signalling/0/record_version"), "TLS 1.2");
	ASSERT_INT_EQ(JINT(r, "signalling/0/records"), 2);
	json_decref(r);
	return 0;
}

/* SIP over TCP split across segments (with retransmissions and a segment
 * boundary inside the SDP), a second message pipelined: the users and
 * methods are found; a plaintext SIP flow is INSECURE even with SRTP. */
int test_diag_verify_sip_tcp_split(void)
{
	struct bb *up = calloc(1, sizeof(*up)), *down = calloc(1, sizeof(*down));
	ASSERT(up && down);
	char msg[2048];
	size_t l = invite(msg, sizeof(msg), "192.0.2.1", 6000, false, "split@test");
	putb(up, msg, l);
	static const char bye[] = "BYE sip:bob@192.0.2.2 SIP/2.0\r\n"
				  "Via: SIP/2.0/TCP 192.0.2.1;branch=z9hG4bK-2\r\n"
				  "From: <sip:alice@sip.test>;tag=a1\r\nTo: <sip:bob@sip.test>;tag=b\r\n"
				  "Call-ID: split@test\r\nCSeq: 2 BYE\r\nMax-Forwards: 70\r\n"
				  "Content-Length: 0\r\n\r\n";
	putb(up, bye, sizeof(bye) - 1);
	static const char ok[] = "SIP/2.0 200 OK\r\nVia: SIP/2.0/TCP 192.0.2.1;branch=z9hG4bK-2\r\n"
				 "From: <sip:alice@sip.test>;tag=a1\r\nTo: <sip:carol@sip.test>;tag=b\r\n"
				 "Call-ID: split@test\r\nCSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n";
	putb(down, ok, sizeof(ok) - 1);

	struct cap c;
	const char *path = tpath("siptcp.pcap");
	ASSERT_INT_EQ(cap_open(&c, path, DLT_LINUX_SLL), 0);
	tcp_conv(&c, 4, "192.0.2.1", 33000, "192.0.2.2", 5060, up, down, 61, true);
	rtp_stream(&c, 4, "192.0.2.1", 6000, "192.0.2.9", 7000, 77, 40, true);
	cap_close(&c);
	free(up);
	free(down);

	json_t *r = NULL;
	char err[256];
	ASSERT_INT_EQ(sps_verify_file(path, NULL, &r, err, sizeof(err)), 0);
	ASSERT_STR_EQ(JSTR(r, "verdict"), "INSECURE");
	ASSERT_STR_EQ(JSTR(r, "signalling/0/transport"), "tcp");
	ASSERT_INT_EQ(JINT(r, "signalling/0/requests"), 2);
	ASSERT_INT_EQ(JINT(r, "signalling/0/responses"), 1);
	ASSERT_STR_EQ(JSTR(r, "signalling/0/methods/0"), "INVITE");
	ASSERT_STR_EQ(JSTR(r, "signalling/0/methods/1"), "BYE");
	ASSERT_INT_EQ(json_array_size(jget(r, "signalling/0/users")), 4);
	ASSERT_STR_EQ(JSTR(r, "signalling/0/users/0"), "bob@sip.test");
	ASSERT_STR_EQ(JSTR(r, "signalling/0/users/1"), "alice@sip.test");
	ASSERT_STR_EQ(JSTR(r, "signalling/0/users/2"), "bob@192.0.2.2");
	ASSERT_STR_EQ(JSTR(r, "signalling/0/users/3"), "carol@sip.test");
	ASSERT(json_is_false(jget(r, "calls/0/sdes_keys_leaked")));
	ASSERT_STR_EQ(JSTR(r, "calls/0/media_profiles/0"), "RTP/AVP");
	ASSERT_STR_EQ(JSTR(r, "media/0/encryption"), "srtp");
	ASSERT_STR_EQ(JSTR(r, "media/0/call_id"), "split@test");
	ASSERT(strstr(JSTR(r, "reasons/0"), "plaintext SIP over TCP") != NULL);
	json_decref(r);
	return 0;
}

/* A pcapng file written by hand (section header, interface description,
 * enhanced packet blocks; pcapng draft sections 4.1-4.3): read as pcapng. */
static void pcapng_block(FILE *f, uint32_t type, const void *body, size_t len)
{
	uint32_t pad = (uint32_t)((4 - len % 4) % 4), tot = (uint32_t)(12 + len + pad), z = 0;
	fwrite(&type, 4, 1, f);
	fwrite(&tot, 4, 1, f);
	fwrite(body, 1, len, f);
	fwrite(&z, 1, pad, f);
	fwrite(&tot, 4, 1, f);
}

int test_diag_verify_pcapng(void)
{
	const char *path = tpath("ng.pcapng");
	FILE *f = fopen(path, "wb");
	ASSERT(f != NULL);
	struct {
		uint32_t magic;
		uint16_t maj, min;
		int64_t len;
	} __attribute__((packed)) shb = {0x1A2B3C4D, 1, 0, -1};
	pcapng_block(f, 0x0A0D0D0A, &shb, sizeof(shb));
	struct {
		uint16_t lt, res;
		uint32_t snap;
	} idb = {101, 0, 65535}; /* LINKTYPE_RAW */
	pcapng_block(f, 1, &idb, sizeof(idb));
	char msg[2048];
	size_t l = invite(msg, sizeof(msg), "10.1.1.1", 4000, false, "ng@test");
	/* the IPv4/UDP packet, built through a temporary classic capture */
	struct bb *b = calloc(1, sizeof(*b));
	ASSERT(b != NULL);
	put8(b, 0x45);
	put8(b, 0);
	put16(b, (unsigned)(28 + l));
	put32(b, 0);
	put8(b, 64);
	put8(b, 17);
	put16(b, 0);
	put32(b, 0x0a010101);
	put32(b, 0x0a010102);
	put16(b, 5060);
	put16(b, 5060);
	put16(b, (unsigned)(8 + l));
	put16(b, 0);
	putb(b, msg, l);
	struct bb *e = calloc(1, sizeof(*e));
	ASSERT(e != NULL);
	uint32_t hdr[5] = {0, 0, 0, (uint32_t)b->l, (uint32_t)b->l};
	memcpy(e->d, hdr, sizeof(hdr));
	e->l = sizeof(hdr);
	putb(e, b->d, b->l);
	pcapng_block(f, 6, e->d, e->l);
	free(b);
	free(e);
	fclose(f);

	json_t *r = NULL;
	char err[256];
	int rc = sps_verify_file(path, NULL, &r, err, sizeof(err));
	if (rc)
		TEST_FAIL("pcapng: %s", err);
	ASSERT_STR_EQ(JSTR(r, "capture/format"), "pcapng");
	ASSERT_STR_EQ(JSTR(r, "signalling/0/client"), "10.1.1.1:5060");
	ASSERT_STR_EQ(JSTR(r, "verdict"), "INSECURE");
	json_decref(r);
	return 0;
}

/* One UDP datagram sent as IP fragments of `piece` bytes (a multiple of 8),
 * in the order given by `order` (indexes of the pieces). */
static void udp_fragments(struct cap *c, int af, const char *src, const char *dst,
			  const void *pl, size_t len, size_t piece, const int *order, int n)
{
	struct bb *u = malloc(sizeof(*u)), *b = malloc(sizeof(*b));
	if (!u || !b)
		abort();
	u->l = 0;
	put16(u, 5062);
	put16(u, 5060);
	put16(u, (unsigned)(8 + len));
	put16(u, 0);
	putb(u, pl, len);
	uint8_t a[16];
	for (int k = 0; k < n; k++) {
		size_t off = (size_t)order[k] * piece;
		size_t l = u->l - off < piece ? u->l - off : piece;
		bool more = off + l < u->l;
		b->l = 0;
		if (af == 4) {
			put8(b, 0x45);
			put8(b, 0);
			put16(b, (unsigned)(20 + l));
			put16(b, 0x4242);
			put16(b, (unsigned)((more ? 0x2000 : 0) | off / 8));
			put8(b, 64);
			put8(b, 17);
			put16(b, 0);
			inet_pton(AF_INET, src, a);
			putb(b, a, 4);
			inet_pton(AF_INET, dst, a);
			putb(b, a, 4);
		} else {
			put32(b, 0x60000000);
			put16(b, (unsigned)(8 + l));
			put8(b, 44); /* fragment header */
			put8(b, 64);
			inet_pton(AF_INET6, src, a);
			putb(b, a, 16);
			inet_pton(AF_INET6, dst, a);
			putb(b, a, 16);
			put8(b, 17);
			put8(b, 0);
			put16(b, (unsigned)(off | (more ? 1 : 0)));
			put32(b, 0x4242);
		}
		putb(b, u->d + off, l);
		cap_ip(c, af, b->d, b->l);
	}
	free(u);
	free(b);
}

/* A large INVITE over UDP arrives in IP fragments (the a=crypto line in the
 * last one), out of order, over IPv4 and IPv6: reassembled, the key leak is
 * found. A datagram missing a fragment is never completed. */
int test_diag_verify_ip_fragments(void)
{
	char msg[4096];
	size_t l = invite(msg, sizeof(msg), "10.0.0.1", 4000, true, "frag@test");
	/* three pieces, multiples of 8 bytes but the last */
	size_t piece = ((l + 8) / 3 + 8) & ~(size_t)7;
	ASSERT(2 * piece < l + 8 && 3 * piece >= l + 8);
	static const int order[] = {2, 0, 1};
	struct cap c;
	const char *path = tpath("frag.pcap");
	for (int af = 4; af <= 6; af += 2) {
		ASSERT_INT_EQ(cap_open(&c, path, DLT_EN10MB), 0);
		udp_fragments(&c, af, af == 4 ? "10.0.0.1" : "fd00::1", af == 4 ? "10.0.0.2" : "fd00::2",
			      msg, l, piece, order, 3);
		cap_close(&c);
		json_t *r = NULL;
		char err[256];
		ASSERT_INT_EQ(sps_verify_file(path, NULL, &r, err, sizeof(err)), 0);
		ASSERT_STR_EQ(JSTR(r, "verdict"), "INSECURE");
		ASSERT_STR_EQ(JSTR(r, "calls/0/call_id"), "frag@test");
		ASSERT(json_is_true(jget(r, "calls/0/sdes_keys_leaked")));
		ASSERT_STR_EQ(JSTR(r, "signalling/0/methods/0"), "INVITE");
		json_decref(r);
	}
	/* the middle fragment lost: nothing to report (and nothing leaks) */
	static const int partial[] = {0, 2};
	ASSERT_INT_EQ(cap_open(&c, path, DLT_EN10MB), 0);
	udp_fragments(&c, 4, "10.0.0.1", "10.0.0.2", msg, l, piece, partial, 2);
	cap_close(&c);
	json_t *r = NULL;
	char err[256];
	ASSERT_INT_EQ(sps_verify_file(path, NULL, &r, err, sizeof(err)), 0);
	ASSERT_INT_EQ(json_array_size(jget(r, "signalling")), 0);
	ASSERT_STR_EQ(JSTR(r, "verdict"), "INCONCLUSIVE");
	json_decref(r);
	return 0;
}

/* Bad input: missing file, garbage, empty, a capture cut inside a packet
 * record and one cut inside its header, an unsupported link type. */
int test_diag_verify_bad_input(void)
{
	json_t *r = NULL;
	char err[512];
	ASSERT_INT_EQ(sps_verify_file(tpath("missing.pcap"), NULL, &r, err, sizeof(err)), ENOENT);
	ASSERT(strstr(err, "cannot open") != NULL);

	FILE *f = fopen(tpath("garbage.pcap"), "wb");
	ASSERT(f != NULL);
	for (int i = 0; i < 4000; i++)
		fputc("SIP/2.0 200 OK\r\n"[i % 16], f);
	fclose(f);
	ASSERT_INT_EQ(sps_verify_file(tpath("garbage.pcap"), NULL, &r, err, sizeof(err)), EINVAL);
	ASSERT(strstr(err, "is not a packet capture") != NULL);

	f = fopen(tpath("empty.pcap"), "wb");
	ASSERT(f != NULL);
	fclose(f);
	ASSERT_INT_EQ(sps_verify_file(tpath("empty.pcap"), NULL, &r, err, sizeof(err)), EINVAL);
	ASSERT(strstr(err, "is empty") != NULL);

	/* a good capture, then cut in the middle of its last packet */
	struct cap c;
	const char *path = tpath("cut.pcap");
	ASSERT_INT_EQ(cap_open(&c, path, DLT_EN10MB), 0);
	rtp_stream(&c, 4, "10.0.0.1", 4000, "10.0.0.2", 4002, 1, 30, true);
	cap_close(&c);
	ASSERT_INT_EQ(truncate(path, 24 + 16 + 50 + 30 * 0), 0);
	/* 24-byte file header + one record header + part of the first packet */
	ASSERT_INT_EQ(sps_verify_file(path, NULL, &r, err, sizeof(err)), EINVAL);
	ASSERT(strstr(err, "truncated") != NULL || strstr(err, "cut") != NULL);

	ASSERT_INT_EQ(cap_open(&c, path, DLT_EN10MB), 0);
	rtp_stream(&c, 4, "10.0.0.1", 4000, "10.0.0.2", 4002, 1, 30, true);
	cap_close(&c);
	long full = 24 + 30 * (16 + 14 + 20 + 8 + 182);
	ASSERT_INT_EQ(truncate(path, full - 100), 0);
	ASSERT_INT_EQ(sps_verify_file(path, NULL, &r, err, sizeof(err)), 0);
	ASSERT(json_is_true(jget(r, "capture/truncated")));
	ASSERT_INT_EQ(JINT(r, "capture/packets"), 29);
	ASSERT(strstr(JSTR(r, "capture/warnings/0"), "cut short after packet 29") != NULL);
	json_decref(r);

	/* 802.11 frames: not a link type we read */
	ASSERT_INT_EQ(cap_open(&c, path, DLT_IEEE802_11), 0);
	uint8_t junk[40] = {0};
	struct pcap_pkthdr h = {.caplen = 40, .len = 40};
	pcap_dump((u_char *)c.dd, &h, junk);
	cap_close(&c);
	ASSERT_INT_EQ(sps_verify_file(path, NULL, &r, err, sizeof(err)), EINVAL);
	ASSERT(strstr(err, "link type IEEE802_11") != NULL);
	return 0;
}

/* Limits: more flows than allowed, and a TLS record larger than the
 * reassembly bound: counted, named, no growth; INCONCLUSIVE
 * rather than SECURE. Also malformed frames of every link type. */
int test_diag_verify_limits(void)
{
	struct cap c;
	const char *path = tpath("limits.pcap");
	ASSERT_INT_EQ(cap_open(&c, path, DLT_EN10MB), 0);
	/* 20 closed HTTP connections first: not SIP or TLS, their slots are freed */
	for (int i = 0; i < 20; i++) {
		static const char get[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
		TCP(&c, 4, "10.0.0.7", (uint16_t)(20000 + i), "10.0.0.8", 80, 1, SPS__TCP_SYN, "", 0);
		TCP(&c, 4, "10.0.0.7", (uint16_t)(20000 + i), "10.0.0.8", 80, 2, 0x18, get,
		    sizeof(get) - 1);
		TCP(&c, 4, "10.0.0.8", 80, "10.0.0.7", (uint16_t)(20000 + i), 9, 0x11, "", 0);
	}
	struct bb *big = calloc(1, sizeof(*big));
	ASSERT(big != NULL);
	/* one TLS record of 18,000 bytes (allowed: RFC 8446 5.2) over 16 KiB */
	put8(big, 23);
	put16(big, 0x0303);
	put16(big, 18000);
	while (big->l < 18005)
		put8(big, 'a');
	struct bb none = {.l = 0};
	tcp_conv(&c, 4, "10.0.0.5", 1234, "10.0.0.6", 5060, big, &none, 1400, false);
	free(big);
	char msg[2048];
	for (int i = 0; i < 30; i++) {
		size_t l = invite(msg, sizeof(msg), "10.0.0.1", 4000, false, "lim@test");
		UDP(&c, 4, "10.0.0.1", (uint16_t)(10000 + i), "10.0.0.2", 5060, msg, l);
	}
	cap_close(&c);

	struct sps_verify_limits lim = {.max_flows = 8, .max_reasm = 16384};
	json_t *r = NULL;
	char err[256];
	ASSERT_INT_EQ(sps_verify_file(path, &lim, &r, err, sizeof(err)), 0);
	ASSERT_INT_EQ(json_array_size(jget(r, "signalling")), 8);
	ASSERT(strstr(JSTR(r, "capture/warnings/0"), "23 packet(s) of flows beyond the first 8") !=
	       NULL);
	ASSERT(strstr(JSTR(r, "capture/warnings/0"), "1 TCP flow(s) given up") != NULL);
	ASSERT_STR_EQ(JSTR(r, "verdict"), "INSECURE");
	json_decref(r);
	/* without the limits: 30 plaintext SIP flows, 10 reasons and a count */
	ASSERT_INT_EQ(sps_verify_file(path, NULL, &r, err, sizeof(err)), 0);
	ASSERT_INT_EQ(json_array_size(jget(r, "signalling")), 31);
	ASSERT_INT_EQ(json_array_size(jget(r, "reasons")), 11);
	ASSERT_STR_EQ(JSTR(r, "reasons/10"), "... and 20 more like these (all are listed below)");
	json_decref(r);

	/* every link type with frames cut at every length: no crash */
	static const int dlts[] = {DLT_EN10MB, DLT_LINUX_SLL, DLT_LINUX_SLL2, DLT_NULL,
				   DLT_LOOP,   DLT_RAW,       228,            229};
	uint8_t fr[120];
	for (size_t i = 0; i < sizeof(fr); i++)
		fr[i] = (uint8_t)(i * 37 + 5);
	fr[12] = 0x08, fr[13] = 0;      /* Ethernet: IPv4 */
	fr[14] = 0x45;
	for (size_t d = 0; d < sizeof(dlts) / sizeof(dlts[0]); d++) {
		for (size_t l = 0; l <= sizeof(fr); l++) {
			struct sps__pkt p;
			int rc = sps__pkt_decode(dlts[d], fr, l, l, &p);
			ASSERT(rc == 0 || rc == ENOENT || rc == EBADMSG || rc == EINPROGRESS);
			if (rc == 0 || rc == EINPROGRESS)
				ASSERT(p.pl >= fr && p.pl + p.len <= fr + l);
		}
	}
	return 0;
}

/* The statistics: uniform bytes pass for random, a tone does not; the
 * RTCP/SRTCP classifier on its own. */
int test_diag_verify_stats(void)
{
	uint32_t hist[256] = {0};
	unsigned char r[8192];
	RAND_bytes(r, sizeof(r));
	for (size_t i = 0; i < sizeof(r); i++)
		hist[r[i]]++;
	double chi2, ent;
	sps__byte_stats(hist, &chi2, &ent);
	ASSERT(chi2 < SPS__CHI2_RANDOM);
	ASSERT(ent > 7.9);
	memset(hist, 0, sizeof(hist));
	for (int i = 0; i < 8000; i++)
		hist[(uint8_t)(0x80 + 60 * sin(2 * M_PI * 440 * i / 8000.0))]++;
	sps__byte_stats(hist, &chi2, &ent);
	ASSERT(chi2 > 10 * SPS__CHI2_RANDOM);
	ASSERT(ent < 7.0);

	/* RR with no report blocks: 8 bytes, exact */
	uint8_t rr[8] = {0x80, 201, 0, 1, 1, 2, 3, 4};
	ASSERT_INT_EQ(sps__rtcp_kind(rr, sizeof(rr)), 0);
	uint8_t s[8 + 12 + 4 + 10] = {0x80, 201, 0, 1, 1, 2, 3, 4};
	memset(s + 8, 0x5a, 12);
	s[20] = 0x80; /* E=1 */
	ASSERT_INT_EQ(sps__rtcp_kind(s, sizeof(s)), 1);
	/* E=0: the compound (the RR) must end right before E||index */
	uint8_t u[8 + 4 + 10] = {0x80, 201, 0, 1, 1, 2, 3, 4, 0, 0, 0, 1};
	ASSERT_INT_EQ(sps__rtcp_kind(u, sizeof(u)), 2);
	uint8_t rtp[12] = {0x80, 0, 0, 1};
	ASSERT_INT_EQ(sps__rtcp_kind(rtp, sizeof(rtp)), -1);
	return 0;
}

/* Not a test: removes the temporary directory (listed last). */
int test_diag_verify_cleanup(void)
{
	static const char *const files[] = {"link.pcap",   "tls12.pcap",   "tlsv.pcap",
					    "siptcp.pcap", "ng.pcapng",    "garbage.pcap",
					    "empty.pcap",  "cut.pcap",     "limits.pcap",
					    "frag.pcap"};
	if (!tmpdir[0])
		return 0;
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		unlink(tpath(files[i]));
	ASSERT_INT_EQ(rmdir(tmpdir), 0);
	tmpdir[0] = '\0';
	return 0;
}
