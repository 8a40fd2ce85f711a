/* sip/frame: cutting a TCP/TLS byte stream into SIP messages (RFC 3261 18.3)
 * and recognising RFC 5626 4.4.1 keep-alives. */
#ifndef SPS_SIP_FRAME_H
#define SPS_SIP_FRAME_H

#include <stddef.h>

enum sps_frame_kind {
	SPS_FRAME_MSG = 1,  /* a complete message of `len` bytes starts the buffer */
	SPS_FRAME_PING,     /* a double-CRLF keep-alive ping: answer with one CRLF (pong) */
	SPS_FRAME_PONG,     /* a single CRLF (a pong, or stray line end): ignore */
};

struct sps_frame {
	enum sps_frame_kind kind;
	size_t len; /* message length (MSG) or bytes to consume (PING, PONG) */
};

/* Look at the start of a stream buffer. Returns:
 *   0        with *f set: consume f->len bytes after handling it;
 *   ENODATA  need more bytes (nothing consumed);
 *   EBADMSG  the stream is broken (no Content-Length, bad Content-Length,
 *            header section over the limits): close the connection;
 *   EMSGSIZE the message would exceed SPS_SIP_MAX_MSG.
 * *why is set on errors. Pipelined messages are returned one per call. */
int sps_sip_frame(const char *buf, size_t len, struct sps_frame *f, const char **why);

#endif
