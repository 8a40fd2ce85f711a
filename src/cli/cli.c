/* cli: subcommand table and dispatch. */
#include "cli/cli.h"

#include <stdarg.h>
#include <string.h>

/* The one table of subcommands: drives dispatch and `sipsec --help`. */
static const struct sps_cli_cmd commands[] = {
	{"serve", sps_cmd_serve, "run the SIP server (UDP/TCP 5060, TLS 5061)"},
	{"version", sps_cmd_version, "print the version of sipsec, OpenSSL and libsrtp2"},
	{"cert", sps_cmd_cert, "certificates: show, export the CA, import, renew, rollback"},
	{"user", sps_cmd_user, "add, list, delete users (SIP accounts); set passwords"},
	{"registrations", sps_cmd_registrations, "list the registered phones and their transport"},
	{"calls", sps_cmd_calls, "list the calls in progress, with each leg's transport"},
	{"verify", sps_cmd_verify, "read a packet capture: were signalling and media encrypted?"},
	{"device", sps_cmd_device, "add, list, show phones; print their provisioning configs"},
};

static void usage(FILE *f)
{
	fprintf(f, "usage: sipsec <command> [options]\n\n"
		   "sipsec is a secure SIP server: TLS signalling, SRTP media, a built-in CA.\n\n"
		   "commands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-14s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\nRun 'sipsec <command> --help' for the options of a command.\n");
}

int sps_cli_fail(int status, const char *cmd, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "sipsec %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return status;
}

int sps_cli_wants_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			return 0;
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
			return 1;
	}
	return 0;
}

int sps_cli_main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	const char *name = argv[1];
	if (strcmp(name, "-h") == 0 || strcmp(name, "--help") == 0 || strcmp(name, "help") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(name, "--version") == 0 || strcmp(name, "-V") == 0)
		name = "version";
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(commands[i].name, name) == 0)
			return commands[i].run(argc - 1, argv + 1);
	}
	fprintf(stderr, "sipsec: '%s' is not a sipsec command; run 'sipsec --help' for the list\n",
		name);
	return 2;
}
