#include "sync.h"

#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "account.h"
#include "log.h"
#include "util.h"

static const struct ms_driver drivers[] = {
    {"gmail", ms_gmail_start, ms_gmail_finish},
    {"outlook", ms_graph_start, ms_graph_finish},
};

const struct ms_driver *
ms_sync_driver(const char *provider)
{
	size_t i;

	for (i = 0; i < sizeof(drivers) / sizeof(*drivers); i++)
		if (strcmp(drivers[i].name, provider) == 0)
			return &drivers[i];
	return NULL;
}

void
ms_cursor_finish(struct ms_cursor *c)
{
	free(c->history_id);
	free(c->full_history_id);
	free(c->page_token);
	free(c->delta_link);
	free(c->next_link);
	memset(c, 0, sizeof(*c));
}

static char *
col_dup(sqlite3_stmt *st, int col)
{
	if (sqlite3_column_type(st, col) == SQLITE_NULL)
		return NULL;
	return ms_xstrdup(ms_db_col_text(st, col));
}

int
ms_sync_cursor_get(struct ms_sync *s, const char *folder, struct ms_cursor *c)
{
	static const char *sql =
	    "SELECT history_id, full_history_id, "
	    "page_token, delta_link, next_link FROM sync_state "
	    "WHERE account_id = ?1 AND folder = ?2";
	sqlite3_stmt *st;
	int rc;

	memset(c, 0, sizeof(*c));
	if ((st = ms_db_stmt(s->db, sql)) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, s->account);
	sqlite3_bind_text(st, 2, folder, -1, SQLITE_STATIC);
	if ((rc = ms_db_step(s->db, st)) == SQLITE_ROW) {
		c->history_id = col_dup(st, 0);
		c->full_history_id = col_dup(st, 1);
		c->page_token = col_dup(st, 2);
		c->delta_link = col_dup(st, 3);
		c->next_link = col_dup(st, 4);
	}
	sqlite3_reset(st);
	return rc == -1 ? -1 : 0;
}

int
ms_sync_cursor_set(
    struct ms_sync *s, const char *folder, const struct ms_cursor *c)
{
	static const char *sql =
	    "INSERT OR REPLACE INTO sync_state "
	    "(account_id, folder, history_id, full_history_id, page_token, "
	    "delta_link, next_link) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";
	sqlite3_stmt *st;

	if ((st = ms_db_stmt(s->db, sql)) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, s->account);
	sqlite3_bind_text(st, 2, folder, -1, SQLITE_STATIC);
	ms_db_bind_text(st, 3, c->history_id);
	ms_db_bind_text(st, 4, c->full_history_id);
	ms_db_bind_text(st, 5, c->page_token);
	ms_db_bind_text(st, 6, c->delta_link);
	ms_db_bind_text(st, 7, c->next_link);
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

	e->source = s->p->name;
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
