#include "import.h"

#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

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
