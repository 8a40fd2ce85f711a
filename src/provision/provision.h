/* provision: phone configuration files from one model of a device's settings
 * (issue 8). Each vendor is one file (prov_polycom.c, prov_yealink.c,
 * prov_grandstream.c) that turns a struct sps_prov_device into the files that
 * vendor's phones download; a new vendor is one new file plus one line in the
 * table of prov_model.c.
 *
 * Everything here is pure: no store, no sockets. The CLI (`device config`)
 * and the HTTPS provisioning server (prov_server.h) fill the model from the
 * store and the server's settings, so both produce the same bytes. */
#ifndef SPS_PROVISION_PROVISION_H
#define SPS_PROVISION_PROVISION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/mbuf.h"

/* Polycom's names (reg.N.server.1.transport); the other vendors map them. */
enum sps_prov_transport {
	SPS_PROV_TP_UDPONLY = 0,
	SPS_PROV_TP_TCPONLY,
	SPS_PROV_TP_TCPPREFERRED,
	SPS_PROV_TP_TLS,
	SPS_PROV_TP_DNSNAPTR,
};

/* Media encryption (RFC 3711 SRTP keyed by SDES, RFC 4568):
 * off     - plain RTP only
 * enable  - accept SRTP offered by the other side, offer RTP
 * offer   - offer SRTP, accept RTP
 * require - SRTP or no call */
enum sps_prov_srtp {
	SPS_PROV_SRTP_OFF = 0,
	SPS_PROV_SRTP_ENABLE,
	SPS_PROV_SRTP_OFFER,
	SPS_PROV_SRTP_REQUIRE,
};

/* One SIP account of the phone. Strings borrowed. */
struct sps_prov_line {
	const char *user;     /* SIP user name, also the auth user and the label */
	const char *password; /* the SIP password (phones take no HA1) */
};

/* The settings of one device: what every vendor file is made from.
 * Strings are borrowed for the call. */
struct sps_prov_device {
	const char *mac;    /* 12 lowercase hex digits */
	const char *vendor; /* a name sps_prov_vendor_find knows */
	const char *model;
	enum sps_prov_transport transport;
	enum sps_prov_srtp srtp;
	const char *domain; /* SIP domain: registrar address and realm */
	uint16_t sip_port;  /* UDP/TCP, normally 5060 */
	uint16_t tls_port;  /* normally 5061 */
	uint16_t https_port; /* the provisioning server, normally 8443 */
	const char *ca_pem; /* the CA certificate the phone must trust, PEM */
	const struct sps_prov_line *lines;
	size_t nlines;
};

#define SPS_PROV_FILES_MAX 4
#define SPS_PROV_NAME_MAX 64
#define SPS_PROV_FILE_MAX (256 * 1024)

/* One generated file. `secret` marks files that hold SIP passwords. */
struct sps_prov_file {
	char name[SPS_PROV_NAME_MAX];
	bool secret;
	struct sps_mbuf body;
};

/* The files of one device, in the order the phone fetches them. Owns the
 * bodies: release with sps_prov_files_free. */
struct sps_prov_files {
	struct sps_prov_file f[SPS_PROV_FILES_MAX];
	size_t n;
};

typedef int(sps_prov_gen_h)(const struct sps_prov_device *d, struct sps_prov_files *out);

struct sps_prov_vendor {
	const char *name;
	const char *example_model;
	unsigned max_lines;
	sps_prov_gen_h *generate; /* NULL: a softphone, set up by hand */
};

/* The vendor called name (case-insensitive), or NULL. */
const struct sps_prov_vendor *sps_prov_vendor_find(const char *name);
/* "polycom|yealink|grandstream|generic", for messages and --help. */
const char *sps_prov_vendor_names(void);

/* Generate every file of d into *out (zeroed first). Returns 0; EINVAL for
 * a model the vendor cannot express (no lines, too many, bad strings);
 * ENOTSUP for a vendor without files (generic); ENOMEM / EMSGSIZE. On error
 * *out holds nothing. */
int sps_prov_generate(const struct sps_prov_device *d, struct sps_prov_files *out);
/* The file called name of files, or NULL. */
const struct sps_prov_file *sps_prov_files_find(const struct sps_prov_files *files,
						const char *name);
/* Wipes the bodies (they may hold passwords) and frees them. */
void sps_prov_files_free(struct sps_prov_files *files);

/* Files any phone may fetch without credentials, even over plain HTTP: the
 * CA ("ca.pem") and a Polycom bootstrap ("000000000000.cfg" naming
 * "sipsec-bootstrap.cfg": the CA, the TLS profile and the HTTPS
 * provisioning server). No secrets. d->mac, lines and vendor are ignored. */
int sps_prov_public_files(const struct sps_prov_device *d, struct sps_prov_files *out);

/* What to enter in a softphone that is not provisioned (--vendor generic):
 * domain, user, transport TLS, port, SRTP (SDES), the CA file to import. */
int sps_prov_softphone_text(const struct sps_prov_device *d, const char *ca_path,
			    struct sps_mbuf *out);

/* Parse the names used on the command line and in the store. 0 or EINVAL. */
int sps_prov_transport_parse(const char *s, enum sps_prov_transport *out);
int sps_prov_srtp_parse(const char *s, enum sps_prov_srtp *out);
const char *sps_prov_transport_name(enum sps_prov_transport t);
const char *sps_prov_srtp_name(enum sps_prov_srtp s);

/* Normalise a MAC given as 0004f2819fa3, 00:04:F2:81:9F:A3, 00-04-f2-81-9f-a3
 * or 0004.f281.9fa3 into 12 lowercase hex digits. Returns 0 or EINVAL. */
int sps_prov_mac_normalize(const char *in, char out[13]);

/* A random secret of len characters (letters and digits without the
 * look-alikes 0 O 1 l I) from OpenSSL's RAND_bytes, NUL-terminated in out
 * (len + 1 bytes); about 5.8 bits per character. Returns 0 or EIO. */
int sps_prov_secret(char *out, size_t len);

/* Is this the kind of file name a device file or public file could have
 * (1..63 of [A-Za-z0-9._-], not starting with '.')? Anything else is
 * refused before any lookup. */
bool sps_prov_name_ok(const char *name, size_t len);

/* ---- helpers for the vendor files (prov_model.c) ---- */

/* Add a file named name to out; returns its body, or NULL when full. */
struct sps_mbuf *sps__prov_file_add(struct sps_prov_files *out, const char *name, bool secret);
/* Append s escaped for an XML attribute value or element text (& < > " '). */
void sps__prov_xml_esc(struct sps_mbuf *mb, const char *s);
/* Check that every string of d is usable by any vendor: printable, no
 * control characters; user names and passwords without blanks. */
int sps__prov_check(const struct sps_prov_device *d, unsigned max_lines);
/* The SIP port a line uses with transport t (tls_port for TLS). */
uint16_t sps__prov_port(const struct sps_prov_device *d);

extern const struct sps_prov_vendor sps__prov_polycom;
extern const struct sps_prov_vendor sps__prov_yealink;
extern const struct sps_prov_vendor sps__prov_grandstream;

#endif
