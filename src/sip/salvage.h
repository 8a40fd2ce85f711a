/* sip/salvage: answering a request the parser refused. */
#ifndef SPS_SIP_SALVAGE_H
#define SPS_SIP_SALVAGE_H

#include <stddef.h>

#include "core/mbuf.h"

/* Build "SIP/2.0 400 <reason>" for a request that failed to parse, copying
 * its Via, From, To, Call-ID and CSeq lines as they are (RFC 3261 8.2.6.2)
 * so that the sender can match the answer. Returns 0 when a response was
 * written, ENOENT when the message is a response, an ACK, or lacks one of
 * those headers (then it is dropped silently), EINVAL when a needed line
 * holds bytes that must not be echoed (bare CR, LF, NUL) or is too long. */
int sps_sip_salvage_400(struct sps_mbuf *mb, const char *buf, size_t len, const char *reason);

#endif
