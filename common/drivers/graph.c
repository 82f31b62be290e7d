/*
 * graph: the Microsoft Graph driver of mailsync-pull: a folder's
 * messages, and the driver itself. Which folders are synced is
 * graph_folders.c's; how requests travel (alone, or 20 to a $batch),
 * graph_batch.c's.
 *
 * Per-folder delta, with Prefer: odata.maxpagesize and
 * IdType="ImmutableId" on every call (an id then survives a move
 * between folders: the moved message is the same email, the same row)
 * and $select (never the body) and $orderby=receivedDateTime desc on the
 * first (the one order delta supports, message-delta: without it "the
 * return order is not guaranteed", and a first sync bounded by
 * --max-time shows the newest mail first). Each page is stored with the
 * nextLink that follows it in one transaction; the deltaLink is stored
 * when the round ends. 410 Gone, or the error codes syncStateNotFound /
 * resyncRequired, drop the folder's links and resync it; the emails
 * already stored are found by their ids, so nothing doubles. @removed
 * entries delete nothing: a profile keeps what it showed. A shared
 * mailbox is read through /users/ADDRESS with its member's token.
 */
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "account.h"
#include "config.h"
#include "date.h"
#include "driver.h"
#include "graph.h"
#include "graph_priv.h"
#include "json.h"
#include "log.h"
#include "msg.h"
#include "sync.h"
#include "util.h"

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

static void folder_get(struct gfolder *, const char *url);

static void
fail(struct gfolder *f)
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
	struct gfolder *f;
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
to_email(struct gfolder *f, int first, struct json_object *o,
    struct ms_email *e, const char **id)
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
	struct gfolder *f = pg->f;
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
	if (rc == -1 || cursor_set(s, f->key, &c) == -1) {
		fail(f);
		return -1;
	}
	return ms_sync_commit(s);
}

static void
page_free(struct page *pg)
{
	size_t i, n = pg->arr ? json_object_array_length(pg->arr) : 0;

	for (i = 0; pg->full != NULL && i < n; i++)
		json_object_put(pg->full[i]);
	free(pg->full);
	json_object_put(pg->o);
	free(pg->next);
	free(pg->delta);
	free(pg);
}

const char *
graph_error_code(struct json_object *body)
{
	return ms_json_str(ms_json_obj(body, "error"), "code");
}

int
graph_state_lost(long status, struct json_object *body)
{
	const char *code = graph_error_code(body);

	if (status == 410)
		return 1;
	return status >= 400 && code != NULL &&
	    (ms_ascii_casecmp(code, "syncStateNotFound") == 0 ||
		ms_ascii_casecmp(code, "resyncRequired") == 0);
}

int
graph_delta_page(struct json_object *o, struct json_object **arr,
    const char **next, const char **delta)
{
	*arr = NULL;
	json_object_object_get_ex(o, "value", arr);
	*next = ms_json_str(o, "@odata.nextLink");
	*delta = ms_json_str(o, "@odata.deltaLink");
	if ((*arr != NULL && !json_object_is_type(*arr, json_type_array)) ||
	    (*next == NULL && *delta == NULL))
		return -1;
	return 0;
}

static char *
first_url(struct gfolder *f)
{
	return ms_xasprintf("%s/mailFolders/%s/messages/delta"
			    "?$select=" GRAPH_SELECT
			    "&$orderby=receivedDateTime%%20desc",
	    f->gr->base, f->id);
}

static void
finish_folder(struct gfolder *f)
{
	if (f->finished)
		return;
	f->finished = 1;
	graph_finished(f->gr);
}

void
graph_finished(struct graph *gr)
{
	if (--gr->left <= 0)
		gr->s->done = 1;
}

int
graph_folder_drop(struct gfolder *f, int txn)
{
	struct ms_sync *s = f->gr->s;

	if (f->gone)
		return 0;
	f->gone = 1;
	finish_folder(f);
	if (!txn && ms_sync_begin(s) == -1)
		return -1;
	if (ms_sync_cursor_set(s, f->key, NULL) == -1 ||
	    ms_account_folder_drop(s->db, s->account, f->key) == -1) {
		if (!txn)
			ms_sync_fail(s);
		return -1;
	}
	return txn ? 0 : ms_sync_commit(s);
}

static void
resync(struct gfolder *f)
{
	struct cursor c = {0};
	char *url;

	f->resynced++;
	free(f->delta_link);
	f->delta_link = NULL;
	if (ms_sync_begin(f->gr->s) == -1)
		return;
	if (cursor_set(f->gr->s, f->key, &c) == -1) {
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
 * followed: the caller drops it and starts over from the first page
 * (nothing doubles: messages are found by id).
 */
int
graph_link_ok(struct graph *gr, const char *url, const char *what)
{
	const char *api = gr->s->p->api_url;
	char *bad;

	if (ms_http_same_origin(url, api))
		return 1;
	bad = ms_http_origin(url);
	ms_log_warn("%s: the %s leads to %s, not to the Graph API: "
		    "not followed; synced again from the start",
	    gr->s->address, what, bad);
	free(bad);
	return 0;
}

static int
link_ok(struct gfolder *f, const char *url, const char *what)
{
	char *w = ms_xasprintf("%s %s", f->path, what);
	int ok = graph_link_ok(f->gr, url, w);

	free(w);
	return ok;
}

void
graph_fail_reply(
    struct graph *gr, const char *what, long status, struct json_object *body)
{
	struct json_object *e = ms_json_obj(body, "error");
	const char *code = ms_json_str(e, "code"),
		   *msg = ms_json_str(e, "message");

	ms_errc(status == 401 ? EX_NOPERM : EX_UNAVAILABLE,
	    "Graph %s: HTTP %ld%s%s%s%s", what, status, code ? " " : "",
	    code ? code : "", msg ? ": " : "", msg ? msg : "");
	ms_sync_fail(gr->s);
}

static void
fail_reply(
    struct gfolder *f, const char *what, long status, struct json_object *body)
{
	char *w = ms_xasprintf("%s %s", f->path, what);

	graph_fail_reply(f->gr, w, status, body);
	free(w);
}

/* The page is complete: store it and go on with the folder. */
static void
page_done(struct page *pg)
{
	struct gfolder *f = pg->f;
	struct graph *gr = f->gr;
	int stopping = ms_fetch_stopping(ms_fetch_acct_engine(gr->s->fa));

	if (!f->gone && ms_fetch_acct_error(gr->s->fa) == 0 &&
	    store_page(pg) == 0) {
		if (pg->next != NULL && !stopping)
			folder_get(f, pg->next);
		else if (pg->next == NULL) {
			free(f->delta_link);
			f->delta_link =
			    pg->delta ? ms_xstrdup(pg->delta) : NULL;
			finish_folder(f);
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

static const char *const prefer[] = {
    "Prefer: IdType=\"ImmutableId\"",
    NULL,
};

/* Fetch item idx of the page in full: GET .../messages/{id}. */
static void
refetch(struct page *pg, size_t idx, const char *id)
{
	struct refetch *rf = ms_xcalloc(1, sizeof(*rf));
	struct ms_fetch_spec spec = {.headers = prefer,
	    .units = 1,
	    .max_body = GRAPH_MAX_ONE,
	    .cb = refetch_cb,
	    .arg = rf};
	char *url;

	rf->pg = pg;
	rf->idx = idx;
	url = ms_xasprintf(
	    "%s/messages/%s?$select=" GRAPH_SELECT, pg->f->gr->base, id);
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

/* A folder's delta answer, alone or from a $batch. */
static void
delta_answer(
    struct graph *gr, struct gcall *c, long status, struct json_object *o)
{
	struct gfolder *f = c->arg;
	struct page *pg;
	struct json_object *arr = NULL;
	const char *next, *delta;

	(void)gr;
	if (status == 0 || f->gone) {
		json_object_put(o);
		return;
	}
	if (graph_state_lost(status, o) && f->resynced == 0) {
		ms_log_info("%s: the %s delta state expired: resyncing the "
			    "folder",
		    f->gr->s->address, f->path);
		json_object_put(o);
		resync(f);
		return;
	}
	if (status == 404) {
		/* The folder is gone (deleted since the folders were last
		 * listed): what it held stays on the profiles. */
		ms_log_info("%s: folder %s is gone; its emails stay",
		    f->gr->s->address, f->path);
		json_object_put(o);
		graph_folder_drop(f, 0);
		return;
	}
	if (status != 200) {
		fail_reply(f, "delta", status, o);
		json_object_put(o);
		return;
	}
	if (o == NULL) {
		ms_errc(EX_TEMPFAIL, "%s: %s", f->path, ms_errstr());
		fail(f);
		return;
	}
	if (graph_delta_page(o, &arr, &next, &delta) == -1) {
		ms_errc(EX_TEMPFAIL,
		    "Graph %s delta: a page with neither "
		    "value nor next or delta link",
		    f->path);
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
			    f->path);
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
folder_get(struct gfolder *f, const char *url)
{
	struct gcall *c = gcall_new(url, 1, delta_answer, f);

	graph_send(f->gr, &c, 1, 0);
}

struct gfolder *
graph_folder_add(
    struct graph *gr, const char *key, const char *id, const char *path)
{
	struct gfolder *f = ms_xcalloc(1, sizeof(*f));
	struct cursor c;

	f->gr = gr;
	f->key = ms_xstrdup(key);
	f->id = ms_xstrdup(id);
	f->path = ms_xstrdup(path);
	gr->f = ms_xreallocarray(gr->f, gr->nf + 1, sizeof(*gr->f));
	gr->f[gr->nf++] = f;
	gr->left++;
	if (cursor_get(gr->s, key, &c) == -1)
		return NULL;
	if (gr->s->full)
		cursor_finish(&c);
	/* A stored link is a provider's text too: checked as it was. */
	if ((c.next_link != NULL &&
		!link_ok(f, c.next_link, "stored nextLink")) ||
	    (c.delta_link != NULL &&
		!link_ok(f, c.delta_link, "stored deltaLink")))
		cursor_finish(&c);
	f->delta_link = c.delta_link;
	c.delta_link = NULL;
	/* Resuming an unfinished round: its next page. */
	f->resume = c.next_link;
	c.next_link = NULL;
	cursor_finish(&c);
	return f;
}

struct gcall *
graph_folder_call(struct gfolder *f)
{
	char *url;
	struct gcall *c;

	if (f->resume != NULL)
		url = f->resume;
	else if (f->delta_link != NULL)
		url = ms_xstrdup(f->delta_link);
	else
		url = first_url(f);
	f->resume = NULL;
	c = gcall_new(url, 1, delta_answer, f);
	free(url);
	return c;
}

/* An address as a path segment: anything but unreserved characters and
 * "@" percent-encoded (an address may hold "#", "?", "/" or "%"). */
static char *
segment(const char *a)
{
	static const char hex[] = "0123456789ABCDEF";
	struct ms_buf b = {0};
	char *out;

	for (; *a != '\0'; a++) {
		unsigned char c = (unsigned char)*a;

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || strchr("-._~@", c) != NULL)
			ms_buf_add(&b, a, 1);
		else
			ms_buf_printf(&b, "%%%c%c", hex[c >> 4], hex[c & 15]);
	}
	out = ms_xstrdup(b.len ? b.s : "");
	ms_buf_finish(&b);
	return out;
}

/* The account's own mailbox (/me), or the shared one (/users/ADDRESS). */
static char *
mailbox_base(struct ms_sync *s, const char *root)
{
	char *kind, *tenant, *base;
	int rc;

	if ((rc = ms_account_origin_get(s->db, s->account, &kind, &tenant)) ==
	    -1)
		return NULL;
	if (rc == 0 && strcmp(kind, "shared") == 0) {
		char *seg = segment(s->address);

		base = ms_xasprintf("%s/users/%s", root, seg);
		free(seg);
	} else
		base = ms_xasprintf("%s/me", root);
	free(kind);
	free(tenant);
	return base;
}

static int
graph_start(struct ms_sync *s)
{
	struct graph *gr = ms_xcalloc(1, sizeof(*gr));
	struct gcall **calls = NULL;
	size_t n = 0, i, k;

	gr->s = s;
	s->drv = gr;
	gr->root = ms_xasprintf("%s/v1.0", s->p->api_url);
	if ((gr->base = mailbox_base(s, gr->root)) == NULL)
		return -1;
	if (graph_tree_start(gr, &calls, &n) == -1) {
		graph_drop(gr, calls, n);
		free(calls);
		return -1;
	}
	/* The hierarchy's calls first: a folder it finds gone is then
	 * dropped before its own answer is read. */
	k = n;
	calls = ms_xreallocarray(calls, n + gr->nf + 1, sizeof(*calls));
	for (i = 0; i < gr->nf; i++)
		if (!gr->f[i]->gone)
			calls[k++] = graph_folder_call(gr->f[i]);
	if (gr->left == 0)
		s->done = 1;
	graph_send(gr, calls, k, 0);
	free(calls);
	return 0;
}

static void
graph_finish(struct ms_sync *s)
{
	struct graph *gr = s->drv;
	size_t i;

	if (gr == NULL)
		return;
	for (i = 0; i < gr->nf; i++) {
		free(gr->f[i]->key);
		free(gr->f[i]->id);
		free(gr->f[i]->path);
		free(gr->f[i]->delta_link);
		free(gr->f[i]->resume);
		free(gr->f[i]);
	}
	free(gr->f);
	graph_tree_free(gr->tree);
	free(gr->root);
	free(gr->base);
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

/*
 * Whether the token's owner may read the shared mailbox address: its
 * Inbox answers. A member without access gets 403 ErrorAccessDenied;
 * an address that is no mailbox, 404 (ErrorInvalidUser, or
 * ResourceNotFound).
 */
static int
shared(const struct ms_provider *p, const char *access, const char *address)
{
	struct json_object *o;
	struct ms_http_resp r;
	char *seg = segment(address), *url;
	const char *code, *msg;
	int rc;

	url = ms_xasprintf(
	    "%s/v1.0/users/%s/mailFolders/inbox?$select=id", p->api_url, seg);
	free(seg);
	rc = ms_http_request("GET", url, access, NULL, NULL, NULL, 30, &r);
	free(url);
	if (rc == -1)
		return -1;
	if (r.status == 200) {
		ms_http_resp_finish(&r);
		return 0;
	}
	o = ms_json_parse(r.body, r.len, "Graph error");
	code = graph_error_code(o);
	msg = ms_json_str(ms_json_obj(o, "error"), "message");
	if (r.status == 403 || r.status == 401)
		rc = ms_errc(EX_NOPERM,
		    "%s: the signed-in member may not read this shared "
		    "mailbox (Graph HTTP %ld%s%s%s%s): an administrator "
		    "gives them Full Access to it (Exchange admin center, "
		    "Mailboxes, Mailbox delegation), then connect again",
		    address, r.status, code ? " " : "", code ? code : "",
		    msg ? ": " : "", msg ? msg : "");
	else if (r.status == 404)
		rc = ms_errc(EX_NOINPUT,
		    "%s: no such mailbox (Graph HTTP 404%s%s)", address,
		    code ? " " : "", code ? code : "");
	else
		rc = ms_errc(EX_UNAVAILABLE, "%s: Graph HTTP %ld%s%s", address,
		    r.status, code ? " " : "", code ? code : "");
	json_object_put(o);
	ms_http_resp_finish(&r);
	return rc;
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
	lim->burst = MS_GRAPH_BATCH_MAX; /* a $batch: one unit a request */
	return 0;
}

const struct ms_driver ms_graph_driver = {
    .name = "outlook",
    .label = "Outlook",
    .badge = "blue",
    .flags = MS_DRV_OAUTH | MS_DRV_DEVICE | MS_DRV_TENANT | MS_DRV_ROTATES |
	MS_DRV_SHARED,
    /* Mail.Read, not Mail.ReadBasic: the latter hides bodyPreview. */
    .scope = "offline_access User.Read Mail.Read",
    .needed_scope = "Mail.Read",
    /* A shared mailbox: the member's own grant, plus the mail of the
     * mailboxes shared with them (permissions-reference). */
    .shared_scope = "offline_access User.Read Mail.Read Mail.Read.Shared",
    .shared_needed = "Mail.Read.Shared",
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
    .shared = shared,
    .limits = limits,
    .start = graph_start,
    .finish = graph_finish,
};
