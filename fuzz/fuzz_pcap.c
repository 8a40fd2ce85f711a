/* libFuzzer target: the capture reader and analyser (diag/verify). The input
 * is a whole capture file (pcap or pcapng), read by libpcap from memory
 * (fmemopen) exactly as `sipsec verify` reads a file, with small limits so
 * that the bounds are reached too. Every outcome must be a report or a clean
 * error with a message; the report must print. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diag/verify.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0 || size > 1000000)
		return 0;
	FILE *fp = fmemopen((void *)data, size, "rb");
	if (!fp)
		return 0;
	static const struct sps_verify_limits lim = {
		.max_flows = 16, .max_streams = 16, .max_calls = 8, .max_reasm = 8192,
		.max_reasm_total = 32768};
	json_t *r = NULL;
	char err[512] = "";
	int rc = sps_verify_fp(fp, "fuzz", &lim, &r, err, sizeof(err));
	if (rc) {
		if (r || !err[0])
			abort(); /* an error always says why, and makes no report */
		return 0;
	}
	if (!r || !json_is_string(json_object_get(r, "verdict")))
		abort();
	enum sps_verdict v = sps_verify_verdict(r);
	if (v != SPS_VERDICT_SECURE && v != SPS_VERDICT_INSECURE && v != SPS_VERDICT_INCONCLUSIVE)
		abort();
	FILE *null = fopen("/dev/null", "w");
	if (null) {
		sps_verify_print(null, r);
		fclose(null);
	}
	char *js = json_dumps(r, 0);
	if (!js)
		abort(); /* every string in the report must be valid UTF-8 */
	free(js);
	json_decref(r);
	return 0;
}
