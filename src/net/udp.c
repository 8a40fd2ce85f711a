/* net/udp: UDP listener with recvmmsg batches and IP_PKTINFO local addresses. */
#define SPS_LOG_MODULE "net"
#include "net/udp.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/log.h"
#include "core/mem.h"

#define UDP_BATCH 16
#define UDP_MAX 65535

/* Owns fd and the receive buffers; registered on loop (no reference). */
struct sps_udp {
	struct sps_loop *loop;
	int fd;
	struct sps_sa local;
	bool local_any;
	sps_udp_recv_h *h;
	void *arg;
	char *bufs; /* UDP_BATCH * (UDP_MAX + 1) bytes */
};

static void udp_destroy(void *obj)
{
	struct sps_udp *u = obj;
	if (u->fd >= 0) {
		sps_loop_fd_del(u->loop, u->fd);
		close(u->fd);
	}
	free(u->bufs);
}

/* The destination address of a datagram from its IP_PKTINFO/IPV6_PKTINFO. */
static void local_of(const struct sps_udp *u, struct msghdr *mh, struct sps_sa *local)
{
	*local = u->local;
	if (!u->local_any)
		return;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
			struct in_pktinfo pi;
			memcpy(&pi, CMSG_DATA(c), sizeof(pi));
			((struct sockaddr_in *)&local->ss)->sin_addr = pi.ipi_addr;
		} else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
			struct in6_pktinfo pi;
			memcpy(&pi, CMSG_DATA(c), sizeof(pi));
			((struct sockaddr_in6 *)&local->ss)->sin6_addr = pi.ipi6_addr;
		}
	}
}

static void udp_readable(int fd, unsigned events, void *arg)
{
	struct sps_udp *u = arg;
	struct mmsghdr msgs[UDP_BATCH];
	struct iovec iov[UDP_BATCH];
	struct sockaddr_storage from[UDP_BATCH];
	union {
		char buf[CMSG_SPACE(sizeof(struct in6_pktinfo))];
		struct cmsghdr align;
	} ctl[UDP_BATCH];
	(void)events;

	memset(msgs, 0, sizeof(msgs));
	for (int i = 0; i < UDP_BATCH; i++) {
		iov[i].iov_base = u->bufs + (size_t)i * (UDP_MAX + 1);
		iov[i].iov_len = UDP_MAX + 1; /* one more: detect truncation */
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
		msgs[i].msg_hdr.msg_name = &from[i];
		msgs[i].msg_hdr.msg_namelen = sizeof(from[i]);
		msgs[i].msg_hdr.msg_control = ctl[i].buf;
		msgs[i].msg_hdr.msg_controllen = sizeof(ctl[i].buf);
	}
	int n = recvmmsg(fd, msgs, UDP_BATCH, MSG_DONTWAIT, NULL);
	if (n <= 0)
		return; /* EAGAIN, or an ICMP error reported on the socket */
	/* hold a reference: the handler may release the listener */
	sps_mem_ref(u);
	for (int i = 0; i < n && sps_mem_nrefs(u) > 1; i++) { /* stop once released */
		struct sps_sa src, local;
		if (msgs[i].msg_len > UDP_MAX || (msgs[i].msg_hdr.msg_flags & MSG_TRUNC))
			continue;
		if (sps_sa_set(&src, (struct sockaddr *)&from[i], msgs[i].msg_hdr.msg_namelen))
			continue;
		local_of(u, &msgs[i].msg_hdr, &local);
		u->h(&src, &local, iov[i].iov_base, msgs[i].msg_len, u->arg);
	}
	sps_mem_deref(u);
}

int sps_udp_listen(struct sps_udp **out, struct sps_loop *loop, const struct sps_sa *local,
		   sps_udp_recv_h *h, void *arg)
{
	int err, on = 1;
	struct sps_udp *u = sps_mem_zalloc(sizeof(*u), udp_destroy);
	if (!u)
		return ENOMEM;
	u->fd = -1;
	u->loop = loop;
	u->h = h;
	u->arg = arg;
	u->bufs = malloc((size_t)UDP_BATCH * (UDP_MAX + 1));
	if (!u->bufs) {
		err = ENOMEM;
		goto out;
	}
	int fam = sps_sa_family(local);
	u->fd = socket(fam, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (u->fd < 0) {
		err = errno;
		goto out;
	}
	if (fam == AF_INET6) {
		(void)setsockopt(u->fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on));
		(void)setsockopt(u->fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &on, sizeof(on));
	} else {
		(void)setsockopt(u->fd, IPPROTO_IP, IP_PKTINFO, &on, sizeof(on));
	}
	if (bind(u->fd, sps_sa_addr(local), local->len) < 0) {
		err = errno;
		goto out;
	}
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	if (getsockname(u->fd, (struct sockaddr *)&ss, &sl) < 0) {
		err = errno;
		goto out;
	}
	err = sps_sa_set(&u->local, (struct sockaddr *)&ss, sl);
	if (err)
		goto out;
	u->local_any = sps_sa_is_any(&u->local);
	err = sps_loop_fd_add(loop, u->fd, SPS_LOOP_READ, udp_readable, u);
	if (err)
		goto out;
	*out = u;
	return 0;
out:
	if (u->fd >= 0) {
		close(u->fd);
		u->fd = -1;
	}
	sps_mem_deref(u);
	return err;
}

int sps_udp_send(struct sps_udp *u, const struct sps_sa *dst, const void *data, size_t len)
{
	if (len > UDP_MAX)
		return EMSGSIZE;
	ssize_t n = sendto(u->fd, data, len, MSG_DONTWAIT | MSG_NOSIGNAL, sps_sa_addr(dst), dst->len);
	if (n < 0)
		return errno == EWOULDBLOCK ? EAGAIN : errno;
	return (size_t)n == len ? 0 : EMSGSIZE;
}

const struct sps_sa *sps_udp_local(const struct sps_udp *u) { return &u->local; }
int sps_udp_fd(const struct sps_udp *u) { return u->fd; }
