#include "client.h"

#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "account.h"
#include "util.h"

/* The wanted address rows of a client, in (kind, pos) order. */
struct addr_row {
	int kind;
	int pos;
	int64_t address_id;
	const char *name;
};

static int
wanted_rows(struct ms_db *db, const struct ms_client *c,
    struct addr_row **rowsp, size_t *np)
{
	struct addr_row *rows;
	size_t n = 0, i;

	rows = ms_xreallocarray(NULL, c->contacts.n + 2, sizeof(*rows));
	if (c->email != NULL)
		rows[n++] = (struct addr_row){
		    MS_CLIENT_MAIN, 0, ms_db_address_id(db, c->email), ""};
	if (c->portal_email != NULL)
		rows[n++] = (struct addr_row){MS_CLIENT_PORTAL, 0,
		    ms_db_address_id(db, c->portal_email), ""};
	for (i = 0; i < c->contacts.n; i++)
		rows[n++] = (struct addr_row){MS_CLIENT_CONTACT, (int)i,
		    ms_db_address_id(db, c->contacts.v[i].email),
		    c->contacts.v[i].name};
	for (i = 0; i < n; i++)
		if (rows[i].address_id == -1) {
			free(rows);
			return -1;
		}
	*rowsp = rows;
	*np = n;
	return 0;
}

/* Whether the stored rows of client id equal rows[0..n); -1 on error. */
static int
same_rows(struct ms_db *db, int64_t id, const struct addr_row *rows, size_t n)
{
	static const char *sql =
	    "SELECT kind, pos, address_id, name "
	    "FROM client_addrs WHERE client_id = ?1 ORDER BY kind, pos";
	sqlite3_stmt *st;
	size_t i = 0;
	int rc, same = 1;

	if ((st = ms_db_stmt(db, sql)) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	while ((rc = ms_db_step(db, st)) == SQLITE_ROW) {
		if (i >= n || sqlite3_column_int(st, 0) != rows[i].kind ||
		    sqlite3_column_int(st, 1) != rows[i].pos ||
		    sqlite3_column_int64(st, 2) != rows[i].address_id ||
		    strcmp(ms_db_col_text(st, 3), rows[i].name) != 0)
			same = 0;
		i++;
	}
	sqlite3_reset(st);
	if (rc == -1)
		return -1;
	return same && i == n;
}

static int
store_rows(struct ms_db *db, int64_t id, const struct addr_row *rows, size_t n,
    int replace)
{
	static const char *del =
	    "DELETE FROM client_addrs WHERE client_id = ?1";
	static const char *ins = "INSERT INTO client_addrs "
				 "(client_id, kind, pos, address_id, name) "
				 "VALUES (?1, ?2, ?3, ?4, ?5)";
	sqlite3_stmt *st;
	size_t i;

	if (replace) {
		if ((st = ms_db_stmt(db, del)) == NULL)
			return -1;
		sqlite3_bind_int64(st, 1, id);
		if (ms_db_run(db, st) == -1)
			return -1;
	}
	for (i = 0; i < n; i++) {
		if ((st = ms_db_stmt(db, ins)) == NULL)
			return -1;
		sqlite3_bind_int64(st, 1, id);
		sqlite3_bind_int(st, 2, rows[i].kind);
		sqlite3_bind_int(st, 3, rows[i].pos);
		sqlite3_bind_int64(st, 4, rows[i].address_id);
		sqlite3_bind_text(st, 5, rows[i].name, -1, SQLITE_STATIC);
		if (ms_db_run(db, st) == -1)
			return -1;
	}
	return 0;
}

/* Find a client row: 0 with *id and *name (borrowed until next use) set,
 * 1 when absent, -1 on error. */
static int
find_client(struct ms_db *db, const char *crm_id, int64_t *id, char **name)
{
	static const char *sql =
	    "SELECT id, name FROM clients WHERE crm_id = ?1";
	sqlite3_stmt *st;
	int rc;

	if ((st = ms_db_stmt(db, sql)) == NULL)
		return -1;
	sqlite3_bind_text(st, 1, crm_id, -1, SQLITE_STATIC);
	rc = ms_db_step(db, st);
	if (rc == SQLITE_ROW) {
		*id = sqlite3_column_int64(st, 0);
		if (name)
			*name = ms_xstrdup(ms_db_col_text(st, 1));
	}
	sqlite3_reset(st);
	return rc == -1 ? -1 : rc == SQLITE_DONE;
}

static int
upsert(
    struct ms_db *db, const struct ms_client *c, struct ms_import_stats *stats)
{
	static const char *ins = "INSERT INTO clients (crm_id, name, dirty) "
				 "VALUES (?1, ?2, 1) RETURNING id";
	static const char *upd =
	    "UPDATE clients SET name = ?2, dirty = dirty OR ?3 WHERE id = ?1";
	struct addr_row *rows;
	sqlite3_stmt *st;
	char *oldname = NULL;
	int64_t id;
	size_t n;
	int found, same, rc = -1;

	if (wanted_rows(db, c, &rows, &n) == -1)
		return -1;
	if ((found = find_client(db, c->crm_id, &id, &oldname)) == -1)
		goto out;
	if (found == 1) {
		if ((st = ms_db_stmt(db, ins)) == NULL)
			goto out;
		sqlite3_bind_text(st, 1, c->crm_id, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, c->name, -1, SQLITE_STATIC);
		if (ms_db_step(db, st) != SQLITE_ROW)
			goto out;
		id = sqlite3_column_int64(st, 0);
		sqlite3_reset(st);
		stats->added++;
		rc = store_rows(db, id, rows, n, 0);
		goto out;
	}
	if ((same = same_rows(db, id, rows, n)) == -1)
		goto out;
	if (same && strcmp(oldname, c->name) == 0) {
		stats->unchanged++;
		rc = 0;
		goto out;
	}
	stats->updated++;
	if ((st = ms_db_stmt(db, upd)) == NULL)
		goto out;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_text(st, 2, c->name, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 3, !same);
	if (ms_db_run(db, st) == -1)
		goto out;
	rc = same ? 0 : store_rows(db, id, rows, n, 1);
out:
	free(oldname);
	free(rows);
	return rc;
}

static int
remove_absent(struct ms_db *db, const struct ms_clientset *set,
    struct ms_import_stats *stats)
{
	static const char *ins = "INSERT OR IGNORE INTO temp.import_ids "
				 "(crm_id) VALUES (?1)";
	sqlite3_stmt *st;
	size_t i;

	if (ms_db_exec(db,
		"CREATE TEMP TABLE IF NOT EXISTS import_ids "
		"(crm_id TEXT PRIMARY KEY) WITHOUT ROWID;"
		"DELETE FROM temp.import_ids") == -1)
		return -1;
	for (i = 0; i < set->n; i++) {
		if ((st = ms_db_stmt(db, ins)) == NULL)
			return -1;
		sqlite3_bind_text(st, 1, set->v[i].crm_id, -1, SQLITE_STATIC);
		if (ms_db_run(db, st) == -1)
			return -1;
	}
	if (ms_db_exec(db,
		"DELETE FROM clients WHERE crm_id NOT IN "
		"(SELECT crm_id FROM temp.import_ids)") == -1)
		return -1;
	stats->removed = (size_t)sqlite3_changes(ms_db_handle(db));
	return ms_db_exec(db, "DROP TABLE temp.import_ids");
}

int
ms_client_import(struct ms_db *db, const struct ms_clientset *set, int replace,
    struct ms_import_stats *stats)
{
	size_t i;

	memset(stats, 0, sizeof(*stats));
	if (ms_db_bulk(db) == -1 || ms_db_begin(db) == -1)
		return -1;
	for (i = 0; i < set->n; i++)
		if (upsert(db, &set->v[i], stats) == -1)
			goto fail;
	if (replace && remove_absent(db, set, stats) == -1)
		goto fail;
	if (ms_db_commit(db) == -1)
		goto fail;
	return 0;
fail:
	ms_db_rollback(db);
	return -1;
}

int
ms_client_each_team_address(struct ms_db *db,
    int (*fn)(const char *crm_id, const char *address, void *), void *arg)
{
	static const char *sql =
	    "SELECT DISTINCT c.crm_id, a.email FROM clients c "
	    "JOIN client_addrs ca ON ca.client_id = c.id "
	    "JOIN addresses a ON a.id = ca.address_id "
	    "WHERE c.dirty = 1 AND a.email IN (" MS_ACCOUNT_BUSINESS_SQL
	    ") ORDER BY 1, 2";
	sqlite3_stmt *st;
	int rc;

	if ((st = ms_db_stmt(db, sql)) == NULL)
		return -1;
	while ((rc = ms_db_step(db, st)) == SQLITE_ROW)
		if (fn(ms_db_col_text(st, 0), ms_db_col_text(st, 1), arg) ==
		    -1) {
			rc = -1;
			break;
		}
	sqlite3_reset(st);
	return rc == -1 ? -1 : 0;
}

int
ms_client_remove(struct ms_db *db, const char *crm_id)
{
	static const char *sql = "DELETE FROM clients WHERE crm_id = ?1";
	sqlite3_stmt *st;

	if ((st = ms_db_stmt(db, sql)) == NULL)
		return -1;
	sqlite3_bind_text(st, 1, crm_id, -1, SQLITE_STATIC);
	if (ms_db_run(db, st) == -1)
		return -1;
	return sqlite3_changes(ms_db_handle(db)) == 0;
}

static int
lookup_by_address(struct ms_db *db, const char *key, int64_t *id)
{
	static const char *sql =
	    "SELECT DISTINCT c.id, c.crm_id "
	    "FROM addresses a JOIN client_addrs ca ON ca.address_id = a.id "
	    "JOIN clients c ON c.id = ca.client_id WHERE a.email = ?1 "
	    "ORDER BY c.crm_id";
	struct ms_buf ids = {0};
	sqlite3_stmt *st;
	char *email;
	int rc, n = 0;

	if ((email = ms_addr_normalize(key)) == NULL)
		return 1;
	if ((st = ms_db_stmt(db, sql)) == NULL) {
		free(email);
		return -1;
	}
	sqlite3_bind_text(st, 1, email, -1, SQLITE_STATIC);
	while ((rc = ms_db_step(db, st)) == SQLITE_ROW) {
		if (n++ == 0)
			*id = sqlite3_column_int64(st, 0);
		ms_buf_printf(
		    &ids, "%s%s", n > 1 ? ", " : "", ms_db_col_text(st, 1));
	}
	sqlite3_reset(st);
	if (rc != -1 && n > 1)
		rc = ms_errc(EX_DATAERR,
		    "%s is on several clients (%s): "
		    "name one by its id",
		    email, ids.s);
	free(email);
	ms_buf_finish(&ids);
	if (rc == -1)
		return -1;
	return n == 0;
}

int
ms_client_lookup(struct ms_db *db, const char *key, int64_t *id)
{
	int rc;

	if ((rc = find_client(db, key, id, NULL)) != 1)
		return rc;
	if (strchr(key, '@') == NULL)
		return 1;
	return lookup_by_address(db, key, id);
}

/* Append the address row at st to c. */
static void
load_row(struct ms_client *c, sqlite3_stmt *st)
{
	const char *email = ms_db_col_text(st, 3);
	struct ms_addr *a;

	switch (sqlite3_column_int(st, 2)) {
	case MS_CLIENT_MAIN: c->email = ms_xstrdup(email); break;
	case MS_CLIENT_PORTAL: c->portal_email = ms_xstrdup(email); break;
	default:
		if (c->contacts.n == c->contacts.cap) {
			c->contacts.cap =
			    c->contacts.cap ? c->contacts.cap * 2 : 4;
			c->contacts.v = ms_xreallocarray(c->contacts.v,
			    c->contacts.cap, sizeof(*c->contacts.v));
		}
		a = &c->contacts.v[c->contacts.n++];
		a->name = ms_xstrdup(ms_db_col_text(st, 4));
		a->email = ms_xstrdup(email);
	}
}

/* The address rows of client id, in kind and position order. */
int
ms_client_get(struct ms_db *db, int64_t id, struct ms_client *c)
{
	static const char *sql =
	    "SELECT c.id, c.crm_id, ca.kind, a.email, ca.name, c.name "
	    "FROM clients c "
	    "LEFT JOIN client_addrs ca ON ca.client_id = c.id "
	    "LEFT JOIN addresses a ON a.id = ca.address_id "
	    "WHERE c.id = ?1 ORDER BY ca.kind, ca.pos";
	sqlite3_stmt *st;
	int rc, found = 0;

	memset(c, 0, sizeof(*c));
	if ((st = ms_db_stmt(db, sql)) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	while ((rc = ms_db_step(db, st)) == SQLITE_ROW) {
		if (!found++) {
			c->crm_id = ms_xstrdup(ms_db_col_text(st, 1));
			c->name = ms_xstrdup(ms_db_col_text(st, 5));
		}
		if (sqlite3_column_type(st, 3) != SQLITE_NULL)
			load_row(c, st);
	}
	sqlite3_reset(st);
	if (rc == -1) {
		ms_client_finish(c);
		return -1;
	}
	return found ? 0 : 1;
}

int
ms_client_each(
    struct ms_db *db, int (*fn)(const struct ms_client *, void *), void *arg)
{
	static const char *sql =
	    "SELECT c.id, c.crm_id, ca.kind, a.email, "
	    "ca.name, c.name FROM clients c "
	    "LEFT JOIN client_addrs ca ON ca.client_id = c.id "
	    "LEFT JOIN addresses a ON a.id = ca.address_id "
	    "ORDER BY c.crm_id, ca.kind, ca.pos";
	struct ms_client c = {0};
	sqlite3_stmt *st;
	int64_t cur = -1;
	int rc;

	if ((st = ms_db_stmt(db, sql)) == NULL)
		return -1;
	while ((rc = ms_db_step(db, st)) == SQLITE_ROW) {
		if (sqlite3_column_int64(st, 0) != cur) {
			if (cur != -1 && fn(&c, arg) == -1)
				goto stop;
			ms_client_finish(&c);
			cur = sqlite3_column_int64(st, 0);
			c.crm_id = ms_xstrdup(ms_db_col_text(st, 1));
			c.name = ms_xstrdup(ms_db_col_text(st, 5));
		}
		if (sqlite3_column_type(st, 3) != SQLITE_NULL)
			load_row(&c, st);
	}
	if (rc != -1 && cur != -1 && fn(&c, arg) == -1)
		goto stop;
	ms_client_finish(&c);
	sqlite3_reset(st);
	return rc == -1 ? -1 : 0;
stop:
	ms_client_finish(&c);
	sqlite3_reset(st);
	return -1;
}

/*
 * The least string above every string that starts with prefix, for a
 * range read: prefix with its last byte raised (carrying), or "\xF5",
 * above any UTF-8 text (no UTF-8 byte is F5 or more), when there is no
 * such string.
 */
static char *
prefix_end(const char *prefix)
{
	char *end = ms_xstrdup(prefix);
	size_t n = strlen(end);

	while (n > 0 && (unsigned char)end[n - 1] >= 0xF5)
		end[--n] = '\0';
	if (n == 0) {
		free(end);
		return ms_xstrdup("\xF5");
	}
	end[n - 1]++;
	return end;
}

/* The most addresses a completion reads (see ms_client_complete). */
#define SCAN_BUDGET "20000"

int
ms_client_complete(struct ms_db *db, const char *prefix, long long limit,
    int (*fn)(const char *value, const char *kind, const char *what, void *),
    void *arg)
{
	/*
	 * Ids: one range of the crm_id index. Addresses: addresses holds
	 * every participant of every email, most of them no client's, so
	 * its range is read SCAN_BUDGET rows at most, each checked against
	 * client_addrs: a bounded time whatever the database holds. A short
	 * prefix that strangers' addresses crowd may so miss client ones; a
	 * longer prefix finds them.
	 */
	static const char *sql =
	    "SELECT v, 'id', w FROM (SELECT crm_id AS v, name AS w "
	    "FROM clients WHERE crm_id >= ?1 AND crm_id < ?2 "
	    "ORDER BY crm_id LIMIT ?5) "
	    "UNION ALL SELECT v, 'address', w FROM (SELECT a.email AS v, "
	    "(SELECT min(c.crm_id) FROM client_addrs ca "
	    "JOIN clients c ON c.id = ca.client_id "
	    "WHERE ca.address_id = a.id) AS w "
	    "FROM (SELECT id, email FROM addresses "
	    "WHERE email >= ?3 AND email < ?4 "
	    "ORDER BY email LIMIT " SCAN_BUDGET ") a) "
	    "WHERE w IS NOT NULL ORDER BY 1 LIMIT ?5";
	char *end, *lower, *lower_end;
	sqlite3_stmt *st;
	size_t i;
	int rc;

	lower = ms_xstrdup(prefix);
	for (i = 0; lower[i] != '\0'; i++)
		lower[i] = ms_ascii_lower(lower[i]);
	end = prefix_end(prefix);
	lower_end = prefix_end(lower);
	if ((st = ms_db_stmt(db, sql)) == NULL) {
		rc = -1;
		goto out;
	}
	sqlite3_bind_text(st, 1, prefix, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, end, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, lower, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, lower_end, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, limit > 0 ? limit : -1);
	while ((rc = ms_db_step(db, st)) == SQLITE_ROW)
		if (fn(ms_db_col_text(st, 0), ms_db_col_text(st, 1),
			ms_db_col_text(st, 2), arg) == -1) {
			rc = -1;
			break;
		}
	sqlite3_reset(st);
out:
	free(end);
	free(lower);
	free(lower_end);
	return rc == -1 ? -1 : 0;
}
