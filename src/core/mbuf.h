/* core/mbuf: a growable byte buffer with a hard size limit, for building messages. */
#ifndef SPS_CORE_MBUF_H
#define SPS_CORE_MBUF_H

#include <stdarg.h>
#include <stddef.h>

#include "core/slice.h"

/* Owns buf. An error sticks: once a write fails (ENOMEM or over max) every
 * later write is a no-op and sps_mbuf_err() reports it, so callers can build a
 * whole message and check once. */
struct sps_mbuf {
	char *buf;
	size_t len;
	size_t cap;
	size_t max; /* 0 = 65535 (the SIP message limit) */
	int err;
};

void sps_mbuf_init(struct sps_mbuf *mb, size_t max);
void sps_mbuf_reset(struct sps_mbuf *mb);
void sps_mbuf_free(struct sps_mbuf *mb);
int sps_mbuf_write(struct sps_mbuf *mb, const void *p, size_t n);
int sps_mbuf_puts(struct sps_mbuf *mb, const char *s);
int sps_mbuf_put_slice(struct sps_mbuf *mb, struct sps_slice s);
int sps_mbuf_printf(struct sps_mbuf *mb, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int sps_mbuf_vprintf(struct sps_mbuf *mb, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));
static inline int sps_mbuf_err(const struct sps_mbuf *mb) { return mb->err; }
static inline struct sps_slice sps_mbuf_slice(const struct sps_mbuf *mb)
{
	return sps_slice_make(mb->buf, mb->len);
}

#endif
