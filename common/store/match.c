#include "match.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rules.h"
#include "util.h"

/* The id of the last email a run evaluated: every id above it is new. */
#define MARK_KEY "state.match.last_email_id"

/*
 * The rules, on top of the address comparison (a: the client-side
 * address, classified by rules.c): business and blocked addresses never
 * match; with exclude.bulk (?1) bulk mail never does; with
 * exclude.internal (?2) an address at the business's own domain only
 * matches an email that has a participant from outside.
 */
#define RULES(a)                                                               \
	" AND " a ".flags & 3 = 0 AND (?1 = 0 OR e.bulk = 0) "                 \
	"AND (?2 = 0 OR " a ".flags & 4 = 0 OR EXISTS "                        \
	"(SELECT 1 FROM email_addrs o CROSS JOIN addresses oa "                \
	"ON oa.id = o.address_id WHERE o.email_id = e.id "                     \
	"AND oa.flags & 4 = 0)) "

/*
 * The links an email-client pair set should have, computed from the
 * client side: client_addrs is small next to email_addrs, whose
 * (address_id, email_id) index finds each address's emails in one range,
 * through the addresses sharing the client address's match key.
 * CROSS JOIN keeps that order whatever the statistics say.
 */
#define LINKS_FROM_CLIENTS                                                     \
	"SELECT ca.client_id, e.date, e.id FROM client_addrs ca "              \
	"CROSS JOIN addresses ka ON ka.id = ca.address_id "                    \
	"CROSS JOIN addresses xa ON xa.key_id = ka.key_id "                    \
	"CROSS JOIN email_addrs ea ON ea.address_id = xa.id "                  \
	"CROSS JOIN emails e ON e.id = ea.email_id WHERE 1" RULES("ka")

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

/* Whether temp.want holds the email_clients row at hand. The typed
 * columns of temp.want let its key be used. */
#define WANTED                                                                 \
	"(SELECT 1 FROM temp.want w WHERE "                                    \
	"w.client_id = email_clients.client_id AND "                           \
	"w.date = email_clients.date AND w.email_id = email_clients.email_id)"

/*
 * Make the links of every client (or only the dirty ones) exactly the
 * wanted ones, writing only the differences: a rematch that finds
 * nothing changed rewrites nothing.
 */
static int
want(struct ms_db *db, const struct ms_rules *r, int dirty_only)
{
	static const char *want_all =
	    "INSERT OR IGNORE INTO temp.want " LINKS_FROM_CLIENTS;
	static const char *want_dirty =
	    "INSERT OR IGNORE INTO temp.want " LINKS_FROM_CLIENTS
	    "AND ca." DIRTY;
	sqlite3_stmt *st;

	if ((st = ms_db_stmt(db, dirty_only ? want_dirty : want_all)) == NULL)
		return -1;
	sqlite3_bind_int(st, 1, r->bulk);
	sqlite3_bind_int(st, 2, r->internal);
	return ms_db_run(db, st);
}

static int
sync_links(struct ms_db *db, const struct ms_rules *r, int dirty_only,
    struct ms_match_stats *s)
{
	/* NOT EXISTS, not a row-value NOT IN: for each row it does not
	 * find, NOT IN scans the whole list for NULLs. */
	static const char *drop_all =
	    "DELETE FROM email_clients WHERE NOT EXISTS " WANTED;
	static const char *drop_dirty =
	    "DELETE FROM email_clients WHERE " DIRTY " AND NOT EXISTS " WANTED;

	if (ms_db_exec(db,
		"CREATE TEMP TABLE IF NOT EXISTS want "
		"(client_id INTEGER NOT NULL, date INTEGER NOT NULL, "
		"email_id INTEGER NOT NULL, "
		"PRIMARY KEY (client_id, date, email_id)) WITHOUT ROWID;"
		"DELETE FROM temp.want") == -1 ||
	    want(db, r, dirty_only) == -1 ||
	    ms_db_exec(db, dirty_only ? drop_dirty : drop_all) == -1)
		return -1;
	s->unlinked += changes(db);
	if (ms_db_exec(db,
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
match_new_emails(struct ms_db *db, const struct ms_rules *r, int64_t mark,
    struct ms_match_stats *s)
{
	static const char *sql =
	    "INSERT OR IGNORE INTO email_clients "
	    "(client_id, date, email_id) "
	    "SELECT ca.client_id, e.date, e.id FROM emails e "
	    "CROSS JOIN email_addrs ea ON ea.email_id = e.id "
	    "CROSS JOIN addresses xa ON xa.id = ea.address_id "
	    "CROSS JOIN addresses ka ON ka.key_id = xa.key_id "
	    "CROSS JOIN client_addrs ca ON ca.address_id = ka.id "
	    "WHERE e.id > ?3" RULES("xa");
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
	sqlite3_bind_int(st, 1, r->bulk);
	sqlite3_bind_int(st, 2, r->internal);
	sqlite3_bind_int64(st, 3, mark);
	if (ms_db_run(db, st) == -1)
		return -1;
	s->links += changes(db);
	return 0;
}

/* Synced emails on no profile, older than retention.unmatched_days. */
static int
expire(struct ms_db *db, const struct ms_rules *r, struct ms_match_stats *s)
{
	static const char *sql =
	    "DELETE FROM emails WHERE source <> 'crm' AND date < ?1 "
	    "AND id NOT IN (SELECT email_id FROM email_clients)";
	sqlite3_stmt *st;

	if (r->retention_days <= 0)
		return 0;
	if ((st = ms_db_stmt(db, sql)) == NULL)
		return -1;
	sqlite3_bind_int64(
	    st, 1, (sqlite3_int64)time(NULL) - r->retention_days * 86400LL);
	if (ms_db_run(db, st) == -1)
		return -1;
	s->expired = changes(db);
	return 0;
}

/*
 * all: every address classified and every email evaluated again (the
 * rules changed, or this is the database's first match).
 */
static int
run(struct ms_db *db, const struct ms_rules *r, int rematch, int all,
    struct ms_match_stats *s)
{
	int64_t mark;

	if (ms_rules_classify(db, r, all) == -1 || get_mark(db, &mark) == -1 ||
	    ms_rules_directions(db, all ? 0 : mark) == -1)
		return -1;
	if (rematch || all) {
		if (count(db, "SELECT count(*) FROM emails", &s->emails) ||
		    count(db, "SELECT count(*) FROM clients", &s->clients) ||
		    sync_links(db, r, 0, s) == -1)
			return -1;
	} else {
		if (count(db, "SELECT count(*) FROM clients WHERE dirty = 1",
			&s->clients) == -1)
			return -1;
		/* Dirty clients first: their full history, new emails too. */
		if (s->clients > 0 && sync_links(db, r, 1, s) == -1)
			return -1;
		if (match_new_emails(db, r, mark, s) == -1)
			return -1;
	}
	if (ms_db_exec(db, "UPDATE clients SET dirty = 0 WHERE dirty = 1") ||
	    expire(db, r, s) == -1 || ms_rules_applied(db, r) == -1)
		return -1;
	return set_mark(db);
}

int
ms_match_run(struct ms_db *db, int rematch, struct ms_match_stats *s)
{
	struct ms_rules r;
	int rc = -1, all = -1;
	char *mark = NULL;

	memset(s, 0, sizeof(*s));
	if (ms_db_bulk(db) == -1 || ms_db_begin(db) == -1)
		return -1;
	/* A database never matched has no rules applied to compare with:
	 * everything is evaluated, but nothing "changed". */
	if (ms_rules_load(db, &r) == 0 &&
	    ms_db_setting_get(db, MARK_KEY, &mark) == 0 &&
	    (all = ms_rules_changed(db, &r)) != -1) {
		s->first = mark == NULL;
		s->rules_changed = all && !s->first;
	}
	free(mark);
	if (all != -1 && run(db, &r, rematch, all, s) == 0 &&
	    ms_db_commit(db) == 0)
		rc = 0;
	else
		ms_db_rollback(db);
	ms_rules_finish(&r);
	return rc;
}
