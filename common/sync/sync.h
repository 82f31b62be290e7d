/*
 * sync: one account's pull, what the provider drivers (driver.h) share:
 * storing synced emails, and the cursors.
 *
 * A driver queues requests on the account's fetch queue and, in their
 * callbacks, stores a page of emails together with the cursor that
 * follows it in one transaction: killed at any point, the next run
 * starts from the last committed cursor and finds the emails before it
 * stored, the ones after it not.
 */
#ifndef MS_SYNC_H
#define MS_SYNC_H

#include <stdint.h>
#include <time.h>

#include "db.h"
#include "email.h"
#include "fetch.h"
#include "driver.h"

struct ms_sync {
	struct ms_db *db;
	const struct ms_provider *p;
	struct ms_fetch_acct *fa;
	int64_t account;
	const char *address;
	time_t since; /* first-sync window */
	int full; /* --full */
	long fetched; /* messages read */
	long added; /* new to this account */
	long total; /* the mailbox's messages (progress), -1: not known */
	long skipped; /* messages left out as malformed */
	int done; /* finished its work */
	void *drv; /* the driver's state */
};

/*
 * The cursor of one folder of the account ("" for a driver with one):
 * the driver's own text, opaque here. get: a new string in *text, NULL
 * when none is stored; 0 or -1. set stores it (NULL removes it) inside
 * the caller's transaction; clear removes every folder's.
 */
int ms_sync_cursor_get(struct ms_sync *, const char *folder, char **text);
int ms_sync_cursor_set(struct ms_sync *, const char *folder, const char *text);
int ms_sync_cursor_clear(struct ms_sync *);

/* Whether this account has the provider's message id already: 1, 0, -1. */
int ms_sync_known(struct ms_sync *, const char *provider_id);

/*
 * Store a synced email (body never) and link it to the account with its
 * provider id, inside the caller's transaction: an email with the same
 * Message-ID (from another account, or recorded by the CRM) gets the link
 * only. Sets direction (out when the sender is an account or alias) and
 * a synthetic Message-ID when it has none. Counts it in s->added when
 * the link is new.
 */
int
ms_sync_store(struct ms_sync *, struct ms_email *e, const char *provider_id);

/* Begin/commit a page; on failure the account is failed and -1 returned. */
int ms_sync_begin(struct ms_sync *);
int ms_sync_commit(struct ms_sync *);

/* Leave out one malformed message of a reply that is otherwise sound:
 * counted in s->skipped, warned about once per account and run. */
void ms_sync_skip(struct ms_sync *, const char *provider_id, const char *why);

/* Fail the account with the current ms_err (code, message prefixed). */
void ms_sync_fail(struct ms_sync *);

#endif
