/*
 * graph: the Microsoft Graph driver of mailsync-pull.
 *
 * Per-folder delta for the inbox and sent items, with
 * Prefer: odata.maxpagesize and IdType="ImmutableId" on every call and
 * $select (never the body) on the first. Each page is stored with the
 * nextLink that follows it in one transaction; the deltaLink is stored
 * when the round ends. 410 Gone, or the error codes syncStateNotFound /
 * resyncRequired, drop the folder's links and resync it; the emails
 * already stored are found by their ids, so nothing doubles. @removed
 * entries delete nothing: a profile keeps what it showed.
 */
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "config.h"
#include "date.h"
#include "driver.h"
#include "graph.h"
#include "json.h"
#include "log.h"
#include "msg.h"
#include "sync.h"
#include "util.h"

#define PAGE_SIZE 200
/* A page of 200 messages with their recipients and the few headers asked
 * is a few MB at most. */
#define MAX_PAGE (16u << 20)
#define MAX_ONE (1u << 20)
#define SELECT                                                                 \
	"subject,from,toRecipients,ccRecipients,receivedDateTime,"             \
	"sentDateTime,bodyPreview,hasAttachments,internetMessageId,"           \
	"conversationId,isDraft,parentFolderId,internetMessageHeaders"

static const char *const folders[] = {"inbox", "sentitems"};
#define NFOLDERS (sizeof(folders) / sizeof(*folders))

/*
 * A folder's cursor, stored as a flat JSON object: the last complete
 * round's deltaLink, and the unfinished round's next page.
 */
struct cursor {
	char *delta_link;
	char *next_link;
};
static const char *const cursor_keys[] = {"deltaLink", "nextLink"};
#define NKEYS 2

static void
cursor_finish(struct cursor *c)
{
	free(c->delta_link);
	free(c->next_link);
	memset(c, 0, sizeof(*c));
}

static int
cursor_get(struct ms_sync *s, const char *folder, struct cursor *c)
{
	char *text, *v[NKEYS];

	memset(c, 0, sizeof(*c));
	if (ms_sync_cursor_get(s, folder, &text) == -1)
		return -1;
	/* One that does not read is no cursor: the sync starts over. */
	ms_json_unpack(text, cursor_keys, v, NKEYS);
	free(text);
	c->delta_link = v[0];
	c->next_link = v[1];
	return 0;
}

/* Inside the caller's transaction. */
static int
cursor_set(struct ms_sync *s, const char *folder, const struct cursor *c)
{
	char *v[NKEYS] = {c->delta_link, c->next_link}, *text = NULL;
	int rc;

	if (c->delta_link != NULL || c->next_link != NULL)
		text = ms_json_pack(cursor_keys, v, NKEYS);
	rc = ms_sync_cursor_set(s, folder, text);
	free(text);
	return rc;
}

struct folder {
	struct graph *gr;
	const char *name;
	char *delta_link; /* as stored: kept until a new one */
	int resynced;
};

struct graph {
	struct ms_sync *s;
	struct folder f[NFOLDERS];
	int left; /* folders not finished */
};

static const char *const prefer[] = {
    "Prefer: odata.maxpagesize=200, IdType=\"ImmutableId\"",
    NULL,
};

static void folder_get(struct folder *, const char *url);

static void
fail(struct folder *f)
{
	ms_sync_fail(f->gr->s);
}

/* One {"emailAddress":{"name","address"}} into l; Exchange-internal or
 * malformed addresses are skipped by ms_addrlist_add. */
static void
add_recipient(struct json_object *r, struct ms_addrlist *l)
{
	struct json_object *ea = ms_json_obj(r, "emailAddress");
	const char *name, *addr;

	if ((addr = ms_json_str(ea, "address")) == NULL)
		return;
	name = ms_json_str(ea, "name");
	ms_addrlist_add(l, name ? name : "", addr);
}

static void
add_recipients(struct json_object *o, const char *key, struct ms_addrlist *l)
{
	struct json_object *arr = ms_json_arr(o, key);
	size_t i;

	for (i = 0; arr != NULL && i < json_object_array_length(arr); i++)
		add_recipient(ms_json_arr_obj(arr, i), l);
}

/* Whether internetMessageHeaders mark the message bulk or automated. */
static int
bulk_headers(struct json_object *o)
{
	struct json_object *arr = ms_json_arr(o, "internetMessageHeaders"), *h;
	const char *name, *value;
	size_t i;

	for (i = 0; arr != NULL && i < json_object_array_length(arr); i++) {
		h = ms_json_arr_obj(arr, i);
		if ((name = ms_json_str(h, "name")) != NULL &&
		    (value = ms_json_str(h, "value")) != NULL &&
		    ms_email_bulk_header(name, value))
			return 1;
	}
	return 0;
}

static char *
text_of(struct json_object *o, const char *key)
{
	const char *v = ms_json_str(o, key);

	return ms_utf8_sanitize(v ? v : "", v ? strlen(v) : 0);
}

int
ms_graph_id_ok(const char *id)
{
	size_t n;

	if (id == NULL ||
	    (n = strspn(id,
		 "0123456789abcdefghijklmnopqrstuvwxyz"
		 "ABCDEFGHIJKLMNOPQRSTUVWXYZ-_=")) == 0)
		return 0;
	return id[n] == '\0' && n <= 512;
}

int
ms_graph_partial(struct json_object *o)
{
	return !json_object_object_get_ex(o, "receivedDateTime", NULL) &&
	    !json_object_object_get_ex(o, "sentDateTime", NULL);
}

int
ms_graph_message(struct json_object *o, struct ms_email *e, const char **id)
{
	const char *v;

	memset(e, 0, sizeof(*e));
	*id = ms_json_str(o, "id");
	if (json_object_object_get_ex(o, "@removed", NULL) ||
	    ms_json_true(o, "isDraft"))
		return 1;
	if (!ms_graph_id_ok(*id))
		return ms_errc(EX_DATAERR, "a message without a usable id");
	if (ms_graph_partial(o))
		return ms_errc(EX_DATAERR,
		    "message %s: only some of its "
		    "properties",
		    *id);
	add_recipient(ms_json_obj(o, "from"), &e->from);
	add_recipients(o, "toRecipients", &e->to);
	add_recipients(o, "ccRecipients", &e->cc);
	e->subject = text_of(o, "subject");
	e->snippet = text_of(o, "bodyPreview");
	if ((v = ms_json_str(o, "internetMessageId")) != NULL)
		e->message_id = ms_msgid_normalize(v);
	if ((v = ms_json_str(o, "conversationId")) != NULL)
		e->thread_id = ms_utf8_sanitize(v, strlen(v));
	if ((v = ms_json_str(o, "receivedDateTime")) == NULL ||
	    ms_date_parse_iso(v, &e->date) == -1)
		if ((v = ms_json_str(o, "sentDateTime")) != NULL)
			ms_date_parse_iso(v, &e->date);
	e->has_attachments = ms_json_true(o, "hasAttachments");
	e->bulk = bulk_headers(o);
	return 0;
}

/*
 * A delta page on its way to the database: its items, and those of its
 * items that came with only some of their properties, fetched again in
 * full (Graph's later rounds send just what changed); stored with the
 * folder's next cursor in one transaction once every fetch is back.
 */
struct page {
	struct folder *f;
	struct json_object *o; /* the page, owned */
	struct json_object *arr; /* its value */
	struct json_object **full; /* per item: fetched in full, owned */
	char *next, *delta;
	size_t pending; /* fetches in flight */
	int first; /* of an initial round: the --since window applies */
};

struct refetch {
	struct page *pg;
	size_t idx;
};

/* 0 with e filled, 1 to skip (removed, draft, outside the window, bad). */
static int
to_email(struct folder *f, int first, struct json_object *o, struct ms_email *e,
    const char **id)
{
	struct ms_sync *s = f->gr->s;
	int rc = ms_graph_message(o, e, id);

	if (rc == -1) {
		ms_sync_skip(s, *id, ms_errstr());
		return 1;
	}
	if (rc == 0 && first && s->since > 0 && e->date < s->since) {
		ms_email_finish(e);
		return 1;
	}
	return rc;
}

/* Store one page's messages with the folder's next cursor. */
static int
store_page(struct page *pg)
{
	struct folder *f = pg->f;
	struct ms_sync *s = f->gr->s;
	struct cursor c = {0};
	struct json_object *item;
	struct ms_email e;
	const char *id;
	size_t i, n = pg->arr ? json_object_array_length(pg->arr) : 0;
	int rc = 0;

	if (ms_sync_begin(s) == -1)
		return -1;
	for (i = 0; rc == 0 && i < n; i++) {
		item = pg->full[i] ? pg->full[i]
				   : json_object_array_get_idx(pg->arr, i);
		s->fetched++;
		if (!json_object_is_type(item, json_type_object) ||
		    (ms_graph_partial(item) &&
			!json_object_object_get_ex(item, "@removed", NULL)))
			continue; /* known already, or not fetched: kept */
		if (to_email(f, pg->first, item, &e, &id))
			continue;
		rc = ms_sync_store(s, &e, id);
		ms_email_finish(&e);
	}
	c.next_link = pg->next;
	c.delta_link = pg->delta ? pg->delta : f->delta_link;
	if (rc == -1 || cursor_set(s, f->name, &c) == -1) {
		fail(f);
		return -1;
	}
	return ms_sync_commit(s);
}

static void
page_free(struct page *pg)
{
	size_t i, n = pg->arr ? json_object_array_length(pg->arr) : 0;

	for (i = 0; i < n; i++)
		json_object_put(pg->full[i]);
	free(pg->full);
	json_object_put(pg->o);
	free(pg->next);
	free(pg->delta);
	free(pg);
}

/* Whether an error reply means the delta state is gone. */
static int
state_lost(const struct ms_http_resp *r)
{
	if (r->status == 410)
		return 1;
	return r->status >= 400 && r->len > 0 &&
	    (strcasestr(r->body, "syncStateNotFound") != NULL ||
		strcasestr(r->body, "resyncRequired") != NULL);
}

static char *
first_url(struct folder *f)
{
	return ms_xasprintf("%s/v1.0/me/mailFolders/%s/messages/delta"
			    "?$select=" SELECT,
	    f->gr->s->p->api_url, f->name);
}

static void
resync(struct folder *f)
{
	struct cursor c = {0};
	char *url;

	f->resynced++;
	free(f->delta_link);
	f->delta_link = NULL;
	if (ms_sync_begin(f->gr->s) == -1)
		return;
	if (cursor_set(f->gr->s, f->name, &c) == -1) {
		fail(f);
		return;
	}
	if (ms_sync_commit(f->gr->s) == -1)
		return;
	url = first_url(f);
	folder_get(f, url);
	free(url);
}

/*
 * Whether url, a link Graph gave (or one stored from it), leads to the
 * API the account's token is for. A link to any other origin is never
 * followed: the folder's cursor is dropped and the folder synced again
 * from its first page (nothing doubles: messages are found by id).
 */
static int
link_ok(struct folder *f, const char *url, const char *what)
{
	const char *api = f->gr->s->p->api_url;
	char *bad;

	if (ms_http_same_origin(url, api))
		return 1;
	bad = ms_http_origin(url);
	ms_log_warn("%s: the %s %s leads to %s, not to the Graph API: "
		    "not followed; the folder is synced again",
	    f->gr->s->address, f->name, what, bad);
	free(bad);
	return 0;
}

static void
fail_reply(struct folder *f, const char *what, const struct ms_http_resp *r)
{
	struct json_object *o = ms_json_parse(r->body, r->len, "error");
	struct json_object *e = ms_json_obj(o, "error");
	const char *code = ms_json_str(e, "code"),
		   *msg = ms_json_str(e, "message");

	ms_errc(EX_UNAVAILABLE, "Graph %s %s: HTTP %ld%s%s%s%s", f->name, what,
	    r->status, code ? " " : "", code ? code : "", msg ? ": " : "",
	    msg ? msg : "");
	json_object_put(o);
	fail(f);
}

/* The page is complete: store it and go on with the folder. */
static void
page_done(struct page *pg)
{
	struct folder *f = pg->f;
	struct graph *gr = f->gr;
	int stopping = ms_fetch_stopping(ms_fetch_acct_engine(gr->s->fa));

	if (ms_fetch_acct_error(gr->s->fa) == 0 && store_page(pg) == 0) {
		if (pg->next != NULL && !stopping)
			folder_get(f, pg->next);
		else if (pg->next == NULL) {
			free(f->delta_link);
			f->delta_link =
			    pg->delta ? ms_xstrdup(pg->delta) : NULL;
			if (--gr->left == 0)
				gr->s->done = 1;
		}
	}
	page_free(pg);
}

static void
refetch_cb(struct ms_fetch_acct *fa, const struct ms_http_resp *r, void *arg)
{
	struct refetch *rf = arg;
	struct page *pg = rf->pg;
	struct json_object *o;

	(void)fa;
	if (r != NULL && r->status == 200 &&
	    (o = ms_json_parse(r->body, r->len, "Graph message")) != NULL) {
		if (ms_graph_partial(o)) {
			json_object_put(o);
			o = NULL;
		}
		pg->full[rf->idx] = o;
	}
	if (r != NULL && pg->full[rf->idx] == NULL)
		ms_log_debug("%s: a changed message Graph sent in part could "
			     "not be read in full (HTTP %ld): left out",
		    pg->f->gr->s->address, r->status);
	free(rf);
	if (--pg->pending > 0)
		return;
	if (r == NULL) { /* the account failed, or the run was cut */
		page_free(pg);
		return;
	}
	page_done(pg);
}

/* Fetch item idx of the page in full: GET /me/messages/{id}. */
static void
refetch(struct page *pg, size_t idx, const char *id)
{
	struct refetch *rf = ms_xcalloc(1, sizeof(*rf));
	struct ms_fetch_spec spec = {.headers = prefer,
	    .units = 1,
	    .max_body = MAX_ONE,
	    .cb = refetch_cb,
	    .arg = rf};
	char *url;

	rf->pg = pg;
	rf->idx = idx;
	url = ms_xasprintf("%s/v1.0/me/messages/%s?$select=" SELECT,
	    pg->f->gr->s->p->api_url, id);
	spec.url = url;
	pg->pending++;
	if (ms_fetch_add(pg->f->gr->s->fa, &spec) == -1) {
		pg->pending--;
		free(rf);
	}
	free(url);
}

/*
 * Items with only some properties: a message this account has keeps
 * its row as it is (what mailsync stores does not change in a move or a
 * read flag); an unknown one is fetched in full. 0, or -1 (failed).
 */
static int
partial_items(struct page *pg)
{
	struct ms_sync *s = pg->f->gr->s;
	struct json_object *item;
	const char *id;
	size_t i, n = pg->arr ? json_object_array_length(pg->arr) : 0;
	int known;

	pg->full = ms_xcalloc(n ? n : 1, sizeof(*pg->full));
	for (i = 0; i < n; i++) {
		item = ms_json_arr_obj(pg->arr, i);
		if (item == NULL || !ms_graph_partial(item) ||
		    json_object_object_get_ex(item, "@removed", NULL) ||
		    !ms_graph_id_ok(id = ms_json_str(item, "id")))
			continue;
		if ((known = ms_sync_known(s, id)) == -1)
			return -1;
		if (!known)
			refetch(pg, i, id);
	}
	return 0;
}

static void
delta_cb(struct ms_fetch_acct *fa, const struct ms_http_resp *r, void *arg)
{
	struct folder *f = arg;
	struct page *pg;
	struct json_object *o, *arr = NULL;
	const char *next, *delta;

	(void)fa;
	if (r == NULL)
		return;
	if (state_lost(r) && f->resynced == 0) {
		ms_log_info("%s: the %s delta state expired: resyncing the "
			    "folder",
		    f->gr->s->address, f->name);
		resync(f);
		return;
	}
	if (r->status != 200) {
		fail_reply(f, "delta", r);
		return;
	}
	if ((o = ms_http_json(r, "Graph delta")) == NULL) {
		ms_errc(EX_TEMPFAIL, "%s: %s", f->name, ms_errstr());
		fail(f);
		return;
	}
	json_object_object_get_ex(o, "value", &arr);
	next = ms_json_str(o, "@odata.nextLink");
	delta = ms_json_str(o, "@odata.deltaLink");
	if ((arr != NULL && !json_object_is_type(arr, json_type_array)) ||
	    (next == NULL && delta == NULL)) {
		ms_errc(EX_TEMPFAIL,
		    "Graph %s delta: a page with neither "
		    "value nor next or delta link",
		    f->name);
		json_object_put(o);
		fail(f);
		return;
	}
	if ((next != NULL && !link_ok(f, next, "nextLink")) ||
	    (next == NULL && !link_ok(f, delta, "deltaLink"))) {
		json_object_put(o);
		if (f->resynced == 0)
			resync(f);
		else {
			ms_errc(EX_UNAVAILABLE,
			    "Graph %s delta: links to another origin again "
			    "after a resync",
			    f->name);
			fail(f);
		}
		return;
	}
	pg = ms_xcalloc(1, sizeof(*pg));
	pg->f = f;
	pg->o = o;
	pg->arr = arr;
	pg->next = next ? ms_xstrdup(next) : NULL;
	pg->delta = delta ? ms_xstrdup(delta) : NULL;
	pg->first = f->delta_link == NULL;
	if (partial_items(pg) == -1) {
		ms_sync_fail(f->gr->s);
		page_free(pg);
	} else if (pg->pending == 0)
		page_done(pg);
}

static void
folder_get(struct folder *f, const char *url)
{
	struct ms_fetch_spec spec = {.url = url,
	    .headers = prefer,
	    .units = 1,
	    .max_body = MAX_PAGE,
	    .cb = delta_cb,
	    .arg = f};

	ms_fetch_add(f->gr->s->fa, &spec);
}

static int
folder_start(struct folder *f)
{
	struct cursor c;
	char *url = NULL;

	if (cursor_get(f->gr->s, f->name, &c) == -1)
		return -1;
	if (f->gr->s->full)
		cursor_finish(&c);
	/* A stored link is a provider's text too: checked as it was. */
	if ((c.next_link != NULL &&
		!link_ok(f, c.next_link, "stored nextLink")) ||
	    (c.delta_link != NULL &&
		!link_ok(f, c.delta_link, "stored deltaLink")))
		cursor_finish(&c);
	if (c.next_link != NULL) /* resume an unfinished round */
		url = ms_xstrdup(c.next_link);
	else if (c.delta_link != NULL)
		url = ms_xstrdup(c.delta_link);
	else
		url = first_url(f);
	f->delta_link = c.delta_link;
	c.delta_link = NULL;
	cursor_finish(&c);
	folder_get(f, url);
	free(url);
	return 0;
}

static int
graph_start(struct ms_sync *s)
{
	struct graph *gr = ms_xcalloc(1, sizeof(*gr));
	size_t i;

	gr->s = s;
	s->drv = gr;
	gr->left = NFOLDERS;
	for (i = 0; i < NFOLDERS; i++) {
		gr->f[i].gr = gr;
		gr->f[i].name = folders[i];
		if (folder_start(&gr->f[i]) == -1)
			return -1;
	}
	return 0;
}

static void
graph_finish(struct ms_sync *s)
{
	struct graph *gr = s->drv;
	size_t i;

	if (gr == NULL)
		return;
	for (i = 0; i < NFOLDERS; i++)
		free(gr->f[i].delta_link);
	free(gr);
	s->drv = NULL;
}

/*
 * The driver
 */

static int
endpoints(struct ms_provider *p, const char *tenant)
{
	const char *auth = ms_driver_env(
	    "MAILSYNC_MS_AUTHORITY_URL", "https://login.microsoftonline.com");

	if (tenant == NULL || *tenant == '\0')
		tenant = "common";
	p->auth_url = ms_xasprintf("%s/%s/oauth2/v2.0/authorize", auth, tenant);
	p->token_url = ms_xasprintf("%s/%s/oauth2/v2.0/token", auth, tenant);
	p->device_url =
	    ms_xasprintf("%s/%s/oauth2/v2.0/devicecode", auth, tenant);
	p->api_url = ms_xstrdup(ms_driver_env(
	    "MAILSYNC_GRAPH_API_URL", "https://graph.microsoft.com"));
	return 0;
}

/* Graph /me: mail, or userPrincipalName when mail is null (personal
 * accounts). */
static char *
address(const struct ms_provider *p, const char *access)
{
	char *url = ms_xasprintf("%s/v1.0/me", p->api_url);
	struct json_object *o = ms_http_get_json(url, access, "Graph /me");
	const char *a;
	char *addr = NULL;

	free(url);
	if (o == NULL)
		return NULL;
	if ((a = ms_json_str(o, "mail")) == NULL || *a == '\0')
		a = ms_json_str(o, "userPrincipalName");
	if (a == NULL || *a == '\0')
		ms_errc(EX_UNAVAILABLE,
		    "Graph /me: neither mail nor "
		    "userPrincipalName");
	else
		addr = ms_xstrdup(a);
	json_object_put(o);
	return addr;
}

/* Graph's limits per app and mailbox (learn.microsoft.com/graph/
 * throttling-limits, Outlook service): 10,000 requests in 10 minutes,
 * 4 at once; every request costs one. */
static int
limits(struct ms_db *db, struct ms_fetch_limits *lim)
{
	double scale, conc;

	if (ms_config_num(db, "quota.time_scale", &scale) == -1 ||
	    ms_config_num(db, "quota.graph_concurrency", &conc) == -1 ||
	    ms_config_num(db, "quota.graph_requests_per_10min", &lim->units) ==
		-1)
		return -1;
	lim->concurrency = (int)conc;
	lim->window = 600 / scale;
	lim->burst = 1;
	return 0;
}

const struct ms_driver ms_graph_driver = {
    .name = "outlook",
    .label = "Outlook",
    .badge = "blue",
    .flags = MS_DRV_OAUTH | MS_DRV_DEVICE | MS_DRV_TENANT | MS_DRV_ROTATES,
    /* Mail.Read, not Mail.ReadBasic: the latter hides bodyPreview. */
    .scope = "offline_access User.Read Mail.Read",
    .needed_scope = "Mail.Read",
    .extra_auth = "response_mode=query&prompt=select_account",
    .redirect_hint =
	"if the browser showed a Microsoft error page instead of coming "
	"back here, the redirect was refused (most often AADSTS50011, "
	"a redirect URI mismatch): in the app registration, add "
	"http://127.0.0.1 (any port matches) under \"Mobile and "
	"desktop applications\"",
    .revoke_hint = "to remove mailsync's consent too, see "
		   "https://myapps.microsoft.com (work accounts) or "
		   "https://account.live.com/consent/Manage (personal ones)",
    .endpoints = endpoints,
    .address = address,
    .limits = limits,
    .start = graph_start,
    .finish = graph_finish,
};
