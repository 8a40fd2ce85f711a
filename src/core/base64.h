/* core/base64: base64 (RFC 4648 4) and base64url (RFC 4648 5) for the
 * digest nonce, SDES inline keys and HTTP Basic credentials. */
#ifndef SPS_CORE_BASE64_H
#define SPS_CORE_BASE64_H

#include <stddef.h>
#include <stdint.h>

#include "core/slice.h"

enum {
	SPS_B64_URL = 1 << 0,   /* the RFC 4648 5 alphabet ("-_" for "+/") */
	SPS_B64_NOPAD = 1 << 1, /* encode without '='; decode refuses '=' */
	SPS_B64_PAD = 1 << 2,   /* decode: '=' padding to a multiple of 4 required */
	SPS_B64_CANON = 1 << 3, /* decode: the unused low bits must be zero
				   (RFC 4648 3.5), so one value has one spelling */
};

/* The value 0..63 of one digit of the alphabet flags chooses, or -1. */
int sps_base64_val(unsigned char c, unsigned flags);

/* Characters sps_base64_encode writes for n bytes, without the NUL. */
static inline size_t sps_base64_len(size_t n, unsigned flags)
{
	return (flags & SPS_B64_NOPAD) ? (n * 4 + 2) / 3 : (n + 2) / 3 * 4;
}

/* Encode n bytes, NUL-terminated, into out. Returns 0 or ENOSPC. */
int sps_base64_encode(const uint8_t *in, size_t n, char *out, size_t size, unsigned flags);

/* Decode in (no white space) into out. Without SPS_B64_PAD or SPS_B64_NOPAD
 * the padding is optional but, when present, complete. Returns 0, EBADMSG,
 * or ENOSPC when out is too small. */
int sps_base64_decode(struct sps_slice in, uint8_t *out, size_t size, size_t *outlen,
		      unsigned flags);

#endif
