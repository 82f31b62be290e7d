/*
 * print: every record mailsync prints goes through one printer, built
 * the way notmuch builds its sprinters: a record is a handful of typed
 * fields (string, integer, boolean, date, address, address list, null)
 * between a begin and an end, and one back end per format lays them out:
 * a table for people (with its column layout), JSON Lines, TSV, HTML.
 * Each record type below is described once, in print.c, and so works in
 * every format, or is refused with EX_USAGE where a format makes no
 * sense (ms_print_check). The JSON shapes are documented in share/json/
 * and change only together with those documents.
 *
 * Text from outside reaches people only through term.h's sanitizer: the
 * table cleans every value (U+FFFD for controls), TSV turns every
 * control into a space, HTML drops them and escapes the rest, JSON
 * escapes them and replaces invalid UTF-8.
 */
#ifndef MS_PRINT_H
#define MS_PRINT_H

#include <stdio.h>
#include <time.h>

#include "account.h"
#include "client.h"
#include "config.h"
#include "email.h"
#include "pull.h"
#include "util.h"

enum ms_format {
	MS_FMT_TABLE,
	MS_FMT_JSON,
	MS_FMT_TSV,
	MS_FMT_HTML,
};

/* The record types, for ms_print_check and ms_printer_html. */
enum ms_record {
	MS_REC_EMAIL, /* a line of a client's Emails list */
	MS_REC_EMAIL_FULL, /* a CRM email in full (--view) */
	MS_REC_SNIPPET, /* a synced email's snippet (--view) */
	MS_REC_ACCOUNT,
	MS_REC_PROBLEM, /* an unhealthy account (--accounts --check) */
	MS_REC_CLIENT,
	MS_REC_PULL, /* one account's outcome of a pull */
	MS_REC_ALIAS,
	MS_REC_BLOCKED, /* a blocklist entry */
	MS_REC_SETTING,
};

/* The option that asks for a format: "--json"; "the table" for it. */
const char *ms_format_option(enum ms_format);

/* 0 when records of this type can be printed in fmt, else -1 with
 * ms_errc(EX_USAGE) saying why (one line). */
int ms_print_check(enum ms_record, enum ms_format);

/*
 * color: use ANSI colours (table only). width: fit table lines into this
 * many display columns, 0 for no limit.
 */
struct ms_printer *
ms_printer_create(FILE *, enum ms_format, int color, int width);

/* HTML: the records to come are of this type (the table's head when
 * none comes), and fragment prints the table alone, for embedding,
 * rather than a standalone page. */
void ms_printer_html(struct ms_printer *, enum ms_record, int fragment);

/* HTML: the page is this client's Emails tab; its name and addresses
 * head the page (not a fragment). Copied: c may go once this returns. */
void ms_printer_client(struct ms_printer *, const struct ms_client *c);

/* The time the table's "5 min ago" counts from (default: when the
 * printer was created). */
void ms_printer_now(struct ms_printer *, time_t);

/* Finish the output (a buffered table, closing HTML) and free; returns
 * -1 on a write error. */
int ms_printer_destroy(struct ms_printer *);

/* The records; each returns 0, or -1 with ms_err on a write error or a
 * format the record refuses. */
int ms_print_email(struct ms_printer *, const struct ms_email *);
/* A CRM email in full: decoded headers, a blank line, the body. */
int ms_print_email_full(struct ms_printer *, const struct ms_email *);
int ms_print_snippet(struct ms_printer *, const struct ms_email *);
int ms_print_account(struct ms_printer *, const struct ms_account *);
/* "PROVIDER ADDRESS: why" when a is unhealthy at now: 1 printed, 0 when
 * it is healthy, -1. */
int ms_print_account_problem(
    struct ms_printer *, const struct ms_account *a, time_t now);
int ms_print_client(struct ms_printer *, const struct ms_client *);
int ms_print_pull(struct ms_printer *, const struct ms_pull_result *);
int ms_print_alias(struct ms_printer *, const struct ms_alias *);
int
ms_print_blocked(struct ms_printer *, const char *pattern, long long created);
int ms_print_setting(
    struct ms_printer *, const struct ms_config_key *, const char *value);

/*
 * For lines a command builds itself (pull's progress line): the display
 * columns s takes once cleaned (term.h), and appending s cleaned and cut
 * to at most width columns ("…" where it is cut; width < 0: no limit),
 * returning the columns used. Wide characters count two columns.
 */
int ms_print_width(const char *s);
int ms_print_fit(struct ms_buf *, const char *s, int width);

#endif
