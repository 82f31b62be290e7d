/*
 * pull: one run of mailsync-pull. The accounts to pull are loaded, each
 * is set up with its driver, app credentials and request limits on one
 * fetch engine, the engine runs to the deadline, and each outcome is
 * recorded on its account row. An account's failure never stops the
 * others: it is that account's result.
 */
#ifndef MS_PULL_H
#define MS_PULL_H

#include <stddef.h>
#include <time.h>

#include "db.h"

struct ms_pull;

struct ms_pull_opts {
	char *const *names; /* --account: only these (NULL: every one) */
	size_t nnames;
	const char *since; /* --since, or NULL for the sync.since setting */
	int full; /* --full: forget the cursors */
	double deadline; /* CLOCK_MONOTONIC seconds (ms_fetch_now), 0: none */
	double grace; /* past the deadline, the longest a request may fly */
};

struct ms_pull_result {
	const char *address; /* borrowed from the run */
	const char *provider;
	const char *status; /* "ok", "partial", "error", "needs-reauth" */
	long fetched; /* messages read */
	long added; /* new to this account */
	long total; /* the mailbox's messages, -1 when not known */
	int code; /* 0, or the sysexits code the account failed with */
	const char *error; /* why it failed, or NULL */
};

/*
 * Load the accounts to pull: the active and failing ones, or those
 * named (an unknown name is EX_NOINPUT; a named disconnected account is
 * warned about and left out), plus, as results of their own, those that
 * wait for re-authorization. NULL with ms_err on failure.
 */
struct ms_pull *ms_pull_create(struct ms_db *, const struct ms_pull_opts *);
void ms_pull_destroy(struct ms_pull *);

/* Call tick(arg) about once a second while running (progress lines). */
void ms_pull_set_tick(struct ms_pull *, void (*tick)(void *), void *arg);

/*
 * Pull every account concurrently until all are done or the deadline
 * passed, then record each outcome on its account row. 0, or -1 when
 * the database failed (the results are then incomplete).
 */
int ms_pull_run(struct ms_pull *);

/* Stop the run at once, keeping what was committed (ms_fetch_interrupt:
 * safe in a signal handler); whether it was stopped so. */
void ms_pull_interrupt(struct ms_pull *);
int ms_pull_interrupted(const struct ms_pull *);

/* The number of results, and result i (valid until destroy). */
size_t ms_pull_count(const struct ms_pull *);
void ms_pull_result(const struct ms_pull *, size_t i, struct ms_pull_result *);

/*
 * The run's exit status from its accounts': re-authorization first (a
 * person must act), then a transient failure (the next run may succeed),
 * then the first other failure's own code (a provider refusing, 69;
 * missing app credentials, 78); 0 when every account succeeded.
 */
int ms_pull_status(const struct ms_pull *);

#endif
