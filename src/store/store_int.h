/* store internals: the SQLite backend's handle, the schema migrations and
 * the read cache. Only store_sqlite.c, migrate.c, store_cache.c and the
 * unit tests include this. */
#ifndef SPS_STORE_STORE_INT_H
#define SPS_STORE_STORE_INT_H

#include <stdbool.h>

#include <sqlite3.h>

#include "store/store.h"

/* The database file inside the data dir. */
#define SPS_STORE_FILE "sipsec.db"

/* Cached prepared statements, one per query (SQL text in store_sqlite.c). */
enum sps__store_stmt {
	SPS__ST_BEGIN,
	SPS__ST_COMMIT,
	SPS__ST_ROLLBACK,
	SPS__ST_SAVEPOINT,
	SPS__ST_RELEASE,
	SPS__ST_ROLLBACK_TO,
	SPS__ST_SETTING_GET,
	SPS__ST_SETTING_SET,
	SPS__ST_USER_ADD,
	SPS__ST_USER_UPDATE,
	SPS__ST_USER_DEL,
	SPS__ST_USER_DEL_REGS,
	SPS__ST_USER_GET,
	SPS__ST_USER_EACH,
	SPS__ST_BINDING_PUT,
	SPS__ST_BINDING_DEL,
	SPS__ST_BINDING_DEL_AOR,
	SPS__ST_BINDING_EXPIRE,
	SPS__ST_BINDING_EACH_AOR,
	SPS__ST_BINDING_EACH_ALL,
	SPS__ST_DEVICE_ADD,
	SPS__ST_DEVICE_LINE_ADD,
	SPS__ST_DEVICE_DEL,
	SPS__ST_DEVICE_GET,
	SPS__ST_DEVICE_BY_PROV_USER,
	SPS__ST_DEVICE_EACH,
	SPS__ST_DEVICE_LINES,
	SPS__ST_DATA_VERSION,
	SPS__ST_COUNT
};

/* ---- the read cache (store_cache.c, sps_store_cache) ----
 * Users by name and each AoR's bindings (every row, expired ones too, in
 * the order of the query), in memory. The cache only stores and drops;
 * store_sqlite.c keeps it true: it drops what this connection writes, and
 * clears everything when PRAGMA data_version says another connection
 * committed, or when a transaction of ours was rolled back. */
struct sps__cache;
struct sps__cache_entry; /* one AoR's binding list, held while walked */
struct sps__cache_fill;	 /* one AoR's binding list being read */

int sps__cache_new(struct sps__cache **out);
void sps__cache_free(struct sps__cache *c);
void sps__cache_clear(struct sps__cache *c);	  /* everything */
void sps__cache_clear_aors(struct sps__cache *c); /* every binding list */

/* A copy of the cached row into *out; false when not cached. */
bool sps__cache_user_get(struct sps__cache *c, const char *name, struct sps_user *out);
void sps__cache_user_put(struct sps__cache *c, const struct sps_user *u);
void sps__cache_user_drop(struct sps__cache *c, const char *name);

/* The cached list of aor, held (release it), or NULL. Its rows stay valid
 * until the release, also when the entry is dropped meanwhile. */
struct sps__cache_entry *sps__cache_aor_get(struct sps__cache *c, const char *aor);
const struct sps_binding *sps__cache_aor_rows(const struct sps__cache_entry *e, size_t *n);
void sps__cache_aor_release(struct sps__cache_entry *e);
void sps__cache_aor_drop(struct sps__cache *c, const char *aor);
/* Fill: begin (NULL on ENOMEM), add every row (copied), end: with ok the
 * list replaces the cached one and comes back held (NULL when it could not
 * be kept: too many rows, no memory); without ok it is discarded. */
struct sps__cache_fill *sps__cache_aor_begin(const char *aor);
void sps__cache_aor_add(struct sps__cache_fill *f, const struct sps_binding *b);
struct sps__cache_entry *sps__cache_aor_end(struct sps__cache *c, struct sps__cache_fill *f,
					    bool ok);

/* One connection to DATA/sipsec.db. Used by one thread at a time (store.h).
 * Invariants: batch is true exactly while a BEGIN IMMEDIATE issued by
 * sps_store_begin is open; batch_err is non-zero only while batch is true and
 * SQLite rolled that transaction back on its own (an I/O error, a full disk),
 * so that sps_store_commit reports the lost writes instead of succeeding. */
struct sps_store {
	sqlite3 *db;
	sqlite3_stmt *stmt[SPS__ST_COUNT]; /* owned; finalized by sps_store_close */
	int version;                       /* schema version after migrations */
	bool batch;
	int batch_err;
	/* sps_store_cache: NULL when off. dv is the PRAGMA data_version the
	 * cache was last found true at (-1: never checked). */
	struct sps__cache *cache;
	int64_t dv;
	unsigned pin;	  /* sps_store_cache_pin depth */
	bool pin_checked; /* dv was checked since the outermost pin */
	char path[4096]; /* DATA/sipsec.db */
};

/* The schema version this binary writes (the number of migrations). */
int sps__store_schema_latest(void);

/* Bring db up to sps__store_schema_latest(), one migration per IMMEDIATE
 * transaction (safe when several processes open a new data dir at once).
 * *version receives the version afterwards. Returns 0, ENOTSUP when the
 * database is newer than this binary, EBUSY, or EIO; *why gets a static
 * reason on failure. */
int sps__store_migrate(sqlite3 *db, int *version, const char **why);

/* The schema version recorded in db (0 for an empty database), or -1 on a
 * database error. */
int sps__store_read_version(sqlite3 *db);

#endif
