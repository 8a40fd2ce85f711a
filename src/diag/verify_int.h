/* diag: the analyser's state, shared by verify.c (flows, TCP and IP
 * reassembly), verify_sig.c (SIP, SDP, TLS), verify_media.c (RTP, RTCP) and
 * verify_report.c (the JSON report and verdict).
 *
 * Ownership: struct sps__verify owns every flow, call and stream (plain
 * malloc, freed by sps__verify_free); strings in them are malloc'd copies.
 * Invariant: the sum of all TCP reassembly buffers' capacities stays at or
 * below lim.max_reasm_total (reasm_bytes counts it). */
#ifndef SPS_DIAG_VERIFY_INT_H
#define SPS_DIAG_VERIFY_INT_H

#include <stdbool.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "diag/diag_int.h"

struct sps_arena;

struct sps__ep {
	uint8_t af;
	uint8_t addr[16];
	uint16_t port;
};

/* What a flow carries, decided from its first bytes. */
enum sps__kind { K_UNKNOWN = 0, K_SIP, K_TLS, K_OTHER };

/* One direction of a TCP flow: in-order reassembly (RFC 9293 3.4 sequence
 * numbers) into buf. `lost` is set after a gap: the parser then looks for
 * the next message or record boundary before reading on. */
struct sps__dir {
	bool have_next;
	uint32_t next;
	bool lost;
	uint8_t *buf;
	size_t len, cap;
	/* TLS handshake messages may span records (RFC 8446 5.1) */
	uint8_t *hs;
	size_t hslen;
	bool hs_dead; /* handshake unreadable from here on (encrypted, or too big) */
};

#define SPS__MAX_USERS 16

/* A conversation between two endpoints over UDP or TCP that carried SIP or
 * TLS. a is the endpoint that sent the first packet (the TCP SYN when seen). */
struct sps__flow {
	struct sps__flow *hnext;
	uint8_t proto;
	struct sps__ep a, b;
	enum sps__kind kind;
	bool syn_seen;        /* the flow's start is in the capture */
	uint8_t tries;        /* segments looked at while the kind is unknown */
	struct sps__dir d[2]; /* 0: a to b, 1: b to a */
	unsigned gaps;        /* TCP data not seen (lost segments, snap length) */
	bool gave_up;         /* reassembly limits hit: the rest was not read */
	/* plaintext SIP */
	unsigned sip_requests, sip_responses;
	uint32_t methods; /* bit per enum sps_sip_method */
	char *users[SPS__MAX_USERS];
	unsigned nusers;
	bool users_more;
	unsigned keys_leaked; /* SDP bodies with a=crypto seen on this flow */
	/* TLS (RFC 5246, RFC 8446) */
	unsigned tls_records;
	bool hello_seen;      /* a ServerHello was read */
	uint16_t tls_version; /* negotiated: 0x0303 TLS 1.2, 0x0304 TLS 1.3 */
	uint16_t cipher;
	uint16_t rec_min, rec_max; /* record-layer versions of application data */
	char *cert_subject;
	char *sni;
	unsigned order; /* creation order, for a stable report */
};

#define SPS__MAX_CALL_MEDIA 8

/* A call (an INVITE dialog) seen in plaintext SIP. */
struct sps__call {
	char *call_id;
	char *from, *to;       /* user@host of the first INVITE */
	unsigned keys_leaked;  /* SDP bodies with a=crypto */
	bool sdp_seen;
	bool savp, avp;        /* profiles offered/answered: RTP/SAVP(F), RTP/AVP(F) */
	char *leak_flow;       /* "a <-> b" of the first flow that leaked a key */
	struct sps__ep media[SPS__MAX_CALL_MEDIA];
	unsigned nmedia;
	unsigned order;
};

/* One RTP stream (RFC 3550: an SSRC from one transport address to another)
 * or the RTCP of a transport address pair (ssrc 0). */
struct sps__stream {
	struct sps__stream *hnext;
	bool rtcp;
	struct sps__ep src, dst;
	uint32_t ssrc;
	unsigned packets;
	/* RTP */
	uint8_t pt;
	bool have_prev;
	uint16_t prev_seq;
	uint32_t prev_ts;
	unsigned seq_ok;  /* packets that followed the previous one (seq + 1..10) */
	unsigned seq_dup; /* packets with the previous one's sequence number */
	uint64_t payload_bytes;
	uint32_t hist[256];
	unsigned tag0, tag4, tag10, tag_other; /* payload bytes beyond the G.711 samples */
	/* RTCP */
	unsigned rtcp_plain, srtcp_enc, srtcp_clear;
	unsigned rtcp_app; /* plaintext compounds of APP packets only (keep-alives) */
	unsigned order;
};

#define SPS__MAX_FRAGS 32     /* datagrams being reassembled at once */
#define SPS__FRAG_MAX 65535   /* an IP datagram's payload at most */

/* One IP datagram being put together from its fragments (RFC 791 3.2,
 * RFC 8200 4.5). seen has a bit per 8-byte unit (fragment offsets count
 * in 8-byte units). buf is allocated with the entry. */
struct sps__frag {
	bool used;
	uint8_t af, proto;
	uint8_t src[16], dst[16];
	uint32_t id;
	size_t total; /* the datagram's length, once its last fragment came */
	uint64_t born; /* fragment clock when it started */
	uint8_t *buf;
	uint8_t seen[(SPS__FRAG_MAX + 7) / 8 / 8 + 1];
};

struct sps__verify {
	struct sps_verify_limits lim;
	struct sps__flow **flows; /* hash buckets */
	unsigned nflows, flows_dropped;
	struct sps__stream **streams;
	unsigned nstreams, streams_dropped;
	struct sps__call **calls;
	unsigned ncalls, calls_dropped;
	struct sps__frag frags[SPS__MAX_FRAGS];
	uint64_t frag_clock;
	unsigned frags_dropped; /* datagrams never completed (evicted) */
	size_t reasm_bytes;
	unsigned reasm_giveups;
	unsigned order;
	SSL_CTX *ssl_ctx; /* cipher suite names (SSL_CIPHER_find) */
	SSL *ssl;
	char *scratch;    /* one SIP message being parsed (SPS_SIP_MAX_MSG + 1) */
	struct sps_arena *arena; /* its parsed form, reset per message */
};

#define SPS__BUCKETS 4096

/* verify_sig.c */
/* Whether the bytes start like a SIP request or status line (RFC 3261 7.1, 7.2). */
bool sps__looks_sip(const uint8_t *d, size_t len);
/* Whether the bytes start with a TLS record header (RFC 8446 5.1). */
bool sps__looks_tls(const uint8_t *d, size_t len);
/* One complete SIP message (copied; never modifies d) from flow f. */
void sps__sip_message(struct sps__verify *v, struct sps__flow *f, const uint8_t *d, size_t len);
/* Parse what is buffered in direction dir of TCP flow f: SIP frames or TLS
 * records. Consumes what it read from the buffer. */
void sps__stream_parse(struct sps__verify *v, struct sps__flow *f, int dir);

/* verify_media.c */
/* A UDP datagram that is not SIP: RTP or RTCP is counted, anything else ignored. */
void sps__media_packet(struct sps__verify *v, const struct sps__pkt *p);
/* The JSON of one stream (with its verdict) and whether it counts. */
json_t *sps__stream_json(struct sps__verify *v, const struct sps__stream *s, int *judgement);
/* Judgements of a stream. */
enum {
	J_IGNORE = 0,  /* not a real RTP stream (too few packets, no sequence) */
	J_ENCRYPTED,   /* SRTP / SRTCP */
	J_PLAIN,       /* plaintext RTP / RTCP */
	J_UNKNOWN,     /* too little payload to judge */
};
/* The call a media endpoint belongs to (SDP c=/m= of a call), NULL if none. */
struct sps__call *sps__call_by_media(struct sps__verify *v, const struct sps__ep *e, bool rtcp);

/* verify.c, verify_report.c */
void sps__flow_name(const struct sps__flow *f, char *buf, size_t size);
char *sps__strndup(const char *s, size_t l);
/* A JSON string of captured text, bytes outside printable ASCII as '?'. */
json_t *sps__jtext(const char *s);

#endif
