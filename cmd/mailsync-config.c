/*
 * mailsync-config: business-wide settings, the blocklist and aliases.
 */
#include <err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "account.h"
#include "cli.h"
#include "cmd.h"
#include "config.h"
#include "driver.h"
#include "log.h"
#include "print.h"
#include "rules.h"
#include "util.h"

static MS_DEAD void
usage(FILE *out, int code)
{
	fprintf(out,
	    "usage: %s list [--json]\n"
	    "       %s get KEY\n"
	    "       %s set KEY VALUE\n"
	    "       %s unset KEY\n"
	    "       %s block ADDRESS|@DOMAIN...\n"
	    "       %s unblock ADDRESS|@DOMAIN...\n"
	    "       %s blocklist [--json]\n"
	    "       %s alias [--provider P] ACCOUNT ADDRESS\n"
	    "       %s unalias [--provider P] ACCOUNT ADDRESS\n"
	    "       %s aliases [--json]\n"
	    "\n"
	    "Business-wide settings, checked when set; rule changes apply\n"
	    "to every email at the next mailsync-match. A blocked address\n"
	    "or @domain (subdomains too) makes no email match a client.\n"
	    "Aliases are a team member's other addresses: mail from them\n"
	    "is outbound and they never match a client. A VALUE that starts\n"
	    "with \"-\" goes after \"--\": set -- KEY -1.\n"
	    "\n"
	    "  -j, --json        JSON Lines\n"
	    "  -p, --provider P  gmail, outlook or imap, for an ACCOUNT\n"
	    "                    connected with several\n"
	    "\n" MS_CLI_USAGE,
	    getprogname(), getprogname(), getprogname(), getprogname(),
	    getprogname(), getprogname(), getprogname(), getprogname(),
	    getprogname(), getprogname());
	exit(code);
}

struct opts {
	struct ms_cli cli;
	int json;
	const char *provider;
	struct ms_printer *p; /* for list, blocklist and aliases */
};

/* The commands, with their number of arguments (max -1: any). */
static const struct command {
	const char *name;
	int min, max, json;
	const char *args;
	enum ms_db_mode mode; /* reads never create; some writes neither */
} commands[] = {
    {"list", 0, 0, 1, "", MS_DB_READ},
    {"get", 1, 1, 0, "KEY", MS_DB_READ},
    {"set", 2, 2, 0, "KEY VALUE", MS_DB_CREATE},
    {"unset", 1, 1, 0, "KEY", MS_DB_WRITE},
    {"block", 1, -1, 0, "ADDRESS|@DOMAIN...", MS_DB_CREATE},
    {"unblock", 1, -1, 0, "ADDRESS|@DOMAIN...", MS_DB_WRITE},
    {"blocklist", 0, 0, 1, "", MS_DB_READ},
    {"alias", 2, 2, 0, "ACCOUNT ADDRESS", MS_DB_WRITE},
    {"unalias", 2, 2, 0, "ACCOUNT ADDRESS", MS_DB_WRITE},
    {"aliases", 0, 0, 1, "", MS_DB_READ},
};

/* The command argv names, checked before anything is opened. */
static const struct command *
command(int argc, char **argv, const struct opts *o)
{
	const struct command *c;
	size_t i;

	if (argc == 0)
		errx(EX_USAGE, "missing command (see --help)");
	for (i = 0; i < sizeof(commands) / sizeof(*commands); i++)
		if (strcmp(commands[i].name, argv[0]) == 0)
			break;
	if (i == sizeof(commands) / sizeof(*commands))
		errx(EX_USAGE, "unknown command \"%s\" (see --help)", argv[0]);
	c = &commands[i];
	argc--;
	if (argc < c->min || (c->max >= 0 && argc > c->max))
		errx(EX_USAGE, "%s takes %s%s", c->name,
		    *c->args ? c->args : "no arguments",
		    argc < c->min ? "" : " only");
	if (o->json && !c->json)
		errx(EX_USAGE, "--json goes with list, blocklist or aliases");
	return c;
}

/*
 * Settings
 */

static int
list(struct ms_db *db, const struct opts *o)
{
	const struct ms_config_key *k;
	size_t i, n;
	char *v;
	int rc;

	k = ms_config_keys(&n);
	for (i = 0; i < n; i++) {
		if ((v = ms_config_get(db, k[i].key)) == NULL)
			return -1;
		rc = ms_print_setting(o->p, &k[i], v);
		free(v);
		if (rc == -1)
			return -1;
	}
	return 0;
}

static int
get(struct ms_db *db, const char *key)
{
	char *v;

	if ((v = ms_config_get(db, key)) == NULL)
		return -1;
	printf("%s\n", v);
	free(v);
	return 0;
}

/* Write in a transaction: all of it or nothing. */
static void
begin(struct ms_db *db)
{
	if (ms_db_begin(db) == -1)
		ms_cmd_die_printing();
}

static void
commit(struct ms_db *db, int rc)
{
	if (rc == -1 || ms_db_commit(db) == -1) {
		ms_db_rollback(db);
		ms_cmd_die_printing();
	}
}

/*
 * The blocklist
 */

static int
block(struct ms_db *db, int on, int argc, char **argv)
{
	char *norm;
	int i, rc = 0;

	begin(db);
	for (i = 0; i < argc && rc != -1; i++) {
		rc = on ? ms_rules_block(db, argv[i], &norm)
			: ms_rules_unblock(db, argv[i], &norm);
		if (rc == 1 && on)
			ms_log_info("%s was blocked already", norm);
		else if (rc == 1)
			rc = ms_errc(EX_NOINPUT, "%s is not blocked", norm);
		free(norm);
	}
	commit(db, rc == -1 ? -1 : 0);
	return 0;
}

static int
blocked_line(const char *pattern, long long created, void *arg)
{
	const struct opts *o = arg;

	return ms_print_blocked(o->p, pattern, created);
}

/*
 * Aliases
 */

static int
alias(struct ms_db *db, const struct opts *o, int on, char **argv)
{
	int64_t id;
	int rc;

	if ((rc = ms_account_find(db, o->provider, argv[0], &id, NULL)) == -1)
		return -1;
	if (rc == 1)
		return ms_errc(EX_NOINPUT, "no %s%saccount %s",
		    o->provider ? o->provider : "", o->provider ? " " : "",
		    argv[0]);
	begin(db);
	if ((rc = on ? ms_account_alias_add(db, id, argv[1])
		     : ms_account_alias_remove(db, id, argv[1])) == 1 &&
	    on)
		ms_log_info("%s is an alias of %s already", argv[1], argv[0]);
	else if (rc == 1)
		rc = ms_errc(EX_NOINPUT,
		    "%s has no alias %s added by hand (aliases read "
		    "from the provider go when removed there)",
		    argv[0], argv[1]);
	commit(db, rc == -1 ? -1 : 0);
	return 0;
}

static int
alias_line(const struct ms_alias *a, void *arg)
{
	const struct opts *o = arg;

	return ms_print_alias(o->p, a);
}

static void
parse_options(int argc, char *argv[], struct opts *o)
{
	/* clang-format off */
	static const struct option longopts[] = {
	    MS_CLI_LONGOPTS,
	    {"json", no_argument, NULL, 'j'},
	    {"provider", required_argument, NULL, 'p'},
	    {NULL, 0, NULL, 0},
	};
	/* clang-format on */
	int ch;

	while ((ch = getopt_long(argc, argv, MS_CLI_SHORTOPTS "jp:", longopts,
		    NULL)) != -1) {
		switch (ch) {
		case 'h': usage(stdout, 0);
		case 'V': ms_cli_version(); exit(0);
		case 'j': o->json = 1; break;
		case 'p':
			if (ms_driver_find(optarg) == NULL)
				errx(EX_USAGE, "--provider \"%s\": %s", optarg,
				    ms_driver_names());
			o->provider = optarg;
			break;
		default:
			if (!ms_cli_option(&o->cli, ch, optarg))
				exit(EX_USAGE);
		}
	}
}

static int
setting(struct ms_db *db, int set, char **argv)
{
	begin(db);
	commit(db,
	    set ? ms_config_set(db, argv[0], argv[1])
		: ms_config_unset(db, argv[0]));
	return 0;
}

static int
run(struct ms_db *db, const struct opts *o, const char *cmd, int argc,
    char **argv)
{
	if (strcmp(cmd, "list") == 0)
		return list(db, o);
	if (strcmp(cmd, "get") == 0)
		return get(db, argv[0]);
	if (strcmp(cmd, "set") == 0 || strcmp(cmd, "unset") == 0)
		return setting(db, cmd[0] == 's', argv);
	if (strcmp(cmd, "block") == 0 || strcmp(cmd, "unblock") == 0)
		return block(db, cmd[0] == 'b', argc, argv);
	if (strcmp(cmd, "blocklist") == 0)
		return ms_rules_each_blocked(db, blocked_line, (void *)o);
	if (strcmp(cmd, "alias") == 0 || strcmp(cmd, "unalias") == 0)
		return alias(db, o, cmd[0] == 'a', argv);
	return ms_account_each_alias(db, alias_line, (void *)o);
}

int
main(int argc, char *argv[])
{
	struct opts o = {0};
	struct ms_db *db;
	const struct command *c;
	const char *cmd;

	parse_options(argc, argv, &o);
	argc -= optind;
	argv += optind;
	c = command(argc, argv, &o);
	cmd = c->name;
	ms_cli_utf8();
	if ((db = ms_cli_open_mode(&o.cli, c->mode)) == NULL)
		ms_cmd_die_printing();
	o.p = ms_printer_create(
	    stdout, o.json ? MS_FMT_JSON : MS_FMT_TABLE, 0, 0);
	if (run(db, &o, cmd, argc - 1, argv + 1) == -1)
		ms_cmd_die_printing();
	ms_db_close(db);
	if (ms_printer_destroy(o.p) == -1)
		err(EX_IOERR, "stdout");
	ms_cmd_flush();
	return 0;
}
