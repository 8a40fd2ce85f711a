/* media/crypto: libsrtp2 contexts for the SDES suites, key generation. */
#include "media/crypto.h"
#include "media/srtp_ossl.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <srtp2/srtp.h>

/* RFC 3711 3.3.2 asks for a window of at least 64; 1024 absorbs the
 * reordering of a busy network path at 2 bits per packet of state. */
#define REPLAY_WINDOW 1024

struct sps_srtp {
	srtp_t ctx;
	bool mki; /* packets carry an MKI (RFC 3711 3.1) */
};

static const struct {
	const char *name;
	size_t key_len; /* master key + master salt */
} suites[SPS_SRTP_SUITES + 1] = {
	[SPS_SRTP_NONE] = {NULL, 0},
	[SPS_SRTP_AES_CM_128_HMAC_SHA1_80] = {"AES_CM_128_HMAC_SHA1_80", 30},
	[SPS_SRTP_AES_CM_128_HMAC_SHA1_32] = {"AES_CM_128_HMAC_SHA1_32", 30},
	[SPS_SRTP_AEAD_AES_128_GCM] = {"AEAD_AES_128_GCM", 28},
	[SPS_SRTP_AEAD_AES_256_GCM] = {"AEAD_AES_256_GCM", 44},
};

const char *sps_srtp_suite_name(enum sps_srtp_suite s)
{
	return (unsigned)s <= SPS_SRTP_SUITES ? suites[s].name : NULL;
}

enum sps_srtp_suite sps_srtp_suite_parse(struct sps_slice s)
{
	for (int i = 1; i <= SPS_SRTP_SUITES; i++)
		if (sps_slice_eq(s, sps_slice_cstr(suites[i].name)))
			return (enum sps_srtp_suite)i;
	return SPS_SRTP_NONE;
}

size_t sps_srtp_key_len(enum sps_srtp_suite s)
{
	return (unsigned)s <= SPS_SRTP_SUITES ? suites[s].key_len : 0;
}

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static int init_err;
static bool stock_kernels; /* set before init only (benchmarks) */

/* libsrtp, then our OpenSSL kernels in place of its own (srtp_ossl.c says
 * why), before any session exists. */
static void do_init(void)
{
	init_err = srtp_init() == srtp_err_status_ok ? 0 : EIO;
	if (!init_err && !stock_kernels)
		init_err = sps__srtp_ossl_install();
}

void sps_srtp_use_stock_kernels(void)
{
	stock_kernels = true;
}

int sps_srtp_init(void)
{
	pthread_once(&init_once, do_init);
	return init_err;
}

int sps_srtp_keygen(struct sps_srtp_key *k, enum sps_srtp_suite suite)
{
	size_t n = sps_srtp_key_len(suite);
	if (!n)
		return EINVAL;
	memset(k, 0, sizeof(*k));
	k->suite = suite;
	/* RFC 4568 6.1 / RFC 3711 8.2: keys from a cryptographically secure random source */
	if (RAND_bytes(k->key, (int)n) != 1) {
		sps_srtp_key_wipe(k);
		return EIO;
	}
	return 0;
}

int sps_srtp_key_set(struct sps_srtp_key *k, enum sps_srtp_suite suite, const uint8_t *key,
		     size_t len, uint32_t mki, uint8_t mki_len)
{
	if (!sps_srtp_key_len(suite) || len != sps_srtp_key_len(suite) || mki_len > 4 ||
	    (mki_len < 4 && mki >> (8 * mki_len)))
		return EINVAL;
	memset(k, 0, sizeof(*k));
	k->suite = suite;
	memcpy(k->key, key, len);
	k->mki = mki;
	k->mki_len = mki_len;
	return 0;
}

void sps_srtp_key_wipe(struct sps_srtp_key *k)
{
	OPENSSL_cleanse(k, sizeof(*k));
}

static void set_policy(srtp_policy_t *p, enum sps_srtp_suite s)
{
	switch (s) {
	case SPS_SRTP_AES_CM_128_HMAC_SHA1_80:
		srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&p->rtp);
		srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&p->rtcp);
		break;
	case SPS_SRTP_AES_CM_128_HMAC_SHA1_32:
		/* RFC 4568 6.2.2 (and RFC 3711 5.2): SRTCP keeps the 80-bit tag */
		srtp_crypto_policy_set_aes_cm_128_hmac_sha1_32(&p->rtp);
		srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&p->rtcp);
		break;
	case SPS_SRTP_AEAD_AES_128_GCM:
		srtp_crypto_policy_set_aes_gcm_128_16_auth(&p->rtp);
		srtp_crypto_policy_set_aes_gcm_128_16_auth(&p->rtcp);
		break;
	case SPS_SRTP_AEAD_AES_256_GCM:
		srtp_crypto_policy_set_aes_gcm_256_16_auth(&p->rtp);
		srtp_crypto_policy_set_aes_gcm_256_16_auth(&p->rtcp);
		break;
	default:
		break;
	}
}

int sps_srtp_new(struct sps_srtp **out, const struct sps_srtp_key *k, bool outbound)
{
	if (!k || !sps_srtp_key_len(k->suite) || k->mki_len > 4)
		return EINVAL;
	/* libsrtp before 2.7 looks for the MKI of an SRTCP packet one RTP tag
	 * length from its end (cisco/libsrtp#733): with the 32-bit RTP tag and
	 * the 80-bit SRTCP tag of this suite, SRTCP never authenticates. Refuse
	 * the combination so the offer's other crypto lines are used instead. */
	if (k->mki_len && k->suite == SPS_SRTP_AES_CM_128_HMAC_SHA1_32 &&
	    srtp_get_version() < 0x02070000)
		return ENOTSUP;
	int err = sps_srtp_init();
	if (err)
		return err;
	struct sps_srtp *s = calloc(1, sizeof(*s));
	if (!s)
		return ENOMEM;
	srtp_policy_t p;
	uint8_t key[SPS_SRTP_KEY_MAX], mki_id[4];
	srtp_master_key_t mk, *mks[1] = {&mk};
	memset(&p, 0, sizeof(p));
	set_policy(&p, k->suite);
	memcpy(key, k->key, sizeof(key));
	p.ssrc.type = outbound ? ssrc_any_outbound : ssrc_any_inbound;
	p.window_size = REPLAY_WINDOW;
	p.allow_repeat_tx = 0;
	if (k->mki_len) {
		/* the MKI is sent big-endian in mki_len bytes (RFC 4568 9.2) */
		for (unsigned i = 0; i < k->mki_len; i++)
			mki_id[i] = (uint8_t)(k->mki >> (8 * (k->mki_len - 1 - i)));
		mk.key = key;
		mk.mki_id = mki_id;
		mk.mki_size = k->mki_len;
		p.keys = mks;
		p.num_master_keys = 1;
		s->mki = true;
	} else {
		p.key = key;
	}
	srtp_err_status_t st = srtp_create(&s->ctx, &p);
	OPENSSL_cleanse(key, sizeof(key));
	if (st != srtp_err_status_ok) {
		free(s);
		return st == srtp_err_status_alloc_fail ? ENOMEM
		       : st == srtp_err_status_cipher_fail || st == srtp_err_status_bad_param
			       ? ENOTSUP
			       : EINVAL;
	}
	*out = s;
	return 0;
}

void sps_srtp_free(struct sps_srtp *s)
{
	if (!s)
		return;
	srtp_dealloc(s->ctx);
	free(s);
}

static int map_err(srtp_err_status_t st)
{
	switch (st) {
	case srtp_err_status_ok:
		return 0;
	case srtp_err_status_auth_fail:
		return EBADMSG;
	case srtp_err_status_replay_fail:
	case srtp_err_status_replay_old:
		return EALREADY;
	case srtp_err_status_bad_mki:
		return EBADMSG;
	case srtp_err_status_bad_param:
	case srtp_err_status_parse_err:
	case srtp_err_status_no_ctx:
		return EINVAL;
	default:
		return EIO;
	}
}

/* libsrtp takes int lengths; packets here are at most a UDP datagram. */
#define LEN_OK(len) (*(len) >= 4 && *(len) <= 65535)

int sps_srtp_protect(struct sps_srtp *s, uint8_t *buf, size_t *len)
{
	if (!LEN_OK(len) || *len < 12)
		return EINVAL;
	int n = (int)*len;
	int err = map_err(srtp_protect_mki(s->ctx, buf, &n, s->mki, 0));
	if (!err)
		*len = (size_t)n;
	return err;
}

int sps_srtcp_protect(struct sps_srtp *s, uint8_t *buf, size_t *len)
{
	if (!LEN_OK(len) || *len < 8)
		return EINVAL;
	int n = (int)*len;
	int err = map_err(srtp_protect_rtcp_mki(s->ctx, buf, &n, s->mki, 0));
	if (!err)
		*len = (size_t)n;
	return err;
}

int sps_srtp_unprotect(struct sps_srtp *s, uint8_t *buf, size_t *len)
{
	if (!LEN_OK(len) || *len < 12)
		return EINVAL;
	int n = (int)*len;
	int err = map_err(srtp_unprotect_mki(s->ctx, buf, &n, s->mki));
	if (!err)
		*len = (size_t)n;
	return err;
}

int sps_srtcp_unprotect(struct sps_srtp *s, uint8_t *buf, size_t *len)
{
	if (!LEN_OK(len) || *len < 8)
		return EINVAL;
	int n = (int)*len;
	int err = map_err(srtp_unprotect_rtcp_mki(s->ctx, buf, &n, s->mki));
	if (!err)
		*len = (size_t)n;
	return err;
}
