/*
 * mailsync-match: link emails to clients by address.
 */
#include <err.h>
#include <stdio.h>
#include <stdlib.h>
#include <sysexits.h>

#include "cli.h"
#include "cmd.h"
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
	    "or a contact email, under the rules of mailsync-config (the\n"
	    "business's own and blocked addresses never match; internal and\n"
	    "bulk mail may be excluded). Links new emails, and all emails of\n"
	    "clients changed since the last run; every email after a rule\n"
	    "changed. Then deletes synced emails matched to no client after\n"
	    "retention.unmatched_days, when set.\n"
	    "\n"
	    "  -r, --rematch     re-evaluate every email\n" MS_CLI_USAGE,
	    getprogname());
	exit(code);
}

/* The contract's one-line summary; the rarer facts only when they hold. */
static void
summary(const struct ms_match_stats *st)
{
	char removed[64] = "", expired[80] = "";

	if (st->unlinked > 0)
		snprintf(removed, sizeof(removed), ", removed %lld links",
		    (long long)st->unlinked);
	if (st->expired > 0)
		snprintf(expired, sizeof(expired),
		    ", deleted %lld unmatched synced emails (retention)",
		    (long long)st->expired);
	ms_log_info("matched %lld emails: %lld new links, %lld clients "
		    "re-evaluated%s%s%s",
	    (long long)st->emails, (long long)st->links, (long long)st->clients,
	    removed, expired,
	    st->rules_changed ? "; the rules changed since the last match, "
				"so every email was evaluated again"
			      : "");
}

int
main(int argc, char *argv[])
{
	/* clang-format off */
	static const struct option longopts[] = {
	    MS_CLI_LONGOPTS,
	    {"rematch", no_argument, NULL, 'r'},
	    {NULL, 0, NULL, 0},
	};
	/* clang-format on */
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
		ms_cmd_die();
	summary(&st);
	ms_db_close(db);
	return 0;
}
