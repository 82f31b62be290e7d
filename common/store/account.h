/*
 * account: connected mailboxes (mailsync-connect adds them).
 */
#ifndef MS_ACCOUNT_H
#define MS_ACCOUNT_H

#include <stdint.h>
#include <time.h>

#include "db.h"

struct ms_account {
	int64_t id;
	const char *provider; /* "gmail", "outlook" */
	const char *address;
	const char *member;
	const char *status; /* active, needs-reauth, error, ... */
	time_t last_sync; /* 0: never */
	const char *last_error; /* NULL: none */
	int64_t emails; /* emails synced from it */
	int stale; /* active, but no successful sync for too long */
	const char *kind; /* "own", or "shared" (a shared mailbox) */
	char *const *folders; /* the folders pull tracks, by path */
	size_t nfolders;
};

/* Why the account is unhealthy, into buf; NULL when it is healthy (a
 * disconnected account is neither). */
const char *ms_account_problem(
    const struct ms_account *, time_t now, char *buf, size_t len);

/* Call fn for every account (strings borrowed for the call), ordered by
 * provider and address. */
int ms_account_each(
    struct ms_db *, int (*fn)(const struct ms_account *, void *), void *arg);

/*
 * Add the account provider/address, or re-activate it keeping its id and
 * sync state; *existed says which. Its member is member when not NULL,
 * else default_member for a new account and the old one for an existing
 * account; *stored gets it (a new string). In the caller's transaction.
 */
int ms_account_upsert(struct ms_db *, const char *provider, const char *address,
    const char *member, const char *default_member, int64_t *id, int *existed,
    char **stored);

/*
 * Find an account by address (normalised here), of provider when not
 * NULL: 0 with *id set and, when prov is not NULL, *prov its provider's
 * name (a new string); 1 when unknown; -1 (EX_USAGE when the address is
 * connected with several providers and none was named).
 */
int ms_account_find(struct ms_db *, const char *provider, const char *address,
    int64_t *id, char **prov);

/*
 * Aliases: the account's other addresses, read from the provider
 * (origin "provider") or added by hand ("manual").
 */
struct ms_alias {
	const char *address;
	const char *account; /* the account's address */
	const char *provider;
	const char *origin;
};

/* Add a manual alias (normalised here): 0, 1 when it was there already,
 * -1 (EX_DATAERR for a bad address). */
int ms_account_alias_add(struct ms_db *, int64_t id, const char *address);

/* Remove a manual alias: 0, 1 when the account has no such manual
 * alias, -1 (EX_DATAERR for a bad address). */
int ms_account_alias_remove(struct ms_db *, int64_t id, const char *address);

/* Make the provider aliases of account id exactly addrs (normalised
 * here, bad ones skipped) and note when they were read. In the caller's
 * transaction. */
int ms_account_aliases_set(
    struct ms_db *, int64_t id, char *const *addrs, size_t n, time_t now);

/* Whether the provider aliases of account id are older than max_age
 * seconds (or were never read): 1, 0, -1. */
int ms_account_aliases_due(struct ms_db *, int64_t id, time_t max_age);

/* Call fn for every alias, ordered by address. */
int ms_account_each_alias(
    struct ms_db *, int (*fn)(const struct ms_alias *, void *), void *arg);

/* The business's own addresses, normalised, as an SQL SELECT: every
 * account's (whatever its status) and every alias. */
#define MS_ACCOUNT_BUSINESS_SQL                                                \
	"SELECT lower(address) FROM accounts UNION SELECT address FROM "       \
	"aliases"

/* Whether address (normalised) is the business's: an account or an
 * alias. 1, 0, -1. */
int ms_account_is_business(struct ms_db *, const char *address);

/*
 * Erasure: the synced emails of account id that no other account
 * synced (CRM emails stay, whoever synced them), counted by
 * purge_count; purge deletes them and the account itself with its
 * tokens, cursors and aliases, in the caller's transaction.
 */
int ms_account_purge_count(struct ms_db *, int64_t id, int64_t *n);
int ms_account_purge(struct ms_db *, int64_t id, int64_t *deleted);

/*
 * Health over runs, for telling people (mailsync-pull): when the current
 * failure began and when stderr last said so (0: never, or healthy).
 */
struct ms_account_health {
	time_t failing_since;
	time_t notified;
};

int
ms_account_health_get(struct ms_db *, int64_t id, struct ms_account_health *);
int ms_account_health_set(
    struct ms_db *, int64_t id, const struct ms_account_health *);

/*
 * The time health is judged by: $MAILSYNC_NOW (seconds since the
 * epoch; for tests, to let a day pass in an instant) when set to a
 * number, else time(NULL). The one place that reads the variable.
 */
time_t ms_account_now(void);

/*
 * What kind of mailbox the account is ("own", or "shared": a shared
 * mailbox read with its member's grant) and the tenant it was
 * authorized at (NULL: the app's). get: new strings (*tenant may be
 * NULL); 0, 1 for no such account, -1. set: in the caller's transaction.
 */
int
ms_account_origin_get(struct ms_db *, int64_t id, char **kind, char **tenant);
int ms_account_origin_set(
    struct ms_db *, int64_t id, const char *kind, const char *tenant);

/*
 * The folders a pull tracks for account id, by the driver's key, with
 * the path people read: put adds or renames one, drop forgets one, clear
 * all of them; in the caller's transaction (with the driver's cursors).
 */
int ms_account_folder_put(
    struct ms_db *, int64_t id, const char *key, const char *name);
int ms_account_folder_drop(struct ms_db *, int64_t id, const char *key);
int ms_account_folder_clear(struct ms_db *, int64_t id);
/* Those folders: new vectors of new strings, *n of each. */
int ms_account_folders_get(
    struct ms_db *, int64_t id, char ***keys, char ***names, size_t *n);

/* A successful sync: active, last_sync now, no last error. */
int ms_account_synced(struct ms_db *, int64_t id);

/* Set status and last error (NULL clears it). */
int ms_account_set_status(
    struct ms_db *, int64_t id, const char *status, const char *last_error);

#endif
