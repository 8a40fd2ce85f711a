/* cli: `sipsec version`. */
#include "cli/cli.h"

#include <openssl/crypto.h>
#include <openssl/opensslv.h>
#include <srtp2/srtp.h>
#include <string.h>

int sps_cmd_version(int argc, char **argv)
{
	if (sps_cli_wants_help(argc, argv)) {
		printf("usage: sipsec version\n\n"
		       "Print the version of sipsec and of the OpenSSL and libsrtp2 it uses.\n");
		return 0;
	}
	if (argc > 1)
		return sps_cli_fail(2, "version", "unexpected argument '%s'; it takes none", argv[1]);
	printf("sipsec %s\n", SPS_VERSION);
	printf("OpenSSL %s (built with %s)\n", OpenSSL_version(OPENSSL_VERSION_STRING),
	       OPENSSL_VERSION_TEXT);
	printf("%s\n", srtp_get_version_string()); /* "libsrtp2 2.x.y" */
	return 0;
}
