/* admin/control: the control socket (see control.h). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define SPS_LOG_MODULE "admin"
#include "admin/control.h"
#include "core/log.h"

#define CLIENT_IDLE_MS 10000     /* a client silent this long is closed */
#define MAX_REPLY (64u << 20)    /* what the CLI side accepts */
#define MAX_BACKLOG (16u << 20)  /* unsent replies before we stop reading requests */

struct cmd {
	char name[32];
	sps_admin_cmd_h *h;
	void *arg;
};

/* One connected client. Invariant: in_len <= SPS_ADMIN_MAX_REQ;
 * out_off <= out_len <= out_cap. Owned by the admin's clients[] slot. */
struct client {
	struct sps_admin *a;
	int fd;
	char in[SPS_ADMIN_MAX_REQ + 1];
	size_t in_len;
	char *out;
	size_t out_len, out_off, out_cap;
	bool close_after; /* close once out is flushed (EOF, or an oversized line) */
	struct sps_timer idle;
};

struct sps_admin {
	struct sps_loop *loop;
	int fd;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct cmd cmds[SPS_ADMIN_MAX_CMDS];
	size_t ncmds;
	struct client *clients[SPS_ADMIN_MAX_CLIENTS];
};

int sps_admin_sock_path(const char *dir, char *buf, size_t size)
{
	size_t max = sizeof(((struct sockaddr_un *)0)->sun_path);
	if (size < max)
		max = size;
	int n = snprintf(buf, max, "%s/%s", dir, SPS_ADMIN_SOCK);
	return n < 0 || (size_t)n >= max ? ENAMETOOLONG : 0;
}

static void client_free(struct client *c)
{
	struct sps_admin *a = c->a;
	for (size_t i = 0; i < SPS_ADMIN_MAX_CLIENTS; i++)
		if (a->clients[i] == c)
			a->clients[i] = NULL;
	sps_timer_cancel(&c->idle);
	sps_loop_fd_del(a->loop, c->fd);
	close(c->fd);
	free(c->out);
	free(c);
}

static void on_idle(void *arg)
{
	client_free(arg);
}

static int out_append(struct client *c, const char *p, size_t n)
{
	if (c->out_len + n > c->out_cap) {
		size_t cap = c->out_cap ? c->out_cap : 1024;
		while (cap < c->out_len + n)
			cap *= 2;
		char *q = realloc(c->out, cap);
		if (!q)
			return ENOMEM;
		c->out = q;
		c->out_cap = cap;
	}
	memcpy(c->out + c->out_len, p, n);
	c->out_len += n;
	return 0;
}

/* Write what is pending; watch for writability while some is left. Returns
 * false when the client was freed. */
static bool flush(struct client *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			/* once closing, or with too much unread, stop reading (a
			 * level-triggered EOF would wake us each round) */
			bool stop_reading = c->close_after || c->out_len - c->out_off > MAX_BACKLOG;
			sps_loop_fd_mod(c->a->loop, c->fd,
					stop_reading ? SPS_LOOP_WRITE : SPS_LOOP_READ | SPS_LOOP_WRITE);
			return true;
		}
		if (n <= 0) {
			client_free(c);
			return false;
		}
		c->out_off += (size_t)n;
	}
	c->out_off = c->out_len = 0;
	if (c->close_after) {
		client_free(c);
		return false;
	}
	sps_loop_fd_mod(c->a->loop, c->fd, SPS_LOOP_READ);
	return true;
}

/* Queue one reply line: {"ok":false,"error":msg} when body is NULL. */
static void reply(struct client *c, json_t *body, const char *msg)
{
	json_t *r = json_object();
	if (r) {
		json_object_set_new(r, "ok", json_boolean(body != NULL));
		if (body)
			json_object_update(r, body);
		else
			json_object_set_new(r, "error", json_string(msg));
	}
	char *s = r ? json_dumps(r, JSON_COMPACT) : NULL;
	if (!s || out_append(c, s, strlen(s)) || out_append(c, "\n", 1))
		c->close_after = true; /* out of memory: the client sees EOF */
	free(s);
	json_decref(r);
}

static void handle_line(struct client *c, const char *line, size_t len)
{
	struct sps_admin *a = c->a;
	json_error_t jerr;
	json_t *req = json_loadb(line, len, 0, &jerr);
	const char *name = json_string_value(json_object_get(req, "cmd"));
	if (!req || !json_is_object(req) || !name) {
		reply(c, NULL, "a request is one JSON object per line with a \"cmd\" string");
		json_decref(req);
		return;
	}
	for (size_t i = 0; i < a->ncmds; i++) {
		if (strcmp(a->cmds[i].name, name) != 0)
			continue;
		const char *err = "internal error";
		json_t *body = a->cmds[i].h(req, &err, a->cmds[i].arg);
		reply(c, body, err);
		json_decref(body);
		json_decref(req);
		return;
	}
	reply(c, NULL, "unknown command");
	json_decref(req);
}

static void on_client(int fd, unsigned events, void *arg)
{
	struct client *c = arg;
	if (events & SPS_LOOP_WRITE) {
		if (!flush(c))
			return;
	}
	if (!(events & (SPS_LOOP_READ | SPS_LOOP_ERROR)) || c->close_after ||
	    c->out_len - c->out_off > MAX_BACKLOG)
		return;
	ssize_t n = recv(fd, c->in + c->in_len, SPS_ADMIN_MAX_REQ - c->in_len, 0);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	if (n <= 0) {
		/* EOF: answer what is pending, then close */
		c->close_after = true;
		flush(c);
		return;
	}
	c->in_len += (size_t)n;
	sps_timer_start(c->a->loop, &c->idle, CLIENT_IDLE_MS, on_idle, c);
	size_t start = 0;
	for (size_t i = 0; i < c->in_len; i++) {
		if (c->in[i] != '\n')
			continue;
		if (i > start)
			handle_line(c, c->in + start, i - start);
		start = i + 1;
	}
	memmove(c->in, c->in + start, c->in_len - start);
	c->in_len -= start;
	if (c->in_len == SPS_ADMIN_MAX_REQ) {
		reply(c, NULL, "request line too long");
		c->close_after = true;
	}
	flush(c);
}

static void on_accept(int fd, unsigned events, void *arg)
{
	struct sps_admin *a = arg;
	for (int k = 0; k < 8; k++) {
		int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (cfd < 0)
			return;
		size_t slot = SPS_ADMIN_MAX_CLIENTS;
		for (size_t i = 0; i < SPS_ADMIN_MAX_CLIENTS; i++)
			if (!a->clients[i]) {
				slot = i;
				break;
			}
		struct client *c = slot < SPS_ADMIN_MAX_CLIENTS ? calloc(1, sizeof(*c)) : NULL;
		if (!c) {
			close(cfd); /* too many clients: the CLI sees EOF and says so */
			continue;
		}
		c->a = a;
		c->fd = cfd;
		sps_timer_init(&c->idle);
		if (sps_loop_fd_add(a->loop, cfd, SPS_LOOP_READ, on_client, c) != 0) {
			close(cfd);
			free(c);
			continue;
		}
		a->clients[slot] = c;
		sps_timer_start(a->loop, &c->idle, CLIENT_IDLE_MS, on_idle, c);
	}
}

int sps_admin_open(struct sps_admin **out, struct sps_loop *loop, const char *dir)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	struct sps_admin *a = calloc(1, sizeof(*a));
	if (!a)
		return ENOMEM;
	a->loop = loop;
	a->fd = -1;
	int err = sps_admin_sock_path(dir, a->path, sizeof(a->path));
	if (err)
		goto fail;
	memcpy(sun.sun_path, a->path, strlen(a->path) + 1);
	a->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (a->fd < 0) {
		err = errno;
		goto fail;
	}
	/* a socket file left by a crashed server: connect() to it would be
	 * refused; the pid file and the ports keep two servers apart */
	unlink(a->path);
	mode_t old = umask(0177); /* created 0600, no window with wider modes */
	int rc = bind(a->fd, (struct sockaddr *)&sun, sizeof(sun));
	err = rc ? errno : 0;
	umask(old);
	if (err)
		goto fail;
	if (chmod(a->path, 0600) != 0 || listen(a->fd, SPS_ADMIN_MAX_CLIENTS) != 0) {
		err = errno;
		unlink(a->path);
		goto fail;
	}
	if ((err = sps_loop_fd_add(loop, a->fd, SPS_LOOP_READ, on_accept, a))) {
		unlink(a->path);
		goto fail;
	}
	*out = a;
	return 0;
fail:
	if (a->fd >= 0)
		close(a->fd);
	free(a);
	return err;
}

int sps_admin_register(struct sps_admin *a, const char *name, sps_admin_cmd_h *h, void *arg)
{
	if (a->ncmds == SPS_ADMIN_MAX_CMDS || strlen(name) >= sizeof(a->cmds[0].name))
		return ENOSPC;
	for (size_t i = 0; i < a->ncmds; i++)
		if (strcmp(a->cmds[i].name, name) == 0)
			return EEXIST;
	struct cmd *c = &a->cmds[a->ncmds++];
	snprintf(c->name, sizeof(c->name), "%s", name);
	c->h = h;
	c->arg = arg;
	return 0;
}

void sps_admin_close(struct sps_admin *a)
{
	if (!a)
		return;
	for (size_t i = 0; i < SPS_ADMIN_MAX_CLIENTS; i++)
		if (a->clients[i])
			client_free(a->clients[i]);
	sps_loop_fd_del(a->loop, a->fd);
	close(a->fd);
	unlink(a->path);
	free(a);
}

/* ---- the CLI side ---- */

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait for events on fd until the deadline. Returns 0 or ETIMEDOUT/errno. */
static int wait_fd(int fd, short events, int64_t deadline)
{
	for (;;) {
		int64_t left = deadline - now_ms();
		if (left <= 0)
			return ETIMEDOUT;
		struct pollfd p = {.fd = fd, .events = events};
		int n = poll(&p, 1, (int)left);
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return errno;
	}
}

int sps_admin_request(const char *dir, const json_t *req, int timeout_ms, json_t **reply_out)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	char *line = NULL, *buf = NULL;
	size_t len = 0, cap = 0;
	int64_t deadline = now_ms() + timeout_ms;
	int err = sps_admin_sock_path(dir, sun.sun_path, sizeof(sun.sun_path));
	if (err)
		return err;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return errno;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
		err = errno == EAGAIN ? ETIMEDOUT : errno; /* EAGAIN: backlog full */
		goto out;
	}
	line = json_dumps(req, JSON_COMPACT);
	if (!line) {
		err = ENOMEM;
		goto out;
	}
	size_t llen = strlen(line), off = 0;
	line[llen++] = '\n'; /* replaces the NUL: sent by length */
	while (off < llen) {
		ssize_t n = send(fd, line + off, llen - off, MSG_NOSIGNAL);
		if (n > 0) {
			off += (size_t)n;
		} else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			if ((err = wait_fd(fd, POLLOUT, deadline)))
				goto out;
		} else {
			err = n < 0 ? errno : EPIPE;
			goto out;
		}
	}
	for (;;) {
		if (len == cap) {
			cap = cap ? cap * 2 : 65536;
			if (cap > MAX_REPLY) {
				err = EMSGSIZE;
				goto out;
			}
			char *q = realloc(buf, cap);
			if (!q) {
				err = ENOMEM;
				goto out;
			}
			buf = q;
		}
		ssize_t n = recv(fd, buf + len, cap - len, 0);
		if (n > 0) {
			char *nl = memchr(buf + len, '\n', (size_t)n);
			len += (size_t)n;
			if (nl) {
				len = (size_t)(nl - buf);
				break;
			}
		} else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			if ((err = wait_fd(fd, POLLIN, deadline)))
				goto out;
		} else {
			err = n < 0 ? errno : ECONNRESET; /* EOF before a whole line */
			goto out;
		}
	}
	json_error_t jerr;
	json_t *r = json_loadb(buf, len, 0, &jerr);
	if (!r || !json_is_object(r)) {
		json_decref(r);
		err = EBADMSG;
		goto out;
	}
	*reply_out = r;
out:
	free(line);
	free(buf);
	close(fd);
	return err;
}
