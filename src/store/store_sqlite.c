/* store/store_sqlite: the SQLite backend of store.h (DATA/sipsec.db).
 *
 * Connection settings, and why:
 * - WAL journal: readers (the CLI, the web UI later) never block the
 *   server's writes, and a commit is one append to the WAL.
 * - synchronous=NORMAL (the default): in WAL mode a committed transaction
 *   survives the process being killed at any point, but the last commits
 *   before a power loss or kernel crash may be lost (the WAL is fsynced at
 *   checkpoints only). Setting SIPSEC_STORE_SYNC=full in the environment
 *   selects synchronous=FULL: an fsync per commit, so a 200 OK to a REGISTER
 *   also survives a power loss, at the cost of one fsync per group commit.
 * - busy_timeout 5000 ms: another process (the CLI while `serve` runs)
 *   holding the write lock is waited for, then EBUSY.
 * - foreign_keys on, so that tables added later can rely on them.
 *
 * Every query is prepared once at open and kept in st->stmt (reset after
 * each use). Walks (the _each functions) use the cached statement unless it
 * is already being stepped (a callback that starts the same walk again), in
 * which case they prepare a private copy. Errors: SQLITE_CONSTRAINT -> EEXIST,
 * SQLITE_BUSY/LOCKED -> EBUSY, anything else -> EIO with the SQLite message
 * logged once here. No value is ever logged (HA1s are password equivalents). */
#define SPS_LOG_MODULE "store"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/file.h"
#include "core/log.h"
#include "store/store_int.h"

#define BINDING_COLS                                                                       \
	"aor, user, contact, contact_hdr, instance, reg_id, call_id, cseq, expires_at, q, "   \
	"path, transport, source, local, user_agent, boot_id, conn_id, outbound, updated"
#define DEVICE_COLS "mac, vendor, model, transport, srtp, prov_user, prov_password, created"
/* An absent q (-1) ranks like q=1.0, the highest preference (RFC 3261 10.2.1.2
 * leaves it open; this is what proxies commonly do); id keeps ties stable. */
#define BINDING_ORDER "(CASE WHEN q < 0 THEN 1000 ELSE q END) DESC, id"

static const char *const stmt_sql[SPS__ST_COUNT] = {
	[SPS__ST_BEGIN] = "BEGIN IMMEDIATE",
	[SPS__ST_COMMIT] = "COMMIT",
	[SPS__ST_ROLLBACK] = "ROLLBACK",
	[SPS__ST_SAVEPOINT] = "SAVEPOINT sps_op",
	[SPS__ST_RELEASE] = "RELEASE sps_op",
	[SPS__ST_ROLLBACK_TO] = "ROLLBACK TO sps_op",
	[SPS__ST_SETTING_GET] = "SELECT value FROM settings WHERE key = ?1",
	[SPS__ST_SETTING_SET] = "INSERT INTO settings(key, value) VALUES(?1, ?2) "
				"ON CONFLICT(key) DO UPDATE SET value = excluded.value",
	[SPS__ST_USER_ADD] = "INSERT INTO users(name, realm, ha1_md5, ha1_sha256, created, srtp) "
			     "VALUES(?1, ?2, ?3, ?4, ?5, ?6)",
	[SPS__ST_USER_UPDATE] = "UPDATE users SET realm = ?2, ha1_md5 = ?3, ha1_sha256 = ?4, "
				"srtp = ?5 WHERE name = ?1",
	[SPS__ST_USER_DEL] = "DELETE FROM users WHERE name = ?1",
	[SPS__ST_USER_DEL_REGS] = "DELETE FROM registrations WHERE user = ?1",
	[SPS__ST_USER_GET] = "SELECT name, realm, ha1_md5, ha1_sha256, created, srtp FROM users "
			     "WHERE name = ?1",
	[SPS__ST_USER_EACH] = "SELECT name, realm, ha1_md5, ha1_sha256, created, srtp FROM users "
			      "ORDER BY name",
	/* REPLACE deletes the row that has the same key under either partial
	 * unique index (migrate.c), then inserts. */
	[SPS__ST_BINDING_PUT] = "INSERT OR REPLACE INTO registrations(" BINDING_COLS ") "
				"VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, "
				"?14, ?15, ?16, ?17, ?18, ?19)",
	[SPS__ST_BINDING_DEL] = "DELETE FROM registrations WHERE aor = ?1 AND contact = ?2",
	[SPS__ST_BINDING_DEL_AOR] = "DELETE FROM registrations WHERE aor = ?1",
	[SPS__ST_BINDING_EXPIRE] = "DELETE FROM registrations WHERE expires_at <= ?1",
	[SPS__ST_BINDING_EACH_AOR] = "SELECT " BINDING_COLS " FROM registrations "
				     "WHERE aor = ?1 AND (?2 = 0 OR expires_at > ?2) "
				     "ORDER BY " BINDING_ORDER,
	[SPS__ST_BINDING_EACH_ALL] = "SELECT " BINDING_COLS " FROM registrations "
				     "WHERE ?2 = 0 OR expires_at > ?2 "
				     "ORDER BY aor, " BINDING_ORDER,
	[SPS__ST_DEVICE_ADD] = "INSERT INTO devices(" DEVICE_COLS ") "
			       "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
	[SPS__ST_DEVICE_LINE_ADD] = "INSERT INTO device_lines(mac, idx, user, sip_password) "
				    "VALUES(?1, ?2, ?3, ?4)",
	/* device_lines go with it: ON DELETE CASCADE (foreign_keys is on) */
	[SPS__ST_DEVICE_DEL] = "DELETE FROM devices WHERE mac = ?1",
	[SPS__ST_DEVICE_GET] = "SELECT " DEVICE_COLS " FROM devices WHERE mac = ?1",
	[SPS__ST_DEVICE_BY_PROV_USER] = "SELECT " DEVICE_COLS " FROM devices WHERE prov_user = ?1",
	[SPS__ST_DEVICE_EACH] = "SELECT " DEVICE_COLS " FROM devices ORDER BY mac",
	[SPS__ST_DEVICE_LINES] = "SELECT idx, user, sip_password FROM device_lines WHERE mac = ?1 "
				 "ORDER BY idx",
	[SPS__ST_DATA_VERSION] = "PRAGMA data_version",
};

/* ---- errors ---- */

/* Map a SQLite result code to the store's errno, logging the SQLite message
 * for EIO. Must run before the statement is reset (the message is the
 * connection's latest). Also notices a batch that SQLite rolled back on its
 * own, so that the commit reports it. */
static int db_fail(struct sps_store *st, int rc, const char *what)
{
	int prim = rc & 0xff, err;
	if (prim == SQLITE_CONSTRAINT)
		err = EEXIST;
	else if (prim == SQLITE_BUSY || prim == SQLITE_LOCKED)
		err = EBUSY;
	else
		err = EIO;
	if (err == EIO)
		SPS_ERROR("%s: %s (sqlite %d)", what, sqlite3_errmsg(st->db), rc);
	if (st->batch && !st->batch_err && sqlite3_get_autocommit(st->db)) {
		st->batch_err = err == EEXIST ? EIO : err;
		SPS_ERROR("%s: the open batch was rolled back; its writes are lost", what);
		sps__cache_clear(st->cache); /* it may hold rows read in that batch */
	}
	return err;
}

/* Step a statement that returns no rows, then reset it. */
static int run(struct sps_store *st, sqlite3_stmt *s, const char *what)
{
	int rc = sqlite3_step(s);
	int err = rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : db_fail(st, rc, what);
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return err;
}

static int run_id(struct sps_store *st, enum sps__store_stmt id, const char *what)
{
	return run(st, st->stmt[id], what);
}

/* Bind helpers: keep the first error in *rc. Strings are bound SQLITE_STATIC:
 * every statement is stepped and reset before the caller's strings go. */
static void bind_text(sqlite3_stmt *s, int i, const char *v, int *rc)
{
	if (*rc == SQLITE_OK)
		*rc = sqlite3_bind_text(s, i, v ? v : "", -1, SQLITE_STATIC);
}

static void bind_int(sqlite3_stmt *s, int i, int64_t v, int *rc)
{
	if (*rc == SQLITE_OK)
		*rc = sqlite3_bind_int64(s, i, (sqlite3_int64)v);
}

static int bind_fail(struct sps_store *st, sqlite3_stmt *s, int rc, const char *what)
{
	int err = db_fail(st, rc, what);
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return err;
}

static const char *col_text(sqlite3_stmt *s, int i)
{
	const unsigned char *t = sqlite3_column_text(s, i);
	return t ? (const char *)t : "";
}

/* The statement for a walk: the cached one, or a private copy (*own) when the
 * cached one is being stepped by an outer walk. NULL on error (logged). */
static sqlite3_stmt *walk_stmt(struct sps_store *st, enum sps__store_stmt id, bool *own,
			       int *err)
{
	sqlite3_stmt *s = st->stmt[id];
	*own = false;
	if (!sqlite3_stmt_busy(s))
		return s;
	int rc = sqlite3_prepare_v2(st->db, stmt_sql[id], -1, &s, NULL);
	if (rc != SQLITE_OK) {
		*err = db_fail(st, rc, "prepare");
		return NULL;
	}
	*own = true;
	return s;
}

static void walk_end(sqlite3_stmt *s, bool own)
{
	if (own) {
		sqlite3_finalize(s);
	} else {
		sqlite3_reset(s);
		sqlite3_clear_bindings(s);
	}
}

/* ---- open / close ---- */

/* Create the database file mode 0600 (whatever the umask) when it does not
 * exist, so that SQLite never creates it with its default 0644; SQLite gives
 * the -wal and -shm files the mode of the database file. An existing file is
 * left as the administrator made it. */
static int create_private(const char *path)
{
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return errno == EEXIST ? 0 : errno;
	int err = fchmod(fd, 0600) != 0 ? errno : 0;
	close(fd);
	return err;
}

/* PRAGMA synchronous from $SIPSEC_STORE_SYNC: unset or "normal", or "full". */
static int sync_pragma(const char **sql)
{
	const char *env = getenv("SIPSEC_STORE_SYNC");
	if (!env || !*env || strcasecmp(env, "normal") == 0)
		*sql = "PRAGMA synchronous = NORMAL";
	else if (strcasecmp(env, "full") == 0)
		*sql = "PRAGMA synchronous = FULL";
	else
		return EINVAL;
	return 0;
}

/* Set the connection up: timeouts, pragmas, WAL. */
static int configure(struct sps_store *st, const char **why)
{
	sqlite3 *db = st->db;
	const char *sync_sql;
	sqlite3_stmt *s = NULL;
	int rc, err = 0;

	if (sync_pragma(&sync_sql)) {
		*why = "SIPSEC_STORE_SYNC must be 'normal' or 'full'";
		return EINVAL;
	}
	sqlite3_extended_result_codes(db, 1);
	sqlite3_busy_timeout(db, 5000);
	rc = sqlite3_exec(db, "PRAGMA foreign_keys = ON", NULL, NULL, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(db, "PRAGMA journal_mode = WAL", -1, &s, NULL);
	if (rc == SQLITE_OK) {
		rc = sqlite3_step(s);
		if (rc == SQLITE_ROW) {
			rc = SQLITE_OK;
			if (strcmp(col_text(s, 0), "wal") != 0) {
				sqlite3_finalize(s);
				*why = "cannot switch the database to WAL mode (is the data "
				       "directory on a network file system?)";
				return EIO;
			}
		}
	}
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(db, sync_sql, NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		if ((rc & 0xff) == SQLITE_NOTADB) {
			*why = "the file is not a SQLite database; restore it from a backup or "
			       "move it away";
			err = EIO;
		} else {
			err = db_fail(st, rc, "open");
			*why = err == EBUSY ? "the database is locked by another process (waited "
					      "5 s); try again"
					    : "cannot set up the database (see the log line above)";
			err = err == EEXIST ? EIO : err;
		}
	}
	sqlite3_finalize(s);
	return err;
}

int sps_store_open(struct sps_store **out, const char *dir, const char **why)
{
	static const char *unused;
	struct sps_store *st = NULL;
	int err, rc;

	if (!why)
		why = &unused;
	if (!out || !dir || !*dir) {
		*why = "no data directory given";
		return EINVAL;
	}
	st = calloc(1, sizeof(*st));
	if (!st) {
		*why = "out of memory";
		return ENOMEM;
	}
	if (snprintf(st->path, sizeof(st->path), "%s/%s", dir, SPS_STORE_FILE) >=
	    (int)sizeof(st->path)) {
		*why = "the data directory path is too long";
		err = ENAMETOOLONG;
		goto fail;
	}
	if ((err = sps_file_mkdir_private(dir))) {
		*why = "cannot create the data directory";
		goto fail;
	}
	if ((err = create_private(st->path))) {
		*why = "cannot create the database file";
		goto fail;
	}
	rc = sqlite3_open_v2(st->path, &st->db,
			     SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		err = st->db ? sqlite3_system_errno(st->db) : 0;
		if (!err)
			err = rc == SQLITE_NOMEM ? ENOMEM : EIO;
		*why = err == EACCES ? "permission denied on the database file"
				     : "cannot open the database file";
		goto fail;
	}
	if ((err = configure(st, why)))
		goto fail;
	if ((err = sps__store_migrate(st->db, &st->version, why)))
		goto fail;
	for (int i = 0; i < SPS__ST_COUNT; i++) {
		rc = sqlite3_prepare_v3(st->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
					&st->stmt[i], NULL);
		if (rc != SQLITE_OK) {
			err = db_fail(st, rc, "prepare");
			err = err == EEXIST ? EIO : err;
			*why = "cannot prepare the queries (see the log line above)";
			goto fail;
		}
	}
	*out = st;
	return 0;
fail:
	sps_store_close(st);
	return err;
}

void sps_store_close(struct sps_store *st)
{
	if (!st)
		return;
	if (st->batch)
		SPS_WARN("store closed with an open batch: its writes are rolled back");
	for (int i = 0; i < SPS__ST_COUNT; i++)
		sqlite3_finalize(st->stmt[i]);
	sps__cache_free(st->cache);
	/* rolls back an open transaction; the last connection checkpoints the WAL */
	if (st->db && sqlite3_close(st->db) != SQLITE_OK)
		SPS_ERROR("close %s: %s", st->path, sqlite3_errmsg(st->db));
	free(st);
}

int sps_store_schema_version(struct sps_store *st)
{
	return st->version;
}

/* ---- read cache ---- */

int sps_store_cache(struct sps_store *st, bool on)
{
	if (!on) {
		sps__cache_free(st->cache);
		st->cache = NULL;
		return 0;
	}
	if (st->cache)
		return 0;
	st->dv = -1;
	return sps__cache_new(&st->cache);
}

/* The cache when it may be trusted for a read now, else NULL (off, or the
 * check failed: read the database). PRAGMA data_version changes exactly
 * when another connection - the CLI in another process, say - committed
 * since this one last asked, and then the whole cache is cleared: a
 * password change or a deleted user counts from the next read on. This
 * connection's own writes drop what they touch (the callers below). The
 * check is one statement that reads the WAL index, no table. */
static struct sps__cache *cache_ready(struct sps_store *st)
{
	if (!st->cache)
		return NULL;
	if (st->pin && st->pin_checked)
		return st->dv < 0 ? NULL : st->cache;
	st->pin_checked = st->pin > 0;
	sqlite3_stmt *s = st->stmt[SPS__ST_DATA_VERSION];
	int rc = sqlite3_step(s);
	int64_t v = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : -1;
	sqlite3_reset(s);
	if (v != st->dv || v < 0) {
		sps__cache_clear(st->cache);
		st->dv = v;
	}
	return v < 0 ? NULL : st->cache;
}

void sps_store_cache_pin(struct sps_store *st)
{
	st->pin++;
}

void sps_store_cache_unpin(struct sps_store *st)
{
	if (st->pin && --st->pin == 0)
		st->pin_checked = false;
}

/* ---- group commit ---- */

int sps_store_begin(struct sps_store *st)
{
	if (st->batch)
		return 0;
	int err = run_id(st, SPS__ST_BEGIN, "begin");
	if (err)
		return err;
	st->batch = true;
	st->batch_err = 0;
	return 0;
}

/* COMMIT the batch. When SQLite already rolled it back (batch_err), or the
 * COMMIT fails, the batch is rolled back and the error returned: none of its
 * writes are durable, so the caller must not confirm them. */
int sps_store_commit(struct sps_store *st)
{
	if (!st->batch)
		return 0;
	int err = st->batch_err;
	if (!err)
		err = run_id(st, SPS__ST_COMMIT, "commit");
	if (err && !sqlite3_get_autocommit(st->db))
		run_id(st, SPS__ST_ROLLBACK, "rollback");
	if (err)
		sps__cache_clear(st->cache); /* rows read in the lost batch */
	st->batch = false;
	st->batch_err = 0;
	return err;
}

bool sps_store_in_batch(const struct sps_store *st)
{
	return st->batch;
}

/* A write of several statements that must be atomic: a transaction of its
 * own outside a batch, a savepoint inside one. */
static int op_begin(struct sps_store *st)
{
	return run_id(st, st->batch ? SPS__ST_SAVEPOINT : SPS__ST_BEGIN, "begin");
}

static int op_end(struct sps_store *st, int err)
{
	if (!err) {
		err = run_id(st, st->batch ? SPS__ST_RELEASE : SPS__ST_COMMIT, "commit");
		if (!err)
			return 0;
	}
	sps__cache_clear(st->cache); /* it may hold rows of the undone writes */
	if (sqlite3_get_autocommit(st->db))
		return err; /* nothing left to roll back */
	if (st->batch) {
		run_id(st, SPS__ST_ROLLBACK_TO, "rollback");
		run_id(st, SPS__ST_RELEASE, "rollback");
	} else {
		run_id(st, SPS__ST_ROLLBACK, "rollback");
	}
	return err;
}

/* ---- settings ---- */

int sps_store_setting_get(struct sps_store *st, const char *key, char *buf, size_t size)
{
	if (!key || !buf || size == 0)
		return EINVAL;
	sqlite3_stmt *s = st->stmt[SPS__ST_SETTING_GET];
	int rc = SQLITE_OK, err = 0;
	bind_text(s, 1, key, &rc);
	if (rc != SQLITE_OK)
		return bind_fail(st, s, rc, "setting get");
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		const char *v = col_text(s, 0);
		size_t n = strlen(v);
		if (n + 1 > size) {
			err = ENOSPC;
		} else {
			memcpy(buf, v, n + 1);
		}
	} else if (rc == SQLITE_DONE) {
		err = ENOENT;
	} else {
		err = db_fail(st, rc, "setting get");
	}
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return err;
}

int sps_store_setting_set(struct sps_store *st, const char *key, const char *value)
{
	if (!key || !*key || !value)
		return EINVAL;
	sqlite3_stmt *s = st->stmt[SPS__ST_SETTING_SET];
	int rc = SQLITE_OK;
	bind_text(s, 1, key, &rc);
	bind_text(s, 2, value, &rc);
	if (rc != SQLITE_OK)
		return bind_fail(st, s, rc, "setting set");
	return run(st, s, "setting set");
}

/* ---- users ---- */

/* Empty, or exactly n lowercase hex digits. */
static bool hex_or_empty(const char *s, size_t n)
{
	if (!*s)
		return true;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return false;
	}
	return s[n] == '\0';
}

/* The SRTP policy names of media/policy.h, or "" (the system default). */
static bool srtp_valid(const char *s, size_t size)
{
	static const char *const ok[] = {"", "off", "enable", "offer", "require"};
	if (strnlen(s, size) >= size)
		return false;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (strcmp(s, ok[i]) == 0)
			return true;
	return false;
}

/* A user row the store accepts: a name of 1..SPS_USER_NAME_MAX bytes, a
 * realm, and at least one HA1 (an import from a system that only had MD5
 * hashes may leave ha1_sha256 empty). */
static bool user_valid(const struct sps_user *u)
{
	size_t nl = strnlen(u->name, sizeof(u->name));
	size_t rl = strnlen(u->realm, sizeof(u->realm));
	return nl > 0 && nl <= SPS_USER_NAME_MAX && rl > 0 && rl < sizeof(u->realm) &&
	       strnlen(u->ha1_md5, sizeof(u->ha1_md5)) < sizeof(u->ha1_md5) &&
	       strnlen(u->ha1_sha256, sizeof(u->ha1_sha256)) < sizeof(u->ha1_sha256) &&
	       hex_or_empty(u->ha1_md5, SPS_HA1_MD5_HEX) &&
	       hex_or_empty(u->ha1_sha256, SPS_HA1_SHA256_HEX) &&
	       (u->ha1_md5[0] || u->ha1_sha256[0]) && srtp_valid(u->srtp, sizeof(u->srtp));
}

static void row_to_user(sqlite3_stmt *s, struct sps_user *u)
{
	memset(u, 0, sizeof(*u));
	snprintf(u->name, sizeof(u->name), "%s", col_text(s, 0));
	snprintf(u->realm, sizeof(u->realm), "%s", col_text(s, 1));
	snprintf(u->ha1_md5, sizeof(u->ha1_md5), "%s", col_text(s, 2));
	snprintf(u->ha1_sha256, sizeof(u->ha1_sha256), "%s", col_text(s, 3));
	u->created = sqlite3_column_int64(s, 4);
	snprintf(u->srtp, sizeof(u->srtp), "%s", col_text(s, 5));
}

/* created 0 means now. */
int sps_store_user_add(struct sps_store *st, const struct sps_user *u)
{
	if (!u || !user_valid(u))
		return EINVAL;
	sqlite3_stmt *s = st->stmt[SPS__ST_USER_ADD];
	int rc = SQLITE_OK;
	bind_text(s, 1, u->name, &rc);
	bind_text(s, 2, u->realm, &rc);
	bind_text(s, 3, u->ha1_md5, &rc);
	bind_text(s, 4, u->ha1_sha256, &rc);
	bind_int(s, 5, u->created ? u->created : (int64_t)time(NULL), &rc);
	bind_text(s, 6, u->srtp, &rc);
	if (rc != SQLITE_OK)
		return bind_fail(st, s, rc, "user add");
	if (st->cache)
		sps__cache_user_drop(st->cache, u->name);
	return run(st, s, "user add");
}

int sps_store_user_update(struct sps_store *st, const struct sps_user *u)
{
	if (!u || !user_valid(u))
		return EINVAL;
	sqlite3_stmt *s = st->stmt[SPS__ST_USER_UPDATE];
	int rc = SQLITE_OK;
	bind_text(s, 1, u->name, &rc);
	bind_text(s, 2, u->realm, &rc);
	bind_text(s, 3, u->ha1_md5, &rc);
	bind_text(s, 4, u->ha1_sha256, &rc);
	bind_text(s, 5, u->srtp, &rc);
	if (rc != SQLITE_OK)
		return bind_fail(st, s, rc, "user update");
	if (st->cache)
		sps__cache_user_drop(st->cache, u->name);
	int err = run(st, s, "user update");
	if (!err && sqlite3_changes(st->db) == 0)
		err = ENOENT;
	return err;
}

/* The user row and its registrations go together (one transaction, or a
 * savepoint inside a batch). */
int sps_store_user_del(struct sps_store *st, const char *name)
{
	if (!name || !*name)
		return EINVAL;
	if (st->cache) { /* the row and the bindings that carry its name */
		sps__cache_user_drop(st->cache, name);
		sps__cache_clear_aors(st->cache);
	}
	int rc = SQLITE_OK;
	int err = op_begin(st);
	if (err)
		return err;
	sqlite3_stmt *s = st->stmt[SPS__ST_USER_DEL];
	bind_text(s, 1, name, &rc);
	err = rc != SQLITE_OK ? bind_fail(st, s, rc, "user del") : run(st, s, "user del");
	if (!err && sqlite3_changes(st->db) == 0)
		err = ENOENT;
	if (!err) {
		s = st->stmt[SPS__ST_USER_DEL_REGS];
		bind_text(s, 1, name, &rc);
		err = rc != SQLITE_OK ? bind_fail(st, s, rc, "user del")
				      : run(st, s, "user del registrations");
	}
	return op_end(st, err);
}

int sps_store_user_get(struct sps_store *st, const char *name, struct sps_user *out)
{
	if (!name || !out)
		return EINVAL;
	struct sps__cache *c = cache_ready(st);
	if (c && sps__cache_user_get(c, name, out))
		return 0;
	sqlite3_stmt *s = st->stmt[SPS__ST_USER_GET];
	int rc = SQLITE_OK, err = 0;
	bind_text(s, 1, name, &rc);
	if (rc != SQLITE_OK)
		return bind_fail(st, s, rc, "user get");
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		row_to_user(s, out);
		if (c && strcmp(out->name, name) == 0)
			sps__cache_user_put(c, out);
	} else if (rc == SQLITE_DONE)
		err = ENOENT;
	else
		err = db_fail(st, rc, "user get");
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return err;
}

int sps_store_user_each(struct sps_store *st, sps_store_user_h *h, void *arg)
{
	if (!h)
		return EINVAL;
	bool own;
	int err = 0, rc;
	sqlite3_stmt *s = walk_stmt(st, SPS__ST_USER_EACH, &own, &err);
	if (!s)
		return err;
	struct sps_user u;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		row_to_user(s, &u);
		if ((err = h(&u, arg)) != 0)
			break;
	}
	if (!err && rc != SQLITE_DONE)
		err = db_fail(st, rc, "user list");
	walk_end(s, own);
	return err;
}

/* ---- registrations ---- */

int sps_store_binding_put(struct sps_store *st, const struct sps_binding *b)
{
	if (!b || !b->aor || !*b->aor || !b->contact || !*b->contact)
		return EINVAL;
	sqlite3_stmt *s = st->stmt[SPS__ST_BINDING_PUT];
	int rc = SQLITE_OK;
	bind_text(s, 1, b->aor, &rc);
	bind_text(s, 2, b->user, &rc);
	bind_text(s, 3, b->contact, &rc);
	bind_text(s, 4, b->contact_hdr, &rc);
	bind_text(s, 5, b->instance, &rc);
	bind_int(s, 6, b->reg_id, &rc);
	bind_text(s, 7, b->call_id, &rc);
	bind_int(s, 8, b->cseq, &rc);
	bind_int(s, 9, b->expires_at, &rc);
	bind_int(s, 10, b->q, &rc);
	bind_text(s, 11, b->path, &rc);
	bind_text(s, 12, b->transport, &rc);
	bind_text(s, 13, b->source, &rc);
	bind_text(s, 14, b->local, &rc);
	bind_text(s, 15, b->user_agent, &rc);
	bind_text(s, 16, b->boot_id, &rc);
	bind_int(s, 17, (int64_t)b->conn_id, &rc); /* bit pattern kept; read back as uint64 */
	bind_int(s, 18, b->outbound ? 1 : 0, &rc);
	bind_int(s, 19, b->updated ? b->updated : (int64_t)time(NULL), &rc);
	if (rc != SQLITE_OK)
		return bind_fail(st, s, rc, "binding put");
	if (st->cache) /* REPLACE may also remove rows of this AoR (same key) */
		sps__cache_aor_drop(st->cache, b->aor);
	return run(st, s, "binding put");
}

int sps_store_binding_del(struct sps_store *st, const char *aor, const char *contact)
{
	if (!aor || !contact)
		return EINVAL;
	sqlite3_stmt *s = st->stmt[SPS__ST_BINDING_DEL];
	int rc = SQLITE_OK;
	bind_text(s, 1, aor, &rc);
	bind_text(s, 2, contact, &rc);
	if (rc != SQLITE_OK)
		return bind_fail(st, s, rc, "binding del");
	if (st->cache)
		sps__cache_aor_drop(st->cache, aor);
	int err = run(st, s, "binding del");
	if (!err && sqlite3_changes(st->db) == 0)
		err = ENOENT;
	return err;
}

int sps_store_binding_del_aor(struct sps_store *st, const char *aor)
{
	if (!aor)
		return EINVAL;
	sqlite3_stmt *s = st->stmt[SPS__ST_BINDING_DEL_AOR];
	int rc = SQLITE_OK;
	bind_text(s, 1, aor, &rc);
	if (rc != SQLITE_OK)
		return bind_fail(st, s, rc, "binding del");
	if (st->cache)
		sps__cache_aor_drop(st->cache, aor);
	return run(st, s, "binding del");
}

int sps_store_binding_expire(struct sps_store *st, int64_t now, unsigned *n)
{
	sqlite3_stmt *s = st->stmt[SPS__ST_BINDING_EXPIRE];
	int rc = SQLITE_OK;
	bind_int(s, 1, now, &rc);
	if (rc != SQLITE_OK)
		return bind_fail(st, s, rc, "binding expire");
	int err = run(st, s, "binding expire");
	unsigned gone = err ? 0 : (unsigned)sqlite3_changes(st->db);
	if (st->cache && (err || gone)) /* walks with now 0 list expired rows too */
		sps__cache_clear_aors(st->cache);
	if (!err && n)
		*n = gone;
	return err;
}

static void row_to_binding(sqlite3_stmt *s, struct sps_binding *b)
{
	memset(b, 0, sizeof(*b));
	b->aor = col_text(s, 0);
	b->user = col_text(s, 1);
	b->contact = col_text(s, 2);
	b->contact_hdr = col_text(s, 3);
	b->instance = col_text(s, 4);
	b->reg_id = (uint32_t)sqlite3_column_int64(s, 5);
	b->call_id = col_text(s, 6);
	b->cseq = (uint32_t)sqlite3_column_int64(s, 7);
	b->expires_at = sqlite3_column_int64(s, 8);
	b->q = sqlite3_column_int(s, 9);
	b->path = col_text(s, 10);
	b->transport = col_text(s, 11);
	b->source = col_text(s, 12);
	b->local = col_text(s, 13);
	b->user_agent = col_text(s, 14);
	b->boot_id = col_text(s, 15);
	b->conn_id = (uint64_t)sqlite3_column_int64(s, 16);
	b->outbound = sqlite3_column_int(s, 17) != 0;
	b->updated = sqlite3_column_int64(s, 18);
}

/* The rows of aor from the cache (filled from the database on a miss),
 * *err getting the walk's result. False when the cache cannot answer: the
 * caller reads the database. */
static bool binding_each_cached(struct sps_store *st, struct sps__cache *c, const char *aor,
				int64_t now, sps_store_binding_h *h, void *arg, int *err)
{
	struct sps__cache_entry *e = sps__cache_aor_get(c, aor);
	if (!e) {
		struct sps__cache_fill *f = sps__cache_aor_begin(aor);
		if (!f)
			return false;
		bool own;
		int rc = SQLITE_OK;
		sqlite3_stmt *s = walk_stmt(st, SPS__ST_BINDING_EACH_AOR, &own, err);
		if (!s) {
			sps__cache_aor_end(c, f, false);
			return false;
		}
		bind_text(s, 1, aor, &rc);
		bind_int(s, 2, 0, &rc);
		struct sps_binding b;
		while (rc == SQLITE_OK || rc == SQLITE_ROW) {
			if ((rc = sqlite3_step(s)) != SQLITE_ROW)
				break;
			row_to_binding(s, &b);
			sps__cache_aor_add(f, &b);
		}
		walk_end(s, own);
		e = sps__cache_aor_end(c, f, rc == SQLITE_DONE);
		if (!e)
			return false; /* not kept: the uncached walk reports any error */
	}
	size_t n;
	const struct sps_binding *rows = sps__cache_aor_rows(e, &n);
	*err = 0;
	for (size_t i = 0; i < n && !*err; i++)
		if (now == 0 || rows[i].expires_at > now)
			*err = h(&rows[i], arg);
	sps__cache_aor_release(e);
	return true;
}

/* The strings in *b point into the statement's current row (or the
 * cache): valid during the callback only (store.h). */
int sps_store_binding_each(struct sps_store *st, const char *aor, int64_t now,
			   sps_store_binding_h *h, void *arg)
{
	if (!h)
		return EINVAL;
	struct sps__cache *c = aor ? cache_ready(st) : NULL;
	int cerr = 0;
	if (c && binding_each_cached(st, c, aor, now, h, arg, &cerr))
		return cerr;
	bool own;
	int err = 0, rc = SQLITE_OK;
	sqlite3_stmt *s = walk_stmt(st, aor ? SPS__ST_BINDING_EACH_AOR : SPS__ST_BINDING_EACH_ALL,
				    &own, &err);
	if (!s)
		return err;
	if (aor)
		bind_text(s, 1, aor, &rc);
	bind_int(s, 2, now, &rc);
	if (rc != SQLITE_OK) {
		err = db_fail(st, rc, "binding list");
		walk_end(s, own);
		return err;
	}
	struct sps_binding b;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		row_to_binding(s, &b);
		if ((err = h(&b, arg)) != 0)
			break;
	}
	if (!err && rc != SQLITE_DONE)
		err = db_fail(st, rc, "binding list");
	walk_end(s, own);
	return err;
}

/* ---- devices ---- */

static bool mac_ok(const char *mac)
{
	return strlen(mac) == SPS_DEVICE_MAC_LEN && hex_or_empty(mac, SPS_DEVICE_MAC_LEN);
}

#define FITS(s) (strnlen((s), sizeof(s)) < sizeof(s))

static bool device_valid(const struct sps_device *d)
{
	return mac_ok(d->mac) && FITS(d->vendor) && d->vendor[0] && FITS(d->model) &&
	       FITS(d->transport) && d->transport[0] && FITS(d->srtp) && d->srtp[0] &&
	       FITS(d->prov_user) && d->prov_user[0] && FITS(d->prov_password) &&
	       d->prov_password[0];
}

static void row_to_device(sqlite3_stmt *s, struct sps_device *d)
{
	memset(d, 0, sizeof(*d));
	snprintf(d->mac, sizeof(d->mac), "%s", col_text(s, 0));
	snprintf(d->vendor, sizeof(d->vendor), "%s", col_text(s, 1));
	snprintf(d->model, sizeof(d->model), "%s", col_text(s, 2));
	snprintf(d->transport, sizeof(d->transport), "%s", col_text(s, 3));
	snprintf(d->srtp, sizeof(d->srtp), "%s", col_text(s, 4));
	snprintf(d->prov_user, sizeof(d->prov_user), "%s", col_text(s, 5));
	snprintf(d->prov_password, sizeof(d->prov_password), "%s", col_text(s, 6));
	d->created = sqlite3_column_int64(s, 7);
}

/* The device row and its lines together (one transaction, or a savepoint
 * inside a batch), so a failed line leaves no half-made device. */
int sps_store_device_add(struct sps_store *st, const struct sps_device *d,
			 const struct sps_device_line *lines, size_t nlines)
{
	if (!d || !device_valid(d) || !lines || nlines == 0 || nlines > SPS_DEVICE_LINES_MAX)
		return EINVAL;
	for (size_t i = 0; i < nlines; i++)
		if (!lines[i].idx || !lines[i].user[0] || !FITS(lines[i].user) ||
		    !FITS(lines[i].sip_password))
			return EINVAL;
	int err = op_begin(st);
	if (err)
		return err;
	sqlite3_stmt *s = st->stmt[SPS__ST_DEVICE_ADD];
	int rc = SQLITE_OK;
	bind_text(s, 1, d->mac, &rc);
	bind_text(s, 2, d->vendor, &rc);
	bind_text(s, 3, d->model, &rc);
	bind_text(s, 4, d->transport, &rc);
	bind_text(s, 5, d->srtp, &rc);
	bind_text(s, 6, d->prov_user, &rc);
	bind_text(s, 7, d->prov_password, &rc);
	bind_int(s, 8, d->created ? d->created : (int64_t)time(NULL), &rc);
	err = rc != SQLITE_OK ? bind_fail(st, s, rc, "device add") : run(st, s, "device add");
	s = st->stmt[SPS__ST_DEVICE_LINE_ADD];
	for (size_t i = 0; !err && i < nlines; i++) {
		rc = SQLITE_OK;
		bind_text(s, 1, d->mac, &rc);
		bind_int(s, 2, lines[i].idx, &rc);
		bind_text(s, 3, lines[i].user, &rc);
		bind_text(s, 4, lines[i].sip_password, &rc);
		err = rc != SQLITE_OK ? bind_fail(st, s, rc, "device line add")
				      : run(st, s, "device line add");
	}
	return op_end(st, err);
}

int sps_store_device_del(struct sps_store *st, const char *mac)
{
	if (!mac || !*mac)
		return EINVAL;
	sqlite3_stmt *s = st->stmt[SPS__ST_DEVICE_DEL];
	int rc = SQLITE_OK;
	bind_text(s, 1, mac, &rc);
	if (rc != SQLITE_OK)
		return bind_fail(st, s, rc, "device del");
	int err = run(st, s, "device del");
	if (!err && sqlite3_changes(st->db) == 0)
		err = ENOENT;
	return err;
}

static int device_get_by(struct sps_store *st, enum sps__store_stmt id, const char *key,
			 struct sps_device *out)
{
	if (!key || !out)
		return EINVAL;
	sqlite3_stmt *s = st->stmt[id];
	int rc = SQLITE_OK, err = 0;
	bind_text(s, 1, key, &rc);
	if (rc != SQLITE_OK)
		return bind_fail(st, s, rc, "device get");
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		row_to_device(s, out);
	else if (rc == SQLITE_DONE)
		err = ENOENT;
	else
		err = db_fail(st, rc, "device get");
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return err;
}

int sps_store_device_get(struct sps_store *st, const char *mac, struct sps_device *out)
{
	return device_get_by(st, SPS__ST_DEVICE_GET, mac, out);
}

int sps_store_device_by_prov_user(struct sps_store *st, const char *prov_user,
				  struct sps_device *out)
{
	return device_get_by(st, SPS__ST_DEVICE_BY_PROV_USER, prov_user, out);
}

int sps_store_device_lines(struct sps_store *st, const char *mac, struct sps_device_line *lines,
			   size_t max, size_t *n)
{
	if (!mac || !n || (max && !lines))
		return EINVAL;
	bool own;
	int err = 0, rc = SQLITE_OK;
	sqlite3_stmt *s = walk_stmt(st, SPS__ST_DEVICE_LINES, &own, &err);
	if (!s)
		return err;
	bind_text(s, 1, mac, &rc);
	if (rc != SQLITE_OK) {
		err = db_fail(st, rc, "device lines");
		walk_end(s, own);
		return err;
	}
	size_t k = 0;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (k >= max) {
			err = ENOSPC;
			break;
		}
		struct sps_device_line *l = &lines[k++];
		memset(l, 0, sizeof(*l));
		l->idx = (unsigned)sqlite3_column_int(s, 0);
		snprintf(l->user, sizeof(l->user), "%s", col_text(s, 1));
		snprintf(l->sip_password, sizeof(l->sip_password), "%s", col_text(s, 2));
	}
	if (!err && rc != SQLITE_DONE)
		err = db_fail(st, rc, "device lines");
	walk_end(s, own);
	if (!err)
		*n = k;
	return err;
}

int sps_store_device_each(struct sps_store *st, sps_store_device_h *h, void *arg)
{
	if (!h)
		return EINVAL;
	bool own;
	int err = 0, rc;
	sqlite3_stmt *s = walk_stmt(st, SPS__ST_DEVICE_EACH, &own, &err);
	if (!s)
		return err;
	struct sps_device d;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		row_to_device(s, &d);
		if ((err = h(&d, arg)) != 0)
			break;
	}
	if (!err && rc != SQLITE_DONE)
		err = db_fail(st, rc, "device list");
	walk_end(s, own);
	return err;
}
