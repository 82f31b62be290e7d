#include "db.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
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
	int readonly; /* a read-only connection */
	struct stmt_slot cache[STMT_CACHE];
	size_t ncache;
};

static int
code_for(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED: return EX_TEMPFAIL;
	case SQLITE_CANTOPEN: return EX_CANTCREAT;
	case SQLITE_PERM:
	case SQLITE_AUTH: return EX_NOPERM;
	case SQLITE_NOTADB:
	case SQLITE_CORRUPT: return EX_DATAERR;
	/* A write that did not happen, whatever stopped it. */
	case SQLITE_READONLY:
	case SQLITE_FULL:
	case SQLITE_IOERR: return EX_IOERR;
	default: return EX_SOFTWARE;
	}
}

/*
 * What a person reads when the database fails: what failed, where and
 * what to do, in a sentence. The SQL itself is for developers: it goes
 * to the debug log (-v), never into the message.
 */
static int
fail_rc(const char *path, int rc, const char *msg)
{
	switch (rc & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return ms_errc(EX_TEMPFAIL,
		    "%s: the database is busy (another mailsync is "
		    "writing it): try again in a minute",
		    path);
	case SQLITE_NOTADB:
	case SQLITE_CORRUPT:
		return ms_errc(EX_DATAERR,
		    "%s: not a mailsync database, or a damaged one (%s): "
		    "restore the backup (README: Backups), or try "
		    "`sqlite3 %s .recover`",
		    path, msg, path);
	case SQLITE_FULL:
		return ms_errc(EX_IOERR,
		    "%s: the disk is full: nothing was written; free "
		    "some space and run it again",
		    path);
	case SQLITE_READONLY:
		return ms_errc(EX_IOERR,
		    "%s: cannot write the database (%s): check that you "
		    "own it and may write it and its folder",
		    path, msg);
	case SQLITE_IOERR:
		return ms_errc(EX_IOERR,
		    "%s: the disk failed to read or write (%s): check "
		    "the disk, then run it again",
		    path, msg);
	case SQLITE_CANTOPEN:
		return ms_errc(EX_CANTCREAT,
		    "%s: cannot open the database (%s): check its "
		    "folder and permissions",
		    path, msg);
	default:
		return ms_errc(
		    code_for(rc), "%s: database error: %s", path, msg);
	}
}

int
ms_db_fail(struct ms_db *db, const char *sql)
{
	int rc = sqlite3_extended_errcode(db->h);

	if (sql != NULL)
		ms_log_debug(
		    "%s: %s, in: %.300s", db->path, sqlite3_errmsg(db->h), sql);
	return fail_rc(db->path, rc, sqlite3_errmsg(db->h));
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
	if (rc == SQLITE_ROW) {
		ms_log_debug("statement returned rows: %s", sqlite3_sql(st));
		return ms_err("%s: an update returned rows (a bug: please "
			      "report it)",
		    db->path);
	}
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

/* What a read finds where the database should be. */
static int
missing(const char *path)
{
	return ms_errc(EX_NOINPUT,
	    "%s does not exist: mailsync-clients import or "
	    "mailsync-connect creates it",
	    path);
}

/* Who owns uid, for a message. */
static const char *
user_name(uid_t uid, char *buf, size_t len)
{
	struct passwd *pw = getpwuid(uid);

	if (pw != NULL && pw->pw_name != NULL)
		return pw->pw_name;
	snprintf(buf, len, "uid %u", (unsigned)uid);
	return buf;
}

static int
not_ours(const char *path, uid_t uid)
{
	char who[32];
	const char *name = user_name(uid, who, sizeof(who));

	return ms_errc(EX_NOPERM,
	    "%s belongs to %s: run the commands that write it as that "
	    "user (sudo -u %s ...)",
	    path, name, name);
}

/*
 * Before SQLite opens it for writing: create the file with mode 0600
 * (MS_DB_CREATE) so it never exists with a wider mode, and refuse what
 * is not ours to write: a symbolic link, something that is not a
 * regular file, a file of another user (whose -wal, -shm, lock and key
 * files we would leave behind with our owner). Warn when others may
 * read it.
 */
static int
prepare_file(const char *path, enum ms_db_mode mode)
{
	struct stat sb;
	int fd, flags = O_RDWR | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK;

	if (mode == MS_DB_CREATE) {
		if (ms_path_mkparent(path) == -1)
			return -1;
		flags |= O_CREAT;
	}
	if ((fd = open(path, flags, 0600)) == -1) {
		if (errno == ENOENT)
			return missing(path);
		if (errno == EACCES && lstat(path, &sb) == 0 &&
		    sb.st_uid != geteuid())
			return not_ours(path, sb.st_uid);
		if (errno == ELOOP)
			return ms_errc(EX_CANTCREAT,
			    "%s is a symbolic link: name the file itself "
			    "with --db",
			    path);
		return ms_errc(errno == EACCES || errno == EPERM ? EX_NOPERM
								 : EX_CANTCREAT,
		    "%s: %s", path, strerror(errno));
	}
	if (fstat(fd, &sb) == -1) {
		close(fd);
		return ms_errc(EX_IOERR, "%s: %s", path, strerror(errno));
	}
	close(fd);
	if (!S_ISREG(sb.st_mode))
		return ms_errc(EX_CANTCREAT, "%s: not a regular file", path);
	if (sb.st_uid != geteuid())
		return not_ours(path, sb.st_uid);
	if (sb.st_mode & 077)
		ms_log_warn("%s: mode %04o lets others read it; "
			    "run chmod 600 on it",
		    path, (unsigned)sb.st_mode & 07777);
	return 0;
}

/*
 * Whether a read may open the database for writing: the caller owns it
 * and may write the file and its folder. Then SQLite tidies its -wal
 * and -shm files away on close, and an older schema is upgraded as any
 * write command would. Anyone else reads through a read-only
 * connection.
 */
static int
can_write(const char *path, const struct stat *sb)
{
	char *dir, *p;
	int ok;

	if (sb->st_uid != geteuid() || access(path, R_OK | W_OK) == -1)
		return 0;
	dir = ms_xstrdup(path);
	if ((p = strrchr(dir, '/')) == NULL)
		ok = access(".", W_OK | X_OK) == 0;
	else {
		p[p == dir] = '\0';
		ok = access(dir, W_OK | X_OK) == 0;
	}
	free(dir);
	return ok;
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
too_new(struct ms_db *db, int v)
{
	return ms_errc(EX_CONFIG,
	    "%s: schema version %d is newer than this mailsync knows "
	    "(%d): upgrade mailsync",
	    db->path, v, ms_schema_version);
}

/* A migration left every reference whole: 0, or -1 (EX_SOFTWARE). */
static int
fk_check(struct ms_db *db)
{
	sqlite3_stmt *st;
	int rc;

	if ((st = ms_db_stmt(db, "PRAGMA foreign_key_check")) == NULL)
		return -1;
	rc = ms_db_step(db, st);
	sqlite3_reset(st);
	if (rc == SQLITE_ROW)
		return ms_errc(EX_SOFTWARE,
		    "%s: a schema migration broke a reference", db->path);
	return rc == -1 ? -1 : 0;
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
	if (v > ms_schema_version)
		return too_new(db, v);
	if (db->readonly)
		/* Never written through a read-only connection: an older
		 * schema may lack what this mailsync reads. */
		return ms_errc(EX_CONFIG,
		    "%s: schema version %d is older than this mailsync's "
		    "(%d), and the database is read-only here: run a write "
		    "command as its owner (mailsync-match) to upgrade it",
		    db->path, v, ms_schema_version);
	/* Foreign keys off while migrating: a migration may rebuild a table
	 * others reference (sqlite.org/lang_altertable.html, "Making Other
	 * Kinds Of Table Schema Changes"); DROP TABLE would otherwise delete
	 * their rows. Checked before the commit, on again after. The pragma
	 * is a no-op inside a transaction, hence before BEGIN. */
	if (ms_db_exec(db, "PRAGMA foreign_keys = OFF") == -1)
		return -1;
	if (ms_db_begin(db) == -1)
		goto on;
	/* Read again inside the write lock: another process may have won. */
	if (user_version(db, &v) == -1)
		goto fail;
	if (v > ms_schema_version) {
		too_new(db, v);
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
	if (fk_check(db) == -1 || ms_db_commit(db) == -1)
		goto fail;
	return ms_db_exec(db, "PRAGMA foreign_keys = ON");
fail:
	ms_db_rollback(db);
on:
	ms_db_exec(db, "PRAGMA foreign_keys = ON");
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

/*
 * WAL mode. Switching a new database to it takes a lock that SQLite's
 * busy handler does not wait for: two first runs at once (cron and an
 * admin) would see one fail at once. Asked again for as long as a busy
 * timeout lasts.
 */
static int
wal(struct ms_db *db)
{
	int i, rc;

	for (i = 0; i < BUSY_TIMEOUT_MS / 20; i++) {
		rc = sqlite3_exec(
		    db->h, "PRAGMA journal_mode = WAL", NULL, NULL, NULL);
		if ((rc & 0xff) != SQLITE_BUSY && (rc & 0xff) != SQLITE_LOCKED)
			break;
		usleep(20000);
	}
	return rc == SQLITE_OK ? 0
			       : ms_db_fail(db, "PRAGMA journal_mode = WAL");
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
	if (db->readonly)
		return ms_db_exec(db,
		    "PRAGMA foreign_keys = ON;"
		    "PRAGMA temp_store = MEMORY;");
	if (wal(db) == -1)
		return -1;
	return ms_db_exec(db,
	    "PRAGMA synchronous = NORMAL;"
	    "PRAGMA foreign_keys = ON;"
	    "PRAGMA temp_store = MEMORY;");
}

static int
sqlite_open(struct ms_db *db, const char *name, int flags)
{
	sqlite3_close(db->h);
	db->h = NULL;
	if (sqlite3_open_v2(name, &db->h, flags | SQLITE_OPEN_NOFOLLOW, NULL) !=
	    SQLITE_OK)
		return ms_db_fail(db, NULL);
	return 0;
}

/* The path as a file: URI that opens it immutable (sqlite.org/uri.html):
 * every byte but the unreserved ones and "/" percent-encoded. */
static char *
immutable_uri(const char *path)
{
	static const char hex[] = "0123456789ABCDEF";
	struct ms_buf b = {0};
	const unsigned char *p;

	ms_buf_adds(&b, "file:");
	for (p = (const unsigned char *)path; *p != '\0'; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || strchr("/-._~", *p) != NULL)
			ms_buf_addc(&b, (char)*p);
		else {
			ms_buf_addc(&b, '%');
			ms_buf_addc(&b, hex[*p >> 4]);
			ms_buf_addc(&b, hex[*p & 15]);
		}
	}
	ms_buf_adds(&b, "?immutable=1");
	return ms_buf_steal(&b);
}

/* Whether the database has a -wal file with frames in it: then its
 * latest content is not all in the main file. */
static int
has_wal(const char *path)
{
	char *wal = ms_xasprintf("%s-wal", path);
	struct stat sb;
	int rc = stat(wal, &sb) == 0 && sb.st_size > 0;

	free(wal);
	return rc;
}

/*
 * A read-only connection. SQLite reads a WAL database read-only when
 * its -shm file exists or can be created, which needs write access to
 * the folder (sqlite.org/wal.html, "Read-Only Databases"). Where that
 * fails (a folder we may not write, no writer holding the database
 * open), and no -wal file holds frames the main file lacks, the file is
 * all there is: it is opened immutable, without locks and without any
 * file beside it. A writer can only start there if someone else may
 * write the folder; then a -wal file appears and the next read takes
 * the ordinary way.
 */
static int
open_readonly(struct ms_db *db)
{
	static const char *probe = "SELECT count(*) FROM sqlite_schema";
	char *uri;
	int rc;

	if (sqlite_open(db, db->path, SQLITE_OPEN_READONLY) == -1)
		return -1;
	if ((rc = sqlite3_exec(db->h, probe, NULL, NULL, NULL)) == SQLITE_OK)
		return 0;
	rc = sqlite3_extended_errcode(db->h) & 0xff;
	if ((rc != SQLITE_READONLY && rc != SQLITE_CANTOPEN) ||
	    has_wal(db->path))
		return ms_db_fail(db, probe);
	ms_log_debug("%s: no -shm can be made here and no -wal has "
		     "frames: reading the file immutable",
	    db->path);
	uri = immutable_uri(db->path);
	rc = sqlite_open(db, uri, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI);
	free(uri);
	if (rc == 0 && sqlite3_exec(db->h, probe, NULL, NULL, NULL) != 0)
		rc = ms_db_fail(db, probe);
	return rc;
}

/* For MS_DB_READ: the file must be there, a regular file we may read. */
static int
check_readable(const char *path, struct stat *sb)
{
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK)) ==
	    -1) {
		if (errno == ENOENT)
			return missing(path);
		if (errno == ELOOP)
			return ms_errc(EX_NOINPUT,
			    "%s is a symbolic link: name the file itself "
			    "with --db",
			    path);
		return ms_errc(errno == EACCES ? EX_NOPERM : EX_NOINPUT,
		    "%s: %s", path, strerror(errno));
	}
	if (fstat(fd, sb) == -1) {
		close(fd);
		return ms_errc(EX_IOERR, "%s: %s", path, strerror(errno));
	}
	close(fd);
	if (!S_ISREG(sb->st_mode))
		return ms_errc(EX_NOINPUT, "%s: not a regular file", path);
	return 0;
}

struct ms_db *
ms_db_open_mode(const char *path, enum ms_db_mode mode)
{
	struct ms_db *db;
	struct stat sb;

	if (mode == MS_DB_READ ? check_readable(path, &sb) == -1
			       : prepare_file(path, mode) == -1)
		return NULL;
	db = ms_xcalloc(1, sizeof(*db));
	db->path = ms_xstrdup(path);
	db->readonly = mode == MS_DB_READ && !can_write(path, &sb);
	if ((db->readonly
		    ? open_readonly(db)
		    : sqlite_open(db, path, SQLITE_OPEN_READWRITE)) == -1 ||
	    configure(db) == -1 || migrate(db) == -1) {
		ms_db_close(db);
		return NULL;
	}
	/* A read command that could write still never does. */
	if (mode == MS_DB_READ && !db->readonly &&
	    ms_db_exec(db, "PRAGMA query_only = ON") == -1) {
		ms_db_close(db);
		return NULL;
	}
	return db;
}

struct ms_db *
ms_db_open(const char *path)
{
	return ms_db_open_mode(path, MS_DB_CREATE);
}

int
ms_db_readonly(const struct ms_db *db)
{
	return db->readonly;
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
