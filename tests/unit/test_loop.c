/* Unit tests for core/loop: timers, fds, posts, idle hooks, signals. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "core/loop.h"
#include "test.h"

/* Drive loop until *flag or 5 s pass. Returns 0 when the flag was seen. */
static int run_until_flag(struct sps_loop *loop, const int *flag)
{
	sps_loop_update_time(loop);
	uint64_t end = sps_loop_now(loop) + 5000;
	while (!*flag && sps_loop_now(loop) < end)
		if (sps_loop_run_once(loop, 50))
			return 1;
	return *flag ? 0 : 1;
}

struct tm_rec {
	struct sps_timer t;
	int id;
	int *log;
	int *n;
};

static void tm_fire(void *arg)
{
	struct tm_rec *r = arg;
	r->log[(*r->n)++] = r->id;
}

int test_loop_timer_order(void)
{
	struct sps_loop *loop;
	struct tm_rec r[4] = {0};
	int log[8], n = 0;
	ASSERT_INT_EQ(sps_loop_new(&loop), 0);
	const uint64_t ms[4] = {30, 10, 20, 10};
	for (int i = 0; i < 4; i++) {
		r[i] = (struct tm_rec){.id = i, .log = log, .n = &n};
		ASSERT_INT_EQ(sps_timer_start(loop, &r[i].t, ms[i], tm_fire, &r[i]), 0);
	}
	ASSERT(sps_timer_pending(&r[2].t));
	sps_timer_cancel(&r[2].t);
	ASSERT(!sps_timer_pending(&r[2].t));
	sps_timer_cancel(&r[2].t); /* idempotent */
	ASSERT_INT_EQ(sps_loop_timer_count(loop), 3);
	while (n < 3)
		ASSERT_INT_EQ(sps_loop_run_once(loop, 1000), 0);
	ASSERT_INT_EQ(n, 3);
	ASSERT_INT_EQ(log[0], 1); /* equal expiry: start order */
	ASSERT_INT_EQ(log[1], 3);
	ASSERT_INT_EQ(log[2], 0);
	ASSERT_INT_EQ(sps_loop_timer_count(loop), 0);
	sps_loop_free(loop);
	return 0;
}

/* 10,000 timers with random expiries fire in (expire, start) order, with a
 * random fifth of them cancelled. */
struct rnd_tm {
	struct sps_timer t;
	uint64_t expire;
	unsigned idx;
};
static uint64_t rnd_last_exp;
static unsigned rnd_fired, rnd_bad;

static void rnd_fire(void *arg)
{
	struct rnd_tm *r = arg;
	if (r->t.expire < rnd_last_exp)
		rnd_bad++;
	rnd_last_exp = r->t.expire;
	rnd_fired++;
}

int test_loop_timer_random(void)
{
	enum { N = 10000 };
	struct sps_loop *loop;
	struct rnd_tm *r = calloc(N, sizeof(*r));
	unsigned cancelled = 0;
	ASSERT(r);
	ASSERT_INT_EQ(sps_loop_new(&loop), 0);
	srand(42);
	rnd_last_exp = 0;
	rnd_fired = rnd_bad = 0;
	for (unsigned i = 0; i < N; i++)
		ASSERT_INT_EQ(sps_timer_start(loop, &r[i].t, (uint64_t)(rand() % 50), rnd_fire, &r[i]),
			      0);
	for (unsigned i = 0; i < N; i++) {
		if (rand() % 5 == 0) {
			sps_timer_cancel(&r[i].t);
			cancelled++;
		} else if (rand() % 7 == 0) {
			/* restart: moves within the heap */
			ASSERT_INT_EQ(sps_timer_start(loop, &r[i].t, (uint64_t)(rand() % 50),
						      rnd_fire, &r[i]),
				      0);
		}
	}
	ASSERT_INT_EQ(sps_loop_timer_count(loop), N - cancelled);
	sps_loop_update_time(loop);
	uint64_t end = sps_loop_now(loop) + 5000;
	while (sps_loop_timer_count(loop) && sps_loop_now(loop) < end)
		ASSERT_INT_EQ(sps_loop_run_once(loop, 100), 0);
	ASSERT_INT_EQ(rnd_fired, N - cancelled);
	ASSERT_INT_EQ(rnd_bad, 0);
	sps_loop_free(loop);
	free(r);
	return 0;
}

/* Handlers that start and cancel timers (their own and others'). */
struct nest {
	struct sps_loop *loop;
	struct sps_timer a, b, c;
	int a_runs, b_runs, c_runs;
};

static void nest_c(void *arg) { ((struct nest *)arg)->c_runs++; }
static void nest_b(void *arg) { ((struct nest *)arg)->b_runs++; }
static void nest_a(void *arg)
{
	struct nest *n = arg;
	if (++n->a_runs < 3)
		(void)sps_timer_start(n->loop, &n->a, 0, nest_a, n); /* restart self */
	sps_timer_cancel(&n->b);					/* due too, never runs */
	(void)sps_timer_start(n->loop, &n->c, 1, nest_c, n);
}

int test_loop_timer_nested(void)
{
	struct nest n = {0};
	ASSERT_INT_EQ(sps_loop_new(&n.loop), 0);
	ASSERT_INT_EQ(sps_timer_start(n.loop, &n.a, 0, nest_a, &n), 0);
	ASSERT_INT_EQ(sps_timer_start(n.loop, &n.b, 0, nest_b, &n), 0);
	for (int i = 0; i < 100 && sps_loop_timer_count(n.loop); i++)
		ASSERT_INT_EQ(sps_loop_run_once(n.loop, 100), 0);
	ASSERT_INT_EQ(n.a_runs, 3);
	ASSERT_INT_EQ(n.b_runs, 0);
	ASSERT_INT_EQ(n.c_runs, 1);
	sps_loop_free(n.loop);
	return 0;
}

/* Two readable pipes in the same batch: whichever handler runs first removes
 * (and closes) the other; the other's handler must not run, not even when a
 * new fd reuses its number within the batch. */
struct fdrm {
	struct sps_loop *loop;
	int p1[2], p2[2];
	int runs, reused_runs;
	int handled; /* the fd whose handler ran (the other one was closed) */
	int reused[2];
};

static void fdrm_reused(int fd, unsigned ev, void *arg) { ((struct fdrm *)arg)->reused_runs++; }

static void fdrm_h(int fd, unsigned ev, void *arg)
{
	struct fdrm *t = arg;
	t->runs++;
	t->handled = fd;
	int other = fd == t->p1[0] ? t->p2[0] : t->p1[0];
	if (sps_loop_fd_del(t->loop, fd) || sps_loop_fd_del(t->loop, other) ||
	    sps_loop_fd_del(t->loop, other) != ENOENT)
		t->runs += 100; /* fails the test */
	close(other);
	/* a new pipe likely gets `other`'s number: it is readable too */
	if (pipe(t->reused) == 0) {
		(void)!write(t->reused[1], "x", 1);
		(void)sps_loop_fd_add(t->loop, t->reused[0], SPS_LOOP_READ, fdrm_reused, t);
	}
}

int test_loop_fd_remove_in_handler(void)
{
	struct fdrm t = {0};
	ASSERT_INT_EQ(sps_loop_new(&t.loop), 0);
	ASSERT_INT_EQ(pipe(t.p1), 0);
	ASSERT_INT_EQ(pipe(t.p2), 0);
	ASSERT_INT_EQ(write(t.p1[1], "a", 1), 1);
	ASSERT_INT_EQ(write(t.p2[1], "b", 1), 1);
	ASSERT_INT_EQ(sps_loop_fd_add(t.loop, t.p1[0], SPS_LOOP_READ, fdrm_h, &t), 0);
	ASSERT_INT_EQ(sps_loop_fd_add(t.loop, t.p2[0], SPS_LOOP_READ, fdrm_h, &t), 0);
	ASSERT_INT_EQ(sps_loop_fd_add(t.loop, t.p2[0], SPS_LOOP_READ, fdrm_h, &t), EEXIST);
	ASSERT_INT_EQ(sps_loop_run_once(t.loop, 1000), 0);
	ASSERT_INT_EQ(t.runs, 1);
	ASSERT_INT_EQ(t.reused_runs, 0); /* registered during the batch: next round */
	ASSERT_INT_EQ(sps_loop_run_once(t.loop, 1000), 0);
	ASSERT_INT_EQ(t.runs, 1);
	ASSERT_INT_EQ(t.reused_runs, 1);
	sps_loop_fd_del(t.loop, t.reused[0]);
	close(t.handled);
	close(t.p1[1]);
	close(t.p2[1]);
	close(t.reused[0]);
	close(t.reused[1]);
	sps_loop_free(t.loop);
	return 0;
}

/* Posts from another thread wake a loop blocked in epoll_wait, in order. */
struct post_t {
	struct sps_loop *loop;
	atomic_int seen;
	int order_bad;
	int done;
};

static void post_fn(void *arg)
{
	struct post_t *p = arg;
	p->seen++;
}

static void post_last(void *arg)
{
	struct post_t *p = arg;
	if (p->seen != 1000)
		p->order_bad = 1;
	p->done = 1;
}

static void *post_thread(void *arg)
{
	struct post_t *p = arg;
	for (int i = 0; i < 1000; i++)
		if (sps_loop_post(p->loop, post_fn, p))
			return NULL;
	(void)sps_loop_post(p->loop, post_last, p);
	return NULL;
}

int test_loop_post_thread(void)
{
	struct post_t p = {0};
	pthread_t thr;
	ASSERT_INT_EQ(sps_loop_new(&p.loop), 0);
	ASSERT_INT_EQ(pthread_create(&thr, NULL, post_thread, &p), 0);
	/* an infinite wait: only the eventfd can end it */
	while (!p.done)
		ASSERT_INT_EQ(sps_loop_run_once(p.loop, -1), 0);
	pthread_join(thr, NULL);
	ASSERT_INT_EQ(p.seen, 1000);
	ASSERT_INT_EQ(p.order_bad, 0);
	/* tasks still queued at free run there (their args can be released) */
	int *leak = malloc(4);
	ASSERT_INT_EQ(sps_loop_post(p.loop, free, leak), 0);
	sps_loop_free(p.loop);
	return 0;
}

/* sps_loop_stop from another thread ends sps_loop_run. */
static void *stop_thread(void *arg)
{
	sps_loop_stop(arg);
	return NULL;
}

int test_loop_stop_thread(void)
{
	struct sps_loop *loop;
	pthread_t thr;
	ASSERT_INT_EQ(sps_loop_new(&loop), 0);
	ASSERT_INT_EQ(pthread_create(&thr, NULL, stop_thread, loop), 0);
	ASSERT_INT_EQ(sps_loop_run(loop), 0);
	pthread_join(thr, NULL);
	sps_loop_free(loop);
	return 0;
}

/* Idle hooks run once per iteration, after the events of the iteration. */
struct idle_t {
	struct sps_loop *loop;
	struct sps_timer t;
	int timer_runs, idle_runs, idle_after_timer;
};

static void idle_timer(void *arg) { ((struct idle_t *)arg)->timer_runs++; }
static void idle_hook(void *arg)
{
	struct idle_t *it = arg;
	it->idle_runs++;
	if (it->timer_runs)
		it->idle_after_timer++;
	if (it->idle_runs == 3)
		sps_loop_idle_remove(it->loop, idle_hook, it);
}

int test_loop_idle_hook(void)
{
	struct idle_t it = {0};
	ASSERT_INT_EQ(sps_loop_new(&it.loop), 0);
	ASSERT_INT_EQ(sps_loop_on_idle(it.loop, idle_hook, &it), 0);
	ASSERT_INT_EQ(sps_timer_start(it.loop, &it.t, 0, idle_timer, &it), 0);
	ASSERT_INT_EQ(sps_loop_run_once(it.loop, 0), 0);
	ASSERT_INT_EQ(it.timer_runs, 1);
	ASSERT_INT_EQ(it.idle_runs, 1);
	ASSERT_INT_EQ(it.idle_after_timer, 1);
	for (int i = 0; i < 5; i++)
		ASSERT_INT_EQ(sps_loop_run_once(it.loop, 0), 0);
	ASSERT_INT_EQ(it.idle_runs, 3); /* removed itself */
	sps_loop_free(it.loop);
	return 0;
}

/* SIGHUP arrives through the signalfd as a call on the loop. */
static void sig_h(int signo, void *arg) { *(int *)arg = signo; }

int test_loop_signals(void)
{
	struct sps_loop *loop;
	int got = 0;
	ASSERT_INT_EQ(sps_loop_new(&loop), 0);
	ASSERT_INT_EQ(sps_loop_signals(loop, sig_h, &got), 0);
	ASSERT_INT_EQ(sps_loop_signals(loop, sig_h, &got), EALREADY);
	ASSERT_INT_EQ(pthread_kill(pthread_self(), SIGHUP), 0);
	ASSERT_INT_EQ(run_until_flag(loop, &got), 0);
	ASSERT_INT_EQ(got, SIGHUP);
	sps_loop_free(loop); /* restores the signal mask */
	return 0;
}
