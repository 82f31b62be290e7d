#include "cred.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "util.h"

/*
 * App credentials
 */

static char *
ctx_app(const char *provider)
{
	return ms_xasprintf("%s app secret", provider);
}

int
ms_cred_app_store(struct ms_db *db, const struct ms_secret_key *key,
    const char *provider, const struct ms_app *app)
{
	static const char *sql =
	    "INSERT INTO apps (provider, client_id, "
	    "secret, tenant, updated) VALUES (?1, ?2, ?3, ?4, unixepoch()) "
	    "ON CONFLICT (provider) DO UPDATE SET client_id = "
	    "excluded.client_id, "
	    "secret = excluded.secret, tenant = excluded.tenant, "
	    "updated = excluded.updated";
	unsigned char *blob = NULL;
	size_t len = 0;
	sqlite3_stmt *st;
	char *ctx;
	int rc;

	if (app->secret != NULL) {
		ctx = ctx_app(provider);
		ms_secret_seal(key, ctx, app->secret, &blob, &len);
		free(ctx);
	}
	if ((st = ms_db_stmt(db, sql)) == NULL) {
		free(blob);
		return -1;
	}
	sqlite3_bind_text(st, 1, provider, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, app->client_id, -1, SQLITE_STATIC);
	if (blob != NULL)
		sqlite3_bind_blob(st, 3, blob, (int)len, SQLITE_STATIC);
	ms_db_bind_text(st, 4, app->tenant);
	rc = ms_db_run(db, st);
	free(blob);
	return rc;
}

int
ms_cred_app_load(struct ms_db *db, const struct ms_secret_key *key,
    const char *provider, struct ms_app *app)
{
	static const char *sql = "SELECT client_id, secret, tenant FROM apps "
				 "WHERE provider = ?1";
	sqlite3_stmt *st;
	char *ctx;
	int rc;

	memset(app, 0, sizeof(*app));
	if ((st = ms_db_stmt(db, sql)) == NULL)
		return -1;
	sqlite3_bind_text(st, 1, provider, -1, SQLITE_STATIC);
	if ((rc = ms_db_step(db, st)) != SQLITE_ROW) {
		sqlite3_reset(st);
		return rc == SQLITE_DONE ? 1 : -1;
	}
	app->client_id = ms_xstrdup(ms_db_col_text(st, 0));
	if (sqlite3_column_type(st, 2) != SQLITE_NULL)
		app->tenant = ms_xstrdup(ms_db_col_text(st, 2));
	rc = 0;
	if (sqlite3_column_type(st, 1) != SQLITE_NULL) {
		ctx = ctx_app(provider);
		app->secret =
		    ms_secret_open(key, ctx, sqlite3_column_blob(st, 1),
			(size_t)sqlite3_column_bytes(st, 1));
		free(ctx);
		if (app->secret == NULL)
			rc = -1;
	}
	sqlite3_reset(st);
	if (rc == -1)
		ms_cred_app_finish(app);
	return rc;
}

void
ms_cred_app_finish(struct ms_app *app)
{
	free(app->client_id);
	ms_secret_free(app->secret);
	free(app->tenant);
	memset(app, 0, sizeof(*app));
}

void
ms_cred_tokens_finish(struct ms_tokens *t)
{
	ms_secret_free(t->access);
	ms_secret_free(t->refresh);
	free(t->scope);
	memset(t, 0, sizeof(*t));
}

/*
 * Stored tokens
 */

static char *
ctx_token(const char *provider, const char *address, const char *what)
{
	return ms_xasprintf("%s token of %s %s", what, provider, address);
}

static void
bind_sealed(sqlite3_stmt *st, int idx, const struct ms_secret_key *key,
    const char *ctx, const char *plain, unsigned char **blob)
{
	size_t len;

	ms_secret_seal(key, ctx, plain, blob, &len);
	sqlite3_bind_blob(st, idx, *blob, (int)len, SQLITE_STATIC);
}

int
ms_cred_tokens_save(struct ms_db *db, const struct ms_secret_key *key,
    int64_t account, const char *provider, const char *address,
    const struct ms_tokens *t)
{
	static const char *sql =
	    "INSERT INTO tokens (account_id, access, "
	    "expires, refresh, scope, updated) "
	    "VALUES (?1, ?2, ?3, ?4, ?5, unixepoch()) "
	    "ON CONFLICT (account_id) DO UPDATE SET access = excluded.access, "
	    "expires = excluded.expires, refresh = excluded.refresh, "
	    "scope = excluded.scope, updated = excluded.updated";
	unsigned char *a = NULL, *r = NULL;
	char *ca, *cr;
	sqlite3_stmt *st;
	int rc;

	if ((st = ms_db_stmt(db, sql)) == NULL)
		return -1;
	ca = ctx_token(provider, address, "access");
	cr = ctx_token(provider, address, "refresh");
	sqlite3_bind_int64(st, 1, account);
	bind_sealed(st, 2, key, ca, t->access, &a);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)t->expires);
	bind_sealed(st, 4, key, cr, t->refresh, &r);
	sqlite3_bind_text(st, 5, t->scope ? t->scope : "", -1, SQLITE_STATIC);
	rc = ms_db_run(db, st);
	free(a);
	free(r);
	free(ca);
	free(cr);
	return rc;
}

int
ms_cred_tokens_load(struct ms_db *db, const struct ms_secret_key *key,
    int64_t account, const char *provider, const char *address,
    struct ms_tokens *t)
{
	static const char *sql = "SELECT access, expires, refresh, scope "
				 "FROM tokens WHERE account_id = ?1";
	sqlite3_stmt *st;
	char *ca, *cr;
	int rc;

	memset(t, 0, sizeof(*t));
	if ((st = ms_db_stmt(db, sql)) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, account);
	if ((rc = ms_db_step(db, st)) != SQLITE_ROW) {
		sqlite3_reset(st);
		return rc == SQLITE_DONE ? ms_errc(EX_NOPERM,
					       "%s %s has no "
					       "tokens: connect it again",
					       provider, address)
					 : -1;
	}
	ca = ctx_token(provider, address, "access");
	cr = ctx_token(provider, address, "refresh");
	t->access = ms_secret_open(key, ca, sqlite3_column_blob(st, 0),
	    (size_t)sqlite3_column_bytes(st, 0));
	t->expires = (time_t)sqlite3_column_int64(st, 1);
	if (t->access != NULL)
		t->refresh = ms_secret_open(key, cr, sqlite3_column_blob(st, 2),
		    (size_t)sqlite3_column_bytes(st, 2));
	t->scope = ms_xstrdup(ms_db_col_text(st, 3));
	sqlite3_reset(st);
	free(ca);
	free(cr);
	if (t->access == NULL || t->refresh == NULL) {
		ms_cred_tokens_finish(t);
		return -1;
	}
	return 0;
}

int
ms_cred_tokens_forget(struct ms_db *db, int64_t account)
{
	static const char *sql = "DELETE FROM tokens WHERE account_id = ?1";
	static const char *imap = "UPDATE imap_servers SET password = NULL "
				  "WHERE account_id = ?1";
	sqlite3_stmt *st;

	if ((st = ms_db_stmt(db, sql)) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, account);
	if (ms_db_run(db, st) == -1 || (st = ms_db_stmt(db, imap)) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, account);
	return ms_db_run(db, st);
}

/*
 * IMAP servers and passwords
 */

static char *
ctx_imap(const char *address)
{
	return ms_xasprintf("password of imap %s", address);
}

void
ms_cred_imap_finish(struct ms_imap_server *srv)
{
	free(srv->host);
	free(srv->tls);
	free(srv->user);
	ms_secret_free(srv->password);
	memset(srv, 0, sizeof(*srv));
}

int
ms_cred_imap_save(struct ms_db *db, const struct ms_secret_key *key,
    int64_t account, const char *address, const struct ms_imap_server *srv)
{
	static const char *sql =
	    "INSERT INTO imap_servers (account_id, host, port, tls, user, "
	    "password, updated) VALUES (?1, ?2, ?3, ?4, ?5, ?6, unixepoch()) "
	    "ON CONFLICT (account_id) DO UPDATE SET host = excluded.host, "
	    "port = excluded.port, tls = excluded.tls, user = excluded.user, "
	    "password = excluded.password, updated = excluded.updated";
	unsigned char *blob = NULL;
	sqlite3_stmt *st;
	char *ctx;
	int rc;

	if ((st = ms_db_stmt(db, sql)) == NULL)
		return -1;
	ctx = ctx_imap(address);
	sqlite3_bind_int64(st, 1, account);
	sqlite3_bind_text(st, 2, srv->host, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 3, srv->port);
	sqlite3_bind_text(st, 4, srv->tls, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, srv->user, -1, SQLITE_STATIC);
	bind_sealed(st, 6, key, ctx, srv->password, &blob);
	rc = ms_db_run(db, st);
	free(blob);
	free(ctx);
	return rc;
}

int
ms_cred_imap_load(struct ms_db *db, const struct ms_secret_key *key,
    int64_t account, const char *address, struct ms_imap_server *srv)
{
	static const char *sql = "SELECT host, port, tls, user, password "
				 "FROM imap_servers WHERE account_id = ?1";
	sqlite3_stmt *st;
	char *ctx;
	int rc;

	memset(srv, 0, sizeof(*srv));
	if ((st = ms_db_stmt(db, sql)) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, account);
	if ((rc = ms_db_step(db, st)) != SQLITE_ROW ||
	    sqlite3_column_type(st, 4) == SQLITE_NULL) {
		sqlite3_reset(st);
		return rc == -1 ? -1
				: ms_errc(EX_NOPERM,
				      "imap %s has no password stored: "
				      "connect it again",
				      address);
	}
	srv->host = ms_xstrdup(ms_db_col_text(st, 0));
	srv->port = sqlite3_column_int(st, 1);
	srv->tls = ms_xstrdup(ms_db_col_text(st, 2));
	srv->user = ms_xstrdup(ms_db_col_text(st, 3));
	if (key == NULL) {
		sqlite3_reset(st);
		return 0;
	}
	ctx = ctx_imap(address);
	srv->password = ms_secret_open(key, ctx, sqlite3_column_blob(st, 4),
	    (size_t)sqlite3_column_bytes(st, 4));
	free(ctx);
	sqlite3_reset(st);
	if (srv->password == NULL) {
		ms_cred_imap_finish(srv);
		return -1;
	}
	return 0;
}

/*
 * The key
 */

int
ms_cred_sealed(struct ms_db *db)
{
	static const char *sql =
	    "SELECT EXISTS (SELECT 1 FROM apps WHERE secret IS NOT NULL) "
	    "OR EXISTS (SELECT 1 FROM tokens) OR EXISTS (SELECT 1 FROM "
	    "imap_servers WHERE password IS NOT NULL)";
	sqlite3_stmt *st;
	int rc;

	if ((st = ms_db_stmt(db, sql)) == NULL)
		return -1;
	if ((rc = ms_db_step(db, st)) != SQLITE_ROW) {
		sqlite3_reset(st);
		return -1;
	}
	rc = sqlite3_column_int(st, 0) != 0;
	sqlite3_reset(st);
	return rc;
}

struct ms_secret_key *
ms_cred_key_load(struct ms_db *db, int create)
{
	int sealed = ms_cred_sealed(db);

	if (sealed == -1)
		return NULL;
	return ms_secret_key_load(ms_db_path(db),
	    (create ? MS_SECRET_CREATE : 0) | (sealed ? MS_SECRET_SEALED : 0));
}

static int
run_count(struct ms_db *db, const char *sql, int *n)
{
	sqlite3_stmt *st;

	if ((st = ms_db_stmt(db, sql)) == NULL || ms_db_run(db, st) == -1)
		return -1;
	if (n != NULL)
		*n = sqlite3_changes(ms_db_handle(db));
	return 0;
}

int
ms_cred_discard_sealed(struct ms_db *db, int *apps, int *tokens)
{
	static const char *reauth =
	    "UPDATE accounts SET status = 'needs-reauth', last_error = "
	    "'its tokens were discarded with a lost key file: connect it "
	    "again' WHERE (id IN (SELECT account_id FROM tokens) OR id IN "
	    "(SELECT account_id FROM imap_servers WHERE password IS NOT "
	    "NULL)) AND status != 'disconnected'";
	int passwords = 0;

	*apps = *tokens = 0;
	if (run_count(db, reauth, NULL) == -1 ||
	    run_count(db, "DELETE FROM tokens", tokens) == -1 ||
	    run_count(db,
		"UPDATE imap_servers SET password = NULL "
		"WHERE password IS NOT NULL",
		&passwords) == -1 ||
	    run_count(db, "DELETE FROM apps WHERE secret IS NOT NULL", apps) ==
		-1)
		return -1;
	*tokens += passwords;
	return 0;
}

int
ms_cred_tokens_expiry(struct ms_db *db, int64_t account, time_t *expires)
{
	static const char *sql = "SELECT expires FROM tokens WHERE "
				 "account_id = ?1";
	sqlite3_stmt *st;
	int rc;

	*expires = 0;
	if ((st = ms_db_stmt(db, sql)) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, account);
	if ((rc = ms_db_step(db, st)) == SQLITE_ROW)
		*expires = (time_t)sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return rc == -1 ? -1 : 0;
}
