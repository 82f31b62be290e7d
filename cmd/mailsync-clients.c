/*
 * mailsync-clients: import, list and remove the CRM's client records.
 */
#include <err.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "cli.h"
#include "cmd.h"
#include "client.h"
#include "log.h"
#include "print.h"
#include "term.h"
#include "util.h"

#define MAX_IMPORT (1024UL * 1024 * 1024)

static MS_DEAD void
usage(FILE *out, int code)
{
	fprintf(out,
	    "usage: %s import [--csv] [--replace] [FILE|-]\n"
	    "       %s list [--json | --tsv]\n"
	    "       %s list --ids [-n N] [PREFIX]\n"
	    "       %s remove ID\n"
	    "\n"
	    "Import, list and remove the CRM's client records.\n"
	    "\n"
	    "  import            upsert clients by id from JSON Lines (or "
	    "CSV);\n"
	    "                    a bad record names its line, nothing is "
	    "imported\n"
	    "      --csv         read CSV: "
	    "id,name,email,portal_email,contact_emails\n"
	    "      --replace     also remove clients absent from the input\n"
	    "  list              print every client\n"
	    "      --json        JSON Lines in the import format\n"
	    "      --tsv         tab-separated values\n"
	    "      --ids         for completion: the client ids and the\n"
	    "                    addresses on client records that start "
	    "with\n"
	    "                    PREFIX, one a line: VALUE, id or address, "
	    "and\n"
	    "                    what it names (the client's name, its id),\n"
	    "                    tab-separated\n"
	    "  -n, --limit N     with --ids: at most N lines (default 1000, "
	    "0: all)\n"
	    "  remove ID         remove one client (its emails stay)\n"
	    "\n" MS_CLI_USAGE,
	    getprogname(), getprogname(), getprogname(), getprogname());
	exit(code);
}

static int
warn_team(const char *crm_id, const char *address, void *arg)
{
	(void)arg;
	ms_log_warn("warning: client %s lists %s, an address of the "
		    "business's own: it never makes an email match",
	    crm_id, address);
	return 0;
}

/* Read and check the whole input before the database is opened: bad
 * input changes nothing, and creates no database either. */
static void
read_input(const char *path, int csv, struct ms_clientset *set)
{
	const char *name = path && strcmp(path, "-") ? path : "stdin";
	size_t len;
	char *buf;

	if ((buf = ms_read_all(path, MAX_IMPORT, &len)) == NULL)
		errx(EX_NOINPUT, "%s", ms_errstr());
	if (ms_client_parse(buf, len, csv, set) == -1)
		errx(EX_DATAERR, "%s:%zu: %s; nothing imported", name,
		    set->errline, ms_errstr());
	free(buf);
}

static int
do_import(struct ms_db *db, struct ms_clientset *set, int replace)
{
	struct ms_import_stats st;

	if (ms_client_import(db, set, replace, &st) == -1 ||
	    ms_client_each_team_address(db, warn_team, NULL) == -1)
		ms_cmd_die_printing();
	ms_log_info("imported %zu clients (%zu added, %zu updated, "
		    "%zu removed)",
	    set->n, st.added, st.updated, st.removed);
	return 0;
}

static int
print_client(const struct ms_client *c, void *arg)
{
	return ms_print_client(arg, c);
}

static int
do_list(struct ms_db *db, enum ms_format fmt)
{
	struct ms_printer *p;

	ms_cli_utf8();
	p = ms_printer_create(stdout, fmt, 0, ms_cli_width(STDOUT_FILENO));

	if (ms_client_each(db, print_client, p) == -1) {
		ms_printer_destroy(p);
		ms_cmd_die_printing();
	}
	if (ms_printer_destroy(p) == -1)
		err(EX_IOERR, "stdout");
	return 0;
}

/* A value and what it names, on one line: neither may break it. */
static int
print_completion(
    const char *value, const char *kind, const char *what, void *arg)
{
	(void)arg;
	if (ms_term_fputs(value, MS_TERM_SPACES, stdout) == -1 ||
	    printf("\t%s\t", kind) < 0 ||
	    ms_term_fputs(what, MS_TERM_SPACES, stdout) == -1 ||
	    putchar('\n') == EOF)
		return ms_errc(EX_IOERR, "stdout: %s", strerror(errno));
	return 0;
}

static int
do_ids(struct ms_db *db, const char *prefix, long long limit)
{
	if (ms_client_complete(
		db, prefix ? prefix : "", limit, print_completion, NULL) == -1)
		ms_cmd_die_printing();
	ms_cmd_flush();
	return 0;
}

enum { OPT_CSV = 256, OPT_REPLACE, OPT_JSON, OPT_TSV, OPT_IDS };

static enum ms_format
format_of(int opt)
{
	return opt == OPT_JSON ? MS_FMT_JSON : MS_FMT_TSV;
}

int
main(int argc, char *argv[])
{
	/* clang-format off */
	static const struct option longopts[] = {
	    MS_CLI_LONGOPTS,
	    {"csv", no_argument, NULL, OPT_CSV},
	    {"replace", no_argument, NULL, OPT_REPLACE},
	    {"json", no_argument, NULL, OPT_JSON},
	    {"tsv", no_argument, NULL, OPT_TSV},
	    {"ids", no_argument, NULL, OPT_IDS},
	    {"limit", required_argument, NULL, 'n'},
	    {NULL, 0, NULL, 0},
	};
	/* clang-format on */
	struct ms_clientset set = {0};
	struct ms_cli cli = {0};
	enum ms_format fmt = MS_FMT_TABLE;
	struct ms_db *db;
	const char *verb, *errstr;
	long long limit = 1000;
	int ch, csv = 0, replace = 0, ids = 0, limited = 0, rc;

	while ((ch = getopt_long(
		    argc, argv, MS_CLI_SHORTOPTS "n:", longopts, NULL)) != -1) {
		switch (ch) {
		case 'h': usage(stdout, 0);
		case 'V': ms_cli_version(); return 0;
		case OPT_CSV: csv = 1; break;
		case OPT_REPLACE: replace = 1; break;
		case OPT_JSON:
		case OPT_TSV:
			if (fmt != MS_FMT_TABLE && fmt != format_of(ch))
				errx(EX_USAGE,
				    "--json and --tsv exclude each "
				    "other");
			fmt = format_of(ch);
			break;
		case OPT_IDS: ids = 1; break;
		case 'n':
			limit = strtonum(optarg, 0, INT64_MAX, &errstr);
			if (errstr != NULL)
				errx(EX_USAGE, "--limit \"%s\" is %s", optarg,
				    errstr);
			limited = 1;
			break;
		default:
			if (!ms_cli_option(&cli, ch, optarg))
				exit(EX_USAGE);
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1)
		errx(EX_USAGE, "missing command: import, list or remove");
	verb = argv[0];
	if ((ids || limited) && strcmp(verb, "list") != 0)
		errx(EX_USAGE, "--ids and --limit go with list");
	if (limited && !ids)
		errx(EX_USAGE, "--limit goes with list --ids");
	if (strcmp(verb, "import") == 0) {
		if (argc > 2 || fmt != MS_FMT_TABLE)
			errx(EX_USAGE,
			    "usage: import [--csv] [--replace] "
			    "[FILE|-]");
	} else if (strcmp(verb, "list") == 0 && ids) {
		if (argc > 2 || csv || replace || fmt != MS_FMT_TABLE)
			errx(EX_USAGE, "usage: list --ids [-n N] [PREFIX]");
	} else if (strcmp(verb, "list") == 0) {
		if (argc != 1 || csv || replace)
			errx(EX_USAGE, "usage: list [--json | --tsv]");
	} else if (strcmp(verb, "remove") == 0) {
		if (argc != 2 || csv || replace || fmt != MS_FMT_TABLE)
			errx(EX_USAGE, "usage: remove ID");
	} else
		errx(EX_USAGE,
		    "unknown command \"%s\": import, list or "
		    "remove",
		    verb);

	if (strcmp(verb, "import") == 0)
		read_input(argc == 2 ? argv[1] : NULL, csv, &set);
	/* Only import may make a new database; list only reads. */
	if ((db = ms_cli_open_mode(&cli,
		 strcmp(verb, "import") == 0     ? MS_DB_CREATE
		     : strcmp(verb, "list") == 0 ? MS_DB_READ
						 : MS_DB_WRITE)) == NULL)
		ms_cmd_die_printing();
	if (strcmp(verb, "import") == 0)
		rc = do_import(db, &set, replace);
	else if (strcmp(verb, "list") == 0 && ids)
		rc = do_ids(db, argc == 2 ? argv[1] : NULL, limit);
	else if (strcmp(verb, "list") == 0)
		rc = do_list(db, fmt);
	else if ((rc = ms_client_remove(db, argv[1])) == -1)
		ms_cmd_die_printing();
	else if (rc == 1)
		errx(EX_NOINPUT, "no client with id \"%s\"", argv[1]);
	else
		ms_log_info("removed client %s", argv[1]);
	ms_db_close(db);
	ms_clientset_finish(&set);
	return rc;
}
