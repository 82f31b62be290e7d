#include "print.h"

#include <json-c/json.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <wchar.h>

#include "date.h"
#include "driver.h"
#include "term.h"
#include "utf8.h"

/*
 * The model. A record is a sequence of fields, each with a key and a
 * typed value borrowed from the caller until the record ends. The JSON
 * back end prints the fields in the order they come (that order is the
 * documented one); the other back ends pick fields by key through the
 * record's layout: the columns of its table, of its TSV line and of its
 * HTML table.
 */

enum ftype { F_NULL, F_STR, F_INT, F_BOOL, F_DATE, F_ADDR, F_ADDRS, F_STRS };

enum {
	F_PEOPLE = 1 << 0, /* for the table and HTML only, never in JSON */
	F_OMIT = 1 << 1, /* absent from JSON when null */
};

struct field {
	const char *key;
	enum ftype type;
	unsigned flags;
	const char *s; /* F_STR */
	int64_t i; /* F_INT, F_BOOL, F_DATE */
	const struct ms_addr *addr; /* F_ADDR */
	const struct ms_addrlist *addrs; /* F_ADDRS */
	char *const *strv; /* F_STRS */
	size_t n;
};

/* A value a column maps to text of its own: the direction's arrow, the
 * source's badge, the attachment mark. */
struct choice {
	const char *value; /* the field's string ("true"/"false": a bool) */
	const char *text, *brief; /* full and narrowed forms */
	const char *ansi; /* table colour, or NULL */
	const char *cls; /* HTML: its CSS class (colours), or NULL */
	const char *alt; /* HTML: a mark's words for screen readers, or NULL */
};

#define FLEX (-1) /* a column that takes the rest of the line */

enum {
	C_RIGHT = 1 << 0, /* right-aligned (numbers) */
	C_DIM = 1 << 1, /* dimmed when coloured (the snippet) */
	C_COUNT = 1 << 2, /* a list shown as its number of entries */
	C_SKIP_EMPTY = 1 << 3, /* nothing, not even the separator, if empty */
	C_BODY = 1 << 4, /* a form's body: after a blank line, lines kept */
	C_VIEW = 1 << 5, /* HTML: the body behind a View control */
	C_ISO = 1 << 6, /* a date in full ISO 8601 */
	C_FULL = 1 << 7, /* addresses as "Name <email>" (else the name) */
	C_SHORT = 1 << 8, /* narrowing switches to the brief form */
	C_BADGE = 1 << 9, /* HTML: a coloured badge */
	C_AGO = 1 << 10, /* table: a date as how long ago ("5 min ago") */
	C_SR_HEAD = 1 << 11, /* HTML: a header for screen readers only */
};

struct column {
	const char *key; /* the field it shows */
	const char *head; /* the table's header, HTML's <th> */
	int width; /* display columns: > 0 fixed, 0 as wide as the values
		      (the table is then buffered), FLEX the rest */
	int narrow; /* the width a narrowing step leaves it */
	int min, max; /* FLEX and sized columns: bounds */
	unsigned flags;
	const char *sep; /* printed before it; NULL: one space */
	const char *none; /* shown for null or empty */
	const struct choice *choices;
	/* HTML: the columns stacked in this one's cell (the subject, its
	 * snippet and View), or a View's form (the email in full). */
	const struct column *inner;
};

enum lkind {
	L_COLUMNS, /* aligned columns, cut to the width */
	L_LINES, /* the values joined by their separators */
	L_FORM, /* "Head: value" lines, then the body */
};

#define ALL_FORMATS 0xf
#define FMT(f) (1u << (f))

struct layout {
	const char *name; /* HTML class ms-NAME */
	const char *title; /* HTML page title */
	const char *empty, *hint; /* HTML: what an empty list says */
	const char *what; /* for refusals: "an email in full" */
	enum lkind kind;
	int header; /* the table has a header row */
	unsigned formats; /* FMT() bits it prints in */
	const char *id_key; /* HTML: the field in <tr data-id> */
	const struct column *table, *tsv, *html; /* html NULL: table's */
	const int *steps; /* table: columns narrowed in turn, -1 ends */
};

#define MAX_FIELDS 24
#define MAX_COLS 16

struct cell {
	char *text; /* cleaned, uncut */
	const char *ansi;
	int w;
};

struct row {
	struct cell c[MAX_COLS];
};

struct ms_printer {
	FILE *out;
	enum ms_format fmt;
	time_t now; /* what "5 min ago" counts from */
	int color;
	int width;
	int fragment;
	const struct layout *expect; /* ms_printer_html */
	const struct layout *lay; /* the record being built */
	struct field f[MAX_FIELDS];
	size_t nf;
	const struct layout *started; /* whose output has begun */
	int page; /* the HTML page head is out */
	int root; /* the HTML root element is open */
	char *head; /* HTML: the page's header (ms_printer_client) */
	char *subject; /* HTML: what the page is about, for its title */
	/* A table: the widths of started's columns, once laid out. */
	int eff[MAX_COLS];
	int brief[MAX_COLS];
	int laid;
	struct row *rows; /* a buffered table's rows */
	size_t nrows;
};

#define C_RESET "\033[0m"
#define C_RED "\033[31m"
#define C_GREEN "\033[32m"
#define C_BLUE "\033[34m"
#define C_GREY "\033[90m"
#define C_DIMMED "\033[2m"

/*
 * Display widths. What is measured has been cleaned (valid UTF-8, no
 * controls), so wcwidth() sees printable characters only; one it does
 * not know counts one column.
 */

static int
char_width(uint32_t cp)
{
	int w = wcwidth((wchar_t)cp);

	return w < 0 ? 1 : w;
}

static int
text_width(const char *s)
{
	size_t n, len = strlen(s);
	uint32_t cp;
	int used = 0;

	while (len > 0) {
		if ((n = ms_utf8_decode(s, len, &cp)) == 0)
			n = 1, cp = '?';
		used += char_width(cp);
		s += n;
		len -= n;
	}
	return used;
}

/*
 * Append the clean text s in at most width columns (< 0: no limit), "…"
 * where it is cut; pad with spaces to width when pad is set. Returns the
 * columns used.
 */
static int
fit(struct ms_buf *b, const char *s, int width, int pad)
{
	size_t n, len = strlen(s);
	uint32_t cp;
	int used = 0, w, room;

	if (width == 0)
		return 0;
	room = width < 0 || text_width(s) <= width ? width : width - 1;
	while (len > 0) {
		if ((n = ms_utf8_decode(s, len, &cp)) == 0)
			n = 1, cp = '?';
		w = char_width(cp);
		if (room >= 0 && used + w > room)
			break;
		ms_buf_add(b, s, n);
		used += w;
		s += n;
		len -= n;
	}
	if (len > 0 && width > 0) {
		ms_buf_adds(b, "…");
		used++;
	}
	while (pad && width > 0 && used < width) {
		ms_buf_addc(b, ' ');
		used++;
	}
	return used;
}

int
ms_print_width(const char *s)
{
	char *c = ms_term_clean(s, 0);
	int w = text_width(c);

	free(c);
	return w;
}

int
ms_print_fit(struct ms_buf *b, const char *s, int width)
{
	char *c = ms_term_clean(s, 0);
	int w = fit(b, c, width, 0);

	free(c);
	return w;
}

/*
 * The record types' layouts.
 */

static const struct choice direction_choices[] = {
    {"in", "↓", "↓", C_BLUE, "ms-dir-in", "inbound"},
    {"out", "↑", "↑", C_GREEN, "ms-dir-out", "outbound"},
    {NULL, NULL, NULL, NULL, NULL, NULL},
};

/*
 * The source badges: the CRM's, then one per driver, in its label and
 * badge colour (driver.h), filled in by sources_init(): a provider added
 * gets its badge in every format without a line here.
 */
#define MAX_SOURCES 16
static struct choice source_choices[MAX_SOURCES + 1];
static char source_cls[MAX_SOURCES][40], source_brief[MAX_SOURCES][2];

/* A badge colour's table escape and page colour (its light and dark
 * schemes share it: white text on it passes WCAG AA in both). */
static const struct {
	const char *name, *ansi, *hex;
} palette[] = {
    {"green", C_GREEN, "#1a7f37"},
    {"red", C_RED, "#c5221f"},
    {"blue", C_BLUE, "#0a5ebd"},
    {"grey", C_GREY, "#5f6368"},
};

static int
colour(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(palette) / sizeof(*palette); i++)
		if (strcmp(palette[i].name, name) == 0)
			return (int)i;
	return 3; /* grey */
}

static void
source_add(size_t i, const char *name, const char *label, const char *badge)
{
	struct choice *c = &source_choices[i];

	snprintf(source_cls[i], sizeof(source_cls[i]), "ms-src-%s", name);
	source_brief[i][0] = label[0];
	c->value = name;
	c->text = label;
	c->brief = source_brief[i];
	c->ansi = palette[colour(badge)].ansi;
	c->cls = source_cls[i];
}

static void
sources_init(void)
{
	const struct ms_driver *d;
	size_t i;

	if (source_choices[0].value != NULL)
		return;
	source_add(0, "crm", "CRM", "green");
	for (i = 0; i < MAX_SOURCES - 1 && (d = ms_driver_at(i)) != NULL; i++)
		source_add(i + 1, d->name, d->label, d->badge);
}

/* The badge colour of a source, for the page's style. */
static const char *
source_hex(size_t i)
{
	const struct ms_driver *d = i > 0 ? ms_driver_at(i - 1) : NULL;

	return palette[colour(d != NULL ? d->badge : "green")].hex;
}

static const struct choice clip_choices[] = {
    {"true", "📎", "📎", NULL, "ms-clip", "has attachments"},
    {"false", "", "", NULL, NULL, NULL},
    {NULL, NULL, NULL, NULL, NULL, NULL},
};

/* An account's health, as the HTML status badge says it. */
static const struct choice health_choices[] = {
    {"active", "active", NULL, NULL, "ms-st-active", NULL},
    {"stale", "stale", NULL, NULL, "ms-st-stale", NULL},
    {"needs-reauth", "needs re-authorization", NULL, NULL, "ms-st-reauth",
	NULL},
    {"disconnected", "disconnected", NULL, NULL, "ms-st-off", NULL},
    {"error", "error", NULL, NULL, "ms-st-error", NULL},
    {NULL, NULL, NULL, NULL, NULL, NULL},
};

static const struct choice kept_choices[] = {
    {"true", "yes (not kept)", NULL, NULL, NULL, NULL},
    {"false", "", NULL, NULL, NULL, NULL},
    {NULL, NULL, NULL, NULL, NULL, NULL},
};

/* --view: the headers as the CRM sent them, decoded, then the body. */
static const struct column full_table[] = {
    {.key = "date", .head = "Date", .flags = C_ISO},
    {.key = "from", .head = "From", .flags = C_FULL | C_SKIP_EMPTY},
    {.key = "to", .head = "To", .flags = C_FULL | C_SKIP_EMPTY},
    {.key = "cc", .head = "Cc", .flags = C_FULL | C_SKIP_EMPTY},
    {.key = "subject", .head = "Subject"},
    {.key = "message_id", .head = "Message-ID"},
    {.key = "has_attachments",
	.head = "Attachments",
	.flags = C_SKIP_EMPTY,
	.choices = kept_choices},
    {.key = "body", .flags = C_BODY},
    {.key = NULL},
};

/*
 * The Emails list: the fixed columns take what they need, the subject
 * and the snippet (after " — ") share the rest. When the subject would
 * get fewer than 20 columns, the snippet goes first (it only takes what
 * the subject leaves), then the counterpart shrinks, then the badge
 * becomes one letter, then the date loses its time.
 */
static const struct column email_table[] = {
    {.key = "direction", .width = 1, .choices = direction_choices},
    {.key = "source",
	.width = 7,
	.narrow = 1,
	.flags = C_SHORT,
	.choices = source_choices},
    {.key = "date", .width = 16, .narrow = 10, .flags = C_SHORT},
    {.key = "has_attachments", .width = 2, .choices = clip_choices},
    {.key = "with", .width = 24, .narrow = 12},
    {.key = "subject", .width = FLEX, .min = 20, .none = "(no subject)"},
    {.key = "snippet",
	.width = FLEX,
	.min = 10,
	.sep = " — ",
	.flags = C_DIM | C_SKIP_EMPTY},
    {.key = NULL},
};
static const int email_steps[] = {4, 1, 2, -1};

static const struct column email_tsv[] = {
    {.key = "id"},
    {.key = "date"},
    {.key = "direction"},
    {.key = "source"},
    {.key = "from"},
    {.key = "subject"},
    {.key = "has_attachments"},
    {.key = NULL},
};

/* HTML: the subject, the snippet under it, and a CRM email's View. */
static const struct column email_message[] = {
    {.key = "subject", .none = "(no subject)"},
    {.key = "snippet", .flags = C_DIM | C_SKIP_EMPTY},
    {.key = "body", .head = "View", .flags = C_VIEW, .inner = full_table},
    {.key = NULL},
};

static const struct column email_html[] = {
    {.key = "direction",
	.head = "Direction",
	.flags = C_SR_HEAD,
	.choices = direction_choices},
    {.key = "source",
	.head = "Source",
	.flags = C_BADGE,
	.choices = source_choices},
    {.key = "date", .head = "Date (UTC)"},
    {.key = "has_attachments",
	.head = "Attachments",
	.flags = C_SR_HEAD,
	.choices = clip_choices},
    {.key = "with", .head = "With", .flags = C_FULL},
    {.key = "message", .head = "Subject", .inner = email_message},
    {.key = NULL},
};

static const struct layout email_layout = {
    .name = "emails",
    .title = "Emails",
    .empty = "No emails to show",
    .hint = "Emails the CRM sends and emails in the team's connected "
	    "mailboxes appear here once they are matched to this client.",
    .what = "the Emails list",
    .kind = L_COLUMNS,
    .formats = ALL_FORMATS,
    .id_key = "id",
    .table = email_table,
    .tsv = email_tsv,
    .html = email_html,
    .steps = email_steps,
};

static const struct layout full_layout = {
    .name = "email",
    .title = "Email",
    .what = "an email in full (for people: the table or --html)",
    .kind = L_FORM,
    .formats = FMT(MS_FMT_TABLE) | FMT(MS_FMT_HTML),
    .table = full_table,
};

static const struct column snippet_table[] = {
    {.key = "snippet", .head = "Snippet"},
    {.key = NULL},
};

static const struct layout snippet_layout = {
    .name = "snippet",
    .title = "Snippet",
    .what = "a synced email's snippet (for people: the table or --html)",
    .kind = L_LINES,
    .formats = FMT(MS_FMT_TABLE) | FMT(MS_FMT_HTML),
    .table = snippet_table,
};

/* Accounts fit 80 columns: the address, then the member, then the
 * folders' header shrink (with "…") before the last error gets fewer
 * than 10; the last sync says how long ago, which is what a person
 * checking health asks. */
static const struct column account_table[] = {
    {.key = "provider", .head = "PROVIDER"},
    {.key = "mailbox", .head = "ADDRESS", .narrow = 15, .max = 40},
    {.key = "member", .head = "MEMBER", .narrow = 6, .max = 16},
    {.key = "state", .head = "STATUS"},
    {.key = "last_sync", .head = "LAST SYNC", .flags = C_AGO, .none = "never"},
    {.key = "emails", .head = "EMAILS", .flags = C_RIGHT},
    {.key = "nfolders",
	.head = "FOLDERS",
	.narrow = 3,
	.flags = C_RIGHT,
	.none = "-"},
    {.key = "last_error",
	.head = "LAST ERROR",
	.width = FLEX,
	.min = 10,
	.sep = "  ",
	.none = "-"},
    {.key = NULL},
};
static const int account_steps[] = {1, 2, 6, -1};

static const struct column account_tsv[] = {
    {.key = "provider"},
    {.key = "address"},
    {.key = "member"},
    {.key = "status"},
    {.key = "last_sync", .none = "never"},
    {.key = "emails"},
    {.key = "stale"},
    {.key = "last_error"},
    {.key = NULL},
};

static const struct column account_html[] = {
    {.key = "provider",
	.head = "Provider",
	.flags = C_BADGE,
	.choices = source_choices},
    {.key = "address", .head = "Address"},
    {.key = "member", .head = "Member"},
    {.key = "health",
	.head = "Status",
	.flags = C_BADGE,
	.choices = health_choices},
    {.key = "last_sync", .head = "Last sync (UTC)", .none = "never"},
    {.key = "emails", .head = "Emails", .flags = C_RIGHT},
    {.key = "last_error", .head = "Last error", .flags = C_DIM},
    {.key = NULL},
};

static const struct layout account_layout = {
    .name = "accounts",
    .title = "Accounts",
    .empty = "No accounts connected",
    .hint = "Connect a team member's mailbox with mailsync-connect.",
    .what = "the accounts",
    .kind = L_COLUMNS,
    .header = 1,
    .formats = ALL_FORMATS,
    .table = account_table,
    .tsv = account_tsv,
    .html = account_html,
    .steps = account_steps,
};

static const struct column problem_table[] = {
    {.key = "provider", .head = "Provider"},
    {.key = "address", .head = "Address"},
    {.key = "problem", .head = "Problem", .sep = ": "},
    {.key = NULL},
};

static const struct layout problem_layout = {
    .name = "problems",
    .title = "Unhealthy accounts",
    .what = "a health check (one line per unhealthy account)",
    .kind = L_LINES,
    .formats = FMT(MS_FMT_TABLE),
    .table = problem_table,
};

static const struct column client_table[] = {
    {.key = "id", .head = "ID", .narrow = 8, .max = 24},
    {.key = "name", .head = "NAME", .narrow = 10, .max = 32},
    {.key = "email", .head = "EMAIL", .narrow = 12, .max = 40, .none = "-"},
    {.key = "portal_email",
	.head = "PORTAL",
	.narrow = 12,
	.max = 40,
	.none = "-"},
    {.key = "contacts", .head = "CONTACTS", .flags = C_COUNT},
    {.key = NULL},
};
static const int client_steps[] = {1, 3, 2, 0, -1};

static const struct column client_tsv[] = {
    {.key = "id"},
    {.key = "name"},
    {.key = "email"},
    {.key = "portal_email"},
    {.key = "contacts"},
    {.key = NULL},
};

static const struct column client_html[] = {
    {.key = "id", .head = "Id"},
    {.key = "name", .head = "Name"},
    {.key = "email", .head = "Email"},
    {.key = "portal_email", .head = "Portal email"},
    {.key = "contacts", .head = "Contacts", .flags = C_FULL},
    {.key = NULL},
};

static const struct layout client_layout = {
    .name = "clients",
    .title = "Clients",
    .what = "the clients",
    .kind = L_COLUMNS,
    .header = 1,
    .formats = ALL_FORMATS,
    .table = client_table,
    .tsv = client_tsv,
    .html = client_html,
    .steps = client_steps,
};

static const struct column pull_table[] = {
    {.key = "account", .head = "ACCOUNT", .narrow = 16, .max = 40},
    {.key = "provider", .head = "PROVIDER"},
    {.key = "status", .head = "STATUS"},
    {.key = "fetched", .head = "FETCHED", .flags = C_RIGHT},
    {.key = "new", .head = "NEW", .flags = C_RIGHT},
    {.key = "error",
	.head = "ERROR",
	.width = FLEX,
	.min = 12,
	.sep = "  ",
	.none = "-"},
    {.key = NULL},
};
static const int pull_steps[] = {0, -1};

static const struct column pull_tsv[] = {
    {.key = "account"},
    {.key = "provider"},
    {.key = "status"},
    {.key = "fetched"},
    {.key = "new"},
    {.key = "error"},
    {.key = NULL},
};

static const struct column pull_html[] = {
    {.key = "account", .head = "Account"},
    {.key = "provider", .head = "Provider"},
    {.key = "status", .head = "Status"},
    {.key = "fetched", .head = "Fetched", .flags = C_RIGHT},
    {.key = "new", .head = "New", .flags = C_RIGHT},
    {.key = "error", .head = "Error"},
    {.key = NULL},
};

static const struct layout pull_layout = {
    .name = "pull",
    .title = "Pull",
    .what = "a pull's results",
    .kind = L_COLUMNS,
    .header = 1,
    .formats = ALL_FORMATS,
    .table = pull_table,
    .tsv = pull_tsv,
    .html = pull_html,
    .steps = pull_steps,
};

static const struct column alias_table[] = {
    {.key = "alias", .head = "Alias"},
    {.key = "provider", .head = "Provider", .sep = "\t"},
    {.key = "account", .head = "Account", .sep = "\t"},
    {.key = "origin", .head = "Origin", .sep = "\t"},
    {.key = NULL},
};

static const struct layout alias_layout = {
    .name = "aliases",
    .title = "Aliases",
    .what = "the aliases",
    .kind = L_LINES,
    .formats = ALL_FORMATS,
    .table = alias_table,
    .tsv = alias_table,
};

static const struct column blocked_table[] = {
    {.key = "pattern", .head = "Pattern"},
    {.key = NULL},
};

static const struct column blocked_tsv[] = {
    {.key = "pattern"},
    {.key = "created"},
    {.key = NULL},
};

static const struct column blocked_html[] = {
    {.key = "pattern", .head = "Pattern"},
    {.key = "created", .head = "Blocked since"},
    {.key = NULL},
};

static const struct layout blocked_layout = {
    .name = "blocklist",
    .title = "Blocklist",
    .what = "the blocklist",
    .kind = L_LINES,
    .formats = ALL_FORMATS,
    .table = blocked_table,
    .tsv = blocked_tsv,
    .html = blocked_html,
};

static const struct column setting_table[] = {
    {.key = "key", .head = "Key"},
    {.key = "value", .head = "Value", .sep = "="},
    {.key = NULL},
};

static const struct column setting_tsv[] = {
    {.key = "key"},
    {.key = "value"},
    {.key = "default"},
    {.key = NULL},
};

static const struct column setting_html[] = {
    {.key = "key", .head = "Setting"},
    {.key = "value", .head = "Value"},
    {.key = "default", .head = "Default"},
    {.key = "doc", .head = "Meaning"},
    {.key = NULL},
};

static const struct layout setting_layout = {
    .name = "settings",
    .title = "Settings",
    .what = "the settings",
    .kind = L_LINES,
    .formats = ALL_FORMATS,
    .table = setting_table,
    .tsv = setting_tsv,
    .html = setting_html,
};

static const struct layout *
layout_of(enum ms_record r)
{
	switch (r) {
	case MS_REC_EMAIL: return &email_layout;
	case MS_REC_EMAIL_FULL: return &full_layout;
	case MS_REC_SNIPPET: return &snippet_layout;
	case MS_REC_ACCOUNT: return &account_layout;
	case MS_REC_PROBLEM: return &problem_layout;
	case MS_REC_CLIENT: return &client_layout;
	case MS_REC_PULL: return &pull_layout;
	case MS_REC_ALIAS: return &alias_layout;
	case MS_REC_BLOCKED: return &blocked_layout;
	case MS_REC_SETTING: return &setting_layout;
	}
	return &email_layout;
}

const char *
ms_format_option(enum ms_format fmt)
{
	switch (fmt) {
	case MS_FMT_TABLE: return "the table";
	case MS_FMT_JSON: return "--json";
	case MS_FMT_TSV: return "--tsv";
	case MS_FMT_HTML: return "--html";
	}
	return "?";
}

static int
refuse(const struct layout *l, enum ms_format fmt)
{
	return ms_errc(
	    EX_USAGE, "%s cannot print %s", ms_format_option(fmt), l->what);
}

int
ms_print_check(enum ms_record r, enum ms_format fmt)
{
	const struct layout *l = layout_of(r);

	return l->formats & FMT(fmt) ? 0 : refuse(l, fmt);
}

/*
 * The printer
 */

struct ms_printer *
ms_printer_create(FILE *out, enum ms_format fmt, int color, int width)
{
	struct ms_printer *p = ms_xcalloc(1, sizeof(*p));

	sources_init();
	p->out = out;
	p->fmt = fmt;
	p->color = color && fmt == MS_FMT_TABLE;
	p->width = width > 0 ? width : 0;
	p->now = time(NULL);
	return p;
}

void
ms_printer_now(struct ms_printer *p, time_t now)
{
	p->now = now;
}

void
ms_printer_html(struct ms_printer *p, enum ms_record r, int fragment)
{
	p->expect = layout_of(r);
	p->fragment = fragment;
}

static const struct field *
field(const struct ms_printer *p, const char *key)
{
	size_t i;

	for (i = 0; i < p->nf; i++)
		if (strcmp(p->f[i].key, key) == 0)
			return &p->f[i];
	return NULL;
}

static int
is_null(const struct field *f)
{
	return f == NULL || f->type == F_NULL ||
	    (f->type == F_STR && f->s == NULL);
}

/* The string a choice column looks up for f. */
static const char *
choice_key(const struct field *f)
{
	if (is_null(f))
		return "";
	if (f->type == F_BOOL)
		return f->i ? "true" : "false";
	return f->type == F_STR ? f->s : "";
}

static const struct choice *
choice_of(const struct column *c, const struct field *f)
{
	const struct choice *ch;
	const char *v = choice_key(f);

	for (ch = c->choices; ch != NULL && ch->value != NULL; ch++)
		if (strcmp(ch->value, v) == 0)
			return ch;
	return NULL;
}

static void
add_addr(struct ms_buf *b, const struct ms_addr *a, int full)
{
	if (*a->name == '\0')
		ms_buf_adds(b, a->email);
	else if (full)
		ms_buf_printf(b, "%s <%s>", a->name, a->email);
	else
		ms_buf_adds(b, a->name);
}

/* How long before now t was, for people: "just now", "5 min ago", "3 h
 * ago", "12 days ago", then (or for a t ahead of now) the date. */
static void
add_ago(struct ms_buf *b, time_t t, time_t now)
{
	char date[32];
	long long d = (long long)now - (long long)t;

	if (d < -60 || d >= 30LL * 86400) {
		ms_date_format_iso(t, date, sizeof(date));
		date[10] = '\0';
		ms_buf_adds(b, date);
	} else if (d < 60)
		ms_buf_adds(b, "just now");
	else if (d < 3600)
		ms_buf_printf(b, "%lld min ago", d / 60);
	else if (d < 48 * 3600)
		ms_buf_printf(b, "%lld h ago", d / 3600);
	else
		ms_buf_printf(b, "%lld days ago", d / 86400);
}

/*
 * The text a column shows for field f, for people, raw (the caller
 * cleans it): the brief form when the column was narrowed. Returns
 * whether there was a value (else b holds the column's none).
 */
static int
people_text(const struct ms_printer *p, const struct column *c,
    const struct field *f, int brief, struct ms_buf *b)
{
	const struct choice *ch;
	char date[32];
	size_t i, n;

	if (c->choices != NULL && (ch = choice_of(c, f)) != NULL) {
		ms_buf_adds(b, brief && ch->brief ? ch->brief : ch->text);
		return *ch->text != '\0';
	}
	if (is_null(f) || (f->type == F_STR && *f->s == '\0') ||
	    (f->type == F_ADDRS && f->addrs->n == 0 && !(c->flags & C_COUNT)) ||
	    (f->type == F_STRS && f->n == 0)) {
		ms_buf_adds(b, c->none ? c->none : "");
		return 0;
	}
	switch (f->type) {
	case F_STR: ms_buf_adds(b, f->s); break;
	case F_INT: ms_buf_printf(b, "%lld", (long long)f->i); break;
	case F_BOOL: ms_buf_adds(b, f->i ? "yes" : "no"); break;
	case F_DATE:
		if ((c->flags & C_AGO) && p->fmt == MS_FMT_TABLE) {
			add_ago(b, (time_t)f->i, p->now);
			break;
		}
		ms_date_format_iso((time_t)f->i, date, sizeof(date));
		if (!(c->flags & C_ISO)) {
			date[10] = ' ';
			date[brief ? 10 : 16] = '\0';
		}
		ms_buf_adds(b, date);
		break;
	case F_ADDR: add_addr(b, f->addr, c->flags & C_FULL); break;
	case F_ADDRS:
		if (c->flags & C_COUNT) {
			ms_buf_printf(b, "%zu", f->addrs->n);
			break;
		}
		for (i = 0; i < f->addrs->n; i++) {
			if (i > 0)
				ms_buf_adds(b, ", ");
			add_addr(b, &f->addrs->v[i], c->flags & C_FULL);
		}
		break;
	case F_STRS:
		for (n = 0; n < f->n; n++)
			ms_buf_printf(b, "%s%s", n ? ", " : "", f->strv[n]);
		break;
	case F_NULL: break;
	}
	return 1;
}

/* The cell of column c for the current record, cleaned. */
static void
make_cell(
    struct ms_printer *p, const struct column *c, int brief, struct cell *out)
{
	const struct field *f = field(p, c->key);
	const struct choice *ch;
	struct ms_buf raw = {0};
	int has;

	has = people_text(p, c, f, brief, &raw);
	out->text = ms_term_clean(raw.s ? raw.s : "", 0);
	ms_buf_finish(&raw);
	out->w = text_width(out->text);
	out->ansi = NULL;
	if (!p->color || !has)
		return;
	if (c->choices != NULL && (ch = choice_of(c, f)) != NULL)
		out->ansi = ch->ansi;
	else if (c->flags & C_DIM)
		out->ansi = C_DIMMED;
}

static size_t
ncols(const struct column *c)
{
	size_t n = 0;

	while (c[n].key != NULL)
		n++;
	return n;
}

static int
sep_width(const struct column *c, size_t i)
{
	return i == 0 ? 0 : c[i].sep ? text_width(c[i].sep) : 1;
}

/*
 * Table back end
 */

/* Narrow column i of the table (a layout step) to cover deficit
 * columns: to its brief form, or shrunk by as much as is needed. */
static int
narrow_column(struct ms_printer *p, size_t i, int deficit)
{
	const struct column *c = &p->started->table[i];
	int before = p->eff[i];

	if (c->flags & C_SHORT) {
		p->brief[i] = 1;
		p->eff[i] = c->narrow;
	} else if (p->eff[i] > c->narrow) {
		p->eff[i] = p->eff[i] - deficit > c->narrow
		    ? p->eff[i] - deficit
		    : c->narrow;
	}
	return before - p->eff[i];
}

/*
 * Lay the table out in p->width columns: every column but the FLEX ones
 * at its width (eff[] holds the wanted ones), the first FLEX column
 * given at least its min by narrowing columns in the layout's order.
 */
static void
lay_out(struct ms_printer *p)
{
	const struct column *c = p->started->table;
	const int *step = p->started->steps;
	size_t i, n = ncols(c);
	int used, need, flex;

	p->laid = 1;
	if (p->width == 0)
		return;
	for (;;) {
		used = 0, need = 0, flex = 0;
		for (i = 0; i < n; i++) {
			if (c[i].width != FLEX)
				used += sep_width(c, i) + p->eff[i];
			else if (!flex++)
				need = sep_width(c, i) + c[i].min;
		}
		if (used + need <= p->width || step == NULL || *step < 0)
			break;
		narrow_column(p, (size_t)*step++, used + need - p->width);
	}
}

static void
put_ansi(struct ms_printer *p, struct ms_buf *b, const char *ansi)
{
	if (p->color && ansi != NULL)
		ms_buf_adds(b, ansi);
}

/* Cell text into b in exactly width columns (or its own, width < 0). */
static int
put_cell(struct ms_printer *p, struct ms_buf *b, const struct cell *cell,
    int width, int right, int pad)
{
	int used, w = width < 0 || cell->w <= width ? cell->w : width;

	if (right && width > w)
		for (used = w; used < width; used++)
			ms_buf_addc(b, ' ');
	put_ansi(p, b, cell->ansi);
	used = fit(b, cell->text, width, 0);
	if (cell->ansi != NULL)
		put_ansi(p, b, C_RESET);
	if (right)
		return width > used ? width : used;
	for (; pad && width > 0 && used < width; used++)
		ms_buf_addc(b, ' ');
	return used;
}

/*
 * The FLEX columns of a row share the room the others leave: each takes
 * its natural width, but leaves the ones after it (those with content)
 * their min or a third of the room, when it keeps its own min doing so.
 * A FLEX column after the first that would get less than its min is
 * left out, separator and all (w -1). Without a width, each is whole.
 */
static void
share_flex(struct ms_printer *p, const struct row *r, int room, int *w)
{
	const struct column *c = p->started->table;
	size_t i, j, n = ncols(c);
	int first = 1, reserve, want, avail, give;

	for (i = 0; i < n; i++) {
		if (c[i].width != FLEX)
			continue;
		if (*r->c[i].text == '\0' && (c[i].flags & C_SKIP_EMPTY)) {
			w[i] = -1;
			continue;
		}
		if (p->width == 0) {
			w[i] = r->c[i].w;
			continue;
		}
		avail = room - sep_width(c, i);
		if (!first && avail < c[i].min) {
			w[i] = -1;
			continue;
		}
		reserve = 0;
		for (j = i + 1; j < n; j++)
			if (c[j].width == FLEX && *r->c[j].text != '\0') {
				want =
				    c[j].min > room / 3 ? c[j].min : room / 3;
				reserve += sep_width(c, j) + want;
			}
		if (avail - reserve < c[i].min)
			reserve = 0;
		give =
		    r->c[i].w < avail - reserve ? r->c[i].w : avail - reserve;
		w[i] = give > 0 ? give : -1;
		room -= give > 0 ? sep_width(c, i) + give : 0;
		first = 0;
	}
}

/*
 * One line of a COLUMNS table. Whatever the layout, the line never
 * passes p->width: a cell that would is cut there and ends the line.
 */
static void
print_row(struct ms_printer *p, const struct row *r)
{
	const struct column *c = p->started->table;
	size_t i, n = ncols(c), last = 0;
	struct ms_buf b = {0};
	int w[MAX_COLS], used = 0, room, sw, cw;

	room = p->width;
	for (i = 0; i < n; i++) {
		w[i] = p->eff[i];
		if (c[i].width != FLEX)
			room -= sep_width(c, i) + p->eff[i];
	}
	share_flex(p, r, room < 0 ? 0 : room, w);
	for (i = 0; i < n; i++)
		if (w[i] >= 0)
			last = i;
	for (i = 0; i < n; i++) {
		if (w[i] < 0)
			continue;
		sw = i > 0 ? sep_width(c, i) : 0;
		cw = c[i].width == FLEX && p->width == 0 ? -1 : w[i];
		if (p->width > 0 && used + sw + cw > p->width) {
			cw = p->width - used - sw;
			if (cw <= 0)
				break;
			last = i;
		}
		if (i > 0)
			ms_buf_adds(&b, c[i].sep ? c[i].sep : " ");
		used += sw +
		    put_cell(p, &b, &r->c[i], cw, c[i].flags & C_RIGHT,
			i != last && c[i].width != FLEX);
		if (i == last)
			break;
	}
	fprintf(p->out, "%s\n", b.s ? b.s : "");
	ms_buf_finish(&b);
}

static void
free_row(struct row *r, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(r->c[i].text);
}

/* A buffered table: every row known, size the columns, print. */
static void
flush_table(struct ms_printer *p)
{
	const struct column *c = p->started->table;
	size_t i, k, n = ncols(c);
	struct row head;
	int w;

	for (i = 0; i < n; i++) {
		head.c[i].text = ms_xstrdup(c[i].head ? c[i].head : "");
		head.c[i].w = text_width(head.c[i].text);
		head.c[i].ansi = NULL;
		if (c[i].width != 0) {
			p->eff[i] = c[i].width == FLEX ? 0 : c[i].width;
			continue;
		}
		w = p->started->header ? head.c[i].w : 0;
		for (k = 0; k < p->nrows; k++)
			if (p->rows[k].c[i].w > w)
				w = p->rows[k].c[i].w;
		if (c[i].max > 0 && w > c[i].max)
			w = c[i].max;
		p->eff[i] = w;
	}
	lay_out(p);
	if (p->started->header && p->nrows > 0)
		print_row(p, &head);
	for (k = 0; k < p->nrows; k++) {
		print_row(p, &p->rows[k]);
		free_row(&p->rows[k], n);
	}
	free_row(&head, n);
	free(p->rows);
	p->rows = NULL;
	p->nrows = 0;
}

static int
buffered(const struct layout *l)
{
	const struct column *c;

	for (c = l->table; c->key != NULL; c++)
		if (c->width == 0)
			return 1;
	return 0;
}

static void
table_columns(struct ms_printer *p)
{
	const struct column *c = p->lay->table;
	size_t i, n = ncols(c);
	struct row r = {0};

	if (!buffered(p->lay)) {
		if (!p->laid) {
			for (i = 0; i < n; i++)
				p->eff[i] = c[i].width == FLEX ? 0 : c[i].width;
			lay_out(p);
		}
		for (i = 0; i < n; i++)
			make_cell(p, &c[i], p->brief[i], &r.c[i]);
		print_row(p, &r);
		free_row(&r, n);
		return;
	}
	p->rows = ms_xreallocarray(p->rows, p->nrows + 1, sizeof(*p->rows));
	for (i = 0; i < n; i++)
		make_cell(p, &c[i], 0, &p->rows[p->nrows].c[i]);
	p->nrows++;
}

static void
table_lines(struct ms_printer *p)
{
	const struct column *c;
	struct ms_buf b = {0};
	struct cell cell;

	for (c = p->lay->table; c->key != NULL; c++) {
		make_cell(p, c, 0, &cell);
		if (!(*cell.text == '\0' && (c->flags & C_SKIP_EMPTY))) {
			if (c != p->lay->table)
				ms_buf_adds(&b, c->sep ? c->sep : " ");
			ms_buf_adds(&b, cell.text);
		}
		free(cell.text);
	}
	fprintf(p->out, "%s\n", b.s ? b.s : "");
	ms_buf_finish(&b);
}

static void
table_form(struct ms_printer *p)
{
	const struct column *c;
	const struct field *f;
	struct cell cell;
	char *body;
	size_t n;

	for (c = p->lay->table; c->key != NULL; c++) {
		if (c->flags & C_BODY) {
			f = field(p, c->key);
			body = ms_term_clean(
			    is_null(f) ? "" : f->s, MS_TERM_NEWLINES);
			n = strlen(body);
			fprintf(p->out, "\n%s%s", body,
			    n > 0 && body[n - 1] != '\n' ? "\n" : "");
			free(body);
			continue;
		}
		make_cell(p, c, 0, &cell);
		if (!(*cell.text == '\0' && (c->flags & C_SKIP_EMPTY)))
			fprintf(p->out, "%s: %s\n", c->head, cell.text);
		free(cell.text);
	}
}

static void
table_record(struct ms_printer *p)
{
	switch (p->lay->kind) {
	case L_COLUMNS: table_columns(p); break;
	case L_LINES: table_lines(p); break;
	case L_FORM: table_form(p); break;
	}
}

static void
table_finish(struct ms_printer *p)
{
	if (p->started != NULL && p->nrows > 0)
		flush_table(p);
}

/*
 * JSON back end: json-c escapes what JSON must; what it is given is
 * made valid UTF-8 first, so bytes stored from a broken header never
 * make the line invalid JSON.
 */

static struct json_object *
json_str(const char *s)
{
	char *clean = ms_utf8_sanitize(s, strlen(s));
	struct json_object *o = json_object_new_string(clean);

	free(clean);
	return o;
}

static struct json_object *
json_addr(const struct ms_addr *a)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "name", json_str(a->name));
	json_object_object_add(o, "email", json_str(a->email));
	return o;
}

static struct json_object *
json_value(const struct field *f)
{
	struct json_object *o;
	char date[32];
	size_t i;

	if (is_null(f))
		return NULL;
	switch (f->type) {
	case F_STR: return json_str(f->s);
	case F_INT: return json_object_new_int64(f->i);
	case F_BOOL: return json_object_new_boolean(f->i != 0);
	case F_DATE:
		ms_date_format_iso((time_t)f->i, date, sizeof(date));
		return json_object_new_string(date);
	case F_ADDR: return json_addr(f->addr);
	case F_ADDRS:
		o = json_object_new_array();
		for (i = 0; i < f->addrs->n; i++)
			json_object_array_add(o, json_addr(&f->addrs->v[i]));
		return o;
	case F_STRS:
		o = json_object_new_array();
		for (i = 0; i < f->n; i++)
			json_object_array_add(o, json_str(f->strv[i]));
		return o;
	case F_NULL: break;
	}
	return NULL;
}

/*
 * Write a JSON line with every control character escaped: json-c
 * escapes C0, JSON allows DEL, C1 and the bidi and invisible format
 * characters raw, but a person reading the line on a terminal must not
 * get them. \uXXXX keeps the value exact for every reader. They occur
 * only inside strings, so the line is rewritten character by character.
 */
static void
put_json(FILE *out, const char *s)
{
	size_t n, len = strlen(s);
	uint32_t cp;

	while (len > 0) {
		if ((n = ms_utf8_decode(s, len, &cp)) == 0)
			n = 1, cp = 0xfffd; /* cannot happen: sanitized */
		if (ms_utf8_is_control(cp) && cp >= 0x20)
			fprintf(out, "\\u%04x", (unsigned)cp);
		else
			fwrite(s, 1, n, out);
		s += n;
		len -= n;
	}
	fputc('\n', out);
}

static void
json_record(struct ms_printer *p)
{
	struct json_object *o = json_object_new_object();
	const struct field *f;
	size_t i;

	for (i = 0; i < p->nf; i++) {
		f = &p->f[i];
		if ((f->flags & F_PEOPLE) ||
		    (is_null(f) && (f->flags & F_OMIT)))
			continue;
		json_object_object_add(o, f->key, json_value(f));
	}
	put_json(p->out,
	    json_object_to_json_string_ext(
		o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
}

/*
 * TSV back end: no header, a field per column, every control character
 * inside a value a space (so no value holds a tab or a line break).
 */

static void
tsv_value(const struct column *c, const struct field *f, struct ms_buf *b)
{
	char date[32];
	size_t i;

	if (is_null(f)) {
		ms_buf_adds(b, c->none ? c->none : "");
		return;
	}
	switch (f->type) {
	case F_STR: ms_buf_adds(b, f->s); break;
	case F_INT: ms_buf_printf(b, "%lld", (long long)f->i); break;
	case F_BOOL: ms_buf_addc(b, f->i ? '1' : '0'); break;
	case F_DATE:
		ms_date_format_iso((time_t)f->i, date, sizeof(date));
		ms_buf_adds(b, date);
		break;
	case F_ADDR: ms_buf_adds(b, f->addr->email); break;
	case F_ADDRS:
		for (i = 0; i < f->addrs->n; i++)
			ms_buf_printf(
			    b, "%s%s", i ? ";" : "", f->addrs->v[i].email);
		break;
	case F_STRS:
		for (i = 0; i < f->n; i++)
			ms_buf_printf(b, "%s%s", i ? ";" : "", f->strv[i]);
		break;
	case F_NULL: break;
	}
}

static void
tsv_record(struct ms_printer *p)
{
	const struct column *c;
	struct ms_buf raw, line = {0};

	for (c = p->lay->tsv; c->key != NULL; c++) {
		memset(&raw, 0, sizeof(raw));
		tsv_value(c, field(p, c->key), &raw);
		if (c != p->lay->tsv)
			ms_buf_addc(&line, '\t');
		if (raw.s != NULL)
			ms_term_add(&line, raw.s, raw.len, MS_TERM_SPACES);
		ms_buf_finish(&raw);
	}
	fprintf(p->out, "%s\n", line.s ? line.s : "");
	ms_buf_finish(&line);
}

/*
 * HTML back end: a standalone page (UTF-8, styles inline, no script, no
 * outside resource, a Content-Security-Policy that would refuse both),
 * or with ms_printer_html's fragment the tab alone: one <section> that
 * carries its own <style>, every selector under its .ms-tab class, for
 * a CRM to embed. Text from outside has its control characters dropped
 * and everything HTML gives a meaning to escaped; it only ever lands in
 * element content and quoted attribute values.
 */

static void
esc_add(struct ms_buf *b, const char *s, int flags)
{
	char *c = ms_term_clean(s, MS_TERM_DROP | flags), *q;

	for (q = c; *q != '\0'; q++) {
		switch (*q) {
		case '&': ms_buf_adds(b, "&amp;"); break;
		case '<': ms_buf_adds(b, "&lt;"); break;
		case '>': ms_buf_adds(b, "&gt;"); break;
		case '"': ms_buf_adds(b, "&quot;"); break;
		case '\'': ms_buf_adds(b, "&#39;"); break;
		default: ms_buf_addc(b, *q);
		}
	}
	free(c);
}

static void
html_esc(FILE *out, const char *s, int flags)
{
	struct ms_buf b = {0};

	esc_add(&b, s, flags);
	if (b.s != NULL)
		fputs(b.s, out);
	ms_buf_finish(&b);
}

static const struct column *
html_cols(const struct layout *l)
{
	return l->html != NULL ? l->html : l->table;
}

/*
 * The colours, as CSS custom properties of .ms-tab, and their WCAG 2
 * contrast ratios (tests/t-html.sh computes them again from this very
 * output; 4.5:1 is AA for text):
 *
 *   light (on #ffffff; panel #f6f8fa)     dark (on #0d1117; panel #161b22)
 *   text       #1f2328 15.8 (panel 14.8)  #e6edf3 16.0 (panel 14.6)
 *   muted      #59636e  6.1 (panel 5.7)   #9ea7b3  7.8 (panel 7.1)
 *   inbound ↓  #0b57d0  6.4               #79b8ff  9.1
 *   outbound ↑ #137333  6.0               #56d364  9.8
 *
 * The badges carry white text in both schemes: CRM #1a7f37 5.1, Gmail
 * #c5221f 5.8, Outlook #0a5ebd 6.3, IMAP #5f6368 6.1; the account
 * states active #116329 7.4, stale #8a5300 6.3, needs re-authorization
 * #b93b00 5.7, disconnected #656d76 5.3, error #b42318 6.5.
 * Print: black on white (paper: the tab's white is not printed),
 * badges outlined, no backgrounds, no View button (an opened email
 * prints open, a closed one prints nothing).
 */
static const char tab_style[] =
    ".ms-tab{--ms-bg:#ffffff;--ms-fg:#1f2328;--ms-muted:#59636e;"
    "--ms-line:#d1d9e0;--ms-panel:#f6f8fa;--ms-in:#0b57d0;"
    "--ms-out:#137333;--ms-on:#ffffff;"
    "--ms-active:#116329;--ms-stale:#8a5300;--ms-reauth:#b93b00;"
    "--ms-off:#656d76;--ms-error:#b42318;"
    "color-scheme:light;display:block;box-sizing:border-box;"
    "container-type:inline-size;"
    "margin:0;padding:12px 16px;background:var(--ms-bg);"
    "color:var(--ms-fg);text-align:left;"
    "font:14px/1.45 system-ui,-apple-system,\"Segoe UI\",Roboto,"
    "\"Noto Sans\",\"DejaVu Sans\",sans-serif}\n"
    "@media (prefers-color-scheme:dark){.ms-tab{color-scheme:dark;"
    "--ms-bg:#0d1117;--ms-fg:#e6edf3;--ms-muted:#9ea7b3;"
    "--ms-line:#30363d;--ms-panel:#161b22;--ms-in:#79b8ff;"
    "--ms-out:#56d364}}\n"
    ".ms-tab *{box-sizing:border-box}\n"
    ".ms-tab table{width:100%;border-collapse:collapse;margin:0;"
    "font:inherit;color:inherit;background:none}\n"
    ".ms-tab th,.ms-tab td{padding:8px 10px;border:0;"
    "border-bottom:1px solid var(--ms-line);text-align:left;"
    "vertical-align:top;background:none;color:inherit}\n"
    ".ms-tab th{font-size:12px;font-weight:600;color:var(--ms-muted);"
    "border-bottom-width:2px;white-space:nowrap}\n"
    ".ms-tab .ms-num{text-align:right;font-variant-numeric:"
    "tabular-nums}\n"
    ".ms-tab .ms-direction,.ms-tab .ms-has-attachments{width:1%;"
    "padding-right:0;white-space:nowrap}\n"
    ".ms-tab .ms-source,.ms-tab .ms-date,.ms-tab .ms-provider,"
    ".ms-tab .ms-health,.ms-tab .ms-last-sync{width:1%;"
    "white-space:nowrap}\n"
    ".ms-tab .ms-with{overflow-wrap:break-word}\n"
    ".ms-tab .ms-message{width:60%}\n"

    ".ms-tab .ms-mark{font-size:18px;font-weight:700;line-height:1}\n"
    ".ms-tab .ms-dir-in{color:var(--ms-in)}\n"
    ".ms-tab .ms-dir-out{color:var(--ms-out)}\n"
    ".ms-tab .ms-clip{font-size:15px}\n"
    ".ms-tab .ms-badge{display:inline-block;padding:1px 8px;"
    "border-radius:10px;font-size:12px;font-weight:600;"
    "line-height:18px;color:var(--ms-on);white-space:nowrap}\n"

    ".ms-tab .ms-st-active{background:var(--ms-active)}\n"
    ".ms-tab .ms-st-stale{background:var(--ms-stale)}\n"
    ".ms-tab .ms-st-reauth{background:var(--ms-reauth)}\n"
    ".ms-tab .ms-st-off{background:var(--ms-off)}\n"
    ".ms-tab .ms-st-error{background:var(--ms-error)}\n"
    ".ms-tab .ms-name{display:block}\n"
    ".ms-tab .ms-addr{display:block;font-size:12px;"
    "color:var(--ms-muted)}\n"
    ".ms-tab .ms-subject{font-weight:600;overflow-wrap:anywhere}\n"
    ".ms-tab .ms-snippet,.ms-tab .ms-dim{color:var(--ms-muted);"
    "overflow-wrap:anywhere}\n"
    ".ms-tab .ms-sr{position:absolute;width:1px;height:1px;"
    "margin:-1px;padding:0;overflow:hidden;clip:rect(0 0 0 0);"
    "clip-path:inset(50%);white-space:nowrap;border:0}\n"
    ".ms-tab details{margin-top:6px}\n"
    ".ms-tab summary{display:inline-block;cursor:pointer;"
    "padding:0 10px;border:1px solid var(--ms-line);border-radius:6px;"
    "font-size:12px;font-weight:600;line-height:22px;"
    "color:var(--ms-fg);list-style:none}\n"
    ".ms-tab summary::-webkit-details-marker{display:none}\n"
    ".ms-tab summary::before{content:\"\\25B8\\00A0\"}\n"
    ".ms-tab details[open]>summary::before{content:\"\\25BE\\00A0\"}\n"
    ".ms-tab summary:focus-visible{outline:2px solid var(--ms-in);"
    "outline-offset:2px}\n"
    ".ms-tab .ms-full{margin-top:8px;padding:10px 12px;"
    "border-radius:6px;background:var(--ms-panel);"
    "color:var(--ms-fg)}\n"
    ".ms-tab dl{display:grid;grid-template-columns:max-content 1fr;"
    "gap:2px 12px;margin:0}\n"
    ".ms-tab dt{font-weight:600}\n"
    ".ms-tab dd{margin:0;overflow-wrap:anywhere}\n"
    ".ms-tab pre{margin:10px 0 0;white-space:pre-wrap;"
    "overflow-wrap:anywhere;font:inherit}\n"
    ".ms-tab .ms-head{margin:0 0 12px}\n"
    ".ms-tab h1{margin:0;font-size:20px;line-height:1.3}\n"
    ".ms-tab .ms-addrs{margin:4px 0 0;padding:0;list-style:none;"
    "color:var(--ms-muted)}\n"
    ".ms-tab .ms-addrs li{display:inline}\n"
    ".ms-tab .ms-addrs li+li::before{content:\" \\00B7  \"}\n"
    ".ms-tab .ms-empty{padding:32px 16px;text-align:center;"
    "color:var(--ms-muted)}\n"
    ".ms-tab .ms-empty strong{display:block;font-size:16px;"
    "color:var(--ms-fg)}\n"
    "@container (max-width:640px){"
    ".ms-tab thead{position:absolute;width:1px;height:1px;"
    "overflow:hidden;clip:rect(0 0 0 0);clip-path:inset(50%)}\n"
    ".ms-tab table,.ms-tab tbody{display:block}\n"
    ".ms-tab tr{display:flex;flex-wrap:wrap;align-items:baseline;"
    "gap:4px 10px;padding:10px 0;"
    "border-bottom:1px solid var(--ms-line)}\n"
    ".ms-tab td[class]{display:block;width:auto;padding:0;border:0}\n"
    ".ms-tab .ms-with,.ms-tab .ms-message,.ms-tab .ms-last-error{"
    "flex-basis:100%}\n"
    ".ms-tab .ms-with .ms-name,.ms-tab .ms-with .ms-addr{"
    "display:inline;margin-right:6px}}\n"
    "@media print{.ms-tab{--ms-bg:#ffffff;--ms-fg:#000000;"
    "--ms-muted:#333333;--ms-line:#999999;--ms-in:#000000;"
    "--ms-out:#000000;--ms-on:#000000;color-scheme:light;"
    "padding:0;background:#ffffff}\n"
    ".ms-tab .ms-badge{background:none;border:1px solid #000000}\n"
    ".ms-tab summary{display:none}\n"
    ".ms-tab details{margin:0}\n"
    ".ms-tab .ms-full{margin:4px 0 0;padding:0 0 0 8px;"
    "background:none;border-left:2px solid #000000;border-radius:0}\n"
    ".ms-tab tr{break-inside:avoid}}\n";

/* "ms-" and a field's key as a class name: last_sync, ms-last-sync. */
static void
put_class(FILE *out, const char *key)
{
	fputs("ms-", out);
	for (; *key != '\0'; key++)
		fputc(*key == '_' ? '-' : *key, out);
}

/* A date for people reading a page: "17 Nov 2026, 14:03" (UTC). */
static void
readable_date(time_t t, int zone, char *buf, size_t len)
{
	static const char *const mon[] = {"Jan", "Feb", "Mar", "Apr", "May",
	    "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL) {
		strlcpy(buf, "?", len);
		return;
	}
	snprintf(buf, len, "%d %s %d, %02d:%02d%s", tm.tm_mday, mon[tm.tm_mon],
	    tm.tm_year + 1900, tm.tm_hour, tm.tm_min, zone ? " UTC" : "");
}

static void
html_time(FILE *out, time_t t, int zone)
{
	char iso[32], shown[64];

	ms_date_format_iso(t, iso, sizeof(iso));
	readable_date(t, zone, shown, sizeof(shown));
	fprintf(out, "<time datetime=\"%s\">%s</time>", iso, shown);
}

/* A choice's own text (static, never from outside): a badge, a mark
 * with its words for screen readers, or plain. */
static void
html_choice(FILE *out, const struct column *c, const struct choice *ch)
{
	if (*ch->text == '\0')
		return;
	if (c->flags & C_BADGE)
		fprintf(out, "<span class=\"ms-badge %s\">%s</span>",
		    ch->cls ? ch->cls : "", ch->text);
	else if (ch->alt != NULL)
		fprintf(out,
		    "<span class=\"ms-mark %s\" title=\"%s\" "
		    "aria-hidden=\"true\">%s</span>"
		    "<span class=\"ms-sr\">%s</span>",
		    ch->cls ? ch->cls : "", ch->alt, ch->text, ch->alt);
	else if (ch->cls != NULL)
		fprintf(out, "<span class=\"%s\">%s</span>", ch->cls, ch->text);
	else
		fputs(ch->text, out);
}

/*
 * The value of column c for people: a choice, a <time> (in a form,
 * with its zone), a name above its address (a cell's C_FULL address),
 * else the text. Returns whether there was a value (else the column's
 * none was printed).
 */
static int
html_value(struct ms_printer *p, const struct column *c, int form)
{
	const struct field *f = field(p, c->key);
	const struct choice *ch;
	struct ms_buf raw = {0};
	int has;

	if (c->choices != NULL && (ch = choice_of(c, f)) != NULL) {
		html_choice(p->out, c, ch);
		return *ch->text != '\0';
	}
	if (!is_null(f) && f->type == F_DATE) {
		html_time(p->out, (time_t)f->i, form);
		return 1;
	}
	if (!form && (c->flags & C_FULL) && !is_null(f) && f->type == F_ADDR) {
		fputs("<span class=\"ms-name\" dir=\"auto\">", p->out);
		html_esc(
		    p->out, *f->addr->name ? f->addr->name : f->addr->email, 0);
		fputs("</span>", p->out);
		if (*f->addr->name != '\0') {
			fputs("<span class=\"ms-addr\">", p->out);
			html_esc(p->out, f->addr->email, 0);
			fputs("</span>", p->out);
		}
		return 1;
	}
	has = people_text(p, c, f, 0, &raw);
	html_esc(p->out, raw.s ? raw.s : "", 0);
	ms_buf_finish(&raw);
	return has;
}

/* Whether column c has something to show for the current record. */
static int
has_value(struct ms_printer *p, const struct column *c)
{
	struct ms_buf raw = {0};
	int has = people_text(p, c, field(p, c->key), 0, &raw);

	ms_buf_finish(&raw);
	return has;
}

/* A form: its header lines as a <dl>, then its body as a <pre>. */
static void
html_form_body(struct ms_printer *p, const struct column *cols)
{
	const struct column *c;
	const struct field *f;

	fputs("<dl>\n", p->out);
	for (c = cols; c->key != NULL; c++) {
		if ((c->flags & C_BODY) ||
		    ((c->flags & C_SKIP_EMPTY) && !has_value(p, c)))
			continue;
		fprintf(p->out, "<dt>%s</dt><dd dir=\"auto\">", c->head);
		html_value(p, c, 1);
		fputs("</dd>\n", p->out);
	}
	fputs("</dl>\n", p->out);
	for (c = cols; c->key != NULL; c++)
		if (c->flags & C_BODY) {
			f = field(p, c->key);
			fputs("<pre dir=\"auto\">", p->out);
			html_esc(
			    p->out, is_null(f) ? "" : f->s, MS_TERM_NEWLINES);
			fputs("</pre>\n", p->out);
		}
}

/* A CRM email's View: its full content behind <details>, which opens
 * in place without a script. */
static void
html_view(struct ms_printer *p, const struct column *c)
{
	const struct field *f = field(p, c->key);

	if (is_null(f) || f->type != F_STR)
		return;
	fprintf(p->out,
	    "<details class=\"ms-view\"><summary>%s"
	    "<span class=\"ms-sr\"> the email in full</span></summary>\n"
	    "<div class=\"ms-full\">\n",
	    c->head);
	html_form_body(p, c->inner);
	fputs("</div></details>", p->out);
}

static void
html_cell(struct ms_printer *p, const struct column *c)
{
	const struct column *in;

	fputs("<td class=\"", p->out);
	put_class(p->out, c->key);
	if (c->flags & C_RIGHT)
		fputs(" ms-num", p->out);
	if (c->flags & C_DIM)
		fputs(" ms-dim", p->out);
	fputs("\">", p->out);
	for (in = c->inner; in != NULL && in->key != NULL; in++) {
		if (in->flags & C_VIEW) {
			html_view(p, in);
			continue;
		}
		if ((in->flags & C_SKIP_EMPTY) && !has_value(p, in))
			continue;
		fputs("<div class=\"", p->out);
		put_class(p->out, in->key);
		fputs("\" dir=\"auto\">", p->out);
		html_value(p, in, 0);
		fputs("</div>", p->out);
	}
	if (c->inner == NULL)
		html_value(p, c, 0);
	fputs("</td>", p->out);
}

/* The page's <head> and <body>, once, unless a fragment. */
static void
html_page(struct ms_printer *p, const struct layout *l)
{
	if (p->fragment || p->page)
		return;
	p->page = 1;
	fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n"
	      "<meta charset=\"utf-8\">\n"
	      "<meta name=\"viewport\" content=\"width=device-width, "
	      "initial-scale=1\">\n"
	      "<meta name=\"color-scheme\" content=\"light dark\">\n"
	      "<meta http-equiv=\"Content-Security-Policy\" "
	      "content=\"default-src 'none'; style-src 'unsafe-inline'\">\n"
	      "<title>",
	    p->out);
	if (p->subject != NULL) {
		html_esc(p->out, p->subject, 0);
		fputs(" – ", p->out);
	}
	fprintf(p->out,
	    "%s (mailsync)</title>\n"
	    "<style>html,body{margin:0;padding:0}"
	    ".ms-tab.ms-page{min-height:100vh;padding:24px 32px}</style>\n"
	    "</head>\n<body>\n",
	    l->title);
}

/* The root element with its style, and on a page the header: opened
 * once, by the first layout that prints. */
/* Each source's badge colour, a custom property of .ms-tab, and its
 * badge class's background. */
static void
source_style(FILE *out)
{
	size_t i;

	fputs(".ms-tab{", out);
	for (i = 0; source_choices[i].value != NULL; i++)
		fprintf(
		    out, "--ms-%s:%s;", source_choices[i].value, source_hex(i));
	fputs("}\n", out);
	for (i = 0; source_choices[i].value != NULL; i++)
		fprintf(out, ".ms-tab .%s{background:var(--ms-%s)}\n",
		    source_choices[i].cls, source_choices[i].value);
}

static void
html_open(struct ms_printer *p, const struct layout *l)
{
	if (p->root)
		return;
	html_page(p, l);
	p->root = 1;
	fprintf(p->out,
	    "<section class=\"ms-tab ms-%s%s\" aria-label=\"%s\">\n"
	    "<style>\n",
	    l->name, p->fragment ? "" : " ms-page", l->title);
	source_style(p->out);
	fprintf(p->out, "%s</style>\n", tab_style);
	if (p->fragment)
		return;
	if (p->head != NULL)
		fputs(p->head, p->out);
	else
		fprintf(p->out,
		    "<header class=\"ms-head\"><h1>%s</h1></header>\n",
		    l->title);
}

static void
html_start(struct ms_printer *p, const struct layout *l)
{
	const struct column *c;

	html_open(p, l);
	if (l->kind == L_FORM)
		return;
	fprintf(p->out, "<table class=\"ms-%s-table\">\n<thead><tr>", l->name);
	for (c = html_cols(l); c->key != NULL; c++) {
		fputs("<th scope=\"col\" class=\"", p->out);
		put_class(p->out, c->key);
		if (c->flags & C_RIGHT)
			fputs(" ms-num", p->out);
		fprintf(p->out,
		    c->flags & C_SR_HEAD ? "\"><span class=\"ms-sr\">%s</span>"
					   "</th>"
					 : "\">%s</th>",
		    c->head);
	}
	fputs("</tr></thead>\n<tbody>\n", p->out);
}

static void
html_end(struct ms_printer *p, const struct layout *l)
{
	if (l->kind != L_FORM)
		fputs("</tbody>\n</table>\n", p->out);
}

/* Nothing came: say so, in place of the table. */
static void
html_empty(struct ms_printer *p, const struct layout *l)
{
	html_open(p, l);
	fprintf(p->out, "<div class=\"ms-empty\"><strong>%s</strong>",
	    l->empty ? l->empty : "Nothing to show");
	if (l->hint != NULL)
		fprintf(p->out, "<p>%s</p>", l->hint);
	fputs("</div>\n", p->out);
}

static void
html_form(struct ms_printer *p)
{
	fprintf(p->out, "<article class=\"ms-%s\">\n", p->lay->name);
	html_form_body(p, p->lay->table);
	fputs("</article>\n", p->out);
}

static void
html_record(struct ms_printer *p)
{
	const struct column *c;
	const struct field *id;

	if (p->lay->kind == L_FORM) {
		html_form(p);
		return;
	}
	id = p->lay->id_key ? field(p, p->lay->id_key) : NULL;
	if (id != NULL && id->type == F_INT)
		fprintf(p->out, "<tr data-id=\"%lld\">", (long long)id->i);
	else
		fputs("<tr>", p->out);
	for (c = html_cols(p->lay); c->key != NULL; c++)
		html_cell(p, c);
	fputs("</tr>\n", p->out);
}

/* The page's header: the client's name and addresses. */
void
ms_printer_client(struct ms_printer *p, const struct ms_client *c)
{
	struct ms_buf b = {0};
	const char *name = *c->name ? c->name : c->crm_id;
	size_t i;

	free(p->head);
	free(p->subject);
	p->subject = ms_xstrdup(name);
	ms_buf_adds(&b, "<header class=\"ms-head\"><h1 dir=\"auto\">");
	esc_add(&b, name, 0);
	ms_buf_adds(&b, "</h1>\n");
	if (c->email == NULL && c->portal_email == NULL && c->contacts.n == 0) {
		ms_buf_adds(&b, "</header>\n");
		p->head = ms_buf_steal(&b);
		return;
	}
	ms_buf_adds(&b, "<ul class=\"ms-addrs\">");
	if (c->email != NULL) {
		ms_buf_adds(&b, "<li>");
		esc_add(&b, c->email, 0);
		ms_buf_adds(&b, "</li>");
	}
	if (c->portal_email != NULL) {
		ms_buf_adds(&b, "<li>");
		esc_add(&b, c->portal_email, 0);
		ms_buf_adds(&b, " (portal)</li>");
	}
	for (i = 0; i < c->contacts.n; i++) {
		ms_buf_adds(&b, "<li>");
		if (*c->contacts.v[i].name != '\0') {
			ms_buf_adds(&b, "<span dir=\"auto\">");
			esc_add(&b, c->contacts.v[i].name, 0);
			ms_buf_adds(&b, "</span> &lt;");
			esc_add(&b, c->contacts.v[i].email, 0);
			ms_buf_adds(&b, "&gt;");
		} else
			esc_add(&b, c->contacts.v[i].email, 0);
		ms_buf_adds(&b, "</li>");
	}
	ms_buf_adds(&b, "</ul></header>\n");
	p->head = ms_buf_steal(&b);
}

/*
 * The primitives: begin a record of a layout, add its fields, end it.
 */

static void
begin(struct ms_printer *p, const struct layout *l)
{
	p->lay = l;
	p->nf = 0;
}

static struct field *
add(struct ms_printer *p, const char *key, enum ftype t, unsigned flags)
{
	struct field *f;

	if (p->nf == MAX_FIELDS)
		abort(); /* a layout with more fields than MAX_FIELDS */
	f = &p->f[p->nf++];
	memset(f, 0, sizeof(*f));
	f->key = key;
	f->type = t;
	f->flags = flags;
	return f;
}

static void
put_str(struct ms_printer *p, const char *key, const char *s, unsigned fl)
{
	add(p, key, s ? F_STR : F_NULL, fl)->s = s;
}

static void
put_int(struct ms_printer *p, const char *key, int64_t i)
{
	add(p, key, F_INT, 0)->i = i;
}

static void
put_bool(struct ms_printer *p, const char *key, int b)
{
	add(p, key, F_BOOL, 0)->i = b != 0;
}

static void
put_date(struct ms_printer *p, const char *key, time_t t)
{
	add(p, key, F_DATE, 0)->i = (int64_t)t;
}

static void
put_null(struct ms_printer *p, const char *key)
{
	add(p, key, F_NULL, 0);
}

static void
put_addr(
    struct ms_printer *p, const char *key, const struct ms_addr *a, unsigned fl)
{
	add(p, key, a ? F_ADDR : F_NULL, fl)->addr = a;
}

static void
put_addrs(struct ms_printer *p, const char *key, const struct ms_addrlist *l)
{
	add(p, key, F_ADDRS, 0)->addrs = l;
}

static void
put_strs(struct ms_printer *p, const char *key, char *const *v, size_t n)
{
	struct field *f = add(p, key, F_STRS, 0);

	f->strv = v;
	f->n = n;
}

/* Close what the previous layout opened, when records of another come. */
static void
switch_layout(struct ms_printer *p, const struct layout *l)
{
	if (p->started == l)
		return;
	if (p->started != NULL) {
		if (p->fmt == MS_FMT_TABLE)
			table_finish(p);
		else if (p->fmt == MS_FMT_HTML)
			html_end(p, p->started);
	}
	p->started = l;
	p->laid = 0;
	memset(p->brief, 0, sizeof(p->brief));
	if (p->fmt == MS_FMT_HTML)
		html_start(p, l);
}

static int
end(struct ms_printer *p)
{
	const struct layout *l = p->lay;

	if (!(l->formats & FMT(p->fmt)))
		return refuse(l, p->fmt);
	switch_layout(p, l);
	switch (p->fmt) {
	case MS_FMT_TABLE: table_record(p); break;
	case MS_FMT_JSON: json_record(p); break;
	case MS_FMT_TSV: tsv_record(p); break;
	case MS_FMT_HTML: html_record(p); break;
	}
	return ferror(p->out) ? ms_errc(EX_IOERR, "write error on output") : 0;
}

int
ms_printer_destroy(struct ms_printer *p)
{
	int rc;

	if (p == NULL)
		return 0;
	if (p->fmt == MS_FMT_TABLE)
		table_finish(p);
	else if (p->fmt == MS_FMT_HTML) {
		if (p->started == NULL && p->expect != NULL)
			html_empty(p, p->expect);
		else if (p->started != NULL)
			html_end(p, p->started);
		if (p->root)
			fputs("</section>\n", p->out);
		if (p->page)
			fputs("</body>\n</html>\n", p->out);
	}
	rc = fflush(p->out) == EOF || ferror(p->out) ? -1 : 0;
	free(p->head);
	free(p->subject);
	free(p->rows);
	free(p);
	return rc;
}

/*
 * The records, each described once.
 */

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

int
ms_print_email(struct ms_printer *p, const struct ms_email *e)
{
	static const struct ms_addr none = {"", ""};

	begin(p, &email_layout);
	put_int(p, "id", e->id);
	put_date(p, "date", e->date);
	put_str(p, "direction", e->direction, 0);
	put_str(p, "source", e->source, 0);
	put_addr(p, "from", e->from.n > 0 ? &e->from.v[0] : &none, 0);
	put_addrs(p, "to", &e->to);
	put_addrs(p, "cc", &e->cc);
	put_str(p, "subject", e->subject, 0);
	put_str(p, "snippet", e->snippet, 0);
	put_bool(p, "has_attachments", e->has_attachments);
	put_str(p, "message_id", e->message_id, 0);
	put_strs(p, "accounts", e->accounts, e->naccounts);
	put_bool(p, "viewable", e->body != NULL);
	put_str(p, "thread_id", e->thread_id, F_OMIT);
	put_addr(p, "with", counterpart(e), F_PEOPLE);
	put_str(p, "body", e->body, F_PEOPLE);
	return end(p);
}

int
ms_print_email_full(struct ms_printer *p, const struct ms_email *e)
{
	begin(p, &full_layout);
	put_date(p, "date", e->date);
	put_addrs(p, "from", &e->from);
	put_addrs(p, "to", &e->to);
	put_addrs(p, "cc", &e->cc);
	put_str(p, "subject", e->subject, 0);
	put_str(p, "message_id", e->message_id, 0);
	put_bool(p, "has_attachments", e->has_attachments);
	put_str(p, "body", e->body ? e->body : "", 0);
	return end(p);
}

int
ms_print_snippet(struct ms_printer *p, const struct ms_email *e)
{
	begin(p, &snippet_layout);
	put_str(p, "snippet", e->snippet, 0);
	return end(p);
}

int
ms_print_account(struct ms_printer *p, const struct ms_account *a)
{
	int shared = a->kind != NULL && strcmp(a->kind, "shared") == 0;
	char state[64], *mailbox;
	int rc;

	snprintf(state, sizeof(state), "%s%s", a->status,
	    a->stale ? " (stale)" : "");
	mailbox = ms_xasprintf("%s%s", a->address, shared ? " (shared)" : "");
	begin(p, &account_layout);
	put_str(p, "provider", a->provider, 0);
	put_str(p, "address", a->address, 0);
	put_str(p, "member", a->member, 0);
	put_str(p, "status", a->status, 0);
	if (a->last_sync != 0)
		put_date(p, "last_sync", a->last_sync);
	else
		put_null(p, "last_sync");
	put_str(p, "last_error", a->last_error, 0);
	put_int(p, "emails", a->emails);
	put_bool(p, "stale", a->stale);
	put_bool(p, "shared", shared);
	put_strs(p, "folders", a->folders, a->nfolders);
	put_str(p, "state", state, F_PEOPLE);
	put_str(p, "health",
	    a->stale && strcmp(a->status, "active") == 0 ? "stale" : a->status,
	    F_PEOPLE);
	put_str(p, "mailbox", mailbox, F_PEOPLE);
	/* Gmail tracks the whole mailbox: no folders to count. */
	if (a->nfolders > 0)
		add(p, "nfolders", F_INT, F_PEOPLE)->i = (int64_t)a->nfolders;
	else
		add(p, "nfolders", F_NULL, F_PEOPLE);
	rc = end(p);
	free(mailbox);
	return rc;
}

int
ms_print_account_problem(
    struct ms_printer *p, const struct ms_account *a, time_t now)
{
	char why[1024];

	if (ms_account_problem(a, now, why, sizeof(why)) == NULL)
		return 0;
	begin(p, &problem_layout);
	put_str(p, "provider", a->provider, 0);
	put_str(p, "address", a->address, 0);
	put_str(p, "problem", why, 0);
	return end(p) == -1 ? -1 : 1;
}

int
ms_print_client(struct ms_printer *p, const struct ms_client *c)
{
	begin(p, &client_layout);
	put_str(p, "id", c->crm_id, 0);
	put_str(p, "name", c->name, 0);
	put_str(p, "email", c->email, 0);
	put_str(p, "portal_email", c->portal_email, 0);
	put_addrs(p, "contacts", &c->contacts);
	return end(p);
}

int
ms_print_pull(struct ms_printer *p, const struct ms_pull_result *r)
{
	begin(p, &pull_layout);
	put_str(p, "account", r->address, 0);
	put_str(p, "provider", r->provider, 0);
	put_str(p, "status", r->status, 0);
	put_int(p, "fetched", r->fetched);
	put_int(p, "new", r->added);
	put_str(p, "error", r->error, F_OMIT);
	return end(p);
}

int
ms_print_alias(struct ms_printer *p, const struct ms_alias *a)
{
	begin(p, &alias_layout);
	put_str(p, "alias", a->address, 0);
	put_str(p, "provider", a->provider, 0);
	put_str(p, "account", a->account, 0);
	put_str(p, "origin", a->origin, 0);
	return end(p);
}

int
ms_print_blocked(struct ms_printer *p, const char *pattern, long long created)
{
	begin(p, &blocked_layout);
	put_str(p, "pattern", pattern, 0);
	put_date(p, "created", (time_t)created);
	return end(p);
}

int
ms_print_setting(
    struct ms_printer *p, const struct ms_config_key *k, const char *value)
{
	begin(p, &setting_layout);
	put_str(p, "key", k->key, 0);
	put_str(p, "value", value, 0);
	put_str(p, "default", k->def, 0);
	put_str(p, "doc", k->doc, 0);
	return end(p);
}
