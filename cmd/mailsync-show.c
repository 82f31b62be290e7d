/*
 * mailsync-show: print a client's Emails list, view a CRM email in full,
 * or list the connected accounts.
 */
#include <err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "cmd.h"
#include "client.h"
#include "date.h"
#include "driver.h"
#include "email.h"
#include "print.h"
#include "term.h"
#include "util.h"

static MS_DEAD void
usage(FILE *out, int code)
{
	fprintf(out,
	    "usage: %s [--json | --tsv | --html [--fragment]] [--color WHEN]\n"
	    "           [-n N] [--since DATE] [--source SOURCE] CLIENT\n"
	    "       %s --view EMAIL_ID [--html [--fragment]]\n"
	    "       %s --accounts [--json | --tsv | --html | --check]\n"
	    "\n"
	    "Print a client's Emails list, newest first. CLIENT is the\n"
	    "client's CRM id or any email address on its record.\n"
	    "\n"
	    "  -j, --json          JSON Lines, one email per line\n"
	    "  -t, --tsv           tab-separated: id, date, direction, "
	    "source,\n"
	    "                      from, subject, has_attachments\n"
	    "      --html          a standalone HTML page (no script)\n"
	    "      --fragment      with --html: the tab alone, one element\n"
	    "                      with its own style, to embed\n"
	    "      --color WHEN    auto (default), always or never; NO_COLOR\n"
	    "                      and TERM=dumb turn auto off\n"
	    "  -n, --limit N       the newest N emails only (0: all)\n"
	    "  -s, --since DATE    emails from DATE on (YYYY-MM-DD or ISO "
	    "8601)\n"
	    "  -S, --source SRC    crm, gmail, outlook or imap only\n"
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

/* An argument quoted in an error, safe for the terminal (term.h): a
 * script may pass on an address it read from an email. */
static const char *
shown(const char *s)
{
	static char buf[512];
	char *c = ms_term_clean(s, 0);

	strlcpy(buf, c, sizeof(buf));
	free(c);
	return buf;
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

static void
finish(struct ms_printer *p)
{
	if (ms_printer_destroy(p) == -1)
		err(EX_IOERR, "stdout");
}

/* One line per unhealthy account on stdout, for monitoring. */
struct check {
	struct ms_printer *p;
	time_t now;
	int bad;
};

static int
check_one(const struct ms_account *a, void *arg)
{
	struct check *c = arg;
	int rc;

	if ((rc = ms_print_account_problem(c->p, a, c->now)) == 1)
		c->bad = 1;
	return rc == -1 ? -1 : 0;
}

static int
check_accounts(struct ms_db *db, struct ms_printer *p)
{
	struct check c = {p, time(NULL), 0};

	if (ms_account_each(db, check_one, &c) == -1)
		ms_cmd_die_printing();
	finish(p);
	return c.bad;
}

/* The client named by key, or exit 66 (before any output begins). */
static int64_t
find_client(struct ms_db *db, const char *key)
{
	int64_t id;
	int rc;

	if ((rc = ms_client_lookup(db, key, &id)) == -1)
		ms_cmd_die_printing();
	if (rc == 1)
		errx(EX_NOINPUT, "no client \"%s\" (by id or address)",
		    shown(key));
	return id;
}

static int
show_client(
    struct ms_db *db, struct ms_email_query *q, struct ms_printer *p, int html)
{
	struct ms_client c;
	int rc;

	/* A page is headed by the client's name and addresses. */
	if (html) {
		if ((rc = ms_client_get(db, q->client_id, &c)) == -1)
			ms_cmd_die_printing();
		if (rc == 0)
			ms_printer_client(p, &c);
		ms_client_finish(&c);
	}
	if (ms_email_list(db, q, print_email, p) == -1)
		ms_cmd_die_printing();
	finish(p);
	return 0;
}

static int
show_view(struct ms_db *db, const char *idstr, struct ms_printer *p)
{
	struct ms_email e;
	const char *errstr;
	long long id;
	int rc;

	id = strtonum(idstr, 1, INT64_MAX, &errstr);
	if (errstr != NULL)
		errx(EX_USAGE, "--view: email id \"%s\" is %s", shown(idstr),
		    errstr);
	if ((rc = ms_email_get(db, id, &e)) == -1)
		ms_cmd_die_printing();
	if (rc == 1)
		errx(EX_NOINPUT, "no email with id %lld", id);
	rc = 0;
	if (e.body == NULL) {
		warnx("email %lld was synced from %s: only its snippet is "
		      "stored",
		    id, e.source);
		rc = EX_DATAERR;
	}
	if ((e.body == NULL ? ms_print_snippet(p, &e)
			    : ms_print_email_full(p, &e)) == -1)
		ms_cmd_die_printing();
	ms_email_finish(&e);
	finish(p);
	return rc;
}

/* The one output format asked for: a second one is a usage error. */
static void
set_format(enum ms_format *fmt, int *given, enum ms_format f)
{
	if (*given && *fmt != f)
		errx(EX_USAGE, "%s and %s exclude each other",
		    ms_format_option(*fmt), ms_format_option(f));
	*fmt = f;
	*given = 1;
}

int
main(int argc, char *argv[])
{
	enum {
		OPT_HTML = 256,
		OPT_FRAGMENT,
		OPT_COLOR,
		OPT_VIEW,
		OPT_ACCOUNTS,
		OPT_CHECK
	};
	/* clang-format off */
	static const struct option longopts[] = {
	    MS_CLI_LONGOPTS,
	    {"json", no_argument, NULL, 'j'},
	    {"tsv", no_argument, NULL, 't'},
	    {"html", no_argument, NULL, OPT_HTML},
	    {"fragment", no_argument, NULL, OPT_FRAGMENT},
	    {"color", required_argument, NULL, OPT_COLOR},
	    {"limit", required_argument, NULL, 'n'},
	    {"since", required_argument, NULL, 's'},
	    {"source", required_argument, NULL, 'S'},
	    {"view", required_argument, NULL, OPT_VIEW},
	    {"accounts", no_argument, NULL, OPT_ACCOUNTS},
	    {"check", no_argument, NULL, OPT_CHECK},
	    {NULL, 0, NULL, 0},
	};
	/* clang-format on */
	struct ms_email_query q = {0};
	struct ms_cli cli = {0};
	struct ms_printer *p;
	struct ms_db *db;
	enum ms_format fmt = MS_FMT_TABLE;
	enum ms_record kind;
	const char *color = "auto", *view = NULL, *errstr;
	int ch, accounts = 0, check = 0, usecolor, rc, given = 0;
	int fragment = 0, filters = 0;

	while ((ch = getopt_long(argc, argv,
		    MS_CLI_SHORTOPTS "jtn:s:S:", longopts, NULL)) != -1) {
		switch (ch) {
		case 'h': usage(stdout, 0);
		case 'V': ms_cli_version(); return 0;
		case 'j': set_format(&fmt, &given, MS_FMT_JSON); break;
		case 't': set_format(&fmt, &given, MS_FMT_TSV); break;
		case OPT_HTML: set_format(&fmt, &given, MS_FMT_HTML); break;
		case OPT_FRAGMENT: fragment = 1; break;
		case OPT_COLOR: color = optarg; break;
		case 'n':
			filters = 1;
			q.limit = strtonum(optarg, 0, INT64_MAX, &errstr);
			if (errstr != NULL)
				errx(EX_USAGE, "--limit \"%s\" is %s",
				    shown(optarg), errstr);
			break;
		case 's':
			filters = 1;
			if (ms_date_parse_iso(optarg, &q.since) == -1)
				errx(EX_USAGE,
				    "--since \"%s\": not a date "
				    "(YYYY-MM-DD or ISO 8601)",
				    shown(optarg));
			break;
		case 'S':
			filters = 1;
			if ((q.source = ms_driver_source(optarg)) == NULL)
				errx(EX_USAGE, "--source \"%s\": want crm, %s",
				    shown(optarg), ms_driver_names());
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
		    shown(color));
	if (view != NULL || accounts ? argc != 0 : argc != 1)
		errx(EX_USAGE,
		    argc == 0 ? "missing CLIENT (an id or an "
				"address)"
			      : "unexpected argument \"%s\"",
		    argc == 0 ? "" : shown(argv[argc - 1]));
	if (view != NULL && accounts)
		errx(EX_USAGE, "--view and --accounts exclude each other");
	if (check && !accounts)
		errx(EX_USAGE, "--check goes with --accounts");
	if (filters && (view != NULL || accounts))
		errx(EX_USAGE, "--limit, --since and --source go with CLIENT");
	if (fragment && fmt != MS_FMT_HTML)
		errx(EX_USAGE, "--fragment goes with --html");
	kind = view != NULL ? MS_REC_EMAIL_FULL
	    : check         ? MS_REC_PROBLEM
	    : accounts      ? MS_REC_ACCOUNT
			    : MS_REC_EMAIL;
	if (ms_print_check(kind, fmt) == -1)
		errx(EX_USAGE, "%s%s",
		    view        ? "--view: "
			: check ? "--check: "
				: "",
		    ms_errstr());

	ms_cli_utf8();
	if ((db = ms_cli_open_mode(&cli, MS_DB_READ)) == NULL)
		ms_cmd_die_printing();
	if (view == NULL && !accounts)
		q.client_id = find_client(db, argv[0]);
	p = ms_printer_create(
	    stdout, fmt, usecolor, ms_cli_width(STDOUT_FILENO));
	ms_printer_html(p, kind, fragment);
	if (view != NULL)
		rc = show_view(db, view, p);
	else if (check)
		rc = check_accounts(db, p);
	else if (accounts) {
		if (ms_account_each(db, print_account, p) == -1)
			ms_cmd_die_printing();
		finish(p);
		rc = 0;
	} else
		rc = show_client(db, &q, p, fmt == MS_FMT_HTML);
	ms_db_close(db);
	return rc;
}
