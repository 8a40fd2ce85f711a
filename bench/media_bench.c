/* bench/media_bench: how fast the SRTP media relay (src/media) moves
 * packets, next to the raw libsrtp rate on the same machine.
 *
 *   build/release/bench/media_bench [-t SECONDS] [-n STREAMS] [--stock-libsrtp]
 *
 * libsrtp runs sipsec's OpenSSL crypto kernels (src/media/srtp_ossl.c), as
 * in sipsec serve; --stock-libsrtp leaves the library's own in place (on
 * Debian: NSS), for comparison.
 *
 * 1. raw libsrtp: one thread unprotects and protects 172-byte SRTP packets
 *    (AES_CM_128_HMAC_SHA1_80: 12-byte RTP header, 150 bytes of payload,
 *    10-byte tag) with two contexts - the work a transcrypting relay does
 *    per packet, without the sockets. Also the other suites, for reference.
 * 2. the relay over 127.0.0.1 with one media worker thread, for 1 stream
 *    and for -n streams (sessions), in three modes:
 *      transcrypt  SRTP in on leg A, SRTP with other keys out on leg B
 *      bridge      SRTP in on leg A, plain RTP out on leg B
 *      plain       plain RTP on both legs: no crypto at all, the floor a
 *                  relay that reads and writes every packet through the
 *                  kernel's UDP path has on this machine
 *    A sender thread protects fresh packets (new sequence numbers: the
 *    relay has replay protection on) and sends them in batches of 32 with
 *    sendmmsg from one socket, round robin over the streams; a sink thread
 *    drains leg B's destination with recvmmsg. The relay reads with
 *    recvmmsg and writes with sendmmsg.
 *    Printed: packets relayed per second of wall time, and per second of
 *    the worker thread's CPU time (pthread_getcpuclockid) = packets per
 *    second per core. Sender, sink and worker share the machine's cores, so
 *    the per-core figure is the one to compare.
 * The relay is also run with AEAD_AES_128_GCM, whose libsrtp cost is lower,
 * to show the relay's own overhead. Every phase is bounded by -t seconds
 * (default 2); the whole run by about 16 t.
 * Exit status 0, or 1 when the relay moved no packets or the sink got
 * packets that do not decrypt. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/loop.h"
#include "media/crypto.h"
#include "media/relay.h"
#include "media/relay_int.h"

#define PKT_SRTP 172 /* on the wire, with the 10-byte tag */
#define BATCH 32
#define MAX_STREAMS 1000

static double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static double cpu_s(clockid_t c)
{
	struct timespec t;
	if (clock_gettime(c, &t) != 0)
		return 0;
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static size_t make_rtp(uint8_t *p, uint16_t seq, uint32_t ssrc, size_t len)
{
	p[0] = 0x80;
	p[1] = 0;
	p[2] = (uint8_t)(seq >> 8);
	p[3] = (uint8_t)seq;
	uint32_t ts = seq * 160u;
	p[4] = (uint8_t)(ts >> 24);
	p[5] = (uint8_t)(ts >> 16);
	p[6] = (uint8_t)(ts >> 8);
	p[7] = (uint8_t)ts;
	p[8] = (uint8_t)(ssrc >> 24);
	p[9] = (uint8_t)(ssrc >> 16);
	p[10] = (uint8_t)(ssrc >> 8);
	p[11] = (uint8_t)ssrc;
	memset(p + 12, 0x55, len - 12);
	return len;
}

/* ---- 1. raw libsrtp ---- */

static int raw_rate(enum sps_srtp_suite suite, double secs)
{
	struct sps_srtp_key k1, k2;
	struct sps_srtp *in_tx, *in_rx, *out_tx;
	size_t tag = suite == SPS_SRTP_AES_CM_128_HMAC_SHA1_32 ? 4
		     : suite == SPS_SRTP_AES_CM_128_HMAC_SHA1_80 ? 10
								 : 16;
	if (sps_srtp_keygen(&k1, suite) || sps_srtp_keygen(&k2, suite) ||
	    sps_srtp_new(&in_tx, &k1, true) || sps_srtp_new(&in_rx, &k1, false) ||
	    sps_srtp_new(&out_tx, &k2, true)) {
		fprintf(stderr, "media_bench: cannot set up %s\n", sps_srtp_suite_name(suite));
		return 1;
	}
	/* prepare packets the way a phone sends them, then time only what the
	 * relay does: unprotect (leg A key) + protect (leg B key) */
	enum { N = 4096 };
	static uint8_t pkts[N][256];
	static size_t lens[N];
	uint64_t done = 0, seq = 0;
	double work = 0, t_end = now_s() + secs;
	while (now_s() < t_end) {
		for (int i = 0; i < N; i++) {
			lens[i] = make_rtp(pkts[i], (uint16_t)seq++, 0x1234, PKT_SRTP - tag);
			if (sps_srtp_protect(in_tx, pkts[i], &lens[i]))
				return 1;
		}
		/* thread CPU time: the machine's other work does not count */
		double t0 = cpu_s(CLOCK_THREAD_CPUTIME_ID);
		for (int i = 0; i < N; i++) {
			if (sps_srtp_unprotect(in_rx, pkts[i], &lens[i]) ||
			    sps_srtp_protect(out_tx, pkts[i], &lens[i]))
				return 1;
		}
		work += cpu_s(CLOCK_THREAD_CPUTIME_ID) - t0;
		done += N;
	}
	printf("  %-24s %10.0f unprotect+protect/s per core  (%.0f ns CPU per packet)\n",
	       sps_srtp_suite_name(suite), (double)done / work, work * 1e9 / (double)done);
	sps_srtp_free(in_tx);
	sps_srtp_free(in_rx);
	sps_srtp_free(out_tx);
	sps_srtp_key_wipe(&k1);
	sps_srtp_key_wipe(&k2);
	return 0;
}

/* ---- 2. the relay ---- */

enum mode { TRANSCRYPT, BRIDGE, PLAIN };
static const char *const mode_name[] = {"transcrypt", "bridge", "plain RTP"};

struct run {
	int nstreams;
	enum mode mode;
	struct sps_sa dst[MAX_STREAMS]; /* leg A ports of the sessions */
	struct sps_srtp_key ka;         /* what the sender protects with */
	struct sps_srtp_key kb_tx;      /* what the relay sends leg B with */
	int send_fd, sink_fd;
	atomic_bool stop, done;
	atomic_uint_fast64_t sent, sunk, bad;
};

/* Packets are protected before the clock starts (the sender would
 * otherwise be slower than the relay: it pays for a protect per packet too),
 * round robin over the streams, with increasing sequence numbers. */
#define POOL 400000
#define SLOT 176
static uint8_t *pool;
static uint16_t pool_len[POOL];

static int pool_make(struct run *r)
{
	struct sps_srtp *tx;
	uint16_t seq[MAX_STREAMS] = {0};
	size_t tag = r->ka.suite == SPS_SRTP_AES_CM_128_HMAC_SHA1_80 ? 10 : 16;
	if (!pool && !(pool = malloc((size_t)POOL * SLOT)))
		return ENOMEM;
	if (sps_srtp_new(&tx, &r->ka, true))
		return EINVAL;
	for (int i = 0, s = 0; i < POOL; i++, s = (s + 1) % r->nstreams) {
		size_t len = make_rtp(pool + (size_t)i * SLOT, seq[s]++, (uint32_t)s + 1,
				      PKT_SRTP - tag);
		if (r->mode != PLAIN && sps_srtp_protect(tx, pool + (size_t)i * SLOT, &len))
			return EIO;
		pool_len[i] = (uint16_t)len;
	}
	sps_srtp_free(tx);
	return 0;
}

/* Send the pool once, as fast as the socket takes it (sendmmsg, 32 at a
 * time), or until stopped. */
static void *sender(void *arg)
{
	struct run *r = arg;
	struct mmsghdr m[BATCH];
	struct iovec iov[BATCH];
	int s = 0;
	for (int base = 0; base + BATCH <= POOL && !atomic_load(&r->stop); base += BATCH) {
		for (int i = 0; i < BATCH; i++) {
			iov[i].iov_base = pool + (size_t)(base + i) * SLOT;
			iov[i].iov_len = pool_len[base + i];
			memset(&m[i].msg_hdr, 0, sizeof(m[i].msg_hdr));
			m[i].msg_hdr.msg_name = (void *)sps_sa_addr(&r->dst[s]);
			m[i].msg_hdr.msg_namelen = r->dst[s].len;
			m[i].msg_hdr.msg_iov = &iov[i];
			m[i].msg_hdr.msg_iovlen = 1;
			s = (s + 1) % r->nstreams;
		}
		int n = sendmmsg(r->send_fd, m, BATCH, 0);
		if (n > 0)
			atomic_fetch_add(&r->sent, (uint64_t)n);
	}
	atomic_store(&r->done, true);
	return NULL;
}

/* Drain leg B's destination. The first 30,000 packets (all of them before
 * any sequence number wraps) are checked: they decrypt with leg B's key
 * (transcrypt) or are the plain RTP that was sent (bridge, plain). */
static void *sink(void *arg)
{
	struct run *r = arg;
	static uint8_t buf[BATCH][256];
	struct mmsghdr m[BATCH];
	struct iovec iov[BATCH];
	struct sps_srtp *rx = NULL;
	uint64_t count = 0;
	size_t plain = PKT_SRTP - (r->ka.suite == SPS_SRTP_AES_CM_128_HMAC_SHA1_80 ? 10 : 16);
	if (r->mode == TRANSCRYPT && sps_srtp_new(&rx, &r->kb_tx, false))
		return NULL;
	while (!atomic_load(&r->stop)) {
		struct pollfd p = {r->sink_fd, POLLIN, 0};
		if (poll(&p, 1, 100) != 1)
			continue;
		for (int i = 0; i < BATCH; i++) {
			iov[i].iov_base = buf[i];
			iov[i].iov_len = sizeof(buf[i]);
			memset(&m[i].msg_hdr, 0, sizeof(m[i].msg_hdr));
			m[i].msg_hdr.msg_iov = &iov[i];
			m[i].msg_hdr.msg_iovlen = 1;
		}
		int n = recvmmsg(r->sink_fd, m, BATCH, MSG_DONTWAIT, NULL);
		if (n <= 0)
			continue;
		for (int i = 0; i < n; i++, count++) {
			if (count >= 30000)
				continue;
			size_t len = m[i].msg_len;
			int err = r->mode != TRANSCRYPT
					  ? (len == plain && buf[i][12] == 0x55 ? 0 : EBADMSG)
					  : sps_srtp_unprotect(rx, buf[i], &len);
			if (err == EBADMSG || (!err && len != plain))
				atomic_fetch_add(&r->bad, 1);
		}
		atomic_fetch_add(&r->sunk, (uint64_t)n);
	}
	sps_srtp_free(rx);
	return NULL;
}

static int bind_lo(int *fd, struct sps_sa *sa)
{
	*fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	sps_sa_set_str(sa, "127.0.0.1", 0);
	int sz = 4 << 20;
	setsockopt(*fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	setsockopt(*fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	if (*fd < 0 || bind(*fd, sps_sa_addr(sa), sa->len) != 0)
		return errno;
	struct sockaddr_storage ss;
	socklen_t l = sizeof(ss);
	getsockname(*fd, (struct sockaddr *)&ss, &l);
	return sps_sa_set(sa, (struct sockaddr *)&ss, l);
}

static uint64_t relayed(struct sps_relay_sess **s, int n)
{
	uint64_t t = 0;
	for (int i = 0; i < n; i++) {
		struct sps_relay_leg_stats st;
		sps_relay_sess_stats(s[i], 0, &st);
		t += st.relayed;
	}
	return t;
}

static int relay_rate(enum sps_srtp_suite suite, int nstreams, enum mode mode, double secs)
{
	static struct run r;
	static struct sps_relay_sess *sess[MAX_STREAMS];
	struct sps_loop *loop = NULL;
	struct sps_relay *relay = NULL;
	struct sps_sa send_sa, sink_sa;
	struct sps_relay_conf conf = {"127.0.0.1", 41000, 43999, 1, 0};
	int rc = 1;

	memset(&r, 0, sizeof(r));
	r.nstreams = nstreams;
	r.mode = mode;
	if (sps_loop_new(&loop) || sps_relay_new(&relay, &conf, loop) ||
	    bind_lo(&r.send_fd, &send_sa) || bind_lo(&r.sink_fd, &sink_sa) ||
	    sps_srtp_keygen(&r.ka, suite) || sps_srtp_keygen(&r.kb_tx, suite)) {
		fprintf(stderr, "media_bench: cannot set up the relay: %s\n", strerror(errno));
		return 1;
	}
	struct sps_relay_spec spec;
	memset(&spec, 0, sizeof(spec));
	spec.leg[0].srtp = mode != PLAIN;
	spec.leg[0].rx = r.ka;
	sps_srtp_keygen(&spec.leg[0].tx, suite);
	spec.leg[0].rtp = send_sa;
	spec.leg[1].srtp = mode == TRANSCRYPT;
	sps_srtp_keygen(&spec.leg[1].rx, suite);
	spec.leg[1].tx = r.kb_tx;
	spec.leg[1].rtp = sink_sa;
	for (int i = 0; i < nstreams; i++) {
		if (sps_relay_sess_new(relay, &sess[i], NULL, NULL) ||
		    sps_relay_sess_update(sess[i], &spec)) {
			fprintf(stderr, "media_bench: cannot open session %d\n", i);
			goto out;
		}
		sps_sa_set_str(&r.dst[i], "127.0.0.1", sps_relay_sess_port(sess[i], 0));
	}
	sps_srtp_key_wipe(&spec.leg[0].tx);
	sps_srtp_key_wipe(&spec.leg[1].rx);

	if (pool_make(&r)) {
		fprintf(stderr, "media_bench: cannot prepare %d packets\n", POOL);
		goto out;
	}
	pthread_t ts, tk;
	pthread_create(&tk, NULL, sink, &r);
	usleep(100000); /* the updates are applied */
	clockid_t wc;
	pthread_getcpuclockid(relay->workers[0].thr, &wc);
	double t0 = now_s(), c0 = cpu_s(wc);
	uint64_t p0 = relayed(sess, nstreams), k0 = atomic_load(&r.sunk);
	pthread_create(&ts, NULL, sender, &r);
	while (now_s() - t0 < secs && !atomic_load(&r.done))
		usleep(10000);
	double t1 = now_s(), c1 = cpu_s(wc);
	uint64_t p1 = relayed(sess, nstreams), k1 = atomic_load(&r.sunk);
	atomic_store(&r.stop, true);
	pthread_join(ts, NULL);
	pthread_join(tk, NULL);

	double pkts = (double)(p1 - p0);
	printf("  %-23s %-10s %4d stream%s %7.0f pkt/s wall %7.0f pkt/s per core "
	       "(worker %3.0f%% busy, sink %.0f pkt/s)\n",
	       mode == PLAIN ? "-" : sps_srtp_suite_name(suite), mode_name[mode], nstreams,
	       nstreams > 1 ? "s" : " ",
	       pkts / (t1 - t0), c1 > c0 ? pkts / (c1 - c0) : 0.0, 100 * (c1 - c0) / (t1 - t0),
	       (double)(k1 - k0) / (t1 - t0));
	rc = p1 > p0 && atomic_load(&r.bad) == 0 ? 0 : 1;
	if (atomic_load(&r.bad))
		fprintf(stderr, "media_bench: %lu packets at the sink were wrong\n",
			(unsigned long)atomic_load(&r.bad));
out:
	sps_relay_free(relay);
	sps_loop_free(loop);
	close(r.send_fd);
	close(r.sink_fd);
	sps_srtp_key_wipe(&r.ka);
	sps_srtp_key_wipe(&r.kb_tx);
	return rc;
}

int main(int argc, char **argv)
{
	double secs = 2;
	int many = 100;
	bool stock = false;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-t") == 0 && i + 1 < argc)
			secs = atof(argv[++i]);
		else if (strcmp(argv[i], "-n") == 0 && i + 1 < argc)
			many = atoi(argv[++i]);
		else if (strcmp(argv[i], "--stock-libsrtp") == 0)
			stock = true;
		else {
			fprintf(stderr,
				"usage: media_bench [-t SECONDS] [-n STREAMS] [--stock-libsrtp]\n");
			return 2;
		}
	}
	if (secs <= 0 || secs > 60 || many < 2 || many > MAX_STREAMS) {
		fprintf(stderr, "media_bench: -t 0..60 seconds, -n 2..%d streams\n", MAX_STREAMS);
		return 2;
	}
	if (stock)
		sps_srtp_use_stock_kernels();
	if (sps_srtp_init()) {
		fprintf(stderr, "media_bench: libsrtp init failed\n");
		return 1;
	}
	int rc = 0;
	printf("crypto kernels: %s\n", stock ? "libsrtp's own (--stock-libsrtp)"
					     : "sipsec's OpenSSL EVP kernels (media/srtp_ossl.c)");
	printf("raw libsrtp, one thread, %d-byte SRTP packets:\n", PKT_SRTP);
	rc |= raw_rate(SPS_SRTP_AES_CM_128_HMAC_SHA1_80, secs);
	rc |= raw_rate(SPS_SRTP_AES_CM_128_HMAC_SHA1_32, secs / 2);
	rc |= raw_rate(SPS_SRTP_AEAD_AES_128_GCM, secs / 2);
	rc |= raw_rate(SPS_SRTP_AEAD_AES_256_GCM, secs / 2);
	printf("relay over 127.0.0.1, one media worker, %d-byte SRTP in:\n", PKT_SRTP);
	const enum sps_srtp_suite cm = SPS_SRTP_AES_CM_128_HMAC_SHA1_80;
	rc |= relay_rate(cm, 1, TRANSCRYPT, secs);
	rc |= relay_rate(cm, many, TRANSCRYPT, secs);
	rc |= relay_rate(cm, 1, BRIDGE, secs);
	rc |= relay_rate(cm, many, BRIDGE, secs);
	/* for reference: the relay's own cost with a cheaper suite */
	rc |= relay_rate(SPS_SRTP_AEAD_AES_128_GCM, 1, TRANSCRYPT, secs);
	rc |= relay_rate(SPS_SRTP_AEAD_AES_128_GCM, many, TRANSCRYPT, secs);
	/* and without any crypto: what the kernel's UDP path alone allows */
	rc |= relay_rate(cm, 1, PLAIN, secs);
	rc |= relay_rate(cm, many, PLAIN, secs);
	return rc ? 1 : 0;
}
