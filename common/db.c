#include "db.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include "log.h"
#include "path.h"
#include "schema.h"
#include "util.h"

#define BUSY_TIMEOUT_MS 15000
#define STMT_CACHE 64

struct stmt_slot {
	const char *sql;
	sqlite3_stmt *st;
};

struct ms_db {
	sqlite3 *h;
	char *path;
	struct stmt_slot cache[STMT_CACHE];
	size_t ncache;
};

static int
code_for(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED: return EX_TEMPFAIL;
	case SQLITE_CANTOPEN:
	case SQLITE_READONLY:
	case SQLITE_PERM: return EX_CANTCREAT;
	case SQLITE_NOTADB:
	case SQLITE_CORRUPT: return EX_DATAERR;
	case SQLITE_FULL:
	case SQLITE_IOERR: return EX_IOERR;
	default: return EX_SOFTWARE;
	}
}

int
ms_db_fail(struct ms_db *db, const char *sql)
{
	int rc = sqlite3_extended_errcode(db->h);
	const char *msg = sqlite3_errmsg(db->h);
	char shortsql[80];
	size_t i;

	if (sql == NULL)
		return ms_errc(code_for(rc), "%s: %s", db->path, msg);
	/* Quote the statement on one line, cut to a readable length. */
	for (i = 0; sql[i] != '\0' && i < sizeof(shortsql) - 1; i++)
		shortsql[i] = (sql[i] == '\n' || sql[i] == '\t') ? ' ' : sql[i];
	shortsql[i] = '\0';
	return ms_errc(code_for(rc), "%s: %s (in \"%s%s\")", db->path, msg,
	    shortsql, sql[i] != '\0' ? "..." : "");
}

int
ms_db_exec(struct ms_db *db, const char *sql)
{
	if (sqlite3_exec(db->h, sql, NULL, NULL, NULL) != SQLITE_OK)
		return ms_db_fail(db, sql);
	return 0;
}

int
ms_db_bulk(struct ms_db *db)
{
	return ms_db_exec(db, "PRAGMA cache_size = -131072");
}

int
ms_db_begin(struct ms_db *db)
{
	return ms_db_exec(db, "BEGIN IMMEDIATE");
}

int
ms_db_commit(struct ms_db *db)
{
	return ms_db_exec(db, "COMMIT");
}

void
ms_db_rollback(struct ms_db *db)
{
	if (!sqlite3_get_autocommit(db->h))
		sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL);
}

sqlite3_stmt *
ms_db_stmt(struct ms_db *db, const char *sql)
{
	struct stmt_slot *s;
	size_t i;

	for (i = 0; i < db->ncache; i++) {
		s = &db->cache[i];
		if (s->sql == sql) {
			sqlite3_reset(s->st);
			sqlite3_clear_bindings(s->st);
			return s->st;
		}
	}
	if (db->ncache == STMT_CACHE) {
		ms_err("statement cache full (raise STMT_CACHE)");
		return NULL;
	}
	s = &db->cache[db->ncache];
	if (sqlite3_prepare_v3(db->h, sql, -1, SQLITE_PREPARE_PERSISTENT,
		&s->st, NULL) != SQLITE_OK) {
		ms_db_fail(db, sql);
		return NULL;
	}
	s->sql = sql;
	db->ncache++;
	return s->st;
}

int
ms_db_step(struct ms_db *db, sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	if (rc == SQLITE_ROW || rc == SQLITE_DONE)
		return rc;
	ms_db_fail(db, sqlite3_sql(st));
	sqlite3_reset(st);
	return -1;
}

int
ms_db_run(struct ms_db *db, sqlite3_stmt *st)
{
	int rc = ms_db_step(db, st);

	sqlite3_reset(st);
	if (rc == SQLITE_ROW)
		return ms_err("statement returned rows: %s", sqlite3_sql(st));
	return rc == SQLITE_DONE ? 0 : -1;
}

int
ms_db_bind_text(sqlite3_stmt *st, int idx, const char *s)
{
	if (s == NULL)
		return sqlite3_bind_null(st, idx);
	return sqlite3_bind_text(st, idx, s, -1, SQLITE_STATIC);
}

const char *
ms_db_col_text(sqlite3_stmt *st, int col)
{
	const unsigned char *s = sqlite3_column_text(st, col);

	return s != NULL ? (const char *)s : "";
}

int64_t
ms_db_address_id(struct ms_db *db, const char *email)
{
	static const char *ins =
	    "INSERT INTO addresses (email) VALUES (?1) "
	    "ON CONFLICT (email) DO UPDATE SET email = email RETURNING id";
	sqlite3_stmt *st;
	int64_t id;

	if ((st = ms_db_stmt(db, ins)) == NULL)
		return -1;
	sqlite3_bind_text(st, 1, email, -1, SQLITE_STATIC);
	if (ms_db_step(db, st) != SQLITE_ROW) {
		sqlite3_reset(st);
		return -1;
	}
	id = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return id;
}

int
ms_db_setting_get(struct ms_db *db, const char *key, char **value)
{
	static const char *sql = "SELECT value FROM settings WHERE key = ?1";
	sqlite3_stmt *st;
	int rc;

	*value = NULL;
	if ((st = ms_db_stmt(db, sql)) == NULL)
		return -1;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	if ((rc = ms_db_step(db, st)) == SQLITE_ROW)
		*value = ms_xstrdup(ms_db_col_text(st, 0));
	sqlite3_reset(st);
	return rc == -1 ? -1 : 0;
}

int
ms_db_setting_set(struct ms_db *db, const char *key, const char *value)
{
	static const char *sql =
	    "INSERT INTO settings (key, value) VALUES (?1, ?2) "
	    "ON CONFLICT (key) DO UPDATE SET value = excluded.value";
	sqlite3_stmt *st;

	if ((st = ms_db_stmt(db, sql)) == NULL)
		return -1;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC);
	return ms_db_run(db, st);
}

int
ms_db_setting_unset(struct ms_db *db, const char *key)
{
	static const char *sql = "DELETE FROM settings WHERE key = ?1";
	sqlite3_stmt *st;

	if ((st = ms_db_stmt(db, sql)) == NULL)
		return -1;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	return ms_db_run(db, st);
}

/* Create the file with mode 0600 before SQLite does, so it never exists
 * with a wider mode; warn when an existing one is readable by others. */
static int
prepare_file(const char *path)
{
	struct stat sb;
	int fd;

	if (ms_path_mkparent(path) == -1)
		return -1;
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd == -1)
		return ms_errc(errno == EACCES ? EX_NOPERM : EX_CANTCREAT,
		    "%s: %s", path, strerror(errno));
	if (fstat(fd, &sb) == 0 && !S_ISREG(sb.st_mode)) {
		close(fd);
		return ms_errc(EX_CANTCREAT, "%s: not a regular file", path);
	}
	if (sb.st_mode & 077)
		ms_log_warn("%s: mode %04o lets others read it; "
			    "run chmod 600 on it",
		    path, (unsigned)sb.st_mode & 07777);
	close(fd);
	return 0;
}

static int
user_version(struct ms_db *db, int *v)
{
	static const char *sql = "PRAGMA user_version";
	sqlite3_stmt *st;

	if (sqlite3_prepare_v2(db->h, sql, -1, &st, NULL) != SQLITE_OK)
		return ms_db_fail(db, sql);
	if (sqlite3_step(st) != SQLITE_ROW) {
		sqlite3_finalize(st);
		return ms_db_fail(db, sql);
	}
	*v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return 0;
}

static int
migrate(struct ms_db *db)
{
	char pragma[64];
	int v;

	if (user_version(db, &v) == -1)
		return -1;
	if (v == ms_schema_version)
		return 0;
	if (ms_db_begin(db) == -1)
		return -1;
	/* Read again inside the write lock: another process may have won. */
	if (user_version(db, &v) == -1)
		goto fail;
	if (v > ms_schema_version) {
		ms_errc(EX_CONFIG,
		    "%s: schema version %d is newer than this "
		    "mailsync knows (%d): upgrade mailsync",
		    db->path, v, ms_schema_version);
		goto fail;
	}
	for (; v < ms_schema_version; v++) {
		if (ms_db_exec(db, ms_schema_migrations[v]) == -1)
			goto fail;
		snprintf(
		    pragma, sizeof(pragma), "PRAGMA user_version = %d", v + 1);
		if (ms_db_exec(db, pragma) == -1)
			goto fail;
	}
	return ms_db_commit(db);
fail:
	ms_db_rollback(db);
	return -1;
}

/* With -vv, every statement that took longer than 50 ms, for tuning. */
static int
profile(unsigned type, void *arg, void *stmt, void *ns)
{
	char *sql;

	(void)type;
	(void)arg;
	if (*(sqlite3_int64 *)ns < 50000000)
		return 0;
	sql = sqlite3_expanded_sql(stmt);
	ms_log_debug("%.3f s: %.200s", (double)*(sqlite3_int64 *)ns / 1e9,
	    sql ? sql : sqlite3_sql(stmt));
	sqlite3_free(sql);
	return 0;
}

static int
configure(struct ms_db *db)
{
	int on = 1;

	sqlite3_extended_result_codes(db->h, 1);
	sqlite3_busy_timeout(db->h, BUSY_TIMEOUT_MS);
	sqlite3_db_config(db->h, SQLITE_DBCONFIG_DEFENSIVE, 1, &on);
	sqlite3_db_config(db->h, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, NULL);
	if (ms_log_level() >= MS_LOG_DEBUG)
		sqlite3_trace_v2(db->h, SQLITE_TRACE_PROFILE, profile, NULL);
	return ms_db_exec(db,
	    "PRAGMA journal_mode = WAL;"
	    "PRAGMA synchronous = NORMAL;"
	    "PRAGMA foreign_keys = ON;"
	    "PRAGMA temp_store = MEMORY;");
}

struct ms_db *
ms_db_open(const char *path)
{
	struct ms_db *db;

	if (prepare_file(path) == -1)
		return NULL;
	db = ms_xcalloc(1, sizeof(*db));
	db->path = ms_xstrdup(path);
	if (sqlite3_open_v2(path, &db->h,
		SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOFOLLOW,
		NULL) != SQLITE_OK) {
		ms_db_fail(db, NULL);
		ms_db_close(db);
		return NULL;
	}
	if (configure(db) == -1 || migrate(db) == -1) {
		ms_db_close(db);
		return NULL;
	}
	return db;
}

void
ms_db_close(struct ms_db *db)
{
	size_t i;

	if (db == NULL)
		return;
	for (i = 0; i < db->ncache; i++)
		sqlite3_finalize(db->cache[i].st);
	sqlite3_close(db->h);
	free(db->path);
	free(db);
}

sqlite3 *
ms_db_handle(struct ms_db *db)
{
	return db->h;
}

const char *
ms_db_path(const struct ms_db *db)
{
	return db->path;
}
