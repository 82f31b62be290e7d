/*
 * sync: one account's pull, shared by the provider drivers (gmail.c,
 * graph.c): storing synced emails, the cursors, and the driver table.
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
#include "provider.h"

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

struct ms_cursor {
	char *history_id;
	char *full_history_id;
	char *page_token;
	char *delta_link;
	char *next_link;
};

struct ms_driver {
	const char *name;
	/* Queue the first requests; 0 or -1. */
	int (*start)(struct ms_sync *);
	/* Free the driver's state. */
	void (*finish)(struct ms_sync *);
};

const struct ms_driver *ms_sync_driver(const char *provider);

/* The drivers (gmail.c, graph.c). */
int ms_gmail_start(struct ms_sync *);
/* The quota units of Gmail's most expensive request (a full batch). */
double ms_gmail_max_request_units(void);
void ms_gmail_finish(struct ms_sync *);
int ms_graph_start(struct ms_sync *);
void ms_graph_finish(struct ms_sync *);

int
ms_sync_cursor_get(struct ms_sync *, const char *folder, struct ms_cursor *);
/* Inside the caller's transaction. */
int ms_sync_cursor_set(
    struct ms_sync *, const char *folder, const struct ms_cursor *);
int ms_sync_cursor_clear(struct ms_sync *);
void ms_cursor_finish(struct ms_cursor *);

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
