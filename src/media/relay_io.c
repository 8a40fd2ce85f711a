/* media/relay_io: the packet path of the relay on a worker thread: read a
 * batch (recvmmsg), check, unprotect, latch, protect, send the batch on
 * (sendmmsg). */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "media/relay_int.h"

/* Batches per readable socket before the loop looks at the others. */
#define ROUNDS 8

#define CTR_INC(c) atomic_fetch_add_explicit(&(c), 1, memory_order_relaxed)

/* RFC 5761 4: on a multiplexed port, RTCP packet types 192-223 sit where
 * RTP has marker + payload type; RTP payload types avoid that range. */
static bool is_rtcp(const uint8_t *p, size_t len)
{
	return len >= 2 && p[1] >= 192 && p[1] <= 223;
}

/* Authenticate a copy (pass-through before the source is latched): the
 * packet goes on unchanged. */
static int check_copy(struct sps_srtp *ctx, bool rtcp, const uint8_t *p, size_t len)
{
	uint8_t tmp[SPS__PKT_MAX];
	if (len > sizeof(tmp))
		return EINVAL;
	memcpy(tmp, p, len);
	return rtcp ? sps_srtcp_unprotect(ctx, tmp, &len) : sps_srtp_unprotect(ctx, tmp, &len);
}

/* One packet from leg x's phone. Returns the length to send on (0: dropped)
 * and sets *via_rtcp (send from the other leg's RTCP socket) and *dst. */
static size_t relay_one(struct sps__wsess *s, const struct sps__wsock *in, uint8_t *p, size_t len,
			const struct sps_sa *src, bool *via_rtcp, const struct sps_sa **dst)
{
	struct sps__wleg *x = &s->leg[in->leg], *y = &s->leg[!in->leg];
	struct sps__leg_counters *c = &s->h->ctr[in->leg];
	bool rtcp = in->rtcp || is_rtcp(p, len);
	int err = 0;

	CTR_INC(c->rx);
	/* RTP and RTCP version 2 (RFC 3550 5.1, 6.4.1) */
	if (!s->configured || len < 8 || (p[0] >> 6) != 2 || (!rtcp && len < 12))
		goto drop;
	/* latched: only the learnt source (RFC 3550 8.2 spirit; sipsec policy) */
	if (rtcp ? x->latched_rtcp && !sps_sa_eq(src, &x->rtcp)
		 : x->latched && !sps_sa_eq(src, &x->rtp))
		goto drop;
	if (x->srtp) {
		if (!x->rx)
			goto drop;
		if (!s->passthrough)
			err = rtcp ? sps_srtcp_unprotect(x->rx, p, &len) : sps_srtp_unprotect(x->rx, p, &len);
		else if (!(rtcp ? x->latched_rtcp : x->latched))
			err = check_copy(x->rx, rtcp, p, len);
		if (err == EBADMSG) {
			CTR_INC(c->auth_failed);
			return 0;
		}
		if (err == EALREADY) {
			CTR_INC(c->replayed);
			return 0;
		}
		if (err)
			goto drop;
	}
	/* latch on the first authenticated (on a plain leg: the first) packet */
	if (!rtcp && !x->latched) {
		x->rtp = *src;
		x->latched = true;
		/* the counters show the first source: written once, then published */
		if (!atomic_load_explicit(&c->latched, memory_order_relaxed)) {
			c->source = *src;
			atomic_store_explicit(&c->latched, true, memory_order_release);
		}
		if (x->mux) {
			x->rtcp = *src;
			x->latched_rtcp = true;
		}
	} else if (rtcp && !x->latched_rtcp) {
		x->rtcp = *src;
		x->latched_rtcp = true;
	}
	s->last_rx = sps_loop_now(s->w->loop);

	if (y->no_send)
		goto drop;
	*via_rtcp = rtcp && !y->mux;
	*dst = rtcp && !y->mux ? &y->rtcp : &y->rtp;
	if (!(*dst)->len)
		goto drop;
	if (y->srtp && !s->passthrough) {
		if (!y->tx)
			goto drop;
		err = rtcp ? sps_srtcp_protect(y->tx, p, &len) : sps_srtp_protect(y->tx, p, &len);
		if (err)
			goto drop;
	}
	return len; /* counted as relayed once sent */
drop:
	CTR_INC(c->dropped);
	return 0;
}

void sps__relay_on_read(int fd, unsigned events, void *arg)
{
	struct sps__wsock *in = arg;
	struct sps__wsess *s = in->s;
	struct sps__worker *w = s->w;
	struct mmsghdr rx[SPS__BATCH], out[2][SPS__BATCH];
	struct iovec iov[SPS__BATCH], oiov[2][SPS__BATCH];
	struct sockaddr_storage from[SPS__BATCH];

	for (int round = 0; round < ROUNDS; round++) {
		for (int i = 0; i < SPS__BATCH; i++) {
			iov[i].iov_base = w->buf[i];
			/* leave room for the SRTP trailer we may add */
			iov[i].iov_len = SPS__PKT_MAX - SPS_SRTP_OVERHEAD;
			memset(&rx[i].msg_hdr, 0, sizeof(rx[i].msg_hdr));
			rx[i].msg_hdr.msg_name = &from[i];
			rx[i].msg_hdr.msg_namelen = sizeof(from[i]);
			rx[i].msg_hdr.msg_iov = &iov[i];
			rx[i].msg_hdr.msg_iovlen = 1;
		}
		int n = recvmmsg(fd, rx, SPS__BATCH, MSG_DONTWAIT, NULL);
		if (n <= 0)
			return; /* EAGAIN, or an ICMP error reported on the socket: nothing to do */
		int nout[2] = {0, 0};
		for (int i = 0; i < n; i++) {
			struct sps_sa src;
			bool via_rtcp = false;
			const struct sps_sa *dst = NULL;
			if (rx[i].msg_hdr.msg_flags & MSG_TRUNC ||
			    sps_sa_set(&src, (struct sockaddr *)&from[i], rx[i].msg_hdr.msg_namelen)) {
				CTR_INC(s->h->ctr[in->leg].rx);
				CTR_INC(s->h->ctr[in->leg].dropped);
				continue;
			}
			size_t len = relay_one(s, in, w->buf[i], rx[i].msg_len, &src, &via_rtcp, &dst);
			if (!len)
				continue;
			int k = via_rtcp ? 1 : 0;
			struct mmsghdr *o = &out[k][nout[k]];
			oiov[k][nout[k]].iov_base = w->buf[i];
			oiov[k][nout[k]].iov_len = len;
			memset(&o->msg_hdr, 0, sizeof(o->msg_hdr));
			o->msg_hdr.msg_name = (void *)sps_sa_addr(dst);
			o->msg_hdr.msg_namelen = dst->len;
			o->msg_hdr.msg_iov = &oiov[k][nout[k]];
			o->msg_hdr.msg_iovlen = 1;
			nout[k]++;
		}
		const struct sps__wleg *y = &s->leg[!in->leg];
		struct sps__leg_counters *c = &s->h->ctr[in->leg];
		for (int k = 0; k < 2; k++) {
			int sent = 0;
			/* a full socket buffer (EAGAIN) or an ICMP error ends the batch:
			 * the rest is dropped, as UDP would */
			while (sent < nout[k]) {
				int r = sendmmsg(y->sock[k].fd, out[k] + sent, (unsigned)(nout[k] - sent),
						 MSG_DONTWAIT);
				if (r <= 0)
					break;
				sent += r;
			}
			if (sent)
				atomic_fetch_add_explicit(&c->relayed, (uint64_t)sent,
							  memory_order_relaxed);
			if (nout[k] - sent)
				atomic_fetch_add_explicit(&c->dropped, (uint64_t)(nout[k] - sent),
							  memory_order_relaxed);
		}
		if (n < SPS__BATCH)
			return;
	}
}
