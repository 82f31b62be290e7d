/*
 * match: linking emails to clients by address.
 *
 * An email belongs to a client when any address among its From, To and
 * Cc equals the client's main, portal or a contact email (all stored
 * normalised, so the comparison is case-insensitive after trimming),
 * under the business rules (rules.h): the business's own and blocked
 * addresses never match, internal and bulk mail can be excluded, and
 * synced emails matched to no client can expire.
 */
#ifndef MS_MATCH_H
#define MS_MATCH_H

#include <stdint.h>

#include "db.h"

struct ms_match_stats {
	int64_t emails; /* emails evaluated */
	int64_t clients; /* clients re-evaluated in full */
	int64_t links; /* email-client links added */
	int64_t unlinked; /* links removed: records or rules changed */
	int64_t expired; /* unmatched emails deleted by retention */
	int rules_changed; /* so every email was evaluated again */
	int first; /* the database's first match: nothing to compare */
};

/*
 * Incremental: emails never matched, plus every email of the clients
 * whose records changed; everything when a rule changed since the last
 * run, or with rematch. Then retention. One transaction.
 */
int ms_match_run(struct ms_db *, int rematch, struct ms_match_stats *);

#endif
