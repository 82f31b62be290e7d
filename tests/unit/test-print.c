/*
 * test-print: every record type in every format, against golden files
 * (data/print/RECORD.FORMAT, compared with diff -u), and the formats a
 * record refuses. MS_GOLDEN_UPDATE=1 rewrites the golden files from
 * what the printer prints now (then review them with git diff).
 */
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "print.h"
#include "tap.h"
#include "util.h"

#define GOLDEN "data/print/"

static struct ms_addr jane = {"Jane Doe", "jane@acme.example"};
static struct ms_addr alice = {"", "alice@firm.example"};
static struct ms_addr raj = {"Raj Patel", "raj@acme.example"};
static struct ms_addr billing = {"Firm Billing", "billing@firm.example"};
static struct ms_addr wide = {"山田 太郎", "yamada@example.jp"};
static char *accounts[] = {"alice@firm.example", "bob@firm.example"};

static struct ms_email emails[3];
static struct ms_account accts[3];
static struct ms_client clients[2];

static void
fixtures(void)
{
	struct ms_email *e = emails;

	e[0].id = 42;
	e[0].message_id = "<abc@mail.acme.example>";
	strlcpy(e[0].source, "gmail", sizeof(e[0].source));
	e[0].direction = "in";
	e[0].date = 1794924180; /* 2026-11-17T14:03:00Z */
	e[0].subject = "Renewal <b>&</b> \"quoted\"";
	e[0].snippet = "Hi Alice,\ttab and\nnewline";
	e[0].thread_id = "18c1f";
	e[0].has_attachments = 1;
	e[0].from = (struct ms_addrlist){&jane, 1, 1};
	e[0].to = (struct ms_addrlist){&alice, 1, 1};
	e[0].accounts = accounts;
	e[0].naccounts = 2;

	e[1].id = 7;
	e[1].message_id = "<crm-0002@crm.firm.example>";
	strlcpy(e[1].source, "crm", sizeof(e[1].source));
	e[1].direction = "out";
	e[1].date = 1794751200;
	e[1].subject = "";
	e[1].snippet = "Dear Raj, please find attached";
	e[1].body = "Dear Raj,\n\nplease find attached <the invoice>.\n";
	e[1].has_attachments = 1;
	e[1].from = (struct ms_addrlist){&billing, 1, 1};
	e[1].to = (struct ms_addrlist){&raj, 1, 1};
	e[1].cc = (struct ms_addrlist){&jane, 1, 1};

	e[2].id = 3;
	e[2].message_id = "<o1@globex.example>";
	strlcpy(e[2].source, "outlook", sizeof(e[2].source));
	e[2].direction = "in";
	e[2].date = 1794600000;
	e[2].subject = "An exceedingly long subject line about the renewal of "
		       "the contract for next year, with a 日本語 part";
	e[2].snippet = "A snippet that is long enough to be cut at every "
		       "width the tests try, and then some more words";
	e[2].from = (struct ms_addrlist){&wide, 1, 1};
	e[2].to = (struct ms_addrlist){&alice, 1, 1};
	e[2].accounts = accounts + 1;
	e[2].naccounts = 1;

	accts[0] = (struct ms_account){1, "gmail", "alice@firm.example",
	    "alice", "active", 1794924180, NULL, 120, 0, "own", NULL, 0};
	accts[1] = (struct ms_account){2, "gmail",
	    "a.very.long.mailbox.address@subsidiary.firm.example", "bob",
	    "needs-reauth", 1794751200,
	    "Gmail token endpoint: HTTP 400 invalid_grant: Token has been "
	    "expired or revoked.",
	    3, 0, "own", NULL, 0};
	accts[2] = (struct ms_account){3, "outlook", "carol@firm.example",
	    "carol", "active", 0, NULL, 0, 1, "own", NULL, 0};

	clients[0].crm_id = "c-17";
	clients[0].name = "Acme Ltd";
	clients[0].email = "ops@acme.example";
	clients[0].portal_email = "portal@acme.example";
	clients[0].contacts = (struct ms_addrlist){&jane, 1, 1};
	clients[1].crm_id = "c-19";
	clients[1].name = "Müller Bücher GmbH";
	clients[1].email = NULL;
	clients[1].portal_email = NULL;
}

static const char *const fmt_names[] = {"table", "json", "tsv", "html"};

/* Print every record of kind r in fmt into a new string; -1 with the
 * printer's refusal when it refuses. */
static int
render(enum ms_record r, enum ms_format fmt, int width, int fragment, int color,
    char **out)
{
	struct ms_pull_result pr[2] = {
	    {"alice@firm.example", "gmail", "ok", 1200, 1180, 10000, 0, NULL},
	    {"carol@firm.example", "outlook", "error", 0, 0, -1, 75,
		"Graph: HTTP 503 Service Unavailable"},
	};
	struct ms_alias al = {
	    "sales@firm.example", "alice@firm.example", "gmail", "provider"};
	const struct ms_config_key *keys;
	struct ms_printer *p;
	size_t len, i, nk;
	FILE *f;
	int rc = 0;

	f = open_memstream(out, &len);
	p = ms_printer_create(f, fmt, color, width);
	ms_printer_html(p, r, fragment);
	if (r == MS_REC_EMAIL)
		ms_printer_client(p, &clients[0]);
	ms_printer_now(p, 1794924180 + 600);
	keys = ms_config_keys(&nk);
	for (i = 0; i < 3 && rc == 0; i++) {
		switch (r) {
		case MS_REC_EMAIL: rc = ms_print_email(p, &emails[i]); break;
		case MS_REC_EMAIL_FULL:
			rc = i == 1 ? ms_print_email_full(p, &emails[i]) : 0;
			break;
		case MS_REC_SNIPPET:
			rc = i == 0 ? ms_print_snippet(p, &emails[i]) : 0;
			break;
		case MS_REC_ACCOUNT: rc = ms_print_account(p, &accts[i]); break;
		case MS_REC_PROBLEM:
			rc = ms_print_account_problem(
			    p, &accts[i], 1794924180 + 600);
			rc = rc == 1 ? 0 : rc;
			break;
		case MS_REC_CLIENT:
			rc = i < 2 ? ms_print_client(p, &clients[i]) : 0;
			break;
		case MS_REC_PULL:
			rc = i < 2 ? ms_print_pull(p, &pr[i]) : 0;
			break;
		case MS_REC_ALIAS:
			rc = i == 0 ? ms_print_alias(p, &al) : 0;
			break;
		case MS_REC_BLOCKED:
			rc = i == 0
			    ? ms_print_blocked(p, "@spam.example", 1794924180)
			    : i == 1 ? ms_print_blocked(
					   p, "promo@acme.example", 1794751200)
				     : 0;
			break;
		case MS_REC_SETTING:
			rc = i < nk ? ms_print_setting(p, &keys[i],
					  i == 0 ? "2026-01-01" : keys[i].def)
				    : 0;
			break;
		}
	}
	if (ms_printer_destroy(p) == -1)
		rc = -1;
	fclose(f);
	return rc;
}

static char *
slurp(const char *path)
{
	size_t len;

	return ms_read_all(path, 1 << 20, &len);
}

static void
golden(const char *name, const char *got)
{
	char path[256], tmp[] = "/tmp/test-print.XXXXXX", cmd[600];
	char *want;
	FILE *f;
	int fd;

	snprintf(path, sizeof(path), GOLDEN "%s", name);
	if (getenv("MS_GOLDEN_UPDATE") != NULL &&
	    (f = fopen(path, "w")) != NULL) {
		fputs(got, f);
		fclose(f);
	}
	want = slurp(path);
	if (ok(want != NULL && strcmp(want, got) == 0, "%s", name)) {
		free(want);
		return;
	}
	if ((fd = mkstemp(tmp)) != -1) {
		if (write(fd, got, strlen(got)) == -1)
			diag("cannot write the output");
		close(fd);
		snprintf(cmd, sizeof(cmd), "diff -u %s %s | sed 's/^/# /'",
		    path, tmp);
		if (system(cmd) == -1)
			diag("cannot run diff");
		unlink(tmp);
	}
	free(want);
}

/*
 * Every HTML output carries the tab's stylesheet: it is compared once,
 * with data/print/tab.css, and the HTML goldens hold "<style>…</style>"
 * in its place. Returns got with the style cut out (a new string).
 */
static char *
cut_style(const char *name, const char *got)
{
	static char *first;
	const char *a = strstr(got, "<style>\n.ms-tab{"), *b;
	struct ms_buf out = {0};
	char *css;

	if (a == NULL || (b = strstr(a, "</style>")) == NULL)
		return ms_xstrdup(got);
	a += strlen("<style>\n");
	css = ms_xstrndup(a, (size_t)(b - a));
	if (first == NULL) {
		golden("tab.css", css);
		first = css;
	} else {
		if (strcmp(css, first) != 0)
			ok(0, "%s: the same stylesheet as the others", name);
		free(css);
	}
	ms_buf_add(&out, got, (size_t)(a - got));
	ms_buf_adds(&out, "…");
	ms_buf_adds(&out, b);
	return ms_buf_steal(&out);
}

static void
golden_html(const char *name, const char *got)
{
	char *cut = cut_style(name, got);

	golden(name, cut);
	free(cut);
}

static const struct {
	enum ms_record r;
	const char *name;
	unsigned refuse; /* formats it refuses, bit per ms_format */
} records[] = {
    {MS_REC_EMAIL, "email", 0},
    {MS_REC_EMAIL_FULL, "email-full", 1 << MS_FMT_JSON | 1 << MS_FMT_TSV},
    {MS_REC_SNIPPET, "snippet", 1 << MS_FMT_JSON | 1 << MS_FMT_TSV},
    {MS_REC_ACCOUNT, "account", 0},
    {MS_REC_PROBLEM, "problem",
	1 << MS_FMT_JSON | 1 << MS_FMT_TSV | 1 << MS_FMT_HTML},
    {MS_REC_CLIENT, "client", 0},
    {MS_REC_PULL, "pull", 0},
    {MS_REC_ALIAS, "alias", 0},
    {MS_REC_BLOCKED, "blocked", 0},
    {MS_REC_SETTING, "setting", 0},
};

int
main(void)
{
	char name[64], *got;
	size_t i;
	int f, rc;
	static const struct {
		enum ms_record r;
		const char *name;
		int width, color;
	} widths[] = {
	    {MS_REC_EMAIL, "email.table-120", 120, 0},
	    {MS_REC_EMAIL, "email.table-80", 80, 0},
	    {MS_REC_EMAIL, "email.table-60", 60, 0},
	    {MS_REC_EMAIL, "email.table-40", 40, 0},
	    {MS_REC_EMAIL, "email.table-color-60", 60, 1},
	    {MS_REC_ACCOUNT, "account.table-80", 80, 0},
	    {MS_REC_CLIENT, "client.table-40", 40, 0},
	    {MS_REC_PULL, "pull.table-60", 60, 0},
	};

	setlocale(LC_CTYPE, "C.UTF-8");
	fixtures();
	for (i = 0; i < sizeof(records) / sizeof(*records); i++) {
		for (f = MS_FMT_TABLE; f <= MS_FMT_HTML; f++) {
			snprintf(name, sizeof(name), "%s.%s", records[i].name,
			    fmt_names[f]);
			rc = render(records[i].r, f, 0, 0, 0, &got);
			if (records[i].refuse & (1u << f)) {
				ok(rc == -1 && ms_errcode() == EX_USAGE &&
					ms_print_check(records[i].r, f) == -1,
				    "%s: refused (%s)", name, ms_errstr());
			} else {
				ok(rc == 0 &&
					ms_print_check(records[i].r, f) == 0,
				    "%s: printed", name);
				if (f == MS_FMT_HTML)
					golden_html(name, got);
				else
					golden(name, got);
			}
			free(got);
		}
		if (records[i].refuse & (1u << MS_FMT_HTML))
			continue;
		snprintf(name, sizeof(name), "%s.fragment", records[i].name);
		render(records[i].r, MS_FMT_HTML, 0, 1, 0, &got);
		golden_html(name, got);
		free(got);
	}
	for (i = 0; i < sizeof(widths) / sizeof(*widths); i++) {
		render(widths[i].r, MS_FMT_TABLE, widths[i].width, 0,
		    widths[i].color, &got);
		golden(widths[i].name, got);
		free(got);
	}
	/* An empty list in HTML: the page says so, in place of the table. */
	{
		static const struct {
			enum ms_record r;
			const char *name;
			int fragment;
		} empty[] = {
		    {MS_REC_EMAIL, "email-empty.html", 0},
		    {MS_REC_EMAIL, "email-empty.fragment", 1},
		    {MS_REC_ACCOUNT, "account-empty.html", 0},
		};
		struct ms_printer *p;
		size_t len;
		FILE *fp;

		for (i = 0; i < sizeof(empty) / sizeof(*empty); i++) {
			fp = open_memstream(&got, &len);
			p = ms_printer_create(fp, MS_FMT_HTML, 0, 0);
			ms_printer_html(p, empty[i].r, empty[i].fragment);
			if (empty[i].r == MS_REC_EMAIL)
				ms_printer_client(p, &clients[1]);
			ms_printer_destroy(p);
			fclose(fp);
			golden_html(empty[i].name, got);
			free(got);
		}
	}
	/* An empty list: nothing for people and scripts, an empty table
	 * in a page. */
	{
		struct ms_printer *p;
		size_t len;
		FILE *fp;

		fp = open_memstream(&got, &len);
		p = ms_printer_create(fp, MS_FMT_TABLE, 0, 80);
		ms_printer_destroy(p);
		fclose(fp);
		is_str(got, "", "an empty table prints nothing");
		free(got);
	}
	return done_testing();
}
