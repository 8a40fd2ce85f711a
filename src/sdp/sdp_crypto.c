/* sdp/sdp_crypto: the SDES a=crypto attribute (RFC 4568 9.1, the SRTP key
 * parameters of RFC 4568 6.1) and the base64 of its inline key (RFC 4648 4).
 * The slices it returns point at key material: never log them. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/base64.h"
#include "sdp/sdp.h"

#define FAIL(msg)                                                                        \
	do {                                                                             \
		*why = (msg);                                                            \
		return EBADMSG;                                                          \
	} while (0)

static bool is_wsp(char c) { return c == ' ' || c == '\t'; }

/* Next token separated by 1*WSP. */
static struct sps_slice tok(struct sps_slice *s)
{
	size_t i = 0;
	while (i < s->l && is_wsp(s->p[i]))
		i++;
	size_t start = i;
	while (i < s->l && !is_wsp(s->p[i]))
		i++;
	struct sps_slice t = sps_slice_make(s->p + start, i - start);
	*s = sps_slice_make(s->p + i, s->l - i);
	return t;
}

static bool all_digits(struct sps_slice s, size_t max)
{
	if (!s.l || s.l > max)
		return false;
	for (size_t i = 0; i < s.l; i++)
		if (s.p[i] < '0' || s.p[i] > '9')
			return false;
	return true;
}

/* lifetime = ["2^"] 1*(DIGIT) (RFC 4568 9.2) */
static bool lifetime_ok(struct sps_slice s)
{
	if (s.l > 2 && s.p[0] == '2' && s.p[1] == '^')
		return all_digits(sps_slice_make(s.p + 2, s.l - 2), 2);
	return all_digits(s, 20);
}

/* mki = mki-value ":" mki-length, mki-length 1..128 bytes (RFC 4568 9.2) */
static bool parse_mki(struct sps_slice s, struct sps_sdp_crypto *c)
{
	const char *colon = memchr(s.p, ':', s.l);
	if (!colon)
		return false;
	struct sps_slice v = sps_slice_make(s.p, (size_t)(colon - s.p));
	struct sps_slice l = sps_slice_make(colon + 1, s.l - v.l - 1);
	uint32_t len;
	if (!all_digits(l, 3) || sps_slice_to_u32(l, 128, &len) || len == 0)
		return false;
	/* we keep MKIs of up to 4 bytes in a uint32_t; longer ones are refused */
	if (!all_digits(v, 10) || sps_slice_to_u32(v, UINT32_MAX, &c->mki))
		return false;
	c->mki_len = len;
	c->has_mki = true;
	return true;
}

/* inline:<key||salt>[|lifetime][|MKI:length] (RFC 4568 6.1, 9.2) */
static int parse_key_info(struct sps_slice info, struct sps_sdp_crypto *c, const char **why)
{
	struct sps_slice parts[3];
	size_t n = 0;
	while (n < 3) {
		const char *bar = memchr(info.p, '|', info.l);
		size_t l = bar ? (size_t)(bar - info.p) : info.l;
		parts[n++] = sps_slice_make(info.p, l);
		if (!bar)
			break;
		info = sps_slice_make(bar + 1, info.l - l - 1);
		if (n == 3)
			FAIL("a=crypto key has more than key|lifetime|MKI:length (RFC 4568 9.2)");
	}
	c->key_b64 = parts[0];
	if (!c->key_b64.l)
		FAIL("a=crypto inline key is empty (RFC 4568 9.2)");
	for (size_t i = 0; i < c->key_b64.l; i++)
		if (sps_base64_val((unsigned char)c->key_b64.p[i], 0) < 0 && c->key_b64.p[i] != '=')
			FAIL("a=crypto inline key is not base64 (RFC 4568 9.2)");
	if (n == 2) {
		/* one field after the key: an MKI has a ':', a lifetime has not */
		if (memchr(parts[1].p, ':', parts[1].l)) {
			if (!parse_mki(parts[1], c))
				FAIL("a=crypto MKI is not value:length with length 1..128 "
				     "(RFC 4568 9.2)");
		} else if (lifetime_ok(parts[1])) {
			c->lifetime = parts[1];
		} else {
			FAIL("a=crypto key lifetime is not N or 2^N (RFC 4568 9.2)");
		}
	} else if (n == 3) {
		if (!lifetime_ok(parts[1]))
			FAIL("a=crypto key lifetime is not N or 2^N (RFC 4568 9.2)");
		c->lifetime = parts[1];
		if (!parse_mki(parts[2], c))
			FAIL("a=crypto MKI is not value:length with length 1..128 (RFC 4568 9.2)");
	}
	return 0;
}

int sps_sdp_crypto_parse(struct sps_slice val, struct sps_sdp_crypto *out, const char **why)
{
	static const char *unused;
	if (!why)
		why = &unused;
	struct sps_sdp_crypto c;
	memset(&c, 0, sizeof(c));
	struct sps_slice tag = tok(&val);
	if (!all_digits(tag, 9) || sps_slice_to_u32(tag, 999999999, &c.tag))
		FAIL("a=crypto tag is not 1 to 9 digits (RFC 4568 9.1)");
	c.suite = tok(&val);
	if (!c.suite.l)
		FAIL("a=crypto has no crypto-suite (RFC 4568 9.1)");
	for (size_t i = 0; i < c.suite.l; i++) {
		char ch = c.suite.p[i];
		if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
		      (ch >= '0' && ch <= '9') || ch == '_'))
			FAIL("a=crypto crypto-suite has a bad character (RFC 4568 9.1)");
	}
	c.key_params = tok(&val);
	if (!c.key_params.l)
		FAIL("a=crypto has no key-params (RFC 4568 9.1)");
	c.session_params = sps_slice_trim(val);
	for (size_t i = 0; i < c.session_params.l; i++)
		if ((unsigned char)c.session_params.p[i] < 0x20 ||
		    (unsigned char)c.session_params.p[i] >= 0x7f)
			FAIL("a=crypto session parameters are not printable (RFC 4568 9.1)");

	/* key-params = key-param *(";" key-param); only "inline" is defined for SRTP */
	struct sps_slice kp = c.key_params;
	for (;;) {
		const char *semi = memchr(kp.p, ';', kp.l);
		struct sps_slice one = sps_slice_make(kp.p, semi ? (size_t)(semi - kp.p) : kp.l);
		if (one.l < 7 || memcmp(one.p, "inline:", 7) != 0)
			FAIL("a=crypto key-param is not \"inline:\" (RFC 4568 6.1)");
		if (c.nkeys == 0) {
			int err = parse_key_info(sps_slice_make(one.p + 7, one.l - 7), &c, why);
			if (err)
				return err;
		}
		if (++c.nkeys > 16)
			FAIL("a=crypto has more than 16 keys");
		if (!semi)
			break;
		kp = sps_slice_make(semi + 1, kp.l - one.l - 1);
	}
	*out = c;
	return 0;
}

int sps_sdp_crypto_format(char *buf, size_t size, uint32_t tag, const char *suite,
			  const uint8_t *key, size_t keylen)
{
	char b64[(SPS_SDP_KEY_MAX + 2) / 3 * 4 + 1];
	if (keylen > SPS_SDP_KEY_MAX || tag > 999999999 ||
	    sps_base64_encode(key, keylen, b64, sizeof(b64), 0))
		return ENOSPC;
	int n = snprintf(buf, size, "%u %s inline:%s", tag, suite, b64);
	explicit_bzero(b64, sizeof(b64));
	if (n < 0 || (size_t)n >= size) {
		if (size)
			explicit_bzero(buf, size);
		return ENOSPC;
	}
	return 0;
}
