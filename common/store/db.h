/*
 * db: the one SQLite file of a business.
 *
 * Opened in WAL mode with foreign keys, defensive mode and a busy timeout,
 * migrated to the current schema on open. Writers use ms_db_begin()
 * (BEGIN IMMEDIATE) so two processes never deadlock. Statements come from
 * a per-connection cache (ms_db_stmt) and use bound parameters only.
 */
#ifndef MS_DB_H
#define MS_DB_H

#include <sqlite3.h>
#include <stdint.h>

struct ms_db;

enum ms_db_mode {
	/* Write; create the file and its folder (mode 0600/0700) when
	 * missing. Refuses a file that is not a regular one, a symbolic
	 * link, or one that belongs to another user (EX_NOPERM). */
	MS_DB_CREATE,
	/* Write an existing database: a missing one is EX_NOINPUT. */
	MS_DB_WRITE,
	/*
	 * Read only: never creates anything, a missing database is
	 * EX_NOINPUT. The owner, when it may write file and folder, gets a
	 * connection that migrates an older schema and then answers to
	 * nothing but reads (PRAGMA query_only); anyone else a read-only
	 * one, which never migrates (an older schema is EX_CONFIG).
	 */
	MS_DB_READ,
};

/* Open path as mode says and bring its schema up to date. */
struct ms_db *ms_db_open_mode(const char *path, enum ms_db_mode mode);
/* ms_db_open_mode(path, MS_DB_CREATE). */
struct ms_db *ms_db_open(const char *path);
/* Whether the connection is read-only (MS_DB_READ by someone else). */
int ms_db_readonly(const struct ms_db *);
void ms_db_close(struct ms_db *);
sqlite3 *ms_db_handle(struct ms_db *);
const char *ms_db_path(const struct ms_db *);

/* Give a bulk writer (import, match) a page cache to match its work. */
int ms_db_bulk(struct ms_db *);

int ms_db_begin(struct ms_db *);
int ms_db_commit(struct ms_db *);
void ms_db_rollback(struct ms_db *);

/* Run one or more statements without results. */
int ms_db_exec(struct ms_db *, const char *sql);

/*
 * A prepared statement for sql, reset and with cleared bindings. The
 * statement belongs to the cache: do not finalize it. sql must be a
 * string that lives as long as the connection (a literal).
 */
sqlite3_stmt *ms_db_stmt(struct ms_db *, const char *sql);

/*
 * Step st: returns SQLITE_ROW or SQLITE_DONE, or -1 with ms_err set to a
 * sentence for people (code EX_TEMPFAIL when the database is busy,
 * EX_IOERR when a write failed, EX_DATAERR when it is damaged); the SQL
 * goes to the debug log only.
 */
int ms_db_step(struct ms_db *, sqlite3_stmt *st);

/* Step a statement expected to finish (INSERT, UPDATE, ...): 0 or -1. */
int ms_db_run(struct ms_db *, sqlite3_stmt *st);

/* Record the connection's current error for sql, which is logged at
 * -v only (returns -1). */
int ms_db_fail(struct ms_db *, const char *sql);

/* The id of the normalised address email, inserted when new; -1 on error. */
int64_t ms_db_address_id(struct ms_db *, const char *email);

/* Settings: *value is a new string, or NULL when unset. 0 or -1. */
int ms_db_setting_get(struct ms_db *, const char *key, char **value);
int ms_db_setting_set(struct ms_db *, const char *key, const char *value);
int ms_db_setting_unset(struct ms_db *, const char *key);

/* Bind a text column that may be NULL. */
int ms_db_bind_text(sqlite3_stmt *, int idx, const char *s);

/* A text column as a borrowed string, "" when NULL. */
const char *ms_db_col_text(sqlite3_stmt *, int col);

#endif
