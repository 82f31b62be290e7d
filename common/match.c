#include "match.h"

#include <string.h>

#include "util.h"

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

/*
 * Every statement walks from the client side: client_addrs is small next
 * to email_addrs, and email_addrs (address_id, email_id) finds each
 * address's emails in one index range.
 */
static int
rematch_all(struct ms_db *db, struct ms_match_stats *s)
{
	if (count(db, "SELECT count(*) FROM emails", &s->emails) == -1 ||
	    count(db, "SELECT count(*) FROM clients", &s->clients) == -1)
		return -1;
	if (ms_db_exec(db, "DELETE FROM email_clients") == -1)
		return -1;
	if (ms_db_exec(db, "INSERT OR IGNORE INTO email_clients "
	    "(client_id, date, email_id) "
	    "SELECT ca.client_id, e.date, e.id FROM client_addrs ca "
	    "JOIN email_addrs ea ON ea.address_id = ca.address_id "
	    "JOIN emails e ON e.id = ea.email_id "
	    "ORDER BY 1, 2, 3") == -1)
		return -1;
	s->links = changes(db);
	return ms_db_exec(db, "UPDATE emails SET matched = 1 "
	    "WHERE matched = 0; UPDATE clients SET dirty = 0 WHERE dirty = 1");
}

static int
match_dirty_clients(struct ms_db *db, struct ms_match_stats *s)
{
	if (count(db, "SELECT count(*) FROM clients WHERE dirty = 1",
	    &s->clients) == -1)
		return -1;
	if (s->clients == 0)
		return 0;
	if (ms_db_exec(db, "DELETE FROM email_clients WHERE client_id IN "
	    "(SELECT id FROM clients WHERE dirty = 1)") == -1)
		return -1;
	if (ms_db_exec(db, "INSERT OR IGNORE INTO email_clients "
	    "(client_id, date, email_id) "
	    "SELECT ca.client_id, e.date, e.id "
	    "FROM clients c JOIN client_addrs ca ON ca.client_id = c.id "
	    "JOIN email_addrs ea ON ea.address_id = ca.address_id "
	    "JOIN emails e ON e.id = ea.email_id WHERE c.dirty = 1") == -1)
		return -1;
	s->links += changes(db);
	return ms_db_exec(db, "UPDATE clients SET dirty = 0 WHERE dirty = 1");
}

static int
match_new_emails(struct ms_db *db, struct ms_match_stats *s)
{
	if (count(db, "SELECT count(*) FROM emails WHERE matched = 0",
	    &s->emails) == -1)
		return -1;
	if (s->emails == 0)
		return 0;
	if (ms_db_exec(db, "INSERT OR IGNORE INTO email_clients "
	    "(client_id, date, email_id) "
	    "SELECT ca.client_id, e.date, e.id FROM emails e "
	    "JOIN email_addrs ea ON ea.email_id = e.id "
	    "JOIN client_addrs ca ON ca.address_id = ea.address_id "
	    "WHERE e.matched = 0") == -1)
		return -1;
	s->links += changes(db);
	return ms_db_exec(db, "UPDATE emails SET matched = 1 "
	    "WHERE matched = 0");
}

int
ms_match_run(struct ms_db *db, int rematch, struct ms_match_stats *s)
{
	int rc;

	memset(s, 0, sizeof(*s));
	if (ms_db_begin(db) == -1)
		return -1;
	if (rematch)
		rc = rematch_all(db, s);
	else if ((rc = match_dirty_clients(db, s)) == 0)
		rc = match_new_emails(db, s);
	if (rc == 0 && ms_db_commit(db) == 0)
		return 0;
	ms_db_rollback(db);
	return -1;
}
