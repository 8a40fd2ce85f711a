/* Unit tests for src/core. */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "core/arena.h"
#include "core/base64.h"
#include "core/mbuf.h"
#include "core/mem.h"
#include "core/slice.h"
#include "test.h"

int test_slice_basics(void)
{
	uint32_t v = 0;
	ASSERT(sps_slice_eq_ci(SPS_SLICE_LIT("Via"), SPS_SLICE_LIT("vIA")));
	ASSERT(!sps_slice_eq_ci(SPS_SLICE_LIT("Via"), SPS_SLICE_LIT("Vi")));
	ASSERT_SLICE_EQ(sps_slice_trim(SPS_SLICE_LIT(" \tabc \t")), "abc");
	ASSERT_INT_EQ(sps_slice_to_u32(SPS_SLICE_LIT("4294967295"), UINT32_MAX, &v), 0);
	ASSERT_INT_EQ(v, 4294967295u);
	ASSERT_INT_EQ(sps_slice_to_u32(SPS_SLICE_LIT("4294967296"), UINT32_MAX, &v), ERANGE);
	ASSERT_INT_EQ(sps_slice_to_u32(SPS_SLICE_LIT("99999999999999999999"), UINT32_MAX, &v),
		      ERANGE);
	ASSERT_INT_EQ(sps_slice_to_u32(SPS_SLICE_LIT("-1"), UINT32_MAX, &v), EINVAL);
	ASSERT_INT_EQ(sps_slice_to_u32(SPS_SLICE_LIT(""), UINT32_MAX, &v), EINVAL);
	char buf[4];
	ASSERT_INT_EQ(sps_slice_to_cstr(SPS_SLICE_LIT("abcd"), buf, sizeof(buf)), ENOSPC);
	ASSERT_INT_EQ(sps_slice_to_cstr(SPS_SLICE_LIT("abc"), buf, sizeof(buf)), 0);
	ASSERT_STR_EQ(buf, "abc");
	return 0;
}

int test_arena_limits(void)
{
	struct sps_arena *a;
	ASSERT_INT_EQ(sps_arena_new(&a, 10000), 0);
	char *p = sps_arena_zalloc(a, 100);
	ASSERT(p && p[0] == 0 && ((uintptr_t)p % 16) == 0);
	ASSERT(sps_arena_zalloc(a, 6000) != NULL); /* larger than a chunk */
	ASSERT(sps_arena_zalloc(a, 5000) == NULL); /* over the limit */
	sps_arena_reset(a);
	ASSERT_INT_EQ(sps_arena_used(a), 0);
	ASSERT(sps_arena_zalloc(a, 5000) != NULL);
	ASSERT(sps_arena_zalloc(a, (size_t)-1) == NULL); /* overflow */
	sps_arena_free(a);
	return 0;
}

int test_mbuf_limits(void)
{
	struct sps_mbuf mb;
	sps_mbuf_init(&mb, 16);
	ASSERT_INT_EQ(sps_mbuf_printf(&mb, "%s %d", "abc", 42), 0);
	ASSERT_STR_EQ(mb.buf, "abc 42");
	ASSERT_INT_EQ(sps_mbuf_puts(&mb, "0123456789abc"), EMSGSIZE);
	ASSERT_INT_EQ(sps_mbuf_puts(&mb, "x"), EMSGSIZE); /* error sticks */
	ASSERT_INT_EQ(sps_mbuf_err(&mb), EMSGSIZE);
	sps_mbuf_free(&mb);
	return 0;
}

static int destroyed;
static void count_destroy(void *obj)
{
	(void)obj;
	destroyed++;
}

int test_mem_refcount(void)
{
	destroyed = 0;
	int *o = sps_mem_zalloc(sizeof(int), count_destroy);
	ASSERT(o && *o == 0);
	ASSERT(sps_mem_ref(o) == o);
	ASSERT_INT_EQ(sps_mem_nrefs(o), 2);
	ASSERT(sps_mem_deref(o) == NULL);
	ASSERT_INT_EQ(destroyed, 0);
	sps_mem_deref(o);
	ASSERT_INT_EQ(destroyed, 1);
	return 0;
}

/* RFC 4648 10 vectors in both alphabets, and the three decoding modes its
 * callers use: SDES keys (padding required), the digest nonce (base64url,
 * no padding, canonical) and HTTP Basic (padding optional). */
int test_base64_modes(void)
{
	static const char *const vec[][2] = {{"", ""},		{"f", "Zg=="},
					     {"fo", "Zm8="},	{"foo", "Zm9v"},
					     {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="},
					     {"foobar", "Zm9vYmFy"}};
	char enc[32];
	uint8_t out[32];
	size_t n = 0;
	for (size_t i = 0; i < sizeof(vec) / sizeof(vec[0]); i++) {
		size_t l = strlen(vec[i][0]);
		ASSERT_INT_EQ(sps_base64_encode((const uint8_t *)vec[i][0], l, enc, sizeof(enc), 0), 0);
		ASSERT_STR_EQ(enc, vec[i][1]);
		ASSERT_INT_EQ(strlen(enc), sps_base64_len(l, 0));
		ASSERT_INT_EQ(sps_base64_decode(sps_slice_cstr(enc), out, sizeof(out), &n,
						SPS_B64_PAD | SPS_B64_CANON), 0);
		ASSERT(n == l && memcmp(out, vec[i][0], l) == 0);
		/* unpadded */
		ASSERT_INT_EQ(sps_base64_encode((const uint8_t *)vec[i][0], l, enc, sizeof(enc),
						SPS_B64_NOPAD), 0);
		ASSERT_INT_EQ(strlen(enc), sps_base64_len(l, SPS_B64_NOPAD));
		ASSERT(strchr(enc, '=') == NULL);
		ASSERT_INT_EQ(sps_base64_decode(sps_slice_cstr(enc), out, sizeof(out), &n, 0), 0);
		ASSERT(n == l && memcmp(out, vec[i][0], l) == 0);
	}
	/* the alphabets differ in two digits */
	const uint8_t hi[3] = {0xfb, 0xff, 0xbf};
	ASSERT_INT_EQ(sps_base64_encode(hi, 3, enc, sizeof(enc), 0), 0);
	ASSERT_STR_EQ(enc, "+/+/");
	ASSERT_INT_EQ(sps_base64_encode(hi, 3, enc, sizeof(enc), SPS_B64_URL), 0);
	ASSERT_STR_EQ(enc, "-_-_");
	ASSERT_INT_EQ(sps_base64_decode(SPS_SLICE_LIT("-_-_"), out, sizeof(out), &n, 0), EBADMSG);
	ASSERT_INT_EQ(sps_base64_decode(SPS_SLICE_LIT("+/+/"), out, sizeof(out), &n, SPS_B64_URL),
		      EBADMSG);
	/* padding rules */
	ASSERT_INT_EQ(sps_base64_decode(SPS_SLICE_LIT("Zg"), out, sizeof(out), &n, SPS_B64_PAD),
		      EBADMSG);
	ASSERT_INT_EQ(sps_base64_decode(SPS_SLICE_LIT("Zg=="), out, sizeof(out), &n, SPS_B64_NOPAD),
		      EBADMSG);
	ASSERT_INT_EQ(sps_base64_decode(SPS_SLICE_LIT("Zg="), out, sizeof(out), &n, 0), EBADMSG);
	ASSERT_INT_EQ(sps_base64_decode(SPS_SLICE_LIT("Z==="), out, sizeof(out), &n, 0), EBADMSG);
	ASSERT_INT_EQ(sps_base64_decode(SPS_SLICE_LIT("Zm9vY"), out, sizeof(out), &n, 0), EBADMSG);
	ASSERT_INT_EQ(sps_base64_decode(SPS_SLICE_LIT("Zg==Zg=="), out, sizeof(out), &n, 0),
		      EBADMSG);
	ASSERT_INT_EQ(sps_base64_decode(SPS_SLICE_LIT("Zm 9v"), out, sizeof(out), &n, 0), EBADMSG);
	/* canonical: "Zh" carries a set bit after the byte */
	ASSERT_INT_EQ(sps_base64_decode(SPS_SLICE_LIT("Zh"), out, sizeof(out), &n, 0), 0);
	ASSERT_INT_EQ(sps_base64_decode(SPS_SLICE_LIT("Zh"), out, sizeof(out), &n, SPS_B64_CANON),
		      EBADMSG);
	/* sizes */
	ASSERT_INT_EQ(sps_base64_decode(SPS_SLICE_LIT("Zm9vYmFy"), out, 5, &n, 0), ENOSPC);
	ASSERT_INT_EQ(sps_base64_encode((const uint8_t *)"foo", 3, enc, 4, 0), ENOSPC);
	ASSERT_INT_EQ(sps_base64_encode((const uint8_t *)"foo", 3, enc, 5, 0), 0);
	return 0;
}
