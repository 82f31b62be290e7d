#include "oauth.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sysexits.h>
#include <unistd.h>

#include "http.h"
#include "log.h"
#include "util.h"

#define REQ_MAX 8192

/*
 * App credentials
 */

static char *
ctx_app(const char *provider)
{
	return ms_xasprintf("%s app secret", provider);
}

int
ms_app_store(struct ms_db *db, const struct ms_secret_key *key,
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
ms_app_load(struct ms_db *db, const struct ms_secret_key *key,
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
		ms_app_finish(app);
	return rc;
}

void
ms_app_finish(struct ms_app *app)
{
	free(app->client_id);
	ms_secret_free(app->secret);
	free(app->tenant);
	memset(app, 0, sizeof(*app));
}

void
ms_tokens_finish(struct ms_tokens *t)
{
	ms_secret_free(t->access);
	ms_secret_free(t->refresh);
	free(t->scope);
	memset(t, 0, sizeof(*t));
}

/*
 * The authorization request
 */

char *
ms_oauth_auth_url(const struct ms_provider *p, const struct ms_app *app,
    const char *redirect, const char *challenge, const char *state,
    const char *login_hint)
{
	struct ms_buf q = {0};
	char *url;

	ms_http_form_add(&q, "client_id", app->client_id);
	ms_http_form_add(&q, "redirect_uri", redirect);
	ms_http_form_add(&q, "response_type", "code");
	ms_http_form_add(&q, "scope", p->scope);
	ms_http_form_add(&q, "code_challenge", challenge);
	ms_http_form_add(&q, "code_challenge_method", "S256");
	ms_http_form_add(&q, "state", state);
	if (login_hint != NULL)
		ms_http_form_add(&q, "login_hint", login_hint);
	ms_buf_printf(&q, "&%s", p->extra_auth);
	url = ms_xasprintf(
	    "%s%c%s", p->auth_url, strchr(p->auth_url, '?') ? '&' : '?', q.s);
	ms_buf_finish(&q);
	return url;
}

/* The value of key in a query string (a new string), or NULL. */
static char *
query_get(const char *q, const char *key)
{
	size_t kl = strlen(key), n;
	const char *p = q, *end;

	while (p != NULL && *p != '\0') {
		end = strpbrk(p, "&#");
		n = end ? (size_t)(end - p) : strlen(p);
		if (n > kl && strncmp(p, key, kl) == 0 && p[kl] == '=')
			return ms_http_unescape(p + kl + 1, n - kl - 1);
		p = end && *end == '&' ? end + 1 : NULL;
	}
	return NULL;
}

/* Judge a redirect's query: 0 with *code, or -1 saying why. */
static int
judge_query(const char *q, const char *state, char **code)
{
	char *got = query_get(q, "state"), *err = query_get(q, "error");
	char *desc = query_get(q, "error_description");
	int rc = 0;

	*code = NULL;
	if (got == NULL || strcmp(got, state) != 0)
		rc = ms_errc(EX_DATAERR,
		    "the redirect's state does not match "
		    "this request: not stored (a stale or forged redirect?)");
	else if (err != NULL)
		rc = ms_errc(EX_NOPERM, "authorization refused: %s%s%s", err,
		    desc ? ": " : "", desc ? desc : "");
	else if ((*code = query_get(q, "code")) == NULL || **code == '\0')
		rc = ms_errc(EX_DATAERR, "the redirect carries no code");
	free(got);
	free(err);
	free(desc);
	if (rc == -1) {
		ms_secret_free(*code);
		*code = NULL;
	}
	return rc;
}

int
ms_oauth_parse_paste(const char *line, const char *state, char **code)
{
	const char *q;
	size_t n;

	while (*line == ' ' || *line == '\t')
		line++;
	n = strcspn(line, " \t\r\n");
	if (n == 0)
		return ms_errc(EX_DATAERR, "nothing pasted");
	if ((q = memchr(line, '?', n)) != NULL || strstr(line, "code=")) {
		char *copy = ms_xstrndup(
		    q ? q + 1 : line, n - (size_t)(q ? q + 1 - line : 0));
		int rc = judge_query(copy, state, code);

		ms_secret_free(copy);
		return rc;
	}
	/* A bare code: there is no state to compare. */
	*code = ms_xstrndup(line, n);
	return 0;
}

/*
 * The loopback listener
 */

int
ms_oauth_listen(int port, int *bound)
{
	struct sockaddr_in sa = {0};
	socklen_t len = sizeof(sa);
	int fd, on = 1;

	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return ms_errc(EX_OSERR, "socket: %s", strerror(errno));
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == -1 ||
	    listen(fd, 8) == -1 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) == -1) {
		ms_errc(
		    EX_UNAVAILABLE, "127.0.0.1:%d: %s", port, strerror(errno));
		close(fd);
		return -1;
	}
	*bound = ntohs(sa.sin_port);
	return fd;
}

static void
reply(int c, int status, const char *title, const char *text)
{
	char page[1024];
	int n;

	n = snprintf(page, sizeof(page),
	    "<!doctype html><meta charset=utf-8><title>mailsync</title>"
	    "<h1>%s</h1><p>%s</p>",
	    title, text);
	dprintf(c,
	    "HTTP/1.1 %d %s\r\nContent-Type: text/html; "
	    "charset=utf-8\r\nContent-Length: %d\r\nConnection: close\r\n"
	    "Cache-Control: no-store\r\n\r\n%s",
	    status,
	    status == 200       ? "OK"
		: status == 404 ? "Not Found"
				: "Bad Request",
	    n, page);
}

/* Read one request head from c; the request target in *target. */
static int
read_target(int c, char **target)
{
	struct timeval tv = {5, 0};
	char buf[REQ_MAX + 1], *sp, *sp2;
	size_t len = 0;
	ssize_t n;

	setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	while (len < REQ_MAX) {
		n = read(c, buf + len, REQ_MAX - len);
		if (n <= 0)
			break;
		len += (size_t)n;
		buf[len] = '\0';
		if (strstr(buf, "\r\n\r\n") || strstr(buf, "\n\n"))
			break;
	}
	buf[len] = '\0';
	if (strncmp(buf, "GET ", 4) != 0 || (sp = strchr(buf + 4, ' ')) == NULL)
		return -1;
	sp2 = buf + 4;
	*target = ms_xstrndup(sp2, (size_t)(sp - sp2));
	explicit_bzero(buf, sizeof(buf));
	return 0;
}

/* Handle one connection: 1 when it ended the wait (rc in *rc). */
static int
serve(int c, const char *state, char **code, int *rc)
{
	char *target = NULL, *q;

	if (read_target(c, &target) == -1) {
		reply(c, 400, "Bad request", "mailsync expected a redirect.");
		return 0;
	}
	q = strchr(target, '?');
	if (q != NULL)
		*q++ = '\0';
	if (strcmp(target, "/") != 0 || q == NULL) {
		reply(c, 404, "Not found",
		    "This is mailsync's sign-in "
		    "listener.");
		free(target);
		return 0;
	}
	*rc = judge_query(q, state, code);
	if (*rc == 0)
		reply(c, 200, "Signed in",
		    "mailsync has the authorization. "
		    "You can close this window.");
	else
		reply(c, 400, "Not signed in",
		    "mailsync did not get the "
		    "authorization; see the terminal.");
	ms_secret_free(target);
	return 1;
}

int
ms_oauth_wait_code(int fd, const char *state, int timeout, char **code)
{
	struct pollfd pfd = {fd, POLLIN, 0};
	time_t deadline = time(NULL) + timeout;
	int c, rc = -1, done = 0, left;

	*code = NULL;
	while (!done) {
		left = (int)(deadline - time(NULL));
		if (left <= 0)
			return ms_errc(EX_TEMPFAIL,
			    "no authorization within "
			    "%d seconds: nothing stored",
			    timeout);
		if (poll(&pfd, 1, left * 1000) <= 0)
			continue;
		if ((c = accept4(fd, NULL, NULL, SOCK_CLOEXEC)) == -1)
			continue;
		done = serve(c, state, code, &rc);
		close(c);
	}
	return rc;
}

/*
 * The token endpoint
 */

/* Turn an error reply into a message and an exit code. */
static int
token_error(const struct ms_provider *p, const struct ms_http_resp *r)
{
	struct json_object *o = ms_http_json(r, p->label);
	const char *e = ms_json_str(o, "error");
	const char *d = ms_json_str(o, "error_description");
	int code = EX_UNAVAILABLE;
	char desc[200] = "";

	if (r->status >= 500 || r->status == 429)
		code = EX_TEMPFAIL;
	else if (e &&
	    (strcmp(e, "invalid_grant") == 0 ||
		strcmp(e, "interaction_required") == 0))
		code = EX_NOPERM;
	else if (e &&
	    (strcmp(e, "authorization_declined") == 0 ||
		strcmp(e, "access_denied") == 0))
		code = EX_NOPERM;
	else if (e && strcmp(e, "expired_token") == 0)
		code = EX_TEMPFAIL;
	else if (e &&
	    (strcmp(e, "invalid_client") == 0 ||
		strcmp(e, "unauthorized_client") == 0))
		code = EX_CONFIG;
	if (d != NULL) /* Microsoft's run over several lines */
		snprintf(
		    desc, sizeof(desc), ": %.*s", (int)strcspn(d, "\r\n"), d);
	ms_errc(code, "%s token endpoint: HTTP %ld %s%s", p->label, r->status,
	    e ? e : "(no error code)", desc);
	json_object_put(o);
	return -1;
}

static int
token_reply(const struct ms_provider *p, const struct ms_http_resp *r,
    struct ms_tokens *t)
{
	struct json_object *o, *v;
	const char *s;

	memset(t, 0, sizeof(*t));
	if (r->status != 200)
		return token_error(p, r);
	if ((o = ms_http_json(r, p->label)) == NULL)
		return -1;
	if ((s = ms_json_str(o, "access_token")) == NULL) {
		json_object_put(o);
		return ms_errc(EX_UNAVAILABLE,
		    "%s token endpoint: no "
		    "access_token in the reply",
		    p->label);
	}
	t->access = ms_xstrdup(s);
	if ((s = ms_json_str(o, "refresh_token")) != NULL)
		t->refresh = ms_xstrdup(s);
	if ((s = ms_json_str(o, "scope")) != NULL) /* absent: as asked */
		t->scope = ms_xstrdup(s);
	t->expires = time(NULL) + 3600;
	if (json_object_object_get_ex(o, "expires_in", &v))
		t->expires = time(NULL) + json_object_get_int(v);
	json_object_put(o);
	return 0;
}

static void
form_client(
    const struct ms_provider *p, const struct ms_app *app, struct ms_buf *f)
{
	ms_http_form_add(f, "client_id", app->client_id);
	if (app->secret != NULL)
		ms_http_form_add(f, "client_secret", app->secret);
	if (p->rotates_refresh) /* Microsoft wants the scope again */
		ms_http_form_add(f, "scope", p->scope);
}

static int
post_token(const struct ms_provider *p, const char *url, struct ms_buf *f,
    struct ms_http_resp *r)
{
	int rc = ms_http_request("POST", url, NULL, NULL, f->s, NULL, 60, r);

	explicit_bzero(f->s, f->len);
	ms_buf_finish(f);
	return rc;
}

int
ms_oauth_exchange(const struct ms_provider *p, const struct ms_app *app,
    const char *code, const char *verifier, const char *redirect,
    struct ms_tokens *t)
{
	struct ms_http_resp r;
	struct ms_buf f = {0};
	int rc;

	form_client(p, app, &f);
	ms_http_form_add(&f, "grant_type", "authorization_code");
	ms_http_form_add(&f, "code", code);
	ms_http_form_add(&f, "redirect_uri", redirect);
	ms_http_form_add(&f, "code_verifier", verifier);
	if (post_token(p, p->token_url, &f, &r) == -1)
		return -1;
	rc = token_reply(p, &r, t);
	ms_http_resp_finish(&r);
	if (rc == 0 && t->refresh == NULL) {
		ms_tokens_finish(t);
		return ms_errc(EX_UNAVAILABLE,
		    "%s gave no refresh token: "
		    "offline access was not granted",
		    p->label);
	}
	return rc;
}

int
ms_oauth_refresh(const struct ms_provider *p, const struct ms_app *app,
    const char *refresh, struct ms_tokens *t)
{
	struct ms_http_resp r;
	struct ms_buf f = {0};
	int rc;

	form_client(p, app, &f);
	ms_http_form_add(&f, "grant_type", "refresh_token");
	ms_http_form_add(&f, "refresh_token", refresh);
	if (post_token(p, p->token_url, &f, &r) == -1)
		return -1;
	rc = token_reply(p, &r, t);
	ms_http_resp_finish(&r);
	return rc;
}

int
ms_oauth_revoke(const struct ms_provider *p, const char *token)
{
	struct ms_http_resp r;
	struct ms_buf f = {0};

	if (p->revoke_url == NULL)
		return 0;
	ms_http_form_add(&f, "token", token);
	if (post_token(p, p->revoke_url, &f, &r) == -1)
		return -1;
	if (r.status != 200) {
		ms_errc(EX_UNAVAILABLE, "%s revocation: HTTP %ld", p->label,
		    r.status);
		ms_http_resp_finish(&r);
		return -1;
	}
	ms_http_resp_finish(&r);
	return 0;
}

/*
 * The device authorization grant (RFC 8628)
 */

static int
json_int(struct json_object *o, const char *key, int def)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v))
		return def;
	return json_object_get_int(v);
}

static int
device_start(const struct ms_provider *p, const struct ms_app *app,
    char **device_code, int *interval, int *expires)
{
	struct ms_http_resp r;
	struct ms_buf f = {0};
	struct json_object *o;
	const char *msg, *dc;

	ms_http_form_add(&f, "client_id", app->client_id);
	ms_http_form_add(&f, "scope", p->scope);
	if (post_token(p, p->device_url, &f, &r) == -1)
		return -1;
	if (r.status != 200) {
		token_error(p, &r);
		ms_http_resp_finish(&r);
		return -1;
	}
	o = ms_http_json(&r, p->label);
	ms_http_resp_finish(&r);
	if (o == NULL)
		return -1;
	if ((dc = ms_json_str(o, "device_code")) == NULL) {
		json_object_put(o);
		return ms_errc(EX_UNAVAILABLE,
		    "%s device code: no "
		    "device_code in the reply",
		    p->label);
	}
	*device_code = ms_xstrdup(dc);
	*interval = json_int(o, "interval", 5);
	*expires = json_int(o, "expires_in", 900);
	if ((msg = ms_json_str(o, "message")) != NULL)
		fprintf(stderr, "%s\n", msg);
	else
		fprintf(stderr, "To sign in, open %s and enter the code %s\n",
		    ms_json_str(o, "verification_uri"),
		    ms_json_str(o, "user_code"));
	json_object_put(o);
	return 0;
}

int
ms_oauth_device(const struct ms_provider *p, const struct ms_app *app,
    int timeout, struct ms_tokens *t)
{
	struct ms_http_resp r;
	struct ms_buf f = {0};
	struct json_object *o;
	char *dc = NULL;
	const char *e;
	int interval = 5, expires = 900, rc = 1;
	time_t deadline;

	if (p->device_url == NULL)
		return ms_errc(EX_USAGE,
		    "%s has no device flow for mail "
		    "scopes: use the browser or --paste",
		    p->label);
	if (device_start(p, app, &dc, &interval, &expires) == -1)
		return -1;
	deadline = time(NULL) + (expires < timeout ? expires : timeout);
	while (rc == 1) {
		if (time(NULL) + interval > deadline) {
			rc = ms_errc(EX_TEMPFAIL,
			    "the device code was not "
			    "used in time: nothing stored");
			break;
		}
		sleep((unsigned)interval);
		ms_http_form_add(&f, "grant_type",
		    "urn:ietf:params:oauth:grant-type:device_code");
		ms_http_form_add(&f, "client_id", app->client_id);
		ms_http_form_add(&f, "device_code", dc);
		if (post_token(p, p->token_url, &f, &r) == -1) {
			rc = -1;
			break;
		}
		o = NULL;
		if (r.status == 200) {
			rc = token_reply(p, &r, t);
		} else if ((o = ms_http_json(&r, p->label)) != NULL &&
		    (e = ms_json_str(o, "error")) != NULL &&
		    (strcmp(e, "authorization_pending") == 0 ||
			strcmp(e, "slow_down") == 0)) {
			if (strcmp(e, "slow_down") == 0)
				interval += 5;
			ms_log_debug(
			    "device code: %s, next poll in %d s", e, interval);
		} else
			rc = token_error(p, &r);
		json_object_put(o);
		ms_http_resp_finish(&r);
	}
	ms_secret_free(dc);
	return rc;
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
ms_oauth_save(struct ms_db *db, const struct ms_secret_key *key,
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
ms_oauth_load(struct ms_db *db, const struct ms_secret_key *key,
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
		ms_tokens_finish(t);
		return -1;
	}
	return 0;
}

int
ms_oauth_forget(struct ms_db *db, int64_t account)
{
	static const char *sql = "DELETE FROM tokens WHERE account_id = ?1";
	sqlite3_stmt *st;

	if ((st = ms_db_stmt(db, sql)) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, account);
	return ms_db_run(db, st);
}

static int
mark_reauth(struct ms_db *db, int64_t account, const char *why)
{
	static const char *sql =
	    "UPDATE accounts SET status = "
	    "'needs-reauth', last_error = ?2 WHERE id = ?1";
	sqlite3_stmt *st;

	if ((st = ms_db_stmt(db, sql)) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, account);
	sqlite3_bind_text(st, 2, why, -1, SQLITE_TRANSIENT);
	return ms_db_run(db, st);
}

/* Refresh and store; the old refresh token is kept when no new one
 * comes (Google), the new one stored every time it does (Microsoft). */
static int
refresh_and_save(struct ms_db *db, const struct ms_secret_key *key,
    const struct ms_provider *p, const struct ms_app *app, int64_t account,
    const char *address, struct ms_tokens *t)
{
	struct ms_tokens n;
	char why[256];

	if (ms_oauth_refresh(p, app, t->refresh, &n) == -1) {
		if (ms_errcode() != EX_NOPERM)
			return -1;
		snprintf(why, sizeof(why), "%s", ms_errstr());
		if (mark_reauth(db, account, why) == -1)
			return -1;
		return ms_errc(EX_NOPERM,
		    "%s %s needs re-authorization "
		    "(mailsync-connect): %s",
		    p->name, address, why);
	}
	if (n.refresh == NULL) {
		n.refresh = t->refresh;
		t->refresh = NULL;
	}
	if (n.scope == NULL || *n.scope == '\0') {
		free(n.scope);
		n.scope = t->scope;
		t->scope = NULL;
	}
	ms_tokens_finish(t);
	*t = n;
	if (ms_db_begin(db) == -1)
		return -1;
	if (ms_oauth_save(db, key, account, p->name, address, t) == -1 ||
	    ms_db_commit(db) == -1) {
		ms_db_rollback(db);
		return -1;
	}
	return 0;
}

int
ms_oauth_access(struct ms_db *db, const struct ms_secret_key *key,
    const struct ms_provider *p, const struct ms_app *app, int64_t account,
    const char *address, int force, char **access)
{
	struct ms_tokens t;

	*access = NULL;
	if (ms_oauth_load(db, key, account, p->name, address, &t) == -1)
		return -1;
	if ((force || t.expires <= time(NULL) + 60) &&
	    refresh_and_save(db, key, p, app, account, address, &t) == -1) {
		ms_tokens_finish(&t);
		return -1;
	}
	*access = t.access;
	t.access = NULL;
	ms_tokens_finish(&t);
	return 0;
}

int
ms_oauth_expiry(struct ms_db *db, int64_t account, time_t *expires)
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
