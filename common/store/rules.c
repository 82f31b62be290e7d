#include "rules.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>

#include "account.h"
#include "addr.h"
#include "config.h"
#include "util.h"

/* The rules a match applied last, as a fingerprint. */
#define APPLIED_KEY "state.match.rules"

static int
has(char **v, size_t n, const char *s)
{
	while (n > 0)
		if (strcmp(v[--n], s) == 0)
			return 1;
	return 0;
}

static int
load_settings(struct ms_db *db, struct ms_rules *r)
{
	int plus, dots;
	double days;

	if (ms_config_bool(db, "match.plus_addressing", &plus) == -1 ||
	    ms_config_bool(db, "match.gmail_dots", &dots) == -1 ||
	    ms_config_bool(db, "exclude.internal", &r->internal) == -1 ||
	    ms_config_bool(db, "exclude.bulk", &r->bulk) == -1 ||
	    ms_config_num(db, "retention.unmatched_days", &days) == -1)
		return -1;
	r->folds = (plus ? MS_ADDR_PLUS : 0) | (dots ? MS_ADDR_DOTS : 0);
	r->retention_days = (long)days;
	return 0;
}

/* Blocked addresses are kept as match keys, so folding applies to them
 * as to the addresses they are compared with. */
static int
load_blocklist(struct ms_db *db, struct ms_rules *r)
{
	static const char *sql =
	    "SELECT pattern FROM blocklist ORDER BY pattern";
	sqlite3_stmt *st;
	const char *p;
	int rc;

	if ((st = ms_db_stmt(db, sql)) == NULL)
		return -1;
	while ((rc = ms_db_step(db, st)) == SQLITE_ROW) {
		p = ms_db_col_text(st, 0);
		ms_strv_add(&r->blocked, &r->nblocked,
		    p[0] == '@' ? ms_xstrdup(p)
				: ms_addr_match_key(p, r->folds));
	}
	sqlite3_reset(st);
	return rc == -1 ? -1 : 0;
}

/* The domains of the business's own addresses, but for public mailbox
 * providers; also feeds the fingerprint with every business address. */
static int
load_business(struct ms_db *db, struct ms_rules *r, struct ms_buf *fp)
{
	static const char *sql = MS_ACCOUNT_BUSINESS_SQL " ORDER BY 1";
	sqlite3_stmt *st;
	const char *a, *at;
	int rc;

	if ((st = ms_db_stmt(db, sql)) == NULL)
		return -1;
	while ((rc = ms_db_step(db, st)) == SQLITE_ROW) {
		a = ms_db_col_text(st, 0);
		ms_buf_printf(fp, "b %s\n", a);
		if ((at = strrchr(a, '@')) == NULL ||
		    ms_addr_public_domain(at + 1) ||
		    has(r->domains, r->ndomains, at + 1))
			continue;
		ms_strv_add(&r->domains, &r->ndomains, ms_xstrdup(at + 1));
	}
	sqlite3_reset(st);
	return rc == -1 ? -1 : 0;
}

static void
fingerprint(struct ms_rules *r, struct ms_buf *fp)
{
	unsigned char h[32];
	size_t i;

	ms_buf_printf(fp, "f %d i %d u %d\n", r->folds, r->internal, r->bulk);
	for (i = 0; i < r->nblocked; i++)
		ms_buf_printf(fp, "x %s\n", r->blocked[i]);
	crypto_generichash(
	    h, sizeof(h), (const unsigned char *)fp->s, fp->len, NULL, 0);
	sodium_bin2hex(r->fingerprint, sizeof(r->fingerprint), h, sizeof(h));
}

/*
 * SQL functions of the classification
 */

static void
sql_match_key(sqlite3_context *cx, int argc, sqlite3_value **argv)
{
	const struct ms_rules *r = sqlite3_user_data(cx);
	const char *e = (const char *)sqlite3_value_text(argv[0]);

	(void)argc;
	if (e == NULL) {
		sqlite3_result_null(cx);
		return;
	}
	sqlite3_result_text(cx, ms_addr_match_key(e, r->folds), -1, free);
}

static int
blocked(const struct ms_rules *r, const char *email)
{
	char *k = NULL;
	size_t i;
	int hit = 0;

	for (i = 0; i < r->nblocked && !hit; i++) {
		if (r->blocked[i][0] == '@')
			hit = ms_addr_in_domain(email, r->blocked[i] + 1);
		else {
			if (k == NULL)
				k = ms_addr_match_key(email, r->folds);
			hit = strcmp(k, r->blocked[i]) == 0;
		}
	}
	free(k);
	return hit;
}

/* MS_RULES_BLOCKED and MS_RULES_INTERNAL of an address (not business:
 * SQL knows that one). */
static void
sql_rule_flags(sqlite3_context *cx, int argc, sqlite3_value **argv)
{
	const struct ms_rules *r = sqlite3_user_data(cx);
	const char *e = (const char *)sqlite3_value_text(argv[0]);
	size_t i;
	int f = 0;

	(void)argc;
	if (e == NULL) {
		sqlite3_result_int(cx, 0);
		return;
	}
	if (blocked(r, e))
		f |= MS_RULES_BLOCKED;
	for (i = 0; i < r->ndomains; i++)
		if (ms_addr_in_domain(e, r->domains[i]))
			f |= MS_RULES_INTERNAL;
	sqlite3_result_int(cx, f);
}

static int
make_functions(struct ms_db *db, struct ms_rules *r)
{
	sqlite3 *h = ms_db_handle(db);
	int flags = SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_DIRECTONLY;

	if (sqlite3_create_function_v2(h, "ms_match_key", 1, flags, r,
		sql_match_key, NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_create_function_v2(h, "ms_rule_flags", 1, flags, r,
		sql_rule_flags, NULL, NULL, NULL) != SQLITE_OK)
		return ms_err("SQL functions: %s", sqlite3_errmsg(h));
	r->functions = h;
	return 0;
}

int
ms_rules_load(struct ms_db *db, struct ms_rules *r)
{
	struct ms_buf fp = {0};
	int rc;

	memset(r, 0, sizeof(*r));
	rc = load_settings(db, r) == -1 || load_blocklist(db, r) == -1 ||
		load_business(db, r, &fp) == -1 || make_functions(db, r) == -1
	    ? -1
	    : 0;
	if (rc == 0)
		fingerprint(r, &fp);
	ms_buf_finish(&fp);
	return rc;
}

void
ms_rules_finish(struct ms_rules *r)
{
	/* They point at r: no statement may call them after this. */
	if (r->functions != NULL) {
		sqlite3_create_function_v2(r->functions, "ms_match_key", 1,
		    SQLITE_UTF8, NULL, NULL, NULL, NULL, NULL);
		sqlite3_create_function_v2(r->functions, "ms_rule_flags", 1,
		    SQLITE_UTF8, NULL, NULL, NULL, NULL, NULL);
	}
	ms_strv_free(r->blocked, r->nblocked);
	ms_strv_free(r->domains, r->ndomains);
	memset(r, 0, sizeof(*r));
}

int
ms_rules_changed(struct ms_db *db, const struct ms_rules *r)
{
	char *v;
	int changed;

	if (ms_db_setting_get(db, APPLIED_KEY, &v) == -1)
		return -1;
	changed = v == NULL || strcmp(v, r->fingerprint) != 0;
	free(v);
	return changed;
}

int
ms_rules_applied(struct ms_db *db, const struct ms_rules *r)
{
	return ms_db_setting_set(db, APPLIED_KEY, r->fingerprint);
}

/*
 * Classification
 */

/* The addresses to classify, in temp.fresh. */
static int
pick(struct ms_db *db, const struct ms_rules *r, int all)
{
	/* Folding may need addresses nobody used yet: the keys. */
	static const char *keys_all =
	    "INSERT OR IGNORE INTO addresses (email) "
	    "SELECT ms_match_key(email) FROM addresses";
	static const char *keys_new =
	    "INSERT OR IGNORE INTO addresses (email) "
	    "SELECT ms_match_key(email) FROM addresses WHERE key_id IS NULL";

	if (ms_db_exec(db,
		"CREATE TEMP TABLE IF NOT EXISTS fresh "
		"(id INTEGER PRIMARY KEY); DELETE FROM temp.fresh") == -1)
		return -1;
	if (all &&
	    ms_db_exec(db,
		"INSERT OR IGNORE INTO addresses "
		"(email) " MS_ACCOUNT_BUSINESS_SQL) == -1)
		return -1;
	if (r->folds != 0 && ms_db_exec(db, all ? keys_all : keys_new) == -1)
		return -1;
	return ms_db_exec(db,
	    all ? "INSERT INTO temp.fresh SELECT id "
		  "FROM addresses"
		: "INSERT INTO temp.fresh SELECT id "
		  "FROM addresses WHERE key_id IS NULL");
}

static int
set_keys(struct ms_db *db, const struct ms_rules *r)
{
	static const char *folded =
	    "UPDATE addresses SET key_id = "
	    "(SELECT k.id FROM addresses k "
	    "WHERE k.email = ms_match_key(addresses.email)) "
	    "WHERE id IN temp.fresh";
	static const char *plain =
	    "UPDATE addresses SET key_id = id "
	    "WHERE id IN temp.fresh AND key_id IS NOT id";

	return ms_db_exec(db, r->folds != 0 ? folded : plain);
}

/* A business address's key makes every address with that key one. */
static int
set_flags(struct ms_db *db)
{
	static const char *sql =
	    "WITH biz AS (SELECT DISTINCT a.key_id FROM addresses a "
	    "WHERE a.email IN (" MS_ACCOUNT_BUSINESS_SQL ")), "
	    "f AS (SELECT id, ms_rule_flags(email) | "
	    "(key_id IN biz) * 5 AS v FROM addresses "
	    "WHERE id IN temp.fresh) "
	    "UPDATE addresses SET flags = f.v FROM f "
	    "WHERE addresses.id = f.id AND addresses.flags IS NOT f.v";

	return ms_db_exec(db, sql);
}

int
ms_rules_directions(struct ms_db *db, int64_t after)
{
	static const char *sql =
	    "UPDATE emails SET direction = x.d FROM "
	    "(SELECT ea.email_id AS id, CASE WHEN a.flags & 1 "
	    "THEN 'out' ELSE 'in' END AS d FROM email_addrs ea "
	    "JOIN addresses a ON a.id = ea.address_id "
	    "WHERE ea.role = 0 AND ea.pos = 0 AND ea.email_id > ?1) x "
	    "WHERE emails.id = x.id AND emails.source <> 'crm' "
	    "AND emails.direction <> x.d";
	sqlite3_stmt *st;

	if ((st = ms_db_stmt(db, sql)) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, after);
	return ms_db_run(db, st);
}

int
ms_rules_classify(struct ms_db *db, const struct ms_rules *r, int all)
{
	if (pick(db, r, all) == -1 || set_keys(db, r) == -1 ||
	    set_flags(db) == -1)
		return -1;
	return ms_db_exec(db, "DELETE FROM temp.fresh");
}

/*
 * The blocklist
 */

static char *
normalize_pattern(const char *pattern)
{
	char *n, *tmp;

	if (pattern[0] != '@') {
		if ((n = ms_addr_normalize(pattern)) == NULL)
			ms_errc(EX_DATAERR, "\"%s\": not an address or @domain",
			    pattern);
		return n;
	}
	/* A domain: normalised as the domain of an address. */
	tmp = ms_xasprintf("x%s", pattern);
	n = ms_addr_normalize(tmp);
	free(tmp);
	if (n == NULL || strchr(pattern + 1, '@') != NULL ||
	    strchr(n, '.') == NULL) {
		free(n);
		ms_errc(
		    EX_DATAERR, "\"%s\": not an address or @domain", pattern);
		return NULL;
	}
	memmove(n, n + 1, strlen(n)); /* "x@d" to "@d" */
	return n;
}

static int
blocklist_write(
    struct ms_db *db, const char *sql, const char *pattern, char **norm)
{
	sqlite3_stmt *st;
	char *n;
	int rc;

	if (norm != NULL)
		*norm = NULL;
	if ((n = normalize_pattern(pattern)) == NULL)
		return -1;
	if ((st = ms_db_stmt(db, sql)) == NULL) {
		free(n);
		return -1;
	}
	sqlite3_bind_text(st, 1, n, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)time(NULL));
	rc = ms_db_run(db, st);
	if (rc == 0)
		rc = sqlite3_changes(ms_db_handle(db)) == 0;
	if (norm != NULL)
		*norm = n;
	else
		free(n);
	return rc;
}

int
ms_rules_block(struct ms_db *db, const char *pattern, char **norm)
{
	static const char *sql = "INSERT OR IGNORE INTO blocklist "
				 "(pattern, created) VALUES (?1, ?2)";

	return blocklist_write(db, sql, pattern, norm);
}

int
ms_rules_unblock(struct ms_db *db, const char *pattern, char **norm)
{
	static const char *sql =
	    "DELETE FROM blocklist WHERE pattern = ?1 AND ?2 IS NOT NULL";

	return blocklist_write(db, sql, pattern, norm);
}

int
ms_rules_each_blocked(struct ms_db *db,
    int (*fn)(const char *pattern, long long created, void *), void *arg)
{
	static const char *sql =
	    "SELECT pattern, created FROM blocklist ORDER BY pattern";
	sqlite3_stmt *st;
	int rc;

	if ((st = ms_db_stmt(db, sql)) == NULL)
		return -1;
	while ((rc = ms_db_step(db, st)) == SQLITE_ROW)
		if (fn(ms_db_col_text(st, 0), sqlite3_column_int64(st, 1),
			arg) == -1) {
			rc = -1;
			break;
		}
	sqlite3_reset(st);
	return rc == -1 ? -1 : 0;
}
