#include "email.h"

#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "date.h"
#include "msg.h"
#include "rfc2047.h"
#include "util.h"

void
ms_email_finish(struct ms_email *e)
{
	size_t i;

	free(e->message_id);
	free(e->subject);
	free(e->snippet);
	free(e->body);
	free(e->thread_id);
	ms_addrlist_finish(&e->from);
	ms_addrlist_finish(&e->to);
	ms_addrlist_finish(&e->cc);
	for (i = 0; i < e->naccounts; i++)
		free(e->accounts[i]);
	free(e->accounts);
	memset(e, 0, sizeof(*e));
}

static const char *const directions[] = {"in", "out"};

static const char *
intern(const char *s, const char *const *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(s, v[i]) == 0)
			return v[i];
	return NULL;
}

const char *
ms_email_direction(const char *s)
{
	return intern(s, directions, sizeof(directions) / sizeof(*directions));
}

/* FNV-1a, 64 bits: a stable key, not a security measure. */
static uint64_t
fnv(uint64_t h, const char *s)
{
	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ULL;
	}
	return h * 0x100000001b3ULL; /* field separator */
}

static uint64_t
fnv_list(uint64_t h, const struct ms_addrlist *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		h = fnv(h, l->v[i].email);
	return fnv(h, "");
}

char *
ms_email_synthetic_id(const struct ms_email *e)
{
	char date[32];
	uint64_t h = 0xcbf29ce484222325ULL;

	snprintf(date, sizeof(date), "%lld", (long long)e->date);
	h = fnv(h, date);
	h = fnv_list(h, &e->from);
	h = fnv_list(h, &e->to);
	h = fnv_list(h, &e->cc);
	h = fnv(h, e->subject ? e->subject : "");
	return ms_xasprintf("<%016llx.%lld@synthetic.mailsync.invalid>",
	    (unsigned long long)h, (long long)e->date);
}

static int
find_by_msgid(struct ms_db *db, const char *msgid, int64_t *id)
{
	static const char *sql = "SELECT id FROM emails WHERE message_id = ?1";
	sqlite3_stmt *st;
	int rc;

	if ((st = ms_db_stmt(db, sql)) == NULL)
		return -1;
	sqlite3_bind_text(st, 1, msgid, -1, SQLITE_STATIC);
	if ((rc = ms_db_step(db, st)) == SQLITE_ROW)
		*id = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return rc == -1 ? -1 : rc == SQLITE_DONE;
}

static int
store_addrs(struct ms_db *db, int64_t id, int role, const struct ms_addrlist *l)
{
	static const char *sql = "INSERT INTO email_addrs "
				 "(email_id, role, pos, address_id, name) "
				 "VALUES (?1, ?2, ?3, ?4, ?5)";
	sqlite3_stmt *st;
	int64_t aid;
	size_t i;

	for (i = 0; i < l->n; i++) {
		if ((aid = ms_db_address_id(db, l->v[i].email)) == -1)
			return -1;
		if ((st = ms_db_stmt(db, sql)) == NULL)
			return -1;
		sqlite3_bind_int64(st, 1, id);
		sqlite3_bind_int(st, 2, role);
		sqlite3_bind_int(st, 3, (int)i);
		sqlite3_bind_int64(st, 4, aid);
		sqlite3_bind_text(st, 5, l->v[i].name, -1, SQLITE_STATIC);
		if (ms_db_run(db, st) == -1)
			return -1;
	}
	return 0;
}

/* The first word of a header value, up to a ";" or a space. */
static int
word_is(const char *v, const char *w)
{
	size_t n = strlen(w);

	v += strspn(v, " \t");
	return ms_ascii_ncasecmp(v, w, n) == 0 &&
	    (v[n] == '\0' || v[n] == ';' || v[n] == ' ' || v[n] == '\t');
}

int
ms_email_bulk_header(const char *name, const char *value)
{
	if (ms_ascii_casecmp(name, "List-Unsubscribe") == 0)
		return 1;
	if (ms_ascii_casecmp(name, "Precedence") == 0)
		return word_is(value, "bulk") || word_is(value, "list") ||
		    word_is(value, "junk");
	if (ms_ascii_casecmp(name, "Auto-Submitted") == 0)
		return value[strspn(value, " \t")] != '\0' &&
		    !word_is(value, "no");
	return 0;
}

void
ms_email_apply_header(struct ms_email *e, const char *name, const char *value)
{
	size_t len = strlen(value);

	if (ms_ascii_casecmp(name, "From") == 0 && e->from.n == 0)
		ms_addr_parse_list(value, len, &e->from);
	else if (ms_ascii_casecmp(name, "To") == 0)
		ms_addr_parse_list(value, len, &e->to);
	else if (ms_ascii_casecmp(name, "Cc") == 0)
		ms_addr_parse_list(value, len, &e->cc);
	else if (ms_ascii_casecmp(name, "Subject") == 0 && e->subject == NULL)
		e->subject = ms_rfc2047_decode(value, len, NULL);
	else if (ms_ascii_casecmp(name, "Message-ID") == 0 &&
	    e->message_id == NULL)
		e->message_id = ms_msgid_normalize(value);
	else if (ms_ascii_casecmp(name, "Date") == 0 && e->date == 0)
		ms_date_parse_rfc5322(value, &e->date);
	else if (ms_email_bulk_header(name, value))
		e->bulk = 1;
}

/*
 * The CRM recorded an email a mailbox had synced already: it becomes the
 * CRM email (full body, outbound), keeping the accounts it came from.
 */
static int
become_crm(struct ms_db *db, const struct ms_email *e)
{
	static const char *sql = "UPDATE emails SET source = ?2, "
				 "direction = ?3, body = ?4, snippet = ?5, "
				 "has_attachments = has_attachments OR ?6 "
				 "WHERE id = ?1 AND body IS NULL";
	sqlite3_stmt *st;

	if ((st = ms_db_stmt(db, sql)) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, e->id);
	ms_db_bind_text(st, 2, e->source);
	ms_db_bind_text(st, 3, e->direction);
	ms_db_bind_text(st, 4, e->body);
	ms_db_bind_text(st, 5, e->snippet ? e->snippet : "");
	sqlite3_bind_int(st, 6, e->has_attachments != 0);
	return ms_db_run(db, st);
}

int
ms_email_store(struct ms_db *db, struct ms_email *e, int *created)
{
	static const char *sql =
	    "INSERT INTO emails (message_id, source, "
	    "direction, date, subject, snippet, body, has_attachments, "
	    "thread_id, bulk) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, "
	    "?10) "
	    "RETURNING id";
	sqlite3_stmt *st;
	int rc;

	*created = 0;
	if (e->message_id == NULL)
		return ms_err("email without a Message-ID");
	if ((rc = find_by_msgid(db, e->message_id, &e->id)) == 0 &&
	    e->body != NULL)
		return become_crm(db, e);
	if (rc != 1)
		return rc;
	if ((st = ms_db_stmt(db, sql)) == NULL)
		return -1;
	ms_db_bind_text(st, 1, e->message_id);
	ms_db_bind_text(st, 2, e->source);
	ms_db_bind_text(st, 3, e->direction);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)e->date);
	ms_db_bind_text(st, 5, e->subject ? e->subject : "");
	ms_db_bind_text(st, 6, e->snippet ? e->snippet : "");
	ms_db_bind_text(st, 7, e->body);
	sqlite3_bind_int(st, 8, e->has_attachments != 0);
	ms_db_bind_text(st, 9, e->thread_id);
	sqlite3_bind_int(st, 10, e->bulk != 0);
	if (ms_db_step(db, st) != SQLITE_ROW) {
		sqlite3_reset(st);
		return -1;
	}
	e->id = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	if (store_addrs(db, e->id, MS_ROLE_FROM, &e->from) == -1 ||
	    store_addrs(db, e->id, MS_ROLE_TO, &e->to) == -1 ||
	    store_addrs(db, e->id, MS_ROLE_CC, &e->cc) == -1)
		return -1;
	*created = 1;
	return 0;
}

static void
push_addr(struct ms_addrlist *l, const char *name, const char *email)
{
	struct ms_addr *a;

	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 4;
		l->v = ms_xreallocarray(l->v, l->cap, sizeof(*l->v));
	}
	a = &l->v[l->n++];
	a->name = ms_xstrdup(name);
	a->email = ms_xstrdup(email);
}

static int
load_addrs(struct ms_db *db, struct ms_email *e)
{
	static const char *sql =
	    "SELECT ea.role, ea.name, a.email "
	    "FROM email_addrs ea JOIN addresses a ON a.id = ea.address_id "
	    "WHERE ea.email_id = ?1 ORDER BY ea.role, ea.pos";
	struct ms_addrlist *lists[] = {&e->from, &e->to, &e->cc};
	sqlite3_stmt *st;
	int rc, role;

	if ((st = ms_db_stmt(db, sql)) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, e->id);
	while ((rc = ms_db_step(db, st)) == SQLITE_ROW) {
		role = sqlite3_column_int(st, 0);
		if (role >= 0 && role <= 2)
			push_addr(lists[role], ms_db_col_text(st, 1),
			    ms_db_col_text(st, 2));
	}
	sqlite3_reset(st);
	return rc == -1 ? -1 : 0;
}

static int
load_accounts(struct ms_db *db, struct ms_email *e)
{
	static const char *sql = "SELECT ac.address FROM email_accounts x "
				 "JOIN accounts ac ON ac.id = x.account_id "
				 "WHERE x.email_id = ?1 ORDER BY ac.address";
	sqlite3_stmt *st;
	int rc;

	if ((st = ms_db_stmt(db, sql)) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, e->id);
	while ((rc = ms_db_step(db, st)) == SQLITE_ROW) {
		e->accounts = ms_xreallocarray(
		    e->accounts, e->naccounts + 1, sizeof(*e->accounts));
		e->accounts[e->naccounts++] = ms_xstrdup(ms_db_col_text(st, 0));
	}
	sqlite3_reset(st);
	return rc == -1 ? -1 : 0;
}

#define EMAIL_COLS                                                             \
	"e.id, e.message_id, e.source, e.direction, e.date, "                  \
	"e.subject, e.snippet, e.body, e.thread_id, e.has_attachments "

/* Fill e from a row of EMAIL_COLS, then its addresses and accounts. */
static int
load_row(struct ms_db *db, sqlite3_stmt *st, struct ms_email *e)
{
	memset(e, 0, sizeof(*e));
	e->id = sqlite3_column_int64(st, 0);
	e->message_id = ms_xstrdup(ms_db_col_text(st, 1));
	strlcpy(e->source, ms_db_col_text(st, 2), sizeof(e->source));
	e->direction = ms_email_direction(ms_db_col_text(st, 3));
	e->date = (time_t)sqlite3_column_int64(st, 4);
	e->subject = ms_xstrdup(ms_db_col_text(st, 5));
	e->snippet = ms_xstrdup(ms_db_col_text(st, 6));
	if (sqlite3_column_type(st, 7) != SQLITE_NULL)
		e->body = ms_xstrdup(ms_db_col_text(st, 7));
	if (sqlite3_column_type(st, 8) != SQLITE_NULL)
		e->thread_id = ms_xstrdup(ms_db_col_text(st, 8));
	e->has_attachments = sqlite3_column_int(st, 9);
	if (e->source[0] == '\0' || e->direction == NULL)
		return ms_errc(EX_DATAERR,
		    "email %lld: bad source or "
		    "direction in the database",
		    (long long)e->id);
	return 0;
}

int
ms_email_get(struct ms_db *db, int64_t id, struct ms_email *e)
{
	static const char *sql =
	    "SELECT " EMAIL_COLS "FROM emails e WHERE e.id = ?1";
	sqlite3_stmt *st;
	int rc;

	memset(e, 0, sizeof(*e));
	if ((st = ms_db_stmt(db, sql)) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	rc = ms_db_step(db, st);
	if (rc == SQLITE_ROW)
		rc = load_row(db, st, e);
	sqlite3_reset(st);
	if (rc == SQLITE_DONE)
		return 1;
	if (rc == -1 || load_addrs(db, e) == -1 || load_accounts(db, e) == -1)
		return -1;
	return 0;
}

int
ms_email_list(struct ms_db *db, const struct ms_email_query *q,
    int (*fn)(const struct ms_email *, void *), void *arg)
{
	static const char *sql =
	    "SELECT " EMAIL_COLS
	    "FROM email_clients ec JOIN emails e ON e.id = ec.email_id "
	    "WHERE ec.client_id = ?1 AND ec.date >= ?2 "
	    "AND (?3 IS NULL OR e.source = ?3) "
	    "ORDER BY ec.date DESC, ec.email_id DESC LIMIT ?4";
	struct ms_email e;
	sqlite3_stmt *st;
	int rc;

	/* The cached statement is stepped while fn's loads run others. */
	if ((st = ms_db_stmt(db, sql)) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, q->client_id);
	sqlite3_bind_int64(
	    st, 2, q->since ? (sqlite3_int64)q->since : INT64_MIN);
	ms_db_bind_text(st, 3, q->source);
	sqlite3_bind_int64(st, 4, q->limit > 0 ? q->limit : -1);
	while ((rc = ms_db_step(db, st)) == SQLITE_ROW) {
		if (load_row(db, st, &e) == -1 || load_addrs(db, &e) == -1 ||
		    load_accounts(db, &e) == -1 || fn(&e, arg) == -1) {
			ms_email_finish(&e);
			rc = -1;
			break;
		}
		ms_email_finish(&e);
	}
	sqlite3_reset(st);
	return rc == -1 ? -1 : 0;
}
