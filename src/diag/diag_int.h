/* diag internals shared by the files of the verify analyser; tests may
 * include this header. */
#ifndef SPS_DIAG_INT_H
#define SPS_DIAG_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "diag/verify.h"

/* ------------------------------------------------------------ packets */

/* One decoded IPv4/IPv6 packet carrying UDP or TCP. Addresses are 16 bytes:
 * IPv4 in the first four. `pl` points into the caller's packet buffer. */
struct sps__pkt {
	uint8_t af;    /* 4 or 6 */
	uint8_t proto; /* 6 TCP, 17 UDP */
	uint8_t src[16], dst[16];
	uint16_t sport, dport;
	uint32_t seq;      /* TCP */
	uint8_t tcp_flags; /* TCP */
	bool cut;          /* payload shorter than on the wire (snap length) */
	/* an IP fragment (decode returned EINPROGRESS): pl/len is its part of
	 * the datagram at byte frag_off, proto the datagram's protocol */
	bool frag, frag_more;
	uint32_t frag_id;
	size_t frag_off;
	const uint8_t *pl;
	size_t len;
};

#define SPS__TCP_FIN 0x01
#define SPS__TCP_SYN 0x02
#define SPS__TCP_RST 0x04

/* Whether libpcap link type dlt is one we decode. */
bool sps__dlt_supported(int dlt);

/* Decode one captured frame of link type dlt (caplen bytes captured of
 * wirelen). Returns 0 with *p set for UDP and TCP over IPv4/IPv6,
 * EINPROGRESS for an IP fragment (p->frag set, addresses filled in), ENOENT
 * for anything else (ARP, ICMP), EBADMSG for a malformed or cut header.
 * p->pl points into data. */
int sps__pkt_decode(int dlt, const uint8_t *data, size_t caplen, size_t wirelen,
		    struct sps__pkt *p);
/* Decode the UDP/TCP header of a reassembled datagram (addresses in p kept). */
int sps__pkt_transport(uint8_t proto, const uint8_t *d, size_t len, struct sps__pkt *p);

/* "127.0.0.1:5060" or "[::1]:5060" into buf (at least 56 bytes). */
void sps__ep_fmt(char *buf, size_t size, uint8_t af, const uint8_t addr[16], uint16_t port);

/* ------------------------------------------------------------ analyser */

struct sps__verify;

/* Create/free the analyser state (limits already defaulted). */
struct sps__verify *sps__verify_new(const struct sps_verify_limits *lim);
void sps__verify_free(struct sps__verify *v);
/* Feed one decoded packet (in capture order). */
void sps__verify_packet(struct sps__verify *v, const struct sps__pkt *p);
/* Feed one IP fragment; a datagram complete with it is fed as a packet. */
void sps__verify_fragment(struct sps__verify *v, const struct sps__pkt *p);
/* Build the report (capture info given by the reader). NULL on ENOMEM. */
struct json_t;
json_t *sps__verify_report(struct sps__verify *v, json_t *capture);

/* ------------------------------------------------------------ media heuristics */

/* Byte histogram statistics: chi-square against the uniform distribution
 * (255 degrees of freedom) and Shannon entropy in bits per byte. */
void sps__byte_stats(const uint32_t hist[256], double *chi2, double *entropy);
/* The chi-square bound below which bytes pass for uniformly random:
 * mean 255, standard deviation sqrt(510) ~ 22.6; six deviations above. */
#define SPS__CHI2_RANDOM 391.0

/* RTCP (RFC 3550 6.4) or SRTCP (RFC 3711 3.4) judged from one packet:
 * 0 plain RTCP (the compound packet's lengths add up exactly), 1 SRTCP
 * encrypted (E flag set), 2 SRTCP with the E flag clear (RTCP readable),
 * 3 plain RTCP made of APP packets only (RFC 3550 6.7; keep-alives),
 * -1 not RTCP. */
int sps__rtcp_kind(const uint8_t *d, size_t len);

#endif
