/*
 * cred: the credential store: the business's OAuth apps and each
 * account's tokens, sealed at rest (secret.h) with the key kept beside
 * the database, never replaced while sealed secrets need it.
 */
#ifndef MS_CRED_H
#define MS_CRED_H

#include <stdint.h>
#include <time.h>

#include "db.h"
#include "secret.h"

/* A provider's OAuth app ("Settings > Integrations"). */
struct ms_app {
	char *client_id;
	char *secret; /* plaintext in guarded memory while loaded, or NULL */
	char *tenant; /* Microsoft only, or NULL */
};

/* Store (replace) the app of a provider, its secret sealed. */
int ms_cred_app_store(struct ms_db *, const struct ms_secret_key *,
    const char *provider, const struct ms_app *);
/* Load it: 0, 1 when none is stored, -1. */
int ms_cred_app_load(struct ms_db *, const struct ms_secret_key *,
    const char *provider, struct ms_app *);
void ms_cred_app_finish(struct ms_app *); /* wipes the secret */

struct ms_tokens {
	char *access; /* access and refresh: guarded memory (secret.h) */
	time_t expires; /* when access stops working */
	char *refresh; /* NULL when the reply had none */
	char *scope; /* granted */
};

void ms_cred_tokens_finish(struct ms_tokens *); /* wipes */

/*
 * The stored tokens of an account. ms_cred_tokens_save seals and replaces them
 * inside the caller's transaction (a rotated refresh token is stored with
 * the access token it came with, or not at all).
 */
int ms_cred_tokens_save(struct ms_db *, const struct ms_secret_key *,
    int64_t account, const char *provider, const char *address,
    const struct ms_tokens *);
int ms_cred_tokens_load(struct ms_db *, const struct ms_secret_key *,
    int64_t account, const char *provider, const char *address,
    struct ms_tokens *);
/* Forget an account's tokens, and an IMAP account's password (its server
 * stays, for the record). */
int ms_cred_tokens_forget(struct ms_db *, int64_t account);

/*
 * An IMAP account's server and password (schema 8). tls is "implicit"
 * (imaps), "starttls" or "none" (loopback only, checked by connect).
 */
struct ms_imap_server {
	char *host;
	int port;
	char *tls;
	char *user;
	char *password; /* guarded memory (secret.h) while loaded */
};

void ms_cred_imap_finish(struct ms_imap_server *); /* wipes the password */

/* Store (replace) account's server and sealed password, inside the
 * caller's transaction. */
int ms_cred_imap_save(struct ms_db *, const struct ms_secret_key *,
    int64_t account, const char *address, const struct ms_imap_server *);
/* Load them (the password only when key is not NULL): 0, or -1
 * (EX_NOPERM when none is stored: the account must be connected again). */
int ms_cred_imap_load(struct ms_db *, const struct ms_secret_key *,
    int64_t account, const char *address, struct ms_imap_server *);

/* Whether the database holds sealed secrets (an app's client secret, any
 * account's tokens or IMAP password): 1, 0, or -1 (ms_err). */
int ms_cred_sealed(struct ms_db *);

/*
 * The key of the database's secrets (ms_secret_key_load): made when
 * create is set and the database holds no sealed secret, never over
 * sealed secrets (a missing key file is then EX_CONFIG).
 */
struct ms_secret_key *ms_cred_key_load(struct ms_db *, int create);

/*
 * Discard every sealed secret, inside the caller's transaction, for a new
 * key after the old one was lost: every account's tokens (the account then
 * needs re-authorization) and the apps whose client secret was sealed
 * (stored again with --setup). How many of each in *apps and *tokens.
 */
int ms_cred_discard_sealed(struct ms_db *, int *apps, int *tokens);

/* When the stored access token of an account expires (0: none stored). */
int ms_cred_tokens_expiry(struct ms_db *, int64_t account, time_t *expires);

#endif
