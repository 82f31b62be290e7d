/*
 * oauth: the business's app credentials, the authorization flows (code
 * with PKCE over a loopback redirect or a pasted URL, device code), token
 * refresh and revocation, and the stored tokens of each account.
 */
#ifndef MS_OAUTH_H
#define MS_OAUTH_H

#include <stdint.h>
#include <time.h>

#include "db.h"
#include "provider.h"
#include "secret.h"

/* A provider's OAuth app ("Settings > Integrations"). */
struct ms_app {
	char *client_id;
	char *secret; /* plaintext while loaded, or NULL */
	char *tenant; /* Microsoft only, or NULL */
};

/* Store (replace) the app of a provider, its secret sealed. */
int ms_app_store(struct ms_db *, const struct ms_secret_key *,
    const char *provider, const struct ms_app *);
/* Load it: 0, 1 when none is stored, -1. */
int ms_app_load(struct ms_db *, const struct ms_secret_key *,
    const char *provider, struct ms_app *);
void ms_app_finish(struct ms_app *); /* wipes the secret */

struct ms_tokens {
	char *access;
	time_t expires; /* when access stops working */
	char *refresh; /* NULL when the reply had none */
	char *scope; /* granted */
};

void ms_tokens_finish(struct ms_tokens *); /* wipes */

/* The authorization URL for a code flow with PKCE. */
char *ms_oauth_auth_url(const struct ms_provider *, const struct ms_app *,
    const char *redirect, const char *challenge, const char *state,
    const char *login_hint);

/*
 * A loopback listener on 127.0.0.1:port (0: any free port). Returns the
 * socket and sets *bound to the port, or -1.
 */
int ms_oauth_listen(int port, int *bound);

/*
 * Serve the browser's redirect on fd until one request carries this
 * state's answer (other paths, such as /favicon.ico, get 404 and are
 * ignored), answering it with a short page. Returns 0 with *code set, or
 * -1: a denied consent or provider error (EX_NOPERM), a wrong state
 * (EX_DATAERR) or the timeout (EX_TEMPFAIL).
 */
int ms_oauth_wait_code(int fd, const char *state, int timeout, char **code);

/*
 * Take a pasted redirect URL (or its query, or the bare code): the same
 * checks as ms_oauth_wait_code.
 */
int ms_oauth_parse_paste(const char *line, const char *state, char **code);

/* Exchange an authorization code for tokens. */
int ms_oauth_exchange(const struct ms_provider *, const struct ms_app *,
    const char *code, const char *verifier, const char *redirect,
    struct ms_tokens *);

/*
 * The device authorization grant (RFC 8628): prints the provider's
 * instructions on stderr and polls, honouring slow_down, until tokens
 * come, the user declines, the code expires or timeout seconds pass.
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
 * The stored tokens of an account. ms_oauth_save seals and replaces them
 * inside the caller's transaction (a rotated refresh token is stored with
 * the access token it came with, or not at all).
 */
int ms_oauth_save(struct ms_db *, const struct ms_secret_key *, int64_t account,
    const char *provider, const char *address, const struct ms_tokens *);
int ms_oauth_load(struct ms_db *, const struct ms_secret_key *, int64_t account,
    const char *provider, const char *address, struct ms_tokens *);
int ms_oauth_forget(struct ms_db *, int64_t account);

/*
 * A usable access token for an account, refreshed (and the new tokens
 * stored in their own transaction) when it expires within a minute or
 * when force is set (the provider answered 401). invalid_grant marks the
 * account needs-reauth and fails with EX_NOPERM.
 */
int ms_oauth_access(struct ms_db *, const struct ms_secret_key *,
    const struct ms_provider *, const struct ms_app *, int64_t account,
    const char *address, int force, char **access);

/* When the stored access token of an account expires (0: none stored). */
int ms_oauth_expiry(struct ms_db *, int64_t account, time_t *expires);

#endif
