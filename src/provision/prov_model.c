/* provision/prov_model: the vendor table, the names of the settings, MAC
 * normalisation, generated secrets, and the helpers every vendor file uses. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "core/hex.h"
#include "provision/provision.h"

/* The generic (softphone) entry has no files: `device add` prints what to
 * enter by hand. */
static const struct sps_prov_vendor prov_generic = {"generic", "Zoiper", 1, NULL};

/* One line per vendor: adding a vendor is a new prov_<name>.c and a line here. */
static const struct sps_prov_vendor *const vendors[] = {
	&sps__prov_polycom,
	&sps__prov_yealink,
	&sps__prov_grandstream,
	&prov_generic,
};

const struct sps_prov_vendor *sps_prov_vendor_find(const char *name)
{
	if (!name)
		return NULL;
	for (size_t i = 0; i < sizeof(vendors) / sizeof(vendors[0]); i++)
		if (strcasecmp(vendors[i]->name, name) == 0)
			return vendors[i];
	return NULL;
}

const char *sps_prov_vendor_names(void)
{
	return "polycom|yealink|grandstream|generic";
}

/* ---- names ---- */

static const char *const tp_names[] = {"UDPOnly", "TCPOnly", "TCPpreferred", "TLS", "DNSnaptr"};
static const char *const srtp_names[] = {"off", "enable", "offer", "require"};

int sps_prov_transport_parse(const char *s, enum sps_prov_transport *out)
{
	for (size_t i = 0; s && i < sizeof(tp_names) / sizeof(tp_names[0]); i++) {
		if (strcasecmp(s, tp_names[i]) == 0) {
			*out = (enum sps_prov_transport)i;
			return 0;
		}
	}
	return EINVAL;
}

int sps_prov_srtp_parse(const char *s, enum sps_prov_srtp *out)
{
	for (size_t i = 0; s && i < sizeof(srtp_names) / sizeof(srtp_names[0]); i++) {
		if (strcasecmp(s, srtp_names[i]) == 0) {
			*out = (enum sps_prov_srtp)i;
			return 0;
		}
	}
	return EINVAL;
}

const char *sps_prov_transport_name(enum sps_prov_transport t)
{
	return (unsigned)t < sizeof(tp_names) / sizeof(tp_names[0]) ? tp_names[t] : "?";
}

const char *sps_prov_srtp_name(enum sps_prov_srtp s)
{
	return (unsigned)s < sizeof(srtp_names) / sizeof(srtp_names[0]) ? srtp_names[s] : "?";
}

/* ---- MAC addresses and secrets ---- */

/* Separators may be ':' or '-' between every byte, or '.' between groups of
 * four digits (Cisco style), used consistently; or none at all. */
int sps_prov_mac_normalize(const char *in, char out[13])
{
	static const char hex[] = "0123456789abcdef";
	char sep = 0;
	size_t n = 0, run = 0;
	if (!in)
		return EINVAL;
	for (const char *p = in; *p; p++) {
		int v = sps_hexval((unsigned char)*p);
		if (v >= 0) {
			if (n >= 12)
				return EINVAL;
			out[n++] = hex[v];
			run++;
			continue;
		}
		if (*p != ':' && *p != '-' && *p != '.')
			return EINVAL;
		if (sep && *p != sep)
			return EINVAL;
		sep = *p;
		if (run != (sep == '.' ? 4u : 2u))
			return EINVAL;
		run = 0;
	}
	if (n != 12 || (sep && run != (sep == '.' ? 4u : 2u)))
		return EINVAL;
	out[12] = '\0';
	return 0;
}

int sps_prov_secret(char *out, size_t len)
{
	/* 58 symbols, no look-alikes; bytes >= 232 are redrawn so that every
	 * symbol is equally likely (232 = 4 * 58) */
	static const char alpha[] = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
	const size_t na = sizeof(alpha) - 1;
	unsigned char buf[64];
	size_t o = 0;
	while (o < len) {
		if (RAND_bytes(buf, sizeof(buf)) != 1)
			return EIO;
		for (size_t i = 0; i < sizeof(buf) && o < len; i++)
			if (buf[i] < 4 * na)
				out[o++] = alpha[buf[i] % na];
	}
	out[len] = '\0';
	OPENSSL_cleanse(buf, sizeof(buf));
	return 0;
}

bool sps_prov_name_ok(const char *name, size_t len)
{
	if (len == 0 || len >= SPS_PROV_NAME_MAX || name[0] == '.')
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return false;
	}
	return true;
}

/* ---- files ---- */

struct sps_mbuf *sps__prov_file_add(struct sps_prov_files *out, const char *name, bool secret)
{
	if (out->n >= SPS_PROV_FILES_MAX || strlen(name) >= SPS_PROV_NAME_MAX)
		return NULL;
	struct sps_prov_file *f = &out->f[out->n++];
	memset(f, 0, sizeof(*f));
	snprintf(f->name, sizeof(f->name), "%s", name);
	f->secret = secret;
	sps_mbuf_init(&f->body, SPS_PROV_FILE_MAX);
	return &f->body;
}

void sps_prov_files_free(struct sps_prov_files *files)
{
	if (!files)
		return;
	for (size_t i = 0; i < files->n; i++) {
		struct sps_mbuf *b = &files->f[i].body;
		if (b->buf)
			OPENSSL_cleanse(b->buf, b->cap);
		sps_mbuf_free(b);
	}
	files->n = 0;
}

const struct sps_prov_file *sps_prov_files_find(const struct sps_prov_files *files,
						const char *name)
{
	for (size_t i = 0; files && name && i < files->n; i++)
		if (strcmp(files->f[i].name, name) == 0)
			return &files->f[i];
	return NULL;
}

void sps__prov_xml_esc(struct sps_mbuf *mb, const char *s)
{
	const char *run = s;
	for (; *s; s++) {
		const char *e = NULL;
		switch (*s) {
		case '&': e = "&amp;"; break;
		case '<': e = "&lt;"; break;
		case '>': e = "&gt;"; break;
		case '"': e = "&quot;"; break;
		case '\'': e = "&apos;"; break;
		case '\n': e = "&#10;"; break; /* kept inside attribute values (XML 1.0 3.3.3) */
		default: break;
		}
		if (e) {
			sps_mbuf_write(mb, run, (size_t)(s - run));
			sps_mbuf_puts(mb, e);
			run = s + 1;
		}
	}
	sps_mbuf_write(mb, run, (size_t)(s - run));
}

/* Printable ASCII (and newlines when multiline): what every format here can
 * carry after escaping. A blank is refused where a vendor's line format would
 * cut the value. */
static bool text_ok(const char *s, bool blank_ok, bool multiline)
{
	if (!s)
		return false;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '\n' && multiline)
			continue;
		if (*p < 0x20 || *p >= 0x7f || (*p == ' ' && !blank_ok))
			return false;
	}
	return true;
}

int sps__prov_check(const struct sps_prov_device *d, unsigned max_lines)
{
	if (!d || !d->mac || strlen(d->mac) != 12 || !d->domain || !d->domain[0] ||
	    !text_ok(d->domain, false, false) || !text_ok(d->model ? d->model : "", true, false) ||
	    !d->ca_pem || !text_ok(d->ca_pem, true, true) || d->nlines == 0 ||
	    d->nlines > max_lines || !d->lines)
		return EINVAL;
	for (size_t i = 0; i < 12; i++)
		if (sps_hexval((unsigned char)d->mac[i]) < 0 || (d->mac[i] >= 'A' && d->mac[i] <= 'F'))
			return EINVAL;
	for (size_t i = 0; i < d->nlines; i++) {
		const struct sps_prov_line *l = &d->lines[i];
		if (!l->user || !l->user[0] || !text_ok(l->user, false, false) || !l->password ||
		    !l->password[0] || !text_ok(l->password, false, false))
			return EINVAL;
	}
	if ((unsigned)d->transport > SPS_PROV_TP_DNSNAPTR || (unsigned)d->srtp > SPS_PROV_SRTP_REQUIRE)
		return EINVAL;
	return 0;
}

uint16_t sps__prov_port(const struct sps_prov_device *d)
{
	return d->transport == SPS_PROV_TP_TLS ? d->tls_port : d->sip_port;
}

int sps_prov_generate(const struct sps_prov_device *d, struct sps_prov_files *out)
{
	if (!out)
		return EINVAL;
	memset(out, 0, sizeof(*out));
	const struct sps_prov_vendor *v = d ? sps_prov_vendor_find(d->vendor) : NULL;
	if (!v)
		return EINVAL;
	if (!v->generate)
		return ENOTSUP;
	int err = sps__prov_check(d, v->max_lines);
	if (!err)
		err = v->generate(d, out);
	for (size_t i = 0; !err && i < out->n; i++)
		err = sps_mbuf_err(&out->f[i].body);
	if (err)
		sps_prov_files_free(out);
	return err;
}

int sps_prov_softphone_text(const struct sps_prov_device *d, const char *ca_path,
			    struct sps_mbuf *out)
{
	if (!d || !d->domain || !d->nlines || !d->lines)
		return EINVAL;
	const struct sps_prov_line *l = &d->lines[0];
	sps_mbuf_printf(out,
			"Enter in the softphone (Zoiper, Linphone, baresip):\n"
			"  domain / server:  %s\n"
			"  user name:        %s\n"
			"  auth user name:   %s\n"
			"  password:         %s\n"
			"  transport:        TLS\n"
			"  port:             %u\n"
			"  media encryption: SRTP with SDES keys (\"SDES-SRTP\"; %s)\n"
			"  CA certificate:   import %s (made by 'sipsec cert ca-export')\n",
			d->domain, l->user, l->user, l->password, (unsigned)d->tls_port,
			d->srtp == SPS_PROV_SRTP_REQUIRE   ? "mandatory"
			: d->srtp == SPS_PROV_SRTP_OFF     ? "the device is set to off: turn it on "
							     "for encrypted calls"
							   : "optional or mandatory",
			ca_path);
	return sps_mbuf_err(out);
}

/* ---- public files (no secrets) ---- */

int sps_prov_public_files(const struct sps_prov_device *d, struct sps_prov_files *out)
{
	if (!out)
		return EINVAL;
	memset(out, 0, sizeof(*out));
	if (!d || !d->domain || !text_ok(d->domain, false, false) || !d->ca_pem ||
	    !text_ok(d->ca_pem, true, true))
		return EINVAL;
	struct sps_mbuf *mb = sps__prov_file_add(out, "ca.pem", false);
	sps_mbuf_puts(mb, d->ca_pem);

	/* Polycom first contact: the master file every phone without a <mac>.cfg
	 * of its own loads (000000000000.cfg), naming a file that installs the CA
	 * and moves provisioning to HTTPS. The per-device provisioning user and
	 * password are entered on the phone (or given by DHCP), never served. */
	mb = sps__prov_file_add(out, "000000000000.cfg", false);
	sps_mbuf_puts(mb, "<?xml version=\"1.0\" standalone=\"yes\"?>\n"
			  "<APPLICATION APP_FILE_PATH=\"sip.ld\" CONFIG_FILES=\"sipsec-bootstrap.cfg\" "
			  "MISC_FILES=\"\" LOG_FILE_DIRECTORY=\"\" OVERRIDES_DIRECTORY=\"\" "
			  "CONTACTS_DIRECTORY=\"\" LICENSE_DIRECTORY=\"\" "
			  "USER_PROFILES_DIRECTORY=\"\" CALL_LISTS_DIRECTORY=\"\"/>\n");
	mb = sps__prov_file_add(out, "sipsec-bootstrap.cfg", false);
	sps_mbuf_puts(mb, "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n"
			  "<!-- sipsec bootstrap: trust the sipsec CA, then provision over HTTPS -->\n"
			  "<polycomConfig>\n"
			  "  <device device.set=\"1\"\n"
			  "    device.sec.TLS.customCaCert1.set=\"1\" device.sec.TLS.customCaCert1=\"");
	sps__prov_xml_esc(mb, d->ca_pem);
	sps_mbuf_printf(mb, "\"\n"
			    "    device.sec.TLS.profile.caCertList1.set=\"1\" "
			    "device.sec.TLS.profile.caCertList1=\"BuiltinAndPlatform1\"\n"
			    "    device.sec.TLS.profileSelection.provisioning.set=\"1\" "
			    "device.sec.TLS.profileSelection.provisioning=\"PlatformProfile1\"\n"
			    "    device.prov.serverType.set=\"1\" device.prov.serverType=\"HTTPS\"\n"
			    "    device.prov.serverName.set=\"1\" device.prov.serverName=\"");
	sps__prov_xml_esc(mb, d->domain);
	sps_mbuf_printf(mb, ":%u/prov\"/>\n</polycomConfig>\n", (unsigned)d->https_port);
	int err = 0;
	for (size_t i = 0; !err && i < out->n; i++)
		err = sps_mbuf_err(&out->f[i].body);
	if (err)
		sps_prov_files_free(out);
	return err;
}
