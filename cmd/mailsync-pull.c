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
#include "fetch.h"
#include "lock.h"
#include "log.h"
#include "path.h"
#include "print.h"
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

static MS_DEAD void
die(void)
{
	errx(ms_errcode(), "%s", ms_errstr());
}

/*
 * The progress line, on a terminal only: every account's messages read
 * (of the mailbox's, when the provider said how many), the run's rate
 * and, when every total is known, the time left; cut to the terminal's
 * width, the accounts that do not fit summed up as "+N more". It is
 * redrawn in place, and every other write to stderr (log lines, errors)
 * first clears it: stderr goes through clear_write() while it is shown.
 */
static FILE *tty; /* the terminal's stderr */
static int shown; /* a progress line is on it */
static double started;

static ssize_t
clear_write(void *cookie, const char *buf, size_t n)
{
	(void)cookie;
	if (shown) {
		fputs("\r\033[K", tty);
		shown = 0;
	}
	return fwrite(buf, 1, n, tty) == n ? (ssize_t)n : -1;
}

static void
progress_start(void)
{
	static cookie_io_functions_t io = {NULL, clear_write, NULL, NULL};
	FILE *f;

	started = ms_fetch_now();
	tty = stderr;
	if ((f = fopencookie(NULL, "w", io)) == NULL)
		return;
	setvbuf(f, NULL, _IONBF, 0);
	stderr = f;
}

static void
progress_end(void)
{
	if (shown)
		fputs("\r\033[K", tty);
	shown = 0;
	if (tty != NULL && stderr != tty) {
		fclose(stderr);
		stderr = tty;
	}
}

/* n with thousands separators: 12,345. */
static void
add_count(struct ms_buf *b, long n)
{
	char digits[32];
	size_t i, len;

	len = (size_t)snprintf(digits, sizeof(digits), "%ld", n < 0 ? 0 : n);
	for (i = 0; i < len; i++) {
		if (i > 0 && (len - i) % 3 == 0)
			ms_buf_addc(b, ',');
		ms_buf_addc(b, digits[i]);
	}
}

static void
add_left(struct ms_buf *b, double s)
{
	if (s < 60)
		ms_buf_printf(b, ", %d s left", (int)s);
	else if (s < 3600)
		ms_buf_printf(b, ", %d min left", (int)(s / 60 + 0.5));
	else
		ms_buf_printf(b, ", %d h %02d min left", (int)(s / 3600),
		    (int)((long)s % 3600 / 60));
}

static void
progress(void *arg)
{
	const struct ms_pull *p = arg;
	struct ms_pull_result r;
	struct ms_buf line = {0}, tail = {0}, part, more, count;
	size_t i, n = ms_pull_count(p), k;
	double elapsed = ms_fetch_now() - started;
	long done = 0, left = 0;
	int width, room, used = 0, known = 1, w;

	if ((width = ms_cli_width(STDERR_FILENO)) <= 0)
		width = 80;
	/* Not the last column: a terminal may wrap there. */
	room = width - 1;
	for (i = 0; i < n; i++) {
		ms_pull_result(p, i, &r);
		done += r.fetched;
		if (r.total < 0)
			known = 0;
		else if (r.total > r.fetched)
			left += r.total - r.fetched;
	}
	if (elapsed >= 1 && done > 0) {
		ms_buf_adds(&tail, "  ");
		add_count(&tail, (long)(done / elapsed + 0.5));
		ms_buf_adds(&tail, " msg/s");
		if (known && left > 0)
			add_left(&tail, left / (done / elapsed));
	}
	if (tail.len > 0 && (int)tail.len + 20 > room)
		tail.len = 0, tail.s[0] = '\0'; /* too narrow for it */
	room -= tail.len > 0 ? ms_print_width(tail.s) : 0;
	for (i = 0; i < n; i++) {
		ms_pull_result(p, i, &r);
		memset(&count, 0, sizeof(count));
		ms_buf_addc(&count, ' ');
		add_count(&count, r.fetched);
		if (r.total >= 0) {
			ms_buf_addc(&count, '/');
			add_count(&count, r.total);
		}
		memset(&part, 0, sizeof(part));
		ms_buf_printf(
		    &part, "%s%s%s", i > 0 ? "  " : "", r.address, count.s);
		memset(&more, 0, sizeof(more));
		if ((k = n - i - 1) > 0)
			ms_buf_printf(&more, "  +%zu more", k);
		w = ms_print_width(part.s);
		if (used + w + (k > 0 ? (int)more.len : 0) <= room) {
			ms_buf_adds(&line, part.s);
			used += w;
		} else {
			/* The rest summed up; when not even the first fits,
			 * it is cut to leave room for the sum. */
			ms_buf_finish(&more);
			ms_buf_printf(&more, "  +%zu more", i > 0 ? n - i : k);
			if (i == 0) {
				/* The address gives way before its count. */
				w = room - (k > 0 ? (int)more.len : 0);
				if (w - (int)count.len >= 8) {
					used += ms_print_fit(&line, r.address,
					    w - (int)count.len);
					ms_buf_adds(&line, count.s);
					used += (int)count.len;
				} else
					used += ms_print_fit(
					    &line, part.s, w > 1 ? w : 1);
			}
			if ((i > 0 || k > 0) && used + (int)more.len <= room)
				ms_buf_adds(&line, more.s);
			ms_buf_finish(&more);
			ms_buf_finish(&part);
			ms_buf_finish(&count);
			break;
		}
		ms_buf_finish(&more);
		ms_buf_finish(&part);
		ms_buf_finish(&count);
	}
	fprintf(
	    tty, "\r%s%s\033[K", line.s ? line.s : "", tail.s ? tail.s : "");
	fflush(tty);
	shown = 1;
	ms_buf_finish(&line);
	ms_buf_finish(&tail);
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
	static const struct option longopts[] = {
	    MS_CLI_LONGOPTS,
	    {"account", required_argument, NULL, 'a'},
	    {"full", no_argument, NULL, OPT_FULL},
	    {"since", required_argument, NULL, 's'},
	    {"max-time", required_argument, NULL, 't'},
	    {"json", no_argument, NULL, 'j'},
	    {NULL, 0, NULL, 0},
	};
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
		die();
	free(path);
	if ((db = ms_cli_open(&cli)) == NULL ||
	    (p = ms_pull_create(db, &o)) == NULL)
		die();
	tick = isatty(STDERR_FILENO) && cli.verbosity >= MS_LOG_NORMAL;
	if (tick) {
		ms_cli_utf8();
		progress_start();
		ms_pull_set_tick(p, progress, p);
	}
	catch_sigint(p);
	rc = ms_pull_run(p);
	if (tick)
		progress_end();
	if (rc == -1)
		die();
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
