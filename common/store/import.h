/*
 * import: the CRM's import files (mailsync-clients import), JSON Lines or
 * CSV, read into client records; no database here. The records keep the
 * ms_client names: they are also what the store (client.h) lists, and
 * what `clients list --json` prints back in the import format.
 */
#ifndef MS_IMPORT_H
#define MS_IMPORT_H

#include <stddef.h>

#include "addr.h"

enum ms_client_kind {
	MS_CLIENT_MAIN = 0,
	MS_CLIENT_PORTAL = 1,
	MS_CLIENT_CONTACT = 2,
};

struct ms_client {
	char *crm_id;
	char *name; /* "" when none */
	char *email; /* normalised, or NULL */
	char *portal_email; /* normalised, or NULL */
	struct ms_addrlist contacts; /* names and normalised emails */
	size_t line; /* where it was read */
};

struct ms_clientset {
	struct ms_client *v;
	size_t n;
	size_t cap;
	size_t errline; /* line of a parse error */
};

/*
 * Parse a whole import, JSON Lines (csv == 0) or CSV with a header row.
 * On error returns -1 with ms_err describing the problem (EX_DATAERR) and
 * set->errline the line it is on; nothing is kept in set then.
 */
int
ms_client_parse(const char *buf, size_t len, int csv, struct ms_clientset *set);
void ms_clientset_finish(struct ms_clientset *);

void ms_client_finish(struct ms_client *);

#endif
