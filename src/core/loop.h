/* core/loop: the epoll event loop, its timers, cross-thread posts, idle hooks
 * and signals. One loop per thread; every function here except sps_loop_post,
 * sps_loop_post_task and sps_loop_stop must be called on the loop's own thread.
 * See docs/threading.md. */
#ifndef SPS_CORE_LOOP_H
#define SPS_CORE_LOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sps_loop;

/* Events for sps_loop_fd_add/mod and passed to the handler. */
enum {
	SPS_LOOP_READ = 1u << 0,
	SPS_LOOP_WRITE = 1u << 1,
	SPS_LOOP_ERROR = 1u << 2, /* reported only: EPOLLERR or EPOLLHUP */
};

typedef void(sps_loop_fd_h)(int fd, unsigned events, void *arg);
typedef void(sps_loop_fn_h)(void *arg);
typedef void(sps_timer_h)(void *arg);
typedef void(sps_loop_signal_h)(int signo, void *arg);

/* A timer embedded in the object it belongs to (zero it, or call
 * sps_timer_init, before first use). The loop holds no reference to the
 * object: its owner must cancel the timer before freeing it.
 * Invariant: idx == 0 when not pending, else heap position + 1. */
struct sps_timer {
	uint64_t expire; /* sps_loop_now() ms */
	uint64_t seq;    /* start order, breaks ties between equal expiries */
	size_t idx;
	struct sps_loop *loop;
	sps_timer_h *h;
	void *arg;
};

/* A post that needs no allocation: embed it in the object being handed over.
 * Owned by the poster until the handler runs. */
struct sps_loop_task {
	struct sps_loop_task *next;
	sps_loop_fn_h *fn;
	void *arg;
};

/* Create a loop (epoll fd + eventfd for posts). Returns 0, or an errno. */
int sps_loop_new(struct sps_loop **out);
/* Close the loop. Tasks still queued by sps_loop_post run here first, so
 * whatever they carry can be released; fds still registered are not closed. */
void sps_loop_free(struct sps_loop *loop);
/* Run until sps_loop_stop. Returns 0, or the errno of a failed epoll_wait. */
int sps_loop_run(struct sps_loop *loop);
/* One iteration: wait at most timeout_ms (-1 = until something happens) for
 * events, then dispatch fds, expired timers, posted tasks and idle hooks.
 * For tests and for callers that drive the loop themselves. */
int sps_loop_run_once(struct sps_loop *loop, int timeout_ms);
/* Make sps_loop_run return after the current iteration. Any thread. */
void sps_loop_stop(struct sps_loop *loop);
/* Monotonic milliseconds, cached at the start of each iteration. */
uint64_t sps_loop_now(const struct sps_loop *loop);
/* Re-read the clock (after a long computation inside a handler). */
void sps_loop_update_time(struct sps_loop *loop);

/* Watch fd (level-triggered) for SPS_LOOP_READ|SPS_LOOP_WRITE and call h.
 * The fd stays owned by the caller. Returns 0, EEXIST, or an errno. */
int sps_loop_fd_add(struct sps_loop *loop, int fd, unsigned events, sps_loop_fd_h *h, void *arg);
/* Change the watched events. Returns 0, ENOENT, or an errno. */
int sps_loop_fd_mod(struct sps_loop *loop, int fd, unsigned events);
/* Stop watching fd. Safe inside any handler, also for an fd whose event is
 * still pending in the current batch: its handler will not be called. Call it
 * before close(fd). Returns 0 or ENOENT. */
int sps_loop_fd_del(struct sps_loop *loop, int fd);

/* Run fn(arg) on the loop's thread, soon. Any thread. Tasks run in the order
 * they were posted. Returns 0 or ENOMEM (then fn will not run). */
int sps_loop_post(struct sps_loop *loop, sps_loop_fn_h *fn, void *arg);
/* The same without allocation; cannot fail. *t must stay valid until fn runs. */
void sps_loop_post_task(struct sps_loop *loop, struct sps_loop_task *t, sps_loop_fn_h *fn,
			void *arg);
/* Run, now, the tasks posted so far (used at shutdown, after the threads that
 * post have been joined). Loop thread only. */
void sps_loop_flush_posts(struct sps_loop *loop);

/* Call fn(arg) at the end of every iteration, after all events, timers and
 * posts of that iteration (group commit hooks). Returns 0 or ENOMEM. */
int sps_loop_on_idle(struct sps_loop *loop, sps_loop_fn_h *fn, void *arg);
/* Remove a hook added with the same fn and arg; safe inside a hook. */
void sps_loop_idle_remove(struct sps_loop *loop, sps_loop_fn_h *fn, void *arg);

/* Deliver SIGINT, SIGTERM and SIGHUP to h on this loop (signalfd). Blocks
 * those signals in the calling thread: call it before creating threads so
 * they inherit the mask. Once per loop. Returns 0, EALREADY or an errno. */
int sps_loop_signals(struct sps_loop *loop, sps_loop_signal_h *h, void *arg);

static inline void sps_timer_init(struct sps_timer *t)
{
	t->idx = 0;
	t->loop = NULL;
}
/* (Re)start t to call h(arg) ms milliseconds from now; a pending t is moved.
 * Timers with the same expiry fire in start order. Also from inside timer
 * handlers; a timer started from a handler with ms == 0 fires in the next
 * round, not the current one. O(log n). Returns 0 or ENOMEM. */
int sps_timer_start(struct sps_loop *loop, struct sps_timer *t, uint64_t ms, sps_timer_h *h,
		    void *arg);
/* Cancel t if pending (no-op otherwise). O(log n). */
void sps_timer_cancel(struct sps_timer *t);
static inline bool sps_timer_pending(const struct sps_timer *t) { return t->idx != 0; }
/* Number of pending timers (tests, metrics). */
size_t sps_loop_timer_count(const struct sps_loop *loop);

#endif
