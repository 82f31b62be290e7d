#include "client.h"

#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "account.h"
#include "utf8.h"
#include "util.h"

#define MAX_ID_LEN 256

void
ms_client_finish(struct ms_client *c)
{
	free(c->crm_id);
	free(c->name);
	free(c->email);
	free(c->portal_email);
	ms_addrlist_finish(&c->contacts);
	memset(c, 0, sizeof(*c));
}

void
ms_clientset_finish(struct ms_clientset *set)
{
	size_t i;

	for (i = 0; i < set->n; i++)
		ms_client_finish(&set->v[i]);
	free(set->v);
	set->v = NULL;
	set->n = set->cap = 0;
}

static struct ms_client *
set_new(struct ms_clientset *set, size_t line)
{
	struct ms_client *c;

	if (set->n == set->cap) {
		set->cap = set->cap ? set->cap * 2 : 64;
		set->v = ms_xreallocarray(set->v, set->cap, sizeof(*set->v));
	}
	c = &set->v[set->n++];
	memset(c, 0, sizeof(*c));
	c->line = line;
	return c;
}

static int
set_id(struct ms_client *c, const char *id)
{
	size_t len = strlen(id);
	size_t i;

	if (len == 0)
		return ms_errc(EX_DATAERR, "missing client id");
	if (len > MAX_ID_LEN)
		return ms_errc(
		    EX_DATAERR, "client id longer than %d bytes", MAX_ID_LEN);
	if (!ms_utf8_valid(id, len))
		return ms_errc(EX_DATAERR, "client id is not valid UTF-8");
	for (i = 0; i < len; i++)
		if ((unsigned char)id[i] < 0x20 || id[i] == 0x7f)
			return ms_errc(
			    EX_DATAERR, "client id holds a control character");
	c->crm_id = ms_xstrdup(id);
	return 0;
}

/* Normalise an optional address field ("" or absent means none). */
static int
set_addr(char **dst, const char *field, const char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	if (*s == '\0')
		return 0;
	if ((*dst = ms_addr_normalize(s)) == NULL)
		return ms_errc(EX_DATAERR, "%s: %s", field, ms_errstr());
	return 0;
}

static int
add_contact(struct ms_client *c, const char *name, const char *email)
{
	if (ms_addrlist_add(&c->contacts, name, email) == -1)
		return ms_errc(EX_DATAERR, "contacts: %s", ms_errstr());
	return 0;
}

/* A JSON string field, optional: *s is NULL when absent or null. */
static int
json_str(struct json_object *o, const char *key, const char **s)
{
	struct json_object *v;

	*s = NULL;
	if (!json_object_object_get_ex(o, key, &v) || v == NULL)
		return 0;
	if (!json_object_is_type(v, json_type_string))
		return ms_errc(EX_DATAERR, "\"%s\" must be a string", key);
	*s = json_object_get_string(v);
	return 0;
}

static int
json_contacts(struct ms_client *c, struct json_object *o)
{
	struct json_object *arr, *item;
	const char *name, *email;
	size_t i, n;

	if (!json_object_object_get_ex(o, "contacts", &arr) || arr == NULL)
		return 0;
	if (!json_object_is_type(arr, json_type_array))
		return ms_errc(EX_DATAERR, "\"contacts\" must be an array");
	n = json_object_array_length(arr);
	for (i = 0; i < n; i++) {
		item = json_object_array_get_idx(arr, i);
		if (json_object_is_type(item, json_type_string)) {
			if (add_contact(c, "", json_object_get_string(item)))
				return -1;
			continue;
		}
		if (!json_object_is_type(item, json_type_object))
			return ms_errc(EX_DATAERR,
			    "contact %zu must be an "
			    "object {\"name\", \"email\"}",
			    i + 1);
		if (json_str(item, "name", &name) == -1 ||
		    json_str(item, "email", &email) == -1)
			return -1;
		if (email == NULL)
			return ms_errc(EX_DATAERR,
			    "contact %zu has no "
			    "\"email\"",
			    i + 1);
		if (add_contact(c, name ? name : "", email) == -1)
			return -1;
	}
	return 0;
}

static int
json_client(struct ms_client *c, struct json_object *o)
{
	struct json_object *idv;
	const char *name, *email, *portal;
	char num[32];

	if (!json_object_is_type(o, json_type_object))
		return ms_errc(EX_DATAERR, "a client must be a JSON object");
	if (!json_object_object_get_ex(o, "id", &idv) || idv == NULL)
		return ms_errc(EX_DATAERR, "missing client id");
	if (json_object_is_type(idv, json_type_int)) {
		snprintf(num, sizeof(num), "%lld",
		    (long long)json_object_get_int64(idv));
		if (set_id(c, num) == -1)
			return -1;
	} else if (!json_object_is_type(idv, json_type_string))
		return ms_errc(EX_DATAERR, "\"id\" must be a string");
	else if (set_id(c, json_object_get_string(idv)) == -1)
		return -1;
	if (json_str(o, "name", &name) == -1 ||
	    json_str(o, "email", &email) == -1 ||
	    json_str(o, "portal_email", &portal) == -1)
		return -1;
	c->name = ms_utf8_sanitize(name ? name : "", name ? strlen(name) : 0);
	if (email && set_addr(&c->email, "email", email) == -1)
		return -1;
	if (portal && set_addr(&c->portal_email, "portal_email", portal))
		return -1;
	return json_contacts(c, o);
}

static int
parse_json_line(
    struct ms_clientset *set, const char *s, size_t len, size_t line)
{
	struct json_tokener *tok;
	struct json_object *o;
	enum json_tokener_error jerr;
	int rc;

	tok = json_tokener_new();
	o = json_tokener_parse_ex(tok, s, (int)len);
	jerr = json_tokener_get_error(tok);
	if (o == NULL || jerr != json_tokener_success ||
	    json_tokener_get_parse_end(tok) != len) {
		if (jerr == json_tokener_continue)
			ms_errc(EX_DATAERR, "bad JSON: unexpected end of line");
		else if (jerr != json_tokener_success)
			ms_errc(EX_DATAERR, "bad JSON: %s",
			    json_tokener_error_desc(jerr));
		else
			ms_errc(EX_DATAERR, "bad JSON: text after the object");
		json_object_put(o);
		json_tokener_free(tok);
		return -1;
	}
	json_tokener_free(tok);
	rc = json_client(set_new(set, line), o);
	json_object_put(o);
	return rc;
}

static int
is_blank(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
			return 0;
	return 1;
}

static int
parse_jsonl(const char *buf, size_t len, struct ms_clientset *set)
{
	size_t off = 0, line = 0, end;
	const char *nl;

	while (off < len) {
		line++;
		nl = memchr(buf + off, '\n', len - off);
		end = nl ? (size_t)(nl - buf) : len;
		if (!is_blank(buf + off, end - off) && buf[off] != '#' &&
		    parse_json_line(set, buf + off, end - off, line) == -1) {
			set->errline = line;
			return -1;
		}
		off = end + 1;
	}
	return 0;
}

/* CSV (RFC 4180): one record into fields; returns the offset after it. */
struct csv_rec {
	char **f;
	size_t n, cap;
};

static void
csv_free(struct csv_rec *r)
{
	size_t i;

	for (i = 0; i < r->n; i++)
		free(r->f[i]);
	r->n = 0;
}

static void
csv_push(struct csv_rec *r, struct ms_buf *field)
{
	if (r->n == r->cap) {
		r->cap = r->cap ? r->cap * 2 : 8;
		r->f = ms_xreallocarray(r->f, r->cap, sizeof(*r->f));
	}
	r->f[r->n++] = ms_buf_steal(field);
}

static int
csv_record(
    const char *buf, size_t len, size_t *off, size_t *line, struct csv_rec *r)
{
	struct ms_buf field = {0};
	size_t i = *off;
	int quoted = 0, was_quoted = 0;

	for (; i < len; i++) {
		char ch = buf[i];

		if (quoted) {
			if (ch == '"' && i + 1 < len && buf[i + 1] == '"') {
				ms_buf_addc(&field, '"');
				i++;
			} else if (ch == '"')
				quoted = 0;
			else {
				if (ch == '\n')
					(*line)++;
				ms_buf_addc(&field, ch);
			}
		} else if (ch == '"' && field.len == 0 && !was_quoted)
			quoted = was_quoted = 1;
		else if (ch == ',') {
			csv_push(r, &field);
			was_quoted = 0;
		} else if (ch == '\n')
			break;
		else if (ch == '\r' && i + 1 < len && buf[i + 1] == '\n')
			continue;
		else if (was_quoted) {
			ms_buf_finish(&field);
			return ms_errc(EX_DATAERR,
			    "CSV: text after a closing "
			    "quote");
		} else
			ms_buf_addc(&field, ch);
	}
	if (quoted) {
		ms_buf_finish(&field);
		return ms_errc(EX_DATAERR, "CSV: unterminated quoted field");
	}
	csv_push(r, &field);
	*off = i + 1;
	return 0;
}

enum { COL_ID, COL_NAME, COL_EMAIL, COL_PORTAL, COL_CONTACTS, NCOLS };
static const char *colnames[NCOLS] = {
    "id",
    "name",
    "email",
    "portal_email",
    "contact_emails",
};

static int
csv_header(struct csv_rec *r, int *col)
{
	size_t i;
	int k;

	for (k = 0; k < NCOLS; k++)
		col[k] = -1;
	for (i = 0; i < r->n; i++) {
		for (k = 0; k < NCOLS; k++)
			if (ms_ascii_casecmp(r->f[i], colnames[k]) == 0)
				break;
		if (k == NCOLS)
			return ms_errc(EX_DATAERR,
			    "CSV header: unknown column "
			    "\"%s\" (want id,name,email,portal_email,"
			    "contact_emails)",
			    r->f[i]);
		col[k] = (int)i;
	}
	if (col[COL_ID] == -1)
		return ms_errc(EX_DATAERR, "CSV header: no \"id\" column");
	return 0;
}

static const char *
csv_get(struct csv_rec *r, const int *col, int k)
{
	return col[k] >= 0 && (size_t)col[k] < r->n ? r->f[col[k]] : "";
}

static int
csv_contacts(struct ms_client *c, const char *list)
{
	char *copy = ms_xstrdup(list), *p = copy, *tok;
	int rc = 0;

	while (rc == 0 && (tok = strsep(&p, ";")) != NULL)
		if (!is_blank(tok, strlen(tok)))
			rc = add_contact(c, "", tok);
	free(copy);
	return rc;
}

static int
csv_client(
    struct ms_clientset *set, struct csv_rec *r, const int *col, size_t line)
{
	struct ms_client *c = set_new(set, line);
	const char *name = csv_get(r, col, COL_NAME);

	if (r->n != 0 && (size_t)col[COL_ID] >= r->n)
		return ms_errc(EX_DATAERR, "missing client id");
	if (set_id(c, csv_get(r, col, COL_ID)) == -1)
		return -1;
	c->name = ms_utf8_sanitize(name, strlen(name));
	if (set_addr(&c->email, "email", csv_get(r, col, COL_EMAIL)) == -1 ||
	    set_addr(&c->portal_email, "portal_email",
		csv_get(r, col, COL_PORTAL)) == -1)
		return -1;
	return csv_contacts(c, csv_get(r, col, COL_CONTACTS));
}

static int
parse_csv(const char *buf, size_t len, struct ms_clientset *set)
{
	struct csv_rec r = {0};
	size_t off = 0, line = 1, start;
	int col[NCOLS], rc = 0, have_header = 0;

	while (rc == 0 && off < len) {
		start = line;
		rc = csv_record(buf, len, &off, &line, &r);
		line++;
		if (rc == 0 && r.n == 1 && is_blank(r.f[0], strlen(r.f[0])))
			; /* blank line */
		else if (rc == 0 && !have_header) {
			rc = csv_header(&r, col);
			have_header = 1;
		} else if (rc == 0)
			rc = csv_client(set, &r, col, start);
		if (rc == -1)
			set->errline = start;
		csv_free(&r);
	}
	free(r.f);
	if (rc == 0 && !have_header) {
		set->errline = 1;
		return ms_errc(EX_DATAERR, "CSV: no header row");
	}
	return rc;
}

static int
cmp_id(const void *a, const void *b)
{
	const struct ms_client *x = *(struct ms_client *const *)a;
	const struct ms_client *y = *(struct ms_client *const *)b;
	int c = strcmp(x->crm_id, y->crm_id);

	if (c != 0)
		return c;
	return x->line < y->line ? -1 : x->line > y->line;
}

/* The same id twice in one import is an error at its second line. */
static int
check_duplicates(struct ms_clientset *set)
{
	struct ms_client **v;
	size_t i;
	int rc = 0;

	v = ms_xreallocarray(NULL, set->n, sizeof(*v));
	for (i = 0; i < set->n; i++)
		v[i] = &set->v[i];
	qsort(v, set->n, sizeof(*v), cmp_id);
	for (i = 1; i < set->n && rc == 0; i++)
		if (strcmp(v[i - 1]->crm_id, v[i]->crm_id) == 0) {
			set->errline = v[i]->line;
			rc = ms_errc(EX_DATAERR,
			    "client id \"%s\" already on "
			    "line %zu",
			    v[i]->crm_id, v[i - 1]->line);
		}
	free(v);
	return rc;
}

int
ms_client_parse(const char *buf, size_t len, int csv, struct ms_clientset *set)
{
	int rc;

	set->errline = 0;
	rc = csv ? parse_csv(buf, len, set) : parse_jsonl(buf, len, set);
	if (rc == 0)
		rc = check_duplicates(set);
	if (rc == -1) {
		size_t line = set->errline;

		ms_clientset_finish(set);
		set->errline = line;
	}
	return rc;
}

/* The wanted address rows of a client, in (kind, pos) order. */
struct addr_row {
	int kind;
	int pos;
	int64_t address_id;
	const char *name;
};

static int
wanted_rows(struct ms_db *db, const struct ms_client *c,
    struct addr_row **rowsp, size_t *np)
{
	struct addr_row *rows;
	size_t n = 0, i;

	rows = ms_xreallocarray(NULL, c->contacts.n + 2, sizeof(*rows));
	if (c->email != NULL)
		rows[n++] = (struct addr_row){
		    MS_CLIENT_MAIN, 0, ms_db_address_id(db, c->email), ""};
	if (c->portal_email != NULL)
		rows[n++] = (struct addr_row){MS_CLIENT_PORTAL, 0,
		    ms_db_address_id(db, c->portal_email), ""};
	for (i = 0; i < c->contacts.n; i++)
		rows[n++] = (struct addr_row){MS_CLIENT_CONTACT, (int)i,
		    ms_db_address_id(db, c->contacts.v[i].email),
		    c->contacts.v[i].name};
	for (i = 0; i < n; i++)
		if (rows[i].address_id == -1) {
			free(rows);
			return -1;
		}
	*rowsp = rows;
	*np = n;
	return 0;
}

/* Whether the stored rows of client id equal rows[0..n); -1 on error. */
static int
same_rows(struct ms_db *db, int64_t id, const struct addr_row *rows, size_t n)
{
	static const char *sql =
	    "SELECT kind, pos, address_id, name "
	    "FROM client_addrs WHERE client_id = ?1 ORDER BY kind, pos";
	sqlite3_stmt *st;
	size_t i = 0;
	int rc, same = 1;

	if ((st = ms_db_stmt(db, sql)) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	while ((rc = ms_db_step(db, st)) == SQLITE_ROW) {
		if (i >= n || sqlite3_column_int(st, 0) != rows[i].kind ||
		    sqlite3_column_int(st, 1) != rows[i].pos ||
		    sqlite3_column_int64(st, 2) != rows[i].address_id ||
		    strcmp(ms_db_col_text(st, 3), rows[i].name) != 0)
			same = 0;
		i++;
	}
	sqlite3_reset(st);
	if (rc == -1)
		return -1;
	return same && i == n;
}

static int
store_rows(struct ms_db *db, int64_t id, const struct addr_row *rows, size_t n,
    int replace)
{
	static const char *del =
	    "DELETE FROM client_addrs WHERE client_id = ?1";
	static const char *ins = "INSERT INTO client_addrs "
				 "(client_id, kind, pos, address_id, name) "
				 "VALUES (?1, ?2, ?3, ?4, ?5)";
	sqlite3_stmt *st;
	size_t i;

	if (replace) {
		if ((st = ms_db_stmt(db, del)) == NULL)
			return -1;
		sqlite3_bind_int64(st, 1, id);
		if (ms_db_run(db, st) == -1)
			return -1;
	}
	for (i = 0; i < n; i++) {
		if ((st = ms_db_stmt(db, ins)) == NULL)
			return -1;
		sqlite3_bind_int64(st, 1, id);
		sqlite3_bind_int(st, 2, rows[i].kind);
		sqlite3_bind_int(st, 3, rows[i].pos);
		sqlite3_bind_int64(st, 4, rows[i].address_id);
		sqlite3_bind_text(st, 5, rows[i].name, -1, SQLITE_STATIC);
		if (ms_db_run(db, st) == -1)
			return -1;
	}
	return 0;
}

/* Find a client row: 0 with *id and *name (borrowed until next use) set,
 * 1 when absent, -1 on error. */
static int
find_client(struct ms_db *db, const char *crm_id, int64_t *id, char **name)
{
	static const char *sql =
	    "SELECT id, name FROM clients WHERE crm_id = ?1";
	sqlite3_stmt *st;
	int rc;

	if ((st = ms_db_stmt(db, sql)) == NULL)
		return -1;
	sqlite3_bind_text(st, 1, crm_id, -1, SQLITE_STATIC);
	rc = ms_db_step(db, st);
	if (rc == SQLITE_ROW) {
		*id = sqlite3_column_int64(st, 0);
		if (name)
			*name = ms_xstrdup(ms_db_col_text(st, 1));
	}
	sqlite3_reset(st);
	return rc == -1 ? -1 : rc == SQLITE_DONE;
}

static int
upsert(
    struct ms_db *db, const struct ms_client *c, struct ms_import_stats *stats)
{
	static const char *ins = "INSERT INTO clients (crm_id, name, dirty) "
				 "VALUES (?1, ?2, 1) RETURNING id";
	static const char *upd =
	    "UPDATE clients SET name = ?2, dirty = dirty OR ?3 WHERE id = ?1";
	struct addr_row *rows;
	sqlite3_stmt *st;
	char *oldname = NULL;
	int64_t id;
	size_t n;
	int found, same, rc = -1;

	if (wanted_rows(db, c, &rows, &n) == -1)
		return -1;
	if ((found = find_client(db, c->crm_id, &id, &oldname)) == -1)
		goto out;
	if (found == 1) {
		if ((st = ms_db_stmt(db, ins)) == NULL)
			goto out;
		sqlite3_bind_text(st, 1, c->crm_id, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, c->name, -1, SQLITE_STATIC);
		if (ms_db_step(db, st) != SQLITE_ROW)
			goto out;
		id = sqlite3_column_int64(st, 0);
		sqlite3_reset(st);
		stats->added++;
		rc = store_rows(db, id, rows, n, 0);
		goto out;
	}
	if ((same = same_rows(db, id, rows, n)) == -1)
		goto out;
	if (same && strcmp(oldname, c->name) == 0) {
		stats->unchanged++;
		rc = 0;
		goto out;
	}
	stats->updated++;
	if ((st = ms_db_stmt(db, upd)) == NULL)
		goto out;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_text(st, 2, c->name, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 3, !same);
	if (ms_db_run(db, st) == -1)
		goto out;
	rc = same ? 0 : store_rows(db, id, rows, n, 1);
out:
	free(oldname);
	free(rows);
	return rc;
}

static int
remove_absent(struct ms_db *db, const struct ms_clientset *set,
    struct ms_import_stats *stats)
{
	static const char *ins = "INSERT OR IGNORE INTO temp.import_ids "
				 "(crm_id) VALUES (?1)";
	sqlite3_stmt *st;
	size_t i;

	if (ms_db_exec(db,
		"CREATE TEMP TABLE IF NOT EXISTS import_ids "
		"(crm_id TEXT PRIMARY KEY) WITHOUT ROWID;"
		"DELETE FROM temp.import_ids") == -1)
		return -1;
	for (i = 0; i < set->n; i++) {
		if ((st = ms_db_stmt(db, ins)) == NULL)
			return -1;
		sqlite3_bind_text(st, 1, set->v[i].crm_id, -1, SQLITE_STATIC);
		if (ms_db_run(db, st) == -1)
			return -1;
	}
	if (ms_db_exec(db,
		"DELETE FROM clients WHERE crm_id NOT IN "
		"(SELECT crm_id FROM temp.import_ids)") == -1)
		return -1;
	stats->removed = (size_t)sqlite3_changes(ms_db_handle(db));
	return ms_db_exec(db, "DROP TABLE temp.import_ids");
}

int
ms_client_import(struct ms_db *db, const struct ms_clientset *set, int replace,
    struct ms_import_stats *stats)
{
	size_t i;

	memset(stats, 0, sizeof(*stats));
	if (ms_db_bulk(db) == -1 || ms_db_begin(db) == -1)
		return -1;
	for (i = 0; i < set->n; i++)
		if (upsert(db, &set->v[i], stats) == -1)
			goto fail;
	if (replace && remove_absent(db, set, stats) == -1)
		goto fail;
	if (ms_db_commit(db) == -1)
		goto fail;
	return 0;
fail:
	ms_db_rollback(db);
	return -1;
}

int
ms_client_each_team_address(struct ms_db *db,
    int (*fn)(const char *crm_id, const char *address, void *), void *arg)
{
	static const char *sql =
	    "SELECT DISTINCT c.crm_id, a.email FROM clients c "
	    "JOIN client_addrs ca ON ca.client_id = c.id "
	    "JOIN addresses a ON a.id = ca.address_id "
	    "WHERE c.dirty = 1 AND a.email IN (" MS_ACCOUNT_BUSINESS_SQL
	    ") ORDER BY 1, 2";
	sqlite3_stmt *st;
	int rc;

	if ((st = ms_db_stmt(db, sql)) == NULL)
		return -1;
	while ((rc = ms_db_step(db, st)) == SQLITE_ROW)
		if (fn(ms_db_col_text(st, 0), ms_db_col_text(st, 1), arg) ==
		    -1) {
			rc = -1;
			break;
		}
	sqlite3_reset(st);
	return rc == -1 ? -1 : 0;
}

int
ms_client_remove(struct ms_db *db, const char *crm_id)
{
	static const char *sql = "DELETE FROM clients WHERE crm_id = ?1";
	sqlite3_stmt *st;

	if ((st = ms_db_stmt(db, sql)) == NULL)
		return -1;
	sqlite3_bind_text(st, 1, crm_id, -1, SQLITE_STATIC);
	if (ms_db_run(db, st) == -1)
		return -1;
	return sqlite3_changes(ms_db_handle(db)) == 0;
}

static int
lookup_by_address(struct ms_db *db, const char *key, int64_t *id)
{
	static const char *sql =
	    "SELECT DISTINCT c.id, c.crm_id "
	    "FROM addresses a JOIN client_addrs ca ON ca.address_id = a.id "
	    "JOIN clients c ON c.id = ca.client_id WHERE a.email = ?1 "
	    "ORDER BY c.crm_id";
	struct ms_buf ids = {0};
	sqlite3_stmt *st;
	char *email;
	int rc, n = 0;

	if ((email = ms_addr_normalize(key)) == NULL)
		return 1;
	if ((st = ms_db_stmt(db, sql)) == NULL) {
		free(email);
		return -1;
	}
	sqlite3_bind_text(st, 1, email, -1, SQLITE_STATIC);
	while ((rc = ms_db_step(db, st)) == SQLITE_ROW) {
		if (n++ == 0)
			*id = sqlite3_column_int64(st, 0);
		ms_buf_printf(
		    &ids, "%s%s", n > 1 ? ", " : "", ms_db_col_text(st, 1));
	}
	sqlite3_reset(st);
	if (rc != -1 && n > 1)
		rc = ms_errc(EX_DATAERR,
		    "%s is on several clients (%s): "
		    "name one by its id",
		    email, ids.s);
	free(email);
	ms_buf_finish(&ids);
	if (rc == -1)
		return -1;
	return n == 0;
}

int
ms_client_lookup(struct ms_db *db, const char *key, int64_t *id)
{
	int rc;

	if ((rc = find_client(db, key, id, NULL)) != 1)
		return rc;
	if (strchr(key, '@') == NULL)
		return 1;
	return lookup_by_address(db, key, id);
}

/* Append the address row at st to c. */
static void
load_row(struct ms_client *c, sqlite3_stmt *st)
{
	const char *email = ms_db_col_text(st, 3);
	struct ms_addr *a;

	switch (sqlite3_column_int(st, 2)) {
	case MS_CLIENT_MAIN: c->email = ms_xstrdup(email); break;
	case MS_CLIENT_PORTAL: c->portal_email = ms_xstrdup(email); break;
	default:
		if (c->contacts.n == c->contacts.cap) {
			c->contacts.cap =
			    c->contacts.cap ? c->contacts.cap * 2 : 4;
			c->contacts.v = ms_xreallocarray(c->contacts.v,
			    c->contacts.cap, sizeof(*c->contacts.v));
		}
		a = &c->contacts.v[c->contacts.n++];
		a->name = ms_xstrdup(ms_db_col_text(st, 4));
		a->email = ms_xstrdup(email);
	}
}

/* The address rows of client id, in kind and position order. */
int
ms_client_get(struct ms_db *db, int64_t id, struct ms_client *c)
{
	static const char *sql =
	    "SELECT c.id, c.crm_id, ca.kind, a.email, ca.name, c.name "
	    "FROM clients c "
	    "LEFT JOIN client_addrs ca ON ca.client_id = c.id "
	    "LEFT JOIN addresses a ON a.id = ca.address_id "
	    "WHERE c.id = ?1 ORDER BY ca.kind, ca.pos";
	sqlite3_stmt *st;
	int rc, found = 0;

	memset(c, 0, sizeof(*c));
	if ((st = ms_db_stmt(db, sql)) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	while ((rc = ms_db_step(db, st)) == SQLITE_ROW) {
		if (!found++) {
			c->crm_id = ms_xstrdup(ms_db_col_text(st, 1));
			c->name = ms_xstrdup(ms_db_col_text(st, 5));
		}
		if (sqlite3_column_type(st, 3) != SQLITE_NULL)
			load_row(c, st);
	}
	sqlite3_reset(st);
	if (rc == -1) {
		ms_client_finish(c);
		return -1;
	}
	return found ? 0 : 1;
}

int
ms_client_each(
    struct ms_db *db, int (*fn)(const struct ms_client *, void *), void *arg)
{
	static const char *sql =
	    "SELECT c.id, c.crm_id, ca.kind, a.email, "
	    "ca.name, c.name FROM clients c "
	    "LEFT JOIN client_addrs ca ON ca.client_id = c.id "
	    "LEFT JOIN addresses a ON a.id = ca.address_id "
	    "ORDER BY c.crm_id, ca.kind, ca.pos";
	struct ms_client c = {0};
	sqlite3_stmt *st;
	int64_t cur = -1;
	int rc;

	if ((st = ms_db_stmt(db, sql)) == NULL)
		return -1;
	while ((rc = ms_db_step(db, st)) == SQLITE_ROW) {
		if (sqlite3_column_int64(st, 0) != cur) {
			if (cur != -1 && fn(&c, arg) == -1)
				goto stop;
			ms_client_finish(&c);
			cur = sqlite3_column_int64(st, 0);
			c.crm_id = ms_xstrdup(ms_db_col_text(st, 1));
			c.name = ms_xstrdup(ms_db_col_text(st, 5));
		}
		if (sqlite3_column_type(st, 3) != SQLITE_NULL)
			load_row(&c, st);
	}
	if (rc != -1 && cur != -1 && fn(&c, arg) == -1)
		goto stop;
	ms_client_finish(&c);
	sqlite3_reset(st);
	return rc == -1 ? -1 : 0;
stop:
	ms_client_finish(&c);
	sqlite3_reset(st);
	return -1;
}

/*
 * The least string above every string that starts with prefix, for a
 * range read: prefix with its last byte raised (carrying), or "\xF5",
 * above any UTF-8 text (no UTF-8 byte is F5 or more), when there is no
 * such string.
 */
static char *
prefix_end(const char *prefix)
{
	char *end = ms_xstrdup(prefix);
	size_t n = strlen(end);

	while (n > 0 && (unsigned char)end[n - 1] >= 0xF5)
		end[--n] = '\0';
	if (n == 0) {
		free(end);
		return ms_xstrdup("\xF5");
	}
	end[n - 1]++;
	return end;
}

/* The most addresses a completion reads (see ms_client_complete). */
#define SCAN_BUDGET "20000"

int
ms_client_complete(struct ms_db *db, const char *prefix, long long limit,
    int (*fn)(const char *value, const char *kind, const char *what, void *),
    void *arg)
{
	/*
	 * Ids: one range of the crm_id index. Addresses: addresses holds
	 * every participant of every email, most of them no client's, so
	 * its range is read SCAN_BUDGET rows at most, each checked against
	 * client_addrs: a bounded time whatever the database holds. A short
	 * prefix that strangers' addresses crowd may so miss client ones; a
	 * longer prefix finds them.
	 */
	static const char *sql =
	    "SELECT v, 'id', w FROM (SELECT crm_id AS v, name AS w "
	    "FROM clients WHERE crm_id >= ?1 AND crm_id < ?2 "
	    "ORDER BY crm_id LIMIT ?5) "
	    "UNION ALL SELECT v, 'address', w FROM (SELECT a.email AS v, "
	    "(SELECT min(c.crm_id) FROM client_addrs ca "
	    "JOIN clients c ON c.id = ca.client_id "
	    "WHERE ca.address_id = a.id) AS w "
	    "FROM (SELECT id, email FROM addresses "
	    "WHERE email >= ?3 AND email < ?4 "
	    "ORDER BY email LIMIT " SCAN_BUDGET ") a) "
	    "WHERE w IS NOT NULL ORDER BY 1 LIMIT ?5";
	char *end, *lower, *lower_end;
	sqlite3_stmt *st;
	size_t i;
	int rc;

	lower = ms_xstrdup(prefix);
	for (i = 0; lower[i] != '\0'; i++)
		lower[i] = ms_ascii_lower(lower[i]);
	end = prefix_end(prefix);
	lower_end = prefix_end(lower);
	if ((st = ms_db_stmt(db, sql)) == NULL) {
		rc = -1;
		goto out;
	}
	sqlite3_bind_text(st, 1, prefix, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, end, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, lower, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, lower_end, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, limit > 0 ? limit : -1);
	while ((rc = ms_db_step(db, st)) == SQLITE_ROW)
		if (fn(ms_db_col_text(st, 0), ms_db_col_text(st, 1),
			ms_db_col_text(st, 2), arg) == -1) {
			rc = -1;
			break;
		}
	sqlite3_reset(st);
out:
	free(end);
	free(lower);
	free(lower_end);
	return rc == -1 ? -1 : 0;
}
