/*
 * mailsync-pull: fetch new email metadata for every connected account.
 */
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "account.h"
#include "cli.h"
#include "config.h"
#include "date.h"
#include "log.h"
#include "oauth.h"
#include "path.h"
#include "sync.h"
#include "util.h"

#define MAX_NAMED 64

/* One account being pulled. */
struct acct {
	struct ms_sync s;
	const struct ms_driver *drv;
	struct ms_provider *p;
	struct ms_app app;
	const struct ms_secret_key *key;
	char *address;
	char *provider;
};

struct run {
	struct acct *v;
	size_t n;
	int progress; /* a progress line on the terminal */
	int reauth; /* an account waits for re-authorization */
};

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
	    "account's own code (69 refused by the provider, 78 no app).\n"
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
 * One pull at a time per database: a lock file beside it, flock()ed for
 * the whole run (the kernel lets go of it when the run dies) and holding
 * the run's lease, "PID START BOUND": a run still holding the lock well
 * after its bound (--max-time) is stuck, and the next run ends it.
 */
static void
lease_write(int fd, long long bound)
{
	char buf[64];
	int n;

	n = snprintf(buf, sizeof(buf), "%ld %lld %lld\n", (long)getpid(),
	    (long long)time(NULL), bound);
	if (ftruncate(fd, 0) == -1 || pwrite(fd, buf, (size_t)n, 0) != n)
		ms_log_warn("warning: cannot write the pull lease: %s",
		    strerror(errno));
}

/* Past the bound, a run gets this much longer to finish its last
 * writes: a quarter of the bound, from 3 s to a minute. */
static long long
lease_grace(long long bound)
{
	long long g = bound / 4;

	return g < 3 ? 3 : g > 60 ? 60 : g;
}

/* The pid of a lease holder past its bound and grace, or 0. */
static pid_t
lease_expired(int fd)
{
	char buf[64], comm[32], *path;
	long long pid, start, bound;
	ssize_t n;
	FILE *fp;
	int ours;

	if ((n = pread(fd, buf, sizeof(buf) - 1, 0)) <= 0)
		return 0;
	buf[n] = '\0';
	if (sscanf(buf, "%lld %lld %lld", &pid, &start, &bound) != 3 ||
	    pid <= 1 || bound <= 0 ||
	    time(NULL) <= start + bound + lease_grace(bound))
		return 0;
	/* Only ever a mailsync-pull: a recycled pid is left alone. */
	path = ms_xasprintf("/proc/%lld/comm", pid);
	fp = fopen(path, "r");
	free(path);
	ours = fp != NULL && fgets(comm, sizeof(comm), fp) != NULL &&
	    strcmp(comm, "mailsync-pull\n") == 0;
	if (fp != NULL)
		fclose(fp);
	return ours ? (pid_t)pid : 0;
}

/* End the stuck run and take the lock; 0, or -1 when it stays held. */
static int
take_over(int fd, pid_t pid, const char *db)
{
	int i;

	ms_log_warn("warning: the mailsync-pull of pid %ld on %s is past "
		    "its --max-time: ending it (what it committed stays)",
	    (long)pid, db);
	kill(pid, SIGKILL);
	for (i = 0; i < 50; i++) { /* 5 s at most */
		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
			return 0;
		usleep(100000);
	}
	return -1;
}

static int
lock_db(const struct ms_cli *cli, long long bound)
{
	char *db, *path;
	pid_t stuck;
	int fd;

	if ((db = ms_path_db(cli->db)) == NULL)
		die();
	if (ms_path_mkparent(db) == -1)
		die();
	path = ms_xasprintf("%s.pull.lock", db);
	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) == -1)
		err(EX_CANTCREAT, "%s", path);
	if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		if (errno != EWOULDBLOCK)
			err(EX_OSERR, "%s", path);
		if ((stuck = lease_expired(fd)) == 0 ||
		    take_over(fd, stuck, db) == -1)
			errx(EX_TEMPFAIL,
			    "another mailsync-pull is running on "
			    "%s: not starting a second one",
			    db);
	}
	lease_write(fd, bound);
	free(path);
	free(db);
	return fd; /* held until exit */
}

static int
auth(void *arg, int refresh, char **token)
{
	struct acct *a = arg;

	return ms_oauth_access(a->s.db, a->key, a->p, &a->app, a->s.account,
	    a->address, refresh, token);
}

static double
setting_num(struct ms_db *db, const char *key)
{
	double d;

	if (ms_config_num(db, key, &d) == -1)
		die();
	return d;
}

static time_t
since_setting(struct ms_db *db, const char *opt)
{
	time_t t = 0;
	char *v = NULL;

	if (opt == NULL && (v = ms_config_get(db, "sync.since")) == NULL)
		die();
	if (opt == NULL && *v == '\0') {
		free(v);
		return 0;
	}
	if (ms_date_parse_iso(opt ? opt : v, &t) == -1)
		errx(opt ? EX_USAGE : EX_CONFIG, "%s \"%s\": not a date",
		    opt ? "--since" : "setting sync.since", opt ? opt : v);
	free(v);
	return t;
}

static int
named(char **names, int n, const char *address)
{
	int i;

	for (i = 0; i < n; i++)
		if (ms_ascii_casecmp(names[i], address) == 0)
			return 1;
	return n == 0;
}

/* The accounts to pull: connected ones, or the named ones. */
static void
load_accounts(struct ms_db *db, char **names, int nnames, struct run *r)
{
	static const char *sql = "SELECT id, provider, address, status "
				 "FROM accounts ORDER BY provider, address";
	const char *prov;
	sqlite3_stmt *st;
	struct acct *a;
	int64_t id;
	int i, rc;

	for (i = 0; i < nnames; i++)
		if ((rc = ms_account_find(db, NULL, names[i], &id, &prov)) == 1)
			errx(EX_NOINPUT, "no account %s", names[i]);
		else if (rc == -1)
			die();
	if ((st = ms_db_stmt(db, sql)) == NULL)
		die();
	while ((rc = ms_db_step(db, st)) == SQLITE_ROW) {
		const char *address = ms_db_col_text(st, 2);
		const char *status = ms_db_col_text(st, 3);

		if (!named(names, nnames, address))
			continue;
		if (strcmp(status, "needs-reauth") == 0) {
			/* Still waiting for a person: say so, exit 77. */
			ms_log_notice("%s needs re-authorization: run "
				      "mailsync-connect --provider %s",
			    address, ms_db_col_text(st, 1));
			r->reauth = 1;
			continue;
		}
		if (strcmp(status, "active") != 0 &&
		    strcmp(status, "error") != 0) {
			if (nnames > 0)
				warnx("%s is %s: not pulled", address, status);
			continue;
		}
		r->v = ms_xreallocarray(r->v, r->n + 1, sizeof(*r->v));
		a = &r->v[r->n++];
		memset(a, 0, sizeof(*a));
		a->s.account = sqlite3_column_int64(st, 0);
		a->provider = ms_xstrdup(ms_db_col_text(st, 1));
		a->address = ms_xstrdup(address);
	}
	sqlite3_reset(st);
	if (rc == -1)
		die();
}

/* Set an account up for the run; on failure it is failed, not fatal. */
static void
prepare(struct acct *a, struct ms_fetch *f, struct ms_db *db,
    const struct ms_secret_key *key, time_t since, int full)
{
	struct ms_fetch_limits lim = {0};
	double scale;
	int rc;

	a->s.db = db;
	a->s.address = a->address;
	a->s.since = since;
	a->s.full = full;
	a->key = key;
	a->drv = ms_sync_driver(a->provider);
	/* quota.time_scale divides the windows, for tests and benchmarks
	 * against an emulator that scales its own. */
	scale = setting_num(db, "quota.time_scale");
	if (strcmp(a->provider, "gmail") == 0) {
		lim.concurrency =
		    (int)setting_num(db, "quota.gmail_concurrency");
		lim.units = setting_num(db, "quota.gmail_units_per_minute");
		lim.window = 60 / scale;
		lim.burst = ms_gmail_max_request_units();
	} else {
		lim.concurrency =
		    (int)setting_num(db, "quota.graph_concurrency");
		lim.units = setting_num(db, "quota.graph_requests_per_10min");
		lim.window = 600 / scale;
		lim.burst = 1;
	}
	a->s.fa = ms_fetch_acct_create(f, &lim, auth, a, a->address);
	if ((rc = ms_app_load(db, key, a->provider, &a->app)) == 1)
		ms_errc(EX_CONFIG, "no %s app credentials stored", a->provider);
	if (rc == 0 &&
	    (a->p = ms_provider_create(a->provider, a->app.tenant)) == NULL)
		rc = -1;
	a->s.p = a->p;
	if (rc != 0 || a->drv->start(&a->s) == -1)
		ms_fetch_acct_fail(a->s.fa, ms_errcode(), ms_errstr());
}

static void
progress(void *arg)
{
	struct run *r = arg;
	size_t i;

	fputc('\r', stderr);
	for (i = 0; i < r->n; i++)
		fprintf(stderr, "%s%s %ld", i ? "  " : "", r->v[i].address,
		    r->v[i].s.fetched);
	fputs("\033[K", stderr);
}

static const char *
status_of(const struct acct *a)
{
	int e = ms_fetch_acct_error(a->s.fa);

	if (e == EX_NOPERM)
		return "needs-reauth";
	if (e != 0)
		return "error";
	return a->s.done ? "ok" : "partial";
}

/* Record the outcome on the account row. */
static void
record(struct ms_db *db, const struct acct *a)
{
	static const char *ok =
	    "UPDATE accounts SET status = 'active', "
	    "last_sync = unixepoch(), last_error = NULL WHERE id = ?1";
	static const char *bad = "UPDATE accounts SET status = ?2, "
				 "last_error = ?3 WHERE id = ?1";
	const char *status = status_of(a);
	sqlite3_stmt *st;

	if (strcmp(status, "partial") == 0)
		return;
	st = ms_db_stmt(db, strcmp(status, "ok") == 0 ? ok : bad);
	if (st == NULL)
		die();
	sqlite3_bind_int64(st, 1, a->s.account);
	if (strcmp(status, "ok") != 0) {
		sqlite3_bind_text(st, 2, status, -1, SQLITE_STATIC);
		sqlite3_bind_text(
		    st, 3, ms_fetch_acct_errmsg(a->s.fa), -1, SQLITE_STATIC);
	}
	if (ms_db_run(db, st) == -1)
		die();
}

static void
report(const struct acct *a, int json)
{
	const char *status = status_of(a);
	struct json_object *o;

	if (ms_fetch_acct_error(a->s.fa) != 0)
		ms_log_err("%s (%s): %s", a->address, a->provider,
		    ms_fetch_acct_errmsg(a->s.fa));
	else
		ms_log_notice("%s (%s): %ld fetched, %ld new%s", a->address,
		    a->provider, a->s.fetched, a->s.added,
		    a->s.done ? "" : "; the rest on the next run");
	if (!json)
		return;
	o = json_object_new_object();
	json_object_object_add(
	    o, "account", json_object_new_string(a->address));
	json_object_object_add(
	    o, "provider", json_object_new_string(a->provider));
	json_object_object_add(o, "status", json_object_new_string(status));
	json_object_object_add(
	    o, "fetched", json_object_new_int64(a->s.fetched));
	json_object_object_add(o, "new", json_object_new_int64(a->s.added));
	if (ms_fetch_acct_error(a->s.fa) != 0)
		json_object_object_add(o, "error",
		    json_object_new_string(ms_fetch_acct_errmsg(a->s.fa)));
	printf("%s\n",
	    json_object_to_json_string_ext(
		o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
}

static void
release(struct acct *a)
{
	if (a->drv != NULL && a->s.drv != NULL)
		a->drv->finish(&a->s);
	ms_provider_destroy(a->p);
	ms_app_finish(&a->app);
	free(a->address);
	free(a->provider);
}

/*
 * The run's exit status from its accounts': re-authorization first (a
 * person must act), then a transient failure (the next run may succeed),
 * then the first other failure's own code (a provider refusing, 69;
 * missing app credentials, 78).
 */
static int
worse(int rc, int account)
{
	if (rc == EX_NOPERM || account == EX_NOPERM)
		return EX_NOPERM;
	if (rc == EX_TEMPFAIL || account == EX_TEMPFAIL)
		return EX_TEMPFAIL;
	return rc != 0 ? rc : account;
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
	struct ms_cli cli = {0};
	struct run r = {0};
	struct ms_secret_key *key = NULL;
	struct ms_fetch *f;
	struct ms_db *db;
	char *names[MAX_NAMED];
	const char *since = NULL, *errstr;
	double deadline = 0;
	long long maxtime = 0;
	int ch, nnames = 0, full = 0, json = 0, rc = 0;
	size_t i;

	while ((ch = getopt_long(argc, argv, MS_CLI_SHORTOPTS "a:s:t:j",
		    longopts, NULL)) != -1) {
		switch (ch) {
		case 'h': usage(stdout, 0);
		case 'V': ms_cli_version(); return 0;
		case 'a':
			if (nnames == MAX_NAMED)
				errx(EX_USAGE, "at most %d --account",
				    MAX_NAMED);
			names[nnames++] = optarg;
			break;
		case OPT_FULL: full = 1; break;
		case 's': since = optarg; break;
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
	if (maxtime > 0)
		deadline = ms_fetch_now() + (double)maxtime;

	lock_db(&cli, maxtime);
	if ((db = ms_cli_open(&cli)) == NULL)
		die();
	load_accounts(db, names, nnames, &r);
	if (r.n > 0 && (key = ms_secret_key_load(ms_db_path(db), 0)) == NULL)
		die();
	if ((f = ms_fetch_create()) == NULL)
		die();
	for (i = 0; i < r.n; i++)
		prepare(&r.v[i], f, db, key, since_setting(db, since), full);
	r.progress = isatty(STDERR_FILENO) && cli.verbosity >= MS_LOG_NORMAL;
	if (r.progress)
		ms_fetch_set_tick(f, progress, &r);
	ms_fetch_run(f, deadline);
	if (r.progress)
		fputs("\r\033[K", stderr);
	for (i = 0; i < r.n; i++) {
		record(db, &r.v[i]);
		report(&r.v[i], json);
		rc = worse(rc, ms_fetch_acct_error(r.v[i].s.fa));
	}
	if (r.reauth)
		rc = EX_NOPERM;
	/* The engine first: anything left in it calls back into drivers. */
	ms_fetch_destroy(f);
	for (i = 0; i < r.n; i++)
		release(&r.v[i]);
	free(r.v);
	ms_secret_key_destroy(key);
	ms_db_close(db);
	if (fflush(stdout) == EOF || ferror(stdout))
		err(EX_IOERR, "stdout");
	return rc;
}
