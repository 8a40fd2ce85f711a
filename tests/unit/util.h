/* Helpers shared by the unit tests (util.c). */
#ifndef SPS_TEST_UTIL_H
#define SPS_TEST_UTIL_H

#include <stddef.h>

struct sps_arena;
struct sps_sip_msg;

/* A SIP message parsed from an exact-size heap copy (so AddressSanitizer
 * reports reads past the end), with the buffer and arena it lives in. */
struct test_msg {
	struct sps_arena *arena;
	char *buf;
	struct sps_sip_msg *m;
	const char *why; /* the parser's reason on failure */
};

/* Parse len bytes of s. Returns the parser's result (or ENOMEM); call
 * test_msg_free in every case. */
int test_msg_parse(struct test_msg *p, const char *s, size_t len);
void test_msg_free(struct test_msg *p);

#endif
