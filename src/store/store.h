/* store: the durable state of sipsec (users, registrations, settings) behind
 * one backend-neutral interface. The SQLite backend (store_sqlite.c, WAL
 * mode, DATA/sipsec.db) is the embedded default; a PostgreSQL backend can
 * implement the same functions later without touching callers.
 *
 * Threads: a struct sps_store is used by one thread at a time. Several
 * processes may open the same data dir at once (the CLI while `serve` runs):
 * SQLite's locking serialises them; a busy database is retried for up to 5 s.
 *
 * Group commit (DESIGN.md): the server calls sps_store_begin() before the
 * first write of a loop iteration and sps_store_commit() at its end, then
 * sends the replies that depended on those writes. Writes outside a
 * begin/commit pair are committed one by one (the CLI).
 *
 * Errors: 0, or an errno: ENOENT (no such row), EEXIST (row exists), EINVAL
 * (bad argument), EBUSY (database locked past the timeout), EIO (any other
 * database error; the backend logs the SQLite message once). */
#ifndef SPS_STORE_STORE_H
#define SPS_STORE_STORE_H

#include <stdbool.h>
#include <stdint.h>

struct sps_store;

/* Open (creating when missing) the store of data dir `dir` and run pending
 * schema migrations (versioned, each in its own transaction). The database
 * file is created mode 0600. Returns 0, or an errno; on failure *why (when
 * not NULL) points at a static one-line reason for the user. */
int sps_store_open(struct sps_store **out, const char *dir, const char **why);
void sps_store_close(struct sps_store *st);

/* Schema version after migrations (tests). */
int sps_store_schema_version(struct sps_store *st);

/* Read cache (off by default; `serve` turns it on for its lookups per
 * call): users and each AoR's bindings are then answered from memory.
 * Never stale: every read first asks SQLite whether another connection -
 * the CLI in another process - committed since the last read (PRAGMA
 * data_version), and then forgets everything; this connection's own writes
 * forget what they touch, and a rolled-back batch forgets everything.
 * Returns 0 or ENOMEM. */
int sps_store_cache(struct sps_store *st, bool on);
/* Between pin and unpin (serve: the handling of one received message) the
 * check for other connections' commits is made once, at the first read,
 * instead of at every read: the reads see every commit that completed
 * before the message was handled. Pins nest; unbalanced is a bug. */
void sps_store_cache_pin(struct sps_store *st);
void sps_store_cache_unpin(struct sps_store *st);

/* Group commit. begin when already in a batch is a no-op returning 0. */
int sps_store_begin(struct sps_store *st);
int sps_store_commit(struct sps_store *st);
bool sps_store_in_batch(const struct sps_store *st);

/* ---- settings: small key/value strings ("realm", "boot_id", ...) ---- */
/* Copies the value into buf (NUL-terminated). ENOENT when unset, ENOSPC when
 * buf is too small. */
int sps_store_setting_get(struct sps_store *st, const char *key, char *buf, size_t size);
int sps_store_setting_set(struct sps_store *st, const char *key, const char *value);

/* ---- users (SIP accounts) ---- */
#define SPS_USER_NAME_MAX 64
#define SPS_HA1_MD5_HEX 32
#define SPS_HA1_SHA256_HEX 64

/* Only digest hashes are stored, never the password (RFC 7616 3.4.2:
 * HA1 = H(username ":" realm ":" password)), lowercase hex. */
struct sps_user {
	char name[SPS_USER_NAME_MAX + 1];
	char realm[256];
	char ha1_md5[SPS_HA1_MD5_HEX + 1];
	char ha1_sha256[SPS_HA1_SHA256_HEX + 1];
	int64_t created; /* unix seconds */
	/* SRTP media policy (media/policy.h): "off", "enable", "offer",
	 * "require", or "" for the system default */
	char srtp[8];
};

/* Add a user; EEXIST when the name is taken. */
int sps_store_user_add(struct sps_store *st, const struct sps_user *u);
/* Replace realm, hashes and srtp of an existing user; ENOENT when absent. */
int sps_store_user_update(struct sps_store *st, const struct sps_user *u);
/* Delete a user and its registrations; ENOENT when absent. */
int sps_store_user_del(struct sps_store *st, const char *name);
/* Look up by exact name; ENOENT when absent. */
int sps_store_user_get(struct sps_store *st, const char *name, struct sps_user *out);
/* Call h for every user in name order; h returning non-zero stops the walk
 * and that value is returned. */
typedef int(sps_store_user_h)(const struct sps_user *u, void *arg);
int sps_store_user_each(struct sps_store *st, sps_store_user_h *h, void *arg);

/* ---- registrations (RFC 3261 10.3 bindings) ---- */
/* One binding of an address-of-record to a contact. Strings are owned by
 * whoever filled the struct (for sps_store_binding_each: valid during the
 * callback only). Key: (aor, contact) - or (aor, instance, reg_id) when
 * instance is set (RFC 5626 6). */
struct sps_binding {
	const char *aor;        /* "sip:alice@example.com" */
	const char *user;       /* the user name it belongs to */
	const char *contact;    /* contact URI exactly as registered */
	const char *contact_hdr;/* the whole Contact value (name-addr with params) */
	const char *instance;   /* +sip.instance value or "" */
	uint32_t reg_id;        /* 0 when absent */
	const char *call_id;
	uint32_t cseq;
	int64_t expires_at;     /* unix seconds */
	int q;                  /* q * 1000, -1 when absent */
	const char *path;       /* Path header values, comma-separated, or "" */
	const char *transport;  /* what the REGISTER arrived on: "udp", "tcp", "tls" */
	const char *source;     /* "ip:port" it came from ("[v6]:port") */
	const char *local;      /* "ip:port" it arrived at */
	const char *user_agent; /* or "" */
	const char *boot_id;    /* the serve run that holds the flow (stream transports) */
	uint64_t conn_id;       /* that run's connection id; 0 for UDP */
	bool outbound;          /* RFC 5626 flow (instance + reg-id, "outbound" supported) */
	int64_t updated;        /* unix seconds */
};

/* Insert or replace the binding with the same key. */
int sps_store_binding_put(struct sps_store *st, const struct sps_binding *b);
/* Delete the binding of aor with this contact URI (as stored); ENOENT when absent. */
int sps_store_binding_del(struct sps_store *st, const char *aor, const char *contact);
/* Delete every binding of aor; returns 0 also when there was none. */
int sps_store_binding_del_aor(struct sps_store *st, const char *aor);
/* Delete bindings with expires_at <= now; *n (if not NULL) receives how many. */
int sps_store_binding_expire(struct sps_store *st, int64_t now, unsigned *n);
/* Walk bindings of aor (NULL: all, ordered by aor then q descending) whose
 * expires_at > now (now 0: all). h returning non-zero stops the walk. */
typedef int(sps_store_binding_h)(const struct sps_binding *b, void *arg);
int sps_store_binding_each(struct sps_store *st, const char *aor, int64_t now,
			   sps_store_binding_h *h, void *arg);

/* ---- devices (provisioned phones, issue 8) ---- */
#define SPS_DEVICE_MAC_LEN 12   /* lowercase hex, no separators */
#define SPS_DEVICE_PW_MAX 64    /* generated secrets are 20 characters */
#define SPS_DEVICE_LINES_MAX 16

/* A phone. The provisioning credentials (checked with HTTP digest or basic
 * on the HTTPS provisioning server) are kept in clear: `device show` must
 * print them and Basic needs them; the digest HA1 is derived per request
 * (the realm is the SIP domain, which may change). The database is 0600. */
struct sps_device {
	char mac[SPS_DEVICE_MAC_LEN + 1];
	char vendor[16];    /* "polycom", "yealink", "grandstream", "generic" */
	char model[64];
	char transport[16]; /* UDPOnly, TCPOnly, TCPpreferred, TLS, DNSnaptr */
	char srtp[8];       /* off, enable, offer, require */
	char prov_user[32];
	char prov_password[SPS_DEVICE_PW_MAX + 1];
	int64_t created;    /* unix seconds; 0 on add means now */
};

/* One line (SIP account) of a device, 1-based idx. The SIP password is
 * the one put into the phone's configuration (phones take no HA1). */
struct sps_device_line {
	unsigned idx;
	char user[SPS_USER_NAME_MAX + 1];
	char sip_password[SPS_DEVICE_PW_MAX + 1];
};

/* Add a device with its lines (one transaction, or a savepoint in a batch).
 * EEXIST when the MAC (or the provisioning user) is taken; EINVAL for a
 * malformed row (MAC not 12 lowercase hex digits, no lines, too many). */
int sps_store_device_add(struct sps_store *st, const struct sps_device *d,
			 const struct sps_device_line *lines, size_t nlines);
/* Delete a device and its lines; ENOENT when absent. */
int sps_store_device_del(struct sps_store *st, const char *mac);
/* Look up by normalised MAC, or by provisioning user; ENOENT when absent. */
int sps_store_device_get(struct sps_store *st, const char *mac, struct sps_device *out);
int sps_store_device_by_prov_user(struct sps_store *st, const char *prov_user,
				  struct sps_device *out);
/* The lines of mac in idx order into lines[0..max); *n receives the count
 * (ENOSPC when there are more than max). */
int sps_store_device_lines(struct sps_store *st, const char *mac, struct sps_device_line *lines,
			   size_t max, size_t *n);
/* Call h for every device in MAC order; non-zero from h stops the walk. */
typedef int(sps_store_device_h)(const struct sps_device *d, void *arg);
int sps_store_device_each(struct sps_store *st, sps_store_device_h *h, void *arg);

#endif
