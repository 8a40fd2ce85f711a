/* cli: `sipsec serve`. Options come from the one table in server/conf.c:
 * defaults, then the --config INI file, then the flags. */
#include <errno.h>
#include <string.h>

#include "cli/cli.h"
#include "core/log.h"
#include "media/policy.h"
#include "server/server.h"

static void help(void)
{
	printf("usage: sipsec serve [options]\n\n"
	       "Run the SIP server: UDP and TCP on --sip-port, TLS on --tls-port. On first start\n"
	       "it creates the data directory, a CA and a SIP server certificate signed by it.\n"
	       "It logs one line per listener, then 'ready', and writes DATA/sipsec.pid.\n"
	       "SIGINT or SIGTERM stop it cleanly.\n\noptions:\n");
	sps_conf_print_help(sps_server_opts, sps_server_nopts, stdout);
}

int sps_cmd_serve(int argc, char **argv)
{
	struct sps_server_conf conf;
	char err[512];
	char *rest[1];
	int nrest = 0;

	if (sps_cli_wants_help(argc, argv)) {
		help();
		return 0;
	}
	memset(&conf, 0, sizeof(conf));
	sps_conf_defaults(sps_server_opts, sps_server_nopts, &conf);
	if (sps_conf_parse_args(sps_server_opts, sps_server_nopts, &conf, argc, argv, rest, 0,
				&nrest, err, sizeof(err)))
		return sps_cli_fail(2, "serve", "%s; see 'sipsec serve --help'", err);
	if (conf.config[0]) {
		/* the file first, then the flags again so that they win */
		if (sps_conf_load_file(sps_server_opts, sps_server_nopts, &conf, conf.config, err,
				       sizeof(err)))
			return sps_cli_fail(1, "serve", "%s", err);
		sps_conf_parse_args(sps_server_opts, sps_server_nopts, &conf, argc, argv, rest, 0,
				    &nrest, err, sizeof(err));
	}
	sps_server_conf_finish(&conf);
	enum sps_log_level lvl;
	if (sps_log_level_parse(conf.log_level, &lvl))
		return sps_cli_fail(2, "serve", "--log-level %s: use error, warn, info or debug",
				    conf.log_level);
	sps_log_set_level(lvl);
	enum sps_srtp_mode srtp;
	if (sps_srtp_mode_parse(conf.srtp_default, &srtp) || srtp == SPS_SRTP_MODE_UNSET)
		return sps_cli_fail(2, "serve", "--srtp-default %s: use off, enable, offer or require",
				    conf.srtp_default);
	if (conf.media_port_max < conf.media_port_min + 1)
		return sps_cli_fail(2, "serve",
				    "--media-port-min %d is not below --media-port-max %d: give a "
				    "range of at least one RTP/RTCP port pair",
				    conf.media_port_min, conf.media_port_max);
	if (sps_server_run(&conf, err, sizeof(err)))
		return sps_cli_fail(1, "serve", "%s", err);
	return 0;
}
