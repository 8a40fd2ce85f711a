/* Unit tests of sdp/: parser vectors, a=crypto, base64, the writer. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/base64.h"
#include "sdp/sdp.h"
#include "test.h"

/* baresip 1.0 with mediaenc srtp-mand (RTP/SAVP, one AES_CM_128_HMAC_SHA1_80 key). */
static const char baresip_offer[] =
	"v=0\r\n"
	"o=- 1394813553 3237264025 IN IP4 127.0.0.1\r\n"
	"s=-\r\n"
	"c=IN IP4 127.0.0.1\r\n"
	"t=0 0\r\n"
	"m=audio 10006 RTP/SAVP 0 8 101\r\n"
	"b=AS:64\r\n"
	"a=rtpmap:0 PCMU/8000\r\n"
	"a=rtpmap:8 PCMA/8000\r\n"
	"a=rtpmap:101 telephone-event/8000\r\n"
	"a=fmtp:101 0-15\r\n"
	"a=sendrecv\r\n"
	"a=label:1\r\n"
	"a=rtcp-mux\r\n"
	"a=ssrc:1612312406 cname:d62a2b3b-1d10-4d4d-8f4b-6a4a64ea2ab1\r\n"
	"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz\r\n"
	"a=ptime:20\r\n";

/* Polycom-like: best-effort SRTP in RTP/AVP with two keys, lifetime and MKI,
 * a=rtcp with an address, and a video line. */
static const char polycom_offer[] =
	"v=0\r\n"
	"o=- 1700000000 1700000000 IN IP4 192.0.2.10\r\n"
	"s=Polycom IP Phone\r\n"
	"c=IN IP4 192.0.2.10\r\n"
	"t=0 0\r\n"
	"a=sendrecv\r\n"
	"m=audio 2222 RTP/AVP 9 0 8 101\r\n"
	"a=rtcp:2223 IN IP4 192.0.2.10\r\n"
	"a=crypto:1 AES_CM_128_HMAC_SHA1_80 "
	"inline:d0RmdmcmVCspeEc3QGZiNWpVLFJhQX1cfHAwJSoj|2^31|1:1\r\n"
	"a=crypto:2 AES_CM_128_HMAC_SHA1_32 inline:NzB4d1BINUAvLEw6UzF3WSJ+PSdFcGdUJShpX1Zj|2^20 "
	"KDR=1 UNENCRYPTED_SRTCP\r\n"
	"a=rtpmap:9 G722/8000\r\n"
	"a=rtpmap:101 telephone-event/8000\r\n"
	"m=video 2224 RTP/SAVPF 109\r\n"
	"c=IN IP4 192.0.2.11\r\n"
	"a=inactive\r\n"
	"a=crypto:7 AEAD_AES_256_GCM "
	"inline:e1y2Ni4lRN6h4bFVHwEyZ2wq0PqBlbCW1A4qRlQZZG8Hk3f5VCqI2n1zhoA=\r\n";

int test_sdp_parse_offers(void)
{
	static struct sps_sdp sdp;
	const char *why = NULL;

	ASSERT_INT_EQ(sps_sdp_parse(sps_slice_cstr(baresip_offer), &sdp, &why), 0);
	ASSERT(sdp.crlf);
	ASSERT_INT_EQ(sdp.nmedia, 1);
	ASSERT_SLICE_EQ(sdp.origin.sess_version, "3237264025");
	ASSERT_SLICE_EQ(sdp.origin.conn.addr, "127.0.0.1");
	ASSERT(sdp.has_conn);
	ASSERT_SLICE_EQ(sdp.conn.addr, "127.0.0.1");
	const struct sps_sdp_media *m = &sdp.media[0];
	ASSERT_SLICE_EQ(m->type, "audio");
	ASSERT_INT_EQ(m->port, 10006);
	ASSERT_INT_EQ(m->proto, SPS_SDP_RTP_SAVP);
	ASSERT_SLICE_EQ(m->fmts, "0 8 101");
	ASSERT(m->rtcp_mux);
	ASSERT(!m->has_rtcp);
	ASSERT_INT_EQ(sps_sdp_media_dir(&sdp, 0), SPS_SDP_SENDRECV);
	ASSERT_INT_EQ(m->ncrypto, 1);
	ASSERT_INT_EQ(m->crypto[0].tag, 1);
	ASSERT_SLICE_EQ(m->crypto[0].suite, "AES_CM_128_HMAC_SHA1_80");
	ASSERT_SLICE_EQ(m->crypto[0].key_b64, "WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz");
	ASSERT(!m->crypto[0].has_mki);
	ASSERT_INT_EQ(m->crypto[0].lifetime.l, 0);
	ASSERT_INT_EQ(m->line, 5);
	ASSERT_INT_EQ(m->end, sdp.nlines);
	uint8_t key[SPS_SDP_KEY_MAX];
	size_t klen = 0;
	ASSERT_INT_EQ(
	    sps_base64_decode(m->crypto[0].key_b64, key, sizeof(key), &klen, SPS_B64_PAD), 0);
	ASSERT_INT_EQ(klen, 30); /* 16-byte key + 14-byte salt, RFC 4568 6.2.1 */

	ASSERT_INT_EQ(sps_sdp_parse(sps_slice_cstr(polycom_offer), &sdp, &why), 0);
	ASSERT_INT_EQ(sdp.nmedia, 2);
	ASSERT_INT_EQ(sdp.dir, SPS_SDP_SENDRECV);
	m = &sdp.media[0];
	ASSERT_INT_EQ(m->proto, SPS_SDP_RTP_AVP);
	ASSERT(m->has_rtcp);
	ASSERT_INT_EQ(m->rtcp_port, 2223);
	ASSERT_SLICE_EQ(m->rtcp_conn.addr, "192.0.2.10");
	ASSERT_INT_EQ(m->ncrypto, 2);
	ASSERT_SLICE_EQ(m->crypto[0].lifetime, "2^31");
	ASSERT(m->crypto[0].has_mki);
	ASSERT_INT_EQ(m->crypto[0].mki, 1);
	ASSERT_INT_EQ(m->crypto[0].mki_len, 1);
	ASSERT_INT_EQ(m->crypto[1].tag, 2);
	ASSERT_SLICE_EQ(m->crypto[1].suite, "AES_CM_128_HMAC_SHA1_32");
	ASSERT_SLICE_EQ(m->crypto[1].lifetime, "2^20");
	ASSERT(!m->crypto[1].has_mki);
	ASSERT_SLICE_EQ(m->crypto[1].session_params, "KDR=1 UNENCRYPTED_SRTCP");
	ASSERT_INT_EQ(sps_sdp_media_dir(&sdp, 0), SPS_SDP_SENDRECV);
	ASSERT_SLICE_EQ(sps_sdp_media_conn(&sdp, 0)->addr, "192.0.2.10");
	m = &sdp.media[1];
	ASSERT_INT_EQ(m->proto, SPS_SDP_RTP_SAVPF);
	ASSERT_INT_EQ(sps_sdp_media_dir(&sdp, 1), SPS_SDP_INACTIVE);
	ASSERT_SLICE_EQ(sps_sdp_media_conn(&sdp, 1)->addr, "192.0.2.11");
	ASSERT_INT_EQ(m->crypto[0].tag, 7);
	ASSERT_INT_EQ(
	    sps_base64_decode(m->crypto[0].key_b64, key, sizeof(key), &klen, SPS_B64_PAD), 0);
	ASSERT_INT_EQ(klen, 44); /* RFC 7714 12: 32-byte key + 12-byte salt */

	/* LF line ends (RFC 8866 5), AVPF, port count, no trailing line end */
	static const char lf[] = "v=0\no=a 1 2 IN IP6 ::1\ns=x\nc=IN IP6 ::1\nt=0 0\n"
				 "m=audio 5004/2 RTP/AVPF 96\na=recvonly";
	ASSERT_INT_EQ(sps_sdp_parse(sps_slice_cstr(lf), &sdp, &why), 0);
	ASSERT(!sdp.crlf);
	ASSERT_INT_EQ(sdp.media[0].port, 5004);
	ASSERT_INT_EQ(sdp.media[0].nports, 2);
	ASSERT_INT_EQ(sdp.media[0].proto, SPS_SDP_RTP_AVPF);
	ASSERT_INT_EQ(sps_sdp_media_dir(&sdp, 0), SPS_SDP_RECVONLY);
	ASSERT_SLICE_EQ(sdp.conn.addrtype, "IP6");
	return 0;
}

/* Each bad body is refused with a reason. */
int test_sdp_parse_errors(void)
{
	static const struct {
		const char *body;
		int err;
		const char *why_part;
	} vec[] = {
		{"", EBADMSG, "empty"},
		{"v=1\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\n", EBADMSG, "v=0"},
		{"v=0\r\ns=-\r\n", EBADMSG, "o="},
		{"v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\n", EBADMSG, "s="},
		{"v=0\r\no=- 1 1 IN\r\ns=-\r\n", EBADMSG, "6 fields"},
		{"v=0\r\no=- 1 x IN IP4 1.2.3.4\r\ns=-\r\n", EBADMSG, "sess-version"},
		{"v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nm=audio 5 RTP/AVP 0\r\n", EBADMSG,
		 "no c= line"},
		{"v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\n"
		 "m=audio 70000 RTP/AVP 0\r\n",
		 EBADMSG, "port"},
		{"v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\nm=audio 5 RTP/AVP\r\n",
		 EBADMSG, "m= needs"},
		{"v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4\r\n", EBADMSG, "connection"},
		{"v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\nc=IN IP4 1.2.3.4\r\n",
		 EBADMSG, "two c="},
		{"v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nbogus\r\n", EBADMSG, "letter"},
		{"v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nX=1\r\n", EBADMSG, "letter"},
		{"v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nv=0\r\n", EBADMSG, "second v="},
		{"v=0\r\no=- 1 1 IN IP4 1.2.3.4\rs=-\r\n", EBADMSG, "CR without LF"},
		{"v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\n"
		 "m=audio 5 RTP/SAVP 0\r\na=rtcp:x\r\n",
		 EBADMSG, "a=rtcp"},
		{"v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\n"
		 "m=audio 5 RTP/SAVP 0\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:QUJD\r\n"
		 "a=crypto:1 AES_CM_128_HMAC_SHA1_32 inline:QUJD\r\n",
		 EBADMSG, "same tag"},
	};
	static struct sps_sdp sdp;
	for (size_t i = 0; i < sizeof(vec) / sizeof(vec[0]); i++) {
		const char *why = NULL;
		int rc = sps_sdp_parse(sps_slice_cstr(vec[i].body), &sdp, &why);
		if (rc != vec[i].err || !why || !strstr(why, vec[i].why_part))
			TEST_FAIL("vector %zu: rc %d why \"%s\", expected %d \"%s\"", i, rc,
				  why ? why : "(null)", vec[i].err, vec[i].why_part);
	}

	/* NUL byte */
	static const char nul[] = "v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=\0-\r\n";
	const char *why = NULL;
	ASSERT_INT_EQ(sps_sdp_parse(sps_slice_make(nul, sizeof(nul) - 1), &sdp, &why), EBADMSG);

	/* bounds: 9 m= sections, 257 lines, 9 crypto lines, 16 KB */
	char *big = malloc(40000);
	ASSERT(big);
	size_t n = (size_t)sprintf(big, "v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\n");
	for (int k = 0; k < 9; k++)
		n += (size_t)sprintf(big + n, "m=audio %d RTP/AVP 0\r\n", 1000 + k);
	int rc = sps_sdp_parse(sps_slice_make(big, n), &sdp, &why);
	n = (size_t)sprintf(big, "v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\n");
	for (int k = 0; k < 260; k++)
		n += (size_t)sprintf(big + n, "a=x%d\r\n", k);
	int rc2 = sps_sdp_parse(sps_slice_make(big, n), &sdp, &why);
	n = (size_t)sprintf(big, "v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\n"
				 "m=audio 5 RTP/SAVP 0\r\n");
	for (int k = 0; k < 9; k++)
		n += (size_t)sprintf(big + n, "a=crypto:%d AES_CM_128_HMAC_SHA1_80 inline:QUJD\r\n",
				     k + 1);
	int rc3 = sps_sdp_parse(sps_slice_make(big, n), &sdp, &why);
	memset(big, 'a', 20000);
	int rc4 = sps_sdp_parse(sps_slice_make(big, 20000), &sdp, &why);
	free(big);
	ASSERT_INT_EQ(rc, E2BIG);
	ASSERT_INT_EQ(rc2, E2BIG);
	ASSERT_INT_EQ(rc3, E2BIG);
	ASSERT_INT_EQ(rc4, E2BIG);
	return 0;
}

/* RFC 4568 9.1 a=crypto values, good and bad. */
int test_sdp_crypto_attr(void)
{
	static const struct {
		const char *val;
		int ok;
		uint32_t tag;
		const char *lifetime;
		uint32_t mki, mki_len;
		unsigned nkeys;
	} vec[] = {
		{"1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR", 1, 1, "",
		 0, 0, 1},
		{"2 AES_CM_128_HMAC_SHA1_32 inline:NzB4d1BINUAvLEw6UzF3WSJ+PSdFcGdUJShpX1Zj|2^20|1:32", 1,
		 2, "2^20", 1, 32, 1},
		{"3 AES_CM_128_HMAC_SHA1_80 inline:QUJD|1048576", 1, 3, "1048576", 0, 0, 1},
		{"4 AES_CM_128_HMAC_SHA1_80 inline:QUJD|7:4", 1, 4, "", 7, 4, 1},
		{"5\tAES_CM_128_HMAC_SHA1_80\tinline:QUJD|2^20|1:4;inline:REVG|2^20|2:4 FEC_ORDER=FEC_SRTP",
		 1, 5, "2^20", 1, 4, 2},
		{"123456789 F8_128_HMAC_SHA1_80 inline:QUJD", 1, 123456789, "", 0, 0, 1},
		{"1234567890 AES_CM_128_HMAC_SHA1_80 inline:QUJD", 0, 0, NULL, 0, 0, 0},
		{"x AES_CM_128_HMAC_SHA1_80 inline:QUJD", 0, 0, NULL, 0, 0, 0},
		{"1", 0, 0, NULL, 0, 0, 0},
		{"1 AES_CM_128_HMAC_SHA1_80", 0, 0, NULL, 0, 0, 0},
		{"1 AES-CM inline:QUJD", 0, 0, NULL, 0, 0, 0},
		{"1 AES_CM_128_HMAC_SHA1_80 uri:http://x", 0, 0, NULL, 0, 0, 0},
		{"1 AES_CM_128_HMAC_SHA1_80 inline:", 0, 0, NULL, 0, 0, 0},
		{"1 AES_CM_128_HMAC_SHA1_80 inline:QU*D", 0, 0, NULL, 0, 0, 0},
		{"1 AES_CM_128_HMAC_SHA1_80 inline:QUJD|2^x", 0, 0, NULL, 0, 0, 0},
		{"1 AES_CM_128_HMAC_SHA1_80 inline:QUJD|1:0", 0, 0, NULL, 0, 0, 0},
		{"1 AES_CM_128_HMAC_SHA1_80 inline:QUJD|1:129", 0, 0, NULL, 0, 0, 0},
		{"1 AES_CM_128_HMAC_SHA1_80 inline:QUJD|2^20|1:4|9", 0, 0, NULL, 0, 0, 0},
		{"1 AES_CM_128_HMAC_SHA1_80 inline:QUJD|2^20|2^20", 0, 0, NULL, 0, 0, 0},
	};
	for (size_t i = 0; i < sizeof(vec) / sizeof(vec[0]); i++) {
		struct sps_sdp_crypto c;
		const char *why = NULL;
		int rc = sps_sdp_crypto_parse(sps_slice_cstr(vec[i].val), &c, &why);
		if (!vec[i].ok) {
			if (rc != EBADMSG || !why)
				TEST_FAIL("vector %zu accepted: %s", i, vec[i].val);
			continue;
		}
		if (rc)
			TEST_FAIL("vector %zu refused (%s): %s", i, why, vec[i].val);
		ASSERT_INT_EQ(c.tag, vec[i].tag);
		ASSERT_SLICE_EQ(c.lifetime, vec[i].lifetime);
		ASSERT_INT_EQ(c.has_mki, vec[i].mki_len != 0);
		ASSERT_INT_EQ(c.mki, vec[i].mki);
		ASSERT_INT_EQ(c.mki_len, vec[i].mki_len);
		ASSERT_INT_EQ(c.nkeys, vec[i].nkeys);
	}
	return 0;
}

int test_sdp_base64(void)
{
	uint8_t key[SPS_SDP_KEY_MAX], back[SPS_SDP_KEY_MAX];
	char enc[80];
	size_t n;
	for (size_t len = 0; len <= SPS_SDP_KEY_MAX; len++) {
		for (size_t i = 0; i < len; i++)
			key[i] = (uint8_t)(i * 37 + len);
		ASSERT_INT_EQ(sps_base64_encode(key, len, enc, sizeof(enc), 0), 0);
		ASSERT_INT_EQ(strlen(enc) % 4, 0);
		ASSERT_INT_EQ(sps_base64_decode(sps_slice_cstr(enc), back, sizeof(back), &n, SPS_B64_PAD), 0);
		ASSERT_INT_EQ(n, len);
		ASSERT(len == 0 || memcmp(key, back, len) == 0);
	}
	/* RFC 4648 10 test vectors */
	ASSERT_INT_EQ(sps_base64_encode((const uint8_t *)"foob", 4, enc, sizeof(enc), 0), 0);
	ASSERT_STR_EQ(enc, "Zm9vYg==");
	ASSERT_INT_EQ(
	    sps_base64_decode(SPS_SLICE_LIT("Zm9vYmFy"), back, sizeof(back), &n, SPS_B64_PAD), 0);
	ASSERT(n == 6 && memcmp(back, "foobar", 6) == 0);
	ASSERT_INT_EQ(sps_base64_decode(SPS_SLICE_LIT("Zm9vY"), back, sizeof(back), &n, SPS_B64_PAD),
		      EBADMSG);
	ASSERT_INT_EQ(sps_base64_decode(SPS_SLICE_LIT("Zm=vYg=="), back, sizeof(back), &n, SPS_B64_PAD),
		      EBADMSG);
	ASSERT_INT_EQ(sps_base64_decode(SPS_SLICE_LIT("Zm9v=g=="), back, sizeof(back), &n, SPS_B64_PAD),
		      EBADMSG);
	ASSERT_INT_EQ(sps_base64_decode(SPS_SLICE_LIT("Zm9vYmFy"), back, 5, &n, SPS_B64_PAD), ENOSPC);
	ASSERT_INT_EQ(sps_base64_encode(key, 30, enc, 41, 0), 0); /* 40 characters and the NUL */
	ASSERT_INT_EQ(sps_base64_encode(key, 30, enc, 40, 0), ENOSPC);

	char line[SPS_SDP_CRYPTO_LINE_MAX];
	ASSERT_INT_EQ(sps_sdp_crypto_format(line, sizeof(line), 3, "AEAD_AES_256_GCM", key, 44), 0);
	struct sps_sdp_crypto c;
	ASSERT_INT_EQ(sps_sdp_crypto_parse(sps_slice_cstr(line), &c, NULL), 0);
	ASSERT_INT_EQ(c.tag, 3);
	ASSERT_SLICE_EQ(c.suite, "AEAD_AES_256_GCM");
	ASSERT_INT_EQ(sps_base64_decode(c.key_b64, back, sizeof(back), &n, SPS_B64_PAD), 0);
	ASSERT(n == 44 && memcmp(back, key, 44) == 0);
	ASSERT_INT_EQ(sps_sdp_crypto_format(line, 20, 3, "AEAD_AES_256_GCM", key, 44), ENOSPC);
	return 0;
}

/* The relay's rewrite: address, port, profile, keys, rtcp; the rest kept. */
int test_sdp_write(void)
{
	static struct sps_sdp sdp, again;
	char out[4096];
	size_t n;

	ASSERT_INT_EQ(sps_sdp_parse(sps_slice_cstr(polycom_offer), &sdp, NULL), 0);
	/* no edit: byte for byte the input (it is CRLF already) */
	ASSERT_INT_EQ(sps_sdp_write(&sdp, NULL, out, sizeof(out), &n), 0);
	ASSERT_INT_EQ(n, strlen(polycom_offer));
	ASSERT(memcmp(out, polycom_offer, n) == 0);

	struct sps_sdp_edit e;
	memset(&e, 0, sizeof(e));
	e.addr = "203.0.113.5";
	e.set_version = true;
	e.version = 1700000001;
	e.media[0].set = true;
	e.media[0].port = 30000;
	e.media[0].proto = SPS_SDP_RTP_SAVP;
	e.media[0].set_rtcp = true;
	e.media[0].rtcp_port = 30001;
	e.media[0].replace_crypto = true;
	e.media[0].crypto[0] = "9 AEAD_AES_128_GCM inline:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGw==";
	e.media[0].ncrypto = 1;
	e.media[1].set = true;
	e.media[1].port = 0;
	e.media[1].proto = SPS_SDP_RTP_AVPF;
	e.media[1].replace_crypto = true; /* none: bridged to plain RTP */
	e.media[1].dir = SPS_SDP_SENDONLY;
	ASSERT_INT_EQ(sps_sdp_write(&sdp, &e, out, sizeof(out), &n), 0);
	out[n] = '\0';
	ASSERT(strstr(out, "o=- 1700000000 1700000001 IN IP4 203.0.113.5\r\n"));
	ASSERT(strstr(out, "\r\nc=IN IP4 203.0.113.5\r\nt=0 0\r\n"));
	ASSERT(strstr(out, "m=audio 30000 RTP/SAVP 9 0 8 101\r\na=rtcp:30001 IN IP4 203.0.113.5\r\n"
			   "a=crypto:9 AEAD_AES_128_GCM "));
	ASSERT(!strstr(out, "inline:d0Rm"));
	ASSERT(!strstr(out, "inline:NzB4"));
	ASSERT(!strstr(out, "inline:e1y2"));
	ASSERT(strstr(out, "a=rtpmap:9 G722/8000\r\na=rtpmap:101 telephone-event/8000\r\n"
			   "m=video 0 RTP/AVPF 109\r\nc=IN IP4 203.0.113.5\r\na=sendonly\r\n"));
	ASSERT(!strstr(out, "inactive"));
	/* what we wrote parses, with the new values */
	ASSERT_INT_EQ(sps_sdp_parse(sps_slice_make(out, n), &again, NULL), 0);
	ASSERT_INT_EQ(again.nmedia, 2);
	ASSERT_INT_EQ(again.media[0].port, 30000);
	ASSERT_INT_EQ(again.media[0].rtcp_port, 30001);
	ASSERT_INT_EQ(again.media[0].ncrypto, 1);
	ASSERT_INT_EQ(again.media[0].crypto[0].tag, 9);
	ASSERT_INT_EQ(again.media[1].ncrypto, 0);
	ASSERT_INT_EQ(sps_sdp_media_dir(&again, 1), SPS_SDP_SENDONLY);

	/* keys added where there were none; the direction appended; IPv6; LF input */
	static const char plain[] = "v=0\no=a 1 2 IN IP4 10.0.0.1\ns=x\nc=IN IP4 10.0.0.1\nt=0 0\n"
				    "m=audio 4000 RTP/AVP 0\na=rtpmap:0 PCMU/8000\n";
	ASSERT_INT_EQ(sps_sdp_parse(sps_slice_cstr(plain), &sdp, NULL), 0);
	memset(&e, 0, sizeof(e));
	e.addr = "::1";
	e.media[0].set = true;
	e.media[0].port = 31000;
	e.media[0].proto = SPS_SDP_RTP_SAVP;
	e.media[0].replace_crypto = true;
	e.media[0].crypto[0] = "1 AES_CM_128_HMAC_SHA1_80 inline:QUJD";
	e.media[0].crypto[1] = "2 AES_CM_128_HMAC_SHA1_32 inline:REVG";
	e.media[0].ncrypto = 2;
	e.media[0].dir = SPS_SDP_RECVONLY;
	e.media[0].set_rtcp = true;
	e.media[0].rtcp_port = 31001;
	ASSERT_INT_EQ(sps_sdp_write(&sdp, &e, out, sizeof(out), &n), 0);
	out[n] = '\0';
	ASSERT_STR_EQ(out, "v=0\r\no=a 1 2 IN IP6 ::1\r\ns=x\r\nc=IN IP6 ::1\r\nt=0 0\r\n"
			   "m=audio 31000 RTP/SAVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
			   "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:QUJD\r\n"
			   "a=crypto:2 AES_CM_128_HMAC_SHA1_32 inline:REVG\r\n"
			   "a=recvonly\r\na=rtcp:31001\r\n");

	/* a section that ends in its c= line still gets its keys (found by fuzz_sdp) */
	static const char clast[] = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n"
				    "m=audio 0 RTP/AVP 0\r\nc=IN IP4 0.0.0.0\r\n";
	static struct sps_sdp one;
	ASSERT_INT_EQ(sps_sdp_parse(sps_slice_cstr(clast), &one, NULL), 0);
	struct sps_sdp_edit e2;
	memset(&e2, 0, sizeof(e2));
	e2.addr = "10.1.1.1";
	e2.media[0].set = true;
	e2.media[0].port = 30000;
	e2.media[0].replace_crypto = true;
	e2.media[0].crypto[0] = "1 AES_CM_128_HMAC_SHA1_80 inline:QUJD";
	e2.media[0].ncrypto = 1;
	ASSERT_INT_EQ(sps_sdp_write(&one, &e2, out, sizeof(out), &n), 0);
	out[n] = '\0';
	ASSERT(strstr(out, "m=audio 30000 RTP/AVP 0\r\nc=IN IP4 10.1.1.1\r\n"
			   "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:QUJD\r\n"));

	/* refused edits and a short buffer */
	e.addr = "host.example.com";
	ASSERT_INT_EQ(sps_sdp_write(&sdp, &e, out, sizeof(out), &n), EINVAL);
	e.addr = NULL;
	e.media[0].crypto[0] = "1 X inline:QUJD\r\na=evil";
	ASSERT_INT_EQ(sps_sdp_write(&sdp, &e, out, sizeof(out), &n), EINVAL);
	e.media[0].crypto[0] = "1 AES_CM_128_HMAC_SHA1_80 inline:QUJD";
	e.media[3].set = true;
	ASSERT_INT_EQ(sps_sdp_write(&sdp, &e, out, sizeof(out), &n), EINVAL);
	e.media[3].set = false;
	ASSERT_INT_EQ(sps_sdp_write(&sdp, &e, out, 40, &n), ENOSPC);
	return 0;
}
