#include "account.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "addr.h"
#include "config.h"
#include "util.h"

/* The tracked folders' paths of account id, in path order: a new
 * vector of new strings. */
static int
folders_of(struct ms_db *db, int64_t id, char ***v, size_t *n)
{
	char **keys;

	if (ms_account_folders_get(db, id, &keys, v, n) == -1)
		return -1;
	ms_strv_free(keys, *n);
	return 0;
}

/*
 * Run sql, a write on account id (?1) that takes up to two texts, with a
 * as ?2 and b as ?3 as far as it has them (either may be NULL): 0 or -1.
 */
static int
run_on(
    struct ms_db *db, const char *sql, int64_t id, const char *a, const char *b)
{
	sqlite3_stmt *st;
	int n;

	if ((st = ms_db_stmt(db, sql)) == NULL)
		return -1;
	n = sqlite3_bind_parameter_count(st);
	sqlite3_bind_int64(st, 1, id);
	if (n >= 2)
		ms_db_bind_text(st, 2, a);
	if (n >= 3)
		ms_db_bind_text(st, 3, b);
	return ms_db_run(db, st);
}

/* One account's row, read off the list's statement before the folders'
 * query runs (a statement of the cache may be reset by another use). */
struct row {
	struct ms_account a;
	char *s[5];
	char **folders;
};

int
ms_account_each(
    struct ms_db *db, int (*fn)(const struct ms_account *, void *), void *arg)
{
	static const char *sql =
	    "SELECT a.id, a.provider, a.address, "
	    "a.member, a.status, a.last_sync, a.last_error, "
	    "(SELECT count(*) FROM email_accounts x WHERE x.account_id = "
	    "a.id), "
	    "a.status = 'active' AND coalesce(a.last_sync, a.created) < ?1, "
	    "a.kind FROM accounts a ORDER BY a.provider, a.address";
	struct row *rows = NULL, *r;
	sqlite3_stmt *st;
	size_t n = 0, i, k;
	double minutes;
	int rc;

	if (ms_config_num(db, "health.stale_minutes", &minutes) == -1)
		return -1;
	if ((st = ms_db_stmt(db, sql)) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)(time(NULL) - minutes * 60));
	while ((rc = ms_db_step(db, st)) == SQLITE_ROW) {
		rows = ms_xreallocarray(rows, n + 1, sizeof(*rows));
		r = &rows[n++];
		memset(r, 0, sizeof(*r));
		r->a.id = sqlite3_column_int64(st, 0);
		r->s[0] = ms_xstrdup(ms_db_col_text(st, 1));
		r->s[1] = ms_xstrdup(ms_db_col_text(st, 2));
		r->s[2] = ms_xstrdup(ms_db_col_text(st, 3));
		r->s[3] = ms_xstrdup(ms_db_col_text(st, 4));
		r->s[4] = ms_xstrdup(ms_db_col_text(st, 9));
		r->a.last_sync = (time_t)sqlite3_column_int64(st, 5);
		r->a.last_error = sqlite3_column_type(st, 6) == SQLITE_NULL
		    ? NULL
		    : ms_xstrdup(ms_db_col_text(st, 6));
		r->a.emails = sqlite3_column_int64(st, 7);
		r->a.stale = sqlite3_column_int(st, 8);
	}
	sqlite3_reset(st);
	for (i = 0; rc != -1 && i < n; i++) {
		r = &rows[i];
		r->a.provider = r->s[0];
		r->a.address = r->s[1];
		r->a.member = r->s[2];
		r->a.status = r->s[3];
		r->a.kind = r->s[4];
		if (folders_of(db, r->a.id, &r->folders, &r->a.nfolders) ==
		    -1) {
			rc = -1;
			break;
		}
		r->a.folders = r->folders;
		if (fn(&r->a, arg) == -1)
			rc = -1;
	}
	for (i = 0; i < n; i++) {
		for (k = 0; k < 5; k++)
			free(rows[i].s[k]);
		free((char *)rows[i].a.last_error);
		ms_strv_free(rows[i].folders, rows[i].a.nfolders);
	}
	free(rows);
	return rc == -1 ? -1 : 0;
}

int
ms_account_upsert(struct ms_db *db, const char *provider, const char *address,
    const char *member, const char *default_member, int64_t *id, int *existed,
    char **stored)
{
	/* An explicit member (?3) wins; else a new account gets the
	 * default (?4) and an existing one keeps its member. */
	static const char *sql =
	    "INSERT INTO accounts (provider, address, member, created) "
	    "VALUES (?1, ?2, coalesce(?3, ?4), unixepoch()) "
	    "ON CONFLICT (provider, address) DO UPDATE SET "
	    "member = coalesce(?3, member), status = 'active', "
	    "last_error = NULL RETURNING id, member";
	static const char *find = "SELECT id FROM accounts "
				  "WHERE provider = ?1 AND address = ?2";
	sqlite3_stmt *st;
	int rc;

	if ((st = ms_db_stmt(db, find)) == NULL)
		return -1;
	sqlite3_bind_text(st, 1, provider, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, address, -1, SQLITE_STATIC);
	rc = ms_db_step(db, st);
	sqlite3_reset(st);
	if (rc == -1)
		return -1;
	*existed = rc == SQLITE_ROW;
	if ((st = ms_db_stmt(db, sql)) == NULL)
		return -1;
	sqlite3_bind_text(st, 1, provider, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, address, -1, SQLITE_STATIC);
	ms_db_bind_text(st, 3, member);
	sqlite3_bind_text(st, 4, default_member, -1, SQLITE_STATIC);
	if (ms_db_step(db, st) != SQLITE_ROW) {
		sqlite3_reset(st);
		return -1;
	}
	*id = sqlite3_column_int64(st, 0);
	*stored = ms_xstrdup(ms_db_col_text(st, 1));
	sqlite3_reset(st);
	return 0;
}

int
ms_account_find(struct ms_db *db, const char *provider, const char *address,
    int64_t *id, char **prov)
{
	static const char *sql =
	    "SELECT id, provider FROM accounts "
	    "WHERE address = ?1 AND (?2 IS NULL OR provider = ?2) "
	    "ORDER BY provider";
	sqlite3_stmt *st;
	char *norm;
	int rc, n = 0;

	if (prov != NULL)
		*prov = NULL;
	if ((norm = ms_addr_normalize(address)) == NULL)
		return 1;
	if ((st = ms_db_stmt(db, sql)) == NULL) {
		free(norm);
		return -1;
	}
	sqlite3_bind_text(st, 1, norm, -1, SQLITE_STATIC);
	ms_db_bind_text(st, 2, provider);
	while ((rc = ms_db_step(db, st)) == SQLITE_ROW) {
		if (n++ > 0)
			continue;
		*id = sqlite3_column_int64(st, 0);
		if (prov != NULL)
			*prov = ms_xstrdup(ms_db_col_text(st, 1));
	}
	sqlite3_reset(st);
	if (rc != -1 && n > 1)
		rc = ms_errc(EX_USAGE,
		    "%s is connected with more than one "
		    "provider: name one with --provider",
		    norm);
	free(norm);
	if (rc == -1 && prov != NULL) {
		free(*prov);
		*prov = NULL;
	}
	if (rc == -1)
		return -1;
	return n == 0;
}

int
ms_account_origin_get(struct ms_db *db, int64_t id, char **kind, char **tenant)
{
	static const char *sql =
	    "SELECT kind, tenant FROM accounts WHERE id = ?1";
	sqlite3_stmt *st;
	int rc;

	*kind = *tenant = NULL;
	if ((st = ms_db_stmt(db, sql)) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	if ((rc = ms_db_step(db, st)) == SQLITE_ROW) {
		*kind = ms_xstrdup(ms_db_col_text(st, 0));
		if (sqlite3_column_type(st, 1) != SQLITE_NULL)
			*tenant = ms_xstrdup(ms_db_col_text(st, 1));
	}
	sqlite3_reset(st);
	return rc == -1 ? -1 : rc != SQLITE_ROW;
}

int
ms_account_origin_set(
    struct ms_db *db, int64_t id, const char *kind, const char *tenant)
{
	static const char *sql =
	    "UPDATE accounts SET kind = ?2, tenant = ?3 WHERE id = ?1";

	return run_on(db, sql, id, kind, tenant);
}

int
ms_account_folder_put(
    struct ms_db *db, int64_t id, const char *key, const char *name)
{
	static const char *sql =
	    "INSERT INTO account_folders (account_id, folder, name) "
	    "VALUES (?1, ?2, ?3) ON CONFLICT (account_id, folder) "
	    "DO UPDATE SET name = excluded.name WHERE name <> excluded.name";

	return run_on(db, sql, id, key, name);
}

int
ms_account_folder_drop(struct ms_db *db, int64_t id, const char *key)
{
	static const char *sql = "DELETE FROM account_folders "
				 "WHERE account_id = ?1 AND folder = ?2";

	return run_on(db, sql, id, key, NULL);
}

int
ms_account_folders_get(
    struct ms_db *db, int64_t id, char ***keys, char ***names, size_t *n)
{
	static const char *sql = "SELECT folder, name FROM account_folders "
				 "WHERE account_id = ?1 ORDER BY name, folder";
	sqlite3_stmt *st;
	int rc;

	*keys = *names = NULL;
	*n = 0;
	if ((st = ms_db_stmt(db, sql)) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	while ((rc = ms_db_step(db, st)) == SQLITE_ROW) {
		*keys = ms_xreallocarray(*keys, *n + 1, sizeof(**keys));
		*names = ms_xreallocarray(*names, *n + 1, sizeof(**names));
		(*keys)[*n] = ms_xstrdup(ms_db_col_text(st, 0));
		(*names)[(*n)++] = ms_xstrdup(ms_db_col_text(st, 1));
	}
	sqlite3_reset(st);
	if (rc == -1) {
		ms_strv_free(*keys, *n);
		ms_strv_free(*names, *n);
		*keys = *names = NULL;
		*n = 0;
		return -1;
	}
	return 0;
}

int
ms_account_folder_clear(struct ms_db *db, int64_t id)
{
	static const char *sql =
	    "DELETE FROM account_folders WHERE account_id = ?1";

	return run_on(db, sql, id, NULL, NULL);
}

int
ms_account_set_status(
    struct ms_db *db, int64_t id, const char *status, const char *last_error)
{
	static const char *sql = "UPDATE accounts SET status = ?2, "
				 "last_error = ?3 WHERE id = ?1";

	return run_on(db, sql, id, status, last_error);
}

int
ms_account_synced(struct ms_db *db, int64_t id)
{
	static const char *sql =
	    "UPDATE accounts SET status = 'active', "
	    "last_sync = unixepoch(), last_error = NULL WHERE id = ?1";

	return run_on(db, sql, id, NULL, NULL);
}

int
ms_account_health_get(struct ms_db *db, int64_t id, struct ms_account_health *h)
{
	static const char *sql =
	    "SELECT coalesce(failing_since, 0), coalesce(notified, 0) "
	    "FROM accounts WHERE id = ?1";
	sqlite3_stmt *st;
	int rc;

	memset(h, 0, sizeof(*h));
	if ((st = ms_db_stmt(db, sql)) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	if ((rc = ms_db_step(db, st)) == SQLITE_ROW) {
		h->failing_since = (time_t)sqlite3_column_int64(st, 0);
		h->notified = (time_t)sqlite3_column_int64(st, 1);
	}
	sqlite3_reset(st);
	return rc == -1 ? -1 : 0;
}

int
ms_account_health_set(
    struct ms_db *db, int64_t id, const struct ms_account_health *h)
{
	static const char *sql =
	    "UPDATE accounts SET failing_since = nullif(?2, 0), "
	    "notified = nullif(?3, 0) WHERE id = ?1";
	sqlite3_stmt *st;

	if ((st = ms_db_stmt(db, sql)) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)h->failing_since);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)h->notified);
	return ms_db_run(db, st);
}

time_t
ms_account_now(void)
{
	const char *v = getenv("MAILSYNC_NOW"), *errstr;
	long long t;

	if (v != NULL && *v != '\0') {
		t = strtonum(v, 1, INT64_MAX, &errstr);
		if (errstr == NULL)
			return (time_t)t;
	}
	return time(NULL);
}

const char *
ms_account_problem(
    const struct ms_account *a, time_t now, char *buf, size_t len)
{
	static const char reauth[] =
	    "needs re-authorization (mailsync-connect): ";
	const char *err = a->last_error ? a->last_error : "no error recorded";
	const char *p;
	long h;

	/* Each fact once: pull may have stored the whole sentence. */
	if ((p = strstr(err, reauth)) != NULL)
		err = p + sizeof(reauth) - 1;
	if (strcmp(a->status, "needs-reauth") == 0)
		snprintf(buf, len, "%s%s", reauth, err);
	else if (strcmp(a->status, "error") == 0)
		snprintf(buf, len, "failing: %s", err);
	else if (a->stale && a->last_sync == 0)
		snprintf(buf, len, "never synced since it was connected");
	else if (a->stale) {
		h = (long)((now - a->last_sync) / 60);
		snprintf(buf, len, "no successful sync for %ldh%02ldm", h / 60,
		    h % 60);
	} else
		return NULL;
	return buf;
}

/*
 * Run sql, which takes a normalised address (?1) and an account id (?2),
 * on address: 0 when it changed a row, 1 when it changed none, -1 (and
 * EX_DATAERR when address is not one).
 */
static int
alias_write(struct ms_db *db, const char *sql, int64_t id, const char *address)
{
	sqlite3_stmt *st;
	char *norm;
	int rc;

	if ((norm = ms_addr_normalize(address)) == NULL)
		return ms_errc(EX_DATAERR, "\"%s\": not an address", address);
	if ((st = ms_db_stmt(db, sql)) == NULL) {
		free(norm);
		return -1;
	}
	sqlite3_bind_text(st, 1, norm, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, id);
	rc = ms_db_run(db, st);
	free(norm);
	if (rc == -1)
		return -1;
	return sqlite3_changes(ms_db_handle(db)) == 0;
}

int
ms_account_alias_add(struct ms_db *db, int64_t id, const char *address)
{
	static const char *sql = "INSERT OR IGNORE INTO aliases "
				 "(address, account_id, origin) "
				 "VALUES (?1, ?2, 'manual')";

	return alias_write(db, sql, id, address);
}

int
ms_account_alias_remove(struct ms_db *db, int64_t id, const char *address)
{
	static const char *sql = "DELETE FROM aliases WHERE address = ?1 "
				 "AND account_id = ?2 AND origin = 'manual'";

	return alias_write(db, sql, id, address);
}

/* A provider's odd entry is skipped: not our failure. */
static int
provider_alias(struct ms_db *db, int64_t id, const char *address)
{
	static const char *sql = "INSERT OR IGNORE INTO aliases "
				 "(address, account_id, origin) "
				 "VALUES (?1, ?2, 'provider')";
	char *norm;

	if ((norm = ms_addr_normalize(address)) == NULL)
		return 0;
	free(norm);
	return alias_write(db, sql, id, address) == -1 ? -1 : 0;
}

int
ms_account_aliases_set(
    struct ms_db *db, int64_t id, char *const *addrs, size_t n, time_t now)
{
	static const char *del =
	    "DELETE FROM aliases "
	    "WHERE account_id = ?1 AND origin = 'provider'";
	static const char *stamp =
	    "UPDATE accounts SET aliases_read = ?2 WHERE id = ?1";
	sqlite3_stmt *st;
	size_t i;

	if (run_on(db, del, id, NULL, NULL) == -1)
		return -1;
	for (i = 0; i < n; i++)
		if (provider_alias(db, id, addrs[i]) == -1)
			return -1;
	if ((st = ms_db_stmt(db, stamp)) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)now);
	return ms_db_run(db, st);
}

int
ms_account_aliases_due(struct ms_db *db, int64_t id, time_t max_age)
{
	static const char *sql =
	    "SELECT coalesce(aliases_read, 0) FROM accounts WHERE id = ?1";
	sqlite3_stmt *st;
	time_t read = 0;
	int rc;

	if ((st = ms_db_stmt(db, sql)) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	if ((rc = ms_db_step(db, st)) == SQLITE_ROW)
		read = (time_t)sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	if (rc == -1)
		return -1;
	return time(NULL) - read >= max_age;
}

int
ms_account_each_alias(
    struct ms_db *db, int (*fn)(const struct ms_alias *, void *), void *arg)
{
	static const char *sql =
	    "SELECT al.address, ac.address, ac.provider, al.origin "
	    "FROM aliases al JOIN accounts ac ON ac.id = al.account_id "
	    "ORDER BY al.address, ac.provider, ac.address";
	struct ms_alias a;
	sqlite3_stmt *st;
	int rc;

	if ((st = ms_db_stmt(db, sql)) == NULL)
		return -1;
	while ((rc = ms_db_step(db, st)) == SQLITE_ROW) {
		a.address = ms_db_col_text(st, 0);
		a.account = ms_db_col_text(st, 1);
		a.provider = ms_db_col_text(st, 2);
		a.origin = ms_db_col_text(st, 3);
		if (fn(&a, arg) == -1) {
			rc = -1;
			break;
		}
	}
	sqlite3_reset(st);
	return rc == -1 ? -1 : 0;
}

int
ms_account_is_business(struct ms_db *db, const char *address)
{
	static const char *sql =
	    "SELECT 1 WHERE ?1 IN (" MS_ACCOUNT_BUSINESS_SQL ")";
	sqlite3_stmt *st;
	int rc;

	if ((st = ms_db_stmt(db, sql)) == NULL)
		return -1;
	sqlite3_bind_text(st, 1, address, -1, SQLITE_STATIC);
	rc = ms_db_step(db, st);
	sqlite3_reset(st);
	return rc == -1 ? -1 : rc == SQLITE_ROW;
}

/* The emails only account ?1 synced, but CRM ones. */
#define ONLY_THIS_ACCOUNT                                                      \
	"FROM emails WHERE source <> 'crm' AND id IN "                         \
	"(SELECT email_id FROM email_accounts WHERE account_id = ?1) "         \
	"AND NOT EXISTS (SELECT 1 FROM email_accounts x "                      \
	"WHERE x.email_id = emails.id AND x.account_id <> ?1)"

int
ms_account_purge_count(struct ms_db *db, int64_t id, int64_t *n)
{
	static const char *sql = "SELECT count(*) " ONLY_THIS_ACCOUNT;
	sqlite3_stmt *st;
	int rc;

	if ((st = ms_db_stmt(db, sql)) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	if ((rc = ms_db_step(db, st)) == SQLITE_ROW)
		*n = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return rc == SQLITE_ROW ? 0 : -1;
}

int
ms_account_purge(struct ms_db *db, int64_t id, int64_t *deleted)
{
	static const char *emails = "DELETE " ONLY_THIS_ACCOUNT;
	static const char *account = "DELETE FROM accounts WHERE id = ?1";

	if (run_on(db, emails, id, NULL, NULL) == -1)
		return -1;
	*deleted = sqlite3_changes64(ms_db_handle(db));
	return run_on(db, account, id, NULL, NULL);
}
