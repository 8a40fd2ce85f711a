/* core/mbuf: growable byte buffer. */
#include "core/mbuf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sps_mbuf_init(struct sps_mbuf *mb, size_t max)
{
	memset(mb, 0, sizeof(*mb));
	mb->max = max ? max : 65535;
}

void sps_mbuf_reset(struct sps_mbuf *mb)
{
	mb->len = 0;
	mb->err = 0;
}

void sps_mbuf_free(struct sps_mbuf *mb)
{
	free(mb->buf);
	mb->buf = NULL;
	mb->len = mb->cap = 0;
}

/* Make room for n more bytes plus a NUL. */
static int reserve(struct sps_mbuf *mb, size_t n)
{
	if (mb->err)
		return mb->err;
	if (n > mb->max || mb->len + n > mb->max) {
		mb->err = EMSGSIZE;
		return mb->err;
	}
	if (mb->len + n + 1 <= mb->cap)
		return 0;
	size_t cap = mb->cap ? mb->cap : 512;
	while (cap < mb->len + n + 1)
		cap *= 2;
	char *b = realloc(mb->buf, cap);
	if (!b) {
		mb->err = ENOMEM;
		return mb->err;
	}
	mb->buf = b;
	mb->cap = cap;
	return 0;
}

int sps_mbuf_write(struct sps_mbuf *mb, const void *p, size_t n)
{
	int err = reserve(mb, n);
	if (err)
		return err;
	if (n)
		memcpy(mb->buf + mb->len, p, n);
	mb->len += n;
	mb->buf[mb->len] = '\0';
	return 0;
}

int sps_mbuf_puts(struct sps_mbuf *mb, const char *s)
{
	return sps_mbuf_write(mb, s, strlen(s));
}

int sps_mbuf_put_slice(struct sps_mbuf *mb, struct sps_slice s)
{
	return sps_mbuf_write(mb, s.p, s.l);
}

int sps_mbuf_vprintf(struct sps_mbuf *mb, const char *fmt, va_list ap)
{
	va_list ap2;
	va_copy(ap2, ap);
	int n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0) {
		if (!mb->err)
			mb->err = EINVAL;
		return mb->err;
	}
	int err = reserve(mb, (size_t)n);
	if (err)
		return err;
	vsnprintf(mb->buf + mb->len, (size_t)n + 1, fmt, ap);
	mb->len += (size_t)n;
	return 0;
}

int sps_mbuf_printf(struct sps_mbuf *mb, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int err = sps_mbuf_vprintf(mb, fmt, ap);
	va_end(ap);
	return err;
}
