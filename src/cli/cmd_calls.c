/* cli: `sipsec calls [--json] [--data DIR]` - the calls in progress through
 * the running server's proxy (issue 5). The calls live in the memory of
 * `sipsec serve`, another process: they are asked for over its control
 * socket DATA/control.sock (admin/control.h). */
#include "cli/cli.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "admin/control.h"

#define TIMEOUT_MS 5000

static const char usage_text[] =
	"usage: sipsec calls [--json] [--data DIR]\n\n"
	"List the calls in progress through the running 'sipsec serve' (asked over its\n"
	"control socket DIR/control.sock, so the server must be running on DIR).\n"
	"A call is listed from the moment its INVITE is forwarded until a BYE passes\n"
	"or the INVITE fails.\n\n"
	"columns:\n"
	"  CALLER      the caller's From URI\n"
	"  CALLEE      the callee's To URI\n"
	"  STATE       trying, ringing or established\n"
	"  STARTED     when the INVITE was forwarded (UTC)\n"
	"  DURATION    seconds since then\n"
	"  CALLER-LEG  transport and address of the caller's side (udp, tcp, tls), then\n"
	"              its media once the relay carries it: RTP or SRTP and the suite,\n"
	"              packets in (from that phone) / out (relayed to it)\n"
	"  CALLEE-LEG  the same for the callee's side, - before a response came\n\n"
	"options:\n"
	"  --json      print a JSON array of objects with the keys call_id, caller,\n"
	"              callee, state, started_at, answered_at (ISO 8601 UTC, null before\n"
	"              the answer), duration (seconds) and legs: an array of two objects\n"
	"              (side \"caller\" then \"callee\") with the keys side, transport,\n"
	"              address, media_profile (\"RTP\", \"SRTP AES_CM_128_HMAC_SHA1_80\"),\n"
	"              packets_in (from that phone), packets_out (relayed to it) and\n"
	"              auth_failed (SRTP packets dropped: authentication failed); the\n"
	"              media keys are null until the media relay fills them\n"
	"  --data DIR  data directory (default $SIPSEC_DATA, else ./sipsec-data)\n";

static void leg_text(json_t *call, size_t i, char *buf, size_t size)
{
	json_t *leg = json_array_get(json_object_get(call, "legs"), i);
	const char *tp = json_string_value(json_object_get(leg, "transport"));
	const char *addr = json_string_value(json_object_get(leg, "address"));
	const char *prof = json_string_value(json_object_get(leg, "media_profile"));
	if (tp && addr && prof)
		snprintf(buf, size, "%s %s %s %lld/%lld", tp, addr, prof,
			 (long long)json_integer_value(json_object_get(leg, "packets_in")),
			 (long long)json_integer_value(json_object_get(leg, "packets_out")));
	else if (tp && addr)
		snprintf(buf, size, "%s %s", tp, addr);
	else
		snprintf(buf, size, "-");
}

static void print_table(json_t *arr)
{
	enum { CALLER, CALLEE, STATE, STARTED, DURATION, LEG1, LEG2, NCOL };
	static const char *const head[NCOL] = {"CALLER",   "CALLEE",	 "STATE",     "STARTED",
					       "DURATION", "CALLER-LEG", "CALLEE-LEG"};
	int width[NCOL] = {0};
	size_t i;
	json_t *o;
	if (json_array_size(arr) == 0) {
		printf("no calls in progress\n");
		return;
	}
	for (int pass = 0; pass < 2; pass++) {
		sps_cli_table_row(pass, head, width, NCOL);
		json_array_foreach(arr, i, o) {
			char dur[32], l1[192], l2[192];
			snprintf(dur, sizeof(dur), "%llds",
				 (long long)json_integer_value(json_object_get(o, "duration")));
			leg_text(o, 0, l1, sizeof(l1));
			leg_text(o, 1, l2, sizeof(l2));
			const char *cell[NCOL] = {sps_cli_jstr(o, "caller"), sps_cli_jstr(o, "callee"),
						  sps_cli_jstr(o, "state"),  sps_cli_jstr(o, "started_at"),
						  dur,		     l1,
						  l2};
			sps_cli_table_row(pass, cell, width, NCOL);
		}
	}
}

int sps_cmd_calls(int argc, char **argv)
{
	static const char cmd[] = "calls";
	const char *data = NULL;
	bool json = false;

	int done = sps_cli_list_args(cmd, usage_text, argc, argv, &data, &json);
	if (done >= 0)
		return done;

	const char *dir = sps_cli_data_dir(data);
	json_t *req = json_pack("{s:s}", "cmd", "calls");
	json_t *reply = NULL;
	int rc = req ? sps_admin_request(dir, req, TIMEOUT_MS, &reply) : ENOMEM;
	json_decref(req);
	if (rc == ENOENT || rc == ECONNREFUSED)
		return sps_cli_fail(1, cmd,
				    "no server is running on %s (no answer on %s/%s); start "
				    "'sipsec serve --data %s', or pass the --data it uses",
				    dir, dir, SPS_ADMIN_SOCK, dir);
	if (rc == ENAMETOOLONG)
		return sps_cli_fail(1, cmd,
				    "the data directory path %s is too long for a Unix socket; "
				    "use a shorter --data path",
				    dir);
	if (rc)
		return sps_cli_fail(1, cmd, "cannot ask the server on %s: %s%s", dir,
				    rc == EBADMSG ? "its reply is not JSON" : strerror(rc),
				    rc == ETIMEDOUT ? " (is it overloaded or stopped?)" : "");
	json_t *calls = json_object_get(reply, "calls");
	if (!json_is_true(json_object_get(reply, "ok")) || !json_is_array(calls)) {
		const char *e = json_string_value(json_object_get(reply, "error"));
		int st = sps_cli_fail(1, cmd, "the server on %s refused: %s", dir,
				      e ? e : "no calls in its reply");
		json_decref(reply);
		return st;
	}
	if (json) {
		if (json_dumpf(calls, stdout, JSON_INDENT(2)) == 0)
			putchar('\n');
	} else {
		print_table(calls);
	}
	int status = 0;
	if (fflush(stdout) != 0 || ferror(stdout))
		status = sps_cli_fail(1, cmd, "cannot write to stdout: %s", strerror(errno));
	json_decref(reply);
	return status;
}
