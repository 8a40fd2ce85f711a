/* cli: helpers shared by the subcommands. */
#include "cli/cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/store.h"

#define DB_FILE "sipsec.db" /* in the data dir (store_sqlite.c) */

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

int sps_cli_open_store(const char *cmd, const char *dir, bool must_exist, struct sps_store **st)
{
	char path[4200];
	const char *why = "";
	snprintf(path, sizeof(path), "%s/%s", dir, DB_FILE);
	/* a command that only reads must not create a database in a mistyped dir */
	if (must_exist && access(path, F_OK) != 0)
		return sps_cli_fail(1, cmd,
				    "no user database in %s (no users or devices yet); add a user "
				    "with 'sipsec user add NAME', or pass --data DIR",
				    dir);
	int rc = sps_store_open(st, dir, &why);
	if (rc)
		return sps_cli_fail(1, cmd, "cannot open the database %s: %s (%s)", path,
				    why ? why : "", strerror(rc));
	return 0;
}

int sps_cli_store_fail(const char *cmd, const char *dir, int rc)
{
	if (rc == EBUSY)
		return sps_cli_fail(1, cmd,
				    "the database in %s is locked by another process (waited 5 s); "
				    "try again",
				    dir);
	return sps_cli_fail(1, cmd, "database error in %s: %s", dir, strerror(rc));
}
