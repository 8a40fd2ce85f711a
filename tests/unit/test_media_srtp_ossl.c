/* Unit tests of media/srtp_ossl: our OpenSSL kernels are the ones libsrtp
 * runs, each passes its RFC known answers (driven by libsrtp's self test
 * and by hand, IV reuse and partial blocks included), and whole SRTP and
 * SRTCP packets come out as an independent RFC 3711 computation on
 * OpenSSL one-shot primitives says they must. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "core/hex.h"
#include "media/crypto.h"
#include "media/srtp_ossl.h"
#include "test.h"

/* Exported by libsrtp2, declared in its crypto_kernel.h, which Debian does
 * not install: which kernel the library will use for an id. */
const srtp_cipher_type_t *srtp_crypto_kernel_get_cipher_type(srtp_cipher_type_id_t id);
const srtp_auth_type_t *srtp_crypto_kernel_get_auth_type(srtp_auth_type_id_t id);

/* Hex (no spaces) into out; returns the byte count. */
static size_t unhex(const char *h, uint8_t *out)
{
	size_t n = 0;
	for (; h[0] && h[1]; h += 2)
		out[n++] = (uint8_t)(sps_hexval((unsigned char)h[0]) << 4 |
				     sps_hexval((unsigned char)h[1]));
	return n;
}

/* ---- kernels ---- */

static int kat_icm(void)
{
	/* RFC 3711 B.2 */
	uint8_t key[30], ks0[48], ks_feff[48], buf[64], iv[16] = {0};
	unhex("2B7E151628AED2A6ABF7158809CF4F3CF0F1F2F3F4F5F6F7F8F9FAFBFCFD", key);
	unhex("E03EAD0935C95E80E166B16DD92B4EB4D23513162B02D0F72A43A2FE4A5F97AB"
	      "41E95B3BB0A2E8DD477901E4FCA894C0", ks0);
	unhex("EC8CDF7398607CB0F2D21675EA9EA1E4362B7C3C6773516318A077D7FC5073AE"
	      "6A2CC3787889374FBEB4C81B17BA6C44", ks_feff);
	srtp_cipher_t *c;
	unsigned len;
	ASSERT_INT_EQ(srtp_cipher_type_alloc(&sps__srtp_ossl_aes_icm_128, &c, 30, 0), 0);
	ASSERT_INT_EQ(c->algorithm, SRTP_AES_ICM_128);
	ASSERT_INT_EQ(c->key_len, 30);
	ASSERT_INT_EQ(srtp_cipher_init(c, key), 0);
	/* a packet that ends inside a block, then one from counter 0: the new
	 * IV restarts the keystream */
	iv[14] = 0xfe;
	iv[15] = 0xff;
	memset(buf, 0, sizeof(buf));
	len = 45;
	ASSERT_INT_EQ(srtp_cipher_set_iv(c, iv, srtp_direction_encrypt), 0);
	ASSERT_INT_EQ(srtp_cipher_encrypt(c, buf, &len), 0);
	ASSERT_INT_EQ(len, 45);
	ASSERT(memcmp(buf, ks_feff, 45) == 0 && buf[45] == 0);
	iv[14] = iv[15] = 0;
	memset(buf, 0, sizeof(buf));
	len = 48;
	ASSERT_INT_EQ(srtp_cipher_set_iv(c, iv, srtp_direction_encrypt), 0);
	ASSERT_INT_EQ(srtp_cipher_encrypt(c, buf, &len), 0);
	ASSERT(memcmp(buf, ks0, 48) == 0);
	/* decrypting is the same XOR */
	len = 48;
	ASSERT_INT_EQ(srtp_cipher_set_iv(c, iv, srtp_direction_decrypt), 0);
	ASSERT_INT_EQ(srtp_cipher_decrypt(c, buf, &len), 0);
	for (int i = 0; i < 48; i++)
		ASSERT_INT_EQ(buf[i], 0);
	ASSERT_INT_EQ(srtp_cipher_dealloc(c), 0);
	/* RFC 6188 7.1, AES-256 */
	uint8_t key256[46];
	unhex("57f82fe3613fd170a85ec93c40b1f0922ec4cb0dc025b58272147cc438944a98"
	      "f0f1f2f3f4f5f6f7f8f9fafbfcfd", key256);
	unhex("92bdd28a93c3f52511c677d08b5515a49da71b2378a854f67050756ded165bac"
	      "63c4868b7096d88421b563b8c94c9a31", ks0);
	ASSERT_INT_EQ(srtp_cipher_type_alloc(&sps__srtp_ossl_aes_icm_256, &c, 46, 0), 0);
	ASSERT_INT_EQ(c->algorithm, SRTP_AES_ICM_256);
	ASSERT_INT_EQ(srtp_cipher_init(c, key256), 0);
	memset(buf, 0, sizeof(buf));
	len = 48;
	ASSERT_INT_EQ(srtp_cipher_set_iv(c, iv, srtp_direction_encrypt), 0);
	ASSERT_INT_EQ(srtp_cipher_encrypt(c, buf, &len), 0);
	ASSERT(memcmp(buf, ks0, 48) == 0);
	ASSERT_INT_EQ(srtp_cipher_dealloc(c), 0);
	/* AES-192 is not ours; nor are odd lengths */
	ASSERT_INT_EQ(srtp_cipher_type_alloc(&sps__srtp_ossl_aes_icm_128, &c, 38, 0),
		      srtp_err_status_bad_param);
	ASSERT_INT_EQ(srtp_cipher_type_alloc(&sps__srtp_ossl_aes_icm_128, &c, 16, 0),
		      srtp_err_status_bad_param);
	return 0;
}

/* RFC 7714 16.1.1 / 16.2.1 (encrypt), 16.1.2 / 16.2.2 (decrypt), tamper. */
static int kat_gcm_one(const srtp_cipher_type_t *t, const char *key_hex, int key_len,
		       const char *ct_hex)
{
	uint8_t key[44], iv[12], aad[12], pt[38], ct[54], buf[64];
	unhex(key_hex, key);
	unhex("51753c6580c2726f20718414", iv);
	unhex("8040f17b8041f8d35501a0b2", aad);
	unhex("47616c6c696120657374206f6d6e69732064697669736120696e207061727465732074726573",
	      pt);
	unhex(ct_hex, ct);
	for (int tag_len = 16; tag_len >= 8; tag_len -= 8) {
		srtp_cipher_t *c;
		unsigned len = sizeof(pt);
		uint32_t tlen = 0;
		ASSERT_INT_EQ(srtp_cipher_type_alloc(t, &c, key_len, tag_len), 0);
		ASSERT_INT_EQ(srtp_cipher_init(c, key), 0);
		memcpy(buf, pt, sizeof(pt));
		ASSERT_INT_EQ(srtp_cipher_set_iv(c, iv, srtp_direction_encrypt), 0);
		/* AAD in two pieces, as srtp.c gives SRTCP's header and index */
		ASSERT_INT_EQ(srtp_cipher_set_aad(c, aad, 8), 0);
		ASSERT_INT_EQ(srtp_cipher_set_aad(c, aad + 8, 4), 0);
		ASSERT_INT_EQ(srtp_cipher_encrypt(c, buf, &len), 0);
		ASSERT_INT_EQ(srtp_cipher_get_tag(c, buf + len, &tlen), 0);
		ASSERT_INT_EQ(tlen, tag_len);
		ASSERT(memcmp(buf, ct, sizeof(pt) + (size_t)tag_len) == 0);
		/* decrypt: the length counts the tag and comes back without it.
		 * flip -1: untouched; -2: a header (AAD) bit; else a bit of byte flip */
		for (int flip = -2; flip < (int)sizeof(pt) + tag_len; flip += flip < 0 ? 1 : 5) {
			uint8_t a[12];
			memcpy(a, aad, 12);
			memcpy(buf, ct, sizeof(pt) + (size_t)tag_len);
			if (flip == -2)
				a[3] ^= 1;
			else if (flip >= 0)
				buf[flip] ^= 0x10;
			len = (unsigned)sizeof(pt) + (unsigned)tag_len;
			ASSERT_INT_EQ(srtp_cipher_set_iv(c, iv, srtp_direction_decrypt), 0);
			ASSERT_INT_EQ(srtp_cipher_set_aad(c, a, 12), 0);
			srtp_err_status_t st = srtp_cipher_decrypt(c, buf, &len);
			if (flip != -1) {
				ASSERT_INT_EQ(st, srtp_err_status_auth_fail);
			} else {
				ASSERT_INT_EQ(st, 0);
				ASSERT_INT_EQ(len, sizeof(pt));
				ASSERT(memcmp(buf, pt, sizeof(pt)) == 0);
			}
		}
		/* untampered after the tampered ones: nothing sticks */
		memcpy(buf, ct, sizeof(pt) + (size_t)tag_len);
		len = (unsigned)sizeof(pt) + (unsigned)tag_len;
		ASSERT_INT_EQ(srtp_cipher_set_iv(c, iv, srtp_direction_decrypt), 0);
		ASSERT_INT_EQ(srtp_cipher_set_aad(c, aad, 12), 0);
		ASSERT_INT_EQ(srtp_cipher_decrypt(c, buf, &len), 0);
		ASSERT(memcmp(buf, pt, sizeof(pt)) == 0);
		/* shorter than the tag */
		len = (unsigned)tag_len - 1;
		ASSERT_INT_EQ(srtp_cipher_set_iv(c, iv, srtp_direction_decrypt), 0);
		ASSERT_INT_EQ(srtp_cipher_decrypt(c, buf, &len), srtp_err_status_bad_param);
		ASSERT_INT_EQ(srtp_cipher_dealloc(c), 0);
	}
	srtp_cipher_t *c;
	ASSERT_INT_EQ(srtp_cipher_type_alloc(t, &c, key_len, 12), srtp_err_status_bad_param);
	return 0;
}

static int kat_hmac(void)
{
	/* RFC 2202 3 case 7: 80-byte key (hashed first), data over a block,
	 * fed in three pieces the way srtp.c does (start, update, compute) */
	static const char data[] =
		"Test Using Larger Than Block-Size Key and Larger Than One Block-Size Data";
	uint8_t key[80], want[20], tag[20];
	memset(key, 0xaa, sizeof(key));
	unhex("e8e99d0f45237d786d6bbaa7965c7808bbff1a91", want);
	srtp_auth_t *a;
	ASSERT_INT_EQ(sps__srtp_ossl_hmac_sha1.alloc(&a, 80, 10), 0);
	ASSERT_INT_EQ(srtp_auth_get_tag_length(a), 10);
	ASSERT_INT_EQ(srtp_auth_get_prefix_length(a), 0);
	ASSERT_INT_EQ(srtp_auth_init(a, key), 0);
	for (int round = 0; round < 3; round++) {
		memset(tag, 0, sizeof(tag));
		ASSERT_INT_EQ(srtp_auth_start(a), 0);
		ASSERT_INT_EQ(srtp_auth_update(a, (const uint8_t *)data, 10), 0);
		ASSERT_INT_EQ(srtp_auth_update(a, (const uint8_t *)data + 10, 50), 0);
		ASSERT_INT_EQ(srtp_auth_compute(a, (const uint8_t *)data + 60,
						(int)sizeof(data) - 1 - 60, tag),
			      0);
		/* the 80-bit tag, nothing past it */
		ASSERT(memcmp(tag, want, 10) == 0 && tag[10] == 0);
	}
	/* a tag abandoned halfway does not leak into the next */
	ASSERT_INT_EQ(srtp_auth_start(a), 0);
	ASSERT_INT_EQ(srtp_auth_update(a, key, 33), 0);
	ASSERT_INT_EQ(srtp_auth_start(a), 0);
	ASSERT_INT_EQ(srtp_auth_compute(a, (const uint8_t *)data, (int)sizeof(data) - 1, tag), 0);
	ASSERT(memcmp(tag, want, 10) == 0);
	ASSERT_INT_EQ(srtp_auth_dealloc(a), 0);
	ASSERT_INT_EQ(sps__srtp_ossl_hmac_sha1.alloc(&a, 20, 21), srtp_err_status_bad_param);
	return 0;
}

int test_media_srtp_ossl_kat(void)
{
	ASSERT_INT_EQ(sps_srtp_init(), 0);
	/* installed: libsrtp hands out ours for every id we replace */
	ASSERT(srtp_crypto_kernel_get_cipher_type(SRTP_AES_ICM_128) == &sps__srtp_ossl_aes_icm_128);
	ASSERT(srtp_crypto_kernel_get_cipher_type(SRTP_AES_ICM_256) == &sps__srtp_ossl_aes_icm_256);
	ASSERT(srtp_crypto_kernel_get_cipher_type(SRTP_AES_GCM_128) == &sps__srtp_ossl_aes_gcm_128);
	ASSERT(srtp_crypto_kernel_get_cipher_type(SRTP_AES_GCM_256) == &sps__srtp_ossl_aes_gcm_256);
	ASSERT(srtp_crypto_kernel_get_auth_type(SRTP_HMAC_SHA1) == &sps__srtp_ossl_hmac_sha1);
	/* libsrtp's self test on our vectors (and its random round trips) */
	ASSERT_INT_EQ(srtp_cipher_type_self_test(&sps__srtp_ossl_aes_icm_128), 0);
	ASSERT_INT_EQ(srtp_cipher_type_self_test(&sps__srtp_ossl_aes_icm_256), 0);
	ASSERT_INT_EQ(srtp_cipher_type_self_test(&sps__srtp_ossl_aes_gcm_128), 0);
	ASSERT_INT_EQ(srtp_cipher_type_self_test(&sps__srtp_ossl_aes_gcm_256), 0);
	ASSERT_INT_EQ(srtp_auth_type_self_test(&sps__srtp_ossl_hmac_sha1), 0);
	/* and a wrong vector is caught, so the self test can fail */
	uint8_t key[30] = {0}, pt[16] = {0}, ct[16] = {0};
	static uint8_t iv[16];
	srtp_cipher_test_case_t bad = {30, key, iv, 16, pt, 16, ct, 0, NULL, 0, NULL};
	ASSERT_INT_EQ(srtp_cipher_type_test(&sps__srtp_ossl_aes_icm_128, &bad),
		      srtp_err_status_algo_fail);

	ASSERT_INT_EQ(kat_icm(), 0);
	ASSERT_INT_EQ(kat_gcm_one(&sps__srtp_ossl_aes_gcm_128,
				  "000102030405060708090a0b0c0d0e0f517569642070726f2071756f", 28,
				  "f24de3a3fb34de6cacba861c9d7e4bcabe633bd50d294e6f42a5f47a51c7d19b"
				  "36de3adf8833899d7f27beb16a9152cf765ee4390cce"),
		      0);
	ASSERT_INT_EQ(kat_gcm_one(&sps__srtp_ossl_aes_gcm_256,
				  "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
				  "517569642070726f2071756f",
				  44,
				  "32b1de78a822fe12ef9f78fa332e33aab18012389a58e2f3b50b2a0276ffae0f"
				  "1ba63799b87b7aa3db36dfffd6b0f9bb7878d7a76c13"),
		      0);
	ASSERT_INT_EQ(kat_hmac(), 0);
	return 0;
}

/* ---- whole packets against RFC 3711 computed here ---- */

/* AES-128 in counter mode from iv over buf, in place. */
static int aes_ctr(const uint8_t *key, const uint8_t *iv, uint8_t *buf, size_t n)
{
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	int l, ok = c && EVP_EncryptInit_ex(c, EVP_aes_128_ctr(), NULL, key, iv) &&
		    EVP_EncryptUpdate(c, buf, &l, buf, (int)n);
	EVP_CIPHER_CTX_free(c);
	return ok ? 0 : 1;
}

/* RFC 3711 4.3.1 with key_derivation_rate 0 (r = 0): the PRF is AES-CM
 * keyed with the master key, IV (label << 48 XOR master salt) * 2^16.
 * master: key (16) || salt (14). */
static int kdf(const uint8_t *master, uint8_t label, uint8_t *out, size_t n)
{
	uint8_t iv[16] = {0};
	memcpy(iv, master + 16, 14);
	iv[7] ^= label;
	memset(out, 0, n);
	return aes_ctr(master, iv, out, n);
}

/* RFC 3711 4.1.1 IV: k_s * 2^16 XOR SSRC * 2^64 XOR index * 2^16. */
static void cm_iv(uint8_t iv[16], const uint8_t *salt, const uint8_t *ssrc, uint64_t index)
{
	memset(iv, 0, 16);
	memcpy(iv, salt, 14);
	for (int i = 0; i < 4; i++)
		iv[4 + i] ^= ssrc[i];
	for (int i = 0; i < 6; i++)
		iv[8 + i] ^= (uint8_t)(index >> (8 * (5 - i)));
}

/* SRTP (RFC 3711 3.1, 4.2: tag = HMAC-SHA1(k_a, packet || ROC)) of an RTP
 * packet with a 12-byte header, labels 0-2. Returns the length. */
static size_t ref_srtp(const uint8_t *master, const uint8_t *rtp, size_t len, uint32_t roc,
		       size_t tag_len, uint8_t *out)
{
	uint8_t ke[16], ka[20], ks[14], iv[16], m[300], mac[20];
	if (kdf(master, 0, ke, 16) || kdf(master, 1, ka, 20) || kdf(master, 2, ks, 14))
		return 0;
	memcpy(out, rtp, len);
	cm_iv(iv, ks, rtp + 8, (uint64_t)roc << 16 | (uint64_t)(rtp[2] << 8 | rtp[3]));
	if (aes_ctr(ke, iv, out + 12, len - 12))
		return 0;
	memcpy(m, out, len);
	for (int i = 0; i < 4; i++)
		m[len + (size_t)i] = (uint8_t)(roc >> (8 * (3 - i)));
	if (!HMAC(EVP_sha1(), ka, 20, m, len + 4, mac, NULL))
		return 0;
	memcpy(out + len, mac, tag_len);
	return len + tag_len;
}

/* SRTCP (RFC 3711 3.4): encrypted from byte 8 with labels 3-5, then
 * E || 31-bit index, then the 80-bit tag over all of that. */
static size_t ref_srtcp(const uint8_t *master, const uint8_t *rtcp, size_t len, uint32_t index,
			uint8_t *out)
{
	uint8_t ke[16], ka[20], ks[14], iv[16], mac[20];
	if (kdf(master, 3, ke, 16) || kdf(master, 4, ka, 20) || kdf(master, 5, ks, 14))
		return 0;
	memcpy(out, rtcp, len);
	cm_iv(iv, ks, rtcp + 4, index);
	if (aes_ctr(ke, iv, out + 8, len - 8))
		return 0;
	uint32_t e = 0x80000000u | index;
	for (int i = 0; i < 4; i++)
		out[len + (size_t)i] = (uint8_t)(e >> (8 * (3 - i)));
	if (!HMAC(EVP_sha1(), ka, 20, out, len + 4, mac, NULL))
		return 0;
	memcpy(out + len + 4, mac, 10);
	return len + 14;
}

static int packets(enum sps_srtp_suite suite, size_t tag_len)
{
	/* RFC 3711 B.3's master key and salt */
	uint8_t master[30], p[300], want[300], rtp[200];
	unhex("E1F97A0D3E018BE0D64FA32C06DE41390EC675AD498AFEEBB6960B3AABE6", master);
	struct sps_srtp_key k;
	struct sps_srtp *tx, *rx;
	ASSERT_INT_EQ(sps_srtp_key_set(&k, suite, master, 30, 0, 0), 0);
	ASSERT_INT_EQ(sps_srtp_new(&tx, &k, true), 0);
	ASSERT_INT_EQ(sps_srtp_new(&rx, &k, false), 0);
	sps_srtp_key_wipe(&k);
	for (uint16_t seq = 0x1234; seq < 0x1237; seq++) {
		/* 12-byte header, PT 0, SSRC decafbad, a payload of odd length */
		size_t plen = 12 + 150 + (seq & 1);
		rtp[0] = 0x80;
		rtp[1] = 0;
		rtp[2] = (uint8_t)(seq >> 8);
		rtp[3] = (uint8_t)seq;
		memset(rtp + 4, 0, 4);
		memcpy(rtp + 8, "\xde\xca\xfb\xad", 4);
		for (size_t i = 12; i < plen; i++)
			rtp[i] = (uint8_t)(i * 7 + seq);
		size_t len = plen;
		memcpy(p, rtp, len);
		ASSERT_INT_EQ(sps_srtp_protect(tx, p, &len), 0);
		size_t wlen = ref_srtp(master, rtp, plen, 0, tag_len, want);
		ASSERT(wlen);
		ASSERT_INT_EQ(len, wlen);
		ASSERT(memcmp(p, want, wlen) == 0);
		/* and the receiver takes the reference packet */
		ASSERT_INT_EQ(sps_srtp_unprotect(rx, want, &wlen), 0);
		ASSERT_INT_EQ(wlen, plen);
		ASSERT(memcmp(want, rtp, plen) == 0);
	}
	/* SRTCP: a receiver report with one report block */
	uint8_t rr[32] = {0x81, 201, 0, 7, 0xde, 0xca, 0xfb, 0xad};
	for (size_t i = 8; i < sizeof(rr); i++)
		rr[i] = (uint8_t)(i * 13);
	for (int n = 0; n < 2; n++) {
		size_t len = sizeof(rr);
		memcpy(p, rr, len);
		ASSERT_INT_EQ(sps_srtcp_protect(tx, p, &len), 0);
		ASSERT_INT_EQ(len, sizeof(rr) + 14);
		/* the index libsrtp chose (it counts from its own start) */
		uint32_t index = ((uint32_t)p[32] << 24 | (uint32_t)p[33] << 16 |
				  (uint32_t)p[34] << 8 | p[35]) & 0x7fffffffu;
		size_t wlen = ref_srtcp(master, rr, sizeof(rr), index, want);
		ASSERT_INT_EQ(wlen, len);
		ASSERT(memcmp(p, want, wlen) == 0);
		ASSERT_INT_EQ(sps_srtcp_unprotect(rx, want, &wlen), 0);
		ASSERT_INT_EQ(wlen, sizeof(rr));
		ASSERT(memcmp(want, rr, sizeof(rr)) == 0);
	}
	sps_srtp_free(tx);
	sps_srtp_free(rx);
	return 0;
}

int test_media_srtp_ossl_packet(void)
{
	ASSERT_INT_EQ(sps_srtp_init(), 0);
	/* the reference's key derivation first: RFC 3711 B.3 */
	uint8_t master[30], out[20], want[20];
	unhex("E1F97A0D3E018BE0D64FA32C06DE41390EC675AD498AFEEBB6960B3AABE6", master);
	ASSERT_INT_EQ(kdf(master, 0, out, 16), 0);
	unhex("C61E7A93744F39EE10734AFE3FF7A087", want);
	ASSERT(memcmp(out, want, 16) == 0);
	ASSERT_INT_EQ(kdf(master, 2, out, 14), 0);
	unhex("30CBBC08863D8C85D49DB34A9AE1", want);
	ASSERT(memcmp(out, want, 14) == 0);
	ASSERT_INT_EQ(kdf(master, 1, out, 20), 0);
	unhex("CEBE321F6FF7716B6FD4AB49AF256A156D38BAA4", want);
	ASSERT(memcmp(out, want, 20) == 0);

	ASSERT_INT_EQ(packets(SPS_SRTP_AES_CM_128_HMAC_SHA1_80, 10), 0);
	ASSERT_INT_EQ(packets(SPS_SRTP_AES_CM_128_HMAC_SHA1_32, 4), 0);
	return 0;
}
