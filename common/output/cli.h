/*
 * cli: the options every binary takes (-h -V -d -v -q) and opening the
 * database they name. Exiting stays with cmd/.
 */
#ifndef MS_CLI_H
#define MS_CLI_H

#include <getopt.h>

#include "db.h"

#define MS_CLI_SHORTOPTS "hVd:vq"

/* The common options' rows of a getopt_long table, first in every one. */
/* clang-format off */
#define MS_CLI_LONGOPTS \
	{"help",    no_argument,       NULL, 'h'}, \
	{"version", no_argument,       NULL, 'V'}, \
	{"db",      required_argument, NULL, 'd'}, \
	{"verbose", no_argument,       NULL, 'v'}, \
	{"quiet",   no_argument,       NULL, 'q'}
/* clang-format on */

/* The common options' lines for usage(). */
#define MS_CLI_USAGE                                                           \
	"  -d, --db PATH     the database (default $MAILSYNC_DB, else\n"       \
	"                    $XDG_DATA_HOME/mailsync/mailsync.db)\n"           \
	"  -v, --verbose     say more (twice: debug detail)\n"                 \
	"  -q, --quiet       only errors and warnings\n"                       \
	"  -h, --help        this help\n"                                      \
	"  -V, --version     the version\n"

struct ms_cli {
	const char *db; /* --db, or NULL */
	int verbosity; /* MS_LOG_* */
};

/* Take -d, -v or -q: returns 1, or 0 when ch is none of them. */
int ms_cli_option(struct ms_cli *, int ch, const char *arg);

/* Print "PROGNAME VERSION" on stdout. */
void ms_cli_version(void);

/* Start logging and open the database for mode (db.h); NULL with
 * ms_err on failure. */
struct ms_db *ms_cli_open_mode(const struct ms_cli *, enum ms_db_mode);
/* ms_cli_open_mode(cli, MS_DB_CREATE): for commands that write. */
struct ms_db *ms_cli_open(const struct ms_cli *);

/* Whether stdout should get colour: when ("auto", "always", "never");
 * auto means stdout is a terminal, NO_COLOR is unset or empty and TERM
 * is not "dumb". -1 for a bad when. */
int ms_cli_color(const char *when);

/* The display columns output on fd may use: $COLUMNS when it is set to
 * a number, else the terminal's width when fd is a terminal (80 when it
 * does not say), else 0: no limit. */
int ms_cli_width(int fd);

/* Measure text as UTF-8 (wcwidth): the user's LC_CTYPE when it is a
 * UTF-8 one, else C.UTF-8. What mailsync prints is UTF-8 either way. */
void ms_cli_utf8(void);

#endif
