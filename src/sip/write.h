/* sip/write: building SIP requests and responses, so that no layer pastes
 * strings together by hand. Output goes to a struct sps_mbuf (bounded at
 * SPS_SIP_MAX_MSG); every function returns 0 or the mbuf's sticky error. */
#ifndef SPS_SIP_WRITE_H
#define SPS_SIP_WRITE_H

#include <stdint.h>

#include "core/mbuf.h"
#include "core/slice.h"
#include "sip/msg.h"

/* An extra header line: "name: value". */
struct sps_sip_newhdr {
	const char *name;
	struct sps_slice value;
};

/* A response to `req` (RFC 3261 8.2.6.2): copies every Via, From, To (adding
 * to_tag when non-NULL and To has no tag), Call-ID and CSeq; then the extra
 * headers, Content-Type when a body is given, and Content-Length. A NULL
 * reason uses the default phrase of the code. */
int sps_sip_resp_write(struct sps_mbuf *mb, const struct sps_sip_msg *req, unsigned code,
		       const char *reason, const char *to_tag, const struct sps_sip_newhdr *extra,
		       size_t nextra, const char *content_type, struct sps_slice body);

/* A request line, headers and body from scratch. `hdrs` are written in order;
 * Content-Length is always added (computed from body). */
int sps_sip_req_write(struct sps_mbuf *mb, const char *method, struct sps_slice ruri,
		      const struct sps_sip_newhdr *hdrs, size_t nhdrs, const char *content_type,
		      struct sps_slice body);

/* What to change when copying a message (a proxy forwarding a request,
 * RFC 3261 16.6, or a response, 16.7). Everything not mentioned is copied. */
struct sps_sip_edit {
	const struct sps_slice *ruri;          /* new Request-URI, NULL keeps it */
	const struct sps_sip_newhdr *prepend;   /* added before the first header (Via, Record-Route) */
	size_t nprepend;
	const struct sps_sip_newhdr *append;    /* added after the last header */
	size_t nappend;
	uint64_t drop;                          /* bitmask (1 << id) of header ids to drop entirely */
	unsigned drop_top_via;                  /* remove this many topmost Via entries */
	unsigned drop_top_route;                /* remove this many topmost Route entries */
	int max_forwards;                       /* >= 0 replaces Max-Forwards (added when absent);
						 * -1 keeps it: a zeroed edit sets 0, so always set it */
	const struct sps_slice *body;           /* new body, NULL keeps it */
	const char *content_type;               /* with body: the new Content-Type (NULL: drop) */
};

#define SPS_SIP_DROP(id) ((uint64_t)1 << (id))

/* Copy msg with the edits applied. Header values are copied as parsed (one
 * line per entry, long header names); Content-Length is recomputed. */
int sps_sip_msg_copy(struct sps_mbuf *mb, const struct sps_sip_msg *msg,
		     const struct sps_sip_edit *edit);

/* Default reason phrase of a status code (RFC 3261 21), "Unknown" otherwise. */
const char *sps_sip_reason_phrase(unsigned code);

#endif
