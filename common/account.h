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
};

/* Call fn for every account (strings borrowed for the call), ordered by
 * provider and address. */
int ms_account_each(
    struct ms_db *, int (*fn)(const struct ms_account *, void *), void *arg);

#endif
