/* diag/verify_print: the text view of a verify report, printed from the same
 * JSON that --json gives (so the two cannot disagree). */
#include "diag/verify.h"

#include <stdbool.h>
#include <string.h>

static const char *str(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : "";
}

static long long num(const json_t *o, const char *k)
{
	return (long long)json_integer_value(json_object_get(o, k));
}

/* Captured text is made printable ASCII by the analyser; a path given by
 * the user is shown with control characters replaced. */
static void put_clean(FILE *out, const char *s)
{
	for (; *s; s++)
		fputc((unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s, out);
}

static void list(FILE *out, const char *title, const json_t *arr)
{
	size_t i;
	json_t *x;
	if (!json_array_size(arr))
		return;
	fprintf(out, "%s\n", title);
	json_array_foreach(arr, i, x) {
		fputs("  - ", out);
		put_clean(out, json_string_value(x) ? json_string_value(x) : "");
		fputc('\n', out);
	}
}

static void signalling(FILE *out, const json_t *f)
{
	fprintf(out, "  %s <-> %s  ", str(f, "client"), str(f, "server"));
	if (strcmp(str(f, "protocol"), "sip") == 0) {
		size_t i;
		json_t *x;
		fprintf(out, "SIP over %s, NOT ENCRYPTED: %lld request(s), %lld response(s)\n",
			strcmp(str(f, "transport"), "tcp") == 0 ? "TCP" : "UDP", num(f, "requests"),
			num(f, "responses"));
		fputs("      methods:", out);
		json_array_foreach(json_object_get(f, "methods"), i, x)
			fprintf(out, " %s", json_string_value(x));
		fputs("\n      users exposed:", out);
		if (!json_array_size(json_object_get(f, "users")))
			fputs(" none", out);
		json_array_foreach(json_object_get(f, "users"), i, x)
			fprintf(out, "%s %s", i ? "," : "", json_string_value(x));
		if (json_is_true(json_object_get(f, "users_truncated")))
			fputs(", ...", out);
		fputc('\n', out);
		if (num(f, "sdes_keys_seen"))
			fprintf(out, "      SRTP KEYS (a=crypto) IN PLAINTEXT SDP: %lld message(s)\n",
				num(f, "sdes_keys_seen"));
	} else {
		const char *ver = json_string_value(json_object_get(f, "tls_version"));
		const char *rec = json_string_value(json_object_get(f, "record_version"));
		const char *cs = json_string_value(json_object_get(f, "cipher_suite"));
		if (ver)
			fprintf(out, "%s, %s", ver, cs ? cs : "?");
		else if (rec && strcmp(rec, "TLS 1.2") == 0)
			fputs("TLS 1.2 or 1.3 (handshake not captured)", out);
		else if (rec)
			fprintf(out, "%s (handshake not captured)", rec);
		else
			fputs("TLS (version not seen)", out);
		if (json_is_true(json_object_get(f, "below_tls12")))
			fputs("  BELOW TLS 1.2", out);
		fprintf(out, ", %lld record(s)\n", num(f, "records"));
		const char *sni = json_string_value(json_object_get(f, "server_name"));
		const char *subj = json_string_value(json_object_get(f, "certificate_subject"));
		if (sni)
			fprintf(out, "      server name: %s\n", sni);
		if (subj)
			fprintf(out, "      certificate: %s\n", subj);
		else if (ver && strcmp(ver, "TLS 1.3") == 0)
			fputs("      certificate: encrypted (TLS 1.3)\n", out);
	}
	if (json_is_true(json_object_get(f, "incomplete")))
		fputs("      (part of this flow was missing from the capture)\n", out);
}

static void call(FILE *out, const json_t *c)
{
	size_t i;
	json_t *x;
	fprintf(out, "  %s -> %s  Call-ID %s", str(c, "from")[0] ? str(c, "from") : "?",
		str(c, "to")[0] ? str(c, "to") : "?", str(c, "call_id"));
	json_array_foreach(json_object_get(c, "media_profiles"), i, x)
		fprintf(out, "%s%s", i ? "," : "  SDP: ", json_string_value(x));
	if (json_is_true(json_object_get(c, "sdes_keys_leaked")))
		fputs("  SRTP KEYS LEAKED", out);
	fputc('\n', out);
}

static void stream(FILE *out, const json_t *s)
{
	const char *enc = str(s, "encryption");
	bool rtcp = strcmp(str(s, "type"), "rtcp") == 0;
	fprintf(out, "  %-4s %s -> %s  ", rtcp ? "RTCP" : "RTP", str(s, "src"), str(s, "dst"));
	if (!rtcp) {
		const char *codec = json_string_value(json_object_get(s, "codec"));
		fprintf(out, "SSRC %s  PT %lld%s%s%s  ", str(s, "ssrc"), num(s, "payload_type"),
			codec ? " (" : "", codec ? codec : "", codec ? ")" : "");
	}
	fprintf(out, "%lld packets  ", num(s, "packets"));
	if (strcmp(enc, "srtp") == 0)
		fputs("SRTP (encrypted)", out);
	else if (strcmp(enc, "srtcp") == 0)
		fputs("SRTCP (encrypted)", out);
	else if (strcmp(enc, "plaintext") == 0)
		fputs("NOT ENCRYPTED", out);
	else if (strcmp(enc, "srtp-null-cipher") == 0)
		fputs("NOT ENCRYPTED (SRTP with the NULL cipher)", out);
	else if (strcmp(enc, "srtcp-unencrypted") == 0)
		fputs("NOT ENCRYPTED (SRTCP with the E flag clear)", out);
	else
		fputs("undetermined (too few packets)", out);
	fputc('\n', out);
	if (!rtcp) {
		json_t *tag = json_object_get(s, "auth_tag_bytes");
		fprintf(out, "      payload entropy %.2f bits/byte, chi-square %.0f (random < 391)",
			json_real_value(json_object_get(s, "entropy_bits_per_byte")),
			json_real_value(json_object_get(s, "chi_square")));
		if (json_is_integer(tag))
			fprintf(out, ", auth tag %lld bytes", (long long)json_integer_value(tag));
		fputc('\n', out);
	}
	const char *cid = json_string_value(json_object_get(s, "call_id"));
	fprintf(out, "      call: %s\n", cid ? cid : "unknown (no SDP seen; found by its RTP headers)");
}

void sps_verify_print(FILE *out, const json_t *r)
{
	const json_t *cap = json_object_get(r, "capture");
	size_t i;
	json_t *x;

	fprintf(out, "VERDICT: %s\n", str(r, "verdict"));
	list(out, "reasons:", json_object_get(r, "reasons"));
	fputs("\ncapture: ", out);
	put_clean(out, str(cap, "file"));
	fprintf(out, " (%s, link type %s, %lld packets)\n", str(cap, "format"),
		str(cap, "link_type"), num(cap, "packets"));
	list(out, "warnings:", json_object_get(cap, "warnings"));

	json_t *sig = json_object_get(r, "signalling");
	fprintf(out, "\nsignalling: %zu flow(s)\n", json_array_size(sig));
	json_array_foreach(sig, i, x)
		signalling(out, x);
	json_t *calls = json_object_get(r, "calls");
	fprintf(out, "\ncalls seen in plaintext SIP: %zu\n", json_array_size(calls));
	json_array_foreach(calls, i, x)
		call(out, x);
	json_t *media = json_object_get(r, "media");
	fprintf(out, "\nmedia: %zu stream(s)\n", json_array_size(media));
	json_array_foreach(media, i, x)
		stream(out, x);
	if (json_array_size(json_object_get(r, "notes"))) {
		fputc('\n', out);
		list(out, "also:", json_object_get(r, "notes"));
	}
}
