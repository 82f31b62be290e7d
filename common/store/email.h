/*
 * email: the emails table, its participants and accounts.
 */
#ifndef MS_EMAIL_H
#define MS_EMAIL_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "addr.h"
#include "db.h"

enum { MS_ROLE_FROM = 0, MS_ROLE_TO = 1, MS_ROLE_CC = 2 };

/* One email; every string is owned by the struct (ms_email_finish). */
struct ms_email {
	int64_t id;
	char *message_id; /* normalised "<...>" */
	char source[16]; /* "crm", or the name of its driver */
	const char *direction; /* "in", "out" */
	time_t date;
	char *subject;
	char *snippet;
	char *body; /* CRM emails only, else NULL */
	char *thread_id;
	int has_attachments;
	int bulk; /* a newsletter or automated mail (ms_email_bulk_header) */
	struct ms_addrlist from, to, cc;
	char **accounts; /* addresses it was synced from */
	size_t naccounts;
};

void ms_email_finish(struct ms_email *);

/* The direction string as stored (static), or NULL. */
const char *ms_email_direction(const char *);

/*
 * Whether a header marks bulk or automated mail: List-Unsubscribe,
 * Precedence bulk, list or junk, Auto-Submitted other than "no"
 * (RFC 2369, RFC 3834).
 */
int ms_email_bulk_header(const char *name, const char *value);

/*
 * Fill e from one message header as the providers hand it over (name
 * and unfolded value): From, Subject, Message-ID and Date keep their
 * first value, To and Cc add to the lists, a bulk header sets e->bulk.
 */
void
ms_email_apply_header(struct ms_email *e, const char *name, const char *value);

/*
 * A synthetic Message-ID for an email that has none, stable for the same
 * date, sender, recipients and subject.
 */
char *ms_email_synthetic_id(const struct ms_email *);

/*
 * Store e (message_id required) unless an email with its Message-ID is
 * there already. A CRM email (body set) recorded after a mailbox synced
 * the same Message-ID takes that row over: it becomes the CRM email and
 * keeps its accounts. Returns 0 with e->id set and *created 1 for a new
 * row, 0 for an existing one; -1 on error. Runs inside the caller's
 * transaction.
 */
int ms_email_store(struct ms_db *, struct ms_email *e, int *created);

/* Load email id into e: 0, 1 when there is no such email, -1. */
int ms_email_get(struct ms_db *, int64_t id, struct ms_email *e);

struct ms_email_query {
	int64_t client_id;
	time_t since; /* 0: no bound */
	const char *source; /* NULL: every source */
	int64_t limit; /* 0: no limit */
};

/* Call fn for each email of a client's list, newest first. */
int ms_email_list(struct ms_db *, const struct ms_email_query *,
    int (*fn)(const struct ms_email *, void *), void *arg);

#endif
