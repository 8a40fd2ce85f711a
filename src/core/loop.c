/* core/loop: epoll (level-triggered), a binary min-heap of timers, an eventfd
 * woken queue of posted tasks, idle hooks and a signalfd. */
#define SPS_LOG_MODULE "loop"
#include "core/loop.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"

#define MAX_EVENTS 128

/* One slot per fd number. gen changes on every add so that an event of a
 * removed (and maybe re-added) fd still pending in the batch is recognised. */
struct fd_slot {
	sps_loop_fd_h *h;
	void *arg;
	uint32_t gen;
	unsigned events;
};

struct idle_hook {
	sps_loop_fn_h *fn;
	void *arg;
};

/* Owns epfd, evfd, sigfd, the slot and heap arrays and the idle hooks; holds
 * no reference to the objects behind handlers and timers. */
struct sps_loop {
	int epfd;
	int evfd;
	int sigfd;
	uint64_t now;
	atomic_bool stop;

	struct fd_slot *slots;
	size_t nslots;
	uint32_t gen;

	struct sps_timer **heap;
	size_t nheap, capheap;
	uint64_t tseq;

	pthread_mutex_t mtx; /* guards posts_head/tail only */
	struct sps_loop_task *posts_head, *posts_tail;

	struct idle_hook *idle;
	size_t nidle, capidle;
	unsigned idle_running;
	bool idle_dirty;

	sps_loop_signal_h *sig_h;
	void *sig_arg;
	sigset_t sig_old;
};

static uint64_t clock_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint64_t sps_loop_now(const struct sps_loop *loop) { return loop->now; }
void sps_loop_update_time(struct sps_loop *loop) { loop->now = clock_ms(); }

/* ---- timers: binary min-heap ordered by (expire, seq) ---- */

static bool tm_less(const struct sps_timer *a, const struct sps_timer *b)
{
	return a->expire < b->expire || (a->expire == b->expire && a->seq < b->seq);
}

static void heap_set(struct sps_loop *loop, size_t i, struct sps_timer *t)
{
	loop->heap[i] = t;
	t->idx = i + 1;
}

static void heap_up(struct sps_loop *loop, size_t i)
{
	struct sps_timer *t = loop->heap[i];
	while (i > 0) {
		size_t p = (i - 1) / 2;
		if (!tm_less(t, loop->heap[p]))
			break;
		heap_set(loop, i, loop->heap[p]);
		i = p;
	}
	heap_set(loop, i, t);
}

static void heap_down(struct sps_loop *loop, size_t i)
{
	struct sps_timer *t = loop->heap[i];
	for (;;) {
		size_t l = 2 * i + 1, m = i;
		const struct sps_timer *best = t;
		if (l < loop->nheap && tm_less(loop->heap[l], best)) {
			m = l;
			best = loop->heap[l];
		}
		if (l + 1 < loop->nheap && tm_less(loop->heap[l + 1], best))
			m = l + 1;
		if (m == i)
			break;
		heap_set(loop, i, loop->heap[m]);
		i = m;
	}
	heap_set(loop, i, t);
}

/* Remove heap entry i (0-based), keeping the heap shape. */
static void heap_remove(struct sps_loop *loop, size_t i)
{
	struct sps_timer *t = loop->heap[i];
	struct sps_timer *last = loop->heap[--loop->nheap];
	t->idx = 0;
	if (i == loop->nheap)
		return;
	heap_set(loop, i, last);
	if (i > 0 && tm_less(last, loop->heap[(i - 1) / 2]))
		heap_up(loop, i);
	else
		heap_down(loop, i);
}

int sps_timer_start(struct sps_loop *loop, struct sps_timer *t, uint64_t ms, sps_timer_h *h,
		    void *arg)
{
	if (t->idx)
		sps_timer_cancel(t);
	if (loop->nheap == loop->capheap) {
		size_t cap = loop->capheap ? loop->capheap * 2 : 64;
		struct sps_timer **nh = realloc(loop->heap, cap * sizeof(*nh));
		if (!nh)
			return ENOMEM;
		loop->heap = nh;
		loop->capheap = cap;
	}
	t->loop = loop;
	t->h = h;
	t->arg = arg;
	t->expire = loop->now + ms;
	t->seq = ++loop->tseq;
	loop->heap[loop->nheap] = t;
	t->idx = ++loop->nheap;
	heap_up(loop, loop->nheap - 1);
	return 0;
}

void sps_timer_cancel(struct sps_timer *t)
{
	if (!t || !t->idx)
		return;
	heap_remove(t->loop, t->idx - 1);
}

size_t sps_loop_timer_count(const struct sps_loop *loop) { return loop->nheap; }

/* Fire the timers due now. Only timers started before this round (seq <=
 * bound) fire, so a handler restarting its timer with 0 ms cannot spin. */
static void run_timers(struct sps_loop *loop)
{
	uint64_t bound = loop->tseq;
	while (loop->nheap) {
		struct sps_timer *t = loop->heap[0];
		if (t->expire > loop->now || t->seq > bound)
			break;
		heap_remove(loop, 0);
		t->h(t->arg);
	}
}

/* ---- fds ---- */

static uint32_t to_epoll(unsigned ev)
{
	return (ev & SPS_LOOP_READ ? EPOLLIN : 0) | (ev & SPS_LOOP_WRITE ? EPOLLOUT : 0);
}

int sps_loop_fd_add(struct sps_loop *loop, int fd, unsigned events, sps_loop_fd_h *h, void *arg)
{
	if (fd < 0 || !h)
		return EINVAL;
	if ((size_t)fd >= loop->nslots) {
		size_t n = loop->nslots ? loop->nslots : 64;
		while (n <= (size_t)fd)
			n *= 2;
		struct fd_slot *ns = realloc(loop->slots, n * sizeof(*ns));
		if (!ns)
			return ENOMEM;
		memset(ns + loop->nslots, 0, (n - loop->nslots) * sizeof(*ns));
		loop->slots = ns;
		loop->nslots = n;
	}
	struct fd_slot *s = &loop->slots[fd];
	if (s->h)
		return EEXIST;
	uint32_t gen = ++loop->gen;
	struct epoll_event ev = {.events = to_epoll(events),
				 .data.u64 = (uint64_t)gen << 32 | (uint32_t)fd};
	if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		return errno;
	s->h = h;
	s->arg = arg;
	s->gen = gen;
	s->events = events;
	return 0;
}

int sps_loop_fd_mod(struct sps_loop *loop, int fd, unsigned events)
{
	if (fd < 0 || (size_t)fd >= loop->nslots || !loop->slots[fd].h)
		return ENOENT;
	struct fd_slot *s = &loop->slots[fd];
	if (s->events == events)
		return 0;
	struct epoll_event ev = {.events = to_epoll(events),
				 .data.u64 = (uint64_t)s->gen << 32 | (uint32_t)fd};
	if (epoll_ctl(loop->epfd, EPOLL_CTL_MOD, fd, &ev) < 0)
		return errno;
	s->events = events;
	return 0;
}

int sps_loop_fd_del(struct sps_loop *loop, int fd)
{
	if (fd < 0 || (size_t)fd >= loop->nslots || !loop->slots[fd].h)
		return ENOENT;
	(void)epoll_ctl(loop->epfd, EPOLL_CTL_DEL, fd, NULL);
	memset(&loop->slots[fd], 0, sizeof(loop->slots[fd]));
	return 0;
}

/* ---- posts ---- */

static void wake(struct sps_loop *loop)
{
	uint64_t one = 1;
	ssize_t r = write(loop->evfd, &one, sizeof(one));
	(void)r; /* EAGAIN: the counter is already non-zero, the loop will wake */
}

void sps_loop_post_task(struct sps_loop *loop, struct sps_loop_task *t, sps_loop_fn_h *fn,
			void *arg)
{
	t->fn = fn;
	t->arg = arg;
	t->next = NULL;
	pthread_mutex_lock(&loop->mtx);
	bool was_empty = loop->posts_head == NULL;
	if (loop->posts_tail)
		loop->posts_tail->next = t;
	else
		loop->posts_head = t;
	loop->posts_tail = t;
	pthread_mutex_unlock(&loop->mtx);
	if (was_empty)
		wake(loop);
}

/* A task allocated by sps_loop_post: the task comes first so one free does. */
struct heap_task {
	struct sps_loop_task t;
	sps_loop_fn_h *fn;
	void *arg;
};

static void heap_task_run(void *arg)
{
	struct heap_task *ht = arg;
	sps_loop_fn_h *fn = ht->fn;
	void *a = ht->arg;
	free(ht);
	fn(a);
}

int sps_loop_post(struct sps_loop *loop, sps_loop_fn_h *fn, void *arg)
{
	struct heap_task *ht = malloc(sizeof(*ht));
	if (!ht)
		return ENOMEM;
	ht->fn = fn;
	ht->arg = arg;
	sps_loop_post_task(loop, &ht->t, heap_task_run, ht);
	return 0;
}

void sps_loop_flush_posts(struct sps_loop *loop)
{
	pthread_mutex_lock(&loop->mtx);
	struct sps_loop_task *t = loop->posts_head;
	loop->posts_head = loop->posts_tail = NULL;
	pthread_mutex_unlock(&loop->mtx);
	while (t) {
		struct sps_loop_task *next = t->next; /* t may be freed by fn */
		t->fn(t->arg);
		t = next;
	}
}

static void evfd_read(int fd, unsigned events, void *arg)
{
	uint64_t v;
	ssize_t r = read(fd, &v, sizeof(v));
	(void)r;
	(void)events;
	(void)arg;
	/* tasks run after the fd batch, see sps_loop_run_once */
}

/* ---- idle hooks ---- */

int sps_loop_on_idle(struct sps_loop *loop, sps_loop_fn_h *fn, void *arg)
{
	if (loop->nidle == loop->capidle) {
		size_t cap = loop->capidle ? loop->capidle * 2 : 4;
		struct idle_hook *n = realloc(loop->idle, cap * sizeof(*n));
		if (!n)
			return ENOMEM;
		loop->idle = n;
		loop->capidle = cap;
	}
	loop->idle[loop->nidle++] = (struct idle_hook){fn, arg};
	return 0;
}

void sps_loop_idle_remove(struct sps_loop *loop, sps_loop_fn_h *fn, void *arg)
{
	for (size_t i = 0; i < loop->nidle; i++) {
		if (loop->idle[i].fn == fn && loop->idle[i].arg == arg) {
			loop->idle[i].fn = NULL; /* compacted when no hook runs */
			loop->idle_dirty = true;
			break;
		}
	}
	if (!loop->idle_running && loop->idle_dirty) {
		size_t j = 0;
		for (size_t i = 0; i < loop->nidle; i++)
			if (loop->idle[i].fn)
				loop->idle[j++] = loop->idle[i];
		loop->nidle = j;
		loop->idle_dirty = false;
	}
}

static void run_idle(struct sps_loop *loop)
{
	loop->idle_running++;
	/* hooks added during the round run from the next round */
	size_t n = loop->nidle;
	for (size_t i = 0; i < n; i++)
		if (loop->idle[i].fn)
			loop->idle[i].fn(loop->idle[i].arg);
	loop->idle_running--;
	if (loop->idle_dirty && !loop->idle_running)
		sps_loop_idle_remove(loop, NULL, NULL);
}

/* ---- signals ---- */

static void sigfd_read(int fd, unsigned events, void *arg)
{
	struct sps_loop *loop = arg;
	struct signalfd_siginfo si;
	(void)events;
	while (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si))
		loop->sig_h((int)si.ssi_signo, loop->sig_arg);
}

int sps_loop_signals(struct sps_loop *loop, sps_loop_signal_h *h, void *arg)
{
	if (loop->sigfd >= 0)
		return EALREADY;
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	int err = pthread_sigmask(SIG_BLOCK, &set, &loop->sig_old);
	if (err)
		return err;
	int fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (fd < 0) {
		err = errno;
		pthread_sigmask(SIG_SETMASK, &loop->sig_old, NULL);
		return err;
	}
	loop->sig_h = h;
	loop->sig_arg = arg;
	err = sps_loop_fd_add(loop, fd, SPS_LOOP_READ, sigfd_read, loop);
	if (err) {
		close(fd);
		pthread_sigmask(SIG_SETMASK, &loop->sig_old, NULL);
		return err;
	}
	loop->sigfd = fd;
	return 0;
}

/* ---- the loop ---- */

int sps_loop_new(struct sps_loop **out)
{
	int err;
	struct sps_loop *loop = calloc(1, sizeof(*loop));
	if (!loop)
		return ENOMEM;
	loop->evfd = loop->sigfd = -1;
	atomic_init(&loop->stop, false);
	pthread_mutex_init(&loop->mtx, NULL);
	loop->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (loop->epfd < 0) {
		err = errno;
		goto out;
	}
	loop->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (loop->evfd < 0) {
		err = errno;
		goto out;
	}
	err = sps_loop_fd_add(loop, loop->evfd, SPS_LOOP_READ, evfd_read, loop);
	if (err)
		goto out;
	loop->now = clock_ms();
	*out = loop;
	return 0;
out:
	sps_loop_free(loop);
	return err;
}

void sps_loop_free(struct sps_loop *loop)
{
	if (!loop)
		return;
	sps_loop_flush_posts(loop);
	if (loop->sigfd >= 0) {
		sps_loop_fd_del(loop, loop->sigfd);
		close(loop->sigfd);
		pthread_sigmask(SIG_SETMASK, &loop->sig_old, NULL);
	}
	if (loop->evfd >= 0)
		close(loop->evfd);
	if (loop->epfd >= 0)
		close(loop->epfd);
	for (size_t i = 0; i < loop->nheap; i++)
		loop->heap[i]->idx = 0;
	free(loop->heap);
	free(loop->slots);
	free(loop->idle);
	pthread_mutex_destroy(&loop->mtx);
	free(loop);
}

void sps_loop_stop(struct sps_loop *loop)
{
	atomic_store(&loop->stop, true);
	wake(loop);
}

static int next_timeout(const struct sps_loop *loop, int timeout_ms)
{
	if (!loop->nheap)
		return timeout_ms;
	uint64_t exp = loop->heap[0]->expire;
	uint64_t d = exp > loop->now ? exp - loop->now : 0;
	if (d > INT32_MAX)
		d = INT32_MAX;
	if (timeout_ms < 0 || (uint64_t)timeout_ms > d)
		return (int)d;
	return timeout_ms;
}

int sps_loop_run_once(struct sps_loop *loop, int timeout_ms)
{
	struct epoll_event evs[MAX_EVENTS];

	loop->now = clock_ms();
	run_timers(loop);
	/* posted tasks pending: do not sleep */
	pthread_mutex_lock(&loop->mtx);
	bool have_posts = loop->posts_head != NULL;
	pthread_mutex_unlock(&loop->mtx);
	int tmo = have_posts || atomic_load(&loop->stop) ? 0 : next_timeout(loop, timeout_ms);
	int n = epoll_wait(loop->epfd, evs, MAX_EVENTS, tmo);
	if (n < 0) {
		if (errno != EINTR)
			return errno;
		n = 0;
	}
	loop->now = clock_ms();
	for (int i = 0; i < n; i++) {
		int fd = (int)(uint32_t)evs[i].data.u64;
		uint32_t gen = (uint32_t)(evs[i].data.u64 >> 32);
		if ((size_t)fd >= loop->nslots)
			continue;
		struct fd_slot *s = &loop->slots[fd];
		if (!s->h || s->gen != gen)
			continue; /* removed (or replaced) earlier in this batch */
		uint32_t e = evs[i].events;
		unsigned ev = (e & EPOLLIN ? SPS_LOOP_READ : 0) | (e & EPOLLOUT ? SPS_LOOP_WRITE : 0) |
			      (e & (EPOLLERR | EPOLLHUP) ? SPS_LOOP_ERROR : 0);
		s->h(fd, ev, s->arg);
	}
	run_timers(loop);
	sps_loop_flush_posts(loop);
	run_idle(loop);
	return 0;
}

int sps_loop_run(struct sps_loop *loop)
{
	int err = 0;
	/* a stop that came before run (from another thread) is not lost */
	while (!err && !atomic_load(&loop->stop))
		err = sps_loop_run_once(loop, -1);
	atomic_store(&loop->stop, false);
	return err;
}
