/*
 * print: every record mailsync prints goes through one printer, with a
 * back end per format (table for people, JSON Lines, TSV, HTML), in the
 * manner of notmuch's sprinters. The JSON shapes are documented in
 * share/json/ and change only together with those documents.
 */
#ifndef MS_PRINT_H
#define MS_PRINT_H

#include <stdio.h>

#include "account.h"
#include "client.h"
#include "email.h"
#include "pull.h"

enum ms_format {
	MS_FMT_TABLE,
	MS_FMT_JSON,
	MS_FMT_TSV,
	MS_FMT_HTML,
};

struct ms_printer;

/*
 * color: use ANSI colours (table only). width: cut table lines to this
 * many columns, 0 for no limit.
 */
struct ms_printer *
ms_printer_create(FILE *, enum ms_format, int color, int width);
/* Finish the output (closing HTML) and free; returns -1 on a write error. */
int ms_printer_destroy(struct ms_printer *);

int ms_print_email(struct ms_printer *, const struct ms_email *);
int ms_print_account(struct ms_printer *, const struct ms_account *);
int ms_print_client(struct ms_printer *, const struct ms_client *);
/* One account's outcome of a pull (JSON only: people read the log). */
int ms_print_pull(struct ms_printer *, const struct ms_pull_result *);

/* A CRM email in full: decoded headers, a blank line, the body. */
int ms_print_email_full(FILE *, const struct ms_email *);

#endif
