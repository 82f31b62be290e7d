#include "match.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* The id of the last email a run evaluated: every id above it is new. */
#define MARK_KEY "state.match.last_email_id"

/*
 * The links an email-client pair set should have, computed from the
 * client side: client_addrs is small next to email_addrs, whose
 * (address_id, email_id) index finds each address's emails in one range.
 * CROSS JOIN keeps that order whatever the statistics say.
 */
#define LINKS_FROM_CLIENTS                                                     \
	"SELECT ca.client_id, e.date, e.id FROM client_addrs ca "              \
	"CROSS JOIN email_addrs ea ON ea.address_id = ca.address_id "          \
	"CROSS JOIN emails e ON e.id = ea.email_id "

static int
count(struct ms_db *db, const char *sql, int64_t *n)
{
	sqlite3_stmt *st;
	int rc;

	if ((st = ms_db_stmt(db, sql)) == NULL)
		return -1;
	if ((rc = ms_db_step(db, st)) == SQLITE_ROW)
		*n = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return rc == SQLITE_ROW ? 0 : -1;
}

static int64_t
changes(struct ms_db *db)
{
	return sqlite3_changes64(ms_db_handle(db));
}

#define DIRTY "client_id IN (SELECT id FROM clients WHERE dirty = 1)"

/*
 * Make the links of every client (or only the dirty ones) exactly the
 * wanted ones, writing only the differences: a rematch that finds
 * nothing changed rewrites nothing.
 */
static int
sync_links(struct ms_db *db, int dirty_only, struct ms_match_stats *s)
{
	static const char *want_all =
	    "INSERT OR IGNORE INTO temp.want " LINKS_FROM_CLIENTS;
	static const char *want_dirty =
	    "INSERT OR IGNORE INTO temp.want " LINKS_FROM_CLIENTS
	    "WHERE ca." DIRTY;
	static const char *drop_all =
	    "DELETE FROM email_clients WHERE "
	    "(client_id, date, email_id) NOT IN (SELECT * FROM temp.want)";
	static const char *drop_dirty =
	    "DELETE FROM email_clients WHERE " DIRTY
	    " AND (client_id, date, email_id) NOT IN "
	    "(SELECT * FROM temp.want)";

	if (ms_db_exec(db,
		"CREATE TEMP TABLE IF NOT EXISTS want "
		"(client_id, date, email_id, "
		"PRIMARY KEY (client_id, date, email_id)) WITHOUT ROWID;"
		"DELETE FROM temp.want") == -1 ||
	    ms_db_exec(db, dirty_only ? want_dirty : want_all) == -1 ||
	    ms_db_exec(db, dirty_only ? drop_dirty : drop_all) == -1 ||
	    ms_db_exec(db,
		"INSERT OR IGNORE INTO email_clients "
		"SELECT client_id, date, email_id FROM temp.want") == -1)
		return -1;
	s->links += changes(db);
	return ms_db_exec(db, "DROP TABLE temp.want");
}

static int
get_mark(struct ms_db *db, int64_t *mark)
{
	char *v;

	*mark = 0;
	if (ms_db_setting_get(db, MARK_KEY, &v) == -1)
		return -1;
	if (v != NULL)
		*mark = strtoll(v, NULL, 10);
	free(v);
	return 0;
}

/* Remember the newest email evaluated. */
static int
set_mark(struct ms_db *db)
{
	char buf[32];
	int64_t max = 0;

	if (count(db, "SELECT coalesce(max(id), 0) FROM emails", &max) == -1)
		return -1;
	snprintf(buf, sizeof(buf), "%lld", (long long)max);
	return ms_db_setting_set(db, MARK_KEY, buf);
}

static int
match_new_emails(struct ms_db *db, int64_t mark, struct ms_match_stats *s)
{
	static const char *sql =
	    "INSERT OR IGNORE INTO email_clients "
	    "(client_id, date, email_id) "
	    "SELECT ca.client_id, e.date, e.id FROM emails e "
	    "CROSS JOIN email_addrs ea ON ea.email_id = e.id "
	    "CROSS JOIN client_addrs ca ON ca.address_id = ea.address_id "
	    "WHERE e.id > ?1";
	static const char *cnt = "SELECT count(*) FROM emails WHERE id > ?1";
	sqlite3_stmt *st;

	if ((st = ms_db_stmt(db, cnt)) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, mark);
	if (ms_db_step(db, st) != SQLITE_ROW) {
		sqlite3_reset(st);
		return -1;
	}
	s->emails = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	if (s->emails == 0)
		return 0;
	if ((st = ms_db_stmt(db, sql)) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, mark);
	if (ms_db_run(db, st) == -1)
		return -1;
	s->links += changes(db);
	return 0;
}

static int
run(struct ms_db *db, int rematch, struct ms_match_stats *s)
{
	int64_t mark;

	if (rematch) {
		if (count(db, "SELECT count(*) FROM emails", &s->emails) ||
		    count(db, "SELECT count(*) FROM clients", &s->clients) ||
		    sync_links(db, 0, s) == -1)
			return -1;
	} else {
		if (get_mark(db, &mark) == -1 ||
		    count(db, "SELECT count(*) FROM clients WHERE dirty = 1",
			&s->clients) == -1)
			return -1;
		/* Dirty clients first: their full history, new emails too. */
		if (s->clients > 0 && sync_links(db, 1, s) == -1)
			return -1;
		if (match_new_emails(db, mark, s) == -1)
			return -1;
	}
	if (ms_db_exec(db, "UPDATE clients SET dirty = 0 WHERE dirty = 1"))
		return -1;
	return set_mark(db);
}

int
ms_match_run(struct ms_db *db, int rematch, struct ms_match_stats *s)
{
	memset(s, 0, sizeof(*s));
	if (ms_db_bulk(db) == -1 || ms_db_begin(db) == -1)
		return -1;
	if (run(db, rematch, s) == 0 && ms_db_commit(db) == 0)
		return 0;
	ms_db_rollback(db);
	return -1;
}
