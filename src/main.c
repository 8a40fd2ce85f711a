/* sipsec: the command line hands over to the cli layer at once. */
#include "cli/cli.h"

int main(int argc, char **argv)
{
	return sps_cli_main(argc, argv);
}
