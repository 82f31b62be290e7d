/*
 * mailsync-show: print a client's Emails list, view a CRM email in full,
 * or list the connected accounts.
 */
#include <err.h>
#include <langinfo.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>

#include "cli.h"
#include "client.h"
#include "date.h"
#include "email.h"
#include "print.h"
#include "util.h"

static MS_DEAD void
usage(FILE *out, int code)
{
	fprintf(out,
	    "usage: %s [--json | --tsv | --html] [--color WHEN] [-n N]\n"
	    "           [--since DATE] [--source SOURCE] CLIENT\n"
	    "       %s --view EMAIL_ID\n"
	    "       %s --accounts [--json | --tsv | --check]\n"
	    "\n"
	    "Print a client's Emails list, newest first. CLIENT is the\n"
	    "client's CRM id or any email address on its record.\n"
	    "\n"
	    "  -j, --json          JSON Lines, one email per line\n"
	    "  -t, --tsv           tab-separated: id, date, direction, "
	    "source,\n"
	    "                      from, subject, has_attachments\n"
	    "      --html          an HTML table\n"
	    "      --color WHEN    auto (default), always or never; NO_COLOR\n"
	    "                      turns auto off\n"
	    "  -n, --limit N       the newest N emails only (0: all)\n"
	    "  -s, --since DATE    emails from DATE on (YYYY-MM-DD or ISO "
	    "8601)\n"
	    "  -S, --source SRC    crm, gmail or outlook only\n"
	    "      --view ID       print CRM email ID in full\n"
	    "      --accounts      list the connected accounts\n"
	    "      --check         with --accounts: print nothing and exit 0\n"
	    "                      when every account is healthy, else a line\n"
	    "                      per unhealthy one (needs-reauth, failing,\n"
	    "                      no sync for an hour) and exit 1\n"
	    "\n" MS_CLI_USAGE,
	    getprogname(), getprogname(), getprogname());
	exit(code);
}

static MS_DEAD void
die(void)
{
	/* A printer that failed mid-list failed on stdout: exit 74. */
	if (ferror(stdout))
		errx(EX_IOERR, "stdout: %s", ms_errstr());
	errx(ms_errcode(), "%s", ms_errstr());
}

/* wcwidth() needs a UTF-8 locale; what we print is UTF-8 anyway. */
static void
utf8_locale(void)
{
	if (setlocale(LC_CTYPE, "") == NULL ||
	    strcmp(nl_langinfo(CODESET), "UTF-8") != 0)
		setlocale(LC_CTYPE, "C.UTF-8");
}

static int
print_email(const struct ms_email *e, void *arg)
{
	return ms_print_email(arg, e);
}

static int
print_account(const struct ms_account *a, void *arg)
{
	return ms_print_account(arg, a);
}

/* One line per unhealthy account on stdout, for monitoring. */
static int
check_one(const struct ms_account *a, void *arg)
{
	int *bad = arg;
	char why[600];

	if (ms_account_problem(a, time(NULL), why, sizeof(why)) != NULL) {
		printf("%s %s: %s\n", a->provider, a->address, why);
		*bad = 1;
	}
	return 0;
}

static int
check_accounts(struct ms_db *db)
{
	int bad = 0;

	if (ms_account_each(db, check_one, &bad) == -1)
		die();
	if (fflush(stdout) == EOF || ferror(stdout))
		err(EX_IOERR, "stdout");
	return bad;
}

static void
finish(struct ms_printer *p)
{
	if (ms_printer_destroy(p) == -1)
		err(EX_IOERR, "stdout");
}

static int
show_client(struct ms_db *db, const char *key, struct ms_email_query *q,
    struct ms_printer *p)
{
	int rc;

	if ((rc = ms_client_lookup(db, key, &q->client_id)) == -1)
		die();
	if (rc == 1)
		errx(EX_NOINPUT, "no client \"%s\" (by id or address)", key);
	if (ms_email_list(db, q, print_email, p) == -1)
		die();
	finish(p);
	return 0;
}

static int
show_view(struct ms_db *db, const char *idstr)
{
	struct ms_email e;
	const char *errstr;
	long long id;
	int rc;

	id = strtonum(idstr, 1, INT64_MAX, &errstr);
	if (errstr != NULL)
		errx(EX_USAGE, "--view: email id \"%s\" is %s", idstr, errstr);
	if ((rc = ms_email_get(db, id, &e)) == -1)
		die();
	if (rc == 1)
		errx(EX_NOINPUT, "no email with id %lld", id);
	if (e.body == NULL) {
		warnx("email %lld was synced from %s: only its snippet is "
		      "stored",
		    id, e.source);
		printf("%s\n", e.snippet);
		ms_email_finish(&e);
		return EX_DATAERR;
	}
	if (ms_print_email_full(stdout, &e) == -1 || fflush(stdout) == EOF)
		err(EX_IOERR, "stdout");
	ms_email_finish(&e);
	return 0;
}

int
main(int argc, char *argv[])
{
	enum { OPT_HTML = 256, OPT_COLOR, OPT_VIEW, OPT_ACCOUNTS, OPT_CHECK };
	static const struct option longopts[] = {
	    MS_CLI_LONGOPTS,
	    {"json", no_argument, NULL, 'j'},
	    {"tsv", no_argument, NULL, 't'},
	    {"html", no_argument, NULL, OPT_HTML},
	    {"color", required_argument, NULL, OPT_COLOR},
	    {"limit", required_argument, NULL, 'n'},
	    {"since", required_argument, NULL, 's'},
	    {"source", required_argument, NULL, 'S'},
	    {"view", required_argument, NULL, OPT_VIEW},
	    {"accounts", no_argument, NULL, OPT_ACCOUNTS},
	    {"check", no_argument, NULL, OPT_CHECK},
	    {NULL, 0, NULL, 0},
	};
	struct ms_email_query q = {0};
	struct ms_cli cli = {0};
	struct ms_printer *p;
	struct ms_db *db;
	enum ms_format fmt = MS_FMT_TABLE;
	const char *color = "auto", *view = NULL, *errstr;
	int ch, accounts = 0, check = 0, usecolor, rc;

	while ((ch = getopt_long(argc, argv,
		    MS_CLI_SHORTOPTS "jtn:s:S:", longopts, NULL)) != -1) {
		switch (ch) {
		case 'h': usage(stdout, 0);
		case 'V': ms_cli_version(); return 0;
		case 'j': fmt = MS_FMT_JSON; break;
		case 't': fmt = MS_FMT_TSV; break;
		case OPT_HTML: fmt = MS_FMT_HTML; break;
		case OPT_COLOR: color = optarg; break;
		case 'n':
			q.limit = strtonum(optarg, 0, INT64_MAX, &errstr);
			if (errstr != NULL)
				errx(EX_USAGE, "--limit \"%s\" is %s", optarg,
				    errstr);
			break;
		case 's':
			if (ms_date_parse_iso(optarg, &q.since) == -1)
				errx(EX_USAGE,
				    "--since \"%s\": not a date "
				    "(YYYY-MM-DD or ISO 8601)",
				    optarg);
			break;
		case 'S':
			if ((q.source = ms_email_source(optarg)) == NULL)
				errx(EX_USAGE,
				    "--source \"%s\": want crm, "
				    "gmail or outlook",
				    optarg);
			break;
		case OPT_VIEW: view = optarg; break;
		case OPT_ACCOUNTS: accounts = 1; break;
		case OPT_CHECK: check = 1; break;
		default:
			if (!ms_cli_option(&cli, ch, optarg))
				exit(EX_USAGE);
		}
	}
	argc -= optind;
	argv += optind;
	if ((usecolor = ms_cli_color(color)) == -1)
		errx(EX_USAGE, "--color \"%s\": want auto, always or never",
		    color);
	if (view != NULL || accounts ? argc != 0 : argc != 1)
		errx(EX_USAGE,
		    argc == 0 ? "missing CLIENT (an id or an "
				"address)"
			      : "unexpected argument \"%s\"",
		    argv[argc - 1]);
	if (view != NULL && accounts)
		errx(EX_USAGE, "--view and --accounts exclude each other");
	if (check && !accounts)
		errx(EX_USAGE, "--check goes with --accounts");

	utf8_locale();
	if ((db = ms_cli_open_mode(&cli, MS_DB_READ)) == NULL)
		die();
	p = ms_printer_create(stdout, fmt, usecolor, ms_cli_width());
	if (view != NULL) {
		ms_printer_destroy(p);
		rc = show_view(db, view);
	} else if (check) {
		ms_printer_destroy(p);
		rc = check_accounts(db);
	} else if (accounts) {
		if (ms_account_each(db, print_account, p) == -1)
			die();
		finish(p);
		rc = 0;
	} else
		rc = show_client(db, argv[0], &q, p);
	ms_db_close(db);
	return rc;
}
