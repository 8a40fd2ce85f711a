/* bench/bench_serve.h: what the benchmark programs share: clocks, CPU time
 * from /proc, free ports on 127.0.0.1, and starting `sipsec serve` on a temp
 * data dir (ready when its pid file names it) and stopping it. Header-only:
 * each benchmark is one program (Makefile: bench/NAME.c -> NAME). */
#ifndef SPS_BENCH_SERVE_H
#define SPS_BENCH_SERVE_H

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
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

/* This process's user + system CPU seconds. */
BENCH_SHARED double self_cpu_s(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
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

#endif
