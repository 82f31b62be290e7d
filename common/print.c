#include "print.h"

#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include "date.h"
#include "util.h"

#define C_RESET "\033[0m"
#define C_RED "\033[31m"
#define C_GREEN "\033[32m"
#define C_BLUE "\033[34m"
#define C_DIM "\033[2m"

#define W_BADGE 7
#define W_DATE 16
#define W_WHO 24

struct ms_printer {
	FILE *out;
	enum ms_format fmt;
	int color;
	int width;
	int rows; /* records printed so far */
	const char *kind; /* HTML table class, once started */
};

struct ms_printer *
ms_printer_create(FILE *out, enum ms_format fmt, int color, int width)
{
	struct ms_printer *p = ms_xcalloc(1, sizeof(*p));

	p->out = out;
	p->fmt = fmt;
	p->color = color && fmt == MS_FMT_TABLE;
	p->width = width;
	return p;
}

int
ms_printer_destroy(struct ms_printer *p)
{
	int rc;

	if (p == NULL)
		return 0;
	if (p->fmt == MS_FMT_HTML && p->kind != NULL)
		fputs("</tbody>\n</table>\n", p->out);
	rc = fflush(p->out) == EOF || ferror(p->out) ? -1 : 0;
	free(p);
	return rc;
}

/* Decode one UTF-8 character (input is valid UTF-8); returns its length. */
static size_t
utf8_next(const char *s, wchar_t *wc)
{
	const unsigned char *u = (const unsigned char *)s;

	if (u[0] < 0x80) {
		*wc = u[0];
		return 1;
	}
	if ((u[0] & 0xe0) == 0xc0 && u[1]) {
		*wc = ((u[0] & 0x1f) << 6) | (u[1] & 0x3f);
		return 2;
	}
	if ((u[0] & 0xf0) == 0xe0 && u[1] && u[2]) {
		*wc = ((u[0] & 0x0f) << 12) | ((u[1] & 0x3f) << 6) |
		    (u[2] & 0x3f);
		return 3;
	}
	if ((u[0] & 0xf8) == 0xf0 && u[1] && u[2] && u[3]) {
		*wc = ((u[0] & 0x07) << 18) | ((u[1] & 0x3f) << 12) |
		    ((u[2] & 0x3f) << 6) | (u[3] & 0x3f);
		return 4;
	}
	*wc = 0xfffd;
	return 1;
}

/* Display columns of the character wc (control characters count as the
 * one space they are printed as). */
static int
char_width(wchar_t wc)
{
	int w;

	if (wc < 0x20 || wc == 0x7f)
		return 1;
	return (w = wcwidth(wc)) < 0 ? 1 : w;
}

static int
str_width(const char *s)
{
	int used = 0;
	wchar_t wc;

	while (*s != '\0') {
		s += utf8_next(s, &wc);
		used += char_width(wc);
	}
	return used;
}

/*
 * Append s to b in at most width display columns (-1: no limit), control
 * characters as spaces, "…" where it is cut; pad with spaces to width
 * when pad is set. Returns the columns used.
 */
static int
put_cell(struct ms_buf *b, const char *s, int width, int pad)
{
	int used = 0, w, room;
	size_t n;
	wchar_t wc;

	room = width < 0 || str_width(s) <= width ? width : width - 1;
	while (*s != '\0') {
		n = utf8_next(s, &wc);
		w = char_width(wc);
		if (room >= 0 && used + w > room)
			break;
		if (wc < 0x20 || wc == 0x7f)
			ms_buf_addc(b, ' ');
		else
			ms_buf_add(b, s, n);
		used += w;
		s += n;
	}
	if (*s != '\0' && width > 0) {
		ms_buf_adds(b, "…");
		used++;
	}
	while (pad && width >= 0 && used < width) {
		ms_buf_addc(b, ' ');
		used++;
	}
	return used;
}

static void
put_color(struct ms_printer *p, struct ms_buf *b, const char *color)
{
	if (p->color)
		ms_buf_adds(b, color);
}

static const char *
badge_name(const char *source)
{
	if (strcmp(source, "crm") == 0)
		return "CRM";
	if (strcmp(source, "gmail") == 0)
		return "Gmail";
	return "Outlook";
}

static const char *
badge_color(const char *source)
{
	if (strcmp(source, "crm") == 0)
		return C_GREEN;
	if (strcmp(source, "gmail") == 0)
		return C_RED;
	return C_BLUE;
}

/* Who the email is with: the sender of an inbound email, else the first
 * recipient. */
static const struct ms_addr *
counterpart(const struct ms_email *e)
{
	int out = strcmp(e->direction, "out") == 0;

	if (out && e->to.n > 0)
		return &e->to.v[0];
	if (out && e->cc.n > 0)
		return &e->cc.v[0];
	return e->from.n > 0 ? &e->from.v[0] : NULL;
}

static void
email_table(struct ms_printer *p, const struct ms_email *e)
{
	const struct ms_addr *who = counterpart(e);
	struct ms_buf b = {0};
	char date[32];
	int in = strcmp(e->direction, "in") == 0;
	int used, rest;

	ms_date_format_iso(e->date, date, sizeof(date));
	date[10] = ' ';
	date[16] = '\0';
	put_color(p, &b, in ? C_BLUE : C_GREEN);
	ms_buf_adds(&b, in ? "↓" : "↑");
	put_color(p, &b, C_RESET);
	ms_buf_addc(&b, ' ');
	put_color(p, &b, badge_color(e->source));
	put_cell(&b, badge_name(e->source), W_BADGE, 1);
	put_color(p, &b, C_RESET);
	ms_buf_printf(&b, " %s %s ", date, e->has_attachments ? "📎" : "  ");
	put_cell(&b,
	    who == NULL      ? ""
		: *who->name ? who->name
			     : who->email,
	    W_WHO, 1);
	ms_buf_addc(&b, ' ');
	used = 2 + W_BADGE + 1 + W_DATE + 4 + W_WHO + 1;
	rest = p->width > 0 ? p->width - used : -1;
	if (rest == 0 || rest < -1)
		rest = 1;
	used = put_cell(&b, *e->subject ? e->subject : "(no subject)", rest, 0);
	if (*e->snippet != '\0' && (rest == -1 || used + 4 < rest)) {
		ms_buf_adds(&b, " ");
		put_color(p, &b, C_DIM);
		put_cell(&b, e->snippet, rest == -1 ? -1 : rest - used - 1, 0);
		put_color(p, &b, C_RESET);
	}
	fprintf(p->out, "%s\n", b.s);
	ms_buf_finish(&b);
}

static struct json_object *
json_addr(const struct ms_addr *a)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "name", json_object_new_string(a->name));
	json_object_object_add(o, "email", json_object_new_string(a->email));
	return o;
}

static struct json_object *
json_addrs(const struct ms_addrlist *l)
{
	struct json_object *arr = json_object_new_array();
	size_t i;

	for (i = 0; i < l->n; i++)
		json_object_array_add(arr, json_addr(&l->v[i]));
	return arr;
}

static void
json_print(struct ms_printer *p, struct json_object *o)
{
	fprintf(p->out, "%s\n",
	    json_object_to_json_string_ext(
		o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
}

static void
email_json(struct ms_printer *p, const struct ms_email *e)
{
	struct json_object *o = json_object_new_object(), *acc;
	struct ms_addr none = {"", ""};
	char date[32];
	size_t i;

	ms_date_format_iso(e->date, date, sizeof(date));
	json_object_object_add(o, "id", json_object_new_int64(e->id));
	json_object_object_add(o, "date", json_object_new_string(date));
	json_object_object_add(
	    o, "direction", json_object_new_string(e->direction));
	json_object_object_add(o, "source", json_object_new_string(e->source));
	json_object_object_add(
	    o, "from", json_addr(e->from.n > 0 ? &e->from.v[0] : &none));
	json_object_object_add(o, "to", json_addrs(&e->to));
	json_object_object_add(o, "cc", json_addrs(&e->cc));
	json_object_object_add(
	    o, "subject", json_object_new_string(e->subject));
	json_object_object_add(
	    o, "snippet", json_object_new_string(e->snippet));
	json_object_object_add(
	    o, "has_attachments", json_object_new_boolean(e->has_attachments));
	json_object_object_add(
	    o, "message_id", json_object_new_string(e->message_id));
	acc = json_object_new_array();
	for (i = 0; i < e->naccounts; i++)
		json_object_array_add(
		    acc, json_object_new_string(e->accounts[i]));
	json_object_object_add(o, "accounts", acc);
	json_object_object_add(
	    o, "viewable", json_object_new_boolean(e->body != NULL));
	if (e->thread_id != NULL)
		json_object_object_add(
		    o, "thread_id", json_object_new_string(e->thread_id));
	json_print(p, o);
}

/* A TSV value: tabs and line breaks become spaces. */
static void
tsv_field(FILE *out, const char *s, int last)
{
	for (; *s != '\0'; s++)
		fputc(*s == '\t' || *s == '\n' || *s == '\r' ? ' ' : *s, out);
	fputc(last ? '\n' : '\t', out);
}

static void
email_tsv(struct ms_printer *p, const struct ms_email *e)
{
	char date[32];

	ms_date_format_iso(e->date, date, sizeof(date));
	fprintf(p->out, "%lld\t%s\t%s\t%s\t", (long long)e->id, date,
	    e->direction, e->source);
	tsv_field(p->out, e->from.n > 0 ? e->from.v[0].email : "", 0);
	tsv_field(p->out, e->subject, 0);
	fprintf(p->out, "%d\n", e->has_attachments ? 1 : 0);
}

static void
html_text(FILE *out, const char *s)
{
	for (; *s != '\0'; s++) {
		switch (*s) {
		case '&': fputs("&amp;", out); break;
		case '<': fputs("&lt;", out); break;
		case '>': fputs("&gt;", out); break;
		case '"': fputs("&quot;", out); break;
		case '\'': fputs("&#39;", out); break;
		default: fputc(*s, out);
		}
	}
}

static void
html_start(struct ms_printer *p, const char *kind, const char *head)
{
	if (p->kind != NULL)
		return;
	p->kind = kind;
	fprintf(p->out,
	    "<table class=\"mailsync-%s\">\n<thead><tr>%s"
	    "</tr></thead>\n<tbody>\n",
	    kind, head);
}

static void
html_cell(FILE *out, const char *class, const char *s)
{
	fprintf(out, "<td class=\"%s\">", class);
	html_text(out, s);
	fputs("</td>", out);
}

static void
email_html(struct ms_printer *p, const struct ms_email *e)
{
	const struct ms_addr *who = counterpart(e);
	char date[32];
	int in = strcmp(e->direction, "in") == 0;

	html_start(p, "emails",
	    "<th>Direction</th><th>Source</th>"
	    "<th>Date</th><th>With</th><th>Subject</th><th>Snippet</th>"
	    "<th>Attachments</th>");
	ms_date_format_iso(e->date, date, sizeof(date));
	fprintf(p->out,
	    "<tr data-id=\"%lld\"><td class=\"direction %s\" "
	    "title=\"%s\">%s</td><td class=\"source %s\">%s</td>",
	    (long long)e->id, e->direction, in ? "inbound" : "outbound",
	    in ? "&darr;" : "&uarr;", e->source, badge_name(e->source));
	fprintf(p->out,
	    "<td class=\"date\"><time datetime=\"%s\">%s</time>"
	    "</td>",
	    date, date);
	html_cell(p->out, "with", who ? who->email : "");
	html_cell(p->out, "subject", e->subject);
	html_cell(p->out, "snippet", e->snippet);
	fprintf(p->out, "<td class=\"attachments\">%s</td></tr>\n",
	    e->has_attachments ? "&#x1F4CE;" : "");
}

/* Count a record printed; -1 when the output failed. */
static int
row_done(struct ms_printer *p)
{
	p->rows++;
	return ferror(p->out) ? ms_err("write error on output") : 0;
}

int
ms_print_email(struct ms_printer *p, const struct ms_email *e)
{
	switch (p->fmt) {
	case MS_FMT_TABLE: email_table(p, e); break;
	case MS_FMT_JSON: email_json(p, e); break;
	case MS_FMT_TSV: email_tsv(p, e); break;
	case MS_FMT_HTML: email_html(p, e); break;
	}
	return row_done(p);
}

static void
account_row(struct ms_printer *p, const struct ms_account *a)
{
	char when[32] = "never", status[48];
	struct json_object *o;

	if (a->last_sync != 0)
		ms_date_format_iso(a->last_sync, when, sizeof(when));
	snprintf(status, sizeof(status), "%s%s", a->status,
	    a->stale ? " (stale)" : "");
	switch (p->fmt) {
	case MS_FMT_TABLE:
		if (p->rows == 0)
			fprintf(p->out,
			    "%-8s %-32s %-12s %-15s %-20s %6s  %s\n",
			    "PROVIDER", "ADDRESS", "MEMBER", "STATUS",
			    "LAST SYNC", "EMAILS", "LAST ERROR");
		fprintf(p->out, "%-8s %-32s %-12s %-15s %-20s %6lld  %s\n",
		    a->provider, a->address, a->member, status, when,
		    (long long)a->emails, a->last_error ? a->last_error : "-");
		break;
	case MS_FMT_TSV:
		fprintf(p->out, "%s\t%s\t%s\t%s\t%s\t%lld\t%d\t", a->provider,
		    a->address, a->member, a->status, when,
		    (long long)a->emails, a->stale);
		tsv_field(p->out, a->last_error ? a->last_error : "", 1);
		break;
	case MS_FMT_JSON:
	case MS_FMT_HTML:
		o = json_object_new_object();
		json_object_object_add(
		    o, "provider", json_object_new_string(a->provider));
		json_object_object_add(
		    o, "address", json_object_new_string(a->address));
		json_object_object_add(
		    o, "member", json_object_new_string(a->member));
		json_object_object_add(
		    o, "status", json_object_new_string(a->status));
		json_object_object_add(o, "last_sync",
		    a->last_sync ? json_object_new_string(when) : NULL);
		json_object_object_add(o, "last_error",
		    a->last_error ? json_object_new_string(a->last_error)
				  : NULL);
		json_object_object_add(
		    o, "emails", json_object_new_int64(a->emails));
		json_object_object_add(
		    o, "stale", json_object_new_boolean(a->stale));
		json_print(p, o);
		break;
	}
}

int
ms_print_account(struct ms_printer *p, const struct ms_account *a)
{
	account_row(p, a);
	return row_done(p);
}

int
ms_print_pull(struct ms_printer *p, const struct ms_pull_result *r)
{
	struct json_object *o;

	if (p->fmt != MS_FMT_JSON)
		return 0;
	o = json_object_new_object();
	json_object_object_add(
	    o, "account", json_object_new_string(r->address));
	json_object_object_add(
	    o, "provider", json_object_new_string(r->provider));
	json_object_object_add(o, "status", json_object_new_string(r->status));
	json_object_object_add(o, "fetched", json_object_new_int64(r->fetched));
	json_object_object_add(o, "new", json_object_new_int64(r->added));
	if (r->error != NULL)
		json_object_object_add(
		    o, "error", json_object_new_string(r->error));
	json_print(p, o);
	return row_done(p);
}

static struct json_object *
json_str_or_null(const char *s)
{
	return s ? json_object_new_string(s) : NULL;
}

static void
client_json(struct ms_printer *p, const struct ms_client *c)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "id", json_object_new_string(c->crm_id));
	json_object_object_add(o, "name", json_object_new_string(c->name));
	json_object_object_add(o, "email", json_str_or_null(c->email));
	json_object_object_add(
	    o, "portal_email", json_str_or_null(c->portal_email));
	json_object_object_add(o, "contacts", json_addrs(&c->contacts));
	json_print(p, o);
}

static void
client_table(struct ms_printer *p, const struct ms_client *c)
{
	struct ms_buf b = {0};

	if (p->rows == 0)
		fprintf(p->out, "%-12s %-24s %-28s %-28s %s\n", "ID", "NAME",
		    "EMAIL", "PORTAL", "CONTACTS");
	put_cell(&b, c->crm_id, 12, 1);
	ms_buf_addc(&b, ' ');
	put_cell(&b, c->name, 24, 1);
	ms_buf_addc(&b, ' ');
	put_cell(&b, c->email ? c->email : "-", 28, 1);
	ms_buf_addc(&b, ' ');
	put_cell(&b, c->portal_email ? c->portal_email : "-", 28, 1);
	ms_buf_printf(&b, " %zu", c->contacts.n);
	fprintf(p->out, "%s\n", b.s);
	ms_buf_finish(&b);
}

static void
client_tsv(struct ms_printer *p, const struct ms_client *c)
{
	size_t i;

	tsv_field(p->out, c->crm_id, 0);
	tsv_field(p->out, c->name, 0);
	tsv_field(p->out, c->email ? c->email : "", 0);
	tsv_field(p->out, c->portal_email ? c->portal_email : "", 0);
	for (i = 0; i < c->contacts.n; i++)
		fprintf(p->out, "%s%s", i ? ";" : "", c->contacts.v[i].email);
	fputc('\n', p->out);
}

int
ms_print_client(struct ms_printer *p, const struct ms_client *c)
{
	switch (p->fmt) {
	case MS_FMT_TABLE:
	case MS_FMT_HTML: client_table(p, c); break;
	case MS_FMT_JSON: client_json(p, c); break;
	case MS_FMT_TSV: client_tsv(p, c); break;
	}
	return row_done(p);
}

static void
header_addrs(FILE *out, const char *name, const struct ms_addrlist *l)
{
	size_t i;

	if (l->n == 0)
		return;
	fprintf(out, "%s: ", name);
	for (i = 0; i < l->n; i++) {
		if (*l->v[i].name != '\0')
			fprintf(out, "%s%s <%s>", i ? ", " : "", l->v[i].name,
			    l->v[i].email);
		else
			fprintf(out, "%s%s", i ? ", " : "", l->v[i].email);
	}
	fputc('\n', out);
}

int
ms_print_email_full(FILE *out, const struct ms_email *e)
{
	char date[32];

	ms_date_format_iso(e->date, date, sizeof(date));
	fprintf(out, "Date: %s\n", date);
	header_addrs(out, "From", &e->from);
	header_addrs(out, "To", &e->to);
	header_addrs(out, "Cc", &e->cc);
	fprintf(out, "Subject: %s\n", e->subject);
	fprintf(out, "Message-ID: %s\n", e->message_id);
	if (e->has_attachments)
		fputs("Attachments: yes (not kept)\n", out);
	fprintf(out, "\n%s", e->body ? e->body : "");
	if (e->body && *e->body && e->body[strlen(e->body) - 1] != '\n')
		fputc('\n', out);
	return ferror(out) ? ms_err("write error on output") : 0;
}
