/*
 * rules: which addresses may make an email match a client.
 *
 * The business's own addresses (accounts and aliases) and blocked ones
 * never do; plus addressing and Gmail dots fold addresses together. The
 * rules are applied to addresses, not emails: every address gets a
 * match key and flags once (mailsync-match classifies the new ones each
 * run, and all of them when a rule changed), and linking reads those.
 */
#ifndef MS_RULES_H
#define MS_RULES_H

#include <stddef.h>
#include <stdint.h>

#include "db.h"

/* addresses.flags */
#define MS_RULES_BUSINESS 1 /* an account's address or alias */
#define MS_RULES_BLOCKED 2 /* on the blocklist */
#define MS_RULES_INTERNAL 4 /* business, or at the business's own domain */

struct ms_rules {
	int folds; /* MS_ADDR_* of match.plus_addressing, match.gmail_dots */
	int internal; /* exclude.internal */
	int bulk; /* exclude.bulk */
	long retention_days; /* retention.unmatched_days */
	char **blocked; /* patterns, "@domain" or match keys */
	size_t nblocked;
	char **domains; /* the business's own domains */
	size_t ndomains;
	char fingerprint[65]; /* of everything that needs a rematch */
	sqlite3 *functions; /* where its SQL functions are made */
};

/* Read the rules from the settings, blocklist, accounts and aliases and
 * make the SQL functions classification uses, until ms_rules_finish
 * takes them away. 0 or -1. */
int ms_rules_load(struct ms_db *, struct ms_rules *);
void ms_rules_finish(struct ms_rules *);

/* Whether the rules differ from those the last match applied: 1, 0, -1. */
int ms_rules_changed(struct ms_db *, const struct ms_rules *);
/* Remember the rules as applied (inside the match's transaction). */
int ms_rules_applied(struct ms_db *, const struct ms_rules *);

/*
 * Give addresses their match key and flags: the new ones, or all of
 * them (all, after a rule changed). Inside the caller's transaction.
 */
int ms_rules_classify(struct ms_db *, const struct ms_rules *, int all);

/* Set the direction of the synced emails with an id above after from
 * the classified sender: out when it is the business's (an account or
 * alias, folded as the rules fold). */
int ms_rules_directions(struct ms_db *, int64_t after);

/*
 * The blocklist. pattern is an address or "@domain"; it is normalised
 * into *norm (a new string, may be NULL). block returns 1 when it was
 * there already; unblock returns 1 when it was not there. -1 on error
 * (EX_DATAERR for a pattern that is neither).
 */
int ms_rules_block(struct ms_db *, const char *pattern, char **norm);
int ms_rules_unblock(struct ms_db *, const char *pattern, char **norm);

/* Call fn for each blocklist entry, sorted. */
int ms_rules_each_blocked(struct ms_db *,
    int (*fn)(const char *pattern, long long created, void *), void *arg);

#endif
