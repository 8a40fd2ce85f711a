/* cli: `sipsec registrations [--json] [--data DIR]` - the bindings of the
 * registrar (RFC 3261 10.3) as the store holds them, for the administrator
 * (DESIGN.md, day step 5: a TLS phone's contact shows transport=tls).
 *
 * Reads the store while `sipsec serve` runs (SQLite WAL: readers do not
 * block the server). The flow of a TCP/TLS binding is open when it was
 * stored by the running server (its boot_id is the store setting "boot_id",
 * written by serve at start) on a connection that has not closed since
 * (conn_id != 0); otherwise the phone must reconnect before it can be
 * called. */
#include "cli/cli.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "store/store.h"

#define DB_FILE "sipsec.db" /* in the data dir (store.h) */

static const char usage_text[] =
	"usage: sipsec registrations [--json] [--data DIR]\n\n"
	"List the current registrations (bindings of an address-of-record to a phone's\n"
	"contact), as stored by 'sipsec serve'. Works while the server runs.\n"
	"Expired registrations are not shown.\n\n"
	"columns:\n"
	"  AOR        the user's address-of-record, sip:USER@DOMAIN\n"
	"  CONTACT    the contact URI exactly as the phone registered it (a TLS phone\n"
	"             shows transport=tls here)\n"
	"  TRANSPORT  what the REGISTER actually arrived on: udp, tcp or tls\n"
	"  SOURCE     the address and port it came from\n"
	"  EXPIRES    seconds until the registration expires\n"
	"  FLOW       udp: -; tcp/tls: open, or closed (phone must reconnect) when the\n"
	"             connection it registered on is gone (closed, or the server restarted)\n"
	"  INSTANCE   the phone's +sip.instance (RFC 5626), - when none\n"
	"  USER-AGENT the phone's User-Agent header, - when none\n\n"
	"options:\n"
	"  --json      print a JSON array of objects with the keys aor, contact,\n"
	"              transport, source, local, expires_in, user_agent, instance, reg_id,\n"
	"              q, flow (\"open\", \"closed\", or null for udp) and path; absent\n"
	"              values (user_agent, instance, reg_id, q, path) are null\n"
	"  --data DIR  data directory (default $SIPSEC_DATA, else ./sipsec-data)\n";

struct walk {
	json_t *arr;
	const char *boot_id; /* the running server's, "" when unknown */
	int64_t now;
	int err;
};

/* A JSON string of s; bytes that are not valid UTF-8 (a phone's User-Agent
 * can hold anything) become '?' rather than failing the whole listing. */
static json_t *jstr(const char *s)
{
	s = s ? s : "";
	json_t *j = json_string(s);
	if (j)
		return j;
	size_t l = strlen(s);
	char *c = malloc(l + 1);
	if (!c)
		return NULL;
	for (size_t i = 0; i <= l; i++)
		c[i] = (unsigned char)s[i] >= 0x80 ? '?' : s[i];
	j = json_string(c);
	free(c);
	return j;
}

static json_t *str_or_null(const char *s)
{
	return s && *s ? jstr(s) : json_null();
}

static const char *flow_state(const struct sps_binding *b, const char *boot_id)
{
	if (!b->transport || strcmp(b->transport, "udp") == 0)
		return NULL;
	return b->conn_id != 0 && *boot_id && b->boot_id && strcmp(b->boot_id, boot_id) == 0
		       ? "open"
		       : "closed";
}

static int one(const struct sps_binding *b, void *arg)
{
	struct walk *w = arg;
	json_t *o = json_object();
	const char *flow = flow_state(b, w->boot_id);
	if (!o || json_object_set_new(o, "aor", jstr(b->aor)) ||
	    json_object_set_new(o, "contact", jstr(b->contact)) ||
	    json_object_set_new(o, "transport", jstr(b->transport)) ||
	    json_object_set_new(o, "source", jstr(b->source)) ||
	    json_object_set_new(o, "local", jstr(b->local)) ||
	    json_object_set_new(o, "expires_in", json_integer(b->expires_at - w->now)) ||
	    json_object_set_new(o, "user_agent", str_or_null(b->user_agent)) ||
	    json_object_set_new(o, "instance", str_or_null(b->instance)) ||
	    json_object_set_new(o, "reg_id", b->reg_id ? json_integer(b->reg_id) : json_null()) ||
	    json_object_set_new(o, "q", b->q >= 0 ? json_real(b->q / 1000.0) : json_null()) ||
	    json_object_set_new(o, "flow", flow ? json_string(flow) : json_null()) ||
	    json_object_set_new(o, "path", str_or_null(b->path)) ||
	    json_array_append_new(w->arr, o)) {
		json_decref(o);
		w->err = ENOMEM;
		return 1;
	}
	return 0;
}

/* The aligned table: one row per binding, the header first. */
static void print_table(json_t *arr)
{
	enum { AOR, CONTACT, TRANSPORT, SOURCE, EXPIRES, FLOW, INSTANCE, UA, NCOL };
	static const char *const head[NCOL] = {"AOR",	  "CONTACT", "TRANSPORT", "SOURCE",
					       "EXPIRES", "FLOW",    "INSTANCE",  "USER-AGENT"};
	int width[NCOL] = {0};
	size_t i;
	json_t *o;

	if (json_array_size(arr) == 0) {
		printf("no registrations\n");
		return;
	}
	/* cell text: the first pass measures, the second prints */
	for (int pass = 0; pass < 2; pass++) {
		sps_cli_table_row(pass, head, width, NCOL);
		json_array_foreach(arr, i, o) {
			char exp[32];
			const char *flow = json_string_value(json_object_get(o, "flow"));
			snprintf(exp, sizeof(exp), "%llds",
				 (long long)json_integer_value(json_object_get(o, "expires_in")));
			const char *cell[NCOL] = {
				sps_cli_jstr(o, "aor"),
				sps_cli_jstr(o, "contact"),
				sps_cli_jstr(o, "transport"),
				sps_cli_jstr(o, "source"),
				exp,
				!flow			     ? "-"
				: strcmp(flow, "open") == 0 ? "open"
							     : "closed (phone must reconnect)",
				sps_cli_jstr(o, "instance"),
				sps_cli_jstr(o, "user_agent"),
			};
			sps_cli_table_row(pass, cell, width, NCOL);
		}
	}
}

int sps_cmd_registrations(int argc, char **argv)
{
	static const char cmd[] = "registrations";
	const char *data = NULL;
	bool json = false;

	int done = sps_cli_list_args(cmd, usage_text, argc, argv, &data, &json);
	if (done >= 0)
		return done;

	const char *dir = sps_cli_data_dir(data);
	char path[4200];
	snprintf(path, sizeof(path), "%s/%s", dir, DB_FILE);
	/* a listing must not create a database in a mistyped directory */
	if (access(path, F_OK) != 0)
		return sps_cli_fail(1, cmd,
				    "no database in %s; start 'sipsec serve' on it first, or pass "
				    "--data DIR",
				    dir);
	struct sps_store *st = NULL;
	const char *why = NULL;
	int rc = sps_store_open(&st, dir, &why);
	if (rc)
		return sps_cli_fail(1, cmd, "cannot open the database %s: %s", path,
				    why ? why : strerror(rc));

	char boot_id[128] = "";
	rc = sps_store_setting_get(st, "boot_id", boot_id, sizeof(boot_id));
	if (rc && rc != ENOENT) {
		sps_store_close(st);
		return sps_cli_fail(1, cmd, "cannot read the database %s: %s", path,
				    rc == EBUSY ? "locked by another process for 5 s; try again"
						: strerror(rc));
	}
	if (rc)
		boot_id[0] = '\0'; /* no server ever ran: every stream flow is closed */

	/* one walk into memory, then print: the store is not held while stdout blocks */
	struct walk w = {.arr = json_array(), .boot_id = boot_id, .now = (int64_t)time(NULL)};
	rc = w.arr ? sps_store_binding_each(st, NULL, w.now, one, &w) : ENOMEM;
	if (w.err)
		rc = w.err;
	sps_store_close(st);
	int status = 0;
	if (rc == ENOMEM) {
		status = sps_cli_fail(1, cmd, "out of memory");
	} else if (rc) {
		status = sps_cli_fail(1, cmd, "cannot read the registrations in %s: %s", path,
				      rc == EBUSY ? "locked by another process for 5 s; try again"
						  : strerror(rc));
	} else {
		if (json) {
			if (json_dumpf(w.arr, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(4)) == 0)
				putchar('\n');
		} else {
			print_table(w.arr);
		}
		if (fflush(stdout) != 0 || ferror(stdout))
			status = sps_cli_fail(1, cmd, "cannot write to stdout: %s",
					      strerror(errno));
	}
	json_decref(w.arr);
	return status;
}
