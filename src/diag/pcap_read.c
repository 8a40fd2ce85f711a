/* diag/pcap_read: capture files through libpcap (pcap and pcapng), link
 * layers (Ethernet, Linux cooked SLL/SLL2, BSD loopback/null, raw IP) and
 * IPv4/IPv6 with UDP and TCP. Streams the file one packet at a time and
 * hands each decoded packet to the analyser (verify.c). */
#include "diag/diag_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Link types by their libpcap DLT_ numbers (pcap/dlt.h). */
#define L_NULL 0
#define L_EN10MB 1
#define L_RAW 12
#define L_RAW_OPENBSD 14
#define L_LOOP 108
#define L_LINUX_SLL 113
#define L_IPV4 228
#define L_IPV6 229
#define L_LINUX_SLL2 276

bool sps__dlt_supported(int dlt)
{
	switch (dlt) {
	case L_NULL:
	case L_EN10MB:
	case L_RAW:
	case L_RAW_OPENBSD:
	case L_LOOP:
	case L_LINUX_SLL:
	case L_IPV4:
	case L_IPV6:
	case L_LINUX_SLL2:
		return true;
	default:
		return false;
	}
}

static uint16_t be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* UDP (RFC 768) or TCP (RFC 9293 3.1) after an IP header; len is what the
 * IP header says follows (bounded by what was captured). */
static int transport(uint8_t proto, const uint8_t *d, size_t caplen, size_t len,
		     struct sps__pkt *p)
{
	if (len > caplen) {
		p->cut = true;
		len = caplen;
	}
	p->proto = proto;
	if (proto == 17) {
		if (len < 8)
			return EBADMSG;
		size_t ulen = be16(d + 4);
		p->sport = be16(d);
		p->dport = be16(d + 2);
		/* a UDP length of 0 happens with IPv6 jumbograms: trust IP's */
		if (ulen >= 8 && ulen < len)
			len = ulen;
		p->pl = d + 8;
		p->len = len - 8;
		return 0;
	}
	if (proto == 6) {
		if (len < 20)
			return EBADMSG;
		size_t hl = (size_t)(d[12] >> 4) * 4;
		if (hl < 20 || hl > len)
			return EBADMSG;
		p->sport = be16(d);
		p->dport = be16(d + 2);
		p->seq = be32(d + 4);
		p->tcp_flags = d[13];
		p->pl = d + hl;
		p->len = len - hl;
		return 0;
	}
	return ENOENT;
}

/* A fragment: what the analyser needs to put the datagram together. */
static int fragment(uint8_t proto, uint32_t id, size_t off, bool more, const uint8_t *d,
		    size_t caplen, size_t len, struct sps__pkt *p)
{
	if (len > caplen) {
		p->cut = true;
		len = caplen;
	}
	p->frag = true;
	p->frag_id = id;
	p->frag_off = off;
	p->frag_more = more;
	p->proto = proto;
	p->pl = d;
	p->len = len;
	return EINPROGRESS;
}

int sps__pkt_transport(uint8_t proto, const uint8_t *d, size_t len, struct sps__pkt *p)
{
	p->frag = false;
	return transport(proto, d, len, len, p);
}

/* IPv4 (RFC 791) and IPv6 (RFC 8200) down to the transport header, or a
 * fragment (EINPROGRESS) for the analyser to reassemble. */
static int ip(const uint8_t *d, size_t caplen, size_t wirelen, struct sps__pkt *p)
{
	if (caplen < 1)
		return EBADMSG;
	if (caplen < wirelen)
		p->cut = true;
	if ((d[0] >> 4) == 4) {
		if (caplen < 20)
			return EBADMSG;
		size_t hl = (size_t)(d[0] & 0x0f) * 4;
		size_t tot = be16(d + 2);
		if (hl < 20 || hl > caplen || tot < hl)
			return EBADMSG;
		p->af = 4;
		memset(p->src, 0, 16);
		memset(p->dst, 0, 16);
		memcpy(p->src, d + 12, 4);
		memcpy(p->dst, d + 16, 4);
		uint16_t fl = be16(d + 6);
		if (fl & 0x3fff) /* MF set or an offset: a fragment (RFC 791 3.2) */
			return fragment(d[9], be16(d + 4), (size_t)(fl & 0x1fff) * 8, fl & 0x2000,
					d + hl, caplen - hl, tot - hl, p);
		return transport(d[9], d + hl, caplen - hl, tot - hl, p);
	}
	if ((d[0] >> 4) == 6) {
		if (caplen < 40)
			return EBADMSG;
		size_t plen = be16(d + 4);
		uint8_t nh = d[6];
		p->af = 6;
		memcpy(p->src, d + 8, 16);
		memcpy(p->dst, d + 24, 16);
		size_t off = 40;
		size_t end = 40 + plen;
		/* extension headers: hop-by-hop, routing, destination options,
		 * fragment (RFC 8200 4); at most 8 of them */
		for (int i = 0; i < 8; i++) {
			if (nh == 0 || nh == 43 || nh == 60) {
				if (off + 8 > caplen)
					return EBADMSG;
				uint8_t next = d[off];
				off += ((size_t)d[off + 1] + 1) * 8;
				nh = next;
			} else if (nh == 44) {
				if (off + 8 > caplen)
					return EBADMSG;
				/* RFC 8200 4.5: the fragmentable part follows */
				uint16_t fo = be16(d + off + 2);
				uint32_t id = be32(d + off + 4);
				size_t st = off + 8;
				if (st > caplen || st > end)
					return EBADMSG;
				return fragment(d[off], id, fo & 0xfff8, fo & 1, d + st, caplen - st,
						end - st, p);
			} else {
				break;
			}
		}
		if (off > caplen || off > end)
			return EBADMSG;
		return transport(nh, d + off, caplen - off, end - off, p);
	}
	return ENOENT;
}

/* An ethertype (or Linux SLL protocol) value: IPv4 0x0800, IPv6 0x86dd. */
static int by_ethertype(uint16_t et, const uint8_t *d, size_t caplen, size_t wirelen,
			struct sps__pkt *p)
{
	if (et != 0x0800 && et != 0x86dd)
		return ENOENT;
	return ip(d, caplen, wirelen, p);
}

int sps__pkt_decode(int dlt, const uint8_t *d, size_t caplen, size_t wirelen, struct sps__pkt *p)
{
	memset(p, 0, sizeof(*p));
	if (wirelen < caplen)
		wirelen = caplen;
	switch (dlt) {
	case L_EN10MB: {
		/* Ethernet II, with up to two 802.1Q / 802.1ad tags */
		size_t off = 12;
		if (caplen < 14)
			return EBADMSG;
		uint16_t et = be16(d + off);
		for (int i = 0; i < 2 && (et == 0x8100 || et == 0x88a8); i++) {
			off += 4;
			if (caplen < off + 2)
				return EBADMSG;
			et = be16(d + off);
		}
		off += 2;
		return by_ethertype(et, d + off, caplen - off, wirelen - off, p);
	}
	case L_LINUX_SLL:
		/* packet type, ARPHRD, address length, 8 address bytes, protocol */
		if (caplen < 16)
			return EBADMSG;
		return by_ethertype(be16(d + 14), d + 16, caplen - 16, wirelen - 16, p);
	case L_LINUX_SLL2:
		/* protocol, reserved, interface index, ARPHRD, type, addr len, addr */
		if (caplen < 20)
			return EBADMSG;
		return by_ethertype(be16(d), d + 20, caplen - 20, wirelen - 20, p);
	case L_NULL:
	case L_LOOP: {
		/* a 4-byte address family: host byte order of the capturing machine
		 * for NULL, network order for LOOP. AF_INET is 2 everywhere; AF_INET6
		 * is 10 (Linux), 24, 28 or 30 (the BSDs, macOS). */
		if (caplen < 4)
			return EBADMSG;
		uint32_t fam = be32(d);
		if (dlt == L_NULL && fam > 0xffff)
			fam = (uint32_t)d[0] | (uint32_t)d[1] << 8 | (uint32_t)d[2] << 16 |
			      (uint32_t)d[3] << 24;
		if (fam != 2 && fam != 10 && fam != 24 && fam != 28 && fam != 30)
			return ENOENT;
		return ip(d + 4, caplen - 4, wirelen - 4, p);
	}
	case L_RAW:
	case L_RAW_OPENBSD:
	case L_IPV4:
	case L_IPV6:
		return ip(d, caplen, wirelen, p);
	default:
		return ENOENT;
	}
}

void sps__ep_fmt(char *buf, size_t size, uint8_t af, const uint8_t addr[16], uint16_t port)
{
	char a[INET6_ADDRSTRLEN] = "?";
	inet_ntop(af == 6 ? AF_INET6 : AF_INET, addr, a, sizeof(a));
	snprintf(buf, size, af == 6 ? "[%s]:%u" : "%s:%u", a, port);
}

/* ------------------------------------------------------------ the file */

static const char *dlt_label(int dlt)
{
	const char *n = pcap_datalink_val_to_name(dlt);
	return n ? n : "unknown";
}

static int defaulted(const struct sps_verify_limits *in, struct sps_verify_limits *out)
{
	struct sps_verify_limits l = in ? *in : (struct sps_verify_limits){0};
	if (!l.max_flows)
		l.max_flows = 4096;
	if (!l.max_streams)
		l.max_streams = 2048;
	if (!l.max_calls)
		l.max_calls = 2048;
	if (!l.max_reasm)
		l.max_reasm = 256 * 1024;
	if (!l.max_reasm_total)
		l.max_reasm_total = 64u * 1024 * 1024;
	*out = l;
	return 0;
}

/* libpcap's open errors, made into what the user should do. */
static void open_error(const char *name, const char *pe, char *err, size_t errsz)
{
	if (strstr(pe, "file header bytes, only got 0"))
		snprintf(err, errsz,
			 "%s is empty; capture again (e.g. tshark -i any -w call.pcapng) and stop "
			 "the capture with Ctrl-C after the call",
			 name);
	else if (strstr(pe, "unknown file format") || strstr(pe, "bad dump file format") ||
	    strstr(pe, "not a"))
		snprintf(err, errsz,
			 "%s is not a packet capture (libpcap: %s); give a .pcap or .pcapng "
			 "file as written by tshark -w, dumpcap or tcpdump -w",
			 name, pe);
	else if (strstr(pe, "truncated"))
		snprintf(err, errsz,
			 "%s is truncated before its first packet (libpcap: %s); capture again "
			 "and stop the capture with Ctrl-C (SIGINT) so that it is written out",
			 name, pe);
	else
		snprintf(err, errsz, "cannot read %s as a capture: %s", name, pe);
}

int sps_verify_fp(FILE *fp, const char *name, const struct sps_verify_limits *limits,
		  json_t **reportp, char *err, size_t errsz)
{
	char pe[PCAP_ERRBUF_SIZE] = "";
	struct sps_verify_limits lim;
	struct sps__verify *v = NULL;
	json_t *cap = NULL;
	int rc = 0;

	defaulted(limits, &lim);
	pcap_t *pc = pcap_fopen_offline(fp, pe); /* pcap_close() closes fp */
	if (!pc) {
		fclose(fp); /* not taken on failure */
		open_error(name, pe, err, errsz);
		return EINVAL;
	}
	int dlt = pcap_datalink(pc);
	if (!sps__dlt_supported(dlt)) {
		snprintf(err, errsz,
			 "%s uses link type %s (%d), which sipsec cannot read; capture on an "
			 "Ethernet interface, on 'lo' or on 'any' (Linux cooked), or convert it "
			 "with editcap",
			 name, dlt_label(dlt), dlt);
		rc = EINVAL;
		goto out;
	}
	v = sps__verify_new(&lim);
	cap = json_object();
	if (!v || !cap) {
		rc = ENOMEM;
		snprintf(err, errsz, "out of memory");
		goto out;
	}

	unsigned long long packets = 0, decoded = 0, other = 0, malformed = 0;
	struct pcap_pkthdr *h;
	const u_char *data;
	const char *stop = NULL;
	char stopmsg[PCAP_ERRBUF_SIZE + 64] = "";
	for (;;) {
		int r = pcap_next_ex(pc, &h, &data);
		if (r == PCAP_ERROR_BREAK)
			break; /* end of file */
		if (r != 1) {
			stop = pcap_geterr(pc);
			break;
		}
		packets++;
		/* a pcapng file whose interfaces differ in link type stops here
		 * with libpcap's error (handled as a cut) */
		struct sps__pkt p;
		int d = sps__pkt_decode(dlt, data, h->caplen, h->len, &p);
		if (d == 0) {
			decoded++;
			sps__verify_packet(v, &p);
		} else if (d == EINPROGRESS) {
			decoded++;
			sps__verify_fragment(v, &p);
		} else if (d == EBADMSG) {
			malformed++;
		} else {
			other++;
		}
	}
	if (stop) {
		if (packets == 0) {
			open_error(name, stop, err, errsz);
			rc = EINVAL;
			goto out;
		}
		snprintf(stopmsg, sizeof(stopmsg),
			 "the capture is cut short after packet %llu (libpcap: %s); the packets "
			 "before it were analysed",
			 packets, stop);
	}
	int major = pcap_major_version(pc), minor = pcap_minor_version(pc);
	json_t *warn = json_array();
	if (!warn || json_object_set_new(cap, "file", json_string(name)) ||
	    json_object_set_new(cap, "format",
				json_string(major == 1 && minor == 0 ? "pcapng" : "pcap")) ||
	    json_object_set_new(cap, "link_type", json_string(dlt_label(dlt))) ||
	    json_object_set_new(cap, "packets", json_integer((json_int_t)packets)) ||
	    json_object_set_new(cap, "ip_packets", json_integer((json_int_t)decoded)) ||
	    json_object_set_new(cap, "malformed_packets", json_integer((json_int_t)malformed)) ||
	    json_object_set_new(cap, "other_packets", json_integer((json_int_t)other)) ||
	    json_object_set_new(cap, "truncated", json_boolean(stop != NULL)) ||
	    json_object_set_new(cap, "warnings", warn) ||
	    (stop && json_array_append_new(warn, json_string(stopmsg)))) {
		rc = ENOMEM;
		snprintf(err, errsz, "out of memory");
		goto out;
	}
	json_t *rep = sps__verify_report(v, cap);
	cap = NULL; /* owned by the report now, or freed by it */
	if (!rep) {
		rc = ENOMEM;
		snprintf(err, errsz, "out of memory");
		goto out;
	}
	*reportp = rep;
out:
	json_decref(cap);
	sps__verify_free(v);
	pcap_close(pc);
	return rc;
}

int sps_verify_file(const char *path, const struct sps_verify_limits *limits, json_t **reportp,
		    char *err, size_t errsz)
{
	FILE *fp = fopen(path, "rb");
	if (!fp) {
		int e = errno;
		snprintf(err, errsz, "cannot open %s: %s%s", path, strerror(e),
			 e == ENOENT ? "; give the path of a .pcap or .pcapng file" : "");
		return e;
	}
	return sps_verify_fp(fp, path, limits, reportp, err, errsz);
}
