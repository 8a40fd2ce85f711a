/* Unit tests for src/sip/frame.c: cutting a TCP/TLS stream into messages
 * (RFC 3261 18.3) and RFC 5626 4.4.1 keep-alives. Every call looks at an
 * exact-size heap copy so that AddressSanitizer reports reads past the end. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sip/frame.h"
#include "sip/msg.h"
#include "test.h"

/* Frame len bytes of s from an exact-size copy. */
static int frame_n(const char *s, size_t len, struct sps_frame *f, const char **why)
{
	char *b = malloc(len ? len : 1);
	if (!b)
		return ENOMEM;
	if (len)
		memcpy(b, s, len);
	*why = NULL;
	f->kind = 0;
	f->len = 0;
	int rc = sps_sip_frame(b, len, f, why);
	free(b);
	return rc;
}

static int frame_s(const char *s, struct sps_frame *f, const char **why)
{
	return frame_n(s, strlen(s), f, why);
}

#define MSG1                                                                            \
	"OPTIONS sip:carol@chicago.example.com SIP/2.0\r\n"                             \
	"Via: SIP/2.0/TCP pc33.atlanta.example.com;branch=z9hG4bKhjhs8ass877\r\n"       \
	"Max-Forwards: 70\r\n"                                                          \
	"To: <sip:carol@chicago.example.com>\r\n"                                       \
	"From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n"                \
	"Call-ID: a84b4c76e66710\r\n"                                                   \
	"CSeq: 63104 OPTIONS\r\n"                                                       \
	"Content-Type: text/plain\r\n"                                                  \
	"Content-Length: 5\r\n"                                                         \
	"\r\n"                                                                          \
	"hello"
#define MSG2                                                                            \
	"SIP/2.0 200 OK\r\n"                                                            \
	"Via: SIP/2.0/TCP pc33.atlanta.example.com;branch=z9hG4bKhjhs8ass877\r\n"       \
	"To: <sip:carol@chicago.example.com>;tag=93810874\r\n"                          \
	"From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n"                \
	"Call-ID: a84b4c76e66710\r\n"                                                   \
	"CSeq: 63104 OPTIONS\r\n"                                                       \
	"l: 0\r\n"                                                                      \
	"\r\n"

int test_sip_frame_basic(void)
{
	struct sps_frame f;
	const char *why;
	const char *both = MSG1 MSG2;

	ASSERT_INT_EQ(frame_s(MSG1, &f, &why), 0);
	ASSERT_INT_EQ(f.kind, SPS_FRAME_MSG);
	ASSERT_INT_EQ(f.len, strlen(MSG1));

	/* two pipelined messages, one per call */
	ASSERT_INT_EQ(frame_s(both, &f, &why), 0);
	ASSERT_INT_EQ(f.kind, SPS_FRAME_MSG);
	ASSERT_INT_EQ(f.len, strlen(MSG1));
	ASSERT_INT_EQ(frame_s(both + f.len, &f, &why), 0);
	ASSERT_INT_EQ(f.kind, SPS_FRAME_MSG);
	ASSERT_INT_EQ(f.len, strlen(MSG2));

	/* the framed message parses */
	{
		char *b = malloc(strlen(MSG1));
		struct sps_arena *a;
		struct sps_sip_msg *m;
		ASSERT(b);
		memcpy(b, MSG1, strlen(MSG1));
		ASSERT_INT_EQ(sps_arena_new(&a, 0), 0);
		int rc = sps_sip_msg_parse(b, strlen(MSG1), a, &m, &why);
		int blen = rc ? -1 : (int)m->body.l;
		sps_arena_free(a);
		free(b);
		ASSERT_INT_EQ(rc, 0);
		ASSERT_INT_EQ(blen, 5);
	}

	/* header names are case-insensitive; spaces around the value are fine */
	const char *ci = "OPTIONS sip:a@b SIP/2.0\r\ncontent-LENGTH  :  3 \r\n\r\nabc";
	ASSERT_INT_EQ(frame_s(ci, &f, &why), 0);
	ASSERT_INT_EQ(f.len, strlen(ci));
	/* a Content-Length lookalike is not Content-Length */
	const char *look = "OPTIONS sip:a@b SIP/2.0\r\nX-Content-Length: 3\r\nl: 0\r\n\r\nabc";
	ASSERT_INT_EQ(frame_s(look, &f, &why), 0);
	ASSERT_INT_EQ(f.len, strlen(look) - 3);
	/* "Content-Length" inside a value does not count either */
	const char *inval = "OPTIONS sip:a@b SIP/2.0\r\nSubject: x\r\n"
			    " Content-Length: 3\r\nContent-Length: 0\r\n\r\nabc";
	ASSERT_INT_EQ(frame_s(inval, &f, &why), 0);
	ASSERT_INT_EQ(f.len, strlen(inval) - 3);
	return 0;
}

int test_sip_frame_split(void)
{
	struct sps_frame f;
	const char *why;
	const char *both = MSG1 MSG2;
	size_t n1 = strlen(MSG1), n = strlen(both);

	/* every prefix of the first message needs more; the whole one is a MSG */
	for (size_t i = 0; i < n1; i++) {
		int rc = frame_n(both, i, &f, &why);
		if (rc != ENODATA)
			TEST_FAIL("prefix of %zu bytes: rc %d (kind %d len %zu), expected ENODATA",
				  i, rc, (int)f.kind, f.len);
	}
	/* with any part of the second message after it, the first is still cut right */
	for (size_t i = n1; i <= n; i++) {
		int rc = frame_n(both, i, &f, &why);
		if (rc != 0 || f.kind != SPS_FRAME_MSG || f.len != n1)
			TEST_FAIL("%zu bytes: rc %d kind %d len %zu, expected MSG %zu", i, rc,
				  (int)f.kind, f.len, n1);
	}
	for (size_t i = 0; i < strlen(MSG2); i++)
		ASSERT_INT_EQ(frame_n(MSG2, i, &f, &why), ENODATA);
	return 0;
}

int test_sip_frame_keepalive(void)
{
	struct sps_frame f;
	const char *why;

	/* RFC 5626 4.4.1: CRLFCRLF is a ping, a single CRLF a pong */
	ASSERT_INT_EQ(frame_s("\r\n\r\n", &f, &why), 0);
	ASSERT_INT_EQ(f.kind, SPS_FRAME_PING);
	ASSERT_INT_EQ(f.len, 4);
	ASSERT_INT_EQ(frame_s("\r\n\r\n" MSG1, &f, &why), 0);
	ASSERT_INT_EQ(f.kind, SPS_FRAME_PING);
	ASSERT_INT_EQ(f.len, 4);

	ASSERT_INT_EQ(frame_s("\r\n" MSG1, &f, &why), 0);
	ASSERT_INT_EQ(f.kind, SPS_FRAME_PONG);
	ASSERT_INT_EQ(f.len, 2);
	ASSERT_INT_EQ(frame_s(MSG1, &f, &why), 0);
	ASSERT_INT_EQ(f.kind, SPS_FRAME_MSG);

	/* a lone CRLF may be a pong or the start of a ping */
	int rc = frame_s("\r\n", &f, &why);
	ASSERT(rc == ENODATA || (rc == 0 && f.kind == SPS_FRAME_PONG && f.len == 2));
	rc = frame_s("\r", &f, &why);
	ASSERT_INT_EQ(rc, ENODATA);
	rc = frame_s("\r\n\r", &f, &why);
	ASSERT(rc == ENODATA || (rc == 0 && f.kind == SPS_FRAME_PONG && f.len == 2));
	ASSERT_INT_EQ(frame_s("", &f, &why), ENODATA);
	return 0;
}

int test_sip_frame_errors(void)
{
	struct sps_frame f;
	const char *why;
	int rc;

	/* no Content-Length on a stream (RFC 3261 18.3) */
	rc = frame_s("OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\n\r\n", &f,
		     &why);
	ASSERT_INT_EQ(rc, EBADMSG);
	ASSERT(why != NULL);

	static const char *const badcl[] = {"-1", "-999", "abc", "12abc", "", "1 2", "0x10",
					    "+5"};
	for (size_t i = 0; i < sizeof(badcl) / sizeof(badcl[0]); i++) {
		char m[256];
		snprintf(m, sizeof(m), "OPTIONS sip:a@b SIP/2.0\r\nContent-Length: %s\r\n\r\n",
			 badcl[i]);
		rc = frame_s(m, &f, &why);
		if (rc != EBADMSG || !why)
			TEST_FAIL("Content-Length \"%s\": rc %d, expected EBADMSG", badcl[i], rc);
	}
	/* two different Content-Length values: ambiguous framing (request smuggling) */
	rc = frame_s("OPTIONS sip:a@b SIP/2.0\r\nContent-Length: 0\r\nl: 5\r\n\r\nhello", &f,
		     &why);
	ASSERT_INT_EQ(rc, EBADMSG);

	/* a Content-Length that makes the message larger than 65535 bytes, at once */
	rc = frame_s("OPTIONS sip:a@b SIP/2.0\r\nContent-Length: 65535\r\n\r\n", &f, &why);
	ASSERT_INT_EQ(rc, EMSGSIZE);
	rc = frame_s("OPTIONS sip:a@b SIP/2.0\r\nContent-Length: 99999999999999999999\r\n\r\n",
		     &f, &why);
	ASSERT(rc == EMSGSIZE || rc == EBADMSG);

	/* the largest message: need more until the last byte */
	{
		const char *head = "OPTIONS sip:a@b SIP/2.0\r\nContent-Length: 65485\r\n\r\n";
		size_t hl = strlen(head), total = hl + 65485;
		ASSERT_INT_EQ(total, SPS_SIP_MAX_MSG);
		char *b = malloc(total);
		ASSERT(b);
		memcpy(b, head, hl);
		memset(b + hl, 'b', total - hl);
		int r1 = sps_sip_frame(b, total - 1, &f, &why);
		int r2 = sps_sip_frame(b, total, &f, &why);
		free(b);
		ASSERT_INT_EQ(r1, ENODATA);
		ASSERT_INT_EQ(r2, 0);
		ASSERT_INT_EQ(f.len, SPS_SIP_MAX_MSG);
	}

	/* a header line over 8 KiB without an end: an error, not need-more forever */
	{
		size_t n = 9000;
		char *b = malloc(n);
		ASSERT(b);
		int k = sprintf(b, "OPTIONS sip:a@b SIP/2.0\r\nSubject: ");
		memset(b + k, 'a', n - (size_t)k);
		rc = sps_sip_frame(b, n, &f, &why);
		free(b);
		if (rc != EBADMSG && rc != EMSGSIZE)
			TEST_FAIL("9000-byte header line: rc %d, expected EBADMSG", rc);
	}
	/* a start line over 8 KiB */
	{
		size_t n = 9000;
		char *b = malloc(n);
		ASSERT(b);
		memset(b, 'A', n);
		rc = sps_sip_frame(b, n, &f, &why);
		free(b);
		if (rc != EBADMSG && rc != EMSGSIZE)
			TEST_FAIL("9000-byte start line: rc %d, expected EBADMSG", rc);
	}
	/* 65536 bytes of short header lines and still no empty line */
	{
		size_t n = SPS_SIP_MAX_MSG + 1;
		char *b = malloc(n);
		ASSERT(b);
		size_t k = (size_t)sprintf(b, "OPTIONS sip:a@b SIP/2.0\r\n");
		while (k + 8 <= n) {
			memcpy(b + k, "X: abc\r\n", 8);
			k += 8;
		}
		memset(b + k, 'y', n - k);
		rc = sps_sip_frame(b, n, &f, &why);
		free(b);
		if (rc != EBADMSG && rc != EMSGSIZE)
			TEST_FAIL("65536 bytes of headers: rc %d, expected EBADMSG or EMSGSIZE", rc);
	}
	return 0;
}
