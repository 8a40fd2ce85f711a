/* sdp: Session Description Protocol parser and writer (RFC 8866, which
 * obsoletes RFC 4566) with what RFC 3264 offer/answer and SDES-SRTP need:
 * several m= sections, c=/o=/m=/a= lines, the RTP/AVP, RTP/SAVP, RTP/AVPF and
 * RTP/SAVPF profiles, a=crypto (RFC 4568 9.1), a=rtcp (RFC 3605), a=rtcp-mux
 * (RFC 5761) and the direction attributes (RFC 8866 6.7).
 *
 * Parsing is zero-copy: every slice points into the caller's buffer, which
 * must outlive the struct sps_sdp. The parser is bounded: at most
 * SPS_SDP_MAX_SIZE bytes, SPS_SDP_MAX_LINES lines, SPS_SDP_MAX_MEDIA m=
 * sections and SPS_SDP_MAX_CRYPTO a=crypto lines per section; anything more
 * is refused, never truncated. Unknown lines and attributes are kept so the
 * writer can pass them on unchanged. */
#ifndef SPS_SDP_SDP_H
#define SPS_SDP_SDP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/slice.h"

#define SPS_SDP_MAX_SIZE 16384
#define SPS_SDP_MAX_LINES 256
#define SPS_SDP_MAX_MEDIA 8
#define SPS_SDP_MAX_CRYPTO 8
/* master key || master salt: AEAD_AES_256_GCM has the longest, 32 + 12 (RFC 7714 12) */
#define SPS_SDP_KEY_MAX 44
/* an a=crypto value we write: tag, suite, "inline:" and the base64 of
 * SPS_SDP_KEY_MAX bytes, with room to spare */
#define SPS_SDP_CRYPTO_LINE_MAX 160

/* The transport protocol of an m= line (RFC 8866 5.14). */
enum sps_sdp_proto {
	SPS_SDP_PROTO_OTHER = 0, /* "udp", "UDP/TLS/RTP/SAVPF", ...: kept, never secured by us */
	SPS_SDP_RTP_AVP,         /* RFC 3551 */
	SPS_SDP_RTP_SAVP,        /* RFC 3711 */
	SPS_SDP_RTP_AVPF,        /* RFC 4585 */
	SPS_SDP_RTP_SAVPF,       /* RFC 5124 */
};

/* Media direction (RFC 8866 6.7); NONE: no attribute at this level. */
enum sps_sdp_dir {
	SPS_SDP_DIR_NONE = 0,
	SPS_SDP_SENDRECV,
	SPS_SDP_SENDONLY,
	SPS_SDP_RECVONLY,
	SPS_SDP_INACTIVE,
};

/* One line "<type>=<value>"; val excludes the "x=" and the line end. */
struct sps_sdp_line {
	struct sps_slice val;
	char type;
	int8_t media; /* index of the m= section it belongs to, -1 for the session part */
};

/* c=<nettype> <addrtype> <connection-address> (RFC 8866 5.7) */
struct sps_sdp_conn {
	struct sps_slice nettype;  /* "IN" */
	struct sps_slice addrtype; /* "IP4" or "IP6" */
	struct sps_slice addr;     /* may carry "/ttl" for multicast, kept as written */
};

/* a=crypto:<tag> <crypto-suite> <key-params> [<session-params>] (RFC 4568 9.1).
 * Only the first key-param is split up (a second one, used with MKIs, is
 * counted in nkeys and kept in key_params). */
struct sps_sdp_crypto {
	uint32_t tag;                  /* 1*9DIGIT */
	struct sps_slice suite;        /* "AES_CM_128_HMAC_SHA1_80" */
	struct sps_slice key_params;   /* "inline:...|2^20|1:4" (all key-params) */
	struct sps_slice key_b64;      /* base64 of master key || master salt */
	struct sps_slice lifetime;     /* "2^31" or "" */
	struct sps_slice session_params; /* "KDR=1 UNENCRYPTED_SRTCP" or "" */
	uint32_t mki;                  /* MKI value when has_mki */
	uint32_t mki_len;              /* MKI length in bytes, 1..128 */
	bool has_mki;
	unsigned nkeys;                /* number of key-params (1 usually) */
	uint16_t line;                 /* index in sps_sdp.lines */
};

/* One m= section (RFC 8866 5.14) with the attributes we act on. */
struct sps_sdp_media {
	struct sps_slice type;   /* "audio", "video", ... */
	uint16_t port;
	uint16_t nports;         /* the "/<number of ports>" or 0 */
	struct sps_slice proto_s;
	enum sps_sdp_proto proto;
	struct sps_slice fmts;   /* "0 8 101" */
	struct sps_sdp_conn conn;
	bool has_conn;
	enum sps_sdp_dir dir;
	bool rtcp_mux;           /* a=rtcp-mux (RFC 5761 5.1.1) */
	bool has_rtcp;           /* a=rtcp (RFC 3605 2.1) */
	uint16_t rtcp_port;
	struct sps_sdp_conn rtcp_conn; /* set when the a=rtcp line names an address */
	struct sps_sdp_crypto crypto[SPS_SDP_MAX_CRYPTO];
	size_t ncrypto;
	uint16_t line;           /* index of the m= line in sps_sdp.lines */
	uint16_t end;            /* one past its last line */
};

/* o=<username> <sess-id> <sess-version> <nettype> <addrtype> <unicast-address> */
struct sps_sdp_origin {
	struct sps_slice user, sess_id, sess_version;
	struct sps_sdp_conn conn;
};

struct sps_sdp {
	struct sps_sdp_line lines[SPS_SDP_MAX_LINES];
	size_t nlines;
	struct sps_sdp_origin origin;
	struct sps_slice name;   /* s= */
	struct sps_sdp_conn conn; /* session-level c= */
	bool has_conn;
	enum sps_sdp_dir dir;    /* session-level direction attribute */
	struct sps_sdp_media media[SPS_SDP_MAX_MEDIA];
	size_t nmedia;
	bool crlf;               /* the first line ended in CRLF (the writer always writes CRLF) */
};

/* Parse the SDP body in s. Returns 0, E2BIG over a bound, or EBADMSG; on
 * error *why (when not NULL) is a static one-line reason and *out holds
 * nothing usable (it is parsed in place: the struct is large). On success
 * its slices point into s. */
int sps_sdp_parse(struct sps_slice s, struct sps_sdp *out, const char **why);

/* Parse the value of an a=crypto attribute (after "crypto:"). Returns 0 or
 * EBADMSG with *why set. out->line is left 0. */
int sps_sdp_crypto_parse(struct sps_slice val, struct sps_sdp_crypto *out, const char **why);

/* The effective direction of media section i: its own attribute, else the
 * session's, else sendrecv (RFC 8866 6.7). */
enum sps_sdp_dir sps_sdp_media_dir(const struct sps_sdp *sdp, size_t i);
/* The connection of media section i: its own c=, else the session's. */
const struct sps_sdp_conn *sps_sdp_media_conn(const struct sps_sdp *sdp, size_t i);
/* Secure RTP profiles (RTP/SAVP, RTP/SAVPF). */
static inline bool sps_sdp_proto_secure(enum sps_sdp_proto p)
{
	return p == SPS_SDP_RTP_SAVP || p == SPS_SDP_RTP_SAVPF;
}
/* "RTP/AVP", ... (NULL for OTHER). */
const char *sps_sdp_proto_name(enum sps_sdp_proto p);
const char *sps_sdp_dir_name(enum sps_sdp_dir d);

/* Format an a=crypto value "TAG SUITE inline:BASE64" into buf (no "a=crypto:").
 * Returns 0 or ENOSPC. The buffer holds key material: wipe it after use. */
int sps_sdp_crypto_format(char *buf, size_t size, uint32_t tag, const char *suite,
			  const uint8_t *key, size_t keylen);

/* ---- writer ---- */

/* Changes to one m= section made while writing. */
struct sps_sdp_media_edit {
	bool set;                  /* apply this edit */
	uint16_t port;             /* new m= port (0 rejects the stream, RFC 3264 6) */
	enum sps_sdp_proto proto;  /* new profile, OTHER: keep */
	bool set_rtcp;             /* rewrite a=rtcp: rtcp_port 0 drops the line */
	uint16_t rtcp_port;
	enum sps_sdp_dir dir;      /* NONE: keep; else replace (or add) the direction attribute */
	bool replace_crypto;       /* drop every a=crypto and write crypto[0..ncrypto) instead */
	const char *crypto[SPS_SDP_MAX_CRYPTO]; /* values after "a=crypto:" */
	size_t ncrypto;
};

/* Changes applied by sps_sdp_write; a zeroed struct writes the SDP unchanged. */
struct sps_sdp_edit {
	const char *addr;          /* new address of o= and every c= (and a=rtcp with an address) */
	bool set_version;          /* replace o= sess-version (RFC 3264 8: +1 on each change) */
	uint64_t version;
	struct sps_sdp_media_edit media[SPS_SDP_MAX_MEDIA];
};

/* Write sdp with edit applied into buf, keeping every other line as it was
 * and in its place. New a=crypto lines go where the first old one was, else
 * at the end of the section. Returns 0, EINVAL (an edit value with a line
 * break, or an address that is neither IPv4 nor IPv6), or ENOSPC; *len is
 * the length written (no NUL added). */
int sps_sdp_write(const struct sps_sdp *sdp, const struct sps_sdp_edit *edit, char *buf,
		  size_t size, size_t *len);

#endif
