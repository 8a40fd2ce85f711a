/* core/slice: comparisons and conversions on zero-copy views. */
#include "core/slice.h"

#include <errno.h>
#include <string.h>

struct sps_slice sps_slice_cstr(const char *s)
{
	return sps_slice_make(s, s ? strlen(s) : 0);
}

bool sps_slice_eq(struct sps_slice a, struct sps_slice b)
{
	return a.l == b.l && (a.l == 0 || memcmp(a.p, b.p, a.l) == 0);
}

static inline unsigned char lower(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : c;
}

bool sps_slice_eq_ci(struct sps_slice a, struct sps_slice b)
{
	if (a.l != b.l)
		return false;
	for (size_t i = 0; i < a.l; i++)
		if (lower((unsigned char)a.p[i]) != lower((unsigned char)b.p[i]))
			return false;
	return true;
}

bool sps_slice_eq_cstr_ci(struct sps_slice a, const char *s)
{
	return sps_slice_eq_ci(a, sps_slice_cstr(s));
}

struct sps_slice sps_slice_trim(struct sps_slice s)
{
	while (s.l && (s.p[0] == ' ' || s.p[0] == '\t')) {
		s.p++;
		s.l--;
	}
	while (s.l && (s.p[s.l - 1] == ' ' || s.p[s.l - 1] == '\t'))
		s.l--;
	return s;
}

int sps_slice_to_u32(struct sps_slice s, uint32_t max, uint32_t *out)
{
	uint64_t v = 0;

	if (s.l == 0)
		return EINVAL;
	for (size_t i = 0; i < s.l; i++) {
		if (s.p[i] < '0' || s.p[i] > '9')
			return EINVAL;
		v = v * 10 + (uint64_t)(s.p[i] - '0');
		if (v > max)
			return ERANGE;
	}
	*out = (uint32_t)v;
	return 0;
}

int sps_slice_to_cstr(struct sps_slice s, char *buf, size_t size)
{
	if (size == 0 || s.l >= size)
		return ENOSPC;
	if (s.l)
		memcpy(buf, s.p, s.l);
	buf[s.l] = '\0';
	return 0;
}
