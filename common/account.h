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
};

/* How long an active account may go without a successful sync before
 * it is stale: the setting health.stale_minutes, default 60. */
#define MS_ACCOUNT_STALE_MINUTES 60

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
 * NULL: 0 with *id and *prov (a static "gmail"/"outlook") set, 1 when
 * unknown, -1 (EX_USAGE when the address is connected with both
 * providers and none was named).
 */
int ms_account_find(struct ms_db *, const char *provider, const char *address,
    int64_t *id, const char **prov);

/* Set status and last error (NULL clears it). */
int ms_account_set_status(
    struct ms_db *, int64_t id, const char *status, const char *last_error);

#endif
