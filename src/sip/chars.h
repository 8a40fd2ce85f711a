/* sip/chars: character classes of the SIP grammar (RFC 3261 25.1). Internal. */
#ifndef SPS_SIP_CHARS_H
#define SPS_SIP_CHARS_H

#include <stdbool.h>

#include "core/hex.h"

enum {
	SPS_C_ALNUM = 1 << 0,
	SPS_C_MARK = 1 << 1,      /* - _ . ! ~ * ' ( ) */
	SPS_C_TOKEN = 1 << 2,     /* alphanum / - . ! % * _ + ` ' ~ */
	SPS_C_USER = 1 << 3,      /* user-unreserved: & = + $ , ; ? / */
	SPS_C_PASSWD = 1 << 4,    /* & = + $ , */
	SPS_C_PARAM = 1 << 5,     /* param-unreserved: [ ] / : & + $ */
	SPS_C_HNV = 1 << 6,       /* hnv-unreserved: [ ] / ? : + $ */
	SPS_C_HOST = 1 << 7,      /* alphanum - . */
	SPS_C_WORD = 1 << 8,      /* word (Call-ID) */
	SPS_C_HEX = 1 << 9,
	SPS_C_TELCHAR = 1 << 10,  /* tel: subscriber: digits, hex, * # + - . ( ) */
};

extern const unsigned short sps__sip_chars[256];

static inline bool sps__is(unsigned char c, unsigned cls) { return (sps__sip_chars[c] & cls) != 0; }
static inline bool sps__is_ws(char c) { return c == ' ' || c == '\t'; }
static inline int sps__hexval(unsigned char c) { return sps_hexval(c); }

#endif
