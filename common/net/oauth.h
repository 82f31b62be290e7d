/*
 * oauth: the authorization flows (code with PKCE over a loopback
 * redirect or a pasted URL, device code), token refresh and revocation.
 * The credentials themselves are kept by cred.h.
 */
#ifndef MS_OAUTH_H
#define MS_OAUTH_H

#include <stdint.h>
#include <time.h>

#include "db.h"
#include "driver.h"
#include "cred.h"
#include "secret.h"

/* The authorization URL for a code flow with PKCE. */
char *ms_oauth_auth_url(const struct ms_provider *, const struct ms_app *,
    const char *redirect, const char *challenge, const char *state,
    const char *login_hint);

/*
 * Take a pasted redirect URL (or its query, or the bare code): a new
 * code in guarded memory (ms_secret_free), or -1 (ms_err): the query's
 * checks are ms_listen_judge's, and a query without this flow's state is
 * refused (EX_DATAERR).
 */
int ms_oauth_parse_paste(const char *line, const char *state, char **code);

/* Exchange an authorization code for tokens. */
int ms_oauth_exchange(const struct ms_provider *, const struct ms_app *,
    const char *code, const char *verifier, const char *redirect,
    struct ms_tokens *);

/* ms_oauth_token_parse's answers that are neither tokens nor an error:
 * the device flow's "not yet" (RFC 8628 §3.5). */
enum {
	MS_OAUTH_PENDING = 1, /* authorization_pending: poll again */
	MS_OAUTH_SLOW_DOWN = 2, /* slow_down: poll again, 5 s slower */
};

/*
 * Parse a token endpoint's reply (status and body[0..len), no NUL
 * needed) into *t: 0 with the tokens (access and refresh in guarded
 * memory, expires from a clamped expires_in, a number or a numeric
 * string: 3600 s when absent or not usable, at most a day);
 * MS_OAUTH_PENDING or MS_OAUTH_SLOW_DOWN; or -1 (ms_err) with the
 * provider's error and a sysexits code fitting it (invalid_grant
 * EX_NOPERM, invalid_client EX_CONFIG, 5xx EX_TEMPFAIL, ...). label names
 * the provider in messages. The JSON's string values are wiped before
 * they are freed.
 */
int ms_oauth_token_parse(const char *label, long status, const char *body,
    size_t len, struct ms_tokens *t);

/* A device authorization reply (RFC 8628 §3.2). */
struct ms_device {
	char *device_code; /* guarded memory */
	char *user_code; /* or NULL when message says it all */
	char *verification_uri; /* or NULL, likewise */
	char *message; /* the provider's instructions, or NULL */
	int interval; /* seconds between polls: 1 to 60, else 5 */
	int expires_in; /* seconds the code lives: 1 to 86400, else 900 */
};

/*
 * Parse a device authorization reply into *d: 0, or -1 (ms_err) for an
 * error reply, malformed JSON, no device_code, or neither a message nor
 * a verification_uri (verification_url: Google's name) and user_code to
 * show. interval and expires_in may come as numbers or numeric strings;
 * missing, null, not a number, zero or negative they take the defaults,
 * out of range they are clamped (said at -v).
 */
int ms_oauth_device_parse(const char *label, long status, const char *body,
    size_t len, struct ms_device *d);
void ms_oauth_device_finish(struct ms_device *); /* wipes */

/*
 * The device authorization grant (RFC 8628): prints the provider's
 * instructions on stderr (through the terminal sanitizer) and polls
 * every interval, 5 s slower after each slow_down, until tokens come,
 * the user declines, the code expires or timeout seconds pass: a hard
 * deadline, never slept past (EX_TEMPFAIL then).
 */
int ms_oauth_device(const struct ms_provider *, const struct ms_app *,
    int timeout, struct ms_tokens *);

/* Refresh: new tokens; invalid_grant is EX_NOPERM (re-authorize). */
int ms_oauth_refresh(const struct ms_provider *, const struct ms_app *,
    const char *refresh, struct ms_tokens *);

/* Revoke a token where the provider can (Google); 0 when it has no
 * revocation endpoint. */
int ms_oauth_revoke(const struct ms_provider *, const char *token);

/*
 * A usable access token for an account, refreshed (and the new tokens
 * stored in their own transaction) when it expires within a minute or
 * when force is set (the provider answered 401). invalid_grant marks the
 * account needs-reauth and fails with EX_NOPERM.
 */
int ms_oauth_access(struct ms_db *, const struct ms_secret_key *,
    const struct ms_provider *, const struct ms_app *, int64_t account,
    const char *address, int force, char **access);

#endif
