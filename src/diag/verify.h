/* diag/verify: read a packet capture (pcap or pcapng, through libpcap) and
 * judge whether SIP signalling and RTP media in it were protected
 * (issue 9, DESIGN.md day step 6).
 *
 * Findings: plaintext SIP per flow (methods, users exposed), TLS per flow
 * (version and cipher suite from the ServerHello, the server certificate's
 * subject for TLS 1.2 and lower, any version below TLS 1.2), SDES keys
 * (RFC 4568 a=crypto) visible in plaintext SDP per call (never the key
 * itself), and per RTP stream whether the payload is encrypted (RFC 3711
 * SRTP) judged from its byte distribution and trailing authentication tag;
 * RTCP vs SRTCP likewise. The result is one JSON report; the text view is
 * printed from it, so both always say the same.
 *
 * The file is streamed packet by packet: memory is bounded by the limits
 * below, whatever the size of the capture. */
#ifndef SPS_DIAG_VERIFY_H
#define SPS_DIAG_VERIFY_H

#include <stdio.h>

#include <jansson.h>

/* The verdict, and the exit status of `sipsec verify` that goes with it. */
enum sps_verdict {
	SPS_VERDICT_SECURE = 0,
	SPS_VERDICT_INSECURE = 1,
	SPS_VERDICT_INCONCLUSIVE = 3,
};

/* Bounds on what is tracked; 0 in a field means its default. When a bound
 * is hit the excess is counted and named in the report's warnings (and a
 * capture that would otherwise be SECURE becomes INCONCLUSIVE). */
struct sps_verify_limits {
	unsigned max_flows;    /* TCP/UDP conversations (default 4096) */
	unsigned max_streams;  /* RTP/RTCP streams (default 2048) */
	unsigned max_calls;    /* Call-IDs (default 2048) */
	size_t max_reasm;      /* bytes buffered per TCP direction (default 256 KiB) */
	size_t max_reasm_total; /* bytes buffered for all TCP flows (default 64 MiB) */
};

/* Analyse the capture file at path. On success sets *reportp to a new JSON
 * object (the caller owns it; layout in `sipsec verify --help`) and returns
 * 0. When the file cannot be read as a capture at all (missing, not a pcap
 * or pcapng file, unsupported link type, broken before the first packet)
 * returns EINVAL (or ENOENT, EACCES, ENOMEM) and writes a one-line reason
 * with the fix into err. A capture that breaks after some packets (a
 * truncated file) gives a report of what was read, with a warning.
 * limits may be NULL. */
int sps_verify_file(const char *path, const struct sps_verify_limits *limits, json_t **reportp,
		    char *err, size_t errsz);

/* The same on an open stream (fuzzing, tests); name is used in the report.
 * fp is closed in every case. */
int sps_verify_fp(FILE *fp, const char *name, const struct sps_verify_limits *limits,
		  json_t **reportp, char *err, size_t errsz);

/* The verdict of a report made by the functions above. */
enum sps_verdict sps_verify_verdict(const json_t *report);

/* The human-readable report: the verdict and its reasons first, then
 * signalling flows, calls and media streams. Terminal control characters in
 * captured text are shown as '?'. */
void sps_verify_print(FILE *out, const json_t *report);

#endif
