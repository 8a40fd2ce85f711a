/* cli: helpers shared by the subcommands. */
#include "cli/cli.h"

#include <stdlib.h>

/* DESIGN.md, Interfaces: --data DIR, default $SIPSEC_DATA or ./sipsec-data. */
const char *sps_cli_data_dir(const char *flag_value)
{
	if (flag_value && *flag_value)
		return flag_value;
	const char *env = getenv("SIPSEC_DATA");
	if (env && *env)
		return env;
	return "./sipsec-data";
}
