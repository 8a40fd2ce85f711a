/* Unit tests for src/store (the SQLite backend of store.h). Each test works
 * in its own mkdtemp directory under /tmp, removed afterwards. */
#define _XOPEN_SOURCE 700
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "store/store.h"
#include "store/store_int.h"
#include "test.h"

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(path);
}

/* Run fn with a data dir that does not exist yet (inside a fresh temp dir),
 * then remove everything whatever the outcome. */
static int with_tmpdir(int (*fn)(const char *dir))
{
	char dir[] = "/tmp/sipsec-store.XXXXXX";
	if (!mkdtemp(dir))
		TEST_FAIL("mkdtemp: %s", strerror(errno));
	char data[64];
	snprintf(data, sizeof(data), "%s/data", dir);
	int rc = fn(data);
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	return rc;
}

static unsigned file_mode(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 ? (unsigned)(st.st_mode & 07777) : 0xffffu;
}

static void make_user(struct sps_user *u, const char *name, char hexdigit)
{
	memset(u, 0, sizeof(*u));
	snprintf(u->name, sizeof(u->name), "%s", name);
	snprintf(u->realm, sizeof(u->realm), "sip.example.test");
	memset(u->ha1_md5, hexdigit, SPS_HA1_MD5_HEX);
	memset(u->ha1_sha256, hexdigit, SPS_HA1_SHA256_HEX);
	u->created = 1700000000;
}

static void make_binding(struct sps_binding *b, const char *aor, const char *contact,
			 const char *instance, uint32_t reg_id, int64_t expires, int q)
{
	memset(b, 0, sizeof(*b));
	b->aor = aor;
	b->user = "alice";
	b->contact = contact;
	b->contact_hdr = contact;
	b->instance = instance;
	b->reg_id = reg_id;
	b->call_id = "call-1";
	b->cseq = 1;
	b->expires_at = expires;
	b->q = q;
	b->path = "";
	b->transport = "udp";
	b->source = "192.0.2.1:5060";
	b->local = "192.0.2.2:5060";
	b->user_agent = "";
	b->boot_id = "";
	b->updated = 1700000000;
}

/* ---- collecting walks ---- */

struct seen {
	int n;
	char rows[16][160]; /* "aor|contact|q|cseq" or user names */
};

static int see_binding(const struct sps_binding *b, void *arg)
{
	struct seen *s = arg;
	if (s->n < 16)
		snprintf(s->rows[s->n], sizeof(s->rows[0]), "%s|%s|%d|%u", b->aor, b->contact, b->q,
			 b->cseq);
	s->n++;
	return 0;
}

static int see_user(const struct sps_user *u, void *arg)
{
	struct seen *s = arg;
	if (s->n < 16)
		snprintf(s->rows[s->n], sizeof(s->rows[0]), "%s", u->name);
	s->n++;
	return 0;
}

static int count_bindings(struct sps_store *st, const char *aor, int64_t now)
{
	struct seen s = {0};
	if (sps_store_binding_each(st, aor, now, see_binding, &s) != 0)
		return -1;
	return s.n;
}

/* ---- tests ---- */

static int migrate_empty(const char *dir)
{
	struct sps_store *st = NULL;
	const char *why = NULL;
	char path[128];
	ASSERT_INT_EQ(sps_store_open(&st, dir, &why), 0);
	ASSERT_INT_EQ(sps_store_schema_version(st), sps__store_schema_latest());
	ASSERT(sps_store_schema_version(st) >= 1);
	ASSERT_INT_EQ(file_mode(dir), 0700);
	snprintf(path, sizeof(path), "%s/sipsec.db", dir);
	ASSERT_INT_EQ(file_mode(path), 0600);
	/* SQLite gives the WAL the database file's mode: HA1s are in it too */
	snprintf(path, sizeof(path), "%s/sipsec.db-wal", dir);
	ASSERT_INT_EQ(file_mode(path), 0600);
	/* every table is usable */
	struct sps_user u;
	ASSERT_INT_EQ(sps_store_user_get(st, "nobody", &u), ENOENT);
	ASSERT_INT_EQ(count_bindings(st, NULL, 0), 0);
	char buf[16];
	ASSERT_INT_EQ(sps_store_setting_get(st, "realm", buf, sizeof(buf)), ENOENT);
	sps_store_close(st);

	/* a raw look at the schema: WAL mode, one schema_version row per migration */
	sqlite3 *db;
	snprintf(path, sizeof(path), "%s/sipsec.db", dir);
	ASSERT_INT_EQ(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	ASSERT_INT_EQ(sps__store_read_version(db), sps__store_schema_latest());
	sqlite3_stmt *s;
	ASSERT_INT_EQ(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &s, NULL), SQLITE_OK);
	ASSERT_INT_EQ(sqlite3_step(s), SQLITE_ROW);
	int wal = strcmp((const char *)sqlite3_column_text(s, 0), "wal") == 0;
	sqlite3_finalize(s);
	ASSERT_INT_EQ(sqlite3_prepare_v2(db, "SELECT count(*) FROM schema_version", -1, &s, NULL),
		      SQLITE_OK);
	ASSERT_INT_EQ(sqlite3_step(s), SQLITE_ROW);
	int rows = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	sqlite3_close(db);
	ASSERT(wal);
	ASSERT_INT_EQ(rows, sps__store_schema_latest());
	return 0;
}

int test_store_migrate_empty(void)
{
	return with_tmpdir(migrate_empty);
}

static int reopen(const char *dir)
{
	struct sps_store *st = NULL;
	struct sps_user u, got;
	struct sps_binding b;
	char buf[64];
	ASSERT_INT_EQ(sps_store_open(&st, dir, NULL), 0);
	make_user(&u, "alice", 'a');
	ASSERT_INT_EQ(sps_store_user_add(st, &u), 0);
	ASSERT_INT_EQ(sps_store_setting_set(st, "realm", "sip.example.test"), 0);
	make_binding(&b, "sip:alice@sip.example.test", "sip:alice@192.0.2.1", "", 0, 4000000000,
		     -1);
	ASSERT_INT_EQ(sps_store_binding_put(st, &b), 0);
	int v = sps_store_schema_version(st);
	sps_store_close(st);

	ASSERT_INT_EQ(sps_store_open(&st, dir, NULL), 0);
	int rc = 0;
	if (sps_store_schema_version(st) != v || sps_store_user_get(st, "alice", &got) != 0 ||
	    strcmp(got.ha1_md5, u.ha1_md5) != 0 || strcmp(got.ha1_sha256, u.ha1_sha256) != 0 ||
	    strcmp(got.realm, u.realm) != 0 || got.created != u.created ||
	    sps_store_setting_get(st, "realm", buf, sizeof(buf)) != 0 ||
	    strcmp(buf, "sip.example.test") != 0 || count_bindings(st, NULL, 0) != 1)
		rc = 1;
	sps_store_close(st);
	if (rc)
		TEST_FAIL("data lost across close and open");
	return 0;
}

int test_store_reopen(void)
{
	return with_tmpdir(reopen);
}

/* A database written by a newer sipsec is refused with a reason; so is SIPSEC_STORE_SYNC garbage. */
static int newer_refused(const char *dir)
{
	struct sps_store *st = NULL;
	const char *why = NULL;
	char path[128], sql[128];
	ASSERT_INT_EQ(sps_store_open(&st, dir, NULL), 0);
	sps_store_close(st);
	snprintf(path, sizeof(path), "%s/sipsec.db", dir);
	sqlite3 *db;
	ASSERT_INT_EQ(sqlite3_open(path, &db), SQLITE_OK);
	snprintf(sql, sizeof(sql), "INSERT INTO schema_version VALUES(%d, 0)",
		 sps__store_schema_latest() + 1);
	int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
	sqlite3_close(db);
	ASSERT_INT_EQ(rc, SQLITE_OK);
	st = NULL;
	ASSERT_INT_EQ(sps_store_open(&st, dir, &why), ENOTSUP);
	ASSERT(st == NULL);
	ASSERT(why && strstr(why, "newer sipsec"));

	setenv("SIPSEC_STORE_SYNC", "sometimes", 1);
	rc = sps_store_open(&st, dir, &why);
	unsetenv("SIPSEC_STORE_SYNC");
	ASSERT_INT_EQ(rc, EINVAL);
	ASSERT(why && strstr(why, "SIPSEC_STORE_SYNC"));
	return 0;
}

int test_store_newer_refused(void)
{
	return with_tmpdir(newer_refused);
}

static int not_a_db(const char *dir)
{
	struct sps_store *st = NULL;
	const char *why = NULL;
	char path[128];
	ASSERT_INT_EQ(mkdir(dir, 0700), 0);
	snprintf(path, sizeof(path), "%s/sipsec.db", dir);
	FILE *f = fopen(path, "w");
	ASSERT(f);
	for (int i = 0; i < 200; i++)
		fputs("this is not a database, it is a text file. ", f);
	fclose(f);
	ASSERT_INT_EQ(sps_store_open(&st, dir, &why), EIO);
	ASSERT(why && strstr(why, "not a SQLite database"));
	return 0;
}

int test_store_not_a_db(void)
{
	return with_tmpdir(not_a_db);
}

static int users(const char *dir)
{
	struct sps_store *st = NULL;
	struct sps_user u, got;
	struct seen s = {0};
	int rc = 1;
	ASSERT_INT_EQ(sps_store_open(&st, dir, NULL), 0);

	make_user(&u, "bob", 'b');
	if (sps_store_user_add(st, &u) != 0)
		goto out;
	make_user(&u, "alice", 'a');
	if (sps_store_user_add(st, &u) != 0 || sps_store_user_add(st, &u) != EEXIST)
		goto out;
	memset(&got, 0, sizeof(got));
	if (sps_store_user_get(st, "alice", &got) != 0 || strcmp(got.name, "alice") != 0 ||
	    strcmp(got.ha1_md5, u.ha1_md5) != 0 || got.created != 1700000000)
		goto out;
	/* names are exact (SIP user parts are case-sensitive) */
	if (sps_store_user_get(st, "Alice", &got) != ENOENT)
		goto out;
	/* update: new realm and hashes, created kept */
	make_user(&u, "alice", 'c');
	snprintf(u.realm, sizeof(u.realm), "other.test");
	u.created = 5;
	if (sps_store_user_update(st, &u) != 0 || sps_store_user_get(st, "alice", &got) != 0 ||
	    strcmp(got.realm, "other.test") != 0 || got.ha1_sha256[0] != 'c' ||
	    got.created != 1700000000)
		goto out;
	make_user(&u, "carol", 'c');
	if (sps_store_user_update(st, &u) != ENOENT)
		goto out;
	/* invalid rows */
	make_user(&u, "", 'a');
	if (sps_store_user_add(st, &u) != EINVAL)
		goto out;
	make_user(&u, "dave", 'a');
	u.ha1_md5[3] = 'X';
	if (sps_store_user_add(st, &u) != EINVAL)
		goto out;
	/* created 0 means now */
	make_user(&u, "erin", 'e');
	u.created = 0;
	if (sps_store_user_add(st, &u) != 0 || sps_store_user_get(st, "erin", &got) != 0 ||
	    got.created < 1700000000)
		goto out;
	/* name order */
	if (sps_store_user_each(st, see_user, &s) != 0 || s.n != 3 ||
	    strcmp(s.rows[0], "alice") != 0 || strcmp(s.rows[1], "bob") != 0 ||
	    strcmp(s.rows[2], "erin") != 0)
		goto out;
	/* del */
	if (sps_store_user_del(st, "bob") != 0 || sps_store_user_del(st, "bob") != ENOENT ||
	    sps_store_user_get(st, "bob", &got) != ENOENT)
		goto out;
	rc = 0;
out:
	sps_store_close(st);
	if (rc)
		TEST_FAIL("user add/get/update/del");
	return 0;
}

int test_store_users(void)
{
	return with_tmpdir(users);
}

static int stop_at_second(const struct sps_user *u, void *arg)
{
	int *n = arg;
	return ++*n == 2 ? 42 : 0;
}

struct nested {
	struct sps_store *st;
	int outer, inner;
};

static int count_user(const struct sps_user *u, void *arg)
{
	(*(int *)arg)++;
	return 0;
}

/* A callback may walk the same table again (the cached statement is busy). */
static int nested_walk(const struct sps_user *u, void *arg)
{
	struct nested *n = arg;
	n->outer++;
	return sps_store_user_each(n->st, count_user, &n->inner);
}

static int user_each(const char *dir)
{
	struct sps_store *st = NULL;
	struct sps_user u;
	int n = 0, rc = 1;
	ASSERT_INT_EQ(sps_store_open(&st, dir, NULL), 0);
	const char *names[] = {"c", "a", "b"};
	for (int i = 0; i < 3; i++) {
		make_user(&u, names[i], 'a');
		if (sps_store_user_add(st, &u) != 0)
			goto out;
	}
	if (sps_store_user_each(st, stop_at_second, &n) != 42 || n != 2)
		goto out;
	struct nested ne = {st, 0, 0};
	if (sps_store_user_each(st, nested_walk, &ne) != 0 || ne.outer != 3 || ne.inner != 9)
		goto out;
	/* the cached statement is usable again afterwards */
	n = 0;
	if (sps_store_user_each(st, count_user, &n) != 0 || n != 3)
		goto out;
	rc = 0;
out:
	sps_store_close(st);
	if (rc)
		TEST_FAIL("user_each stop value / nesting");
	return 0;
}

int test_store_user_each(void)
{
	return with_tmpdir(user_each);
}

static int user_del_bindings(const char *dir)
{
	struct sps_store *st = NULL;
	struct sps_user u;
	struct sps_binding b;
	int rc = 1;
	ASSERT_INT_EQ(sps_store_open(&st, dir, NULL), 0);
	make_user(&u, "alice", 'a');
	sps_store_user_add(st, &u);
	make_user(&u, "bob", 'b');
	sps_store_user_add(st, &u);
	make_binding(&b, "sip:alice@x", "sip:a1@192.0.2.1", "", 0, 4000000000, -1);
	sps_store_binding_put(st, &b);
	make_binding(&b, "sip:alice@x", "sip:a2@192.0.2.1", "", 0, 4000000000, -1);
	sps_store_binding_put(st, &b);
	make_binding(&b, "sip:bob@x", "sip:b1@192.0.2.1", "", 0, 4000000000, -1);
	b.user = "bob";
	sps_store_binding_put(st, &b);
	if (count_bindings(st, NULL, 0) != 3 || sps_store_user_del(st, "alice") != 0 ||
	    count_bindings(st, NULL, 0) != 1 || count_bindings(st, "sip:bob@x", 0) != 1)
		goto out;
	/* inside a batch too (a savepoint), and a failed delete changes nothing */
	if (sps_store_begin(st) != 0 || sps_store_user_del(st, "nobody") != ENOENT ||
	    sps_store_user_del(st, "bob") != 0 || sps_store_commit(st) != 0 ||
	    count_bindings(st, NULL, 0) != 0)
		goto out;
	rc = 0;
out:
	sps_store_close(st);
	if (rc)
		TEST_FAIL("user_del and the user's registrations");
	return 0;
}

int test_store_user_del_bindings(void)
{
	return with_tmpdir(user_del_bindings);
}

/* Every field of struct sps_binding survives a round trip. */
static int check_all_fields(const struct sps_binding *b, void *arg)
{
	int *ok = arg;
	*ok = strcmp(b->aor, "sip:alice@x") == 0 && strcmp(b->user, "alice") == 0 &&
	      strcmp(b->contact, "sip:alice@192.0.2.1:5061;transport=tls") == 0 &&
	      strcmp(b->contact_hdr, "\"A\" <sip:alice@192.0.2.1:5061;transport=tls>;q=0.5") ==
		      0 &&
	      strcmp(b->instance, "<urn:uuid:00000000-0000-1000-8000-000A95A0E128>") == 0 &&
	      b->reg_id == 4000000000u && strcmp(b->call_id, "cid@h") == 0 &&
	      b->cseq == 4294967295u && b->expires_at == 4102444800 && b->q == 500 &&
	      strcmp(b->path, "<sip:edge@192.0.2.9;lr>") == 0 &&
	      strcmp(b->transport, "tls") == 0 && strcmp(b->source, "[2001:db8::1]:5061") == 0 &&
	      strcmp(b->local, "192.0.2.2:5061") == 0 && strcmp(b->user_agent, "baresip") == 0 &&
	      strcmp(b->boot_id, "boot-7") == 0 && b->conn_id == 0xfedcba9876543210ull &&
	      b->outbound && b->updated == 1700000123;
	return 0;
}

static int binding_fields(const char *dir)
{
	struct sps_store *st = NULL;
	struct sps_binding b;
	int ok = 0;
	ASSERT_INT_EQ(sps_store_open(&st, dir, NULL), 0);
	memset(&b, 0, sizeof(b));
	b.aor = "sip:alice@x";
	b.user = "alice";
	b.contact = "sip:alice@192.0.2.1:5061;transport=tls";
	b.contact_hdr = "\"A\" <sip:alice@192.0.2.1:5061;transport=tls>;q=0.5";
	b.instance = "<urn:uuid:00000000-0000-1000-8000-000A95A0E128>";
	b.reg_id = 4000000000u;
	b.call_id = "cid@h";
	b.cseq = 4294967295u;
	b.expires_at = 4102444800;
	b.q = 500;
	b.path = "<sip:edge@192.0.2.9;lr>";
	b.transport = "tls";
	b.source = "[2001:db8::1]:5061";
	b.local = "192.0.2.2:5061";
	b.user_agent = "baresip";
	b.boot_id = "boot-7";
	b.conn_id = 0xfedcba9876543210ull;
	b.outbound = true;
	b.updated = 1700000123;
	int rc = sps_store_binding_put(st, &b);
	if (!rc)
		rc = sps_store_binding_each(st, "sip:alice@x", 0, check_all_fields, &ok);
	/* aor and contact are required */
	b.contact = "";
	int inval = sps_store_binding_put(st, &b);
	sps_store_close(st);
	ASSERT_INT_EQ(rc, 0);
	ASSERT(ok);
	ASSERT_INT_EQ(inval, EINVAL);
	return 0;
}

int test_store_binding_fields(void)
{
	return with_tmpdir(binding_fields);
}

/* Replace by (aor, contact) without an instance, by (aor, instance, reg_id) with one. */
static int binding_keys(const char *dir)
{
	struct sps_store *st = NULL;
	struct sps_binding b;
	struct seen s = {0};
	int rc = 1;
	const char *aor = "sip:alice@x";
	ASSERT_INT_EQ(sps_store_open(&st, dir, NULL), 0);

	make_binding(&b, aor, "sip:alice@192.0.2.1", "", 0, 4000000000, -1);
	sps_store_binding_put(st, &b);
	b.cseq = 2;
	if (sps_store_binding_put(st, &b) != 0 || count_bindings(st, aor, 0) != 1)
		goto out;
	/* same contact URI under another aor: another binding */
	b.aor = "sip:bob@x";
	if (sps_store_binding_put(st, &b) != 0 || count_bindings(st, NULL, 0) != 2)
		goto out;
	/* another contact: a second binding of alice */
	make_binding(&b, aor, "sip:alice@192.0.2.3", "", 0, 4000000000, -1);
	if (sps_store_binding_put(st, &b) != 0 || count_bindings(st, aor, 0) != 2)
		goto out;

	/* RFC 5626: instance + reg-id is the key; a new flow (new contact) replaces */
	const char *inst = "<urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6>";
	make_binding(&b, aor, "sip:alice@192.0.2.1", inst, 1, 4000000000, -1);
	if (sps_store_binding_put(st, &b) != 0 || count_bindings(st, aor, 0) != 3)
		goto out; /* coexists with the instance-less binding of the same contact */
	make_binding(&b, aor, "sip:alice@192.0.2.7:40000", inst, 1, 4000000000, -1);
	b.cseq = 9;
	if (sps_store_binding_put(st, &b) != 0 || count_bindings(st, aor, 0) != 3)
		goto out;
	/* a second flow of the same instance (reg-id 2): its own binding */
	make_binding(&b, aor, "sip:alice@192.0.2.7:40000", inst, 2, 4000000000, -1);
	if (sps_store_binding_put(st, &b) != 0 || count_bindings(st, aor, 0) != 4)
		goto out;
	if (sps_store_binding_each(st, aor, 0, see_binding, &s) != 0 || s.n != 4)
		goto out;
	int found9 = 0;
	for (int i = 0; i < s.n; i++)
		found9 += strcmp(s.rows[i], "sip:alice@x|sip:alice@192.0.2.7:40000|-1|9") == 0;
	if (found9 != 1)
		goto out;
	rc = 0;
out:
	sps_store_close(st);
	if (rc)
		TEST_FAIL("binding keys (seen %d)", s.n);
	return 0;
}

int test_store_binding_keys(void)
{
	return with_tmpdir(binding_keys);
}

static int binding_del_expire(const char *dir)
{
	struct sps_store *st = NULL;
	struct sps_binding b;
	unsigned n = 99;
	int rc = 1;
	ASSERT_INT_EQ(sps_store_open(&st, dir, NULL), 0);
	make_binding(&b, "sip:a@x", "sip:a1@h", "", 0, 100, -1);
	sps_store_binding_put(st, &b);
	make_binding(&b, "sip:a@x", "sip:a2@h", "", 0, 200, -1);
	sps_store_binding_put(st, &b);
	make_binding(&b, "sip:a@x", "sip:a3@h", "", 0, 300, -1);
	sps_store_binding_put(st, &b);
	make_binding(&b, "sip:b@x", "sip:b1@h", "", 0, 300, -1);
	sps_store_binding_put(st, &b);
	/* the walk skips bindings that expired by now (expires_at <= now) */
	if (count_bindings(st, "sip:a@x", 0) != 3 || count_bindings(st, "sip:a@x", 200) != 1 ||
	    count_bindings(st, NULL, 150) != 3)
		goto out;
	if (sps_store_binding_del(st, "sip:a@x", "sip:a2@h") != 0 ||
	    sps_store_binding_del(st, "sip:a@x", "sip:a2@h") != ENOENT ||
	    count_bindings(st, "sip:a@x", 0) != 2)
		goto out;
	if (sps_store_binding_expire(st, 100, &n) != 0 || n != 1 ||
	    count_bindings(st, NULL, 0) != 2 || sps_store_binding_expire(st, 100, &n) != 0 ||
	    n != 0 || sps_store_binding_expire(st, 100, NULL) != 0)
		goto out;
	if (sps_store_binding_del_aor(st, "sip:a@x") != 0 ||
	    sps_store_binding_del_aor(st, "sip:a@x") != 0 || count_bindings(st, NULL, 0) != 1 ||
	    count_bindings(st, "sip:b@x", 0) != 1)
		goto out;
	rc = 0;
out:
	sps_store_close(st);
	if (rc)
		TEST_FAIL("binding del / expire");
	return 0;
}

int test_store_binding_del_expire(void)
{
	return with_tmpdir(binding_del_expire);
}

static int binding_order(const char *dir)
{
	struct sps_store *st = NULL;
	struct sps_binding b;
	struct seen s = {0}, one = {0};
	ASSERT_INT_EQ(sps_store_open(&st, dir, NULL), 0);
	const struct {
		const char *aor, *contact;
		int q;
	} rows[] = {
		{"sip:b@x", "sip:b-low@h", 100},  {"sip:a@x", "sip:a-mid@h", 500},
		{"sip:b@x", "sip:b-none@h", -1},  {"sip:a@x", "sip:a-top@h", 1000},
		{"sip:a@x", "sip:a-low@h", 0},    {"sip:b@x", "sip:b-high@h", 900},
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		make_binding(&b, rows[i].aor, rows[i].contact, "", 0, 4000000000, rows[i].q);
		sps_store_binding_put(st, &b);
	}
	int rc = sps_store_binding_each(st, NULL, 0, see_binding, &s);
	int rc1 = sps_store_binding_each(st, "sip:b@x", 0, see_binding, &one);
	sps_store_close(st);
	ASSERT_INT_EQ(rc, 0);
	ASSERT_INT_EQ(rc1, 0);
	ASSERT_INT_EQ(s.n, 6);
	/* by aor, then q descending; an absent q (-1) ranks like q=1.0 */
	ASSERT_STR_EQ(s.rows[0], "sip:a@x|sip:a-top@h|1000|1");
	ASSERT_STR_EQ(s.rows[1], "sip:a@x|sip:a-mid@h|500|1");
	ASSERT_STR_EQ(s.rows[2], "sip:a@x|sip:a-low@h|0|1");
	ASSERT_STR_EQ(s.rows[3], "sip:b@x|sip:b-none@h|-1|1");
	ASSERT_STR_EQ(s.rows[4], "sip:b@x|sip:b-high@h|900|1");
	ASSERT_STR_EQ(s.rows[5], "sip:b@x|sip:b-low@h|100|1");
	ASSERT_INT_EQ(one.n, 3);
	ASSERT_STR_EQ(one.rows[0], "sip:b@x|sip:b-none@h|-1|1");
	ASSERT_STR_EQ(one.rows[2], "sip:b@x|sip:b-low@h|100|1");
	return 0;
}

int test_store_binding_order(void)
{
	return with_tmpdir(binding_order);
}

/* Writes of a batch are invisible to another handle until the commit. */
static int batch(const char *dir)
{
	struct sps_store *st = NULL, *other = NULL;
	struct sps_user u, got;
	int rc = 1;
	ASSERT_INT_EQ(sps_store_open(&st, dir, NULL), 0);
	if (sps_store_open(&other, dir, NULL) != 0) {
		sps_store_close(st);
		TEST_FAIL("second handle");
	}
	/* commit without a batch: nothing to do */
	if (sps_store_in_batch(st) || sps_store_commit(st) != 0)
		goto out;
	if (sps_store_begin(st) != 0 || !sps_store_in_batch(st) || sps_store_begin(st) != 0)
		goto out;
	make_user(&u, "alice", 'a');
	if (sps_store_user_add(st, &u) != 0 || sps_store_user_get(st, "alice", &got) != 0)
		goto out;
	/* a constraint error inside the batch does not lose the batch */
	if (sps_store_user_add(st, &u) != EEXIST || !sps_store_in_batch(st))
		goto out;
	struct sps_binding b;
	make_binding(&b, "sip:alice@x", "sip:a@h", "", 0, 4000000000, -1);
	if (sps_store_binding_put(st, &b) != 0 || sps_store_setting_set(st, "k", "v") != 0)
		goto out;
	if (sps_store_user_get(other, "alice", &got) != ENOENT ||
	    count_bindings(other, NULL, 0) != 0)
		goto out;
	if (sps_store_commit(st) != 0 || sps_store_in_batch(st))
		goto out;
	char buf[8];
	if (sps_store_user_get(other, "alice", &got) != 0 || count_bindings(other, NULL, 0) != 1 ||
	    sps_store_setting_get(other, "k", buf, sizeof(buf)) != 0)
		goto out;
	/* outside a batch every write is visible at once */
	make_user(&u, "bob", 'b');
	if (sps_store_user_add(st, &u) != 0 || sps_store_user_get(other, "bob", &got) != 0)
		goto out;
	rc = 0;
out:
	sps_store_close(other);
	sps_store_close(st);
	if (rc)
		TEST_FAIL("batch begin/commit");
	return 0;
}

int test_store_batch(void)
{
	return with_tmpdir(batch);
}

static int settings(const char *dir)
{
	struct sps_store *st = NULL;
	char buf[32], tiny[4];
	ASSERT_INT_EQ(sps_store_open(&st, dir, NULL), 0);
	int r1 = sps_store_setting_get(st, "realm", buf, sizeof(buf));
	int r2 = sps_store_setting_set(st, "realm", "sip.example.test");
	int r3 = sps_store_setting_get(st, "realm", buf, sizeof(buf));
	int ok3 = r3 == 0 && strcmp(buf, "sip.example.test") == 0;
	int r4 = sps_store_setting_set(st, "realm", "pbx.test");
	int r5 = sps_store_setting_get(st, "realm", buf, sizeof(buf));
	int ok5 = r5 == 0 && strcmp(buf, "pbx.test") == 0;
	int r6 = sps_store_setting_get(st, "realm", tiny, sizeof(tiny));
	int r7 = sps_store_setting_set(st, "empty", "");
	int r8 = sps_store_setting_get(st, "empty", tiny, sizeof(tiny));
	int ok8 = r8 == 0 && tiny[0] == '\0';
	sps_store_close(st);
	ASSERT_INT_EQ(r1, ENOENT);
	ASSERT_INT_EQ(r2, 0);
	ASSERT(ok3);
	ASSERT_INT_EQ(r4, 0);
	ASSERT(ok5);
	ASSERT_INT_EQ(r6, ENOSPC);
	ASSERT_INT_EQ(r7, 0);
	ASSERT(ok8);
	return 0;
}

int test_store_settings(void)
{
	return with_tmpdir(settings);
}

/* ---- the read cache (sps_store_cache) ---- */

/* A walk callback that writes the AoR being walked (the registrar copies
 * rows out first, but nothing stops a callback from writing): the cached
 * list is dropped while held and must stay readable until the walk ends. */
static int put_while_walking(const struct sps_binding *b, void *arg)
{
	struct sps_store *st = arg;
	struct sps_binding nb;
	make_binding(&nb, b->aor, "sip:alice@192.0.2.77", "", 0, 2000000000, -1);
	if (strcmp(b->contact, "sip:alice@192.0.2.77") == 0)
		return 0;
	return sps_store_binding_put(st, &nb);
}

/* `a` is serve's connection with the cache on, `b` another connection, as
 * the CLI in another process would have: every change b commits is seen by
 * a's next read; a's own writes are read back; a rolled-back batch leaves
 * nothing behind. Checks record the failing line and go on to close both
 * stores, so that a failure does not leak. */
static int cache_run(struct sps_store *a, struct sps_store *b, int *line)
{
#define CHECK(c)                            \
	do {                                \
		if (!(c)) {                 \
			*line = __LINE__;   \
			return 1;           \
		}                           \
	} while (0)
	const char *aor = "sip:alice@sip.example.test";
	struct sps_user u, got;
	struct sps_binding bd;

	make_user(&u, "alice", '1');
	CHECK(sps_store_user_add(b, &u) == 0);
	CHECK(sps_store_user_get(a, "alice", &got) == 0 && got.ha1_md5[0] == '1');
	CHECK(sps_store_user_get(a, "alice", &got) == 0 && got.ha1_md5[0] == '1');
	/* reads come from memory: a write behind the store's back on a's own
	 * connection (which data_version does not count) is not seen... */
	CHECK(sqlite3_exec(a->db, "UPDATE users SET ha1_md5 = '" /* 32 x '9' */
				  "99999999999999999999999999999999' WHERE name = 'alice'",
			   NULL, NULL, NULL) == SQLITE_OK);
	CHECK(sps_store_user_get(a, "alice", &got) == 0 && got.ha1_md5[0] == '1');
	/* ...but a password change by another connection is, at once */
	make_user(&u, "alice", '2');
	CHECK(sps_store_user_update(b, &u) == 0);
	CHECK(sps_store_user_get(a, "alice", &got) == 0 && got.ha1_md5[0] == '2');
	/* as is a user the other connection adds after a miss */
	CHECK(sps_store_user_get(a, "carol", &got) == ENOENT);
	make_user(&u, "carol", '3');
	CHECK(sps_store_user_add(b, &u) == 0);
	CHECK(sps_store_user_get(a, "carol", &got) == 0 && got.ha1_md5[0] == '3');
	/* a's own update is read back */
	make_user(&u, "carol", '4');
	CHECK(sps_store_user_update(a, &u) == 0);
	CHECK(sps_store_user_get(a, "carol", &got) == 0 && got.ha1_md5[0] == '4');

	/* bindings written by a (the registrar in serve) */
	make_binding(&bd, aor, "sip:alice@192.0.2.1", "", 0, 2000000000, -1);
	CHECK(sps_store_binding_put(a, &bd) == 0);
	CHECK(count_bindings(a, aor, 1700000000) == 1);
	make_binding(&bd, aor, "sip:alice@192.0.2.2", "", 0, 1700000100, 500);
	CHECK(sps_store_binding_put(a, &bd) == 0);
	CHECK(count_bindings(a, aor, 1700000000) == 2);
	struct seen s = {0};
	CHECK(sps_store_binding_each(a, aor, 1700000000, see_binding, &s) == 0 && s.n == 2);
	CHECK(strcmp(s.rows[0], "sip:alice@sip.example.test|sip:alice@192.0.2.1|-1|1") == 0);
	CHECK(strcmp(s.rows[1], "sip:alice@sip.example.test|sip:alice@192.0.2.2|500|1") == 0);
	/* expiry: filtered by now, listed with now 0 until expire removes it */
	CHECK(count_bindings(a, aor, 1700000200) == 1);
	CHECK(count_bindings(a, aor, 0) == 2);
	unsigned n = 0;
	CHECK(sps_store_binding_expire(a, 1700000200, &n) == 0 && n == 1);
	CHECK(count_bindings(a, aor, 0) == 1);
	/* from memory, like the user rows above */
	CHECK(sqlite3_exec(a->db, "DELETE FROM registrations", NULL, NULL, NULL) == SQLITE_OK);
	CHECK(count_bindings(a, aor, 0) == 1);
	make_binding(&bd, aor, "sip:alice@192.0.2.1", "", 0, 2000000000, -1);
	CHECK(sps_store_binding_put(a, &bd) == 0);
	CHECK(count_bindings(a, aor, 0) == 1);
	CHECK(sps_store_binding_del(a, aor, "sip:alice@192.0.2.1") == 0);
	CHECK(count_bindings(a, aor, 0) == 0);
	/* a callback that writes the walked AoR */
	make_binding(&bd, aor, "sip:alice@192.0.2.3", "", 0, 2000000000, -1);
	CHECK(sps_store_binding_put(a, &bd) == 0);
	CHECK(count_bindings(a, aor, 0) == 1);
	CHECK(sps_store_binding_each(a, aor, 0, put_while_walking, a) == 0);
	CHECK(count_bindings(a, aor, 0) == 2);

	/* a batch whose commit fails: the rows read inside it are forgotten */
	CHECK(sps_store_begin(a) == 0);
	CHECK(sps_store_binding_del_aor(a, aor) == 0);
	CHECK(count_bindings(a, aor, 0) == 0);
	CHECK(sqlite3_exec(a->db, "ROLLBACK", NULL, NULL, NULL) == SQLITE_OK);
	CHECK(sps_store_commit(a) != 0);
	CHECK(count_bindings(a, aor, 0) == 2);

	/* the other connection deletes the user: the row and its bindings go
	 * from a's view at once */
	CHECK(count_bindings(a, aor, 1700000000) == 2);
	CHECK(sps_store_user_del(b, "alice") == 0);
	CHECK(sps_store_user_get(a, "alice", &got) == ENOENT);
	CHECK(count_bindings(a, aor, 1700000000) == 0);
	/* and a binding it writes shows too */
	make_binding(&bd, aor, "sip:alice@192.0.2.4", "", 0, 2000000000, -1);
	CHECK(sps_store_binding_put(b, &bd) == 0);
	CHECK(count_bindings(a, aor, 1700000000) == 1);
	/* pinned (one message in serve): the check is made at the first read
	 * only, later reads in the pin see that moment; after it, the change */
	sps_store_cache_pin(a);
	CHECK(sps_store_user_get(a, "carol", &got) == 0 && got.ha1_md5[0] == '4');
	sps_store_cache_pin(a);
	make_user(&u, "carol", '5');
	CHECK(sps_store_user_update(b, &u) == 0);
	CHECK(sps_store_user_get(a, "carol", &got) == 0 && got.ha1_md5[0] == '4');
	sps_store_cache_unpin(a);
	CHECK(sps_store_user_get(a, "carol", &got) == 0 && got.ha1_md5[0] == '4');
	sps_store_cache_unpin(a);
	CHECK(sps_store_user_get(a, "carol", &got) == 0 && got.ha1_md5[0] == '5');
	/* off: reads go to the database again */
	CHECK(sps_store_cache(a, false) == 0);
	CHECK(sps_store_user_get(a, "carol", &got) == 0 && got.ha1_md5[0] == '5');
	return 0;
#undef CHECK
}

static int cache(const char *dir)
{
	struct sps_store *a = NULL, *b = NULL;
	int line = 0, rc = 1;
	if (sps_store_open(&a, dir, NULL) == 0 && sps_store_cache(a, true) == 0 &&
	    sps_store_open(&b, dir, NULL) == 0)
		rc = cache_run(a, b, &line);
	sps_store_close(a);
	sps_store_close(b);
	if (rc)
		TEST_FAIL("cache check failed at line %d", line);
	return 0;
}

int test_store_cache(void)
{
	return with_tmpdir(cache);
}
