/* sip/msg: the SIP message parser (RFC 3261 sections 7, 20, 25), zero-copy and bounded.
 *
 * A parsed message is a view: every slice points into the buffer passed to
 * sps_sip_msg_parse(), which the caller keeps alive (and unchanged) as long as
 * the message. The parser rewrites header folding (CRLF followed by SP/HT)
 * into spaces in place, so the buffer must be writable; offsets do not move.
 * Parsed structures live in the arena given to the parser. */
#ifndef SPS_SIP_MSG_H
#define SPS_SIP_MSG_H

#include <stdbool.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/slice.h"
#include "sip/uri.h"

/* Limits (issue 2): a message over 65,535 bytes, more than 256 header
 * entries, or a header line over 8 KiB is rejected. */
#define SPS_SIP_MAX_MSG 65535
#define SPS_SIP_MAX_HDRS 256
#define SPS_SIP_MAX_LINE 8192

enum sps_sip_method {
	SPS_METHOD_OTHER = 0,
	SPS_METHOD_INVITE,
	SPS_METHOD_ACK,
	SPS_METHOD_BYE,
	SPS_METHOD_CANCEL,
	SPS_METHOD_OPTIONS,
	SPS_METHOD_REGISTER,
	SPS_METHOD_PRACK,
	SPS_METHOD_SUBSCRIBE,
	SPS_METHOD_NOTIFY,
	SPS_METHOD_PUBLISH,
	SPS_METHOD_INFO,
	SPS_METHOD_REFER,
	SPS_METHOD_MESSAGE,
	SPS_METHOD_UPDATE,
};

/* Header ids. The long and compact forms (RFC 3261 7.3.3) map to one id. */
enum sps_hdr_id {
	SPS_HDR_OTHER = 0,
	SPS_HDR_VIA,
	SPS_HDR_FROM,
	SPS_HDR_TO,
	SPS_HDR_CALL_ID,
	SPS_HDR_CSEQ,
	SPS_HDR_CONTACT,
	SPS_HDR_MAX_FORWARDS,
	SPS_HDR_ROUTE,
	SPS_HDR_RECORD_ROUTE,
	SPS_HDR_PATH,
	SPS_HDR_EXPIRES,
	SPS_HDR_MIN_EXPIRES,
	SPS_HDR_CONTENT_LENGTH,
	SPS_HDR_CONTENT_TYPE,
	SPS_HDR_SUPPORTED,
	SPS_HDR_REQUIRE,
	SPS_HDR_PROXY_REQUIRE,
	SPS_HDR_UNSUPPORTED,
	SPS_HDR_WWW_AUTHENTICATE,
	SPS_HDR_PROXY_AUTHENTICATE,
	SPS_HDR_AUTHORIZATION,
	SPS_HDR_PROXY_AUTHORIZATION,
	SPS_HDR_USER_AGENT,
	SPS_HDR_ALLOW,
	SPS_HDR_ACCEPT,
	SPS_HDR_SUBJECT,
	SPS_HDR_CONTENT_ENCODING,
	SPS_HDR_EVENT,
	SPS_HDR_REFER_TO,
	SPS_HDR_REFERRED_BY,
	SPS_HDR_ALLOW_EVENTS,
	SPS_HDR_SESSION_EXPIRES,
	SPS_HDR_REASON,
	SPS_HDR_WARNING,
	SPS_HDR_RETRY_AFTER,
	SPS_HDR_SERVER,
	SPS_HDR_DATE,
	SPS_HDR_TIMESTAMP,
	SPS_HDR_REPLACES,
	SPS_HDR__COUNT
};

/* Via (RFC 3261 20.42, 18.2.1, RFC 3581). */
struct sps_via {
	struct sps_slice raw;       /* the whole value */
	struct sps_slice proto;     /* "SIP/2.0" */
	struct sps_slice transport; /* "UDP", "TCP", "TLS", ... */
	struct sps_slice host;      /* IPv6 with [ ] */
	uint16_t port;              /* 0 when absent */
	struct sps_slice params;    /* raw, without the first ';' */
	struct sps_slice branch, received, maddr;
	bool rport;                 /* rport present */
	uint16_t rport_val;         /* 0 when rport has no value */
	int ttl;                    /* -1 when absent */
};

/* name-addr / addr-spec with parameters: From, To, Contact, Route, Record-Route,
 * Path, Refer-To (RFC 3261 20.10, 20.20, 20.39, 25.1). */
struct sps_nameaddr {
	struct sps_slice raw;     /* the whole value */
	struct sps_slice dname;   /* display name as written (quotes kept), may be empty */
	struct sps_slice uri_s;   /* the URI text */
	struct sps_uri uri;
	bool angle;               /* URI was in < > */
	struct sps_slice params;  /* header parameters, raw, without the first ';' */
	struct sps_slice tag;     /* From/To tag */
};

/* Contact (RFC 3261 20.10, RFC 5626). */
struct sps_contact {
	struct sps_nameaddr na;
	bool star;          /* "Contact: *" */
	int64_t expires;    /* -1 when absent */
	int q;              /* 0..1000 (q * 1000), -1 when absent */
	struct sps_slice instance; /* +sip.instance value, quotes kept */
	struct sps_slice reg_id;
};

struct sps_cseq {
	uint32_t num;
	struct sps_slice method;
	enum sps_sip_method meth;
};

/* Digest credentials or challenge (RFC 3261 20.7, 20.27, 20.28, 20.44; RFC 7616).
 * Quoted values are given without their quotes (still backslash-escaped). */
struct sps_auth {
	struct sps_slice raw;
	struct sps_slice scheme; /* "Digest" */
	struct sps_slice username, realm, nonce, uri, response, algorithm,
		cnonce, opaque, qop, nc, stale, domain, userhash;
};

/* One header entry. List headers (Via, Contact, Route, Record-Route, Path,
 * Supported, Require, Proxy-Require, Unsupported, Allow) get one entry per
 * comma-separated value, each with the same name. `parsed` points at the
 * parsed form for Via (struct sps_via), From/To/Route/Record-Route/Path/Refer-To
 * (struct sps_nameaddr), Contact (struct sps_contact) and the four auth
 * headers (struct sps_auth); NULL otherwise. */
struct sps_sip_hdr {
	enum sps_hdr_id id;
	struct sps_slice name;  /* as written (may be compact) */
	struct sps_slice value; /* trimmed */
	void *parsed;
};

/* A parsed message. Invariant: every pointer below points into the arena,
 * every slice into the message buffer. */
struct sps_sip_msg {
	struct sps_slice buf;  /* the whole message, body included */
	bool is_request;
	/* request line */
	struct sps_slice method;
	enum sps_sip_method meth;
	struct sps_slice ruri_s;
	struct sps_uri ruri;
	/* status line */
	unsigned status;
	struct sps_slice reason;

	struct sps_sip_hdr *hdrs; /* in message order */
	unsigned nhdrs;
	unsigned count[SPS_HDR__COUNT]; /* entries per header id */

	/* shortcuts to the parsed headers (NULL / unset when absent) */
	const struct sps_via *via;          /* topmost Via */
	const struct sps_nameaddr *from, *to;
	struct sps_slice call_id;
	struct sps_cseq cseq;               /* meth 0 / num 0 when absent */
	bool has_cseq;
	int max_forwards;                   /* -1 when absent */
	int64_t expires;                    /* -1 when absent */
	int64_t min_expires;                /* -1 when absent */
	int64_t content_length;             /* -1 when absent */
	struct sps_slice content_type;
	struct sps_slice user_agent;

	struct sps_slice body;
};

/* Parse one complete message of len bytes at buf (a UDP datagram, or a frame
 * cut by sps_sip_frame()). The buffer is modified in place (folding) and must
 * outlive the message. On success sets *msgp (allocated in `arena`) and returns 0.
 * On failure returns EBADMSG (or EMSGSIZE for a limit, ENOMEM when the arena is
 * exhausted) and sets *why to a short static reason ("bad Via header", ...).
 *
 * When Content-Length is absent (allowed on UDP only, RFC 3261 18.3) the body
 * is the rest of the datagram; when present, bytes past it are ignored (RFC
 * 3261 18.3) and a Content-Length larger than the data is an error. */
int sps_sip_msg_parse(char *buf, size_t len, struct sps_arena *arena,
		      struct sps_sip_msg **msgp, const char **why);

/* Iterate the entries of header id: pass NULL first, then the previous result. */
const struct sps_sip_hdr *sps_sip_msg_hdr_next(const struct sps_sip_msg *m, enum sps_hdr_id id,
					       const struct sps_sip_hdr *prev);
/* First entry with the given (long or compact) name, case-insensitive; NULL if none. */
const struct sps_sip_hdr *sps_sip_msg_hdr_by_name(const struct sps_sip_msg *m, const char *name);

/* Header id for a name (long or compact form, case-insensitive). */
enum sps_hdr_id sps_sip_hdr_id(struct sps_slice name);
/* Canonical long name of an id ("Via"), NULL for SPS_HDR_OTHER. */
const char *sps_sip_hdr_name(enum sps_hdr_id id);
enum sps_sip_method sps_sip_method_id(struct sps_slice name);
const char *sps_sip_method_name(enum sps_sip_method m);

/* RFC 3261 18.2.1 and RFC 3581 4: note on the top Via where the request
 * really came from. Adds received=ip when the sent-by host differs from ip
 * or rport is present, and rport=port when rport was requested; existing
 * received/rport parameters are replaced. The new value is built in arena
 * and replaces the top Via entry's value (so responses and forwarded copies
 * carry it); m->via's parsed fields are updated. Returns 0, EINVAL when m
 * has no Via, or ENOMEM. */
int sps_sip_msg_via_received(struct sps_sip_msg *m, const char *ip, uint16_t port,
			     struct sps_arena *arena);

/* Semantic checks a proxy applies before acting (RFC 3261 8.2, 16.3; RFC 4475
 * section 3.1.2 and 3.3): mandatory headers present and single where they
 * must be, CSeq method equal to the request method, Request-URI without
 * headers, and so on. Returns 0 when the message may be acted on, otherwise
 * the SIP status to answer with (400, 416, 483, ...) and *why a reason phrase. */
unsigned sps_sip_msg_validate(const struct sps_sip_msg *m, const char **why);

#endif
