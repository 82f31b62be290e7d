/*
 * mailsync-match: link emails to clients by address.
 */
#include <err.h>
#include <stdio.h>
#include <stdlib.h>
#include <sysexits.h>

#include "cli.h"
#include "log.h"
#include "match.h"
#include "util.h"

static MS_DEAD void
usage(FILE *out, int code)
{
	fprintf(out,
	    "usage: %s [--rematch]\n"
	    "\n"
	    "Link emails to clients: an email belongs to a client when an\n"
	    "address among its From, To and Cc is the client's main, portal\n"
	    "or a contact email. Links new emails, and all emails of clients\n"
	    "changed since the last run.\n"
	    "\n"
	    "  -r, --rematch     re-evaluate every email\n" MS_CLI_USAGE,
	    getprogname());
	exit(code);
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
	    MS_CLI_LONGOPTS,
	    {"rematch", no_argument, NULL, 'r'},
	    {NULL, 0, NULL, 0},
	};
	struct ms_cli cli = {0};
	struct ms_match_stats st;
	struct ms_db *db;
	int ch, rematch = 0;

	while ((ch = getopt_long(
		    argc, argv, MS_CLI_SHORTOPTS "r", longopts, NULL)) != -1) {
		switch (ch) {
		case 'h': usage(stdout, 0);
		case 'V': ms_cli_version(); return 0;
		case 'r': rematch = 1; break;
		default:
			if (!ms_cli_option(&cli, ch, optarg))
				exit(EX_USAGE);
		}
	}
	argc -= optind;
	if (argc > 0)
		errx(EX_USAGE, "unexpected argument \"%s\"", argv[optind]);

	if ((db = ms_cli_open(&cli)) == NULL ||
	    ms_match_run(db, rematch, &st) == -1)
		errx(ms_errcode(), "%s", ms_errstr());
	ms_log_info("matched %lld emails: %lld new links, %lld clients "
		    "re-evaluated",
	    (long long)st.emails, (long long)st.links, (long long)st.clients);
	ms_db_close(db);
	return 0;
}
