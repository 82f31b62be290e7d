/*
 * match: linking emails to clients by address.
 *
 * An email belongs to a client when any address among its From, To and
 * Cc equals the client's main, portal or a contact email (all stored
 * normalised, so the comparison is case-insensitive after trimming).
 */
#ifndef MS_MATCH_H
#define MS_MATCH_H

#include <stdint.h>

#include "db.h"

struct ms_match_stats {
	int64_t emails; /* emails evaluated */
	int64_t clients; /* clients re-evaluated in full */
	int64_t links; /* email-client links added */
};

/*
 * Incremental: emails never matched, plus every email of the clients
 * whose records changed. rematch: everything. One transaction.
 */
int ms_match_run(struct ms_db *, int rematch, struct ms_match_stats *);

#endif
