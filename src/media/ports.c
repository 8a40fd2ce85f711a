/* media/ports: the relay's UDP port range, in pairs: RTP on an even port and
 * RTCP on the next odd one (RFC 3550 11, RFC 3605 3). Owner thread only. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "media/relay_int.h"

int sps__ports_init(struct sps__ports *p, const struct sps_sa *base, uint16_t min, uint16_t max)
{
	memset(p, 0, sizeof(*p));
	uint32_t first = (min + 1u) & ~1u; /* round up to even */
	if (min == 0 || max < first + 1)
		return EINVAL;
	p->base = *base;
	p->first = (uint16_t)first;
	p->npairs = (max - first + 1) / 2;
	p->busy = calloc(p->npairs, 1);
	return p->busy ? 0 : ENOMEM;
}

void sps__ports_fini(struct sps__ports *p)
{
	free(p->busy);
	p->busy = NULL;
}

static int bind_one(const struct sps__ports *p, uint16_t port, int *fd)
{
	struct sps_sa sa = p->base;
	sps_sa_set_port(&sa, port);
	int s = socket(sps_sa_family(&sa), SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s < 0)
		return errno;
	/* room for bursts while a worker is busy with other sessions */
	int sz = 512 * 1024;
	setsockopt(s, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	if (bind(s, sps_sa_addr(&sa), sa.len) != 0) {
		int err = errno;
		close(s);
		return err;
	}
	*fd = s;
	return 0;
}

int sps__ports_get(struct sps__ports *p, int fds[2], uint16_t *port)
{
	for (uint32_t tries = 0; tries < p->npairs; tries++) {
		uint32_t i = p->next;
		p->next = (p->next + 1) % p->npairs;
		if (p->busy[i])
			continue;
		uint16_t rtp = (uint16_t)(p->first + 2 * i);
		int a, b;
		int err = bind_one(p, rtp, &a);
		if (err == EADDRINUSE)
			continue; /* another process holds it */
		if (err)
			return err;
		err = bind_one(p, (uint16_t)(rtp + 1), &b);
		if (err) {
			close(a);
			if (err == EADDRINUSE)
				continue;
			return err;
		}
		p->busy[i] = 1;
		p->used++;
		fds[0] = a;
		fds[1] = b;
		*port = rtp;
		return 0;
	}
	return EADDRINUSE;
}

void sps__ports_put(struct sps__ports *p, uint16_t port)
{
	uint32_t i = (uint32_t)(port - p->first) / 2;
	if (port >= p->first && i < p->npairs && p->busy[i]) {
		p->busy[i] = 0;
		p->used--;
	}
}
