/* The unit-test harness: each test is `int test_NAME(void)` listed in
 * test-list.h; it returns 0 on success. The assertion macros print where a
 * check failed and return 1 from the test. */
#ifndef SPS_TEST_H
#define SPS_TEST_H

#include <stdio.h>
#include <string.h>

#include "core/slice.h"

/* Prototypes of every test in the table. */
#define TEST(name) int test_##name(void);
#include "test-list.h"
#undef TEST

/* Directory of test data (tests/data, or $SPS_TEST_DATA). */
const char *sps_test_data_dir(void);
/* Read a whole file into a malloc'd buffer (NUL-terminated); NULL on error. */
char *sps_test_read_file(const char *path, size_t *len);

#define TEST_FAIL(...)                                                          \
	do {                                                                    \
		fprintf(stderr, "    %s:%d: ", __FILE__, __LINE__);             \
		fprintf(stderr, __VA_ARGS__);                                   \
		fputc('\n', stderr);                                            \
		return 1;                                                       \
	} while (0)

#define ASSERT(c)                                                               \
	do {                                                                    \
		if (!(c))                                                       \
			TEST_FAIL("assertion failed: %s", #c);                  \
	} while (0)

#define ASSERT_INT_EQ(a, b)                                                     \
	do {                                                                    \
		long long a_ = (long long)(a), b_ = (long long)(b);             \
		if (a_ != b_)                                                   \
			TEST_FAIL("%s == %lld, expected %s == %lld", #a, a_, #b, b_); \
	} while (0)

#define ASSERT_STR_EQ(a, b)                                                     \
	do {                                                                    \
		const char *a_ = (a), *b_ = (b);                                \
		if (!a_ || !b_ || strcmp(a_, b_) != 0)                          \
			TEST_FAIL("%s == \"%s\", expected \"%s\"", #a,          \
				  a_ ? a_ : "(null)", b_ ? b_ : "(null)");      \
	} while (0)

/* Compare a slice with a C string (exact bytes). */
#define ASSERT_SLICE_EQ(s, str)                                                 \
	do {                                                                    \
		struct sps_slice s_ = (s);                                      \
		const char *e_ = (str);                                         \
		if (!sps_slice_eq(s_, sps_slice_cstr(e_)))                      \
			TEST_FAIL("%s == \"%.*s\", expected \"%s\"", #s,        \
				  SPS_SLICE_FMT(s_), e_);                       \
	} while (0)

#endif
