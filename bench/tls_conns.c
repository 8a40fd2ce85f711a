/* bench/tls_conns: what an idle TLS connection costs `sipsec serve` in
 * resident memory, and how many full and resumed TLS handshakes per second
 * it completes. One command: it starts the server itself (temp data dir,
 * 127.0.0.1, free ports, limits raised to fit -n), drives it, and stops it.
 *
 *   build/release/bench/tls_conns [-n 10000] [-V 1.3|1.2] [-s build/release/sipsec]
 *
 * Every client verifies the server against DATA/certs/ca.pem and its IP SAN
 * 127.0.0.1, and speaks only the TLS version of -V (1.3 by default; 1.2 is
 * what many deployed phones speak, with RFC 5077 session tickets). A
 * handshake counts once the server has answered a CRLFCRLF keep-alive ping
 * on the new connection with its CRLF pong (RFC 5626 4.4.1): then the server has
 * finished its side and handed the connection to its SIP loop, so none of
 * the server's work is left out. (A NewSessionTicket is no such signal: a
 * TLS 1.2 resumption under the current ticket key gets none.)
 *
 * 1. Warm-up: 64 handshakes, closed; one session ticket kept for step 4.
 * 2. (skipped with -n 0) rss_before: server VmRSS once it is quiet. Then N
 *    connections are handshaken (non-blocking, epoll, -c in flight per
 *    client thread), pinged once, and held open and silent, like phones between two
 *    keep-alives; rss_after once the server's RSS is stable.
 *    bytes_per_conn = (rss_after - rss_before) / N.
 * 3. full_handshakes_per_s: fresh connections for -d seconds (at most -m),
 *    each reset (RST: no TIME_WAIT) as soon as its pong arrived. The -d
 *    seconds are 1 s slices that alternate with those of step 4, so that
 *    both rates see the same load from other programs; the handshakes in
 *    flight at the end of a slice are finished and counted.
 * 4. resumed_handshakes_per_s: the same with SSL_set_session(the ticket of
 *    step 1); connections the server did not resume are reported apart.
 *    -R full or -R resumed runs only one of 3. and 4. (for profiling).
 * Client and server share the machine's cores: the server's and the
 * client's CPU time per handshake are printed so the server's own cost can
 * be read apart from the client's.
 *
 * Attach mode (-a PORT -D DATA) measures an already running server instead
 * (its pid from DATA/sipsec.pid, its CA from DATA/certs/ca.pem). */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#define MAX_THREADS 16
#define MAX_INFLIGHT 1024
#define WARMUP_CONNS 64
#define EPOLL_BATCH 64
#define LOOP_MAX 100000000UL /* iteration bound of every event loop */
#define START_TIMEOUT_S 30.0
#define QUIET_TIMEOUT_S 20.0
#define STOP_TIMEOUT_S 10.0

#include "bench_serve.h"
#define RSS_QUIET_KB 64 /* "stable": moved less than this over QUIET_SAMPLES */
#define QUIET_SAMPLES 10 /* of 100 ms */
#define DRAIN_S 10.0	 /* at most, for the handshakes in flight at a slice's end */

/* ---- the server process, seen through /proc ---- */

/* CPU seconds (user + system) of pid's SIP loop thread (the main thread)
 * into *sip and of its TLS handshake workers (threads named "sps-tls-N")
 * into *hs. Returns 0, or -1 when /proc could not be read. */
static int proc_thread_cpu(pid_t pid, double *sip, double *hs)
{
	char path[96], buf[512];
	*sip = *hs = 0;
	snprintf(path, sizeof(path), "/proc/%ld/task", (long)pid);
	DIR *d = opendir(path);
	if (!d)
		return -1;
	for (int i = 0; i < 4096; i++) {
		struct dirent *e = readdir(d);
		if (!e)
			break;
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%ld/task/%.20s/stat", (long)pid, e->d_name);
		FILE *f = fopen(path, "r");
		if (!f)
			continue;
		size_t n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
		buf[n] = '\0';
		char *lp = strchr(buf, '('), *rp = strrchr(buf, ')');
		unsigned long ut, st;
		if (!lp || !rp ||
		    sscanf(rp + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut,
			   &st) != 2)
			continue;
		double s = (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
		if (atol(e->d_name) == (long)pid)
			*sip += s;
		else if (strncmp(lp + 1, "sps-tls-", 8) == 0)
			*hs += s;
	}
	closedir(d);
	return 0;
}

/* Open descriptors of pid, or -1. */
static long proc_fds(pid_t pid)
{
	char path[64];
	long n = 0;
	snprintf(path, sizeof(path), "/proc/%ld/fd", (long)pid);
	DIR *d = opendir(path);
	if (!d)
		return -1;
	for (long i = 0; i < 10000000L; i++) {
		struct dirent *e = readdir(d);
		if (!e)
			break;
		if (e->d_name[0] != '.')
			n++;
	}
	closedir(d);
	return n;
}

/* Wait until pid holds between fds_min and fds_max descriptors and its RSS
 * moved less than RSS_QUIET_KB over QUIET_SAMPLES samples 100 ms apart; at
 * most QUIET_TIMEOUT_S. Returns the last RSS (kB); *quiet tells whether it
 * settled. */
static long wait_quiet(pid_t pid, long fds_min, long fds_max, bool *quiet)
{
	long hist[QUIET_SAMPLES];
	unsigned n = 0;
	long rss = -1;
	double end = now_s() + QUIET_TIMEOUT_S;
	*quiet = false;
	for (int i = 0; i < 100000 && now_s() < end && !g_stop; i++) {
		long fds = proc_fds(pid);
		rss = proc_kb(pid, "VmRSS:");
		if (rss < 0 || fds < 0)
			return rss;
		if (fds < fds_min || fds > fds_max) {
			n = 0;
		} else {
			hist[n % QUIET_SAMPLES] = rss;
			n++;
			if (n >= QUIET_SAMPLES) {
				long lo = hist[0], hi = hist[0];
				for (unsigned k = 1; k < QUIET_SAMPLES; k++) {
					lo = hist[k] < lo ? hist[k] : lo;
					hi = hist[k] > hi ? hist[k] : hi;
				}
				if (hi - lo < RSS_QUIET_KB) {
					*quiet = true;
					return rss;
				}
			}
		}
		sleep_ms(100);
	}
	return rss;
}

/* Wait until pid holds at most fds_max descriptors (polled every 20 ms, at
 * most timeout_s). */
static void wait_fds(pid_t pid, long fds_max, double timeout_s)
{
	double end = now_s() + timeout_s;
	for (int i = 0; i < 100000 && now_s() < end && !g_stop; i++) {
		long fds = proc_fds(pid);
		if (fds < 0 || fds <= fds_max)
			return;
		sleep_ms(20);
	}
}

/* ---- client connections ---- */

/* One phase of the benchmark, shared by the client threads (read-only
 * except the counters). */
struct phase {
	SSL_CTX *ctx;
	struct sockaddr_in dst;
	const char *verify_ip;	 /* checked against the IP SANs, or NULL */
	const char *verify_host; /* checked against the DNS SANs and sent as SNI */
	SSL_SESSION *resume;	 /* resume with this session, or NULL */
	bool keep;		 /* hold completed connections open */
	bool capture;		 /* keep the first session ticket in g_session */
	unsigned total;		 /* connections to start in all */
	unsigned inflight;	 /* handshakes in flight per thread */
	double deadline;	 /* CLOCK_MONOTONIC: no new connection after it */
	double drain_s;		 /* then as long for those in flight to finish;
				    0: dropped at the deadline, not counted */
	atomic_uint started, done, failed, not_resumed;
};

/* A client connection; owned by the thread that made it. */
struct cl {
	struct phase *ph;
	int fd;
	SSL *ssl;
	unsigned events;
	unsigned slot; /* index in the thread's active[] */
	bool hs_done;
	bool reused; /* SSL_session_reused at the end of the handshake (a
			NewSessionTicket that follows clears it) */
	bool pinged;	/* the keep-alive ping is sent */
	unsigned pong;	/* bytes of the pong received */
};

/* A client thread: its in-flight connections and those it holds. */
struct worker {
	struct phase *ph;
	pthread_t thr;
	struct cl *active[MAX_INFLIGHT];
	unsigned nactive;
	struct cl **kept;
	unsigned nkept, capkept;
};

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static SSL_SESSION *g_session; /* from the warm-up, for the resumed phase */
static char g_proto[64];       /* what the warm-up negotiated */

/* SSL_CTX_sess_set_new_cb: a ticket arrived. Returns 1 when the session is
 * kept (g_session), 0 to let OpenSSL free it. */
static int new_session_cb(SSL *ssl, SSL_SESSION *sess)
{
	struct cl *c = SSL_get_app_data(ssl);
	int kept = 0;
	if (c && c->ph->capture && SSL_SESSION_is_resumable(sess)) {
		pthread_mutex_lock(&g_lock);
		if (!g_session) {
			g_session = sess;
			kept = 1;
			snprintf(g_proto, sizeof(g_proto), "%s %s", SSL_get_version(ssl),
				 SSL_get_cipher_name(ssl));
		}
		pthread_mutex_unlock(&g_lock);
	}
	return kept;
}

static void cl_free(struct cl *c, bool reset)
{
	if (reset) {
		struct linger lg = {1, 0};
		(void)setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	}
	/* a deliberate close: without this SSL_free marks the session (maybe
	 * g_session) "not resumable", as after a broken connection */
	SSL_set_shutdown(c->ssl, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
	SSL_free(c->ssl);
	close(c->fd);
	free(c);
}

/* Connect (non-blocking) and set up the client SSL. NULL on failure. */
static struct cl *cl_new(struct phase *ph, int epfd)
{
	struct cl *c = calloc(1, sizeof(*c));
	int one = 1;
	if (!c)
		return NULL;
	c->ph = ph;
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		free(c);
		return NULL;
	}
	(void)setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if ((connect(c->fd, (struct sockaddr *)&ph->dst, sizeof(ph->dst)) < 0 &&
	     errno != EINPROGRESS) ||
	    !(c->ssl = SSL_new(ph->ctx)) || SSL_set_fd(c->ssl, c->fd) != 1)
		goto fail;
	SSL_set_connect_state(c->ssl);
	SSL_set_app_data(c->ssl, c);
	if (ph->verify_ip &&
	    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl), ph->verify_ip) != 1)
		goto fail;
	if (ph->verify_host && (SSL_set1_host(c->ssl, ph->verify_host) != 1 ||
				SSL_set_tlsext_host_name(c->ssl, ph->verify_host) != 1))
		goto fail;
	if (ph->resume) {
		/* a copy each: OpenSSL marks a TLS 1.3 session used for a
		 * resumption "not resumable" (RFC 8446 C.4: tickets are single-use) */
		SSL_SESSION *sess = SSL_SESSION_dup(ph->resume);
		int ok = sess && SSL_set_session(c->ssl, sess) == 1;
		SSL_SESSION_free(sess);
		if (!ok)
			goto fail;
	}
	c->events = EPOLLOUT;
	struct epoll_event ev = {.events = c->events, .data.ptr = c};
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev) != 0)
		goto fail;
	return c;
fail:
	if (c->ssl)
		SSL_free(c->ssl);
	close(c->fd);
	free(c);
	return NULL;
}

/* Drive c: handshake, a CRLFCRLF keep-alive ping (RFC 5626 4.4.1), then
 * read until the CRLF pong came. Returns 1 (done), 0 (waiting: events
 * updated) or -1 (failed). */
static int cl_step(struct cl *c, int epfd)
{
	static const char ping[] = "\r\n\r\n";
	unsigned want = EPOLLIN;
	int r, e;
	ERR_clear_error();
	if (!c->hs_done) {
		r = SSL_do_handshake(c->ssl);
		if (r == 1) {
			c->hs_done = true;
			c->reused = SSL_session_reused(c->ssl) == 1;
		} else {
			e = SSL_get_error(c->ssl, r);
			if (e == SSL_ERROR_WANT_WRITE)
				want = EPOLLOUT;
			else if (e != SSL_ERROR_WANT_READ)
				return -1;
		}
	}
	if (c->hs_done && !c->pinged) {
		r = SSL_write(c->ssl, ping, (int)sizeof(ping) - 1);
		if (r == (int)sizeof(ping) - 1) {
			c->pinged = true;
		} else {
			e = SSL_get_error(c->ssl, r);
			if (e == SSL_ERROR_WANT_WRITE)
				want = EPOLLOUT;
			else if (e != SSL_ERROR_WANT_READ)
				return -1;
		}
	}
	for (int i = 0; c->pinged && i < 16; i++) {
		char buf[64];
		r = SSL_read(c->ssl, buf, (int)sizeof(buf));
		if (r > 0) {
			c->pong += (unsigned)r;
			if (c->pong >= 2)
				return 1; /* the pong: "\r\n" */
			continue;
		}
		e = SSL_get_error(c->ssl, r);
		if (e == SSL_ERROR_WANT_WRITE)
			want = EPOLLOUT;
		else if (e != SSL_ERROR_WANT_READ)
			return -1;
		break;
	}
	if (want != c->events) {
		struct epoll_event ev = {.events = want, .data.ptr = c};
		if (epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev) != 0)
			return -1;
		c->events = want;
	}
	return 0;
}

static void active_remove(struct worker *w, struct cl *c)
{
	struct cl *last = w->active[--w->nactive];
	w->active[c->slot] = last;
	last->slot = c->slot;
}

/* c left the handshake with result r (1 done, -1 failed): hold or close it. */
static void cl_finish(struct worker *w, struct cl *c, int r, int epfd)
{
	struct phase *ph = w->ph;
	active_remove(w, c);
	if (r < 0) {
		atomic_fetch_add(&ph->failed, 1);
		cl_free(c, true);
		return;
	}
	if (ph->resume && !c->reused)
		atomic_fetch_add(&ph->not_resumed, 1);
	else
		atomic_fetch_add(&ph->done, 1);
	if (!ph->keep) {
		cl_free(c, true);
		return;
	}
	(void)epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
	if (w->nkept == w->capkept) {
		unsigned cap = w->capkept ? w->capkept * 2 : 1024;
		struct cl **nk = realloc(w->kept, cap * sizeof(*nk));
		if (!nk) {
			cl_free(c, true);
			return;
		}
		w->kept = nk;
		w->capkept = cap;
	}
	w->kept[w->nkept++] = c;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct phase *ph = w->ph;
	struct epoll_event evs[EPOLL_BATCH];
	int epfd = epoll_create1(EPOLL_CLOEXEC);
	if (epfd < 0)
		return NULL;
	for (unsigned long it = 0; it < LOOP_MAX && !g_stop; it++) {
		double now = now_s();
		bool time_left = now < ph->deadline;
		/* keep inflight handshakes going while connections are left */
		for (unsigned k = 0; time_left && w->nactive < ph->inflight && k < MAX_INFLIGHT; k++) {
			if (atomic_fetch_add(&ph->started, 1) >= ph->total)
				break;
			struct cl *c = cl_new(ph, epfd);
			if (!c) {
				atomic_fetch_add(&ph->failed, 1);
				continue;
			}
			c->slot = w->nactive;
			w->active[w->nactive++] = c;
			int r = cl_step(c, epfd);
			if (r != 0)
				cl_finish(w, c, r, epfd);
		}
		if (!w->nactive || now >= ph->deadline + ph->drain_s)
			break;
		int n = epoll_wait(epfd, evs, EPOLL_BATCH, 100);
		for (int i = 0; i < n; i++) {
			struct cl *c = evs[i].data.ptr;
			int r = cl_step(c, epfd);
			if (r != 0)
				cl_finish(w, c, r, epfd);
		}
	}
	/* out of time (or drain time): what is still in flight is dropped, not
	 * counted */
	while (w->nactive) {
		struct cl *c = w->active[w->nactive - 1];
		w->nactive--;
		cl_free(c, true);
	}
	close(epfd);
	return NULL;
}

/* Run a phase on nthreads client threads; the connections held (keep) are
 * appended to *kept. Returns the wall-clock seconds it took. */
static double run_phase(struct phase *ph, unsigned nthreads, struct cl ***kept, unsigned *nkept)
{
	struct worker *ws = calloc(nthreads, sizeof(*ws));
	double t0 = now_s();
	unsigned started = 0;
	if (!ws)
		return 0;
	for (unsigned i = 0; i < nthreads; i++) {
		ws[i].ph = ph;
		if (pthread_create(&ws[i].thr, NULL, worker_main, &ws[i]) != 0)
			break;
		started++;
	}
	for (unsigned i = 0; i < started; i++)
		pthread_join(ws[i].thr, NULL);
	double secs = now_s() - t0;
	for (unsigned i = 0; i < started; i++) {
		if (kept && ws[i].nkept) {
			struct cl **nk = realloc(*kept, (*nkept + ws[i].nkept) * sizeof(*nk));
			if (nk) {
				memcpy(nk + *nkept, ws[i].kept, ws[i].nkept * sizeof(*nk));
				*kept = nk;
				*nkept += ws[i].nkept;
			} else {
				for (unsigned k = 0; k < ws[i].nkept; k++)
					cl_free(ws[i].kept[k], true);
			}
		}
		free(ws[i].kept);
	}
	free(ws);
	return secs;
}

/* ---- starting and stopping the server ---- */

/* fork/exec `sipsec serve` on 127.0.0.1 with a fresh data dir; wait for its
 * pid file. Returns the pid, or 0 (reported). */
static pid_t start_server(const char *sipsec, const char *dir, unsigned tls_port,
			  unsigned max_conns, const char *workers)
{
	char data[PATH_MAX + 8], log[PATH_MAX + 16], sip_s[16], tls_s[16], max_s[16];
	unsigned sip_port = free_port();
	snprintf(data, sizeof(data), "%s/data", dir);
	snprintf(log, sizeof(log), "%s/serve.log", dir);
	snprintf(sip_s, sizeof(sip_s), "%u", sip_port);
	snprintf(tls_s, sizeof(tls_s), "%u", tls_port);
	snprintf(max_s, sizeof(max_s), "%u", max_conns);
	if (!sip_port || !tls_port) {
		fprintf(stderr, "tls_conns: no free port on 127.0.0.1\n");
		return 0;
	}
	const char *argv[] = {sipsec, "serve", "--data", data, "--listen", "127.0.0.1",
			      "--domain", "bench.invalid", "--sip-port", sip_s, "--tls-port",
			      tls_s, "--https-port", "0", "--max-connections", max_s, "--max-connections-per-ip",
			      max_s, "--log-level", "warn", workers ? "--handshake-workers" : NULL,
			      workers, NULL};
	return spawn_server("tls_conns", argv, data, log);
}

/* ---- main ---- */

static void usage(void)
{
	fprintf(stderr,
		"usage: tls_conns [-n N] [-V 1.2|1.3] [-s SIPSEC] [-t THREADS] [-c INFLIGHT] [-d SECS]\n"
		"                 [-m MAX] [-R full|resumed] [-w WORKERS] [-a PORT -D DATA [-H HOST]]\n"
		"  -n N        idle TLS connections to hold (10000; 0 skips the memory run)\n"
		"  -V VERSION  the TLS version the clients speak: 1.3 (default) or 1.2\n"
		"  -s SIPSEC   the sipsec binary to start (default: ../sipsec next to this program)\n"
		"  -t THREADS  client threads (2)\n"
		"  -c INFLIGHT handshakes in flight per client thread (32)\n"
		"  -d SECS     seconds of each handshake-rate run, in 1 s slices that alternate\n"
		"              full and resumed (5)\n"
		"  -m MAX      handshakes at most in each rate run (100000)\n"
		"  -R PHASE    run only the full or only the resumed handshake-rate run\n"
		"  -w WORKERS  the server's --handshake-workers (default: its own default)\n"
		"  -a PORT     attach to a running server's TLS PORT instead of starting one;\n"
		"  -D DATA     ...its data dir (pid file, certs/ca.pem); verifies host -H\n"
		"  -H HOST     name or IP to verify the server certificate against (127.0.0.1)\n");
}

static SSL_CTX *client_ctx(const char *ca, int version)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx)
		return NULL;
	if (SSL_CTX_set_min_proto_version(ctx, version) != 1 ||
	    SSL_CTX_set_max_proto_version(ctx, version) != 1 ||
	    SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	/* tickets go to new_session_cb only */
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
	SSL_CTX_sess_set_new_cb(ctx, new_session_cb);
	return ctx;
}

int main(int argc, char **argv)
{
	unsigned n = 10000, nthreads = 2, inflight = 32, secs = 5, max_hs = 100000, port = 0;
	int version = TLS1_3_VERSION, only = -1; /* -R: 0 full, 1 resumed */
	const char *sipsec = NULL, *workers = NULL, *attach_data = NULL, *host = "127.0.0.1";
	char sipsec_buf[PATH_MAX + 16], dir[] = "/tmp/sps-bench.XXXXXX", log[PATH_MAX];
	char data[PATH_MAX], ca[PATH_MAX + 16];
	bool made_dir = false, quiet;
	pid_t pid = 0;
	int rc = 1, opt;
	unsigned tmp;

	while ((opt = getopt(argc, argv, "n:V:s:t:c:d:m:R:w:a:D:H:h")) != -1) {
		switch (opt) {
		case 'n':
			if (!parse_uint(optarg, 0, 1000000, &n))
				goto bad;
			break;
		case 'V':
			if (strcmp(optarg, "1.3") == 0)
				version = TLS1_3_VERSION;
			else if (strcmp(optarg, "1.2") == 0)
				version = TLS1_2_VERSION;
			else
				goto bad;
			break;
		case 'R':
			if (strcmp(optarg, "full") == 0)
				only = 0;
			else if (strcmp(optarg, "resumed") == 0)
				only = 1;
			else
				goto bad;
			break;
		case 's':
			sipsec = optarg;
			break;
		case 't':
			if (!parse_uint(optarg, 1, MAX_THREADS, &nthreads))
				goto bad;
			break;
		case 'c':
			if (!parse_uint(optarg, 1, MAX_INFLIGHT, &inflight))
				goto bad;
			break;
		case 'd':
			if (!parse_uint(optarg, 1, 600, &secs))
				goto bad;
			break;
		case 'm':
			if (!parse_uint(optarg, 1, 10000000, &max_hs))
				goto bad;
			break;
		case 'w':
			if (!parse_uint(optarg, 0, 256, &tmp) && strcmp(optarg, "-1") != 0)
				goto bad;
			workers = optarg;
			break;
		case 'a':
			if (!parse_uint(optarg, 1, 65535, &port))
				goto bad;
			break;
		case 'D':
			attach_data = optarg;
			break;
		case 'H':
			host = optarg;
			break;
		default:
			goto bad;
		}
	}
	if (optind != argc || (port != 0) != (attach_data != NULL))
		goto bad;

	catch_signals();

	/* N connections here and N in the server (which inherits the limit) */
	unsigned long long nofile = raise_nofile();
	if ((unsigned long long)n + nthreads * inflight + 256 > nofile) {
		fprintf(stderr,
			"tls_conns: -n %u needs more open files than the limit of %llu; lower -n or "
			"raise the limit (ulimit -n)\n",
			n, nofile);
		return 1;
	}

	if (attach_data) {
		snprintf(data, sizeof(data), "%s", attach_data);
		if (!(pid = read_pidfile(data)) || kill(pid, 0) != 0) {
			fprintf(stderr, "tls_conns: no running server in %s/sipsec.pid\n", data);
			return 1;
		}
	} else {
		if (!(sipsec = sipsec_path(sipsec, sipsec_buf, sizeof(sipsec_buf))))
			goto bad;
		if (!sipsec_runnable("tls_conns", sipsec, "-s"))
			return 1;
		if (!mkdtemp(dir)) {
			perror("tls_conns: mkdtemp");
			return 1;
		}
		made_dir = true;
		snprintf(data, sizeof(data), "%s/data", dir);
		port = free_port();
		pid = start_server(sipsec, dir, port, n + 1024, workers);
		if (!pid)
			goto out;
	}
	snprintf(ca, sizeof(ca), "%s/certs/ca.pem", data);
	SSL_CTX *ctx = client_ctx(ca, version);
	if (!ctx) {
		fprintf(stderr, "tls_conns: cannot load the CA %s\n", ca);
		goto out;
	}
	struct sockaddr_in dst = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	dst.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	struct in6_addr a6;
	bool host_is_ip = inet_pton(AF_INET, host, &a6) == 1 || inet_pton(AF_INET6, host, &a6) == 1;
	struct phase base = {.ctx = ctx, .dst = dst, .verify_ip = host_is_ip ? host : NULL,
			     .verify_host = host_is_ip ? NULL : host};
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);

	/* 1. warm-up, and the session ticket for the resumed run */
	long fds0 = proc_fds(pid); /* listeners, loops, log: no connection yet */
	struct phase ph = base;
	ph.capture = true;
	ph.total = WARMUP_CONNS;
	ph.inflight = 8;
	ph.deadline = now_s() + 30;
	run_phase(&ph, 1, NULL, NULL);
	if (atomic_load(&ph.done) == 0 || !g_session) {
		fprintf(stderr, "tls_conns: no TLS handshake with 127.0.0.1:%u completed (%u failed)\n",
			port, atomic_load(&ph.failed));
		if (made_dir) {
			snprintf(log, sizeof(log), "%s/serve.log", dir);
			print_log(log, "  | ", 40);
		}
		goto out_ctx;
	}
	printf("# tls_conns: server pid %ld on 127.0.0.1:%u, %s; %ld cpus shared by server and "
	       "client; client: %u threads x %u handshakes in flight\n",
	       (long)pid, port, g_proto, cpus, nthreads, inflight);

	/* 2. memory per idle connection (-n 0: skipped) */
	struct cl **kept = NULL;
	unsigned nkept = 0;
	if (n > 0) {
		long rss0 = wait_quiet(pid, 0, fds0, &quiet);
		if (!quiet)
			printf("# the server did not settle before the run (fds %ld, expected %ld)\n",
			       proc_fds(pid), fds0);
		ph = base;
		ph.keep = true;
		ph.total = n;
		ph.inflight = inflight;
		ph.deadline = now_s() + 120 + n / 100.0;
		double hold_s = run_phase(&ph, nthreads, &kept, &nkept);
		long rss1 = wait_quiet(pid, fds0 + nkept, fds0 + nkept, &quiet);
		long fds1 = proc_fds(pid);
		if (rss0 < 0 || rss1 < 0) {
			fprintf(stderr, "tls_conns: cannot read /proc/%ld/status\n", (long)pid);
			goto out_kept;
		}
		printf("tls_conns: N=%u rss_before_kb=%ld rss_after_kb=%ld bytes_per_conn=%.0f\n", nkept,
		       rss0, rss1, nkept ? (double)(rss1 - rss0) * 1024.0 / nkept : 0.0);
		printf("# held %u of %u connections (%u failed) in %.1f s; server fds %ld -> %ld%s\n", nkept,
		       n, atomic_load(&ph.failed), hold_s, fds0, fds1,
		       quiet ? "" : "; RSS had not settled");
		for (unsigned i = 0; i < nkept; i++)
			cl_free(kept[i], true);
		free(kept);
		kept = NULL;
		long rss2 = wait_quiet(pid, 0, fds0, &quiet);
		printf("# after closing them: rss_kb=%ld%s\n", rss2, quiet ? "" : " (not settled)");
	}

	/* 3. and 4. handshake rates: -d seconds of each, in slices of one second
	 * that alternate full and resumed, so that both see the same load from
	 * whatever else runs on the machine. A slice starts no handshake after
	 * its second and lets those in flight finish: every handshake the
	 * server worked on is counted, and its CPU time is divided by them. */
	struct tally {
		unsigned started, done, failed, not_resumed;
		double el, s_cpu, c_cpu, sip, hs;
	} tl[2];
	memset(tl, 0, sizeof(tl));
	for (unsigned sl = 0; sl < secs && !g_stop; sl++) {
		for (int resumed = 0; resumed < 2 && !g_stop; resumed++) {
			struct tally *t = &tl[resumed];
			if ((only >= 0 && resumed != only) || t->started >= max_hs)
				continue;
			ph = base;
			ph.resume = resumed ? g_session : NULL;
			ph.total = max_hs - t->started;
			ph.inflight = inflight;
			ph.drain_s = DRAIN_S;
			double sip0, hs0, sip1, hs1;
			double s_cpu0 = proc_cpu_s(pid), c_cpu0 = self_cpu_s();
			(void)proc_thread_cpu(pid, &sip0, &hs0);
			ph.deadline = now_s() + 1;
			t->el += run_phase(&ph, nthreads, NULL, NULL);
			t->s_cpu += proc_cpu_s(pid) - s_cpu0;
			t->c_cpu += self_cpu_s() - c_cpu0;
			(void)proc_thread_cpu(pid, &sip1, &hs1);
			t->sip += sip1 - sip0;
			t->hs += hs1 - hs0;
			unsigned st = atomic_load(&ph.started);
			t->started += st < ph.total ? st : ph.total;
			t->done += atomic_load(&ph.done);
			t->failed += atomic_load(&ph.failed);
			t->not_resumed += atomic_load(&ph.not_resumed);
			wait_fds(pid, fds0, QUIET_TIMEOUT_S); /* the resets drained */
		}
	}
	double rate[2] = {0, 0}, srv_us[2] = {0, 0};
	for (int resumed = 0; resumed < 2 && !g_stop; resumed++) {
		struct tally *t = &tl[resumed];
		if (only >= 0 && resumed != only)
			continue;
		rate[resumed] = t->el > 0 ? t->done / t->el : 0;
		srv_us[resumed] = t->done ? t->s_cpu * 1e6 / t->done : 0;
		printf("%s_handshakes_per_s=%.0f\n", resumed ? "resumed" : "full", rate[resumed]);
		printf("# %s: %u in %.2f s, %u failed, %u not resumed; server cpu %.0f us/handshake "
		       "(%.0f%% of one core; SIP thread %.0f us, handshake workers %.0f us), "
		       "client cpu %.0f us/handshake\n",
		       resumed ? "resumed" : "full", t->done, t->el, t->failed, t->not_resumed,
		       srv_us[resumed], t->el > 0 ? 100.0 * t->s_cpu / t->el : 0,
		       t->done ? t->sip * 1e6 / t->done : 0, t->done ? t->hs * 1e6 / t->done : 0,
		       t->done ? t->c_cpu * 1e6 / t->done : 0);
	}
	if (only < 0) {
		printf("ratio=%.2f\n", rate[0] > 0 ? rate[1] / rate[0] : 0);
		/* what the ratio would be for a server whose clients run elsewhere
		 * and whose CPU is the limit: its CPU per full / per resumed */
		printf("server_cpu_ratio=%.2f\n", srv_us[1] > 0 ? srv_us[0] / srv_us[1] : 0);
	}
	rc = g_stop ? 1 : 0;
out_kept:
	for (unsigned i = 0; i < nkept && kept; i++)
		cl_free(kept[i], true);
	free(kept);
out_ctx:
	SSL_SESSION_free(g_session);
	g_session = NULL;
	SSL_CTX_free(ctx);
out:
	if (pid && !attach_data && !server_stopped("tls_conns", pid, NULL))
		rc = 1;
	if (made_dir)
		nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	return rc;
bad:
	usage();
	return 2;
}
