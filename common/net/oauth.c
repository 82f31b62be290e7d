#include "oauth.h"

#include <errno.h>
#include <json-c/printbuf.h>
#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "account.h"
#include "http.h"
#include "listen.h"
#include "log.h"
#include "term.h"
#include "util.h"

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
	ms_buf_printf(&q, "&%s", p->drv->extra_auth);
	url = ms_xasprintf(
	    "%s%c%s", p->auth_url, strchr(p->auth_url, '?') ? '&' : '?', q.s);
	ms_buf_finish(&q);
	return url;
}

int
ms_oauth_parse_paste(const char *line, const char *state, char **code)
{
	const char *q;
	char *copy;
	size_t n;
	int rc;

	*code = NULL;
	while (*line == ' ' || *line == '\t')
		line++;
	n = strcspn(line, " \t\r\n");
	if (n == 0)
		return ms_errc(EX_DATAERR, "nothing pasted");
	if ((q = memchr(line, '?', n)) == NULL && !strstr(line, "code=")) {
		/* A bare code: there is no state to compare. */
		*code = ms_secret_strndup(line, n);
		return 0;
	}
	copy = ms_secret_strndup(
	    q ? q + 1 : line, n - (size_t)(q ? q + 1 - line : 0));
	if ((rc = ms_listen_judge(copy, state, code)) == 1)
		rc = ms_errc(EX_DATAERR,
		    "the pasted address's state does not match this sign-in: "
		    "not stored (an address from an older attempt?)");
	ms_secret_free(copy);
	return rc;
}

/*
 * Replies: parsed without leaving copies of their secrets behind
 */

/* Token and device replies are small: anything larger is not one. */
#define REPLY_MAX (1024 * 1024)
#define DESC_MAX 200 /* of an error_description shown */
#define MESSAGE_MAX 2000 /* of the device flow's instructions shown */

/* Wipe every string value in o: json-c keeps them in its own
 * allocations (json_object_get_string gives those very bytes), which
 * json_object_put frees unwiped. */
static void
wipe(struct json_object *o)
{
	size_t i, n;

	switch (json_object_get_type(o)) {
	case json_type_string:
		sodium_memzero((char *)json_object_get_string(o),
		    (size_t)json_object_get_string_len(o));
		break;
	case json_type_object: {
		json_object_object_foreach(o, k, v)
		{
			(void)k;
			wipe(v);
		}
		break;
	}
	case json_type_array:
		n = json_object_array_length(o);
		for (i = 0; i < n; i++)
			wipe(json_object_array_get_idx(o, i));
		break;
	default: break;
	}
}

static void
wipe_put(struct json_object *o)
{
	wipe(o);
	json_object_put(o);
}

/*
 * A JSON object from body[0..len), or NULL. json-c's tokener gathers each
 * string in a work buffer before copying it into the object: that buffer
 * is sized up front (so no realloc leaves a stray copy) and wiped with
 * the tokener. Only white space may follow the object.
 */
static struct json_object *
parse_object(const char *body, size_t len)
{
	struct json_tokener *tok;
	struct json_object *o = NULL;
	size_t end;

	if (body == NULL || len == 0 || len > REPLY_MAX ||
	    (tok = json_tokener_new_ex(16)) == NULL)
		return NULL;
	if (printbuf_memset(tok->pb, 0, 0, (int)len + 1) == -1)
		goto out;
	printbuf_reset(tok->pb);
	o = json_tokener_parse_ex(tok, body, (int)len);
	if (o == NULL || json_tokener_get_error(tok) != json_tokener_success ||
	    !json_object_is_type(o, json_type_object)) {
		if (o != NULL)
			wipe_put(o);
		o = NULL;
		goto out;
	}
	for (end = json_tokener_get_parse_end(tok); end < len; end++)
		if (body[end] != ' ' && body[end] != '\t' &&
		    body[end] != '\r' && body[end] != '\n') {
			wipe_put(o);
			o = NULL;
			break;
		}
out:
	sodium_memzero(tok->pb->buf, (size_t)tok->pb->size);
	json_tokener_free(tok);
	return o;
}

/*
 * A number of seconds at key: a JSON number or a numeric string ("3599",
 * as some providers send). 0 with *v (saturated far beyond any clamp), 1
 * when absent or null, -1 when of another type or not a number.
 */
static int
json_seconds(struct json_object *o, const char *key, long long *v)
{
	struct json_object *x;
	const char *s;
	double d;
	int neg;

	if (!json_object_object_get_ex(o, key, &x) || x == NULL)
		return 1;
	switch (json_object_get_type(x)) {
	case json_type_int: *v = (long long)json_object_get_int64(x); return 0;
	case json_type_double:
		d = json_object_get_double(x);
		if (!isfinite(d))
			return -1;
		*v = d > 1e15   ? (long long)1e15
		    : d < -1e15 ? (long long)-1e15
				: (long long)d;
		return 0;
	case json_type_string:
		s = json_object_get_string(x);
		if ((neg = *s == '-'))
			s++;
		if (*s == '\0')
			return -1;
		for (*v = 0; *s >= '0' && *s <= '9'; s++)
			if (*v < 1000000000000000LL)
				*v = *v * 10 + (*s - '0');
		if (*s != '\0')
			return -1;
		if (neg)
			*v = -*v;
		return 0;
	default: return -1;
	}
}

/* Seconds at key, def when absent, unusable or not positive, clamped to
 * [lo, hi]; what was replaced is said at -v. */
static int
seconds(const char *label, const char *what, struct json_object *o,
    const char *key, int def, int lo, int hi)
{
	long long v;
	int r = json_seconds(o, key, &v);

	if (r == 1)
		return def;
	if (r == -1 || v <= 0) {
		if (r == -1)
			ms_log_debug("%s %s: %s is not a number: taking %d s",
			    label, what, key, def);
		else
			ms_log_debug("%s %s: %s %lld is not positive: taking "
				     "%d s",
			    label, what, key, v, def);
		return def;
	}
	if (v < lo || v > hi) {
		ms_log_debug("%s %s: %s %lld is out of range: taking %d s",
		    label, what, key, v, v < lo ? lo : hi);
		return v < lo ? lo : hi;
	}
	return (int)v;
}

/* A string member, NULL when absent, not a string or empty. */
static const char *
str(struct json_object *o, const char *key)
{
	const char *s = ms_json_str(o, key);

	return s != NULL && *s != '\0' ? s : NULL;
}

/* An error reply (o may be NULL: not JSON) as a message and a code. */
static int
reply_error(
    const char *label, const char *what, long status, struct json_object *o)
{
	const char *e = str(o, "error");
	const char *d = str(o, "error_description");
	int code = EX_UNAVAILABLE;
	char desc[DESC_MAX + 3] = "";

	if (status >= 500 || status == 429)
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
		snprintf(desc, sizeof(desc), ": %.*s",
		    (int)(strcspn(d, "\r\n") < DESC_MAX ? strcspn(d, "\r\n")
							: DESC_MAX),
		    d);
	return ms_errc(code, "%s %s: HTTP %ld %.*s%s", label, what, status, 64,
	    e ? e : "(no error code)", desc);
}

int
ms_oauth_token_parse(const char *label, long status, const char *body,
    size_t len, struct ms_tokens *t)
{
	struct json_object *o = parse_object(body, len), *v;
	const char *access = str(o, "access_token"), *e = str(o, "error");
	const char *s;
	int rc = 0;

	memset(t, 0, sizeof(*t));
	if (status != 200 || (access == NULL && e != NULL)) {
		if (e != NULL && strcmp(e, "authorization_pending") == 0)
			rc = MS_OAUTH_PENDING;
		else if (e != NULL && strcmp(e, "slow_down") == 0)
			rc = MS_OAUTH_SLOW_DOWN;
		else
			rc = reply_error(label, "token endpoint", status, o);
	} else if (o == NULL)
		rc = ms_errc(EX_UNAVAILABLE,
		    "%s token endpoint: malformed JSON in the reply (HTTP %ld)",
		    label, status);
	else if (access == NULL)
		rc = ms_errc(EX_UNAVAILABLE,
		    "%s token endpoint: no access_token in the reply", label);
	else {
		t->access = ms_secret_strdup(access);
		if ((s = str(o, "refresh_token")) != NULL)
			t->refresh = ms_secret_strdup(s);
		else if (json_object_object_get_ex(o, "refresh_token", &v) &&
		    v != NULL)
			ms_log_debug("%s token endpoint: a refresh_token that "
				     "is not a string: ignored",
			    label);
		if ((s = ms_json_str(o, "scope")) != NULL) /* absent: asked */
			t->scope = ms_xstrdup(s);
		t->expires = time(NULL) +
		    seconds(label, "token", o, "expires_in", 3600, 1, 86400);
	}
	if (o != NULL)
		wipe_put(o);
	return rc;
}

int
ms_oauth_device_parse(const char *label, long status, const char *body,
    size_t len, struct ms_device *d)
{
	struct json_object *o = parse_object(body, len);
	const char *dc = str(o, "device_code"), *uc = str(o, "user_code");
	const char *uri = str(o, "verification_uri"), *msg = str(o, "message");
	int rc = 0;

	memset(d, 0, sizeof(*d));
	if (uri == NULL)
		uri = str(o, "verification_url"); /* Google's older name */
	if (status != 200)
		rc = reply_error(label, "device code endpoint", status, o);
	else if (o == NULL)
		rc = ms_errc(EX_UNAVAILABLE,
		    "%s device code endpoint: malformed JSON in the reply",
		    label);
	else if (dc == NULL)
		rc = ms_errc(EX_UNAVAILABLE,
		    "%s device code endpoint: no device_code in the reply",
		    label);
	else if (msg == NULL && (uri == NULL || uc == NULL))
		rc = ms_errc(EX_UNAVAILABLE,
		    "%s device code endpoint: no instructions in the reply "
		    "(message, or verification_uri and user_code)",
		    label);
	else {
		d->device_code = ms_secret_strdup(dc);
		d->user_code = uc ? ms_xstrndup(uc, MESSAGE_MAX) : NULL;
		d->verification_uri =
		    uri ? ms_xstrndup(uri, MESSAGE_MAX) : NULL;
		d->message = msg ? ms_xstrndup(msg, MESSAGE_MAX) : NULL;
		/* RFC 8628 §3.2: 5 s when absent. */
		d->interval =
		    seconds(label, "device code", o, "interval", 5, 1, 60);
		d->expires_in = seconds(
		    label, "device code", o, "expires_in", 900, 1, 86400);
	}
	if (o != NULL)
		wipe_put(o);
	return rc;
}

void
ms_oauth_device_finish(struct ms_device *d)
{
	ms_secret_free(d->device_code);
	free(d->user_code);
	free(d->verification_uri);
	free(d->message);
	memset(d, 0, sizeof(*d));
}

/*
 * The token endpoint
 */

/* Append key=value to a form body, form-urlencoded, in guarded memory. */
static void
form_add(struct ms_secret_buf *f, const char *key, const char *value)
{
	static const char hex[] = "0123456789ABCDEF";
	const char *s;
	char e[3];
	int pass;

	if (f->len > 0)
		ms_secret_buf_add(f, "&", 1);
	for (pass = 0; pass < 2; pass++) {
		for (s = pass ? value : key; *s != '\0'; s++) {
			if ((*s >= 'A' && *s <= 'Z') ||
			    (*s >= 'a' && *s <= 'z') ||
			    (*s >= '0' && *s <= '9') || strchr("-._~", *s))
				ms_secret_buf_add(f, s, 1);
			else {
				e[0] = '%';
				e[1] = hex[(unsigned char)*s >> 4];
				e[2] = hex[(unsigned char)*s & 15];
				ms_secret_buf_add(f, e, 3);
			}
		}
		if (pass == 0)
			ms_secret_buf_add(f, "=", 1);
	}
	sodium_memzero(e, sizeof(e));
}

static void
form_client(const struct ms_provider *p, const struct ms_app *app,
    struct ms_secret_buf *f)
{
	form_add(f, "client_id", app->client_id);
	if (app->secret != NULL)
		form_add(f, "client_secret", app->secret);
	if (p->drv->flags &
	    MS_DRV_ROTATES) /* Microsoft wants the scope again */
		form_add(f, "scope", p->scope);
}

/* POST the form (then wiped) within timeout seconds. */
static int
post_form(const char *url, struct ms_secret_buf *f, long timeout,
    struct ms_http_resp *r)
{
	int rc = ms_http_request(
	    "POST", url, NULL, NULL, f->s ? f->s : "", NULL, timeout, r);

	ms_secret_buf_finish(f);
	return rc;
}

/* A token request's reply: tokens or an error, never "pending". */
static int
token_reply(
    const struct ms_provider *p, struct ms_http_resp *r, struct ms_tokens *t)
{
	int rc = ms_oauth_token_parse(p->label, r->status, r->body, r->len, t);

	ms_http_resp_finish(r);
	if (rc > 0)
		rc = ms_errc(EX_UNAVAILABLE,
		    "%s token endpoint: an unexpected %s", p->label,
		    rc == MS_OAUTH_PENDING ? "authorization_pending"
					   : "slow_down");
	return rc;
}

int
ms_oauth_exchange(const struct ms_provider *p, const struct ms_app *app,
    const char *code, const char *verifier, const char *redirect,
    struct ms_tokens *t)
{
	struct ms_http_resp r;
	struct ms_secret_buf f = {0};
	int rc;

	memset(t, 0, sizeof(*t));
	form_client(p, app, &f);
	form_add(&f, "grant_type", "authorization_code");
	form_add(&f, "code", code);
	form_add(&f, "redirect_uri", redirect);
	form_add(&f, "code_verifier", verifier);
	if (post_form(p->token_url, &f, 60, &r) == -1)
		return -1;
	rc = token_reply(p, &r, t);
	if (rc == 0 && t->refresh == NULL) {
		ms_cred_tokens_finish(t);
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
	struct ms_secret_buf f = {0};

	memset(t, 0, sizeof(*t));
	form_client(p, app, &f);
	form_add(&f, "grant_type", "refresh_token");
	form_add(&f, "refresh_token", refresh);
	if (post_form(p->token_url, &f, 60, &r) == -1)
		return -1;
	return token_reply(p, &r, t);
}

int
ms_oauth_revoke(const struct ms_provider *p, const char *token)
{
	struct ms_http_resp r;
	struct ms_secret_buf f = {0};

	if (p->revoke_url == NULL)
		return 0;
	form_add(&f, "token", token);
	if (post_form(p->revoke_url, &f, 60, &r) == -1)
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

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
nap(long long ms)
{
	struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000};

	while (ms > 0 && nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/* A request's timeout: what is left before the deadline, at most 60 s. */
static long
left_s(long long deadline)
{
	long long s = (deadline - now_ms()) / 1000;

	return s < 1 ? 1 : s > 60 ? 60 : (long)s;
}

/* The provider's instructions: its text, so through the sanitizer. */
static void
show(const struct ms_device *d)
{
	if (d->message != NULL)
		ms_term_fputs(d->message, 0, stderr);
	else {
		fputs("To sign in, open ", stderr);
		ms_term_fputs(d->verification_uri, 0, stderr);
		fputs(" and enter the code ", stderr);
		ms_term_fputs(d->user_code, 0, stderr);
	}
	fputc('\n', stderr);
	fflush(stderr);
}

int
ms_oauth_device(const struct ms_provider *p, const struct ms_app *app,
    int timeout, struct ms_tokens *t)
{
	struct ms_secret_buf f = {0};
	struct ms_http_resp r;
	struct ms_device d;
	long long start = now_ms(), deadline, expiry, end, left, wait;
	int rc, interval;

	memset(t, 0, sizeof(*t));
	if (p->device_url == NULL)
		return ms_errc(EX_USAGE,
		    "%s has no device flow for mail "
		    "scopes: use the browser or --paste",
		    p->label);
	deadline = start + (long long)timeout * 1000;
	form_add(&f, "client_id", app->client_id);
	form_add(&f, "scope", p->scope);
	if (post_form(p->device_url, &f, left_s(deadline), &r) == -1)
		return -1;
	rc = ms_oauth_device_parse(p->label, r.status, r.body, r.len, &d);
	ms_http_resp_finish(&r);
	if (rc == -1)
		return -1;
	show(&d);
	expiry = start + (long long)d.expires_in * 1000;
	end = expiry < deadline ? expiry : deadline;
	interval = d.interval;
	ms_log_debug("device code: polling every %d s for %lld s", interval,
	    (end - now_ms()) / 1000);
	rc = MS_OAUTH_PENDING;
	while (rc > 0) {
		/* Never asleep past the deadline, never a poll after it. */
		left = end - now_ms();
		wait = (long long)interval * 1000;
		nap(wait < left ? wait : left);
		if ((left = end - now_ms()) < 1000) {
			nap(left); /* too short for a request: out of time */
			rc = end == deadline
			    ? ms_errc(EX_TEMPFAIL,
				  "no sign-in within %d seconds: nothing "
				  "stored",
				  timeout)
			    : ms_errc(EX_TEMPFAIL,
				  "the device code expired after %d seconds "
				  "without a sign-in: nothing stored",
				  d.expires_in);
			break;
		}
		form_add(&f, "grant_type",
		    "urn:ietf:params:oauth:grant-type:device_code");
		form_add(&f, "client_id", app->client_id);
		form_add(&f, "device_code", d.device_code);
		if (post_form(p->token_url, &f, left_s(end), &r) == -1) {
			rc = -1;
			break;
		}
		rc = ms_oauth_token_parse(p->label, r.status, r.body, r.len, t);
		ms_http_resp_finish(&r);
		if (rc == MS_OAUTH_SLOW_DOWN && interval < 120)
			interval += 5; /* RFC 8628 §3.5 */
		if (rc > 0)
			ms_log_debug("device code: %s, next poll in %d s",
			    rc == MS_OAUTH_PENDING ? "authorization_pending"
						   : "slow_down",
			    interval);
	}
	ms_oauth_device_finish(&d);
	if (rc == 0 && t->refresh == NULL) {
		ms_cred_tokens_finish(t);
		return ms_errc(EX_UNAVAILABLE,
		    "%s gave no refresh token: offline access was not granted",
		    p->label);
	}
	return rc;
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
		if (ms_account_set_status(db, account, "needs-reauth", why) ==
		    -1)
			return -1;
		/* Said once: whoever reports it names the account. */
		return ms_errc(EX_NOPERM,
		    "needs re-authorization (mailsync-connect): %s", why);
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
	ms_cred_tokens_finish(t);
	*t = n;
	if (ms_db_begin(db) == -1)
		return -1;
	if (ms_cred_tokens_save(db, key, account, p->name, address, t) == -1 ||
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
	if (ms_cred_tokens_load(db, key, account, p->name, address, &t) == -1)
		return -1;
	if ((force || t.expires <= time(NULL) + 60) &&
	    refresh_and_save(db, key, p, app, account, address, &t) == -1) {
		ms_cred_tokens_finish(&t);
		return -1;
	}
	*access = t.access;
	t.access = NULL;
	ms_cred_tokens_finish(&t);
	return 0;
}
