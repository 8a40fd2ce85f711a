/* bench/bench_serve.h: what the benchmark programs share: signals, clocks,
 * CPU time and memory from /proc, quantiles, option parsing and the sipsec
 * binary to run, free ports on 127.0.0.1, and starting `sipsec serve` on a
 * temp data dir (ready when its pid file names it) and stopping it.
 * Header-only: each benchmark is one program (Makefile: bench/NAME.c -> NAME). */
#ifndef SPS_BENCH_SERVE_H
#define SPS_BENCH_SERVE_H

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <math.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef START_TIMEOUT_S
#define START_TIMEOUT_S 30.0
#endif
#ifndef STOP_TIMEOUT_S
#define STOP_TIMEOUT_S 10.0
#endif
#define BENCH_SHARED __attribute__((unused)) static

/* Set by SIGINT/SIGTERM: every loop of a benchmark ends early. */
BENCH_SHARED volatile sig_atomic_t g_stop;

BENCH_SHARED void on_signal(int signo)
{
	(void)signo;
	g_stop = 1;
}

BENCH_SHARED double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

BENCH_SHARED void sleep_ms(unsigned ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR && !g_stop)
		;
}

/* User + system CPU seconds of pid (all its threads), or -1. */
BENCH_SHARED double proc_cpu_s(pid_t pid)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	char *p = strrchr(buf, ')');
	unsigned long ut, st;
	/* after the name: state ppid pgrp session tty tpgid flags minflt cminflt
	 * majflt cmajflt utime stime */
	if (!p || sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
		return -1;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* The "Vm...:" line field (e.g. "VmRSS:", "VmHWM:") of /proc/PID/status
 * in kB, or -1. */
BENCH_SHARED long proc_kb(pid_t pid, const char *field)
{
	char path[64], line[256];
	long kb = -1;
	size_t fl = strlen(field);
	snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	for (int i = 0; i < 200 && fgets(line, sizeof(line), f); i++)
		if (strncmp(line, field, fl) == 0 && sscanf(line + fl, " %ld", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

/* This process's user + system CPU seconds. */
BENCH_SHARED double self_cpu_s(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* SIGINT and SIGTERM end the benchmark's loops (g_stop); a peer's close
 * must not kill it (SIGPIPE ignored). */
BENCH_SHARED void catch_signals(void)
{
	struct sigaction sa = {.sa_handler = on_signal};
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/* 16 random hex digits naming this run (in Call-IDs, tags, passwords) into
 * out. Returns 0 or -1. */
BENCH_SHARED int run_id_new(char out[17])
{
	uint8_t rnd[8];
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		return -1;
	for (int i = 0; i < 8; i++)
		snprintf(out + 2 * i, 3, "%02x", rnd[i]);
	return 0;
}

/* A port free on 127.0.0.1 for TCP and UDP, or 0. */
BENCH_SHARED unsigned free_port(void)
{
	for (int tries = 0; tries < 50; tries++) {
		struct sockaddr_in a = {.sin_family = AF_INET};
		socklen_t al = sizeof(a);
		unsigned port = 0;
		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		int t = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		int u = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (t >= 0 && u >= 0 && bind(t, (struct sockaddr *)&a, sizeof(a)) == 0 &&
		    getsockname(t, (struct sockaddr *)&a, &al) == 0 &&
		    bind(u, (struct sockaddr *)&a, sizeof(a)) == 0)
			port = ntohs(a.sin_port);
		if (t >= 0)
			close(t);
		if (u >= 0)
			close(u);
		if (port)
			return port;
	}
	return 0;
}

/* qsort comparison of doubles, ascending. */
BENCH_SHARED int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* The p-quantile (0 < p <= 1) of the sorted v, in milliseconds (nearest rank). */
BENCH_SHARED double pct_ms(const double *v, size_t n, double p)
{
	if (!n)
		return 0;
	size_t k = (size_t)ceil(p * (double)n);
	return 1000.0 * v[k ? k - 1 : 0];
}

/* *out = s as a decimal number in lo..hi. Returns false when it is not. */
BENCH_SHARED bool parse_uint(const char *s, unsigned lo, unsigned hi, unsigned *out)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi)
		return false;
	*out = (unsigned)v;
	return true;
}

/* Raise this process's open-file limit to its hard limit (the server it
 * starts inherits it). Returns the limit now in force. */
BENCH_SHARED unsigned long long raise_nofile(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	getrlimit(RLIMIT_NOFILE, &rl);
	return (unsigned long long)rl.rlim_cur;
}

/* The sipsec binary to start: given (the command line's), else ../sipsec
 * next to this program, written into buf. NULL when /proc/self/exe cannot
 * be read. */
BENCH_SHARED const char *sipsec_path(const char *given, char *buf, size_t size)
{
	char self[PATH_MAX];
	if (given)
		return given;
	ssize_t l = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (l <= 0)
		return NULL;
	self[l] = '\0';
	char *slash = strrchr(self, '/');
	if (slash)
		*slash = '\0';
	snprintf(buf, size, "%s/../sipsec", self);
	return buf;
}

/* Can path be run? Otherwise say so, naming the option (opt) that names
 * the binary. prog names the benchmark in the message. */
BENCH_SHARED bool sipsec_runnable(const char *prog, const char *path, const char *opt)
{
	if (access(path, X_OK) == 0)
		return true;
	fprintf(stderr, "%s: %s: %s; name the sipsec binary with %s\n", prog, path,
		strerror(errno), opt);
	return false;
}

/* nftw callback removing every entry of a temp dir (FTW_DEPTH). */
BENCH_SHARED int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	(void)remove(path);
	return 0;
}

/* The pid in DATA/sipsec.pid, or 0. */
BENCH_SHARED pid_t read_pidfile(const char *data)
{
	char path[PATH_MAX + 16];
	long pid = 0;
	snprintf(path, sizeof(path), "%s/sipsec.pid", data);
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	if (fscanf(f, "%ld", &pid) != 1)
		pid = 0;
	fclose(f);
	return (pid_t)pid;
}

/* Print up to max lines of the server's log, each after prefix. */
BENCH_SHARED void print_log(const char *log, const char *prefix, int max)
{
	char line[512];
	FILE *f = fopen(log, "r");
	if (!f)
		return;
	for (int i = 0; i < max && fgets(line, sizeof(line), f); i++)
		fprintf(stderr, "%s%s%s", prefix, line, strchr(line, '\n') ? "" : "\n");
	fclose(f);
}

/* fork/exec argv (argv[0] the sipsec binary, then "serve" and its options
 * with --data data) with stdout and stderr to log; wait until the server's
 * pid file names it (START_TIMEOUT_S at most). prog names the benchmark in
 * messages. Returns the pid, or 0 (reported, the server's log shown). */
BENCH_SHARED pid_t spawn_server(const char *prog, const char *const *argv, const char *data,
				const char *log)
{
	pid_t pid = fork();
	if (pid < 0) {
		fprintf(stderr, "%s: fork: %s\n", prog, strerror(errno));
		return 0;
	}
	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		/* the server must not outlive the benchmark */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	double end = now_s() + START_TIMEOUT_S;
	for (int i = 0; i < 100000 && now_s() < end && !g_stop; i++) {
		int st;
		if (waitpid(pid, &st, WNOHANG) == pid) {
			fprintf(stderr, "%s: %s serve exited early (status %d); its log:\n", prog,
				argv[0], WIFEXITED(st) ? WEXITSTATUS(st) : -1);
			print_log(log, "  | ", 40);
			return 0;
		}
		if (read_pidfile(data) == pid)
			return pid;
		sleep_ms(20);
	}
	fprintf(stderr, "%s: %s serve not ready after %.0f s\n", prog, argv[0], START_TIMEOUT_S);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	return 0;
}

/* SIGTERM, wait; SIGKILL after STOP_TIMEOUT_S. Returns the exit status or -1. */
BENCH_SHARED int stop_server(pid_t pid)
{
	int st = 0;
	kill(pid, SIGTERM);
	double end = now_s() + STOP_TIMEOUT_S;
	for (int i = 0; i < 100000 && now_s() < end; i++) {
		if (waitpid(pid, &st, WNOHANG) == pid)
			return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
		sleep_ms(20);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	return -1;
}

/* Two different free ports for `sipsec serve` (SIP and TLS) into *sip and
 * *tls. Returns false (reported) when there are none. */
BENCH_SHARED bool sip_server_ports(const char *prog, unsigned *sip, unsigned *tls)
{
	*sip = free_port();
	*tls = free_port();
	if (*sip && *tls && *sip != *tls)
		return true;
	fprintf(stderr, "%s: no free ports on 127.0.0.1\n", prog);
	return false;
}

/* Stop the server pid (stop_server) and show its log (when log is not NULL
 * and the log is not empty). Returns false (reported) when it did not exit
 * with 0. */
BENCH_SHARED bool server_stopped(const char *prog, pid_t pid, const char *log)
{
	int st = stop_server(pid);
	struct stat lst;
	if (st != 0)
		fprintf(stderr, "%s: the server exited with %d on SIGTERM\n", prog, st);
	if (log && stat(log, &lst) == 0 && lst.st_size > 0) {
		fprintf(stderr, "# the server's log (--log-level warn):\n");
		print_log(log, "  | ", 20);
	}
	return st == 0;
}

#define SERVE_MAX_EXTRA 16 /* --serve-arg options */

/* fork/exec `sipsec serve` on data for domain, listening on 127.0.0.1 with
 * the given SIP and TLS ports (--https-port 0: the provisioning server on a
 * port of its own choice), room for conns connections (all from 127.0.0.1)
 * and the nextra options in extra; the log to log (--log-level warn). Waits
 * for its pid file. Returns the pid, or 0 (reported). */
BENCH_SHARED pid_t start_sip_server(const char *prog, const char *sipsec, const char *data,
				    const char *log, const char *domain, unsigned sip_port,
				    unsigned tls_port, unsigned conns, const char *const *extra,
				    unsigned nextra)
{
	char sip_s[16], tls_s[16], max_s[16];
	snprintf(sip_s, sizeof(sip_s), "%u", sip_port);
	snprintf(tls_s, sizeof(tls_s), "%u", tls_port);
	snprintf(max_s, sizeof(max_s), "%u", conns);
	const char *argv[20 + SERVE_MAX_EXTRA + 1] = {
		sipsec, "serve", "--data", data, "--domain", domain, "--listen", "127.0.0.1",
		"--sip-port", sip_s, "--tls-port", tls_s, "--https-port", "0", "--max-connections",
		max_s, "--max-connections-per-ip", max_s, "--log-level", "warn"};
	for (unsigned i = 0; i < nextra && i < SERVE_MAX_EXTRA; i++)
		argv[20 + i] = extra[i];
	return spawn_server(prog, argv, data, log);
}

#endif
