#include "pull.h"

#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <syslog.h>

#include "account.h"
#include "config.h"
#include "date.h"
#include "log.h"
#include "oauth.h"
#include "secret.h"
#include "sync.h"
#include "util.h"

/* One account of the run. */
struct acct {
	struct ms_sync s;
	struct ms_pull *run;
	const struct ms_driver *drv;
	struct ms_provider *p;
	struct ms_app app;
	char *address;
	char *provider;
	double ceiling; /* the quota setting, units per window */
	int reauth; /* waits for re-authorization: not pulled */
	struct ms_account_health was; /* before this run */
	int notify; /* stderr says its failure this run */
	int recovered; /* it failed until this run */
};

struct ms_pull {
	struct ms_db *db;
	struct ms_pull_opts opts;
	struct ms_secret_key *key;
	struct ms_fetch *f;
	struct acct *v;
	size_t n;
	time_t since;
};

static int
named(const struct ms_pull_opts *o, const char *address)
{
	size_t i;

	for (i = 0; i < o->nnames; i++)
		if (ms_ascii_casecmp(o->names[i], address) == 0)
			return 1;
	return o->nnames == 0;
}

static struct acct *
add_acct(
    struct ms_pull *p, int64_t id, const char *provider, const char *address)
{
	struct acct *a;

	p->v = ms_xreallocarray(p->v, p->n + 1, sizeof(*p->v));
	a = &p->v[p->n++];
	memset(a, 0, sizeof(*a));
	a->s.account = id;
	a->provider = ms_xstrdup(provider);
	a->address = ms_xstrdup(address);
	return a;
}

static int
load_accounts(struct ms_pull *p)
{
	static const char *sql = "SELECT id, provider, address, status "
				 "FROM accounts ORDER BY provider, address";
	const struct ms_pull_opts *o = &p->opts;
	sqlite3_stmt *st;
	int64_t id;
	size_t i;
	int rc;

	for (i = 0; i < o->nnames; i++)
		if ((rc = ms_account_find(
			 p->db, NULL, o->names[i], &id, NULL)) == 1)
			return ms_errc(
			    EX_NOINPUT, "no account %s", o->names[i]);
		else if (rc == -1)
			return -1;
	if ((st = ms_db_stmt(p->db, sql)) == NULL)
		return -1;
	while ((rc = ms_db_step(p->db, st)) == SQLITE_ROW) {
		const char *address = ms_db_col_text(st, 2);
		const char *status = ms_db_col_text(st, 3);

		if (!named(o, address))
			continue;
		if (strcmp(status, "needs-reauth") == 0)
			add_acct(p, sqlite3_column_int64(st, 0),
			    ms_db_col_text(st, 1), address)
			    ->reauth = 1;
		else if (strcmp(status, "active") == 0 ||
		    strcmp(status, "error") == 0)
			add_acct(p, sqlite3_column_int64(st, 0),
			    ms_db_col_text(st, 1), address);
		else if (o->nnames > 0)
			ms_log_warn("%s is %s: not pulled", address, status);
	}
	sqlite3_reset(st);
	return rc == -1 ? -1 : 0;
}

/* The first-sync window: --since, else the sync.since setting. */
static int
since_of(struct ms_pull *p)
{
	const char *opt = p->opts.since;
	char *v = NULL;
	int rc = 0;

	if (opt == NULL && (v = ms_config_get(p->db, "sync.since")) == NULL)
		return -1;
	if (opt == NULL && *v == '\0') {
		free(v);
		return 0;
	}
	if (ms_date_parse_iso(opt ? opt : v, &p->since) == -1)
		rc =
		    ms_errc(opt ? EX_USAGE : EX_CONFIG, "%s \"%s\": not a date",
			opt ? "--since" : "setting sync.since", opt ? opt : v);
	free(v);
	return rc;
}

struct ms_pull *
ms_pull_create(struct ms_db *db, const struct ms_pull_opts *o)
{
	struct ms_pull *p = ms_xcalloc(1, sizeof(*p));
	size_t i;

	p->db = db;
	p->opts = *o;
	if (since_of(p) == -1 || load_accounts(p) == -1)
		goto fail;
	for (i = 0; i < p->n && p->v[i].reauth; i++)
		;
	if (i < p->n && (p->key = ms_cred_key_load(db, 0)) == NULL)
		goto fail;
	if ((p->f = ms_fetch_create()) == NULL)
		goto fail;
	return p;
fail:
	ms_pull_destroy(p);
	return NULL;
}

static int
auth(void *arg, int refresh, char **token, time_t *expires)
{
	struct acct *a = arg;
	struct ms_imap_server srv;

	if (a->drv != NULL && (a->drv->flags & MS_DRV_PASSWORD)) {
		/* Its credential is its password, sealed as tokens are. */
		*expires = 0;
		if (ms_cred_imap_load(a->s.db, a->run->key, a->s.account,
			a->address, &srv) == -1)
			return -1;
		*token = srv.password;
		srv.password = NULL;
		ms_cred_imap_finish(&srv);
		return 0;
	}
	if (ms_oauth_access(a->s.db, a->run->key, a->p, &a->app, a->s.account,
		a->address, refresh, token) == -1)
		return -1;
	return ms_cred_tokens_expiry(a->s.db, a->s.account, expires);
}

/*
 * The quota an account's provider was found to enforce (lower than its
 * setting), kept from run to run so that the next one starts there:
 * "state.quota.ID" in the settings, units per window; 0 when none.
 */
static double
learned_get(struct ms_db *db, int64_t id)
{
	char key[48], *v = NULL;
	double d = 0;

	snprintf(key, sizeof(key), "state.quota.%lld", (long long)id);
	if (ms_db_setting_get(db, key, &v) == 0 && v != NULL)
		d = strtod(v, NULL);
	free(v);
	return d > 0 ? d : 0;
}

static void
learned_put(struct ms_db *db, const struct acct *a)
{
	char key[48], val[32];
	double q;

	if (a->s.fa == NULL || ms_fetch_acct_error(a->s.fa) != 0)
		return;
	q = ms_fetch_acct_quota(a->s.fa);
	snprintf(key, sizeof(key), "state.quota.%lld", (long long)a->s.account);
	snprintf(val, sizeof(val), "%.0f", q);
	if (ms_db_begin(db) == -1 ||
	    (q < a->ceiling ? ms_db_setting_set(db, key, val)
			    : ms_db_setting_unset(db, key)) == -1 ||
	    ms_db_commit(db) == -1) {
		ms_db_rollback(db);
		ms_log_warn("%s: the learned quota is not kept: %s", a->address,
		    ms_errstr());
	}
}

/* Set an account up for the run; on failure it is failed, not fatal. */
static void
prepare(struct ms_pull *p, struct acct *a)
{
	struct ms_fetch_limits lim = {0};
	char *kind = NULL, *tenant = NULL;
	int rc;

	a->run = p;
	a->s.db = p->db;
	a->s.address = a->address;
	a->s.since = p->since;
	a->s.full = p->opts.full;
	a->s.total = -1;
	if ((a->drv = ms_driver_find(a->provider)) == NULL ||
	    (rc = a->drv->limits(p->db, &lim)) == -1) {
		a->drv = NULL;
		rc = -1;
	}
	lim.classify = a->drv ? a->drv->classify : NULL;
	a->ceiling = lim.units;
	lim.start = learned_get(p->db, a->s.account);
	a->s.fa = ms_fetch_acct_create(p->f, &lim, auth, a, a->address);
	if (rc == 0 && !(a->drv->flags & MS_DRV_OAUTH))
		; /* no app: a password of its own (auth) */
	else if (rc == 0 &&
	    (rc = ms_cred_app_load(p->db, p->key, a->provider, &a->app)) == 1)
		rc = ms_errc(
		    EX_CONFIG, "no %s app credentials stored", a->provider);
	/* The account's tenant (where it was authorized), else the app's;
	 * a shared mailbox refreshes with the shared scopes. */
	if (rc == 0 &&
	    ms_account_origin_get(p->db, a->s.account, &kind, &tenant) == -1)
		rc = -1;
	if (rc == 0 &&
	    (a->p = ms_provider_create(
		 a->provider, tenant ? tenant : a->app.tenant)) == NULL)
		rc = -1;
	if (a->p != NULL && kind != NULL && strcmp(kind, "shared") == 0)
		ms_provider_shared(a->p);
	free(kind);
	free(tenant);
	a->s.p = a->p;
	/* The token goes to the provider's API only. */
	if (a->p != NULL)
		ms_fetch_acct_origin(a->s.fa, a->p->api_url);
	if (rc != 0 || a->drv == NULL || a->drv->start(&a->s) == -1)
		ms_fetch_acct_fail(a->s.fa, ms_errcode(), ms_errstr());
}

void
ms_pull_set_tick(struct ms_pull *p, void (*tick)(void *), void *arg)
{
	ms_fetch_set_tick(p->f, tick, arg);
}

static const char *
status_of(const struct acct *a)
{
	int e;

	if (a->reauth)
		return "needs-reauth";
	if ((e = ms_fetch_acct_error(a->s.fa)) == EX_NOPERM)
		return "needs-reauth";
	if (e != 0)
		return "error";
	return a->s.done ? "ok" : "partial";
}

/* Under cron, a failure is mailed on its first run, then once a day. */
#define NOTIFY_EVERY (24 * 60 * 60)

static int
failing(const char *status)
{
	return strcmp(status, "needs-reauth") == 0 ||
	    strcmp(status, "error") == 0;
}

/* Whether every run says everything on stderr: a person is watching. */
static int
loud(void)
{
	return ms_log_terminal() || ms_log_level() >= MS_LOG_VERBOSE;
}

/*
 * Record the outcome on the account row, and where the account stands
 * for telling people: when its failure began, and whether stderr (a
 * mail under cron) says it this run: on the first failing run, then
 * once a day (NOTIFY_EVERY) until it recovers. A run at a terminal
 * says everything and counts as no notice: whoever reads cron's mail
 * was not there.
 */
static int
record(struct ms_db *db, struct acct *a, time_t now)
{
	const char *status = status_of(a);
	struct ms_account_health h;
	int rc = 0;

	if (ms_account_health_get(db, a->s.account, &a->was) == -1)
		return -1;
	h = a->was;
	if (failing(status)) {
		if (h.failing_since == 0)
			h.failing_since = now;
		/* A clock set back counts as a day gone by. */
		a->notify = !loud() &&
		    (h.notified == 0 || now - h.notified >= NOTIFY_EVERY ||
			now < h.notified);
		if (a->notify)
			h.notified = now;
	} else {
		a->recovered = h.failing_since != 0;
		h.failing_since = h.notified = 0;
	}
	if ((h.failing_since != a->was.failing_since ||
		h.notified != a->was.notified) &&
	    ms_account_health_set(db, a->s.account, &h) == -1)
		return -1;
	if (a->reauth || strcmp(status, "partial") == 0)
		return 0;
	if (strcmp(status, "ok") == 0)
		rc = ms_account_synced(db, a->s.account);
	else
		rc = ms_account_set_status(
		    db, a->s.account, status, ms_fetch_acct_errmsg(a->s.fa));
	return rc;
}

/* "; failing since DATE" for a failure older than this run, else "". */
static void
since(const struct acct *a, char *buf, size_t len)
{
	char date[32];

	*buf = '\0';
	if (a->was.failing_since == 0)
		return;
	ms_date_format_iso(a->was.failing_since, date, sizeof(date));
	snprintf(buf, len, " (failing since %s)", date);
}

static int
password_drv(const char *provider)
{
	const struct ms_driver *d = ms_driver_find(provider);

	return d != NULL && (d->flags & MS_DRV_PASSWORD);
}

/* Whether the account is a shared mailbox (read with a member's grant). */
static int
shared(struct ms_db *db, const struct acct *a)
{
	char *kind = NULL, *tenant = NULL;
	int rc = ms_account_origin_get(db, a->s.account, &kind, &tenant) == 0 &&
	    kind != NULL && strcmp(kind, "shared") == 0;

	free(kind);
	free(tenant);
	return rc;
}

/*
 * What people read. A failure goes to the system log every run (syslog
 * or the journal: an error, or a warning while it waits for a person),
 * and to stderr when a person watches or record() chose this run to
 * notify; a recovery to the system log, and to stderr unless -q; a
 * success is a notice (a terminal, or syslog).
 */
static void
report(struct ms_db *db, const struct acct *a)
{
	int where = MS_LOG_SYSTEM;
	char when[64];

	since(a, when, sizeof(when));
	if (a->reauth || ms_fetch_acct_error(a->s.fa) != 0) {
		if (loud() || a->notify)
			where |= MS_LOG_STDERR;
		if (a->reauth && password_drv(a->provider))
			ms_log_to(where, LOG_WARNING,
			    "%s needs re-authorization: run mailsync-connect "
			    "--provider %s with its --host and --user, and the "
			    "new password%s",
			    a->address, a->provider, when);
		else if (a->reauth)
			/* Waits for a person: exit 77. A shared mailbox is
			 * connected again by its member, with --shared. */
			ms_log_to(where, LOG_WARNING,
			    "%s needs re-authorization: run mailsync-connect "
			    "--provider %s %s %s%s",
			    a->address, a->provider,
			    shared(db, a) ? "--shared" : "--login-hint",
			    a->address, when);
		else
			ms_log_to(where, LOG_ERR, "%s (%s): %s%s", a->address,
			    a->provider, ms_fetch_acct_errmsg(a->s.fa), when);
		return;
	}
	if (a->recovered) {
		if (ms_log_level() >= MS_LOG_NORMAL)
			where |= MS_LOG_STDERR;
		ms_log_to(where, LOG_NOTICE, "%s (%s) works again%s",
		    a->address, a->provider, when);
	}
	ms_log_notice("%s (%s): %ld fetched, %ld new%s", a->address,
	    a->provider, a->s.fetched, a->s.added,
	    a->s.done ? "" : "; the rest on the next run");
}

int
ms_pull_run(struct ms_pull *p)
{
	time_t now;
	size_t i;
	int rc = 0;

	for (i = 0; i < p->n; i++)
		if (!p->v[i].reauth)
			prepare(p, &p->v[i]);
	ms_fetch_run(p->f, p->opts.deadline, p->opts.grace);
	now = ms_account_now();
	for (i = 0; i < p->n; i++) {
		if (record(p->db, &p->v[i], now) == -1)
			rc = -1;
		report(p->db, &p->v[i]);
		if (!p->v[i].reauth)
			learned_put(p->db, &p->v[i]);
	}
	return rc;
}

void
ms_pull_interrupt(struct ms_pull *p)
{
	ms_fetch_interrupt(p->f);
}

int
ms_pull_interrupted(const struct ms_pull *p)
{
	return ms_fetch_interrupted(p->f);
}

size_t
ms_pull_count(const struct ms_pull *p)
{
	return p->n;
}

void
ms_pull_result(const struct ms_pull *p, size_t i, struct ms_pull_result *r)
{
	const struct acct *a = &p->v[i];

	memset(r, 0, sizeof(*r));
	r->address = a->address;
	r->provider = a->provider;
	r->status = status_of(a);
	r->total = -1;
	if (a->reauth) {
		r->code = EX_NOPERM;
		r->error = "needs re-authorization: run mailsync-connect";
		return;
	}
	r->fetched = a->s.fetched;
	r->added = a->s.added;
	r->total = a->s.total;
	r->code = a->s.fa ? ms_fetch_acct_error(a->s.fa) : 0;
	r->error = r->code != 0 ? ms_fetch_acct_errmsg(a->s.fa) : NULL;
}

int
ms_pull_status(const struct ms_pull *p)
{
	struct ms_pull_result r;
	int rc = 0;
	size_t i;

	for (i = 0; i < p->n; i++) {
		ms_pull_result(p, i, &r);
		if (rc == EX_NOPERM || r.code == EX_NOPERM)
			rc = EX_NOPERM;
		else if (rc == EX_TEMPFAIL || r.code == EX_TEMPFAIL)
			rc = EX_TEMPFAIL;
		else if (rc == 0)
			rc = r.code;
	}
	return rc;
}

void
ms_pull_destroy(struct ms_pull *p)
{
	size_t i;

	if (p == NULL)
		return;
	/* The engine first: anything left in it calls back into drivers. */
	ms_fetch_destroy(p->f);
	for (i = 0; i < p->n; i++) {
		struct acct *a = &p->v[i];

		if (a->drv != NULL && a->s.drv != NULL)
			a->drv->finish(&a->s);
		ms_provider_destroy(a->p);
		ms_cred_app_finish(&a->app);
		free(a->address);
		free(a->provider);
	}
	free(p->v);
	ms_secret_key_destroy(p->key);
	free(p);
}
