/* net/tls_ctx: the one set of OpenSSL settings for every TLS endpoint of
 * sipsec (SIP over TLS, RFC 3261 26 / RFC 5630; HTTPS provisioning and admin).
 *
 * Server contexts resume sessions with RFC 5077 / RFC 8446 4.6.1 tickets whose
 * keys live in DATADIR/tls/ticket-keys, so after a restart ("dead office
 * recovery") phones resume instead of all doing a full handshake at once. */
#ifndef SPS_NET_TLS_CTX_H
#define SPS_NET_TLS_CTX_H

#include <stdbool.h>
#include <time.h>

#include <openssl/ssl.h>

#define SPS_TLS_TICKET_ROTATE_DEFAULT (12 * 3600)
/* Lifetime of a TLS 1.3 session ticket: RFC 8446 4.6.1's maximum, so that
 * phones connected for days still resume after a restart. A TLS 1.2 session
 * lives one rotation period from its full handshake (its ticket carries the
 * master secret). */
#define SPS_TLS13_TICKET_LIFETIME (7 * 24 * 3600)

/* Settings of a server context. Strings are only borrowed for the call. */
struct sps_tls_conf {
	const char *cert_file;	    /* PEM: server certificate, then its chain */
	const char *key_file;	    /* PEM private key of cert_file */
	bool verify_client;	    /* require a client certificate issued by client_ca_file */
	const char *client_ca_file; /* PEM trust anchors for client certificates */
	const char *datadir;	    /* ticket keys in DATADIR/tls/ticket-keys; NULL: in
				       memory only (tickets do not survive a restart) */
	unsigned ticket_rotate_secs; /* age of the current ticket key before
					sps_tls_ctx_rotate_tickets replaces it; 0 = 12 h */
};

/* Create a server SSL_CTX: TLS 1.2..1.3, TLS 1.2 suites ECDHE + AEAD only,
 * groups X25519:P-256:P-384, no renegotiation, no compression, stateless
 * session tickets (1 per handshake, server session cache off).
 * The ticket key file is created (0600, random keys) when missing and the
 * current key rotated when older than the period. *out is the caller's
 * (SSL_CTX_free) on success.
 * Returns 0; EINVAL (bad conf); ENOENT (a file missing); EBADMSG (a file
 * that is not PEM of the right kind, or a corrupt ticket key file);
 * EKEYREJECTED (the key does not match the certificate); ENOMEM; or an errno
 * of the ticket key file. */
int sps_tls_ctx_server_new(const struct sps_tls_conf *conf, SSL_CTX **out);

/* A new server context for conf (after the certificate files changed) that
 * shares old's session ticket keys, so that tickets issued before the reload
 * still resume and rotation (on either context) applies to both. old must
 * come from sps_tls_ctx_server_new or this function; it stays valid for the
 * connections that use it. conf->datadir and ticket_rotate_secs are not used
 * (the keys are old's). *out is the caller's on success. Returns as
 * sps_tls_ctx_server_new, or EINVAL when old is not such a context. */
int sps_tls_ctx_server_reload(SSL_CTX *old, const struct sps_tls_conf *conf, SSL_CTX **out);

/* Rotate the ticket keys of a server context made by sps_tls_ctx_server_new:
 * when the current key was created at least the rotation period before now,
 * a new random key becomes current (it encrypts new tickets) and the old
 * ones are kept to decrypt tickets made under them, which are then renewed:
 * the previous key for TLS 1.2 tickets, and for TLS 1.3 tickets every key
 * whose tickets can still be valid (SPS_TLS13_TICKET_LIFETIME, at most 15
 * old keys); older keys are dropped. The keys are saved to the key file
 * before they are used.
 * Call it from a timer (every few minutes is fine); safe against the ticket
 * callbacks running in other threads. *rotated (may be NULL) tells whether a
 * new key was made. Returns 0, EINVAL (not such a context) or an errno of
 * writing the key file (the old keys stay in use). */
int sps_tls_ctx_rotate_tickets(SSL_CTX *ctx, time_t now, bool *rotated);

/* Create a client SSL_CTX for outgoing TLS: same protocol settings, peer
 * verification on (SSL_VERIFY_PEER) against the system trust store plus
 * ca_file (may be NULL; sipsec's own CA for connections between nodes).
 * The host name is NOT checked by the context: for each connection call
 * sps_tls_client_set_host (or SSL_set1_host) before the handshake, or any
 * certificate from a trusted CA is accepted. *out is the caller's on success.
 * Returns 0, ENOENT / EBADMSG (ca_file), ENOMEM. */
int sps_tls_ctx_client_new(const char *ca_file, SSL_CTX **out);
/* The same with a choice of trust: ca_file (PEM bundle, may be NULL) and,
 * when system_store, the system's store. EINVAL when neither is given. */
int sps_tls_ctx_client_trust(const char *ca_file, bool system_store, SSL_CTX **out);

/* Make ssl verify that the peer certificate is for host (a DNS name, matched
 * per RFC 6125 without partial wildcards, or an IP literal matched against IP
 * SANs) and send it as SNI when it is a name (RFC 6066 3: never an address).
 * Returns 0 or EINVAL. */
int sps_tls_client_set_host(SSL *ssl, const char *host);

#endif
