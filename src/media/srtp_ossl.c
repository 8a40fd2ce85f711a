/* media/srtp_ossl: AES-CM, AES-GCM and HMAC-SHA1 kernels for libsrtp2 on
 * OpenSSL 3 EVP.
 *
 * Why: Debian builds libsrtp2 against NSS (`ldd libsrtp2.so.1`). Its
 * kernels go through NSS's PKCS#11 layer on every packet - a context
 * created per operation, a mutex and several allocations each time - which
 * took about 60 % of an unprotect+protect and held the relay near 130,000
 * packets/s per core. libsrtp stays in charge of everything SRTP (key
 * derivation, replay windows, SRTCP, packet formats, MKI); only the
 * block-cipher and MAC work is swapped, through the library's public
 * replacement API (srtp_replace_cipher_type, srtp_replace_auth_type in
 * <srtp2/cipher.h>, <srtp2/auth.h>), which runs each kernel's known-answer
 * vectors and those of the kernel it replaces before accepting it.
 *
 * How it stays cheap: the algorithms are fetched once per process; every
 * instance keeps its own EVP contexts, keyed once in init. Per packet AES
 * only sets the IV on the keyed context, and HMAC only copies the SHA-1
 * states that already absorbed K^ipad and K^opad (RFC 2104 2), so a tag
 * costs the message's blocks plus one outer block.
 *
 * The contracts of the function pointers are libsrtp's (cipher.h, auth.h);
 * what libsrtp's srtp.c expects beyond them is noted where it matters. */
#include "media/srtp_ossl.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

/* Fetched once by sps__srtp_ossl_install, read-only afterwards. */
static EVP_CIPHER *alg_ctr128, *alg_ctr256, *alg_gcm128, *alg_gcm256;
static EVP_MD *alg_sha1;

/* ---- AES counter mode (RFC 3711 4.1.1; AES-256: RFC 6188 3) ---- */

/* libsrtp's srtp_cipher_t and our state in one block, freed by
 * icm_dealloc. */
struct icm {
	srtp_cipher_t c;
	EVP_CIPHER_CTX *ctx;  /* keyed in icm_init; the IV is set per packet */
	const EVP_CIPHER *alg;
	int key_len;          /* AES key bytes, 16 or 32 */
	uint8_t offset[16];   /* k_s * 2^16: the 112-bit salt, then two zero bytes */
};

/* key_len counts key and salt (30 or 46, what srtp.c and its key
 * derivation pass); tag_len is for AEAD ciphers only. */
static srtp_err_status_t icm_alloc(srtp_cipher_t **out, int key_len, int tag_len)
{
	(void)tag_len;
	struct icm *s;
	if (key_len != SRTP_AES_ICM_128_KEY_LEN_WSALT && key_len != SRTP_AES_ICM_256_KEY_LEN_WSALT)
		return srtp_err_status_bad_param;
	if (!alg_ctr128 || !alg_ctr256)
		return srtp_err_status_init_fail;
	if (!(s = calloc(1, sizeof(*s))))
		return srtp_err_status_alloc_fail;
	if (!(s->ctx = EVP_CIPHER_CTX_new())) {
		free(s);
		return srtp_err_status_alloc_fail;
	}
	bool k128 = key_len == SRTP_AES_ICM_128_KEY_LEN_WSALT;
	s->alg = k128 ? alg_ctr128 : alg_ctr256;
	s->key_len = k128 ? SRTP_AES_128_KEY_LEN : SRTP_AES_256_KEY_LEN;
	/* srtp.c builds the counter-mode IV when type->id is an AES-ICM id,
	 * chooses its AEAD path by algorithm, and reads key_len */
	s->c.type = k128 ? &sps__srtp_ossl_aes_icm_128 : &sps__srtp_ossl_aes_icm_256;
	s->c.algorithm = k128 ? SRTP_AES_ICM_128 : SRTP_AES_ICM_256;
	s->c.key_len = key_len;
	s->c.state = s;
	*out = &s->c;
	return srtp_err_status_ok;
}

static srtp_err_status_t icm_dealloc(srtp_cipher_t *c)
{
	struct icm *s = c->state;
	EVP_CIPHER_CTX_free(s->ctx); /* wipes the key schedule */
	OPENSSL_cleanse(s, sizeof(*s));
	free(s);
	return srtp_err_status_ok;
}

/* key: the AES key, then the 14-byte salt. May be called again to re-key. */
static srtp_err_status_t icm_init(void *state, const uint8_t *key)
{
	struct icm *s = state;
	memset(s->offset, 0, sizeof(s->offset));
	memcpy(s->offset, key + s->key_len, SRTP_SALT_LEN);
	if (!EVP_EncryptInit_ex(s->ctx, s->alg, NULL, key, NULL))
		return srtp_err_status_init_fail;
	return srtp_err_status_ok;
}

/* The counter block is offset XOR iv; srtp.c puts SSRC * 2^64 and the
 * packet index * 2^16 in iv (RFC 3711 4.1.1), the key derivation its
 * label. Counter mode encrypts and decrypts alike: dir does not matter.
 * Re-initialising the IV also restarts the keystream at a block boundary,
 * whatever length the previous packet had. */
static srtp_err_status_t icm_set_iv(void *state, uint8_t *iv, srtp_cipher_direction_t dir)
{
	(void)dir;
	struct icm *s = state;
	uint8_t ctr[16];
	for (int i = 0; i < 16; i++)
		ctr[i] = s->offset[i] ^ iv[i];
	if (!EVP_EncryptInit_ex(s->ctx, NULL, NULL, NULL, ctr))
		return srtp_err_status_cipher_fail;
	return srtp_err_status_ok;
}

/* XOR the keystream into buf in place (also srtp_cipher_output's zeroed
 * buffer, for the key derivation). */
static srtp_err_status_t icm_encrypt(void *state, uint8_t *buf, unsigned int *len)
{
	struct icm *s = state;
	int n;
	if (*len > INT_MAX)
		return srtp_err_status_bad_param;
	if (*len == 0)
		return srtp_err_status_ok;
	if (!EVP_EncryptUpdate(s->ctx, buf, &n, buf, (int)*len) || n != (int)*len)
		return srtp_err_status_cipher_fail;
	return srtp_err_status_ok;
}

/* ---- AES-GCM (RFC 7714) ---- */

struct gcm {
	srtp_cipher_t c;
	EVP_CIPHER_CTX *ctx;  /* keyed in gcm_init; IV and direction per packet */
	const EVP_CIPHER *alg;
	int tag_len;          /* 16, or 8 for libsrtp's _8_auth policies */
	int enc;              /* the packet in progress: 1 encrypt, 0 decrypt, -1 none */
};

/* key_len counts key and 12-byte salt (28 or 44). The salt is srtp.c's
 * business: it XORs it into the IV itself (RFC 7714 8.1). */
static srtp_err_status_t gcm_alloc(srtp_cipher_t **out, int key_len, int tag_len)
{
	struct gcm *s;
	if (key_len != SRTP_AES_GCM_128_KEY_LEN_WSALT && key_len != SRTP_AES_GCM_256_KEY_LEN_WSALT)
		return srtp_err_status_bad_param;
	if (tag_len != 16 && tag_len != 8)
		return srtp_err_status_bad_param;
	if (!alg_gcm128 || !alg_gcm256)
		return srtp_err_status_init_fail;
	if (!(s = calloc(1, sizeof(*s))))
		return srtp_err_status_alloc_fail;
	if (!(s->ctx = EVP_CIPHER_CTX_new())) {
		free(s);
		return srtp_err_status_alloc_fail;
	}
	bool k128 = key_len == SRTP_AES_GCM_128_KEY_LEN_WSALT;
	s->alg = k128 ? alg_gcm128 : alg_gcm256;
	s->tag_len = tag_len;
	s->enc = -1;
	/* srtp.c takes the AEAD path when algorithm is one of the GCM ids */
	s->c.type = k128 ? &sps__srtp_ossl_aes_gcm_128 : &sps__srtp_ossl_aes_gcm_256;
	s->c.algorithm = k128 ? SRTP_AES_GCM_128 : SRTP_AES_GCM_256;
	s->c.key_len = key_len;
	s->c.state = s;
	*out = &s->c;
	return srtp_err_status_ok;
}

static srtp_err_status_t gcm_dealloc(srtp_cipher_t *c)
{
	struct gcm *s = c->state;
	EVP_CIPHER_CTX_free(s->ctx);
	OPENSSL_cleanse(s, sizeof(*s));
	free(s);
	return srtp_err_status_ok;
}

static srtp_err_status_t gcm_init(void *state, const uint8_t *key)
{
	struct gcm *s = state;
	s->enc = -1;
	if (!EVP_CipherInit_ex(s->ctx, s->alg, NULL, key, NULL, 1))
		return srtp_err_status_init_fail;
	return srtp_err_status_ok;
}

/* iv: the 12-byte nonce (RFC 7714 8.1, 9.1), already salted by srtp.c. Starts a
 * packet: then set_aad (any number of times), encrypt + get_tag or
 * decrypt. */
static srtp_err_status_t gcm_set_iv(void *state, uint8_t *iv, srtp_cipher_direction_t dir)
{
	struct gcm *s = state;
	if (dir != srtp_direction_encrypt && dir != srtp_direction_decrypt)
		return srtp_err_status_bad_param;
	s->enc = dir == srtp_direction_encrypt;
	if (!EVP_CipherInit_ex(s->ctx, NULL, NULL, NULL, iv, s->enc)) {
		s->enc = -1;
		return srtp_err_status_cipher_fail;
	}
	return srtp_err_status_ok;
}

/* Authenticated, not encrypted: the RTP header (RFC 7714 8.2), or the
 * SRTCP header and then the E flag and index (9.2; the whole packet when
 * unencrypted, 9.3). srtp.c may call it several times per packet. */
static srtp_err_status_t gcm_set_aad(void *state, const uint8_t *aad, uint32_t len)
{
	struct gcm *s = state;
	int n;
	if (s->enc < 0 || len > INT_MAX)
		return srtp_err_status_bad_param;
	if (len && !EVP_CipherUpdate(s->ctx, NULL, &n, aad, (int)len))
		return srtp_err_status_cipher_fail;
	return srtp_err_status_ok;
}

/* Encrypt in place; the tag follows with get_tag. srtp.c also calls it
 * with no data (buf NULL) for an SRTCP packet sent unencrypted. */
static srtp_err_status_t gcm_encrypt(void *state, uint8_t *buf, unsigned int *len)
{
	struct gcm *s = state;
	int n;
	if (s->enc != 1 || *len > INT_MAX)
		return srtp_err_status_bad_param;
	if (*len && (!EVP_CipherUpdate(s->ctx, buf, &n, buf, (int)*len) || n != (int)*len))
		return srtp_err_status_cipher_fail;
	return srtp_err_status_ok;
}

/* Finish the encryption and write the tag (tag_len bytes; the leading
 * bytes of GCM's tag for the short one, NIST SP 800-38D 5.2.1.2). */
static srtp_err_status_t gcm_get_tag(void *state, uint8_t *tag, uint32_t *len)
{
	struct gcm *s = state;
	uint8_t none[16];
	int n;
	if (s->enc != 1)
		return srtp_err_status_bad_param;
	s->enc = -1;
	if (!EVP_CipherFinal_ex(s->ctx, none, &n) ||
	    !EVP_CIPHER_CTX_ctrl(s->ctx, EVP_CTRL_AEAD_GET_TAG, s->tag_len, tag))
		return srtp_err_status_algo_fail;
	*len = (uint32_t)s->tag_len;
	return srtp_err_status_ok;
}

/* buf: ciphertext then tag; *len counts both and comes back without the
 * tag. srtp.c calls it with only the tag for an unencrypted SRTCP packet.
 * A wrong tag is srtp_err_status_auth_fail (the caller drops the packet;
 * buf then holds garbage). */
static srtp_err_status_t gcm_decrypt(void *state, uint8_t *buf, unsigned int *len)
{
	struct gcm *s = state;
	uint8_t none[16];
	int n;
	if (s->enc != 0 || *len > INT_MAX || *len < (unsigned)s->tag_len)
		return srtp_err_status_bad_param;
	s->enc = -1;
	int data = (int)*len - s->tag_len;
	if (!EVP_CIPHER_CTX_ctrl(s->ctx, EVP_CTRL_AEAD_SET_TAG, s->tag_len, buf + data))
		return srtp_err_status_cipher_fail;
	if (data && (!EVP_CipherUpdate(s->ctx, buf, &n, buf, data) || n != data))
		return srtp_err_status_cipher_fail;
	if (EVP_CipherFinal_ex(s->ctx, none, &n) <= 0)
		return srtp_err_status_auth_fail;
	*len = (unsigned)data;
	return srtp_err_status_ok;
}

/* ---- HMAC-SHA1 (RFC 3711 4.2.1, RFC 2104) ---- */

#define SHA1_LEN 20
#define SHA1_BLOCK 64

/* The precomputed states are copied with EVP_MD_CTX_copy_ex (on OpenSSL
 * 3.0 that duplicates the provider's small SHA-1 context). Measured per
 * 172-byte tag on the development machine: about 216 ns, against 254 ns
 * for an EVP_MAC context re-initialised with a NULL key and 507 ns for
 * EVP_MAC_CTX_dup. The deprecated SHA1_* functions would save about 70 ns
 * more; we stay on EVP. */
struct hmac {
	srtp_auth_t a;
	EVP_MD_CTX *inner;    /* SHA-1 having absorbed K ^ ipad */
	EVP_MD_CTX *outer;    /* SHA-1 having absorbed K ^ opad */
	EVP_MD_CTX *work;     /* the tag in progress */
};

static srtp_err_status_t hmac_dealloc(srtp_auth_t *a)
{
	struct hmac *s = a->state;
	/* EVP_MD_CTX_free wipes the SHA-1 states (derived from the key) */
	EVP_MD_CTX_free(s->inner);
	EVP_MD_CTX_free(s->outer);
	EVP_MD_CTX_free(s->work);
	OPENSSL_cleanse(s, sizeof(*s));
	free(s);
	return srtp_err_status_ok;
}

/* out_len: the tag length, at most the 20 bytes of SHA-1 (RFC 3711 uses 10
 * and 4). key_len: any; SRTP's is 20. */
static srtp_err_status_t hmac_alloc(srtp_auth_t **out, int key_len, int out_len)
{
	struct hmac *s;
	if (key_len < 0 || out_len < 0 || out_len > SHA1_LEN)
		return srtp_err_status_bad_param;
	if (!alg_sha1)
		return srtp_err_status_init_fail;
	if (!(s = calloc(1, sizeof(*s))))
		return srtp_err_status_alloc_fail;
	s->a.state = s;
	if (!(s->inner = EVP_MD_CTX_new()) || !(s->outer = EVP_MD_CTX_new()) ||
	    !(s->work = EVP_MD_CTX_new())) {
		hmac_dealloc(&s->a);
		return srtp_err_status_alloc_fail;
	}
	s->a.type = &sps__srtp_ossl_hmac_sha1;
	s->a.out_len = out_len;
	s->a.key_len = key_len;
	s->a.prefix_len = 0; /* no keystream prefix in the tag (that is for universal hashes) */
	*out = &s->a;
	return srtp_err_status_ok;
}

static srtp_err_status_t hmac_start(void *state)
{
	struct hmac *s = state;
	if (!EVP_MD_CTX_copy_ex(s->work, s->inner))
		return srtp_err_status_auth_fail;
	return srtp_err_status_ok;
}

/* Absorb K ^ ipad and K ^ opad once (RFC 2104 2; a key longer than a
 * block is hashed first), and leave a tag started: libsrtp's self test
 * computes right after init. */
static srtp_err_status_t hmac_init(void *state, const uint8_t *key, int key_len)
{
	struct hmac *s = state;
	uint8_t k[SHA1_BLOCK], pad[SHA1_BLOCK];
	srtp_err_status_t st = srtp_err_status_init_fail;
	memset(k, 0, sizeof(k));
	if (key_len > SHA1_BLOCK) {
		if (!EVP_Digest(key, (size_t)key_len, k, NULL, alg_sha1, NULL))
			goto out;
	} else if (key_len > 0) {
		memcpy(k, key, (size_t)key_len);
	}
	for (int i = 0; i < SHA1_BLOCK; i++)
		pad[i] = k[i] ^ 0x36;
	if (!EVP_DigestInit_ex(s->inner, alg_sha1, NULL) ||
	    !EVP_DigestUpdate(s->inner, pad, sizeof(pad)))
		goto out;
	for (int i = 0; i < SHA1_BLOCK; i++)
		pad[i] = k[i] ^ 0x5c;
	if (!EVP_DigestInit_ex(s->outer, alg_sha1, NULL) ||
	    !EVP_DigestUpdate(s->outer, pad, sizeof(pad)))
		goto out;
	st = hmac_start(s) ? srtp_err_status_init_fail : srtp_err_status_ok;
out:
	OPENSSL_cleanse(k, sizeof(k));
	OPENSSL_cleanse(pad, sizeof(pad));
	return st;
}

static srtp_err_status_t hmac_update(void *state, const uint8_t *buf, int len)
{
	struct hmac *s = state;
	if (len < 0)
		return srtp_err_status_bad_param;
	if (len && !EVP_DigestUpdate(s->work, buf, (size_t)len))
		return srtp_err_status_auth_fail;
	return srtp_err_status_ok;
}

/* Absorb the last bytes (srtp.c: the ROC, RFC 3711 4.2) and write the
 * first tag_len bytes of the HMAC. */
static srtp_err_status_t hmac_compute(void *state, const uint8_t *buf, int len, int tag_len,
				      uint8_t *tag)
{
	struct hmac *s = state;
	uint8_t h[EVP_MAX_MD_SIZE];
	if (tag_len < 0 || tag_len > SHA1_LEN || hmac_update(s, buf, len))
		return srtp_err_status_bad_param;
	if (!EVP_DigestFinal_ex(s->work, h, NULL) || !EVP_MD_CTX_copy_ex(s->work, s->outer) ||
	    !EVP_DigestUpdate(s->work, h, SHA1_LEN) || !EVP_DigestFinal_ex(s->work, h, NULL))
		return srtp_err_status_auth_fail;
	memcpy(tag, h, (size_t)tag_len);
	return srtp_err_status_ok;
}

/* ---- known answers ---- */

/* RFC 3711 B.2: session key, session salt; keystream at counters
 * ...0000-0002 and ...FEFF-FF01. */
static const uint8_t icm128_key[SRTP_AES_ICM_128_KEY_LEN_WSALT] = {
	0x2b, 0x7e, 0x15, 0x16, 0x28, 0xae, 0xd2, 0xa6, 0xab, 0xf7, 0x15, 0x88,
	0x09, 0xcf, 0x4f, 0x3c, 0xf0, 0xf1, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7,
	0xf8, 0xf9, 0xfa, 0xfb, 0xfc, 0xfd,
};
static const uint8_t icm128_ks0[48] = {
	0xe0, 0x3e, 0xad, 0x09, 0x35, 0xc9, 0x5e, 0x80, 0xe1, 0x66, 0xb1, 0x6d,
	0xd9, 0x2b, 0x4e, 0xb4, 0xd2, 0x35, 0x13, 0x16, 0x2b, 0x02, 0xd0, 0xf7,
	0x2a, 0x43, 0xa2, 0xfe, 0x4a, 0x5f, 0x97, 0xab, 0x41, 0xe9, 0x5b, 0x3b,
	0xb0, 0xa2, 0xe8, 0xdd, 0x47, 0x79, 0x01, 0xe4, 0xfc, 0xa8, 0x94, 0xc0,
};
static const uint8_t icm128_ks_feff[48] = {
	0xec, 0x8c, 0xdf, 0x73, 0x98, 0x60, 0x7c, 0xb0, 0xf2, 0xd2, 0x16, 0x75,
	0xea, 0x9e, 0xa1, 0xe4, 0x36, 0x2b, 0x7c, 0x3c, 0x67, 0x73, 0x51, 0x63,
	0x18, 0xa0, 0x77, 0xd7, 0xfc, 0x50, 0x73, 0xae, 0x6a, 0x2c, 0xc3, 0x78,
	0x78, 0x89, 0x37, 0x4f, 0xbe, 0xb4, 0xc8, 0x1b, 0x17, 0xba, 0x6c, 0x44,
};
/* RFC 6188 7.1: AES-256-CM, same salt and counters */
static const uint8_t icm256_key[SRTP_AES_ICM_256_KEY_LEN_WSALT] = {
	0x57, 0xf8, 0x2f, 0xe3, 0x61, 0x3f, 0xd1, 0x70, 0xa8, 0x5e, 0xc9, 0x3c,
	0x40, 0xb1, 0xf0, 0x92, 0x2e, 0xc4, 0xcb, 0x0d, 0xc0, 0x25, 0xb5, 0x82,
	0x72, 0x14, 0x7c, 0xc4, 0x38, 0x94, 0x4a, 0x98, 0xf0, 0xf1, 0xf2, 0xf3,
	0xf4, 0xf5, 0xf6, 0xf7, 0xf8, 0xf9, 0xfa, 0xfb, 0xfc, 0xfd,
};
static const uint8_t icm256_ks0[48] = {
	0x92, 0xbd, 0xd2, 0x8a, 0x93, 0xc3, 0xf5, 0x25, 0x11, 0xc6, 0x77, 0xd0,
	0x8b, 0x55, 0x15, 0xa4, 0x9d, 0xa7, 0x1b, 0x23, 0x78, 0xa8, 0x54, 0xf6,
	0x70, 0x50, 0x75, 0x6d, 0xed, 0x16, 0x5b, 0xac, 0x63, 0xc4, 0x86, 0x8b,
	0x70, 0x96, 0xd8, 0x84, 0x21, 0xb5, 0x63, 0xb8, 0xc9, 0x4c, 0x9a, 0x31,
};
static const uint8_t zeros[48];
/* libsrtp's test case takes a mutable IV pointer; these are never written */
static uint8_t iv_zero[16];
static uint8_t iv_feff[16] = {[14] = 0xfe, [15] = 0xff};

/* The second case stops inside a block: the next packet's IV must still
 * restart the keystream cleanly (libsrtp runs the cases on one type, and
 * its random round trips after them). */
static const srtp_cipher_test_case_t icm128_case1 = {
	.key_length_octets = SRTP_AES_ICM_128_KEY_LEN_WSALT,
	.key = icm128_key,
	.idx = iv_feff,
	.plaintext_length_octets = 45,
	.plaintext = zeros,
	.ciphertext_length_octets = 45,
	.ciphertext = icm128_ks_feff,
};
static const srtp_cipher_test_case_t icm128_case0 = {
	.key_length_octets = SRTP_AES_ICM_128_KEY_LEN_WSALT,
	.key = icm128_key,
	.idx = iv_zero,
	.plaintext_length_octets = 48,
	.plaintext = zeros,
	.ciphertext_length_octets = 48,
	.ciphertext = icm128_ks0,
	.next_test_case = &icm128_case1,
};
static const srtp_cipher_test_case_t icm256_case0 = {
	.key_length_octets = SRTP_AES_ICM_256_KEY_LEN_WSALT,
	.key = icm256_key,
	.idx = iv_zero,
	.plaintext_length_octets = 48,
	.plaintext = zeros,
	.ciphertext_length_octets = 48,
	.ciphertext = icm256_ks0,
};

/* RFC 7714 16.1.1 and 16.2.1: the RTP packet "Gallia est omnis divisa in
 * partes tres", its header as AAD, under the 128- and 256-bit keys
 * 00 01 02 ...; the keys are followed by the RFC's salt, which only
 * srtp.c uses (it is already in the IV). */
static const uint8_t gcm128_key[SRTP_AES_GCM_128_KEY_LEN_WSALT] = {
	0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b,
	0x0c, 0x0d, 0x0e, 0x0f, 0x51, 0x75, 0x69, 0x64, 0x20, 0x70, 0x72, 0x6f,
	0x20, 0x71, 0x75, 0x6f,
};
static const uint8_t gcm256_key[SRTP_AES_GCM_256_KEY_LEN_WSALT] = {
	0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b,
	0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17,
	0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f, 0x51, 0x75, 0x69, 0x64,
	0x20, 0x70, 0x72, 0x6f, 0x20, 0x71, 0x75, 0x6f,
};
static uint8_t gcm_iv[12] = {
	0x51, 0x75, 0x3c, 0x65, 0x80, 0xc2, 0x72, 0x6f, 0x20, 0x71, 0x84, 0x14,
};
static const uint8_t gcm_aad[12] = {
	0x80, 0x40, 0xf1, 0x7b, 0x80, 0x41, 0xf8, 0xd3, 0x55, 0x01, 0xa0, 0xb2,
};
static const uint8_t gcm_pt[38] = {
	0x47, 0x61, 0x6c, 0x6c, 0x69, 0x61, 0x20, 0x65, 0x73, 0x74, 0x20, 0x6f,
	0x6d, 0x6e, 0x69, 0x73, 0x20, 0x64, 0x69, 0x76, 0x69, 0x73, 0x61, 0x20,
	0x69, 0x6e, 0x20, 0x70, 0x61, 0x72, 0x74, 0x65, 0x73, 0x20, 0x74, 0x72,
	0x65, 0x73,
};
/* ciphertext || 16-byte tag */
static const uint8_t gcm128_ct[54] = {
	0xf2, 0x4d, 0xe3, 0xa3, 0xfb, 0x34, 0xde, 0x6c, 0xac, 0xba, 0x86, 0x1c,
	0x9d, 0x7e, 0x4b, 0xca, 0xbe, 0x63, 0x3b, 0xd5, 0x0d, 0x29, 0x4e, 0x6f,
	0x42, 0xa5, 0xf4, 0x7a, 0x51, 0xc7, 0xd1, 0x9b, 0x36, 0xde, 0x3a, 0xdf,
	0x88, 0x33, 0x89, 0x9d, 0x7f, 0x27, 0xbe, 0xb1, 0x6a, 0x91, 0x52, 0xcf,
	0x76, 0x5e, 0xe4, 0x39, 0x0c, 0xce,
};
static const uint8_t gcm256_ct[54] = {
	0x32, 0xb1, 0xde, 0x78, 0xa8, 0x22, 0xfe, 0x12, 0xef, 0x9f, 0x78, 0xfa,
	0x33, 0x2e, 0x33, 0xaa, 0xb1, 0x80, 0x12, 0x38, 0x9a, 0x58, 0xe2, 0xf3,
	0xb5, 0x0b, 0x2a, 0x02, 0x76, 0xff, 0xae, 0x0f, 0x1b, 0xa6, 0x37, 0x99,
	0xb8, 0x7b, 0x7a, 0xa3, 0xdb, 0x36, 0xdf, 0xff, 0xd6, 0xb0, 0xf9, 0xbb,
	0x78, 0x78, 0xd7, 0xa7, 0x6c, 0x13,
};

/* The 8-byte tag is the first half of the 16-byte one. */
static const srtp_cipher_test_case_t gcm128_case1 = {
	.key_length_octets = SRTP_AES_GCM_128_KEY_LEN_WSALT,
	.key = gcm128_key,
	.idx = gcm_iv,
	.plaintext_length_octets = sizeof(gcm_pt),
	.plaintext = gcm_pt,
	.ciphertext_length_octets = sizeof(gcm_pt) + 8,
	.ciphertext = gcm128_ct,
	.aad_length_octets = sizeof(gcm_aad),
	.aad = gcm_aad,
	.tag_length_octets = 8,
};
static const srtp_cipher_test_case_t gcm128_case0 = {
	.key_length_octets = SRTP_AES_GCM_128_KEY_LEN_WSALT,
	.key = gcm128_key,
	.idx = gcm_iv,
	.plaintext_length_octets = sizeof(gcm_pt),
	.plaintext = gcm_pt,
	.ciphertext_length_octets = sizeof(gcm128_ct),
	.ciphertext = gcm128_ct,
	.aad_length_octets = sizeof(gcm_aad),
	.aad = gcm_aad,
	.tag_length_octets = 16,
	.next_test_case = &gcm128_case1,
};
static const srtp_cipher_test_case_t gcm256_case1 = {
	.key_length_octets = SRTP_AES_GCM_256_KEY_LEN_WSALT,
	.key = gcm256_key,
	.idx = gcm_iv,
	.plaintext_length_octets = sizeof(gcm_pt),
	.plaintext = gcm_pt,
	.ciphertext_length_octets = sizeof(gcm_pt) + 8,
	.ciphertext = gcm256_ct,
	.aad_length_octets = sizeof(gcm_aad),
	.aad = gcm_aad,
	.tag_length_octets = 8,
};
static const srtp_cipher_test_case_t gcm256_case0 = {
	.key_length_octets = SRTP_AES_GCM_256_KEY_LEN_WSALT,
	.key = gcm256_key,
	.idx = gcm_iv,
	.plaintext_length_octets = sizeof(gcm_pt),
	.plaintext = gcm_pt,
	.ciphertext_length_octets = sizeof(gcm256_ct),
	.ciphertext = gcm256_ct,
	.aad_length_octets = sizeof(gcm_aad),
	.aad = gcm_aad,
	.tag_length_octets = 16,
	.next_test_case = &gcm256_case1,
};

/* RFC 2202 3: HMAC-SHA1 test cases 1-7 (6 and 7 with an 80-byte key,
 * hashed first), and case 1 cut to SRTP's 80-bit tag. */
static const uint8_t k_0b[20] = {
	0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b,
	0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b,
};
static const uint8_t k_0c[20] = {
	0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c,
	0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c,
};
static const uint8_t k_seq[25] = {
	0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d,
	0x0e, 0x0f, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19,
};
static const uint8_t k_aa[80] = {
	0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa,
	0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa,
	0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa,
	0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa,
	0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa,
	0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa,
};
static const uint8_t d_dd[50] = {
	0xdd, 0xdd, 0xdd, 0xdd, 0xdd, 0xdd, 0xdd, 0xdd, 0xdd, 0xdd, 0xdd, 0xdd, 0xdd,
	0xdd, 0xdd, 0xdd, 0xdd, 0xdd, 0xdd, 0xdd, 0xdd, 0xdd, 0xdd, 0xdd, 0xdd, 0xdd,
	0xdd, 0xdd, 0xdd, 0xdd, 0xdd, 0xdd, 0xdd, 0xdd, 0xdd, 0xdd, 0xdd, 0xdd, 0xdd,
	0xdd, 0xdd, 0xdd, 0xdd, 0xdd, 0xdd, 0xdd, 0xdd, 0xdd, 0xdd, 0xdd,
};
static const uint8_t d_cd[50] = {
	0xcd, 0xcd, 0xcd, 0xcd, 0xcd, 0xcd, 0xcd, 0xcd, 0xcd, 0xcd, 0xcd, 0xcd, 0xcd,
	0xcd, 0xcd, 0xcd, 0xcd, 0xcd, 0xcd, 0xcd, 0xcd, 0xcd, 0xcd, 0xcd, 0xcd, 0xcd,
	0xcd, 0xcd, 0xcd, 0xcd, 0xcd, 0xcd, 0xcd, 0xcd, 0xcd, 0xcd, 0xcd, 0xcd, 0xcd,
	0xcd, 0xcd, 0xcd, 0xcd, 0xcd, 0xcd, 0xcd, 0xcd, 0xcd, 0xcd, 0xcd,
};
static const uint8_t t1[20] = {
	0xb6, 0x17, 0x31, 0x86, 0x55, 0x05, 0x72, 0x64, 0xe2, 0x8b,
	0xc0, 0xb6, 0xfb, 0x37, 0x8c, 0x8e, 0xf1, 0x46, 0xbe, 0x00,
};
static const uint8_t t2[20] = {
	0xef, 0xfc, 0xdf, 0x6a, 0xe5, 0xeb, 0x2f, 0xa2, 0xd2, 0x74,
	0x16, 0xd5, 0xf1, 0x84, 0xdf, 0x9c, 0x25, 0x9a, 0x7c, 0x79,
};
static const uint8_t t3[20] = {
	0x12, 0x5d, 0x73, 0x42, 0xb9, 0xac, 0x11, 0xcd, 0x91, 0xa3,
	0x9a, 0xf4, 0x8a, 0xa1, 0x7b, 0x4f, 0x63, 0xf1, 0x75, 0xd3,
};
static const uint8_t t4[20] = {
	0x4c, 0x90, 0x07, 0xf4, 0x02, 0x62, 0x50, 0xc6, 0xbc, 0x84,
	0x14, 0xf9, 0xbf, 0x50, 0xc8, 0x6c, 0x2d, 0x72, 0x35, 0xda,
};
static const uint8_t t5[20] = {
	0x4c, 0x1a, 0x03, 0x42, 0x4b, 0x55, 0xe0, 0x7f, 0xe7, 0xf2,
	0x7b, 0xe1, 0xd5, 0x8b, 0xb9, 0x32, 0x4a, 0x9a, 0x5a, 0x04,
};
static const uint8_t t6[20] = {
	0xaa, 0x4a, 0xe5, 0xe1, 0x52, 0x72, 0xd0, 0x0e, 0x95, 0x70,
	0x56, 0x37, 0xce, 0x8a, 0x3b, 0x55, 0xed, 0x40, 0x21, 0x12,
};
static const uint8_t t7[20] = {
	0xe8, 0xe9, 0x9d, 0x0f, 0x45, 0x23, 0x7d, 0x78, 0x6d, 0x6b,
	0xba, 0xa7, 0x96, 0x5c, 0x78, 0x08, 0xbb, 0xff, 0x1a, 0x91,
};
static const uint8_t k_jefe[4] = {'J', 'e', 'f', 'e'};

/* A test case with a string for data. */
#define HMAC_CASE(name, k, k_len, str, t, t_len, next)                                      \
	static const srtp_auth_test_case_t name = {                                         \
		.key_length_octets = k_len,                                                 \
		.key = k,                                                                   \
		.data_length_octets = (int)sizeof(str) - 1,                                 \
		.data = (const uint8_t *)str,                                               \
		.tag_length_octets = t_len,                                                 \
		.tag = t,                                                                   \
		.next_test_case = next,                                                     \
	}
HMAC_CASE(hmac_case1_80, k_0b, 20, "Hi There", t1, 10, NULL);
HMAC_CASE(hmac_case7, k_aa, 80,
	  "Test Using Larger Than Block-Size Key and Larger Than One Block-Size Data", t7, 20,
	  &hmac_case1_80);
HMAC_CASE(hmac_case6, k_aa, 80, "Test Using Larger Than Block-Size Key - Hash Key First", t6,
	  20, &hmac_case7);
HMAC_CASE(hmac_case5, k_0c, 20, "Test With Truncation", t5, 20, &hmac_case6);
static const srtp_auth_test_case_t hmac_case4 = {
	.key_length_octets = (int)sizeof(k_seq),
	.key = k_seq,
	.data_length_octets = (int)sizeof(d_cd),
	.data = d_cd,
	.tag_length_octets = 20,
	.tag = t4,
	.next_test_case = &hmac_case5,
};
static const srtp_auth_test_case_t hmac_case3 = {
	.key_length_octets = 20, /* 0xaa x 20 */
	.key = k_aa,
	.data_length_octets = (int)sizeof(d_dd),
	.data = d_dd,
	.tag_length_octets = 20,
	.tag = t3,
	.next_test_case = &hmac_case4,
};
HMAC_CASE(hmac_case2, k_jefe, 4, "what do ya want for nothing?", t2, 20, &hmac_case3);
HMAC_CASE(hmac_case1, k_0b, 20, "Hi There", t1, 20, &hmac_case2);

/* ---- the tables ---- */

const srtp_cipher_type_t sps__srtp_ossl_aes_icm_128 = {
	.alloc = icm_alloc,
	.dealloc = icm_dealloc,
	.init = icm_init,
	.encrypt = icm_encrypt,
	.decrypt = icm_encrypt,
	.set_iv = icm_set_iv,
	.description = "AES-128 counter mode (sipsec, OpenSSL EVP)",
	.test_data = &icm128_case0,
	.id = SRTP_AES_ICM_128,
};

const srtp_cipher_type_t sps__srtp_ossl_aes_icm_256 = {
	.alloc = icm_alloc,
	.dealloc = icm_dealloc,
	.init = icm_init,
	.encrypt = icm_encrypt,
	.decrypt = icm_encrypt,
	.set_iv = icm_set_iv,
	.description = "AES-256 counter mode (sipsec, OpenSSL EVP)",
	.test_data = &icm256_case0,
	.id = SRTP_AES_ICM_256,
};

const srtp_cipher_type_t sps__srtp_ossl_aes_gcm_128 = {
	.alloc = gcm_alloc,
	.dealloc = gcm_dealloc,
	.init = gcm_init,
	.set_aad = gcm_set_aad,
	.encrypt = gcm_encrypt,
	.decrypt = gcm_decrypt,
	.set_iv = gcm_set_iv,
	.get_tag = gcm_get_tag,
	.description = "AES-128 GCM (sipsec, OpenSSL EVP)",
	.test_data = &gcm128_case0,
	.id = SRTP_AES_GCM_128,
};

const srtp_cipher_type_t sps__srtp_ossl_aes_gcm_256 = {
	.alloc = gcm_alloc,
	.dealloc = gcm_dealloc,
	.init = gcm_init,
	.set_aad = gcm_set_aad,
	.encrypt = gcm_encrypt,
	.decrypt = gcm_decrypt,
	.set_iv = gcm_set_iv,
	.get_tag = gcm_get_tag,
	.description = "AES-256 GCM (sipsec, OpenSSL EVP)",
	.test_data = &gcm256_case0,
	.id = SRTP_AES_GCM_256,
};

const srtp_auth_type_t sps__srtp_ossl_hmac_sha1 = {
	.alloc = hmac_alloc,
	.dealloc = hmac_dealloc,
	.init = hmac_init,
	.compute = hmac_compute,
	.update = hmac_update,
	.start = hmac_start,
	.description = "HMAC-SHA1 (sipsec, OpenSSL EVP)",
	.test_data = &hmac_case1,
	.id = SRTP_HMAC_SHA1,
};

int sps__srtp_ossl_install(void)
{
	/* explicit fetches: the implicit ones (EVP_aes_128_ctr() and the like)
	 * look the algorithm up again on every init */
	alg_ctr128 = EVP_CIPHER_fetch(NULL, "AES-128-CTR", NULL);
	alg_ctr256 = EVP_CIPHER_fetch(NULL, "AES-256-CTR", NULL);
	alg_gcm128 = EVP_CIPHER_fetch(NULL, "AES-128-GCM", NULL);
	alg_gcm256 = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
	alg_sha1 = EVP_MD_fetch(NULL, "SHA1", NULL);
	if (!alg_ctr128 || !alg_ctr256 || !alg_gcm128 || !alg_gcm256 || !alg_sha1)
		return EIO;
	/* the key derivation (srtp.c) runs on the AES-ICM kernels too, so
	 * every suite's sessions use only these once installed */
	if (srtp_replace_cipher_type(&sps__srtp_ossl_aes_icm_128, SRTP_AES_ICM_128) ||
	    srtp_replace_cipher_type(&sps__srtp_ossl_aes_icm_256, SRTP_AES_ICM_256) ||
	    srtp_replace_cipher_type(&sps__srtp_ossl_aes_gcm_128, SRTP_AES_GCM_128) ||
	    srtp_replace_cipher_type(&sps__srtp_ossl_aes_gcm_256, SRTP_AES_GCM_256) ||
	    srtp_replace_auth_type(&sps__srtp_ossl_hmac_sha1, SRTP_HMAC_SHA1))
		return EIO;
	return 0;
}
