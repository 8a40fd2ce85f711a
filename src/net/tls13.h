/* net/tls13: the TLS 1.3 record layer (RFC 8446 section 5) of accepted
 * connections once OpenSSL has finished their handshake.
 *
 * Why: an idle OpenSSL 3.0 server connection holds about 13.7 KB (the SSL
 * object, two cipher contexts, handshake leftovers that no public call
 * frees), and sipsec keeps tens of thousands of idle phone connections. After
 * a TLS 1.3 handshake the record layer needs only the two traffic secrets,
 * the derived keys and IVs, and the two record sequence numbers (5.3). While
 * OpenSSL handshakes, callbacks on the context capture them (the key-log
 * callback gives the application traffic secrets, the message callback
 * counts the records protected under them); sps_tls13_take then builds a
 * sps_tls13 of about 300 bytes and the caller frees the SSL. Records are then
 * protected and checked here with OpenSSL's AEAD ciphers (EVP), one scratch
 * EVP_CIPHER_CTX per thread. Everything up to the end of the handshake stays
 * OpenSSL's; TLS 1.2 connections keep their SSL.
 *
 * Not thread-safe per object: one thread uses a sps_tls13 at a time. */
#ifndef SPS_NET_TLS13_H
#define SPS_NET_TLS13_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/ssl.h>

/* Content types (RFC 8446 5.1) and the sizes of 5.2. */
#define SPS_TLS13_ALERT 21
#define SPS_TLS13_HANDSHAKE 22
#define SPS_TLS13_APPDATA 23
#define SPS_TLS13_HDR 5
#define SPS_TLS13_MAX_PLAIN 16384			 /* 2^14 */
#define SPS_TLS13_MAX_RECORD (SPS_TLS13_HDR + 16384 + 256) /* TLSCiphertext */
/* Bytes a record adds to its content: header, inner type, AEAD tag. */
#define SPS_TLS13_OVERHEAD (SPS_TLS13_HDR + 1 + 16)

struct sps_tls13;

/* Install the capture callbacks on a server context (once, before use; they
 * replace any key-log or message callback). Returns 0 or ENOMEM. */
int sps_tls13_capture(SSL_CTX *ctx);

/* After SSL_do_handshake returned 1 on a server SSL of a context with the
 * capture installed: the record layer state, or NULL when the connection
 * must stay with OpenSSL (not TLS 1.3, a cipher suite not handled here,
 * bytes buffered inside the SSL, or nothing captured). On success the
 * caller must not use ssl for records any more: free it (SSL_free does not
 * write to the socket). */
struct sps_tls13 *sps_tls13_take(SSL *ssl);
/* Wipe and free. NULL is fine. */
void sps_tls13_free(struct sps_tls13 *t);

/* Bytes of the record at the start of buf[0..len): 0 when the header is not
 * complete yet, the record's length (header included; it may be longer than
 * len), or -1 for a header no TLS 1.3 peer sends (not application_data, or
 * too long: 5.2). */
long sps_tls13_record_len(const uint8_t *buf, size_t len);

/* Decrypt and check one whole record rec[0..len) in place (RFC 8446 5.2,
 * 5.3). On success *type is the inner content type and the content is
 * rec[SPS_TLS13_HDR..SPS_TLS13_HDR + *plen). Returns 0, EBADMSG (the record
 * does not authenticate: bad_record_mac), EPROTO (no content type, an
 * oversized plaintext, sequence numbers exhausted) or ENOMEM. */
int sps_tls13_open(struct sps_tls13 *t, EVP_CIPHER_CTX *cx, uint8_t *rec, size_t len,
		   uint8_t *type, size_t *plen);

/* Room that sps_tls13_seal needs for len bytes of content. */
size_t sps_tls13_sealed_max(size_t len);
/* Protect len bytes of content of the given type as records of at most
 * 2^14 bytes of content into out (sps_tls13_sealed_max(len) bytes of room),
 * preceded by a KeyUpdate of our own when one is due (a peer asked for it,
 * 4.6.3, or the write key has protected 2^23 records, 5.5). *olen gets the
 * bytes written. Returns 0 or ENOMEM / EPROTO. */
int sps_tls13_seal(struct sps_tls13 *t, EVP_CIPHER_CTX *cx, uint8_t type, const void *in,
		   size_t len, uint8_t *out, size_t *olen);

/* A handshake-type record's content (after the handshake only KeyUpdate may
 * come from a client, 4.6.3): updates the read key, and when the peer asks
 * for it, schedules our own KeyUpdate before the next sealed record.
 * Returns 0 or EPROTO (any other message: unexpected_message). */
int sps_tls13_handshake(struct sps_tls13 *t, const uint8_t *msg, size_t len);

/* IANA name of the cipher suite ("TLS_AES_128_GCM_SHA256", ...). */
const char *sps_tls13_suite(const struct sps_tls13 *t);

#endif
