/* store internals: the SQLite backend's handle and the schema migrations.
 * Only store_sqlite.c, migrate.c and the unit tests include this. */
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
	SPS__ST_COUNT
};

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
