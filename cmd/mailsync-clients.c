/*
 * mailsync-clients: import, list and remove the CRM's client records.
 */
#include <err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "cli.h"
#include "client.h"
#include "log.h"
#include "print.h"
#include "util.h"

#define MAX_IMPORT (1024UL * 1024 * 1024)

static MS_DEAD void
usage(FILE *out, int code)
{
	fprintf(out,
	    "usage: %s import [--csv] [--replace] [FILE|-]\n"
	    "       %s list [--json | --tsv]\n"
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
	    "  remove ID         remove one client (its emails stay)\n"
	    "\n" MS_CLI_USAGE,
	    getprogname(), getprogname(), getprogname());
	exit(code);
}

static MS_DEAD void
die(void)
{
	errx(ms_errcode(), "%s", ms_errstr());
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

static int
do_import(struct ms_db *db, const char *path, int csv, int replace)
{
	struct ms_clientset set = {0};
	struct ms_import_stats st;
	const char *name = path && strcmp(path, "-") ? path : "stdin";
	size_t len;
	char *buf;

	if ((buf = ms_read_all(path, MAX_IMPORT, &len)) == NULL)
		errx(EX_NOINPUT, "%s", ms_errstr());
	if (ms_client_parse(buf, len, csv, &set) == -1)
		errx(EX_DATAERR, "%s:%zu: %s; nothing imported", name,
		    set.errline, ms_errstr());
	free(buf);
	if (ms_client_import(db, &set, replace, &st) == -1 ||
	    ms_client_each_team_address(db, warn_team, NULL) == -1)
		die();
	ms_log_info("imported %zu clients (%zu added, %zu updated, "
		    "%zu removed)",
	    set.n, st.added, st.updated, st.removed);
	ms_clientset_finish(&set);
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
		die();
	}
	if (ms_printer_destroy(p) == -1)
		err(EX_IOERR, "stdout");
	return 0;
}

enum { OPT_CSV = 256, OPT_REPLACE, OPT_JSON, OPT_TSV };

static enum ms_format
format_of(int opt)
{
	return opt == OPT_JSON ? MS_FMT_JSON : MS_FMT_TSV;
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
	    MS_CLI_LONGOPTS,
	    {"csv", no_argument, NULL, OPT_CSV},
	    {"replace", no_argument, NULL, OPT_REPLACE},
	    {"json", no_argument, NULL, OPT_JSON},
	    {"tsv", no_argument, NULL, OPT_TSV},
	    {NULL, 0, NULL, 0},
	};
	struct ms_cli cli = {0};
	enum ms_format fmt = MS_FMT_TABLE;
	struct ms_db *db;
	const char *verb;
	int ch, csv = 0, replace = 0, rc;

	while ((ch = getopt_long(
		    argc, argv, MS_CLI_SHORTOPTS, longopts, NULL)) != -1) {
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
	if (strcmp(verb, "import") == 0) {
		if (argc > 2 || fmt != MS_FMT_TABLE)
			errx(EX_USAGE,
			    "usage: import [--csv] [--replace] "
			    "[FILE|-]");
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

	if ((db = ms_cli_open(&cli)) == NULL)
		die();
	if (strcmp(verb, "import") == 0)
		rc = do_import(db, argc == 2 ? argv[1] : NULL, csv, replace);
	else if (strcmp(verb, "list") == 0)
		rc = do_list(db, fmt);
	else if ((rc = ms_client_remove(db, argv[1])) == -1)
		die();
	else if (rc == 1)
		errx(EX_NOINPUT, "no client with id \"%s\"", argv[1]);
	else
		ms_log_info("removed client %s", argv[1]);
	ms_db_close(db);
	return rc;
}
