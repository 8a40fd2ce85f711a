/* store/migrate: versioned schema migrations of the SQLite store.
 *
 * migrations[i] takes the schema from version i to i + 1. Append new ones at
 * the end; never edit one that has shipped (databases in the field already
 * ran it). Each runs in its own BEGIN IMMEDIATE transaction together with the
 * row in schema_version that records it, so a crash leaves the database at
 * the old or the new version, never in between. The version is re-read
 * inside the transaction: when two processes open a new data dir at once,
 * the second finds the work done. */
#define SPS_LOG_MODULE "store"
#include <errno.h>
#include <stddef.h>
#include <stdio.h>

#include "core/log.h"
#include "store/store_int.h"

static const char *const migrations[] = {
	/* 1: users, registrations, settings */
	"CREATE TABLE schema_version ("
	"  version INTEGER PRIMARY KEY,"
	"  applied INTEGER NOT NULL" /* unix seconds */
	");"
	/* only digest hashes, never the password (store.h) */
	"CREATE TABLE users ("
	"  name TEXT PRIMARY KEY NOT NULL,"
	"  realm TEXT NOT NULL,"
	"  ha1_md5 TEXT NOT NULL,"
	"  ha1_sha256 TEXT NOT NULL,"
	"  created INTEGER NOT NULL"
	");"
	/* RFC 3261 10.3 bindings; one row per struct sps_binding. No foreign key
	 * to users: a REGISTER racing a `user del` must not fail the write; the
	 * binding expires on its own (user_del removes the others). */
	"CREATE TABLE registrations ("
	"  id INTEGER PRIMARY KEY,"
	"  aor TEXT NOT NULL,"
	"  user TEXT NOT NULL,"
	"  contact TEXT NOT NULL,"
	"  contact_hdr TEXT NOT NULL,"
	"  instance TEXT NOT NULL DEFAULT '',"
	"  reg_id INTEGER NOT NULL DEFAULT 0,"
	"  call_id TEXT NOT NULL,"
	"  cseq INTEGER NOT NULL,"
	"  expires_at INTEGER NOT NULL,"
	"  q INTEGER NOT NULL DEFAULT -1,"
	"  path TEXT NOT NULL DEFAULT '',"
	"  transport TEXT NOT NULL,"
	"  source TEXT NOT NULL,"
	"  local TEXT NOT NULL,"
	"  user_agent TEXT NOT NULL DEFAULT '',"
	"  boot_id TEXT NOT NULL DEFAULT '',"
	"  conn_id INTEGER NOT NULL DEFAULT 0,"
	"  outbound INTEGER NOT NULL DEFAULT 0,"
	"  updated INTEGER NOT NULL"
	");"
	/* The binding key (store.h): (aor, contact) without an instance,
	 * (aor, instance, reg_id) with one (RFC 5626 6). Two partial unique
	 * indexes, so that INSERT OR REPLACE replaces by whichever applies. */
	"CREATE UNIQUE INDEX registrations_contact ON registrations(aor, contact)"
	"  WHERE instance = '';"
	"CREATE UNIQUE INDEX registrations_instance ON registrations(aor, instance, reg_id)"
	"  WHERE instance <> '';"
	"CREATE INDEX registrations_aor ON registrations(aor);"
	"CREATE INDEX registrations_expires ON registrations(expires_at);"
	"CREATE INDEX registrations_user ON registrations(user);"
	"CREATE TABLE settings ("
	"  key TEXT PRIMARY KEY NOT NULL,"
	"  value TEXT NOT NULL"
	");",
	/* 2: devices and their lines (provisioning, issue 8). Provisioning and
	 * line SIP passwords are kept in clear: phone configs and `device show`
	 * need them (store.h); the database file is 0600. */
	"CREATE TABLE devices ("
	"  mac TEXT PRIMARY KEY NOT NULL," /* 12 lowercase hex digits */
	"  vendor TEXT NOT NULL,"
	"  model TEXT NOT NULL,"
	"  transport TEXT NOT NULL,"
	"  srtp TEXT NOT NULL,"
	"  prov_user TEXT NOT NULL UNIQUE,"
	"  prov_password TEXT NOT NULL,"
	"  created INTEGER NOT NULL"
	");"
	"CREATE TABLE device_lines ("
	"  mac TEXT NOT NULL REFERENCES devices(mac) ON DELETE CASCADE,"
	"  idx INTEGER NOT NULL,"
	"  user TEXT NOT NULL,"
	"  sip_password TEXT NOT NULL,"
	"  PRIMARY KEY (mac, idx)"
	");"
	"CREATE INDEX device_lines_user ON device_lines(user);",
	/* 3: per-user SRTP media policy (issue 6, media/policy.h); '' follows
	 * the system default (sipsec serve --srtp-default) */
	("ALTER TABLE users ADD COLUMN srtp TEXT NOT NULL DEFAULT ''"
	 "  CHECK (srtp IN ('', 'off', 'enable', 'offer', 'require'));"),
};

int sps__store_schema_latest(void)
{
	return (int)(sizeof(migrations) / sizeof(migrations[0]));
}

int sps__store_read_version(sqlite3 *db)
{
	sqlite3_stmt *s = NULL;
	int v = -1;
	if (sqlite3_prepare_v2(db,
			       "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND "
			       "name = 'schema_version'",
			       -1, &s, NULL) != SQLITE_OK ||
	    sqlite3_step(s) != SQLITE_ROW)
		goto out;
	int exists = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	s = NULL;
	if (!exists) {
		v = 0;
		goto out;
	}
	if (sqlite3_prepare_v2(db, "SELECT coalesce(max(version), 0) FROM schema_version", -1, &s,
			       NULL) != SQLITE_OK ||
	    sqlite3_step(s) != SQLITE_ROW)
		goto out;
	v = sqlite3_column_int(s, 0);
out:
	sqlite3_finalize(s);
	return v;
}

static int map_rc(int rc)
{
	rc &= 0xff;
	return rc == SQLITE_BUSY || rc == SQLITE_LOCKED ? EBUSY : EIO;
}

static const char why_newer[] =
	"the database was written by a newer sipsec (schema version too high); run that "
	"version, or restore a backup made with this one";
static const char why_busy[] =
	"the database is locked by another process (waited 5 s); try again";

/* Apply migration number `from` (from -> from + 1) unless another process did. */
static int migrate_one(sqlite3 *db, int from, int *now, const char **why)
{
	int rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		*why = map_rc(rc) == EBUSY ? why_busy : "cannot start a schema migration";
		if (map_rc(rc) == EIO)
			SPS_ERROR("schema migration: %s", sqlite3_errmsg(db));
		return map_rc(rc);
	}
	int v = sps__store_read_version(db);
	int err = 0;
	if (v < 0) {
		*why = "cannot read the schema version";
		err = EIO;
		SPS_ERROR("schema version: %s", sqlite3_errmsg(db));
		goto rollback;
	}
	if (v > sps__store_schema_latest()) {
		*why = why_newer;
		err = ENOTSUP;
		goto rollback;
	}
	if (v == from) {
		rc = sqlite3_exec(db, migrations[from], NULL, NULL, NULL);
		if (rc == SQLITE_OK) {
			char sql[128];
			snprintf(sql, sizeof(sql),
				 "INSERT INTO schema_version(version, applied) VALUES(%d, "
				 "CAST(strftime('%%s', 'now') AS INTEGER))",
				 from + 1);
			rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
		}
		if (rc != SQLITE_OK) {
			err = map_rc(rc);
			*why = err == EBUSY ? why_busy : "a schema migration failed";
			SPS_ERROR("schema migration %d -> %d: %s", from, from + 1,
				  sqlite3_errmsg(db));
			goto rollback;
		}
		v = from + 1;
	}
	rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		err = map_rc(rc);
		*why = err == EBUSY ? why_busy : "cannot commit a schema migration";
		SPS_ERROR("schema migration commit: %s", sqlite3_errmsg(db));
		goto rollback;
	}
	if (v > from)
		SPS_INFO("database schema migrated to version %d", v);
	*now = v;
	return 0;
rollback:
	if (!sqlite3_get_autocommit(db))
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return err;
}

int sps__store_migrate(sqlite3 *db, int *version, const char **why)
{
	static const char *unused;
	if (!why)
		why = &unused;
	int v = sps__store_read_version(db);
	if (v < 0) {
		int rc = sqlite3_errcode(db);
		if (rc == SQLITE_NOTADB) {
			*why = "the file is not a SQLite database; restore it from a backup or "
			       "move it away";
			return EIO;
		}
		if (map_rc(rc) == EBUSY) {
			*why = why_busy;
			return EBUSY;
		}
		*why = "cannot read the schema version";
		SPS_ERROR("schema version: %s", sqlite3_errmsg(db));
		return EIO;
	}
	while (v < sps__store_schema_latest()) {
		int err = migrate_one(db, v, &v, why);
		if (err)
			return err;
	}
	if (v > sps__store_schema_latest()) {
		*why = why_newer;
		return ENOTSUP;
	}
	*version = v;
	return 0;
}
