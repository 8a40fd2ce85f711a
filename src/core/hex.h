/* core/hex: hexadecimal digits (RFC 4648 8 alphabet, either case). */
#ifndef SPS_CORE_HEX_H
#define SPS_CORE_HEX_H

/* The value of one hex digit, or -1. */
static inline int sps_hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

#endif
