/* Unit tests of media/: libsrtp round trips and tamper detection per suite,
 * and the relay between real UDP sockets on 127.0.0.1. */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <srtp2/srtp.h>

#include "core/base64.h"
#include "media/crypto.h"
#include "media/relay.h"
#include "media/sdes.h"
#include "test.h"

static const enum sps_srtp_suite all_suites[] = {
	SPS_SRTP_AES_CM_128_HMAC_SHA1_80,
	SPS_SRTP_AES_CM_128_HMAC_SHA1_32,
	SPS_SRTP_AEAD_AES_128_GCM,
	SPS_SRTP_AEAD_AES_256_GCM,
};

/* An RTP packet (RFC 3550 5.1): PCMU, 160 bytes of payload. */
static size_t make_rtp(uint8_t *p, uint16_t seq, uint32_t ssrc)
{
	p[0] = 0x80;
	p[1] = 0;
	p[2] = (uint8_t)(seq >> 8);
	p[3] = (uint8_t)seq;
	uint32_t ts = seq * 160u;
	memcpy(p + 4, &(uint32_t){htonl(ts)}, 4);
	memcpy(p + 8, &(uint32_t){htonl(ssrc)}, 4);
	for (int i = 0; i < 160; i++)
		p[12 + i] = (uint8_t)(0x7f - (i + seq) % 64);
	return 172;
}

/* An RTCP receiver report with no blocks (RFC 3550 6.4.2). */
static size_t make_rtcp(uint8_t *p, uint32_t ssrc)
{
	p[0] = 0x80;
	p[1] = 201;
	p[2] = 0;
	p[3] = 1;
	memcpy(p + 4, &(uint32_t){htonl(ssrc)}, 4);
	return 8;
}

int test_media_suites(void)
{
	ASSERT_INT_EQ(sps_srtp_key_len(SPS_SRTP_AES_CM_128_HMAC_SHA1_80), 30);
	ASSERT_INT_EQ(sps_srtp_key_len(SPS_SRTP_AES_CM_128_HMAC_SHA1_32), 30);
	ASSERT_INT_EQ(sps_srtp_key_len(SPS_SRTP_AEAD_AES_128_GCM), 28);
	ASSERT_INT_EQ(sps_srtp_key_len(SPS_SRTP_AEAD_AES_256_GCM), 44);
	for (size_t i = 0; i < 4; i++) {
		const char *n = sps_srtp_suite_name(all_suites[i]);
		ASSERT(n);
		ASSERT_INT_EQ(sps_srtp_suite_parse(sps_slice_cstr(n)), all_suites[i]);
	}
	ASSERT_INT_EQ(sps_srtp_suite_parse(SPS_SLICE_LIT("aes_cm_128_hmac_sha1_80")), SPS_SRTP_NONE);
	ASSERT_INT_EQ(sps_srtp_suite_parse(SPS_SLICE_LIT("F8_128_HMAC_SHA1_80")), SPS_SRTP_NONE);

	/* fresh keys differ and fill the whole length */
	struct sps_srtp_key a, b;
	ASSERT_INT_EQ(sps_srtp_keygen(&a, SPS_SRTP_AEAD_AES_256_GCM), 0);
	ASSERT_INT_EQ(sps_srtp_keygen(&b, SPS_SRTP_AEAD_AES_256_GCM), 0);
	ASSERT(memcmp(a.key, b.key, 44) != 0);
	ASSERT(a.key[43] != 0 || a.key[42] != 0 || a.key[41] != 0);
	ASSERT_INT_EQ(sps_srtp_keygen(&a, SPS_SRTP_NONE), EINVAL);
	uint8_t raw[30] = {1};
	ASSERT_INT_EQ(sps_srtp_key_set(&a, SPS_SRTP_AEAD_AES_128_GCM, raw, 30, 0, 0), EINVAL);
	ASSERT_INT_EQ(sps_srtp_key_set(&a, SPS_SRTP_AES_CM_128_HMAC_SHA1_80, raw, 30, 256, 1),
		      EINVAL);
	ASSERT_INT_EQ(sps_srtp_key_set(&a, SPS_SRTP_AES_CM_128_HMAC_SHA1_80, raw, 30, 255, 1), 0);
	sps_srtp_key_wipe(&a);
	sps_srtp_key_wipe(&b);
	return 0;
}

/* Round trip, replay, tamper and wrong key for one suite (and MKI). */
static int roundtrip(enum sps_srtp_suite suite, uint8_t mki_len)
{
	static const size_t tag_len[] = {0, 10, 4, 16, 16};
	struct sps_srtp_key k, other;
	struct sps_srtp *tx = NULL, *rx = NULL, *rx_other = NULL;
	uint8_t p[256], orig[256], copy[256];
	int fail = 1, step = 0;

	ASSERT_INT_EQ(sps_srtp_keygen(&k, suite), 0);
	ASSERT_INT_EQ(sps_srtp_keygen(&other, suite), 0);
	if (mki_len) {
		k.mki = 5;
		k.mki_len = mki_len;
		other.mki = 5;
		other.mki_len = mki_len;
	}
	if (mki_len && suite == SPS_SRTP_AES_CM_128_HMAC_SHA1_32 && srtp_get_version() < 0x02070000) {
		/* refused: that libsrtp cannot authenticate its SRTCP (crypto.c) */
		ASSERT_INT_EQ(sps_srtp_new(&tx, &k, true), ENOTSUP);
		sps_srtp_key_wipe(&k);
		sps_srtp_key_wipe(&other);
		return 0;
	}
	ASSERT_INT_EQ(sps_srtp_new(&tx, &k, true), 0);
	ASSERT_INT_EQ(sps_srtp_new(&rx, &k, false), 0);
	ASSERT_INT_EQ(sps_srtp_new(&rx_other, &other, false), 0);

	for (uint16_t seq = 1; seq <= 3; seq++) {
		size_t len = make_rtp(p, seq, 0x1234), olen = len;
		memcpy(orig, p, len);
		if (sps_srtp_protect(tx, p, &len))
			{ step = __LINE__; goto out; }
		if (len != olen + tag_len[suite] + mki_len) {
			fprintf(stderr, "    suite %d: SRTP length %zu\n", suite, len);
			{ step = __LINE__; goto out; }
		}
		/* the header stays, the payload is encrypted (RFC 3711 3.1) */
		if (memcmp(p, orig, 12) != 0 || memcmp(p + 12, orig + 12, 160) == 0)
			{ step = __LINE__; goto out; }
		size_t clen = len;
		memcpy(copy, p, len);
		if (sps_srtp_unprotect(rx_other, copy, &clen) != EBADMSG)
			{ step = __LINE__; goto out; } /* another key does not authenticate */
		clen = len;
		memcpy(copy, p, len);
		copy[40] ^= 1; /* a flipped payload bit */
		if (sps_srtp_unprotect(rx, copy, &clen) != EBADMSG)
			{ step = __LINE__; goto out; }
		clen = len;
		memcpy(copy, p, len);
		copy[len - 1] ^= 0x80; /* a flipped tag bit */
		if (sps_srtp_unprotect(rx, copy, &clen) != EBADMSG)
			{ step = __LINE__; goto out; }
		memcpy(copy, p, len);
		if (sps_srtp_unprotect(rx, p, &len) || len != olen || memcmp(p, orig, olen) != 0)
			{ step = __LINE__; goto out; }
		clen = olen + tag_len[suite] + mki_len;
		if (sps_srtp_unprotect(rx, copy, &clen) != EALREADY) /* RFC 3711 3.3.2 */
			{ step = __LINE__; goto out; }
	}
	/* SRTCP: index + tag added, round trip, tamper (RFC 3711 3.4) */
	size_t len = make_rtcp(p, 0x1234), olen = len;
	memcpy(orig, p, len);
	if (sps_srtcp_protect(tx, p, &len) || len <= olen + 4)
		{ step = __LINE__; goto out; }
	memcpy(copy, p, len);
	size_t clen = len;
	copy[6] ^= 1;
	if (sps_srtcp_unprotect(rx, copy, &clen) != EBADMSG)
		{ step = __LINE__; goto out; }
	if (sps_srtcp_unprotect(rx, p, &len) || len != olen || memcmp(p, orig, olen) != 0)
		{ step = __LINE__; goto out; }
	/* too short for RTP */
	len = 6;
	if (sps_srtp_protect(tx, p, &len) != EINVAL)
		{ step = __LINE__; goto out; }
	fail = 0;
out:
	if (fail)
		fprintf(stderr, "    suite %s mki %u failed at line %d\n", sps_srtp_suite_name(suite),
			mki_len, step);
	sps_srtp_free(tx);
	sps_srtp_free(rx);
	sps_srtp_free(rx_other);
	sps_srtp_key_wipe(&k);
	sps_srtp_key_wipe(&other);
	return fail;
}

int test_media_srtp_roundtrip(void)
{
	for (size_t i = 0; i < 4; i++) {
		ASSERT_INT_EQ(roundtrip(all_suites[i], 0), 0);
		ASSERT_INT_EQ(roundtrip(all_suites[i], 1), 0);
	}
	ASSERT_INT_EQ(roundtrip(SPS_SRTP_AES_CM_128_HMAC_SHA1_80, 4), 0);
	return 0;
}

/* ---- the relay on real sockets ---- */

struct ep { /* one phone: an RTP and an RTCP socket on 127.0.0.1 */
	int fd, rfd;
	struct sps_sa rtp, rtcp;
};

static int ep_open(struct ep *e)
{
	e->fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	e->rfd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct sps_sa any;
	sps_sa_set_str(&any, "127.0.0.1", 0);
	if (e->fd < 0 || e->rfd < 0 || bind(e->fd, sps_sa_addr(&any), any.len) ||
	    bind(e->rfd, sps_sa_addr(&any), any.len))
		return errno;
	struct sockaddr_storage ss;
	socklen_t l = sizeof(ss);
	getsockname(e->fd, (struct sockaddr *)&ss, &l);
	sps_sa_set(&e->rtp, (struct sockaddr *)&ss, l);
	l = sizeof(ss);
	getsockname(e->rfd, (struct sockaddr *)&ss, &l);
	sps_sa_set(&e->rtcp, (struct sockaddr *)&ss, l);
	return 0;
}

static void ep_close(struct ep *e)
{
	close(e->fd);
	close(e->rfd);
}

static void send_to(int fd, uint16_t port, const uint8_t *p, size_t len)
{
	struct sps_sa dst;
	sps_sa_set_str(&dst, "127.0.0.1", port);
	(void)sendto(fd, p, len, 0, sps_sa_addr(&dst), dst.len);
}

/* Receive one datagram within ms; returns its length or -1. */
static ssize_t recv_wait(int fd, uint8_t *p, size_t size, int ms)
{
	struct pollfd pfd = {fd, POLLIN, 0};
	if (poll(&pfd, 1, ms) != 1)
		return -1;
	return recv(fd, p, size, MSG_DONTWAIT);
}

/* A relay for one test, on a port range of its own (other test runs may
 * share the machine; taken ports are skipped anyway). */
static int relay_open(struct sps_loop **loop, struct sps_relay **r, unsigned timeout_ms)
{
	struct sps_relay_conf c = {"127.0.0.1", 0, 0, 2, timeout_ms};
	c.port_min = (uint16_t)(40000 + (getpid() % 500) * 40);
	c.port_max = (uint16_t)(c.port_min + 39);
	int err = sps_loop_new(loop);
	return err ? err : sps_relay_new(r, &c, *loop);
}

/* Keys of a transcrypted call: what each phone sends with, what the relay
 * sends to it with. */
struct keys {
	struct sps_srtp_key a_tx, a_rx, b_tx, b_rx;
};

static int keys_make(struct keys *k, enum sps_srtp_suite suite)
{
	int err = sps_srtp_keygen(&k->a_tx, suite);
	err = err ? err : sps_srtp_keygen(&k->a_rx, suite);
	err = err ? err : sps_srtp_keygen(&k->b_tx, suite);
	return err ? err : sps_srtp_keygen(&k->b_rx, suite);
}

static void keys_wipe(struct keys *k)
{
	sps_srtp_key_wipe(&k->a_tx);
	sps_srtp_key_wipe(&k->a_rx);
	sps_srtp_key_wipe(&k->b_tx);
	sps_srtp_key_wipe(&k->b_rx);
}

/* Send packets from `from` (protected with tx when not NULL) to port until
 * one arrives at `to` (the relay applies the update asynchronously); seq is
 * advanced. Returns the received length or -1. */
static ssize_t first_through(int from, struct sps_srtp *tx, uint16_t port, int to, uint16_t *seq,
			     uint8_t *got, size_t size)
{
	for (int i = 0; i < 30; i++) {
		uint8_t p[256];
		size_t len = make_rtp(p, (*seq)++, 0xa1);
		if (tx && sps_srtp_protect(tx, p, &len))
			return -1;
		send_to(from, port, p, len);
		ssize_t n = recv_wait(to, got, size, 100);
		if (n > 0)
			return n;
	}
	return -1;
}

/* SRTP in on leg A, SRTP with other keys out on leg B, both ways, SRTCP. */
int test_media_relay_transcrypt(void)
{
	struct sps_loop *loop = NULL;
	struct sps_relay *r = NULL;
	struct sps_relay_sess *s = NULL;
	struct ep a, b;
	struct keys k;
	struct sps_srtp *a_out, *a_in, *b_out, *b_in, *b_in_wrong;
	uint8_t p[512], want[256];
	uint16_t seq = 100;

	ASSERT_INT_EQ(relay_open(&loop, &r, 0), 0);
	ASSERT_INT_EQ(ep_open(&a), 0);
	ASSERT_INT_EQ(ep_open(&b), 0);
	ASSERT_INT_EQ(keys_make(&k, SPS_SRTP_AES_CM_128_HMAC_SHA1_80), 0);
	ASSERT_INT_EQ(sps_srtp_new(&a_out, &k.a_tx, true), 0);
	ASSERT_INT_EQ(sps_srtp_new(&a_in, &k.a_rx, false), 0);
	ASSERT_INT_EQ(sps_srtp_new(&b_out, &k.b_tx, true), 0);
	ASSERT_INT_EQ(sps_srtp_new(&b_in, &k.b_rx, false), 0);
	ASSERT_INT_EQ(sps_srtp_new(&b_in_wrong, &k.a_tx, false), 0);

	ASSERT_INT_EQ(sps_relay_sess_new(r, &s, NULL, NULL), 0);
	uint16_t pa = sps_relay_sess_port(s, 0), pb = sps_relay_sess_port(s, 1);
	ASSERT(pa && pb && pa != pb && pa % 2 == 0);
	struct sps_relay_spec spec;
	memset(&spec, 0, sizeof(spec));
	spec.leg[0] = (struct sps_relay_leg){true, k.a_tx, k.a_rx, a.rtp, a.rtcp, false, false};
	spec.leg[1] = (struct sps_relay_leg){true, k.b_tx, k.b_rx, b.rtp, b.rtcp, false, false};
	ASSERT_INT_EQ(sps_relay_sess_update(s, &spec), 0);
	sps_srtp_key_wipe(&spec.leg[0].rx);

	/* A -> relay -> B: B decrypts with its leg's key, not with A's */
	ssize_t n = first_through(a.fd, a_out, pa, b.fd, &seq, p, sizeof(p));
	ASSERT_INT_EQ(n, 182);
	size_t len = (size_t)n;
	uint8_t copy[512];
	memcpy(copy, p, len);
	size_t clen = len;
	ASSERT_INT_EQ(sps_srtp_unprotect(b_in_wrong, copy, &clen), EBADMSG);
	ASSERT_INT_EQ(sps_srtp_unprotect(b_in, p, &len), 0);
	make_rtp(want, (uint16_t)(seq - 1), 0xa1);
	ASSERT_INT_EQ(len, 172);
	ASSERT(memcmp(p, want, 172) == 0);
	for (int i = 0; i < 20; i++) {
		len = make_rtp(p, seq, 0xa1);
		ASSERT_INT_EQ(sps_srtp_protect(a_out, p, &len), 0);
		send_to(a.fd, pa, p, len);
		n = recv_wait(b.fd, p, sizeof(p), 2000);
		ASSERT_INT_EQ(n, 182);
		len = (size_t)n;
		ASSERT_INT_EQ(sps_srtp_unprotect(b_in, p, &len), 0);
		make_rtp(want, seq++, 0xa1);
		ASSERT(len == 172 && memcmp(p, want, 172) == 0);
	}
	/* B -> relay -> A */
	for (uint16_t i = 0; i < 5; i++) {
		len = make_rtp(p, (uint16_t)(7000 + i), 0xb2);
		ASSERT_INT_EQ(sps_srtp_protect(b_out, p, &len), 0);
		send_to(b.fd, pb, p, len);
		n = recv_wait(a.fd, p, sizeof(p), 2000);
		ASSERT_INT_EQ(n, 182);
		len = (size_t)n;
		ASSERT_INT_EQ(sps_srtp_unprotect(a_in, p, &len), 0);
		make_rtp(want, (uint16_t)(7000 + i), 0xb2);
		ASSERT(len == 172 && memcmp(p, want, 172) == 0);
	}
	/* SRTCP from A's RTCP socket to the RTCP port arrives at B's RTCP socket */
	len = make_rtcp(p, 0xa1);
	ASSERT_INT_EQ(sps_srtcp_protect(a_out, p, &len), 0);
	send_to(a.rfd, (uint16_t)(pa + 1), p, len);
	n = recv_wait(b.rfd, p, sizeof(p), 2000);
	ASSERT(n > 8);
	len = (size_t)n;
	ASSERT_INT_EQ(sps_srtcp_unprotect(b_in, p, &len), 0);
	make_rtcp(want, 0xa1);
	ASSERT(len == 8 && memcmp(p, want, 8) == 0);

	/* counted right after sendmmsg returns, which may be after the receiver saw it */
	struct sps_relay_leg_stats st;
	for (int i = 0; i < 200; i++) {
		sps_relay_sess_stats(s, 0, &st);
		struct sps_relay_leg_stats st1;
		sps_relay_sess_stats(s, 1, &st1);
		if (st.relayed >= 22 && st1.relayed >= 5)
			break;
		usleep(10000);
	}
	ASSERT(st.relayed >= 22);
	ASSERT_INT_EQ(st.auth_failed, 0);
	ASSERT(st.latched);
	ASSERT(sps_sa_eq(&st.source, &a.rtp));
	sps_relay_sess_stats(s, 1, &st);
	ASSERT_INT_EQ(st.relayed, 5);

	ASSERT_INT_EQ(sps_relay_sess_count(r), 1);
	sps_relay_sess_end(s);
	/* the worker frees its side, then the handle comes back */
	for (int i = 0; i < 200 && sps_relay_sess_count(r); i++)
		sps_loop_run_once(loop, 10);
	ASSERT_INT_EQ(sps_relay_sess_count(r), 0);
	sps_relay_free(r);
	sps_loop_free(loop);
	sps_srtp_free(a_out);
	sps_srtp_free(a_in);
	sps_srtp_free(b_out);
	sps_srtp_free(b_in);
	sps_srtp_free(b_in_wrong);
	keys_wipe(&k);
	ep_close(&a);
	ep_close(&b);
	return 0;
}

/* SRTP leg A bridged to plain RTP leg B, both ways; then rtcp-mux. */
int test_media_relay_bridge(void)
{
	struct sps_loop *loop = NULL;
	struct sps_relay *r = NULL;
	struct sps_relay_sess *s = NULL;
	struct ep a, b;
	struct keys k;
	struct sps_srtp *a_out, *a_in;
	uint8_t p[512], want[256];
	uint16_t seq = 1;

	ASSERT_INT_EQ(relay_open(&loop, &r, 0), 0);
	ASSERT_INT_EQ(ep_open(&a), 0);
	ASSERT_INT_EQ(ep_open(&b), 0);
	ASSERT_INT_EQ(keys_make(&k, SPS_SRTP_AEAD_AES_128_GCM), 0);
	ASSERT_INT_EQ(sps_srtp_new(&a_out, &k.a_tx, true), 0);
	ASSERT_INT_EQ(sps_srtp_new(&a_in, &k.a_rx, false), 0);
	ASSERT_INT_EQ(sps_relay_sess_new(r, &s, NULL, NULL), 0);
	uint16_t pa = sps_relay_sess_port(s, 0), pb = sps_relay_sess_port(s, 1);
	struct sps_relay_spec spec;
	memset(&spec, 0, sizeof(spec));
	spec.leg[0] = (struct sps_relay_leg){true, k.a_tx, k.a_rx, a.rtp, a.rtcp, false, false};
	spec.leg[1].rtp = b.rtp;
	spec.leg[1].rtcp_mux = true; /* RTCP to B goes to its RTP port (RFC 5761) */
	ASSERT_INT_EQ(sps_relay_sess_update(s, &spec), 0);

	ssize_t n = first_through(a.fd, a_out, pa, b.fd, &seq, p, sizeof(p));
	ASSERT_INT_EQ(n, 172); /* plain RTP: the GCM tag is gone */
	make_rtp(want, (uint16_t)(seq - 1), 0xa1);
	ASSERT(memcmp(p, want, 172) == 0);

	/* plain from B comes out as SRTP towards A */
	size_t len = make_rtp(p, 555, 0xb2);
	send_to(b.fd, pb, p, len);
	n = recv_wait(a.fd, p, sizeof(p), 2000);
	ASSERT_INT_EQ(n, 188);
	len = (size_t)n;
	ASSERT_INT_EQ(sps_srtp_unprotect(a_in, p, &len), 0);
	make_rtp(want, 555, 0xb2);
	ASSERT(len == 172 && memcmp(p, want, 172) == 0);

	/* SRTCP from A comes out as RTCP on B's RTP socket (mux) */
	len = make_rtcp(p, 0xa1);
	ASSERT_INT_EQ(sps_srtcp_protect(a_out, p, &len), 0);
	send_to(a.rfd, (uint16_t)(pa + 1), p, len);
	n = recv_wait(b.fd, p, sizeof(p), 2000);
	ASSERT_INT_EQ(n, 8);
	make_rtcp(want, 0xa1);
	ASSERT(memcmp(p, want, 8) == 0);
	/* plain RTCP from B multiplexed on its RTP port goes to A's RTCP address as SRTCP */
	len = make_rtcp(p, 0xb2);
	send_to(b.fd, pb, p, len);
	n = recv_wait(a.rfd, p, sizeof(p), 2000);
	ASSERT(n > 8);
	len = (size_t)n;
	ASSERT_INT_EQ(sps_srtcp_unprotect(a_in, p, &len), 0);
	ASSERT_INT_EQ(len, 8);

	/* hold: B does not want media (sendonly on its side); A's packets are dropped */
	spec.leg[1].no_send = true;
	ASSERT_INT_EQ(sps_relay_sess_update(s, &spec), 0);
	struct sps_relay_leg_stats before, after;
	sps_relay_sess_stats(s, 0, &before);
	int through = 0;
	for (int i = 0; i < 10; i++) {
		len = make_rtp(p, seq++, 0xa1);
		ASSERT_INT_EQ(sps_srtp_protect(a_out, p, &len), 0);
		send_to(a.fd, pa, p, len);
		/* the first ones may still pass before the update is applied */
		if (recv_wait(b.fd, p, sizeof(p), 50) > 0)
			through++;
	}
	ASSERT(through < 10);
	ASSERT_INT_EQ(recv_wait(b.fd, p, sizeof(p), 200), -1);
	sps_relay_sess_stats(s, 0, &after);
	ASSERT(after.dropped > before.dropped);

	/* re-INVITE: resume with a new key from A; its old key no longer authenticates */
	struct sps_srtp_key a_new;
	struct sps_srtp *a_out2;
	ASSERT_INT_EQ(sps_srtp_keygen(&a_new, SPS_SRTP_AEAD_AES_128_GCM), 0);
	ASSERT_INT_EQ(sps_srtp_new(&a_out2, &a_new, true), 0);
	spec.leg[0].rx = a_new;
	spec.leg[1].no_send = false;
	ASSERT_INT_EQ(sps_relay_sess_update(s, &spec), 0);
	n = first_through(a.fd, a_out2, pa, b.fd, &seq, p, sizeof(p));
	ASSERT_INT_EQ(n, 172);
	make_rtp(want, (uint16_t)(seq - 1), 0xa1);
	ASSERT(memcmp(p, want, 172) == 0);
	sps_relay_sess_stats(s, 0, &before);
	len = make_rtp(p, seq++, 0xa1);
	ASSERT_INT_EQ(sps_srtp_protect(a_out, p, &len), 0); /* the old key */
	send_to(a.fd, pa, p, len);
	ASSERT_INT_EQ(recv_wait(b.fd, p, sizeof(p), 200), -1);
	sps_relay_sess_stats(s, 0, &after);
	ASSERT_INT_EQ(after.auth_failed, before.auth_failed + 1);
	sps_srtp_free(a_out2);
	sps_srtp_key_wipe(&a_new);

	sps_relay_free(r); /* frees the open session too */
	sps_loop_free(loop);
	sps_srtp_free(a_out);
	sps_srtp_free(a_in);
	keys_wipe(&k);
	ep_close(&a);
	ep_close(&b);
	return 0;
}

/* Latching on the first authenticated packet; auth failures counted and
 * dropped; packets from another source dropped after latching; pass-through. */
int test_media_relay_latch(void)
{
	struct sps_loop *loop = NULL;
	struct sps_relay *r = NULL;
	struct sps_relay_sess *s = NULL;
	struct ep a, b, decoy, evil;
	struct keys k;
	struct sps_srtp *a_out, *b_out, *evil_out;
	uint8_t p[512], saved[512];
	struct sps_relay_leg_stats st;

	ASSERT_INT_EQ(relay_open(&loop, &r, 0), 0);
	ASSERT_INT_EQ(ep_open(&a), 0);
	ASSERT_INT_EQ(ep_open(&b), 0);
	ASSERT_INT_EQ(ep_open(&decoy), 0);
	ASSERT_INT_EQ(ep_open(&evil), 0);
	ASSERT_INT_EQ(keys_make(&k, SPS_SRTP_AES_CM_128_HMAC_SHA1_32), 0);
	ASSERT_INT_EQ(sps_srtp_new(&a_out, &k.a_tx, true), 0);
	ASSERT_INT_EQ(sps_srtp_new(&b_out, &k.b_tx, true), 0);
	ASSERT_INT_EQ(sps_srtp_new(&evil_out, &k.b_tx, true), 0); /* a key A's leg does not use */
	ASSERT_INT_EQ(sps_relay_sess_new(r, &s, NULL, NULL), 0);
	uint16_t pa = sps_relay_sess_port(s, 0), pb = sps_relay_sess_port(s, 1);
	struct sps_relay_spec spec;
	memset(&spec, 0, sizeof(spec));
	/* A's SDP names the decoy address (a NAT in between): A really sends from a.fd */
	spec.leg[0] = (struct sps_relay_leg){true, k.a_tx, k.a_rx, decoy.rtp, decoy.rtcp, false,
					     false};
	spec.leg[1] = (struct sps_relay_leg){true, k.b_tx, k.b_rx, b.rtp, b.rtcp, false, false};
	ASSERT_INT_EQ(sps_relay_sess_update(s, &spec), 0);

	/* before latching, B's media goes where A's SDP said */
	uint16_t seq = 1;
	ssize_t n = first_through(b.fd, b_out, pb, decoy.fd, &seq, p, sizeof(p));
	ASSERT(n > 0);
	sps_relay_sess_stats(s, 0, &st);
	ASSERT(!st.latched);

	/* an attacker without A's key: counted as auth failure, no latch */
	for (uint16_t i = 0; i < 3; i++) {
		size_t len = make_rtp(p, (uint16_t)(900 + i), 0xe1);
		ASSERT_INT_EQ(sps_srtp_protect(evil_out, p, &len), 0);
		send_to(evil.fd, pa, p, len);
	}
	/* A's packet with a flipped bit: auth failure */
	size_t len = make_rtp(p, 50, 0xa1);
	ASSERT_INT_EQ(sps_srtp_protect(a_out, p, &len), 0);
	p[30] ^= 4;
	send_to(a.fd, pa, p, len);
	ASSERT_INT_EQ(recv_wait(b.fd, p, sizeof(p), 300), -1);
	for (int i = 0; i < 100; i++) {
		sps_relay_sess_stats(s, 0, &st);
		if (st.auth_failed == 4)
			break;
		usleep(10000);
	}
	ASSERT_INT_EQ(st.auth_failed, 4);
	ASSERT_INT_EQ(st.relayed, 0);
	ASSERT(!st.latched);

	/* A's first authenticated packet latches its real address */
	uint16_t aseq = 60;
	n = first_through(a.fd, a_out, pa, b.fd, &aseq, p, sizeof(p));
	ASSERT(n > 0);
	sps_relay_sess_stats(s, 0, &st);
	ASSERT(st.latched);
	ASSERT(sps_sa_eq(&st.source, &a.rtp));
	/* now B's media goes to A's real address, not to the decoy */
	len = make_rtp(p, seq++, 0xb2);
	ASSERT_INT_EQ(sps_srtp_protect(b_out, p, &len), 0);
	send_to(b.fd, pb, p, len);
	ASSERT(recv_wait(a.fd, p, sizeof(p), 2000) > 0);
	ASSERT_INT_EQ(recv_wait(decoy.fd, p, sizeof(p), 100), -1);

	/* a valid packet of A replayed from another source: dropped, not relayed */
	len = make_rtp(saved, aseq++, 0xa1);
	ASSERT_INT_EQ(sps_srtp_protect(a_out, saved, &len), 0);
	send_to(evil.fd, pa, saved, len);
	ASSERT_INT_EQ(recv_wait(b.fd, p, sizeof(p), 200), -1);
	/* ... and from A itself it still passes once, then counts as a replay */
	send_to(a.fd, pa, saved, len);
	ASSERT(recv_wait(b.fd, p, sizeof(p), 2000) > 0);
	send_to(a.fd, pa, saved, len);
	ASSERT_INT_EQ(recv_wait(b.fd, p, sizeof(p), 200), -1);
	sps_relay_sess_stats(s, 0, &st);
	ASSERT_INT_EQ(st.auth_failed, 4);
	ASSERT_INT_EQ(st.replayed, 1);
	ASSERT(st.dropped >= 1);

	/* pass-through (end-to-end keys): the bytes arrive unchanged */
	spec.passthrough = true;
	spec.leg[0] = (struct sps_relay_leg){true, k.a_tx, k.b_tx, a.rtp, a.rtcp, false, false};
	spec.leg[1] = (struct sps_relay_leg){true, k.b_tx, k.a_tx, b.rtp, b.rtcp, false, false};
	ASSERT_INT_EQ(sps_relay_sess_update(s, &spec), 0);
	int same = 0;
	for (int i = 0; i < 30 && !same; i++) {
		len = make_rtp(saved, aseq++, 0xa1);
		ASSERT_INT_EQ(sps_srtp_protect(a_out, saved, &len), 0);
		send_to(a.fd, pa, saved, len);
		n = recv_wait(b.fd, p, sizeof(p), 100);
		same = n == (ssize_t)len && memcmp(p, saved, len) == 0;
	}
	ASSERT(same);
	spec.leg[1].srtp = false;
	ASSERT_INT_EQ(sps_relay_sess_update(s, &spec), EINVAL); /* pass-through needs SRTP both sides */

	sps_relay_sess_end(s);
	sps_relay_free(r);
	sps_loop_free(loop);
	sps_srtp_free(a_out);
	sps_srtp_free(b_out);
	sps_srtp_free(evil_out);
	keys_wipe(&k);
	ep_close(&a);
	ep_close(&b);
	ep_close(&decoy);
	ep_close(&evil);
	return 0;
}

static int ended_reason;
static int ended_count;

static void on_end(struct sps_relay_sess *s, int reason, void *arg)
{
	ended_reason = reason;
	ended_count++;
	*(struct sps_relay_sess **)arg = NULL;
}

/* No media for timeout_ms: the relay ends the session and says why; an
 * ended session gives its ports back. */
int test_media_relay_timeout(void)
{
	struct sps_loop *loop = NULL;
	struct sps_relay *r = NULL;
	struct sps_relay_sess *s = NULL, *s2 = NULL;
	ASSERT_INT_EQ(relay_open(&loop, &r, 300), 0);
	ASSERT_INT_EQ(sps_relay_sess_new(r, &s, on_end, &s), 0);
	ended_count = 0;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < 300 && s; i++)
		sps_loop_run_once(loop, 10);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ASSERT(s == NULL);
	ASSERT_INT_EQ(ended_count, 1);
	ASSERT_INT_EQ(ended_reason, ETIMEDOUT);
	long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	ASSERT(ms >= 250);
	for (int i = 0; i < 100 && sps_relay_sess_count(r); i++)
		sps_loop_run_once(loop, 10);
	ASSERT_INT_EQ(sps_relay_sess_count(r), 0);

	/* the range holds 20 pairs = 10 sessions; all come back after ending */
	struct sps_relay_sess *many[12];
	int got = 0;
	while (got < 12 && sps_relay_sess_new(r, &many[got], NULL, NULL) == 0)
		got++;
	ASSERT(got <= 10);
	ASSERT(got >= 1);
	ASSERT_INT_EQ(sps_relay_sess_new(r, &s2, NULL, NULL), EADDRINUSE);
	for (int i = 0; i < got; i++)
		sps_relay_sess_end(many[i]);
	for (int i = 0; i < 200 && sps_relay_sess_count(r); i++)
		sps_loop_run_once(loop, 10);
	ASSERT_INT_EQ(sps_relay_sess_count(r), 0);
	ASSERT_INT_EQ(sps_relay_sess_new(r, &s2, NULL, NULL), 0);
	ASSERT_INT_EQ(ended_count, 1); /* ended by us: no handler */
	sps_relay_free(r);
	sps_loop_free(loop);
	return 0;
}

/* RFC 4568 7.1.1: the first usable a=crypto line of the offer is chosen. */
int test_media_sdes_pick(void)
{
	uint8_t k30[30], k28[28], k20[20];
	char b30[48], b28[48], b20[48], sdp_text[2048];
	for (int i = 0; i < 30; i++)
		k30[i] = (uint8_t)(i + 1);
	for (int i = 0; i < 28; i++)
		k28[i] = (uint8_t)(0xf0 - i);
	memset(k20, 7, sizeof(k20));
	sps_base64_encode(k30, 30, b30, sizeof(b30), 0);
	sps_base64_encode(k28, 28, b28, sizeof(b28), 0);
	sps_base64_encode(k20, 20, b20, sizeof(b20), 0);
	snprintf(sdp_text, sizeof(sdp_text),
		 "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n"
		 "m=audio 4000 RTP/SAVP 0\r\n"
		 "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:%s KDR=1\r\n" /* session param */
		 "a=crypto:2 AES_CM_128_HMAC_SHA1_80 inline:%s\r\n"       /* 20 bytes: short */
		 "a=crypto:3 F8_128_HMAC_SHA1_80 inline:%s\r\n"           /* suite we lack */
		 "a=crypto:4 AES_CM_128_HMAC_SHA1_80 inline:%s|2^20|1:4;inline:%s|2^20|2:4\r\n"
		 "a=crypto:5 AEAD_AES_128_GCM inline:%s|2^31|7:2\r\n"
		 "a=crypto:6 AES_CM_128_HMAC_SHA1_80 inline:%s\r\n"
		 "m=audio 4002 RTP/AVP 0\r\n"
		 "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:%s\r\n"
		 "m=audio 4004 RTP/AVP 0\r\n"
		 "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:%s UNENCRYPTED_SRTP\r\n"
		 "m=audio 4006 RTP/SAVPF 0\r\n",
		 b30, b20, b30, b30, b30, b28, b30, b30, b30);
	static struct sps_sdp sdp;
	const char *why = NULL;
	ASSERT_INT_EQ(sps_sdp_parse(sps_slice_cstr(sdp_text), &sdp, &why), 0);
	struct sps_srtp_key k;
	uint32_t tag = 0;
	ASSERT_INT_EQ(sps_sdes_pick(&sdp.media[0], &k, &tag), 0);
	ASSERT_INT_EQ(tag, 5);
	ASSERT_INT_EQ(k.suite, SPS_SRTP_AEAD_AES_128_GCM);
	ASSERT(memcmp(k.key, k28, 28) == 0);
	ASSERT_INT_EQ(k.mki, 7);
	ASSERT_INT_EQ(k.mki_len, 2);
	sps_srtp_key_wipe(&k);
	ASSERT_INT_EQ(sps_sdes_sec(&sdp.media[0]), SPS_OFFER_SRTP);
	/* best effort: RTP/AVP with keys */
	ASSERT_INT_EQ(sps_sdes_pick(&sdp.media[1], &k, &tag), 0);
	ASSERT_INT_EQ(tag, 1);
	ASSERT_INT_EQ(k.suite, SPS_SRTP_AES_CM_128_HMAC_SHA1_80);
	ASSERT_INT_EQ(k.mki_len, 0);
	sps_srtp_key_wipe(&k);
	ASSERT_INT_EQ(sps_sdes_sec(&sdp.media[1]), SPS_OFFER_BEST_EFFORT);
	/* nothing usable, nothing at all */
	ASSERT_INT_EQ(sps_sdes_pick(&sdp.media[2], &k, &tag), ENOENT);
	ASSERT_INT_EQ(sps_sdes_pick(&sdp.media[3], &k, &tag), ENOENT);
	ASSERT_INT_EQ(sps_sdes_sec(&sdp.media[3]), SPS_OFFER_SRTP);
	ASSERT_INT_EQ(sdp.media[3].proto, SPS_SDP_RTP_SAVPF);

	/* the key we answer with round-trips through our own a=crypto line */
	struct sps_srtp_key ours;
	char line[SPS_SDP_CRYPTO_LINE_MAX];
	ASSERT_INT_EQ(sps_srtp_keygen(&ours, SPS_SRTP_AEAD_AES_256_GCM), 0);
	ASSERT_INT_EQ(sps_sdp_crypto_format(line, sizeof(line), 5, "AEAD_AES_256_GCM", ours.key,
					    sps_srtp_key_len(ours.suite)),
		      0);
	struct sps_sdp_media m;
	memset(&m, 0, sizeof(m));
	ASSERT_INT_EQ(sps_sdp_crypto_parse(sps_slice_cstr(line), &m.crypto[0], NULL), 0);
	m.ncrypto = 1;
	ASSERT_INT_EQ(sps_sdes_pick(&m, &k, &tag), 0);
	ASSERT(k.suite == ours.suite && memcmp(k.key, ours.key, 44) == 0);
	sps_srtp_key_wipe(&k);
	sps_srtp_key_wipe(&ours);
	return 0;
}

/* Where an SDP wants media, and the edit that points it at the relay. */
int test_media_sdes_edit(void)
{
	static const char offer[] =
		"v=0\r\no=- 5 5 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\n"
		"m=audio 2222 RTP/SAVP 0\r\na=rtcp:2301 IN IP4 192.0.2.11\r\n"
		"a=crypto:3 AES_CM_128_HMAC_SHA1_80 inline:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGx0e\r\n"
		"m=video 2224 RTP/AVPF 96\r\na=rtcp-mux\r\n"
		"m=audio 2226 RTP/AVP 8\r\n"
		"m=audio 0 RTP/AVP 8\r\n"
		"m=audio 2230 RTP/AVP 8\r\nc=IN IP4 0.0.0.0\r\n"
		"m=audio 2232 RTP/AVP 8\r\nc=IN IP4 224.2.1.1/127\r\n"
		"m=audio 2234 RTP/AVP 8\r\na=rtcp:2299\r\n";
	static struct sps_sdp sdp, out;
	struct sps_sa rtp, rtcp;
	char s1[SPS_SA_STRLEN], s2[SPS_SA_STRLEN];
	ASSERT_INT_EQ(sps_sdp_parse(sps_slice_cstr(offer), &sdp, NULL), 0);
	ASSERT_INT_EQ(sps_sdes_remote(&sdp, 0, &rtp, &rtcp), 0);
	sps_sa_to_str(&rtp, s1, sizeof(s1));
	sps_sa_to_str(&rtcp, s2, sizeof(s2));
	ASSERT_STR_EQ(s1, "192.0.2.10:2222");
	ASSERT_STR_EQ(s2, "192.0.2.11:2301"); /* RFC 3605 with an address */
	ASSERT_INT_EQ(sps_sdes_remote(&sdp, 1, &rtp, &rtcp), 0);
	ASSERT(sps_sa_eq(&rtp, &rtcp)); /* rtcp-mux */
	ASSERT_INT_EQ(sps_sdes_remote(&sdp, 2, &rtp, &rtcp), 0);
	ASSERT_INT_EQ(sps_sa_port(&rtcp), 2227); /* port + 1 */
	ASSERT_INT_EQ(sps_sdes_remote(&sdp, 3, &rtp, &rtcp), 0);
	ASSERT_INT_EQ(rtp.len, 0); /* rejected stream */
	ASSERT_INT_EQ(sps_sdes_remote(&sdp, 4, &rtp, &rtcp), 0);
	ASSERT_INT_EQ(rtp.len, 0); /* c=0.0.0.0: old-style hold */
	ASSERT_INT_EQ(sps_sdes_remote(&sdp, 5, &rtp, &rtcp), EINVAL); /* multicast with ttl */
	ASSERT_INT_EQ(sps_sdes_remote(&sdp, 6, &rtp, &rtcp), 0);
	ASSERT_INT_EQ(sps_sa_port(&rtcp), 2299);
	ASSERT_INT_EQ(sps_sdes_remote(&sdp, 9, &rtp, &rtcp), EINVAL);

	/* the answer towards the caller: our key in the offer's tag, relay address and ports;
	 * the video bridged to plain RTP with feedback kept */
	struct sps_srtp_key k;
	char line[2][SPS_SDP_CRYPTO_LINE_MAX], text[4096];
	size_t n;
	ASSERT_INT_EQ(sps_srtp_keygen(&k, SPS_SRTP_AES_CM_128_HMAC_SHA1_80), 0);
	struct sps_sdp_edit e;
	memset(&e, 0, sizeof(e));
	e.addr = "198.51.100.7";
	ASSERT_INT_EQ(sps_sdes_edit_media(&e, 0, &sdp.media[0], 30000, SPS_OFFER_SRTP, &k, 3,
					  line[0], sizeof(line[0])),
		      0);
	ASSERT_INT_EQ(sps_sdes_edit_media(&e, 1, &sdp.media[1], 30002, SPS_OFFER_PLAIN, NULL, 0,
					  line[1], sizeof(line[1])),
		      0);
	ASSERT_INT_EQ(sps_sdes_edit_media(&e, 2, &sdp.media[2], 30004, SPS_OFFER_BEST_EFFORT, &k, 1,
					  line[1], sizeof(line[1])),
		      0);
	ASSERT_INT_EQ(sps_sdes_edit_media(&e, 3, &sdp.media[3], 0, SPS_OFFER_SRTP, NULL, 0, line[1],
					  sizeof(line[1])),
		      EINVAL);
	ASSERT_INT_EQ(sps_sdp_write(&sdp, &e, text, sizeof(text), &n), 0);
	ASSERT_INT_EQ(sps_sdp_parse(sps_slice_make(text, n), &out, NULL), 0);
	ASSERT_INT_EQ(out.media[0].port, 30000);
	ASSERT_INT_EQ(out.media[0].proto, SPS_SDP_RTP_SAVP);
	ASSERT_INT_EQ(out.media[0].rtcp_port, 30001);
	ASSERT_SLICE_EQ(out.media[0].rtcp_conn.addr, "198.51.100.7");
	ASSERT_INT_EQ(out.media[0].ncrypto, 1);
	ASSERT_INT_EQ(out.media[0].crypto[0].tag, 3);
	struct sps_srtp_key back;
	uint32_t tag;
	ASSERT_INT_EQ(sps_sdes_pick(&out.media[0], &back, &tag), 0);
	ASSERT(memcmp(back.key, k.key, 30) == 0);
	ASSERT_INT_EQ(out.media[1].proto, SPS_SDP_RTP_AVPF);
	ASSERT_INT_EQ(out.media[1].ncrypto, 0);
	ASSERT_INT_EQ(out.media[2].proto, SPS_SDP_RTP_AVP);
	ASSERT_INT_EQ(out.media[2].ncrypto, 1);
	ASSERT_INT_EQ(sps_sdes_sec(&out.media[2]), SPS_OFFER_BEST_EFFORT);
	ASSERT_SLICE_EQ(out.conn.addr, "198.51.100.7");
	explicit_bzero(line, sizeof(line));
	explicit_bzero(text, sizeof(text));
	sps_srtp_key_wipe(&k);
	sps_srtp_key_wipe(&back);
	return 0;
}
