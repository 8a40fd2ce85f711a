/* core/base64: RFC 4648 sections 4 and 5. */
#include "core/base64.h"

#include <errno.h>

static const char alpha_std[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char alpha_url[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int sps_base64_val(unsigned char c, unsigned flags)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == ((flags & SPS_B64_URL) ? '-' : '+'))
		return 62;
	if (c == ((flags & SPS_B64_URL) ? '_' : '/'))
		return 63;
	return -1;
}

int sps_base64_encode(const uint8_t *in, size_t n, char *out, size_t size, unsigned flags)
{
	const char *tab = (flags & SPS_B64_URL) ? alpha_url : alpha_std;
	bool pad = !(flags & SPS_B64_NOPAD);
	size_t o = 0;
	if (size <= sps_base64_len(n, flags))
		return ENOSPC;
	for (size_t i = 0; i < n; i += 3) {
		size_t left = n - i;
		uint32_t v = (uint32_t)in[i] << 16;
		if (left > 1)
			v |= (uint32_t)in[i + 1] << 8;
		if (left > 2)
			v |= in[i + 2];
		out[o++] = tab[(v >> 18) & 63];
		out[o++] = tab[(v >> 12) & 63];
		if (left > 1)
			out[o++] = tab[(v >> 6) & 63];
		else if (pad)
			out[o++] = '=';
		if (left > 2)
			out[o++] = tab[v & 63];
		else if (pad)
			out[o++] = '=';
	}
	out[o] = '\0';
	return 0;
}

int sps_base64_decode(struct sps_slice in, uint8_t *out, size_t size, size_t *outlen,
		      unsigned flags)
{
	size_t len = in.l, npad = 0;
	while (len > 0 && in.p[len - 1] == '=' && npad < 2) {
		len--;
		npad++;
	}
	if (npad && ((flags & SPS_B64_NOPAD) || in.l % 4))
		return EBADMSG;
	if ((flags & SPS_B64_PAD) && in.l % 4)
		return EBADMSG;
	if (len % 4 == 1)
		return EBADMSG; /* six bits cannot end a byte */
	uint32_t acc = 0;
	unsigned bits = 0;
	size_t o = 0;
	for (size_t i = 0; i < len; i++) {
		int v = sps_base64_val((unsigned char)in.p[i], flags);
		if (v < 0)
			return EBADMSG; /* also a '=' inside */
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o >= size)
				return ENOSPC;
			out[o++] = (uint8_t)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	if ((flags & SPS_B64_CANON) && acc)
		return EBADMSG;
	*outlen = o;
	return 0;
}
