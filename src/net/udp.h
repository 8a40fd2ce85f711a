/* net/udp: a non-blocking UDP listener on one address, reading in batches
 * (recvmmsg). An sps_udp is a core/mem object: sps_mem_deref closes it; its
 * loop must outlive it. Loop thread only. */
#ifndef SPS_NET_UDP_H
#define SPS_NET_UDP_H

#include <stddef.h>

#include "core/loop.h"
#include "net/sa.h"

struct sps_udp;

/* One datagram. src: the sender; local: the address it was sent to (the
 * actual address when bound to a wildcard). data is writable and valid only
 * during the call (zero-copy parsing may work in place); len <= 65535. */
typedef void(sps_udp_recv_h)(const struct sps_sa *src, const struct sps_sa *local, char *data,
			     size_t len, void *arg);

/* Bind local (IPv4 or IPv6; port 0 picks one) and deliver datagrams to h on
 * loop. Returns 0 or an errno (EADDRINUSE, EACCES, ...). */
int sps_udp_listen(struct sps_udp **out, struct sps_loop *loop, const struct sps_sa *local,
		   sps_udp_recv_h *h, void *arg);
/* Send one datagram now (UDP has no queue: a full socket buffer drops it).
 * Returns 0, EMSGSIZE, EAGAIN or another errno. */
int sps_udp_send(struct sps_udp *u, const struct sps_sa *dst, const void *data, size_t len);
/* The bound address (with the port the kernel picked). */
const struct sps_sa *sps_udp_local(const struct sps_udp *u);
int sps_udp_fd(const struct sps_udp *u);

#endif
