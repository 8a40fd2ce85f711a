/* cli: `sipsec verify CAPTURE [--json]` - read a packet capture and say
 * whether signalling and media were encrypted (issue 9, DESIGN.md day step 6).
 * The analysis is diag/verify.h; this file parses arguments, prints the
 * report and maps the verdict to the exit status. */
#include "cli/cli.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include <jansson.h>

#include "diag/verify.h"

static const char usage_text[] =
	"usage: sipsec verify CAPTURE [--json]\n\n"
	"Read a packet capture (pcap or pcapng, e.g. from 'tshark -i any -w call.pcapng'\n"
	"taken during a call; '-' reads standard input) and say whether SIP signalling\n"
	"and RTP media were protected.\n\n"
	"It reads Ethernet, Linux cooked (SLL, SLL2, the 'any' interface), loopback/null\n"
	"and raw IP captures, IPv4 and IPv6, UDP and TCP (TCP streams are reassembled).\n"
	"It reports:\n"
	"  - SIP seen in plaintext (UDP or TCP): per flow, the methods and the users it\n"
	"    exposes;\n"
	"  - TLS flows: the version and cipher suite from the ServerHello, the server\n"
	"    certificate's subject (visible up to TLS 1.2), any version below TLS 1.2;\n"
	"  - SRTP keys (a=crypto lines, RFC 4568) in plaintext SDP, with the call they\n"
	"    belong to (the key itself is never printed);\n"
	"  - each RTP stream (SSRC, addresses and ports), tied to its call through the\n"
	"    SDP when visible, else found by its RTP headers: plaintext RTP or SRTP,\n"
	"    judged from the payload bytes (encrypted payload is uniformly random:\n"
	"    chi-square below 391 over 256 byte values; G.711 audio is not) and, for\n"
	"    G.711/G.722, the authentication tag after the samples; RTCP vs. SRTCP.\n\n"
	"verdict (first line) and exit status:\n"
	"  SECURE        0  no plaintext SIP, TLS 1.2 or later, every media stream\n"
	"                   encrypted, no key seen\n"
	"  INSECURE      1  with the reasons: plaintext SIP, TLS below 1.2, leaked SRTP\n"
	"                   keys, unencrypted RTP or RTCP\n"
	"  INCONCLUSIVE  3  nothing insecure seen, but not enough to say secure: no media\n"
	"                   (or too little to judge), no signalling, or limits reached\n"
	"An unreadable file (missing, not a capture, unsupported link type, truncated\n"
	"before its first packet) gives a one-line error on stderr and exit status 1,\n"
	"like INSECURE, so that a script never takes it for SECURE; usage errors give 2.\n"
	"A capture cut short after some packets is analysed up to the cut, with a warning.\n\n"
	"options:\n"
	"  --json   print the same report as one JSON object: verdict, reasons, summary,\n"
	"           capture {file, format, link_type, packets, truncated, warnings},\n"
	"           signalling [{protocol sip|tls, transport, client, server, ...}],\n"
	"           calls [{call_id, from, to, sdes_keys_leaked, media_profiles}],\n"
	"           media [{type rtp|rtcp, src, dst, ssrc, payload_type, packets,\n"
	"           encryption srtp|plaintext|srtcp|..., entropy_bits_per_byte,\n"
	"           chi_square, auth_tag_bytes, call_id, associated_by sdp|heuristic}]\n";

int sps_cmd_verify(int argc, char **argv)
{
	static const char cmd[] = "verify";
	const char *path = NULL;
	bool json = false, dashdash = false;

	for (int i = 1; i < argc; i++) {
		const char *s = argv[i];
		if (!dashdash && (strcmp(s, "-h") == 0 || strcmp(s, "--help") == 0)) {
			fputs(usage_text, stdout);
			return 0;
		} else if (!dashdash && strcmp(s, "--json") == 0) {
			json = true;
		} else if (!dashdash && strcmp(s, "--") == 0) {
			dashdash = true;
		} else if (!dashdash && s[0] == '-' && s[1]) {
			return sps_cli_fail(2, cmd, "unknown option '%s'; see 'sipsec verify --help'",
					    s);
		} else if (path) {
			return sps_cli_fail(2, cmd,
					    "one capture at a time: '%s' after '%s'; run sipsec "
					    "verify once per file",
					    s, path);
		} else {
			path = s;
		}
	}
	if (!path || !*path)
		return sps_cli_fail(2, cmd,
				    "give the capture file to read: sipsec verify CAPTURE.pcap "
				    "[--json]");

	char err[512] = "";
	json_t *rep = NULL;
	int rc = strcmp(path, "-") == 0
			 ? sps_verify_fp(stdin, "(stdin)", NULL, &rep, err, sizeof(err))
			 : sps_verify_file(path, NULL, &rep, err, sizeof(err));
	if (rc)
		return sps_cli_fail(1, cmd, "%s", err[0] ? err : strerror(rc));

	int status = (int)sps_verify_verdict(rep);
	if (json) {
		if (json_dumpf(rep, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(6)) == 0)
			putchar('\n');
	} else {
		sps_verify_print(stdout, rep);
	}
	json_decref(rep);
	if (fflush(stdout) != 0 || ferror(stdout))
		return sps_cli_fail(1, cmd, "cannot write to stdout: %s", strerror(errno));
	return status;
}
