#include "sync.h"

#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "account.h"
#include "log.h"
#include "util.h"

int
ms_sync_cursor_get(struct ms_sync *s, const char *folder, char **text)
{
	static const char *sql = "SELECT cursor FROM sync_state "
				 "WHERE account_id = ?1 AND folder = ?2";
	sqlite3_stmt *st;
	int rc;

	*text = NULL;
	if ((st = ms_db_stmt(s->db, sql)) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, s->account);
	sqlite3_bind_text(st, 2, folder, -1, SQLITE_STATIC);
	if ((rc = ms_db_step(s->db, st)) == SQLITE_ROW &&
	    sqlite3_column_type(st, 0) != SQLITE_NULL)
		*text = ms_xstrdup(ms_db_col_text(st, 0));
	sqlite3_reset(st);
	return rc == -1 ? -1 : 0;
}

int
ms_sync_cursor_set(struct ms_sync *s, const char *folder, const char *text)
{
	static const char *ins =
	    "INSERT OR REPLACE INTO sync_state "
	    "(account_id, folder, cursor) VALUES (?1, ?2, ?3)";
	static const char *del = "DELETE FROM sync_state "
				 "WHERE account_id = ?1 AND folder = ?2";
	sqlite3_stmt *st;

	if ((st = ms_db_stmt(s->db, text != NULL ? ins : del)) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, s->account);
	sqlite3_bind_text(st, 2, folder, -1, SQLITE_STATIC);
	if (text != NULL)
		sqlite3_bind_text(st, 3, text, -1, SQLITE_STATIC);
	return ms_db_run(s->db, st);
}

int
ms_sync_cursor_clear(struct ms_sync *s)
{
	static const char *sql = "DELETE FROM sync_state WHERE account_id = ?1";
	sqlite3_stmt *st;

	if ((st = ms_db_stmt(s->db, sql)) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, s->account);
	return ms_db_run(s->db, st);
}

int
ms_sync_known(struct ms_sync *s, const char *provider_id)
{
	static const char *sql = "SELECT 1 FROM email_accounts "
				 "WHERE account_id = ?1 AND provider_id = ?2";
	sqlite3_stmt *st;
	int rc;

	if ((st = ms_db_stmt(s->db, sql)) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, s->account);
	sqlite3_bind_text(st, 2, provider_id, -1, SQLITE_STATIC);
	rc = ms_db_step(s->db, st);
	sqlite3_reset(st);
	return rc == -1 ? -1 : rc == SQLITE_ROW;
}

static int
link_account(struct ms_sync *s, int64_t email, const char *provider_id)
{
	static const char *sql =
	    "INSERT OR IGNORE INTO email_accounts "
	    "(email_id, account_id, provider_id) VALUES (?1, ?2, ?3)";
	sqlite3_stmt *st;

	if ((st = ms_db_stmt(s->db, sql)) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, email);
	sqlite3_bind_int64(st, 2, s->account);
	sqlite3_bind_text(st, 3, provider_id, -1, SQLITE_STATIC);
	if (ms_db_run(s->db, st) == -1)
		return -1;
	if (sqlite3_changes(ms_db_handle(s->db)) > 0)
		s->added++;
	return 0;
}

int
ms_sync_store(struct ms_sync *s, struct ms_email *e, const char *provider_id)
{
	int out = 0, created;

	strlcpy(e->source, s->p->name, sizeof(e->source));
	if (e->from.n > 0 &&
	    (out = ms_account_is_business(s->db, e->from.v[0].email)) == -1)
		return -1;
	e->direction = out ? "out" : "in";
	free(e->body); /* never kept for a synced email */
	e->body = NULL;
	if (e->message_id == NULL)
		e->message_id = ms_email_synthetic_id(e);
	if (ms_email_store(s->db, e, &created) == -1)
		return -1;
	return link_account(s, e->id, provider_id);
}

int
ms_sync_begin(struct ms_sync *s)
{
	if (ms_db_begin(s->db) == -1) {
		ms_sync_fail(s);
		return -1;
	}
	return 0;
}

int
ms_sync_commit(struct ms_sync *s)
{
	if (ms_db_commit(s->db) == -1) {
		ms_db_rollback(s->db);
		ms_sync_fail(s);
		return -1;
	}
	return 0;
}

void
ms_sync_fail(struct ms_sync *s)
{
	ms_db_rollback(s->db);
	ms_fetch_acct_fail(s->fa, ms_errcode(), ms_errstr());
}

void
ms_sync_skip(struct ms_sync *s, const char *id, const char *why)
{
	if (s->skipped++ == 0)
		ms_log_warn("%s: message %s left out: %s (any more such are "
			    "counted, not named)",
		    s->address, id ? id : "?", why);
	else
		ms_log_debug("%s: message %s left out: %s", s->address,
		    id ? id : "?", why);
}
