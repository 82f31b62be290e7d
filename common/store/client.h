/*
 * client: the CRM's client records in the database (mailsync-clients):
 * an import stored, lookups, listings. Reading the import files is
 * import.h.
 */
#ifndef MS_CLIENT_H
#define MS_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "db.h"
#include "import.h"

struct ms_import_stats {
	size_t added, updated, unchanged, removed;
};

/*
 * Upsert every client of set in one transaction; with replace, remove the
 * clients absent from set. Clients whose addresses changed are marked for
 * the next mailsync-match.
 */
int ms_client_import(struct ms_db *, const struct ms_clientset *, int replace,
    struct ms_import_stats *);

/*
 * Call fn for each address of a client changed since the last match
 * that is the business's own (an account or alias), which never makes
 * an email match: a team address on a client record is a mistake.
 */
int ms_client_each_team_address(struct ms_db *,
    int (*fn)(const char *crm_id, const char *address, void *), void *arg);

/* Remove a client by CRM id: 0, 1 when there is no such client, -1. */
int ms_client_remove(struct ms_db *, const char *crm_id);

/*
 * Find a client by CRM id, else by any address on its record. Returns 0
 * with *id set, 1 when unknown, -1 on error (an address on several
 * clients is an error, EX_DATAERR, naming them).
 */
int ms_client_lookup(struct ms_db *, const char *key, int64_t *id);

/* Load client id (as ms_client_lookup finds it) into c: 0, 1 when there
 * is no such client, -1. Free it with ms_client_finish. */
int ms_client_get(struct ms_db *, int64_t id, struct ms_client *c);

/* Call fn for every client, ordered by CRM id. Stops when fn returns -1. */
int ms_client_each(
    struct ms_db *, int (*fn)(const struct ms_client *, void *), void *arg);

/*
 * For shell completion: every client id, and every address on a client
 * record, that starts with prefix (addresses compared in lower case), in
 * byte order, at most limit of them (0: all). fn gets the value, its
 * kind ("id" or "address") and what it names: the client's name for an
 * id, its id for an address. Each kind is one range read of an index,
 * bounded whatever the database's size (addresses: 20,000 rows of every
 * email's addresses at most, so a very short prefix may miss some).
 */
int ms_client_complete(struct ms_db *, const char *prefix, long long limit,
    int (*fn)(const char *value, const char *kind, const char *what, void *),
    void *arg);

#endif
