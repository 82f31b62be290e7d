/*
 * mailsync-pull: fetch new email metadata for every connected account.
 */
#include <err.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "cli.h"
#include "cmd.h"
#include "fetch.h"
#include "lock.h"
#include "log.h"
#include "path.h"
#include "print.h"
#include "progress.h"
#include "pull.h"
#include "secret.h"
#include "util.h"

#define MAX_NAMED 64

static MS_DEAD void
usage(FILE *out, int code)
{
	fprintf(out,
	    "usage: %s [--account ADDRESS]... [--full] [--since DATE]\n"
	    "           [--max-time SECONDS] [--json]\n"
	    "\n"
	    "Fetch new email metadata (never bodies) of every connected\n"
	    "account: a full sync first, then incremental. Run mailsync-match\n"
	    "after it. Exit 0 when all succeeded, 75 when any failed for now,\n"
	    "77 when any needs re-authorization (mailsync-connect), else an\n"
	    "account's own code (69 refused by the provider, 78 no app);\n"
	    "130 when Ctrl-C stopped it (the next run resumes).\n"
	    "\n"
	    "  -a, --account ADDRESS  only this account (repeatable)\n"
	    "      --full             forget the cursors: sync everything "
	    "again\n"
	    "  -s, --since DATE       a first sync keeps emails from DATE on\n"
	    "                         (default: setting sync.since, else all)\n"
	    "  -t, --max-time SECONDS stop starting work after SECONDS; the\n"
	    "                         rest resumes on the next run\n"
	    "  -j, --json             one result line per account on stdout\n"
	    "\n" MS_CLI_USAGE,
	    getprogname());
	exit(code);
}

/* Ctrl-C: stop at once, keeping what was committed; a second Ctrl-C
 * takes SIGINT's default action (SA_RESETHAND). */
static struct ms_pull *running;

static void
on_sigint(int sig)
{
	(void)sig;
	if (running != NULL)
		ms_pull_interrupt(running);
}

static void
catch_sigint(struct ms_pull *p)
{
	struct sigaction sa;

	running = p;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sigint;
	sa.sa_flags = SA_RESETHAND;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
}

/* What an interrupted run stored: its new emails. */
static long
stored(const struct ms_pull *p)
{
	struct ms_pull_result r;
	long n = 0;
	size_t i;

	for (i = 0; i < ms_pull_count(p); i++) {
		ms_pull_result(p, i, &r);
		n += r.added;
	}
	return n;
}

/* With --json, one line per account it was asked to pull. */
static void
print_results(const struct ms_pull *p, int json)
{
	struct ms_printer *pr;
	struct ms_pull_result r;
	size_t i;

	if (!json)
		return;
	pr = ms_printer_create(stdout, MS_FMT_JSON, 0, 0);
	for (i = 0; i < ms_pull_count(p); i++) {
		ms_pull_result(p, i, &r);
		ms_print_pull(pr, &r);
	}
	if (ms_printer_destroy(pr) == -1)
		err(EX_IOERR, "stdout");
}

int
main(int argc, char *argv[])
{
	enum { OPT_FULL = 256 };
	/* clang-format off */
	static const struct option longopts[] = {
	    MS_CLI_LONGOPTS,
	    {"account", required_argument, NULL, 'a'},
	    {"full", no_argument, NULL, OPT_FULL},
	    {"since", required_argument, NULL, 's'},
	    {"max-time", required_argument, NULL, 't'},
	    {"json", no_argument, NULL, 'j'},
	    {NULL, 0, NULL, 0},
	};
	/* clang-format on */
	struct ms_pull_opts o = {0};
	struct ms_cli cli = {0};
	struct ms_pull *p;
	struct ms_db *db;
	char *names[MAX_NAMED], *path;
	const char *errstr;
	long long maxtime = 0;
	int ch, json = 0, rc, tick;

	ms_secret_protect(); /* it holds tokens: no core dump, no ptrace */

	while ((ch = getopt_long(argc, argv, MS_CLI_SHORTOPTS "a:s:t:j",
		    longopts, NULL)) != -1) {
		switch (ch) {
		case 'h': usage(stdout, 0);
		case 'V': ms_cli_version(); return 0;
		case 'a':
			if (o.nnames == MAX_NAMED)
				errx(EX_USAGE, "at most %d --account",
				    MAX_NAMED);
			names[o.nnames++] = optarg;
			break;
		case OPT_FULL: o.full = 1; break;
		case 's': o.since = optarg; break;
		case 't':
			maxtime = strtonum(optarg, 1, 86400, &errstr);
			if (errstr != NULL)
				errx(EX_USAGE, "--max-time \"%s\" is %s",
				    optarg, errstr);
			break;
		case 'j': json = 1; break;
		default:
			if (!ms_cli_option(&cli, ch, optarg))
				exit(EX_USAGE);
		}
	}
	if (optind < argc)
		errx(EX_USAGE, "unexpected argument \"%s\"", argv[optind]);
	o.names = names;
	if (maxtime > 0) {
		/* Past the bound, the unit of work under way finishes, but
		 * no reply may take longer than half the lease's grace: a
		 * provider trickling its answer never holds the run until
		 * the next one takes it for stuck. */
		o.deadline = ms_fetch_now() + (double)maxtime;
		o.grace = (double)ms_lock_grace(maxtime) / 2;
	}

	if ((path = ms_path_db(cli.db)) == NULL ||
	    ms_lock_take(path, maxtime) == -1)
		ms_cmd_die();
	free(path);
	if ((db = ms_cli_open(&cli)) == NULL ||
	    (p = ms_pull_create(db, &o)) == NULL)
		ms_cmd_die();
	tick = isatty(STDERR_FILENO) && cli.verbosity >= MS_LOG_NORMAL;
	if (tick) {
		ms_cli_utf8();
		ms_progress_start();
		ms_pull_set_tick(p, ms_progress_show, p);
	}
	catch_sigint(p);
	rc = ms_pull_run(p);
	if (tick)
		ms_progress_end();
	if (rc == -1)
		ms_cmd_die();
	print_results(p, json);
	rc = ms_pull_status(p);
	if (ms_pull_interrupted(p)) {
		ms_log_warn("interrupted: %ld new emails stored; the next run "
			    "resumes",
		    stored(p));
		rc = 128 + SIGINT;
	}
	ms_pull_destroy(p);
	ms_db_close(db);
	return rc;
}
