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

/* Remove dir and everything below it. */
void test_rmtree(const char *dir);
/* Run fn with the path of a data dir (not yet created) inside a fresh temp
 * dir, then remove the temp dir whatever the outcome. Returns fn's result. */
int test_with_datadir(int (*fn)(const char *data));

struct x509_st;
/* The first certificate of a PEM file, or NULL. */
struct x509_st *test_read_cert(const char *path);

#endif
